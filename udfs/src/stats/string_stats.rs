//! `string_stats(feature)`: TFDV's string statistics of a feature's values,
//! exactly: number of unique values, the most frequent values with their
//! frequencies (TFDV's order: frequency descending, then value descending),
//! total and average length in bytes, and the count of values that are not
//! valid UTF-8. The state is the full value→count map, so merging partial
//! aggregates is exact. The map keeps every distinct value's bytes in one
//! arena, and merged partial states are counted in parallel shards (see
//! `value_counts`).

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryArray, StructArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, UInt64Type};

use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use super::arrays::{list_of, one_list, u64_array};
use super::string_totals::StringTotals;
use super::value_counts::{top_of, CountSource, CountsList, ShardedCounts, ValueCounts};
use super::FeatureColumn;

/// Most frequent values kept in the result: enough for TFDV's 20 top values
/// and its 1,000-bucket rank histogram.
pub const TOP_VALUES_KEPT: usize = 1000;

static STATE_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    let mut f = vec![
        Field::new("values", list_of(DataType::Binary), false),
        Field::new("counts", list_of(DataType::UInt64), false),
    ];
    f.extend(StringTotals::fields());
    Fields::from(f)
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

static DOCUMENTATION: std::sync::LazyLock<datafusion::logical_expr::Documentation> =
    std::sync::LazyLock::new(|| {
        crate::docs::aggregate(
            "TFDV's string statistics, exactly, in one aggregate: unique values, the top values in TFDV's order (count descending, then value descending), total and average length in bytes and invalid UTF-8 count. The state holds every distinct value; weir stats computes uniques and top values with a spilling GROUP BY instead.",
            "string_stats(feature)",
            &[
            ("feature", "A string or binary column, a list of them, or a list of lists."),
            ],
        )
    });

impl AggregateUDFImpl for StringStatsUdaf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(&DOCUMENTATION)
    }

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

/// One merged partial state's values and counts.
struct StateCounts {
    values: BinaryArray,
    counts: UInt64Array,
}

impl CountSource for StateCounts {
    fn len(&self) -> usize {
        self.values.len()
    }
    fn get(&self, i: usize) -> (&[u8], u64) {
        (self.values.value(i), self.counts.value(i))
    }
}

/// Exact value counts.
#[derive(Default)]
pub struct StringStatsAccumulator {
    /// Values added by `update_batch`.
    counts: ValueCounts,
    /// Partial states merged by `merge_batch`, in shards.
    merged: Option<ShardedCounts>,
    totals: StringTotals,
}

impl std::fmt::Debug for StringStatsAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StringStatsAccumulator")
            .field(
                "unique",
                &self.tables().iter().map(|t| t.len()).sum::<usize>(),
            )
            .field("num_values", &self.totals.num_values)
            .finish()
    }
}

impl StringStatsAccumulator {
    /// The tables holding the counts: the merged shards, or the table of
    /// `update_batch` when nothing was merged.
    fn tables(&self) -> Vec<&ValueCounts> {
        match &self.merged {
            Some(m) => m.shards().iter().chain([&self.counts]).collect(),
            None => vec![&self.counts],
        }
    }

    /// Values sorted as TFDV ranks them: frequency descending, then value
    /// descending.
    pub fn ranked(&self) -> Vec<(&[u8], u64)> {
        self.top(usize::MAX)
    }

    /// The first `limit` values in rank order (the top of the tables' tops:
    /// they hold disjoint values).
    fn top(&self, limit: usize) -> Vec<(&[u8], u64)> {
        let tops: Vec<(&[u8], u64)> = self
            .tables()
            .into_iter()
            .flat_map(|t| top_of(t.iter().collect(), limit))
            .collect();
        top_of(tops, limit)
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
            self.totals.add(value, n);
            self.counts.add(v, n);
        })
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let (values, counts) = self.lists(TOP_VALUES_KEPT);
        let totals = self.totals.arrays();
        let arrays: Vec<ArrayRef> = vec![
            u64_array(self.tables().iter().map(|t| t.len() as u64).sum()),
            values,
            counts,
            totals[0].clone(),
            totals[1].clone(),
            self.totals.avg_length(),
            totals[2].clone(),
        ];
        Ok(ScalarValue::Struct(Arc::new(StructArray::new(
            RESULT_FIELDS.clone(),
            arrays,
            None,
        ))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.counts.size()
            + self.merged.as_ref().map_or(0, ShardedCounts::size)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        // Partial state need not be ranked; the tables are disjoint.
        let all: Vec<(&[u8], u64)> = self.tables().into_iter().flat_map(|t| t.iter()).collect();
        let values = BinaryArray::from_iter_values(all.iter().map(|(v, _)| *v));
        let counts = UInt64Array::from_iter_values(all.iter().map(|(_, c)| *c));
        let (values, counts) = (one_list(Arc::new(values)), one_list(Arc::new(counts)));
        let [n, bytes, invalid] = self.totals.arrays();
        [values, counts, n, bytes, invalid]
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let values = states[0].as_list::<i32>();
        let counts = states[1].as_list::<i32>();
        let incoming: Vec<StateCounts> = (0..states[0].len())
            .map(|r| StateCounts {
                values: values.value(r).as_binary::<i32>().clone(),
                counts: counts.value(r).as_primitive::<UInt64Type>().clone(),
            })
            .collect();
        let merged = self.merged.get_or_insert_with(|| {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
            ShardedCounts::new(threads)
        });
        let mut sources: Vec<&dyn CountSource> = incoming.iter().map(|s| s as _).collect();
        // Values counted by `update_batch` before a merge (not DataFusion's
        // order, but allowed) join the shards once.
        let earlier = CountsList(self.counts.iter().collect());
        if !earlier.0.is_empty() {
            sources.push(&earlier);
        }
        merged.add(&sources);
        drop(earlier);
        self.counts = ValueCounts::default();
        self.totals.merge(states, 2)
    }
}
