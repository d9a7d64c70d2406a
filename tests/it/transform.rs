//! Transform parity with TF-Transform on TFX's taxi data: the TFX taxi
//! preprocessing written as weir transform SQL, analyzed on TFX's
//! `csv_example_gen/Split-train`, against TFT's `transform/` output.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float32Type, Int64Type};
use datafusion::prelude::SessionContext;
use weir_datasets::formats::{ReadOptions, SourceSpec};
use weir_datasets::input::resolve_input;
use weir_datasets::Format;
use weir_plan::scan::SourceTable;
use weir_sql::{analyze, register_analyzers};
use weir_tests::{decode, read_records, runtime, testdata, Values};

/// The TFX taxi preprocessing, the same file the README and the sample use.
pub(crate) const TAXI_SQL: &str = include_str!("../../examples/taxi_transform.sql");

pub(crate) const BUCKETS: [&str; 4] = [
    "pickup_latitude_xf",
    "pickup_longitude_xf",
    "dropoff_latitude_xf",
    "dropoff_longitude_xf",
];

async fn context(split: &str) -> SessionContext {
    let ctx = SessionContext::new();
    register_analyzers(&ctx);
    let dir = testdata().join("csv_example_gen").join(split);
    let files = resolve_input(&dir.to_string_lossy()).unwrap();
    let table = SourceTable::open(SourceSpec::new(
        files,
        Format::Tfrecord,
        ReadOptions::default(),
    ))
    .unwrap();
    let schema = table.source().schema();
    ctx.register_table("raw", Arc::new(table)).unwrap();
    // tf.Example features decode as lists; every taxi feature has at most
    // one value, so the transform sees its first value (NULL when missing).
    let columns: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            let text = matches!(f.data_type(), DataType::List(item) if item.data_type() == &DataType::Binary);
            if text {
                format!("CAST(\"{0}\"[1] AS VARCHAR) AS \"{0}\"", f.name())
            } else {
                format!("\"{0}\"[1] AS \"{0}\"", f.name())
            }
        })
        .collect();
    let view = format!("SELECT {} FROM raw", columns.join(", "));
    let df = ctx.sql(&view).await.unwrap();
    ctx.register_table("input", df.into_view()).unwrap();
    ctx
}

/// A row as (int features, float features), by feature name.
pub(crate) type Row = (BTreeMap<String, i64>, BTreeMap<String, f32>);

fn rows_of(batches: &[RecordBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let mut row = Row::default();
            for (i, f) in b.schema().fields().iter().enumerate() {
                let c = b.column(i);
                assert!(!c.is_null(r), "{} is NULL", f.name());
                if let Some(a) = c.as_primitive_opt::<Int64Type>() {
                    row.0.insert(f.name().clone(), a.value(r));
                } else {
                    row.1
                        .insert(f.name().clone(), c.as_primitive::<Float32Type>().value(r));
                }
            }
            out.push(row);
        }
    }
    out
}

/// The rows of a folder of transformed tf.Example TFRecord files.
pub(crate) fn example_rows(dir: &std::path::Path) -> Vec<Row> {
    read_records(dir)
        .iter()
        .map(|r| {
            let mut row = Row::default();
            for (k, v) in decode(r) {
                match v {
                    Values::Int(v) => {
                        row.0.insert(k, v[0]);
                    }
                    Values::Float(v) => {
                        row.1.insert(k, v[0]);
                    }
                    other => panic!("{k}: unexpected {other:?}"),
                }
            }
            row
        })
        .collect()
}

pub(crate) fn tft_rows(split: &str) -> Vec<Row> {
    example_rows(
        &testdata()
            .join("transform/transformed_examples")
            .join(split),
    )
}

/// Rows sorted by everything but the bucket ids (which may differ by the
/// quantile sketches' error), floats rounded for the order only.
fn sort_key(row: &Row) -> (Vec<i64>, Vec<i64>) {
    (
        row.0
            .iter()
            .filter(|(k, _)| !BUCKETS.contains(&k.as_str()))
            .map(|(_, v)| *v)
            .collect(),
        row.1.values().map(|v| (v * 100.0).round() as i64).collect(),
    )
}

#[test]
fn taxi_transform_matches_tf_transform() {
    let rt = runtime();
    let frozen = rt
        .block_on(async { analyze(&context("Split-train").await, TAXI_SQL).await })
        .unwrap();
    // Vocabulary files identical to TFT's assets.
    assert_eq!(frozen.vocabularies.len(), 2);
    for v in &frozen.vocabularies {
        let want = std::fs::read(
            testdata()
                .join("transform/transform_graph/assets")
                .join(&v.file_name),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&v.file_text()),
            String::from_utf8_lossy(&want),
            "{}",
            v.file_name
        );
    }
    for split in ["Split-train", "Split-eval"] {
        let batches = rt
            .block_on(async {
                frozen
                    .apply(&context(split).await)
                    .await
                    .unwrap()
                    .collect()
                    .await
            })
            .unwrap();
        let mut ours = rows_of(&batches);
        let mut theirs = tft_rows(split);
        assert_eq!(ours.len(), theirs.len(), "{split}");
        ours.sort_by_key(sort_key);
        theirs.sort_by_key(sort_key);
        let mut mismatches: BTreeMap<String, usize> = BTreeMap::new();
        for (a, b) in ours.iter().zip(&theirs) {
            for (k, v) in &b.0 {
                *mismatches.entry(k.clone()).or_default() += usize::from(a.0[k] != *v);
            }
            for (k, v) in &b.1 {
                *mismatches.entry(k.clone()).or_default() += usize::from((a.1[k] - v).abs() > 1e-5);
            }
        }
        println!("{split}: mismatching rows per feature {mismatches:?}");
        for (k, n) in &mismatches {
            assert!(
                BUCKETS.contains(&k.as_str()) || *n == 0,
                "{split} {k}: {n} rows differ"
            );
        }
        let (mut buckets_equal, mut buckets_total) = (0usize, 0usize);
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(
                a.0.keys().chain(a.1.keys()).collect::<Vec<_>>().len(),
                b.0.keys().chain(b.1.keys()).collect::<Vec<_>>().len()
            );
            for (k, v) in &b.0 {
                if BUCKETS.contains(&k.as_str()) {
                    buckets_total += 1;
                    buckets_equal += usize::from(a.0[k] == *v);
                } else {
                    assert_eq!(a.0[k], *v, "{split} {k}: {a:?} vs {b:?}");
                }
            }
            for (k, v) in &b.1 {
                assert!((a.1[k] - v).abs() <= 1e-5, "{split} {k}: {} vs {v}", a.1[k]);
            }
        }
        let rate = buckets_equal as f64 / buckets_total as f64;
        println!(
            "{split}: bucket ids equal for {:.4} of {buckets_total}",
            rate
        );
        // The issue asks for >= 0.99; with bucketize's k = 16384 sketch the
        // taxi splits get exact boundaries and every bucket id equals TFT's.
        assert!(rate >= 0.99, "{split}: bucket agreement {rate}");
    }
}
