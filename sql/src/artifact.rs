//! The transform artifact: a frozen transform as files that trainers and
//! serving runtimes load, so they apply exactly the preprocessing that
//! produced the training data.
//!
//! ```text
//! transform_graph/
//!   transform.json                  format version, input and output schemas,
//!                                   the SQL, each output's expression with its
//!                                   frozen constants, sha256 of every asset
//!   assets/vocab_<name>...          vocabularies in TFT's text format
//!   transformed_metadata/schema.pbtxt   the output schema (tensorflow-metadata)
//!   transform.onnx                  the same mappers as an ONNX graph
//! ```
//!
//! [`TransformArtifact::load`] checks every asset's hash and plans the SQL
//! once; [`TransformArtifact::apply`] then evaluates the output expressions
//! on a `RecordBatch` directly (no query engine, no async runtime), and
//! `weir transform apply` streams files through the same plan.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{new_null_array, ArrayRef, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::MemTable;
use datafusion::common::DFSchema;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::optimizer::analyzer::type_coercion::TypeCoercion;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use weir_tfmd::pbtxt::PbValue;
use weir_tfmd::schema::{DomainInfo, Feature, IntDomain, Presence};
use weir_tfmd::FeatureType;

use crate::frozen::{Frozen, Vocabulary};
use crate::planner::{register_analyzers, FrozenTransform};
use crate::{Result, TransformError};

/// Version of `transform.json`'s layout.
pub const FORMAT_VERSION: u32 = 1;
/// The artifact's description file.
pub const TRANSFORM_JSON: &str = "transform.json";
/// The ONNX graph's file.
pub const TRANSFORM_ONNX: &str = "transform.onnx";

/// A column of the input or output schema in `transform.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSpec {
    /// Column name.
    pub name: String,
    /// Arrow type, as Arrow prints it.
    pub data_type: String,
    /// Whether it may hold NULL.
    pub nullable: bool,
    /// For outputs: the expression, analyzers replaced by their frozen
    /// mappers (vocabularies by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

/// A vocabulary asset in `transform.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetSpec {
    /// The vocabulary's name (what `apply_vocabulary` refers to).
    pub name: String,
    /// Path relative to the artifact directory.
    pub path: String,
    /// Tokens in the file.
    pub size: usize,
    /// sha256 of the file, hex.
    pub sha256: String,
}

/// Whether `transform.onnx` was written, and how it differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnnxSpec {
    /// `transform.onnx` when written.
    pub path: Option<String>,
    /// Why it was not written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_exported: Option<String>,
    /// What the graph does differently from the Rust apply.
    pub notes: Vec<String>,
}

/// `transform.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformJson {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The program that wrote it.
    pub producer: String,
    /// The transform SQL as written.
    pub sql: String,
    /// The columns the SQL reads.
    pub input_schema: Vec<ColumnSpec>,
    /// The outputs, in SQL order.
    pub output_schema: Vec<ColumnSpec>,
    /// One entry per analyzer call, in evaluation order.
    pub analyzers: Vec<Frozen>,
    /// Vocabulary files.
    pub assets: Vec<AssetSpec>,
    /// The ONNX export.
    pub onnx: OnnxSpec,
}

/// A loaded (or freshly built) transform artifact.
#[derive(Debug, Clone)]
pub struct TransformArtifact {
    /// The frozen transform.
    pub frozen: FrozenTransform,
    /// Schema of the raw input.
    pub input_schema: SchemaRef,
    /// Schema of the transformed output.
    pub output_schema: SchemaRef,
    /// Output expressions, type-coerced, vocabularies as literal lists.
    pub outputs: Vec<Expr>,
    /// Output expressions with vocabularies by name.
    pub display: Vec<String>,
    /// The outputs type-coerced by DataFusion (explicit casts), what the
    /// ONNX export translates.
    pub coerced: Vec<Expr>,
    /// The outputs' int domains (min, max) where known (vocabulary ids,
    /// bucket ids), for the output schema.
    pub int_domains: Vec<Option<(i64, i64)>>,
    physical: Vec<Arc<dyn PhysicalExpr>>,
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    futures::executor::block_on(f)
}

/// The (min, max) of an output that is directly a vocabulary or bucket id.
fn int_domain(e: &Expr) -> Option<(i64, i64)> {
    let inner = match e {
        Expr::Alias(a) => a.expr.as_ref(),
        other => other,
    };
    let Expr::ScalarFunction(f) = inner else {
        return None;
    };
    match f.name() {
        "apply_vocabulary" => {
            let size = match &f.args[1] {
                Expr::Literal(datafusion::common::ScalarValue::List(l), _) => l.value(0).len(),
                _ => return None,
            } as i64;
            let oov = match f.args.get(2) {
                Some(Expr::Literal(v, _)) => v.to_string().parse::<i64>().ok()?,
                _ => 0,
            };
            let default = match f.args.get(3) {
                Some(Expr::Literal(v, _)) => v.to_string().parse::<i64>().ok()?,
                _ => -1,
            };
            if oov > 0 {
                Some((0, size + oov - 1))
            } else {
                Some((default.min(0), (size - 1).max(default)))
            }
        }
        "apply_buckets" => match &f.args[1] {
            Expr::Literal(datafusion::common::ScalarValue::List(l), _) => {
                Some((0, l.value(0).len() as i64))
            }
            _ => None,
        },
        _ => None,
    }
}

impl TransformArtifact {
    /// Plans `frozen` over input of `input_schema`; the artifact's input
    /// schema keeps only the columns the SQL reads.
    pub async fn build(frozen: FrozenTransform, input_schema: SchemaRef) -> Result<Self> {
        let plan_over = |schema: SchemaRef| {
            let frozen = &frozen;
            async move {
                let ctx = SessionContext::new();
                register_analyzers(&ctx);
                let table = MemTable::try_new(schema, vec![vec![]])?;
                ctx.register_table("input", Arc::new(table))?;
                let plan = frozen.plan(&ctx).await?;
                Ok::<_, TransformError>((ctx, plan))
            }
        };
        let (_, plan) = plan_over(input_schema.clone()).await?;
        let mut used = std::collections::HashSet::new();
        for e in &plan.outputs {
            for c in e.column_refs() {
                used.insert(c.name.clone());
            }
        }
        let input_schema = Arc::new(Schema::new(
            input_schema
                .fields()
                .iter()
                .filter(|f| used.contains(f.name()))
                .cloned()
                .collect::<Vec<_>>(),
        ));
        let (ctx, plan) = plan_over(input_schema.clone()).await?;
        let scan_schema = scan_schema(&plan.input)?;
        let projected = LogicalPlanBuilder::from(plan.input.as_ref().clone())
            .project(plan.outputs.clone())?
            .build()?;
        let output_schema = Arc::new(projected.schema().as_arrow().clone());
        let coerced_plan =
            TypeCoercion::new().analyze(projected.clone(), ctx.state().config_options())?;
        let coerced = match &coerced_plan {
            LogicalPlan::Projection(p) => p.expr.clone(),
            _ => plan.outputs.clone(),
        };
        // Simplified as the optimizer would (coalesce becomes CASE, ...),
        // then compiled once for `apply`.
        let simplifier = ExprSimplifier::new(
            SimplifyContext::builder()
                .with_schema(Arc::new(scan_schema.clone()))
                .build(),
        );
        let physical = coerced
            .iter()
            .map(|e| {
                let e = simplifier.simplify(e.clone())?;
                ctx.create_physical_expr(e, &scan_schema)
            })
            .collect::<datafusion::common::Result<Vec<_>>>()?;
        let int_domains = coerced.iter().map(int_domain).collect();
        Ok(Self {
            frozen,
            input_schema,
            output_schema,
            outputs: plan.outputs,
            display: plan.display,
            coerced,
            int_domains,
            physical,
        })
    }

    /// Applies the frozen transform to one batch of raw input: columns
    /// are found by name (extra columns are ignored) and cast to the
    /// analyzed types where they differ.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.input_schema.fields().len());
        for f in self.input_schema.fields() {
            let column = match batch.column_by_name(f.name()) {
                Some(c) if c.data_type() == f.data_type() => c.clone(),
                Some(c) => cast(c, f.data_type()).map_err(|e| {
                    TransformError::Plan(format!(
                        "input column '{}' is {} but the transform was analyzed on {}: {e}",
                        f.name(),
                        c.data_type(),
                        f.data_type()
                    ))
                })?,
                None if f.is_nullable() => new_null_array(f.data_type(), rows),
                None => {
                    return Err(TransformError::Plan(format!(
                        "input has no column '{}'",
                        f.name()
                    )))
                }
            };
            columns.push(column);
        }
        let input = RecordBatch::try_new(self.input_schema.clone(), columns)
            .map_err(datafusion::error::DataFusionError::from)?;
        let outputs = self
            .physical
            .iter()
            .map(|p| p.evaluate(&input).and_then(|v| v.into_array(rows)))
            .collect::<datafusion::common::Result<Vec<_>>>()?;
        let fields: Vec<Field> = self
            .output_schema
            .fields()
            .iter()
            .zip(&outputs)
            .map(|(f, a)| Field::new(f.name(), a.data_type().clone(), f.is_nullable()))
            .collect();
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), outputs)
            .map_err(datafusion::error::DataFusionError::from)?)
    }

    /// The `transform.json` description (ONNX part as given).
    pub fn description(&self, onnx: OnnxSpec) -> Result<TransformJson> {
        let columns = |s: &Schema| -> Vec<ColumnSpec> {
            s.fields()
                .iter()
                .map(|f| ColumnSpec {
                    name: f.name().clone(),
                    data_type: f.data_type().to_string(),
                    nullable: f.is_nullable(),
                    expression: None,
                })
                .collect()
        };
        let mut output_schema = columns(&self.output_schema);
        for (c, e) in output_schema.iter_mut().zip(&self.display) {
            c.expression = Some(e.clone());
        }
        let assets = self
            .frozen
            .vocabularies
            .iter()
            .map(|v| AssetSpec {
                name: v.name.clone(),
                path: format!("assets/{}", v.file_name),
                size: v.tokens.len(),
                sha256: sha256_hex(&v.file_text()),
            })
            .collect();
        Ok(TransformJson {
            format_version: FORMAT_VERSION,
            producer: format!("weir {}", env!("CARGO_PKG_VERSION")),
            sql: self.frozen.sql.clone(),
            input_schema: columns(&self.input_schema),
            output_schema,
            analyzers: self.frozen.frozen.clone(),
            assets,
            onnx,
        })
    }

    /// Writes the artifact into `dir` (created; the caller stages it).
    pub fn write_into(&self, dir: &Path) -> Result<TransformJson> {
        let io = |p: &Path, e: std::io::Error| TransformError::Io(format!("{}: {e}", p.display()));
        let assets = dir.join("assets");
        std::fs::create_dir_all(&assets).map_err(|e| io(&assets, e))?;
        for v in &self.frozen.vocabularies {
            let path = assets.join(&v.file_name);
            std::fs::write(&path, v.file_text()).map_err(|e| io(&path, e))?;
        }
        let meta = dir.join("transformed_metadata");
        std::fs::create_dir_all(&meta).map_err(|e| io(&meta, e))?;
        let schema_path = meta.join("schema.pbtxt");
        std::fs::write(&schema_path, self.output_schema_pbtxt())
            .map_err(|e| io(&schema_path, e))?;
        let onnx = match crate::onnx::export(crate::onnx::ExportInput {
            input_schema: &self.input_schema,
            output_schema: &self.output_schema,
            coerced: &self.coerced,
            sql: &self.frozen.sql,
        }) {
            Ok((bytes, notes)) => {
                let path = dir.join(TRANSFORM_ONNX);
                std::fs::write(&path, bytes).map_err(|e| io(&path, e))?;
                OnnxSpec {
                    path: Some(TRANSFORM_ONNX.into()),
                    not_exported: None,
                    notes,
                }
            }
            Err(why) => OnnxSpec {
                path: None,
                not_exported: Some(why.to_string()),
                notes: Vec::new(),
            },
        };
        let json = self.description(onnx)?;
        let path = dir.join(TRANSFORM_JSON);
        let text = serde_json::to_string_pretty(&json)
            .map_err(|e| TransformError::Plan(format!("transform.json: {e}")))?;
        std::fs::write(&path, text + "\n").map_err(|e| io(&path, e))?;
        Ok(json)
    }

    /// Loads an artifact directory, checking every asset against its hash.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let path = dir.join(TRANSFORM_JSON);
        let text = std::fs::read(&path)
            .map_err(|e| TransformError::Io(format!("{}: {e}", path.display())))?;
        let json: TransformJson = serde_json::from_slice(&text)
            .map_err(|e| TransformError::Artifact(path.clone(), e.to_string()))?;
        if json.format_version != FORMAT_VERSION {
            return Err(TransformError::Artifact(
                path,
                format!(
                    "format version {} (this weir reads {FORMAT_VERSION})",
                    json.format_version
                ),
            ));
        }
        let mut vocabularies = Vec::new();
        for a in &json.assets {
            let file = dir.join(&a.path);
            let bytes = std::fs::read(&file)
                .map_err(|e| TransformError::Io(format!("{}: {e}", file.display())))?;
            let got = sha256_hex(&bytes);
            if got != a.sha256 {
                return Err(TransformError::Artifact(
                    file,
                    format!("sha256 {got} differs from transform.json's {}", a.sha256),
                ));
            }
            vocabularies.push(Vocabulary {
                name: a.name.clone(),
                file_name: PathBuf::from(&a.path)
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default(),
                tokens: Vocabulary::parse_file_text(&bytes),
                counts: Vec::new(),
            });
        }
        let fields = json
            .input_schema
            .iter()
            .map(|c| {
                let t: DataType = c.data_type.parse().map_err(|e| {
                    TransformError::Artifact(
                        path.clone(),
                        format!("input column '{}': type '{}': {e}", c.name, c.data_type),
                    )
                })?;
                Ok(Field::new(&c.name, t, c.nullable))
            })
            .collect::<Result<Vec<_>>>()?;
        let frozen = FrozenTransform {
            sql: json.sql.clone(),
            frozen: json.analyzers.clone(),
            vocabularies,
        };
        run(Self::build(frozen, Arc::new(Schema::new(fields))))
    }

    /// `transformed_metadata/schema.pbtxt`: one feature per output, sorted
    /// by name, as TF-Transform writes it for dense outputs.
    pub fn output_schema_pbtxt(&self) -> String {
        let mut order: Vec<usize> = (0..self.output_schema.fields().len()).collect();
        order.sort_by(|&a, &b| {
            self.output_schema
                .field(a)
                .name()
                .cmp(self.output_schema.field(b).name())
        });
        let mut schema = weir_tfmd::Schema::default();
        for i in order {
            let f = self.output_schema.field(i);
            let (t, list) = match f.data_type() {
                DataType::List(item) | DataType::LargeList(item) => {
                    (item.data_type().clone(), true)
                }
                t => (t.clone(), false),
            };
            let kind = if t.is_integer() || t == DataType::Boolean {
                FeatureType::Int
            } else if t.is_floating() {
                FeatureType::Float
            } else {
                FeatureType::Bytes
            };
            let mut feature = Feature {
                name: f.name().clone(),
                r#type: Some(kind),
                ..Default::default()
            };
            if let Some((min, max)) = self.int_domains[i] {
                feature.domain = DomainInfo::Int(IntDomain {
                    min: Some(min),
                    max: Some(max),
                    extra: vec![("is_categorical".into(), PbValue::Ident("true".into()))],
                });
            }
            if !f.is_nullable() {
                feature.presence = Some(Presence {
                    min_fraction: Some(1.0),
                    min_count: None,
                });
                if !list {
                    feature.shape = Some(vec![1]);
                }
            }
            schema.features.push(feature);
        }
        schema.to_text()
    }
}

/// The DataFusion schema of the table the projection reads; errors when
/// the query filters or joins (a batch apply is a projection only).
fn scan_schema(input: &LogicalPlan) -> Result<DFSchema> {
    match input {
        LogicalPlan::TableScan(_) => Ok(input.schema().as_ref().clone()),
        LogicalPlan::SubqueryAlias(a) => scan_schema(&a.input),
        other => Err(TransformError::Plan(format!(
            "a transform artifact's SQL must be a projection over input (SELECT ... FROM input), \
             without WHERE, JOIN or GROUP BY; got a {} under the projection",
            other.display()
        ))),
    }
}

/// sha256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
