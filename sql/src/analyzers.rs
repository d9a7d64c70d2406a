//! The analyzer functions as the SQL planner sees them: placeholders with
//! TF-Transform's names and result types. They are never executed — the
//! transform planner replaces every call before a plan runs — so invoking
//! one is an error that says so.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

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
    Vocabulary,
    /// `bucketize(x, num_buckets [, epsilon])`.
    Bucketize,
}

impl AnalyzerKind {
    /// Every analyzer, with its SQL name.
    pub const ALL: [(AnalyzerKind, &'static str); 5] = [
        (AnalyzerKind::ZScore, "scale_to_z_score"),
        (AnalyzerKind::ZeroOne, "scale_to_0_1"),
        (AnalyzerKind::MinMax, "scale_by_min_max"),
        (AnalyzerKind::Vocabulary, "compute_and_apply_vocabulary"),
        (AnalyzerKind::Bucketize, "bucketize"),
    ];

    /// The analyzer called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }

    fn output(self) -> DataType {
        match self {
            AnalyzerKind::ZScore | AnalyzerKind::ZeroOne | AnalyzerKind::MinMax => {
                DataType::Float32
            }
            AnalyzerKind::Vocabulary | AnalyzerKind::Bucketize => DataType::Int64,
        }
    }
}

/// A placeholder for one analyzer.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AnalyzerPlaceholder {
    name: &'static str,
    kind: AnalyzerKind,
    signature: Signature,
}

impl ScalarUDFImpl for AnalyzerPlaceholder {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.kind.output())
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        exec_err!(
            "{} is a full-pass analyzer: run the query through weir's transform planner",
            self.name
        )
    }
}

/// The placeholders, to register with a session.
pub fn placeholders() -> Vec<ScalarUDF> {
    AnalyzerKind::ALL
        .iter()
        .map(|(kind, name)| {
            ScalarUDF::from(AnalyzerPlaceholder {
                name,
                kind: *kind,
                signature: Signature::variadic_any(Volatility::Immutable),
            })
        })
        .collect()
}
