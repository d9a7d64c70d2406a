//! `weir transform` and `weir transform apply` as a user runs them.

use std::path::Path;

use crate::cli::{testdata, weir};

pub(crate) fn taxi_sql() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/taxi_transform.sql")
}

fn records(dir: &Path) -> usize {
    // Framed TFRecord length prefixes would need decompression; count the
    // records through the manifest weir writes instead.
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    m["splits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rows"].as_u64().unwrap() as usize)
        .sum()
}

#[test]
fn transform_writes_the_artifact_and_apply_reuses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("tx");
    let run = weir()
        .args(["transform", "--sql"])
        .arg(taxi_sql())
        .arg("--input")
        .arg(testdata().join("csv_example_gen"))
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("analyze: 9909 rows"), "{stdout}");
    assert!(stdout.contains("transform.onnx written"), "{stdout}");
    let graph = out.join("transform_graph");
    for f in [
        "transform.json",
        "transform.onnx",
        "transformed_metadata/schema.pbtxt",
        "assets/vocab_compute_and_apply_vocabulary_vocabulary",
        "assets/vocab_compute_and_apply_vocabulary_1_vocabulary",
    ] {
        assert!(graph.join(f).is_file(), "{f} missing");
    }
    assert_eq!(
        std::fs::read(graph.join("transformed_metadata/schema.pbtxt")).unwrap(),
        std::fs::read(
            testdata().join("transform/transform_graph/transformed_metadata/schema.pbtxt")
        )
        .unwrap()
    );
    assert_eq!(records(&out), 15_000);

    // Apply the frozen artifact to the eval split alone, as Parquet.
    let applied = tmp.path().join("applied");
    let run = weir()
        .args(["transform", "apply", "--artifact"])
        .arg(&out)
        .arg("--input")
        .arg(testdata().join("csv_example_gen/Split-eval"))
        .arg("--output")
        .arg(&applied)
        .args(["--output-format", "parquet"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(records(&applied), 5_091);
    // One shard per read partition: the eval split's files (at most 16),
    // whatever the machine's cores, so output is the same everywhere.
    let inputs = std::fs::read_dir(testdata().join("csv_example_gen/Split-eval"))
        .unwrap()
        .count()
        .min(16);
    assert!(
        applied
            .join(format!("transformed_examples-00000-of-{inputs:05}.parquet"))
            .exists(),
        "expected {inputs} shards"
    );

    // A tampered asset is refused, naming the file.
    let vocab = graph.join("assets/vocab_compute_and_apply_vocabulary_vocabulary");
    std::fs::write(&vocab, "Cash\n").unwrap();
    let run = weir()
        .args(["transform", "apply", "--artifact"])
        .arg(&out)
        .arg("--input")
        .arg(testdata().join("csv_example_gen/Split-eval"))
        .arg("--output")
        .arg(tmp.path().join("refused"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("vocab_compute_and_apply_vocabulary_vocabulary")
            && stderr.contains("sha256"),
        "{stderr}"
    );
    assert!(!tmp.path().join("refused").exists());
}

#[test]
fn bad_transform_sql_is_an_error_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let sql = tmp.path().join("bad.sql");
    for (text, message) in [
        (
            "SELECT bucketize(fare) AS b FROM input",
            "bucketize takes 2 to 3 arguments",
        ),
        ("SELECT no_such_column AS x FROM input", "no_such_column"),
        ("SELECT fare FROM input; SELECT 1", "one SELECT statement"),
    ] {
        std::fs::write(&sql, text).unwrap();
        let out = tmp.path().join("out");
        let run = weir()
            .args(["transform", "--sql"])
            .arg(&sql)
            .arg("--input")
            .arg(testdata().join("csv_example_gen"))
            .arg("--output")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{text}: {stderr}");
        assert!(stderr.contains(message), "{text}: {stderr}");
        assert!(!out.exists(), "{text}: output written");
    }
}
