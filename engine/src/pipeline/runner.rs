//! One span through the pipeline: ExampleGen with its statistics fused
//! into the same read, the schema (checked-in, carried from the previous
//! span, or inferred), validation of every split (with drift against the
//! previous span), and the transform. Each component commits its own
//! output atomically under `ROOT/<component>/span=<N>/version=<V>/`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use prost::Message;
use weir_datasets::sink::StagedDir;
use weir_tfmd::statistics::DatasetFeatureStatisticsList;
use weir_validate::schema::FeatureComparator;
use weir_validate::{
    infer_schema, Anomalies, DatasetView, InferOptions, Schema, Severity, ValidateBuilder,
};

use super::config::{anomaly_type, PipelineConfig};
use super::manifest::{AnomalyRecord, DriftRecord, History, SpanRecord, SpanStatus};
use super::root::PipelineRoot;
use super::spans::{describe, SpanInput};
use crate::error::{EngineError, Result};
use crate::examplegen::StatsMode;
use crate::progress::Progress;
use crate::stats::SplitStatistics;
use crate::{ExampleGenBuilder, TransformBuilder};
use weir_plan::Execution;

/// The components, as named in outputs and timings.
pub const EXAMPLEGEN: &str = "examplegen";
/// Statistics.
pub const STATISTICS: &str = "statistics";
/// Schema.
pub const SCHEMA: &str = "schema";
/// Anomalies.
pub const ANOMALIES: &str = "anomalies";
/// Transform.
pub const TRANSFORM: &str = "transform";
/// The report component (`report = true`).
pub const REPORT: &str = "report";

/// What a span's run needs.
pub(crate) struct SpanJob<'a> {
    pub config: &'a PipelineConfig,
    pub root: &'a PipelineRoot,
    pub history: &'a History,
    pub execution: &'a Execution,
    pub progress: Option<&'a Arc<Progress>>,
    pub runtime: &'a tokio::runtime::Handle,
}

/// Writes `files` (relative path, bytes) as one committed output at `rel`.
fn commit_files(
    root: &PipelineRoot,
    rel: &str,
    component: &str,
    files: &[(String, Vec<u8>)],
) -> Result<()> {
    let staged = StagedDir::create(&root.path(rel))?;
    for (name, body) in files {
        let path = staged.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| weir_datasets::DatasetError::io(parent, e))?;
        }
        std::fs::write(&path, body).map_err(|e| weir_datasets::DatasetError::io(&path, e))?;
    }
    let manifest = serde_json::json!({
        "weir_version": env!("CARGO_PKG_VERSION"),
        "component": component,
        "files": files.iter().map(|(n, _)| n).collect::<Vec<_>>(),
    });
    let path = staged.path().join(weir_datasets::sink::MANIFEST_NAME);
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).expect("json"))
        .map_err(|e| weir_datasets::DatasetError::io(&path, e))?;
    staged.commit()?;
    Ok(())
}

/// Sets the drift thresholds of the config on the schema's features.
pub fn apply_comparators(config: &PipelineConfig, schema: &mut Schema) {
    for (name, c) in &config.validation.drift_comparators {
        let Some(f) = schema.features.iter_mut().find(|f| &f.name == name) else {
            tracing::warn!("validation.drift_comparators.{name}: no such feature in the schema");
            continue;
        };
        let d = f
            .drift_comparator
            .get_or_insert_with(FeatureComparator::default);
        if c.infinity_norm.is_some() {
            d.infinity_norm = c.infinity_norm;
        }
        if c.jensen_shannon_divergence.is_some() {
            d.jensen_shannon_divergence = c.jensen_shannon_divergence;
        }
        if c.normalized_abs_difference.is_some() {
            d.normalized_abs_difference = c.normalized_abs_difference;
        }
    }
}

impl SpanJob<'_> {
    fn stage(&self, span: &SpanInput, what: &str) {
        if let Some(p) = self.progress {
            p.start_stage(format!("{} {what}", describe(span)));
        }
        tracing::info!("{}: {what}", describe(span));
    }

    /// Runs every component for `span` as `version`; `record` starts out
    /// with the input and is filled in.
    pub fn run(&self, span: &SpanInput, version: u64, record: &mut SpanRecord) -> Result<()> {
        let c = self.config;
        let rel = |component: &str| PipelineRoot::output_rel(component, span.span, version);

        // ExampleGen, with the statistics of every split from the same read.
        self.stage(span, EXAMPLEGEN);
        let started = Instant::now();
        let splits = c.splits().map_err(EngineError::Invalid)?;
        let mut eg = ExampleGenBuilder::new(span.glob.clone(), self.root.path(&rel(EXAMPLEGEN)))
            .with_splits(splits)
            .with_compression(c.compression().map_err(EngineError::Invalid)?)
            .with_output_format(c.examplegen.output_format)
            .with_execution(self.execution.clone())
            .with_stats(StatsMode::of(true, c.statistics.approx))
            .with_histograms(c.statistics.histograms)
            .with_stats_written(false);
        if let Some(format) = c.input_format().map_err(EngineError::Invalid)? {
            eg = eg.with_format(format);
        }
        if let Some(name) = &c.examplegen.partition_feature {
            eg = eg.with_partition_feature(name.clone());
        }
        if let Some(shards) = c.examplegen.shards {
            eg = eg.with_shards(shards);
        }
        if let Some(schema) = &c.input.declared_schema {
            eg = eg.with_schema(schema.clone());
        }
        if let Some(p) = self.progress {
            eg = eg.with_progress(p.clone());
        }
        let eg = eg.execute()?;
        record.outputs.insert(EXAMPLEGEN.into(), rel(EXAMPLEGEN));
        record.counts = eg.splits.iter().cloned().collect();
        record.input = super::manifest::InputFingerprint::new(
            record.input.glob.clone(),
            eg.manifest.inputs.clone(),
        );
        record
            .timings
            .insert(EXAMPLEGEN.into(), started.elapsed().as_secs_f64());

        // Statistics: computed by ExampleGen above, in the same read (in
        // process or on the cluster).
        self.stage(span, STATISTICS);
        let started = Instant::now();
        let statistics: Vec<SplitStatistics> = eg.statistics.ok_or_else(|| {
            EngineError::Internal("ExampleGen ran with statistics and returned none".into())
        })?;
        let staged = StagedDir::create(&self.root.path(&rel(STATISTICS)))?;
        crate::stats::write_outputs(staged.path(), &statistics, c.statistics.options())?;
        staged.commit()?;
        record.outputs.insert(STATISTICS.into(), rel(STATISTICS));
        record
            .timings
            .insert(STATISTICS.into(), started.elapsed().as_secs_f64());

        // Schema.
        self.stage(span, SCHEMA);
        let mut schema = self.schema(&statistics)?;
        apply_comparators(c, &mut schema);
        commit_files(
            self.root,
            &rel(SCHEMA),
            SCHEMA,
            &[("schema.pbtxt".into(), schema.to_text().into_bytes())],
        )?;
        record.outputs.insert(SCHEMA.into(), rel(SCHEMA));

        // Validation of every split, with drift against the previous span.
        self.stage(span, "validation");
        let started = Instant::now();
        let previous = if c.validation.drift {
            self.history.previous(span.span)
        } else {
            None
        };
        // Anomaly types that only warn: `warn`, and with `fail_on` every
        // type it does not list.
        let parse = |names: &[String]| {
            names
                .iter()
                .map(|n| anomaly_type(n).map_err(EngineError::Invalid))
                .collect::<Result<Vec<_>>>()
        };
        let mut warned = parse(&c.validation.warn)?;
        let fail = parse(&c.validation.fail_on)?;
        if !fail.is_empty() {
            warned.extend(
                weir_validate::AnomalyType::ALL
                    .iter()
                    .filter(|t| !fail.contains(t)),
            );
        }
        let mut files = Vec::new();
        let mut errors = false;
        let mut report_rows = Vec::new();
        let mut previous_views = Vec::new();
        for s in &statistics {
            let mut b = ValidateBuilder::new(
                DatasetView::new(
                    s.stats.clone(),
                    format!("{} Split-{}", describe(span), s.split),
                ),
                schema.clone(),
            );
            if let Some(prev) = previous {
                if let Some(view) = self.previous_statistics(prev, &s.split)? {
                    previous_views.push((s.split.clone(), view.clone()));
                    b = b.with_previous(view);
                }
            }
            for t in &warned {
                b = b.with_severity(*t, Severity::Warning);
            }
            let anomalies = b.execute();
            errors |= anomalies.has_errors();
            if c.report {
                report_rows.extend(crate::report::anomaly_rows(&anomalies));
            }
            record_anomalies(record, &s.split, &anomalies, previous);
            files.push((
                format!("Split-{}/anomalies.pbtxt", s.split),
                anomalies.to_text().into_bytes(),
            ));
        }
        commit_files(self.root, &rel(ANOMALIES), ANOMALIES, &files)?;
        record.outputs.insert(ANOMALIES.into(), rel(ANOMALIES));
        record
            .timings
            .insert("validation".into(), started.elapsed().as_secs_f64());
        if c.report {
            let splits: Vec<(String, DatasetView)> = statistics
                .iter()
                .map(|s| {
                    let origin = format!("{} Split-{}", describe(span), s.split);
                    (s.split.clone(), DatasetView::new(s.stats.clone(), origin))
                })
                .collect();
            let title = format!("{}: {}", c.name, describe(span));
            let report = crate::report::model::build(
                title,
                &splits,
                &previous_views,
                Some(&schema),
                report_rows,
            );
            let page = crate::report::html::render(&report).into_bytes();
            commit_files(
                self.root,
                &rel(REPORT),
                REPORT,
                &[("report.html".into(), page)],
            )?;
            record.outputs.insert(REPORT.into(), rel(REPORT));
        }
        if errors {
            record.status = SpanStatus::Anomalies;
            return Ok(());
        }

        // Transform.
        if let Some(t) = &c.transform {
            self.stage(span, TRANSFORM);
            let started = Instant::now();
            let sql = std::fs::read_to_string(&t.sql)
                .map_err(|e| EngineError::Invalid(format!("{}: {e}", t.sql.display())))?;
            self.runtime.block_on(
                TransformBuilder::new(
                    sql,
                    self.root.path(&rel(EXAMPLEGEN)),
                    self.root.path(&rel(TRANSFORM)),
                )
                .with_analyze_splits(t.analyze_splits.clone())
                .with_output_format(t.output_format)
                .with_execution(self.execution.clone())
                .execute(),
            )?;
            record.outputs.insert(TRANSFORM.into(), rel(TRANSFORM));
            record
                .timings
                .insert(TRANSFORM.into(), started.elapsed().as_secs_f64());
        }
        record.status = SpanStatus::Ok;
        Ok(())
    }

    /// The schema to validate against: the checked-in one, else the newest
    /// span's, else one inferred from this span.
    fn schema(&self, statistics: &[SplitStatistics]) -> Result<Schema> {
        let c = self.config;
        if let Some(p) = &c.schema.path {
            return Ok(Schema::read(p)?);
        }
        if let Some(prev) = self.history.newest() {
            if let Some(dir) = prev.outputs.get(SCHEMA) {
                let rel = format!("{dir}/schema.pbtxt");
                if let Some(text) = self.root.get(&rel)? {
                    let text = String::from_utf8_lossy(&text);
                    return Ok(Schema::from_text(
                        &text,
                        &format!("{}/{rel}", self.root.location()),
                    )?);
                }
            }
        }
        let from = statistics
            .iter()
            .find(|s| s.split == c.schema.infer_from)
            .ok_or_else(|| {
                EngineError::Invalid(format!(
                    "schema.infer_from: no split '{}' to infer the schema from",
                    c.schema.infer_from
                ))
            })?;
        let options = InferOptions {
            max_string_domain_size: c.schema.max_string_domain_size,
            infer_feature_shape: c.schema.infer_shape,
        };
        Ok(infer_schema(
            &DatasetView::new(from.stats.clone(), "inferred"),
            &options,
        ))
    }

    /// The statistics of split `split` of the span `prev`.
    fn previous_statistics(&self, prev: &SpanRecord, split: &str) -> Result<Option<DatasetView>> {
        let Some(dir) = prev.outputs.get(STATISTICS) else {
            return Ok(None);
        };
        let rel = format!("{dir}/Split-{split}/FeatureStats.pb");
        let Some(body) = self.root.get(&rel)? else {
            tracing::warn!("{}/{rel} is gone; no drift check", self.root.location());
            return Ok(None);
        };
        let origin = format!("{}/{rel}", self.root.location());
        let list = DatasetFeatureStatisticsList::decode(body.as_ref())
            .map_err(|e| EngineError::Invalid(format!("{origin}: {e}")))?;
        Ok(list
            .datasets
            .into_iter()
            .next()
            .map(|d| DatasetView::new(d, origin)))
    }
}

/// Adds the anomalies and drift measurements of one split to `record`.
fn record_anomalies(
    record: &mut SpanRecord,
    split: &str,
    anomalies: &Anomalies,
    previous: Option<&SpanRecord>,
) {
    let infos = anomalies
        .anomaly_info
        .iter()
        .map(|(p, a)| (p.as_str(), a))
        .chain(anomalies.dataset_anomaly_info.iter().map(|a| ("", a)));
    for (feature, info) in infos {
        for r in &info.reasons {
            record.anomalies.push(AnomalyRecord {
                split: split.to_string(),
                feature: feature.to_string(),
                kind: r.kind.name().to_string(),
                severity: info.severity.name().to_string(),
                description: r.short.clone(),
            });
        }
    }
    if let Some(prev) = previous {
        for (feature, info) in &anomalies.drift_skew_info {
            for m in &info.drift {
                record.drift.push(DriftRecord {
                    split: split.to_string(),
                    feature: feature.clone(),
                    measurement: m.kind.name().to_string(),
                    value: m.value,
                    threshold: m.threshold,
                    previous_span: prev.span,
                    previous_version: prev.version,
                });
            }
        }
    }
}

/// Counts of a record, for summaries.
pub fn total(counts: &BTreeMap<String, u64>) -> u64 {
    counts.values().sum()
}
