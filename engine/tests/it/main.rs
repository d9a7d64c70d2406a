//! Tests of the `weir` binary: help, exit codes, messages, kills.

mod cli;
mod transform_cli;
