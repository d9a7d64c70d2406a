//! The driver side of the commit protocol (the task side is
//! [`crate::commit`]): the driver accepts a job's
//! result only when every shard is reported, takes exactly one complete
//! attempt of each shard into the staged output and removes the attempt
//! root; duplicate and abandoned attempts are never seen. [`Attempts`] owns
//! an attempt root and runs a sink plan through all of this
//! ([`Attempts::run_sink`]).
//!
//! A local output's attempt root is a directory beside the staged output,
//! and an accepted attempt is renamed into it. An object-store output's is
//! the prefix `URL/.weir-staging/<run>/attempts/`: tasks upload there from
//! their own machines, and an accepted attempt is only recorded
//! ([`weir_datasets::sink::StagedObjects`]); the commit copies it into
//! place server-side, so no shard passes through the driver and no disk is
//! shared.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, BinaryArray, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::prelude::{DataFrame, SessionContext};
use object_store::{ObjectStoreExt, PutPayload};
use weir_datasets::sink::{StagedDir, StagedObjects, WrittenFile};
use weir_datasets::store::ObjectUrl;
use weir_datasets::DatasetError;

use crate::commit::WrittenShard;
use crate::error::{PlanError, Result};
use crate::execution::Execution;
use crate::sink::{ShardSink, SinkNode};

/// The attempt root of one run, outside its staged output (so nothing a
/// task writes there can be committed by accident); a local one is
/// removed when dropped, whatever happened (a remote one goes with the
/// run's staging prefix).
#[derive(Debug)]
pub struct Attempts {
    place: Place,
}

/// Where a run's attempts are.
#[derive(Debug)]
enum Place {
    /// Directories beside a local staged output.
    Local {
        /// The staged output (canonical: executors resolve it on their side).
        root: PathBuf,
        /// The attempt root (canonical).
        dir: PathBuf,
    },
    /// A prefix in the output's object store.
    Remote {
        /// `URL/.weir-staging/<run>/attempts`.
        prefix: ObjectUrl,
        /// Where accepted attempts are recorded for the commit.
        objects: StagedObjects,
    },
}

impl Attempts {
    /// Creates the attempt root of `staged`.
    pub fn create(staged: &StagedDir) -> Result<Self> {
        if let Some(remote) = staged.remote_staging() {
            let prefix = remote.prefix.join("attempts");
            let marker = prefix.join(crate::commit::OPEN_MARKER);
            let url = marker.url();
            weir_datasets::store::block_on(async move {
                marker
                    .store
                    .put(&marker.key, PutPayload::from_static(b""))
                    .await
            })
            .map_err(|e| weir_datasets::store::store_error(&url, e))?;
            return Ok(Self {
                place: Place::Remote {
                    prefix,
                    objects: remote.objects,
                },
            });
        }
        let root =
            std::fs::canonicalize(staged.path()).map_err(|e| DatasetError::io(staged.path(), e))?;
        let dir = staged.scratch("attempts");
        std::fs::create_dir(&dir).map_err(|e| DatasetError::io(&dir, e))?;
        let dir = std::fs::canonicalize(&dir).map_err(|e| DatasetError::io(&dir, e))?;
        Ok(Self {
            place: Place::Local { root, dir },
        })
    }

    /// The attempt root as sink configs carry it: a directory, or a URL.
    pub fn dir(&self) -> String {
        match &self.place {
            Place::Local { dir, .. } => dir.to_string_lossy().into_owned(),
            Place::Remote { prefix, .. } => prefix.url(),
        }
    }

    /// Runs `input` into `sink` (whose attempt root is this one)
    /// on `execution`, accepts the result only when every shard of the
    /// spec is reported, and commits one attempt of each into the staged
    /// output. The shards, in order, each with the file as committed
    /// (relative to the output) and the summary of the attempt committed.
    pub async fn run_sink(
        &self,
        execution: &Execution,
        ctx: &SessionContext,
        input: LogicalPlan,
        sink: Arc<dyn ShardSink>,
    ) -> Result<Vec<WrittenShard>> {
        let shard_paths = sink.targets().shard_paths.clone();
        let total = shard_paths.len();
        let plan = LogicalPlan::Extension(Extension {
            node: Arc::new(SinkNode::new(input, sink)?),
        });
        let df = DataFrame::new(ctx.state(), plan);
        let batches = execution
            .collect(df, |b| reports(b, total).map(|_| ()))
            .await?;
        let reports = reports(&batches, total).map_err(PlanError::Internal)?;
        let mut files = Vec::with_capacity(total);
        for (shard, candidates) in reports {
            let relative = &shard_paths[shard];
            let accepted = match &self.place {
                Place::Local { root, dir } => commit_shard(root, dir, relative, &candidates)?,
                Place::Remote { prefix, objects } => {
                    accept_object(prefix, objects, relative, &candidates).await?
                }
            };
            files.push(accepted.committed(shard as u32, relative));
        }
        Ok(files)
    }
}

impl Drop for Attempts {
    fn drop(&mut self) {
        // Abandoned and duplicate attempts go (a remote root goes with the
        // run's staging prefix, after the commit copied from it).
        if let Place::Local { dir, .. } = &self.place {
            let _ = std::fs::remove_dir_all(dir);
        }
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
    /// What the kind reported beside the file.
    pub summary: Option<Vec<u8>>,
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
        if b.num_columns() != 6 {
            return Err("the sink's result has unexpected columns".into());
        }
        let (Some(shard), Some(path), Some(records), Some(bytes), Some(sha), Some(summary)) = (
            col(0).downcast_ref::<UInt32Array>(),
            col(1).downcast_ref::<StringArray>(),
            col(2).downcast_ref::<UInt64Array>(),
            col(3).downcast_ref::<UInt64Array>(),
            col(4).downcast_ref::<StringArray>(),
            col(5).downcast_ref::<BinaryArray>(),
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
                summary: summary.is_valid(i).then(|| summary.value(i).to_vec()),
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

/// A shard's candidate attempts in a fixed order (by path), so the
/// attempt a commit takes does not depend on the order tasks reported.
fn by_path(candidates: &[ShardReport]) -> Vec<&ShardReport> {
    let mut sorted: Vec<&ShardReport> = candidates.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    sorted
}

impl ShardReport {
    /// Shard `shard` as the output's file `relative`, as this attempt
    /// wrote it, with its summary.
    fn committed(&self, shard: u32, relative: &str) -> WrittenShard {
        WrittenShard {
            shard,
            file: WrittenFile {
                path: relative.to_string(),
                bytes: self.bytes,
                sha256: self.sha256.clone(),
                records: self.records,
            },
            summary: self.summary.clone(),
        }
    }
}

/// Records one complete attempt of a shard (an object of the size its task
/// reported) as the output's file `relative`; the commit copies it.
async fn accept_object<'a>(
    prefix: &ObjectUrl,
    objects: &StagedObjects,
    relative: &str,
    candidates: &'a [ShardReport],
) -> Result<&'a ShardReport> {
    for c in by_path(candidates) {
        let object = prefix.join(&c.path);
        let head = weir_datasets::store::idempotent(|| object.store.head(&object.key)).await;
        match head {
            Ok(meta) if meta.size == c.bytes => {}
            _ => continue,
        }
        objects.insert(relative, object.key);
        return Ok(c);
    }
    Err(PlanError::Invalid(format!(
        "no complete attempt of {relative} is in {}",
        prefix.url()
    )))
}

/// Moves one complete attempt of a shard to its place in the output.
fn commit_shard<'a>(
    root: &Path,
    attempts: &Path,
    relative: &str,
    candidates: &'a [ShardReport],
) -> Result<&'a ShardReport> {
    for c in by_path(candidates) {
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
        return Ok(c);
    }
    Err(PlanError::Invalid(format!(
        "no complete attempt of {relative} is readable under {} (is the output on a filesystem every executor shares?)",
        attempts.display()
    )))
}
