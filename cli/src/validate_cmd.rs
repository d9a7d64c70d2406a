//! `weir schema` and `weir validate`: the command-line side of
//! `weir-validate` (argument structs, file handling, exit codes).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use weir_validate::suggest::{apply_suggestions, suggest_drift_thresholds, SuggestOptions};
use weir_validate::{
    infer_schema, read_statistics, update_schema, AnomalyType, InferOptions, Schema, Severity,
    ValidateBuilder,
};

#[derive(Args)]
pub struct SchemaArgs {
    /// Statistics: a FeatureStats.pb file or a Split-<name>/ folder holding one.
    #[arg(long)]
    stats: PathBuf,
    /// Where to write the schema (text format).
    #[arg(long, short)]
    output: PathBuf,
    /// Update this schema instead of inferring a new one: relax what the new
    /// statistics legitimately widen, keep every user edit.
    #[arg(long)]
    update: Option<PathBuf>,
    /// The most values a string domain lists; more distinct values give no domain.
    #[arg(long, default_value_t = 100)]
    max_string_domain_size: usize,
    /// Keep value_count instead of a fixed shape for never-missing features.
    #[arg(long)]
    no_infer_shape: bool,
}

#[derive(Args)]
pub struct ValidateArgs {
    /// Statistics to validate (FeatureStats.pb or a Split-<name>/ folder).
    #[arg(long)]
    stats: PathBuf,
    /// The schema (text format) to validate against.
    #[arg(long)]
    schema: PathBuf,
    /// The previous span's statistics, for drift comparators.
    #[arg(long)]
    previous: Option<PathBuf>,
    /// Serving statistics, for skew comparators and training/serving skew.
    #[arg(long)]
    serving: Option<PathBuf>,
    /// The environment of the statistics (e.g. TRAINING, SERVING).
    #[arg(long)]
    environment: Option<String>,
    /// Where to write the Anomalies proto (text format); with --suggest, the
    /// schema with the suggested thresholds.
    #[arg(long, short)]
    output: PathBuf,
    /// Report this anomaly type as a WARNING (exit code 0) instead of an ERROR.
    #[arg(long = "warn", value_name = "ANOMALY_TYPE")]
    warn: Vec<String>,
    /// The quantile sketches' rank error, stated in KS results.
    #[arg(long, default_value_t = 0.01)]
    sketch_epsilon: f64,
    /// Propose drift thresholds from past spans (--history, oldest first,
    /// then --stats as the newest) instead of validating.
    #[arg(long)]
    suggest: bool,
    /// A past span's statistics, oldest first (with --suggest).
    #[arg(long)]
    history: Vec<PathBuf>,
}

/// Writes `text` to `path` through a temporary file in the same folder, so
/// readers never see a half-written file.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub fn schema(a: SchemaArgs) -> Result<()> {
    let stats = read_statistics(&a.stats)?;
    let options = InferOptions {
        max_string_domain_size: a.max_string_domain_size,
        infer_feature_shape: !a.no_infer_shape,
    };
    let schema = match &a.update {
        None => infer_schema(&stats, &options),
        Some(old) => {
            let (schema, changes) = update_schema(&Schema::read(old)?, &stats, &options);
            for (feature, d) in &changes {
                println!("{feature}: {} — {}", d.kind.name(), d.long);
            }
            println!("schema: {} changes", changes.len());
            schema
        }
    };
    write_atomic(&a.output, &schema.to_text())?;
    println!(
        "schema: {} features, {} string domains -> {}",
        schema.features.len(),
        schema.string_domains.len(),
        a.output.display()
    );
    Ok(())
}

/// Runs `weir validate`; returns the process exit code (0 clean or
/// warnings only, 2 when any anomaly has ERROR severity).
pub fn validate(a: ValidateArgs) -> Result<i32> {
    let schema = Schema::read(&a.schema)?;
    let stats = read_statistics(&a.stats)?;
    if a.suggest {
        if a.history.is_empty() {
            bail!("--suggest needs at least one --history span before --stats");
        }
        let mut spans = a
            .history
            .iter()
            .map(|p| read_statistics(p))
            .collect::<weir_validate::Result<Vec<_>>>()?;
        spans.push(stats);
        let suggestions = suggest_drift_thresholds(&spans, &SuggestOptions::default());
        println!("feature  comparator  observed drift  suggested threshold");
        for s in &suggestions {
            let observed: Vec<String> = s.observed.iter().map(|v| format!("{v:.4}")).collect();
            println!(
                "{}  {:?}  [{}]  {}",
                s.feature,
                s.comparator,
                observed.join(", "),
                s.threshold
            );
        }
        let mut schema = schema;
        apply_suggestions(&mut schema, &suggestions);
        write_atomic(&a.output, &schema.to_text())?;
        println!(
            "validate --suggest: {} thresholds -> {}",
            suggestions.len(),
            a.output.display()
        );
        return Ok(0);
    }
    let mut builder = ValidateBuilder::new(stats, schema).with_sketch_epsilon(a.sketch_epsilon);
    if let Some(previous) = a.previous.as_deref() {
        builder = builder.with_previous(read_statistics(previous)?);
    }
    if let Some(serving) = a.serving.as_deref() {
        builder = builder.with_serving(read_statistics(serving)?);
    }
    if let Some(environment) = &a.environment {
        builder = builder.with_environment(environment.clone());
    }
    for name in &a.warn {
        let kind = AnomalyType::ALL
            .iter()
            .find(|t| t.name() == name)
            .with_context(|| format!("--warn {name}: not an anomaly type weir raises"))?;
        builder = builder.with_severity(*kind, Severity::Warning);
    }
    let anomalies = builder.execute();
    write_atomic(&a.output, &anomalies.to_text())?;
    print!("{}", anomalies.summary_table());
    let errors = anomalies.has_errors();
    println!(
        "validate: {} features with anomalies{} -> {}",
        anomalies.anomaly_info.len(),
        if errors { " (ERROR)" } else { "" },
        a.output.display()
    );
    Ok(if errors { 2 } else { 0 })
}
