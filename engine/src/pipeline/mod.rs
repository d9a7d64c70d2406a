//! Pipelines: `weir run pipeline.toml` takes the spans of an input pattern
//! through ExampleGen → statistics → schema → validation → transform, one
//! run of a pipeline at a time (a lock under the root), skipping spans
//! whose input and config are unchanged, and records each run in a
//! manifest under `ROOT/_runs/`. `weir schedule` runs it on a cron
//! expression; `weir sql` queries what the runs recorded.

pub mod config;
pub mod manifest;
pub mod root;
mod runner;
pub mod schedule;
pub mod spans;
pub mod sql;
pub mod sql_service;

use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_datasets::sink::manifest::fingerprint;

pub use config::PipelineConfig;
use manifest::{History, InputFingerprint, RunManifest, SpanRecord, SpanStatus};
pub use root::PipelineRoot;
pub use spans::SpanSelection;
use spans::{describe, InputPattern, SpanInput};

use crate::error::{EngineError, Result};
use crate::progress::Progress;
use weir_plan::Execution;

/// Exit code of a run that raised anomalies that fail it.
pub const EXIT_ANOMALIES: i32 = 2;
/// Exit code of a failed run.
pub const EXIT_FAILED: i32 = 1;

/// Builds and runs one run of a pipeline.
#[derive(Debug, Clone)]
pub struct RunBuilder {
    config: PipelineConfig,
    selection: SpanSelection,
    trigger: String,
    lock_wait: Duration,
    progress: Option<Arc<Progress>>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The manifest written (`spans` empty when no span was found).
    pub manifest: RunManifest,
    /// Where it was written.
    pub manifest_location: String,
}

impl RunSummary {
    /// 0 ok (or nothing to do), 2 anomalies, 1 a span failed.
    pub fn exit_code(&self) -> i32 {
        let s = &self.manifest.spans;
        if s.iter().any(|r| r.status == SpanStatus::Failed) {
            EXIT_FAILED
        } else if s.iter().any(|r| r.status == SpanStatus::Anomalies) {
            EXIT_ANOMALIES
        } else {
            0
        }
    }

    /// Spans processed (not cached) by this run.
    pub fn processed(&self) -> usize {
        self.manifest
            .spans
            .iter()
            .filter(|s| s.status != SpanStatus::Cached)
            .count()
    }

    /// A table of the spans for the terminal.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<8} {:<12} {:>7} {:<10} {:>10} {:>9} {:>8}\n",
            "span", "date", "version", "status", "examples", "anomalies", "seconds"
        );
        for s in &self.manifest.spans {
            out.push_str(&format!(
                "{:<8} {:<12} {:>7} {:<10} {:>10} {:>9} {:>8.2}\n",
                s.span,
                s.date.as_deref().unwrap_or("-"),
                s.version,
                s.status.name(),
                runner::total(&s.counts),
                s.anomalies.iter().filter(|a| a.severity == "ERROR").count(),
                s.timings.values().fold(0.0, |a, b| a + b)
            ));
            if let Some(e) = &s.error {
                out.push_str(&format!("         error: {e}\n"));
            }
        }
        out
    }
}

/// A run id: UTC start time to the millisecond, then the process id, so
/// ids sort by start and never collide on one host.
pub fn new_run_id() -> String {
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    )
}

impl RunBuilder {
    /// A run of `config` over its latest span.
    pub fn new(config: PipelineConfig) -> Self {
        RunBuilder {
            config,
            selection: SpanSelection::Latest,
            trigger: "run".into(),
            lock_wait: Duration::from_secs(3600),
            progress: None,
        }
    }

    /// Which spans to process (default: the latest).
    pub fn with_spans(mut self, selection: SpanSelection) -> Self {
        self.selection = selection;
        self
    }

    /// What started the run (`run`, `schedule`), for the manifest.
    pub fn with_trigger(mut self, trigger: impl Into<String>) -> Self {
        self.trigger = trigger.into();
        self
    }

    /// How long to wait for another run of the pipeline to finish.
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// Progress counters to advance.
    pub fn with_progress(mut self, progress: Arc<Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The spans of the input the selection picks, without running.
    pub fn spans(&self) -> Result<Vec<SpanInput>> {
        let pattern =
            InputPattern::parse(&self.config.input.pattern).map_err(EngineError::Invalid)?;
        let available = pattern.list()?;
        let picked = spans::select(&available, self.selection);
        if picked.is_empty() {
            let listed: Vec<String> = available.keys().map(|s| s.to_string()).collect();
            match self.selection {
                SpanSelection::Latest | SpanSelection::All | SpanSelection::Last(_) => {
                    tracing::warn!("no span matches '{}' yet", self.config.input.pattern)
                }
                other => {
                    return Err(EngineError::Invalid(format!(
                        "no {other} in '{}' (spans found: {})",
                        self.config.input.pattern,
                        if listed.is_empty() {
                            "none".into()
                        } else {
                            listed.join(", ")
                        }
                    )))
                }
            }
        }
        Ok(picked)
    }

    /// Runs the pipeline: takes the root's lock, processes each selected
    /// span that is new or changed, writes the run manifest last, and
    /// releases the lock. A failed span is recorded and the run goes on
    /// with the next; the summary's exit code says what happened.
    pub fn execute(self) -> Result<RunSummary> {
        let started = Instant::now();
        let started_at = chrono::Utc::now();
        let c = &self.config;
        let config_hash = c.output_hash()?;
        let execution = Execution::from_flag(c.cluster.as_deref())?;
        let root = PipelineRoot::open(&c.root)?;
        let run_id = new_run_id();
        let lock = root.lock(&run_id, self.lock_wait)?;
        // Spans are listed under the lock: what a run that held it before
        // wrote is visible now.
        let selected = self.spans()?;
        let mut history = History::of(&manifest::read_all(&root)?);
        let runtime = weir_datasets::store::runtime();
        let mut records = Vec::new();
        for span in &selected {
            let record = self.one_span(&root, &history, &execution, &runtime, span, &config_hash);
            history.record(&run_id, &config_hash, &record);
            records.push(record);
        }
        let status = if records.iter().any(|r| r.status == SpanStatus::Failed) {
            "failed"
        } else if records.iter().any(|r| r.status == SpanStatus::Anomalies) {
            "anomalies"
        } else {
            "ok"
        };
        let manifest = RunManifest {
            weir_version: env!("CARGO_PKG_VERSION").into(),
            pipeline: c.name.clone(),
            run_id: run_id.clone(),
            trigger: self.trigger.clone(),
            config_hash,
            started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            seconds: started.elapsed().as_secs_f64(),
            status: status.into(),
            host: weir_datasets::store::lock::host(),
            pid: std::process::id(),
            spans: records,
        };
        manifest.write(&root)?;
        lock.release()?;
        Ok(RunSummary {
            manifest_location: format!("{}/{}", root.location(), RunManifest::rel(&run_id)),
            manifest,
        })
    }

    /// The record of one span: cached, processed, or failed.
    fn one_span(
        &self,
        root: &PipelineRoot,
        history: &History,
        execution: &Execution,
        runtime: &tokio::runtime::Handle,
        span: &SpanInput,
        config_hash: &str,
    ) -> SpanRecord {
        let mut record = SpanRecord {
            span: span.span,
            date: span.date.clone(),
            version: history.next_version(span.span),
            input_version: span.version,
            status: SpanStatus::Failed,
            input: InputFingerprint::new(span.glob.clone(), Vec::new()),
            outputs: Default::default(),
            counts: Default::default(),
            anomalies: Vec::new(),
            drift: Vec::new(),
            timings: Default::default(),
            error: None,
            cached_from: None,
        };
        match cached(history, span, config_hash) {
            Ok(Some((from, current, input))) => {
                tracing::info!("{}: unchanged since run {from}; skipped", describe(span));
                return SpanRecord {
                    version: current.version,
                    status: SpanStatus::Cached,
                    input,
                    outputs: current.outputs.clone(),
                    counts: current.counts.clone(),
                    cached_from: Some(from),
                    ..record
                };
            }
            Ok(None) => {}
            Err(e) => {
                record.error = Some(e.to_string());
                return record;
            }
        }
        let job = runner::SpanJob {
            config: &self.config,
            root,
            history,
            execution,
            progress: self.progress.as_ref(),
            runtime,
        };
        if let Err(e) = job.run(span, record.version, &mut record) {
            tracing::error!("{} failed: {e}", describe(span));
            record.status = SpanStatus::Failed;
            record.error = Some(e.to_string());
        }
        record
    }
}

/// The run that already produced `span` from the same input and config:
/// `(run id, its record, the input fingerprint)`. File names and sizes are
/// compared first; only when they match is the content fingerprinted.
fn cached<'a>(
    history: &'a History,
    span: &SpanInput,
    config_hash: &str,
) -> Result<Option<(String, &'a SpanRecord, InputFingerprint)>> {
    let Some((run, hash, current)) = history.current(span.span) else {
        return Ok(None);
    };
    let listed: Vec<(String, u64)> = span
        .files
        .iter()
        .map(|f| (f.path.display().to_string(), f.size))
        .collect();
    let recorded: Vec<(String, u64)> = current
        .input
        .files
        .iter()
        .map(|f| (f.path.clone(), f.bytes))
        .collect();
    if hash != config_hash || listed != recorded {
        return Ok(None);
    }
    let files = span
        .files
        .iter()
        .map(|f| fingerprint(f, None))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let input = InputFingerprint::new(span.glob.clone(), files);
    Ok((input.fingerprint == current.input.fingerprint).then(|| (run.clone(), current, input)))
}
