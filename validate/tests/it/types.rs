//! Domains and types: unexpected string values, int, float, string and bool domains.

use weir_validate::anomalies::AnomalyType as T;

use crate::util::*;

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
