//! tf.SequenceExample end to end (issue 25): read with `--payload-format
//! sequence_example`, statistics with TFDV's `##SEQUENCE##` paths and
//! nested value counts, schema inference and validation, ExampleGen's
//! pass-through and split. Goldens: `tests/tfdv/sequence/` (made by
//! `tests/tfdv/make_sequence_goldens.py` with TensorFlow's
//! `tf.train.SequenceExample` and TFDV 1.16.1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use weir_datasets::example::PayloadFormat;
use weir_engine::{ExampleGenBuilder, StatsBuilder};
use weir_tests::{read_records, runtime};
use weir_tfmd::statistics::{
    CommonStatistics, CustomValue, DatasetFeatureStatistics, FeatureNameStatistics, Histogram,
    Stats,
};

use crate::stats::load;

fn goldens() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tfdv/sequence")
}

fn weir_stats(input: &Path, payload: Option<PayloadFormat>) -> DatasetFeatureStatistics {
    let out = tempfile::tempdir().unwrap();
    let mut b = StatsBuilder::new(input.to_string_lossy(), out.path().join("s"));
    if let Some(p) = payload {
        b = b.with_payload_format(p);
    }
    let summary = runtime().block_on(b.execute()).unwrap();
    summary.splits.into_iter().next().unwrap().stats
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn assert_histogram(ctx: &str, got: &Histogram, want: &Histogram) {
    assert_eq!(got.r#type, want.r#type, "{ctx}: histogram type");
    assert_eq!(got.buckets.len(), want.buckets.len(), "{ctx}: buckets");
    for (g, w) in got.buckets.iter().zip(&want.buckets) {
        assert!(
            g.low_value == w.low_value
                && g.high_value == w.high_value
                && close(g.sample_count, w.sample_count),
            "{ctx}: bucket {g:?} vs TFDV's {w:?}"
        );
    }
}

fn assert_common(ctx: &str, got: &CommonStatistics, want: &CommonStatistics) {
    assert_eq!(got.num_non_missing, want.num_non_missing, "{ctx}");
    assert_eq!(got.num_missing, want.num_missing, "{ctx}");
    assert_eq!(got.min_num_values, want.min_num_values, "{ctx}");
    assert_eq!(got.max_num_values, want.max_num_values, "{ctx}");
    assert_eq!(got.tot_num_values, want.tot_num_values, "{ctx}");
    assert_eq!(got.avg_num_values, want.avg_num_values, "{ctx}");
    assert_eq!(
        got.presence_and_valency_stats, want.presence_and_valency_stats,
        "{ctx}: nested value counts"
    );
    match (&got.num_values_histogram, &want.num_values_histogram) {
        (Some(g), Some(w)) => assert_histogram(&format!("{ctx}: values per example"), g, w),
        (g, w) => assert_eq!(g.is_some(), w.is_some(), "{ctx}: values histogram"),
    }
}

fn custom_histograms(f: &FeatureNameStatistics) -> BTreeMap<String, Histogram> {
    f.custom_stats
        .iter()
        .filter_map(|c| match &c.val {
            Some(CustomValue::Histogram(h)) => Some((c.name.clone(), h.clone())),
            _ => None,
        })
        .collect()
}

fn assert_matches_tfdv(ours: &DatasetFeatureStatistics, tfdv: &DatasetFeatureStatistics) {
    assert_eq!(ours.num_examples, tfdv.num_examples);
    let names = |d: &DatasetFeatureStatistics| -> Vec<String> {
        d.features.iter().map(|f| f.feature_name()).collect()
    };
    assert_eq!(names(ours), names(tfdv), "paths, in TFDV's order");
    for (o, t) in ours.features.iter().zip(&tfdv.features) {
        let ctx = o.feature_name();
        assert_eq!(o.field_id, t.field_id, "{ctx}: path steps");
        assert_eq!(o.r#type, t.r#type, "{ctx}: type");
        assert_common(&ctx, o.common().unwrap(), t.common().unwrap());
        let (oc, tc) = (custom_histograms(o), custom_histograms(t));
        assert_eq!(
            oc.keys().collect::<Vec<_>>(),
            tc.keys().collect::<Vec<_>>(),
            "{ctx}: custom histograms"
        );
        for (name, h) in &tc {
            assert_histogram(&format!("{ctx}: {name}"), &oc[name], h);
        }
        match (&o.stats, &t.stats) {
            (Some(Stats::StringStats(a)), Some(Stats::StringStats(b))) => {
                assert_eq!(a.unique, b.unique, "{ctx}: unique");
                assert_eq!(a.top_values, b.top_values, "{ctx}: top values");
                assert_eq!(a.avg_length, b.avg_length, "{ctx}: avg_length");
                assert_eq!(a.rank_histogram, b.rank_histogram, "{ctx}: rank histogram");
            }
            (Some(Stats::NumStats(a)), Some(Stats::NumStats(b))) => {
                assert_eq!((a.min, a.max), (b.min, b.max), "{ctx}: min, max");
                assert_eq!(a.num_zeros, b.num_zeros, "{ctx}: zeros");
                assert!(
                    close(a.mean, b.mean),
                    "{ctx}: mean {} vs {}",
                    a.mean,
                    b.mean
                );
                assert!(
                    (a.std_dev - b.std_dev).abs() <= 1e-9 * b.std_dev.max(1.0),
                    "{ctx}: std_dev {} vs {}",
                    a.std_dev,
                    b.std_dev
                );
            }
            (Some(Stats::StructStats(_)), Some(Stats::StructStats(_))) => {}
            (a, b) => panic!("{ctx}: kinds differ: {a:?} vs {b:?}"),
        }
    }
}

#[test]
fn sequence_example_statistics_match_tfdv() {
    for name in ["baseline", "current"] {
        let ours = weir_stats(
            &goldens().join(format!("{name}.tfrecord.gz")),
            Some(PayloadFormat::SequenceExample),
        );
        let tfdv = load(&goldens().join(format!("{name}.FeatureStats.pb")));
        assert_matches_tfdv(&ours, &tfdv);
    }
}

/// The silent drop this issue was filed for: read as tf.Examples, the
/// sequence features vanished from the statistics without a word.
#[test]
fn sequence_examples_read_without_the_flag_are_an_error_naming_payload_format() {
    let out = tempfile::tempdir().unwrap();
    let input = goldens().join("baseline.tfrecord.gz");
    let err = runtime()
        .block_on(StatsBuilder::new(input.to_string_lossy(), out.path().join("s")).execute())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--payload-format sequence_example"), "{err}");
    assert!(
        err.contains("baseline.tfrecord.gz"),
        "names the file: {err}"
    );
    assert!(err.contains("byte offset 0"), "names the offset: {err}");
    assert!(!out.path().join("s").exists(), "nothing written");
}

fn sha256(record: &[u8]) -> String {
    format!("{:x}", Sha256::digest(record))
}

/// ExampleGen passes SequenceExample records through byte for byte and
/// splits them as TFX does (`int(sha256(record)) mod 3`), records the
/// payload format, and later commands read it from the manifest.
#[test]
fn examplegen_passes_sequence_examples_through_and_splits_them_as_tfx() {
    let golden: serde_json::Value =
        serde_json::from_slice(&std::fs::read(goldens().join("records.json")).unwrap()).unwrap();
    let mut want: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in golden["records"]["baseline"].as_array().unwrap() {
        let split = if r[1].as_u64().unwrap() < 2 {
            "train"
        } else {
            "eval"
        };
        want.entry(split)
            .or_default()
            .push(r[0].as_str().unwrap().to_string());
    }
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("eg");
    let summary = ExampleGenBuilder::new(
        goldens().join("baseline.tfrecord.gz").to_string_lossy(),
        &output,
    )
    .with_payload_format(PayloadFormat::SequenceExample)
    .execute()
    .unwrap();
    assert_eq!(
        summary.manifest.payload_format,
        PayloadFormat::SequenceExample
    );
    for (split, digests) in &want {
        let mut got: Vec<String> = read_records(&output.join(format!("Split-{split}")))
            .iter()
            .map(|r| sha256(r))
            .collect();
        let mut digests = digests.clone();
        got.sort();
        digests.sort();
        assert_eq!(got, digests, "{split}: the records, byte for byte");
    }
    // The manifest says how to read the output: no flag needed.
    let stats = weir_stats(&output.join("Split-train"), None);
    assert!(stats
        .features
        .iter()
        .any(|f| f.feature_name() == "##SEQUENCE##.tokens"));
    assert_eq!(stats.num_examples, want["train"].len() as u64);
}

fn sequence_view(name: &str) -> weir_validate::DatasetView {
    let stats = weir_stats(
        &goldens().join(format!("{name}.tfrecord.gz")),
        Some(PayloadFormat::SequenceExample),
    );
    weir_validate::DatasetView::new(stats, name)
}

/// SchemaGen: the `##SEQUENCE##` STRUCT feature with its `struct_domain`,
/// `value_counts` per nesting level and a string domain named by the path:
/// the same text as TFDV's `infer_schema`.
#[test]
fn schema_inferred_from_sequence_statistics_is_tfdvs() {
    let ours = weir_validate::infer_schema(&sequence_view("baseline"), &Default::default());
    let tfdv = std::fs::read_to_string(goldens().join("schema.pbtxt")).unwrap();
    assert_eq!(ours.to_text(), tfdv);
    // And TFDV's text reads back into the same schema.
    let read = weir_validate::Schema::from_text(&tfdv, "schema.pbtxt").unwrap();
    assert_eq!(read, ours);
}

/// Validation checks the struct's features at their paths: the same
/// anomalies, in the same text, as TFDV's `validate_statistics`.
#[test]
fn sequence_features_validate_against_the_schema_as_in_tfdv() {
    let schema = weir_validate::Schema::read(&goldens().join("schema.pbtxt")).unwrap();
    let anomalies =
        weir_validate::ValidateBuilder::new(sequence_view("current"), schema.clone()).execute();
    let tfdv = std::fs::read_to_string(goldens().join("anomalies.pbtxt")).unwrap();
    assert_eq!(anomalies.to_text(), tfdv);
    // A nesting level's value count is checked too: every step of
    // `tokens` must now hold a token, and some hold none.
    let mut strict = schema;
    let seq = strict.feature_mut("##SEQUENCE##").unwrap();
    let weir_validate::schema::DomainInfo::Struct(children) = &mut seq.domain else {
        panic!("a struct domain")
    };
    let tokens = children.iter_mut().find(|f| f.name == "tokens").unwrap();
    tokens.value_counts.as_mut().unwrap()[1].min = Some(1);
    let anomalies =
        weir_validate::ValidateBuilder::new(sequence_view("baseline"), strict).execute();
    let text = anomalies.to_text();
    assert!(
        text.contains("FEATURE_TYPE_LOW_NUMBER_VALUES") && text.contains("nestedness level 1"),
        "{text}"
    );
    assert!(
        text.contains("step: \"##SEQUENCE##\"\n      step: \"tokens\""),
        "{text}"
    );
}

/// Parquet output keeps sequence features as nested lists, with the
/// values of the records.
#[test]
fn parquet_output_keeps_sequence_features_as_lists_of_lists() {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::DataType;
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("pq");
    ExampleGenBuilder::new(
        goldens().join("baseline.tfrecord.gz").to_string_lossy(),
        &output,
    )
    .with_payload_format(PayloadFormat::SequenceExample)
    .with_output_format(weir_engine::OutputFormat::Parquet)
    .execute()
    .unwrap();
    let mut steps = 0usize;
    let mut tokens = 0usize;
    let mut rows = 0usize;
    for split in ["train", "eval"] {
        for entry in std::fs::read_dir(output.join(format!("Split-{split}"))).unwrap() {
            let path = entry.unwrap().path();
            let file = std::fs::File::open(&path).unwrap();
            let reader =
                datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                    file,
                )
                .unwrap()
                .build()
                .unwrap();
            for batch in reader {
                let batch = batch.unwrap();
                rows += batch.num_rows();
                let seq = batch.column_by_name("##SEQUENCE##").unwrap().as_struct();
                let t = seq.column_by_name("tokens").unwrap();
                let DataType::List(inner) = t.data_type() else {
                    panic!("{}", t.data_type())
                };
                assert!(matches!(inner.data_type(), DataType::List(_)));
                let t = t.as_list::<i32>();
                steps += t.values().len();
                tokens += t.values().as_list::<i32>().values().len();
            }
        }
    }
    // TFDV's counts of the same records: 4,941 steps, 7,305 tokens.
    assert_eq!((rows, steps, tokens), (2000, 4941, 7305));
}

/// Transform SQL sees sequence features as list-of-list columns under
/// `"##SEQUENCE##"`: `flatten` gives every token of every step, over which
/// the vocabulary analyzers count; list-of-list outputs need Parquet.
#[test]
fn transform_sql_reads_sequence_features_as_lists_of_lists() {
    use prost::Message;
    use weir_datasets::proto::{FeatureKind, SequenceExample};
    let out = tempfile::tempdir().unwrap();
    let eg = out.path().join("eg");
    ExampleGenBuilder::new(
        goldens().join("baseline.tfrecord.gz").to_string_lossy(),
        &eg,
    )
    .with_payload_format(PayloadFormat::SequenceExample)
    .execute()
    .unwrap();
    // The naive count: every token of every step of the train split.
    let mut counts: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    for r in read_records(&eg.join("Split-train")) {
        let ex = SequenceExample::decode(r.as_slice()).unwrap();
        if let Some(list) = ex.feature_list_map().and_then(|m| m.get("tokens")) {
            for step in &list.feature {
                if let Some(FeatureKind::BytesList(b)) = &step.kind {
                    for v in &b.value {
                        *counts.entry(v.clone()).or_default() += 1;
                    }
                }
            }
        }
    }
    let mut ranked: Vec<(Vec<u8>, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    let want: Vec<String> = ranked[..5]
        .iter()
        .map(|(t, _)| String::from_utf8(t.clone()).unwrap())
        .collect();
    let sql = "SELECT user_id,\n  vocabulary(flatten(\"##SEQUENCE##\"['tokens']), 5, 0, 'tokens') AS v,\n  \
         compute_and_apply_vocabulary(flatten(\"##SEQUENCE##\"['tokens']), 5, 0, 2) AS token_ids,\n  \
         \"##SEQUENCE##\"['clicks'] AS clicks\nFROM input\n";
    let tx = out.path().join("tx");
    runtime()
        .block_on(
            weir_engine::TransformBuilder::new(sql, &eg, &tx)
                .with_output_format(weir_engine::OutputFormat::Parquet)
                .execute(),
        )
        .unwrap();
    let vocab = std::fs::read_to_string(tx.join("transform_graph/assets/tokens")).unwrap();
    assert_eq!(
        vocab.lines().collect::<Vec<_>>(),
        want,
        "top 5 tokens of every step"
    );
    // A list of lists has no tf.Example form: TFRecord output says so.
    let err = runtime()
        .block_on(weir_engine::TransformBuilder::new(sql, &eg, out.path().join("tf")).execute())
        .unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("clicks") && err.contains("--output-format parquet"),
        "{err}"
    );
}

/// SequenceExamples made with weir's own protos, for the edges TFDV's
/// goldens do not reach: a feature list with no step, a sequence feature
/// whose steps never hold a value list, a step of another kind.
fn write_sequence_examples(path: &Path, examples: &[weir_datasets::proto::SequenceExample]) {
    let mut bytes = Vec::new();
    for ex in examples {
        weir_datasets::tfrecord::frame_record(&mut bytes, &prost::Message::encode_to_vec(ex));
    }
    std::fs::write(path, bytes).unwrap();
}

fn sequence_example(
    context: Vec<(&str, weir_datasets::proto::Feature)>,
    lists: Vec<(&str, Vec<weir_datasets::proto::Feature>)>,
) -> weir_datasets::proto::SequenceExample {
    use weir_datasets::proto::{FeatureList, FeatureLists, Features, SequenceExample};
    SequenceExample {
        context: Some(Features {
            feature: context
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }),
        feature_lists: Some(FeatureLists {
            feature_list: lists
                .into_iter()
                .map(|(k, v)| (k.to_string(), FeatureList { feature: v }))
                .collect(),
        }),
    }
}

#[test]
fn sequence_edges_empty_lists_valueless_steps_and_kind_changes() {
    use weir_datasets::proto::{Feature, FeatureKind, FloatList, Int64List};
    let int = |v: Vec<i64>| Feature {
        kind: Some(FeatureKind::Int64List(Int64List { value: v })),
    };
    let empty = Feature { kind: None };
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("edges.tfrecord");
    write_sequence_examples(
        &input,
        &[
            sequence_example(
                vec![("id", int(vec![1]))],
                vec![
                    ("s", vec![int(vec![1, 2]), empty.clone()]),
                    ("never", vec![empty.clone()]),
                ],
            ),
            // A feature list with no step: present, with zero steps.
            sequence_example(
                vec![("id", int(vec![2]))],
                vec![("s", vec![]), ("never", vec![])],
            ),
            // No feature lists at all: both sequence features missing.
            sequence_example(vec![("id", int(vec![3]))], vec![]),
        ],
    );
    let stats = weir_stats(&input, Some(PayloadFormat::SequenceExample));
    let by: BTreeMap<String, &FeatureNameStatistics> = stats
        .features
        .iter()
        .map(|f| (f.feature_name(), f))
        .collect();
    let s = by["##SEQUENCE##.s"].common().unwrap();
    assert_eq!(
        (s.num_non_missing, s.num_missing, s.tot_num_values),
        (2, 1, 2)
    );
    let levels: Vec<(u64, u64, u64, u64, u64)> = s
        .presence_and_valency_stats
        .iter()
        .map(|l| {
            (
                l.num_non_missing,
                l.num_missing,
                l.min_num_values,
                l.max_num_values,
                l.tot_num_values,
            )
        })
        .collect();
    // Level 0: steps per example (2 and 0); level 1: one step with two
    // values, one with an empty Feature (missing).
    assert_eq!(levels, vec![(2, 1, 0, 2, 2), (1, 1, 2, 2, 2)]);
    let never = by["##SEQUENCE##.never"].common().unwrap();
    assert_eq!((never.num_non_missing, never.tot_num_values), (2, 0));
    // ExampleGen's Parquet output keeps the edges as they are.
    let out = d.path().join("pq");
    ExampleGenBuilder::new(input.to_string_lossy(), &out)
        .with_payload_format(PayloadFormat::SequenceExample)
        .with_output_format(weir_engine::OutputFormat::Parquet)
        .with_splits("all=1".parse().unwrap())
        .execute()
        .unwrap();
    // A step of another kind is an error naming the feature and the file.
    let bad = d.path().join("bad.tfrecord");
    let float = Feature {
        kind: Some(FeatureKind::FloatList(FloatList { value: vec![0.5] })),
    };
    write_sequence_examples(
        &bad,
        &[sequence_example(
            vec![],
            vec![("s", vec![int(vec![1]), float])],
        )],
    );
    let err = runtime()
        .block_on(
            StatsBuilder::new(bad.to_string_lossy(), d.path().join("bad-out"))
                .with_payload_format(PayloadFormat::SequenceExample)
                .execute(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.tfrecord")
            && err.contains("byte offset 0")
            && err.contains("'s' is INT in one step and FLOAT in another"),
        "{err}"
    );
}

/// `examplegen --stats` computes the sequence statistics in the same read
/// as the splits: the same statistics as `weir stats` of each split after.
#[test]
fn fused_examplegen_statistics_of_sequence_examples_are_those_of_weir_stats() {
    let out = tempfile::tempdir().unwrap();
    let eg = out.path().join("eg");
    let summary = ExampleGenBuilder::new(
        goldens().join("baseline.tfrecord.gz").to_string_lossy(),
        &eg,
    )
    .with_payload_format(PayloadFormat::SequenceExample)
    .with_stats(weir_engine::examplegen::StatsMode::Exact)
    .execute()
    .unwrap();
    for split in summary.statistics.unwrap() {
        let after = weir_stats(&eg.join(format!("Split-{}", split.split)), None);
        assert_eq!(split.stats.features, after.features, "{}", split.split);
        assert!(split
            .stats
            .features
            .iter()
            .any(|f| f.feature_name() == "##SEQUENCE##.tokens"));
    }
}
