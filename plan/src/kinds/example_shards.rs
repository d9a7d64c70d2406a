//! The sink side of a distributed ExampleGen. A sink of kind
//! [`EXAMPLE_SHARDS`] ([`ExampleShardSink`]) requires its input hash-partitioned by
//! global shard and sorted by (shard, file, row), so each task sees whole
//! shards in input order. A task writes each of its shards into its own
//! attempt directory (`<attempts>/<task id>-<nonce>/…`) with the same
//! buffering as in-process ExampleGen, checks the shard against the map's
//! count markers (every part reported, rows adding up, no row twice), and
//! returns one metadata row per shard. Nothing is visible until the driver
//! commits exactly one attempt per shard (`commit::driver`).
//!
//! Statistics rows (fused statistics, `split_stats`) arrive after a
//! shard's examples: value counts in hash order, which the shard reduces
//! ([`ValueReducer`]), and partial states, which it passes on; both go
//! into the shard's report as its summary ([`ShardStats`]).

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, UInt32Array, UInt64Array};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::error::Result as DfResult;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{
    LexRequirement, OrderingRequirements, PhysicalExpr, PhysicalSortRequirement,
};
use datafusion::physical_plan::{Distribution, ExecutionPlan};
use weir_datasets::sink::{BufferedShardWriter, OutputFormat};
use weir_datasets::Compression;

use super::example_map::{
    example_column, payload_rows, FILE_COLUMN, KEY_COLUMNS, MARKER_FILE, ROW_COLUMN, SHARD_COLUMN,
    STATE_FILE, VALUES_FILE,
};
use super::split_stats::values::counts_batch;
use super::split_stats::{ShardStats, ValueReducer};
use crate::commit::WrittenShard;
use crate::error::{PlanError, Result};
use crate::sink::{ShardSink, ShardTargets, ShardWrite};

/// ExampleGen's shard sink (kind [`EXAMPLE_SHARDS`]): what it writes and where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExampleShardSink {
    /// The attempt root and the path of every shard (for ExampleGen, of
    /// every global shard; for Transform, of each input part's shard).
    #[serde(flatten)]
    pub targets: ShardTargets,
    /// TFRecord or Parquet.
    pub output_format: OutputFormat,
    /// TFRecord compression.
    pub compression: Compression,
    /// Deflate level.
    pub compression_level: u32,
    /// Parts of the map: count markers each shard must receive.
    pub map_parts: u64,
    /// Nullability of each payload column of a Parquet shard (the input's).
    pub payload_nullable: Vec<bool>,
}

/// The kind name of ExampleGen's shard sink.
pub const EXAMPLE_SHARDS: &str = "example_shards";

fn key(input: &SchemaRef, name: &str) -> DfResult<Arc<dyn PhysicalExpr>> {
    Ok(Arc::new(Column::new_with_schema(name, input)?))
}

impl ShardSink for ExampleShardSink {
    fn kind(&self) -> &'static str {
        EXAMPLE_SHARDS
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn targets(&self) -> &ShardTargets {
        &self.targets
    }

    fn describe(&self) -> String {
        format!(
            "example shards={}, format={:?}",
            self.targets.shard_paths.len(),
            self.output_format
        )
    }

    fn required_input_distribution(&self, input: &SchemaRef) -> Distribution {
        match key(input, SHARD_COLUMN) {
            Ok(shard) => Distribution::KeyPartitioned(vec![shard]),
            Err(_) => Distribution::SinglePartition,
        }
    }

    fn required_input_ordering(&self, input: &SchemaRef) -> Option<OrderingRequirements> {
        let keys: DfResult<Vec<_>> = [SHARD_COLUMN, FILE_COLUMN, ROW_COLUMN]
            .iter()
            .map(|c| key(input, c))
            .collect();
        let requirement = keys.ok().and_then(|keys| {
            LexRequirement::new(
                keys.into_iter()
                    .map(|k| PhysicalSortRequirement::new(k, Some(Default::default()))),
            )
        });
        requirement.map(OrderingRequirements::new)
    }

    fn benefits_from_input_partitioning(&self) -> bool {
        true
    }

    fn writer(&self, input: &Arc<dyn ExecutionPlan>, _partition: usize) -> Result<ShardWrite> {
        let config = self.clone();
        let payload = payload_schema(&input.schema(), &config);
        Ok(Box::new(move |rx, dir| {
            write_sorted_shards(rx, &config, dir, payload)
        }))
    }
}

/// The input's own columns of a Parquet shard (names and types of the map
/// payload, nullability of the input).
fn payload_schema(map: &SchemaRef, config: &ExampleShardSink) -> SchemaRef {
    let fields: Vec<Field> = map
        .fields()
        .iter()
        .skip(KEY_COLUMNS)
        .zip(
            config
                .payload_nullable
                .iter()
                .chain(std::iter::repeat(&true)),
        )
        .map(|(f, &nullable)| f.as_ref().clone().with_nullable(nullable))
        .collect();
    Arc::new(Schema::new(fields))
}

/// One shard being written.
struct OpenShard {
    shard: u32,
    writer: BufferedShardWriter,
    /// Rows received (examples and statistics rows), checked against the
    /// markers.
    rows: u64,
    markers: u64,
    reported: u64,
    last: Option<(u32, u64)>,
    values: Option<ValueReducer>,
    states: Vec<Vec<u8>>,
}

impl OpenShard {
    fn open(
        shard: u32,
        config: &ExampleShardSink,
        dir: &Path,
        payload: &SchemaRef,
    ) -> Result<Self> {
        let relative = config
            .targets
            .shard_paths
            .get(shard as usize)
            .ok_or_else(|| {
                PlanError::Internal(format!(
                    "shard {shard} of a run with {} shards",
                    config.targets.shard_paths.len()
                ))
            })?;
        let writer = match config.output_format {
            OutputFormat::Tfrecord => BufferedShardWriter::tfrecord(
                dir,
                relative,
                config.compression,
                config.compression_level,
            )?,
            OutputFormat::Parquet => BufferedShardWriter::parquet(dir, relative, payload.clone())?,
        };
        Ok(Self {
            shard,
            writer,
            rows: 0,
            markers: 0,
            reported: 0,
            last: None,
            values: None,
            states: Vec::new(),
        })
    }

    /// Rows `start..end` of `batch`, all of this shard.
    fn write(
        &mut self,
        batch: &RecordBatch,
        start: usize,
        end: usize,
        payload: &SchemaRef,
    ) -> Result<()> {
        let files = u32_column(batch, 1)?;
        let rows = u64_column(batch, 2)?;
        let stats = batch.column(3).as_binary_opt::<i32>().ok_or_else(|| {
            PlanError::Internal("map column 3 is not the statistics payload".into())
        })?;
        let mut data = Vec::new();
        for i in start..end {
            let (file, row) = (files.value(i), rows.value(i));
            if file == MARKER_FILE {
                self.markers += 1;
                self.reported += row;
                continue;
            }
            if self.markers > 0 {
                return Err(PlanError::Internal(format!(
                    "shard {}: a row after the count markers at file {file} row {row} (input not sorted)",
                    self.shard
                )));
            }
            self.rows += 1;
            match file {
                VALUES_FILE => self
                    .values
                    .get_or_insert_with(ValueReducer::default)
                    .add(row, stats.value(i))?,
                STATE_FILE => self.states.push(stats.value(i).to_vec()),
                _ => {
                    if self.last.is_some_and(|last| last >= (file, row)) {
                        return Err(PlanError::Internal(format!(
                            "shard {}: rows out of order or repeated at file {file} row {row} (the shuffle delivered a row twice)",
                            self.shard
                        )));
                    }
                    self.last = Some((file, row));
                    data.push(i as u32);
                }
            }
        }
        if data.is_empty() {
            return Ok(());
        }
        match self.writer.is_tfrecord() {
            true => {
                let examples = example_column(batch)?;
                for &i in &data {
                    self.writer.push_example(examples.value(i as usize))?;
                }
                Ok(())
            }
            false => Ok(self.writer.push_rows(payload_rows(
                payload,
                batch,
                &UInt32Array::from(data),
            )?)?),
        }
    }

    /// Checks the shard against its markers, closes the file and
    /// summarizes its statistics rows.
    fn finish(self, config: &ExampleShardSink) -> Result<WrittenShard> {
        if self.markers != config.map_parts || self.reported != self.rows {
            return Err(PlanError::Internal(format!(
                "shard {}: received {} rows and {} of {} count markers reporting {} rows (shuffle data lost or duplicated)",
                self.shard, self.rows, self.markers, config.map_parts, self.reported
            )));
        }
        let stats = ShardStats {
            counts: match self.values {
                Some(v) => Some(counts_batch(v.finish())?),
                None => None,
            },
            states: self.states,
        };
        Ok(WrittenShard {
            shard: self.shard,
            file: self.writer.finish()?,
            summary: match stats.is_empty() {
                true => None,
                false => Some(stats.encode()?),
            },
        })
    }
}

fn u32_column(batch: &RecordBatch, i: usize) -> Result<&UInt32Array> {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<UInt32Array>()
        .ok_or_else(|| PlanError::Internal(format!("map column {i} is not UInt32")))
}

fn u64_column(batch: &RecordBatch, i: usize) -> Result<&UInt64Array> {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<UInt64Array>()
        .ok_or_else(|| PlanError::Internal(format!("map column {i} is not UInt64")))
}

/// Writes the shards of sorted map rows arriving on `rx` into `dir`.
fn write_sorted_shards(
    mut rx: tokio::sync::mpsc::Receiver<RecordBatch>,
    config: &ExampleShardSink,
    dir: &Path,
    payload: SchemaRef,
) -> Result<Vec<WrittenShard>> {
    let mut done = Vec::new();
    let mut open: Option<OpenShard> = None;
    while let Some(batch) = rx.blocking_recv() {
        let shards = u32_column(&batch, 0)?;
        let mut start = 0;
        while start < batch.num_rows() {
            let shard = shards.value(start);
            let mut end = start + 1;
            while end < batch.num_rows() && shards.value(end) == shard {
                end += 1;
            }
            if open.as_ref().is_none_or(|o| o.shard != shard) {
                if let Some(o) = open.take() {
                    if shard < o.shard {
                        return Err(PlanError::Internal(format!(
                            "shard {shard} arrived after shard {} (input not sorted)",
                            o.shard
                        )));
                    }
                    done.push(o.finish(config)?);
                }
                open = Some(OpenShard::open(shard, config, dir, &payload)?);
            }
            if let Some(o) = open.as_mut() {
                o.write(&batch, start, end, &payload)?;
            }
            start = end;
        }
    }
    if let Some(o) = open.take() {
        done.push(o.finish(config)?);
    }
    Ok(done)
}
