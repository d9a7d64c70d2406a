//! Transform's output as part of its plan: [`PartitionSinkExec`] writes
//! each partition of the transformed rows as one output shard, named after
//! the input part (the weir scan's unit) that partition reads, so a task of
//! a cluster (which sees its partitions re-indexed) writes the same shard
//! as in-process. Shards go to attempt directories and are committed once
//! by the driver (see [`crate::commit`]); rows are encoded and buffered the
//! same way in both modes, so the files are the same bytes.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use weir_datasets::example::ExampleEncoder;
use weir_datasets::sink::WrittenFile;
use weir_datasets::Compression;

use crate::commit::{sink_properties, sink_stream};
use crate::error::{EngineError, Result};
use crate::examplegen::workers::BufferedShardWriter;
use crate::scan::as_source_scan;
use crate::OutputFormat;

/// Deflate level of transformed TFRecord shards (zlib's default, as TFT).
const GZIP_LEVEL: u32 = 6;

/// Where and how transformed parts are written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartitionSinkConfig {
    /// The run's attempt root (absolute, beside the output).
    pub attempts_dir: String,
    /// The relative output path of the shard of each input part.
    pub shard_paths: Vec<String>,
    /// Gzip TFRecord of tf.Example, or Parquet.
    pub output_format: OutputFormat,
}

/// Writes each input partition as the shard of the input part it reads.
#[derive(Debug)]
pub struct PartitionSinkExec {
    input: Arc<dyn ExecutionPlan>,
    config: Arc<PartitionSinkConfig>,
    properties: Arc<PlanProperties>,
}

impl PartitionSinkExec {
    /// A sink over `input` (transformed rows straight from a weir scan).
    pub fn new(input: Arc<dyn ExecutionPlan>, config: Arc<PartitionSinkConfig>) -> Self {
        let properties =
            sink_properties(input.properties().output_partitioning().partition_count());
        Self {
            input,
            config,
            properties,
        }
    }

    /// Its config.
    pub fn config(&self) -> &Arc<PartitionSinkConfig> {
        &self.config
    }
}

/// The input part (scan unit) that `partition` of `plan` reads: `plan`
/// must reach a weir scan through operators that keep partitions as they
/// are (one child, the same partition count).
fn unit_of(plan: &Arc<dyn ExecutionPlan>, partition: usize) -> DfResult<usize> {
    let mut node = plan.clone();
    loop {
        if let Some((_, _, shape)) = as_source_scan(node.as_ref()) {
            return shape.units.get(partition).copied().ok_or_else(|| {
                DataFusionError::Internal(format!(
                    "partition {partition} of a scan of {} parts",
                    shape.units.len()
                ))
            });
        }
        let count = node.properties().output_partitioning().partition_count();
        let child = match node.children().as_slice() {
            [child] => (*child).clone(),
            _ => {
                return Err(DataFusionError::Internal(format!(
                    "transform output: {} between the sink and the scan changes partitions",
                    node.name()
                )))
            }
        };
        if child.properties().output_partitioning().partition_count() != count {
            return Err(DataFusionError::Internal(format!(
                "transform output: {} repartitions the scan",
                node.name()
            )));
        }
        node = child;
    }
}

impl DisplayAs for PartitionSinkExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "PartitionSinkExec: parts={}, format={:?}",
            self.config.shard_paths.len(),
            self.config.output_format
        )
    }
}

impl ExecutionPlan for PartitionSinkExec {
    fn name(&self) -> &str {
        "PartitionSinkExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let input = children
            .into_iter()
            .next()
            .ok_or_else(|| DataFusionError::Internal("PartitionSinkExec takes one input".into()))?;
        Ok(Arc::new(Self::new(input, self.config.clone())))
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let unit = unit_of(&self.input, partition)?;
        let relative = self.config.shard_paths.get(unit).cloned().ok_or_else(|| {
            DataFusionError::Internal(format!(
                "part {unit} of a transform with {} parts",
                self.config.shard_paths.len()
            ))
        })?;
        let input = self.input.execute(partition, context.clone())?;
        let schema = self.input.schema();
        let format = self.config.output_format;
        Ok(sink_stream(
            input,
            self.config.attempts_dir.clone(),
            &context,
            partition,
            move |rx, dir| {
                let file = write_part(rx, format, dir, &relative, schema)?;
                Ok(vec![(unit as u32, file)])
            },
        ))
    }
}

/// Writes the rows arriving on `rx` as one shard at `dir/relative`.
fn write_part(
    mut rx: tokio::sync::mpsc::Receiver<RecordBatch>,
    format: OutputFormat,
    dir: &Path,
    relative: &str,
    schema: SchemaRef,
) -> DfResult<WrittenFile> {
    let result: Result<WrittenFile> = (|| {
        let mut writer = match format {
            OutputFormat::Tfrecord => {
                BufferedShardWriter::tfrecord(dir, relative, Compression::Gzip, GZIP_LEVEL)?
            }
            OutputFormat::Parquet => BufferedShardWriter::parquet(dir, relative, schema.clone())?,
        };
        let encoder = match format {
            OutputFormat::Tfrecord => {
                Some(ExampleEncoder::new(&schema, None).map_err(EngineError::Invalid)?)
            }
            OutputFormat::Parquet => None,
        };
        while let Some(batch) = rx.blocking_recv() {
            match &encoder {
                Some(enc) => {
                    let encoded = enc.encode(&batch).map_err(|m| {
                        EngineError::Invalid(format!("encoding transformed rows: {m}"))
                    })?;
                    for ex in encoded.examples.iter().flatten() {
                        writer.push_example(ex)?;
                    }
                }
                None => writer.push_rows(batch)?,
            }
        }
        writer.finish()
    })();
    result.map_err(DataFusionError::from)
}
