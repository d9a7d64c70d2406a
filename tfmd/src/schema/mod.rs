//! A typed tensorflow-metadata `Schema` (the parts TFDV's inference and
//! validation read and write); its `text` module converts it from and to the text
//! format (`Schema::from_text`, `Schema::to_text`: weir's one
//! `schema.pbtxt` writer).
//!
//! Fields weir does not model (sparse/weighted features, tensor
//! representations, semantic domains, annotations' metadata…) are kept
//! verbatim in `extra` and printed back, so reading and writing a schema
//! never drops a user's edits. Known fields are printed in field-number
//! order, as protobuf's own text printer does.

mod text;

use crate::pbtxt::{PbMessage, PbValue};
pub use crate::FeatureType;

/// `ValueCount`: bounds on the number of values per example.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValueCount {
    /// `min`, when set.
    pub min: Option<i64>,
    /// `max`, when set.
    pub max: Option<i64>,
}

/// `FeaturePresence`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Presence {
    /// `min_fraction`, when set.
    pub min_fraction: Option<f64>,
    /// `min_count`, when set.
    pub min_count: Option<i64>,
}

/// `IntDomain`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntDomain {
    /// `min`, when set.
    pub min: Option<i64>,
    /// `max`, when set.
    pub max: Option<i64>,
    /// Other fields, verbatim.
    pub extra: Vec<(String, PbValue)>,
}

/// `FloatDomain` (min and max are 32-bit floats in the proto).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FloatDomain {
    /// `min`, when set.
    pub min: Option<f32>,
    /// `max`, when set.
    pub max: Option<f32>,
    /// `disallow_nan`, when set.
    pub disallow_nan: Option<bool>,
    /// `disallow_inf`, when set.
    pub disallow_inf: Option<bool>,
    /// Other fields, verbatim.
    pub extra: Vec<(String, PbValue)>,
}

/// `BoolDomain`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoolDomain {
    /// `true_value`, when set.
    pub true_value: Option<String>,
    /// `false_value`, when set.
    pub false_value: Option<String>,
}

/// `StringDomain`: the allowed values of a categorical feature.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StringDomain {
    /// `name` (set for schema-level domains).
    pub name: Option<String>,
    /// The values.
    pub values: Vec<String>,
    /// Other fields, verbatim.
    pub extra: Vec<(String, PbValue)>,
}

/// The `domain_info` oneof of a feature.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum DomainInfo {
    /// Not set.
    #[default]
    None,
    /// `domain`: the name of a schema-level string domain.
    Domain(String),
    /// `int_domain`.
    Int(IntDomain),
    /// `float_domain`.
    Float(FloatDomain),
    /// `string_domain` inline.
    String(StringDomain),
    /// `bool_domain`.
    Bool(BoolDomain),
    /// `struct_domain`: the features of a STRUCT feature (SequenceExample's
    /// `##SEQUENCE##`).
    Struct(Vec<Feature>),
    /// Any other domain (struct, image, natural language, time…), verbatim.
    Other(String, PbMessage),
}

/// The thresholds of a `FeatureComparator` (`drift_comparator` /
/// `skew_comparator`), plus weir's statistical tests, which live in the
/// feature's `annotation.tag` as `weir:<comparator>.<test>=<min p-value>` so
/// that TFDV reads the schema and ignores them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureComparator {
    /// `infinity_norm.threshold`.
    pub infinity_norm: Option<f64>,
    /// `jensen_shannon_divergence.threshold`.
    pub jensen_shannon_divergence: Option<f64>,
    /// `normalized_abs_difference.threshold`.
    pub normalized_abs_difference: Option<f64>,
    /// weir: minimum p-value of a chi-square test on categorical counts.
    pub chi_squared_p: Option<f64>,
    /// weir: minimum p-value of a two-sample Kolmogorov-Smirnov test on the
    /// quantile sketches.
    pub ks_p: Option<f64>,
    /// Other fields, verbatim.
    pub extra: Vec<(String, PbValue)>,
}

/// One `Feature` of the schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Feature {
    /// `name`.
    pub name: String,
    /// The legacy `deprecated` flag.
    pub deprecated: bool,
    /// `value_count`.
    pub value_count: Option<ValueCount>,
    /// `value_counts` (nested features).
    pub value_counts: Option<Vec<ValueCount>>,
    /// `type`; `None` when the schema does not say.
    pub r#type: Option<FeatureType>,
    /// `domain_info`.
    pub domain: DomainInfo,
    /// `presence`.
    pub presence: Option<Presence>,
    /// `distribution_constraints.min_domain_mass` (`Some(None)`: the message
    /// without the field, whose default is 1.0).
    pub distribution_constraints: Option<Option<f64>>,
    /// `skew_comparator`.
    pub skew_comparator: Option<FeatureComparator>,
    /// `drift_comparator`.
    pub drift_comparator: Option<FeatureComparator>,
    /// `in_environment`.
    pub in_environment: Vec<String>,
    /// `not_in_environment`.
    pub not_in_environment: Vec<String>,
    /// `lifecycle_stage` (an enum name).
    pub lifecycle_stage: Option<String>,
    /// `shape.dim.size`, one per dimension.
    pub shape: Option<Vec<i64>>,
    /// `unique_constraints` min and max.
    pub unique_constraints: Option<(i64, i64)>,
    /// `annotation.tag` values that are not weir's.
    pub annotation_tags: Vec<String>,
    /// Other `annotation` fields, verbatim.
    pub annotation_extra: Vec<(String, PbValue)>,
    /// Other fields, verbatim.
    pub extra: Vec<(String, PbValue)>,
}

/// `DatasetConstraints`: bounds on the number of examples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatasetConstraints {
    /// `min_examples_count`.
    pub min_examples_count: Option<i64>,
    /// `max_examples_count`.
    pub max_examples_count: Option<i64>,
    /// Other fields (comparators on num_examples), verbatim.
    pub extra: Vec<(String, PbValue)>,
}

/// A tensorflow-metadata `Schema`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    /// `feature`.
    pub features: Vec<Feature>,
    /// Schema-level `string_domain`s.
    pub string_domains: Vec<StringDomain>,
    /// `default_environment`.
    pub default_environment: Vec<String>,
    /// `dataset_constraints`.
    pub dataset_constraints: Option<DatasetConstraints>,
    /// Other fields (sparse/weighted features, tensor representations…).
    pub extra: Vec<(String, PbValue)>,
}

impl Schema {
    /// The schema with each STRUCT feature's `struct_domain` features as
    /// features of their own, named by their serialized path
    /// (`parent.child`), right after the struct (whose domain is left an
    /// empty struct domain): the flat form statistics are compared with.
    /// [`Self::nest_structs`] undoes it.
    pub fn flatten_structs(&self) -> Schema {
        let mut out = Schema {
            features: Vec::with_capacity(self.features.len()),
            ..self.clone()
        };
        for f in &self.features {
            match &f.domain {
                DomainInfo::Struct(children) => {
                    out.features.push(Feature {
                        domain: DomainInfo::Struct(Vec::new()),
                        ..f.clone()
                    });
                    out.features.extend(children.iter().map(|c| Feature {
                        name: format!("{}.{}", f.name, c.name),
                        ..c.clone()
                    }));
                }
                _ => out.features.push(f.clone()),
            }
        }
        out
    }

    /// Moves every feature named `parent.child`, where `parent` is a STRUCT
    /// feature with a struct domain, into that domain as `child`.
    pub fn nest_structs(mut self) -> Schema {
        let structs: Vec<String> = self
            .features
            .iter()
            .filter(|f| matches!(f.domain, DomainInfo::Struct(_)))
            .map(|f| f.name.clone())
            .collect();
        let mut kept = Vec::with_capacity(self.features.len());
        let mut children: Vec<(String, Feature)> = Vec::new();
        for f in std::mem::take(&mut self.features) {
            let parent = structs
                .iter()
                .find(|p| f.name.len() > p.len() + 1 && f.name.starts_with(&format!("{p}.")));
            match parent {
                Some(p) => {
                    let name = f.name[p.len() + 1..].to_string();
                    children.push((p.clone(), Feature { name, ..f }));
                }
                None => kept.push(f),
            }
        }
        for (parent, child) in children {
            if let Some(DomainInfo::Struct(list)) = kept
                .iter_mut()
                .find(|f| f.name == parent)
                .map(|f| &mut f.domain)
            {
                list.push(child);
            }
        }
        self.features = kept;
        self
    }

    /// The feature called `name`.
    pub fn feature(&self, name: &str) -> Option<&Feature> {
        self.features.iter().find(|f| f.name == name)
    }

    /// The feature called `name`, mutably.
    pub fn feature_mut(&mut self, name: &str) -> Option<&mut Feature> {
        self.features.iter_mut().find(|f| f.name == name)
    }

    /// The schema-level string domain called `name`.
    pub fn string_domain(&self, name: &str) -> Option<&StringDomain> {
        self.string_domains
            .iter()
            .find(|d| d.name.as_deref() == Some(name))
    }

    /// A new schema-level string domain named `candidate`, or `candidate2`,
    /// `candidate3`… when taken (TFDV's naming); returns its index.
    pub fn new_string_domain(&mut self, candidate: &str) -> usize {
        let mut name = candidate.to_string();
        let mut index = 1;
        while self.string_domain(&name).is_some() {
            index += 1;
            name = format!("{candidate}{index}");
        }
        self.string_domains.push(StringDomain {
            name: Some(name),
            ..Default::default()
        });
        self.string_domains.len() - 1
    }
}

impl FeatureComparator {
    /// Whether any TFDV threshold or weir test is set.
    pub fn has_any(&self) -> bool {
        self.infinity_norm.is_some()
            || self.jensen_shannon_divergence.is_some()
            || self.normalized_abs_difference.is_some()
            || self.chi_squared_p.is_some()
            || self.ks_p.is_some()
    }
}

impl Feature {
    /// TFDV's deprecation test: the legacy flag, or a lifecycle stage of
    /// PLANNED, ALPHA, DEPRECATED or DEBUG_ONLY.
    pub fn is_deprecated(&self) -> bool {
        self.deprecated
            || matches!(
                self.lifecycle_stage.as_deref(),
                Some("PLANNED" | "ALPHA" | "DEPRECATED" | "DEBUG_ONLY")
            )
    }

    /// Marks the feature deprecated (TFDV's way: `lifecycle_stage: DEPRECATED`).
    pub fn deprecate(&mut self) {
        self.lifecycle_stage = Some("DEPRECATED".into());
    }

    /// The presence constraints, created empty when absent.
    pub fn presence_mut(&mut self) -> &mut Presence {
        self.presence.get_or_insert_with(Default::default)
    }
}
