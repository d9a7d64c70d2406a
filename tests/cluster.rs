//! A real local Ballista cluster for tests: one `weir-scheduler` and N
//! `weir-executor` processes on 127.0.0.1 (free ports, their own work
//! directories), stopped by PID when dropped. The binaries are found in
//! the test executable's target directory: `cargo test --workspace` (what
//! `scripts/test` runs) builds them, because the scheduler and executor
//! crates have integration tests of their own.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The target directory's profile folder (`target/debug`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/it-xxxx -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps")
        .to_path_buf()
}

/// The path of workspace binary `name`; a clear failure when it was not
/// built (run the whole workspace's tests, or `cargo build --bins` first).
pub fn workspace_binary(name: &str) -> PathBuf {
    let path = profile_dir().join(name);
    assert!(
        path.exists(),
        "{} not found: run `cargo test --workspace` (scripts/test), or `cargo build --bins` before `cargo test -p weir-tests`",
        path.display()
    );
    path
}

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_port(port: u16, what: &str, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}) before listening on {port}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on {port} within 60 s");
}

/// One executor process of a [`LocalCluster`].
pub struct ExecutorProcess {
    /// The process.
    pub child: Child,
    /// Its Arrow Flight port.
    pub flight_port: u16,
    /// Its log file.
    pub log: PathBuf,
    /// False once killed.
    pub alive: bool,
}

/// A scheduler and executors on 127.0.0.1.
pub struct LocalCluster {
    scheduler: Child,
    /// The scheduler's log file.
    pub scheduler_log: PathBuf,
    /// The executors (killed ones stay listed).
    pub executors: Vec<ExecutorProcess>,
    /// `df://127.0.0.1:PORT`.
    pub url: String,
    port: u16,
    dir: tempfile::TempDir,
}

/// Settings of a [`LocalCluster`].
#[derive(Debug, Clone)]
pub struct LocalClusterOptions {
    /// Executor processes.
    pub executors: usize,
    /// Concurrent tasks per executor.
    pub concurrent_tasks: usize,
    /// Seconds without a heartbeat before the scheduler declares an
    /// executor dead.
    pub executor_timeout_seconds: u64,
    /// Executors' heartbeat interval.
    pub heartbeat_seconds: u64,
    /// Executors pull tasks (`pull-staged`) instead of the scheduler
    /// pushing them (`push-staged`, Ballista's default).
    pub pull: bool,
    /// Environment of the scheduler and every executor (object-store
    /// settings, say); each executor also gets a private `TMPDIR`
    /// ([`LocalCluster::executor_tmp`]).
    pub env: Vec<(String, String)>,
}

impl LocalClusterOptions {
    fn policy(&self) -> &'static str {
        if self.pull {
            "pull-staged"
        } else {
            "push-staged"
        }
    }
}

impl Default for LocalClusterOptions {
    fn default() -> Self {
        Self {
            executors: 2,
            concurrent_tasks: 2,
            executor_timeout_seconds: 180,
            heartbeat_seconds: 60,
            pull: true,
            env: Vec::new(),
        }
    }
}

impl LocalCluster {
    /// Starts a scheduler and `options.executors` executors and waits until
    /// each listens.
    pub fn start(options: LocalClusterOptions) -> Self {
        let dir = tempfile::tempdir().expect("cluster temp dir");
        let port = free_port();
        let scheduler_log = dir.path().join("scheduler.log");
        let mut scheduler = Command::new(workspace_binary("weir-scheduler"))
            .args(["--bind-host", "127.0.0.1", "--external-host", "127.0.0.1"])
            .args(["--bind-port", &port.to_string()])
            .args([
                "--executor-timeout-seconds",
                &options.executor_timeout_seconds.to_string(),
            ])
            .args(["--expire-dead-executor-interval-seconds", "1"])
            .args(["--scheduling-policy", options.policy()])
            .envs(options.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&scheduler_log).expect("scheduler log"))
            .spawn()
            .expect("start weir-scheduler");
        wait_port(port, "weir-scheduler", &mut scheduler, &scheduler_log);
        let mut cluster = LocalCluster {
            scheduler,
            scheduler_log,
            executors: Vec::new(),
            url: format!("df://127.0.0.1:{port}"),
            port,
            dir,
        };
        for _ in 0..options.executors {
            cluster.add_executor(&options);
        }
        cluster
    }

    /// Starts one more executor.
    pub fn add_executor(&mut self, options: &LocalClusterOptions) {
        let i = self.executors.len();
        let (flight, grpc) = (free_port(), free_port());
        let work = self.dir.path().join(format!("executor-{i}"));
        std::fs::create_dir_all(&work).expect("executor work dir");
        let tmp = self.executor_tmp(i);
        std::fs::create_dir_all(&tmp).expect("executor TMPDIR");
        let log = self.dir.path().join(format!("executor-{i}.log"));
        let mut child = Command::new(workspace_binary("weir-executor"))
            .args(["--bind-host", "127.0.0.1", "--external-host", "127.0.0.1"])
            .args(["--bind-port", &flight.to_string()])
            .args(["--bind-grpc-port", &grpc.to_string()])
            .args(["--scheduler-host", "127.0.0.1"])
            .args(["--scheduler-port", &self.port.to_string()])
            .args(["--concurrent-tasks", &options.concurrent_tasks.to_string()])
            .args(["--task-scheduling-policy", options.policy()])
            .args([
                "--executor-heartbeat-interval-seconds",
                &options.heartbeat_seconds.to_string(),
            ])
            .arg("--work-dir")
            .arg(&work)
            .envs(options.env.iter().map(|(k, v)| (k, v)))
            .env("TMPDIR", &tmp)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("executor log"))
            .spawn()
            .expect("start weir-executor");
        wait_port(flight, "weir-executor", &mut child, &log);
        if !options.pull {
            // A pulling executor runs no gRPC server.
            wait_port(grpc, "weir-executor", &mut child, &log);
        }
        self.executors.push(ExecutorProcess {
            child,
            flight_port: flight,
            log,
            alive: true,
        });
    }

    /// Executor `i`'s work directory (its shuffle files).
    pub fn executor_work(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("executor-{i}"))
    }

    /// Executor `i`'s private temporary directory (its `TMPDIR`).
    pub fn executor_tmp(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("executor-{i}-tmp"))
    }

    /// `kill -9` executor `i`.
    pub fn kill_executor(&mut self, i: usize) {
        let e = &mut self.executors[i];
        let _ = e.child.kill();
        let _ = e.child.wait();
        e.alive = false;
    }

    /// Every process's log, for a failing test's message.
    pub fn logs(&self) -> String {
        let mut out = format!(
            "--- scheduler\n{}",
            std::fs::read_to_string(&self.scheduler_log).unwrap_or_default()
        );
        for (i, e) in self.executors.iter().enumerate() {
            out += &format!(
                "--- executor {i}\n{}",
                std::fs::read_to_string(&e.log).unwrap_or_default()
            );
        }
        out
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for e in &mut self.executors {
            let _ = e.child.kill();
            let _ = e.child.wait();
        }
        let _ = self.scheduler.kill();
        let _ = self.scheduler.wait();
    }
}
