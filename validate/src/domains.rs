//! TFDV's domain rules: recognizing bool, int and string domains in
//! statistics (`*_domain_util.cc`), and checking string, int, float and bool
//! domains against new statistics, widening them where the data is wider.

use std::collections::BTreeMap;

use weir_tfmd::statistics::FeatureStatsType;

use crate::anomalies::{six_digits, AnomalyType as T, Description};
use crate::schema::{BoolDomain, DomainInfo, Feature, FeatureType, FloatDomain};
use crate::stats_view::FeatureView;

const TRUE_VALUES: [&str; 6] = ["TRUE", "true", "SET", "set", "1", ""];
const FALSE_VALUES: [&str; 5] = ["FALSE", "false", "CLEAR", "clear", "0"];

pub(crate) fn string_values(view: &FeatureView) -> Vec<String> {
    view.string_values_with_counts().into_keys().collect()
}

pub(crate) fn is_bool_candidate(view: &FeatureView) -> bool {
    match view.stats_type() {
        FeatureStatsType::Int => view
            .num_stats()
            .is_some_and(|n| n.min >= 0.0 && n.max == 1.0),
        FeatureStatsType::String => {
            let tokens = string_values(view);
            if tokens.is_empty() || tokens.len() > 2 {
                return false;
            }
            let (mut t, mut f) = (false, false);
            for tok in &tokens {
                if !t && TRUE_VALUES.contains(&tok.as_str()) {
                    t = true;
                } else if !f && FALSE_VALUES.contains(&tok.as_str()) {
                    f = true;
                } else {
                    return false;
                }
            }
            true
        }
        _ => false,
    }
}

pub(crate) fn bool_domain_from_stats(view: &FeatureView) -> BoolDomain {
    if view.stats_type() != FeatureStatsType::String {
        return BoolDomain::default();
    }
    let values = string_values(view);
    BoolDomain {
        true_value: values
            .iter()
            .find(|v| TRUE_VALUES.contains(&v.as_str()))
            .cloned(),
        false_value: values
            .iter()
            .find(|v| FALSE_VALUES.contains(&v.as_str()))
            .cloned(),
    }
}

/// A string that parses as a 64-bit integer the way absl's `SimpleAtoi`
/// does (optional sign, decimal digits, surrounding whitespace).
fn simple_atoi(s: &str) -> Option<i64> {
    let t = s.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() {
        return None;
    }
    t.parse().ok()
}

fn simple_atof(s: &str) -> Option<f32> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    match t.to_ascii_lowercase().as_str() {
        "nan" | "+nan" | "-nan" => Some(f32::NAN),
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f32::INFINITY),
        "-inf" | "-infinity" => Some(f32::NEG_INFINITY),
        _ => t.parse().ok(),
    }
}

pub(crate) enum Interval<T> {
    Range(T, T),
    NotNumber(String),
}

pub(crate) fn int_interval(view: &FeatureView) -> Option<Interval<i64>> {
    let values = string_values(view);
    match view.stats_type() {
        FeatureStatsType::Int if values.is_empty() => {
            let n = view.num_stats()?;
            if n.min < i64::MIN as f64 {
                return Some(Interval::NotNumber(n.min.to_string()));
            }
            if n.max > i64::MAX as f64 {
                return Some(Interval::NotNumber(n.max.to_string()));
            }
            Some(Interval::Range(n.min as i64, n.max as i64))
        }
        FeatureStatsType::Int | FeatureStatsType::String | FeatureStatsType::Bytes => {
            let mut range: Option<(i64, i64)> = None;
            for s in values {
                let Some(v) = simple_atoi(&s) else {
                    return Some(Interval::NotNumber(s));
                };
                range = Some(match range {
                    None => (v, v),
                    Some((lo, hi)) => (lo.min(v), hi.max(v)),
                });
            }
            range.map(|(lo, hi)| Interval::Range(lo, hi))
        }
        _ => None,
    }
}

fn float_interval(view: &FeatureView) -> Option<Interval<f32>> {
    match view.stats_type() {
        FeatureStatsType::Float => {
            let n = view.num_stats()?;
            Some(Interval::Range(n.min as f32, n.max as f32))
        }
        FeatureStatsType::String | FeatureStatsType::Bytes => {
            let mut range: Option<(f32, f32)> = None;
            for s in string_values(view) {
                let Some(v) = simple_atof(&s) else {
                    return Some(Interval::NotNumber(s));
                };
                range = Some(match range {
                    None => (v, v),
                    Some((lo, hi)) => (lo.min(v), hi.max(v)),
                });
            }
            range.map(|(lo, hi)| Interval::Range(lo, hi))
        }
        _ => None,
    }
}

fn percentage(count: f64, total: f64) -> String {
    if total == 0.0 {
        return "?".into();
    }
    let pct = 100.0 * count / total;
    if pct < 1.0 {
        "<1%".into()
    } else {
        format!("~{}%", pct.floor() as i64)
    }
}

/// TFDV's `UpdateStringDomain`: values outside the domain beyond the
/// allowed off-domain mass; adds them. Returns `(descriptions, clear)`.
pub(crate) fn update_string_domain(
    view: &FeatureView,
    max_off_domain: f64,
    values: &mut Vec<String>,
) -> (Vec<Description>, bool) {
    if view.has_invalid_utf8() {
        return (
            vec![Description::new(
                T::ENUM_TYPE_INVALID_UTF8,
                "Invalid UTF8 strings",
                "Found strings that were not valid UTF8 strings.",
            )],
            true,
        );
    }
    let known: std::collections::BTreeSet<&String> = values.iter().collect();
    let missing: BTreeMap<String, f64> = view
        .string_values_with_counts()
        .into_iter()
        .filter(|(v, _)| !known.contains(v))
        .collect();
    let missing_count: f64 = missing.values().sum();
    let total = view.total_value_count();
    let mut out = Vec::new();
    if (total > 0.0 && missing_count / total > max_off_domain)
        || (max_off_domain == 0.0 && !missing.is_empty())
    {
        let listed: Vec<String> = missing
            .iter()
            .map(|(v, c)| format!("{} ({})", escape(v), percentage(*c, total)))
            .collect();
        out.push(Description::new(
            T::ENUM_TYPE_UNEXPECTED_STRING_VALUES,
            "Unexpected string values",
            format!(
                "Examples contain values missing from the schema: {}. ",
                listed.join(", ")
            ),
        ));
        values.extend(missing.into_keys());
    }
    (out, false)
}

fn escape(s: &str) -> String {
    s.chars().flat_map(char::escape_default).collect()
}

pub(crate) fn update_int_domain(view: &FeatureView, feature: &mut Feature) -> Vec<Description> {
    let DomainInfo::Int(d) = &mut feature.domain else {
        return Vec::new();
    };
    let mut out = Vec::new();
    match int_interval(view) {
        Some(Interval::NotNumber(s)) => {
            match view.feature_type() {
                FeatureType::Bytes => out.push(Description::new(
                    T::INT_TYPE_NOT_INT_STRING,
                    "Invalid values",
                    format!("String values that were not ints were found, such as \"{s}\"."),
                )),
                FeatureType::Int if d.min.is_some() || d.max.is_some() => {
                    out.push(Description::new(
                        T::DOMAIN_INVALID_FOR_TYPE,
                        "Invalid values",
                        format!("Integer had values that were not valid Int64, such as \"{s}\"."),
                    ))
                }
                FeatureType::Int => return out,
                other => out.push(Description::new(
                    T::DOMAIN_INVALID_FOR_TYPE,
                    "Invalid values",
                    format!("IntDomain incompatible with feature type {}", other.name()),
                )),
            }
            feature.domain = DomainInfo::None;
        }
        Some(Interval::Range(lo, hi)) => {
            if let Some(min) = d.min.filter(|&m| m > lo) {
                out.push(Description::new(
                    T::INT_TYPE_SMALL_INT,
                    "Out-of-range values",
                    format!("Unexpectedly small value: {lo} (int_domain.min is {min})."),
                ));
                d.min = Some(lo);
            }
            if let Some(max) = d.max.filter(|&m| m < hi) {
                out.push(Description::new(
                    T::INT_TYPE_BIG_INT,
                    "Out-of-range values",
                    format!("Unexpectedly large value: {hi} (int_domain.max is {max})."),
                ));
                d.max = Some(hi);
            }
        }
        None => {}
    }
    out
}

pub(crate) fn update_float_domain(view: &FeatureView, feature: &mut Feature) -> Vec<Description> {
    let DomainInfo::Float(d) = &mut feature.domain else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if d.disallow_nan == Some(true) {
        let has_nan = match view.stats_type() {
            FeatureStatsType::Float => view.num_nan() > 0,
            FeatureStatsType::String => string_values(view)
                .iter()
                .any(|s| simple_atof(s).is_some_and(f32::is_nan)),
            _ => false,
        };
        if has_nan {
            out.push(Description::new(
                T::FLOAT_TYPE_HAS_NAN,
                "Invalid values",
                format!("Float feature has NaN values ({} of them).", view.num_nan()),
            ));
            d.disallow_nan = Some(false);
        }
    }
    if d.disallow_inf == Some(true) && view.stats_type() == FeatureStatsType::Float {
        let n = view.num_stats();
        let inf_count = view.custom_num("num_pos_inf").unwrap_or(0.0)
            + view.custom_num("num_neg_inf").unwrap_or(0.0);
        if inf_count > 0.0 || n.is_some_and(|n| n.min.is_infinite() || n.max.is_infinite()) {
            out.push(Description::new(
                T::FLOAT_TYPE_HAS_INF,
                "Invalid values",
                format!(
                    "Float feature has Inf values (min {}, max {}).",
                    six_digits(n.map_or(0.0, |n| n.min)),
                    six_digits(n.map_or(0.0, |n| n.max))
                ),
            ));
            d.disallow_inf = Some(false);
        }
    }
    match float_interval(view) {
        Some(Interval::NotNumber(s)) => {
            out.push(Description::new(
                T::FLOAT_TYPE_STRING_NOT_FLOAT,
                "Invalid values",
                format!("String values that were not floats were found, such as \"{s}\"."),
            ));
            feature.domain = DomainInfo::None;
        }
        Some(Interval::Range(lo, hi)) => {
            if let Some(min) = d.min.filter(|&m| lo < m) {
                out.push(Description::new(
                    T::FLOAT_TYPE_SMALL_FLOAT,
                    "Out-of-range values",
                    format!(
                        "Unexpectedly low values: {}<{}(upto six significant digits)",
                        six_digits(lo as f64),
                        six_digits(min as f64)
                    ),
                ));
                d.min = Some(lo);
            }
            if let Some(max) = d.max.filter(|&m| hi > m) {
                out.push(Description::new(
                    T::FLOAT_TYPE_BIG_FLOAT,
                    "Out-of-range values",
                    format!(
                        "Unexpectedly high value: {}>{}(upto six significant digits)",
                        six_digits(hi as f64),
                        six_digits(max as f64)
                    ),
                ));
                d.max = Some(hi);
            }
        }
        None => {}
    }
    out
}

pub(crate) fn update_bool_domain(view: &FeatureView, feature: &mut Feature) -> Vec<Description> {
    let Some(n) = view.num_stats() else {
        // Strings: every value must be the true or the false value.
        let DomainInfo::Bool(b) = &feature.domain else {
            return Vec::new();
        };
        let valid: Vec<&String> = b.true_value.iter().chain(&b.false_value).collect();
        for s in string_values(view) {
            if !valid.contains(&&s) {
                let desc = if valid.is_empty() {
                    "{}".to_string()
                } else {
                    let mut v: Vec<&str> = valid.iter().map(|s| s.as_str()).collect();
                    v.sort();
                    format!("{{\"{}\"}}", v.join("\", \""))
                };
                feature.domain = DomainInfo::None;
                return vec![Description::new(
                    T::BOOL_TYPE_UNEXPECTED_STRING,
                    "Non-boolean values",
                    format!("Saw unexpected value \"{s}\" instead of {desc}."),
                )];
            }
        }
        return Vec::new();
    };
    match view.stats_type() {
        FeatureStatsType::Int => {
            let kind = if n.min < 0.0 {
                Some((T::BOOL_TYPE_SMALL_INT, n.min))
            } else if n.max > 1.0 {
                Some((T::BOOL_TYPE_BIG_INT, n.max))
            } else {
                None
            };
            match kind {
                Some((kind, at)) => {
                    feature.domain = DomainInfo::Int(crate::schema::IntDomain {
                        min: Some(n.min as i64),
                        max: Some(n.max as i64),
                        extra: Vec::new(),
                    });
                    vec![Description::new(
                        kind,
                        "Non-boolean values",
                        format!(
                            "Integers (such as {}) not in {{0, 1}}: converting to an integer.",
                            six_digits(at)
                        ),
                    )]
                }
                None => Vec::new(),
            }
        }
        FeatureStatsType::Float => {
            let bad = if n.min != 0.0 && n.min != 1.0 {
                Some(format!(
                    "Floats (such as {}) not in {{0, 1}}",
                    six_digits(n.min)
                ))
            } else if n.max != 0.0 && n.max != 1.0 {
                Some(format!(
                    "Floats (such as {}) not in {{0, 1}}",
                    six_digits(n.max)
                ))
            } else if view.num_nan() > 0 {
                Some("Floats (such as NaN) not in {0, 1}".to_string())
            } else {
                n.histograms
                    .iter()
                    .flat_map(|h| &h.buckets)
                    .filter(|b| b.sample_count > 0.0)
                    .find_map(|b| {
                        if b.high_value < 0.0 {
                            Some("Float values < 0 not in {0, 1}".to_string())
                        } else if b.low_value > 1.0 {
                            Some("Float values > 1 not in {0, 1}".to_string())
                        } else if b.high_value < 1.0 && b.low_value > 0.0 {
                            Some("Float values falling between 0 and 1".to_string())
                        } else {
                            None
                        }
                    })
            };
            match bad {
                Some(text) => {
                    feature.domain = DomainInfo::Float(FloatDomain {
                        min: Some(n.min as f32),
                        max: Some(n.max as f32),
                        ..Default::default()
                    });
                    vec![Description::new(
                        T::BOOL_TYPE_UNEXPECTED_FLOAT,
                        "Non-boolean values",
                        format!("{text}: converting to float_domain."),
                    )]
                }
                None => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}
