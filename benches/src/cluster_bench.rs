//! Cluster benchmark: the statistics pass over a TPC-H `lineitem`-shaped
//! Parquet table (default 6M rows × 16 columns), in-process against a local
//! Ballista cluster of one `weir-scheduler` and two `weir-executor`
//! processes on 127.0.0.1 (the release binaries beside this one), in the
//! same run; prints the ratio cluster / in-process and checks that both
//! wrote the same statistics bytes.
//!
//! Then (unless `--no-examplegen`) what `weir run --cluster` does first:
//! ExampleGen of the same file with every split's statistics, on a fresh
//! cluster each, (a) as two jobs (ExampleGen, then `weir stats --cluster`
//! over the written splits: the input read twice, as before fused
//! statistics ran on a cluster) and (b) fused (`examplegen --stats
//! --cluster`: one read), with the in-process fused run as the anchor;
//! prints seconds, the ratios and the executors' peak RSS, and checks that
//! both cluster runs give the same example counts and exact uniques.
//!
//! Usage: `cluster_bench [--rows N] [--dir DIR] [--tasks N] [--memory-limit SIZE] [--no-examplegen]`

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use weir_benches::arg;
use weir_engine::examplegen::StatsMode;
use weir_engine::stats::SplitStatistics;
use weir_engine::{ExampleGenBuilder, StatsBuilder};
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

impl Cluster {
    /// The executors' peak RSS so far, in MB, as `a / b`.
    fn executor_rss_mb(&self) -> String {
        self.children[1..]
            .iter()
            .map(|c| (weir_benches::peak_rss_of(&c.id().to_string()) >> 20).to_string())
            .collect::<Vec<_>>()
            .join(" / ")
    }
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
    let executor_rss = cluster.executor_rss_mb();
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
        executor_rss,
        limit.as_deref().unwrap_or("default (half of RAM)")
    );
    if !same {
        bail!("the cluster's statistics differ from in-process");
    }
    if !args.iter().any(|a| a == "--no-examplegen") {
        examplegen_with_statistics(&dir, &parquet, rows, tasks, limit.as_deref())?;
    }
    Ok(())
}

/// A split's name, examples, and each string feature's exact uniques.
type SplitCounts = (String, u64, Vec<(String, u64)>);

/// Per split (by name): examples, and exact uniques of string features.
fn counts(splits: &[SplitStatistics]) -> Vec<SplitCounts> {
    use weir_tfmd::statistics::Stats;
    let mut out: Vec<SplitCounts> = splits
        .iter()
        .map(|s| {
            let uniques = s
                .stats
                .features
                .iter()
                .filter_map(|f| match &f.stats {
                    Some(Stats::StringStats(x)) => Some((f.feature_name(), x.unique)),
                    _ => None,
                })
                .collect();
            (s.split.clone(), s.stats.num_examples, uniques)
        })
        .collect();
    out.sort();
    out
}

/// ExampleGen with statistics: two jobs against the fused job, each on a
/// fresh cluster, and in-process fused (see the module docs).
fn examplegen_with_statistics(
    dir: &Path,
    parquet: &Path,
    rows: usize,
    tasks: usize,
    limit: Option<&str>,
) -> Result<()> {
    let eg = |out: &Path| ExampleGenBuilder::new(parquet.to_string_lossy(), out);
    let rt = tokio::runtime::Runtime::new()?;

    let cluster = start_cluster(dir, 2, tasks, limit)?;
    let out = dir.join("cluster-bench-eg-two-jobs");
    let start = Instant::now();
    eg(&out)
        .with_execution(Execution::Cluster(cluster.url.clone()))
        .execute()?;
    let written = start.elapsed().as_secs_f64();
    let two = rt.block_on(
        StatsBuilder::new(out.to_string_lossy(), out.with_extension("stats"))
            .with_splits_from_input(true)
            .with_execution(Execution::Cluster(cluster.url.clone()))
            .execute(),
    )?;
    let two_jobs = start.elapsed().as_secs_f64();
    let two_rss = cluster.executor_rss_mb();
    drop(cluster);

    let cluster = start_cluster(dir, 2, tasks, limit)?;
    let start = Instant::now();
    let fused = eg(&dir.join("cluster-bench-eg-fused"))
        .with_stats(StatsMode::Exact)
        .with_execution(Execution::Cluster(cluster.url.clone()))
        .execute()?;
    let fused_s = start.elapsed().as_secs_f64();
    let fused_rss = cluster.executor_rss_mb();
    drop(cluster);

    let start = Instant::now();
    eg(&dir.join("cluster-bench-eg-local"))
        .with_stats(StatsMode::Exact)
        .execute()?;
    let local = start.elapsed().as_secs_f64();

    println!("ExampleGen (TFRecord, gzip 6) with exact statistics of the same {rows} rows");
    println!(
        "{:<52} {:>9} {:>20}",
        "run", "seconds", "executors' peak RSS"
    );
    println!(
        "{:<52} {:>9.2} {:>17} MB",
        format!(
            "cluster: examplegen, then stats ({written:.2} + {:.2})",
            two_jobs - written
        ),
        two_jobs,
        two_rss
    );
    println!(
        "{:<52} {:>9.2} {:>17} MB",
        "cluster: examplegen --stats (fused, one read)", fused_s, fused_rss
    );
    println!(
        "{:<52} {:>9.2}",
        "in-process: examplegen --stats (threaded)", local
    );
    println!(
        "ratio fused / two jobs = {:.2}; fused cluster / in-process = {:.2}",
        fused_s / two_jobs,
        fused_s / local
    );
    let fused_counts = counts(fused.statistics.as_deref().unwrap_or_default());
    let two_counts = counts(&two.splits);
    if fused_counts != two_counts {
        bail!("fused and two-job statistics differ in examples or uniques:\n{fused_counts:?}\n{two_counts:?}");
    }
    println!("same examples and exact uniques per split: true");
    Ok(())
}
