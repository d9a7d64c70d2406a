//! Schema inference (TFDV's `infer_schema`) and schema update (TFDV's
//! `update_schema`) from one dataset's statistics.

use crate::anomalies::Description;
use crate::rules::{
    create_feature, existence_required, missing_column, new_column, update_feature, RuleContext,
};
use crate::schema::{FeatureType, Schema};
use crate::stats_view::DatasetView;

/// Options of inference and update.
#[derive(Debug, Clone)]
pub struct InferOptions {
    /// The most values a string domain may list (TFDV's default 100).
    pub max_string_domain_size: usize,
    /// Turn a `value_count` with min == max > 0 of a never-missing feature
    /// into a fixed `shape` (TFDV's `infer_feature_shape`, default true).
    pub infer_feature_shape: bool,
}

impl Default for InferOptions {
    fn default() -> Self {
        InferOptions {
            max_string_domain_size: 100,
            infer_feature_shape: true,
        }
    }
}

/// Infers a schema from statistics, with TFDV's rules: each feature gets
/// its type, `presence` (`min_count` 1 when it appears, `min_fraction` 1.0
/// when it is never missing), a `value_count` (or `shape`), and a domain.
pub fn infer_schema(stats: &DatasetView, options: &InferOptions) -> Schema {
    let mut schema = Schema::default();
    for view in stats.features() {
        create_feature(&mut schema, &view, options.max_string_domain_size);
    }
    if options.infer_feature_shape {
        infer_shape(&mut schema, 0);
    }
    // A struct's features (`##SEQUENCE##.<feature>`) go into its
    // `struct_domain`, as TFDV writes them.
    schema.nest_structs()
}

/// Fixed shapes for never-missing features whose examples all have the
/// same positive number of values (TFDV's `_infer_shape`, which sets the
/// `shape` oneof and so drops `value_count`), from feature `from` on.
fn infer_shape(schema: &mut Schema, from: usize) {
    for f in schema.features.iter_mut().skip(from) {
        // TFDV gives a struct no shape (nested features have no
        // `value_count` to turn into one).
        if f.r#type == Some(FeatureType::Struct) {
            continue;
        }
        let always = f.presence.as_ref().and_then(|p| p.min_fraction) == Some(1.0);
        if let (true, Some(vc), None) = (always, &f.value_count, &f.shape) {
            if let (Some(min), Some(max)) = (vc.min, vc.max) {
                if min == max && min > 0 {
                    f.shape = Some(vec![min]);
                    f.value_count = None;
                }
            }
        }
    }
}

/// Updates a schema so that the statistics conform to it (TFDV's
/// `update_schema`): constraints the data violates are relaxed to what the
/// data shows, domains grow by the new values, new features are added,
/// features of the wrong type or gone from the data are deprecated. Every
/// other field of the schema (including fields weir does not model) is
/// kept. Returns the new schema and what changed, by feature.
pub fn update_schema(
    schema: &Schema,
    stats: &DatasetView,
    options: &InferOptions,
) -> (Schema, Vec<(String, Description)>) {
    let mut out = schema.flatten_structs();
    let mut changes = Vec::new();
    let known = out.features.len();
    let ctx = RuleContext {
        max_string_domain_size: options.max_string_domain_size,
        ..Default::default()
    };
    for view in stats.features() {
        match out.features.iter().position(|f| f.name == view.name) {
            Some(i) => {
                let (descs, _) = update_feature(&mut out, i, &view, &ctx);
                changes.extend(descs.into_iter().map(|d| (view.name.clone(), d)));
            }
            None => {
                create_feature(&mut out, &view, options.max_string_domain_size);
                changes.push((view.name.clone(), new_column()));
            }
        }
    }
    for i in 0..known {
        let name = out.features[i].name.clone();
        if stats.feature(&name).is_none() && existence_required(&out, &out.features[i], None) {
            out.features[i].deprecate();
            changes.push((name, missing_column()));
        }
    }
    if options.infer_feature_shape {
        infer_shape(&mut out, known);
    }
    (out.nest_structs(), changes)
}
