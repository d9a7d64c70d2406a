//! Cluster benchmark: the statistics pass over a TPC-H `lineitem`-shaped
//! Parquet table (default 6M rows × 16 columns), in-process against a local
//! Ballista cluster of one `weir-scheduler` and two `weir-executor`
//! processes on 127.0.0.1 (the release binaries beside this one), in the
//! same run; prints the ratio cluster / in-process and checks that both
//! wrote the same statistics bytes.
//!
//! Usage: `cluster_bench [--rows N] [--dir DIR] [--tasks N] [--memory-limit SIZE]`

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use weir_benches::arg;
use weir_engine::StatsBuilder;
use weir_plan::Execution;

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_port(port: u16, what: &str, child: &mut Child) -> Result<()> {
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Some(s) = child.try_wait()? {
            bail!("{what} exited ({s}) before listening on {port}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{what} did not listen on {port} within 60 s")
}

/// The scheduler and executors; killed on drop.
struct Cluster {
    children: Vec<Child>,
    url: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn start_cluster(
    dir: &Path,
    executors: usize,
    tasks: usize,
    limit: Option<&str>,
) -> Result<Cluster> {
    let bin = std::env::current_exe()?
        .parent()
        .context("binary folder")?
        .to_path_buf();
    let port = free_port()?;
    let mut scheduler = Command::new(bin.join("weir-scheduler"))
        .args(["--bind-host", "127.0.0.1", "--external-host", "127.0.0.1"])
        .args(["--bind-port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start weir-scheduler (build it: cargo build --release -p weir-scheduler)")?;
    wait_port(port, "weir-scheduler", &mut scheduler)?;
    let mut cluster = Cluster {
        children: vec![scheduler],
        url: format!("df://127.0.0.1:{port}"),
    };
    for i in 0..executors {
        let (flight, grpc) = (free_port()?, free_port()?);
        let work = dir.join(format!("executor-{i}"));
        std::fs::create_dir_all(&work)?;
        let mut child = Command::new(bin.join("weir-executor"))
            .args(["--bind-host", "127.0.0.1", "--external-host", "127.0.0.1"])
            .args(["--bind-port", &flight.to_string()])
            .args(["--bind-grpc-port", &grpc.to_string()])
            .args(["--scheduler-host", "127.0.0.1"])
            .args(["--scheduler-port", &port.to_string()])
            .args(["--concurrent-tasks", &tasks.to_string()])
            .arg("--work-dir")
            .arg(&work)
            .args(limit.map(|l| ["--memory-limit", l]).into_iter().flatten())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start weir-executor (build it: cargo build --release -p weir-executor)")?;
        wait_port(flight, "weir-executor", &mut child)?;
        cluster.children.push(child);
    }
    Ok(cluster)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let tasks: usize = arg(&args, "--tasks").map_or(Ok(1), |v| v.parse())?;
    let limit = weir_benches::memory_limit(&args)?;
    let weir_benches::LineitemBench {
        rows,
        dir,
        rt,
        parquet,
    } = weir_benches::LineitemBench::from_args(&args)?;
    let run = |execution: Execution, name: &str| -> Result<(f64, PathBuf)> {
        let out = dir.join(format!("cluster-bench-{name}"));
        let start = Instant::now();
        rt.block_on(
            StatsBuilder::new(parquet.to_string_lossy(), &out)
                .with_execution(execution)
                .execute(),
        )?;
        Ok((start.elapsed().as_secs_f64(), out))
    };
    let (local, local_out) = run(Execution::InProcess, "local")?;
    let local_rss = weir_benches::peak_rss();
    let cluster = start_cluster(&dir, 2, tasks, limit.as_deref())?;
    let (remote, remote_out) = run(Execution::Cluster(cluster.url.clone()), "cluster")?;
    let executor_rss: Vec<u64> = cluster.children[1..]
        .iter()
        .map(|c| weir_benches::peak_rss_of(&c.id().to_string()))
        .collect();
    drop(cluster);
    let pb = |d: &Path| std::fs::read(d.join("Split-all/FeatureStats.pb"));
    let same = pb(&local_out)? == pb(&remote_out)?;
    println!(
        "cluster benchmark: statistics of {rows} rows x 16 columns ({})",
        parquet.display()
    );
    println!("{:<44} {:>9} {:>12}", "run", "seconds", "rows/s");
    println!(
        "{:<44} {:>9.2} {:>12.0}",
        "in-process",
        local,
        rows as f64 / local
    );
    println!(
        "{:<44} {:>9.2} {:>12.0}",
        format!("cluster: 2 executors x {tasks} task slots"),
        remote,
        rows as f64 / remote
    );
    println!(
        "ratio cluster / in-process = {:.2} (target <= 1.3); same FeatureStats.pb bytes: {same}",
        remote / local
    );
    println!(
        "peak RSS: in-process {} MB (this process, which also made the file); executors {} MB; memory limit {}",
        local_rss >> 20,
        executor_rss
            .iter()
            .map(|r| (r >> 20).to_string())
            .collect::<Vec<_>>()
            .join(" / "),
        limit.as_deref().unwrap_or("default (half of RAM)")
    );
    if !same {
        bail!("the cluster's statistics differ from in-process");
    }
    Ok(())
}
