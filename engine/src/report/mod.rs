//! `weir report`: statistics (weir's or TFDV's), optionally a baseline to
//! compare with, a schema and anomalies, as one offline HTML page
//! ([`html`]) that a person would rather look at than read protos.
//!
//! Statistics can be a `FeatureStats.pb` (every dataset in it a split), a
//! `Split-<name>/` folder holding one, or a statistics output holding
//! several `Split-<name>/` folders. Anomalies come from an anomalies text
//! file (weir's or TFDV's), or, with a schema and no file, from validating
//! the statistics (and drift against the baseline) here.

pub mod html;
pub mod model;

use std::path::{Path, PathBuf};

use prost::Message;
use weir_tfmd::pbtxt;
use weir_tfmd::statistics::DatasetFeatureStatisticsList;
use weir_tfmd::Schema;
use weir_validate::anomalies::AnomalyInfo;
use weir_validate::{Anomalies, DatasetView, ValidateBuilder};

use crate::error::{EngineError, Result};
use model::AnomalyRow;

/// What a report run wrote.
#[derive(Debug, Clone)]
pub struct ReportSummary {
    /// The HTML file.
    pub output: PathBuf,
    /// Splits shown.
    pub splits: usize,
    /// Features of the first split.
    pub features: usize,
    /// Anomalies listed.
    pub anomalies: usize,
    /// Features of the first split whose drift crossed a threshold.
    pub drifted: usize,
    /// Size of the page in bytes.
    pub bytes: usize,
}

/// Builds the report page of statistics.
#[derive(Debug, Clone)]
pub struct ReportBuilder {
    stats: PathBuf,
    output: PathBuf,
    compare: Option<PathBuf>,
    schema: Option<PathBuf>,
    anomalies: Option<PathBuf>,
    title: Option<String>,
}

fn read_list(file: &Path) -> Result<DatasetFeatureStatisticsList> {
    let bytes = std::fs::read(file)
        .map_err(|e| EngineError::Invalid(format!("reading {}: {e}", file.display())))?;
    DatasetFeatureStatisticsList::decode(bytes.as_slice()).map_err(|e| {
        EngineError::Invalid(format!(
            "{} is not a binary DatasetFeatureStatisticsList: {e}",
            file.display()
        ))
    })
}

/// The splits of a statistics path: (name, statistics) in order.
pub fn read_splits(path: &Path) -> Result<Vec<(String, DatasetView)>> {
    let mut out = Vec::new();
    let mut add_file = |file: &Path, split: Option<String>| -> Result<()> {
        let list = read_list(file)?;
        let n = list.datasets.len();
        for (i, d) in list.datasets.into_iter().enumerate() {
            let name = match (&split, d.name.is_empty()) {
                (Some(s), _) if n == 1 => s.clone(),
                (_, false) => d.name.clone(),
                _ => format!("dataset {i}"),
            };
            out.push((name, DatasetView::new(d, file.display().to_string())));
        }
        Ok(())
    };
    if path.is_file() {
        add_file(path, None)?;
    } else if path.join("FeatureStats.pb").is_file() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().trim_start_matches("Split-").to_string());
        add_file(&path.join("FeatureStats.pb"), name)?;
    } else if path.is_dir() {
        let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(path)
            .map_err(|e| EngineError::Invalid(format!("reading {}: {e}", path.display())))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let split = name.strip_prefix("Split-")?.to_string();
                let file = e.path().join("FeatureStats.pb");
                file.is_file().then_some((split, file))
            })
            .collect();
        dirs.sort();
        for (split, file) in dirs {
            add_file(&file, Some(split))?;
        }
    }
    if out.is_empty() {
        return Err(EngineError::Invalid(format!(
            "{} holds no statistics: give a FeatureStats.pb, a Split-<name>/ folder with one, or a folder of Split-<name>/ folders",
            path.display()
        )));
    }
    Ok(out)
}

/// The anomalies of an anomalies text file (TFDV's `anomalies.pbtxt`
/// layout: `anomaly_info { key value { severity description reason { type }}}`).
pub fn read_anomalies(path: &Path) -> Result<Vec<AnomalyRow>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| EngineError::Invalid(format!("reading {}: {e}", path.display())))?;
    let msg = pbtxt::parse(&text).map_err(|e| {
        EngineError::Invalid(format!(
            "{} is not an anomalies text proto: {e}",
            path.display()
        ))
    })?;
    let row = |feature: String, v: &pbtxt::PbMessage| AnomalyRow {
        feature,
        types: v
            .messages("reason")
            .filter_map(|r| r.get_ident("type").map(str::to_string))
            .collect(),
        severity: v.get_ident("severity").unwrap_or("UNKNOWN").to_string(),
        description: v.get_str("description").unwrap_or_default(),
    };
    let mut out: Vec<AnomalyRow> = msg
        .messages("anomaly_info")
        .filter_map(|e| {
            let key = e.get_str("key")?;
            let value = e.messages("value").next()?;
            Some(row(key, value))
        })
        .collect();
    if let Some(d) = msg.messages("dataset_anomaly_info").next() {
        out.push(row(String::new(), d));
    }
    Ok(out)
}

/// The rows of validation's anomalies (features first, then the dataset's).
pub fn anomaly_rows(a: &Anomalies) -> Vec<AnomalyRow> {
    let row = |feature: &str, info: &AnomalyInfo| AnomalyRow {
        feature: feature.to_string(),
        types: info
            .reasons
            .iter()
            .map(|r| r.kind.name().to_string())
            .collect(),
        severity: info.severity.name().to_string(),
        description: info.description().1,
    };
    let mut rows: Vec<AnomalyRow> = a.anomaly_info.iter().map(|(f, i)| row(f, i)).collect();
    if let Some(info) = &a.dataset_anomaly_info {
        rows.push(row("", info));
    }
    rows
}

impl ReportBuilder {
    /// A report of the statistics at `stats`, written to `output`.
    pub fn new(stats: impl Into<PathBuf>, output: impl Into<PathBuf>) -> Self {
        Self {
            stats: stats.into(),
            output: output.into(),
            compare: None,
            schema: None,
            anomalies: None,
            title: None,
        }
    }

    /// Statistics to compare with (the baseline: e.g. the previous span, or
    /// training statistics when `stats` are serving's).
    pub fn with_compare(mut self, path: impl Into<PathBuf>) -> Self {
        self.compare = Some(path.into());
        self
    }

    /// A schema: drift thresholds, and anomalies when no file is given.
    pub fn with_schema(mut self, path: impl Into<PathBuf>) -> Self {
        self.schema = Some(path.into());
        self
    }

    /// An anomalies text file to list (weir's or TFDV's).
    pub fn with_anomalies(mut self, path: impl Into<PathBuf>) -> Self {
        self.anomalies = Some(path.into());
        self
    }

    /// The page's title [default: the statistics' path].
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Reads everything, writes the page (staged, then renamed).
    pub fn execute(self) -> Result<ReportSummary> {
        let splits = read_splits(&self.stats)?;
        let baseline = match &self.compare {
            Some(p) => read_splits(p)?,
            None => Vec::new(),
        };
        let schema = match &self.schema {
            Some(p) => Some(Schema::read(p)?),
            None => None,
        };
        let anomalies = match (&self.anomalies, &schema) {
            (Some(p), _) => read_anomalies(p)?,
            (None, Some(s)) => {
                let mut v = ValidateBuilder::new(splits[0].1.clone(), s.clone());
                if let Some((_, b)) = baseline.first() {
                    v = v.with_previous(b.clone());
                }
                anomaly_rows(&v.execute())
            }
            (None, None) => Vec::new(),
        };
        let title = self.title.clone().unwrap_or_else(|| {
            let mut t = format!("weir statistics: {}", self.stats.display());
            if let Some(c) = &self.compare {
                t.push_str(&format!(" vs {}", c.display()));
            }
            t
        });
        let report = model::build(title, &splits, &baseline, schema.as_ref(), anomalies);
        let page = html::render(&report);
        let staged = self.output.with_extension("html.tmp");
        if let Some(dir) = self.output.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| EngineError::Invalid(format!("creating {}: {e}", dir.display())))?;
        }
        std::fs::write(&staged, &page)
            .map_err(|e| EngineError::Invalid(format!("writing {}: {e}", staged.display())))?;
        std::fs::rename(&staged, &self.output)
            .map_err(|e| EngineError::Invalid(format!("writing {}: {e}", self.output.display())))?;
        let first = report.splits.first();
        Ok(ReportSummary {
            output: self.output,
            splits: report.splits.len(),
            features: first.map(|s| s.features.len()).unwrap_or(0),
            anomalies: report.anomalies.len(),
            drifted: first
                .map(|s| s.features.iter().filter(|f| f.drifted()).count())
                .unwrap_or(0),
            bytes: page.len(),
        })
    }
}
