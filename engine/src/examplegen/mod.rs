//! ExampleGen: read raw data in any supported format, encode each row as a
//! `tf.train.Example` exactly as TFX's ExampleGen does, assign it to a split
//! by TFX's sha256 bucketing, and write the splits in TFX's folder layout
//! (`Split-<name>/data_tfrecord-00000-of-000NN.gz`) or as Parquet, with a
//! manifest, atomically.

mod distributed;
mod splitter;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use weir_datasets::example::{ArrowFeatureType, FeatureType, PayloadFormat};
use weir_datasets::formats::{DecimalMode, ReadOptions, Source, SourceSpec};
use weir_datasets::input::{detect_format, resolve_input, split_folders};
use weir_datasets::sink::manifest::{fingerprint, ExampleGenManifest, SchemaField, SplitRecord};
use weir_datasets::sink::StagedDir;
use weir_datasets::split::SplitSpec;
use weir_datasets::{Compression, DatasetError, Format, InputFile, SplitConfig};

use crate::error::{EngineError, Result};
use crate::progress::Progress;
use crate::stats::{HistogramMode, StatsOptions};
pub use splitter::StatsMode;
use splitter::{SplitPlan, Splitter};
use weir_plan::Execution;

pub use weir_datasets::sink::OutputFormat;

/// What an ExampleGen run produced.
#[derive(Debug, Clone)]
pub struct ExampleGenSummary {
    /// Where the output was committed.
    pub output: PathBuf,
    /// `(split name, examples)` in split order.
    pub splits: Vec<(String, u64)>,
    /// Examples in all splits.
    pub total: u64,
    /// Input bytes.
    pub input_bytes: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The manifest that was written.
    pub manifest: ExampleGenManifest,
    /// Per split statistics, with `with_stats`.
    pub statistics: Option<Vec<crate::stats::SplitStatistics>>,
}

/// Builds and runs an ExampleGen.
#[derive(Debug, Clone)]
pub struct ExampleGenBuilder {
    input: String,
    output: PathBuf,
    format: Option<Format>,
    splits: SplitConfig,
    partition_feature: Option<String>,
    split_from_input: bool,
    compression: Compression,
    compression_level: u32,
    output_format: OutputFormat,
    shards: Option<usize>,
    schema: Option<PathBuf>,
    batch_size: usize,
    progress: Option<Arc<Progress>>,
    stats: StatsMode,
    histograms: HistogramMode,
    decimals: DecimalMode,
    execution: Execution,
    dataflow: bool,
    write_stats: bool,
    payload: PayloadFormat,
}

/// Input bytes per output shard when the shard count is automatic.
const AUTO_SHARD_BYTES: u64 = 64 << 20;

impl ExampleGenBuilder {
    /// An ExampleGen from `input` (file, directory or glob) into `output`.
    pub fn new(input: impl Into<String>, output: impl Into<PathBuf>) -> Self {
        Self {
            input: input.into(),
            output: output.into(),
            format: None,
            splits: SplitConfig::default(),
            partition_feature: None,
            split_from_input: false,
            compression: Compression::Gzip,
            compression_level: 6,
            output_format: OutputFormat::Tfrecord,
            shards: None,
            schema: None,
            batch_size: 8192,
            progress: None,
            stats: StatsMode::Off,
            histograms: HistogramMode::default(),
            decimals: DecimalMode::Float,
            execution: Execution::InProcess,
            dataflow: false,
            write_stats: true,
            payload: PayloadFormat::Example,
        }
    }

    /// Where to run: in-process (default) or on a Ballista cluster, whose
    /// executors must reach the input and the output's directory. The
    /// output is the same bytes either way.
    pub fn with_execution(mut self, execution: Execution) -> Self {
        self.execution = execution;
        self
    }

    /// In-process, run the cluster's plan (`distributed`) instead of the
    /// threaded splitter: the same bytes, slower. A test switch (the
    /// integration tests compare the two paths without a cluster), so not
    /// part of the documented API.
    #[doc(hidden)]
    pub fn with_dataflow(mut self, yes: bool) -> Self {
        self.dataflow = yes;
        self
    }

    /// How decimal columns (BigQuery NUMERIC/BIGNUMERIC) become features:
    /// `float_list` (default) or the exact decimal text as `bytes_list`.
    pub fn with_decimals(mut self, mode: DecimalMode) -> Self {
        self.decimals = mode;
        self
    }

    /// Also compute every split's statistics in the same read (exact, or
    /// with sketched string uniques and top values in bounded memory),
    /// written to `OUTPUT/statistics/` (as `weir stats` writes them).
    /// Default [`StatsMode::Off`].
    pub fn with_stats(mut self, mode: StatsMode) -> Self {
        self.stats = mode;
        self
    }

    /// With statistics, which STANDARD histogram they hold (default
    /// [`HistogramMode::Tfdv`], as `weir stats`).
    pub fn with_histograms(mut self, mode: HistogramMode) -> Self {
        self.histograms = mode;
        self
    }

    /// The statistics options, `None` without statistics.
    pub fn stats_options(&self) -> Option<StatsOptions> {
        self.stats.options(self.histograms)
    }

    /// With statistics, whether to write them to `OUTPUT/statistics/`
    /// (default) or only return them in the summary (`weir run` writes
    /// them beside the other components' outputs).
    pub fn with_stats_written(mut self, yes: bool) -> Self {
        self.write_stats = yes;
        self
    }

    /// The message a TFRecord input holds (TFX's `payload_format`): records
    /// pass through as they are either way; this says how they decode for
    /// statistics and Parquet output. Recorded in the manifest, from which
    /// later commands read it. Default [`PayloadFormat::Example`]; a
    /// SequenceExample read as an Example is an error naming the flag.
    pub fn with_payload_format(mut self, payload: PayloadFormat) -> Self {
        self.payload = payload;
        self
    }

    /// Input format (default: from file names).
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// Hash splits (default `train=2,eval=1`).
    pub fn with_splits(mut self, splits: SplitConfig) -> Self {
        self.splits = splits;
        self
    }

    /// Hash this feature's serialized `Feature` instead of the whole example.
    pub fn with_partition_feature(mut self, name: impl Into<String>) -> Self {
        self.partition_feature = Some(name.into());
        self
    }

    /// Keep the splits of the input's `Split-<name>` (or `<name>`) folders.
    pub fn with_split_from_input(mut self, yes: bool) -> Self {
        self.split_from_input = yes;
        self
    }

    /// TFRecord compression (default gzip).
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Deflate level 0-9 for gzip/zlib (default 6, zlib's default).
    pub fn with_compression_level(mut self, level: u32) -> Self {
        self.compression_level = level.min(9);
        self
    }

    /// TFRecord (default) or Parquet output.
    pub fn with_output_format(mut self, format: OutputFormat) -> Self {
        self.output_format = format;
        self
    }

    /// Shards per split (default: one per 64 MiB of input in the split).
    pub fn with_shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// A TFMD `schema.pbtxt` declaring feature types (CSV inputs parse by it).
    pub fn with_schema(mut self, schema: impl Into<PathBuf>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Rows per batch (default 8192).
    pub fn with_batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows.max(1);
        self
    }

    /// Counters to advance while running.
    pub fn with_progress(mut self, progress: Arc<Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Resolves the input files and, with `split_from_input`, the split of each.
    fn resolve(&self) -> Result<(Vec<InputFile>, Vec<usize>, Vec<SplitSpec>)> {
        if !self.split_from_input {
            let files = resolve_input(&self.input)?;
            let n = files.len();
            return Ok((files, vec![0; n], self.splits.splits().to_vec()));
        }
        let mut files = Vec::new();
        let mut owner = Vec::new();
        let mut specs = Vec::new();
        for (i, (name, dir)) in split_folders(Path::new(&self.input))?
            .into_iter()
            .enumerate()
        {
            let found = resolve_input(&dir.to_string_lossy())?;
            owner.extend(std::iter::repeat_n(i, found.len()));
            files.extend(found);
            specs.push(SplitSpec { name, buckets: 0 });
        }
        Ok((files, owner, specs))
    }

    /// Runs ExampleGen and commits the output: [`Self::plan`] (nothing
    /// written yet), then the splits into a staged output, then the
    /// statistics and the manifest, and the commit.
    pub fn execute(self) -> Result<ExampleGenSummary> {
        let started = Instant::now();
        let (read, planned) = self.plan()?;
        let staged = StagedDir::create(&self.output)?;
        let input_bytes = planned.input_bytes;
        let (written, stats) = self.write_splits(read, &planned, &staged)?;
        let statistics = match stats {
            Some(collector) => {
                let names: Vec<String> = planned.specs.iter().map(|s| s.name.clone()).collect();
                let splits = collector.finish(&names)?;
                if self.write_stats {
                    crate::stats::write_outputs(
                        &staged.path().join("statistics"),
                        &splits,
                        self.stats.options(self.histograms).unwrap_or_default(),
                    )?;
                }
                Some(splits)
            }
            None => None,
        };
        let manifest = self.manifest(planned, written);
        manifest.write(staged.path())?;
        staged.commit()?;
        Ok(ExampleGenSummary {
            output: self.output.clone(),
            splits: manifest
                .splits
                .iter()
                .map(|s| (s.name.clone(), s.examples))
                .collect(),
            total: manifest.total_examples,
            input_bytes,
            seconds: started.elapsed().as_secs_f64(),
            manifest,
            statistics,
        })
    }

    /// How the input is read, with the types a schema declares.
    fn read_options(
        &self,
        declared: Option<std::collections::HashMap<String, FeatureType>>,
    ) -> ReadOptions {
        ReadOptions {
            batch_size: self.batch_size,
            declared,
            decimals: self.decimals,
            tfrecord_payload: self.payload,
            // The splits read the input once after opening it.
            csv_hold_bytes: self.execution.held_read_bytes(),
            ..Default::default()
        }
    }

    /// Resolves the input, its format and schema, and the shards of every
    /// split; opens the input once (how the splits will read it, and the
    /// rest of the plan). Writes nothing.
    fn plan(&self) -> Result<(SplitRead, Planned)> {
        let (files, file_split, specs) = self.resolve()?;
        let format = detect_format(&files, self.format)?;
        if self.output_format == OutputFormat::Parquet && self.compression != Compression::Gzip {
            tracing::warn!(
                "--compression applies to TFRecord output only; Parquet output uses zstd"
            );
        }
        let declared = match &self.schema {
            Some(p) => Some(weir_datasets::schema::declared_types(p)?),
            None => None,
        };
        let options = self.read_options(declared);
        let input_bytes: u64 = files.iter().map(|f| f.size).sum();
        if let Some(p) = &self.progress {
            p.total_bytes
                .store(input_bytes, std::sync::atomic::Ordering::Relaxed);
        }
        let distributed = self.dataflow || self.execution != Execution::InProcess;
        // The dataflow path reads through a table; either way the input is
        // opened (and its schema inferred) once.
        let read = if distributed {
            let spec = SourceSpec::new(files.clone(), format, options.clone());
            SplitRead::Plan(weir_plan::scan::SourceTable::open(spec)?)
        } else {
            SplitRead::Threads(Box::new(Source::open(files.clone(), format, &options)?))
        };
        let source = match &read {
            SplitRead::Threads(source) => source,
            SplitRead::Plan(table) => table.source(),
        };
        let schema = source.schema();
        // A CSV input's type inference read it whole and took its CRC.
        let inputs: Vec<_> = files
            .iter()
            .enumerate()
            .map(|(i, f)| fingerprint(f, source.read_crc32c(i)))
            .collect::<Result<_, _>>()?;
        check_declared_types(&schema, options.declared.as_ref())?;
        let shards = match self.shards {
            Some(0) => return Err(EngineError::Invalid("--shards must be at least 1".into())),
            Some(n) => vec![n; specs.len()],
            None => auto_shards(
                &specs,
                &files,
                &file_split,
                self.split_from_input,
                self.splits.total_buckets(),
            ),
        };
        let planned = Planned {
            files,
            file_split,
            specs,
            format,
            inputs,
            input_bytes,
            schema,
            shards,
        };
        Ok((read, planned))
    }

    /// Writes the splits into `staged`: on the cluster's plan (or the
    /// dataflow plan in-process), else with the threaded splitter, which
    /// also collects statistics when asked.
    fn write_splits(
        &self,
        read: SplitRead,
        planned: &Planned,
        staged: &StagedDir,
    ) -> Result<splitter::SplitterOutput> {
        let plan = SplitPlan {
            root: staged.path().to_path_buf(),
            specs: planned.specs.clone(),
            shards: planned.shards.clone(),
            output_format: self.output_format,
            compression: self.compression,
            compression_level: self.compression_level,
            partition_feature: self.partition_feature.clone(),
            hash: (!self.split_from_input).then(|| self.splits.clone()),
            file_split: planned.file_split.clone(),
            files: planned.files.iter().map(|f| f.path.clone()).collect(),
        };
        let table = match read {
            SplitRead::Threads(source) => {
                return self.split_in_process(
                    plan,
                    *source,
                    &planned.schema,
                    &planned.files,
                    planned.input_bytes,
                )
            }
            SplitRead::Plan(table) => table,
        };
        let attempts = weir_plan::attempts::Attempts::create(staged)?;
        let (written, stats) =
            weir_datasets::store::runtime().block_on(distributed::write_splits(
                &self.execution,
                table,
                &plan,
                &attempts,
                self.stats_options(),
            ))?;
        if let Some(p) = &self.progress {
            let rows = written.iter().map(|(n, _)| n).sum();
            p.add_rows(rows);
            p.set_input_bytes(planned.input_bytes);
        }
        Ok((written, stats))
    }

    /// The manifest of a run that wrote `written` (per split: examples and files).
    fn manifest(
        &self,
        planned: Planned,
        written: Vec<(u64, Vec<weir_datasets::sink::WrittenFile>)>,
    ) -> ExampleGenManifest {
        let split_records: Vec<SplitRecord> = planned
            .specs
            .iter()
            .zip(written)
            .map(|(spec, (examples, files))| SplitRecord {
                name: spec.name.clone(),
                buckets: spec.buckets,
                examples,
                files,
            })
            .collect();
        let total = split_records.iter().map(|s| s.examples).sum();
        ExampleGenManifest {
            weir_version: env!("CARGO_PKG_VERSION").to_string(),
            component: "examplegen".into(),
            input_format: planned.format.to_string(),
            payload_format: self.payload,
            inputs: planned.inputs,
            options: serde_json::json!({
                "splits": if self.split_from_input { "from-input".to_string() } else { self.splits.to_string() },
                "partition_feature": self.partition_feature,
                "output_format": self.output_format,
                "compression": if self.output_format == OutputFormat::Tfrecord { self.compression.to_string() } else { "zstd".into() },
                "compression_level": self.compression_level,
                "schema": self.schema.as_ref().map(|p| p.display().to_string()),
                "stats": match self.stats { StatsMode::Off => "off", StatsMode::Exact => "exact", StatsMode::Approx => "approx" },
                "decimals": self.decimals,
            }),
            schema: planned
                .schema
                .fields()
                .iter()
                .map(|f| SchemaField {
                    name: f.name().clone(),
                    kind: FeatureType::of_column(f.data_type())
                        .map_or("UNSUPPORTED", |(k, _)| k.name())
                        .to_string(),
                    arrow_type: f.data_type().to_string(),
                })
                .collect(),
            splits: split_records,
            total_examples: total,
        }
    }
}

/// How an ExampleGen run reads its input: the threaded splitter reads the
/// source itself, a plan (on a cluster, or the dataflow path) reads it as a
/// table.
enum SplitRead {
    Threads(Box<Source>),
    Plan(weir_plan::scan::SourceTable),
}

/// What an ExampleGen run reads and how it splits it, resolved before
/// anything is written ([`ExampleGenBuilder::plan`]).
struct Planned {
    files: Vec<InputFile>,
    file_split: Vec<usize>,
    specs: Vec<SplitSpec>,
    format: Format,
    inputs: Vec<weir_datasets::sink::manifest::InputRecord>,
    input_bytes: u64,
    schema: datafusion::arrow::datatypes::SchemaRef,
    shards: Vec<usize>,
}

impl ExampleGenBuilder {
    /// The threaded splitter: read, route and write in this process.
    fn split_in_process(
        &self,
        plan: SplitPlan,
        source: Source,
        schema: &datafusion::arrow::datatypes::SchemaRef,
        files: &[InputFile],
        input_bytes: u64,
    ) -> Result<splitter::SplitterOutput> {
        let mut splitter =
            Splitter::new(plan, schema, source.is_serialized(), self.stats_options())?;
        let reader = spawn_reader(source);
        let mut done_bytes = 0u64;
        let mut last_file = 0usize;
        for msg in reader {
            let batch = msg?;
            if batch.file != last_file {
                done_bytes += files[last_file..batch.file]
                    .iter()
                    .map(|f| f.size)
                    .sum::<u64>();
                last_file = batch.file;
            }
            splitter.push(&batch)?;
            if let Some(p) = &self.progress {
                p.add_rows(batch.batch.num_rows() as u64);
                p.set_input_bytes(done_bytes + batch.position.unwrap_or(0));
            }
        }
        if let Some(p) = &self.progress {
            p.set_input_bytes(input_bytes);
        }
        splitter.finish()
    }
}

/// Every schema-declared feature must exist and, for non-CSV inputs whose
/// types come from the file, have the declared kind.
fn check_declared_types(
    schema: &datafusion::arrow::datatypes::SchemaRef,
    declared: Option<&std::collections::HashMap<String, weir_datasets::example::FeatureType>>,
) -> Result<()> {
    let Some(declared) = declared else {
        return Ok(());
    };
    for f in schema.fields() {
        if let (Some(want), Some((got, _))) = (
            declared.get(f.name()),
            FeatureType::of_column(f.data_type()),
        ) {
            if *want != FeatureType::Unknown && got != FeatureType::Unknown && *want != got {
                return Err(EngineError::Invalid(format!(
                    "column '{}' is {} in the input but the schema declares {}",
                    f.name(),
                    got.name(),
                    want.name()
                )));
            }
        }
    }
    Ok(())
}

fn auto_shards(
    specs: &[SplitSpec],
    files: &[InputFile],
    file_split: &[usize],
    from_input: bool,
    total_buckets: u64,
) -> Vec<usize> {
    let total: u64 = files.iter().map(|f| f.size).sum();
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let bytes = if from_input {
                files
                    .iter()
                    .zip(file_split)
                    .filter(|(_, &o)| o == i)
                    .map(|(f, _)| f.size)
                    .sum()
            } else {
                total * u64::from(s.buckets) / total_buckets.max(1)
            };
            (bytes.div_ceil(AUTO_SHARD_BYTES) as usize).clamp(1, 256)
        })
        .collect()
}

/// Reads batches on a separate thread so parsing overlaps encoding.
fn spawn_reader(
    source: Source,
) -> impl Iterator<Item = Result<weir_datasets::formats::SourceBatch, DatasetError>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    std::thread::spawn(move || {
        for b in source.batches() {
            let stop = b.is_err();
            if tx.send(b).is_err() || stop {
                break;
            }
        }
    });
    rx.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In-process ExampleGen keeps what CSV type inference parsed for its
    /// one read of the input; on a cluster the executors read it.
    #[test]
    fn in_process_examplegen_holds_the_csv_batches_inference_builds() {
        let local = ExampleGenBuilder::new("in.csv", "out").read_options(None);
        assert!(local.csv_hold_bytes > 0);
        let cluster = ExampleGenBuilder::new("in.csv", "out")
            .with_execution(Execution::Cluster("df://127.0.0.1:1".into()))
            .read_options(None);
        assert_eq!(cluster.csv_hold_bytes, 0);
    }
}
