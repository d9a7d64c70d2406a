//! `string_stats(feature)`: TFDV's string statistics of a feature's values,
//! exactly: number of unique values, the most frequent values with their
//! frequencies (TFDV's order: frequency descending, then value descending),
//! total and average length in bytes, and the count of values that are not
//! valid UTF-8. The state is the full value→count map, so merging partial
//! aggregates is exact. The map keeps every distinct value's bytes in one
//! arena: no allocation (and no free) per distinct value, which dominated
//! high-cardinality columns.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Float64Array, StructArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, UInt64Type};
use std::hash::BuildHasher;

use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use hashbrown::{DefaultHashBuilder, HashTable};

use super::arrays::{list_of, one_list, u64_array};
use super::FeatureColumn;

/// Most frequent values kept in the result: enough for TFDV's 20 top values
/// and its 1,000-bucket rank histogram.
pub const TOP_VALUES_KEPT: usize = 1000;

static STATE_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new("values", list_of(DataType::Binary), false),
        Field::new("counts", list_of(DataType::UInt64), false),
        Field::new("num_values", DataType::UInt64, false),
        Field::new("total_bytes", DataType::UInt64, false),
        Field::new("invalid_utf8", DataType::UInt64, false),
    ])
});

static RESULT_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new("unique", DataType::UInt64, false),
        Field::new("top_values", list_of(DataType::Binary), false),
        Field::new("top_counts", list_of(DataType::UInt64), false),
        Field::new("num_values", DataType::UInt64, false),
        Field::new("total_bytes", DataType::UInt64, false),
        Field::new("avg_length", DataType::Float64, false),
        Field::new("invalid_utf8", DataType::UInt64, false),
    ])
});

/// `string_stats(feature) -> struct`: see the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StringStatsUdaf {
    signature: Signature,
}

impl Default for StringStatsUdaf {
    fn default() -> Self {
        Self::new()
    }
}

impl StringStatsUdaf {
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

impl AggregateUDFImpl for StringStatsUdaf {
    fn name(&self) -> &str {
        "string_stats"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(RESULT_FIELDS.clone()))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(StringStatsAccumulator::default()))
    }

    fn state_fields(&self, _args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(STATE_FIELDS.iter().cloned().collect())
    }
}

/// One distinct value: its hash, its bytes in the arena, and its count.
/// The hash is kept so that growing the table never reads the arena (a
/// cache miss per value on high-cardinality columns).
#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    start: usize,
    len: usize,
    count: u64,
}

/// Exact value counts: a hash table of slots into one byte arena.
#[derive(Debug, Default)]
struct ValueCounts {
    table: HashTable<Slot>,
    arena: Vec<u8>,
    hasher: DefaultHashBuilder,
}

impl ValueCounts {
    fn add(&mut self, value: &[u8], count: u64) {
        let hash = self.hasher.hash_one(value);
        let (table, arena) = (&mut self.table, &mut self.arena);
        let eq = |s: &Slot| s.hash == hash && &arena[s.start..s.start + s.len] == value;
        if let Some(slot) = table.find_mut(hash, eq) {
            slot.count += count;
            return;
        }
        let slot = Slot {
            hash,
            start: arena.len(),
            len: value.len(),
            count,
        };
        arena.extend_from_slice(value);
        table.insert_unique(hash, slot, |s| s.hash);
    }

    /// Makes room for `more` values without growing the table on the way.
    fn reserve(&mut self, more: usize, bytes: usize) {
        self.table.reserve(more, |s| s.hash);
        self.arena.reserve(bytes);
    }

    fn len(&self) -> usize {
        self.table.len()
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> + '_ {
        self.table
            .iter()
            .map(|s| (&self.arena[s.start..s.start + s.len], s.count))
    }

    fn size(&self) -> usize {
        self.arena.capacity() + self.table.capacity() * (std::mem::size_of::<Slot>() + 1)
    }
}

/// TFDV's rank order: frequency descending, then value descending.
fn by_rank(a: &(&[u8], u64), b: &(&[u8], u64)) -> std::cmp::Ordering {
    b.1.cmp(&a.1).then_with(|| b.0.cmp(a.0))
}

/// Exact value counts.
#[derive(Debug, Default)]
pub struct StringStatsAccumulator {
    counts: ValueCounts,
    num_values: u64,
    total_bytes: u64,
    invalid_utf8: u64,
}

impl StringStatsAccumulator {
    fn add(&mut self, value: &[u8], count: u64) {
        self.counts.add(value, count);
    }

    /// Values sorted as TFDV ranks them: frequency descending, then value
    /// descending.
    pub fn ranked(&self) -> Vec<(&[u8], u64)> {
        self.top(usize::MAX)
    }

    /// The first `limit` values in rank order. The `limit`-th largest count
    /// is selected first among the counts alone (no byte comparisons), so
    /// only values at least that frequent are ranked by their bytes.
    fn top(&self, limit: usize) -> Vec<(&[u8], u64)> {
        if limit == 0 {
            return Vec::new();
        }
        let mut v: Vec<(&[u8], u64)> = if limit < self.counts.len() {
            let mut counts: Vec<u64> = self.counts.iter().map(|(_, c)| c).collect();
            let (_, &mut least, _) = counts.select_nth_unstable_by(limit - 1, |a, b| b.cmp(a));
            self.counts.iter().filter(|(_, c)| *c >= least).collect()
        } else {
            self.counts.iter().collect()
        };
        if limit < v.len() {
            v.select_nth_unstable_by(limit - 1, by_rank);
            v.truncate(limit);
        }
        v.sort_unstable_by(by_rank);
        v
    }

    fn lists(&self, limit: usize) -> (ArrayRef, ArrayRef) {
        let kept = self.top(limit);
        let values = BinaryArray::from_iter_values(kept.iter().map(|(v, _)| *v));
        let counts = UInt64Array::from_iter_values(kept.iter().map(|(_, c)| *c));
        (one_list(Arc::new(values)), one_list(Arc::new(counts)))
    }
}

impl Accumulator for StringStatsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let col = FeatureColumn::new(&values[0])?;
        col.for_each_bytes_counted(|value, n| {
            let v = value.bytes();
            self.num_values += n;
            self.total_bytes += v.len() as u64 * n;
            if value.text().is_none() {
                self.invalid_utf8 += n;
            }
            self.add(v, n);
        })
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let (values, counts) = self.lists(TOP_VALUES_KEPT);
        let avg = if self.num_values == 0 {
            0.0
        } else {
            self.total_bytes as f64 / self.num_values as f64
        };
        let arrays: Vec<ArrayRef> = vec![
            u64_array(self.counts.len() as u64),
            values,
            counts,
            u64_array(self.num_values),
            u64_array(self.total_bytes),
            Arc::new(Float64Array::from(vec![avg])),
            u64_array(self.invalid_utf8),
        ];
        Ok(ScalarValue::Struct(Arc::new(StructArray::new(
            RESULT_FIELDS.clone(),
            arrays,
            None,
        ))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.counts.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        // Partial state need not be ranked.
        let values = BinaryArray::from_iter_values(self.counts.iter().map(|(v, _)| v));
        let counts = UInt64Array::from_iter_values(self.counts.iter().map(|(_, c)| c));
        let (values, counts) = (one_list(Arc::new(values)), one_list(Arc::new(counts)));
        [
            values,
            counts,
            u64_array(self.num_values),
            u64_array(self.total_bytes),
            u64_array(self.invalid_utf8),
        ]
        .iter()
        .map(|a| ScalarValue::try_from_array(a, 0))
        .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let values = states[0].as_list::<i32>();
        let counts = states[1].as_list::<i32>();
        let u = |i: usize| states[i].as_primitive::<UInt64Type>();
        let incoming = values.values().len();
        self.counts
            .reserve(incoming, values.values().get_buffer_memory_size());
        for r in 0..states[0].len() {
            let vs = values.value(r);
            let vs = vs.as_binary::<i32>();
            let cs = counts.value(r);
            let cs = cs.as_primitive::<UInt64Type>();
            for i in 0..vs.len() {
                self.add(vs.value(i), cs.value(i));
            }
            self.num_values += u(2).value(r);
            self.total_bytes += u(3).value(r);
            self.invalid_utf8 += u(4).value(r);
        }
        Ok(())
    }
}
