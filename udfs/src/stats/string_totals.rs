//! The bookkeeping `string_stats` and `string_stats_approx` share: how many
//! values, their total length and how many are not UTF-8. Both keep it in
//! the same three state fields (after their two sketch fields) and report
//! the same result fields, so one type adds, merges and reports it.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, UInt64Type};
use datafusion::common::{DataFusionError, Result};

use super::arrays::u64_array;
use super::ByteValue;

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
