//! Planning a transform query: find the analyzer calls of the projection,
//! evaluate them in one aggregate pass (partial/final, so it distributes),
//! freeze the results, and plan the query again over any data with each
//! call replaced by its mapper over the frozen constants.
//!
//! An analyzer whose argument holds another analyzer
//! (`scale_to_z_score(x - mean(x))`) is evaluated in a later pass, after
//! the inner one froze:
//! each round evaluates the innermost calls, so a query without nesting
//! analyzes in exactly one pass.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, UInt64Type};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::dataframe::DataFrame;
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::ExprSchemable;
use datafusion::logical_expr::{AggregateUDF, Expr, LogicalPlan, LogicalPlanBuilder, ScalarUDF};
use datafusion::prelude::{cast, lit, SessionContext};
use weir_udfs::stats::{NumericStatsUdaf, QuantileSketch};
use weir_udfs::transform::{
    ApplyBucketsUdf, ApplyTfidfUdf, ApplyVocabularyUdf, DocumentFrequencyUdaf, VocabularyUdaf,
};

use crate::analyzers::{placeholders, AnalyzerKind};
use crate::frozen::{Frozen, JsonF64, Number, Vocabulary};
use crate::rewrite::rewrite_analyzer_names;
use crate::{Result, TransformError};

/// KLL parameter of `bucketize`'s and `quantiles`' sketches: TF-Transform's
/// default epsilon there is 0.001, and with k = 16384 the sketch's rank
/// error is far below that (and it holds up to 16,384 values exactly, so
/// small analyze sets get exact, deterministic boundaries).
pub const BUCKETIZE_KLL_K: u16 = 16384;

/// Registers the analyzer placeholders and weir's functions with `ctx`.
pub fn register_analyzers(ctx: &SessionContext) {
    for p in placeholders() {
        ctx.register_udf(p);
    }
    weir_udfs::register_all(ctx);
}

/// A transform query with every analyzer evaluated.
#[derive(Debug, Clone)]
pub struct FrozenTransform {
    /// The query text.
    pub sql: String,
    /// One entry per analyzer call, in evaluation order.
    pub frozen: Vec<Frozen>,
    /// The vocabularies computed.
    pub vocabularies: Vec<Vocabulary>,
}

/// The query planned with its analyzers frozen.
#[derive(Debug, Clone)]
pub struct TransformPlan {
    /// The rows the projection reads (`input`, possibly filtered).
    pub input: Arc<LogicalPlan>,
    /// One expression per output, named as in the SQL, vocabularies as
    /// literal token lists.
    pub outputs: Vec<Expr>,
    /// The same expressions with vocabularies by name (short, for people).
    pub display: Vec<String>,
}

/// The projection of the transform query `sql`, planned in `ctx`.
pub async fn plan_projection(
    ctx: &SessionContext,
    sql: &str,
) -> Result<(Vec<Expr>, Arc<LogicalPlan>)> {
    let sql = rewrite_analyzer_names(sql)?;
    let plan = ctx.state().create_logical_plan(&sql).await?;
    match plan {
        LogicalPlan::Projection(p) => {
            let exprs = p
                .expr
                .iter()
                .map(|e| {
                    let name = e.schema_name().to_string();
                    e.clone().alias_if_changed(name)
                })
                .collect::<datafusion::common::Result<Vec<_>>>()?;
            Ok((exprs, p.input.clone()))
        }
        other => Err(TransformError::Plan(format!(
            "expected SELECT <expressions> FROM input, got a {} plan",
            other.display()
        ))),
    }
}

fn has_analyzer(e: &Expr) -> bool {
    let mut found = false;
    let _ = e.apply(|n| {
        if let Expr::ScalarFunction(f) = n {
            if AnalyzerKind::from_name(f.name()).is_some() {
                found = true;
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// Replaces, in visit order, every analyzer call whose arguments hold no
/// analyzer by `f(kind, args)`; returns the new expressions.
fn rewrite_innermost(
    exprs: Vec<Expr>,
    mut f: impl FnMut(AnalyzerKind, &[Expr]) -> Result<Expr>,
) -> Result<Vec<Expr>> {
    let mut failure = None;
    let mut out = Vec::with_capacity(exprs.len());
    for e in exprs {
        let t = e.transform_down(|node| {
            if let Expr::ScalarFunction(call) = &node {
                if let Some(kind) = AnalyzerKind::from_name(call.name()) {
                    if !call.args.iter().any(has_analyzer) {
                        return match f(kind, &call.args) {
                            Ok(new) => Ok(Transformed::new(new, true, TreeNodeRecursion::Jump)),
                            Err(err) => {
                                failure = Some(err);
                                Ok(Transformed::new(node, false, TreeNodeRecursion::Stop))
                            }
                        };
                    }
                }
            }
            Ok(Transformed::no(node))
        })?;
        if let Some(err) = failure.take() {
            return Err(err);
        }
        out.push(t.data);
    }
    Ok(out)
}

/// The innermost analyzer calls of `exprs` with identical calls once (so
/// `tfidf(ids, n)['index']` and `tfidf(ids, n)['weight']` share one
/// analysis and one vocabulary), and for each call in visit order the
/// index of its distinct call.
type InnermostCalls = (Vec<(AnalyzerKind, Vec<Expr>)>, Vec<usize>);

fn innermost_calls(exprs: &[Expr]) -> Result<InnermostCalls> {
    let mut distinct: Vec<(AnalyzerKind, Vec<Expr>)> = Vec::new();
    let mut index = Vec::new();
    rewrite_innermost(exprs.to_vec(), |kind, args| {
        let i = match distinct.iter().position(|(k, a)| *k == kind && a == args) {
            Some(i) => i,
            None => {
                distinct.push((kind, args.to_vec()));
                distinct.len() - 1
            }
        };
        index.push(i);
        Ok(lit(0))
    })?;
    Ok((distinct, index))
}

/// Replaces each innermost analyzer call of `exprs` by its mapper over
/// `frozen[index[call]]`, `index` as [`innermost_calls`] numbered them.
fn map_innermost(exprs: Vec<Expr>, frozen: &[Frozen], index: &[usize]) -> Result<Vec<Expr>> {
    let mut call = 0;
    rewrite_innermost(exprs, |kind, args| {
        call += 1;
        mapper(&frozen[index[call - 1]], kind, args)
    })
}

/// A constant argument (`lit`, a negated `lit`, or a cast of one).
fn constant_value(e: &Expr) -> Result<ScalarValue> {
    Ok(match e {
        Expr::Literal(v, _) => v.clone(),
        Expr::Negative(inner) => constant_value(inner)?.arithmetic_negate()?,
        Expr::Cast(c) => constant_value(&c.expr)?.cast_to(c.field.data_type())?,
        _ => ScalarValue::Null,
    })
}

fn constant(e: &Expr, what: &str) -> Result<f64> {
    match constant_value(e)?.cast_to(&DataType::Float64)? {
        ScalarValue::Float64(Some(x)) => Ok(x),
        _ => Err(TransformError::Plan(format!(
            "{what} must be a constant number, got {e}"
        ))),
    }
}

fn optional(args: &[Expr], i: usize, what: &str) -> Result<Option<f64>> {
    args.get(i).map(|e| constant(e, what)).transpose()
}

fn optional_text(args: &[Expr], i: usize, what: &str) -> Result<Option<String>> {
    args.get(i)
        .map(|e| match constant_value(e)?.cast_to(&DataType::Utf8)? {
            ScalarValue::Utf8(Some(s)) => Ok(s),
            _ => Err(TransformError::Plan(format!(
                "{what} must be a constant string, got {e}"
            ))),
        })
        .transpose()
}

fn field<'a>(s: &'a StructArray, name: &str) -> &'a dyn Array {
    s.column_by_name(name).expect("result field").as_ref()
}

/// The aggregate that evaluates one analyzer call over its argument `x`.
fn aggregate_of(kind: AnalyzerKind, x: Expr, input: &DFSchema) -> Result<Expr> {
    Ok(match kind {
        AnalyzerKind::ComputeAndApplyVocabulary | AnalyzerKind::Vocabulary => {
            // Tokens, or lists of tokens (each element counts once).
            let to = match x.get_type(input)? {
                DataType::List(_) | DataType::LargeList(_) => {
                    DataType::List(Arc::new(Field::new_list_field(DataType::Binary, true)))
                }
                _ => DataType::Binary,
            };
            AggregateUDF::from(VocabularyUdaf::new()).call(vec![cast(x, to)])
        }
        AnalyzerKind::Bucketize | AnalyzerKind::Quantiles => {
            AggregateUDF::from(NumericStatsUdaf::with_k(BUCKETIZE_KLL_K))
                .call(vec![cast(x, DataType::Float64)])
        }
        AnalyzerKind::Tfidf => match x.get_type(input)? {
            DataType::List(_) | DataType::LargeList(_) => {
                AggregateUDF::from(DocumentFrequencyUdaf::new()).call(vec![cast(x, list_of_i64())])
            }
            other => {
                return Err(TransformError::Plan(format!(
                    "tfidf: x must be a list of term ids (for example \
                     compute_and_apply_vocabulary(string_to_array(text, ' '))), got {other}"
                )))
            }
        },
        AnalyzerKind::Min => agg::min(x),
        AnalyzerKind::Max => agg::max(x),
        AnalyzerKind::Sum => agg::sum(x),
        AnalyzerKind::Size => agg::count(x),
        AnalyzerKind::Mean => agg::avg(cast(x, DataType::Float64)),
        AnalyzerKind::Var => agg::var_pop(cast(x, DataType::Float64)),
        AnalyzerKind::ZScore | AnalyzerKind::ZeroOne | AnalyzerKind::MinMax => {
            AggregateUDF::from(NumericStatsUdaf::new()).call(vec![cast(x, DataType::Float64)])
        }
    })
}

fn list_of_i64() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)))
}

/// TF-Transform's idf of a term in `df` of `documents` documents.
fn idf(documents: u64, df: u64, smooth: bool) -> f64 {
    let (n, df) = (documents as f64, df as f64);
    if smooth {
        1.0 + ((n + 1.0) / (df + 1.0)).ln()
    } else {
        1.0 + (n / df).ln()
    }
}

fn positive_integer(v: Option<f64>, what: &str) -> Result<usize> {
    match v {
        Some(b) if b >= 1.0 && b.fract() == 0.0 => Ok(b as usize),
        Some(b) => Err(TransformError::Plan(format!(
            "{what} {b} is not a positive integer"
        ))),
        None => Err(TransformError::Plan(format!("{what} is required"))),
    }
}

/// Names and counts vocabularies the way TF-Transform names its scopes.
#[derive(Default)]
struct VocabularyNames {
    compute_and_apply: usize,
    plain: usize,
}

impl VocabularyNames {
    /// (name, asset file name) of the next vocabulary of `kind`.
    fn next(&mut self, kind: AnalyzerKind, given: Option<String>) -> (String, String) {
        let numbered = |base: &str, k: usize| match k {
            0 => base.to_string(),
            k => format!("{base}_{k}"),
        };
        if let Some(name) = given {
            return (name.clone(), name);
        }
        if kind == AnalyzerKind::ComputeAndApplyVocabulary {
            let name = numbered("compute_and_apply_vocabulary", self.compute_and_apply);
            self.compute_and_apply += 1;
            let file = format!("vocab_{name}_vocabulary");
            (name, file)
        } else {
            let name = numbered("vocabulary", self.plain);
            self.plain += 1;
            let file = format!("vocab_{name}");
            (name, file)
        }
    }
}

/// Freezes one call from its column `s` of the aggregate's result row.
fn freeze(
    kind: AnalyzerKind,
    args: &[Expr],
    result: &dyn Array,
    names: &mut VocabularyNames,
    vocabularies: &mut Vec<Vocabulary>,
) -> Result<Frozen> {
    let numeric = |s: &StructArray, name: &str| {
        let n = field(s, "n").as_primitive::<UInt64Type>().value(0);
        if n > 0 {
            field(s, name).as_primitive::<Float64Type>().value(0)
        } else {
            0.0
        }
    };
    let number = |v: ScalarValue| -> Result<Option<Number>> {
        Ok(match v {
            v if v.is_null() => None,
            v if v.data_type().is_integer() => match v.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(i)) => Some(Number::Int(i)),
                _ => None,
            },
            v => match v.cast_to(&DataType::Float64)? {
                ScalarValue::Float64(Some(f)) => Some(Number::Float(JsonF64(f))),
                _ => None,
            },
        })
    };
    Ok(match kind {
        AnalyzerKind::ZScore => {
            let s = result.as_struct();
            Frozen::ZScore {
                mean: JsonF64(numeric(s, "mean")),
                std_dev: JsonF64(numeric(s, "std_dev")),
            }
        }
        AnalyzerKind::ZeroOne | AnalyzerKind::MinMax => {
            let s = result.as_struct();
            let (out_min, out_max) = if kind == AnalyzerKind::ZeroOne {
                (0.0, 1.0)
            } else {
                (
                    optional(args, 1, "scale_by_min_max: out_min")?.unwrap_or(0.0),
                    optional(args, 2, "scale_by_min_max: out_max")?.unwrap_or(1.0),
                )
            };
            if out_min >= out_max {
                return Err(TransformError::Plan(format!(
                    "scale_by_min_max: out_min {out_min} must be below out_max {out_max}"
                )));
            }
            Frozen::MinMax {
                min: JsonF64(numeric(s, "finite_min")),
                max: JsonF64(numeric(s, "finite_max")),
                out_min: JsonF64(out_min),
                out_max: JsonF64(out_max),
            }
        }
        AnalyzerKind::Min
        | AnalyzerKind::Max
        | AnalyzerKind::Sum
        | AnalyzerKind::Size
        | AnalyzerKind::Mean
        | AnalyzerKind::Var => Frozen::Constant {
            value: number(ScalarValue::try_from_array(result, 0)?)?,
            data_type: result.data_type().to_string(),
        },
        AnalyzerKind::Bucketize | AnalyzerKind::Quantiles => {
            let what = format!("{}: num_buckets", kind.name());
            let nb = positive_integer(optional(args, 1, &what)?, &what)?;
            let s = result.as_struct();
            let sketch =
                QuantileSketch::from_bytes(field(s, "sketch").as_binary::<i32>().value(0))?;
            let boundaries: Vec<JsonF64> = (1..nb)
                .filter_map(|q| sketch.quantile(q as f64 / nb as f64))
                .map(JsonF64)
                .collect();
            if kind == AnalyzerKind::Bucketize {
                Frozen::Buckets {
                    boundaries,
                    num_buckets: nb as i64,
                }
            } else {
                Frozen::Quantiles { boundaries }
            }
        }
        AnalyzerKind::Tfidf => {
            let vocab_size =
                positive_integer(optional(args, 1, "tfidf: vocab_size")?, "tfidf: vocab_size")?;
            let smooth = match args.get(2).map(constant_value).transpose()? {
                None => true,
                Some(ScalarValue::Boolean(Some(b))) => b,
                Some(_) => {
                    return Err(TransformError::Plan(format!(
                        "tfidf: smooth must be true or false, got {}",
                        args[2]
                    )))
                }
            };
            let s = result.as_struct();
            let documents = field(s, "documents").as_primitive::<UInt64Type>().value(0);
            let ids = field(s, "ids").as_list::<i32>().value(0);
            let counts = field(s, "counts").as_list::<i32>().value(0);
            let mut df = vec![0u64; vocab_size];
            let ids = ids.as_primitive::<Int64Type>().values();
            let counts = counts.as_primitive::<UInt64Type>().values();
            for (&id, &n) in ids.iter().zip(counts.iter()) {
                if id < 0 || id as usize >= vocab_size {
                    return Err(TransformError::Plan(format!(
                        "tfidf: term id {id} in the analyze data is outside [0, {vocab_size}) \
                         (vocab_size must count every id, OOV buckets included)"
                    )));
                }
                df[id as usize] = n;
            }
            Frozen::Tfidf {
                vocab_size: vocab_size as i64,
                smooth,
                documents,
                idf: df
                    .iter()
                    .map(|&d| JsonF64(idf(documents, d, smooth)))
                    .collect(),
            }
        }
        AnalyzerKind::ComputeAndApplyVocabulary | AnalyzerKind::Vocabulary => {
            let top_k = optional(args, 1, "top_k")?;
            let threshold = optional(args, 2, "frequency_threshold")?.unwrap_or(0.0);
            let given = if kind == AnalyzerKind::Vocabulary {
                optional_text(args, 3, "vocabulary: name")?
            } else {
                None
            };
            let (name, file_name) = names.next(kind, given);
            if vocabularies.iter().any(|v| v.name == name) {
                return Err(TransformError::Plan(format!(
                    "two vocabularies are named '{name}'"
                )));
            }
            let s = result.as_struct();
            let tokens = field(s, "tokens").as_list::<i32>().value(0);
            let tokens = tokens.as_binary::<i32>();
            let counts = field(s, "counts").as_list::<i32>().value(0);
            let counts = counts.as_primitive::<UInt64Type>();
            let mut vocab = Vocabulary {
                name: name.clone(),
                file_name,
                tokens: Vec::new(),
                counts: Vec::new(),
            };
            for j in 0..tokens.len() {
                if top_k.is_some_and(|k| vocab.tokens.len() as f64 >= k) {
                    break;
                }
                if (counts.value(j) as f64) < threshold {
                    continue;
                }
                vocab.tokens.push(tokens.value(j).to_vec());
                vocab.counts.push(counts.value(j));
            }
            vocabularies.push(vocab);
            if kind == AnalyzerKind::Vocabulary {
                Frozen::VocabularyName { name }
            } else {
                let oov = optional(args, 3, "num_oov_buckets")?.unwrap_or(0.0);
                if oov < 0.0 || oov.fract() != 0.0 {
                    return Err(TransformError::Plan(format!(
                        "num_oov_buckets {oov} is not a non-negative integer"
                    )));
                }
                Frozen::Vocabulary {
                    name,
                    num_oov_buckets: oov as i64,
                    default_value: optional(args, 4, "default_value")?.unwrap_or(-1.0) as i64,
                }
            }
        }
    })
}

/// The mapper expression of a frozen call over its arguments, with
/// vocabularies referred to by name (see [`resolve_vocabularies`]).
fn mapper(frozen: &Frozen, kind: AnalyzerKind, args: &[Expr]) -> Result<Expr> {
    let x = args[0].clone();
    let x64 = || cast(x.clone(), DataType::Float64);
    let list = |values: &[JsonF64]| {
        let values: Vec<ScalarValue> = values.iter().map(|b| ScalarValue::from(b.0)).collect();
        lit(ScalarValue::List(ScalarValue::new_list_nullable(
            &values,
            &DataType::Float64,
        )))
    };
    Ok(match frozen {
        Frozen::ZScore { mean, std_dev } => {
            let centered = x64() - lit(mean.0);
            let scaled = if std_dev.0 > 0.0 {
                centered / lit(std_dev.0)
            } else {
                centered
            };
            cast(scaled, DataType::Float32)
        }
        Frozen::MinMax {
            min,
            max,
            out_min,
            out_max,
        } => {
            let (min, max, out_min, out_max) = (min.0, max.0, out_min.0, out_max.0);
            let scaled = if max > min {
                (x64() - lit(min)) / lit(max - min) * lit(out_max - out_min) + lit(out_min)
            } else {
                // A single value: TFT maps it to the middle of the range.
                lit((out_min + out_max) / 2.0) + x64() * lit(0.0)
            };
            cast(scaled, DataType::Float32)
        }
        Frozen::Vocabulary {
            name,
            num_oov_buckets,
            default_value,
        } => ScalarUDF::from(ApplyVocabularyUdf::new()).call(vec![
            x,
            lit(name.as_str()),
            lit(*num_oov_buckets),
            lit(*default_value),
        ]),
        Frozen::VocabularyName { name } => lit(name.as_str()),
        Frozen::Buckets { boundaries, .. } => {
            ScalarUDF::from(ApplyBucketsUdf::new()).call(vec![x64(), list(boundaries)])
        }
        Frozen::Quantiles { boundaries } => list(boundaries),
        Frozen::Tfidf { idf, .. } => {
            ScalarUDF::from(ApplyTfidfUdf::new()).call(vec![cast(x, list_of_i64()), list(idf)])
        }
        Frozen::Constant { value, data_type } => {
            let to: DataType = data_type.parse().map_err(|e| {
                TransformError::Plan(format!("{}: frozen type '{data_type}': {e}", kind.name()))
            })?;
            match value {
                None => lit(ScalarValue::try_from(&to)?),
                Some(Number::Int(i)) => cast(lit(*i), to),
                Some(Number::Float(f)) => cast(lit(f.0), to),
            }
        }
    })
}

/// `apply_vocabulary(x, 'name', ...)` with the named vocabulary's tokens
/// as a literal list and TFT's defaults filled in.
pub fn resolve_vocabularies(e: Expr, vocabularies: &[Vocabulary]) -> Result<Expr> {
    let mut failure = None;
    let t = e.transform_up(|node| {
        let Expr::ScalarFunction(call) = &node else {
            return Ok(Transformed::no(node));
        };
        if call.name() != "apply_vocabulary" || call.args.len() < 2 {
            return Ok(Transformed::no(node));
        }
        let Ok(value) = constant_value(&call.args[1]) else {
            return Ok(Transformed::no(node));
        };
        let name = match value {
            ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) => s,
            ScalarValue::Utf8View(Some(s)) => s,
            _ => return Ok(Transformed::no(node)),
        };
        let Some(v) = vocabularies.iter().find(|v| v.name == name) else {
            failure = Some(TransformError::Plan(format!(
                "apply_vocabulary: no vocabulary named '{name}' in this query (known: {})",
                vocabularies
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
            return Ok(Transformed::new(node, false, TreeNodeRecursion::Stop));
        };
        let tokens: Vec<ScalarValue> = v
            .tokens
            .iter()
            .map(|t| ScalarValue::Binary(Some(t.clone())))
            .collect();
        let list = ScalarValue::List(ScalarValue::new_list_nullable(&tokens, &DataType::Binary));
        let mut args = vec![call.args[0].clone(), lit(list)];
        args.push(call.args.get(2).cloned().unwrap_or(lit(0i64)));
        args.push(call.args.get(3).cloned().unwrap_or(lit(-1i64)));
        Ok(Transformed::yes(
            ScalarUDF::from(ApplyVocabularyUdf::new()).call(args),
        ))
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(t.data),
    }
}

/// Plans `sql` over the table `input` registered in `ctx` (the analyze
/// data) and evaluates every analyzer: one aggregate pass per level of
/// analyzer nesting (one pass for a query without nesting).
pub async fn analyze(ctx: &SessionContext, sql: &str) -> Result<FrozenTransform> {
    let (mut exprs, input) = plan_projection(ctx, sql).await?;
    let mut frozen = Vec::new();
    let mut vocabularies = Vec::new();
    let mut names = VocabularyNames::default();
    loop {
        let (calls, index) = innermost_calls(&exprs)?;
        if calls.is_empty() {
            break;
        }
        let aggs = calls
            .iter()
            .enumerate()
            .map(|(i, (kind, args))| {
                let x = resolve_vocabularies(args[0].clone(), &vocabularies)?;
                Ok(aggregate_of(*kind, x, input.schema())?.alias(format!("__analyzer_{i}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let batches = DataFrame::new(ctx.state(), input.as_ref().clone())
            .aggregate(vec![], aggs)?
            .collect()
            .await?;
        let row = batches
            .iter()
            .find(|b| b.num_rows() > 0)
            .ok_or_else(|| TransformError::Plan("the analyze aggregate returned no row".into()))?;
        let first = frozen.len();
        for (i, (kind, args)) in calls.iter().enumerate() {
            frozen.push(freeze(
                *kind,
                args,
                row.column(i).as_ref(),
                &mut names,
                &mut vocabularies,
            )?);
        }
        exprs = map_innermost(exprs, &frozen[first..], &index)?;
    }
    Ok(FrozenTransform {
        sql: sql.to_string(),
        frozen,
        vocabularies,
    })
}

impl FrozenTransform {
    /// Plans the query over the table `input` registered in `ctx` with
    /// every analyzer replaced by its frozen mapper.
    pub async fn plan(&self, ctx: &SessionContext) -> Result<TransformPlan> {
        let (mut exprs, input) = plan_projection(ctx, &self.sql).await?;
        let mut next = 0usize;
        while exprs.iter().any(has_analyzer) {
            let (calls, index) = innermost_calls(&exprs)?;
            if next + calls.len() > self.frozen.len() {
                return Err(TransformError::Plan(
                    "the query has more analyzer calls than were analyzed".into(),
                ));
            }
            exprs = map_innermost(exprs, &self.frozen[next..], &index)?;
            next += calls.len();
        }
        if next != self.frozen.len() {
            return Err(TransformError::Plan(format!(
                "the query has {next} distinct analyzer calls but {} were analyzed",
                self.frozen.len()
            )));
        }
        let display = exprs.iter().map(|e| e.to_string()).collect();
        let outputs = exprs
            .into_iter()
            .map(|e| resolve_vocabularies(e, &self.vocabularies))
            .collect::<Result<Vec<_>>>()?;
        Ok(TransformPlan {
            input,
            outputs,
            display,
        })
    }

    /// The query over the table `input` registered in `ctx`, analyzers
    /// replaced by their frozen mappers.
    pub async fn apply(&self, ctx: &SessionContext) -> Result<DataFrame> {
        let plan = self.plan(ctx).await?;
        let plan = LogicalPlanBuilder::from(plan.input.as_ref().clone())
            .project(plan.outputs)?
            .build()?;
        Ok(DataFrame::new(ctx.state(), plan))
    }
}
