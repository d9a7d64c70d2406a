//! TFDV's rules for one feature: how a new column enters the schema
//! ([`create_feature`]), and how an existing feature is checked against its
//! statistics ([`update_feature`]). Both validation and schema update run
//! these rules: each change `update_feature` makes to the schema is
//! returned as a [`Description`] of an anomaly.

use std::collections::BTreeMap;

use weir_datasets::proto::statistics::FeatureStatsType;

use crate::anomalies::{six_digits, AnomalyType as T, Description, DriftSkewInfo};
use crate::comparators;
use crate::schema::{
    BoolDomain, DomainInfo, Feature, FeatureType, FloatDomain, Presence, Schema, ValueCount,
};
use crate::stats_view::{DatasetView, FeatureView};

/// What the rules need besides the feature's own statistics.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleContext<'a> {
    /// The environment the statistics were computed in (`--environment`).
    pub environment: Option<&'a str>,
    /// The previous span's statistics, for drift comparators.
    pub previous: Option<&'a DatasetView>,
    /// Serving statistics, for skew comparators.
    pub serving: Option<&'a DatasetView>,
    /// The largest string domain inferred (TFDV's `enum_threshold`).
    pub max_string_domain_size: usize,
    /// The quantile sketches' rank error, stated in KS results.
    pub sketch_epsilon: f64,
}

const TRUE_VALUES: [&str; 6] = ["TRUE", "true", "SET", "set", "1", ""];
const FALSE_VALUES: [&str; 5] = ["FALSE", "false", "CLEAR", "clear", "0"];

/// SCHEMA_NEW_COLUMN: a feature in the data that the schema lacks.
pub fn new_column() -> Description {
    Description::new(
        T::SCHEMA_NEW_COLUMN,
        "New column",
        "New column (column in data but not in schema)",
    )
}

/// SCHEMA_MISSING_COLUMN: a required schema feature the data lacks.
pub fn missing_column() -> Description {
    Description::new(
        T::SCHEMA_MISSING_COLUMN,
        "Column dropped",
        "Column is completely missing",
    )
}

/// TFDV's environment rule: with no environment every feature is in it;
/// otherwise `in_environment` wins, then `not_in_environment`, then the
/// schema's `default_environment`.
pub fn in_environment(schema: &Schema, feature: &Feature, environment: Option<&str>) -> bool {
    let Some(env) = environment else {
        return true;
    };
    if feature.in_environment.iter().any(|e| e == env) {
        return true;
    }
    if feature.not_in_environment.iter().any(|e| e == env) {
        return false;
    }
    schema.default_environment.iter().any(|e| e == env)
}

/// Whether the schema requires the feature to appear in this environment.
pub fn existence_required(schema: &Schema, feature: &Feature, environment: Option<&str>) -> bool {
    if feature.is_deprecated() {
        return false;
    }
    let p = feature.presence.clone().unwrap_or_default();
    if p.min_count.unwrap_or(0) <= 0 && p.min_fraction.unwrap_or(0.0) <= 0.0 {
        return false;
    }
    in_environment(schema, feature, environment)
}

fn init_value_count_and_presence(view: &FeatureView, feature: &mut Feature) {
    let present = view.num_present();
    feature.presence_mut().min_count = Some(if present < 1.0 { 0 } else { 1 });
    if present == 0.0 {
        return;
    }
    if view.num_missing() == 0.0 {
        feature.presence_mut().min_fraction = Some(1.0);
    }
    let (min, max) = view.min_max_num_values();
    if min > 0 {
        feature.value_count = Some(if min == max {
            ValueCount {
                min: Some(min),
                max: Some(max),
            }
        } else {
            ValueCount {
                min: Some(1),
                max: None,
            }
        });
    }
}

fn string_values(view: &FeatureView) -> Vec<String> {
    view.string_values_with_counts().into_keys().collect()
}

fn is_bool_candidate(view: &FeatureView) -> bool {
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

fn bool_domain_from_stats(view: &FeatureView) -> BoolDomain {
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

enum Interval<T> {
    Range(T, T),
    NotNumber(String),
}

fn int_interval(view: &FeatureView) -> Option<Interval<i64>> {
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

/// TFDV's `CreateColumn`: the schema entry for a feature seen for the first
/// time — type, presence, value count, and a domain chosen in TFDV's order
/// (none for bytes or invalid UTF-8, bool domain, int domain, string domain
/// of at most `max_string_domain_size` values).
pub fn create_feature(schema: &mut Schema, view: &FeatureView, max_string_domain_size: usize) {
    let mut feature = Feature {
        name: view.name.clone(),
        r#type: Some(view.feature_type()),
        ..Default::default()
    };
    init_value_count_and_presence(view, &mut feature);
    if view.has_invalid_utf8() || view.stats_type() == FeatureStatsType::Bytes {
        // Bytes that should not be interpreted get no domain.
    } else if is_bool_candidate(view) {
        feature.domain = DomainInfo::Bool(bool_domain_from_stats(view));
    } else if view.stats_type() == FeatureStatsType::String
        && matches!(int_interval(view), Some(Interval::Range(..)))
    {
        feature.domain = DomainInfo::Int(Default::default());
    } else {
        let values = string_values(view);
        if !values.is_empty() && values.len() <= max_string_domain_size {
            let index = schema.new_string_domain(&view.name);
            schema.string_domains[index].values = values;
            feature.domain = DomainInfo::Domain(
                schema.string_domains[index]
                    .name
                    .clone()
                    .unwrap_or_default(),
            );
        }
    }
    schema.features.push(feature);
}

/// TFDV's `UpdateFeatureSelf`: problems of the schema entry itself.
fn update_feature_self(schema: &mut Schema, idx: usize) -> Vec<Description> {
    let mut out = Vec::new();
    let has_named_domain = match &schema.features[idx].domain {
        DomainInfo::Domain(d) => Some(schema.string_domain(d).is_some()),
        _ => None,
    };
    let f = &mut schema.features[idx];
    if f.is_deprecated() {
        return out;
    }
    if f.r#type.is_none() {
        if matches!(f.domain, DomainInfo::Domain(_) | DomainInfo::String(_)) {
            out.push(Description::new(
                T::FEATURE_MISSING_TYPE,
                "Missing type",
                "unspecified type: inferring the type to be BYTES, given the domain specified.",
            ));
            f.r#type = Some(FeatureType::Bytes);
        } else {
            out.push(Description::new(
                T::FEATURE_MISSING_TYPE,
                "Missing type",
                "unspecified type: determine the type and set it, rather than deprecating.",
            ));
            f.deprecate();
            return out;
        }
    }
    if let Some(p) = &mut f.presence {
        match p.min_fraction {
            Some(x) if x < 0.0 => {
                p.min_fraction = None;
                out.push(Description::new(
                    T::INVALID_SCHEMA_SPECIFICATION,
                    "Invalid schema",
                    "min_fraction should not be negative: clear is equal to zero",
                ));
            }
            Some(x) if x > 1.0 => {
                p.min_fraction = Some(1.0);
                out.push(Description::new(
                    T::INVALID_SCHEMA_SPECIFICATION,
                    "Invalid schema",
                    "min_fraction should not greater than 1",
                ));
            }
            _ => {}
        }
    }
    if let Some(vc) = &mut f.value_count {
        if vc.min.unwrap_or(0) < 0 {
            vc.min = None;
            out.push(Description::new(
                T::INVALID_SCHEMA_SPECIFICATION,
                "Invalid schema",
                "ValueCount.min should not be negative",
            ));
        }
        if let Some(max) = vc.max {
            if max < vc.min.unwrap_or(0) {
                vc.max = vc.min;
                out.push(Description::new(
                    T::INVALID_SCHEMA_SPECIFICATION,
                    "Invalid schema",
                    "ValueCount.max should not be less than min",
                ));
            }
        }
    }
    let ty = f.r#type.unwrap_or_default();
    let allowed = match &f.domain {
        DomainInfo::None | DomainInfo::Other(..) => true,
        DomainInfo::Domain(_) | DomainInfo::String(_) => ty == FeatureType::Bytes,
        DomainInfo::Bool(_) => matches!(
            ty,
            FeatureType::Int | FeatureType::Bytes | FeatureType::Float
        ),
        DomainInfo::Int(_) => matches!(ty, FeatureType::Int | FeatureType::Bytes),
        DomainInfo::Float(_) => matches!(ty, FeatureType::Float | FeatureType::Bytes),
    };
    if !allowed {
        out.push(Description::new(
            T::DOMAIN_INVALID_FOR_TYPE,
            "The domain does not match the type",
            format!(
                "The domain \"{}\" does not match the type: {}",
                domain_name(&f.domain),
                ty.name()
            ),
        ));
        f.domain = DomainInfo::None;
    }
    match &mut f.domain {
        DomainInfo::Domain(name) if has_named_domain == Some(false) => {
            out.push(Description::new(
                T::INVALID_SCHEMA_SPECIFICATION,
                "Invalid schema",
                format!("missing domain: {name}"),
            ));
            f.domain = DomainInfo::None;
        }
        DomainInfo::Bool(b) if b.true_value.is_some() && b.true_value == b.false_value => {
            out.push(Description::new(
                T::INVALID_DOMAIN_SPECIFICATION,
                "Malformed BoolDomain",
                format!(
                    "True and false value equal for BoolDomain:{}. The suggested change is to clear the false_value, but a domain expert should review this change.",
                    b.true_value.clone().unwrap_or_default()
                ),
            ));
            b.false_value = None;
        }
        DomainInfo::String(d) => {
            let mut seen = std::collections::BTreeSet::new();
            let mut repeats = Vec::new();
            d.values.retain(|v| {
                if seen.insert(v.clone()) {
                    true
                } else {
                    repeats.push(v.clone());
                    false
                }
            });
            if !repeats.is_empty() {
                out.push(Description::new(
                    T::INVALID_DOMAIN_SPECIFICATION,
                    "Malformed StringDomain",
                    format!("Repeated values in StringDomain:{}", repeats.join(", ")),
                ));
            }
        }
        _ => {}
    }
    if f.distribution_constraints.is_some()
        && !matches!(f.domain, DomainInfo::Domain(_) | DomainInfo::String(_))
    {
        f.distribution_constraints = None;
        out.push(Description::new(
            T::INVALID_SCHEMA_SPECIFICATION,
            "Invalid schema",
            "distribution constraints require domain or string domain.",
        ));
    }
    out
}

fn domain_name(d: &DomainInfo) -> &str {
    match d {
        DomainInfo::None => "UNSET",
        DomainInfo::Domain(_) => "domain",
        DomainInfo::Int(_) => "int_domain",
        DomainInfo::Float(_) => "float_domain",
        DomainInfo::String(_) => "string_domain",
        DomainInfo::Bool(_) => "bool_domain",
        DomainInfo::Other(n, _) => n,
    }
}

fn update_value_count(view: &FeatureView, vc: &mut ValueCount) -> Vec<Description> {
    let mut out = Vec::new();
    let (min, max) = view.min_max_num_values();
    if let Some(want) = vc.min {
        if min < want {
            out.push(Description::new(
                T::FEATURE_TYPE_LOW_NUMBER_VALUES,
                "Missing values",
                format!(
                    "Some examples have fewer values than expected: as few as {min}, expected at least {want}."
                ),
            ));
            vc.min = (min != 0).then_some(min);
        }
    }
    if let Some(want) = vc.max {
        if max > want {
            out.push(Description::new(
                T::FEATURE_TYPE_HIGH_NUMBER_VALUES,
                "Superfluous values",
                format!(
                    "Some examples have more values than expected: as many as {max}, expected at most {want}."
                ),
            ));
            vc.max = Some(max);
        }
    }
    out
}

fn update_presence(view: &FeatureView, p: &mut Presence) -> Vec<Description> {
    let mut out = Vec::new();
    let present = view.num_present();
    if let Some(want) = p.min_count {
        if present < want as f64 {
            p.min_count = Some(present as i64);
            out.push(Description::new(
                T::FEATURE_TYPE_LOW_NUMBER_PRESENT,
                "Column dropped",
                format!(
                    "The feature was present in fewer examples than expected: {present} < min_count {want}."
                ),
            ));
        }
    }
    if let (Some(want), Some(fraction)) = (p.min_fraction, view.fraction_present()) {
        if fraction < want {
            p.min_fraction = Some(fraction);
            out.push(Description::new(
                T::FEATURE_TYPE_LOW_FRACTION_PRESENT,
                "Column dropped",
                format!(
                    "The feature was present in fewer examples than expected: a fraction of {} < min_fraction {}.",
                    six_digits(fraction),
                    six_digits(want)
                ),
            ));
        }
        if p.min_fraction == Some(1.0) && view.num_missing() != 0.0 {
            p.min_fraction = Some(0.9999);
            out.push(Description::new(
                T::FEATURE_TYPE_LOW_FRACTION_PRESENT,
                "Column dropped",
                format!(
                    "The feature was expected everywhere, but was missing in {} examples.",
                    view.num_missing()
                ),
            ));
        }
    }
    out
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
fn update_string_domain(
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

fn update_int_domain(view: &FeatureView, feature: &mut Feature) -> Vec<Description> {
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

fn update_float_domain(view: &FeatureView, feature: &mut Feature) -> Vec<Description> {
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

fn update_bool_domain(view: &FeatureView, feature: &mut Feature) -> Vec<Description> {
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

/// TFDV's `UpdateFeatureInternal` plus weir's checks: compares one feature's
/// statistics with its schema entry (`schema.features[idx]`), fixes the
/// entry so the data fits, and returns what had to change, with the drift
/// and skew measurements taken.
pub fn update_feature(
    schema: &mut Schema,
    idx: usize,
    view: &FeatureView,
    ctx: &RuleContext,
) -> (Vec<Description>, DriftSkewInfo) {
    let mut out = update_feature_self(schema, idx);
    if schema.features[idx].is_deprecated() {
        return (out, DriftSkewInfo::default());
    }
    if view.num_present() == 0.0 {
        if existence_required(schema, &schema.features[idx], ctx.environment) {
            out.push(Description::new(
                T::FEATURE_TYPE_NOT_PRESENT,
                "Column dropped",
                "The feature was not present in any examples.",
            ));
            schema.features[idx].deprecate();
        }
        return (out, DriftSkewInfo::default());
    }
    if !in_environment(schema, &schema.features[idx], ctx.environment) {
        let env = ctx.environment.unwrap_or_default().to_string();
        let f = &mut schema.features[idx];
        f.not_in_environment.retain(|e| e != &env);
        let default_has = schema.default_environment.contains(&env);
        let f = &mut schema.features[idx];
        if !default_has {
            f.in_environment.push(env.clone());
        }
        out.push(Description::new(
            T::SCHEMA_NEW_COLUMN,
            "Column missing in environment",
            format!(
                "New column {} found in data but not in the environment {env} in the schema.",
                view.name
            ),
        ));
    }
    let f = &mut schema.features[idx];
    if let Some(vc) = &mut f.value_count {
        out.extend(update_value_count(view, vc));
    }
    if let Some(p) = &mut f.presence {
        out.extend(update_presence(view, p));
    }
    if let Some(dims) = f.shape.clone() {
        let (min, max) = view.min_max_num_values();
        let size: i64 = dims.iter().product();
        let problem = if view.num_missing() != 0.0 {
            Some(format!(
                "Feature shape is set, but the feature is missing in {} examples.",
                view.num_missing()
            ))
        } else if min != max {
            Some(format!(
                "Feature shape is set, but examples have between {min} and {max} values."
            ))
        } else if size != min {
            Some(format!(
                "Feature shape {dims:?} holds {size} values, but examples have {min}."
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            out.push(Description::new(
                T::INVALID_FEATURE_SHAPE,
                "Invalid shape",
                problem,
            ));
            f.shape = None;
            if min > 0 {
                f.value_count = Some(ValueCount {
                    min: Some(if min == max { min } else { 1 }),
                    max: (min == max).then_some(max),
                });
            }
        }
    }
    let schema_type = f.r#type.unwrap_or_default();
    let data_type = view.feature_type();
    if schema_type != data_type {
        f.deprecate();
        let data_name = format!("{:?}", view.stats_type()).to_uppercase();
        let (kind, short) = match (schema_type, data_type) {
            (FeatureType::Bytes, FeatureType::Int) => (T::STRING_TYPE_NOW_INT, "String now int"),
            (FeatureType::Bytes, FeatureType::Float) => {
                (T::STRING_TYPE_NOW_FLOAT, "String now float")
            }
            _ => (T::UNEXPECTED_DATA_TYPE, "Unexpected data type"),
        };
        out.push(Description::new(
            kind,
            short,
            format!(
                "Expected data of type: {} but got {data_name}",
                schema_type.name()
            ),
        ));
        return (out, DriftSkewInfo::default());
    }
    let max_off_domain = match f.distribution_constraints {
        Some(Some(mass)) => 1.0 - mass,
        _ => 0.0,
    };
    match f.domain.clone() {
        DomainInfo::Domain(name) => {
            if let Some(d) = schema
                .string_domains
                .iter_mut()
                .find(|d| d.name.as_deref() == Some(name.as_str()))
            {
                let (descs, clear) = update_string_domain(view, max_off_domain, &mut d.values);
                out.extend(descs);
                if clear {
                    schema
                        .string_domains
                        .retain(|d| d.name.as_deref() != Some(&name));
                    for f in &mut schema.features {
                        if f.domain == DomainInfo::Domain(name.clone()) {
                            f.domain = DomainInfo::None;
                        }
                    }
                }
            }
        }
        DomainInfo::String(mut d) => {
            let (descs, clear) = update_string_domain(view, max_off_domain, &mut d.values);
            out.extend(descs);
            schema.features[idx].domain = if clear {
                DomainInfo::None
            } else {
                DomainInfo::String(d)
            };
        }
        DomainInfo::Bool(_) => out.extend(update_bool_domain(view, &mut schema.features[idx])),
        DomainInfo::Int(_) => out.extend(update_int_domain(view, &mut schema.features[idx])),
        DomainInfo::Float(_) => out.extend(update_float_domain(view, &mut schema.features[idx])),
        DomainInfo::None | DomainInfo::Other(..) => {}
    }
    let f = &mut schema.features[idx];
    if let Some((lo, hi)) = f.unique_constraints {
        match view.num_unique() {
            Some(u) if (u as i64) < lo => {
                out.push(Description::new(
                    T::FEATURE_TYPE_LOW_UNIQUE,
                    "Low number of unique values",
                    format!("Expected at least {lo} unique values but found only {u}."),
                ));
                f.unique_constraints = Some((u as i64, hi));
            }
            Some(u) if (u as i64) > hi => {
                out.push(Description::new(
                    T::FEATURE_TYPE_HIGH_UNIQUE,
                    "High number of unique values",
                    format!("Expected no more than {hi} unique values but found {u}."),
                ));
                f.unique_constraints = Some((lo, u as i64));
            }
            Some(_) => {}
            None => {
                out.push(Description::new(
                    T::FEATURE_TYPE_NO_UNIQUE,
                    "No unique values",
                    "UniqueConstraints specified for the feature, but unique values were not counted (i.e., feature is not string or categorical).",
                ));
                f.unique_constraints = None;
            }
        }
    }
    let (descs, measured) = comparators::run(&mut schema.features[idx], view, ctx);
    out.extend(descs);
    (out, measured)
}
