//! ExampleGen as a DataFusion plan, the plan `weir examplegen --cluster`
//! runs on Ballista:
//!
//! ```text
//! ShardSinkExec                       one metadata row per shard written
//!   SortExec (shard, file, row)       per partition (added by DataFusion)
//!     RepartitionExec hash(shard)     a shuffle on a cluster
//!       DataSourceExec (map mode)     route rows; count markers per part
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

mod map;
mod sink;

use std::path::Path;
use std::sync::Arc;

use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::prelude::DataFrame;
use weir_datasets::formats::SourceSpec;
use weir_datasets::sink::WrittenFile;
use weir_datasets::DatasetError;

pub use map::{map_schema, ExampleMapConfig, ExampleMapper};
pub use sink::{ShardSinkConfig, ShardSinkExec};

use super::splitter::SplitPlan;
use crate::cluster::Execution;
use crate::commit::{commit_shard, reports};
use crate::error::{EngineError, Result};
use crate::scan::SourceTable;
use crate::sink_node::{SinkNode, SinkSpec};

/// Runs ExampleGen's plan for `spec` on `execution` into `plan.root` (the
/// staged output, on a filesystem every executor reaches) and gives per
/// split `(examples, files)`, as the in-process splitter does.
///
/// Tasks write into `attempts`, a directory outside the staged output, so
/// a straggler task of an abandoned job (Ballista does not stop them) can
/// never put a file into the output, whenever it runs.
pub async fn write_splits(
    execution: &Execution,
    spec: SourceSpec,
    plan: &SplitPlan,
    attempts: &Path,
) -> Result<Vec<(u64, Vec<WrittenFile>)>> {
    let root = std::fs::canonicalize(&plan.root).map_err(|e| DatasetError::io(&plan.root, e))?;
    std::fs::create_dir(attempts).map_err(|e| DatasetError::io(attempts, e))?;
    let attempts = std::fs::canonicalize(attempts).map_err(|e| DatasetError::io(attempts, e))?;
    let result = run_and_commit(execution, spec, plan, &root, &attempts).await;
    // Abandoned and duplicate attempts go.
    let _ = std::fs::remove_dir_all(&attempts);
    result
}

async fn run_and_commit(
    execution: &Execution,
    spec: SourceSpec,
    plan: &SplitPlan,
    root: &Path,
    attempts: &Path,
) -> Result<Vec<(u64, Vec<WrittenFile>)>> {
    let map = ExampleMapConfig {
        hash: plan.hash.clone(),
        partition_feature: plan.partition_feature.clone(),
        file_split: plan.file_split.clone(),
        shards: plan.shards.clone(),
        output_format: plan.output_format,
    };
    let total = map.total_shards();
    let table = SourceTable::open(spec)?;
    let payload_nullable = table
        .source()
        .schema()
        .fields()
        .iter()
        .map(|f| f.is_nullable())
        .collect();
    let table = table.with_map(Some(map));
    let mut shard_paths = Vec::with_capacity(total);
    for (split, &n) in plan.shards.iter().enumerate() {
        shard_paths.extend((0..n).map(|shard| plan.shard_path(split, shard)));
    }
    let config = ShardSinkConfig {
        attempts_dir: attempts.to_string_lossy().into_owned(),
        shard_paths: shard_paths.clone(),
        output_format: plan.output_format,
        compression: plan.compression,
        compression_level: plan.compression_level,
        map_parts: table.parts() as u64,
        payload_nullable,
    };
    let ctx = execution.context().await?;
    let input = ctx.read_table(Arc::new(table))?.into_unoptimized_plan();
    let node = SinkNode::new(input, SinkSpec::ExampleShards(config))?;
    let df = DataFrame::new(
        ctx.state(),
        LogicalPlan::Extension(Extension {
            node: Arc::new(node),
        }),
    );
    let batches = execution
        .collect(df, |b| reports(b, total).map(|_| ()))
        .await?;
    let reports = reports(&batches, total).map_err(EngineError::Internal)?;
    let mut files = Vec::with_capacity(total);
    for (shard, candidates) in reports {
        files.push(commit_shard(
            root,
            attempts,
            &shard_paths[shard],
            &candidates,
        )?);
    }
    let mut out = Vec::with_capacity(plan.shards.len());
    let mut files = files.into_iter();
    for &n in &plan.shards {
        let split: Vec<WrittenFile> = files.by_ref().take(n).collect();
        out.push((split.iter().map(|f| f.records).sum(), split));
    }
    Ok(out)
}
