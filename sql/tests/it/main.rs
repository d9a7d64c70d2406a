//! weir-sql's integration tests: the `.slt` files under `tests/slt/`, run
//! with sqllogictest against a session where every SELECT goes through the
//! transform planner (analyze, then apply).

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod slt;
