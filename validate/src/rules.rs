//! TFDV's rules for one feature: how a new column enters the schema
//! ([`create_feature`]), and how an existing feature is checked against its
//! statistics ([`update_feature`]). Both validation and schema update run
//! these rules: each change `update_feature` makes to the schema is
//! returned as a [`Description`] of an anomaly.

use weir_tfmd::statistics::FeatureStatsType;

use crate::anomalies::{six_digits, AnomalyType as T, Description, DriftSkewInfo};
use crate::comparators;
pub use crate::context::RuleContext;
use crate::domains::{
    bool_domain_from_stats, int_interval, is_bool_candidate, string_values, update_bool_domain,
    update_float_domain, update_int_domain, update_string_domain, Interval,
};
use crate::schema::{DomainInfo, Feature, FeatureType, Presence, Schema, ValueCount};
use crate::stats_view::FeatureView;

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
    let levels = view.level_min_max_num_values();
    if levels.len() > 1 {
        // A nested feature: a value count per nesting level (empty where a
        // level has empty lists), as TFDV infers `value_counts`.
        feature.value_counts = Some(
            levels
                .into_iter()
                .map(|(min, max)| inferred_value_count(min, max).unwrap_or_default())
                .collect(),
        );
        return;
    }
    let (min, max) = view.min_max_num_values();
    feature.value_count = inferred_value_count(min, max);
}

/// TFDV's inferred value count: exact when every list has the same
/// positive length, at least one when none is empty, else none.
fn inferred_value_count(min: i64, max: i64) -> Option<ValueCount> {
    (min > 0).then_some(ValueCount {
        min: Some(if min == max { min } else { 1 }),
        max: (min == max).then_some(max),
    })
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
    if view.feature_type() == FeatureType::Struct {
        // Its features, at paths below it, go into this domain when the
        // schema is nested (`Schema::nest_structs`).
        feature.domain = DomainInfo::Struct(Vec::new());
    } else if view.has_invalid_utf8() || view.stats_type() == FeatureStatsType::Bytes {
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
        DomainInfo::Struct(_) => ty == FeatureType::Struct,
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
        DomainInfo::Struct(_) => "struct_domain",
        DomainInfo::Other(n, _) => n,
    }
}

/// Checks the nesting levels of a nested feature against `value_counts`:
/// each level as a `value_count` (the level named in the message).
fn update_value_counts(view: &FeatureView, vcs: &mut [ValueCount]) -> Vec<Description> {
    let levels = view.level_min_max_num_values();
    if levels.len() != vcs.len() {
        return vec![Description::new(
            T::VALUE_NESTEDNESS_MISMATCH,
            "Mismatched value nest level",
            format!(
                "This feature has a value_counts, but the nestedness level of the feature \
                 ({}) does not match the number of value_counts ({}).",
                levels.len().max(1),
                vcs.len()
            ),
        )];
    }
    let mut out = Vec::new();
    for (level, (vc, (min, max))) in vcs.iter_mut().zip(levels).enumerate() {
        for mut d in value_count_problems(min, max, vc) {
            d.long = format!("{} (nestedness level {level})", d.long);
            out.push(d);
        }
    }
    out
}

fn update_value_count(view: &FeatureView, vc: &mut ValueCount) -> Vec<Description> {
    let (min, max) = view.min_max_num_values();
    value_count_problems(min, max, vc)
}

fn value_count_problems(min: i64, max: i64, vc: &mut ValueCount) -> Vec<Description> {
    let mut out = Vec::new();
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
    if let Some(vcs) = &mut f.value_counts {
        out.extend(update_value_counts(view, vcs));
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
        // A struct's features are checked as features of their own (the
        // validator reads the schema with `flatten_structs`).
        DomainInfo::None | DomainInfo::Struct(_) | DomainInfo::Other(..) => {}
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
