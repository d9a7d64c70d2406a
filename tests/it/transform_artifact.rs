//! The transform artifact end to end on TFX's taxi data: `TransformBuilder`
//! (what `weir transform` runs) against TF-Transform's own output, and the
//! skew test — the engine's output, the Rust `TransformArtifact::apply`
//! and ONNX Runtime running `transform.onnx` agree value for value.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type, Int64Type};
use weir_engine::transform::{TRANSFORMED_EXAMPLES, TRANSFORM_GRAPH};
use weir_engine::{ApplyBuilder, TransformBuilder};
use weir_sql::TransformArtifact;
use weir_tests::{runtime, testdata};

use crate::transform::{example_rows, tft_rows, Row, BUCKETS, TAXI_SQL};

fn rows_of(batch: &RecordBatch) -> Vec<Row> {
    (0..batch.num_rows())
        .map(|r| {
            let mut row = Row::default();
            for (i, f) in batch.schema().fields().iter().enumerate() {
                let c = batch.column(i);
                match f.data_type() {
                    DataType::Int64 => {
                        row.0
                            .insert(f.name().clone(), c.as_primitive::<Int64Type>().value(r));
                    }
                    DataType::Float32 => {
                        row.1
                            .insert(f.name().clone(), c.as_primitive::<Float32Type>().value(r));
                    }
                    other => panic!("{}: {other}", f.name()),
                }
            }
            row
        })
        .collect()
}

fn key(r: &Row) -> (Vec<i64>, Vec<u32>) {
    (
        r.0.values().copied().collect(),
        r.1.values().map(|v| v.to_bits()).collect(),
    )
}

/// The raw eval split, single-valued features as scalars (what the
/// transform reads).
fn raw_eval() -> Vec<RecordBatch> {
    let source = weir_tests::taxi_eval_split().open().unwrap();
    source.batches().map(|b| b.unwrap().batch).collect()
}

/// The input columns as JSON lists (null for missing), for the script.
fn inputs_json(artifact: &TransformArtifact, batches: &[RecordBatch]) -> String {
    let mut out = serde_json::Map::new();
    for f in artifact.input_schema.fields() {
        let mut values = Vec::new();
        for b in batches {
            let c = b.column_by_name(f.name()).expect("input column");
            for r in 0..c.len() {
                values.push(if c.is_null(r) || c.data_type() == &DataType::Null {
                    serde_json::Value::Null
                } else {
                    match c.data_type() {
                        DataType::Int64 => c.as_primitive::<Int64Type>().value(r).into(),
                        DataType::Float32 => {
                            (c.as_primitive::<Float32Type>().value(r) as f64).into()
                        }
                        DataType::Float64 => c.as_primitive::<Float64Type>().value(r).into(),
                        DataType::Binary => {
                            String::from_utf8(c.as_binary::<i32>().value(r).to_vec())
                                .unwrap()
                                .into()
                        }
                        other => panic!("{other}"),
                    }
                });
            }
        }
        out.insert(f.name().clone(), serde_json::Value::Array(values));
    }
    serde_json::Value::Object(out).to_string()
}

/// Equal row lists; on a difference, shows the first differing row only.
fn assert_same_rows(a: &[Row], b: &[Row], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: row counts");
    if let Some((i, (x, y))) = a.iter().zip(b).enumerate().find(|(_, (x, y))| x != y) {
        panic!("{what}: row {i} differs:\n{x:?}\n{y:?}");
    }
}

fn onnxruntime_available() -> bool {
    Command::new("python3")
        .args(["-c", "import onnxruntime"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn weir_transform_output_matches_tf_transform_and_apply_and_onnx_agree() {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("transform");
    let summary = rt
        .block_on(
            TransformBuilder::new(TAXI_SQL, testdata().join("csv_example_gen"), &out).execute(),
        )
        .unwrap();
    assert_eq!(summary.analyze_rows, 9909);
    let graph = out.join(TRANSFORM_GRAPH);
    let tft = testdata().join("transform/transform_graph");

    // The artifact: TFT's output schema and vocabulary files, byte for byte.
    assert_eq!(
        std::fs::read_to_string(graph.join("transformed_metadata/schema.pbtxt")).unwrap(),
        std::fs::read_to_string(tft.join("transformed_metadata/schema.pbtxt")).unwrap()
    );
    for name in [
        "vocab_compute_and_apply_vocabulary_vocabulary",
        "vocab_compute_and_apply_vocabulary_1_vocabulary",
    ] {
        assert_eq!(
            std::fs::read(graph.join("assets").join(name)).unwrap(),
            std::fs::read(tft.join("assets").join(name)).unwrap(),
            "{name}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(graph.join("transform.json")).unwrap()).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["output_schema"].as_array().unwrap().len(), 17);
    assert!(graph.join("transform.onnx").exists(), "{}", json["onnx"]);

    // The engine's transformed examples against TFT's, as multisets.
    for split in ["Split-train", "Split-eval"] {
        let mut ours = example_rows(&out.join(TRANSFORMED_EXAMPLES).join(split));
        let mut theirs = tft_rows(split);
        assert_eq!(ours.len(), theirs.len());
        ours.sort_by_key(key);
        theirs.sort_by_key(key);
        let (mut equal, mut total) = (0, 0);
        for (a, b) in ours.iter().zip(&theirs) {
            for (k, v) in &b.0 {
                if BUCKETS.contains(&k.as_str()) {
                    total += 1;
                    equal += usize::from(a.0[k] == *v);
                } else {
                    assert_eq!(a.0[k], *v, "{split} {k}");
                }
            }
            for (k, v) in &b.1 {
                assert!((a.1[k] - v).abs() <= 1e-5, "{split} {k}: {} vs {v}", a.1[k]);
            }
        }
        println!("{split}: bucket ids equal for {equal} of {total}");
        assert!(equal as f64 >= 0.99 * total as f64);
    }

    // The Rust API on the raw eval rows equals the engine's output.
    let artifact = TransformArtifact::load(&graph).unwrap();
    let raw = raw_eval();
    let applied: Vec<Row> = raw
        .iter()
        .flat_map(|b| rows_of(&artifact.apply(b).unwrap()))
        .collect();
    let mut engine = example_rows(&out.join(TRANSFORMED_EXAMPLES).join("Split-eval"));
    let mut api = applied.clone();
    engine.sort_by_key(key);
    api.sort_by_key(key);
    assert_same_rows(&api, &engine, "TransformArtifact::apply vs the engine");

    // `weir transform apply` of the frozen artifact gives the same rows.
    let applied_dir = tmp.path().join("applied");
    rt.block_on(
        ApplyBuilder::new(
            &out,
            testdata().join("csv_example_gen").to_string_lossy(),
            &applied_dir,
        )
        .execute(),
    )
    .unwrap();
    let mut again = example_rows(&applied_dir.join("Split-eval"));
    again.sort_by_key(key);
    assert_same_rows(&again, &engine, "weir transform apply vs weir transform");

    // ONNX Runtime (CPU) on the same rows.
    if !onnxruntime_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have python3 with onnxruntime (.ci/run installs it)"
        );
        eprintln!("skipping the ONNX Runtime part: python3 has no onnxruntime");
        return;
    }
    let inputs = tmp.path().join("inputs.json");
    let outputs = tmp.path().join("outputs.json");
    std::fs::write(&inputs, inputs_json(&artifact, &raw)).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/onnx_apply.py");
    let status = Command::new("python3")
        .arg(&script)
        .arg(graph.join("transform.onnx"))
        .arg(&inputs)
        .arg(&outputs)
        .status()
        .unwrap();
    assert!(status.success(), "onnx_apply.py failed");
    let onnx: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&outputs).unwrap()).unwrap();
    let vocab_sizes: BTreeMap<&str, i64> = [("payment_type_xf", 6), ("company_xf", 53)].into();
    let mut oov_rows = 0;
    for (r, row) in applied.iter().enumerate() {
        for (k, v) in &row.0 {
            let got = onnx[k][r].as_i64().unwrap();
            match vocab_sizes.get(k.as_str()) {
                // An OOV token other than '': weir hashes it into the OOV
                // buckets, ONNX gives the first one.
                Some(&size) if *v >= size && got != *v => {
                    oov_rows += 1;
                    assert_eq!(got, size, "row {r} {k}");
                }
                _ => assert_eq!(got, *v, "row {r} {k}"),
            }
        }
        for (k, v) in &row.1 {
            let got = onnx[k][r].as_f64().unwrap() as f32;
            assert!(
                (got - v).abs() <= 1e-6,
                "row {r} {k}: onnx {got} vs weir {v}"
            );
        }
    }
    println!(
        "ONNX Runtime agrees on {} rows x {} outputs ({oov_rows} ids of unseen tokens map to the first OOV bucket)",
        applied.len(),
        onnx.len() - 1
    );
}
