//! `pipeline.toml`: what `weir run` and `weir schedule` run. Relative
//! paths in it are relative to the file's folder (as Cargo does), so a
//! pipeline checked into a repository runs from anywhere. See
//! `examples/pipeline.toml` for a commented example.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use weir_datasets::{Compression, Format, SplitConfig};

use crate::error::{EngineError, Result};
use weir_datasets::sink::OutputFormat;

/// A whole pipeline.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// The pipeline's name (in manifests, logs and the lock).
    pub name: String,
    /// Output root: a folder or an `s3://` / `gs://` prefix.
    pub root: String,
    /// Run every component on this Ballista cluster (`df://HOST:PORT`).
    #[serde(default)]
    pub cluster: Option<String>,
    /// The input: where spans appear.
    pub input: InputConfig,
    /// ExampleGen's options.
    #[serde(default)]
    pub examplegen: ExampleGenConfig,
    /// Statistics options.
    #[serde(default)]
    pub statistics: StatisticsConfig,
    /// Where the schema comes from.
    #[serde(default)]
    pub schema: SchemaConfig,
    /// What validation checks and which anomalies fail a run.
    #[serde(default)]
    pub validation: ValidationConfig,
    /// The transform, if any.
    #[serde(default)]
    pub transform: Option<TransformConfig>,
    /// When `weir schedule` runs the pipeline.
    #[serde(default)]
    pub schedule: Option<ScheduleConfig>,
    /// Write `ROOT/report/span=N/version=V/report.html` per span: its
    /// statistics against the previous span's, with its anomalies.
    #[serde(default)]
    pub report: bool,
}

/// `[input]`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// A path or URL pattern with `{SPAN}`, `{SPAN:width}`, `{VERSION}`,
    /// `{VERSION:width}` or `{YYYY}{MM}{DD}` (span = days since
    /// 1970-01-01), and glob wildcards.
    pub pattern: String,
    /// The format [default: from file names].
    #[serde(default)]
    pub format: Option<String>,
    /// A schema.pbtxt or BigQuery JSON schema declaring column types.
    #[serde(default)]
    pub declared_schema: Option<PathBuf>,
}

/// `[examplegen]`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExampleGenConfig {
    /// Hash splits, `name=buckets,...` in order.
    pub splits: String,
    /// Hash this feature instead of the whole example.
    pub partition_feature: Option<String>,
    /// `tfrecord` or `parquet`.
    pub output_format: OutputFormat,
    /// Shards per split [default: one per 64 MiB of input].
    pub shards: Option<usize>,
    /// TFRecord compression.
    pub compression: String,
}

impl Default for ExampleGenConfig {
    fn default() -> Self {
        ExampleGenConfig {
            splits: "train=2,eval=1".into(),
            partition_feature: None,
            output_format: OutputFormat::Tfrecord,
            shards: None,
            compression: "gzip".into(),
        }
    }
}

/// `[statistics]`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatisticsConfig {
    /// Sketch string uniques and top values in bounded memory.
    pub approx: bool,
    /// Which STANDARD histogram to write: `"tfdv"` (default) or `"exact"`.
    pub histograms: crate::stats::HistogramMode,
}

impl StatisticsConfig {
    /// The statistics options these settings give.
    pub fn options(&self) -> crate::stats::StatsOptions {
        crate::stats::StatsOptions {
            approx: self.approx,
            histograms: self.histograms,
        }
    }
}

/// `[schema]`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemaConfig {
    /// A checked-in schema.pbtxt; without it, the schema is inferred from
    /// the first span's statistics and every later span is validated
    /// against the previous span's schema.
    pub path: Option<PathBuf>,
    /// The split whose statistics a schema is inferred from.
    pub infer_from: String,
    /// The most values an inferred string domain lists.
    pub max_string_domain_size: usize,
    /// Infer fixed shapes for never-missing features.
    pub infer_shape: bool,
}

impl Default for SchemaConfig {
    fn default() -> Self {
        SchemaConfig {
            path: None,
            infer_from: "train".into(),
            max_string_domain_size: 100,
            infer_shape: true,
        }
    }
}

/// Drift thresholds of one feature (TFDV's `drift_comparator`).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComparatorConfig {
    /// L-infinity distance of categorical value frequencies.
    pub infinity_norm: Option<f64>,
    /// Jensen-Shannon divergence of numeric histograms.
    pub jensen_shannon_divergence: Option<f64>,
    /// Normalized absolute difference.
    pub normalized_abs_difference: Option<f64>,
}

/// `[validation]`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationConfig {
    /// Compare each span with the previous processed span (drift).
    pub drift: bool,
    /// Per-feature drift thresholds, added to the schema's comparators.
    pub drift_comparators: BTreeMap<String, ComparatorConfig>,
    /// Anomaly types reported as warnings: they do not fail the run.
    pub warn: Vec<String>,
    /// If set, only these anomaly types fail the run; all others warn.
    pub fail_on: Vec<String>,
}

/// `[transform]`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    /// The transform SQL file.
    pub sql: PathBuf,
    /// Splits the analyzers see.
    #[serde(default = "default_analyze_splits")]
    pub analyze_splits: Vec<String>,
    /// `tfrecord` or `parquet`.
    #[serde(default)]
    pub output_format: OutputFormat,
}

fn default_analyze_splits() -> Vec<String> {
    vec!["train".into()]
}

/// `[schedule]`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// A cron expression (5 fields, or 6 with seconds first).
    pub cron: String,
    /// The IANA time zone the expression is read in.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// After a tick finds no new span, look again every `poll_seconds`
    /// for this long before giving up until the next tick.
    #[serde(default)]
    pub wait_for_span_seconds: u64,
    /// How often to look for a new span while waiting.
    #[serde(default = "default_poll")]
    pub poll_seconds: u64,
    /// Retries of a failed run (anomalies are not failures).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First retry delay; doubled each retry.
    #[serde(default = "default_backoff")]
    pub backoff_seconds: u64,
}

fn default_timezone() -> String {
    "UTC".into()
}
fn default_poll() -> u64 {
    60
}
fn default_retries() -> u32 {
    3
}
fn default_backoff() -> u64 {
    30
}

/// `path` without `.` components, and with each `..` removing the
/// component before it (lexically: a config's paths name places relative to
/// its folder, whatever links lie under them).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl PipelineConfig {
    /// Reads and checks `path`; relative paths become relative to its
    /// folder, however `path` is written (`p.toml`, `./p.toml`,
    /// `../x/p.toml` or absolute): the folder is made absolute first, so
    /// every path in the config is absolute and without `.` or `..`.
    pub fn load(path: &Path) -> Result<PipelineConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EngineError::Invalid(format!("{}: {e}", path.display())))?;
        let file = std::fs::canonicalize(path)
            .map_err(|e| EngineError::Invalid(format!("{}: {e}", path.display())))?;
        let base = file.parent().unwrap_or(Path::new("/"));
        Self::from_toml(&text, &path.display().to_string(), base)
    }

    /// Parses `text` (named `origin` in errors) with relative paths
    /// resolved against `base`.
    pub fn from_toml(text: &str, origin: &str, base: &Path) -> Result<PipelineConfig> {
        let mut c: PipelineConfig =
            toml::from_str(text).map_err(|e| EngineError::Invalid(format!("{origin}: {e}")))?;
        let local = |p: &str| -> String {
            if weir_datasets::store::is_url(p) || Path::new(p).is_absolute() {
                p.to_string()
            } else {
                normalize(&base.join(p)).to_string_lossy().into_owned()
            }
        };
        c.root = local(&c.root);
        c.input.pattern = local(&c.input.pattern);
        let path = |p: &Path| -> PathBuf { PathBuf::from(local(&p.to_string_lossy())) };
        c.input.declared_schema = c.input.declared_schema.as_deref().map(path);
        c.schema.path = c.schema.path.as_deref().map(path);
        if let Some(t) = &mut c.transform {
            t.sql = path(&t.sql);
        }
        c.check()
            .map_err(|e| EngineError::Invalid(format!("{origin}: {e}")))?;
        Ok(c)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.name.is_empty() || self.name.contains(['/', '\\']) {
            return Err(format!(
                "name '{}' must be non-empty, without '/'",
                self.name
            ));
        }
        self.splits()?;
        self.input_format()?;
        self.compression()?;
        super::spans::InputPattern::parse(&self.input.pattern)?;
        for name in self.validation.warn.iter().chain(&self.validation.fail_on) {
            anomaly_type(name)?;
        }
        if let Some(s) = &self.schedule {
            super::schedule::CronSchedule::parse(&s.cron, &s.timezone)?;
        }
        Ok(())
    }

    /// The hash splits.
    pub fn splits(&self) -> std::result::Result<SplitConfig, String> {
        self.examplegen
            .splits
            .parse::<SplitConfig>()
            .map_err(|e| format!("examplegen.splits: {e}"))
    }

    /// The input format, if given.
    pub fn input_format(&self) -> std::result::Result<Option<Format>, String> {
        self.input
            .format
            .as_deref()
            .map(|f| {
                f.parse::<Format>()
                    .map_err(|e| format!("input.format: {e}"))
            })
            .transpose()
    }

    /// The TFRecord compression.
    pub fn compression(&self) -> std::result::Result<Compression, String> {
        self.examplegen
            .compression
            .parse::<Compression>()
            .map_err(|e| format!("examplegen.compression: {e}"))
    }

    /// A hash of everything that shapes the outputs: the settings (not
    /// `schedule` or `cluster`, which change when and where, not what),
    /// the content of the files they name (transform SQL, schemas) and
    /// weir's version. A span is reprocessed when it changes.
    pub fn output_hash(&self) -> Result<String> {
        let mut shaping = self.clone();
        shaping.schedule = None;
        shaping.cluster = None;
        let mut h = Sha256::new();
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(serde_json::to_vec(&shaping).expect("config json"));
        let files = [
            self.transform.as_ref().map(|t| t.sql.clone()),
            self.schema.path.clone(),
            self.input.declared_schema.clone(),
        ];
        for f in files.into_iter().flatten() {
            let bytes = std::fs::read(&f)
                .map_err(|e| EngineError::Invalid(format!("{}: {e}", f.display())))?;
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(&bytes);
        }
        Ok(weir_datasets::sink::hex(&h.finalize()))
    }
}

/// The anomaly type called `name` (TFDV's names).
pub fn anomaly_type(name: &str) -> std::result::Result<weir_validate::AnomalyType, String> {
    weir_validate::AnomalyType::ALL
        .iter()
        .copied()
        .find(|t| t.name() == name)
        .ok_or_else(|| format!("'{name}' is not an anomaly type weir raises"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_join_the_config_folder_without_dot_segments() {
        let text = r#"
name = "p"
root = "../out"
[input]
pattern = "./data/{YYYY}{MM}{DD}/*.csv"
"#;
        let c = PipelineConfig::from_toml(text, "p.toml", Path::new("/work/x")).unwrap();
        assert_eq!(c.root, "/work/out");
        assert_eq!(c.input.pattern, "/work/x/data/{YYYY}{MM}{DD}/*.csv");
        let url = "name = \"p\"\nroot = \"s3://b/out\"\n[input]\npattern = \"/abs/*.csv\"\n";
        let c = PipelineConfig::from_toml(url, "p.toml", Path::new("/work/x")).unwrap();
        assert_eq!(
            (c.root.as_str(), c.input.pattern.as_str()),
            ("s3://b/out", "/abs/*.csv")
        );
    }
}
