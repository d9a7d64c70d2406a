//! [`ExactCounts`]: a numeric feature's distinct values with their counts,
//! the exact alternative to a quantile sketch while a feature has few
//! distinct values (`numeric_stats` keeps them up to 16,384). Medians,
//! quantile histograms and TFDV's STANDARD histogram derived from them are
//! exact, and they are what TFDV's own quantiles summary holds while a
//! feature's distinct values fit its block (issue 21), so histograms built
//! from them match TFDV's to rounding.
//!
//! Serialized as `WEX1`, the number of pairs, then each value and count
//! little-endian, values ascending (so equal counts give equal bytes).

use datafusion::common::{exec_datafusion_err, Result};

/// Serialization tag and version.
pub(crate) const MAGIC: &[u8; 4] = b"WEX1";

/// Distinct non-NaN values ascending, each with its count (at least 1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExactCounts {
    pairs: Vec<(f64, u64)>,
    n: u64,
}

impl ExactCounts {
    /// Counts from ascending, distinct `(value, count)` pairs.
    pub fn from_sorted(pairs: Vec<(f64, u64)>) -> Self {
        let n = pairs.iter().map(|p| p.1).sum();
        Self { pairs, n }
    }

    /// The pairs, values ascending.
    pub fn pairs(&self) -> &[(f64, u64)] {
        &self.pairs
    }

    /// Values counted.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// The smallest value whose cumulative count reaches `rank`·n (rank 0
    /// gives the minimum, 1 the maximum): the rule `KllSketch::quantile`
    /// applies to its retained items, so an exact sketch and these counts
    /// agree.
    pub fn quantile(&self, rank: f64) -> Option<f64> {
        let (first, last) = (self.pairs.first()?, self.pairs.last()?);
        if rank <= 0.0 {
            return Some(first.0);
        }
        if rank >= 1.0 {
            return Some(last.0);
        }
        let target = rank * self.n as f64;
        let mut cum = 0u64;
        for &(v, c) in &self.pairs {
            cum += c;
            if cum as f64 >= target {
                return Some(v);
            }
        }
        Some(last.0)
    }

    /// Fraction of values `<= v` (`inclusive`) or `< v`.
    pub fn rank(&self, v: f64, inclusive: bool) -> Option<f64> {
        (self.n > 0).then(|| self.weight_below(v, inclusive) as f64 / self.n as f64)
    }

    /// How many values are `<= v` (`inclusive`) or `< v`.
    pub fn weight_below(&self, v: f64, inclusive: bool) -> u64 {
        let end = self
            .pairs
            .partition_point(|&(x, _)| if inclusive { x <= v } else { x < v });
        self.pairs[..end].iter().map(|p| p.1).sum()
    }

    /// The serialized form (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.pairs.len() * 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.pairs.len() as u64).to_le_bytes());
        for &(v, c) in &self.pairs {
            out.extend_from_slice(&v.to_le_bytes());
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    /// Reads [`ExactCounts::to_bytes`]'s output, checking that it is whole,
    /// ascending, without NaN or zero counts.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let corrupt = |why: String| exec_datafusion_err!("corrupt exact value counts: {why}");
        if bytes.get(..4) != Some(MAGIC.as_slice()) {
            return Err(corrupt("bad tag".into()));
        }
        let len = bytes
            .get(4..12)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| corrupt("truncated at byte 4".into()))?;
        let body = &bytes[12..];
        if body.len() as u64 != len.saturating_mul(16) {
            return Err(corrupt(format!(
                "{len} pairs need {} bytes, {} present",
                len.saturating_mul(16),
                body.len()
            )));
        }
        let mut pairs = Vec::with_capacity(len as usize);
        let mut n = 0u64;
        for (i, chunk) in body.chunks_exact(16).enumerate() {
            let v = f64::from_le_bytes(chunk[..8].try_into().expect("8 bytes"));
            let c = u64::from_le_bytes(chunk[8..].try_into().expect("8 bytes"));
            let ascending = pairs.last().is_none_or(|&(p, _): &(f64, u64)| p < v);
            if v.is_nan() || c == 0 || !ascending {
                return Err(corrupt(format!("pair {i} is out of order, NaN or zero")));
            }
            n = n
                .checked_add(c)
                .ok_or_else(|| corrupt("counts overflow".into()))?;
            pairs.push((v, c));
        }
        Ok(Self { pairs, n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::kll::KllSketch;

    #[test]
    fn quantiles_and_ranks_agree_with_an_exact_kll_sketch() {
        let pairs = vec![(-1.0, 3), (0.0, 1), (2.5, 4), (7.0, 2)];
        let exact = ExactCounts::from_sorted(pairs.clone());
        let mut kll = KllSketch::new(300);
        kll.update_counts(&pairs);
        for r in [0.0, 0.1, 0.3, 0.31, 0.4, 0.5, 0.8, 0.9, 1.0] {
            assert_eq!(exact.quantile(r), kll.quantile(r), "rank {r}");
        }
        for v in [-2.0, -1.0, 0.0, 1.0, 2.5, 7.0, 8.0] {
            assert_eq!(exact.rank(v, true), kll.rank(v, true), "{v}");
            assert_eq!(exact.rank(v, false), kll.rank(v, false), "{v}");
        }
    }

    #[test]
    fn bytes_round_trip_and_corrupt_bytes_are_errors() {
        let exact = ExactCounts::from_sorted(vec![(f64::NEG_INFINITY, 1), (1.0, 2)]);
        let bytes = exact.to_bytes();
        assert_eq!(ExactCounts::from_bytes(&bytes).unwrap(), exact);
        assert!(ExactCounts::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut swapped = bytes.clone();
        swapped[12..28].copy_from_slice(&bytes[28..44]);
        swapped[28..44].copy_from_slice(&bytes[12..28]);
        assert!(ExactCounts::from_bytes(&swapped).is_err());
        let mut huge = bytes.clone();
        huge[4..12].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(ExactCounts::from_bytes(&huge).is_err());
    }
}
