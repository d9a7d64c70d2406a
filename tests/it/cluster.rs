//! The Ballista cluster: a real `weir-scheduler` and two `weir-executor`
//! processes on 127.0.0.1 run the same plans as in-process mode and write
//! the same bytes; weir's plan nodes and functions round-trip through the
//! codecs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::physical_plan::displayable;
use datafusion_proto::bytes::{
    logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
    physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
};
use weir_engine::{ApplyBuilder, ExampleGenBuilder, OutputFormat, StatsBuilder, TransformBuilder};
use weir_plan::execution::{session, WeirLogicalCodec, WeirPhysicalCodec};
use weir_plan::scan::SourceTable;
use weir_plan::Execution;
use weir_tests::cluster::{LocalCluster, LocalClusterOptions};
use weir_tests::{runtime, testdata};

/// Every file under `dir`, relative path to bytes.
pub(crate) fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

fn assert_same_tree(local: &Path, cluster: &Path, what: &str) {
    let (a, b) = (tree(local), tree(cluster));
    assert_eq!(
        a.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        b.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        "{what}: different files"
    );
    for ((p, x), (_, y)) in a.iter().zip(&b) {
        assert!(
            x == y,
            "{what}: {} differs between in-process and cluster",
            p.display()
        );
    }
}

/// A Parquet input of 4 files (examplegen's Parquet output of 60k
/// taxi-like rows), so a scan has several partitions to spread.
pub(crate) fn parquet_input(dir: &Path) -> PathBuf {
    let csv = dir.join("taxi.csv");
    weir_datasets::synth::write_taxi_csv(
        &mut std::io::BufWriter::new(std::fs::File::create(&csv).unwrap()),
        60_000,
        7,
    )
    .unwrap();
    let eg = dir.join("eg");
    weir_engine::ExampleGenBuilder::new(csv.to_string_lossy(), &eg)
        .with_output_format(weir_engine::OutputFormat::Parquet)
        .with_shards(4)
        .execute()
        .unwrap();
    eg
}

#[test]
fn statistics_on_a_cluster_are_the_bytes_of_in_process() {
    let cluster = LocalCluster::start(LocalClusterOptions::default());
    let d = tempfile::tempdir().unwrap();
    let rt = runtime();
    let taxi = testdata().join("csv_example_gen");
    let parquet = parquet_input(d.path());
    // SequenceExamples: the payload format travels from the ExampleGen
    // manifest to the executors' reads, and valency_stats' partial states
    // through the codecs.
    let sequence = d.path().join("seq");
    weir_engine::ExampleGenBuilder::new(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tfdv/sequence/baseline.tfrecord.gz")
            .to_string_lossy(),
        &sequence,
    )
    .with_payload_format(weir_datasets::example::PayloadFormat::SequenceExample)
    .with_shards(3)
    .execute()
    .unwrap();
    for (name, input, approx) in [
        ("taxi", taxi.as_path(), false),
        ("parquet", parquet.as_path(), false),
        ("parquet-approx", parquet.as_path(), true),
        ("sequence", sequence.as_path(), false),
    ] {
        let run = |out: &str, execution: Execution| {
            let out = d.path().join(format!("{name}-{out}"));
            rt.block_on(
                StatsBuilder::new(input.to_string_lossy(), &out)
                    .with_splits_from_input(true)
                    .with_approx(approx)
                    .with_execution(execution)
                    .execute(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", cluster.logs()));
            out
        };
        let local = run("local", Execution::InProcess);
        let remote = run("cluster", Execution::Cluster(cluster.url.clone()));
        assert_same_tree(&local, &remote, name);
    }
}

#[test]
fn cluster_flag_rejects_other_urls() {
    let err = Execution::from_flag(Some("http://localhost:50050")).unwrap_err();
    assert!(err.to_string().contains("df://HOST:PORT"), "{err}");
}

/// Every weir aggregate and scalar function, over a weir scan, survives
/// the logical and the physical codec: the decoded plans print the same.
#[test]
fn every_weir_function_and_node_round_trips_through_the_codecs() {
    let rt = runtime();
    rt.block_on(async {
        let table = SourceTable::open(weir_tests::taxi_eval_split()).unwrap();
        let ctx = session::local_context();
        ctx.register_table("raw", Arc::new(table)).unwrap();
        // One call of each function weir defines (udfs::all_udafs/all_udfs).
        let sql = "WITH t AS (SELECT CAST(company AS VARCHAR) AS c, fare FROM raw), \
            w AS (SELECT c, fare, string_to_array(c, ' ') AS tokens FROM t) \
            SELECT common_stats(fare), numeric_stats(fare), string_stats(c), \
            string_stats_approx(c), string_totals(c), top_by_count(c, 2), \
            valency_stats(make_array(tokens)), vocabulary_counts(c), \
            document_frequencies(apply_vocabulary(tokens, ['a', 'b'], 1)), \
            max(apply_vocabulary(c, ['a', 'b'], 1)), \
            max(apply_buckets(fare, [1.0, 2.0])), \
            max(hash_strings(c, 8)), \
            max(cardinality(ngrams(tokens, 1, 2))), \
            max(cardinality(bag_of_words(tokens, 1, 2))), \
            max(cardinality(apply_tfidf(apply_vocabulary(tokens, ['a'], 1), [1.0, 1.0])['index'])) \
            FROM w";
        let df = ctx.sql(sql).await.unwrap();
        let logical = df.clone().into_optimized_plan().unwrap();
        let names: Vec<String> = weir_udfs::all_udafs()
            .iter()
            .map(|f| f.name().to_string())
            .chain(weir_udfs::all_udfs().iter().map(|f| f.name().to_string()))
            .collect();
        let text = logical.display_indent().to_string();
        for n in &names {
            assert!(text.contains(n), "the test query lacks {n}:\n{text}");
        }
        let lcodec = WeirLogicalCodec::default();
        let bytes = logical_plan_to_bytes_with_extension_codec(&logical, &lcodec).unwrap();
        let back =
            logical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &lcodec).unwrap();
        assert_eq!(
            logical.display_indent_schema().to_string(),
            back.display_indent_schema().to_string()
        );

        let physical = df.create_physical_plan().await.unwrap();
        let pcodec = WeirPhysicalCodec::default();
        let bytes = physical_plan_to_bytes_with_extension_codec(physical.clone(), &pcodec).unwrap();
        let back = physical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &pcodec)
            .unwrap();
        let (a, b) = (
            displayable(physical.as_ref()).indent(true).to_string(),
            displayable(back.as_ref()).indent(true).to_string(),
        );
        assert_eq!(a, b);
        assert!(a.contains("weir-unit-11"), "{a}");
        // And the decoded plan runs.
        let batches = datafusion::physical_plan::collect(back, ctx.task_ctx())
            .await
            .unwrap();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    });
}

/// When a fault test kills an executor.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// At this fraction of an undisturbed run's time.
    At(f64),
    /// Once sink tasks have this many shard files in their attempt
    /// directories (beside the output): in the middle of the sink stage.
    SinkFiles(usize),
}

/// Files under the attempt directories of the output `out`.
fn attempt_files(out: &Path) -> usize {
    let prefix = format!(
        ".{}.weir-attempts-",
        out.file_name().unwrap().to_string_lossy()
    );
    let Ok(entries) = std::fs::read_dir(out.parent().unwrap()) else {
        return 0;
    };
    let mut n = 0;
    let mut stack: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(_) => n += 1,
                Err(_) => {}
            }
        }
    }
    n
}

/// Runs `job` (into the output folder it is given) on `cluster` once per
/// entry of `kills`, killing the longest-running executor at that point
/// and starting a replacement. Every run must end
/// within a bound with the bytes of `expected` or with a clear error and no
/// output; never a hang, never a different answer. Returns how many runs
/// recovered.
fn kill_during_runs(
    cluster: &mut LocalCluster,
    options: &LocalClusterOptions,
    dir: &Path,
    expected: &Path,
    kills: &[Kill],
    job: impl Fn(PathBuf) -> Result<(), String> + Clone + Send + 'static,
) -> usize {
    // One undisturbed cluster run times the job, so the kills land inside it.
    let timed = std::time::Instant::now();
    let undisturbed = dir.join("undisturbed");
    job(undisturbed.clone()).unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    let job_time = timed.elapsed();
    assert_same_tree(expected, &undisturbed, "undisturbed run");
    let mut recovered = 0;
    for (run, kill) in kills.iter().enumerate() {
        let out = dir.join(format!("cluster-{run}"));
        let submitted = std::time::Instant::now();
        let (job, out2) = (job.clone(), out.clone());
        let handle = std::thread::spawn(move || job(out2));
        match *kill {
            Kill::At(fraction) => std::thread::sleep(job_time.mul_f64(fraction)),
            Kill::SinkFiles(k) => {
                while attempt_files(&out) < k && !handle.is_finished() {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                if handle.is_finished() {
                    println!("run {run}: the job ended before {k} shard files were written");
                }
            }
        }
        let victim = cluster
            .executors
            .iter()
            .position(|e| e.alive)
            .expect("a live executor");
        cluster.kill_executor(victim);
        cluster.add_executor(options);
        let killed_at = submitted.elapsed();
        let result = handle.join().unwrap();
        println!(
            "run {run} ({kill:?}): executor killed {killed_at:?} after submission; job ended after {:?}: {}",
            submitted.elapsed(),
            match &result {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("error: {e}"),
            }
        );
        assert!(
            submitted.elapsed() < std::time::Duration::from_secs(150),
            "run {run} took {:?}",
            submitted.elapsed()
        );
        match result {
            Ok(()) => {
                assert_same_tree(expected, &out, &format!("run {run}"));
                recovered += 1;
            }
            Err(msg) => {
                if std::env::var_os("WEIR_TEST_CLUSTER_LOGS").is_some() {
                    std::fs::write(format!("/tmp/weir-cluster-run-{run}.log"), cluster.logs())
                        .unwrap();
                }
                assert!(msg.contains("cluster"), "run {run}: unclear error: {msg}");
                assert!(!out.exists(), "run {run}: a failed run left output");
            }
        }
    }
    println!(
        "executor killed mid-job (undisturbed job {job_time:?}): {recovered}/{} runs recovered with in-process bytes",
        kills.len()
    );
    recovered
}

/// Options of a cluster whose fault tests end quickly: a short watchdog,
/// fast heartbeats and a short executor timeout.
pub(crate) fn fault_options() -> LocalClusterOptions {
    // The watchdog resubmits a job with no result after 15 s (the jobs
    // themselves take a few seconds at most).
    std::env::set_var("WEIR_CLUSTER_JOB_TIMEOUT", "15");
    LocalClusterOptions {
        executors: 2,
        concurrent_tasks: 1,
        executor_timeout_seconds: 4,
        heartbeat_seconds: 1,
        ..Default::default()
    }
}

/// `kill -9` one executor while `weir stats --cluster` runs, at three points
/// of the job (the read/map stage and the final aggregate).
#[test]
fn statistics_survive_an_executor_killed_mid_job() {
    let options = fault_options();
    let mut cluster = LocalCluster::start(options.clone());
    let d = tempfile::tempdir().unwrap();
    let input = parquet_input(d.path());
    let local = d.path().join("local");
    runtime()
        .block_on(
            StatsBuilder::new(input.to_string_lossy(), &local)
                .with_splits_from_input(true)
                .execute(),
        )
        .unwrap();
    let url = cluster.url.clone();
    let job = move |out: PathBuf| {
        runtime()
            .block_on(
                StatsBuilder::new(input.to_string_lossy(), &out)
                    .with_splits_from_input(true)
                    .with_execution(Execution::Cluster(url.clone()))
                    .execute(),
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let recovered = kill_during_runs(
        &mut cluster,
        &options,
        d.path(),
        &local,
        &[Kill::At(0.15), Kill::At(0.45), Kill::At(0.75)],
        job,
    );
    assert!(recovered > 0, "no run recovered\n{}", cluster.logs());
}

/// A CSV input of `rows` taxi-like rows in `files` files.
pub(crate) fn csv_input(dir: &Path, rows: usize, files: usize) -> PathBuf {
    let input = dir.join("csv");
    std::fs::create_dir_all(&input).unwrap();
    for f in 0..files {
        weir_datasets::synth::write_taxi_csv(
            &mut std::io::BufWriter::new(
                std::fs::File::create(input.join(format!("part-{f}.csv"))).unwrap(),
            ),
            rows / files,
            f as u64,
        )
        .unwrap();
    }
    input
}

/// `weir examplegen --cluster` writes the bytes of in-process ExampleGen
/// (TFX's taxi CSV to TFRecord; a 3-file CSV to Parquet; TFX's TFRecord
/// splits kept from the input).
#[test]
fn examplegen_on_a_cluster_is_the_bytes_of_in_process() {
    let cluster = LocalCluster::start(LocalClusterOptions::default());
    let d = tempfile::tempdir().unwrap();
    let (taxi, csv, tfx) = examplegen_inputs(d.path());
    let cases: ExampleGenCases = vec![
        ("taxi-tfrecord", &taxi, |b| b.with_shards(3)),
        ("csv-parquet", &csv, |b| {
            b.with_shards(4).with_output_format(OutputFormat::Parquet)
        }),
        ("tfx-splits", &tfx, |b| b.with_split_from_input(true)),
    ];
    examplegen_cases_match(&cluster, d.path(), cases, false);
}

/// The inputs of the ExampleGen comparisons: TFX's taxi CSV, a 3-file
/// CSV of 30k rows (made under `dir`) and TFX's TFRecord splits.
fn examplegen_inputs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        testdata().join("taxi/examplegen_input"),
        csv_input(dir, 30_000, 3),
        testdata().join("csv_example_gen"),
    )
}

/// ExampleGen setups of named inputs.
type ExampleGenCases<'a> = Vec<(
    &'a str,
    &'a Path,
    fn(ExampleGenBuilder) -> ExampleGenBuilder,
)>;

/// Runs each case in-process (the threaded splitter, or with `dataflow`
/// the cluster's plan) and on `cluster` under `dir`, and asserts that the
/// two outputs are the same files and bytes.
fn examplegen_cases_match(
    cluster: &LocalCluster,
    dir: &Path,
    cases: ExampleGenCases<'_>,
    dataflow: bool,
) {
    for (name, input, setup) in cases {
        let run = |mode: &str, execution: Execution| {
            let out = dir.join(format!("{name}-{mode}"));
            setup(ExampleGenBuilder::new(input.to_string_lossy(), &out))
                .with_execution(execution)
                .with_dataflow(dataflow)
                .execute()
                .unwrap_or_else(|e| panic!("{name} {mode}: {e}\n{}", cluster.logs()));
            out
        };
        let local = run("local", Execution::InProcess);
        let remote = run("cluster", Execution::Cluster(cluster.url.clone()));
        assert_same_tree(&local, &remote, name);
    }
}

/// `weir examplegen --stats --cluster` computes every split's statistics
/// in the read that writes the splits, and its whole output, statistics
/// included, is the bytes of the same plan run in-process (exact and
/// approximate; CSV to TFRecord and to Parquet; TFX's TFRecord splits).
#[test]
fn fused_statistics_on_a_cluster_are_the_bytes_of_the_plan_in_process() {
    use weir_engine::examplegen::StatsMode;
    let cluster = LocalCluster::start(LocalClusterOptions::default());
    let d = tempfile::tempdir().unwrap();
    let (taxi, csv, tfx) = examplegen_inputs(d.path());
    let cases: ExampleGenCases = vec![
        ("taxi-exact", &taxi, |b| {
            b.with_shards(3).with_stats(StatsMode::Exact)
        }),
        ("csv-parquet-exact", &csv, |b| {
            b.with_shards(4)
                .with_output_format(OutputFormat::Parquet)
                .with_stats(StatsMode::Exact)
        }),
        ("csv-approx", &csv, |b| {
            b.with_shards(2).with_stats(StatsMode::Approx)
        }),
        ("tfx-splits-exact", &tfx, |b| {
            b.with_split_from_input(true).with_stats(StatsMode::Exact)
        }),
    ];
    let names: Vec<&str> = cases.iter().map(|c| c.0).collect();
    examplegen_cases_match(&cluster, d.path(), cases, true);
    for name in names {
        let stats = d.path().join(format!("{name}-cluster/statistics"));
        assert!(stats.join("Split-train/FeatureStats.pb").exists(), "{name}");
    }
}

/// `weir transform --cluster` (analyze + apply of TFX's taxi preprocessing
/// over TFX's ExampleGen splits) and `weir transform apply --cluster` write
/// the bytes of in-process, artifact included.
#[test]
fn transform_on_a_cluster_is_the_bytes_of_in_process() {
    let cluster = LocalCluster::start(LocalClusterOptions::default());
    let d = tempfile::tempdir().unwrap();
    let rt = runtime();
    let input = testdata().join("csv_example_gen");
    for format in [OutputFormat::Tfrecord, OutputFormat::Parquet] {
        let name = format!("{format:?}");
        let run = |mode: &str, execution: Execution| {
            let out = d.path().join(format!("transform-{name}-{mode}"));
            rt.block_on(
                TransformBuilder::new(crate::transform::TAXI_SQL, &input, &out)
                    .with_output_format(format)
                    .with_execution(execution)
                    .execute(),
            )
            .unwrap_or_else(|e| panic!("transform {name} {mode}: {e}\n{}", cluster.logs()));
            out
        };
        let local = run("local", Execution::InProcess);
        let remote = run("cluster", Execution::Cluster(cluster.url.clone()));
        // The manifest holds timings; every data file and the artifact
        // must be the same bytes.
        let json = |dir: &Path| {
            std::fs::read_to_string(dir.join("transform_graph/transform.json")).unwrap()
        };
        let (a, b) = (json(&local), json(&remote));
        if a != b {
            let diff: Vec<_> = a
                .lines()
                .zip(b.lines())
                .filter(|(x, y)| x != y)
                .take(10)
                .collect();
            panic!("transform.json differs: {diff:#?}");
        }
        std::fs::remove_file(local.join("manifest.json")).unwrap();
        std::fs::remove_file(remote.join("manifest.json")).unwrap();
        assert_same_tree(&local, &remote, &format!("transform {name}"));
        let apply = |mode: &str, execution: Execution| {
            let out = d.path().join(format!("apply-{name}-{mode}"));
            rt.block_on(
                ApplyBuilder::new(&local, input.join("Split-eval").to_string_lossy(), &out)
                    .with_output_format(format)
                    .with_execution(execution)
                    .execute(),
            )
            .unwrap_or_else(|e| panic!("apply {name} {mode}: {e}\n{}", cluster.logs()));
            std::fs::remove_file(out.join("manifest.json")).unwrap();
            out
        };
        assert_same_tree(
            &apply("local", Execution::InProcess),
            &apply("cluster", Execution::Cluster(cluster.url.clone())),
            &format!("apply {name}"),
        );
    }
}

/// `kill -9` one executor while `weir examplegen --cluster` runs: once
/// early (the map stage) and three times while sink tasks write shards:
/// the output is the in-process bytes or a clear error and nothing.
#[test]
fn examplegen_survives_an_executor_killed_in_the_sink() {
    let options = fault_options();
    let mut cluster = LocalCluster::start(options.clone());
    let d = tempfile::tempdir().unwrap();
    let input = csv_input(d.path(), 60_000, 4);
    let local = d.path().join("local");
    let setup = |b: ExampleGenBuilder| b.with_shards(4);
    setup(ExampleGenBuilder::new(input.to_string_lossy(), &local))
        .execute()
        .unwrap();
    let url = cluster.url.clone();
    let job = move |out: PathBuf| {
        setup(ExampleGenBuilder::new(input.to_string_lossy(), &out))
            .with_execution(Execution::Cluster(url.clone()))
            .execute()
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let recovered = kill_during_runs(
        &mut cluster,
        &options,
        d.path(),
        &local,
        &[
            Kill::At(0.2),
            Kill::SinkFiles(1),
            Kill::SinkFiles(3),
            Kill::SinkFiles(6),
        ],
        job,
    );
    assert!(recovered > 0, "no run recovered\n{}", cluster.logs());
}

/// Regression: the codecs carried weir's aggregates by name alone, so
/// `numeric_stats` with the transform's larger KLL `k` was decoded with the
/// default `k` on the cluster and its quantile boundaries differed from
/// in-process.
#[test]
fn numeric_stats_keeps_its_kll_k_through_the_codecs() {
    use datafusion::logical_expr::AggregateUDF;
    use datafusion_proto::logical_plan::LogicalExtensionCodec;
    use datafusion_proto::physical_plan::PhysicalExtensionCodec;
    use weir_udfs::stats::{NumericStatsUdaf, DEFAULT_KLL_K};
    let k = DEFAULT_KLL_K * 2;
    let udaf = AggregateUDF::from(NumericStatsUdaf::with_k(k));
    let mut buf = Vec::new();
    WeirPhysicalCodec::default()
        .try_encode_udaf(&udaf, &mut buf)
        .unwrap();
    let back = WeirPhysicalCodec::default()
        .try_decode_udaf(udaf.name(), &buf)
        .unwrap();
    assert_eq!(*back, udaf);
    let mut buf = Vec::new();
    WeirLogicalCodec::default()
        .try_encode_udaf(&udaf, &mut buf)
        .unwrap();
    let back = WeirLogicalCodec::default()
        .try_decode_udaf(udaf.name(), &buf)
        .unwrap();
    assert_eq!(*back, udaf);
    assert_ne!(
        *back,
        AggregateUDF::from(NumericStatsUdaf::with_k(DEFAULT_KLL_K))
    );
}

/// `kill -9` one executor while `weir transform --cluster` runs (analyze,
/// then apply): early, and while apply tasks write their shards.
#[test]
fn transform_survives_an_executor_killed_mid_job() {
    let options = fault_options();
    let mut cluster = LocalCluster::start(options.clone());
    let d = tempfile::tempdir().unwrap();
    let input = testdata().join("csv_example_gen");
    let transform = move |out: &Path, execution: Execution| {
        runtime()
            .block_on(
                TransformBuilder::new(crate::transform::TAXI_SQL, &input, out)
                    .with_execution(execution)
                    .execute(),
            )
            .map(|_| {
                // Timings differ run to run; every other file must not.
                std::fs::remove_file(out.join("manifest.json")).unwrap();
            })
            .map_err(|e| e.to_string())
    };
    let local = d.path().join("local");
    transform(&local, Execution::InProcess).unwrap();
    let url = cluster.url.clone();
    let job = move |out: PathBuf| transform(&out, Execution::Cluster(url.clone()));
    let recovered = kill_during_runs(
        &mut cluster,
        &options,
        d.path(),
        &local,
        &[Kill::At(0.2), Kill::SinkFiles(1), Kill::SinkFiles(8)],
        job,
    );
    assert!(recovered > 0, "no run recovered\n{}", cluster.logs());
}

/// `weir run` with `cluster = ...` in its config: every component runs on
/// the cluster (statistics in ExampleGen's distributed read) and the
/// span's ExampleGen and transform outputs are the in-process bytes.
#[test]
fn a_pipeline_on_a_cluster_writes_the_bytes_of_in_process() {
    use weir_engine::pipeline::manifest::SpanStatus;
    use weir_engine::pipeline::{PipelineConfig, RunBuilder};
    let cluster = LocalCluster::start(LocalClusterOptions::default());
    let d = tempfile::tempdir().unwrap();
    let day = d.path().join("data/20240102");
    std::fs::create_dir_all(&day).unwrap();
    std::fs::copy(
        testdata().join("taxi/examplegen_input/data.csv"),
        day.join("data.csv"),
    )
    .unwrap();
    std::fs::write(d.path().join("t.sql"), crate::transform::TAXI_SQL).unwrap();
    let run = |mode: &str, cluster_line: &str| {
        let text = format!(
            "name = \"taxi\"\nroot = \"root-{mode}\"\n{cluster_line}\n[input]\n\
             pattern = \"data/{{YYYY}}{{MM}}{{DD}}/*.csv\"\n[validation]\n\
             warn = [\"ENUM_TYPE_UNEXPECTED_STRING_VALUES\", \"FEATURE_TYPE_NOT_PRESENT\"]\n\
             [transform]\nsql = \"t.sql\"\n"
        );
        let config = PipelineConfig::from_toml(&text, mode, d.path()).unwrap();
        let s = RunBuilder::new(config)
            .execute()
            .unwrap_or_else(|e| panic!("{mode}: {e}\n{}", cluster.logs()));
        assert_eq!(s.manifest.spans.len(), 1);
        let span = s.manifest.spans[0].clone();
        assert_eq!(
            span.status,
            SpanStatus::Ok,
            "{mode}: {span:?}\n{}",
            cluster.logs()
        );
        (d.path().join(format!("root-{mode}")), span)
    };
    let (local, a) = run("local", "");
    let (remote, b) = run("cluster", &format!("cluster = \"{}\"", cluster.url));
    assert_eq!(a.counts, b.counts);
    assert_eq!(a.input, b.input);
    let kinds = |s: &weir_engine::pipeline::manifest::SpanRecord| {
        let mut k: Vec<_> = s
            .anomalies
            .iter()
            .map(|x| (x.split.clone(), x.feature.clone(), x.kind.clone()))
            .collect();
        k.sort();
        k
    };
    assert_eq!(kinds(&a), kinds(&b));
    // Both computed the statistics in ExampleGen's read (the cluster in
    // its distributed plan); the same manifest and bytes.
    let rel = "examplegen/span=19724/version=0";
    let manifest = |root: &Path| {
        let path = root.join(rel).join("manifest.json");
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        m
    };
    let (ma, mb) = (manifest(&local), manifest(&remote));
    assert_eq!(ma, mb);
    assert_eq!(ma["options"]["stats"], "exact");
    assert_same_tree(&local.join(rel), &remote.join(rel), "pipeline examplegen");
    let rel = "transform/span=19724/version=0";
    std::fs::remove_file(local.join(rel).join("manifest.json")).unwrap();
    std::fs::remove_file(remote.join(rel).join("manifest.json")).unwrap();
    assert_same_tree(&local.join(rel), &remote.join(rel), "pipeline transform");
}

/// The watchdog cancels the jobs of the attempts it abandons: with the only
/// executor stopped (SIGSTOP), every attempt of a query hangs; each is given
/// up after its timeout and its job is cancelled on the scheduler, and the
/// error after the last attempt says what happened. Resumed, the cluster
/// runs the next job.
#[test]
fn the_watchdog_cancels_the_jobs_it_abandons() {
    use std::time::Duration;
    use weir_plan::execution::jobs;
    let mut cluster = LocalCluster::start(LocalClusterOptions {
        executors: 1,
        concurrent_tasks: 1,
        ..Default::default()
    });
    let d = tempfile::tempdir().unwrap();
    let input = csv_input(d.path(), 2_000, 1);
    let execution = Execution::Cluster(cluster.url.clone());
    let rt = runtime();
    let signal = |sig: &str, pid: u32| {
        let ok = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {pid}");
    };
    let pid = cluster.executors[0].child.id();
    let stats = |timeout: Duration| {
        let input = input.clone();
        let execution = execution.clone();
        rt.block_on(async move {
            let ctx = execution.context().await?;
            execution
                .watched_for(timeout, || async {
                    let df = ctx
                        .read_csv(
                            input.to_string_lossy().as_ref(),
                            datafusion::prelude::CsvReadOptions::new(),
                        )
                        .await?;
                    Ok::<_, weir_plan::PlanError>(df.count().await?)
                })
                .await
        })
    };
    signal("-STOP", pid);
    let before = jobs::tracker(&cluster.url).cancelled().len();
    let err = stats(Duration::from_secs(3)).unwrap_err().to_string();
    signal("-CONT", pid);
    assert!(
        err.contains("after 3 attempts") && err.contains("no result within 3.0 s"),
        "{err}"
    );
    let cancelled = jobs::tracker(&cluster.url).cancelled();
    assert_eq!(
        cancelled.len() - before,
        3,
        "one cancelled job per abandoned attempt: {cancelled:?}"
    );
    let mut distinct = cancelled.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), cancelled.len());
    // Resumed: the next job runs to its end.
    let rows =
        stats(Duration::from_secs(120)).unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!(rows, 2_000);
    cluster.kill_executor(0);
}

/// Issue 24, fail fast: a scheduler with no executor registered, or no
/// scheduler at all, is a clear error within seconds, not a job that waits
/// for the job timeout three times.
#[test]
fn a_cluster_without_executors_or_scheduler_fails_within_seconds() {
    let cluster = LocalCluster::start(LocalClusterOptions {
        executors: 0,
        ..Default::default()
    });
    let d = tempfile::tempdir().unwrap();
    let rt = runtime();
    let input = testdata().join("csv_example_gen/Split-eval");
    let run = |url: String| {
        let started = std::time::Instant::now();
        let err = rt
            .block_on(
                StatsBuilder::new(input.to_string_lossy(), d.path().join("out"))
                    .with_execution(Execution::Cluster(url))
                    .execute(),
            )
            .unwrap_err()
            .to_string();
        (err, started.elapsed())
    };
    let (err, took) = run(cluster.url.clone());
    assert!(
        err.contains(&format!("no executor registered at {}", cluster.url))
            && err.contains("0/1 executors registered"),
        "{err}"
    );
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    // Nothing listening: the port of a listener just closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("df://127.0.0.1:{port}");
    let (err, took) = run(url.clone());
    assert!(
        err.contains(&format!("the scheduler at {url} does not answer")),
        "{err}"
    );
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    assert!(!d.path().join("out").exists(), "nothing written");
}
