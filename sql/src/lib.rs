//! weir's transform SQL: one query over the raw features in which
//! TF-Transform's analyzers (`scale_to_z_score`, `scale_to_0_1`,
//! `scale_by_min_max`, `compute_and_apply_vocabulary`, `vocabulary`,
//! `bucketize`, `quantiles`, `mean`, `var`, `min`, `max`, `sum`, `size`)
//! are ordinary-looking function calls. [`analyze`] plans the query, evaluates every analyzer in
//! one aggregate pass over the analyze data, and freezes the results into
//! constants ([`FrozenTransform`]); [`FrozenTransform::apply`] plans the same
//! query over any data with each analyzer call replaced by a mapper
//! expression over those constants — the same preprocessing for training
//! data, trainers and serving.

pub mod analyzers;
pub mod artifact;
mod frozen;
pub mod onnx;
mod planner;
pub mod rewrite;

pub use artifact::TransformArtifact;
pub use frozen::{Frozen, JsonF64, Number, Vocabulary};
pub use planner::{
    analyze, plan_projection, register_analyzers, resolve_vocabularies, FrozenTransform,
    TransformPlan, BUCKETIZE_KLL_K,
};

/// Errors of transform planning.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// The SQL is not a transform weir can plan.
    #[error("transform SQL: {0}")]
    Plan(String),
    /// DataFusion failed.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Reading or writing a file failed (the message names it).
    #[error("{0}")]
    Io(String),
    /// An artifact file is not what weir wrote.
    #[error("{path}: {message}", path = .0.display(), message = .1)]
    Artifact(std::path::PathBuf, String),
    /// Part of the transform has no ONNX form.
    #[error("not exportable to ONNX: {0}")]
    Onnx(String),
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, TransformError>;
