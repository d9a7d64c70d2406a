//! Drift and skew comparators, weir's statistical tests and threshold suggestions.

use weir_validate::anomalies::AnomalyType as T;
use weir_validate::ValidateBuilder;

use crate::util::*;

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
        .with_previous(span(500.0, 0.0))
        .execute();
    assert!(same.is_clean(), "{}", same.summary_table());
    let m = &same.drift_skew_info["c"].drift[0];
    assert!(
        (m.value - 1.0).abs() < 1e-9,
        "p-value of identical counts is 1"
    );
    let shifted = ValidateBuilder::new(span(600.0, 3.0), schema(s))
        .with_previous(span(500.0, 0.0))
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
        .with_previous(span(52.0))
        .execute();
    assert!(ok.is_clean(), "{}", ok.summary_table());
    let shifted = ValidateBuilder::new(span(30.0), sc)
        .with_previous(span(47.0))
        .execute();
    assert_eq!(
        shifted.types(),
        vec![("c".to_string(), T::COMPARATOR_L_INFTY_HIGH)]
    );
}
