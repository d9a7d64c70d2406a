//! `weir sql --root ROOT "SELECT ..."`: DataFusion SQL over what a
//! pipeline's runs recorded. Tables, registered from the run manifests and
//! the statistics they point to:
//!
//! * `runs`: one row per run × span (status, version, counts, timings);
//! * `statistics`: one row per span × version × split × feature, every
//!   figure of `statistics.parquet`, with `is_latest` marking the current
//!   version of each span;
//! * `histograms` and `top_values`: the list columns of `statistics`
//!   unnested (views);
//! * `anomalies`: one row per anomaly reason;
//! * `drift`: one row per drift measurement against the previous span.
//!
//! Spans carry `span_date` (a DATE) when the input pattern uses dates.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::MemTable;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::SessionContext;

use super::manifest::{read_all, RunManifest, SpanRecord, SpanStatus};
use super::root::PipelineRoot;
use super::runner::STATISTICS;
use crate::error::{EngineError, Result};

/// Days since the epoch of a `YYYY-MM-DD` date.
fn date32(d: Option<&str>) -> Option<i32> {
    let d = chrono::NaiveDate::parse_from_str(d?, "%Y-%m-%d").ok()?;
    Some(super::spans::span_of_date(d) as i32)
}

fn millis(rfc3339: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// One column being built.
enum Col {
    Str(Vec<Option<String>>),
    I64(Vec<Option<i64>>),
    F64(Vec<Option<f64>>),
    Date(Vec<Option<i32>>),
    Time(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
}

impl Col {
    fn field(&self, name: &str) -> Field {
        let t = match self {
            Col::Str(_) => DataType::Utf8,
            Col::I64(_) => DataType::Int64,
            Col::F64(_) => DataType::Float64,
            Col::Date(_) => DataType::Date32,
            Col::Time(_) => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            Col::Bool(_) => DataType::Boolean,
        };
        Field::new(name, t, true)
    }

    fn array(self) -> ArrayRef {
        match self {
            Col::Str(v) => Arc::new(StringArray::from(v)),
            Col::I64(v) => Arc::new(Int64Array::from(v)),
            Col::F64(v) => Arc::new(Float64Array::from(v)),
            Col::Date(v) => Arc::new(Date32Array::from(v)),
            Col::Time(v) => Arc::new(TimestampMillisecondArray::from(v).with_timezone("UTC")),
            Col::Bool(v) => Arc::new(BooleanArray::from(v)),
        }
    }
}

fn batch(columns: Vec<(&str, Col)>) -> Result<RecordBatch> {
    let fields: Vec<Field> = columns.iter().map(|(n, c)| c.field(n)).collect();
    let arrays: Vec<ArrayRef> = columns.into_iter().map(|(_, c)| c.array()).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| EngineError::Internal(format!("building a table: {e}")))
}

/// Every (run, span) pair, oldest run first.
fn span_rows(runs: &[RunManifest]) -> impl Iterator<Item = (&RunManifest, &SpanRecord)> {
    runs.iter()
        .flat_map(|m| m.spans.iter().map(move |s| (m, s)))
}

fn runs_table(runs: &[RunManifest]) -> Result<RecordBatch> {
    let rows: Vec<_> = span_rows(runs).collect();
    let s = |f: &dyn Fn(&RunManifest, &SpanRecord) -> Option<String>| {
        Col::Str(rows.iter().map(|(m, r)| f(m, r)).collect())
    };
    let i = |f: &dyn Fn(&RunManifest, &SpanRecord) -> Option<i64>| {
        Col::I64(rows.iter().map(|(m, r)| f(m, r)).collect())
    };
    batch(vec![
        ("run_id", s(&|m, _| Some(m.run_id.clone()))),
        ("pipeline", s(&|m, _| Some(m.pipeline.clone()))),
        ("trigger", s(&|m, _| Some(m.trigger.clone()))),
        ("run_status", s(&|m, _| Some(m.status.clone()))),
        (
            "started_at",
            Col::Time(rows.iter().map(|(m, _)| millis(&m.started_at)).collect()),
        ),
        (
            "finished_at",
            Col::Time(rows.iter().map(|(m, _)| millis(&m.finished_at)).collect()),
        ),
        ("config_hash", s(&|m, _| Some(m.config_hash.clone()))),
        ("span", i(&|_, r| Some(r.span as i64))),
        (
            "span_date",
            Col::Date(
                rows.iter()
                    .map(|(_, r)| date32(r.date.as_deref()))
                    .collect(),
            ),
        ),
        ("version", i(&|_, r| Some(r.version as i64))),
        (
            "input_version",
            i(&|_, r| r.input_version.map(|v| v as i64)),
        ),
        ("status", s(&|_, r| Some(r.status.name().to_string()))),
        (
            "examples",
            i(&|_, r| Some(r.counts.values().sum::<u64>() as i64)),
        ),
        ("input_files", i(&|_, r| Some(r.input.files.len() as i64))),
        (
            "input_bytes",
            i(&|_, r| Some(r.input.files.iter().map(|f| f.bytes).sum::<u64>() as i64)),
        ),
        (
            "input_fingerprint",
            s(&|_, r| Some(r.input.fingerprint.clone())),
        ),
        ("anomalies", i(&|_, r| Some(r.anomalies.len() as i64))),
        (
            "seconds",
            Col::F64(
                rows.iter()
                    .map(|(_, r)| Some(r.timings.values().fold(0.0, |a, b| a + b)))
                    .collect(),
            ),
        ),
        ("error", s(&|_, r| r.error.clone())),
        ("cached_from", s(&|_, r| r.cached_from.clone())),
    ])
}

fn anomalies_table(runs: &[RunManifest]) -> Result<RecordBatch> {
    let rows: Vec<_> = span_rows(runs)
        .flat_map(|(m, r)| r.anomalies.iter().map(move |a| (m, r, a)))
        .collect();
    let s = |f: &dyn Fn(usize) -> String| Col::Str((0..rows.len()).map(|k| Some(f(k))).collect());
    batch(vec![
        ("run_id", s(&|k| rows[k].0.run_id.clone())),
        (
            "span",
            Col::I64(rows.iter().map(|r| Some(r.1.span as i64)).collect()),
        ),
        (
            "span_date",
            Col::Date(rows.iter().map(|r| date32(r.1.date.as_deref())).collect()),
        ),
        (
            "version",
            Col::I64(rows.iter().map(|r| Some(r.1.version as i64)).collect()),
        ),
        ("split", s(&|k| rows[k].2.split.clone())),
        ("feature", s(&|k| rows[k].2.feature.clone())),
        ("type", s(&|k| rows[k].2.kind.clone())),
        ("severity", s(&|k| rows[k].2.severity.clone())),
        ("description", s(&|k| rows[k].2.description.clone())),
    ])
}

fn drift_table(runs: &[RunManifest]) -> Result<RecordBatch> {
    let rows: Vec<_> = span_rows(runs)
        .flat_map(|(m, r)| r.drift.iter().map(move |d| (m, r, d)))
        .collect();
    let s = |f: &dyn Fn(usize) -> String| Col::Str((0..rows.len()).map(|k| Some(f(k))).collect());
    let i =
        |f: &dyn Fn(usize) -> u64| Col::I64((0..rows.len()).map(|k| Some(f(k) as i64)).collect());
    let f = |g: &dyn Fn(usize) -> f64| Col::F64((0..rows.len()).map(|k| Some(g(k))).collect());
    batch(vec![
        ("run_id", s(&|k| rows[k].0.run_id.clone())),
        ("span", i(&|k| rows[k].1.span)),
        (
            "span_date",
            Col::Date(rows.iter().map(|r| date32(r.1.date.as_deref())).collect()),
        ),
        ("version", i(&|k| rows[k].1.version)),
        ("split", s(&|k| rows[k].2.split.clone())),
        ("feature", s(&|k| rows[k].2.feature.clone())),
        ("measurement", s(&|k| rows[k].2.measurement.clone())),
        ("value", f(&|k| rows[k].2.value)),
        ("threshold", f(&|k| rows[k].2.threshold)),
        (
            "crossed",
            Col::Bool(
                rows.iter()
                    .map(|(_, _, d)| {
                        // p-value tests cross below their threshold, distances above.
                        Some(if d.measurement.ends_with("P_VALUE") {
                            d.value < d.threshold
                        } else {
                            d.value > d.threshold
                        })
                    })
                    .collect(),
            ),
        ),
        ("previous_span", i(&|k| rows[k].2.previous_span)),
        ("previous_version", i(&|k| rows[k].2.previous_version)),
    ])
}

/// `statistics.parquet` of every processed span version, with the span's
/// columns in front.
fn statistics_table(
    root: &PipelineRoot,
    runs: &[RunManifest],
) -> Result<Option<(SchemaRef, Vec<RecordBatch>)>> {
    // The current version of each span: the last done record.
    let mut latest = std::collections::BTreeMap::new();
    for (_, r) in span_rows(runs).filter(|(_, r)| r.status.is_done()) {
        latest.insert(r.span, r.version);
    }
    let mut out: Vec<RecordBatch> = Vec::new();
    let mut schema: Option<SchemaRef> = None;
    for (m, r) in
        span_rows(runs).filter(|(_, r)| r.status.is_done() && r.status != SpanStatus::Cached)
    {
        let Some(dir) = r.outputs.get(STATISTICS) else {
            continue;
        };
        let rel = format!("{dir}/statistics.parquet");
        let Some(body) = root.get(&rel)? else {
            tracing::warn!(
                "{}/{rel} is gone; left out of `statistics`",
                root.location()
            );
            continue;
        };
        let where_ = format!("{}/{rel}", root.location());
        let reader = ParquetRecordBatchReaderBuilder::try_new(body)
            .and_then(|b| b.build())
            .map_err(|e| EngineError::Invalid(format!("{where_}: {e}")))?;
        for b in reader {
            let b = b.map_err(|e| EngineError::Invalid(format!("{where_}: {e}")))?;
            let n = b.num_rows();
            let front = batch(vec![
                ("span", Col::I64(vec![Some(r.span as i64); n])),
                ("span_date", Col::Date(vec![date32(r.date.as_deref()); n])),
                ("version", Col::I64(vec![Some(r.version as i64); n])),
                (
                    "is_latest",
                    Col::Bool(vec![Some(latest.get(&r.span) == Some(&r.version)); n]),
                ),
                ("run_id", Col::Str(vec![Some(m.run_id.clone()); n])),
            ])?;
            let mut fields: Vec<Field> = front
                .schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            fields.extend(b.schema().fields().iter().map(|f| f.as_ref().clone()));
            let mut columns = front.columns().to_vec();
            columns.extend(b.columns().iter().cloned());
            let s = schema
                .get_or_insert_with(|| Arc::new(Schema::new(fields)))
                .clone();
            let joined = RecordBatch::try_new(s, columns).map_err(|e| {
                EngineError::Invalid(format!("{where_}: columns differ from other spans': {e}"))
            })?;
            out.push(joined);
        }
    }
    Ok(schema.map(|s| (s, out)))
}

const VIEWS: &[&str] = &[
    "CREATE VIEW histograms AS \
     SELECT span, span_date, version, is_latest, run_id, split, feature, 'STANDARD' AS histogram_type, \
            b['low'] AS low, b['high'] AS high, b['count'] AS sample_count \
     FROM (SELECT span, span_date, version, is_latest, run_id, split, feature, unnest(histogram) AS b FROM statistics) \
     UNION ALL \
     SELECT span, span_date, version, is_latest, run_id, split, feature, 'QUANTILES' AS histogram_type, \
            b['low'] AS low, b['high'] AS high, b['count'] AS sample_count \
     FROM (SELECT span, span_date, version, is_latest, run_id, split, feature, unnest(quantiles) AS b FROM statistics)",
    "CREATE VIEW top_values AS \
     SELECT span, span_date, version, is_latest, run_id, split, feature, t['value'] AS value, t['frequency'] AS frequency \
     FROM (SELECT span, span_date, version, is_latest, run_id, split, feature, unnest(top_values) AS t FROM statistics)",
];

/// Every table and view name, in the order they are listed.
pub const TABLE_NAMES: &[&str] = &[
    "runs",
    "statistics",
    "histograms",
    "top_values",
    "anomalies",
    "drift",
];

/// The tables of a pipeline root, read once: registered into as many
/// sessions as need them (a server keeps them while the root's run
/// manifests stay the same).
#[derive(Debug, Clone)]
pub struct SqlTables {
    tables: Vec<(&'static str, Arc<MemTable>)>,
    has_statistics: bool,
}

impl SqlTables {
    /// Reads the tables of `root` from its run manifests and the
    /// statistics they point to.
    pub fn load(root: &PipelineRoot) -> Result<SqlTables> {
        Self::from_runs(root, &read_all(root)?)
    }

    /// The tables of `root` as `runs` (its run manifests) record them.
    pub fn from_runs(root: &PipelineRoot, runs: &[RunManifest]) -> Result<SqlTables> {
        let mem = |b: RecordBatch| -> Result<Arc<MemTable>> {
            Ok(Arc::new(MemTable::try_new(b.schema(), vec![vec![b]])?))
        };
        let mut tables = vec![
            ("runs", mem(runs_table(runs)?)?),
            ("anomalies", mem(anomalies_table(runs)?)?),
            ("drift", mem(drift_table(runs)?)?),
        ];
        let has_statistics = match statistics_table(root, runs)? {
            Some((schema, batches)) => {
                tables.push((
                    "statistics",
                    Arc::new(MemTable::try_new(schema, vec![batches])?),
                ));
                true
            }
            None => {
                tracing::warn!("{}: no statistics recorded yet", root.location());
                false
            }
        };
        Ok(SqlTables {
            tables,
            has_statistics,
        })
    }

    /// Registers the tables, and the views over `statistics`, in `ctx`.
    pub async fn register(&self, ctx: &SessionContext) -> Result<()> {
        for (name, table) in &self.tables {
            ctx.register_table(*name, table.clone())?;
        }
        if self.has_statistics {
            for v in VIEWS {
                ctx.sql(v).await?;
            }
        }
        Ok(())
    }
}

/// A session with the tables of `root` registered.
pub async fn context(root: &PipelineRoot) -> Result<SessionContext> {
    let ctx = SessionContext::new();
    SqlTables::load(root)?.register(&ctx).await?;
    Ok(ctx)
}

/// Runs `query` over `root`'s tables.
pub async fn query(root: &PipelineRoot, query: &str) -> Result<Vec<RecordBatch>> {
    let ctx = context(root).await?;
    Ok(ctx.sql(query).await?.collect().await?)
}
