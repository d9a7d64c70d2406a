//! The text format of [`Schema`]: parsed from and printed to a
//! `schema.pbtxt` through the generic tree of [`crate::pbtxt`]. Known
//! fields are printed in field-number order, as protobuf's own text
//! printer does; fields weir does not model are kept verbatim in `extra`.

use super::*;
use crate::error::{Result, TfmdError};
use crate::pbtxt::{self, format_double, format_float, PbMessage};

const WEIR_TAG: &str = "weir:";

impl Schema {
    /// Parses a text-format schema; `origin` names the file in errors.
    pub fn from_text(text: &str, origin: &str) -> Result<Schema> {
        let msg = pbtxt::parse(text).map_err(|e| TfmdError::Schema {
            origin: origin.to_string(),
            problem: e,
        })?;
        Schema::from_message(&msg).map_err(|problem| TfmdError::Schema {
            origin: origin.to_string(),
            problem,
        })
    }

    /// Reads a `schema.pbtxt`.
    pub fn read(path: &std::path::Path) -> Result<Schema> {
        let text = std::fs::read_to_string(path).map_err(|e| TfmdError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        Schema::from_text(&text, &path.display().to_string())
    }

    /// The schema in text format.
    pub fn to_text(&self) -> String {
        pbtxt::print(&self.to_message())
    }

    fn from_message(msg: &PbMessage) -> std::result::Result<Schema, String> {
        let mut schema = Schema::default();
        for (name, value) in &msg.fields {
            match (name.as_str(), value) {
                ("feature", PbValue::Msg(m)) => schema.features.push(Feature::from_message(m)?),
                ("string_domain", PbValue::Msg(m)) => {
                    schema.string_domains.push(StringDomain::from_message(m))
                }
                ("default_environment", PbValue::Str(s)) => schema
                    .default_environment
                    .push(String::from_utf8_lossy(s).into_owned()),
                ("dataset_constraints", PbValue::Msg(m)) => {
                    let mut c = DatasetConstraints::default();
                    for (n, v) in &m.fields {
                        match n.as_str() {
                            "min_examples_count" => c.min_examples_count = int(m, n)?,
                            "max_examples_count" => c.max_examples_count = int(m, n)?,
                            _ => c.extra.push((n.clone(), v.clone())),
                        }
                    }
                    schema.dataset_constraints = Some(c);
                }
                _ => schema.extra.push((name.clone(), value.clone())),
            }
        }
        Ok(schema)
    }

    fn to_message(&self) -> PbMessage {
        let mut m = PbMessage::default();
        for f in &self.features {
            m.push_msg("feature", f.to_message());
        }
        for d in &self.string_domains {
            m.push_msg("string_domain", d.to_message());
        }
        for e in &self.default_environment {
            m.push_str("default_environment", e);
        }
        if let Some(c) = &self.dataset_constraints {
            let mut cm = PbMessage::default();
            if let Some(v) = c.min_examples_count {
                cm.push_num("min_examples_count", v);
            }
            if let Some(v) = c.max_examples_count {
                cm.push_num("max_examples_count", v);
            }
            cm.fields.extend(c.extra.iter().cloned());
            m.push_msg("dataset_constraints", cm);
        }
        m.fields.extend(self.extra.iter().cloned());
        m
    }
}

/// Field `name` read with `get` when present; a present field `get`
/// cannot read is an error saying it is not `what`.
fn optional<T>(
    m: &PbMessage,
    name: &str,
    get: impl Fn(&PbMessage, &str) -> Option<T>,
    what: &str,
) -> std::result::Result<Option<T>, String> {
    match m.get(name) {
        None => Ok(None),
        Some(_) => get(m, name)
            .map(Some)
            .ok_or_else(|| format!("field '{name}' is not {what}")),
    }
}

fn int(m: &PbMessage, name: &str) -> std::result::Result<Option<i64>, String> {
    optional(m, name, PbMessage::get_i64, "an integer")
}

fn float(m: &PbMessage, name: &str) -> std::result::Result<Option<f64>, String> {
    optional(m, name, PbMessage::get_f64, "a number")
}

fn boolean(m: &PbMessage, name: &str) -> std::result::Result<Option<bool>, String> {
    optional(m, name, PbMessage::get_bool, "a bool")
}

fn string(v: &PbValue) -> String {
    match v {
        PbValue::Str(s) => String::from_utf8_lossy(s).into_owned(),
        PbValue::Num(s) | PbValue::Ident(s) => s.clone(),
        PbValue::Msg(_) => String::new(),
    }
}

fn value_count(m: &PbMessage) -> std::result::Result<ValueCount, String> {
    Ok(ValueCount {
        min: int(m, "min")?,
        max: int(m, "max")?,
    })
}

fn value_count_message(v: &ValueCount) -> PbMessage {
    let mut m = PbMessage::default();
    if let Some(x) = v.min {
        m.push_num("min", x);
    }
    if let Some(x) = v.max {
        m.push_num("max", x);
    }
    m
}

impl StringDomain {
    fn from_message(m: &PbMessage) -> StringDomain {
        let mut d = StringDomain::default();
        for (n, v) in &m.fields {
            match n.as_str() {
                "name" => d.name = Some(string(v)),
                "value" => d.values.push(string(v)),
                _ => d.extra.push((n.clone(), v.clone())),
            }
        }
        d
    }

    fn to_message(&self) -> PbMessage {
        let mut m = PbMessage::default();
        if let Some(n) = &self.name {
            m.push_str("name", n);
        }
        for v in &self.values {
            m.push_str("value", v);
        }
        m.fields.extend(self.extra.iter().cloned());
        m
    }
}

impl FeatureComparator {
    fn from_message(m: &PbMessage) -> std::result::Result<FeatureComparator, String> {
        let mut c = FeatureComparator::default();
        for (n, v) in &m.fields {
            match (n.as_str(), v) {
                ("infinity_norm", PbValue::Msg(t)) => c.infinity_norm = float(t, "threshold")?,
                ("jensen_shannon_divergence", PbValue::Msg(t)) if t.fields.len() <= 1 => {
                    c.jensen_shannon_divergence = float(t, "threshold")?
                }
                ("normalized_abs_difference", PbValue::Msg(t)) => {
                    c.normalized_abs_difference = float(t, "threshold")?
                }
                _ => c.extra.push((n.clone(), v.clone())),
            }
        }
        Ok(c)
    }

    fn to_message(&self) -> PbMessage {
        let mut m = PbMessage::default();
        let threshold = |v: f64| {
            let mut t = PbMessage::default();
            t.push_num("threshold", format_double(v));
            t
        };
        if let Some(v) = self.infinity_norm {
            m.push_msg("infinity_norm", threshold(v));
        }
        if let Some(v) = self.jensen_shannon_divergence {
            m.push_msg("jensen_shannon_divergence", threshold(v));
        }
        if let Some(v) = self.normalized_abs_difference {
            m.push_msg("normalized_abs_difference", threshold(v));
        }
        m.fields.extend(self.extra.iter().cloned());
        m
    }

    fn tags(&self, comparator: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(p) = self.chi_squared_p {
            out.push(format!(
                "{WEIR_TAG}{comparator}.chi_squared={}",
                format_double(p)
            ));
        }
        if let Some(p) = self.ks_p {
            out.push(format!("{WEIR_TAG}{comparator}.ks={}", format_double(p)));
        }
        out
    }
}

impl Feature {
    fn from_message(m: &PbMessage) -> std::result::Result<Feature, String> {
        let mut f = Feature::default();
        let mut weir_tags = Vec::new();
        for (n, v) in &m.fields {
            match (n.as_str(), v) {
                ("name", v) => f.name = string(v),
                ("deprecated", _) => f.deprecated = boolean(m, "deprecated")?.unwrap_or(false),
                ("value_count", PbValue::Msg(x)) => f.value_count = Some(value_count(x)?),
                ("value_counts", PbValue::Msg(x)) => {
                    f.value_counts = Some(
                        x.messages("value_count")
                            .map(value_count)
                            .collect::<std::result::Result<_, _>>()?,
                    )
                }
                ("type", PbValue::Ident(t)) => {
                    f.r#type = Some(
                        FeatureType::parse(t)
                            .ok_or_else(|| format!("feature '{}': unknown type {t}", f.name))?,
                    )
                }
                ("domain", v) => f.domain = DomainInfo::Domain(string(v)),
                ("int_domain", PbValue::Msg(x)) => {
                    let mut d = IntDomain::default();
                    for (dn, dv) in &x.fields {
                        match dn.as_str() {
                            "min" => d.min = int(x, "min")?,
                            "max" => d.max = int(x, "max")?,
                            _ => d.extra.push((dn.clone(), dv.clone())),
                        }
                    }
                    f.domain = DomainInfo::Int(d);
                }
                ("float_domain", PbValue::Msg(x)) => {
                    let mut d = FloatDomain::default();
                    for (dn, dv) in &x.fields {
                        match dn.as_str() {
                            "min" => d.min = float(x, "min")?.map(|v| v as f32),
                            "max" => d.max = float(x, "max")?.map(|v| v as f32),
                            "disallow_nan" => d.disallow_nan = boolean(x, dn)?,
                            "disallow_inf" => d.disallow_inf = boolean(x, dn)?,
                            _ => d.extra.push((dn.clone(), dv.clone())),
                        }
                    }
                    f.domain = DomainInfo::Float(d);
                }
                ("string_domain", PbValue::Msg(x)) => {
                    f.domain = DomainInfo::String(StringDomain::from_message(x))
                }
                ("bool_domain", PbValue::Msg(x)) => {
                    f.domain = DomainInfo::Bool(BoolDomain {
                        true_value: x.get("true_value").map(string),
                        false_value: x.get("false_value").map(string),
                    })
                }
                ("struct_domain", PbValue::Msg(x))
                    if x.fields
                        .iter()
                        .all(|(n, v)| n == "feature" && matches!(v, PbValue::Msg(_))) =>
                {
                    f.domain = DomainInfo::Struct(
                        x.messages("feature")
                            .map(Feature::from_message)
                            .collect::<std::result::Result<_, _>>()?,
                    )
                }
                (
                    "struct_domain"
                    | "natural_language_domain"
                    | "image_domain"
                    | "mid_domain"
                    | "url_domain"
                    | "time_domain"
                    | "time_of_day_domain",
                    PbValue::Msg(x),
                ) => f.domain = DomainInfo::Other(n.clone(), x.clone()),
                ("presence", PbValue::Msg(x)) => {
                    f.presence = Some(Presence {
                        min_fraction: float(x, "min_fraction")?,
                        min_count: int(x, "min_count")?,
                    })
                }
                ("distribution_constraints", PbValue::Msg(x)) => {
                    f.distribution_constraints = Some(float(x, "min_domain_mass")?)
                }
                ("skew_comparator", PbValue::Msg(x)) => {
                    f.skew_comparator = Some(FeatureComparator::from_message(x)?)
                }
                ("drift_comparator", PbValue::Msg(x)) => {
                    f.drift_comparator = Some(FeatureComparator::from_message(x)?)
                }
                ("in_environment", v) => f.in_environment.push(string(v)),
                ("not_in_environment", v) => f.not_in_environment.push(string(v)),
                ("lifecycle_stage", v) => f.lifecycle_stage = Some(string(v)),
                ("shape", PbValue::Msg(x)) => {
                    f.shape = Some(
                        x.messages("dim")
                            .map(|d| d.get_i64("size").unwrap_or(0))
                            .collect(),
                    )
                }
                ("unique_constraints", PbValue::Msg(x)) => {
                    f.unique_constraints =
                        Some((int(x, "min")?.unwrap_or(0), int(x, "max")?.unwrap_or(0)))
                }
                ("annotation", PbValue::Msg(x)) => {
                    for (an, av) in &x.fields {
                        match (an.as_str(), av) {
                            ("tag", PbValue::Str(_)) if string(av).starts_with(WEIR_TAG) => {
                                weir_tags.push(string(av))
                            }
                            ("tag", _) => f.annotation_tags.push(string(av)),
                            _ => f.annotation_extra.push((an.clone(), av.clone())),
                        }
                    }
                }
                _ => f.extra.push((n.clone(), v.clone())),
            }
        }
        for tag in weir_tags {
            f.apply_weir_tag(&tag)?;
        }
        Ok(f)
    }

    fn apply_weir_tag(&mut self, tag: &str) -> std::result::Result<(), String> {
        let body = &tag[WEIR_TAG.len()..];
        let bad = || {
            format!(
                "feature '{}': annotation tag \"{tag}\" is not weir:<drift_comparator|skew_comparator>.<chi_squared|ks>=<p-value>",
                self.name
            )
        };
        let (key, value) = body.split_once('=').ok_or_else(bad)?;
        let (comparator, test) = key.split_once('.').ok_or_else(bad)?;
        let p: f64 = value.trim().parse().map_err(|_| bad())?;
        if !(0.0..=1.0).contains(&p) {
            return Err(format!(
                "feature '{}': p-value {p} in \"{tag}\" is not in [0, 1]",
                self.name
            ));
        }
        let c = match comparator {
            "drift_comparator" => self.drift_comparator.get_or_insert_with(Default::default),
            "skew_comparator" => self.skew_comparator.get_or_insert_with(Default::default),
            _ => return Err(bad()),
        };
        match test {
            "chi_squared" => c.chi_squared_p = Some(p),
            "ks" => c.ks_p = Some(p),
            _ => return Err(bad()),
        }
        Ok(())
    }

    fn to_message(&self) -> PbMessage {
        let mut m = PbMessage::default();
        m.push_str("name", &self.name);
        if self.deprecated {
            m.push_ident("deprecated", "true");
        }
        if let Some(v) = &self.value_count {
            m.push_msg("value_count", value_count_message(v));
        }
        if let Some(t) = self.r#type {
            m.push_ident("type", t.name());
        }
        match &self.domain {
            DomainInfo::None => {}
            DomainInfo::Domain(d) => {
                m.push_str("domain", d);
            }
            DomainInfo::Int(d) => {
                let mut dm = PbMessage::default();
                if let Some(v) = d.min {
                    dm.push_num("min", v);
                }
                if let Some(v) = d.max {
                    dm.push_num("max", v);
                }
                dm.fields.extend(d.extra.iter().cloned());
                m.push_msg("int_domain", dm);
            }
            DomainInfo::Float(d) => {
                let mut dm = PbMessage::default();
                if let Some(v) = d.min {
                    dm.push_num("min", format_float(v));
                }
                if let Some(v) = d.max {
                    dm.push_num("max", format_float(v));
                }
                if let Some(v) = d.disallow_nan {
                    dm.push_ident("disallow_nan", if v { "true" } else { "false" });
                }
                if let Some(v) = d.disallow_inf {
                    dm.push_ident("disallow_inf", if v { "true" } else { "false" });
                }
                dm.fields.extend(d.extra.iter().cloned());
                m.push_msg("float_domain", dm);
            }
            DomainInfo::String(d) => {
                m.push_msg("string_domain", d.to_message());
            }
            DomainInfo::Bool(d) => {
                let mut dm = PbMessage::default();
                if let Some(v) = &d.true_value {
                    dm.push_str("true_value", v);
                }
                if let Some(v) = &d.false_value {
                    dm.push_str("false_value", v);
                }
                m.push_msg("bool_domain", dm);
            }
            DomainInfo::Struct(_) | DomainInfo::Other(..) => {}
        }
        if let Some(p) = &self.presence {
            let mut pm = PbMessage::default();
            if let Some(v) = p.min_fraction {
                pm.push_num("min_fraction", format_double(v));
            }
            if let Some(v) = p.min_count {
                pm.push_num("min_count", v);
            }
            m.push_msg("presence", pm);
        }
        if let Some(dc) = &self.distribution_constraints {
            let mut dm = PbMessage::default();
            if let Some(v) = dc {
                dm.push_num("min_domain_mass", format_double(*v));
            }
            m.push_msg("distribution_constraints", dm);
        }
        let mut tags = self.annotation_tags.clone();
        if let Some(c) = &self.drift_comparator {
            tags.extend(c.tags("drift_comparator"));
        }
        if let Some(c) = &self.skew_comparator {
            tags.extend(c.tags("skew_comparator"));
        }
        if !tags.is_empty() || !self.annotation_extra.is_empty() {
            let mut am = PbMessage::default();
            for t in &tags {
                am.push_str("tag", t);
            }
            am.fields.extend(self.annotation_extra.iter().cloned());
            m.push_msg("annotation", am);
        }
        if let Some(c) = &self.skew_comparator {
            m.push_msg("skew_comparator", c.to_message());
        }
        for e in &self.not_in_environment {
            m.push_str("not_in_environment", e);
        }
        for e in &self.in_environment {
            m.push_str("in_environment", e);
        }
        if let Some(c) = &self.drift_comparator {
            m.push_msg("drift_comparator", c.to_message());
        }
        if let Some(s) = &self.lifecycle_stage {
            m.push_ident("lifecycle_stage", s);
        }
        if let Some(dims) = &self.shape {
            let mut sm = PbMessage::default();
            for d in dims {
                let mut dm = PbMessage::default();
                dm.push_num("size", d);
                sm.push_msg("dim", dm);
            }
            m.push_msg("shape", sm);
        }
        if let Some((lo, hi)) = self.unique_constraints {
            let mut um = PbMessage::default();
            um.push_num("min", lo).push_num("max", hi);
            m.push_msg("unique_constraints", um);
        }
        if let Some(vcs) = &self.value_counts {
            let mut vm = PbMessage::default();
            for v in vcs {
                vm.push_msg("value_count", value_count_message(v));
            }
            m.push_msg("value_counts", vm);
        }
        if let DomainInfo::Other(name, msg) = &self.domain {
            m.push_msg(name, msg.clone());
        }
        if let DomainInfo::Struct(children) = &self.domain {
            let mut sm = PbMessage::default();
            for c in children {
                sm.push_msg("feature", c.to_message());
            }
            m.push_msg("struct_domain", sm);
        }
        m.fields.extend(self.extra.iter().cloned());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_and_unknown_fields() {
        let text = r#"feature {
  name: "a"
  value_count {
    min: 1
    max: 1
  }
  type: BYTES
  domain: "a"
  presence {
    min_count: 1
  }
  annotation {
    tag: "keep me"
    tag: "weir:drift_comparator.chi_squared=0.01"
  }
  drift_comparator {
    infinity_norm {
      threshold: 0.1
    }
  }
  lifecycle_stage: BETA
  my_future_field: 3
}
string_domain {
  name: "a"
  value: "x"
}
default_environment: "TRAINING"
sparse_feature {
  name: "s"
}
"#;
        let schema = Schema::from_text(text, "t").unwrap();
        let f = &schema.features[0];
        assert_eq!(
            f.drift_comparator.as_ref().unwrap().chi_squared_p,
            Some(0.01)
        );
        assert_eq!(
            f.drift_comparator.as_ref().unwrap().infinity_norm,
            Some(0.1)
        );
        assert_eq!(schema.to_text(), text);
    }

    #[test]
    fn bad_weir_tag_is_an_error_naming_the_feature() {
        let e = Schema::from_text(
            "feature { name: \"x\" annotation { tag: \"weir:drift_comparator.chi=0.1\" } }",
            "s.pbtxt",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("s.pbtxt") && e.contains("'x'"), "{e}");
    }
}
