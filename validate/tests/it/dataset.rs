//! Dataset-level checks, environments, severities and schema update.

use weir_validate::anomalies::AnomalyType as T;
use weir_validate::{update_schema, InferOptions, ValidateBuilder};

use crate::util::*;

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
        .with_environment("SERVING")
        .execute();
    assert!(a.is_clean(), "{}", a.summary_table());
    let a = ValidateBuilder::new(serving(), schema(s))
        .with_environment("TRAINING")
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
        .with_environment("SERVING")
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
