//! The `weir` command line as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn weir() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weir"))
}

pub(crate) fn testdata() -> PathBuf {
    let p = std::env::var_os("WEIR_TFX_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/tfx-testdata"));
    assert!(
        p.join("README.md").exists(),
        "TFX conformance data not found at {}",
        p.display()
    );
    p
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn help_describes_the_commands() {
    let out = weir().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("examplegen"), "{text}");
    let out = weir().args(["examplegen", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--input",
        "--output",
        "--format",
        "--split",
        "--partition-feature",
        "--compression",
        "--output-format",
        "--shards",
        "--schema",
        "--split-from-input",
    ] {
        assert!(text.contains(flag), "examplegen --help lacks {flag}");
    }
}

#[test]
fn examplegen_prints_a_summary_and_exits_zero() {
    let d = tempfile::tempdir().unwrap();
    let out = weir()
        .args(["examplegen", "--input"])
        .arg(testdata().join("taxi/examplegen_input/data.csv"))
        .arg("--output")
        .arg(d.path().join("o"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("15000 examples (train 9909, eval 5091)"),
        "{text}"
    );
    assert!(text.contains("rows/s"), "{text}");
}

#[test]
fn bad_input_exits_nonzero_with_file_and_row() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("bad.csv");
    std::fs::write(&input, "a,b\n1,2\n3\n").unwrap();
    let out = weir()
        .args(["examplegen", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(d.path().join("o"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.csv") && err.contains("row 2") && err.contains("expected 2 fields"),
        "{err}"
    );
    assert!(!d.path().join("o").exists());
}

#[test]
fn bad_split_flag_is_a_usage_error() {
    let out = weir()
        .args(["examplegen", "-i", "x", "-o", "y", "--split", "train=two"])
        .output()
        .unwrap();
    // 1, not clap's 2: exit code 2 means anomalies.
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a whole number"));
}

/// A kill at any moment leaves either no output or a complete one: never a
/// Split-* folder without a manifest.
#[test]
fn kill_during_write_leaves_nothing_half_visible_and_rerun_succeeds() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("big.csv");
    let st = weir()
        .args(["sample", "--rows", "300000", "--output"])
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let out = d.path().join("out");
    let mut killed_mid_run = 0;
    for delay_ms in [150u64, 400, 800] {
        let mut child = weir()
            .args([
                "examplegen",
                "--compression-level",
                "9",
                "--shards",
                "4",
                "--input",
            ])
            .arg(&input)
            .arg("--output")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        if !finished {
            killed_mid_run += 1;
        }
        let names = listing(&out);
        let complete = names.contains(&"manifest.json".to_string());
        assert!(
            names.is_empty() || complete,
            "after a kill at {delay_ms} ms the output holds {names:?} without a manifest"
        );
        if complete {
            assert!(
                names.contains(&"Split-train".to_string())
                    && names.contains(&"Split-eval".to_string())
            );
        }
    }
    assert!(
        killed_mid_run > 0,
        "the run always finished before the kill; the test proved nothing"
    );
    // Leftover staging folders are hidden siblings; a rerun removes them.
    let start = Instant::now();
    let st = weir()
        .args(["examplegen", "--shards", "4", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    assert!(start.elapsed() < Duration::from_secs(120));
    assert!(listing(&out).contains(&"manifest.json".to_string()));
    let leftovers: Vec<String> = listing(d.path())
        .into_iter()
        .filter(|n| n.contains(".weir-"))
        .collect();
    assert!(leftovers.is_empty(), "staging leftovers: {leftovers:?}");
}

/// True when `python3 -c 'import MODULE'` works here.
fn python_imports(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Runs a Python script that asserts; fails the test with its stderr.
fn run_python(script: &str) {
    let res = Command::new("python3")
        .args(["-c", script])
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
}

/// TensorFlow's own reader parses every output record, when TensorFlow is
/// installed (CRCs are always checked by the Rust tests). Each shard is
/// several gzip members back to back (`compression::GZIP_MEMBER_BYTES`), so
/// this is also TensorFlow reading concatenated members.
#[test]
fn tensorflow_reads_the_output() {
    if !python_imports("tensorflow") {
        println!(
            "SKIPPED tensorflow_reads_the_output: `python3 -c 'import tensorflow'` fails here"
        );
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    let st = weir()
        .args(["examplegen", "--shards", "2", "--input"])
        .arg(testdata().join("taxi/examplegen_input"))
        .arg("--output")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let script = format!(
        "import tensorflow as tf, glob, zlib\n\
         def members(b):\n  n=0\n  while b:\n    d=zlib.decompressobj(31); d.decompress(b); b=d.unused_data; n+=1\n  return n\n\
         n=0\nfor f in sorted(glob.glob('{}/Split-*/*.gz')):\n\
         \x20 m=members(open(f,'rb').read())\n  assert m>=2, (f, m)\n\
         \x20 for r in tf.data.TFRecordDataset(f, compression_type='GZIP'):\n    tf.train.Example.FromString(r.numpy()); n+=1\n\
         assert n==15000, n\nprint(n)",
        out.display()
    );
    run_python(&script);
}

/// TFDV's reader (tensorflow_metadata's `DatasetFeatureStatisticsList`, what
/// `tfdv.load_stats_binary` parses) reads `weir stats` output and sees the
/// same figures, when tensorflow-metadata is installed.
#[test]
fn tensorflow_metadata_reads_the_statistics() {
    if !python_imports("tensorflow_metadata.proto.v0.statistics_pb2") {
        println!("SKIPPED tensorflow_metadata_reads_the_statistics: tensorflow-metadata is not importable here");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("stats");
    let res = weir()
        .args(["stats", "--splits-from-input", "--input"])
        .arg(testdata().join("csv_example_gen"))
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let table = String::from_utf8_lossy(&res.stdout);
    assert!(
        table.contains("split train (9909 examples)") && table.contains("company"),
        "{table}"
    );
    let script = format!(
        "from tensorflow_metadata.proto.v0 import statistics_pb2 as s\n\
         l = s.DatasetFeatureStatisticsList()\n\
         l.ParseFromString(open('{}/Split-train/FeatureStats.pb','rb').read())\n\
         d = l.datasets[0]\n\
         f = {{x.path.step[0]: x for x in d.features}}\n\
         assert d.num_examples == 9909, d.num_examples\n\
         assert f['company'].string_stats.unique == 53\n\
         assert f['company'].string_stats.top_values[0].value == 'Taxi Affiliation Services'\n\
         assert abs(f['fare'].num_stats.mean - 11.6608) < 1e-3, f['fare'].num_stats.mean\n\
         assert f['fare'].type == s.FeatureNameStatistics.FLOAT\n\
         print('ok')",
        out.display()
    );
    run_python(&script);
}

/// `weir schema` on TFDV's train statistics writes TFDV's own schema file
/// (the same text), and `weir validate` of eval against it exits 2 with the
/// anomalies TFDV finds; train against its own schema exits 0.
#[test]
fn schema_and_validate_exit_codes_and_outputs() {
    let d = tempfile::tempdir().unwrap();
    let stats = testdata().join("statistics_gen");
    let schema = d.path().join("schema.pbtxt");
    let st = weir()
        .args(["schema", "--stats"])
        .arg(stats.join("Split-train/FeatureStats.pb"))
        .arg("--output")
        .arg(&schema)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        std::fs::read_to_string(&schema).unwrap(),
        std::fs::read_to_string(testdata().join("schema_gen/schema.pbtxt")).unwrap()
    );
    let validate = |split: &str, out: &Path| {
        weir()
            .args(["validate", "--stats"])
            .arg(stats.join(split))
            .arg("--schema")
            .arg(&schema)
            .arg("--output")
            .arg(out)
            .output()
            .unwrap()
    };
    let clean = d.path().join("train_anomalies.pbtxt");
    let res = validate("Split-train", &clean);
    assert_eq!(res.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&res.stdout).contains("No anomalies."));
    let anomalies = d.path().join("eval_anomalies.pbtxt");
    let res = validate("Split-eval", &anomalies);
    assert_eq!(
        res.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let table = String::from_utf8_lossy(&res.stdout);
    assert!(
        table.contains("company") && table.contains("ENUM_TYPE_UNEXPECTED_STRING_VALUES"),
        "{table}"
    );
    // --warn turns those into warnings: exit 0.
    let res = weir()
        .args(["validate", "--stats"])
        .arg(stats.join("Split-eval"))
        .arg("--schema")
        .arg(&schema)
        .arg("--output")
        .arg(d.path().join("w.pbtxt"))
        .args([
            "--warn",
            "ENUM_TYPE_UNEXPECTED_STRING_VALUES",
            "--warn",
            "FEATURE_TYPE_NOT_PRESENT",
        ])
        .output()
        .unwrap();
    assert_eq!(
        res.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&res.stdout)
    );
    // A missing file is an error (exit 1) that names it.
    let res = validate("Split-nope", &d.path().join("x.pbtxt"));
    assert_eq!(res.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&res.stderr).contains("Split-nope"));

    if !python_imports("tensorflow_metadata.proto.v0.anomalies_pb2") {
        println!("SKIPPED parsing with tensorflow_metadata: not importable here");
        return;
    }
    let script = format!(
        "from google.protobuf import text_format\n\
         from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2\n\
         s = text_format.Parse(open('{}').read(), schema_pb2.Schema())\n\
         assert len(s.feature) == 18, len(s.feature)\n\
         a = text_format.Parse(open('{}').read(), anomalies_pb2.Anomalies())\n\
         assert set(a.anomaly_info) == {{'company', 'payment_type', 'pickup_census_tract'}}, set(a.anomaly_info)\n\
         c = a.anomaly_info['company']\n\
         assert c.severity == anomalies_pb2.AnomalyInfo.ERROR\n\
         assert c.reason[0].type == anomalies_pb2.AnomalyInfo.ENUM_TYPE_UNEXPECTED_STRING_VALUES\n\
         assert a.anomaly_info['pickup_census_tract'].reason[0].type == anomalies_pb2.AnomalyInfo.FEATURE_TYPE_NOT_PRESENT\n\
         print('ok')",
        schema.display(),
        anomalies.display()
    );
    run_python(&script);
}
