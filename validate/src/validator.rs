//! [`ValidateBuilder`]: statistics against a schema, as TFDV's
//! `validate_statistics` does it, with optional previous-span (drift) and
//! serving (skew) statistics and an environment.

use std::collections::BTreeMap;

use crate::anomalies::{Anomalies, AnomalyInfo, AnomalyType as T, Description, Severity};
use crate::rules::{
    existence_required, in_environment, missing_column, new_column, update_feature, RuleContext,
};
use crate::schema::Schema;
use crate::stats_view::DatasetView;

/// The environment serving data is validated in, by TFX convention.
pub const SERVING_ENVIRONMENT: &str = "SERVING";

/// Validates statistics against a schema.
#[derive(Debug, Clone)]
pub struct ValidateBuilder {
    stats: DatasetView,
    schema: Schema,
    previous: Option<DatasetView>,
    serving: Option<DatasetView>,
    environment: Option<String>,
    severity_overrides: BTreeMap<T, Severity>,
    sketch_epsilon: f64,
}

impl ValidateBuilder {
    /// Validation of `stats` against `schema`.
    pub fn new(stats: DatasetView, schema: Schema) -> Self {
        ValidateBuilder {
            stats,
            schema,
            previous: None,
            serving: None,
            environment: None,
            severity_overrides: BTreeMap::new(),
            sketch_epsilon: 0.01,
        }
    }

    /// The previous span's statistics: enables drift comparators and the
    /// weir drift tests.
    pub fn with_previous(mut self, previous: DatasetView) -> Self {
        self.previous = Some(previous);
        self
    }

    /// Serving statistics: enables skew comparators and the
    /// training/serving schema skew check.
    pub fn with_serving(mut self, serving: DatasetView) -> Self {
        self.serving = Some(serving);
        self
    }

    /// The environment of the statistics (`in_environment`,
    /// `not_in_environment`, `default_environment`).
    pub fn with_environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Reports anomalies of `kind` with `severity` instead of ERROR.
    pub fn with_severity(mut self, kind: T, severity: Severity) -> Self {
        self.severity_overrides.insert(kind, severity);
        self
    }

    /// The quantile sketches' rank error, stated in KS results (default 0.01).
    pub fn with_sketch_epsilon(mut self, epsilon: f64) -> Self {
        self.sketch_epsilon = epsilon;
        self
    }

    fn info(&self, reasons: Vec<Description>) -> AnomalyInfo {
        let severity = reasons
            .iter()
            .map(|r| {
                self.severity_overrides
                    .get(&r.kind)
                    .copied()
                    .unwrap_or(Severity::Error)
            })
            .max()
            .unwrap_or_default();
        AnomalyInfo { reasons, severity }
    }

    /// Runs the validation.
    pub fn execute(&self) -> Anomalies {
        let ctx = RuleContext {
            environment: self.environment.as_deref(),
            previous: self.previous.as_ref(),
            serving: self.serving.as_ref(),
            max_string_domain_size: 100,
            sketch_epsilon: self.sketch_epsilon,
        };
        let mut result = Anomalies {
            baseline: self.schema.clone(),
            ..Default::default()
        };
        // Struct features' children are checked at their paths.
        let schema = self.schema.flatten_structs();
        let mut per_feature: BTreeMap<String, Vec<Description>> = BTreeMap::new();
        for view in self.stats.features() {
            match schema.features.iter().position(|f| f.name == view.name) {
                Some(i) if schema.features[i].is_deprecated() => {}
                Some(i) => {
                    let mut copy = schema.clone();
                    let (descs, measured) = update_feature(&mut copy, i, &view, &ctx);
                    if !descs.is_empty() {
                        per_feature
                            .entry(view.name.clone())
                            .or_default()
                            .extend(descs);
                    }
                    if !measured.drift.is_empty() || !measured.skew.is_empty() {
                        result.drift_skew_info.insert(view.name.clone(), measured);
                    }
                }
                None => per_feature
                    .entry(view.name.clone())
                    .or_default()
                    .push(new_column()),
            }
        }
        for f in &schema.features {
            if self.stats.feature(&f.name).is_none()
                && existence_required(&schema, f, ctx.environment)
            {
                per_feature
                    .entry(f.name.clone())
                    .or_default()
                    .push(missing_column());
            }
        }
        if let Some(serving) = &self.serving {
            for (name, d) in self.training_serving_skew(serving) {
                per_feature.entry(name).or_default().push(d);
            }
        }
        for (name, descs) in per_feature {
            let info = self.info(descs);
            result.anomaly_info.insert(name, info);
        }
        let dataset = self.dataset_constraints();
        if !dataset.is_empty() {
            result.dataset_anomaly_info = Some(self.info(dataset));
        }
        result
    }

    fn dataset_constraints(&self) -> Vec<Description> {
        let mut out = Vec::new();
        let Some(c) = &self.schema.dataset_constraints else {
            return out;
        };
        let n = self.stats.stats.num_examples as i64;
        if let Some(min) = c.min_examples_count.filter(|&m| n < m) {
            out.push(Description::new(
                T::DATASET_LOW_NUM_EXAMPLES,
                "Low num examples in dataset.",
                format!("The dataset has {n} examples, fewer than the schema's min_examples_count {min}."),
            ));
        }
        if let Some(max) = c.max_examples_count.filter(|&m| n > m) {
            out.push(Description::new(
                T::DATASET_HIGH_NUM_EXAMPLES,
                "High num examples in dataset.",
                format!("The dataset has {n} examples, more than the schema's max_examples_count {max}."),
            ));
        }
        out
    }

    /// weir's SCHEMA_TRAINING_SERVING_SKEW (TFDV defines the type but never
    /// raises it): a schema feature that serving is expected to have (not
    /// `not_in_environment: "SERVING"`, and in SERVING when the schema uses
    /// environments) that the training statistics have but the serving
    /// statistics lack, or that has a different type in each.
    fn training_serving_skew(&self, serving: &DatasetView) -> Vec<(String, Description)> {
        let mut out = Vec::new();
        for f in &self.schema.features {
            if f.is_deprecated()
                || f.not_in_environment
                    .iter()
                    .any(|e| e == SERVING_ENVIRONMENT)
            {
                continue;
            }
            let uses_environments =
                !self.schema.default_environment.is_empty() || !f.in_environment.is_empty();
            if uses_environments && !in_environment(&self.schema, f, Some(SERVING_ENVIRONMENT)) {
                continue;
            }
            let Some(train) = self
                .stats
                .feature(&f.name)
                .filter(|v| v.num_present() > 0.0)
            else {
                continue;
            };
            match serving.feature(&f.name).filter(|v| v.num_present() > 0.0) {
                None => out.push((
                    f.name.clone(),
                    Description::new(
                        T::SCHEMA_TRAINING_SERVING_SKEW,
                        "Training/Serving skew",
                        format!(
                            "Feature {} is present in {} training examples but in no serving example; mark it not_in_environment: \"SERVING\" if serving never has it.",
                            f.name,
                            train.num_present()
                        ),
                    ),
                )),
                Some(s) if s.feature_type() != train.feature_type() => out.push((
                    f.name.clone(),
                    Description::new(
                        T::SCHEMA_TRAINING_SERVING_SKEW,
                        "Training/Serving skew",
                        format!(
                            "Feature {} has type {} in training but {} in serving.",
                            f.name,
                            train.feature_type().name(),
                            s.feature_type().name()
                        ),
                    ),
                )),
                Some(_) => {}
            }
        }
        out
    }
}
