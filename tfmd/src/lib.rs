//! tensorflow-metadata (TFMD) for weir, at the bottom of the workspace:
//! the messages of `statistics.proto` ([`statistics`], prost), the
//! protobuf text format ([`pbtxt`]: a parser into a generic tree and a
//! printer), and the typed `Schema` ([`schema`]) with the one
//! [`FeatureType`] every crate shares. `schema.pbtxt` is written in one
//! place: [`Schema::to_text`]. Anomalies (`anomalies.proto`) are built as
//! text-format trees by `weir-validate` with this crate's printer.
//!
//! No I/O beyond reading a named file, no Arrow, no DataFusion: `weir-validate`
//! and `weir-sql` depend on this crate, not on the I/O crate.

pub mod error;
mod feature_type;
pub mod pbtxt;
pub mod schema;
pub mod statistics;

pub use error::{Result, TfmdError};
pub use feature_type::FeatureType;
pub use schema::Schema;
