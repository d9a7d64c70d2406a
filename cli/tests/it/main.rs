//! Tests of the `weir` binary: help, exit codes, messages, kills.

mod cli;
mod object_store;
mod transform_cli;
