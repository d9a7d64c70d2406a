//! Running weir's plans on an Apache DataFusion Ballista cluster.
//!
//! The same DataFusion plans run in-process (the default) or on a cluster
//! (`--cluster df://HOST:PORT`): [`Execution`] picks the session, the
//! [`codec`]s carry weir's plan nodes and functions to the scheduler and
//! executors, [`planner`] plans weir's sink node, [`jobs`] tracks what a
//! client submitted so its watchdog can cancel it, [`readiness`] fails fast
//! on a cluster that cannot run a job, and [`session`] builds every
//! process's session the same way.

pub mod codec;
pub mod jobs;
pub mod planner;
pub mod readiness;
pub mod session;

use std::time::Duration;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{DataFrame, SessionContext};

use crate::error::{PlanError, Result};

pub use codec::{WeirLogicalCodec, WeirPhysicalCodec};

/// Where a plan runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Execution {
    /// In this process (DataFusion).
    #[default]
    InProcess,
    /// On the Ballista cluster whose scheduler is at this `df://host:port`.
    Cluster(String),
}

/// How tasks reach executors (`--scheduling-policy` of the scheduler,
/// `--task-scheduling-policy` of the executors; they must agree). weir's
/// default is pull: when an executor dies mid-stage, Ballista 55 ignores
/// the status updates of the tasks it aborts, and with push scheduling the
/// slots of those tasks are never given back, so a cluster whose slots all
/// leaked runs no job again; a pulling executor asks for work when it has
/// a free slot by its own count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulingPolicy {
    /// The scheduler pushes tasks to executors as slots free up (lower latency).
    PushStaged,
    /// Executors poll the scheduler for tasks (as Spark does).
    PullStaged,
}

impl std::str::FromStr for SchedulingPolicy {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "push-staged" => Ok(Self::PushStaged),
            "pull-staged" => Ok(Self::PullStaged),
            other => Err(format!(
                "unknown scheduling policy '{other}' (expected pull-staged or push-staged)"
            )),
        }
    }
}

impl From<SchedulingPolicy> for ballista_core::config::TaskSchedulingPolicy {
    fn from(p: SchedulingPolicy) -> Self {
        match p {
            SchedulingPolicy::PushStaged => Self::PushStaged,
            SchedulingPolicy::PullStaged => Self::PullStaged,
        }
    }
}

/// How long a cluster job may run before the watchdog gives up on it and
/// submits it again (Ballista can hang when an executor dies during a
/// final stage: apache/datafusion-ballista#1986). Override with
/// `WEIR_CLUSTER_JOB_TIMEOUT` (seconds).
pub const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(1800);

/// Submissions of one job before its failure is final.
pub const JOB_ATTEMPTS: u32 = 3;

fn job_timeout() -> Duration {
    std::env::var("WEIR_CLUSTER_JOB_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_JOB_TIMEOUT)
}

impl Execution {
    /// In-process without a URL, else the cluster at `url`.
    pub fn from_flag(url: Option<&str>) -> Result<Self> {
        match url {
            None => Ok(Execution::InProcess),
            Some(u) if u.starts_with("df://") => Ok(Execution::Cluster(u.to_string())),
            Some(u) => Err(PlanError::Invalid(format!(
                "--cluster expects df://HOST:PORT (a weir-scheduler), got '{u}'"
            ))),
        }
    }

    /// Bytes an input's opening may keep of what it read (CSV type
    /// inference's batches) for the first read of the input: a quarter of
    /// this process's memory limit in-process; none for a cluster, whose
    /// executors open and read their own parts.
    pub fn held_read_bytes(&self) -> u64 {
        match self {
            Execution::InProcess => (session::memory_limit() / 4) as u64,
            Execution::Cluster(_) => 0,
        }
    }

    /// A session that runs queries here or on the cluster.
    pub async fn context(&self) -> Result<SessionContext> {
        match self {
            Execution::InProcess => Ok(session::local_context()),
            Execution::Cluster(url) => {
                readiness::require_ready(url).await?;
                session::connect(url).await.map_err(|e| {
                    PlanError::Invalid(format!("cannot reach the cluster at {url}: {e}"))
                })
            }
        }
    }

    /// Runs `df` and collects its result. On a cluster, a watchdog bounds
    /// each submission by the job timeout and resubmits a job that failed
    /// or hung, up to [`JOB_ATTEMPTS`] times, then fails with the last
    /// error. A resubmitted job recomputes everything, so its result does
    /// not depend on what the abandoned one did.
    ///
    /// `check` vets a result before it is accepted (one row per group, counts
    /// that add up): Ballista has reported success with duplicated result
    /// rows after an executor died. A result that fails it is an error in
    /// process and a failed attempt on a cluster.
    pub async fn collect(
        &self,
        df: DataFrame,
        check: impl Fn(&[RecordBatch]) -> std::result::Result<(), String>,
    ) -> Result<Vec<RecordBatch>> {
        self.watched(|| async {
            let batches = df.clone().collect().await?;
            check(&batches).map_err(|m| PlanError::Internal(format!("bad result: {m}")))?;
            Ok(batches)
        })
        .await
    }

    /// Runs `job` (any number of queries, each started afresh by every
    /// call) under the watchdog of [`Execution::collect`]: in-process once;
    /// on a cluster bounded by the job timeout and submitted again after a
    /// failure or a hang, up to [`JOB_ATTEMPTS`] times.
    ///
    /// The job's error type is the caller's (any error a [`PlanError`]
    /// converts into); the watchdog's own error is converted into it.
    pub async fn watched<T, E, F, Fut>(&self, job: F) -> std::result::Result<T, E>
    where
        E: std::fmt::Display + From<PlanError>,
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, E>>,
    {
        self.watched_for(job_timeout(), job).await
    }

    /// [`Execution::watched`] with the job timeout `timeout`. The jobs of
    /// an attempt that failed or ran out of time are cancelled on the
    /// scheduler before the next attempt is submitted.
    pub async fn watched_for<T, E, F, Fut>(
        &self,
        timeout: Duration,
        job: F,
    ) -> std::result::Result<T, E>
    where
        E: std::fmt::Display + From<PlanError>,
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, E>>,
    {
        let Execution::Cluster(url) = self else {
            return job().await;
        };
        let tracker = jobs::tracker(url);
        let mut last = String::new();
        for attempt in 1..=JOB_ATTEMPTS {
            let mark = tracker.mark();
            match tokio::time::timeout(timeout, job()).await {
                Ok(Ok(value)) => {
                    tracker.finished_since(mark);
                    return Ok(value);
                }
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = format!("no result within {:.1} s", timeout.as_secs_f64()),
            }
            tracing::warn!("cluster job attempt {attempt}/{JOB_ATTEMPTS} on {url} failed: {last}");
            tracker.cancel_since(url, mark).await;
        }
        Err(E::from(PlanError::Invalid(format!(
            "the job failed on the cluster at {url} after {JOB_ATTEMPTS} attempts: {last}"
        ))))
    }
}
