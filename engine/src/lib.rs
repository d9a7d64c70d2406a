//! weir's engine: the components of an ML data pipeline (ExampleGen first)
//! built on `weir-datasets`, each an operation with a `*Builder`.

pub mod cluster;
pub mod commit;
pub mod error;
pub mod examplegen;
pub mod pipeline;
pub mod progress;
pub mod scan;
pub mod sink_node;
pub mod stats;
pub mod store_args;
pub mod transform;
pub mod transform_sink;

pub use error::{EngineError, Result};
pub use examplegen::{ExampleGenBuilder, ExampleGenSummary, OutputFormat};
pub use stats::{StatsBuilder, StatsSummary};
pub use transform::{ApplyBuilder, TransformBuilder, TransformSummary};
