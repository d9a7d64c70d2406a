//! weir's query planner: DataFusion's physical planner with weir's
//! extension nodes (weir's sinks, [`SinkNode`]) planned as weir's
//! operators. Every session that plans weir's queries uses it: in-process
//! sessions and the scheduler's (a Ballista client plans nothing itself).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::error::Result;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{LogicalPlan, UserDefinedLogicalNode};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};

use crate::sink::{ShardSinkExec, SinkNode};

/// DataFusion's planner plus weir's extension nodes.
#[derive(Debug, Default)]
pub struct WeirQueryPlanner;

#[async_trait]
impl QueryPlanner for WeirQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(WeirExtensionPlanner)])
            .create_physical_plan(logical_plan, session_state)
            .await
    }
}

/// Plans weir's logical extension nodes.
struct WeirExtensionPlanner;

#[async_trait]
impl ExtensionPlanner for WeirExtensionPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session_state: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(sink) = node.as_any().downcast_ref::<SinkNode>() else {
            return Ok(None);
        };
        let input = physical_inputs.first().cloned().ok_or_else(|| {
            datafusion::error::DataFusionError::Internal("WeirSink without input".into())
        })?;
        Ok(Some(Arc::new(ShardSinkExec::new(
            input,
            sink.sink().clone(),
        ))))
    }
}
