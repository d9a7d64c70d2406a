//! Differential tests of the statistics aggregates: the same data fed as one
//! partition and as many partitions (DataFusion's partial/final merge) must
//! agree with each other and with a naive reference; plus edge cases.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Float64Array, Int64Array, ListArray, NullArray,
    RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{Field, Float64Type, Int64Type, Schema, UInt64Type};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use weir_udfs::stats::QuantileSketch;

/// Deterministic pseudo-random values.
fn lcg(seed: u64, n: usize) -> Vec<u64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 33
        })
        .collect()
}

async fn run(column: ArrayRef, partitions: usize, sql: &str) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "x",
        column.data_type().clone(),
        true,
    )]));
    let n = column.len();
    let per = n.div_ceil(partitions.max(1)).max(1);
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n || parts.is_empty() {
        let len = per.min(n - start);
        let b = RecordBatch::try_new(schema.clone(), vec![column.slice(start, len)]).unwrap();
        parts.push(vec![b]);
        start += len;
        if len == 0 {
            break;
        }
    }
    let ctx = SessionContext::new();
    weir_udfs::register_all(&ctx);
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, parts).unwrap()))
        .unwrap();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    batches.into_iter().find(|b| b.num_rows() > 0).unwrap()
}

fn field<'a>(b: &'a RecordBatch, name: &str) -> &'a ArrayRef {
    b.column(0).as_struct().column_by_name(name).unwrap()
}

fn u(b: &RecordBatch, name: &str) -> u64 {
    field(b, name).as_primitive::<UInt64Type>().value(0)
}

fn f(b: &RecordBatch, name: &str) -> f64 {
    field(b, name).as_primitive::<Float64Type>().value(0)
}

fn sketch(b: &RecordBatch) -> QuantileSketch {
    QuantileSketch::from_bytes(field(b, "sketch").as_binary::<i32>().value(0)).unwrap()
}

fn numeric_data() -> ArrayRef {
    let r = lcg(7, 50_000);
    let v: Vec<Option<f64>> = r
        .iter()
        .enumerate()
        .map(|(i, &x)| match i % 97 {
            0 => None,
            1 => Some(0.0),
            2 => Some(f64::NAN),
            3 if i % 2 == 1 => Some(f64::INFINITY),
            _ => Some((x % 100_000) as f64 / 7.0 - 3000.0),
        })
        .collect();
    Arc::new(Float64Array::from(v))
}

#[tokio::test]
async fn numeric_stats_merge_agrees_with_one_pass_and_reference() {
    let data = numeric_data();
    let one = run(data.clone(), 1, "SELECT numeric_stats(x) FROM t").await;
    let many = run(data.clone(), 13, "SELECT numeric_stats(x) FROM t").await;
    // Naive reference.
    let a = data.as_primitive::<Float64Type>();
    let vals: Vec<f64> = a.iter().flatten().collect();
    let finite_or_inf: Vec<f64> = vals.iter().copied().filter(|v| !v.is_nan()).collect();
    let n = finite_or_inf.len() as f64;
    let finite: Vec<f64> = finite_or_inf
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    for b in [&one, &many] {
        assert_eq!(u(b, "num_values"), vals.len() as u64);
        assert_eq!(
            u(b, "num_nan"),
            vals.iter().filter(|v| v.is_nan()).count() as u64
        );
        assert_eq!(
            u(b, "num_pos_inf"),
            vals.iter().filter(|v| **v == f64::INFINITY).count() as u64
        );
        assert_eq!(
            u(b, "num_zeros"),
            vals.iter().filter(|v| **v == 0.0).count() as u64
        );
        assert_eq!(u(b, "n"), n as u64);
        assert_eq!(f(b, "max"), f64::INFINITY);
        assert_eq!(
            f(b, "finite_max"),
            finite.iter().copied().fold(f64::MIN, f64::max)
        );
        assert_eq!(
            f(b, "finite_min"),
            finite.iter().copied().fold(f64::MAX, f64::min)
        );
    }
    // Moments on finite data only (an infinity makes them infinite).
    let finite_data: ArrayRef = Arc::new(Float64Array::from(finite.clone()));
    let one = run(finite_data.clone(), 1, "SELECT numeric_stats(x) FROM t").await;
    let many = run(finite_data, 17, "SELECT numeric_stats(x) FROM t").await;
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    let var = finite.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / finite.len() as f64;
    for b in [&one, &many] {
        assert!(
            (f(b, "mean") - mean).abs() <= 1e-9 * mean.abs().max(1.0),
            "{} vs {mean}",
            f(b, "mean")
        );
        assert!(
            (f(b, "std_dev") - var.sqrt()).abs() <= 1e-9 * var.sqrt(),
            "{} vs {}",
            f(b, "std_dev"),
            var.sqrt()
        );
        // Quantiles within the sketch's stated rank error of the exact ranks.
        let s = sketch(b);
        let mut sorted = finite.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
        for q in [0.1, 0.25, 0.5, 0.75, 0.9] {
            let v = s.quantile(q).unwrap();
            let lo = sorted.partition_point(|&x| x < v) as f64 / sorted.len() as f64;
            let hi = sorted.partition_point(|&x| x <= v) as f64 / sorted.len() as f64;
            let eps = s.rank_error();
            assert!(eps <= 0.01, "rank error {eps}");
            assert!(
                q >= lo - eps && q <= hi + eps,
                "q {q}: value {v} has ranks {lo}..{hi}"
            );
        }
    }
}

/// A feature with few distinct values (a quantity, a day) is counted
/// exactly and enters the sketch by weighted insertion, which adds no
/// error: in one partition its 50 values' binary digits fit the sketch
/// without a compaction, so every quantile is the exact one. Merging the
/// states of 7 partitions compacts, within the stated rank error. Past
/// 16,384 distinct values the same accumulator goes on in its sketch.
#[tokio::test]
async fn few_distinct_values_give_exact_quantiles() {
    let r = lcg(3, 120_000);
    let quantity: Vec<f64> = r.iter().map(|&x| (x % 50 + 1) as f64).collect();
    let data: ArrayRef = Arc::new(Float64Array::from(quantity.clone()));
    let mut sorted = quantity.clone();
    sorted.sort_by(f64::total_cmp);
    let rank = |v: f64| {
        let lo = sorted.partition_point(|&x| x < v) as f64 / sorted.len() as f64;
        let hi = sorted.partition_point(|&x| x <= v) as f64 / sorted.len() as f64;
        (lo, hi)
    };
    let exact = |q: f64| {
        // The smallest value whose rank reaches q (the sketch's rule).
        let i = ((q * sorted.len() as f64).ceil() as usize).max(1) - 1;
        sorted[i]
    };
    for partitions in [1, 7] {
        let b = run(data.clone(), partitions, "SELECT numeric_stats(x) FROM t").await;
        let s = sketch(&b);
        for i in 1..100 {
            let q = f64::from(i) / 100.0;
            let v = s.quantile(q).unwrap();
            if partitions == 1 {
                assert_eq!(v, exact(q), "q {q}");
            }
            let (lo, hi) = rank(v);
            let eps = s.rank_error();
            assert!(q >= lo - eps && q <= hi + eps, "q {q}: {lo}..{hi}");
        }
    }
    // 40,000 distinct values: the table fills, then the sketch takes over.
    let many: Vec<f64> = r.iter().map(|&x| (x % 40_000) as f64).collect();
    let b = run(
        Arc::new(Float64Array::from(many.clone())),
        1,
        "SELECT numeric_stats(x) FROM t",
    )
    .await;
    let s = sketch(&b);
    assert_eq!(s.n(), many.len() as u64);
    let mut sorted = many;
    sorted.sort_by(f64::total_cmp);
    for q in [0.01, 0.25, 0.5, 0.75, 0.99] {
        let v = s.quantile(q).unwrap();
        let hi = sorted.partition_point(|&x| x <= v) as f64 / sorted.len() as f64;
        let lo = sorted.partition_point(|&x| x < v) as f64 / sorted.len() as f64;
        assert!(
            q >= lo - s.rank_error() && q <= hi + s.rank_error(),
            "q {q}: {lo}..{hi}"
        );
    }
}

#[tokio::test]
async fn string_stats_merge_is_exact() {
    let r = lcg(11, 30_000);
    let v: Vec<Option<String>> = r
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if i % 50 == 0 {
                None
            } else {
                Some(format!("v{}", (x % 1000) * (x % 7)))
            }
        })
        .collect();
    let data: ArrayRef = Arc::new(StringArray::from(v.clone()));
    let one = run(data.clone(), 1, "SELECT string_stats(x) FROM t").await;
    let many = run(data, 9, "SELECT string_stats(x) FROM t").await;
    let mut counts = std::collections::HashMap::<&str, u64>::new();
    for s in v.iter().flatten() {
        *counts.entry(s.as_str()).or_default() += 1;
    }
    let mut ranked: Vec<(&str, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(a.0)));
    for b in [&one, &many] {
        assert_eq!(u(b, "unique"), ranked.len() as u64);
        let tv = field(b, "top_values").as_list::<i32>().value(0);
        let tv = tv.as_binary::<i32>();
        let tc = field(b, "top_counts").as_list::<i32>().value(0);
        let tc = tc.as_primitive::<UInt64Type>();
        for (i, (value, count)) in ranked.iter().take(20).enumerate() {
            assert_eq!(tv.value(i), value.as_bytes());
            assert_eq!(tc.value(i), *count);
        }
        let total: usize = v.iter().flatten().map(|s| s.len()).sum();
        assert_eq!(u(b, "total_bytes"), total as u64);
    }
}

#[tokio::test]
async fn common_stats_of_lists_and_missing() {
    let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
        Some(vec![Some(1), Some(2)]),
        None,
        Some(vec![]),
        Some(vec![Some(3)]),
        Some(vec![Some(4), Some(5), Some(6)]),
    ]);
    let b = run(Arc::new(list), 2, "SELECT common_stats(x) FROM t").await;
    assert_eq!(u(&b, "num_non_missing"), 4);
    assert_eq!(u(&b, "num_missing"), 1);
    assert_eq!(u(&b, "min_num_values"), 0);
    assert_eq!(u(&b, "max_num_values"), 3);
    assert_eq!(u(&b, "tot_num_values"), 6);
}

#[tokio::test]
async fn all_missing_feature() {
    let b = run(
        Arc::new(NullArray::new(10)),
        3,
        "SELECT common_stats(x) FROM t",
    )
    .await;
    assert_eq!(u(&b, "num_non_missing"), 0);
    assert_eq!(u(&b, "num_missing"), 10);
    let b = run(
        Arc::new(Int64Array::from(vec![None::<i64>; 5])),
        2,
        "SELECT numeric_stats(x) FROM t",
    )
    .await;
    assert_eq!(u(&b, "n"), 0);
    assert!(sketch(&b).quantile(0.5).is_none());
}

#[tokio::test]
async fn single_row_and_all_zeros() {
    let b = run(
        Arc::new(Int64Array::from(vec![42])),
        1,
        "SELECT numeric_stats(x) FROM t",
    )
    .await;
    assert_eq!(
        (f(&b, "mean"), f(&b, "std_dev"), f(&b, "min"), f(&b, "max")),
        (42.0, 0.0, 42.0, 42.0)
    );
    assert_eq!(sketch(&b).quantile(0.5), Some(42.0));
    let b = run(
        Arc::new(Int64Array::from(vec![0; 1000])),
        4,
        "SELECT numeric_stats(x) FROM t",
    )
    .await;
    assert_eq!(u(&b, "num_zeros"), 1000);
    assert_eq!((f(&b, "mean"), f(&b, "std_dev")), (0.0, 0.0));
}

#[tokio::test]
async fn empty_strings_and_invalid_utf8() {
    let data: ArrayRef = Arc::new(BinaryArray::from_opt_vec(vec![
        Some(b"".as_ref()),
        Some(b"\xff\xfe".as_ref()),
        Some(b"ok".as_ref()),
        None,
        Some(b"".as_ref()),
    ]));
    let b = run(data, 2, "SELECT string_stats(x) FROM t").await;
    assert_eq!(u(&b, "unique"), 3);
    assert_eq!(u(&b, "num_values"), 4);
    assert_eq!(u(&b, "invalid_utf8"), 1);
    assert_eq!(u(&b, "total_bytes"), 4);
    let tv = field(&b, "top_values").as_list::<i32>().value(0);
    assert_eq!(tv.as_binary::<i32>().value(0), b"");
}

#[tokio::test]
async fn empty_input_gives_empty_statistics() {
    let data: ArrayRef = Arc::new(Int64Array::from(Vec::<i64>::new()));
    let b = run(data, 1, "SELECT numeric_stats(x), common_stats(x) FROM t").await;
    assert_eq!(u(&b, "n"), 0);
    assert_eq!(
        b.column(1)
            .as_struct()
            .column_by_name("num_missing")
            .unwrap()
            .as_primitive::<UInt64Type>()
            .value(0),
        0
    );
}

/// Sketch mode on 10M distinct strings plus three heavy hitters: memory
/// stays bounded, `unique` is within 3 standard errors, and the heavy
/// hitters come first with counts within the stated maximum error.
#[test]
fn approx_string_stats_on_ten_million_distinct_values() {
    use datafusion::logical_expr::Accumulator;
    use weir_udfs::stats::ApproxStringStatsAccumulator;
    let mut acc = ApproxStringStatsAccumulator::default();
    let distinct = 10_000_000u64;
    let heavy = [
        ("HEAVY-A", 300_000u64),
        ("HEAVY-B", 200_000),
        ("HEAVY-C", 100_000),
    ];
    let batch = 200_000u64;
    let mut max_size = 0;
    for start in (0..distinct).step_by(batch as usize) {
        let mut values: Vec<String> = (start..start + batch).map(|i| format!("v{i:08}")).collect();
        // Spread the heavy hitters over every batch.
        for (h, n) in heavy {
            values.extend(std::iter::repeat_n(
                h.to_string(),
                (n * batch / distinct) as usize,
            ));
        }
        let arr: ArrayRef = Arc::new(StringArray::from(values));
        acc.update_batch(&[arr]).unwrap();
        max_size = max_size.max(acc.size());
    }
    assert!(max_size < 4 << 20, "accumulator grew to {max_size} bytes");
    let v = acc.evaluate().unwrap();
    let datafusion::common::ScalarValue::Struct(s) = v else {
        panic!("struct")
    };
    let get_u = |n: &str| {
        s.column_by_name(n)
            .unwrap()
            .as_primitive::<UInt64Type>()
            .value(0)
    };
    let get_f = |n: &str| {
        s.column_by_name(n)
            .unwrap()
            .as_primitive::<Float64Type>()
            .value(0)
    };
    let true_unique = distinct + heavy.len() as u64;
    let rse = get_f("unique_rse");
    let unique = get_u("unique") as f64;
    assert!(
        ((unique - true_unique as f64) / true_unique as f64).abs() <= 3.0 * rse,
        "unique {unique} vs {true_unique} (rse {rse})"
    );
    let max_err = get_u("top_max_error");
    let total = distinct + heavy.iter().map(|h| h.1).sum::<u64>();
    assert!(
        max_err as f64 <= 2.0 / 8192.0 * total as f64,
        "max error {max_err}"
    );
    let tv = s
        .column_by_name("top_values")
        .unwrap()
        .as_list::<i32>()
        .value(0);
    let tv = tv.as_binary::<i32>();
    let tc = s
        .column_by_name("top_counts")
        .unwrap()
        .as_list::<i32>()
        .value(0);
    let tc = tc.as_primitive::<UInt64Type>();
    for (i, (h, n)) in heavy.iter().enumerate() {
        assert_eq!(tv.value(i), h.as_bytes());
        assert!(
            tc.value(i).abs_diff(*n) <= max_err,
            "{h}: {} vs {n}",
            tc.value(i)
        );
    }
    assert_eq!(get_u("num_values"), total);
}

#[tokio::test]
async fn approx_string_stats_merge_matches_exact_within_bounds() {
    let r = lcg(5, 40_000);
    let v: Vec<Option<String>> = r.iter().map(|&x| Some(format!("k{}", x % 300))).collect();
    let data: ArrayRef = Arc::new(StringArray::from(v.clone()));
    let exact = run(data.clone(), 1, "SELECT string_stats(x) FROM t").await;
    let approx = run(data, 11, "SELECT string_stats_approx(x) FROM t").await;
    // 300 distinct values fit in the sketches: counts exact, unique close.
    assert!(u(&approx, "unique").abs_diff(u(&exact, "unique")) <= 3);
    assert_eq!(u(&approx, "top_max_error"), 0);
    let tv = |b: &RecordBatch| {
        let l = field(b, "top_values").as_list::<i32>().value(0);
        (0..10)
            .map(|i| l.as_binary::<i32>().value(i).to_vec())
            .collect::<Vec<_>>()
    };
    assert_eq!(tv(&approx), tv(&exact));
    assert_eq!(u(&approx, "total_bytes"), u(&exact, "total_bytes"));
}

/// Regression: dates (Date32 from DataFusion's CSV inference) failed with
/// "Casting from Date32 to Float64 not supported"; they count in days.
#[tokio::test]
async fn numeric_stats_of_dates_count_days() {
    use datafusion::arrow::array::{Date32Array, TimestampMicrosecondArray};
    let b = run(
        Arc::new(Date32Array::from(vec![Some(10), None, Some(20)])),
        2,
        "SELECT numeric_stats(x) FROM t",
    )
    .await;
    assert_eq!(
        (f(&b, "min"), f(&b, "max"), f(&b, "mean")),
        (10.0, 20.0, 15.0)
    );
    let b = run(
        Arc::new(TimestampMicrosecondArray::from(vec![1_000_000, 3_000_000])),
        1,
        "SELECT numeric_stats(x) FROM t",
    )
    .await;
    assert_eq!(f(&b, "mean"), 2_000_000.0);
}

/// Regression: medians and histograms differed between two runs over the
/// same data (the `datasketches` KLL seeds its coins per thread, and
/// partial states merged in arrival order). The same partial states merged
/// in any order now give the same bytes, and so do repeated runs.
#[test]
fn numeric_stats_result_does_not_depend_on_merge_order_or_run() {
    use datafusion::logical_expr::Accumulator;
    use weir_udfs::stats::{NumericStatsAccumulator, DEFAULT_KLL_K};
    let data = numeric_data();
    // Seven partial states over slices of the data.
    let partials: Vec<Vec<ArrayRef>> = (0..7)
        .map(|i| {
            let len = data.len() / 7;
            let mut acc = NumericStatsAccumulator::new(DEFAULT_KLL_K);
            acc.update_batch(&[data.slice(i * len, len)]).unwrap();
            acc.state()
                .unwrap()
                .into_iter()
                .map(|s| s.to_array().unwrap())
                .collect()
        })
        .collect();
    let merged = |order: &[usize]| {
        let mut acc = NumericStatsAccumulator::new(DEFAULT_KLL_K);
        for &i in order {
            acc.merge_batch(&partials[i]).unwrap();
        }
        acc.evaluate().unwrap()
    };
    let forward = merged(&[0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(forward, merged(&[6, 5, 4, 3, 2, 1, 0]));
    assert_eq!(forward, merged(&[3, 0, 6, 1, 5, 2, 4]));
    // And one pass over the same values, twice.
    let once = || {
        let mut acc = NumericStatsAccumulator::new(DEFAULT_KLL_K);
        acc.update_batch(std::slice::from_ref(&data)).unwrap();
        acc.evaluate().unwrap()
    };
    assert_eq!(once(), once());
}

#[tokio::test]
async fn numeric_stats_over_many_partitions_repeat_exactly() {
    let data = numeric_data();
    let first = run(data.clone(), 9, "SELECT numeric_stats(x) FROM t").await;
    for _ in 0..3 {
        let again = run(data.clone(), 9, "SELECT numeric_stats(x) FROM t").await;
        assert_eq!(again, first);
    }
}

/// String statistics read every string and binary layout in place (no cast
/// to `Binary`) and agree across them; only binary values are checked for
/// UTF-8.
#[tokio::test]
async fn string_stats_agree_across_string_and_binary_layouts() {
    use datafusion::arrow::array::{
        BinaryViewArray, LargeBinaryArray, LargeStringArray, StringViewArray,
    };
    let words: Vec<Option<String>> = lcg(9, 3000)
        .into_iter()
        .map(|x| (x % 17 != 0).then(|| format!("w{}-{}", x % 40, "x".repeat((x % 30) as usize))))
        .collect();
    let as_str = || words.iter().map(|w| w.as_deref());
    let as_bytes = || words.iter().map(|w| w.as_deref().map(str::as_bytes));
    let layouts: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter(as_str())),
        Arc::new(LargeStringArray::from_iter(as_str())),
        Arc::new(StringViewArray::from_iter(as_str())),
        Arc::new(BinaryArray::from_iter(as_bytes())),
        Arc::new(LargeBinaryArray::from_iter(as_bytes())),
        Arc::new(BinaryViewArray::from_iter(as_bytes())),
    ];
    let mut results = Vec::new();
    for column in layouts {
        for f in ["string_stats", "string_stats_approx"] {
            let b = run(column.clone(), 3, &format!("SELECT {f}(x) FROM t")).await;
            results.push((
                f,
                u(&b, "num_values"),
                u(&b, "total_bytes"),
                u(&b, "invalid_utf8"),
                u(&b, "unique"),
            ));
        }
    }
    let expected_values = words.iter().flatten().count() as u64;
    let expected_bytes: u64 = words.iter().flatten().map(|w| w.len() as u64).sum();
    for r in &results {
        assert_eq!(
            (r.1, r.2, r.3),
            (expected_values, expected_bytes, 0),
            "{r:?}"
        );
    }
    let exact: Vec<_> = results
        .iter()
        .filter(|r| r.0 == "string_stats")
        .map(|r| r.4)
        .collect();
    assert!(exact.windows(2).all(|w| w[0] == w[1]), "{exact:?}");
}
