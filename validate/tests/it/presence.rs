//! Schema coverage and presence: new, missing and skewed columns, presence and value counts.

use weir_validate::anomalies::AnomalyType as T;

use crate::util::*;

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
