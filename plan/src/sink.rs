//! weir's one sink: [`SinkNode`] (logical) planned as [`ShardSinkExec`]
//! (physical) writes its input's rows as output shards, one metadata row
//! ([`crate::commit::sink_schema`]) per shard, into the run's attempt
//! directories (see [`crate::commit`]). What the rows are and how a task
//! writes them is a [`ShardSink`]: ExampleGen's routed shards
//! (`kinds::example_shards`) or Transform's parts (`kinds::transform_parts`).
//! A sink travels in plans as a [`SinkSpec`] (kind and settings as JSON),
//! resolved by name where the plan is decoded (`execution::codec`).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan, UserDefinedLogicalNodeCore};
use datafusion::physical_expr::{OrderingRequirements, PhysicalExpr};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, PlanProperties,
};

use crate::commit::{sink_properties, sink_schema, sink_stream, WrittenShard};
use crate::error::Result;

/// What one sink task does with its partition's rows, on a blocking
/// thread: reads batches from the channel, writes shards under the task's
/// attempt directory, and gives each shard it wrote.
pub type ShardWrite = Box<
    dyn FnOnce(tokio::sync::mpsc::Receiver<RecordBatch>, &Path) -> Result<Vec<WrittenShard>> + Send,
>;

/// How a sink of one kind writes shards, with its settings.
pub trait ShardSink: fmt::Debug + Send + Sync {
    /// The kind's name (how plans name it).
    fn kind(&self) -> &'static str;
    /// Its settings as JSON (how plans carry them).
    fn config(&self) -> serde_json::Value;
    /// Where its shards go.
    fn targets(&self) -> &ShardTargets;
    /// A short description for EXPLAIN.
    fn describe(&self) -> String;
    /// How the input must be partitioned (over an input of schema `input`).
    fn required_input_distribution(&self, _input: &SchemaRef) -> Distribution {
        Distribution::UnspecifiedDistribution
    }
    /// How each input partition must be ordered.
    fn required_input_ordering(&self, _input: &SchemaRef) -> Option<OrderingRequirements> {
        None
    }
    /// Whether more input partitions help (more tasks writing at once).
    fn benefits_from_input_partitioning(&self) -> bool {
        false
    }
    /// The writer of partition `partition` of `input`.
    fn writer(&self, input: &Arc<dyn ExecutionPlan>, partition: usize) -> Result<ShardWrite>;
}

/// Where a sink's shards go; every [`ShardSink`]'s settings hold one
/// (flattened into their JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardTargets {
    /// The run's attempt root (absolute, reachable from every executor,
    /// outside the output). A task only creates its own directory in it,
    /// so a task that starts after the run removed it fails.
    pub attempts_dir: String,
    /// The relative output path of every shard, by shard number.
    pub shard_paths: Vec<String>,
}

/// A [`ShardSink`] as plans carry it: its kind and its settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SinkSpec {
    /// The kind's name.
    pub kind: String,
    /// Its settings.
    pub config: serde_json::Value,
}

impl SinkSpec {
    /// The spec of `sink`.
    pub fn of(sink: &dyn ShardSink) -> Self {
        Self {
            kind: sink.kind().to_string(),
            config: sink.config(),
        }
    }

    /// The spec as JSON (how the codecs carry it).
    pub fn to_json(&self) -> Vec<u8> {
        // A map of strings to JSON values always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A spec from [`SinkSpec::to_json`]'s bytes.
    pub fn from_json(bytes: &[u8]) -> std::result::Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

/// A logical sink: its input's rows written as weir output shards, one
/// metadata row ([`sink_schema`]) per shard.
#[derive(Debug, Clone)]
pub struct SinkNode {
    input: LogicalPlan,
    sink: Arc<dyn ShardSink>,
    spec: SinkSpec,
    schema: DFSchemaRef,
}

impl SinkNode {
    /// A sink of `input`'s rows.
    pub fn new(input: LogicalPlan, sink: Arc<dyn ShardSink>) -> DfResult<Self> {
        let schema = Arc::new(DFSchema::try_from(sink_schema().as_ref().clone())?);
        Ok(Self {
            input,
            spec: SinkSpec::of(sink.as_ref()),
            sink,
            schema,
        })
    }

    /// What it writes.
    pub fn sink(&self) -> &Arc<dyn ShardSink> {
        &self.sink
    }

    /// What it writes, as plans carry it.
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
        write!(f, "WeirSink: {}", self.sink.describe())
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> DfResult<Self> {
        let input = inputs
            .into_iter()
            .next()
            .ok_or_else(|| DataFusionError::Internal("WeirSink takes one input".into()))?;
        Ok(Self {
            input,
            sink: self.sink.clone(),
            spec: self.spec.clone(),
            schema: self.schema.clone(),
        })
    }
}

/// Writes its input's partitions as shards through a [`ShardSink`], each
/// task into its own attempt directory.
#[derive(Debug)]
pub struct ShardSinkExec {
    input: Arc<dyn ExecutionPlan>,
    sink: Arc<dyn ShardSink>,
    properties: Arc<PlanProperties>,
}

impl ShardSinkExec {
    /// A sink over `input`.
    pub fn new(input: Arc<dyn ExecutionPlan>, sink: Arc<dyn ShardSink>) -> Self {
        let properties =
            sink_properties(input.properties().output_partitioning().partition_count());
        Self {
            input,
            sink,
            properties,
        }
    }

    /// What it writes.
    pub fn sink(&self) -> &Arc<dyn ShardSink> {
        &self.sink
    }
}

impl DisplayAs for ShardSinkExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ShardSinkExec: {}", self.sink.describe())
    }
}

impl ExecutionPlan for ShardSinkExec {
    fn name(&self) -> &str {
        "ShardSinkExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let input = children
            .into_iter()
            .next()
            .ok_or_else(|| DataFusionError::Internal("ShardSinkExec takes one input".into()))?;
        Ok(Arc::new(Self::new(input, self.sink.clone())))
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![self.sink.required_input_distribution(&self.input.schema())]
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        vec![self.sink.required_input_ordering(&self.input.schema())]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![self.sink.benefits_from_input_partitioning()]
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let write = self.sink.writer(&self.input, partition)?;
        let input = self.input.execute(partition, context.clone())?;
        Ok(sink_stream(
            input,
            self.sink.targets().attempts_dir.clone(),
            &context,
            partition,
            move |rx, dir| write(rx, dir).map_err(DataFusionError::from),
        ))
    }
}
