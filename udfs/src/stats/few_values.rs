//! [`FewValues`]: exact counts of a numeric feature's distinct values while
//! there are few of them (ids of a handful of categories, quantities,
//! dates: most numeric features of real tables), in an open-addressing table
//! small enough to stay in cache. Counting a value there costs a multiply
//! and a probe, a fraction of a quantile sketch update; the counts enter the
//! sketch exactly (`KllSketch::update_counts`) when the state is taken, or
//! when the feature turns out to have too many distinct values.

/// Key of an empty slot: the bits of a NaN, which is never counted.
const EMPTY: u64 = u64::MAX;

/// Exact counts of at most `limit` distinct non-NaN values.
#[derive(Debug, Clone)]
pub struct FewValues {
    keys: Vec<u64>,
    counts: Vec<u64>,
    len: usize,
    limit: usize,
    shift: u32,
}

/// Slots of a new table; it doubles as values arrive (a wide table has
/// thousands of these accumulators per partition, most never large).
const FIRST_SLOTS: usize = 16;

impl FewValues {
    /// A table for at most `limit` distinct values (at most twice as many
    /// slots).
    pub fn new(limit: usize) -> Self {
        Self::with_slots(FIRST_SLOTS, limit)
    }

    fn with_slots(slots: usize, limit: usize) -> Self {
        Self {
            keys: vec![EMPTY; slots],
            counts: vec![0; slots],
            len: 0,
            limit,
            shift: 64 - slots.trailing_zeros(),
        }
    }

    /// True when nothing is counted.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// Doubles the table, keeping its counts.
    fn grow(&mut self) {
        let mut bigger = Self::with_slots(self.keys.len() * 2, self.limit);
        let mask = bigger.keys.len() - 1;
        for (&k, &c) in self.keys.iter().zip(&self.counts) {
            if k != EMPTY {
                let mut at = bigger.slot(k);
                while bigger.keys[at] != EMPTY {
                    at = (at + 1) & mask;
                }
                bigger.keys[at] = k;
                bigger.counts[at] = c;
            }
        }
        bigger.len = self.len;
        *self = bigger;
    }

    /// Counts `values` (none NaN). Returns how many were counted: all of
    /// them, or fewer when the next one would exceed the limit (the caller
    /// then takes the rest elsewhere).
    pub fn add(&mut self, values: &[f64]) -> usize {
        values
            .iter()
            .position(|&v| !self.insert(v, 1))
            .unwrap_or(values.len())
    }

    /// Adds `(value, count)` pairs (no NaN) as [`FewValues::add`] adds
    /// single values; returns how many pairs were counted.
    pub fn add_counts(&mut self, pairs: &[(f64, u64)]) -> usize {
        pairs
            .iter()
            .position(|&(v, c)| !self.insert(v, c))
            .unwrap_or(pairs.len())
    }

    /// Adds `count` to `v`'s count; false (nothing counted) when `v` would
    /// be a value beyond the limit.
    #[inline]
    fn insert(&mut self, v: f64, count: u64) -> bool {
        let mask = self.keys.len() - 1;
        // +0.0 and -0.0 are the same value here, as for `==`.
        let key = (v + 0.0).to_bits();
        let mut at = self.slot(key);
        loop {
            let k = self.keys[at];
            if k == key {
                self.counts[at] += count;
                return true;
            }
            if k == EMPTY {
                if self.len == self.limit {
                    return false;
                }
                self.keys[at] = key;
                self.counts[at] = count;
                self.len += 1;
                if self.len * 2 > self.keys.len() {
                    self.grow();
                }
                return true;
            }
            at = (at + 1) & mask;
        }
    }

    /// The counted values ascending with their counts.
    pub fn sorted(&self) -> Vec<(f64, u64)> {
        let mut out: Vec<(f64, u64)> = self
            .keys
            .iter()
            .zip(&self.counts)
            .filter(|(&k, _)| k != EMPTY)
            .map(|(&k, &c)| (f64::from_bits(k), c))
            .collect();
        out.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    /// The counted values ascending with their counts; the table is left
    /// empty.
    pub fn drain_sorted(&mut self) -> Vec<(f64, u64)> {
        let out = self.sorted();
        *self = Self::new(self.limit);
        out
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.keys.len() * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_exactly_up_to_the_limit_and_stops_there() {
        let mut t = FewValues::new(3);
        assert_eq!(t.size(), FIRST_SLOTS * 16);
        assert_eq!(t.add(&[2.0, 1.0, 2.0, -0.0, 0.0, 2.0]), 6);
        assert_eq!(t.add(&[1.0, 5.0, 1.0]), 1, "5.0 would be a 4th value");
        assert_eq!(
            t.drain_sorted(),
            vec![(0.0, 2), (1.0, 2), (2.0, 3)],
            "-0.0 counts as 0.0"
        );
        assert!(t.is_empty());
        let many: Vec<f64> = (0..1000).map(|i| f64::from(i % 700)).collect();
        let mut big = FewValues::new(700);
        assert_eq!(big.add(&many), 1000, "grows to hold 700 values");
        let counts = big.drain_sorted();
        assert_eq!(counts.len(), 700);
        assert_eq!(counts[0], (0.0, 2));
        assert_eq!(counts[699], (699.0, 1));
        assert_eq!(t.add(&[f64::INFINITY, f64::NEG_INFINITY]), 2);
        assert_eq!(t.add_counts(&[(f64::INFINITY, 4), (3.0, 1), (4.0, 1)]), 2);
        assert_eq!(
            t.drain_sorted(),
            vec![(f64::NEG_INFINITY, 1), (3.0, 1), (f64::INFINITY, 5)]
        );
    }
}
