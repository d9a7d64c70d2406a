//! `numeric_stats(feature)`: TFDV's numeric statistics of a feature's values
//! (ints and floats, as f64): count, mean and population standard deviation
//! (Welford moments merged with Chan's formula, so partial aggregates merge
//! exactly), zeros, NaN and ±infinity counts, min and max, the finite min
//! and max, and the non-NaN values' distribution for the median and the
//! histograms: their exact counts while the feature has at most 16,384
//! distinct values ([`ExactCounts`], what TFDV's own quantiles summary
//! holds for such features, so TFDV's histograms can be reproduced), a KLL
//! quantile sketch beyond that.
//!
//! Why KLL and not DataFusion's t-digest: KLL gives a rank error bound that
//! holds for any input distribution (t-digest's accuracy is best at the
//! tails and has no stated bound in the middle, where the median and decile
//! boundaries live), and its sketches merge without losing that bound.
//! DataSketches states the normalized rank error as 2.296 / k^0.9723 (99%
//! confidence); k = 300 gives 0.0090, inside the default ε = 0.01 (k = 200
//! would give 0.0133). The sketch is weir's [`KllSketch`], whose coins are
//! reproducible (see its module for why not the `datasketches` crate's).
//!
//! Partial states are merged in a canonical order (sorted by their bytes)
//! when the result is taken, so neither the sketch nor the floating-point
//! moments depend on the order in which partitions finish.

use std::sync::{Arc, LazyLock};

use super::exact_counts::{self, ExactCounts};
use super::few_values::FewValues;
use super::kll::KllSketch;
use super::FeatureColumn;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Float64Array, StructArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

/// KLL `k` for a stated rank error of 0.0090 (≤ ε = 0.01).
pub const DEFAULT_KLL_K: u16 = 300;

/// Distinct values counted exactly before a feature is sketched: 16,384
/// (a table of at most 512 KiB, which stays in L2 cache; a partial state of
/// at most 256 KiB).
const FEW_VALUES: usize = 16_384;

const STATE: &[(&str, bool)] = &[
    ("num_values", false),
    ("num_nan", false),
    ("num_pos_inf", false),
    ("num_neg_inf", false),
    ("num_zeros", false),
    ("n", false),
];
const FLOATS: &[&str] = &["mean", "m2", "min", "max", "finite_min", "finite_max"];

static STATE_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    let mut f: Vec<Field> = STATE
        .iter()
        .map(|(n, _)| Field::new(*n, DataType::UInt64, false))
        .collect();
    f.extend(
        FLOATS
            .iter()
            .map(|n| Field::new(*n, DataType::Float64, false)),
    );
    f.push(Field::new("sketch", DataType::Binary, false));
    Fields::from(f)
});

static RESULT_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    let mut f: Vec<Field> = STATE_FIELDS.iter().map(|f| f.as_ref().clone()).collect();
    f.push(Field::new("std_dev", DataType::Float64, false));
    Fields::from(f)
});

/// `numeric_stats(feature) -> struct`: see the module docs. Fields of the
/// result: [`NumericStatsUdaf::fields`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NumericStatsUdaf {
    signature: Signature,
    k: u16,
}

impl Default for NumericStatsUdaf {
    fn default() -> Self {
        Self::new()
    }
}

impl NumericStatsUdaf {
    /// The function with the default sketch size.
    pub fn new() -> Self {
        Self::with_k(DEFAULT_KLL_K)
    }

    /// The function with KLL parameter `k` (larger: smaller rank error).
    pub fn with_k(k: u16) -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
            k,
        }
    }

    /// Its KLL parameter.
    pub fn k(&self) -> u16 {
        self.k
    }

    /// Fields of the result struct.
    pub fn fields() -> Fields {
        RESULT_FIELDS.clone()
    }
}

static DOCUMENTATION: std::sync::LazyLock<datafusion::logical_expr::Documentation> =
    std::sync::LazyLock::new(|| {
        crate::docs::aggregate(
            "TFDV's numeric statistics of a feature's values: mean and population standard deviation, zeros, NaN and infinity counts, min, max, and the distribution for median and histograms (exact counts up to 16,384 distinct values, else a KLL sketch).",
            "numeric_stats(feature)",
            &[
            ("feature", "An integer or floating-point column, a list of them, or a list of lists."),
            ],
        )
    });

impl AggregateUDFImpl for NumericStatsUdaf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(&DOCUMENTATION)
    }

    fn name(&self) -> &str {
        "numeric_stats"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(RESULT_FIELDS.clone()))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(NumericStatsAccumulator::new(self.k)))
    }

    fn state_fields(&self, _args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(STATE_FIELDS.iter().cloned().collect())
    }
}

/// Mergeable numeric statistics.
#[derive(Debug)]
pub struct NumericStatsAccumulator {
    counts: [u64; 6],
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    finite_min: f64,
    finite_max: f64,
    sketch: KllSketch,
    /// Exact counts while the feature has few distinct values (`None`
    /// once it had more; while `Some`, `sketch` is empty).
    few: Option<FewValues>,
    /// Partial states merged in, applied in canonical order by `settle`.
    pending: Vec<PartialState>,
}

/// A partial state's distribution: exact counts or a sketch.
#[derive(Debug, Clone)]
enum Distribution {
    Exact(ExactCounts),
    Sketch(KllSketch),
}

impl Distribution {
    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.starts_with(exact_counts::MAGIC) {
            ExactCounts::from_bytes(bytes).map(Self::Exact)
        } else {
            KllSketch::from_bytes(bytes).map(Self::Sketch)
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Exact(e) => e.to_bytes(),
            Self::Sketch(s) => s.to_bytes(),
        }
    }

    fn retained(&self) -> usize {
        match self {
            Self::Exact(e) => e.pairs().len() * 2,
            Self::Sketch(s) => s.num_retained(),
        }
    }
}

/// One partial aggregate state of `numeric_stats`: the distribution parsed
/// once, its bytes kept as the sort key.
#[derive(Debug, Clone)]
struct PartialState {
    bytes: Vec<u8>,
    dist: Distribution,
    counts: [u64; 6],
    floats: [f64; 6],
}

impl PartialState {
    /// A total order (floats by `total_cmp`, so NaN moments sort too).
    fn canonical_cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.bytes
            .cmp(&o.bytes)
            .then(self.counts.cmp(&o.counts))
            .then_with(|| {
                self.floats
                    .iter()
                    .zip(&o.floats)
                    .map(|(a, b)| a.total_cmp(b))
                    .find(|c| c.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
    }
}

const NUM_VALUES: usize = 0;
const NUM_NAN: usize = 1;
const NUM_POS_INF: usize = 2;
const NUM_NEG_INF: usize = 3;
const NUM_ZEROS: usize = 4;
const N: usize = 5;

impl NumericStatsAccumulator {
    /// An empty accumulator with KLL parameter `k`.
    pub fn new(k: u16) -> Self {
        Self {
            counts: [0; 6],
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            finite_min: f64::INFINITY,
            finite_max: f64::NEG_INFINITY,
            sketch: KllSketch::new(k),
            few: Some(FewValues::new(FEW_VALUES)),
            pending: Vec::new(),
        }
    }

    /// The distribution as it stands: exact while `few` counts it.
    fn distribution(&self) -> Distribution {
        match &self.few {
            Some(few) => Distribution::Exact(ExactCounts::from_sorted(few.sorted())),
            None => Distribution::Sketch(self.sketch.clone()),
        }
    }

    fn distribution_bytes(&self) -> Vec<u8> {
        match &self.few {
            Some(few) => ExactCounts::from_sorted(few.sorted()).to_bytes(),
            None => self.sketch.to_bytes(),
        }
    }

    fn partial(&self) -> PartialState {
        let dist = self.distribution();
        PartialState {
            bytes: dist.to_bytes(),
            dist,
            counts: self.counts,
            floats: [
                self.mean,
                self.m2,
                self.min,
                self.max,
                self.finite_min,
                self.finite_max,
            ],
        }
    }

    fn merge_partial(&mut self, p: &PartialState) {
        for c in [NUM_VALUES, NUM_NAN, NUM_POS_INF, NUM_NEG_INF, NUM_ZEROS] {
            self.counts[c] += p.counts[c];
        }
        self.merge_moments(p.counts[N], p.floats[0], p.floats[1]);
        self.min = self.min.min(p.floats[2]);
        self.max = self.max.max(p.floats[3]);
        self.finite_min = self.finite_min.min(p.floats[4]);
        self.finite_max = self.finite_max.max(p.floats[5]);
        match &p.dist {
            Distribution::Exact(e) => self.count_exactly(e.pairs()),
            Distribution::Sketch(sketch) => {
                self.flush_few();
                self.few = None;
                self.sketch.merge(sketch);
            }
        }
    }

    /// Adds exact `(value, count)` pairs: counted exactly while the feature
    /// stays within the limit, sketched from the first pair beyond it.
    fn count_exactly(&mut self, pairs: &[(f64, u64)]) {
        let rest = match self.few.as_mut() {
            Some(few) => &pairs[few.add_counts(pairs)..],
            None => pairs,
        };
        if rest.is_empty() {
            return;
        }
        self.flush_few();
        self.few = None;
        self.sketch.update_counts(rest);
    }

    /// Applies the pending partial states (and this accumulator's own) in
    /// sorted order, so the result does not depend on arrival order.
    fn settle(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut parts = std::mem::take(&mut self.pending);
        if self.counts[NUM_VALUES] > 0 {
            parts.push(self.partial());
        }
        parts.sort_by(PartialState::canonical_cmp);
        *self = Self::new(self.sketch.k());
        for p in &parts {
            self.merge_partial(p);
        }
    }

    /// Adds the present values of a batch: the moments in two
    /// branch-free passes over lanes the compiler vectorizes, then one Chan
    /// merge; NaN and infinities, rare, on a slower path.
    fn add_values(&mut self, vals: &[f64]) {
        if vals.is_empty() {
            return;
        }
        self.counts[NUM_VALUES] += vals.len() as u64;
        let nan = vals.iter().filter(|v| v.is_nan()).count();
        let kept;
        let vals = if nan > 0 {
            self.counts[NUM_NAN] += nan as u64;
            kept = vals
                .iter()
                .copied()
                .filter(|v| !v.is_nan())
                .collect::<Vec<_>>();
            kept.as_slice()
        } else {
            vals
        };
        if vals.is_empty() {
            return;
        }
        let (sum, min, max, zeros) = lanes_sum_min_max_zeros(vals);
        self.counts[NUM_ZEROS] += zeros;
        self.min = self.min.min(min);
        self.max = self.max.max(max);
        if min.is_infinite() || max.is_infinite() {
            for &v in vals {
                if v == f64::INFINITY {
                    self.counts[NUM_POS_INF] += 1;
                } else if v == f64::NEG_INFINITY {
                    self.counts[NUM_NEG_INF] += 1;
                } else {
                    self.finite_min = self.finite_min.min(v);
                    self.finite_max = self.finite_max.max(v);
                }
            }
        } else {
            self.finite_min = self.finite_min.min(min);
            self.finite_max = self.finite_max.max(max);
        }
        let n = vals.len();
        let mean = sum / n as f64;
        self.merge_moments(n as u64, mean, lanes_squared_deviation(vals, mean));
        self.sketch_values(vals);
    }

    /// Counts `vals` (no NaN) exactly while the feature has few distinct
    /// values, and sketches them once it has more.
    fn sketch_values(&mut self, vals: &[f64]) {
        let rest = match self.few.as_mut() {
            Some(few) => &vals[few.add(vals)..],
            None => vals,
        };
        if rest.is_empty() {
            return;
        }
        self.flush_few();
        self.few = None;
        self.sketch.update_many(rest);
    }

    /// Moves the exact counts into the sketch.
    fn flush_few(&mut self) {
        if let Some(few) = self.few.as_mut().filter(|f| !f.is_empty()) {
            self.sketch.update_counts(&few.drain_sorted());
        }
    }

    /// Chan et al.'s merge of (n, mean, M2) moments.
    fn merge_moments(&mut self, nb: u64, mean_b: f64, m2_b: f64) {
        let na = self.counts[N];
        if nb == 0 {
            return;
        }
        if na == 0 {
            self.mean = mean_b;
            self.m2 = m2_b;
        } else {
            let n = (na + nb) as f64;
            let delta = mean_b - self.mean;
            self.mean += delta * nb as f64 / n;
            self.m2 += m2_b + delta * delta * na as f64 * nb as f64 / n;
        }
        self.counts[N] = na + nb;
    }

    fn state_arrays(&self, with_std: bool) -> Vec<ArrayRef> {
        let mut out: Vec<ArrayRef> = self
            .counts
            .iter()
            .map(|&c| Arc::new(UInt64Array::from(vec![c])) as ArrayRef)
            .collect();
        for v in [
            self.mean,
            self.m2,
            self.min,
            self.max,
            self.finite_min,
            self.finite_max,
        ] {
            out.push(Arc::new(Float64Array::from(vec![v])));
        }
        out.push(Arc::new(BinaryArray::from_vec(vec![self
            .distribution_bytes()
            .as_slice()])));
        if with_std {
            let n = self.counts[N];
            let std = if n == 0 {
                0.0
            } else {
                (self.m2 / n as f64).max(0.0).sqrt()
            };
            out.push(Arc::new(Float64Array::from(vec![std])));
        }
        out
    }
}

impl Accumulator for NumericStatsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let col = FeatureColumn::new(&values[0])?;
        let nums = col.numeric_values()?;
        let nums = nums.as_primitive::<Float64Type>();
        match nums.nulls().filter(|n| n.null_count() > 0) {
            None => self.add_values(nums.values()),
            Some(nulls) => {
                let present: Vec<f64> = nums
                    .values()
                    .iter()
                    .zip(nulls.iter())
                    .filter_map(|(&v, ok)| ok.then_some(v))
                    .collect();
                self.add_values(&present);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.settle();
        Ok(ScalarValue::Struct(Arc::new(StructArray::new(
            RESULT_FIELDS.clone(),
            self.state_arrays(true),
            None,
        ))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.sketch.num_retained() * 8
            + self.few.as_ref().map_or(0, FewValues::size)
            + self
                .pending
                .iter()
                .map(|p| {
                    std::mem::size_of::<PartialState>() + p.bytes.len() + p.dist.retained() * 8
                })
                .sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.settle();
        self.state_arrays(false)
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let u = |i: usize| states[i].as_primitive::<UInt64Type>();
        let f = |i: usize| states[i].as_primitive::<Float64Type>();
        let sketches = states[12].as_binary::<i32>();
        for r in 0..states[0].len() {
            let mut counts = [0u64; 6];
            for (c, v) in counts.iter_mut().enumerate() {
                *v = u(c).value(r);
            }
            let mut floats = [0f64; 6];
            for (i, v) in floats.iter_mut().enumerate() {
                *v = f(6 + i).value(r);
            }
            let bytes = sketches.value(r).to_vec();
            self.pending.push(PartialState {
                dist: Distribution::from_bytes(&bytes)?,
                bytes,
                counts,
                floats,
            });
        }
        Ok(())
    }
}

/// Independent lanes, so the loops vectorize (a single running sum is one
/// long dependency chain). The lane order is fixed: same input, same sums.
const LANES: usize = 8;

/// Sum, min, max and count of zeros of `vals` (no NaN).
fn lanes_sum_min_max_zeros(vals: &[f64]) -> (f64, f64, f64, u64) {
    let mut sum = [0.0f64; LANES];
    let mut min = [f64::INFINITY; LANES];
    let mut max = [f64::NEG_INFINITY; LANES];
    let mut zeros = [0u64; LANES];
    let chunks = vals.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            let v = c[l];
            sum[l] += v;
            min[l] = if v < min[l] { v } else { min[l] };
            max[l] = if v > max[l] { v } else { max[l] };
            zeros[l] += u64::from(v == 0.0);
        }
    }
    for (l, &v) in tail.iter().enumerate() {
        sum[l] += v;
        min[l] = min[l].min(v);
        max[l] = max[l].max(v);
        zeros[l] += u64::from(v == 0.0);
    }
    (
        sum.iter().sum(),
        min.iter().copied().fold(f64::INFINITY, f64::min),
        max.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        zeros.iter().sum(),
    )
}

/// Sum of squared deviations of `vals` from `mean`.
fn lanes_squared_deviation(vals: &[f64], mean: f64) -> f64 {
    let mut acc = [0.0f64; LANES];
    let chunks = vals.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            let d = c[l] - mean;
            acc[l] += d * d;
        }
    }
    for (l, &v) in tail.iter().enumerate() {
        let d = v - mean;
        acc[l] += d * d;
    }
    acc.iter().sum()
}

/// The deserialized distribution of a `numeric_stats` result (exact
/// counts or a KLL sketch), for building medians and histograms.
pub struct QuantileSketch(Distribution);

impl QuantileSketch {
    /// Reads the serialized distribution of a result struct.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Distribution::from_bytes(bytes).map(Self)
    }

    /// Items summarized.
    pub fn n(&self) -> u64 {
        match &self.0 {
            Distribution::Exact(e) => e.n(),
            Distribution::Sketch(s) => s.n(),
        }
    }

    /// True when the values are counted exactly rather than sketched.
    pub fn is_exact(&self) -> bool {
        matches!(self.0, Distribution::Exact(_))
    }

    /// The value at normalized rank `rank` (0..=1), `None` when empty.
    pub fn quantile(&self, rank: f64) -> Option<f64> {
        let rank = rank.clamp(0.0, 1.0);
        match &self.0 {
            Distribution::Exact(e) => e.quantile(rank),
            Distribution::Sketch(s) => s.quantile(rank),
        }
    }

    /// Fraction of items `<= value`, `None` when empty.
    pub fn cdf(&self, value: f64) -> Option<f64> {
        self.rank(value, true)
    }

    /// Fraction of items `< value`, `None` when empty.
    pub fn cdf_exclusive(&self, value: f64) -> Option<f64> {
        self.rank(value, false)
    }

    fn rank(&self, value: f64, inclusive: bool) -> Option<f64> {
        match &self.0 {
            Distribution::Exact(e) => e.rank(value, inclusive),
            Distribution::Sketch(s) => s.rank(value, inclusive),
        }
    }

    /// The weight of the items `<= value` (`inclusive`) or `< value`: a
    /// whole count (estimated when sketched).
    pub fn weight_below(&self, value: f64, inclusive: bool) -> u64 {
        match &self.0 {
            Distribution::Exact(e) => e.weight_below(value, inclusive),
            Distribution::Sketch(s) => s.weight_below(value, inclusive),
        }
    }

    /// The values ascending with their weights: every distinct value with
    /// its count when exact, the sketch's retained items otherwise (a
    /// weighted summary as TFDV's quantiles summary is one).
    pub fn weighted_values(&self) -> Vec<(f64, u64)> {
        match &self.0 {
            Distribution::Exact(e) => e.pairs().to_vec(),
            Distribution::Sketch(s) => s.weighted_items(),
        }
    }

    /// The normalized rank error (99% confidence, single rank): 0 when
    /// exact.
    pub fn rank_error(&self) -> f64 {
        match &self.0 {
            Distribution::Exact(_) => 0.0,
            Distribution::Sketch(s) => s.rank_error(),
        }
    }
}
