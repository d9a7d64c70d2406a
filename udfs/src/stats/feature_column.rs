//! A uniform view of a feature column: per example, how many values it has,
//! and the values as `f64` (numeric) or bytes. A list of lists (a
//! SequenceExample's sequence feature) is viewed by its innermost values:
//! an example's values are those of all its inner lists, as TFDV counts a
//! nested feature's values per example; a struct column is one value per
//! example where it is present.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, GenericListArray, OffsetSizeTrait, PrimitiveArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int32Type};
use datafusion::common::{exec_err, Result};

use super::view_counts::each_view_counted;

/// A feature column flattened into its values and per-example value ranges.
pub struct FeatureColumn {
    /// Values of every example, concatenated.
    pub values: ArrayRef,
    /// True for a list column (an example may hold any number of values).
    pub is_list: bool,
    /// Per example `Some((start, end))` into `values`, or `None` when
    /// missing (list columns only: scalar columns answer from `nulls`,
    /// without a per-row allocation).
    ranges: Vec<Option<(usize, usize)>>,
    nulls: Option<NullBuffer>,
    len: usize,
}

fn list_column(values: ArrayRef, ranges: Vec<Option<(usize, usize)>>) -> FeatureColumn {
    FeatureColumn {
        len: ranges.len(),
        values,
        is_list: true,
        ranges,
        nulls: None,
    }
}

fn list_ranges<O: OffsetSizeTrait>(l: &GenericListArray<O>) -> Vec<Option<(usize, usize)>> {
    let o = l.value_offsets();
    (0..l.len())
        .map(|i| {
            let (s, e) = (o[i].as_usize(), o[i + 1].as_usize());
            // TFDV: an empty value list counts as present with zero values.
            l.is_valid(i).then_some((s, e))
        })
        .collect()
}

/// True for a list of lists (`List`/`LargeList` of `List`/`LargeList`).
pub fn is_nested_list(dt: &DataType) -> bool {
    match dt {
        DataType::List(f) | DataType::LargeList(f) => {
            matches!(f.data_type(), DataType::List(_) | DataType::LargeList(_))
        }
        _ => false,
    }
}

fn values_of(array: &ArrayRef) -> &ArrayRef {
    match array.data_type() {
        DataType::LargeList(_) => array.as_list::<i64>().values(),
        _ => array.as_list::<i32>().values(),
    }
}

/// Per outer row, the range of innermost values of a list of lists.
fn nested_ranges<O: OffsetSizeTrait>(
    outer: &GenericListArray<O>,
    inner: &[Option<(usize, usize)>],
) -> Vec<Option<(usize, usize)>> {
    let o = outer.value_offsets();
    (0..outer.len())
        .map(|i| {
            outer.is_valid(i).then(|| {
                let (s, e) = (o[i].as_usize(), o[i + 1].as_usize());
                // Null inner lists hold no values; the first and last
                // valid ones bound the row's values.
                let first = inner[s..e].iter().flatten().next();
                let last = inner[s..e].iter().rev().flatten().next();
                match (first, last) {
                    (Some(a), Some(b)) => (a.0, b.1),
                    _ => (0, 0),
                }
            })
        })
        .collect()
}

impl FeatureColumn {
    /// Views `array` (scalar, list of scalars or list of lists).
    pub fn new(array: &ArrayRef) -> Result<Self> {
        if is_nested_list(array.data_type()) {
            let inner = Self::new(values_of(array))?;
            if !inner.is_list {
                return exec_err!("expected a list of lists, got {}", array.data_type());
            }
            let ranges = match array.data_type() {
                DataType::LargeList(_) => nested_ranges(array.as_list::<i64>(), &inner.ranges),
                _ => nested_ranges(array.as_list::<i32>(), &inner.ranges),
            };
            return Ok(list_column(inner.values, ranges));
        }
        match array.data_type() {
            DataType::List(_) => {
                let l = array.as_list::<i32>();
                Ok(list_column(l.values().clone(), list_ranges(l)))
            }
            DataType::LargeList(_) => {
                let l = array.as_list::<i64>();
                Ok(list_column(l.values().clone(), list_ranges(l)))
            }
            DataType::FixedSizeList(..) => {
                let l = cast(
                    array,
                    &DataType::List(match array.data_type() {
                        DataType::FixedSizeList(f, _) => f.clone(),
                        _ => unreachable!(),
                    }),
                )?;
                Self::new(&l)
            }
            // A struct is one value per example where present.
            DataType::Struct(_) => Ok(Self {
                len: array.len(),
                nulls: array.logical_nulls(),
                values: array.clone(),
                is_list: false,
                ranges: Vec::new(),
            }),
            DataType::Map(..) | DataType::Union(..) => {
                exec_err!(
                    "statistics of {} columns are not supported",
                    array.data_type()
                )
            }
            // Logical nulls: a NullArray has no validity buffer but every
            // slot is null (a feature that never has a value).
            _ => Ok(Self {
                len: array.len(),
                nulls: array.logical_nulls(),
                values: array.clone(),
                is_list: false,
                ranges: Vec::new(),
            }),
        }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Examples with no value list (a null scalar or a null list).
    pub fn num_null(&self) -> usize {
        if self.is_list {
            self.ranges.iter().filter(|r| r.is_none()).count()
        } else {
            self.nulls.as_ref().map_or(0, |n| n.null_count())
        }
    }

    /// Value range of example `i`, `None` when missing.
    pub fn range(&self, i: usize) -> Option<(usize, usize)> {
        if self.is_list {
            self.ranges[i]
        } else {
            self.nulls
                .as_ref()
                .is_none_or(|n| n.is_valid(i))
                .then_some((i, i + 1))
        }
    }

    /// The values as f64 (ints, floats, decimals, bools); nulls inside lists
    /// are skipped by the callers via `values.is_valid`.
    pub fn numeric_values(&self) -> Result<ArrayRef> {
        // Temporal values count in their unit (days, ms, µs...), as the
        // tf.Example encoder writes them; Arrow casts them to floats only
        // through their integer width.
        let via = match self.values.data_type() {
            DataType::Date32 | DataType::Time32(_) => Some(DataType::Int32),
            DataType::Date64
            | DataType::Time64(_)
            | DataType::Timestamp(..)
            | DataType::Duration(_) => Some(DataType::Int64),
            _ => None,
        };
        let values = match via {
            Some(t) => cast(&self.values, &t)?,
            None => self.values.clone(),
        };
        if let DataType::Decimal128(_, scale) = values.data_type() {
            return Ok(Arc::new(decimal128_to_f64(values.as_primitive(), *scale)));
        }
        Ok(cast(&values, &DataType::Float64)?)
    }

    /// Calls `f` with every non-null value of a string or binary column, in
    /// order, without copying: string columns (`Utf8`, `LargeUtf8`,
    /// `Utf8View`, already valid UTF-8) as [`ByteValue::Str`], binary ones
    /// as [`ByteValue::Bytes`]; other types are cast to binary first.
    pub fn for_each_bytes(&self, mut f: impl FnMut(ByteValue<'_>)) -> Result<()> {
        each_bytes(&self.values, |_, b| f(b))
    }

    /// Calls `f` with every distinct value and how many times it occurs, or
    /// with every value and a count of 1: a dictionary-encoded column (as
    /// Parquet stores low-cardinality strings) is counted by its keys, so
    /// each distinct value is looked at once per batch rather than once per
    /// example. A value may be reported more than once (a dictionary may
    /// repeat a value, and other columns report each occurrence).
    ///
    /// A view column (`Utf8View`, `BinaryView`) is counted by its views
    /// ([`super::view_counts`]): a column decoded from a Parquet dictionary
    /// is again reported about once per distinct value.
    pub fn for_each_bytes_counted(&self, mut f: impl FnMut(ByteValue<'_>, u64)) -> Result<()> {
        match self.values.data_type() {
            DataType::Utf8View => {
                let a = self.values.as_string_view();
                each_view_counted(a.views(), a.nulls(), |i, n| {
                    f(ByteValue::Str(a.value(i)), n)
                });
                return Ok(());
            }
            DataType::BinaryView => {
                let a = self.values.as_binary_view();
                each_view_counted(a.views(), a.nulls(), |i, n| {
                    f(ByteValue::Bytes(a.value(i)), n)
                });
                return Ok(());
            }
            _ => {}
        }
        let Some(dict) = self.values.as_dictionary_opt::<Int32Type>() else {
            return each_bytes(&self.values, |_, b| f(b, 1));
        };
        let mut counts = vec![0u64; dict.values().len()];
        let keys = dict.keys();
        let values_valid = dict.values().logical_nulls();
        let mut count = |k: i32| {
            if let Some(c) = usize::try_from(k).ok().and_then(|k| counts.get_mut(k)) {
                *c += 1;
            }
        };
        match keys.nulls().filter(|n| n.null_count() > 0) {
            None => keys.values().iter().for_each(|&k| count(k)),
            Some(n) => keys
                .values()
                .iter()
                .zip(n.iter())
                .filter(|(_, ok)| *ok)
                .for_each(|(&k, _)| count(k)),
        }
        if let Some(valid) = values_valid {
            // Keys of null dictionary values are null examples.
            for (i, c) in counts.iter_mut().enumerate() {
                if valid.is_null(i) {
                    *c = 0;
                }
            }
        }
        each_bytes(dict.values(), |i, b| {
            if counts[i] > 0 {
                f(b, counts[i]);
            }
        })
    }
}

/// Calls `f` with the index and bytes of every non-null value of `v`.
fn each_bytes(v: &ArrayRef, mut f: impl FnMut(usize, ByteValue<'_>)) -> Result<()> {
    fn each<T>(it: impl Iterator<Item = Option<T>>, mut f: impl FnMut(usize, T)) {
        it.enumerate().for_each(|(i, x)| {
            if let Some(x) = x {
                f(i, x)
            }
        });
    }
    match v.data_type() {
        DataType::Utf8 => each(v.as_string::<i32>().iter(), |i, s| f(i, ByteValue::Str(s))),
        DataType::LargeUtf8 => each(v.as_string::<i64>().iter(), |i, s| f(i, ByteValue::Str(s))),
        DataType::Utf8View => each(v.as_string_view().iter(), |i, s| f(i, ByteValue::Str(s))),
        DataType::Binary => each(v.as_binary::<i32>().iter(), |i, b| {
            f(i, ByteValue::Bytes(b))
        }),
        DataType::LargeBinary => each(v.as_binary::<i64>().iter(), |i, b| {
            f(i, ByteValue::Bytes(b))
        }),
        DataType::BinaryView => each(v.as_binary_view().iter(), |i, b| f(i, ByteValue::Bytes(b))),
        _ => {
            let b = cast(v, &DataType::Binary)?;
            each(b.as_binary::<i32>().iter(), |i, b| {
                f(i, ByteValue::Bytes(b))
            });
        }
    }
    Ok(())
}

/// One value of a string or binary column.
#[derive(Debug, Clone, Copy)]
pub enum ByteValue<'a> {
    /// From a string column: valid UTF-8.
    Str(&'a str),
    /// From a binary column: any bytes.
    Bytes(&'a [u8]),
}

impl<'a> ByteValue<'a> {
    /// The bytes.
    pub fn bytes(self) -> &'a [u8] {
        match self {
            ByteValue::Str(s) => s.as_bytes(),
            ByteValue::Bytes(b) => b,
        }
    }

    /// The value as text, when it is valid UTF-8 (checked for binary only).
    pub fn text(self) -> Option<&'a str> {
        match self {
            ByteValue::Str(s) => Some(s),
            ByteValue::Bytes(b) => std::str::from_utf8(b).ok(),
        }
    }
}

/// Decimal128 values as f64, the values Arrow's cast gives (the integer
/// rounded to f64, divided by 10^scale), without its software i128 → f64
/// conversion when every value fits an i64 (all of TPC-H's, and nearly
/// every real decimal's): an i64 converts in one instruction and rounds to
/// the same f64, as both conversions round the same integer to nearest.
/// (The test is one pass of its own: a per-value branch still let the
/// compiler call the software conversion for every value.)
fn decimal128_to_f64(
    values: &PrimitiveArray<Decimal128Type>,
    scale: i8,
) -> PrimitiveArray<Float64Type> {
    let div = 10_f64.powi(i32::from(scale));
    let fits = values
        .values()
        .iter()
        .all(|&x| (i64::MIN as i128..=i64::MAX as i128).contains(&x));
    if fits {
        values.unary(|x| (x as i64) as f64 / div)
    } else {
        values.unary(|x| x as f64 / div)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Decimal128Array;

    /// The fast conversion gives Arrow's cast bit for bit: values that fit
    /// an i64 (round-to-nearest past 2^53 included), those that do not,
    /// negative scales and nulls.
    #[test]
    fn decimal128_as_f64_is_arrows_cast_bit_for_bit() {
        let raw = [
            0i128,
            1,
            -1,
            1234567,
            -987654321,
            (1 << 53) + 1,
            -(1 << 60) - 12345,
            i64::MAX as i128,
            i64::MIN as i128,
            i64::MAX as i128 + 1,
            (1i128 << 100) + 7,
            -(10i128.pow(37)) + 3,
        ];
        // The first nine fit an i64 (the fast path), all twelve do not.
        for (raw, (precision, scale)) in [&raw[..9], &raw[..]]
            .into_iter()
            .flat_map(|r| [(38, 0i8), (38, 2), (38, 10), (38, -3)].map(|p| (r, p)))
        {
            let values: Vec<Option<i128>> = raw
                .iter()
                .map(|&v| Some(v))
                .chain(std::iter::once(None))
                .collect();
            let a = Decimal128Array::from(values)
                .with_precision_and_scale(precision, scale)
                .unwrap();
            let fast = decimal128_to_f64(&a, scale);
            let arrow = cast(&a, &DataType::Float64).unwrap();
            let arrow = arrow.as_primitive::<Float64Type>();
            assert_eq!(fast.nulls(), arrow.nulls());
            for (i, v) in raw.iter().enumerate() {
                assert_eq!(
                    fast.value(i).to_bits(),
                    arrow.value(i).to_bits(),
                    "{v} at scale {scale}"
                );
            }
        }
    }
}
