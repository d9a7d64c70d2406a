//! Exactly-once output on a cluster that may rerun, lose or duplicate
//! tasks, task side: a sink task writes its shards into its own attempt
//! directory ([`attempt_dir`]: `<attempts>/<task id>-<nonce>/…`, the
//! attempt root beside the output, never inside it) and returns one
//! [`sink_schema`] row per shard ([`report`]). The driver accepts a job's
//! result only when every shard is reported and commits exactly one
//! attempt of each ([`crate::attempts`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, UInt32Array, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{Partitioning, PlanProperties};
use futures::StreamExt;
use weir_datasets::sink::WrittenFile;
use weir_datasets::DatasetError;

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
