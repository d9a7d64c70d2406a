//! Run manifests: weir's metadata store. Each `weir run` writes, last and in
//! one piece, `ROOT/_runs/<run id>.json`: the config hash, every span it
//! looked at with its input fingerprint (files, sizes, CRC32C or ETag),
//! component outputs, counts, anomalies, drift measurements and timings.
//! Lineage as ML Metadata keeps it, but plain files beside the data; the
//! cache (`weir run` skips a span whose input and config are unchanged),
//! versions and `weir sql`'s tables are read back from them.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use weir_datasets::sink::manifest::InputRecord;

use super::root::PipelineRoot;
use crate::error::{EngineError, Result};

/// Folder of the run manifests under the root.
pub const RUNS: &str = "_runs";

/// What happened to a span in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanStatus {
    /// Processed; no anomaly failed it.
    Ok,
    /// Processed; anomalies failed validation (the transform did not run).
    Anomalies,
    /// A component failed.
    Failed,
    /// Input and config unchanged since an earlier run: not processed.
    Cached,
}

impl SpanStatus {
    /// Whether the span's outputs were committed and checked.
    pub fn is_done(self) -> bool {
        matches!(self, SpanStatus::Ok | SpanStatus::Anomalies)
    }

    /// The name written.
    pub fn name(self) -> &'static str {
        match self {
            SpanStatus::Ok => "ok",
            SpanStatus::Anomalies => "anomalies",
            SpanStatus::Failed => "failed",
            SpanStatus::Cached => "cached",
        }
    }
}

/// One anomaly of a span.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnomalyRecord {
    /// The split validated.
    pub split: String,
    /// The feature path, or `""` for the dataset.
    pub feature: String,
    /// TFDV's anomaly type.
    #[serde(rename = "type")]
    pub kind: String,
    /// ERROR or WARNING.
    pub severity: String,
    /// The short description.
    pub description: String,
}

/// One drift measurement of a span against the previous one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DriftRecord {
    /// The split compared.
    pub split: String,
    /// The feature path.
    pub feature: String,
    /// The measurement (`L_INFTY`, `JENSEN_SHANNON_DIVERGENCE`, ...).
    pub measurement: String,
    /// Its value.
    pub value: f64,
    /// The threshold it was compared with.
    pub threshold: f64,
    /// The span compared with.
    pub previous_span: u64,
    /// That span's version.
    pub previous_version: u64,
}

/// The input of a span, as read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputFingerprint {
    /// The glob that lists the span's files.
    pub glob: String,
    /// Every file with its size and CRC32C or ETag.
    pub files: Vec<InputRecord>,
    /// sha256 over the file records: the cache key with the config hash.
    pub fingerprint: String,
}

impl InputFingerprint {
    /// The fingerprint of `files`, listed by `glob`.
    pub fn new(glob: String, files: Vec<InputRecord>) -> Self {
        let mut h = Sha256::new();
        for f in &files {
            h.update(serde_json::to_vec(f).expect("record json"));
            h.update(b"\n");
        }
        InputFingerprint {
            glob,
            files,
            fingerprint: weir_datasets::sink::hex(&h.finalize()),
        }
    }
}

/// One span in a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpanRecord {
    /// The span.
    pub span: u64,
    /// The span's date (date patterns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// weir's output version of the span (`version=<V>`); for a cached
    /// span, the version that is current.
    pub version: u64,
    /// The input's `{VERSION}`, if the pattern has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_version: Option<u64>,
    /// What happened.
    pub status: SpanStatus,
    /// The input read.
    pub input: InputFingerprint,
    /// Component -> output, relative to the root.
    pub outputs: BTreeMap<String, String>,
    /// Split -> examples.
    pub counts: BTreeMap<String, u64>,
    /// Anomalies found.
    pub anomalies: Vec<AnomalyRecord>,
    /// Drift measurements against the previous span.
    pub drift: Vec<DriftRecord>,
    /// Component -> seconds.
    pub timings: BTreeMap<String, f64>,
    /// The error of a failed span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For a cached span, the run that produced its outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_from: Option<String>,
}

/// One run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunManifest {
    /// weir's version.
    pub weir_version: String,
    /// The pipeline's name.
    pub pipeline: String,
    /// The run id (sorts by start time).
    pub run_id: String,
    /// `run` or `schedule`.
    pub trigger: String,
    /// Hash of everything in the config that shapes outputs.
    pub config_hash: String,
    /// Start, RFC 3339 UTC.
    pub started_at: String,
    /// End, RFC 3339 UTC.
    pub finished_at: String,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// `ok`, `anomalies` or `failed`: the worst span status.
    pub status: String,
    /// Host and pid of the run.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// The spans, ascending.
    pub spans: Vec<SpanRecord>,
}

impl RunManifest {
    /// Where the manifest of `run_id` lives, relative to the root.
    pub fn rel(run_id: &str) -> String {
        format!("{RUNS}/{run_id}.json")
    }

    /// Writes the manifest in one piece.
    pub fn write(&self, root: &PipelineRoot) -> Result<()> {
        let mut body = serde_json::to_vec_pretty(self).expect("manifest json");
        body.push(b'\n');
        root.put(&Self::rel(&self.run_id), body)
    }
}

/// Every run manifest under `root`, oldest first. A manifest that does not
/// parse is an error naming it (they are written in one piece, so it was
/// not written by weir).
pub fn read_all(root: &PipelineRoot) -> Result<Vec<RunManifest>> {
    let mut out = Vec::new();
    for rel in root.list(RUNS)? {
        if !rel.ends_with(".json") {
            continue;
        }
        let Some(body) = root.get(&rel)? else {
            continue;
        };
        let m: RunManifest = serde_json::from_slice(&body).map_err(|e| {
            EngineError::Invalid(format!(
                "{}/{rel}: not a run manifest: {e}",
                root.location()
            ))
        })?;
        out.push(m);
    }
    out.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    Ok(out)
}

/// What the manifests say about the spans: the current (latest done)
/// record of each span, and the highest version ever given to it.
#[derive(Debug, Clone, Default)]
pub struct History {
    current: BTreeMap<u64, (String, String, SpanRecord)>,
    versions: BTreeMap<u64, u64>,
}

impl History {
    /// Built from manifests, oldest first.
    pub fn of(manifests: &[RunManifest]) -> Self {
        let mut h = History::default();
        for m in manifests {
            for s in &m.spans {
                h.record(&m.run_id, &m.config_hash, s);
            }
        }
        h
    }

    /// The current record of `span`, with its run id and config hash.
    pub fn current(&self, span: u64) -> Option<&(String, String, SpanRecord)> {
        self.current.get(&span)
    }

    /// The version a new run of `span` gets.
    pub fn next_version(&self, span: u64) -> u64 {
        self.versions.get(&span).map(|v| v + 1).unwrap_or(0)
    }

    /// The closest done span before `span`.
    pub fn previous(&self, span: u64) -> Option<&SpanRecord> {
        self.current
            .range(..span)
            .next_back()
            .map(|(_, (_, _, r))| r)
    }

    /// The newest done record by run (for the schema to carry forward).
    pub fn newest(&self) -> Option<&SpanRecord> {
        self.current
            .values()
            .max_by(|a, b| a.0.cmp(&b.0).then(a.2.span.cmp(&b.2.span)))
            .map(|(_, _, r)| r)
    }

    /// Records a span of a run (read back, or done in this run so later
    /// spans of the run see it). A cached record changes nothing: its span's record stays current.
    pub fn record(&mut self, run_id: &str, config_hash: &str, s: &SpanRecord) {
        if s.status == SpanStatus::Cached {
            return;
        }
        let v = self.versions.entry(s.span).or_insert(s.version);
        *v = (*v).max(s.version);
        if s.status.is_done() {
            self.current.insert(
                s.span,
                (run_id.to_string(), config_hash.to_string(), s.clone()),
            );
        }
    }
}
