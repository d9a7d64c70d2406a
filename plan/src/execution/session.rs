//! The one place weir's DataFusion sessions are made, for every process:
//! the `weir` command (in-process, or as a Ballista client with
//! `--cluster`), `weir-scheduler` and `weir-executor`. Each gets weir's
//! functions, weir's codecs and an object-store registry covering
//! `file://`, `s3://` and `gs://` (through weir's store layer, so every
//! process reaches stores with the same `--s3-endpoint`… settings).

use std::sync::{Arc, OnceLock};

use ballista_core::extension::{
    ballista_aggregate_functions, ballista_scalar_functions, ballista_window_functions,
    SessionConfigExt,
};
use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::{FairSpillPool, MemoryPool};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::execution::FunctionRegistry;
use datafusion::prelude::{SessionConfig, SessionContext};
use object_store::ObjectStore;
use url::Url;

use super::codec::{WeirLogicalCodec, WeirPhysicalCodec};
use super::planner::WeirQueryPlanner;

/// What weir's scheduler and executor processes hand Ballista in place
/// of its defaults: every session's config, and weir's codecs.
pub struct BallistaOverrides {
    /// Produces the config of every session ([`cluster_config`]).
    pub config_producer: ballista_core::ConfigProducer,
    /// weir's logical codec.
    pub logical_codec: Arc<dyn datafusion_proto::logical_plan::LogicalExtensionCodec>,
    /// weir's physical codec.
    pub physical_codec: Arc<dyn datafusion_proto::physical_plan::PhysicalExtensionCodec>,
}

/// The overrides of weir's Ballista processes.
pub fn ballista_overrides() -> BallistaOverrides {
    BallistaOverrides {
        config_producer: Arc::new(cluster_config),
        logical_codec: Arc::new(WeirLogicalCodec::default()),
        physical_codec: Arc::new(WeirPhysicalCodec::default()),
    }
}

/// DataFusion settings weir's results depend on, set in every session:
/// no round-robin repartitioning (it would hand batches to partial
/// aggregates in a timing-dependent way, and so change sketches).
fn deterministic(config: SessionConfig) -> SessionConfig {
    config.with_round_robin_repartition(false)
}

/// The session config of a Ballista session (client, scheduler, executor):
/// Ballista's defaults with weir's codecs.
pub fn cluster_config() -> SessionConfig {
    deterministic(
        SessionConfig::new_with_ballista()
            .with_ballista_logical_extension_codec(Arc::new(WeirLogicalCodec::default()))
            .with_ballista_physical_extension_codec(Arc::new(WeirPhysicalCodec::default()))
            .set_bool(ADAPTIVE_PLANNER, false)
            .set_bool(CLIENT_PULL, true),
    )
}

/// Ballista's adaptive planner: off. With it, a job whose executor dies in
/// the final stage can hang for good, holding task slots that later jobs
/// need (apache/datafusion-ballista#1986). The static planner instead may
/// report duplicated result rows, which weir's result checks and
/// ExampleGen's per-shard commit absorb.
const ADAPTIVE_PLANNER: &str = "ballista.planner.adaptive.enabled";

/// The client polls the job's status (instead of waiting on the
/// scheduler's status stream): it learns the job id as soon as the job is
/// accepted, so the watchdog can cancel a job that never reported a status
/// (`jobs`).
const CLIENT_PULL: &str = "ballista.client.pull";

/// The runtime of every weir session: DataFusion's defaults with weir's
/// object-store registry and the process's one memory pool
/// ([`memory_limit`]), so operators that can spill (grouped aggregations,
/// sorts) spill to the temporary directory instead of growing past it.
pub fn runtime_env() -> Result<Arc<RuntimeEnv>> {
    Ok(Arc::new(
        RuntimeEnvBuilder::new()
            .with_object_store_registry(Arc::new(WeirObjectStoreRegistry::default()))
            .with_memory_pool(memory_pool())
            .build()?,
    ))
}

/// The memory pool every session of this process shares.
static MEMORY_POOL: OnceLock<(usize, Arc<dyn MemoryPool>)> = OnceLock::new();

/// Bounds the memory all plans of this process may reserve together to
/// `bytes` (`--memory-limit`); call before the first session. Returns false
/// (and changes nothing) when the pool already exists.
pub fn set_memory_limit(bytes: usize) -> bool {
    MEMORY_POOL
        .set((bytes, Arc::new(FairSpillPool::new(bytes))))
        .is_ok()
}

/// The process's pool: the one [`set_memory_limit`] made, else one of
/// [`default_memory_limit`].
fn pool() -> &'static (usize, Arc<dyn MemoryPool>) {
    MEMORY_POOL.get_or_init(|| {
        let bytes = default_memory_limit();
        (bytes, Arc::new(FairSpillPool::new(bytes)))
    })
}

/// The process's memory limit in bytes.
pub fn memory_limit() -> usize {
    pool().0
}

fn memory_pool() -> Arc<dyn MemoryPool> {
    pool().1.clone()
}

/// Half the memory this process may use: the machine's (`MemTotal`), or
/// its cgroup's limit when lower; 4 GiB where neither can be read.
pub fn default_memory_limit() -> usize {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
            .map(|kb| kb * 1024)
    });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok());
    let total = match (meminfo, cgroup) {
        (Some(m), Some(c)) => m.min(c),
        (Some(m), None) => m,
        (None, Some(c)) => c,
        (None, None) => 8 << 30,
    };
    total / 2
}

/// A session state for `config` with Ballista's functions and rules and
/// weir's functions: what the scheduler plans with.
pub fn cluster_state(config: SessionConfig) -> Result<SessionState> {
    let mut state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(deterministic(config))
        .with_runtime_env(runtime_env()?)
        .with_optimizer_rules(ballista_core::optimizer::ballista_default_optimizer_rules())
        .with_scalar_functions(ballista_scalar_functions())
        .with_aggregate_functions(ballista_aggregate_functions())
        .with_window_functions(ballista_window_functions())
        .with_query_planner(Arc::new(WeirQueryPlanner))
        .build();
    register_weir_functions(&mut state)?;
    Ok(state)
}

/// The functions an executor resolves plans against: Ballista's and weir's.
pub fn function_registry() -> Result<BallistaFunctionRegistry> {
    Ok(BallistaFunctionRegistry::from(&cluster_state(
        cluster_config(),
    )?))
}

/// An in-process session with weir's functions.
pub fn local_context() -> SessionContext {
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(deterministic(SessionConfig::new()))
        .with_runtime_env(runtime_env().expect("a default runtime builds"))
        .with_query_planner(Arc::new(WeirQueryPlanner))
        .build();
    let ctx = SessionContext::new_with_state(state);
    weir_udfs::register_all(&ctx);
    ctx
}

/// A session whose queries run on the Ballista cluster at `url`
/// (`df://host:port`).
pub async fn connect(url: &str) -> Result<SessionContext> {
    use ballista::prelude::SessionContextExt;
    let state = cluster_state(cluster_config())?;
    let ctx = SessionContext::remote_with_state(url, state).await?;
    // Every job this session submits is recorded, so that the watchdog can
    // cancel the jobs of an attempt it abandons.
    let state = ctx.state();
    let planner =
        super::jobs::TrackingPlanner::new(state.query_planner().clone(), super::jobs::tracker(url));
    let state = SessionStateBuilder::new_from_existing(state)
        .with_query_planner(Arc::new(planner))
        .build();
    Ok(SessionContext::new_with_state(state))
}

fn register_weir_functions(state: &mut SessionState) -> Result<()> {
    for f in weir_udfs::all_udfs() {
        state.register_udf(f)?;
    }
    for f in weir_udfs::all_udafs() {
        state.register_udaf(f)?;
    }
    Ok(())
}

/// DataFusion's registry (local files, and stores registered by hand) that
/// builds `s3://` and `gs://` stores through weir's store layer.
#[derive(Debug, Default)]
pub struct WeirObjectStoreRegistry {
    inner: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for WeirObjectStoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.inner.register_store(url, store)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.inner.get_store(url) {
            return Ok(store);
        }
        match url.scheme() {
            "s3" | "gs" => {
                let root = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
                let store = weir_datasets::store::parse(&root)
                    .map_err(|e| DataFusionError::External(Box::new(e)))?
                    .store;
                self.inner.register_store(url, store.clone());
                Ok(store)
            }
            other => Err(DataFusionError::Configuration(format!(
                "no object store for scheme '{other}' (weir reaches file://, s3:// and gs://)"
            ))),
        }
    }
}
