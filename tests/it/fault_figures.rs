//! Fault figures (issue 24): `kill -9` an executor of a real local cluster
//! (a) in the read/map stage of ExampleGen with fused exact statistics,
//! (b) in the value-count aggregation of `weir stats`' exact statistics,
//! (c) while a sink task of ExampleGen with fused statistics reduces its
//! value counts, writes and uploads its shard files to an object-store
//! output, with 1 and with 2
//! task slots per executor, and count the runs that gave the in-process
//! bytes, a clear error (and no output), a hang, or a different output
//! (duplicated or lost rows). The goal, asserted: no hang, no different
//! output.
//!
//! `WEIR_FAULT_RUNS` runs per case and slot count (default 1 in the test
//! command; the figures are `WEIR_FAULT_RUNS=10`), of the stages
//! `WEIR_FAULT_STAGES` lists (`Map,ValueCounts,Upload`; default all). Case (c) needs
//! the S3 test server (`scripts/test` starts moto).

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3;
use weir_engine::{ExampleGenBuilder, StatsBuilder};
use weir_plan::Execution;
use weir_tests::cluster::{LocalCluster, LocalClusterOptions};
use weir_tests::runtime;

use crate::cluster::{csv_input, fault_options, parquet_input, tree};
use crate::no_shared_disk::{bucket, files_under, objects, s3_endpoint, s3_env};

/// Where in the job the executor dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// ExampleGen's read/map stage: once the first map task's shuffle
    /// output is on an executor's disk.
    Map,
    /// The `(feature, value)` count of exact statistics: once 40% of an
    /// undisturbed run's shuffle files are on the executors' disks.
    ValueCounts,
    /// A sink task writing and uploading shards to S3: once an executor's
    /// `TMPDIR` holds an attempt.
    Upload,
}

/// How the runs of one case ended.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    same: usize,
    error: usize,
    hung: usize,
    different: usize,
}

/// A job of one case: runs into the output it is given.
type Job = Box<dyn Fn(String) -> Result<(), String> + Send + Sync>;

/// Whether a run's output (a path or URL) is the in-process bytes (`None`:
/// there is no output).
type SameOutput = Box<dyn Fn(&str) -> Option<bool>>;

/// What a case runs and how its output is compared.
struct Case {
    stage: Stage,
    job: Arc<Job>,
    /// The output of run `name` (a path or URL).
    output: Box<dyn Fn(&str) -> String>,
    /// Compares a run's output with the in-process one.
    same: SameOutput,
}

/// Files under `dir` that are not directories.
fn file_count(dir: &Path) -> usize {
    files_under(dir)
        .iter()
        .filter(|p| Path::new(p).is_file())
        .count()
}

/// Shuffle files on each executor's disk (a killed one's stay counted).
fn shuffle_files(cluster: &LocalCluster) -> Vec<usize> {
    (0..cluster.executors.len())
        .map(|i| file_count(&cluster.executor_work(i)))
        .collect()
}

/// The executor to kill for `stage`, once the moment has come (or the job
/// ended: `None`). Map and ValueCounts wait until `threshold` shuffle files
/// more than `baseline` are on the executors' disks, and kill the one with
/// the most new ones (its shuffle output is lost with it).
fn victim(
    cluster: &LocalCluster,
    stage: Stage,
    baseline: &[usize],
    threshold: usize,
    done: &dyn Fn() -> bool,
) -> Option<usize> {
    let live: Vec<usize> = (0..cluster.executors.len())
        .filter(|&i| cluster.executors[i].alive)
        .collect();
    loop {
        if done() {
            return None;
        }
        match stage {
            Stage::Map | Stage::ValueCounts => {
                let now = shuffle_files(cluster);
                let new: Vec<usize> = now
                    .iter()
                    .enumerate()
                    .map(|(i, n)| n.saturating_sub(baseline.get(i).copied().unwrap_or(0)))
                    .collect();
                if new.iter().sum::<usize>() >= threshold {
                    return live.iter().copied().max_by_key(|&i| new[i]);
                }
            }
            Stage::Upload => {
                let attempt = |i: usize| {
                    std::fs::read_dir(cluster.executor_tmp(i))
                        .into_iter()
                        .flatten()
                        .flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with("weir-attempt-"))
                };
                if let Some(&i) = live.iter().find(|&&i| attempt(i)) {
                    return Some(i);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Runs `case` `runs` times on a fresh cluster of 2 executors with `slots`
/// task slots each (its URL put into `url`, which the jobs read), killing
/// one executor per run.
fn figures(
    case: &Case,
    slots: usize,
    runs: usize,
    env: &[(String, String)],
    url: &Mutex<String>,
) -> Figures {
    let options = LocalClusterOptions {
        concurrent_tasks: slots,
        env: env.to_vec(),
        ..fault_options()
    };
    let mut cluster = LocalCluster::start(options.clone());
    *url.lock().unwrap() = cluster.url.clone();
    let before = shuffle_files(&cluster).iter().sum::<usize>();
    let first = (case.output)(&format!("undisturbed-{slots}"));
    (case.job)(first.clone()).unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!((case.same)(&first), Some(true), "the undisturbed run");
    // Map: at the first map task's shuffle output (mid-stage). Value
    // counts: at 40% of an undisturbed run's shuffle files, which the
    // (feature, value) count writes most of.
    let per_run = shuffle_files(&cluster).iter().sum::<usize>() - before;
    let threshold = match case.stage {
        Stage::ValueCounts => (per_run * 2 / 5).max(1),
        _ => 1,
    };
    let mut f = Figures::default();
    for run in 0..runs {
        let name = format!("{:?}-{slots}-{run}", case.stage);
        let out = (case.output)(&name);
        let (tx, rx) = mpsc::channel();
        let job = case.job.clone();
        let out2 = out.clone();
        let started = Instant::now();
        std::thread::spawn(move || {
            let _ = tx.send(job(out2));
        });
        let result = std::cell::RefCell::new(None);
        let done = || {
            if result.borrow().is_none() {
                if let Ok(r) = rx.try_recv() {
                    *result.borrow_mut() = Some(r);
                }
            }
            result.borrow().is_some()
        };
        let baseline = shuffle_files(&cluster);
        let killed = victim(&cluster, case.stage, &baseline, threshold, &done);
        let killed_at = started.elapsed();
        if let Some(i) = killed {
            cluster.kill_executor(i);
            cluster.add_executor(&options);
        }
        let result = match result.into_inner() {
            Some(r) => Some(r),
            None => rx.recv_timeout(Duration::from_secs(150)).ok(),
        };
        let outcome = match result {
            None => {
                f.hung += 1;
                "hung".to_string()
            }
            Some(Ok(())) if (case.same)(&out) == Some(true) => {
                f.same += 1;
                "in-process bytes".into()
            }
            Some(Ok(())) => {
                f.different += 1;
                "a different output".into()
            }
            Some(Err(e)) => {
                assert!(e.contains("cluster"), "{name}: unclear error: {e}");
                assert_eq!((case.same)(&out), None, "{name}: a failed run left output");
                f.error += 1;
                format!("error: {e}")
            }
        };
        println!(
            "{name}: killed {} after {:?}; ended after {:?}: {outcome}",
            killed.map_or("nothing (the job ended first)".into(), |i| format!(
                "executor {i}"
            )),
            killed_at,
            started.elapsed()
        );
    }
    f
}

/// Whether the local output `out` is the bytes of `expected`.
fn same_tree(expected: &Path, out: &Path) -> Option<bool> {
    out.exists().then(|| tree(expected) == tree(out))
}

/// Whether the S3 output under `prefix` is the bytes of `expected` (the
/// manifest compared without the output's own name and timings).
fn same_objects(store: &AmazonS3, expected: &[(String, Vec<u8>)], prefix: &str) -> Option<bool> {
    let got = objects(store, prefix);
    if !got.iter().any(|(k, _)| k == "manifest.json") {
        return None;
    }
    Some(got == expected)
}

/// ExampleGen with exact statistics (`--stats`: value counts reduced in
/// the sink tasks) of `input` in 4 shards, run by `execution`.
fn examplegen(input: &Path, out: &str, execution: Execution) -> weir_engine::Result<()> {
    ExampleGenBuilder::new(input.to_string_lossy(), PathBuf::from(out))
        .with_shards(4)
        .with_stats(weir_engine::examplegen::StatsMode::Exact)
        .with_dataflow(true)
        .with_execution(execution)
        .execute()
        .map(|_| ())
}

/// [`examplegen`] on the cluster whose URL `url` holds.
fn examplegen_job(input: PathBuf, url: Arc<Mutex<String>>) -> Job {
    Box::new(move |out| {
        let cluster = url.lock().unwrap().clone();
        examplegen(&input, &out, Execution::Cluster(cluster)).map_err(|e| e.to_string())
    })
}

#[test]
fn executor_kills_in_every_stage_never_hang_or_change_the_output() {
    let runs: usize = std::env::var("WEIR_FAULT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_path_buf();
    let csv = csv_input(&dir, 60_000, 4);
    let parquet = parquet_input(&dir);
    let mut cases: Vec<(Case, Vec<(String, String)>)> = Vec::new();

    // (a) ExampleGen, killed in its read/map stage.
    let expected = dir.join("eg-local");
    examplegen(&csv, &expected.to_string_lossy(), Execution::InProcess).unwrap();
    let url = Arc::new(Mutex::new(String::new()));
    let map_job = examplegen_job(csv.clone(), url.clone());
    let (d1, e1) = (dir.clone(), expected.clone());
    cases.push((
        Case {
            stage: Stage::Map,
            job: Arc::new(map_job),
            output: Box::new(move |n| d1.join(n).to_string_lossy().into_owned()),
            same: Box::new(move |o| same_tree(&e1, Path::new(o))),
        },
        Vec::new(),
    ));

    // (b) exact statistics, killed in the value-count aggregation.
    let expected = dir.join("stats-local");
    runtime()
        .block_on(
            StatsBuilder::new(parquet.to_string_lossy(), &expected)
                .with_splits_from_input(true)
                .execute(),
        )
        .unwrap();
    let job_url = url.clone();
    let input = parquet.clone();
    let stats_job: Job = Box::new(move |out| {
        let cluster = job_url.lock().unwrap().clone();
        runtime()
            .block_on(
                StatsBuilder::new(input.to_string_lossy(), PathBuf::from(out))
                    .with_splits_from_input(true)
                    .with_execution(Execution::Cluster(cluster))
                    .execute(),
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let (d2, e2) = (dir.clone(), expected.clone());
    cases.push((
        Case {
            stage: Stage::ValueCounts,
            job: Arc::new(stats_job),
            output: Box::new(move |n| d2.join(n).to_string_lossy().into_owned()),
            same: Box::new(move |o| {
                // statistics.parquet is the same rows; FeatureStats.pb the
                // same bytes.
                let p = Path::new(o);
                p.exists().then(|| {
                    ["Split-train", "Split-eval"].iter().all(|s| {
                        let f = format!("{s}/FeatureStats.pb");
                        std::fs::read(e2.join(&f)).ok() == std::fs::read(p.join(&f)).ok()
                    })
                })
            }),
        },
        Vec::new(),
    ));

    // (c) ExampleGen to S3, killed while a sink task writes and uploads.
    if let Some(s3) = s3_endpoint() {
        let (name, store) = bucket(&s3);
        weir_datasets::store::register(&format!("s3://{name}"), store.clone()).unwrap();
        let local = format!("s3://{name}/local");
        examplegen(&csv, &local, Execution::InProcess).unwrap();
        let expected = objects(&store, "local");
        let upload_job = examplegen_job(csv.clone(), url.clone());
        let n2 = name.clone();
        cases.push((
            Case {
                stage: Stage::Upload,
                job: Arc::new(upload_job),
                output: Box::new(move |n| format!("s3://{n2}/{n}")),
                same: Box::new(move |o| {
                    let prefix = o.split_once(&format!("{name}/")).map_or("", |x| x.1);
                    same_objects(&store, &expected, prefix)
                }),
            },
            s3_env(&s3),
        ));
    }

    let mut table = vec![
        "| stage | slots | runs | in-process bytes | clear error | hung | different |".to_string(),
        "|---|---|---|---|---|---|---|".to_string(),
    ];
    let mut bad = Vec::new();
    // `WEIR_FAULT_STAGES=ValueCounts,Upload` runs only those stages.
    let stages = std::env::var("WEIR_FAULT_STAGES").unwrap_or_default();
    for (case, env) in &cases {
        let stage = format!("{:?}", case.stage);
        if !stages.is_empty() && !stages.split(',').any(|s| s == stage) {
            continue;
        }
        for slots in [1, 2] {
            let f = figures(case, slots, runs, env, &url);
            table.push(format!(
                "| {:?} | {slots} | {runs} | {} | {} | {} | {} |",
                case.stage, f.same, f.error, f.hung, f.different
            ));
            if f.hung + f.different > 0 {
                bad.push(format!("{:?} with {slots} slots: {f:?}", case.stage));
            }
        }
    }
    println!("{}", table.join("\n"));
    assert!(bad.is_empty(), "{bad:?}");
}
