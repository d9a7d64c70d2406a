//! weir's operations: the components of an ML data pipeline (ExampleGen,
//! StatisticsGen, SchemaGen and ExampleValidator through `weir-validate`,
//! Transform through `weir-sql`) and the pipelines that chain them over
//! daily spans. Each operation is a `*Builder`; each plans its work on
//! `weir-plan`'s pieces and runs it in-process or on a Ballista cluster
//! ([`weir_plan::Execution`]). The `weir` binary (`weir-cli`) is a thin
//! layer over these builders.

pub mod error;
pub mod examplegen;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod serve;
pub mod stats;
pub mod transform;

pub use error::{EngineError, Result};
pub use examplegen::{ExampleGenBuilder, ExampleGenSummary};
pub use stats::{StatsBuilder, StatsSummary};
pub use transform::{ApplyBuilder, TransformBuilder, TransformSummary};
pub use weir_datasets::sink::OutputFormat;
pub use weir_plan::Execution;
