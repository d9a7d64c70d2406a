//! The `Anomalies` proto of tensorflow-metadata (`anomalies.proto`): anomaly
//! types with TFDV's names, severities, per-feature and dataset-level
//! anomaly infos, drift/skew measurements, and its text format.

use std::collections::BTreeMap;

use weir_tfmd::pbtxt::{self, format_double, PbMessage};

use crate::schema::Schema;

macro_rules! anomaly_types {
    ($($name:ident),* $(,)?) => {
        /// `AnomalyInfo.Type`: the anomaly types weir raises, named as in
        /// anomalies.proto.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(non_camel_case_types, missing_docs)]
        pub enum AnomalyType { $($name),* }

        impl AnomalyType {
            /// The enum value's name in anomalies.proto.
            pub fn name(self) -> &'static str {
                match self { $(AnomalyType::$name => stringify!($name)),* }
            }

            /// Every type weir can raise.
            pub const ALL: &'static [AnomalyType] = &[$(AnomalyType::$name),*];
        }
    };
}

anomaly_types!(
    UNKNOWN_TYPE,
    BOOL_TYPE_BIG_INT,
    BOOL_TYPE_SMALL_INT,
    BOOL_TYPE_UNEXPECTED_STRING,
    BOOL_TYPE_UNEXPECTED_FLOAT,
    ENUM_TYPE_INVALID_UTF8,
    ENUM_TYPE_UNEXPECTED_STRING_VALUES,
    FEATURE_TYPE_HIGH_NUMBER_VALUES,
    FEATURE_TYPE_LOW_FRACTION_PRESENT,
    FEATURE_TYPE_LOW_NUMBER_PRESENT,
    FEATURE_TYPE_LOW_NUMBER_VALUES,
    FEATURE_TYPE_NOT_PRESENT,
    FEATURE_TYPE_HIGH_UNIQUE,
    FEATURE_TYPE_LOW_UNIQUE,
    FEATURE_TYPE_NO_UNIQUE,
    FLOAT_TYPE_BIG_FLOAT,
    FLOAT_TYPE_SMALL_FLOAT,
    FLOAT_TYPE_STRING_NOT_FLOAT,
    FLOAT_TYPE_HAS_NAN,
    FLOAT_TYPE_HAS_INF,
    INT_TYPE_BIG_INT,
    INT_TYPE_NOT_INT_STRING,
    INT_TYPE_SMALL_INT,
    SCHEMA_MISSING_COLUMN,
    SCHEMA_NEW_COLUMN,
    SCHEMA_TRAINING_SERVING_SKEW,
    STRING_TYPE_NOW_FLOAT,
    STRING_TYPE_NOW_INT,
    COMPARATOR_CONTROL_DATA_MISSING,
    COMPARATOR_L_INFTY_HIGH,
    COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH,
    COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH,
    DATASET_LOW_NUM_EXAMPLES,
    DATASET_HIGH_NUM_EXAMPLES,
    VALUE_NESTEDNESS_MISMATCH,
    DOMAIN_INVALID_FOR_TYPE,
    FEATURE_MISSING_NAME,
    FEATURE_MISSING_TYPE,
    INVALID_SCHEMA_SPECIFICATION,
    INVALID_DOMAIN_SPECIFICATION,
    UNEXPECTED_DATA_TYPE,
    INVALID_FEATURE_SHAPE,
    CUSTOM_VALIDATION,
);

/// `AnomalyInfo.Severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Severity {
    /// `UNKNOWN`: no anomaly.
    #[default]
    Unknown,
    /// `WARNING`.
    Warning,
    /// `ERROR`: the default of every anomaly, as in TFDV.
    Error,
}

impl Severity {
    /// The enum value's name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
        }
    }
}

/// One reason for an anomaly.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// The anomaly type.
    pub kind: AnomalyType,
    /// A short description ("Unexpected string values").
    pub short: String,
    /// A description naming the values at fault.
    pub long: String,
}

impl Description {
    /// A reason.
    pub fn new(kind: AnomalyType, short: impl Into<String>, long: impl Into<String>) -> Self {
        Description {
            kind,
            short: short.into(),
            long: long.into(),
        }
    }
}

/// The anomalies of one feature (or of the whole dataset).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnomalyInfo {
    /// The reasons, in the order found.
    pub reasons: Vec<Description>,
    /// The most severe severity among the reasons.
    pub severity: Severity,
}

impl AnomalyInfo {
    /// The description of the whole anomaly: the reason's, or TFDV's
    /// "Multiple errors" joining of them.
    pub fn description(&self) -> (String, String) {
        match self.reasons.as_slice() {
            [] => (String::new(), String::new()),
            [one] => (one.short.clone(), one.long.clone()),
            many => (
                "Multiple errors".into(),
                many.iter()
                    .map(|d| d.long.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        }
    }

    fn to_message(&self, path: Option<&[String]>) -> PbMessage {
        let (short, long) = self.description();
        let mut m = PbMessage::default();
        m.push_str("description", &long);
        m.push_ident("severity", self.severity.name());
        m.push_str("short_description", &short);
        for r in &self.reasons {
            let mut rm = PbMessage::default();
            rm.push_ident("type", r.kind.name())
                .push_str("short_description", &r.short)
                .push_str("description", &r.long);
            m.push_msg("reason", rm);
        }
        if let Some(steps) = path {
            m.push_msg("path", path_message(steps));
        }
        m
    }

    /// Whether the anomaly fails a run (ERROR severity).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `DriftSkewInfo.Measurement.Type`, plus weir's tests (written to the
/// terminal and descriptions only; anomalies.proto has no value for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasurementType {
    /// `L_INFTY`.
    LInfty,
    /// `JENSEN_SHANNON_DIVERGENCE`.
    JensenShannonDivergence,
    /// `NORMALIZED_ABSOLUTE_DIFFERENCE`.
    NormalizedAbsoluteDifference,
    /// weir: chi-square test p-value (threshold: the minimum p-value).
    ChiSquaredPValue,
    /// weir: Kolmogorov-Smirnov test p-value (threshold: the minimum p-value).
    KsPValue,
}

impl MeasurementType {
    /// The name written (anomalies.proto's for TFDV's types).
    pub fn name(self) -> &'static str {
        match self {
            MeasurementType::LInfty => "L_INFTY",
            MeasurementType::JensenShannonDivergence => "JENSEN_SHANNON_DIVERGENCE",
            MeasurementType::NormalizedAbsoluteDifference => "NORMALIZED_ABSOLUTE_DIFFERENCE",
            MeasurementType::ChiSquaredPValue => "weir:CHI_SQUARED_P_VALUE",
            MeasurementType::KsPValue => "weir:KS_P_VALUE",
        }
    }

    /// Whether `value` crosses `threshold`: a distance above it, a p-value
    /// below it.
    pub fn crosses(self, value: f64, threshold: f64) -> bool {
        match self {
            MeasurementType::ChiSquaredPValue | MeasurementType::KsPValue => value < threshold,
            _ => value > threshold,
        }
    }

    /// Whether anomalies.proto can hold it.
    pub fn in_proto(self) -> bool {
        !matches!(
            self,
            MeasurementType::ChiSquaredPValue | MeasurementType::KsPValue
        )
    }
}

/// One drift or skew measurement, reported whether or not it crosses its
/// threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// What was measured.
    pub kind: MeasurementType,
    /// The value.
    pub value: f64,
    /// The threshold it was compared with.
    pub threshold: f64,
}

/// Drift and skew measurements of one feature.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DriftSkewInfo {
    /// Against the previous span.
    pub drift: Vec<Measurement>,
    /// Against serving data.
    pub skew: Vec<Measurement>,
}

/// The result of validating statistics against a schema.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Anomalies {
    /// The schema validated against.
    pub baseline: Schema,
    /// Per-feature anomalies, by feature path.
    pub anomaly_info: BTreeMap<String, AnomalyInfo>,
    /// Dataset-level anomalies (number of examples).
    pub dataset_anomaly_info: Option<AnomalyInfo>,
    /// Drift and skew measurements, by feature path.
    pub drift_skew_info: BTreeMap<String, DriftSkewInfo>,
}

impl Anomalies {
    /// The path steps of the feature keyed `key` (its serialized path):
    /// `parent`, `child` for a feature of a STRUCT feature of the baseline
    /// schema (`##SEQUENCE##.tokens`), else the name as one step.
    fn steps(&self, key: &str) -> Vec<String> {
        let nested = self.baseline.features.iter().find_map(|f| {
            let child = key.strip_prefix(f.name.as_str())?.strip_prefix('.')?;
            (f.r#type == Some(weir_tfmd::FeatureType::Struct))
                .then(|| vec![f.name.clone(), child.to_string()])
        });
        nested.unwrap_or_else(|| vec![key.to_string()])
    }

    /// Whether any anomaly has ERROR severity.
    pub fn has_errors(&self) -> bool {
        self.anomaly_info.values().any(AnomalyInfo::is_error)
            || self
                .dataset_anomaly_info
                .as_ref()
                .is_some_and(AnomalyInfo::is_error)
    }

    /// Whether there is no anomaly at all.
    pub fn is_clean(&self) -> bool {
        self.anomaly_info.is_empty() && self.dataset_anomaly_info.is_none()
    }

    /// Every anomaly type raised, for a feature path or `""` for the dataset.
    pub fn types(&self) -> Vec<(String, AnomalyType)> {
        let mut out: Vec<(String, AnomalyType)> = self
            .anomaly_info
            .iter()
            .flat_map(|(p, a)| a.reasons.iter().map(move |r| (p.clone(), r.kind)))
            .collect();
        if let Some(d) = &self.dataset_anomaly_info {
            out.extend(d.reasons.iter().map(|r| (String::new(), r.kind)));
        }
        out
    }

    /// The `Anomalies` text format (TFDV's `load_anomalies_text` reads it).
    pub fn to_text(&self) -> String {
        let mut m = PbMessage::default();
        // The baseline schema, re-parsed as a generic message so it prints
        // with the same rules as the schema file.
        let baseline = pbtxt::parse(&self.baseline.to_text()).unwrap_or_default();
        m.push_msg("baseline", baseline);
        for (path, info) in &self.anomaly_info {
            let mut entry = PbMessage::default();
            entry.push_str("key", path);
            entry.push_msg("value", info.to_message(Some(&self.steps(path))));
            m.push_msg("anomaly_info", entry);
        }
        m.push_ident("anomaly_name_format", "SERIALIZED_PATH");
        if let Some(d) = &self.dataset_anomaly_info {
            m.push_msg("dataset_anomaly_info", d.to_message(None));
        }
        for (path, info) in &self.drift_skew_info {
            let mut dm = PbMessage::default();
            dm.push_msg("path", path_message(&self.steps(path)));
            let measurement = |x: &Measurement| {
                let mut mm = PbMessage::default();
                mm.push_ident("type", x.kind.name())
                    .push_num("value", format_double(x.value))
                    .push_num("threshold", format_double(x.threshold));
                mm
            };
            for x in info.drift.iter().filter(|x| x.kind.in_proto()) {
                dm.push_msg("drift_measurements", measurement(x));
            }
            for x in info.skew.iter().filter(|x| x.kind.in_proto()) {
                dm.push_msg("skew_measurements", measurement(x));
            }
            if dm.fields.len() > 1 {
                m.push_msg("drift_skew_info", dm);
            }
        }
        pbtxt::print(&m)
    }

    /// A readable table: one line per anomaly reason, then the drift and
    /// skew measurements.
    pub fn summary_table(&self) -> String {
        let mut rows: Vec<[String; 4]> = Vec::new();
        for (path, info) in &self.anomaly_info {
            for r in &info.reasons {
                rows.push([
                    path.clone(),
                    info.severity.name().into(),
                    r.kind.name().into(),
                    r.long.clone(),
                ]);
            }
        }
        if let Some(d) = &self.dataset_anomaly_info {
            for r in &d.reasons {
                rows.push([
                    "(dataset)".into(),
                    d.severity.name().into(),
                    r.kind.name().into(),
                    r.long.clone(),
                ]);
            }
        }
        let mut out = String::new();
        if rows.is_empty() {
            out.push_str("No anomalies.\n");
        } else {
            out.push_str(&table(
                &["feature", "severity", "anomaly", "description"],
                &rows,
            ));
        }
        let mut measured: Vec<[String; 4]> = Vec::new();
        for (path, info) in &self.drift_skew_info {
            for (what, list) in [("drift", &info.drift), ("skew", &info.skew)] {
                for x in list {
                    measured.push([
                        path.clone(),
                        format!("{what} {}", x.kind.name()),
                        six_digits(x.value),
                        six_digits(x.threshold),
                    ]);
                }
            }
        }
        if !measured.is_empty() {
            out.push('\n');
            out.push_str(&table(
                &["feature", "measurement", "value", "threshold"],
                &measured,
            ));
        }
        out
    }
}

fn table(header: &[&str; 4], rows: &[[String; 4]]) -> String {
    let mut width = header.map(|h| h.chars().count());
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count().min(100));
        }
    }
    let line = |cells: [&str; 4]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == 3 {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = width[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(*header);
    for r in rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
    }
    out
}

/// absl's `SixDigits`: `%g` with six significant digits (`0.1`, `1e+06`).
pub fn six_digits(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    let exp = {
        // Rounding to six digits can carry into the next power of ten.
        let rounded: f64 = format!("{:.5e}", v).parse().unwrap_or(v);
        if rounded.abs() >= 10f64.powi(exp + 1) {
            exp + 1
        } else {
            exp
        }
    };
    if !(-4..6).contains(&exp) {
        let s = format!("{:.5e}", v);
        let (mantissa, e) = s.split_once('e').expect("exponent");
        let mantissa = trim_zeros(mantissa);
        let e: i32 = e.parse().expect("exponent digits");
        format!("{mantissa}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    } else {
        let decimals = (5 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A `Path` message of `steps`.
fn path_message(steps: &[String]) -> PbMessage {
    let mut pm = PbMessage::default();
    for step in steps {
        pm.push_str("step", step);
    }
    pm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digits_matches_printf_g() {
        assert_eq!(six_digits(0.1), "0.1");
        assert_eq!(six_digits(1.0), "1");
        assert_eq!(six_digits(1234567.0), "1.23457e+06");
        assert_eq!(six_digits(0.000012345678), "1.23457e-05");
        assert_eq!(six_digits(999999.5), "1e+06");
        assert_eq!(six_digits(-2.5), "-2.5");
        assert_eq!(six_digits(0.2030981), "0.203098");
    }
}
