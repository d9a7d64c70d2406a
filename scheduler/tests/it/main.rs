//! weir-scheduler's command line (the cluster itself is tested end to end
//! in weir-tests' `cluster` module, which runs this binary).

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn help_explains_every_setting() {
    let out = Command::new(env!("CARGO_BIN_EXE_weir-scheduler"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--bind-host",
        "--bind-port",
        "--external-host",
        "--scheduling-policy",
        "--executor-timeout-seconds",
        "--task-max-failures",
        "--s3-endpoint",
        "WEIR_SCHEDULER_BIND_PORT",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}:\n{text}");
    }
}

#[test]
fn bad_bind_address_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_weir-scheduler"))
        .args(["--bind-host", "not an address"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad bind address"), "{err}");
}
