//! Transform (TFX's Transform component): analyze a transform query over
//! the analyze splits of an ExampleGen output in one aggregate pass, freeze
//! it into a transform artifact, and apply it — a projection — to every
//! split, streamed into `transformed_examples/Split-<name>/` as gzip
//! TFRecord of tf.Example (TFT's layout) or Parquet. [`ApplyBuilder`]
//! applies a frozen artifact to new data without analyzing.
//!
//! Output is staged and committed atomically, like every weir output.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::{cast, lit, Expr};
use datafusion::prelude::SessionContext;
use serde::Serialize;
use weir_datasets::example::PayloadFormat;
use weir_datasets::formats::{ReadOptions, SourceSpec};
use weir_datasets::input::{detect_format, resolve_input, split_folders};
use weir_datasets::sink::manifest::recorded_payload;
use weir_datasets::sink::{shard_name, StagedDir, WrittenFile};
use weir_datasets::{DatasetError, Format};
use weir_sql::artifact::TransformJson;
use weir_sql::{analyze, register_analyzers, FrozenTransform, TransformArtifact, TransformError};

use crate::error::{EngineError, Result};
use weir_plan::attempts::Attempts;
use weir_plan::scan::SourceTable;
use weir_plan::Execution;

use weir_datasets::sink::OutputFormat;
use weir_plan::kinds::TransformPartSink;
use weir_plan::sink::ShardTargets;

/// The folder of the artifact inside a transform output.
pub const TRANSFORM_GRAPH: &str = "transform_graph";
/// The folder of the transformed splits inside a transform output.
pub const TRANSFORMED_EXAMPLES: &str = "transformed_examples";

impl From<TransformError> for EngineError {
    fn from(e: TransformError) -> Self {
        match e {
            TransformError::DataFusion(d) => d.into(),
            other => EngineError::Invalid(other.to_string()),
        }
    }
}

/// Rows and files of one transformed split.
#[derive(Debug, Clone, Serialize)]
pub struct TransformedSplit {
    /// Split name.
    pub split: String,
    /// Rows written.
    pub rows: u64,
    /// Files written.
    pub files: Vec<WrittenFile>,
}

/// What a transform run did.
#[derive(Debug, Clone, Serialize)]
pub struct TransformSummary {
    /// The output directory.
    pub output: PathBuf,
    /// Rows analyzed.
    pub analyze_rows: u64,
    /// Seconds of the analyze phase (reading included).
    pub analyze_seconds: f64,
    /// Seconds of the apply phase over every split (writing included).
    pub apply_seconds: f64,
    /// Every split written.
    pub splits: Vec<TransformedSplit>,
    /// The artifact's description.
    #[serde(skip)]
    pub artifact: Option<TransformJson>,
}

/// Opens data folders, files or globs as one source whose single-valued
/// tf.Example features are scalar columns (a SequenceExample's sequence
/// features are list-of-list columns under `##SEQUENCE##`). The payload
/// format is `payload`, else what the ExampleGen output records.
fn open_sources(
    inputs: &[String],
    format: Option<Format>,
    payload: Option<PayloadFormat>,
) -> Result<SourceTable> {
    let mut files = Vec::new();
    for i in inputs {
        files.extend(resolve_input(i)?);
    }
    let format = detect_format(&files, format)?;
    let payload = payload
        .or_else(|| inputs.iter().find_map(|i| recorded_payload(i)))
        .unwrap_or_default();
    let options = ReadOptions {
        tfrecord_scalars: true,
        tfrecord_payload: payload,
        ..Default::default()
    };
    Ok(SourceTable::open(SourceSpec::new(files, format, options))?)
}

/// The schema a transform query sees for a raw schema: tf.Example bytes
/// features as text (VARCHAR), as TFT treats them, everything else as is.
fn presented_schema(raw: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = raw
        .fields()
        .iter()
        .map(|f| Field::new(f.name(), presented_type(f.data_type()), true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// Bytes as text, inside lists (of lists) and structs too.
fn presented_type(t: &DataType) -> DataType {
    match t {
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => DataType::Utf8,
        DataType::List(item) => DataType::List(Arc::new(Field::new_list_field(
            presented_type(item.data_type()),
            true,
        ))),
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|f| Field::new(f.name(), presented_type(f.data_type()), true))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A session with weir's functions where `input` is `source` as the
/// columns of `schema` (absent columns NULL, others cast), so every split
/// presents the analyzed schema.
async fn session(
    execution: &Execution,
    source: SourceTable,
    schema: &SchemaRef,
) -> Result<SessionContext> {
    let ctx = execution.context().await?;
    register_analyzers(&ctx);
    let raw = source.source().schema();
    ctx.register_table("raw", Arc::new(source))?;
    let mut columns: Vec<Expr> = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let t = f.data_type();
        let column = || Expr::Column(Column::new_unqualified(f.name()));
        match raw.field_with_name(f.name()) {
            Ok(r) if r.data_type() == t => columns.push(column()),
            Ok(r) if matches!(r.data_type(), DataType::List(_)) && !matches!(t, DataType::List(_)) => {
                return Err(EngineError::Invalid(format!(
                    "feature '{}' holds more than one value in some example of this data, but the transform was analyzed on one value per example",
                    f.name()
                )))
            }
            Ok(_) => columns.push(cast(column(), t.clone()).alias(f.name())),
            Err(_) => columns.push(
                lit(ScalarValue::try_from(t).map_err(|e| {
                    EngineError::Invalid(format!(
                        "cannot present a column of type {t} to the transform: {e}"
                    ))
                })?)
                .alias(f.name()),
            ),
        }
    }
    let df = ctx.table("raw").await?;
    let df = if columns.is_empty() {
        df
    } else {
        df.select(columns)?
    };
    ctx.register_table("input", df.into_view())?;
    Ok(ctx)
}

/// Where a transform writes: the execution and the run's attempt root.
struct ApplyTarget<'a> {
    execution: &'a Execution,
    attempts: &'a Attempts,
    format: OutputFormat,
}

/// Applies `frozen` over `source` into `relative_dir` of the staged output,
/// one shard per input part (written by the `transform_parts` sink and committed
/// once each); returns the split's rows and files.
async fn write_split(
    target: &ApplyTarget<'_>,
    frozen: &FrozenTransform,
    source: SourceTable,
    schema: &SchemaRef,
    relative_dir: &str,
    split: &str,
) -> Result<TransformedSplit> {
    let parts = source.parts();
    let ctx = session(target.execution, source, schema).await?;
    let df = frozen.apply(&ctx).await?;
    let suffix = match target.format {
        OutputFormat::Tfrecord => ".gz",
        OutputFormat::Parquet => ".parquet",
    };
    let config = TransformPartSink {
        targets: ShardTargets {
            attempts_dir: target.attempts.dir(),
            shard_paths: (0..parts)
                .map(|i| {
                    format!(
                        "{relative_dir}/{}",
                        shard_name("transformed_examples", i, parts, suffix)
                    )
                })
                .collect(),
        },
        output_format: target.format,
    };
    let files = target
        .attempts
        .run_sink(
            target.execution,
            &ctx,
            df.into_unoptimized_plan(),
            Arc::new(config),
        )
        .await?;
    let files: Vec<_> = files.into_iter().map(|w| w.file).collect();
    Ok(TransformedSplit {
        split: split.to_string(),
        rows: files.iter().map(|f| f.records).sum(),
        files,
    })
}

/// One split to apply: its name, its data (folder, file or glob) and the
/// folder of its shards inside the output.
struct SplitToApply {
    name: String,
    data: String,
    relative: String,
}

/// How to apply a frozen transform to splits.
struct ApplyJob<'a> {
    execution: &'a Execution,
    format: OutputFormat,
    input_format: Option<Format>,
    payload: Option<PayloadFormat>,
    frozen: &'a FrozenTransform,
    schema: &'a SchemaRef,
}

impl ApplyJob<'_> {
    /// Applies to every split into `staged`, with an attempt root beside it
    /// that is removed afterwards, whatever happened.
    async fn run(
        &self,
        staged: &StagedDir,
        splits: &[SplitToApply],
    ) -> Result<Vec<TransformedSplit>> {
        let attempts = Attempts::create(staged)?;
        let target = ApplyTarget {
            execution: self.execution,
            attempts: &attempts,
            format: self.format,
        };
        let mut written = Vec::with_capacity(splits.len());
        for split in splits {
            let source = open_sources(
                std::slice::from_ref(&split.data),
                self.input_format,
                self.payload,
            )?;
            written.push(
                write_split(
                    &target,
                    self.frozen,
                    source,
                    self.schema,
                    &split.relative,
                    &split.name,
                )
                .await?,
            );
        }
        Ok(written)
    }
}

fn write_manifest(dir: &Path, summary: &TransformSummary) -> Result<()> {
    let path = dir.join(weir_datasets::sink::MANIFEST_NAME);
    let text = serde_json::to_string_pretty(summary)
        .map_err(|e| EngineError::Internal(format!("manifest: {e}")))?;
    std::fs::write(&path, text + "\n").map_err(|e| DatasetError::io(&path, e))?;
    Ok(())
}

/// Analyze + freeze + apply, as `weir transform` runs it.
#[derive(Debug, Clone)]
pub struct TransformBuilder {
    sql: String,
    input: PathBuf,
    output: PathBuf,
    analyze_splits: Vec<String>,
    output_format: OutputFormat,
    format: Option<Format>,
    execution: Execution,
    payload: Option<PayloadFormat>,
}

impl TransformBuilder {
    /// Transform the ExampleGen output `input` (Split-<name>/ folders) with
    /// `sql` into `output`.
    pub fn new(
        sql: impl Into<String>,
        input: impl Into<PathBuf>,
        output: impl Into<PathBuf>,
    ) -> Self {
        Self {
            sql: sql.into(),
            input: input.into(),
            output: output.into(),
            analyze_splits: vec!["train".into()],
            output_format: OutputFormat::Tfrecord,
            format: None,
            execution: Execution::InProcess,
            payload: None,
        }
    }

    /// Where to run: in-process (default) or on a Ballista cluster; the
    /// output is the same bytes.
    pub fn with_execution(mut self, execution: Execution) -> Self {
        self.execution = execution;
        self
    }

    /// The splits whose rows the analyzers see (default `train`).
    pub fn with_analyze_splits(mut self, splits: Vec<String>) -> Self {
        self.analyze_splits = splits;
        self
    }

    /// TFRecord of tf.Example (default) or Parquet.
    pub fn with_output_format(mut self, f: OutputFormat) -> Self {
        self.output_format = f;
        self
    }

    /// The input format [default: from file names].
    pub fn with_format(mut self, f: Format) -> Self {
        self.format = Some(f);
        self
    }

    /// The message TFRecord inputs hold [default: what the ExampleGen
    /// output records, else tf.Example].
    pub fn with_payload_format(mut self, payload: PayloadFormat) -> Self {
        self.payload = Some(payload);
        self
    }

    /// Runs both phases and commits the output.
    pub async fn execute(self) -> Result<TransformSummary> {
        let splits = split_folders(&self.input)?;
        let mut analyze_dirs = Vec::new();
        for name in &self.analyze_splits {
            match splits.iter().find(|(n, _)| n == name) {
                Some((_, dir)) => analyze_dirs.push(dir.to_string_lossy().into_owned()),
                None => {
                    return Err(EngineError::Invalid(format!(
                        "analyze split '{name}' is not in {} (it has {})",
                        self.input.display(),
                        splits
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
            }
        }
        let started = Instant::now();
        let source = open_sources(&analyze_dirs, self.format, self.payload)?;
        let schema = presented_schema(&source.source().schema());
        let ctx = session(&self.execution, source, &schema).await?;
        let frozen = self
            .execution
            .watched(|| async { Ok::<_, EngineError>(analyze(&ctx, &self.sql).await?) })
            .await?;
        let artifact = TransformArtifact::build(frozen.clone(), schema.clone()).await?;
        let analyze_seconds = started.elapsed().as_secs_f64();

        let staged = StagedDir::create(&self.output)?;
        let json = artifact.write_into(&staged.path().join(TRANSFORM_GRAPH))?;
        let started = Instant::now();
        let to_apply: Vec<SplitToApply> = splits
            .iter()
            .map(|(name, dir)| SplitToApply {
                name: name.clone(),
                data: dir.to_string_lossy().into_owned(),
                relative: format!("{TRANSFORMED_EXAMPLES}/Split-{name}"),
            })
            .collect();
        let job = ApplyJob {
            execution: &self.execution,
            format: self.output_format,
            input_format: self.format,
            payload: self.payload,
            frozen: &frozen,
            schema: &artifact.input_schema,
        };
        let written = job.run(&staged, &to_apply).await?;
        let analyze_rows = written
            .iter()
            .filter(|s| self.analyze_splits.contains(&s.split))
            .map(|s| s.rows)
            .sum();
        let summary = TransformSummary {
            output: self.output.clone(),
            analyze_rows,
            analyze_seconds,
            apply_seconds: started.elapsed().as_secs_f64(),
            splits: written,
            artifact: Some(json),
        };
        write_manifest(staged.path(), &summary)?;
        staged.commit()?;
        Ok(summary)
    }
}

/// Applies a frozen artifact to new data, as `weir transform apply` runs it.
#[derive(Debug, Clone)]
pub struct ApplyBuilder {
    artifact: PathBuf,
    input: String,
    output: PathBuf,
    output_format: OutputFormat,
    format: Option<Format>,
    execution: Execution,
    payload: Option<PayloadFormat>,
}

impl ApplyBuilder {
    /// Apply the artifact at `artifact` (a `transform_graph/` folder or a
    /// transform output holding one) to `input` into `output`.
    pub fn new(
        artifact: impl Into<PathBuf>,
        input: impl Into<String>,
        output: impl Into<PathBuf>,
    ) -> Self {
        Self {
            artifact: artifact.into(),
            input: input.into(),
            output: output.into(),
            output_format: OutputFormat::Tfrecord,
            format: None,
            execution: Execution::InProcess,
            payload: None,
        }
    }

    /// Where to run: in-process (default) or on a Ballista cluster.
    pub fn with_execution(mut self, execution: Execution) -> Self {
        self.execution = execution;
        self
    }

    /// TFRecord of tf.Example (default) or Parquet.
    pub fn with_output_format(mut self, f: OutputFormat) -> Self {
        self.output_format = f;
        self
    }

    /// The input format [default: from file names].
    pub fn with_format(mut self, f: Format) -> Self {
        self.format = Some(f);
        self
    }

    /// The message TFRecord inputs hold [default: what the ExampleGen
    /// output records, else tf.Example].
    pub fn with_payload_format(mut self, payload: PayloadFormat) -> Self {
        self.payload = Some(payload);
        self
    }

    /// Applies and commits: `OUTPUT/Split-<name>/` per split folder of the
    /// input, or `OUTPUT/` itself for an input without split folders.
    pub async fn execute(self) -> Result<TransformSummary> {
        let dir = if self.artifact.join(TRANSFORM_GRAPH).is_dir() {
            self.artifact.join(TRANSFORM_GRAPH)
        } else {
            self.artifact.clone()
        };
        let artifact = TransformArtifact::load(&dir)?;
        let input = Path::new(&self.input);
        let splits = match split_folders(input) {
            Ok(s) if input.is_dir() => s
                .into_iter()
                .map(|(n, d)| {
                    (
                        n.clone(),
                        d.to_string_lossy().into_owned(),
                        format!("Split-{n}"),
                    )
                })
                .collect(),
            _ => vec![("all".to_string(), self.input.clone(), ".".to_string())],
        };
        let staged = StagedDir::create(&self.output)?;
        let started = Instant::now();
        let to_apply: Vec<SplitToApply> = splits
            .into_iter()
            .map(|(name, data, relative)| SplitToApply {
                name,
                data,
                relative,
            })
            .collect();
        let job = ApplyJob {
            execution: &self.execution,
            format: self.output_format,
            input_format: self.format,
            payload: self.payload,
            frozen: &artifact.frozen,
            schema: &artifact.input_schema,
        };
        let written = job.run(&staged, &to_apply).await?;
        let summary = TransformSummary {
            output: self.output.clone(),
            analyze_rows: 0,
            analyze_seconds: 0.0,
            apply_seconds: started.elapsed().as_secs_f64(),
            splits: written,
            artifact: None,
        };
        write_manifest(staged.path(), &summary)?;
        staged.commit()?;
        Ok(summary)
    }
}
