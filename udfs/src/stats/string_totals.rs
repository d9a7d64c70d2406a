//! The bookkeeping `string_stats` and `string_stats_approx` share: how many
//! values, their total length and how many are not UTF-8. Both keep it in
//! the same three state fields (after their two sketch fields) and report
//! the same result fields, so one type adds, merges and reports it.
//!
//! `string_totals(feature)` is that bookkeeping alone, as an aggregate:
//! exact statistics take a feature's uniques and top values from a
//! separate, spilling `(feature, value)` count (`top_by_count`), and these
//! totals from the one pass over the input.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, UInt64Type};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::arrays::u64_array;
use super::ByteValue;
use super::FeatureColumn;

/// Values, bytes and invalid UTF-8 values seen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StringTotals {
    pub num_values: u64,
    pub total_bytes: u64,
    pub invalid_utf8: u64,
}

impl StringTotals {
    /// The three state (and result) fields, in order.
    pub fn fields() -> [Field; 3] {
        [
            Field::new("num_values", DataType::UInt64, false),
            Field::new("total_bytes", DataType::UInt64, false),
            Field::new("invalid_utf8", DataType::UInt64, false),
        ]
    }

    /// Counts `value` seen `n` times.
    pub fn add(&mut self, value: ByteValue<'_>, n: u64) {
        self.num_values += n;
        self.total_bytes += value.bytes().len() as u64 * n;
        if value.text().is_none() {
            self.invalid_utf8 += n;
        }
    }

    /// Adds every row of partial states whose three fields start at
    /// column `first`.
    pub fn merge(&mut self, states: &[ArrayRef], first: usize) -> Result<()> {
        let column = |i: usize| {
            states
                .get(first + i)
                .and_then(|a| a.as_primitive_opt::<UInt64Type>())
                .ok_or_else(|| {
                    DataFusionError::Internal(format!(
                        "string statistics state: column {} is not UInt64",
                        first + i
                    ))
                })
        };
        let (n, bytes, invalid) = (column(0)?, column(1)?, column(2)?);
        for row in 0..n.len() {
            self.num_values += n.value(row);
            self.total_bytes += bytes.value(row);
            self.invalid_utf8 += invalid.value(row);
        }
        Ok(())
    }

    /// The three fields as one-row arrays, in [`StringTotals::fields`]'s order.
    pub fn arrays(&self) -> [ArrayRef; 3] {
        [
            u64_array(self.num_values),
            u64_array(self.total_bytes),
            u64_array(self.invalid_utf8),
        ]
    }

    /// Mean value length in bytes (0 without values), as a one-row array.
    pub fn avg_length(&self) -> ArrayRef {
        let avg = if self.num_values == 0 {
            0.0
        } else {
            self.total_bytes as f64 / self.num_values as f64
        };
        Arc::new(Float64Array::from(vec![avg]))
    }
}

static RESULT_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    let [n, bytes, invalid] = StringTotals::fields();
    Fields::from(vec![
        n,
        bytes,
        Field::new("avg_length", DataType::Float64, false),
        invalid,
    ])
});

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    crate::docs::aggregate(
        "A string feature's value count, total and average length in bytes, \
         and the count of values that are not valid UTF-8 (TFDV's string \
         statistics without uniques and top values).",
        "string_totals(feature)",
        &[(
            "feature",
            "A string or binary column, a list of them, or a list of lists.",
        )],
    )
});

/// `string_totals(feature) -> struct<num_values, total_bytes, avg_length,
/// invalid_utf8>`: see the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StringTotalsUdaf {
    signature: Signature,
}

impl Default for StringTotalsUdaf {
    fn default() -> Self {
        Self::new()
    }
}

impl StringTotalsUdaf {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    /// Fields of the result struct.
    pub fn fields() -> Fields {
        RESULT_FIELDS.clone()
    }
}

impl AggregateUDFImpl for StringTotalsUdaf {
    fn name(&self) -> &str {
        "string_totals"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(RESULT_FIELDS.clone()))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(StringTotalsAccumulator::default()))
    }

    fn state_fields(&self, _args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(StringTotals::fields().into_iter().map(Arc::new).collect())
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// [`StringTotals`] as an accumulator.
#[derive(Debug, Default)]
pub struct StringTotalsAccumulator(StringTotals);

impl Accumulator for StringTotalsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        FeatureColumn::new(&values[0])?.for_each_bytes_counted(|v, n| self.0.add(v, n))
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let [n, bytes, invalid] = self.0.arrays();
        Ok(ScalarValue::Struct(Arc::new(StructArray::new(
            RESULT_FIELDS.clone(),
            vec![n, bytes, self.0.avg_length(), invalid],
            None,
        ))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0
            .arrays()
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.merge(states, 0)
    }
}
