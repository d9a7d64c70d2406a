//! [`FrequentBytes`]: the frequent-items sketch of `string_stats_approx`,
//! the Misra–Gries algorithm with DataSketches' purge (Anderson et al.,
//! "A High-Performance Algorithm for Identifying Frequent Items in Data
//! Streams", 2017), over byte strings; the map is a `ValueCounts`, the
//! same arena-backed table that holds `string_stats`' exact counts.
//!
//! Why not the `datasketches` crate's `FrequentItemsSketch<String>`: it
//! allocates a `String` for every new item, and on a high-cardinality
//! column (free text, ids) nearly every value is new, so allocation and
//! free dominated the whole statistics pass. Here a new item is appended
//! to the arena and a purge rebuilds the arena, so nothing is allocated
//! per value.
//!
//! The map holds at most `capacity` items. When it is full, the median
//! count is subtracted from every count, items left at zero or below are
//! dropped, and the median is added to `offset`. An item's true count lies
//! in `[count, count + offset]`; `offset` (the sketch's maximum error) is
//! at most 2n / capacity for n values, since each purge removes at least
//! half the items. Until the first purge every count is exact.
//!
//! Values are hashed with [`fingerprint`] (FarmHash's Fingerprint64,
//! which is the same on every platform), so a caller that hashes a value
//! for another sketch too (`string_stats_approx`'s HLL) passes the hash in
//! with [`FrequentBytes::update_hashed`] and each value is hashed once.

use datafusion::common::{exec_datafusion_err, Result};

use super::value_counts::{top_of, ValueCounts};

/// Serialization tag and version.
const MAGIC: &[u8; 4] = b"WFI1";
/// Largest capacity a serialized sketch may state (a corrupt one must not
/// make a purge allocate without bound).
const MAX_CAPACITY: usize = 1 << 24;

/// The hash of a value in the sketch: FarmHash's Fingerprint64.
pub fn fingerprint(value: &[u8]) -> u64 {
    farmhash::fingerprint64(value)
}

/// A frequent-items sketch of byte strings (see the module docs).
#[derive(Debug)]
pub struct FrequentBytes {
    counts: ValueCounts,
    capacity: usize,
    offset: u64,
}

impl FrequentBytes {
    /// An empty sketch holding at most `capacity` items.
    pub fn new(capacity: usize) -> Self {
        Self {
            counts: ValueCounts::default(),
            capacity: capacity.clamp(2, MAX_CAPACITY),
            offset: 0,
        }
    }

    /// Upper bound of the error of every reported count.
    pub fn maximum_error(&self) -> u64 {
        self.offset
    }

    /// Adds `count` occurrences of `value`.
    pub fn update(&mut self, value: &[u8], count: u64) {
        self.update_hashed(fingerprint(value), value, count);
    }

    /// Adds `count` occurrences of `value`, whose [`fingerprint`] is `hash`.
    pub fn update_hashed(&mut self, hash: u64, value: &[u8], count: u64) {
        if count == 0 {
            return;
        }
        debug_assert_eq!(hash, fingerprint(value));
        self.counts.add_hashed(hash, value, count);
        if self.counts.len() >= self.capacity {
            self.purge();
        }
    }

    /// Subtracts the median count from every count and drops the items
    /// left at zero or below.
    fn purge(&mut self) {
        let mut counts: Vec<u64> = self.counts.iter().map(|(_, c)| c).collect();
        let mid = counts.len() / 2;
        let (_, &mut median, _) = counts.select_nth_unstable(mid);
        self.offset += median;
        self.counts.purge(median);
    }

    /// Adds `other`'s items and error. The items go in ranked order (not
    /// the table's, which depends on the hash seed), so merging the same
    /// sketches in the same order gives the same sketch.
    pub fn merge(&mut self, other: &FrequentBytes) {
        for (value, count) in other.ranked_by_count(usize::MAX) {
            self.update(value, count);
        }
        self.offset += other.offset;
    }

    /// Items with their lower-bound counts, count descending then value
    /// descending; at most `limit`.
    fn ranked_by_count(&self, limit: usize) -> Vec<(&[u8], u64)> {
        top_of(self.counts.iter().collect(), limit)
    }

    /// Items with their estimated counts (lower bound plus the maximum
    /// error, as DataSketches estimates), ranked as `string_stats` ranks:
    /// count descending, then value descending; at most `limit`.
    pub fn ranked(&self, limit: usize) -> Vec<(&[u8], u64)> {
        let mut rows = self.ranked_by_count(limit);
        rows.iter_mut().for_each(|r| r.1 += self.offset);
        rows
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.counts.size()
    }

    /// The sketch as bytes: tag, capacity, offset, items (ranked, so equal
    /// sketches give equal bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(28 + self.counts.len() * 12);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.capacity as u64).to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&(self.counts.len() as u64).to_le_bytes());
        for (v, c) in self.ranked_by_count(usize::MAX) {
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    /// Reads [`FrequentBytes::to_bytes`]'s output, checking that it is whole.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let corrupt = |why: String| exec_datafusion_err!("corrupt frequent-items sketch: {why}");
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8]> {
            let s = bytes
                .get(at..at.saturating_add(n))
                .ok_or_else(|| corrupt(format!("truncated at byte {at}")))?;
            at += n;
            Ok(s)
        };
        if take(4)? != MAGIC {
            return Err(corrupt("bad tag".into()));
        }
        let u64_at = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        let capacity = u64_at(take(8)?) as usize;
        let offset = u64_at(take(8)?);
        let len = u64_at(take(8)?) as usize;
        if !(2..=MAX_CAPACITY).contains(&capacity) || len > capacity {
            return Err(corrupt(format!("{len} items in a map of {capacity}")));
        }
        let mut sketch = Self::new(capacity);
        sketch.offset = offset;
        for _ in 0..len {
            let n = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
            let value = take(n)?;
            let count = u64_at(take(8)?);
            sketch.counts.add_hashed(fingerprint(value), value, count);
        }
        if at != bytes.len() {
            return Err(corrupt(format!(
                "{} bytes after the items",
                bytes.len() - at
            )));
        }
        Ok(sketch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_exact_until_the_first_purge() {
        let mut s = FrequentBytes::new(8);
        for (v, c) in [(&b"a"[..], 3), (b"b", 1), (b"\xff", 2), (b"a", 1)] {
            s.update(v, c);
        }
        assert_eq!(s.maximum_error(), 0);
        assert_eq!(
            s.ranked(10),
            vec![(&b"a"[..], 4), (&b"\xff"[..], 2), (&b"b"[..], 1)]
        );
        let back = FrequentBytes::from_bytes(&s.to_bytes()).unwrap();
        assert_eq!(back.to_bytes(), s.to_bytes());
        let mut huge = s.to_bytes();
        huge[4..12].copy_from_slice(&u64::MAX.to_le_bytes());
        for bad in [&s.to_bytes()[1..], &s.to_bytes()[..20], &huge[..]] {
            let e = FrequentBytes::from_bytes(bad).unwrap_err().to_string();
            assert!(e.contains("corrupt frequent-items sketch"), "{e}");
        }
    }

    #[test]
    fn heavy_hitters_survive_a_stream_of_distinct_values_within_the_bound() {
        let mut s = FrequentBytes::new(64);
        let mut n = 0u64;
        for i in 0..100_000u64 {
            s.update(format!("unique {i}").as_bytes(), 1);
            n += 1;
            if i % 10 == 0 {
                s.update(b"heavy", 1);
                n += 1;
            }
        }
        let bound = 2 * n / 64;
        assert!(
            s.maximum_error() <= bound,
            "{} > {bound}",
            s.maximum_error()
        );
        let (top, est) = s.ranked(1)[0];
        assert_eq!(top, b"heavy");
        assert!(
            (10_000..=10_000 + s.maximum_error()).contains(&est),
            "{est}"
        );
        // Merging adds counts and errors.
        let mut m = FrequentBytes::new(64);
        m.merge(&s);
        m.merge(&s);
        assert_eq!(m.ranked(1)[0].0, b"heavy");
        assert!(m.maximum_error() >= 2 * s.maximum_error());
        // Merging gives the same bytes every time: items go in ranked
        // order, not table order.
        let twice = || {
            let mut m = FrequentBytes::new(64);
            m.merge(&FrequentBytes::from_bytes(&s.to_bytes()).unwrap());
            m.merge(&s);
            m.to_bytes()
        };
        assert_eq!(twice(), twice());
    }
}
