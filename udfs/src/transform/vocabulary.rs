//! `vocabulary_counts(x)`: every distinct token of `x` with its count, in
//! TF-Transform's order (count descending, then token bytes descending),
//! without the tokens TFT drops from vocabulary files (empty, or holding a
//! newline or carriage return, which a one-token-per-line file cannot
//! hold). `top_k` and `frequency_threshold` are applied by the planner, so
//! one pass serves every configuration. Counting is exact: the partial state
//! is the full token→count map (the same state as `string_stats`), so
//! partial/final aggregation merges exactly.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, BinaryArray, StructArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use crate::stats::arrays::{list_of, one_list};
use crate::stats::{StringStatsAccumulator, StringStatsUdaf};

/// Fields of the result struct: `tokens` and `counts`, aligned.
pub static VOCABULARY_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new("tokens", list_of(DataType::Binary), false),
        Field::new("counts", list_of(DataType::UInt64), false),
    ])
});

/// `vocabulary_counts(x) -> struct<tokens: list<binary>, counts: list<uint64>>`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct VocabularyUdaf {
    signature: Signature,
}

impl Default for VocabularyUdaf {
    fn default() -> Self {
        Self::new()
    }
}

impl VocabularyUdaf {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

static DOCUMENTATION: std::sync::LazyLock<datafusion::logical_expr::Documentation> =
    std::sync::LazyLock::new(|| {
        crate::docs::aggregate(
            "Every distinct token with its count, in TF-Transform's order (count descending, then token bytes descending), without tokens a vocabulary file cannot hold (empty, or holding a newline).",
            "vocabulary_counts(x)",
            &[
            ("x", "A string column, or a list of strings."),
            ],
        )
    });

impl AggregateUDFImpl for VocabularyUdaf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(&DOCUMENTATION)
    }

    fn name(&self) -> &str {
        "vocabulary_counts"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(VOCABULARY_FIELDS.clone()))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(VocabularyAccumulator::default()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        StringStatsUdaf::new().state_fields(args)
    }
}

/// Exact token counts (delegating to `string_stats`' accumulator).
#[derive(Debug, Default)]
struct VocabularyAccumulator {
    counts: StringStatsAccumulator,
}

/// Whether TFT keeps `token` in a vocabulary file.
fn kept(token: &[u8]) -> bool {
    !token.is_empty() && !token.iter().any(|&b| b == b'\n' || b == b'\r')
}

impl Accumulator for VocabularyAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.counts.update_batch(values)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let ranked: Vec<(&[u8], u64)> = self
            .counts
            .ranked()
            .into_iter()
            .filter(|(t, _)| kept(t))
            .collect();
        let tokens = BinaryArray::from_iter_values(ranked.iter().map(|(t, _)| *t));
        let counts = UInt64Array::from_iter_values(ranked.iter().map(|(_, c)| *c));
        Ok(ScalarValue::Struct(Arc::new(StructArray::new(
            VOCABULARY_FIELDS.clone(),
            vec![one_list(Arc::new(tokens)), one_list(Arc::new(counts))],
            None,
        ))))
    }

    fn size(&self) -> usize {
        self.counts.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.counts.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.counts.merge_batch(states)
    }
}
