//! weir's transform SQL: one query over the raw features in which
//! TF-Transform's analyzers (`scale_to_z_score`, `compute_and_apply_vocabulary`,
//! `bucketize`, `scale_to_0_1`, `scale_by_min_max`) are ordinary-looking
//! function calls. [`analyze`] plans the query, evaluates every analyzer in
//! one aggregate pass over the analyze data, and freezes the results into
//! constants ([`FrozenTransform`]); [`FrozenTransform::apply`] plans the same
//! query over any data with each analyzer call replaced by a mapper
//! expression over those constants — the same preprocessing for training
//! data, trainers and serving.

pub mod analyzers;
mod planner;

pub use planner::{analyze, register_analyzers, FrozenTransform, Vocabulary};

/// Errors of transform planning.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// The SQL is not a transform weir can plan.
    #[error("transform SQL: {0}")]
    Plan(String),
    /// DataFusion failed.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, TransformError>;
