//! Planning a transform query: find the analyzer calls of the projection,
//! evaluate them all in one aggregate pass (partial/final, so it
//! distributes), freeze the results, and plan the query again over any
//! data with each call replaced by its mapper over the frozen constants.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Float64Type, UInt64Type};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::{AggregateUDF, Expr, LogicalPlan, LogicalPlanBuilder, ScalarUDF};
use datafusion::prelude::{cast, lit, SessionContext};
use weir_udfs::stats::{NumericStatsUdaf, QuantileSketch};
use weir_udfs::transform::{ApplyBucketsUdf, ApplyVocabularyUdf, VocabularyUdaf};

use crate::analyzers::{placeholders, AnalyzerKind};
use crate::{Result, TransformError};

/// KLL parameter of `bucketize`'s quantiles: TF-Transform's default
/// epsilon there is 0.001, and with k = 16384 the sketch's rank error is
/// far below that (and it holds up to 16,384 values exactly, so small
/// analyze sets get exact, deterministic boundaries).
pub const BUCKETIZE_KLL_K: u16 = 16384;

/// Registers the analyzer placeholders and weir's functions with `ctx`.
pub fn register_analyzers(ctx: &SessionContext) {
    for p in placeholders() {
        ctx.register_udf(p);
    }
    weir_udfs::register_all(ctx);
}

/// A frozen vocabulary: tokens in TF-Transform's order with their counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    /// TFT's name: `compute_and_apply_vocabulary`, then `..._1`, `..._2`…
    pub name: String,
    /// The tokens, most frequent first (after top_k and frequency_threshold).
    pub tokens: Vec<Vec<u8>>,
    /// Each token's count in the analyze data.
    pub counts: Vec<u64>,
}

impl Vocabulary {
    /// TFT's asset file name, `vocab_<name>_vocabulary`.
    pub fn file_name(&self) -> String {
        format!("vocab_{}_vocabulary", self.name)
    }

    /// TFT's file text: one token per line, most frequent first.
    pub fn file_text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for t in &self.tokens {
            out.extend_from_slice(t);
            out.push(b'\n');
        }
        out
    }
}

/// The constants one analyzer call froze into.
#[derive(Debug, Clone, PartialEq)]
pub enum Frozen {
    /// z-score: mean and population standard deviation.
    ZScore {
        /// Mean.
        mean: f64,
        /// Population standard deviation.
        std_dev: f64,
    },
    /// min/max scaling to `[out_min, out_max]`.
    MinMax {
        /// Minimum of the analyze data.
        min: f64,
        /// Maximum of the analyze data.
        max: f64,
        /// Output minimum.
        out_min: f64,
        /// Output maximum.
        out_max: f64,
    },
    /// A vocabulary lookup (index into `FrozenTransform::vocabularies`).
    Vocabulary {
        /// Which vocabulary.
        index: usize,
        /// OOV hash buckets after the vocabulary.
        num_oov_buckets: i64,
        /// Id of OOV tokens without buckets.
        default_value: i64,
    },
    /// Bucket boundaries.
    Buckets {
        /// Sorted boundaries (num_buckets - 1 of them).
        boundaries: Vec<f64>,
    },
}

/// A transform query with every analyzer evaluated.
#[derive(Debug, Clone)]
pub struct FrozenTransform {
    /// The query text.
    pub sql: String,
    /// One entry per analyzer call, in plan order.
    pub frozen: Vec<Frozen>,
    /// The vocabularies computed.
    pub vocabularies: Vec<Vocabulary>,
}

fn projection(plan: &LogicalPlan) -> Result<(Vec<Expr>, Arc<LogicalPlan>)> {
    match plan {
        LogicalPlan::Projection(p) => Ok((p.expr.clone(), p.input.clone())),
        other => Err(TransformError::Plan(format!(
            "expected SELECT <expressions> FROM input, got a {} plan",
            other.display()
        ))),
    }
}

/// The analyzer calls in `exprs`, in the order [`replace_calls`] visits them.
fn analyzer_calls(exprs: &[Expr]) -> Result<Vec<(AnalyzerKind, Vec<Expr>)>> {
    let mut calls = Vec::new();
    for e in exprs {
        e.clone().transform_up(|node| {
            if let Expr::ScalarFunction(f) = &node {
                if let Some(kind) = AnalyzerKind::from_name(f.name()) {
                    calls.push((kind, f.args.clone()));
                }
            }
            Ok(Transformed::no(node))
        })?;
    }
    for (kind, args) in &calls {
        if args.is_empty() {
            return Err(TransformError::Plan(format!("{kind:?} needs an argument")));
        }
        for a in args {
            let mut nested = false;
            a.apply(|n| {
                if let Expr::ScalarFunction(f) = n {
                    nested |= AnalyzerKind::from_name(f.name()).is_some();
                }
                Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
            })?;
            if nested {
                return Err(TransformError::Plan(
                    "an analyzer's argument may not contain another analyzer".into(),
                ));
            }
        }
    }
    Ok(calls)
}

/// A constant argument as f64 (`lit`, or a negated `lit`).
fn constant(e: &Expr, what: &str) -> Result<f64> {
    let v = match e {
        Expr::Literal(v, _) => v.clone(),
        Expr::Negative(inner) => match inner.as_ref() {
            Expr::Literal(v, _) => v.arithmetic_negate()?,
            _ => ScalarValue::Null,
        },
        Expr::Cast(c) => return constant(&c.expr, what),
        _ => ScalarValue::Null,
    };
    match v.cast_to(&DataType::Float64)? {
        ScalarValue::Float64(Some(x)) => Ok(x),
        _ => Err(TransformError::Plan(format!(
            "{what} must be a constant number, got {e}"
        ))),
    }
}

fn optional(args: &[Expr], i: usize, what: &str) -> Result<Option<f64>> {
    args.get(i).map(|e| constant(e, what)).transpose()
}

fn field<'a>(s: &'a StructArray, name: &str) -> &'a dyn Array {
    s.column_by_name(name).expect("result field").as_ref()
}

/// Plans `sql` over the table `input` registered in `ctx` (the analyze
/// data) and evaluates every analyzer in one aggregate pass.
pub async fn analyze(ctx: &SessionContext, sql: &str) -> Result<FrozenTransform> {
    let plan = ctx.sql(sql).await?.into_unoptimized_plan();
    let (exprs, input) = projection(&plan)?;
    let calls = analyzer_calls(&exprs)?;
    let numeric = AggregateUDF::from(NumericStatsUdaf::new());
    let quantiles = AggregateUDF::from(NumericStatsUdaf::with_k(BUCKETIZE_KLL_K));
    let vocabulary = AggregateUDF::from(VocabularyUdaf::new());
    let aggs: Vec<Expr> = calls
        .iter()
        .enumerate()
        .map(|(i, (kind, args))| {
            let x = args[0].clone();
            match kind {
                AnalyzerKind::Vocabulary => vocabulary.call(vec![cast(x, DataType::Binary)]),
                AnalyzerKind::Bucketize => quantiles.call(vec![cast(x, DataType::Float64)]),
                _ => numeric.call(vec![cast(x, DataType::Float64)]),
            }
            .alias(format!("__analyzer_{i}"))
        })
        .collect();
    let mut frozen = Vec::new();
    let mut vocabularies = Vec::new();
    if calls.is_empty() {
        return Ok(FrozenTransform {
            sql: sql.to_string(),
            frozen,
            vocabularies,
        });
    }
    let batches = DataFrame::new(ctx.state(), input.as_ref().clone())
        .aggregate(vec![], aggs)?
        .collect()
        .await?;
    let row = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| TransformError::Plan("the analyze aggregate returned no row".into()))?;
    for (i, (kind, args)) in calls.iter().enumerate() {
        let s = row.column(i).as_struct();
        let f64_of = |name: &str| field(s, name).as_primitive::<Float64Type>().value(0);
        let n = |s: &StructArray| field(s, "n").as_primitive::<UInt64Type>().value(0);
        frozen.push(match kind {
            AnalyzerKind::ZScore => Frozen::ZScore {
                mean: if n(s) > 0 { f64_of("mean") } else { 0.0 },
                std_dev: if n(s) > 0 { f64_of("std_dev") } else { 0.0 },
            },
            AnalyzerKind::ZeroOne | AnalyzerKind::MinMax => {
                let (out_min, out_max) = if *kind == AnalyzerKind::ZeroOne {
                    (0.0, 1.0)
                } else {
                    (
                        optional(args, 1, "out_min")?.unwrap_or(0.0),
                        optional(args, 2, "out_max")?.unwrap_or(1.0),
                    )
                };
                Frozen::MinMax {
                    min: if n(s) > 0 { f64_of("finite_min") } else { 0.0 },
                    max: if n(s) > 0 { f64_of("finite_max") } else { 0.0 },
                    out_min,
                    out_max,
                }
            }
            AnalyzerKind::Bucketize => {
                let buckets = optional(args, 1, "num_buckets")?.ok_or_else(|| {
                    TransformError::Plan("bucketize(x, num_buckets) needs num_buckets".into())
                })?;
                if buckets < 1.0 || buckets.fract() != 0.0 {
                    return Err(TransformError::Plan(format!(
                        "bucketize: num_buckets {buckets} is not a positive integer"
                    )));
                }
                let sketch =
                    QuantileSketch::from_bytes(field(s, "sketch").as_binary::<i32>().value(0))?;
                let nb = buckets as usize;
                let boundaries = (1..nb)
                    .filter_map(|q| sketch.quantile(q as f64 / nb as f64))
                    .collect();
                Frozen::Buckets { boundaries }
            }
            AnalyzerKind::Vocabulary => {
                let top_k = optional(args, 1, "top_k")?;
                let threshold = optional(args, 2, "frequency_threshold")?.unwrap_or(0.0);
                let tokens = field(s, "tokens").as_list::<i32>().value(0);
                let tokens = tokens.as_binary::<i32>();
                let counts = field(s, "counts").as_list::<i32>().value(0);
                let counts = counts.as_primitive::<UInt64Type>();
                let mut vocab = Vocabulary {
                    name: match vocabularies.len() {
                        0 => "compute_and_apply_vocabulary".to_string(),
                        k => format!("compute_and_apply_vocabulary_{k}"),
                    },
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
                Frozen::Vocabulary {
                    index: vocabularies.len() - 1,
                    num_oov_buckets: optional(args, 3, "num_oov_buckets")?.unwrap_or(0.0) as i64,
                    default_value: optional(args, 4, "default_value")?.unwrap_or(-1.0) as i64,
                }
            }
        });
    }
    Ok(FrozenTransform {
        sql: sql.to_string(),
        frozen,
        vocabularies,
    })
}

impl FrozenTransform {
    /// The mapper expression of call `i` over its argument `x`.
    fn mapper(&self, i: usize, x: Expr) -> Expr {
        let x64 = || cast(x.clone(), DataType::Float64);
        match &self.frozen[i] {
            Frozen::ZScore { mean, std_dev } => {
                let centered = x64() - lit(*mean);
                let scaled = if *std_dev > 0.0 {
                    centered / lit(*std_dev)
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
                let scaled = if max > min {
                    (x64() - lit(*min)) / lit(max - min) * lit(out_max - out_min) + lit(*out_min)
                } else {
                    // A single value: TFT maps it to the middle of the range.
                    lit((out_min + out_max) / 2.0) + x64() * lit(0.0)
                };
                cast(scaled, DataType::Float32)
            }
            Frozen::Vocabulary {
                index,
                num_oov_buckets,
                default_value,
            } => {
                let tokens: Vec<ScalarValue> = self.vocabularies[*index]
                    .tokens
                    .iter()
                    .map(|t| ScalarValue::Binary(Some(t.clone())))
                    .collect();
                let list =
                    ScalarValue::List(ScalarValue::new_list_nullable(&tokens, &DataType::Binary));
                ScalarUDF::from(ApplyVocabularyUdf::new()).call(vec![
                    cast(x, DataType::Binary),
                    lit(list),
                    lit(*num_oov_buckets),
                    lit(*default_value),
                ])
            }
            Frozen::Buckets { boundaries } => {
                let values: Vec<ScalarValue> = boundaries
                    .iter()
                    .map(|b| ScalarValue::Float64(Some(*b)))
                    .collect();
                let list =
                    ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Float64));
                ScalarUDF::from(ApplyBucketsUdf::new()).call(vec![x64(), lit(list)])
            }
        }
    }

    /// Plans the query over the table `input` registered in `ctx` with every
    /// analyzer replaced by its frozen mapper.
    pub async fn apply(&self, ctx: &SessionContext) -> Result<DataFrame> {
        let plan = ctx.sql(&self.sql).await?.into_unoptimized_plan();
        let (exprs, input) = projection(&plan)?;
        let mut next = 0usize;
        let mut out = Vec::with_capacity(exprs.len());
        for e in exprs {
            let replaced = e.transform_up(|node| {
                if let Expr::ScalarFunction(f) = &node {
                    if AnalyzerKind::from_name(f.name()).is_some() {
                        let i = next;
                        next += 1;
                        if i >= self.frozen.len() {
                            return Err(datafusion::error::DataFusionError::Plan(
                                "the query has more analyzer calls than were analyzed".into(),
                            ));
                        }
                        return Ok(Transformed::yes(self.mapper(i, f.args[0].clone())));
                    }
                }
                Ok(Transformed::no(node))
            })?;
            out.push(replaced.data);
        }
        let plan = LogicalPlanBuilder::from(input.as_ref().clone())
            .project(out)?
            .build()?;
        Ok(DataFrame::new(ctx.state(), plan))
    }
}
