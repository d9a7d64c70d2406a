//! Exactly-once output on a cluster that may rerun, lose or duplicate
//! tasks, task side: a sink task writes its shards into its own attempt
//! (`<attempts>/<task id>-<nonce>/…`, the attempt root outside the output:
//! a directory beside a local output, or for an object-store output the
//! prefix `URL/.weir-staging/<run>/attempts`, which the task uploads to
//! from a private temporary directory) and returns one [`sink_schema`] row
//! per shard ([`report`]). The driver accepts a job's
//! result only when every shard is reported and commits exactly one
//! attempt of each ([`crate::attempts`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BinaryArray, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{Partitioning, PlanProperties};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use weir_datasets::sink::WrittenFile;
use weir_datasets::store::ObjectUrl;
use weir_datasets::DatasetError;

/// One shard a sink task wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenShard {
    /// Its number.
    pub shard: u32,
    /// The file, relative to the task's attempt directory.
    pub file: WrittenFile,
    /// What the kind reports beside the file (ExampleGen: the statistics
    /// rows the shard reduced, `kinds::split_stats::ShardStats`); the
    /// driver takes it from the attempt it commits.
    pub summary: Option<Vec<u8>>,
}

/// What a sink task reports per shard written.
pub fn sink_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("shard", DataType::UInt32, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("records", DataType::UInt64, false),
        Field::new("bytes", DataType::UInt64, false),
        Field::new("sha256", DataType::Utf8, false),
        Field::new("summary", DataType::Binary, true),
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

/// The object that says a remote attempt root is open for uploads: the
/// driver puts it when it creates the root, and a task that finds it gone
/// (the run ended; Ballista does not stop stragglers) uploads nothing.
pub const OPEN_MARKER: &str = ".open";

/// A sink task's output stream: opens the task's attempt under
/// `attempts_dir` (a directory, or an object-store URL), runs `write` on a
/// blocking thread with `input`'s batches and the attempt's local
/// directory, uploads what it wrote when the root is remote, and reports
/// the shards ([`report`]).
pub fn sink_stream<W>(
    mut input: SendableRecordBatchStream,
    attempts_dir: String,
    context: &TaskContext,
    partition: usize,
    write: W,
) -> SendableRecordBatchStream
where
    W: FnOnce(tokio::sync::mpsc::Receiver<RecordBatch>, &Path) -> DfResult<Vec<WrittenShard>>
        + Send
        + 'static,
{
    let task = context
        .task_id()
        .unwrap_or_else(|| format!("partition-{partition}"));
    let fut = async move {
        let attempt = TaskAttempt::open(&attempts_dir, &task).await?;
        let (tx, rx) = tokio::sync::mpsc::channel::<RecordBatch>(2);
        let dir = attempt.dir().to_path_buf();
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
        attempt.finish(&written).await?;
        report(&written, attempt.name())
    };
    Box::pin(RecordBatchStreamAdapter::new(
        sink_schema(),
        futures::stream::once(fut),
    ))
}

/// Where one task attempt writes.
enum TaskAttempt {
    /// Its own directory under an attempt root every machine sees.
    Local {
        /// `<task>-<nonce>`.
        name: String,
        /// The directory.
        dir: PathBuf,
    },
    /// A private local directory (this machine's temporary directory),
    /// uploaded to `root/<name>/…` at the end and removed whatever happens.
    Remote {
        /// The run's attempt prefix.
        root: ObjectUrl,
        /// `<task>-<nonce>`.
        name: String,
        /// The local directory.
        dir: ScratchDir,
    },
}

impl TaskAttempt {
    async fn open(attempts: &str, task: &str) -> DfResult<Self> {
        let name = attempt_name(task);
        if !weir_datasets::store::is_url(attempts) {
            let dir = attempt_dir(attempts, &name)?;
            return Ok(Self::Local { name, dir });
        }
        let root = weir_datasets::store::parse(attempts).map_err(external)?;
        let marker = root.join(OPEN_MARKER);
        match weir_datasets::store::idempotent(|| marker.store.head(&marker.key)).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => {
                return Err(external(DatasetError::File {
                    path: root.url(),
                    message: "the run's staging prefix is gone (the run ended or was abandoned)"
                        .into(),
                }))
            }
            Err(e) => {
                return Err(external(weir_datasets::store::store_error(
                    &marker.url(),
                    e,
                )))
            }
        }
        let dir = std::env::temp_dir().join(format!("weir-attempt-{name}"));
        std::fs::create_dir(&dir).map_err(|e| external(DatasetError::io(&dir, e)))?;
        Ok(Self::Remote {
            root,
            name,
            dir: ScratchDir(dir),
        })
    }

    fn name(&self) -> &str {
        match self {
            Self::Local { name, .. } | Self::Remote { name, .. } => name,
        }
    }

    fn dir(&self) -> &Path {
        match self {
            Self::Local { dir, .. } => dir,
            Self::Remote { dir, .. } => &dir.0,
        }
    }

    /// Uploads a remote attempt's files (a few at a time, each multipart
    /// when large); a local attempt is already in place.
    async fn finish(&self, written: &[WrittenShard]) -> DfResult<()> {
        let Self::Remote { root, name, dir } = self else {
            return Ok(());
        };
        let uploads: Vec<(ObjectUrl, PathBuf)> = written
            .iter()
            .map(|w| {
                (
                    root.join(&format!("{name}/{}", w.file.path)),
                    dir.0.join(&w.file.path),
                )
            })
            .collect();
        futures::stream::iter(uploads)
            .map(upload)
            .buffer_unordered(UPLOADS_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await
            .map_err(external)?;
        Ok(())
    }
}

/// Uploads one written file of an attempt to its object.
fn upload(
    (object, file): (ObjectUrl, PathBuf),
) -> futures::future::BoxFuture<'static, weir_datasets::Result<()>> {
    Box::pin(async move {
        weir_datasets::store::publish::upload_file(
            object.store.as_ref(),
            &file,
            &object.key,
            &object.url(),
        )
        .await
    })
}

/// Shard files one task uploads at once.
const UPLOADS_IN_FLIGHT: usize = 4;

/// A directory removed when dropped.
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn external(e: DatasetError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// `<task>-<nonce>`: a name no other attempt of any task has.
fn attempt_name(task: &str) -> String {
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
    format!("{safe}-{:016x}", nonce())
}

/// A fresh directory `name` for a task attempt under the run's attempt root.
fn attempt_dir(attempts: &str, name: &str) -> DfResult<PathBuf> {
    let root = Path::new(attempts);
    let dir = root.join(name);
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

/// The metadata rows of the shards written by the attempt `attempt` (its
/// name under the attempt root).
pub fn report(written: &[WrittenShard], attempt: &str) -> DfResult<RecordBatch> {
    let prefix = attempt;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from_iter_values(
            written.iter().map(|w| w.shard),
        )),
        Arc::new(StringArray::from_iter_values(
            written.iter().map(|w| format!("{prefix}/{}", w.file.path)),
        )),
        Arc::new(UInt64Array::from_iter_values(
            written.iter().map(|w| w.file.records),
        )),
        Arc::new(UInt64Array::from_iter_values(
            written.iter().map(|w| w.file.bytes),
        )),
        Arc::new(StringArray::from_iter_values(
            written.iter().map(|w| w.file.sha256.as_str()),
        )),
        Arc::new(BinaryArray::from_iter(
            written.iter().map(|w| w.summary.as_deref()),
        )),
    ];
    Ok(RecordBatch::try_new(sink_schema(), columns)?)
}
