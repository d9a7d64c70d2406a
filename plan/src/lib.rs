//! weir's plan layer: the DataFusion and Ballista plan pieces that every
//! weir process shares, and nothing that plans an operation.
//!
//! - [`scan`]: weir's inputs as a DataFusion table, split into fixed parts,
//!   optionally turned into other rows by a [`map::ScanMap`] as they are read;
//! - [`sink`]: the one sink node ([`sink::SinkNode`], planned as
//!   [`sink::ShardSinkExec`]) that writes a plan's rows as output shards
//!   through a [`sink::ShardSink`];
//! - [`commit`]: the task side of the exactly-once commit protocol (attempt
//!   directories, shard reports); [`attempts`]: its driver side
//!   ([`attempts::Attempts`]: run a sink plan, commit one attempt per shard);
//! - [`execution`]: where plans run (in-process or on Ballista), the
//!   sessions every process builds, the codecs and the query planner;
//! - [`kinds`]: the concrete scan maps and shard sinks that run inside
//!   tasks (ExampleGen's routing map and shard writer, Transform's part
//!   writer), listed in one place, the way DataFusion lists its functions.
//!   The generic modules (scan, map, sink, commit) never name a kind;
//!   [`execution`] (where sessions and codecs are assembled) resolves kinds
//!   by name when it decodes a plan.
//!
//! `weir-scheduler` and `weir-executor` depend on this crate, `weir-datasets`
//! and `weir-udfs` only; the operations that plan jobs live in `weir-engine`.

pub mod attempts;
pub mod commit;
pub mod error;
pub mod execution;
pub mod kinds;
pub mod map;
pub mod scan;
pub mod sink;

pub use error::{PlanError, Result};
pub use execution::{Execution, SchedulingPolicy};
