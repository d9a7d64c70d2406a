//! The map side of a distributed ExampleGen: a weir scan with the
//! [`ExampleRouteMap`] map (kind [`EXAMPLE_MAP`]) turns each input batch into
//! rows of [`map_schema`]: the example's global shard, its place in the
//! input (file, row) and its payload (the serialized example, or the input
//! columns for Parquet output). At the end of its part it emits one count
//! marker per shard (`file` = [`MARKER_FILE`], `row` = how many examples
//! of that shard the part produced), so the sink can prove it received
//! every row of its shard exactly once.

use std::sync::Arc;

use datafusion::arrow::array::{
    new_null_array, ArrayRef, BinaryArray, RecordBatch, UInt32Array, UInt64Array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use weir_datasets::formats::{Source, SourceBatch};
use weir_datasets::route::{shard_of, ExampleRouter};
use weir_datasets::sink::OutputFormat;
use weir_datasets::{DatasetError, SplitConfig};

use crate::error::{PlanError, Result};
use crate::map::{RowMapper, ScanMap};

/// The kind name of ExampleGen's routing map.
pub const EXAMPLE_MAP: &str = "example_route";

/// Global shard (splits' shards numbered one after the other).
pub const SHARD_COLUMN: &str = "__weir_shard";
/// Index of the input file of the row.
pub const FILE_COLUMN: &str = "__weir_file";
/// Index of the row in its file (for a marker: its count).
pub const ROW_COLUMN: &str = "__weir_row";
/// The serialized example (TFRecord output).
pub const EXAMPLE_COLUMN: &str = "__weir_example";
/// The `file` of a count marker; sorts after every real file.
pub const MARKER_FILE: u32 = u32::MAX;
/// Leading key columns of a map row.
pub const KEY_COLUMNS: usize = 3;

/// ExampleGen's routing map (kind [`EXAMPLE_MAP`]): its split and shard
/// settings, and how it turns input batches into routed rows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExampleRouteMap {
    /// Hash splitting; `None` when splits come from input folders.
    pub hash: Option<SplitConfig>,
    /// Hash this feature instead of the whole example.
    pub partition_feature: Option<String>,
    /// Split of each input file (used without hashing).
    pub file_split: Vec<usize>,
    /// Shards of each split.
    pub shards: Vec<usize>,
    /// What the payload is.
    pub output_format: OutputFormat,
}

impl ExampleRouteMap {
    /// The global number of shard `shard` of split `split`.
    pub fn global_shard(&self, split: usize, shard: usize) -> usize {
        self.shards[..split].iter().sum::<usize>() + shard
    }

    /// Shards of all splits.
    pub fn total_shards(&self) -> usize {
        self.shards.iter().sum()
    }
}

impl ScanMap for ExampleRouteMap {
    fn kind(&self) -> &'static str {
        EXAMPLE_MAP
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn schema(&self, input: &Schema) -> SchemaRef {
        map_schema(input, self.output_format)
    }

    fn mapper(
        &self,
        source: &Source,
        files: Vec<std::path::PathBuf>,
    ) -> Result<Box<dyn RowMapper>> {
        Ok(Box::new(ExampleMapper::new(
            source,
            files,
            Arc::new(self.clone()),
        )?))
    }
}

/// The rows a map produces for an input of schema `input`.
pub fn map_schema(input: &Schema, format: OutputFormat) -> SchemaRef {
    let mut fields = vec![
        Field::new(SHARD_COLUMN, DataType::UInt32, false),
        Field::new(FILE_COLUMN, DataType::UInt32, false),
        Field::new(ROW_COLUMN, DataType::UInt64, false),
    ];
    match format {
        OutputFormat::Tfrecord => fields.push(Field::new(EXAMPLE_COLUMN, DataType::Binary, true)),
        // Nullable: markers carry no payload.
        OutputFormat::Parquet => fields.extend(
            input
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true)),
        ),
    }
    Arc::new(Schema::new(fields))
}

/// Routes the batches of one part of the input.
pub struct ExampleMapper {
    config: Arc<ExampleRouteMap>,
    router: ExampleRouter,
    schema: SchemaRef,
    offsets: Vec<u32>,
    /// Examples per global shard so far.
    counts: Vec<u64>,
}

impl ExampleMapper {
    /// A mapper for `source` (the whole input, which names the files).
    pub fn new(
        source: &Source,
        files: Vec<std::path::PathBuf>,
        config: Arc<ExampleRouteMap>,
    ) -> Result<Self> {
        let input = source.schema();
        let router = ExampleRouter::new(
            &input,
            source.is_serialized(),
            config.hash.clone(),
            config.partition_feature.clone(),
            config.file_split.clone(),
            files,
        )?;
        let offsets = (0..config.shards.len())
            .map(|s| config.global_shard(s, 0) as u32)
            .collect();
        Ok(Self {
            schema: map_schema(&input, config.output_format),
            counts: vec![0; config.total_shards()],
            config,
            router,
            offsets,
        })
    }

    /// The map rows of one input batch.
    pub fn map(&mut self, batch: &SourceBatch) -> Result<RecordBatch> {
        let (encoded, splits) = self.router.route(batch)?;
        let n = splits.len();
        let file = u32::try_from(batch.file)
            .map_err(|_| PlanError::Invalid("more than 4 billion input files".into()))?;
        let mut shards = Vec::with_capacity(n);
        for (r, &s) in splits.iter().enumerate() {
            let shard = shard_of(batch.file, batch.row + r as u64, self.config.shards[s]);
            let global = self.offsets[s] + shard as u32;
            self.counts[global as usize] += 1;
            shards.push(global);
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(shards)),
            Arc::new(UInt32Array::from(vec![file; n])),
            Arc::new(UInt64Array::from_iter_values(
                (0..n as u64).map(|r| batch.row + r),
            )),
        ];
        match self.config.output_format {
            OutputFormat::Tfrecord => columns.push(Arc::new(encoded.examples)),
            OutputFormat::Parquet => columns.extend(batch.batch.columns().iter().cloned()),
        }
        RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| PlanError::Dataset(DatasetError::from(e)))
    }

    /// One count marker per global shard: what this part produced.
    pub fn markers(&self) -> Result<RecordBatch> {
        let n = self.counts.len();
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from_iter_values(0..n as u32)),
            Arc::new(UInt32Array::from(vec![MARKER_FILE; n])),
            Arc::new(UInt64Array::from(self.counts.clone())),
        ];
        for f in self.schema.fields().iter().skip(KEY_COLUMNS) {
            columns.push(new_null_array(f.data_type(), n));
        }
        RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| PlanError::Dataset(DatasetError::from(e)))
    }
}

impl RowMapper for ExampleMapper {
    fn map(&mut self, batch: &SourceBatch) -> Result<RecordBatch> {
        ExampleMapper::map(self, batch)
    }

    fn finish(self: Box<Self>) -> Result<Option<RecordBatch>> {
        self.markers().map(Some)
    }
}

/// The payload of map rows `rows` as the input's columns (`input`'s
/// nullability restored), for a Parquet shard.
pub fn payload_rows(
    input: &SchemaRef,
    batch: &RecordBatch,
    rows: &UInt32Array,
) -> Result<RecordBatch> {
    let columns = batch.columns()[KEY_COLUMNS..]
        .iter()
        .map(|c| take(c.as_ref(), rows, None))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(DatasetError::from)?;
    Ok(RecordBatch::try_new(input.clone(), columns).map_err(DatasetError::from)?)
}

/// The examples of map rows (TFRecord output).
pub fn example_column(batch: &RecordBatch) -> Result<&BinaryArray> {
    batch
        .column(KEY_COLUMNS)
        .as_any()
        .downcast_ref::<BinaryArray>()
        .ok_or_else(|| PlanError::Internal("map rows without an example column".into()))
}
