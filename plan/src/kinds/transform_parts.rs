//! Transform's output as part of its plan: a sink of kind
//! [`TRANSFORM_PARTS`] ([`TransformPartSink`]) writes
//! each partition of the transformed rows as one output shard, named after
//! the input part (the weir scan's unit) that partition reads, so a task of
//! a cluster (which sees its partitions re-indexed) writes the same shard
//! as in-process. Shards go to attempt directories and are committed once
//! by the driver (see [`crate::commit`]); rows are encoded and buffered the
//! same way in both modes, so the files are the same bytes.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::physical_plan::ExecutionPlan;
use weir_datasets::example::ExampleEncoder;
use weir_datasets::sink::{BufferedShardWriter, OutputFormat, WrittenFile};
use weir_datasets::Compression;

use crate::commit::WrittenShard;
use crate::error::{PlanError, Result};
use crate::scan::as_source_scan;
use crate::sink::{ShardSink, ShardTargets, ShardWrite};

/// Deflate level of transformed TFRecord shards (zlib's default, as TFT).
const GZIP_LEVEL: u32 = 6;

/// Transform's part sink (kind [`TRANSFORM_PARTS`]): where and how
/// transformed parts are written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransformPartSink {
    /// The attempt root and the path of every shard (for ExampleGen, of
    /// every global shard; for Transform, of each input part's shard).
    #[serde(flatten)]
    pub targets: ShardTargets,
    /// Gzip TFRecord of tf.Example, or Parquet.
    pub output_format: OutputFormat,
}

/// The kind name of Transform's part sink.
pub const TRANSFORM_PARTS: &str = "transform_parts";

impl ShardSink for TransformPartSink {
    fn kind(&self) -> &'static str {
        TRANSFORM_PARTS
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn targets(&self) -> &ShardTargets {
        &self.targets
    }

    fn describe(&self) -> String {
        format!(
            "transform parts={}, format={:?}",
            self.targets.shard_paths.len(),
            self.output_format
        )
    }

    fn writer(&self, input: &Arc<dyn ExecutionPlan>, partition: usize) -> Result<ShardWrite> {
        let unit = unit_of(input, partition)?;
        let relative = self.targets.shard_paths.get(unit).cloned().ok_or_else(|| {
            PlanError::Internal(format!(
                "part {unit} of a transform with {} parts",
                self.targets.shard_paths.len()
            ))
        })?;
        let schema = input.schema();
        let format = self.output_format;
        Ok(Box::new(move |rx, dir| {
            let file = write_part(rx, format, dir, &relative, schema)?;
            Ok(vec![WrittenShard {
                shard: unit as u32,
                file,
                summary: None,
            }])
        }))
    }
}

/// The input part (scan unit) that `partition` of `plan` reads: `plan`
/// must reach a weir scan through operators that keep partitions as they
/// are (one child, the same partition count).
fn unit_of(plan: &Arc<dyn ExecutionPlan>, partition: usize) -> DfResult<usize> {
    let mut node = plan.clone();
    loop {
        if let Some(scan) = as_source_scan(node.as_ref()) {
            return scan.shape.units.get(partition).copied().ok_or_else(|| {
                DataFusionError::Internal(format!(
                    "partition {partition} of a scan of {} parts",
                    scan.shape.units.len()
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

/// Writes the rows arriving on `rx` as one shard at `dir/relative`.
fn write_part(
    mut rx: tokio::sync::mpsc::Receiver<RecordBatch>,
    format: OutputFormat,
    dir: &Path,
    relative: &str,
    schema: SchemaRef,
) -> Result<WrittenFile> {
    let mut writer = match format {
        OutputFormat::Tfrecord => {
            BufferedShardWriter::tfrecord(dir, relative, Compression::Gzip, GZIP_LEVEL)?
        }
        OutputFormat::Parquet => BufferedShardWriter::parquet(dir, relative, schema.clone())?,
    };
    let encoder = match format {
        OutputFormat::Tfrecord => {
            Some(ExampleEncoder::new(&schema, None).map_err(PlanError::Invalid)?)
        }
        OutputFormat::Parquet => None,
    };
    while let Some(batch) = rx.blocking_recv() {
        match &encoder {
            Some(enc) => {
                let encoded = enc
                    .encode(&batch)
                    .map_err(|m| PlanError::Invalid(format!("encoding transformed rows: {m}")))?;
                for ex in encoded.examples.iter().flatten() {
                    writer.push_example(ex)?;
                }
            }
            None => writer.push_rows(batch)?,
        }
    }
    Ok(writer.finish()?)
}
