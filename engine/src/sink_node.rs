//! The logical node of weir's sinks, [`SinkNode`]: what a plan writes as
//! output shards, by [`SinkSpec`]: ExampleGen's shards (routed and
//! shuffled map rows, `examplegen::distributed`) or Transform's parts (each
//! input part one shard, `transform_sink`). `cluster::planner` plans it as
//! the matching `*Exec` ([`SinkSpec::exec`]); both codecs carry the spec
//! as JSON, for the logical node and for either `*Exec`.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{Expr, LogicalPlan, UserDefinedLogicalNodeCore};

use datafusion::physical_plan::ExecutionPlan;

use crate::commit::sink_schema;
use crate::examplegen::distributed::{ShardSinkConfig, ShardSinkExec};
use crate::transform_sink::{PartitionSinkConfig, PartitionSinkExec};

/// What a [`SinkNode`] writes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SinkSpec {
    /// ExampleGen's shards of routed map rows.
    ExampleShards(ShardSinkConfig),
    /// Transform's output, one shard per input part.
    TransformParts(PartitionSinkConfig),
}

impl SinkSpec {
    /// The spec as JSON (how the codecs carry it).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain values serialize")
    }

    /// A spec from [`SinkSpec::to_json`]'s bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    /// The relative output path of every shard.
    pub fn shard_paths(&self) -> &[String] {
        match self {
            SinkSpec::ExampleShards(c) => &c.shard_paths,
            SinkSpec::TransformParts(c) => &c.shard_paths,
        }
    }

    /// The physical sink of this spec over `input`.
    pub fn exec(&self, input: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        match self {
            SinkSpec::ExampleShards(c) => Arc::new(ShardSinkExec::new(input, Arc::new(c.clone()))),
            SinkSpec::TransformParts(c) => {
                Arc::new(PartitionSinkExec::new(input, Arc::new(c.clone())))
            }
        }
    }

    /// The spec of a physical sink, if `plan` is one.
    pub fn of_exec(plan: &dyn ExecutionPlan) -> Option<Self> {
        if let Some(s) = plan.downcast_ref::<ShardSinkExec>() {
            return Some(SinkSpec::ExampleShards(s.config().as_ref().clone()));
        }
        plan.downcast_ref::<PartitionSinkExec>()
            .map(|s| SinkSpec::TransformParts(s.config().as_ref().clone()))
    }

    fn describe(&self) -> String {
        match self {
            SinkSpec::ExampleShards(c) => format!("example shards={}", c.shard_paths.len()),
            SinkSpec::TransformParts(c) => format!("transform parts={}", c.shard_paths.len()),
        }
    }
}

/// A logical sink: its input's rows written as weir output shards, one
/// metadata row ([`sink_schema`]) per shard.
#[derive(Debug, Clone)]
pub struct SinkNode {
    input: LogicalPlan,
    spec: Arc<SinkSpec>,
    schema: DFSchemaRef,
}

impl SinkNode {
    /// A sink of `input`'s rows.
    pub fn new(input: LogicalPlan, spec: SinkSpec) -> DfResult<Self> {
        let schema = Arc::new(DFSchema::try_from(sink_schema().as_ref().clone())?);
        Ok(Self {
            input,
            spec: Arc::new(spec),
            schema,
        })
    }

    /// What it writes.
    pub fn spec(&self) -> &SinkSpec {
        &self.spec
    }
}

impl PartialEq for SinkNode {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec && self.input == other.input
    }
}

impl Eq for SinkNode {}

impl Hash for SinkNode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.spec.to_json().hash(state);
        self.input.hash(state);
    }
}

impl PartialOrd for SinkNode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        match self.spec.to_json().cmp(&other.spec.to_json()) {
            std::cmp::Ordering::Equal => self.input.partial_cmp(&other.input),
            o => Some(o),
        }
    }
}

impl UserDefinedLogicalNodeCore for SinkNode {
    fn name(&self) -> &str {
        "WeirSink"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "WeirSink: {}", self.spec.describe())
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> DfResult<Self> {
        let input = inputs
            .into_iter()
            .next()
            .ok_or_else(|| DataFusionError::Internal("WeirSink takes one input".into()))?;
        Ok(Self {
            input,
            spec: self.spec.clone(),
            schema: self.schema.clone(),
        })
    }
}
