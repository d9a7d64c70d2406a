//! The map side of a distributed ExampleGen: a weir scan with the
//! [`ExampleRouteMap`] map (kind [`EXAMPLE_MAP`]) turns each input batch into
//! rows of [`map_schema`]: the example's global shard, its place in the
//! input (file, row) and its payload (the serialized example, or the input
//! columns for Parquet output). At the end of its part it emits one count
//! marker per shard (`file` = [`MARKER_FILE`], `row` = how many examples
//! of that shard the part produced), so the sink can prove it received
//! every row of its shard exactly once.
//!
//! With statistics ([`ExampleRouteMap::stats`]) the map also feeds every
//! split's accumulators (`split_stats`) and emits statistics rows, counted
//! by the markers like examples: value counts ([`VALUES_FILE`], `row` the
//! key's hash, in the shard the hash picks) as its combiner fills, and at
//! the end of the part one partial state per split ([`STATE_FILE`], in
//! shard 0). Their payload is the [`STATS_COLUMN`].

use std::sync::Arc;

use datafusion::arrow::array::{
    new_null_array, ArrayRef, BinaryArray, RecordBatch, UInt32Array, UInt64Array,
};
use datafusion::arrow::compute::{concat_batches, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use weir_datasets::formats::{Source, SourceBatch};
use weir_datasets::route::{shard_of, ExampleRouter};
use weir_datasets::sink::OutputFormat;
use weir_datasets::{DatasetError, SplitConfig};

use super::split_stats::summary::ipc_bytes;
use super::split_stats::{SplitAccumulators, StringMode, ValueCombiner};
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
/// A statistics row's payload (null in example rows).
pub const STATS_COLUMN: &str = "__weir_stats";
/// The serialized example (TFRecord output).
pub const EXAMPLE_COLUMN: &str = "__weir_example";
/// The `file` of a count marker; sorts after every real file.
pub const MARKER_FILE: u32 = u32::MAX;
/// The `file` of a partial-state row (`row`: its split).
pub const STATE_FILE: u32 = u32::MAX - 1;
/// The `file` of a value-count row (`row`: the hash of its key).
pub const VALUES_FILE: u32 = u32::MAX - 2;
/// Leading columns of a map row before the payload: the keys and the
/// statistics payload.
pub const KEY_COLUMNS: usize = 4;

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
    /// Statistics of every split, computed in the same read: how string
    /// features are measured ([`StringMode::Totals`] with value counts, or
    /// [`StringMode::Approx`]); `None` for none.
    #[serde(default)]
    pub stats: Option<StringMode>,
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
        Field::new(STATS_COLUMN, DataType::Binary, true),
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
    /// Rows per global shard so far.
    counts: Vec<u64>,
    /// Statistics, when asked for.
    stats: Option<MapStats>,
}

/// A part's statistics: the accumulators, and the value counts' combiner
/// (exact string statistics).
struct MapStats {
    accumulators: SplitAccumulators,
    combiner: Option<ValueCombiner>,
    /// Per feature, whether its values are counted (string features).
    counted: Vec<bool>,
}

impl MapStats {
    fn new(input: &SchemaRef, splits: usize, mode: StringMode) -> Result<Self> {
        let accumulators = SplitAccumulators::new(input, splits, mode)?;
        let counted = accumulators
            .columns()
            .iter()
            .map(|c| c.kind == weir_datasets::example::FeatureType::Bytes)
            .collect();
        Ok(Self {
            accumulators,
            combiner: (mode == StringMode::Totals).then(ValueCombiner::default),
            counted,
        })
    }
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
        let stats = match config.stats {
            Some(mode) => Some(MapStats::new(&input, config.shards.len(), mode)?),
            None => None,
        };
        Ok(Self {
            schema: map_schema(&input, config.output_format),
            counts: vec![0; config.total_shards()],
            config,
            router,
            offsets,
            stats,
        })
    }

    /// Feeds the statistics with a batch's rows; the value counts when the
    /// combiner is full.
    fn measure(&mut self, batch: &SourceBatch, splits: &[usize]) -> Result<Option<RecordBatch>> {
        let Some(stats) = self.stats.as_mut() else {
            return Ok(None);
        };
        let MapStats {
            accumulators,
            combiner,
            counted,
        } = stats;
        accumulators.update(
            &batch.batch,
            splits,
            |split, feature, values| match combiner.as_mut() {
                Some(c) if counted[feature] => c.add_column(split, feature, values),
                _ => Ok(()),
            },
        )?;
        match combiner.as_mut() {
            Some(c) if c.is_full() => {
                let rows = c.drain();
                self.value_rows(rows).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Map rows of value counts `(hash, payload)`.
    fn value_rows(&mut self, rows: Vec<(u64, Vec<u8>)>) -> Result<RecordBatch> {
        let total = self.counts.len() as u64;
        let shards: Vec<u32> = rows.iter().map(|(h, _)| (h % total) as u32).collect();
        let hashes: Vec<u64> = rows.iter().map(|(h, _)| *h).collect();
        let payloads: Vec<&[u8]> = rows.iter().map(|(_, p)| p.as_slice()).collect();
        self.stats_rows(shards, VALUES_FILE, hashes, payloads)
    }

    /// Statistics rows (`file` one of the statistics files), counted for
    /// the markers.
    fn stats_rows(
        &mut self,
        shards: Vec<u32>,
        file: u32,
        rows: Vec<u64>,
        payloads: Vec<&[u8]>,
    ) -> Result<RecordBatch> {
        let n = shards.len();
        for &s in &shards {
            self.counts[s as usize] += 1;
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(shards)),
            Arc::new(UInt32Array::from(vec![file; n])),
            Arc::new(UInt64Array::from(rows)),
            Arc::new(BinaryArray::from_iter_values(payloads)),
        ];
        for f in self.schema.fields().iter().skip(KEY_COLUMNS) {
            columns.push(new_null_array(f.data_type(), n));
        }
        RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| PlanError::Dataset(DatasetError::from(e)))
    }

    /// The rows that close the part: the rest of the value counts, every
    /// split's partial state, and the count markers.
    pub fn close(mut self) -> Result<RecordBatch> {
        let mut out = Vec::new();
        if let Some(mut stats) = self.stats.take() {
            if let Some(c) = stats.combiner.as_mut() {
                let rows = c.drain();
                out.push(self.value_rows(rows)?);
            }
            let splits = self.config.shards.len();
            let states = (0..splits)
                .map(|s| ipc_bytes(&stats.accumulators.state(s)?))
                .collect::<Result<Vec<_>>>()?;
            out.push(self.stats_rows(
                vec![0; splits],
                STATE_FILE,
                (0..splits as u64).collect(),
                states.iter().map(Vec::as_slice).collect(),
            )?);
        }
        out.push(self.markers()?);
        concat_batches(&self.schema, &out).map_err(|e| PlanError::Dataset(DatasetError::from(e)))
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
            new_null_array(&DataType::Binary, n),
        ];
        match self.config.output_format {
            OutputFormat::Tfrecord => columns.push(Arc::new(encoded.examples)),
            OutputFormat::Parquet => columns.extend(batch.batch.columns().iter().cloned()),
        }
        let examples = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| PlanError::Dataset(DatasetError::from(e)))?;
        match self.measure(batch, &splits)? {
            Some(values) => concat_batches(&self.schema, &[examples, values])
                .map_err(|e| PlanError::Dataset(DatasetError::from(e))),
            None => Ok(examples),
        }
    }

    /// One count marker per global shard: what this part produced.
    pub fn markers(&self) -> Result<RecordBatch> {
        let n = self.counts.len();
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from_iter_values(0..n as u32)),
            Arc::new(UInt32Array::from(vec![MARKER_FILE; n])),
            Arc::new(UInt64Array::from(self.counts.clone())),
            new_null_array(&DataType::Binary, n),
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
        self.close().map(Some)
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
