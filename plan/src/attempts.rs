//! The driver side of the commit protocol (the task side is
//! [`crate::commit`]): the driver accepts a job's
//! result only when every shard is reported, moves exactly one complete
//! attempt of each shard into the staged output and removes the attempt
//! root; duplicate and abandoned attempts are never seen. [`Attempts`] owns
//! an attempt root and runs a sink plan through all of this
//! ([`Attempts::run_sink`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, RecordBatch, StringArray, UInt32Array, UInt64Array};
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::prelude::{DataFrame, SessionContext};
use weir_datasets::sink::{StagedDir, WrittenFile};
use weir_datasets::DatasetError;

use crate::error::{PlanError, Result};
use crate::execution::Execution;
use crate::sink::{ShardSink, SinkNode};

/// The attempt root of one run, beside its staged output (so nothing a
/// task writes there can be committed by accident); removed when dropped,
/// whatever happened.
#[derive(Debug)]
pub struct Attempts {
    /// The staged output (canonical: executors resolve it on their side).
    root: PathBuf,
    /// The attempt root (canonical).
    dir: PathBuf,
}

impl Attempts {
    /// Creates the attempt root of `staged`.
    pub fn create(staged: &StagedDir) -> Result<Self> {
        let root =
            std::fs::canonicalize(staged.path()).map_err(|e| DatasetError::io(staged.path(), e))?;
        let dir = staged.scratch("attempts");
        std::fs::create_dir(&dir).map_err(|e| DatasetError::io(&dir, e))?;
        let dir = std::fs::canonicalize(&dir).map_err(|e| DatasetError::io(&dir, e))?;
        Ok(Self { root, dir })
    }

    /// The attempt root as sink configs carry it.
    pub fn dir(&self) -> String {
        self.dir.to_string_lossy().into_owned()
    }

    /// Runs `input` into `sink` (whose attempt root is this one)
    /// on `execution`, accepts the result only when every shard of the
    /// spec is reported, and commits one attempt of each into the staged
    /// output. The files, in shard order.
    pub async fn run_sink(
        &self,
        execution: &Execution,
        ctx: &SessionContext,
        input: LogicalPlan,
        sink: Arc<dyn ShardSink>,
    ) -> Result<Vec<WrittenFile>> {
        let shard_paths = sink.targets().shard_paths.clone();
        let total = shard_paths.len();
        let plan = LogicalPlan::Extension(Extension {
            node: Arc::new(SinkNode::new(input, sink)?),
        });
        let df = DataFrame::new(ctx.state(), plan);
        let batches = execution
            .collect(df, |b| reports(b, total).map(|_| ()))
            .await?;
        reports(&batches, total)
            .map_err(PlanError::Internal)?
            .into_iter()
            .map(|(shard, candidates)| {
                commit_shard(&self.root, &self.dir, &shard_paths[shard], &candidates)
            })
            .collect()
    }
}

impl Drop for Attempts {
    fn drop(&mut self) {
        // Abandoned and duplicate attempts go.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One shard as a sink task reported it.
#[derive(Debug, Clone)]
struct ShardReport {
    /// The file, relative to the attempt root.
    pub path: String,
    /// Records in it.
    pub records: u64,
    /// Its size.
    pub bytes: u64,
    /// Its sha256 (hex).
    pub sha256: String,
}

/// The reports of every shard `0..total` (a shard may be reported more than
/// once when the cluster reran a task), or what is wrong with the result.
fn reports(
    batches: &[RecordBatch],
    total: usize,
) -> std::result::Result<BTreeMap<usize, Vec<ShardReport>>, String> {
    let mut out: BTreeMap<usize, Vec<ShardReport>> = BTreeMap::new();
    for b in batches {
        let col = |i: usize| b.column(i).as_any();
        let (Some(shard), Some(path), Some(records), Some(bytes), Some(sha)) = (
            col(0).downcast_ref::<UInt32Array>(),
            col(1).downcast_ref::<StringArray>(),
            col(2).downcast_ref::<UInt64Array>(),
            col(3).downcast_ref::<UInt64Array>(),
            col(4).downcast_ref::<StringArray>(),
        ) else {
            return Err("the sink's result has unexpected columns".into());
        };
        for i in 0..b.num_rows() {
            let s = shard.value(i) as usize;
            if s >= total {
                return Err(format!("shard {s} reported, the run has {total}"));
            }
            out.entry(s).or_default().push(ShardReport {
                path: path.value(i).to_string(),
                records: records.value(i),
                bytes: bytes.value(i),
                sha256: sha.value(i).to_string(),
            });
        }
    }
    if let Some(missing) = (0..total).find(|s| !out.contains_key(s)) {
        return Err(format!(
            "shard {missing} of {total} was not reported by any task"
        ));
    }
    Ok(out)
}

/// Moves one complete attempt of a shard to its place in the output.
fn commit_shard(
    root: &Path,
    attempts: &Path,
    relative: &str,
    candidates: &[ShardReport],
) -> Result<WrittenFile> {
    let mut sorted: Vec<&ShardReport> = candidates.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for c in sorted {
        let from: PathBuf = attempts.join(&c.path);
        match std::fs::metadata(&from) {
            Ok(m) if m.len() == c.bytes => {}
            _ => continue,
        }
        let to = root.join(relative);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|e| DatasetError::io(dir, e))?;
        }
        std::fs::rename(&from, &to).map_err(|e| DatasetError::io(&to, e))?;
        return Ok(WrittenFile {
            path: relative.to_string(),
            bytes: c.bytes,
            sha256: c.sha256.clone(),
            records: c.records,
        });
    }
    Err(PlanError::Invalid(format!(
        "no complete attempt of {relative} is readable under {} (is the output on a filesystem every executor shares?)",
        attempts.display()
    )))
}
