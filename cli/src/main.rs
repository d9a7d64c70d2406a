//! `weir`: the command line. A thin layer over `weir-engine`'s builders:
//! arguments, the progress bar, output lines and exit codes live here,
//! and nothing else does.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use weir_datasets::example::PayloadFormat;
use weir_datasets::formats::DecimalMode;
use weir_datasets::{Compression, Format, SplitConfig};
use weir_engine::examplegen::StatsMode;
use weir_engine::progress::Progress;
use weir_engine::stats::HistogramMode;
use weir_engine::{ExampleGenBuilder, OutputFormat};

mod pipeline_cmd;
mod progress_bar;
mod report_cmd;
mod serve_cmd;
mod store_cmd;
mod transform_cmd;
mod validate_cmd;

/// weir: the data half of an ML pipeline, without Python.
///
/// Ingests raw data into tf.Example splits that TFX trainers read (ExampleGen),
/// byte for byte as TFX writes them, many times faster.
#[derive(Parser)]
#[command(name = "weir", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    store: weir_process::StoreArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest raw data into hash splits of tf.Examples (TFX's ExampleGen).
    ///
    /// Reads CSV, Parquet, Avro, TFRecord or JSON lines; encodes each row as
    /// TFX does; assigns it to a split by sha256 of the serialized example;
    /// writes OUTPUT/Split-<name>/data_tfrecord-NNNNN-of-NNNNN.gz and
    /// OUTPUT/manifest.json, atomically.
    Examplegen(ExampleGenArgs),
    /// Compute TFDV's statistics of every feature (TFX's StatisticsGen).
    ///
    /// One streaming pass per split; writes DIR/Split-<name>/FeatureStats.pb
    /// (a DatasetFeatureStatisticsList that TFDV and Facets read) and
    /// DIR/statistics.parquet (one row per split x feature, for SQL), and
    /// prints a per-feature table.
    Stats(StatsArgs),
    /// Infer a schema from statistics, or update one (TFX's SchemaGen).
    ///
    /// TFDV's rules: type, presence, value_count or shape, and bool / int /
    /// string domains; writes a text-format Schema that TFDV's
    /// load_schema_text reads.
    Schema(validate_cmd::SchemaArgs),
    /// Validate statistics against a schema (TFX's ExampleValidator).
    ///
    /// Writes an Anomalies proto (text) with TFDV's anomaly types, prints a
    /// summary, and exits 0 when clean (or warnings only), 2 when any anomaly
    /// is an ERROR, 1 on failure. --previous checks drift, --serving skew.
    Validate(validate_cmd::ValidateArgs),
    /// Analyze, freeze and apply a transform query (TFX's Transform).
    ///
    /// `weir transform --sql FILE --input EXAMPLEGEN_DIR --output DIR`
    /// evaluates the query's analyzers (scale_to_z_score,
    /// compute_and_apply_vocabulary, bucketize, ...) over the analyze
    /// splits in one pass, writes the artifact DIR/transform_graph/
    /// (transform.json, assets/, transformed_metadata/schema.pbtxt,
    /// transform.onnx) and every split transformed into
    /// DIR/transformed_examples/Split-<name>/. `weir transform apply`
    /// applies a frozen artifact to new data.
    Transform(transform_cmd::TransformArgs),
    /// Run a pipeline (pipeline.toml) over new spans of its input.
    ///
    /// ExampleGen -> statistics (same read) -> schema -> validation (drift
    /// against the previous span) -> transform, for the latest span (or
    /// --span, --spans A..B, --last N). A span whose input and config are
    /// unchanged since its last run is skipped; a changed one becomes a
    /// new version. Outputs: ROOT/<component>/span=N/version=V/; a manifest
    /// of the run: ROOT/_runs/<run>.json. Exit code 0 ok, 2 anomalies,
    /// 1 error.
    Run(pipeline_cmd::RunArgs),
    /// Run a pipeline on the cron expression of its [schedule] table.
    ///
    /// Runs the latest span at each tick, waits for a new span if the
    /// config says so, retries failures with backoff, never overlaps two
    /// runs of the pipeline, and stops cleanly on SIGTERM (after the run in
    /// progress).
    Schedule(pipeline_cmd::ScheduleArgs),
    /// SQL over a pipeline root: runs, statistics, histograms, top_values,
    /// anomalies, drift.
    Sql(pipeline_cmd::SqlArgs),
    /// Write the deterministic taxi-like sample dataset as CSV.
    Sample(SampleArgs),
    /// Remove what killed runs left under an object-store output.
    ///
    /// Object stores have no rename, so weir commits an output by writing
    /// its manifest last; a run killed before that leaves staging objects
    /// (URL/.weir-staging/), maybe a lock, and maybe a partial output that
    /// no reader trusts. `weir gc URL` removes them (never a committed
    /// output, never while a live run holds the lock).
    Gc(store_cmd::GcArgs),
    /// Serve prepared data to trainers over Arrow Flight.
    ///
    /// `weir serve --root DIR` serves every ExampleGen output, transform
    /// output and pipeline span under DIR: ListFlights lists datasets and
    /// splits; GetFlightInfo takes a JSON epoch request (dataset, split,
    /// batch_size, epoch, seed, shuffle, world_size, drop_last, columns,
    /// resume) and answers one ticket per rank; DoGet streams a rank's
    /// batches, each with a resume token. See docs/serve.md.
    Serve(serve_cmd::ServeArgs),
    /// Statistics as one offline HTML page (Facets-style overview).
    ///
    /// `weir report --stats S [--compare S2] [--schema schema.pbtxt]
    /// [--anomalies anomalies.pbtxt] --output report.html`: a numeric and a
    /// categorical table per split, a chart per feature (overlaid with the
    /// baseline), drift per feature, anomalies linked to their rows. Reads
    /// weir's and TFDV's statistics; the page makes no network request.
    Report(report_cmd::ReportArgs),
}

#[derive(Args)]
struct ExampleGenArgs {
    /// Input: a file, a directory (every data file beneath it) or a glob.
    #[arg(long, short)]
    input: String,
    /// Output directory; replaced atomically if it holds an earlier weir output.
    #[arg(long, short)]
    output: PathBuf,
    /// Input format: csv, parquet, avro, tfrecord or jsonl [default: from file names].
    #[arg(long)]
    format: Option<Format>,
    /// Splits as name=hash_buckets in order.
    #[arg(long, default_value = "train=2,eval=1")]
    split: SplitConfig,
    /// Hash this feature's value (int64 or bytes) instead of the whole example.
    #[arg(long, value_name = "NAME")]
    partition_feature: Option<String>,
    /// Keep the splits of the input's Split-<name>/ (or <name>/) folders.
    #[arg(long, conflicts_with_all = ["partition_feature"])]
    split_from_input: bool,
    /// TFRecord compression: gzip, zlib or none.
    #[arg(long, default_value = "gzip")]
    compression: Compression,
    /// Deflate level for gzip/zlib, 0 (store) to 9 (smallest).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=9))]
    compression_level: u32,
    /// Output format: tfrecord (TFX layout) or parquet.
    #[arg(long, default_value = "tfrecord")]
    output_format: OutputFormat,
    /// Shards per split [default: one per 64 MiB of input in the split].
    #[arg(long)]
    shards: Option<usize>,
    /// A TFMD schema.pbtxt, or a BigQuery JSON schema (`bq show --schema`),
    /// declaring feature types; CSV cells and JSON values (e.g. INT64
    /// exported as strings) are parsed as declared.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Decimal columns (BigQuery NUMERIC/BIGNUMERIC): float (float_list,
    /// f32-rounded) or string (exact decimal text as bytes_list).
    #[arg(long, default_value = "float", value_name = "float|string")]
    decimals: DecimalMode,
    /// Also compute TFDV statistics of every split in the same read
    /// (written to OUTPUT/statistics/, as `weir stats` writes them).
    #[arg(long)]
    stats: bool,
    /// With --stats: sketch string uniques (HLL, ~0.8% error) and top values
    /// (frequent items) in bounded memory instead of counting exactly.
    #[arg(long, requires = "stats")]
    approx: bool,
    /// With --stats: the STANDARD histogram, derived from quantiles as
    /// TFDV derives it (tfdv, so drift matches TFDV's) or of exact bucket
    /// counts (exact, recorded as such in the output).
    #[arg(
        long,
        default_value = "tfdv",
        value_name = "tfdv|exact",
        requires = "stats"
    )]
    histograms: HistogramMode,
    /// The message TFRecord inputs hold: example (tf.train.Example) or
    /// sequence_example (tf.train.SequenceExample: sequence features under
    /// ##SEQUENCE##), as TFX's payload_format [default: example];
    /// recorded in the manifest, where later commands read it.
    #[arg(long, value_name = "example|sequence_example")]
    payload_format: Option<PayloadFormat>,
    /// Rows per batch.
    #[arg(long, default_value_t = 8192, hide = true)]
    batch_size: usize,
    #[command(flatten)]
    memory: MemoryArg,
    #[command(flatten)]
    cluster: ClusterArg,
}

#[derive(Args)]
struct StatsArgs {
    /// Input: a file, a directory or a glob (with --splits-from-input: a
    /// directory of Split-<name>/ folders, such as an examplegen output).
    #[arg(long, short)]
    input: String,
    /// Output directory; replaced atomically if it holds an earlier weir output.
    #[arg(long, short)]
    output: PathBuf,
    /// Input format: csv, parquet, avro, tfrecord or jsonl [default: from file names].
    #[arg(long)]
    format: Option<Format>,
    /// One dataset per Split-<name>/ (or <name>/) folder of the input;
    /// otherwise the whole input is one dataset named "all".
    #[arg(long)]
    splits_from_input: bool,
    /// Sketch string uniques (HLL, ~0.8% relative error) and top values
    /// (frequent items, counts within 0.043% of the values) in bounded
    /// memory instead of counting them exactly.
    #[arg(long)]
    approx: bool,
    /// The STANDARD histogram: derived from quantiles as TFDV derives it
    /// (tfdv, so drift and skew match TFDV's) or of exact bucket counts
    /// (exact, recorded as such in the output).
    #[arg(long, default_value = "tfdv", value_name = "tfdv|exact")]
    histograms: HistogramMode,
    /// Decimal columns: float (float_list) or string (exact text).
    #[arg(long, default_value = "float", value_name = "float|string")]
    decimals: DecimalMode,
    /// The message TFRecord inputs hold: example (tf.train.Example) or
    /// sequence_example (tf.train.SequenceExample: sequence features under
    /// ##SEQUENCE##), as TFX's payload_format [default: what the ExampleGen
    /// output read records, else example].
    #[arg(long, value_name = "example|sequence_example")]
    payload_format: Option<PayloadFormat>,
    /// Do not print the per-feature table.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    memory: MemoryArg,
    #[command(flatten)]
    cluster: ClusterArg,
}

/// How much memory this process's plans may hold.
#[derive(Args, Debug, Clone)]
pub(crate) struct MemoryArg {
    /// Memory this process's plans may reserve together (e.g. 256MB, 4G;
    /// K/M/G are powers of 1024); grouped aggregations (exact string
    /// statistics' value counts) and sorts spill to the temp dir beyond it
    /// [default: half the machine's (or cgroup's) memory]. On a cluster,
    /// each weir-executor has its own --memory-limit.
    #[arg(long, env = "WEIR_MEMORY_LIMIT", value_name = "SIZE", value_parser = weir_process::parse_size)]
    memory_limit: Option<usize>,
}

impl MemoryArg {
    /// Sets the process's limit (before any plan runs).
    pub(crate) fn apply(&self) {
        if let Some(bytes) = self.memory_limit {
            weir_plan::execution::session::set_memory_limit(bytes);
        }
    }
}

/// Where plans run.
#[derive(Args, Debug, Clone)]
struct ClusterArg {
    /// Run on the Ballista cluster whose weir-scheduler is at df://HOST:PORT
    /// (see docs/cluster.md); the output is the same bytes as in-process.
    /// Input and output paths must be reachable from every executor.
    #[arg(long, env = "WEIR_CLUSTER", value_name = "df://HOST:PORT")]
    cluster: Option<String>,
}

impl ClusterArg {
    fn execution(&self) -> Result<weir_plan::Execution> {
        Ok(weir_plan::Execution::from_flag(self.cluster.as_deref())?)
    }
}

#[derive(Args)]
struct SampleArgs {
    /// Rows to generate.
    #[arg(long, default_value_t = 5000)]
    rows: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output CSV file.
    #[arg(long, short)]
    output: PathBuf,
}

fn main() {
    weir_process::init_logging("WEIR_LOG", "warn");
    // Exit codes mean one thing each (0 ok, 2 anomalies, 1 any error), so
    // a usage error exits 1, not clap's 2; --help and --version exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 1 } else { 0 });
        }
    };
    cli.store.configure();
    // The process's one tokio runtime: every library call runs on it.
    let _runtime = match weir_process::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = match cli.command {
        Command::Gc(a) => store_cmd::gc(a),
        Command::Serve(a) => serve_cmd::serve(a),
        Command::Report(a) => report_cmd::report(a),
        Command::Examplegen(a) => examplegen(a),
        Command::Stats(a) => stats(a),
        Command::Sample(a) => sample(a),
        Command::Transform(a) => transform_cmd::transform(a),
        Command::Schema(a) => validate_cmd::schema(a),
        Command::Run(a) => match pipeline_cmd::run(a) {
            Ok(code) => std::process::exit(code),
            Err(e) => Err(e),
        },
        Command::Schedule(a) => pipeline_cmd::schedule(a),
        Command::Sql(a) => pipeline_cmd::sql(a),
        Command::Validate(a) => match validate_cmd::validate(a) {
            Ok(code) => std::process::exit(code),
            Err(e) => Err(e),
        },
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn examplegen(a: ExampleGenArgs) -> Result<()> {
    a.memory.apply();
    let progress = Progress::shared();
    let bar = progress_bar::spawn_bar(progress.clone());
    let mut builder = ExampleGenBuilder::new(a.input.clone(), a.output.clone())
        .with_splits(a.split)
        .with_split_from_input(a.split_from_input)
        .with_compression(a.compression)
        .with_compression_level(a.compression_level)
        .with_output_format(a.output_format)
        .with_decimals(a.decimals)
        .with_batch_size(a.batch_size)
        .with_stats(StatsMode::of(a.stats, a.approx))
        .with_histograms(a.histograms)
        .with_execution(a.cluster.execution()?)
        .with_progress(progress);
    if let Some(format) = a.format {
        builder = builder.with_format(format);
    }
    if let Some(name) = a.partition_feature {
        builder = builder.with_partition_feature(name);
    }
    if let Some(shards) = a.shards {
        builder = builder.with_shards(shards);
    }
    if let Some(schema) = a.schema {
        builder = builder.with_schema(schema);
    }
    if let Some(payload) = a.payload_format {
        builder = builder.with_payload_format(payload);
    }
    let summary = builder.execute();
    if let Some(stop) = bar {
        stop();
    }
    let s = summary.with_context(|| {
        format!(
            "examplegen from '{}' failed; nothing was written to {}",
            a.input,
            a.output.display()
        )
    })?;
    let parts: Vec<String> = s.splits.iter().map(|(n, c)| format!("{n} {c}")).collect();
    println!(
        "examplegen: {} examples ({}) -> {} in {:.2} s ({:.0} rows/s, {:.1} MB/s)",
        s.total,
        parts.join(", "),
        s.output.display(),
        s.seconds,
        s.total as f64 / s.seconds.max(1e-9),
        s.input_bytes as f64 / 1e6 / s.seconds.max(1e-9)
    );
    Ok(())
}

/// The process's one runtime (built and installed by `main`).
pub(crate) fn runtime() -> tokio::runtime::Handle {
    weir_datasets::store::runtime()
}

fn stats(a: StatsArgs) -> Result<()> {
    a.memory.apply();
    let mut builder = weir_engine::StatsBuilder::new(a.input.clone(), a.output.clone())
        .with_splits_from_input(a.splits_from_input)
        .with_approx(a.approx)
        .with_histograms(a.histograms)
        .with_decimals(a.decimals)
        .with_execution(a.cluster.execution()?);
    if let Some(format) = a.format {
        builder = builder.with_format(format);
    }
    if let Some(payload) = a.payload_format {
        builder = builder.with_payload_format(payload);
    }
    let summary = runtime().block_on(builder.execute()).with_context(|| {
        format!(
            "statistics of '{}' failed; nothing was written to {}",
            a.input,
            a.output.display()
        )
    })?;
    if !a.quiet {
        weir_engine::stats::print_table(&summary.splits, &mut std::io::stdout())?;
    }
    let parts: Vec<String> = summary
        .splits
        .iter()
        .map(|s| {
            format!(
                "{} {} examples x {} features",
                s.split,
                s.stats.num_examples,
                s.stats.features.len()
            )
        })
        .collect();
    println!(
        "stats: {} -> {} in {:.2} s",
        parts.join(", "),
        summary.output.display(),
        summary.seconds
    );
    Ok(())
}

fn sample(a: SampleArgs) -> Result<()> {
    let file = std::fs::File::create(&a.output)
        .with_context(|| format!("creating {}", a.output.display()))?;
    let mut w = std::io::BufWriter::new(file);
    weir_datasets::synth::write_taxi_csv(&mut w, a.rows, a.seed)
        .with_context(|| format!("writing {}", a.output.display()))?;
    std::io::Write::flush(&mut w)?;
    println!(
        "sample: {} taxi-like rows -> {}",
        a.rows,
        a.output.display()
    );
    Ok(())
}
