//! weir-validate's integration tests: a hand-built case for every anomaly
//! type weir raises — each raised on data that breaks the schema and not
//! raised on data that fits — plus environments, schema update and the
//! statistical tests.

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod dataset;
mod drift;
mod presence;
mod types;
mod util;
