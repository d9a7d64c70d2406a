//! `weir-executor`: Apache DataFusion Ballista's executor with weir's
//! extensions registered: weir's functions in its function registry, weir's
//! codecs to decode the tasks the scheduler sends, and an object-store
//! registry covering `file://`, `s3://` and `gs://`. Every flag is also an
//! environment variable (`WEIR_EXECUTOR_*`, and the object-store ones
//! shared with `weir`).

use std::sync::Arc;

use anyhow::{Context, Result};
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use clap::Parser;
use weir_plan::execution::session;
use weir_plan::SchedulingPolicy;
use weir_process::StoreArgs;

/// Ballista's executor with weir's functions, plan nodes and object stores.
///
/// Runs the tasks a weir-scheduler hands it and serves the shuffle files it
/// writes to other executors over Arrow Flight. Input and output paths must
/// be reachable from every executor under the same name: a shared file
/// system, or s3:// / gs:// URLs.
#[derive(Parser, Debug)]
#[command(name = "weir-executor", version, about, long_about)]
struct Args {
    /// Address to listen on (0.0.0.0: every interface)
    #[arg(long, env = "WEIR_EXECUTOR_BIND_HOST", default_value = "0.0.0.0")]
    bind_host: String,
    /// Host name the scheduler and other executors use to reach this one
    /// [default: the address the scheduler sees]
    #[arg(long, env = "WEIR_EXECUTOR_EXTERNAL_HOST")]
    external_host: Option<String>,
    /// Arrow Flight port (shuffle reads)
    #[arg(long, env = "WEIR_EXECUTOR_BIND_PORT", default_value_t = 50051)]
    bind_port: u16,
    /// gRPC port (tasks from the scheduler)
    #[arg(long, env = "WEIR_EXECUTOR_GRPC_PORT", default_value_t = 50052)]
    bind_grpc_port: u16,
    /// Scheduler host
    #[arg(
        long,
        env = "WEIR_EXECUTOR_SCHEDULER_HOST",
        default_value = "localhost"
    )]
    scheduler_host: String,
    /// Scheduler port
    #[arg(long, env = "WEIR_EXECUTOR_SCHEDULER_PORT", default_value_t = 50050)]
    scheduler_port: u16,
    /// Seconds to keep retrying the scheduler at start-up (0: fail at once)
    #[arg(
        long,
        env = "WEIR_EXECUTOR_SCHEDULER_CONNECT_TIMEOUT",
        default_value_t = 30
    )]
    scheduler_connect_timeout_seconds: u16,
    /// Tasks run at once [default: the number of cores]
    #[arg(long, env = "WEIR_EXECUTOR_CONCURRENT_TASKS")]
    concurrent_tasks: Option<usize>,
    /// Directory for shuffle files [default: a new temporary directory]
    #[arg(long, env = "WEIR_EXECUTOR_WORK_DIR")]
    work_dir: Option<String>,
    /// Task scheduling policy (same as the scheduler's); pull-staged (default) survives
    /// executors dying mid-stage, push-staged can leak task slots then
    #[arg(long, env = "WEIR_EXECUTOR_POLICY", default_value = "pull-staged")]
    task_scheduling_policy: SchedulingPolicy,
    /// Seconds between heartbeats to the scheduler
    #[arg(long, env = "WEIR_EXECUTOR_HEARTBEAT_INTERVAL", default_value_t = 60)]
    executor_heartbeat_interval_seconds: u64,
    /// Seconds to keep a finished job's shuffle files
    #[arg(long, env = "WEIR_EXECUTOR_JOB_DATA_TTL", default_value_t = 604800)]
    job_data_ttl_seconds: u64,
    /// Seconds between sweeps of old shuffle files (0: never)
    #[arg(long, env = "WEIR_EXECUTOR_JOB_DATA_CLEANUP", default_value_t = 0)]
    job_data_clean_up_interval_seconds: u64,
    /// Memory this executor's tasks may reserve together (e.g. 2G, 512MB;
    /// powers of 1024); grouped aggregations and sorts spill to the temp
    /// dir beyond it [default: half the machine's or cgroup's memory]
    #[arg(long, env = "WEIR_EXECUTOR_MEMORY_LIMIT", value_name = "SIZE", value_parser = weir_process::parse_size)]
    memory_limit: Option<usize>,
    #[command(flatten)]
    store: StoreArgs,
}

#[tokio::main]
async fn main() -> Result<()> {
    weir_process::init_logging("RUST_LOG", "info");
    let args = Args::parse();
    args.store.configure();
    if let Some(bytes) = args.memory_limit {
        session::set_memory_limit(bytes);
    }
    // This process's one runtime (#[tokio::main]) serves weir's I/O too.
    weir_process::install_runtime(tokio::runtime::Handle::current());
    let registry = session::function_registry().context("cannot build the function registry")?;
    let defaults = ExecutorProcessConfig::default();
    let weir = session::ballista_overrides();
    let config = ExecutorProcessConfig {
        bind_host: args.bind_host,
        external_host: args.external_host,
        port: args.bind_port,
        grpc_port: args.bind_grpc_port,
        scheduler_host: args.scheduler_host,
        scheduler_port: args.scheduler_port,
        scheduler_connect_timeout_seconds: args.scheduler_connect_timeout_seconds,
        vcores: args.concurrent_tasks.unwrap_or(defaults.vcores).max(1),
        work_dir: args.work_dir,
        task_scheduling_policy: args.task_scheduling_policy.into(),
        executor_heartbeat_interval_seconds: args.executor_heartbeat_interval_seconds,
        job_data_ttl_seconds: args.job_data_ttl_seconds,
        job_data_clean_up_interval_seconds: args.job_data_clean_up_interval_seconds,
        print_thread_info: false,
        override_function_registry: Some(Arc::new(registry)),
        override_config_producer: Some(weir.config_producer),
        override_runtime_producer: Some(Arc::new(|_config| session::runtime_env())),
        override_logical_codec: Some(weir.logical_codec),
        override_physical_codec: Some(weir.physical_codec),
        ..defaults
    };
    start_executor_process(Arc::new(config))
        .await
        .context("the executor stopped")?;
    Ok(())
}
