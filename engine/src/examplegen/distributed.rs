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
//!
//! With statistics the same plan computes them (`--stats --cluster`, one
//! read of the input): each map part feeds every split's accumulators and
//! combines `(split, feature, value)` counts, which travel as map rows to
//! the shard their hash picks; each shard reduces its counts to uniques
//! and top values and reports them, with the parts' partial states,
//! beside its file. The driver merges the reports of the attempts it
//! commits (`SplitStatsCollector::merged`), so no process holds a
//! feature's distinct values and a rerun task counts once.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use weir_datasets::sink::WrittenFile;
use weir_plan::commit::WrittenShard;
use weir_plan::kinds::split_stats::summary::ipc_batches;
use weir_plan::kinds::split_stats::{merge_counts, ShardStats, StringMode};
use weir_plan::kinds::{ExampleRouteMap, ExampleShardSink};
use weir_plan::sink::ShardTargets;

use super::splitter::{SplitPlan, SplitterOutput};
use crate::error::Result;
use crate::stats::{SplitStatsCollector, StatsOptions};
use weir_plan::attempts::Attempts;
use weir_plan::scan::SourceTable;
use weir_plan::Execution;

/// Runs ExampleGen's plan over `table` (the input, opened once by the
/// caller) on `execution` into `plan.root` (the staged output, on a
/// filesystem every executor reaches) and gives per split
/// `(examples, files)`, and with `stats` every split's statistics, as the
/// in-process splitter does.
///
/// Tasks write into `attempts`, beside the staged output, so a straggler
/// task of an abandoned job (Ballista does not stop them) can never put a
/// file into the output, whenever it runs.
pub async fn write_splits(
    execution: &Execution,
    table: SourceTable,
    plan: &SplitPlan,
    attempts: &Attempts,
    stats: Option<StatsOptions>,
) -> Result<SplitterOutput> {
    let schema = table.source().schema();
    let map = ExampleRouteMap {
        hash: plan.hash.clone(),
        partition_feature: plan.partition_feature.clone(),
        file_split: plan.file_split.clone(),
        shards: plan.shards.clone(),
        output_format: plan.output_format,
        stats: stats.map(|o| match o.approx {
            true => StringMode::Approx,
            false => StringMode::Totals,
        }),
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
    let shards = attempts
        .run_sink(execution, &ctx, input, Arc::new(config))
        .await?;
    let collector = match stats {
        Some(options) => Some(merge_statistics(
            &schema,
            plan.shards.len(),
            options,
            &shards,
        )?),
        None => None,
    };
    let mut out = Vec::with_capacity(plan.shards.len());
    let mut files = shards.into_iter().map(|w| w.file);
    for &n in &plan.shards {
        let split: Vec<WrittenFile> = files.by_ref().take(n).collect();
        out.push((split.iter().map(|f| f.records).sum(), split));
    }
    Ok((out, collector))
}

/// Every split's statistics from the committed shards' summaries.
fn merge_statistics(
    schema: &SchemaRef,
    splits: usize,
    options: StatsOptions,
    shards: &[WrittenShard],
) -> Result<SplitStatsCollector> {
    let mut counts = Vec::new();
    let mut states = Vec::new();
    for summary in shards.iter().filter_map(|w| w.summary.as_deref()) {
        let s = ShardStats::decode(summary)?;
        counts.extend(s.counts);
        for state in &s.states {
            states.extend(ipc_batches(state)?);
        }
    }
    SplitStatsCollector::merged(schema, splits, options, &states, merge_counts(&counts)?)
}
