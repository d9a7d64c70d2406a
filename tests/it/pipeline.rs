//! `weir run`, `weir schedule` and `weir sql` end to end, through the
//! `weir` binary, over generated daily spans (`data/{YYYY}{MM}{DD}/*.csv`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use weir_engine::pipeline::manifest::{read_all, RunManifest, SpanStatus};
use weir_engine::pipeline::PipelineRoot;
use weir_tests::cluster::workspace_binary;

use crate::util::{tree, write};

/// 2024-01-01 as days since 1970-01-01.
const JAN_1: u64 = 19723;

const COMPANIES: [&str; 4] = ["Alpha", "Bravo", "Charlie", "Delta"];

/// Writes `rows` taxi-like rows for `date` (YYYYMMDD). `shifted` spans have
/// fares three times higher and 85% of trips by one company.
fn write_span(data: &Path, date: &str, rows: usize, seed: u64, shifted: bool) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut csv = String::from("fare,trip_miles,company,payment_type\n");
    for _ in 0..rows {
        let miles = 0.5 + next() * 9.0;
        let fare = if shifted { 30.0 } else { 5.0 } + miles * 2.0 + next() * 3.0;
        let company = if shifted && next() < 0.85 {
            COMPANIES[0]
        } else {
            COMPANIES[(next() * 4.0) as usize % 4]
        };
        let payment = if next() < 0.6 { "Card" } else { "Cash" };
        csv.push_str(&format!("{fare:.2},{miles:.2},{company},{payment}\n"));
    }
    write(&data.join(date), "part-00000.csv", csv);
}

/// A pipeline over `dir/data` into `dir/root`, with drift checks and a
/// transform; `extra` is appended.
fn pipeline(dir: &Path, extra: &str) -> PathBuf {
    write(
        dir,
        "transform.sql",
        "SELECT scale_to_z_score(fare) AS fare_z,\n\
         compute_and_apply_vocabulary(company, 1000, 1, 10) AS company_id\nFROM input;\n",
    );
    let text = format!(
        r#"
name = "taxi-daily"
root = "root"
report = true

[input]
pattern = "data/{{YYYY}}{{MM}}{{DD}}/*.csv"
format = "csv"

[examplegen]
splits = "train=2,eval=1"

[validation]
drift = true
[validation.drift_comparators]
company = {{ infinity_norm = 0.1 }}
fare = {{ jensen_shannon_divergence = 0.1 }}

[transform]
sql = "transform.sql"
{extra}
"#
    );
    write(dir, "pipeline.toml", text)
}

fn weir(args: &[&str]) -> Output {
    Command::new(workspace_binary("weir"))
        .args(args)
        .env("WEIR_LOG", "warn")
        .output()
        .expect("weir runs")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn manifests(root: &Path) -> Vec<RunManifest> {
    read_all(&PipelineRoot::open(&root.to_string_lossy()).unwrap()).unwrap()
}

/// (span, version, status) of every span record of `m`.
fn spans(m: &RunManifest) -> Vec<(u64, u64, SpanStatus)> {
    m.spans
        .iter()
        .map(|s| (s.span, s.version, s.status))
        .collect()
}

/// The root's files, without the run manifests.
fn outputs(root: &Path) -> Vec<String> {
    tree(root)
        .into_iter()
        .filter(|p| !p.starts_with("_runs"))
        .collect()
}

/// Regression: `weir run p.toml` from the config's folder read the input
/// pattern as `./data/{YYYY}{MM}{DD}/*.csv`, matched no span and processed
/// nothing. Every relative path in a config resolves against the config's
/// folder, however the config is named on the command line.
#[test]
fn config_paths_resolve_against_the_configs_folder_however_it_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x");
    let y = dir.path().join("y");
    std::fs::create_dir_all(&y).unwrap();
    write_span(&x.join("data"), "20240101", 300, 1, false);
    let cfg = pipeline(&x, "");
    let root = x.join("root");
    let forms = [
        (&x, "pipeline.toml".to_string()),
        (&x, "./pipeline.toml".to_string()),
        (&y, "../x/pipeline.toml".to_string()),
        (&y, cfg.to_string_lossy().into_owned()),
    ];
    for (cwd, arg) in forms {
        let _ = std::fs::remove_dir_all(&root);
        let o = Command::new(workspace_binary("weir"))
            .current_dir(cwd)
            .args(["run", &arg])
            .env("WEIR_LOG", "warn")
            .output()
            .expect("weir runs");
        let what = format!("weir run {arg} in {}", cwd.display());
        assert_eq!(code(&o), 0, "{what}: {}", show(&o));
        let runs = manifests(&root);
        assert_eq!(runs.len(), 1, "{what}");
        assert_eq!(
            spans(&runs[0]),
            vec![(JAN_1, 0, SpanStatus::Ok)],
            "{what}: {}",
            show(&o)
        );
        assert_eq!(runs[0].spans[0].counts.values().sum::<u64>(), 300, "{what}");
        assert!(
            root.join(format!(
                "transform/span={JAN_1}/version=0/transform_graph/transform.json"
            ))
            .exists(),
            "{what}"
        );
    }
}

#[test]
fn a_pipeline_runs_new_spans_once_as_versions_and_flags_drift() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_span(&data, "20240101", 1500, 1, false);
    write_span(&data, "20240102", 1500, 2, false);
    let cfg = pipeline(dir.path(), "");
    let cfg = cfg.to_str().unwrap();
    let root = dir.path().join("root");

    // The latest span only, by default.
    let o = weir(&["run", cfg]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let runs = manifests(&root);
    assert_eq!(runs.len(), 1);
    assert_eq!(spans(&runs[0]), vec![(JAN_1 + 1, 0, SpanStatus::Ok)]);
    let s = &runs[0].spans[0];
    assert_eq!(s.date.as_deref(), Some("2024-01-02"));
    assert_eq!(s.counts.values().sum::<u64>(), 1500);
    assert_eq!(s.input.files.len(), 1);
    assert!(s.input.files[0].crc32c.is_some());
    for component in [
        "examplegen",
        "statistics",
        "schema",
        "anomalies",
        "transform",
    ] {
        let rel = format!("{component}/span={}/version=0", JAN_1 + 1);
        assert_eq!(s.outputs[component], rel);
        assert!(root.join(&rel).join("manifest.json").exists(), "{rel}");
    }
    let stats = root.join(format!("statistics/span={}/version=0", JAN_1 + 1));
    assert!(stats.join("Split-train/FeatureStats.pb").exists());
    assert!(stats.join("Split-eval/FeatureStats.pb").exists());
    assert!(root
        .join(format!(
            "transform/span={}/version=0/transform_graph/transform.json",
            JAN_1 + 1
        ))
        .exists());
    assert!(s.drift.is_empty(), "no previous span, no drift");

    // Every span: the new one is processed, the done one is skipped.
    let o = weir(&["run", cfg, "--spans", "all"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let runs = manifests(&root);
    assert_eq!(
        spans(&runs[1]),
        vec![
            (JAN_1, 0, SpanStatus::Ok),
            (JAN_1 + 1, 0, SpanStatus::Cached)
        ]
    );
    assert_eq!(
        runs[1].spans[1].cached_from.as_deref(),
        Some(runs[0].run_id.as_str())
    );

    // A third span with a shifted distribution: drift against the second.
    write_span(&data, "20240103", 1500, 3, true);
    let o = weir(&["run", cfg]);
    assert_eq!(code(&o), 2, "anomalies exit 2\n{}", show(&o));
    let runs = manifests(&root);
    let third = &runs[2].spans[0];
    assert_eq!(
        (third.span, third.status),
        (JAN_1 + 2, SpanStatus::Anomalies)
    );
    assert!(
        third
            .anomalies
            .iter()
            .any(|a| a.feature == "company" && a.kind == "COMPARATOR_L_INFTY_HIGH"),
        "{:?}",
        third.anomalies
    );
    assert!(third
        .drift
        .iter()
        .any(|d| d.feature == "company" && d.value > 0.1 && d.previous_span == JAN_1 + 1));
    assert!(
        !third.outputs.contains_key("transform"),
        "anomalies stop the transform"
    );
    // report = true: the span's page, against the previous span, with the
    // drifted feature flagged.
    let page = std::fs::read_to_string(
        root.join(format!("report/span={}/version=0/report.html", JAN_1 + 2)),
    )
    .unwrap();
    assert!(
        page.contains("<tr class=\"feature anomalous\" id=\"f-0-"),
        "no flagged row"
    );
    assert!(page.contains("data-name=\"company\""));
    assert!(
        page.contains("<td class=\"drift drifted\">L-infinity "),
        "company's drift not shown as drifted"
    );

    // Nothing new: no work, nothing written but the run's manifest.
    let before = outputs(&root);
    let o = weir(&["run", cfg]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let runs = manifests(&root);
    assert_eq!(spans(&runs[3]), vec![(JAN_1 + 2, 0, SpanStatus::Cached)]);
    assert_eq!(outputs(&root), before);

    // A changed span is rerun as a new version.
    write_span(&data, "20240102", 1600, 22, false);
    let o = weir(&["run", cfg, "--span", &(JAN_1 + 1).to_string()]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let runs = manifests(&root);
    assert_eq!(spans(&runs[4]), vec![(JAN_1 + 1, 1, SpanStatus::Ok)]);
    assert!(root
        .join(format!("examplegen/span={}/version=1", JAN_1 + 1))
        .exists());
    assert!(root
        .join(format!("examplegen/span={}/version=0", JAN_1 + 1))
        .exists());

    // SQL over the statistics: the mean fare per span (latest versions).
    let root_s = root.to_str().unwrap();
    let o = weir(&[
        "sql",
        "--root",
        root_s,
        "--format",
        "csv",
        "SELECT span, span_date, version, round(mean, 2) AS mean FROM statistics \
         WHERE feature = 'fare' AND split = 'train' AND is_latest ORDER BY span",
    ]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "span,span_date,version,mean", "{text}");
    assert_eq!(lines.len(), 4, "{text}");
    let means: Vec<f64> = lines[1..]
        .iter()
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        lines[1].starts_with(&format!("{JAN_1},2024-01-01,0,")),
        "{text}"
    );
    assert!(
        lines[2].starts_with(&format!("{},2024-01-02,1,", JAN_1 + 1)),
        "{text}"
    );
    assert!(
        (means[0] - means[1]).abs() < 1.0 && means[2] > means[1] + 20.0,
        "{means:?}"
    );

    // Drift and anomalies as tables, and JSON output.
    let o = weir(&[
        "sql",
        "--root",
        root_s,
        "--format",
        "json",
        "SELECT DISTINCT span FROM drift WHERE feature = 'company' \
         AND measurement = 'L_INFTY' AND value > 0.1",
    ]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("{{\"span\":{}}}", JAN_1 + 2)
    );
    let o = weir(&[
        "sql",
        "--root",
        root_s,
        "SELECT r.status, count(*) AS n FROM runs r GROUP BY r.status ORDER BY r.status",
    ]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for row in [
        "| anomalies | 1 |",
        "| cached    | 2 |",
        "| ok        | 3 |",
    ] {
        assert!(text.contains(row), "{row} in\n{text}");
    }
    let o = weir(&[
        "sql",
        "--root",
        root_s,
        "--format",
        "csv",
        "SELECT count(*) AS n FROM top_values t JOIN histograms h \
         ON t.span = h.span AND t.split = h.split WHERE t.feature = 'company' \
         AND h.feature = 'fare' AND h.histogram_type = 'QUANTILES' AND t.is_latest AND h.is_latest",
    ]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let n: u64 = String::from_utf8_lossy(&o.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 0);
}

#[test]
fn two_concurrent_runs_do_not_both_run_a_span() {
    let dir = tempfile::tempdir().unwrap();
    write_span(&dir.path().join("data"), "20240101", 20_000, 1, false);
    let cfg = pipeline(dir.path(), "");
    let spawn = || {
        Command::new(workspace_binary("weir"))
            .args(["run", cfg.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(code(&a), 0, "{}", show(&a));
    assert_eq!(code(&b), 0, "{}", show(&b));
    let runs = manifests(&dir.path().join("root"));
    assert_eq!(runs.len(), 2);
    let mut statuses: Vec<SpanStatus> = runs.iter().map(|m| m.spans[0].status).collect();
    statuses.sort_by_key(|s| s.name());
    assert_eq!(statuses, vec![SpanStatus::Cached, SpanStatus::Ok]);
    assert!(!dir.path().join("root/_lock.json").exists());
}

#[test]
fn schedule_runs_on_its_cron_skips_unchanged_spans_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    write_span(&dir.path().join("data"), "20240101", 1000, 1, false);
    let cfg = pipeline(
        dir.path(),
        "[schedule]\ncron = \"*/2 * * * * *\"\ntimezone = \"Europe/Berlin\"\nretries = 1\nbackoff_seconds = 1\n",
    );
    let (mut child, rx) = spawn_schedule(&cfg, &[]);
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while lines
        .iter()
        .filter(|l: &&String| l.contains(" schedule: run "))
        .count()
        < 2
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => lines.push(l),
            Err(_) => {
                let _ = child.kill();
                panic!("two runs did not happen in time:\n{}", lines.join("\n"));
            }
        }
    }
    let ran: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(" schedule: run "))
        .collect();
    assert!(
        ran[0].contains("1 span(s) processed, 0 unchanged"),
        "{}",
        lines.join("\n")
    );
    assert!(
        ran[1].contains("0 span(s) processed, 1 unchanged"),
        "{}",
        lines.join("\n")
    );

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = exit_within(&mut child, Duration::from_secs(60));
    lines.extend(rx.try_iter());
    assert!(status.success(), "{status:?}\n{}", lines.join("\n"));
    assert!(
        lines.iter().any(|l| l.ends_with("schedule: stopped")),
        "{}",
        lines.join("\n")
    );

    // No partial run: every manifest is whole, the lock is gone, and no
    // staging folder is left.
    let root = dir.path().join("root");
    let runs = manifests(&root);
    assert!(runs.len() >= 2);
    assert!(runs
        .iter()
        .all(|m| m.trigger == "schedule" && m.status == "ok"));
    assert!(!root.join("_lock.json").exists());
    let hidden: Vec<String> = tree(&root)
        .into_iter()
        .filter(|p| p.split('/').any(|c| c.starts_with('.')))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

#[test]
fn the_example_pipeline_config_loads_and_bad_configs_say_why() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/pipeline.toml");
    let c = weir_engine::pipeline::PipelineConfig::load(&example).unwrap();
    assert_eq!(c.name, "taxi-daily");
    assert!(c.transform.as_ref().unwrap().sql.exists());
    assert!(c.output_hash().is_ok());
    let base = Path::new("/tmp");
    for (text, says) in [
        ("name = \"x\"\nroot = \"r\"\n[input]\npattern = \"d/{YYYY}{MM}/a.csv\"\n", "a date needs"),
        ("name = \"x\"\nroot = \"r\"\n[input]\npattern = \"d/{SPAN}.csv\"\n[examplegen]\nsplits = \"train\"\n", "examplegen.splits"),
        ("name = \"x\"\nroot = \"r\"\n[input]\npattern = \"d/{SPAN}.csv\"\n[validation]\nwarn = [\"NOPE\"]\n", "NOPE"),
        ("name = \"x\"\nroot = \"r\"\n[input]\npattern = \"d/{SPAN}.csv\"\n[schedule]\ncron = \"61 * * * *\"\n", "schedule.cron"),
        ("name = \"x\"\nroot = \"r\"\n[input]\npattern = \"d.csv\"\ncolour = 1\n", "colour"),
    ] {
        let e = weir_engine::pipeline::PipelineConfig::from_toml(text, "p.toml", base)
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.toml") && e.contains(says), "{e}");
    }
}

/// Spawns `weir schedule` on `cfg` with stdout piped into a channel.
fn spawn_schedule(
    cfg: &Path,
    extra: &[&str],
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(workspace_binary("weir"))
        .arg("schedule")
        .arg(cfg)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Waits for `child` to exit within `limit`.
fn exit_within(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let until = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("weir schedule did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn schedule_retries_a_failed_run_with_backoff_and_records_each_attempt() {
    let dir = tempfile::tempdir().unwrap();
    write_span(&dir.path().join("data"), "20240101", 500, 1, false);
    let cfg = pipeline(
        dir.path(),
        "[schedule]\ncron = \"* * * * * *\"\nretries = 2\nbackoff_seconds = 1\n",
    );
    // A transform query that does not plan: the span fails at its last step.
    write(
        dir.path(),
        "transform.sql",
        "SELECT no_such_column FROM input;\n",
    );
    let (mut child, rx) = spawn_schedule(&cfg, &["--max-ticks", "1"]);
    let status = exit_within(&mut child, Duration::from_secs(120));
    let lines: Vec<String> = rx.try_iter().collect();
    let text = lines.join("\n");
    assert!(status.success(), "{text}");
    for attempt in 1..=3 {
        assert!(
            text.contains(&format!("failed (attempt {attempt} of 3)")),
            "{text}"
        );
    }
    assert!(
        text.contains("retrying in 1 s") && text.contains("retrying in 2 s"),
        "{text}"
    );
    assert!(
        text.contains("no_such_column"),
        "the error is logged: {text}"
    );
    // Each attempt is recorded as a failed version of the span.
    let runs = manifests(&dir.path().join("root"));
    let got: Vec<_> = runs.iter().flat_map(spans).collect();
    assert_eq!(
        got,
        vec![
            (JAN_1, 0, SpanStatus::Failed),
            (JAN_1, 1, SpanStatus::Failed),
            (JAN_1, 2, SpanStatus::Failed)
        ]
    );
    assert!(runs.iter().all(|m| m.status == "failed"));
}

#[test]
fn sigterm_during_a_scheduled_run_stops_after_the_run_commits() {
    let dir = tempfile::tempdir().unwrap();
    write_span(&dir.path().join("data"), "20240101", 300_000, 1, false);
    let cfg = pipeline(dir.path(), "[schedule]\ncron = \"* * * * * *\"\n");
    let root = dir.path().join("root");
    let (mut child, rx) = spawn_schedule(&cfg, &[]);
    // The run holds the root's lock while it works: signal it then.
    let until = Instant::now() + Duration::from_secs(60);
    while !root.join("_lock.json").exists() {
        assert!(Instant::now() < until, "no run started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = exit_within(&mut child, Duration::from_secs(300));
    let text = rx.try_iter().collect::<Vec<_>>().join("\n");
    assert!(status.success(), "{text}");
    // The run in progress finished and committed; no second run started.
    let runs = manifests(&root);
    assert_eq!(runs.len(), 1, "{text}");
    assert_eq!(spans(&runs[0]), vec![(JAN_1, 0, SpanStatus::Ok)]);
    assert_eq!(runs[0].spans[0].counts.values().sum::<u64>(), 300_000);
    assert!(runs[0].spans[0].outputs.contains_key("transform"));
    assert!(text.ends_with("schedule: stopped"), "{text}");
    assert!(!root.join("_lock.json").exists());
}
