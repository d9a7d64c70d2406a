//! `string_stats_approx(feature)`: the string statistics of `string_stats`
//! in bounded memory, for features with huge cardinalities (`--approx`).
//!
//! - `unique`: an HLL sketch (Apache DataSketches, lg_k = 14, 8-bit
//!   registers: 16 KiB), relative standard error 1.04/√2¹⁴ ≈ 0.81%; the
//!   result carries `unique_rse`.
//! - top values: a frequent-items sketch ([`FrequentBytes`], 8,192 items):
//!   every reported count is within `top_max_error` (at most 2/8192 ≈
//!   0.024% of the values) of the true count, and any value more frequent
//!   than that is reported. Ranked as `string_stats` ranks (count desc,
//!   value desc); values are kept as bytes, as `string_stats` keeps them.
//! - lengths and the invalid-UTF-8 count stay exact.
//!
//! Each value is hashed once, to its 64-bit FarmHash fingerprint, which
//! keys the frequent-items map and, through DataSketches' murmur3 of those
//! 8 bytes, picks the HLL register (hashing the bytes twice, once per
//! sketch, cost as much as the two sketches' updates). 64-bit fingerprints
//! of distinct values collide only near 2³² values, where HLL's own error
//! is far larger.
//!
//! The result has every field of `string_stats` plus `unique_rse` and
//! `top_max_error`.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Float64Array, StructArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{exec_datafusion_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use datasketches::hll::{HllSketch, HllType, HllUnion};

use super::arrays::{list_of, one_list, u64_array};
use super::frequent_bytes::{fingerprint, FrequentBytes};
use super::string_stats::TOP_VALUES_KEPT;
use super::string_totals::StringTotals;
use super::FeatureColumn;

/// log2 of the HLL register count.
pub const HLL_LG_K: u8 = 14;
/// Items the frequent-items sketch holds.
pub const FREQUENT_ITEMS_MAP: usize = 8192;

static STATE_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    let mut f = vec![
        Field::new("hll", DataType::Binary, false),
        Field::new("frequent", DataType::Binary, false),
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
        Field::new("unique_rse", DataType::Float64, false),
        Field::new("top_max_error", DataType::UInt64, false),
    ])
});

/// A value's fingerprint, hashed by the HLL sketch as its 8 bytes.
struct Fingerprint(u64);

impl std::hash::Hash for Fingerprint {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

/// `string_stats_approx(feature) -> struct`: see the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ApproxStringStatsUdaf {
    signature: Signature,
}

impl Default for ApproxStringStatsUdaf {
    fn default() -> Self {
        Self::new()
    }
}

impl ApproxStringStatsUdaf {
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
            "string_stats in bounded memory: uniques from an HLL sketch (relative standard error 0.81%) and top values from a frequent-items sketch, each count within top_max_error.",
            "string_stats_approx(feature)",
            &[
            ("feature", "A string or binary column, a list of them, or a list of lists."),
            ],
        )
    });

impl AggregateUDFImpl for ApproxStringStatsUdaf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(&DOCUMENTATION)
    }

    fn name(&self) -> &str {
        "string_stats_approx"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(RESULT_FIELDS.clone()))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ApproxStringStatsAccumulator::default()))
    }

    fn state_fields(&self, _args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(STATE_FIELDS.iter().cloned().collect())
    }
}

/// Bounded-memory string statistics.
#[derive(Debug)]
pub struct ApproxStringStatsAccumulator {
    hll: HllUnion,
    frequent: FrequentBytes,
    /// Frequent-items sketches of merged partial states with their bytes,
    /// merged in the order of those bytes by `settle` (a purge makes
    /// merging order-dependent).
    pending: Vec<(Vec<u8>, FrequentBytes)>,
    totals: StringTotals,
}

impl Default for ApproxStringStatsAccumulator {
    fn default() -> Self {
        Self {
            hll: HllUnion::new(HLL_LG_K).expect("valid lg_k"),
            frequent: FrequentBytes::new(FREQUENT_ITEMS_MAP),
            pending: Vec::new(),
            totals: StringTotals::default(),
        }
    }
}

impl ApproxStringStatsAccumulator {
    /// Merges the pending partial sketches, and this accumulator's own, in
    /// the order of their bytes, so the result does not depend on the order
    /// in which partitions finish.
    fn settle(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut parts = std::mem::take(&mut self.pending);
        let own = std::mem::replace(&mut self.frequent, FrequentBytes::new(FREQUENT_ITEMS_MAP));
        parts.push((own.to_bytes(), own));
        parts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (_, p) in &parts {
            self.frequent.merge(p);
        }
    }

    fn hll_bytes(&self) -> Vec<u8> {
        self.hll.to_sketch(HllType::Hll8).serialize()
    }
}

impl Accumulator for ApproxStringStatsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let col = FeatureColumn::new(&values[0])?;
        col.for_each_bytes_counted(|value, n| {
            let v = value.bytes();
            self.totals.add(value, n);
            let hash = fingerprint(v);
            self.hll.update_value(Fingerprint(hash));
            self.frequent.update_hashed(hash, v, n);
        })
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.settle();
        let ranked = self.frequent.ranked(TOP_VALUES_KEPT);
        let values = BinaryArray::from_iter_values(ranked.iter().map(|(v, _)| *v));
        let counts = UInt64Array::from_iter_values(ranked.iter().map(|(_, c)| *c));
        let totals = self.totals.arrays();
        let arrays: Vec<ArrayRef> = vec![
            u64_array(self.hll.estimate().round() as u64),
            one_list(Arc::new(values)),
            one_list(Arc::new(counts)),
            totals[0].clone(),
            totals[1].clone(),
            self.totals.avg_length(),
            totals[2].clone(),
            Arc::new(Float64Array::from(vec![
                1.04 / f64::from(1u32 << HLL_LG_K).sqrt(),
            ])),
            u64_array(self.frequent.maximum_error()),
        ];
        Ok(ScalarValue::Struct(Arc::new(StructArray::new(
            RESULT_FIELDS.clone(),
            arrays,
            None,
        ))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.frequent.size()
            + self
                .pending
                .iter()
                .map(|(b, f)| b.capacity() + f.size())
                .sum::<usize>()
            + (1 << HLL_LG_K)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.settle();
        Ok(vec![
            ScalarValue::Binary(Some(self.hll_bytes())),
            ScalarValue::Binary(Some(self.frequent.to_bytes())),
            ScalarValue::UInt64(Some(self.totals.num_values)),
            ScalarValue::UInt64(Some(self.totals.total_bytes)),
            ScalarValue::UInt64(Some(self.totals.invalid_utf8)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let hll = states[0].as_binary::<i32>();
        let freq = states[1].as_binary::<i32>();
        for r in 0..states[0].len() {
            let sketch = HllSketch::deserialize(hll.value(r))
                .map_err(|e| exec_datafusion_err!("corrupt HLL sketch in aggregate state: {e}"))?;
            self.hll.update(&sketch);
            let bytes = freq.value(r);
            self.pending
                .push((bytes.to_vec(), FrequentBytes::from_bytes(bytes)?));
        }
        self.totals.merge(states, 2)
    }
}
