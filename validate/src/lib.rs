//! weir's validation, compatible with TensorFlow Data Validation: schema
//! inference from statistics ([`infer_schema`]), schema update
//! ([`update_schema`]), anomaly detection against a schema with drift and
//! skew comparators ([`ValidateBuilder`]), and weir's statistical tests
//! (chi-square, Kolmogorov-Smirnov) and threshold suggestions.
//!
//! Validation reads statistics (`DatasetFeatureStatisticsList`), never raw
//! data. As in TFDV, validating is "updating a copy of the schema until the
//! data fits": each change that update makes is an anomaly, so
//! [`update_schema`] and [`ValidateBuilder`] share one set of rules
//! ([`rules`]).

pub mod anomalies;
mod comparators;
mod context;
mod domains;
pub mod error;
pub mod infer;
pub mod metrics;
pub mod rules;
pub mod stats_view;
pub mod suggest;
pub mod validator;

pub use anomalies::{Anomalies, AnomalyType, Severity};
pub use error::{Result, ValidateError};
pub use infer::{infer_schema, update_schema, InferOptions};
pub use stats_view::{read_statistics, DatasetView};
pub use validator::ValidateBuilder;
/// The schema model and its text format live in `weir-tfmd`, shared with
/// the data and transform layers.
pub use weir_tfmd::schema;
pub use weir_tfmd::Schema;
