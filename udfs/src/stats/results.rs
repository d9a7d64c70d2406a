//! The results of the statistics aggregates, typed: each aggregate returns
//! a struct (its `fields()`), and this module reads one row of such a
//! struct back into a plain Rust value, checking each column's type. The
//! readers live beside the aggregates that define the fields, so callers
//! never look fields up by name or assume a type.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Float64Type, UInt64Type};
use datafusion::common::{DataFusionError, Result};

/// One row of a result struct, read column by column.
struct Row<'a> {
    what: &'static str,
    s: &'a StructArray,
    row: usize,
}

impl<'a> Row<'a> {
    fn new(what: &'static str, s: &'a StructArray, row: usize) -> Result<Self> {
        if row >= s.len() {
            return Err(DataFusionError::Internal(format!(
                "{what}: row {row} of a result with {} rows",
                s.len()
            )));
        }
        Ok(Self { what, s, row })
    }

    fn field(&self, name: &str) -> Result<&'a ArrayRef> {
        self.s.column_by_name(name).ok_or_else(|| {
            DataFusionError::Internal(format!("{}: the result has no field {name}", self.what))
        })
    }

    fn column(&self, name: &str, want: &DataType) -> Result<&'a dyn Array> {
        let column = self.field(name)?;
        if column.data_type() != want {
            return Err(DataFusionError::Internal(format!(
                "{}: field {name} is {}, expected {want}",
                self.what,
                column.data_type()
            )));
        }
        Ok(column.as_ref())
    }

    fn u64(&self, name: &str) -> Result<u64> {
        Ok(self
            .column(name, &DataType::UInt64)?
            .as_primitive::<UInt64Type>()
            .value(self.row))
    }

    fn f64(&self, name: &str) -> Result<f64> {
        Ok(self
            .column(name, &DataType::Float64)?
            .as_primitive::<Float64Type>()
            .value(self.row))
    }

    fn bytes(&self, name: &str) -> Result<Vec<u8>> {
        Ok(self
            .column(name, &DataType::Binary)?
            .as_binary::<i32>()
            .value(self.row)
            .to_vec())
    }

    fn list(&self, name: &str) -> Result<ArrayRef> {
        let column = self.field(name)?;
        let list = column.as_list_opt::<i32>().ok_or_else(|| {
            DataFusionError::Internal(format!(
                "{}: field {name} is {}, expected a list",
                self.what,
                column.data_type()
            ))
        })?;
        Ok(list.value(self.row))
    }

    fn u64_list(&self, name: &str) -> Result<Vec<u64>> {
        let values = self.list(name)?;
        let values = values.as_primitive_opt::<UInt64Type>().ok_or_else(|| {
            DataFusionError::Internal(format!("{}: field {name} is not a list of u64", self.what))
        })?;
        Ok(values.values().to_vec())
    }

    fn bytes_list(&self, name: &str) -> Result<Vec<Vec<u8>>> {
        let values = self.list(name)?;
        let values = values.as_binary_opt::<i32>().ok_or_else(|| {
            DataFusionError::Internal(format!(
                "{}: field {name} is not a list of binary",
                self.what
            ))
        })?;
        Ok(values
            .iter()
            .map(|v| v.unwrap_or_default().to_vec())
            .collect())
    }
}

/// What `common_stats` returns.
#[derive(Debug, Clone, PartialEq)]
pub struct CommonStatsResult {
    /// Examples where the feature is present.
    pub num_non_missing: u64,
    /// Examples without the feature.
    pub num_missing: u64,
    /// Fewest values in a present example.
    pub min_num_values: u64,
    /// Most values in an example.
    pub max_num_values: u64,
    /// Values in all examples.
    pub tot_num_values: u64,
    /// Present examples by their number of values: `(values, examples)`,
    /// ascending in values.
    pub num_values: Vec<(u64, u64)>,
}

impl CommonStatsResult {
    /// Row `row` of a `common_stats` result.
    pub fn from_struct(s: &StructArray, row: usize) -> Result<Self> {
        let r = Row::new("common_stats", s, row)?;
        Ok(Self {
            num_non_missing: r.u64("num_non_missing")?,
            num_missing: r.u64("num_missing")?,
            min_num_values: r.u64("min_num_values")?,
            max_num_values: r.u64("max_num_values")?,
            tot_num_values: r.u64("tot_num_values")?,
            num_values: r
                .u64_list("num_values")?
                .into_iter()
                .zip(r.u64_list("num_values_count")?)
                .collect(),
        })
    }
}

/// What `numeric_stats` returns.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericStatsResult {
    /// Values seen (NaN included).
    pub num_values: u64,
    /// NaN values.
    pub num_nan: u64,
    /// +inf values.
    pub num_pos_inf: u64,
    /// -inf values.
    pub num_neg_inf: u64,
    /// Zeros.
    pub num_zeros: u64,
    /// Non-NaN values.
    pub n: u64,
    /// Mean of the non-NaN values.
    pub mean: f64,
    /// Standard deviation of the non-NaN values.
    pub std_dev: f64,
    /// Smallest non-NaN value.
    pub min: f64,
    /// Largest non-NaN value.
    pub max: f64,
    /// Smallest finite value.
    pub finite_min: f64,
    /// Largest finite value.
    pub finite_max: f64,
    /// The serialized quantile sketch (`QuantileSketch::from_bytes`).
    pub sketch: Vec<u8>,
}

impl NumericStatsResult {
    /// Row `row` of a `numeric_stats` result.
    pub fn from_struct(s: &StructArray, row: usize) -> Result<Self> {
        let r = Row::new("numeric_stats", s, row)?;
        Ok(Self {
            num_values: r.u64("num_values")?,
            num_nan: r.u64("num_nan")?,
            num_pos_inf: r.u64("num_pos_inf")?,
            num_neg_inf: r.u64("num_neg_inf")?,
            num_zeros: r.u64("num_zeros")?,
            n: r.u64("n")?,
            mean: r.f64("mean")?,
            std_dev: r.f64("std_dev")?,
            min: r.f64("min")?,
            max: r.f64("max")?,
            finite_min: r.f64("finite_min")?,
            finite_max: r.f64("finite_max")?,
            sketch: r.bytes("sketch")?,
        })
    }
}

/// What `string_stats` and `string_stats_approx` return (the fields they
/// share).
#[derive(Debug, Clone, PartialEq)]
pub struct StringStatsResult {
    /// Distinct values (estimated by `string_stats_approx`).
    pub unique: u64,
    /// The most frequent values, most frequent first.
    pub top_values: Vec<Vec<u8>>,
    /// Their counts.
    pub top_counts: Vec<u64>,
    /// Mean length of a value in bytes.
    pub avg_length: f64,
    /// Values that are not valid UTF-8.
    pub invalid_utf8: u64,
}

impl StringStatsResult {
    /// Row `row` of a `string_stats` or `string_stats_approx` result.
    pub fn from_struct(s: &StructArray, row: usize) -> Result<Self> {
        let r = Row::new("string_stats", s, row)?;
        let top_values = r.bytes_list("top_values")?;
        let top_counts = r.u64_list("top_counts")?;
        if top_values.len() != top_counts.len() {
            return Err(DataFusionError::Internal(format!(
                "string_stats: {} top values with {} counts",
                top_values.len(),
                top_counts.len()
            )));
        }
        Ok(Self {
            unique: r.u64("unique")?,
            top_values,
            top_counts,
            avg_length: r.f64("avg_length")?,
            invalid_utf8: r.u64("invalid_utf8")?,
        })
    }
}
