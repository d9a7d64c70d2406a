//! `weir-scheduler`: Apache DataFusion Ballista's scheduler with weir's
//! extensions registered. Clients (`weir … --cluster df://HOST:PORT`) send
//! it logical plans; it plans them with weir's functions and table
//! providers, splits them into stages and hands tasks to `weir-executor`s.
//! Every flag is also an environment variable (`WEIR_SCHEDULER_*`, and the
//! object-store ones shared with `weir`).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use clap::Parser;
use weir_plan::execution::session;
use weir_plan::SchedulingPolicy;
use weir_process::StoreArgs;

/// Ballista's scheduler with weir's functions, plan nodes and object stores.
///
/// Start one per cluster, then one or more weir-executor processes pointing
/// at it, then run weir commands with --cluster df://HOST:PORT. State is
/// kept in memory: restarting the scheduler fails the jobs it was running
/// (weir resubmits them; see docs/cluster.md).
#[derive(Parser, Debug)]
#[command(name = "weir-scheduler", version, about, long_about)]
struct Args {
    /// Address to listen on (0.0.0.0: every interface)
    #[arg(long, env = "WEIR_SCHEDULER_BIND_HOST", default_value = "0.0.0.0")]
    bind_host: String,
    /// Port for clients and executors (gRPC)
    #[arg(long, env = "WEIR_SCHEDULER_BIND_PORT", default_value_t = 50050)]
    bind_port: u16,
    /// Host name executors and clients use to reach this scheduler
    #[arg(
        long,
        env = "WEIR_SCHEDULER_EXTERNAL_HOST",
        default_value = "localhost"
    )]
    external_host: String,
    /// Task scheduling policy; pull-staged (default) survives
    /// executors dying mid-stage, push-staged can leak task slots then
    #[arg(long, env = "WEIR_SCHEDULER_POLICY", default_value = "pull-staged")]
    scheduling_policy: SchedulingPolicy,
    /// Seconds without a heartbeat after which an executor is declared dead
    /// and its tasks (and the map outputs it held) are rescheduled
    #[arg(long, env = "WEIR_SCHEDULER_EXECUTOR_TIMEOUT", default_value_t = 180)]
    executor_timeout_seconds: u64,
    /// Seconds between checks for dead executors
    #[arg(long, env = "WEIR_SCHEDULER_EXPIRE_INTERVAL", default_value_t = 15)]
    expire_dead_executor_interval_seconds: u64,
    /// Attempts per task before its job fails
    #[arg(long, env = "WEIR_SCHEDULER_TASK_MAX_FAILURES", default_value_t = 4)]
    task_max_failures: usize,
    /// Attempts per stage before its job fails
    #[arg(long, env = "WEIR_SCHEDULER_STAGE_MAX_FAILURES", default_value_t = 4)]
    stage_max_failures: usize,
    /// Seconds after which a finished job's shuffle files are removed (0: never)
    #[arg(long, env = "WEIR_SCHEDULER_JOB_DATA_CLEANUP", default_value_t = 300)]
    finished_job_data_clean_up_interval_seconds: u64,
    #[command(flatten)]
    store: StoreArgs,
}

#[tokio::main]
async fn main() -> Result<()> {
    weir_process::init_logging("RUST_LOG", "info");
    let args = Args::parse();
    args.store.configure();
    // This process's one runtime (#[tokio::main]) serves weir's I/O too.
    weir_process::install_runtime(tokio::runtime::Handle::current());
    let addr: SocketAddr = format!("{}:{}", args.bind_host, args.bind_port)
        .parse()
        .with_context(|| format!("bad bind address {}:{}", args.bind_host, args.bind_port))?;
    let weir = session::ballista_overrides();
    let config = SchedulerConfig {
        bind_host: args.bind_host.clone(),
        bind_port: args.bind_port,
        external_host: args.external_host,
        scheduling_policy: args.scheduling_policy.into(),
        executor_timeout_seconds: args.executor_timeout_seconds,
        no_executors_grace_period_seconds: args.executor_timeout_seconds,
        expire_dead_executor_interval_seconds: args.expire_dead_executor_interval_seconds,
        task_max_failures: args.task_max_failures,
        stage_max_failures: args.stage_max_failures,
        finished_job_data_clean_up_interval_seconds: args
            .finished_job_data_clean_up_interval_seconds,
        override_config_producer: Some(weir.config_producer),
        override_session_builder: Some(Arc::new(session::cluster_state)),
        override_logical_codec: Some(weir.logical_codec),
        override_physical_codec: Some(weir.physical_codec),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .context("cannot set up the scheduler's cluster state")?;
    tracing::info!("weir-scheduler listening on {addr}");
    start_server(cluster, addr, Arc::new(config))
        .await
        .context("the scheduler stopped")?;
    Ok(())
}
