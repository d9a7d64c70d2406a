//! Errors of the plan layer, and their bridge into and out of DataFusion:
//! a weir error crosses a plan as `DataFusionError::External` and is
//! downcast back by [`PlanError::from`], never parsed from a string.

use datafusion::error::DataFusionError;
use weir_datasets::DatasetError;

/// Result alias for the plan layer.
pub type Result<T, E = PlanError> = std::result::Result<T, E>;

/// A plan-layer error: a dataset error passed up, or a problem of the run.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Reading, encoding or writing data failed.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// A bad option, or a cluster that cannot run the job.
    #[error("{0}")]
    Invalid(String),
    /// A broken invariant (lost or duplicated shuffle data, a vanished worker).
    #[error("internal error: {0}")]
    Internal(String),
}

/// A DataFusion error turned back into the weir error it carries, if any.
impl From<DataFusionError> for PlanError {
    fn from(e: DataFusionError) -> Self {
        match e {
            DataFusionError::External(inner) => match inner.downcast::<DatasetError>() {
                Ok(d) => PlanError::Dataset(*d),
                Err(other) => match other.downcast::<PlanError>() {
                    Ok(e) => *e,
                    Err(other) => PlanError::Invalid(other.to_string()),
                },
            },
            DataFusionError::Context(ctx, inner) => match PlanError::from(*inner) {
                PlanError::Dataset(d) => PlanError::Dataset(d),
                other => PlanError::Invalid(format!("{ctx}: {other}")),
            },
            other => PlanError::Invalid(other.to_string()),
        }
    }
}

/// A weir error inside a DataFusion plan: `External`, downcast back by
/// `From<DataFusionError>`.
impl From<PlanError> for DataFusionError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Dataset(d) => DataFusionError::External(Box::new(d)),
            other => DataFusionError::External(Box::new(other)),
        }
    }
}
