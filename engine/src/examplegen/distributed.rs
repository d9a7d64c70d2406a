//! ExampleGen as a DataFusion plan, the plan `weir examplegen --cluster`
//! runs on Ballista, built from the plan layer's pieces (`weir_plan`: the
//! scan with the `example_route` map, the `example_shards` sink):
//!
//! ```text
//! ShardSinkExec (example shards)      one metadata row per shard written
//!   SortExec (shard, file, row)       per partition (added by DataFusion)
//!     RepartitionExec hash(shard)     a shuffle on a cluster
//!       DataSourceExec (map)          route rows; count markers per part
//! ```
//!
//! Exactly once on top of a cluster that may rerun, lose or duplicate
//! tasks: every sink task writes into its own attempt directory and checks
//! its shards against the map's count markers; the driver
//! ([`write_splits`]) accepts a result only when every shard is reported,
//! then commits exactly one attempt per shard (the first complete one) into
//! the staged output and removes the rest. A job that fails or hangs is
//! resubmitted by [`Execution::collect`]'s watchdog; its abandoned attempts
//! are never committed.
//!
//! The shard of a row and the order of rows in a shard depend on the row's
//! place in the input alone (`route::shard_of`), and shards are buffered as
//! in-process ExampleGen buffers them, so the output is the same bytes.

use std::sync::Arc;

use weir_datasets::sink::WrittenFile;
use weir_plan::kinds::{ExampleRouteMap, ExampleShardSink};
use weir_plan::sink::ShardTargets;

use super::splitter::SplitPlan;
use crate::error::Result;
use weir_plan::attempts::Attempts;
use weir_plan::scan::SourceTable;
use weir_plan::Execution;

/// Runs ExampleGen's plan over `table` (the input, opened once by the
/// caller) on `execution` into `plan.root` (the staged output, on a
/// filesystem every executor reaches) and gives per split
/// `(examples, files)`, as the in-process splitter does.
///
/// Tasks write into `attempts`, beside the staged output, so a straggler
/// task of an abandoned job (Ballista does not stop them) can never put a
/// file into the output, whenever it runs.
pub async fn write_splits(
    execution: &Execution,
    table: SourceTable,
    plan: &SplitPlan,
    attempts: &Attempts,
) -> Result<Vec<(u64, Vec<WrittenFile>)>> {
    let map = ExampleRouteMap {
        hash: plan.hash.clone(),
        partition_feature: plan.partition_feature.clone(),
        file_split: plan.file_split.clone(),
        shards: plan.shards.clone(),
        output_format: plan.output_format,
    };
    let total = map.total_shards();
    let payload_nullable = table
        .source()
        .schema()
        .fields()
        .iter()
        .map(|f| f.is_nullable())
        .collect();
    let table = table.with_map(Arc::new(map));
    let mut shard_paths = Vec::with_capacity(total);
    for (split, &n) in plan.shards.iter().enumerate() {
        shard_paths.extend((0..n).map(|shard| plan.shard_path(split, shard)));
    }
    let config = ExampleShardSink {
        targets: ShardTargets {
            attempts_dir: attempts.dir(),
            shard_paths,
        },
        output_format: plan.output_format,
        compression: plan.compression,
        compression_level: plan.compression_level,
        map_parts: table.parts() as u64,
        payload_nullable,
    };
    let ctx = execution.context().await?;
    let input = ctx.read_table(Arc::new(table))?.into_unoptimized_plan();
    let files = attempts
        .run_sink(execution, &ctx, input, Arc::new(config))
        .await?;
    let mut out = Vec::with_capacity(plan.shards.len());
    let mut files = files.into_iter();
    for &n in &plan.shards {
        let split: Vec<WrittenFile> = files.by_ref().take(n).collect();
        out.push((split.iter().map(|f| f.records).sum(), split));
    }
    Ok(out)
}
