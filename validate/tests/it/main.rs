//! weir-validate's integration tests: a hand-built case for every anomaly
//! type weir raises — each raised on data that breaks the schema and not
//! raised on data that fits — plus environments, schema update and the
//! statistical tests.

use weir_datasets::proto::statistics::{
    CommonStatistics, CustomStatistic, CustomValue, DatasetFeatureStatistics,
    FeatureNameStatistics, FeatureStatsType, FieldId, Histogram, HistogramBucket, HistogramType,
    NumericStatistics, RankBucket, RankHistogram, Stats, StringStatistics,
};
use weir_validate::anomalies::AnomalyType as T;
use weir_validate::{update_schema, Anomalies, DatasetView, InferOptions, Schema, ValidateBuilder};

/// Feature statistics with `present` examples holding `vals` values each
/// (min, max) and `missing` examples without the feature.
struct F {
    stats: FeatureNameStatistics,
}

fn common(present: u64, missing: u64, vals: (u64, u64)) -> CommonStatistics {
    CommonStatistics {
        num_non_missing: present,
        num_missing: missing,
        min_num_values: if present > 0 { vals.0 } else { 0 },
        max_num_values: if present > 0 { vals.1 } else { 0 },
        avg_num_values: if present > 0 {
            (vals.0 + vals.1) as f32 / 2.0
        } else {
            0.0
        },
        num_values_histogram: None,
        tot_num_values: present * (vals.0 + vals.1) / 2,
    }
}

fn named(name: &str, ty: FeatureStatsType, stats: Stats) -> F {
    F {
        stats: FeatureNameStatistics {
            field_id: Some(FieldId::Name(name.into())),
            r#type: ty as i32,
            stats: Some(stats),
            custom_stats: Vec::new(),
        },
    }
}

fn int_f(name: &str, present: u64, missing: u64, min: f64, max: f64) -> F {
    named(
        name,
        FeatureStatsType::Int,
        Stats::NumStats(NumericStatistics {
            common_stats: Some(common(present, missing, (1, 1))),
            min,
            max,
            histograms: vec![histogram(
                HistogramType::Standard,
                &[(min, max, present as f64)],
                0,
            )],
            ..Default::default()
        }),
    )
}

fn histogram(kind: HistogramType, buckets: &[(f64, f64, f64)], num_nan: u64) -> Histogram {
    Histogram {
        num_nan,
        num_undefined: 0,
        buckets: buckets
            .iter()
            .map(|&(low_value, high_value, sample_count)| HistogramBucket {
                low_value,
                high_value,
                sample_count,
            })
            .collect(),
        r#type: kind as i32,
        name: String::new(),
    }
}

fn float_f(name: &str, n: u64, buckets: &[(f64, f64, f64)], num_nan: u64) -> F {
    let min = buckets.first().map_or(0.0, |b| b.0);
    let max = buckets.last().map_or(0.0, |b| b.1);
    named(
        name,
        FeatureStatsType::Float,
        Stats::NumStats(NumericStatistics {
            common_stats: Some(common(n, 0, (1, 1))),
            min,
            max,
            histograms: vec![
                histogram(HistogramType::Standard, buckets, num_nan),
                histogram(HistogramType::Quantiles, buckets, num_nan),
            ],
            ..Default::default()
        }),
    )
}

fn str_f(name: &str, values: &[(&str, f64)]) -> F {
    let n: f64 = values.iter().map(|v| v.1).sum();
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    named(
        name,
        FeatureStatsType::String,
        Stats::StringStats(StringStatistics {
            common_stats: Some(common(n as u64, 0, (1, 1))),
            unique: values.len() as u64,
            rank_histogram: Some(RankHistogram {
                buckets: sorted
                    .iter()
                    .enumerate()
                    .map(|(i, (label, count))| RankBucket {
                        low_rank: i as u64,
                        high_rank: i as u64,
                        label: label.to_string(),
                        sample_count: *count,
                    })
                    .collect(),
                name: String::new(),
            }),
            ..Default::default()
        }),
    )
}

impl F {
    fn values(mut self, min: u64, max: u64) -> F {
        let c = match self.stats.stats.as_mut().unwrap() {
            Stats::NumStats(s) => s.common_stats.as_mut().unwrap(),
            Stats::StringStats(s) => s.common_stats.as_mut().unwrap(),
            Stats::BytesStats(s) => s.common_stats.as_mut().unwrap(),
        };
        *c = common(c.num_non_missing, c.num_missing, (min, max));
        self
    }

    fn custom(mut self, name: &str, v: f64) -> F {
        self.stats.custom_stats.push(CustomStatistic {
            name: name.into(),
            val: Some(CustomValue::Num(v)),
        });
        self
    }
}

fn ds(num_examples: u64, features: Vec<F>) -> DatasetView {
    DatasetView::new(
        DatasetFeatureStatistics {
            name: "test".into(),
            num_examples,
            features: features.into_iter().map(|f| f.stats).collect(),
            weighted_num_examples: 0.0,
        },
        "test",
    )
}

fn schema(text: &str) -> Schema {
    Schema::from_text(text, "test schema").unwrap()
}

fn run(schema_text: &str, stats: DatasetView, control: Control) -> Anomalies {
    let b = ValidateBuilder::new(stats, schema(schema_text));
    match control {
        Control::None => b,
        Control::Previous(p) => b.with_previous(Some(p)),
        Control::Serving(s) => b.with_serving(Some(s)),
    }
    .execute()
}

enum Control {
    None,
    Previous(DatasetView),
    Serving(DatasetView),
}

/// The case's anomaly is raised on `bad` (for `feature`, or `""` for the
/// dataset) and nothing at all is raised on `clean`.
fn case(
    kind: T,
    feature: &str,
    schema_text: &str,
    clean: (DatasetView, Control),
    bad: (DatasetView, Control),
) {
    let ok = run(schema_text, clean.0, clean.1);
    assert!(
        ok.is_clean(),
        "{}: clean data raised anomalies:\n{}",
        kind.name(),
        ok.summary_table()
    );
    let got = run(schema_text, bad.0, bad.1);
    assert!(
        got.types().contains(&(feature.to_string(), kind)),
        "{} not raised for '{feature}'; got:\n{}",
        kind.name(),
        got.summary_table()
    );
    assert!(got.has_errors());
    // The anomalies file is valid text format that names the type.
    assert!(got.to_text().contains(kind.name()));
}

const INT_A: &str = "feature { name: \"a\" type: INT }";

#[test]
fn schema_new_column() {
    case(
        T::SCHEMA_NEW_COLUMN,
        "b",
        INT_A,
        (ds(10, vec![int_f("a", 10, 0, 0.0, 1.0)]), Control::None),
        (
            ds(
                10,
                vec![int_f("a", 10, 0, 0.0, 1.0), int_f("b", 10, 0, 0.0, 1.0)],
            ),
            Control::None,
        ),
    );
}

#[test]
fn schema_missing_column() {
    let s = "feature { name: \"a\" type: INT presence { min_count: 1 } }
             feature { name: \"b\" type: INT presence { min_count: 1 } }";
    case(
        T::SCHEMA_MISSING_COLUMN,
        "b",
        s,
        (
            ds(
                10,
                vec![int_f("a", 10, 0, 0.0, 1.0), int_f("b", 10, 0, 0.0, 1.0)],
            ),
            Control::None,
        ),
        (ds(10, vec![int_f("a", 10, 0, 0.0, 1.0)]), Control::None),
    );
}

#[test]
fn schema_training_serving_skew() {
    let s = "feature { name: \"a\" type: INT } feature { name: \"b\" type: INT }";
    let train = || {
        ds(
            10,
            vec![int_f("a", 10, 0, 0.0, 1.0), int_f("b", 10, 0, 0.0, 1.0)],
        )
    };
    case(
        T::SCHEMA_TRAINING_SERVING_SKEW,
        "b",
        s,
        (train(), Control::Serving(train())),
        (
            train(),
            Control::Serving(ds(5, vec![int_f("a", 5, 0, 0.0, 1.0)])),
        ),
    );
    // A feature the schema keeps out of SERVING is not skew.
    let excluded = "feature { name: \"a\" type: INT }
                    feature { name: \"b\" type: INT not_in_environment: \"SERVING\" }";
    let a = run(
        excluded,
        train(),
        Control::Serving(ds(5, vec![int_f("a", 5, 0, 0.0, 1.0)])),
    );
    assert!(a.is_clean(), "{}", a.summary_table());
}

#[test]
fn feature_type_low_fraction_present() {
    let s = "feature { name: \"a\" type: INT presence { min_fraction: 0.9 } }";
    case(
        T::FEATURE_TYPE_LOW_FRACTION_PRESENT,
        "a",
        s,
        (ds(100, vec![int_f("a", 95, 5, 0.0, 1.0)]), Control::None),
        (ds(100, vec![int_f("a", 80, 20, 0.0, 1.0)]), Control::None),
    );
}

#[test]
fn feature_type_low_fraction_present_when_expected_everywhere() {
    let s = "feature { name: \"a\" type: INT presence { min_fraction: 1.0 } }";
    case(
        T::FEATURE_TYPE_LOW_FRACTION_PRESENT,
        "a",
        s,
        (
            ds(100000, vec![int_f("a", 100000, 0, 0.0, 1.0)]),
            Control::None,
        ),
        (
            ds(100000, vec![int_f("a", 99999, 1, 0.0, 1.0)]),
            Control::None,
        ),
    );
}

#[test]
fn feature_type_low_number_present() {
    let s = "feature { name: \"a\" type: INT presence { min_count: 50 } }";
    case(
        T::FEATURE_TYPE_LOW_NUMBER_PRESENT,
        "a",
        s,
        (ds(100, vec![int_f("a", 60, 40, 0.0, 1.0)]), Control::None),
        (ds(100, vec![int_f("a", 10, 90, 0.0, 1.0)]), Control::None),
    );
}

#[test]
fn feature_type_not_present() {
    let s = "feature { name: \"a\" type: INT presence { min_count: 1 } }";
    case(
        T::FEATURE_TYPE_NOT_PRESENT,
        "a",
        s,
        (ds(100, vec![int_f("a", 100, 0, 0.0, 1.0)]), Control::None),
        (ds(100, vec![int_f("a", 0, 100, 0.0, 0.0)]), Control::None),
    );
}

#[test]
fn feature_type_low_and_high_number_values() {
    let s = "feature { name: \"a\" type: INT value_count { min: 2 max: 3 } }";
    let clean = || {
        (
            ds(10, vec![int_f("a", 10, 0, 0.0, 1.0).values(2, 3)]),
            Control::None,
        )
    };
    case(
        T::FEATURE_TYPE_LOW_NUMBER_VALUES,
        "a",
        s,
        clean(),
        (
            ds(10, vec![int_f("a", 10, 0, 0.0, 1.0).values(1, 3)]),
            Control::None,
        ),
    );
    case(
        T::FEATURE_TYPE_HIGH_NUMBER_VALUES,
        "a",
        s,
        clean(),
        (
            ds(10, vec![int_f("a", 10, 0, 0.0, 1.0).values(2, 5)]),
            Control::None,
        ),
    );
}

#[test]
fn enum_type_unexpected_string_values() {
    let s = "feature { name: \"c\" type: BYTES domain: \"c\" }
             string_domain { name: \"c\" value: \"x\" value: \"y\" }";
    case(
        T::ENUM_TYPE_UNEXPECTED_STRING_VALUES,
        "c",
        s,
        (
            ds(10, vec![str_f("c", &[("x", 5.0), ("y", 5.0)])]),
            Control::None,
        ),
        (
            ds(
                11,
                vec![str_f("c", &[("x", 5.0), ("y", 5.0), ("zebra", 1.0)])],
            ),
            Control::None,
        ),
    );
    // The description names the value at fault with its share.
    let a = run(
        s,
        ds(
            11,
            vec![str_f("c", &[("x", 5.0), ("y", 5.0), ("zebra", 1.0)])],
        ),
        Control::None,
    );
    assert!(a.anomaly_info["c"].reasons[0].long.contains("zebra (~9%)"));
    // distribution_constraints allow a share off the domain.
    let lenient = "feature { name: \"c\" type: BYTES domain: \"c\" distribution_constraints { min_domain_mass: 0.5 } }
                   string_domain { name: \"c\" value: \"x\" value: \"y\" }";
    let a = run(
        lenient,
        ds(
            11,
            vec![str_f("c", &[("x", 5.0), ("y", 5.0), ("zebra", 1.0)])],
        ),
        Control::None,
    );
    assert!(a.is_clean(), "{}", a.summary_table());
}

#[test]
fn int_type_small_and_big_int() {
    let s = "feature { name: \"a\" type: INT int_domain { min: 0 max: 10 } }";
    let clean = || (ds(10, vec![int_f("a", 10, 0, 0.0, 10.0)]), Control::None);
    case(
        T::INT_TYPE_SMALL_INT,
        "a",
        s,
        clean(),
        (ds(10, vec![int_f("a", 10, 0, -1.0, 10.0)]), Control::None),
    );
    case(
        T::INT_TYPE_BIG_INT,
        "a",
        s,
        clean(),
        (ds(10, vec![int_f("a", 10, 0, 0.0, 11.0)]), Control::None),
    );
}

#[test]
fn int_type_not_int_string() {
    let s = "feature { name: \"a\" type: BYTES int_domain { } }";
    case(
        T::INT_TYPE_NOT_INT_STRING,
        "a",
        s,
        (
            ds(10, vec![str_f("a", &[("1", 5.0), ("20", 5.0)])]),
            Control::None,
        ),
        (
            ds(10, vec![str_f("a", &[("1", 5.0), ("x2", 5.0)])]),
            Control::None,
        ),
    );
}

#[test]
fn float_type_small_and_big_float() {
    let s = "feature { name: \"f\" type: FLOAT float_domain { min: 0 max: 1 } }";
    let clean = || {
        (
            ds(10, vec![float_f("f", 10, &[(0.0, 1.0, 10.0)], 0)]),
            Control::None,
        )
    };
    case(
        T::FLOAT_TYPE_SMALL_FLOAT,
        "f",
        s,
        clean(),
        (
            ds(10, vec![float_f("f", 10, &[(-0.5, 1.0, 10.0)], 0)]),
            Control::None,
        ),
    );
    case(
        T::FLOAT_TYPE_BIG_FLOAT,
        "f",
        s,
        clean(),
        (
            ds(10, vec![float_f("f", 10, &[(0.0, 1.5, 10.0)], 0)]),
            Control::None,
        ),
    );
}

#[test]
fn float_type_has_nan_and_inf() {
    let s = "feature { name: \"f\" type: FLOAT float_domain { disallow_nan: true disallow_inf: true } }";
    let clean = || {
        (
            ds(10, vec![float_f("f", 10, &[(0.0, 1.0, 10.0)], 0)]),
            Control::None,
        )
    };
    case(
        T::FLOAT_TYPE_HAS_NAN,
        "f",
        s,
        clean(),
        (
            ds(13, vec![float_f("f", 13, &[(0.0, 1.0, 10.0)], 3)]),
            Control::None,
        ),
    );
    case(
        T::FLOAT_TYPE_HAS_INF,
        "f",
        s,
        clean(),
        (
            ds(
                11,
                vec![float_f("f", 11, &[(0.0, 1.0, 10.0)], 0).custom("num_pos_inf", 1.0)],
            ),
            Control::None,
        ),
    );
}

#[test]
fn string_type_now_float_and_now_int() {
    let s = "feature { name: \"s\" type: BYTES }";
    let clean = || (ds(10, vec![str_f("s", &[("a", 10.0)])]), Control::None);
    case(
        T::STRING_TYPE_NOW_FLOAT,
        "s",
        s,
        clean(),
        (
            ds(10, vec![float_f("s", 10, &[(0.0, 1.0, 10.0)], 0)]),
            Control::None,
        ),
    );
    case(
        T::STRING_TYPE_NOW_INT,
        "s",
        s,
        clean(),
        (ds(10, vec![int_f("s", 10, 0, 0.0, 5.0)]), Control::None),
    );
}

#[test]
fn bool_type_unexpected_string() {
    let s = "feature { name: \"b\" type: BYTES bool_domain { true_value: \"yes\" false_value: \"no\" } }";
    case(
        T::BOOL_TYPE_UNEXPECTED_STRING,
        "b",
        s,
        (
            ds(10, vec![str_f("b", &[("yes", 5.0), ("no", 5.0)])]),
            Control::None,
        ),
        (
            ds(
                11,
                vec![str_f("b", &[("yes", 5.0), ("no", 5.0), ("maybe", 1.0)])],
            ),
            Control::None,
        ),
    );
}

#[test]
fn comparator_l_infty_high() {
    let s =
        "feature { name: \"c\" type: BYTES drift_comparator { infinity_norm { threshold: 0.1 } } }";
    let previous = || ds(100, vec![str_f("c", &[("x", 50.0), ("y", 50.0)])]);
    case(
        T::COMPARATOR_L_INFTY_HIGH,
        "c",
        s,
        (
            ds(100, vec![str_f("c", &[("x", 52.0), ("y", 48.0)])]),
            Control::Previous(previous()),
        ),
        (
            ds(100, vec![str_f("c", &[("x", 80.0), ("y", 20.0)])]),
            Control::Previous(previous()),
        ),
    );
    // Skew uses the same comparator against serving statistics.
    let skew =
        "feature { name: \"c\" type: BYTES skew_comparator { infinity_norm { threshold: 0.1 } } }";
    let a = run(
        skew,
        ds(100, vec![str_f("c", &[("x", 80.0), ("y", 20.0)])]),
        Control::Serving(previous()),
    );
    assert_eq!(
        a.types(),
        vec![("c".to_string(), T::COMPARATOR_L_INFTY_HIGH)]
    );
    let m = &a.drift_skew_info["c"].skew[0];
    assert!((m.value - 0.3).abs() < 1e-12);
}

#[test]
fn comparator_normalized_absolute_difference_high() {
    let s = "feature { name: \"c\" type: BYTES drift_comparator { normalized_abs_difference { threshold: 0.1 } } }";
    let previous = || ds(100, vec![str_f("c", &[("x", 50.0), ("y", 50.0)])]);
    case(
        T::COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH,
        "c",
        s,
        (
            ds(100, vec![str_f("c", &[("x", 52.0), ("y", 48.0)])]),
            Control::Previous(previous()),
        ),
        (
            ds(100, vec![str_f("c", &[("x", 90.0), ("y", 10.0)])]),
            Control::Previous(previous()),
        ),
    );
}

#[test]
fn comparator_jensen_shannon_divergence_high() {
    let s = "feature { name: \"f\" type: FLOAT drift_comparator { jensen_shannon_divergence { threshold: 0.1 } } }";
    let previous = || ds(100, vec![float_f("f", 100, &[(0.0, 1.0, 100.0)], 0)]);
    case(
        T::COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH,
        "f",
        s,
        (
            ds(100, vec![float_f("f", 100, &[(0.0, 1.0, 100.0)], 0)]),
            Control::Previous(previous()),
        ),
        (
            ds(100, vec![float_f("f", 100, &[(5.0, 6.0, 100.0)], 0)]),
            Control::Previous(previous()),
        ),
    );
    // The value is measured and reported under the threshold too.
    let a = run(
        s,
        ds(100, vec![float_f("f", 100, &[(0.0, 1.0, 100.0)], 0)]),
        Control::Previous(previous()),
    );
    assert_eq!(a.drift_skew_info["f"].drift[0].value, 0.0);
    assert!(a.to_text().contains("JENSEN_SHANNON_DIVERGENCE"));
}

#[test]
fn dataset_low_and_high_num_examples() {
    let s = "feature { name: \"a\" type: INT }
             dataset_constraints { min_examples_count: 50 max_examples_count: 1000 }";
    let clean = || (ds(100, vec![int_f("a", 100, 0, 0.0, 1.0)]), Control::None);
    case(
        T::DATASET_LOW_NUM_EXAMPLES,
        "",
        s,
        clean(),
        (ds(10, vec![int_f("a", 10, 0, 0.0, 1.0)]), Control::None),
    );
    case(
        T::DATASET_HIGH_NUM_EXAMPLES,
        "",
        s,
        clean(),
        (ds(5000, vec![int_f("a", 5000, 0, 0.0, 1.0)]), Control::None),
    );
}

#[test]
fn environments_decide_which_features_are_required() {
    let s = "default_environment: \"TRAINING\"
             default_environment: \"SERVING\"
             feature { name: \"a\" type: INT presence { min_count: 1 } }
             feature { name: \"label\" type: INT presence { min_count: 1 } not_in_environment: \"SERVING\" }";
    let serving = || ds(10, vec![int_f("a", 10, 0, 0.0, 1.0)]);
    let a = ValidateBuilder::new(serving(), schema(s))
        .with_environment(Some("SERVING".into()))
        .execute();
    assert!(a.is_clean(), "{}", a.summary_table());
    let a = ValidateBuilder::new(serving(), schema(s))
        .with_environment(Some("TRAINING".into()))
        .execute();
    assert_eq!(
        a.types(),
        vec![("label".to_string(), T::SCHEMA_MISSING_COLUMN)]
    );
    // A feature present in an environment that excludes it is a new column
    // there (TFDV's "Column missing in environment").
    let with_label = ds(
        10,
        vec![int_f("a", 10, 0, 0.0, 1.0), int_f("label", 10, 0, 0.0, 1.0)],
    );
    let a = ValidateBuilder::new(with_label, schema(s))
        .with_environment(Some("SERVING".into()))
        .execute();
    assert_eq!(a.types(), vec![("label".to_string(), T::SCHEMA_NEW_COLUMN)]);
}

#[test]
fn warnings_do_not_fail() {
    let a = ValidateBuilder::new(
        ds(
            10,
            vec![int_f("a", 10, 0, 0.0, 1.0), int_f("b", 10, 0, 0.0, 1.0)],
        ),
        schema(INT_A),
    )
    .with_severity(T::SCHEMA_NEW_COLUMN, weir_validate::Severity::Warning)
    .execute();
    assert!(!a.is_clean());
    assert!(!a.has_errors());
}

#[test]
fn update_schema_relaxes_and_keeps_user_edits() {
    let s = schema(
        "feature { name: \"a\" type: INT int_domain { min: 0 max: 10 } presence { min_count: 1 }
           annotation { tag: \"owner: team-x\" } }
         feature { name: \"c\" type: BYTES domain: \"c\" presence { min_fraction: 1.0 min_count: 1 } }
         string_domain { name: \"c\" value: \"x\" }
         sparse_feature { name: \"kept\" }",
    );
    let stats = ds(
        20,
        vec![
            int_f("a", 20, 0, -5.0, 12.0),
            str_f("c", &[("x", 10.0), ("y", 10.0)]),
            int_f("new", 20, 0, 3.0, 4.0),
        ],
    );
    let (updated, changes) = update_schema(&s, &stats, &InferOptions::default());
    let kinds: Vec<T> = changes.iter().map(|c| c.1.kind).collect();
    assert_eq!(
        kinds,
        vec![
            T::INT_TYPE_SMALL_INT,
            T::INT_TYPE_BIG_INT,
            T::ENUM_TYPE_UNEXPECTED_STRING_VALUES,
            T::SCHEMA_NEW_COLUMN
        ]
    );
    let text = updated.to_text();
    assert!(
        text.contains("min: -5") && text.contains("max: 12"),
        "{text}"
    );
    assert!(text.contains("value: \"y\""));
    assert!(text.contains("owner: team-x") && text.contains("sparse_feature"));
    assert!(updated.feature("new").unwrap().shape == Some(vec![1]));
    // The updated schema accepts the data.
    let a = ValidateBuilder::new(stats, updated).execute();
    assert!(a.is_clean(), "{}", a.summary_table());
}

#[test]
fn chi_squared_and_ks_tests_flag_a_shift_and_pass_identical_data() {
    let s = "feature { name: \"c\" type: BYTES annotation { tag: \"weir:drift_comparator.chi_squared=0.01\" } }
             feature { name: \"f\" type: FLOAT annotation { tag: \"weir:drift_comparator.ks=0.01\" } }";
    let span = |x: f64, lo: f64| {
        ds(
            1000,
            vec![
                str_f("c", &[("x", x), ("y", 1000.0 - x)]),
                float_f(
                    "f",
                    1000,
                    &(0..10)
                        .map(|i| (lo + i as f64, lo + i as f64 + 1.0, 100.0))
                        .collect::<Vec<_>>(),
                    0,
                ),
            ],
        )
    };
    let same = ValidateBuilder::new(span(500.0, 0.0), schema(s))
        .with_previous(Some(span(500.0, 0.0)))
        .execute();
    assert!(same.is_clean(), "{}", same.summary_table());
    let m = &same.drift_skew_info["c"].drift[0];
    assert!(
        (m.value - 1.0).abs() < 1e-9,
        "p-value of identical counts is 1"
    );
    let shifted = ValidateBuilder::new(span(600.0, 3.0), schema(s))
        .with_previous(Some(span(500.0, 0.0)))
        .execute();
    assert_eq!(
        shifted.types(),
        vec![
            ("c".to_string(), T::CUSTOM_VALIDATION),
            ("f".to_string(), T::CUSTOM_VALIDATION)
        ]
    );
    // KS D for a uniform [0,10) vs [3,13) shift is exactly 0.3.
    assert!(shifted.anomaly_info["f"].reasons[0]
        .long
        .contains("D = 0.3 "));
}

#[test]
fn suggest_proposes_thresholds_above_every_past_drift() {
    use weir_validate::suggest::{apply_suggestions, suggest_drift_thresholds, SuggestOptions};
    let span = |x: f64| ds(100, vec![str_f("c", &[("x", x), ("y", 100.0 - x)])]);
    // Consecutive L∞ drifts: 0.02 and 0.05 -> 1.5 x 0.05 = 0.075.
    let spans = [span(50.0), span(52.0), span(47.0)];
    let s = suggest_drift_thresholds(&spans, &SuggestOptions::default());
    assert_eq!(s.len(), 1);
    assert!((s[0].observed[0] - 0.02).abs() < 1e-12 && (s[0].observed[1] - 0.05).abs() < 1e-12);
    assert!((s[0].threshold - 0.075).abs() < 1e-12, "{}", s[0].threshold);
    let mut sc = schema("feature { name: \"c\" type: BYTES }");
    apply_suggestions(&mut sc, &s);
    // The suggested schema accepts the past spans and flags a larger shift.
    let ok = ValidateBuilder::new(span(47.0), sc.clone())
        .with_previous(Some(span(52.0)))
        .execute();
    assert!(ok.is_clean(), "{}", ok.summary_table());
    let shifted = ValidateBuilder::new(span(30.0), sc)
        .with_previous(Some(span(47.0)))
        .execute();
    assert_eq!(
        shifted.types(),
        vec![("c".to_string(), T::COMPARATOR_L_INFTY_HIGH)]
    );
}
