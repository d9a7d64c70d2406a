//! `weir schedule`: a long-running process that runs a pipeline at the
//! times of a cron expression read in a time zone. At each tick it runs the
//! latest span; when that span was already done it can wait for a new one
//! to appear; a failed run is retried with exponential backoff. Runs never
//! overlap (each takes the root's lock, which also keeps out `weir run`s
//! and other schedulers). A stop request (SIGTERM, SIGINT) ends the process
//! between runs, or after the run in progress, never in the middle of one.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;

use super::config::{PipelineConfig, ScheduleConfig};
use super::{RunBuilder, RunSummary, SpanSelection, EXIT_FAILED};
use crate::error::{EngineError, Result};

/// A cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    cron: Cron,
    tz: Tz,
}

impl CronSchedule {
    /// Parses `expr` (5 fields, or 6 with seconds first) read in `tz`.
    pub fn parse(expr: &str, tz: &str) -> std::result::Result<CronSchedule, String> {
        let cron = Cron::from_str(expr).map_err(|e| format!("schedule.cron '{expr}': {e}"))?;
        let tz: Tz = tz
            .parse()
            .map_err(|_| format!("schedule.timezone '{tz}' is not an IANA time zone"))?;
        Ok(CronSchedule { cron, tz })
    }

    /// The first time after `t` the expression matches.
    pub fn next_after(&self, t: DateTime<Utc>) -> Result<DateTime<Utc>> {
        // Whole seconds: cron times have no fraction.
        let t = t.with_nanosecond(0).unwrap_or(t);
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.tz), false)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| EngineError::Invalid(format!("schedule: no next time: {e}")))
    }
}

/// Runs a pipeline on its schedule.
#[derive(Debug, Clone)]
pub struct ScheduleBuilder {
    config: PipelineConfig,
    stop: Arc<AtomicBool>,
    max_ticks: Option<u64>,
}

/// Sleeps up to `d`, waking early when `stop` is set; false when stopped.
fn sleep_unless(stop: &AtomicBool, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(100)));
    }
    !stop.load(Ordering::Relaxed)
}

/// Logs a line on stdout (ignoring a closed stdout: the schedule goes on).
fn log(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{} schedule: {line}",
        Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
    );
    let _ = out.flush();
    tracing::info!("{line}");
}

impl ScheduleBuilder {
    /// A schedule for `config`, which must have a `[schedule]` table.
    pub fn new(config: PipelineConfig) -> Result<Self> {
        if config.schedule.is_none() {
            return Err(EngineError::Invalid(
                "the pipeline has no [schedule] table (cron = \"0 2 * * *\")".into(),
            ));
        }
        Ok(ScheduleBuilder {
            config,
            stop: Arc::new(AtomicBool::new(false)),
            max_ticks: None,
        })
    }

    /// The flag that asks the schedule to stop (set it from a signal handler).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Stop after this many ticks (tests, one-off catch-up).
    pub fn with_max_ticks(mut self, n: u64) -> Self {
        self.max_ticks = Some(n);
        self
    }

    fn settings(&self) -> &ScheduleConfig {
        self.config.schedule.as_ref().expect("checked in new")
    }

    /// One run, retried with backoff while it fails.
    fn run_with_retries(&self) -> Option<RunSummary> {
        let s = self.settings();
        let mut delay = Duration::from_secs(s.backoff_seconds);
        for attempt in 0..=s.retries {
            let result = RunBuilder::new(self.config.clone())
                .with_trigger("schedule")
                .with_spans(SpanSelection::Latest)
                .execute();
            match result {
                Ok(summary) if summary.exit_code() != EXIT_FAILED => {
                    let cached = summary.manifest.spans.len() - summary.processed();
                    log(&format!(
                        "run {} {}: {} span(s) processed, {} unchanged (skipped){}",
                        summary.manifest.run_id,
                        summary.manifest.status,
                        summary.processed(),
                        cached,
                        match summary.manifest.spans.last() {
                            Some(l) => format!(", latest span {} version {}", l.span, l.version),
                            None => ", no span yet".into(),
                        }
                    ));
                    return Some(summary);
                }
                Ok(summary) => log(&format!(
                    "run {} failed (attempt {} of {}): {}",
                    summary.manifest.run_id,
                    attempt + 1,
                    s.retries + 1,
                    summary
                        .manifest
                        .spans
                        .iter()
                        .filter_map(|r| r.error.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
                Err(e) => log(&format!(
                    "run failed (attempt {} of {}): {e}",
                    attempt + 1,
                    s.retries + 1
                )),
            }
            if attempt < s.retries {
                log(&format!("retrying in {} s", delay.as_secs()));
                if !sleep_unless(&self.stop, delay) {
                    return None;
                }
                delay *= 2;
            }
        }
        None
    }

    /// Runs until stopped (or `max_ticks`).
    pub fn execute(self) -> Result<u64> {
        let s = self.settings().clone();
        let schedule = CronSchedule::parse(&s.cron, &s.timezone).map_err(EngineError::Invalid)?;
        log(&format!(
            "pipeline '{}' on '{}' ({}), root {}",
            self.config.name, s.cron, s.timezone, self.config.root
        ));
        let mut ticks = 0u64;
        while self.max_ticks.is_none_or(|m| ticks < m) {
            let next = schedule.next_after(Utc::now())?;
            log(&format!("next run at {}", next.to_rfc3339()));
            let wait = (next - Utc::now()).to_std().unwrap_or_default();
            if !sleep_unless(&self.stop, wait) {
                break;
            }
            ticks += 1;
            let Some(summary) = self.run_with_retries() else {
                continue;
            };
            // The latest span was already done: wait for a new one.
            if summary.processed() == 0 && s.wait_for_span_seconds > 0 {
                let known = summary.manifest.spans.last().map(|r| r.span);
                let deadline = Instant::now() + Duration::from_secs(s.wait_for_span_seconds);
                while Instant::now() < deadline {
                    if !sleep_unless(&self.stop, Duration::from_secs(s.poll_seconds.max(1))) {
                        break;
                    }
                    let latest = RunBuilder::new(self.config.clone())
                        .spans()
                        .ok()
                        .and_then(|v| v.last().map(|l| l.span));
                    if latest.is_some() && latest != known {
                        log(&format!("new span {} appeared", latest.unwrap_or_default()));
                        self.run_with_retries();
                        break;
                    }
                }
            }
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
        }
        log("stopped");
        Ok(ticks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn cron_is_read_in_its_time_zone() {
        let s = CronSchedule::parse("0 2 * * *", "Europe/Berlin").unwrap();
        // 2024-07-01 00:30 UTC is 02:30 in Berlin (CEST): the next 02:00
        // Berlin is 2024-07-02 00:00 UTC.
        let t = Utc.with_ymd_and_hms(2024, 7, 1, 0, 30, 0).unwrap();
        assert_eq!(
            s.next_after(t).unwrap(),
            Utc.with_ymd_and_hms(2024, 7, 2, 0, 0, 0).unwrap()
        );
        let utc = CronSchedule::parse("0 2 * * *", "UTC").unwrap();
        assert_eq!(
            utc.next_after(t).unwrap(),
            Utc.with_ymd_and_hms(2024, 7, 1, 2, 0, 0).unwrap()
        );
        let secs = CronSchedule::parse("*/2 * * * * *", "UTC").unwrap();
        assert_eq!(
            secs.next_after(t).unwrap(),
            Utc.with_ymd_and_hms(2024, 7, 1, 0, 30, 2).unwrap()
        );
        assert!(CronSchedule::parse("0 2 * *", "UTC").is_err());
        assert!(CronSchedule::parse("0 2 * * *", "Mars/Olympus").is_err());
    }
}
