//! weir-executor's command line (the cluster itself is tested end to end
//! in weir-tests' `cluster` module, which runs this binary).

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn help_explains_every_setting() {
    let out = Command::new(env!("CARGO_BIN_EXE_weir-executor"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--scheduler-host",
        "--scheduler-port",
        "--bind-port",
        "--bind-grpc-port",
        "--concurrent-tasks",
        "--work-dir",
        "--executor-heartbeat-interval-seconds",
        "--gcs-endpoint",
        "WEIR_EXECUTOR_CONCURRENT_TASKS",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}:\n{text}");
    }
}

#[test]
fn unreachable_scheduler_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_weir-executor"))
        .args(["--scheduler-host", "127.0.0.1", "--scheduler-port"])
        .arg(port.to_string())
        .args(["--scheduler-connect-timeout-seconds", "0"])
        .args(["--bind-port", "0", "--bind-grpc-port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("executor stopped"), "{err}");
}
