//! The analyzer functions as the SQL planner sees them: placeholders with
//! TF-Transform's names and result types. They are never executed — the
//! transform planner replaces every call before a plan runs — so invoking
//! one is an error that says so.
//!
//! TFT's `tft.mean`, `tft.var`, `tft.min`, `tft.max`, `tft.sum` and
//! `tft.size` are called `mean`, `var`, `min`, `max`, `sum` and `size` in
//! transform SQL (see [`crate::rewrite`]) and planned as `tft_mean` … here,
//! so they never clash with DataFusion's own aggregates.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use weir_udfs::transform::TFIDF_FIELDS;

/// Which analyzer a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnalyzerKind {
    /// `scale_to_z_score(x)`: (x - mean) / std_dev (population); x - mean
    /// when the variance is 0.
    ZScore,
    /// `scale_to_0_1(x)`.
    ZeroOne,
    /// `scale_by_min_max(x [, out_min, out_max])`.
    MinMax,
    /// `compute_and_apply_vocabulary(x [, top_k [, frequency_threshold
    /// [, num_oov_buckets [, default_value]]]])`.
    ComputeAndApplyVocabulary,
    /// `vocabulary(x [, top_k [, frequency_threshold [, 'name']]])`: the
    /// vocabulary's name, for `apply_vocabulary(x, 'name', ...)`.
    Vocabulary,
    /// `bucketize(x, num_buckets [, epsilon])`.
    Bucketize,
    /// `quantiles(x, num_buckets [, epsilon])`: the boundaries, a list.
    Quantiles,
    /// `mean(x)`.
    Mean,
    /// `var(x)`: population variance.
    Var,
    /// `min(x)`.
    Min,
    /// `max(x)`.
    Max,
    /// `sum(x)`.
    Sum,
    /// `size(x)`: number of non-NULL values.
    Size,
    /// `tfidf(x, vocab_size [, smooth])` over lists of term ids: a struct
    /// of `index` (the distinct ids, ascending) and `weight` lists; select
    /// them with `tfidf(...)['index']` and `tfidf(...)['weight']`.
    Tfidf,
}

impl AnalyzerKind {
    /// Every analyzer, with its planned name.
    pub const ALL: [(AnalyzerKind, &'static str); 14] = [
        (AnalyzerKind::ZScore, "scale_to_z_score"),
        (AnalyzerKind::ZeroOne, "scale_to_0_1"),
        (AnalyzerKind::MinMax, "scale_by_min_max"),
        (
            AnalyzerKind::ComputeAndApplyVocabulary,
            "compute_and_apply_vocabulary",
        ),
        (AnalyzerKind::Vocabulary, "vocabulary"),
        (AnalyzerKind::Bucketize, "bucketize"),
        (AnalyzerKind::Quantiles, "quantiles"),
        (AnalyzerKind::Mean, "tft_mean"),
        (AnalyzerKind::Var, "tft_var"),
        (AnalyzerKind::Min, "tft_min"),
        (AnalyzerKind::Max, "tft_max"),
        (AnalyzerKind::Sum, "tft_sum"),
        (AnalyzerKind::Size, "tft_size"),
        (AnalyzerKind::Tfidf, "tfidf"),
    ];

    /// The analyzer planned as `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }

    /// The planned name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, n)| *n)
            .expect("every kind has a name")
    }

    /// (least, most) arguments.
    fn arity(self) -> (usize, usize) {
        match self {
            AnalyzerKind::ZScore | AnalyzerKind::ZeroOne => (1, 1),
            AnalyzerKind::MinMax => (1, 3),
            AnalyzerKind::ComputeAndApplyVocabulary => (1, 5),
            AnalyzerKind::Vocabulary => (1, 4),
            AnalyzerKind::Bucketize | AnalyzerKind::Quantiles | AnalyzerKind::Tfidf => (2, 3),
            _ => (1, 1),
        }
    }

    /// The type of the call's value, given its argument types.
    pub fn output(self, args: &[DataType]) -> Result<DataType> {
        let (least, most) = self.arity();
        if args.len() < least || args.len() > most {
            return plan_err!(
                "{} takes {least} to {most} arguments, got {}",
                self.name(),
                args.len()
            );
        }
        let x = &args[0];
        Ok(match self {
            AnalyzerKind::ZScore | AnalyzerKind::ZeroOne | AnalyzerKind::MinMax => {
                DataType::Float32
            }
            AnalyzerKind::ComputeAndApplyVocabulary
            | AnalyzerKind::Bucketize
            | AnalyzerKind::Size => DataType::Int64,
            AnalyzerKind::Vocabulary => DataType::Utf8,
            AnalyzerKind::Quantiles => {
                DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
            }
            AnalyzerKind::Mean | AnalyzerKind::Var => DataType::Float64,
            AnalyzerKind::Min | AnalyzerKind::Max => x.clone(),
            AnalyzerKind::Sum if x.is_integer() => DataType::Int64,
            AnalyzerKind::Sum => DataType::Float64,
            AnalyzerKind::Tfidf => DataType::Struct(TFIDF_FIELDS.clone()),
        })
    }
}

/// A placeholder for one analyzer.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AnalyzerPlaceholder {
    kind: AnalyzerKind,
    signature: Signature,
}

impl ScalarUDFImpl for AnalyzerPlaceholder {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.kind.output(arg_types)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        exec_err!(
            "{} is a full-pass analyzer: run the query through weir's transform planner",
            self.kind.name()
        )
    }
}

/// The placeholders, to register with a session.
pub fn placeholders() -> Vec<ScalarUDF> {
    AnalyzerKind::ALL
        .iter()
        .map(|(kind, _)| {
            ScalarUDF::from(AnalyzerPlaceholder {
                kind: *kind,
                signature: Signature::variadic_any(Volatility::Immutable),
            })
        })
        .collect()
}
