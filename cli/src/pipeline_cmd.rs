//! `weir run`, `weir schedule` and `weir sql`: the command-line side of
//! `weir_engine::pipeline` (arguments, signals, output formats, exit codes).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use weir_engine::pipeline::schedule::ScheduleBuilder;
use weir_engine::pipeline::{PipelineConfig, PipelineRoot, RunBuilder, SpanSelection};
use weir_engine::progress::Progress;

use crate::progress_bar::spawn_bar;

#[derive(Args)]
pub struct RunArgs {
    /// The pipeline config (see examples/pipeline.toml).
    config: PathBuf,
    /// Process this span.
    #[arg(long, conflicts_with_all = ["spans", "last"])]
    span: Option<u64>,
    /// Process these spans: A..B (both ends included) or `all`.
    #[arg(long, value_name = "A..B|all", conflicts_with = "last")]
    spans: Option<SpanSelection>,
    /// Process the spans of the last N span numbers (days, for date
    /// patterns) up to the latest.
    #[arg(long, value_name = "N")]
    last: Option<u64>,
    /// Seconds to wait for another run of this pipeline to finish.
    #[arg(long, default_value_t = 3600)]
    lock_wait: u64,
    /// Run on this Ballista cluster instead of the config's `cluster`
    /// (the outputs are the same bytes; see docs/cluster.md).
    #[arg(long, env = "WEIR_CLUSTER", value_name = "df://HOST:PORT")]
    cluster: Option<String>,
    #[command(flatten)]
    memory: crate::MemoryArg,
}

#[derive(Args)]
pub struct ScheduleArgs {
    /// The pipeline config, with a [schedule] table.
    config: PathBuf,
    /// Stop after this many ticks.
    #[arg(long, hide = true)]
    max_ticks: Option<u64>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SqlFormat {
    /// An aligned table.
    Table,
    /// CSV with a header.
    Csv,
    /// JSON lines, one object per row.
    Json,
}

#[derive(Args)]
pub struct SqlArgs {
    /// The pipeline root (the config's `root`), a folder or URL.
    #[arg(long)]
    root: String,
    /// The query, over runs, statistics, histograms, top_values, anomalies
    /// and drift.
    query: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: SqlFormat,
}

/// `weir run`; returns the exit code (0 ok, 2 anomalies, 1 a span failed).
pub fn run(a: RunArgs) -> Result<i32> {
    a.memory.apply();
    let mut config = PipelineConfig::load(&a.config)?;
    if a.cluster.is_some() {
        config.cluster = a.cluster;
    }
    let selection = match (a.span, a.spans, a.last) {
        (Some(n), _, _) => SpanSelection::One(n),
        (_, Some(s), _) => s,
        (_, _, Some(n)) => SpanSelection::Last(n),
        _ => SpanSelection::Latest,
    };
    let progress = Progress::shared();
    let bar = spawn_bar(progress.clone());
    let summary = RunBuilder::new(config.clone())
        .with_spans(selection)
        .with_lock_wait(Duration::from_secs(a.lock_wait))
        .with_progress(progress)
        .execute();
    if let Some(stop) = bar {
        stop();
    }
    let s = summary.with_context(|| format!("pipeline '{}' failed", config.name))?;
    print!("{}", s.table());
    println!(
        "run {}: {} ({} processed, {} unchanged) in {:.2} s -> {}",
        s.manifest.run_id,
        s.manifest.status,
        s.processed(),
        s.manifest.spans.len() - s.processed(),
        s.manifest.seconds,
        s.manifest_location
    );
    Ok(s.exit_code())
}

/// `weir schedule`: runs until SIGTERM or SIGINT.
pub fn schedule(a: ScheduleArgs) -> Result<()> {
    let config = PipelineConfig::load(&a.config)?;
    let mut builder = ScheduleBuilder::new(config)?;
    if let Some(n) = a.max_ticks {
        builder = builder.with_max_ticks(n);
    }
    let stop = builder.stop_flag();
    // Signals are watched by a task on the process's runtime; the schedule
    // loop checks the flag between runs and while it sleeps.
    let _watcher = crate::runtime().spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::warn!("stop requested; finishing the run in progress, if any");
        stop.store(true, Ordering::Relaxed);
    });
    builder.execute()?;
    Ok(())
}

/// `weir sql`.
pub fn sql(a: SqlArgs) -> Result<()> {
    let root = PipelineRoot::open_existing(&a.root)?;
    let batches = crate::runtime().block_on(weir_engine::pipeline::sql::query(&root, &a.query))?;
    let out = std::io::stdout();
    match a.format {
        SqlFormat::Table => {
            let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?;
            println!("{text}");
        }
        SqlFormat::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out.lock());
            for b in &batches {
                w.write(b)?;
            }
        }
        SqlFormat::Json => {
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(out.lock());
            for b in &batches {
                w.write(b)?;
            }
            w.finish()?;
        }
    }
    Ok(())
}
