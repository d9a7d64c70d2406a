//! `weir transform` and `weir transform apply`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use weir_datasets::Format;
use weir_engine::{ApplyBuilder, OutputFormat, TransformBuilder, TransformSummary};
use weir_plan::Execution;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TransformArgs {
    #[command(subcommand)]
    apply: Option<TransformCommand>,
    #[command(flatten)]
    run: Option<RunArgs>,
}

#[derive(Subcommand)]
enum TransformCommand {
    /// Apply a frozen transform artifact to new data (no analysis).
    Apply(ApplyArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The transform query (SELECT ... FROM input), a file.
    #[arg(long)]
    sql: PathBuf,
    /// An ExampleGen output: a folder of Split-<name>/ folders.
    #[arg(long, short)]
    input: PathBuf,
    /// Output directory; replaced atomically if it holds an earlier weir output.
    #[arg(long, short)]
    output: PathBuf,
    /// Splits the analyzers see, comma-separated.
    #[arg(long, default_value = "train", value_delimiter = ',')]
    analyze_splits: Vec<String>,
    /// tfrecord (gzip tf.Example, TFT's layout) or parquet.
    #[arg(long, default_value = "tfrecord")]
    output_format: OutputFormat,
    /// Input format [default: from file names].
    #[arg(long)]
    format: Option<Format>,
    /// The message TFRecord inputs hold: example or sequence_example
    /// (sequence features as list-of-list columns under "##SEQUENCE##")
    /// [default: what the ExampleGen output records, else example].
    #[arg(long, value_name = "example|sequence_example")]
    payload_format: Option<weir_datasets::example::PayloadFormat>,
    /// Run on the Ballista cluster whose weir-scheduler is at df://HOST:PORT
    /// (see docs/cluster.md); the output is the same bytes as in-process.
    /// (A plain field: clap leaves an optional flattened group with a
    /// nested flatten unset.)
    #[arg(long, env = "WEIR_CLUSTER", value_name = "df://HOST:PORT")]
    cluster: Option<String>,
}

#[derive(Args)]
struct ApplyArgs {
    /// A transform output, or its transform_graph/ folder.
    #[arg(long)]
    artifact: PathBuf,
    /// Data: a file, folder or glob, or a folder of Split-<name>/ folders.
    #[arg(long, short)]
    input: String,
    /// Output directory; replaced atomically if it holds an earlier weir output.
    #[arg(long, short)]
    output: PathBuf,
    /// tfrecord (gzip tf.Example) or parquet.
    #[arg(long, default_value = "tfrecord")]
    output_format: OutputFormat,
    /// Input format [default: from file names].
    #[arg(long)]
    format: Option<Format>,
    /// The message TFRecord inputs hold: example or sequence_example
    /// (sequence features as list-of-list columns under "##SEQUENCE##")
    /// [default: what the ExampleGen output records, else example].
    #[arg(long, value_name = "example|sequence_example")]
    payload_format: Option<weir_datasets::example::PayloadFormat>,
    /// Run on the Ballista cluster whose weir-scheduler is at df://HOST:PORT
    /// (see docs/cluster.md); the output is the same bytes as in-process.
    /// (A plain field: clap leaves an optional flattened group with a
    /// nested flatten unset.)
    #[arg(long, env = "WEIR_CLUSTER", value_name = "df://HOST:PORT")]
    cluster: Option<String>,
}

fn report(s: &TransformSummary) {
    for split in &s.splits {
        println!(
            "  Split-{}: {} rows, {} files",
            split.split,
            split.rows,
            split.files.len()
        );
    }
    let applied: u64 = s.splits.iter().map(|x| x.rows).sum();
    if s.analyze_rows > 0 {
        println!(
            "analyze: {} rows in {:.2} s ({:.0} rows/s)",
            s.analyze_rows,
            s.analyze_seconds,
            s.analyze_rows as f64 / s.analyze_seconds.max(1e-9)
        );
    }
    println!(
        "apply: {} rows in {:.2} s ({:.0} rows/s) -> {}",
        applied,
        s.apply_seconds,
        applied as f64 / s.apply_seconds.max(1e-9),
        s.output.display()
    );
}

/// Runs `weir transform [apply]`.
pub fn transform(a: TransformArgs) -> Result<()> {
    let rt = crate::runtime();
    match (a.apply, a.run) {
        (Some(TransformCommand::Apply(a)), _) => {
            let mut builder = ApplyBuilder::new(&a.artifact, a.input.clone(), &a.output)
                .with_output_format(a.output_format)
                .with_execution(Execution::from_flag(a.cluster.as_deref())?);
            if let Some(format) = a.format {
                builder = builder.with_format(format);
            }
            if let Some(payload) = a.payload_format {
                builder = builder.with_payload_format(payload);
            }
            let s = rt.block_on(builder.execute()).with_context(|| {
                format!(
                    "applying {} to '{}' failed; nothing was written to {}",
                    a.artifact.display(),
                    a.input,
                    a.output.display()
                )
            })?;
            report(&s);
        }
        (None, Some(r)) => {
            let sql = std::fs::read_to_string(&r.sql)
                .with_context(|| format!("reading {}", r.sql.display()))?;
            let mut builder = TransformBuilder::new(sql, &r.input, &r.output)
                .with_analyze_splits(r.analyze_splits.clone())
                .with_output_format(r.output_format)
                .with_execution(Execution::from_flag(r.cluster.as_deref())?);
            if let Some(format) = r.format {
                builder = builder.with_format(format);
            }
            if let Some(payload) = r.payload_format {
                builder = builder.with_payload_format(payload);
            }
            let s = rt.block_on(builder.execute()).with_context(|| {
                format!(
                    "transform of {} with the SQL of {} failed; nothing was written to {}",
                    r.input.display(),
                    r.sql.display(),
                    r.output.display()
                )
            })?;
            if let Some(json) = &s.artifact {
                println!(
                    "transform: {} outputs, {} analyzers, {} vocabularies -> {}/transform_graph",
                    json.output_schema.len(),
                    json.analyzers.len(),
                    json.assets.len(),
                    s.output.display()
                );
                match &json.onnx.not_exported {
                    None => println!(
                        "  transform.onnx written ({} notes in transform.json)",
                        json.onnx.notes.len()
                    ),
                    Some(why) => println!("  transform.onnx not written: {why}"),
                }
            }
            report(&s);
        }
        (None, None) => anyhow::bail!(
            "weir transform needs --sql, --input and --output (or the apply subcommand)"
        ),
    }
    Ok(())
}
