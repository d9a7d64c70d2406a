//! Errors of the engine.

use datafusion::error::DataFusionError;
use weir_datasets::DatasetError;

/// Result alias for the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// An engine error: a dataset error passed up, or a problem of the run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Reading, encoding or writing data failed.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// Reading or checking statistics, schemas or anomalies failed.
    #[error(transparent)]
    Validate(#[from] weir_validate::ValidateError),
    /// A bad option or combination of options.
    #[error("{0}")]
    Invalid(String),
    /// A dataset, split or other named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A request a read-only or confined service refuses (the message
    /// names the rule).
    #[error("{0}")]
    Forbidden(String),
    /// A request over a configured limit of memory.
    #[error("{0}")]
    OverLimit(String),
    /// A request that ran past its time limit (and was cancelled).
    #[error("{0}")]
    TimedOut(String),
    /// A request made against a version of the data that has changed.
    #[error("{0}")]
    Stale(String),
    /// A worker thread failed or vanished.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A schema file that cannot be read, as validation reports it.
impl From<weir_tfmd::TfmdError> for EngineError {
    fn from(e: weir_tfmd::TfmdError) -> Self {
        EngineError::Validate(e.into())
    }
}

/// A plan-layer error as the engine reports it (the same variants).
impl From<weir_plan::PlanError> for EngineError {
    fn from(e: weir_plan::PlanError) -> Self {
        match e {
            weir_plan::PlanError::Dataset(d) => EngineError::Dataset(d),
            weir_plan::PlanError::Invalid(m) => EngineError::Invalid(m),
            weir_plan::PlanError::Internal(m) => EngineError::Internal(m),
        }
    }
}

/// A DataFusion error turned back into the weir error it carries, if
/// any: an engine error, else what the plan layer's bridge
/// (`PlanError::from`: dataset and plan errors) recovers. Downcast, never
/// parsed from strings.
impl From<DataFusionError> for EngineError {
    fn from(e: DataFusionError) -> Self {
        match e {
            DataFusionError::External(inner) => match inner.downcast::<EngineError>() {
                Ok(e) => *e,
                Err(other) => weir_plan::PlanError::from(DataFusionError::External(other)).into(),
            },
            DataFusionError::Context(ctx, inner) => match EngineError::from(*inner) {
                EngineError::Dataset(d) => EngineError::Dataset(d),
                other => EngineError::Invalid(format!("{ctx}: {other}")),
            },
            other => weir_plan::PlanError::from(other).into(),
        }
    }
}

/// An engine error inside a DataFusion plan: `External`, downcast back by
/// `From<DataFusionError>`.
impl From<EngineError> for DataFusionError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Dataset(d) => DataFusionError::External(Box::new(d)),
            other => DataFusionError::External(Box::new(other)),
        }
    }
}
