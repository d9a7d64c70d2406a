//! Exactly-once output on a cluster that may rerun, lose or duplicate
//! tasks. A sink task writes its shards into its own attempt directory
//! ([`attempt_dir`]: `<attempts>/<task id>-<nonce>/…`, the attempt root
//! beside the output, never inside it) and returns one [`sink_schema`] row
//! per shard ([`report`]). The driver accepts a job's result only when
//! every shard is reported, moves exactly one complete attempt of each
//! shard into the staged output and removes the attempt root; duplicate
//! and abandoned attempts are never seen. [`Attempts`] owns an attempt root and runs a sink plan through
//! all of this ([`Attempts::run_sink`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{Partitioning, PlanProperties};
use datafusion::prelude::{DataFrame, SessionContext};
use futures::StreamExt;
use weir_datasets::sink::{StagedDir, WrittenFile};
use weir_datasets::DatasetError;

use crate::cluster::Execution;
use crate::error::{EngineError, Result};
use crate::sink_node::{SinkNode, SinkSpec};

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

    /// Runs `input` into the sink `spec` (whose attempt root is this one)
    /// on `execution`, accepts the result only when every shard of the
    /// spec is reported, and commits one attempt of each into the staged
    /// output. The files, in shard order.
    pub async fn run_sink(
        &self,
        execution: &Execution,
        ctx: &SessionContext,
        input: LogicalPlan,
        spec: SinkSpec,
    ) -> Result<Vec<WrittenFile>> {
        let shard_paths = spec.shard_paths().to_vec();
        let total = shard_paths.len();
        let plan = LogicalPlan::Extension(Extension {
            node: Arc::new(SinkNode::new(input, spec)?),
        });
        let df = DataFrame::new(ctx.state(), plan);
        let batches = execution
            .collect(df, |b| reports(b, total).map(|_| ()))
            .await?;
        reports(&batches, total)
            .map_err(EngineError::Internal)?
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

/// What a sink task reports per shard written.
pub fn sink_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("shard", DataType::UInt32, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("records", DataType::UInt64, false),
        Field::new("bytes", DataType::UInt64, false),
        Field::new("sha256", DataType::Utf8, false),
    ]))
}

/// The plan properties of a sink with `partitions` partitions: one
/// [`sink_schema`] batch per partition, at the end.
pub fn sink_properties(partitions: usize) -> Arc<PlanProperties> {
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(sink_schema()),
        Partitioning::UnknownPartitioning(partitions),
        EmissionType::Final,
        Boundedness::Bounded,
    ))
}

/// A sink task's output stream: creates the task's attempt directory under
/// `attempts_dir`, runs `write` on a blocking thread with `input`'s batches
/// and that directory, and reports the shards it wrote ([`report`]).
pub fn sink_stream<W>(
    mut input: SendableRecordBatchStream,
    attempts_dir: String,
    context: &TaskContext,
    partition: usize,
    write: W,
) -> SendableRecordBatchStream
where
    W: FnOnce(tokio::sync::mpsc::Receiver<RecordBatch>, &Path) -> DfResult<Vec<(u32, WrittenFile)>>
        + Send
        + 'static,
{
    let task = context
        .task_id()
        .unwrap_or_else(|| format!("partition-{partition}"));
    let fut = async move {
        let attempt = attempt_dir(&attempts_dir, &task)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<RecordBatch>(2);
        let dir = attempt.clone();
        let writer = tokio::task::spawn_blocking(move || write(rx, &dir));
        while let Some(batch) = input.next().await {
            if tx.send(batch?).await.is_err() {
                break; // the writer stopped: its result says why
            }
        }
        drop(tx);
        let written = writer
            .await
            .map_err(|e| DataFusionError::Execution(format!("sink writer: {e}")))??;
        report(&written, &attempt, Path::new(&attempts_dir))
    };
    Box::pin(RecordBatchStreamAdapter::new(
        sink_schema(),
        futures::stream::once(fut),
    ))
}

/// A fresh directory for this task attempt under the run's attempt root.
pub fn attempt_dir(attempts: &str, task: &str) -> DfResult<PathBuf> {
    let root = Path::new(attempts);
    let safe: String = task
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = root.join(format!("{safe}-{:016x}", nonce()));
    std::fs::create_dir(&dir).map_err(|e| {
        let e = if root.is_dir() {
            DatasetError::io(&dir, e)
        } else {
            DatasetError::file(
                root,
                "the run's staging directory is gone (the run was abandoned or is not reachable from this executor)",
            )
        };
        DataFusionError::External(Box::new(e))
    })?;
    Ok(dir)
}

fn nonce() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now())
}

/// The metadata rows of the shards written into `attempt`.
pub fn report(
    written: &[(u32, WrittenFile)],
    attempt: &Path,
    root: &Path,
) -> DfResult<RecordBatch> {
    let prefix = attempt
        .strip_prefix(root)
        .map_err(|e| DataFusionError::Internal(e.to_string()))?
        .to_string_lossy()
        .into_owned();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from_iter_values(
            written.iter().map(|(s, _)| *s),
        )),
        Arc::new(StringArray::from_iter_values(
            written.iter().map(|(_, f)| format!("{prefix}/{}", f.path)),
        )),
        Arc::new(UInt64Array::from_iter_values(
            written.iter().map(|(_, f)| f.records),
        )),
        Arc::new(UInt64Array::from_iter_values(
            written.iter().map(|(_, f)| f.bytes),
        )),
        Arc::new(StringArray::from_iter_values(
            written.iter().map(|(_, f)| f.sha256.as_str()),
        )),
    ];
    Ok(RecordBatch::try_new(sink_schema(), columns)?)
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
    Err(EngineError::Invalid(format!(
        "no complete attempt of {relative} is readable under {} (is the output on a filesystem every executor shares?)",
        attempts.display()
    )))
}
