//! The jobs this process submitted to each cluster, so that the watchdog
//! can cancel the ones it gives up on. Ballista's client plans every query
//! as a `DistributedQueryExec`, which learns its job id once the scheduler
//! accepts it; [`TrackingPlanner`] wraps Ballista's planner and keeps every
//! plan it makes, and [`JobTracker::cancel_since`] asks the scheduler
//! (`CancelJob`) to cancel the jobs of an abandoned attempt, so a hung or
//! failed job does not go on holding task slots while its resubmission runs.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use ballista_core::execution_plans::DistributedQueryExec;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::CancelJobParams;
use datafusion::catalog::Session;
use datafusion::error::Result as DfResult;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::protobuf::LogicalPlanNode;

/// The plans submitted to one cluster, in order, with what was cancelled.
#[derive(Debug, Default)]
pub struct JobTracker {
    state: Mutex<TrackerState>,
}

#[derive(Debug, Default)]
struct TrackerState {
    next: u64,
    plans: Vec<(u64, Arc<dyn ExecutionPlan>)>,
    cancelled: Vec<String>,
}

static TRACKERS: LazyLock<Mutex<HashMap<String, Arc<JobTracker>>>> =
    LazyLock::new(Default::default);

/// The tracker of the cluster at `url` (`df://host:port`).
pub fn tracker(url: &str) -> Arc<JobTracker> {
    TRACKERS
        .lock()
        .expect("job trackers")
        .entry(url.to_string())
        .or_default()
        .clone()
}

impl JobTracker {
    fn record(&self, plan: Arc<dyn ExecutionPlan>) {
        let mut s = self.state.lock().expect("job tracker");
        let seq = s.next;
        s.next += 1;
        s.plans.push((seq, plan));
    }

    /// A mark: plans made from now on are "since" it.
    pub fn mark(&self) -> u64 {
        self.state.lock().expect("job tracker").next
    }

    /// Forgets the plans made since `mark` (their attempt is over); returns
    /// the job ids the scheduler gave them.
    fn take_since(&self, mark: u64) -> Vec<String> {
        let mut s = self.state.lock().expect("job tracker");
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut s.plans)
            .into_iter()
            .partition(|(seq, _)| *seq >= mark);
        s.plans = kept;
        taken
            .iter()
            .filter_map(|(_, p)| {
                p.downcast_ref::<DistributedQueryExec<LogicalPlanNode>>()
                    .and_then(|d| d.job_id())
                    .map(|id| id.to_string())
            })
            .collect()
    }

    /// An attempt since `mark` succeeded: its plans are forgotten.
    pub fn finished_since(&self, mark: u64) {
        self.take_since(mark);
    }

    /// An attempt since `mark` was abandoned: asks the scheduler at `url`
    /// to cancel each of its jobs (a job that already ended is left as it
    /// is by the scheduler). Failures are logged, not returned: the
    /// resubmission goes on either way.
    pub async fn cancel_since(&self, url: &str, mark: u64) {
        let ids = self.take_since(mark);
        if ids.is_empty() {
            return;
        }
        let endpoint = format!("http://{}", url.trim_start_matches("df://"));
        let mut client = match SchedulerGrpcClient::connect(endpoint).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("cannot reach {url} to cancel jobs {ids:?}: {e}");
                return;
            }
        };
        for id in ids {
            match client
                .cancel_job(CancelJobParams { job_id: id.clone() })
                .await
            {
                Ok(r) => {
                    tracing::warn!(
                        "cancelled abandoned job {id} on {url} (scheduler: {})",
                        r.into_inner().cancelled
                    );
                    self.state.lock().expect("job tracker").cancelled.push(id);
                }
                Err(e) => tracing::warn!("cancelling job {id} on {url} failed: {e}"),
            }
        }
    }

    /// The job ids this process asked the scheduler to cancel.
    pub fn cancelled(&self) -> Vec<String> {
        self.state.lock().expect("job tracker").cancelled.clone()
    }
}

/// Ballista's client planner, recording every plan it makes in a tracker.
#[derive(Debug)]
pub struct TrackingPlanner {
    inner: Arc<dyn QueryPlanner + Send + Sync>,
    tracker: Arc<JobTracker>,
}

impl TrackingPlanner {
    /// Wraps `inner`, recording into `tracker`.
    pub fn new(inner: Arc<dyn QueryPlanner + Send + Sync>, tracker: Arc<JobTracker>) -> Self {
        TrackingPlanner { inner, tracker }
    }
}

#[async_trait::async_trait]
impl QueryPlanner for TrackingPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn Session,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let plan = self
            .inner
            .create_physical_plan(logical_plan, session_state)
            .await?;
        self.tracker.record(plan.clone());
        Ok(plan)
    }
}
