//! Tests of the `weir` binary: help, exit codes, messages, kills.

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod bad_input_corpus;
mod cli;
mod disk_full;
mod fault_proxy;
mod flight_sql;
mod object_store;
mod report;
mod serve;
mod transform_cli;
