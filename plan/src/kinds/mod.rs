//! The task kinds: the concrete [`ScanMap`]s and [`ShardSink`]s that run
//! inside a task, registered in one list here, the way DataFusion
//! registers its functions. A plan names a kind by its string and carries
//! its settings as JSON ([`MapSpec`], [`SinkSpec`]); every process (the
//! `weir` client, the scheduler, each executor) resolves it here.
//!
//! A kind holds what a task needs and nothing of the operation that plans
//! it: ExampleGen's planning, its manifests and statistics stay in
//! `weir-engine`, which builds these settings.

pub mod example_map;
pub mod example_shards;
pub mod feature_values;
pub mod split_stats;
pub mod transform_parts;

use std::sync::Arc;

use crate::error::{PlanError, Result};
use crate::map::{MapSpec, ScanMap};
use crate::sink::{ShardSink, SinkSpec};

pub use example_map::{ExampleRouteMap, EXAMPLE_MAP};
pub use example_shards::{ExampleShardSink, EXAMPLE_SHARDS};
pub use feature_values::{FeatureValuesMap, FEATURE_VALUES};
pub use transform_parts::{TransformPartSink, TRANSFORM_PARTS};

/// Settings of a kind, parsed from a spec's JSON.
fn settings<T: serde::de::DeserializeOwned>(kind: &str, config: &serde_json::Value) -> Result<T> {
    T::deserialize(config).map_err(|e| PlanError::Invalid(format!("bad settings of {kind}: {e}")))
}

/// The scan map `spec` names.
pub fn scan_map(spec: &MapSpec) -> Result<Arc<dyn ScanMap>> {
    match spec.kind.as_str() {
        EXAMPLE_MAP => Ok(Arc::new(settings::<ExampleRouteMap>(
            EXAMPLE_MAP,
            &spec.config,
        )?)),
        FEATURE_VALUES => Ok(Arc::new(settings::<FeatureValuesMap>(
            FEATURE_VALUES,
            &spec.config,
        )?)),
        other => Err(PlanError::Invalid(format!(
            "unknown scan map kind '{other}' (this process knows {EXAMPLE_MAP}, {FEATURE_VALUES})"
        ))),
    }
}

/// The shard sink `spec` names.
pub fn shard_sink(spec: &SinkSpec) -> Result<Arc<dyn ShardSink>> {
    match spec.kind.as_str() {
        EXAMPLE_SHARDS => Ok(Arc::new(settings::<ExampleShardSink>(
            EXAMPLE_SHARDS,
            &spec.config,
        )?)),
        TRANSFORM_PARTS => Ok(Arc::new(settings::<TransformPartSink>(
            TRANSFORM_PARTS,
            &spec.config,
        )?)),
        other => Err(PlanError::Invalid(format!(
            "unknown shard sink kind '{other}' (this process knows {EXAMPLE_SHARDS}, {TRANSFORM_PARTS})"
        ))),
    }
}
