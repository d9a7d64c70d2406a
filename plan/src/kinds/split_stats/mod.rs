//! Statistics computed inside ExampleGen's distributed plan, the task side
//! and the pieces the driver merges with:
//!
//! - [`columns`]: which features have statistics;
//! - [`accumulators`]: every split's one-row accumulators and their partial
//!   states, which each map part emits once;
//! - [`values`]: exact uniques and top values as counts combined in the
//!   map, reduced in the shard that their key's hash picks;
//! - [`summary`]: what a shard reports of both.
//!
//! The in-process splitter uses the same accumulators
//! ([`StringMode::Exact`]); `weir-engine` turns the results into TFDV's
//! protos.

pub mod accumulators;
pub mod columns;
pub mod summary;
pub mod values;

pub use accumulators::{ColumnResults, SplitAccumulators, SplitResults, StringMode};
pub use columns::{stats_columns, StatsColumn};
pub use summary::ShardStats;
pub use values::{merge_counts, ValueCombiner, ValueReducer};
