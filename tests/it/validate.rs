//! Validation conformance: `weir schema` and `weir validate` on TFDV's and
//! weir's statistics of TFX's taxi splits, against TFDV's inferred schema.

use std::collections::{BTreeMap, BTreeSet};

use weir_engine::StatsBuilder;
use weir_tests::{runtime, testdata};
use weir_validate::schema::{DomainInfo, Feature};
use weir_validate::{infer_schema, read_statistics, InferOptions, Schema, ValidateBuilder};

/// A feature as far as TFDV's inference decides it: type, presence,
/// value count or shape, and the domain's kind and values.
fn semantic(schema: &Schema) -> BTreeMap<String, String> {
    let domain_values = |f: &Feature| -> Option<BTreeSet<String>> {
        match &f.domain {
            DomainInfo::Domain(name) => Some(
                schema
                    .string_domain(name)
                    .expect("named domain exists")
                    .values
                    .iter()
                    .cloned()
                    .collect(),
            ),
            DomainInfo::String(d) => Some(d.values.iter().cloned().collect()),
            _ => None,
        }
    };
    schema
        .features
        .iter()
        .map(|f| {
            let kind = match &f.domain {
                DomainInfo::None => "none".to_string(),
                DomainInfo::Domain(_) | DomainInfo::String(_) => "string".into(),
                DomainInfo::Int(d) => format!("int {:?} {:?}", d.min, d.max),
                DomainInfo::Float(_) => "float".into(),
                DomainInfo::Bool(b) => format!("bool {:?} {:?}", b.true_value, b.false_value),
                DomainInfo::Struct(children) => format!("struct of {}", children.len()),
                DomainInfo::Other(n, _) => n.clone(),
            };
            (
                f.name.clone(),
                format!(
                    "type {:?} presence {:?} value_count {:?} shape {:?} domain {kind} {:?} deprecated {}",
                    f.r#type,
                    f.presence,
                    f.value_count,
                    f.shape,
                    domain_values(f),
                    f.is_deprecated()
                ),
            )
        })
        .collect()
}

fn tfdv_schema() -> Schema {
    Schema::read(&testdata().join("schema_gen/schema.pbtxt")).unwrap()
}

fn assert_same(ours: &Schema, theirs: &Schema) {
    let (a, b) = (semantic(ours), semantic(theirs));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "features differ"
    );
    for (name, want) in &b {
        assert_eq!(&a[name], want, "feature {name}");
    }
}

#[test]
fn schema_inferred_from_tfdv_statistics_equals_tfdv_schema() {
    let stats =
        read_statistics(&testdata().join("statistics_gen/Split-train/FeatureStats.pb")).unwrap();
    let ours = infer_schema(&stats, &InferOptions::default());
    assert_same(&ours, &tfdv_schema());
    // The text we write reads back to the same schema.
    let again = Schema::from_text(&ours.to_text(), "inferred").unwrap();
    assert_eq!(again, ours);
}

#[test]
fn schema_inferred_from_weir_statistics_equals_tfdv_schema() {
    let out = tempfile::tempdir().unwrap();
    runtime()
        .block_on(
            StatsBuilder::new(
                testdata().join("csv_example_gen").to_string_lossy(),
                out.path().join("stats"),
            )
            .with_splits_from_input(true)
            .execute(),
        )
        .unwrap();
    let stats = read_statistics(&out.path().join("stats/Split-train")).unwrap();
    let ours = infer_schema(&stats, &InferOptions::default());
    assert_same(&ours, &tfdv_schema());
}

/// Eval against the train schema, by TFDV's rules:
/// - `company`: eval holds company names train never saw, and the schema's
///   domain has no `distribution_constraints`, so any value off the domain
///   is ENUM_TYPE_UNEXPECTED_STRING_VALUES (the description lists them).
/// - `payment_type`: eval has "Prcard", which train never had: also
///   ENUM_TYPE_UNEXPECTED_STRING_VALUES.
/// - `pickup_census_tract`: no eval example has it (TFDV's eval statistics
///   say num_missing 5091) while the schema requires `min_count: 1`:
///   FEATURE_TYPE_NOT_PRESENT (checked before anything else, as in TFDV).
/// - presence: every feature with `min_fraction: 1.0` in the schema is
///   never missing in eval either, and every other feature appears
///   (`min_count: 1`), so no presence anomaly; value counts are all 1.
/// - no feature is new or missing (eval has the same 18 columns).
#[test]
fn eval_split_anomalies_are_tfdvs() {
    let data = testdata();
    let schema = tfdv_schema();
    let train = read_statistics(&data.join("statistics_gen/Split-train/FeatureStats.pb")).unwrap();
    let eval = read_statistics(&data.join("statistics_gen/Split-eval/FeatureStats.pb")).unwrap();

    // The expectation, computed from the statistics with TFDV's rules.
    let mut expected = BTreeSet::new();
    for f in &schema.features {
        let view = eval.feature(&f.name).expect("eval has every feature");
        if let DomainInfo::Domain(name) = &f.domain {
            let domain: BTreeSet<&String> =
                schema.string_domain(name).unwrap().values.iter().collect();
            if view
                .string_values_with_counts()
                .keys()
                .any(|v| !domain.contains(v))
            {
                expected.insert((f.name.clone(), "ENUM_TYPE_UNEXPECTED_STRING_VALUES"));
            }
        }
        let required = f
            .presence
            .as_ref()
            .is_some_and(|p| p.min_count.unwrap_or(0) > 0 || p.min_fraction.unwrap_or(0.0) > 0.0);
        if required && view.num_present() == 0.0 {
            expected.insert((f.name.clone(), "FEATURE_TYPE_NOT_PRESENT"));
            continue;
        }
        if f.presence.as_ref().and_then(|p| p.min_fraction) == Some(1.0) && view.num_missing() > 0.0
        {
            expected.insert((f.name.clone(), "FEATURE_TYPE_LOW_FRACTION_PRESENT"));
        }
    }
    for want in [
        ("company", "ENUM_TYPE_UNEXPECTED_STRING_VALUES"),
        ("payment_type", "ENUM_TYPE_UNEXPECTED_STRING_VALUES"),
        ("pickup_census_tract", "FEATURE_TYPE_NOT_PRESENT"),
    ] {
        assert!(expected.contains(&(want.0.to_string(), want.1)), "{want:?}");
    }
    assert_eq!(expected.len(), 3);
    assert!(train.feature("company").is_some());

    let anomalies = ValidateBuilder::new(eval, schema).execute();
    let got: BTreeSet<(String, &str)> = anomalies
        .types()
        .into_iter()
        .map(|(p, t)| (p, t.name()))
        .collect();
    assert_eq!(got, expected);
    let company = &anomalies.anomaly_info["company"];
    assert!(
        company.reasons[0]
            .long
            .starts_with("Examples contain values missing from the schema: "),
        "{}",
        company.reasons[0].long
    );
    assert!(anomalies.has_errors());
}

/// The train split validates clean against the schema inferred from it.
#[test]
fn train_split_is_clean_against_its_own_schema() {
    let stats =
        read_statistics(&testdata().join("statistics_gen/Split-train/FeatureStats.pb")).unwrap();
    let schema = infer_schema(&stats, &InferOptions::default());
    let anomalies = ValidateBuilder::new(stats, schema).execute();
    assert!(anomalies.is_clean(), "{}", anomalies.summary_table());
}

/// Writes a span: category `c` with the given counts of x, y, z, and `f`
/// uniform on [start, start + 9.99] in steps of 0.01 (1000 rows).
fn write_span(dir: &std::path::Path, counts: [usize; 3], start: f64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut text = String::from("c,f\n");
    let labels: Vec<&str> = ["x", "y", "z"]
        .iter()
        .zip(counts)
        .flat_map(|(l, n)| std::iter::repeat_n(*l, n))
        .collect();
    assert_eq!(labels.len(), 1000);
    for (i, l) in labels.iter().enumerate() {
        text.push_str(&format!("{l},{:.2}\n", start + i as f64 * 0.01));
    }
    std::fs::write(dir.join("data.csv"), text).unwrap();
}

fn stats_of(input: &std::path::Path, out: &std::path::Path) -> weir_validate::DatasetView {
    runtime()
        .block_on(StatsBuilder::new(input.to_string_lossy(), out).execute())
        .unwrap();
    read_statistics(&out.join("Split-all")).unwrap()
}

/// Two generated spans with a known shift: the categorical share of x
/// drops from 0.5 to 0.3 and of z rises from 0.2 to 0.4 (L∞ = 0.2 exactly),
/// and f moves from uniform [0, 9.99] to uniform [5, 14.99]; on histograms
/// with uniform mass inside buckets the Jensen-Shannon divergence is the
/// non-overlapping share, (9.99 - 4.99) / 9.99 = 0.5005 (up to the
/// sketch's rank error in the bucket counts). Identical statistics give 0.
#[test]
fn drift_between_generated_spans() {
    let d = tempfile::tempdir().unwrap();
    write_span(&d.path().join("span1"), [500, 300, 200], 0.0);
    write_span(&d.path().join("span2"), [300, 300, 400], 5.0);
    write_span(&d.path().join("span3"), [500, 300, 200], 0.0);
    let s1 = stats_of(&d.path().join("span1"), &d.path().join("s1"));
    let s2 = stats_of(&d.path().join("span2"), &d.path().join("s2"));
    let s3 = stats_of(&d.path().join("span3"), &d.path().join("s3"));
    let schema = Schema::from_text(
        "feature { name: \"c\" type: BYTES drift_comparator { infinity_norm { threshold: 0.1 } } }
         feature { name: \"f\" type: FLOAT drift_comparator { jensen_shannon_divergence { threshold: 0.1 } } }",
        "drift schema",
    )
    .unwrap();
    let drift = |cur: &weir_validate::DatasetView, prev: &weir_validate::DatasetView| {
        ValidateBuilder::new(cur.clone(), schema.clone())
            .with_previous(prev.clone())
            .execute()
    };
    let a = drift(&s2, &s1);
    let linf = a.drift_skew_info["c"].drift[0].value;
    let jsd = a.drift_skew_info["f"].drift[0].value;
    assert!((linf - 0.2).abs() < 1e-12, "L-infinity {linf}");
    let direct = (9.99 - 4.99) / 9.99;
    assert!((jsd - direct).abs() < 0.02, "JSD {jsd} vs {direct}");
    let kinds: BTreeSet<&str> = a.types().iter().map(|t| t.1.name()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "COMPARATOR_L_INFTY_HIGH",
            "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"
        ])
    );
    // The same statistics: exactly 0, no anomaly.
    let same = drift(&s1, &s1);
    assert_eq!(same.drift_skew_info["c"].drift[0].value, 0.0);
    assert_eq!(same.drift_skew_info["f"].drift[0].value, 0.0);
    assert!(same.is_clean());
    // Identical data, statistics computed again: the exact counts give
    // L∞ 0; the quantile sketch is randomized, so the histograms may differ
    // by its rank error and the JSD is only near 0.
    let again = drift(&s3, &s1);
    assert_eq!(again.drift_skew_info["c"].drift[0].value, 0.0);
    assert!(again.drift_skew_info["f"].drift[0].value < 0.005);
    assert!(again.is_clean());
}
