//! A KLL quantile sketch (Karnin, Lang and Liberty, "Optimal Quantile
//! Approximation in Streams", 2016) of f64 values with reproducible bytes.
//!
//! The `datasketches` crate's KLL draws its compaction coins from a
//! thread-local generator seeded at random, so two runs over the same data
//! give different medians and histogram boundaries, and statistics and
//! transform artifacts could not be compared byte for byte between runs or
//! between in-process and cluster execution. This sketch keeps the same
//! algorithm and level capacities (level h of L holds at most
//! max(8, k·(2/3)^(L−1−h)) items of weight 2^h) but draws its coins from a
//! SplitMix64 stream stored in the sketch itself, seeded from a constant
//! mixed with the first value, so the same values in the same order give the
//! same sketch. Aggregates merge partial sketches in a canonical order (see
//! `numeric_stats`), so the result does not depend on which partial state
//! arrives first either.
//!
//! Accuracy is the KLL bound DataSketches states for these capacities:
//! normalized rank error 2.296 / k^0.9723 at 99% confidence (k = 300:
//! 0.0090); the unit tests check it against exact ranks.

use datafusion::common::{exec_datafusion_err, Result};

/// Smallest level capacity.
const MIN_CAPACITY: usize = 8;
/// Seed of every sketch's coin stream ("WEIRKLL1").
const SEED: u64 = 0x5745_4952_4b4c_4c31;
/// Serialization tag and version.
const MAGIC: &[u8; 4] = b"WKL1";

/// One SplitMix64 step: `(next_state, output)`.
fn splitmix64(state: u64) -> (u64, u64) {
    let state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (state, z ^ (z >> 31))
}

/// Capacity of level `h` of `levels` levels for parameter `k`:
/// max(8, round(k·(2/3)^depth)), computed in integers so every platform
/// agrees.
fn capacity(k: u16, levels: usize, h: usize) -> usize {
    let depth = (levels - 1 - h) as u32;
    if depth > 60 {
        return MIN_CAPACITY;
    }
    let (num, den) = (u128::from(k) << depth, 3u128.pow(depth));
    (((num + den / 2) / den) as usize).max(MIN_CAPACITY)
}

/// An unsigned key that orders as `f64::total_cmp` orders the values.
fn sort_key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 1 << 63
    }
}

/// The value of a [`sort_key`].
fn from_sort_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Sorts `keys` ascending, a byte at a time from the least significant
/// (LSD radix sort, one counting pass for all eight bytes), skipping a
/// byte that every key shares; `spare` is a reused buffer. Keys are plain
/// integers, so the order is `sort_unstable`'s.
fn radix_sort(keys: &mut Vec<u64>, spare: &mut Vec<u64>) {
    let mut counts = [[0usize; 256]; 8];
    for &k in keys.iter() {
        for (b, c) in counts.iter_mut().enumerate() {
            c[(k >> (8 * b)) as usize & 0xFF] += 1;
        }
    }
    spare.clear();
    spare.resize(keys.len(), 0);
    for (b, c) in counts.iter().enumerate() {
        if c.contains(&keys.len()) {
            continue;
        }
        let mut next = [0usize; 256];
        let mut at = 0;
        for (n, &count) in next.iter_mut().zip(c) {
            *n = at;
            at += count;
        }
        for &k in keys.iter() {
            let d = (k >> (8 * b)) as usize & 0xFF;
            spare[next[d]] = k;
            next[d] += 1;
        }
        std::mem::swap(keys, spare);
    }
}

/// Merges two ascending sequences into `out` (cleared first).
fn merge_sorted_into(out: &mut Vec<f64>, a: &[f64], b: impl Iterator<Item = f64>) {
    out.clear();
    let mut i = 0;
    for y in b {
        while i < a.len() && a[i].total_cmp(&y).is_le() {
            out.push(a[i]);
            i += 1;
        }
        out.push(y);
    }
    out.extend_from_slice(&a[i..]);
}

/// A KLL sketch of non-NaN f64 values.
#[derive(Debug, Clone)]
pub struct KllSketch {
    k: u16,
    n: u64,
    min: f64,
    max: f64,
    rng: u64,
    /// Level 0 in arrival order; higher levels ascending.
    levels: Vec<Vec<f64>>,
    /// Items retained (derived from `levels`).
    retained: usize,
    /// Sum of the level capacities (derived from `k` and the level count).
    capacity: usize,
    /// Each level's capacity (derived).
    caps: Vec<usize>,
    /// A reused buffer for compactions (not part of the sketch's value).
    scratch: Vec<f64>,
    /// A reused buffer for batch updates (not part of the sketch's value).
    run: Vec<u64>,
    /// A reused buffer for sorting batch updates (not part of the value).
    spare: Vec<u64>,
}

impl PartialEq for KllSketch {
    fn eq(&self, o: &Self) -> bool {
        (self.k, self.n, self.rng, &self.levels) == (o.k, o.n, o.rng, &o.levels)
            && self.min.to_bits() == o.min.to_bits()
            && self.max.to_bits() == o.max.to_bits()
    }
}

impl KllSketch {
    /// An empty sketch with parameter `k` (at least 8).
    pub fn new(k: u16) -> Self {
        Self::with_levels(
            k.max(MIN_CAPACITY as u16),
            0,
            (f64::INFINITY, f64::NEG_INFINITY),
            SEED,
            vec![Vec::new()],
        )
    }

    /// A sketch of the given parts, its derived counters computed.
    fn with_levels(
        k: u16,
        n: u64,
        (min, max): (f64, f64),
        rng: u64,
        levels: Vec<Vec<f64>>,
    ) -> Self {
        let mut sketch = Self {
            k,
            n,
            min,
            max,
            rng,
            levels,
            retained: 0,
            capacity: 0,
            caps: Vec::new(),
            scratch: Vec::new(),
            run: Vec::new(),
            spare: Vec::new(),
        };
        sketch.recount();
        sketch
    }

    /// Recomputes the derived counters after the levels changed shape.
    fn recount(&mut self) {
        let l = self.levels.len();
        self.retained = self.levels.iter().map(Vec::len).sum();
        self.caps = (0..l).map(|h| capacity(self.k, l, h)).collect();
        self.capacity = self.caps.iter().sum();
    }

    /// The sketch's parameter.
    pub fn k(&self) -> u16 {
        self.k
    }

    /// Values summarized.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Values kept.
    pub fn num_retained(&self) -> usize {
        self.retained
    }

    /// The stated normalized rank error (99% confidence, single rank).
    pub fn rank_error(&self) -> f64 {
        2.296 / f64::from(self.k).powf(0.9723)
    }

    fn coin(&mut self) -> usize {
        let (next, out) = splitmix64(self.rng);
        self.rng = next;
        (out & 1) as usize
    }

    /// Seeds the coin stream from the first value of an empty sketch.
    fn seed(&mut self, first: f64) {
        if self.n == 0 {
            self.rng = SEED ^ first.to_bits();
        }
    }

    /// Merges ascending `items` into the ascending level `h` (through the
    /// reused scratch buffer).
    fn merge_into_level(&mut self, h: usize, items: impl Iterator<Item = f64>) {
        let mut merged = std::mem::take(&mut self.scratch);
        merge_sorted_into(&mut merged, &self.levels[h], items);
        self.scratch = std::mem::replace(&mut self.levels[h], merged);
    }

    /// Adds a value; NaN is ignored (it has no rank).
    pub fn update(&mut self, v: f64) {
        if v.is_nan() {
            return;
        }
        self.seed(v);
        self.n += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.levels[0].push(v);
        self.retained += 1;
        if self.retained > self.capacity {
            self.compress();
        }
    }

    /// Adds many values at once (NaN ignored), as [`KllSketch::update`]
    /// would one by one but cheaper: the batch is sorted as one run (a
    /// no-op when it arrives sorted) and compacted by KLL's own halving,
    /// coin-chosen offset and all, until fewer than 2k items are left,
    /// which are merged into the level of their weight. A level's error
    /// grows with the number of its compactions, and halving a run of at
    /// least 2k items at level h is one compaction where the one-by-one
    /// path would make several (its low levels hold as few as 8 items), so
    /// the stated rank error still holds.
    pub fn update_many(&mut self, values: &[f64]) {
        if values.len() < 2 * usize::from(self.k) {
            values.iter().for_each(|&v| self.update(v));
            return;
        }
        let mut run = std::mem::take(&mut self.run);
        run.clear();
        run.extend(values.iter().filter(|v| !v.is_nan()).map(|&v| sort_key(v)));
        if let Some(&first) = run.first() {
            self.seed(from_sort_key(first));
            if !run.is_sorted() {
                radix_sort(&mut run, &mut self.spare);
            }
            self.n += run.len() as u64;
            self.min = self.min.min(from_sort_key(run[0]));
            self.max = self.max.max(from_sort_key(run[run.len() - 1]));
            let mut h = 0;
            while run.len() >= 2 * usize::from(self.k) {
                // With an odd count the smallest item stays at this level
                // (as `compact` keeps it).
                let odd = run.len() % 2;
                if odd == 1 {
                    self.insert_at(h, &[from_sort_key(run[0])]);
                }
                let from = odd + self.coin();
                let half = (run.len() - odd) / 2;
                for i in 0..half {
                    run[i] = run[from + 2 * i];
                }
                run.truncate(half);
                h += 1;
            }
            let items: Vec<f64> = run.iter().map(|&k| from_sort_key(k)).collect();
            self.insert_at(h, &items);
            self.recount();
            self.compress();
        }
        self.run = run;
    }

    /// Adds `(value, count)` pairs, values ascending and not NaN: each
    /// count is split into its binary digits, digit h adding the value once
    /// at level h (weight 2^h), which represents the counts exactly.
    pub fn update_counts(&mut self, counts: &[(f64, u64)]) {
        let Some(&(first, _)) = counts.first() else {
            return;
        };
        self.seed(first);
        let top = counts
            .iter()
            .map(|&(_, c)| 64 - c.leading_zeros() as usize)
            .max()
            .unwrap_or(0);
        let mut by_level: Vec<Vec<f64>> = vec![Vec::new(); top];
        for &(v, c) in counts {
            self.n += c;
            self.min = self.min.min(v);
            self.max = self.max.max(v);
            for (h, level) in by_level.iter_mut().enumerate() {
                if c >> h & 1 == 1 {
                    level.push(v);
                }
            }
        }
        for (h, items) in by_level.iter().enumerate() {
            self.insert_at(h, items);
        }
        self.recount();
        self.compress();
    }

    /// Adds ascending `items` to level `h` (kept ascending above level 0),
    /// creating levels as needed; the caller recounts and compresses.
    fn insert_at(&mut self, h: usize, items: &[f64]) {
        if items.is_empty() {
            return;
        }
        while self.levels.len() <= h {
            self.levels.push(Vec::new());
        }
        if h == 0 {
            self.levels[0].extend_from_slice(items);
        } else {
            self.merge_into_level(h, items.iter().copied());
        }
        self.retained += items.len();
    }

    /// Compacts the lowest full level until the sketch fits its capacity.
    fn compress(&mut self) {
        while self.retained > self.capacity {
            let Some(h) = (0..self.levels.len()).find(|&h| self.levels[h].len() >= self.caps[h])
            else {
                return;
            };
            self.compact(h);
        }
    }

    /// Halves level `h`: sorted, one item kept back when the count is odd,
    /// every other item (from a coin-chosen offset) promoted with double
    /// weight. Total weight is preserved exactly.
    fn compact(&mut self, h: usize) {
        let grew = h + 1 == self.levels.len();
        if grew {
            self.levels.push(Vec::new());
        }
        let mut items = std::mem::take(&mut self.levels[h]);
        if h == 0 {
            items.sort_unstable_by(f64::total_cmp);
        }
        let odd = items.len() % 2;
        let offset = self.coin();
        let promoted = items[odd + offset..].iter().copied().step_by(2);
        let moved = items.len() - odd;
        self.merge_into_level(h + 1, promoted);
        items.truncate(odd);
        self.levels[h] = items;
        self.retained -= moved / 2;
        if grew {
            self.recount();
        }
    }

    /// Adds `other`'s values. Merging the same sketches in the same order
    /// gives the same bytes.
    pub fn merge(&mut self, other: &KllSketch) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            self.rng = other.rng;
        }
        self.k = self.k.min(other.k);
        self.n += other.n;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        while self.levels.len() < other.levels.len() {
            self.levels.push(Vec::new());
        }
        self.levels[0].extend_from_slice(&other.levels[0]);
        for (h, level) in other.levels.iter().enumerate().skip(1) {
            self.merge_into_level(h, level.iter().copied());
        }
        self.recount();
        self.compress();
    }

    /// Retained values ascending with their weights, equal values merged.
    pub fn weighted_items(&self) -> Vec<(f64, u64)> {
        let (values, cum) = self.sorted_view();
        let mut out: Vec<(f64, u64)> = Vec::with_capacity(values.len());
        let mut prev = 0;
        for (v, c) in values.into_iter().zip(cum) {
            match out.last_mut() {
                Some(last) if last.0 == v => last.1 += c - prev,
                _ => out.push((v, c - prev)),
            }
            prev = c;
        }
        out
    }

    /// Retained values ascending with their cumulative weights.
    fn sorted_view(&self) -> (Vec<f64>, Vec<u64>) {
        let mut items: Vec<(f64, u64)> = self
            .levels
            .iter()
            .enumerate()
            .flat_map(|(h, l)| l.iter().map(move |&v| (v, 1u64 << h)))
            .collect();
        items.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut cum = 0;
        items
            .into_iter()
            .map(|(v, w)| {
                cum += w;
                (v, cum)
            })
            .unzip()
    }

    /// The value at normalized rank `rank` (0 gives the minimum, 1 the
    /// maximum; otherwise the smallest retained value whose cumulative
    /// weight reaches rank·n); `None` when empty.
    pub fn quantile(&self, rank: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        if rank <= 0.0 {
            return Some(self.min);
        }
        if rank >= 1.0 {
            return Some(self.max);
        }
        let (values, cum) = self.sorted_view();
        let target = rank * self.n as f64;
        let i = cum.partition_point(|&c| (c as f64) < target);
        values.get(i.min(values.len() - 1)).copied()
    }

    /// Fraction of values `<= v` (`inclusive`) or `< v`; `None` when empty.
    pub fn rank(&self, v: f64, inclusive: bool) -> Option<f64> {
        (self.n > 0).then(|| self.weight_below(v, inclusive) as f64 / self.n as f64)
    }

    /// The weight of the retained items `<= v` (`inclusive`) or `< v`.
    pub fn weight_below(&self, v: f64, inclusive: bool) -> u64 {
        self.levels
            .iter()
            .enumerate()
            .map(|(h, l)| {
                let c = l
                    .iter()
                    .filter(|&&x| if inclusive { x <= v } else { x < v })
                    .count() as u64;
                c << h
            })
            .sum()
    }

    /// The sketch as bytes (`WKL1`, k, n, min, max, coin state, levels).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + self.num_retained() * 8);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.k.to_le_bytes());
        out.extend_from_slice(&self.n.to_le_bytes());
        out.extend_from_slice(&self.min.to_le_bytes());
        out.extend_from_slice(&self.max.to_le_bytes());
        out.extend_from_slice(&self.rng.to_le_bytes());
        out.extend_from_slice(&(self.levels.len() as u32).to_le_bytes());
        for l in &self.levels {
            out.extend_from_slice(&(l.len() as u32).to_le_bytes());
            for v in l {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Reads [`KllSketch::to_bytes`]'s output, checking that it is whole and
    /// that the levels' weights add up to n.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let corrupt = |why: &str| exec_datafusion_err!("corrupt KLL sketch: {why}");
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8]> {
            let s = bytes
                .get(at..at + n)
                .ok_or_else(|| corrupt(&format!("truncated at byte {at}")))?;
            at += n;
            Ok(s)
        };
        if take(4)? != MAGIC {
            return Err(corrupt("bad tag"));
        }
        let k = u16::from_le_bytes(take(2)?.try_into().expect("2 bytes"));
        let n = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let min = f64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let max = f64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let rng = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let num_levels = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
        if num_levels == 0 || num_levels > 64 {
            return Err(corrupt("bad level count"));
        }
        let mut levels = Vec::with_capacity(num_levels);
        let mut weight: u128 = 0;
        for h in 0..num_levels {
            let len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
            let raw = take(
                len.checked_mul(8)
                    .ok_or_else(|| corrupt("bad level size"))?,
            )?;
            let level: Vec<f64> = raw
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect();
            weight += (len as u128) << h;
            levels.push(level);
        }
        if at != bytes.len() || weight != u128::from(n) || k < MIN_CAPACITY as u16 {
            return Err(corrupt("inconsistent sizes"));
        }
        Ok(Self::with_levels(k, n, (min, max), rng, levels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The radix sort orders keys as `sort_unstable` does: random keys,
    /// keys sharing most of their bytes (integers as f64), f64 sort keys
    /// of both signs, and runs of equal keys.
    #[test]
    fn radix_sort_orders_keys_as_sort_unstable() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut spare = Vec::new();
        for shape in 0..4 {
            let keys: Vec<u64> = (0..5000)
                .map(|_| match shape {
                    0 => next(),
                    1 => sort_key((next() % 200_000) as f64),
                    2 => sort_key((next() % 2_000_001) as f64 / 100.0 - 10_000.0),
                    _ => next() % 7,
                })
                .collect();
            let mut want = keys.clone();
            want.sort_unstable();
            let mut got = keys;
            radix_sort(&mut got, &mut spare);
            assert_eq!(got, want, "shape {shape}");
        }
    }

    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                let (next, out) = splitmix64(s);
                s = next;
                // A skewed distribution with ties.
                ((out >> 11) as f64 / (1u64 << 53) as f64).powi(3) * 1000.0
            })
            .map(|v: f64| (v * 10.0).round() / 10.0)
            .collect()
    }

    fn exact_rank(sorted: &[f64], v: f64) -> (f64, f64) {
        let lo = sorted.partition_point(|&x| x < v) as f64;
        let hi = sorted.partition_point(|&x| x <= v) as f64;
        let n = sorted.len() as f64;
        (lo / n, hi / n)
    }

    #[test]
    fn quantiles_are_within_the_stated_rank_error() {
        let data = values(300_000, 7);
        let mut s = KllSketch::new(300);
        data.iter().for_each(|&v| s.update(v));
        let mut sorted = data.clone();
        sorted.sort_by(f64::total_cmp);
        let eps = s.rank_error();
        assert!(eps < 0.0091, "{eps}");
        for i in 1..100 {
            let q = i as f64 / 100.0;
            let v = s.quantile(q).unwrap();
            let (lo, hi) = exact_rank(&sorted, v);
            assert!(
                lo - eps <= q && q <= hi + eps,
                "q {q}: {v} has ranks {lo}..{hi}"
            );
        }
        assert_eq!(s.quantile(0.0), Some(sorted[0]));
        assert_eq!(s.quantile(1.0), Some(*sorted.last().unwrap()));
        assert!(s.num_retained() < 2_000, "{}", s.num_retained());
    }

    #[test]
    fn same_input_same_bytes_and_merges_keep_the_bound() {
        let data = values(100_000, 3);
        let one = |d: &[f64]| {
            let mut s = KllSketch::new(200);
            d.iter().for_each(|&v| s.update(v));
            s
        };
        assert_eq!(one(&data).to_bytes(), one(&data).to_bytes());
        let mut merged = KllSketch::new(200);
        for chunk in data.chunks(7_000) {
            merged.merge(&one(chunk));
        }
        assert_eq!(merged.n(), data.len() as u64);
        let mut sorted = data.clone();
        sorted.sort_by(f64::total_cmp);
        let eps = merged.rank_error();
        for i in 1..20 {
            let q = i as f64 / 20.0;
            let (lo, hi) = exact_rank(&sorted, merged.quantile(q).unwrap());
            assert!(lo - eps <= q && q <= hi + eps, "q {q}: {lo}..{hi}");
        }
        let r = merged.rank(500.0, true).unwrap();
        let (_, exact) = exact_rank(&sorted, 500.0);
        assert!((r - exact).abs() <= eps, "{r} vs {exact}");
    }

    fn assert_within_bound(s: &KllSketch, data: &[f64]) {
        let mut sorted = data.to_vec();
        sorted.sort_by(f64::total_cmp);
        let eps = s.rank_error();
        assert_eq!(s.n(), data.len() as u64);
        assert_eq!(s.quantile(0.0), Some(sorted[0]));
        assert_eq!(s.quantile(1.0), Some(*sorted.last().unwrap()));
        for i in 1..100 {
            let q = i as f64 / 100.0;
            let (lo, hi) = exact_rank(&sorted, s.quantile(q).unwrap());
            assert!(lo - eps <= q && q <= hi + eps, "q {q}: {lo}..{hi}");
        }
    }

    #[test]
    fn batch_updates_keep_the_bound_sorted_or_not() {
        let data = values(400_000, 11);
        let mut s = KllSketch::new(300);
        for chunk in data.chunks(8192) {
            s.update_many(chunk);
        }
        assert_within_bound(&s, &data);
        assert!(s.num_retained() < 2_000, "{}", s.num_retained());
        // An ascending column (an id) takes the sorted-run path.
        let ids: Vec<f64> = (0..400_000).map(f64::from).collect();
        let mut s = KllSketch::new(300);
        ids.chunks(8192).for_each(|c| s.update_many(c));
        assert_within_bound(&s, &ids);
        // Batches and single updates mixed, NaN ignored.
        let mut s = KllSketch::new(300);
        for (i, chunk) in data.chunks(5_000).enumerate() {
            if i % 3 == 0 {
                chunk.iter().for_each(|&v| s.update(v));
            } else {
                let mut c = chunk.to_vec();
                c.push(f64::NAN);
                s.update_many(&c);
            }
        }
        assert_within_bound(&s, &data);
        let twice = |d: &[f64]| {
            let mut s = KllSketch::new(300);
            d.chunks(8192).for_each(|c| s.update_many(c));
            s.to_bytes()
        };
        assert_eq!(twice(&data), twice(&data), "same input, same bytes");
    }

    #[test]
    fn counts_enter_exactly() {
        let mut s = KllSketch::new(300);
        s.update_counts(&[(1.0, 5), (2.0, 1), (7.5, 1_000_000)]);
        assert_eq!(s.n(), 1_000_006);
        assert_eq!(s.quantile(0.0), Some(1.0));
        assert_eq!(s.quantile(0.5), Some(7.5));
        assert_eq!(s.rank(2.0, true), Some(6.0 / 1_000_006.0));
        assert_eq!(KllSketch::from_bytes(&s.to_bytes()).unwrap(), s);
        // Many distinct counts still keep the bound once compacted.
        let data = values(200_000, 5);
        let mut sorted = data.clone();
        sorted.sort_by(f64::total_cmp);
        let mut counts: Vec<(f64, u64)> = Vec::new();
        for &v in &sorted {
            match counts.last_mut() {
                Some((last, c)) if *last == v => *c += 1,
                _ => counts.push((v, 1)),
            }
        }
        let mut s = KllSketch::new(300);
        s.update_counts(&counts);
        assert_within_bound(&s, &data);
    }

    #[test]
    fn bytes_round_trip_and_corruption_is_an_error() {
        let mut s = KllSketch::new(50);
        (0..10_000).for_each(|i| s.update(f64::from(i)));
        s.update(f64::NAN);
        assert_eq!(s.n(), 10_000);
        let b = s.to_bytes();
        assert_eq!(KllSketch::from_bytes(&b).unwrap(), s);
        for bad in [&b[..b.len() - 1], &b[1..], &[][..]] {
            let e = KllSketch::from_bytes(bad).unwrap_err().to_string();
            assert!(e.contains("corrupt KLL sketch"), "{e}");
        }
        let empty = KllSketch::new(50);
        assert_eq!(empty.quantile(0.5), None);
        assert_eq!(empty.rank(1.0, true), None);
        assert_eq!(KllSketch::from_bytes(&empty.to_bytes()).unwrap().n(), 0);
    }
}
