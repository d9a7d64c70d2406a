//! weir-sql's integration tests: the `.slt` files under `tests/slt/`, run
//! with sqllogictest against a session where every SELECT goes through the
//! transform planner (analyze, then apply).

mod slt;
