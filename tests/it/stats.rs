//! Statistics: conformance with TFDV's `FeatureStats.pb` on TFX's ExampleGen
//! output, and the parquet table answering SQL.

use std::collections::BTreeMap;

use prost::Message;
use weir_engine::StatsBuilder;
use weir_tests::{decode, read_records, runtime, testdata, Values};
use weir_tfmd::statistics::{
    DatasetFeatureStatistics, DatasetFeatureStatisticsList, FeatureNameStatistics, HistogramType,
    Stats,
};

pub(crate) fn load(path: &std::path::Path) -> DatasetFeatureStatistics {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut list = DatasetFeatureStatisticsList::decode(bytes.as_slice()).unwrap();
    assert_eq!(list.datasets.len(), 1);
    list.datasets.remove(0)
}

fn by_name(d: &DatasetFeatureStatistics) -> BTreeMap<String, &FeatureNameStatistics> {
    d.features.iter().map(|f| (f.feature_name(), f)).collect()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs())
}

/// Every value of every numeric feature in a split, exactly, sorted.
fn exact_values(split: &str) -> BTreeMap<String, Vec<f64>> {
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in read_records(&testdata().join(format!("csv_example_gen/Split-{split}"))) {
        for (k, v) in decode(&r) {
            let e = out.entry(k).or_default();
            match v {
                Values::Int(x) => e.extend(x.iter().map(|&i| i as f64)),
                Values::Float(x) => e.extend(x.iter().map(|&f| f64::from(f))),
                _ => {}
            }
        }
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    }
    out
}

/// The normalized rank `q` lies within `eps` of the ranks `value` has in
/// the exact sorted data.
fn rank_ok(sorted: &[f64], value: f64, q: f64, eps: f64) -> bool {
    let n = sorted.len() as f64;
    let below = sorted.partition_point(|&x| x < value) as f64 / n;
    let at_or_below = sorted.partition_point(|&x| x <= value) as f64 / n;
    q >= below - eps && q <= at_or_below + eps
}

#[test]
fn statistics_match_tfdv() {
    let data = testdata();
    let out = tempfile::tempdir().unwrap();
    let summary = runtime()
        .block_on(
            StatsBuilder::new(
                data.join("csv_example_gen").to_string_lossy(),
                out.path().join("stats"),
            )
            .with_splits_from_input(true)
            .execute(),
        )
        .unwrap();
    assert_eq!(summary.splits.len(), 2);
    assert_matches_tfdv(&out.path().join("stats"));
}

/// `examplegen --stats` computes the statistics from the CSV rows as they
/// are split, in the same read, and they match TFDV's on TFX's splits.
#[test]
fn fused_examplegen_statistics_match_tfdv() {
    let data = testdata();
    let out = tempfile::tempdir().unwrap();
    let s = weir_engine::ExampleGenBuilder::new(
        data.join("taxi/examplegen_input").to_string_lossy(),
        out.path().join("eg"),
    )
    .with_stats(weir_engine::examplegen::StatsMode::Exact)
    .execute()
    .unwrap();
    assert_eq!(s.statistics.as_ref().map(Vec::len), Some(2));
    assert!(out.path().join("eg/statistics/statistics.parquet").exists());
    assert_matches_tfdv(&out.path().join("eg/statistics"));
}

/// `examplegen --stats` on the cluster's plan (here in-process: map parts
/// with their own accumulators, value counts reduced in the shards, the
/// driver merging both) matches TFDV on TFX's splits, and gives every
/// count, unique and top value of the threaded splitter's statistics, at
/// 1 and at 7 shards per split (value counts spread over more shards), on
/// TFX's taxi CSV (one part) and on a 4-file CSV (four parts, whose
/// partial states merge).
#[test]
fn fused_statistics_of_the_cluster_plan_match_tfdv_and_the_threaded_splitter() {
    use weir_engine::examplegen::StatsMode;
    let data = testdata();
    let out = tempfile::tempdir().unwrap();
    let parts = crate::cluster::csv_input(out.path(), 40_000, 4);
    let taxi = data.join("taxi/examplegen_input");
    for (input, tfdv) in [(&taxi, true), (&parts, false)] {
        let run = |dataflow: bool, shards: usize| {
            let dir = out.path().join(format!("{tfdv}-{dataflow}-{shards}"));
            weir_engine::ExampleGenBuilder::new(input.to_string_lossy(), &dir)
                .with_stats(StatsMode::Exact)
                .with_shards(shards)
                .with_dataflow(dataflow)
                .execute()
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            dir.join("statistics")
        };
        let threaded = run(false, 1);
        for shards in [1, 7] {
            let plan = run(true, shards);
            if tfdv {
                assert_matches_tfdv(&plan);
            }
            for split in ["train", "eval"] {
                let f = format!("Split-{split}/FeatureStats.pb");
                assert_same_counts(&load(&threaded.join(&f)), &load(&plan.join(&f)), &f);
            }
        }
    }
}

/// Every count, unique and top value the same; means and deviations
/// within 1e-12 and 1e-9 relative (sums in another order).
fn assert_same_counts(a: &DatasetFeatureStatistics, b: &DatasetFeatureStatistics, what: &str) {
    assert_eq!(a.num_examples, b.num_examples, "{what}");
    let (a, b) = (by_name(a), by_name(b));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, fa) in &a {
        let fb = b[name];
        let ctx = format!("{what}/{name}");
        assert_eq!(fa.common(), fb.common(), "{ctx}: common statistics");
        match (&fa.stats, &fb.stats) {
            (Some(Stats::StringStats(x)), Some(Stats::StringStats(y))) => {
                assert_eq!(x, y, "{ctx}: string statistics")
            }
            (Some(Stats::NumStats(x)), Some(Stats::NumStats(y))) => {
                assert_eq!(
                    (x.min, x.max, x.num_zeros),
                    (y.min, y.max, y.num_zeros),
                    "{ctx}"
                );
                assert!(close(x.mean, y.mean, 1e-12), "{ctx}: mean");
                assert!(close(x.std_dev, y.std_dev, 1e-9), "{ctx}: std_dev");
            }
            (x, y) => panic!("{ctx}: kinds differ: {x:?} vs {y:?}"),
        }
    }
}

fn assert_matches_tfdv(dir: &std::path::Path) {
    let data = testdata();
    let eps = 0.01;
    for split in ["train", "eval"] {
        let ours = load(&dir.join(format!("Split-{split}/FeatureStats.pb")));
        let tfdv = load(&data.join(format!("statistics_gen/Split-{split}/FeatureStats.pb")));
        assert_eq!(ours.num_examples, tfdv.num_examples, "{split}");
        let (o, t) = (by_name(&ours), by_name(&tfdv));
        assert_eq!(
            o.keys().collect::<Vec<_>>(),
            t.keys().collect::<Vec<_>>(),
            "{split}: features"
        );
        let exact = exact_values(split);
        for (name, tf) in &t {
            let of = o[name];
            let ctx = format!("{split}/{name}");
            assert_eq!(of.r#type, tf.r#type, "{ctx}: type");
            let (oc, tc) = (of.common().unwrap(), tf.common().unwrap());
            assert_eq!(
                oc.num_non_missing, tc.num_non_missing,
                "{ctx}: num_non_missing"
            );
            assert_eq!(oc.num_missing, tc.num_missing, "{ctx}: num_missing");
            assert_eq!(oc.min_num_values, tc.min_num_values, "{ctx}");
            assert_eq!(oc.max_num_values, tc.max_num_values, "{ctx}");
            assert_eq!(oc.tot_num_values, tc.tot_num_values, "{ctx}");
            assert_eq!(oc.avg_num_values, tc.avg_num_values, "{ctx}");
            assert_eq!(
                oc.num_values_histogram, tc.num_values_histogram,
                "{ctx}: values-per-example histogram"
            );
            match (&of.stats, &tf.stats) {
                (Some(Stats::NumStats(a)), Some(Stats::NumStats(b))) => {
                    assert_eq!(a.min, b.min, "{ctx}: min");
                    assert_eq!(a.max, b.max, "{ctx}: max");
                    assert_eq!(a.num_zeros, b.num_zeros, "{ctx}: num_zeros");
                    assert!(
                        close(a.mean, b.mean, 1e-6),
                        "{ctx}: mean {} vs {}",
                        a.mean,
                        b.mean
                    );
                    assert!(
                        close(a.std_dev, b.std_dev, 1e-6),
                        "{ctx}: std_dev {} vs {}",
                        a.std_dev,
                        b.std_dev
                    );
                    let sorted = &exact[name];
                    assert!(
                        rank_ok(sorted, a.median, 0.5, eps),
                        "{ctx}: median {} off by more than {eps} in rank",
                        a.median
                    );
                    let q = a
                        .histograms
                        .iter()
                        .find(|h| h.r#type == HistogramType::Quantiles as i32)
                        .unwrap();
                    assert_eq!(q.buckets.len(), 10, "{ctx}");
                    for (i, b) in q.buckets.iter().enumerate() {
                        assert!(
                            rank_ok(sorted, b.low_value, i as f64 / 10.0, eps),
                            "{ctx}: boundary {i} = {}",
                            b.low_value
                        );
                    }
                    assert!(
                        rank_ok(sorted, q.buckets[9].high_value, 1.0, eps),
                        "{ctx}: last boundary"
                    );
                    let total: f64 = q.buckets.iter().map(|b| b.sample_count).sum();
                    assert!(
                        close(total, sorted.len() as f64, 1e-9) || sorted.len() == 1,
                        "{ctx}: quantile counts {total}"
                    );
                    let s = a
                        .histograms
                        .iter()
                        .find(|h| h.r#type == HistogramType::Standard as i32)
                        .unwrap();
                    let total: f64 = s.buckets.iter().map(|b| b.sample_count).sum();
                    assert!(
                        close(total, sorted.len() as f64, 1e-9),
                        "{ctx}: standard counts {total}"
                    );
                }
                (Some(Stats::StringStats(a)), Some(Stats::StringStats(b))) => {
                    assert_eq!(a.unique, b.unique, "{ctx}: unique");
                    assert_eq!(a.top_values, b.top_values, "{ctx}: top_values");
                    assert_eq!(a.avg_length, b.avg_length, "{ctx}: avg_length");
                }
                (a, b) => panic!("{ctx}: kinds differ: {a:?} vs {b:?}"),
            }
        }
    }
}

#[test]
fn statistics_parquet_answers_sql() {
    use datafusion::prelude::{ParquetReadOptions, SessionContext};
    let data = testdata();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("stats");
    let rt = runtime();
    rt.block_on(
        StatsBuilder::new(data.join("csv_example_gen").to_string_lossy(), &dir)
            .with_splits_from_input(true)
            .execute(),
    )
    .unwrap();
    let path = dir.join("statistics.parquet");
    let rows = rt.block_on(async {
        let ctx = SessionContext::new();
        ctx.register_parquet(
            "stats",
            path.to_string_lossy().as_ref(),
            ParquetReadOptions::default(),
        )
        .await
        .unwrap();
        ctx.sql("SELECT feature, mean FROM stats WHERE split = 'train' AND feature = 'fare'")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap()
    });
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&rows)
        .unwrap()
        .to_string();
    assert!(text.contains("fare") && text.contains("11.66"), "{text}");
    let n: usize = rows.iter().map(|b| b.num_rows()).sum();
    assert_eq!(n, 1);
}

/// NaN, ±inf, empty strings, invalid UTF-8 and an all-missing column through
/// the whole `weir stats` path.
#[test]
fn edge_values_are_counted_where_tfdv_puts_them() {
    use weir_tfmd::statistics::CustomValue;
    let d = tempfile::tempdir().unwrap();
    let mut csv = b"x,s,e\n".to_vec();
    for line in [
        &b"1.5,a,"[..],
        b"nan,,",
        b"inf,\xff\xfe,",
        b"-inf,a,",
        b"0,\"\",",
        b"2.5,b,",
    ] {
        csv.extend_from_slice(line);
        csv.push(b'\n');
    }
    let input = crate::util::write(d.path(), "edge.csv", &csv);
    let out = d.path().join("stats");
    runtime()
        .block_on(StatsBuilder::new(input.to_string_lossy(), &out).execute())
        .unwrap();
    let stats = load(&out.join("Split-all/FeatureStats.pb"));
    assert_eq!(stats.num_examples, 6);
    let f = by_name(&stats);
    let Some(Stats::NumStats(x)) = &f["x"].stats else {
        panic!("x is numeric")
    };
    assert_eq!(x.num_zeros, 1);
    assert_eq!((x.min, x.max), (f64::NEG_INFINITY, f64::INFINITY));
    assert!(x.histograms.iter().all(|h| h.num_nan == 1));
    let std = x
        .histograms
        .iter()
        .find(|h| h.r#type == HistogramType::Standard as i32)
        .unwrap();
    // TFDV's histogram: the infinities as point buckets at the ends, the
    // finite values in 10 buckets between the finite min and max.
    let ends =
        |b: &weir_tfmd::statistics::HistogramBucket| (b.low_value, b.high_value, b.sample_count);
    assert_eq!(std.buckets.len(), 12);
    assert_eq!(
        ends(&std.buckets[0]),
        (f64::NEG_INFINITY, f64::NEG_INFINITY, 1.0)
    );
    assert_eq!(ends(&std.buckets[11]), (f64::INFINITY, f64::INFINITY, 1.0));
    assert_eq!(
        (std.buckets[1].low_value, std.buckets[10].high_value),
        (0.0, 2.5)
    );
    let finite: f64 = std.buckets[1..11].iter().map(|b| b.sample_count).sum();
    assert!((finite - 3.0).abs() < 1e-9, "{std:?}");
    let custom: BTreeMap<&str, f64> = f["x"]
        .custom_stats
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                match c.val {
                    Some(CustomValue::Num(n)) => n,
                    _ => f64::NAN,
                },
            )
        })
        .collect();
    assert_eq!(custom.get("num_pos_inf"), Some(&1.0));
    assert_eq!(custom.get("num_neg_inf"), Some(&1.0));
    let Some(Stats::StringStats(s)) = &f["s"].stats else {
        panic!("s is a string feature")
    };
    // An empty cell is missing whether quoted or not (TFX's CSV rule).
    assert_eq!(f["s"].common().unwrap().num_missing, 2);
    assert_eq!(s.unique, 3);
    assert_eq!(s.top_values[0].value, "a");
    assert!(f["s"]
        .custom_stats
        .iter()
        .any(|c| c.name == "invalid_utf8_count"));
    assert_eq!(f["e"].common().unwrap().num_missing, 6);
    assert!(matches!(&f["e"].stats, Some(Stats::StringStats(s)) if s.unique == 0));
}

/// `--approx` sketches strings; at the taxi data's cardinalities the
/// sketches hold every value, so uniques and top values equal TFDV's.
#[test]
fn approx_mode_agrees_with_tfdv_on_low_cardinality_strings() {
    let data = testdata();
    let out = tempfile::tempdir().unwrap();
    runtime()
        .block_on(
            StatsBuilder::new(
                data.join("csv_example_gen").to_string_lossy(),
                out.path().join("s"),
            )
            .with_splits_from_input(true)
            .with_approx(true)
            .execute(),
        )
        .unwrap();
    for split in ["train", "eval"] {
        let ours = load(&out.path().join(format!("s/Split-{split}/FeatureStats.pb")));
        let tfdv = load(&data.join(format!("statistics_gen/Split-{split}/FeatureStats.pb")));
        let (o, t) = (by_name(&ours), by_name(&tfdv));
        for name in ["company", "payment_type"] {
            let (Some(Stats::StringStats(a)), Some(Stats::StringStats(b))) =
                (&o[name].stats, &t[name].stats)
            else {
                panic!("{name} is a string feature");
            };
            assert!(
                a.unique.abs_diff(b.unique) as f64 <= 0.03 * b.unique as f64,
                "{split}/{name}: unique {} vs {}",
                a.unique,
                b.unique
            );
            assert_eq!(a.top_values, b.top_values, "{split}/{name}");
            assert_eq!(a.avg_length, b.avg_length, "{split}/{name}");
        }
    }
}

/// Regression: two `weir stats` runs over the same input gave different
/// medians and histograms (randomized KLL coins, partial states merged in
/// arrival order). Over a Parquet input read in several partitions, both
/// outputs are now the same bytes.
#[test]
fn stats_runs_over_a_partitioned_input_are_byte_identical() {
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("taxi.csv");
    weir_datasets::synth::write_taxi_csv(
        &mut std::io::BufWriter::new(std::fs::File::create(&csv).unwrap()),
        60_000,
        11,
    )
    .unwrap();
    let eg = d.path().join("eg");
    weir_engine::ExampleGenBuilder::new(csv.to_string_lossy(), &eg)
        .with_output_format(weir_engine::OutputFormat::Parquet)
        .with_shards(4)
        .execute()
        .unwrap();
    let rt = runtime();
    let stats = |out: &str| {
        let out = d.path().join(out);
        rt.block_on(
            StatsBuilder::new(eg.to_string_lossy(), &out)
                .with_splits_from_input(true)
                .execute(),
        )
        .unwrap();
        out
    };
    let (a, b) = (stats("a"), stats("b"));
    for file in [
        "Split-train/FeatureStats.pb",
        "Split-eval/FeatureStats.pb",
        "statistics.parquet",
    ] {
        let (x, y) = (
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
        );
        assert!(x == y, "{file} differs between two runs");
    }
}

/// Regression: opened inputs were cached by their spec (paths and sizes)
/// for the life of the process, so a file rewritten in place with the same
/// size kept its old inferred schema in a later run (here: a column that
/// turned from INT to BYTES failed to parse). Each run now opens afresh.
#[test]
fn a_file_rewritten_with_the_same_size_is_read_afresh() {
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("data.csv");
    let rt = runtime();
    let mut kinds = Vec::new();
    for (run, body) in ["a\n1\n2\n", "a\nx\ny\n"].into_iter().enumerate() {
        std::fs::write(&csv, body).unwrap();
        let out = d.path().join(format!("out-{run}"));
        let summary = rt
            .block_on(StatsBuilder::new(csv.to_string_lossy(), &out).execute())
            .unwrap();
        let f = &summary.splits[0].stats.features[0];
        kinds.push(f.r#type);
    }
    use weir_tfmd::statistics::FeatureStatsType;
    assert_eq!(
        kinds,
        vec![
            FeatureStatsType::Int as i32,
            FeatureStatsType::String as i32
        ]
    );
}

/// A Parquet file of low- and high-cardinality strings, written with or
/// without dictionary encoding.
fn strings_parquet(path: &std::path::Path, dictionary: bool) {
    use datafusion::arrow::array::{ArrayRef, BinaryArray, RecordBatch, StringArray};
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::file::properties::WriterProperties;
    use std::sync::Arc;
    let rows = 50_000;
    let low: ArrayRef =
        Arc::new(StringArray::from_iter((0..rows).map(|i| {
            (i % 7 != 3).then(|| ["cash", "card", "", "dispute"][i % 4])
        })));
    let high: ArrayRef = Arc::new(StringArray::from_iter_values(
        // Each value twice, 120 bytes: more than the writer's 1 MiB
        // dictionary page holds per row group.
        (0..rows).map(|i| format!("{:0>120}", i / 2)),
    ));
    let raw: ArrayRef = Arc::new(BinaryArray::from_iter_values(
        (0..rows).map(|i| [&b"ok"[..], b"\xff\xfe", b"\x00"][i % 3]),
    ));
    let batch = RecordBatch::try_from_iter([("low", low), ("high", high), ("raw", raw)]).unwrap();
    let props = WriterProperties::builder()
        .set_dictionary_enabled(dictionary)
        .set_max_row_group_row_count(Some(20_000))
        .build();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batch.schema(),
        Some(props),
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Statistics read Parquet strings as the file stores them: dictionary
/// columns are counted by their keys, the others read through views. The
/// result is the same bytes as for the same strings stored plain.
#[test]
fn parquet_strings_read_as_stored_give_the_statistics_of_plain_strings() {
    use datafusion::arrow::datatypes::DataType;
    use weir_datasets::formats::{ParquetSource, StringDecoding};
    let d = tempfile::tempdir().unwrap();
    let (dict, plain) = (
        d.path().join("dict.parquet"),
        d.path().join("plain.parquet"),
    );
    strings_parquet(&dict, true);
    strings_parquet(&plain, false);
    let types = |p: &std::path::Path| {
        let files = weir_datasets::input::resolve_input(&p.to_string_lossy()).unwrap();
        let s = ParquetSource::open(files, 8192, StringDecoding::AsStored).unwrap();
        s.schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect::<Vec<_>>()
    };
    let dict_of = |v: DataType| DataType::Dictionary(Box::new(DataType::Int32), Box::new(v));
    // The unique column overflows the writer's dictionary and falls back
    // to plain pages: read as views.
    assert_eq!(
        types(&dict),
        vec![
            dict_of(DataType::Utf8),
            DataType::Utf8View,
            dict_of(DataType::Binary)
        ]
    );
    assert_eq!(
        types(&plain),
        vec![DataType::Utf8View, DataType::Utf8View, DataType::BinaryView]
    );
    let rt = runtime();
    let stats = |input: &std::path::Path, out: &str, approx: bool| {
        let out = d.path().join(out);
        rt.block_on(
            StatsBuilder::new(input.to_string_lossy(), &out)
                .with_approx(approx)
                .execute(),
        )
        .unwrap();
        std::fs::read(out.join("Split-all/FeatureStats.pb")).unwrap()
    };
    for approx in [false, true] {
        let a = stats(&dict, &format!("dict-{approx}"), approx);
        let b = stats(&plain, &format!("plain-{approx}"), approx);
        assert!(
            a == b,
            "approx={approx}: dictionary and plain statistics differ"
        );
        let s = DatasetFeatureStatisticsList::decode(a.as_slice()).unwrap();
        let f = by_name(&s.datasets[0]);
        let Some(Stats::StringStats(low)) = &f["low"].stats else {
            panic!("low is a string feature")
        };
        assert_eq!(f["low"].common().unwrap().num_missing, 7_143);
        assert_eq!(low.unique, 4, "the empty string is a value");
        let Some(Stats::StringStats(raw)) = &f["raw"].stats else {
            panic!("raw is a bytes feature")
        };
        assert_eq!(raw.unique, 3);
        assert!(f["raw"]
            .custom_stats
            .iter()
            .any(|c| c.name == "invalid_utf8_count"));
        if !approx {
            let Some(Stats::StringStats(high)) = &f["high"].stats else {
                panic!("high is a string feature")
            };
            assert_eq!(high.unique, 25_000);
        }
    }
}

/// TFDV's STANDARD histogram derivation (`weir_engine::stats::tfdv_histogram`,
/// weir's default) reproduces TFDV 1.16's own histograms on TFX's
/// taxi data wherever TFDV's quantiles summary is exact (features with few
/// distinct values); the others are printed for the record.
#[test]
fn tfdv_histogram_derivation_reproduces_tfdv_where_its_summary_is_exact() {
    use weir_engine::stats::tfdv_histogram::{
        equi_width_histogram, exact_summary, quantiles_and_cumulative_weights,
    };
    let data = testdata();
    let tfdv = load(&data.join("statistics_gen/Split-train/FeatureStats.pb"));
    let tfdv = by_name(&tfdv);
    let mut exact_checked = Vec::new();
    for (name, values) in exact_values("train") {
        let Some(Stats::NumStats(n)) = tfdv.get(&name).and_then(|f| f.stats.as_ref()) else {
            continue;
        };
        let Some(want) = n
            .histograms
            .iter()
            .find(|h| h.r#type == HistogramType::Standard as i32)
        else {
            continue;
        };
        let finite: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        let pairs: Vec<(f64, f64)> = finite.iter().map(|&v| (v, 1.0)).collect();
        let summary = exact_summary(&pairs);
        let (q, c) = quantiles_and_cumulative_weights(&summary, 1000);
        let fin: Vec<f64> = finite.iter().copied().filter(|v| v.is_finite()).collect();
        let (lo, hi) = (fin[0], fin[fin.len() - 1]);
        let pos_inf = finite.iter().filter(|v| **v == f64::INFINITY).count() as f64;
        let got = equi_width_histogram(&q, &c, lo, hi, want.buckets.len(), pos_inf);
        let diff = got
            .iter()
            .zip(&want.buckets)
            .map(|(g, w)| (g.2 - w.sample_count).abs())
            .fold(0.0f64, f64::max);
        println!(
            "{name}: {} distinct values, max bucket count difference from TFDV {diff:.3e}",
            summary.len()
        );
        // TFDV's summary keeps every distinct value while they fit one
        // block (about 2,100 entries at its eps of 0.01).
        if summary.len() <= 1000 {
            assert_eq!(got.len(), want.buckets.len(), "{name}");
            for (g, w) in got.iter().zip(&want.buckets) {
                assert!(
                    close(g.0, w.low_value, 1e-9) && close(g.1, w.high_value, 1e-9),
                    "{name}: {g:?} vs {w:?}"
                );
                assert!(
                    (g.2 - w.sample_count).abs() <= 1e-6,
                    "{name}: {g:?} vs {w:?}"
                );
            }
            exact_checked.push(name);
        }
    }
    assert!(exact_checked.len() >= 5, "{exact_checked:?}");
}
