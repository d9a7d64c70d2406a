//! Tests of weir's DataFusion functions through SQL.

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod stats;
