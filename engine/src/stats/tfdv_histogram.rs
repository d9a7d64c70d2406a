//! TFDV's STANDARD histogram, derived the way TFDV 1.16 derives it: from
//! the quantile boundaries and cumulative weights of a weighted quantiles
//! summary (tfx_bsl's `QuantilesSketch`, 1,000 quantile buckets), spread
//! onto equal-width buckets between the finite min and max by linear
//! overlap. Drift (JSD) measured on such histograms is what teams moving
//! from TFDV tuned their thresholds on (issue 21).
//!
//! This is weir's default STANDARD histogram ([`HistogramMode::Tfdv`]).
//! The summary is the feature's exact value counts while it has at most
//! 16,384 distinct values (TFDV's own summary is exact while a feature's
//! distinct values fit one block of about 2,100 entries, and then the two
//! agree to rounding), and weir's KLL sketch beyond that (both summaries
//! are then approximate, TFDV's within eps 0.01 of rank and weir's within
//! 0.009, so bucket counts can differ by up to about 2% of the examples).
//! `--histograms exact` ([`HistogramMode::ExactCounts`]) keeps the
//! histogram of exact bucket counts instead.

/// Which STANDARD histogram `weir stats` writes.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum HistogramMode {
    /// TFDV's derivation from 1,000 quantiles (the default): drift and skew
    /// thresholds tuned on TFDV's statistics carry over.
    #[default]
    Tfdv,
    /// Exact counts of the values in each bucket, named
    /// `weir:exact-counts` in the output.
    #[serde(rename = "exact")]
    ExactCounts,
}

impl HistogramMode {
    /// The name used on the command line and in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            HistogramMode::Tfdv => "tfdv",
            HistogramMode::ExactCounts => "exact",
        }
    }
}

impl std::str::FromStr for HistogramMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "tfdv" => Ok(HistogramMode::Tfdv),
            "exact" => Ok(HistogramMode::ExactCounts),
            other => Err(format!("unknown histogram kind '{other}' (tfdv or exact)")),
        }
    }
}

/// TFDV's number of quantiles behind a STANDARD histogram: 100 per bucket
/// of its 10 (`_NUM_QUANTILES_FACTOR_FOR_STD_HISTOGRAM`).
pub const STANDARD_HISTOGRAM_QUANTILES: usize = 1000;

/// One entry of a weighted quantiles summary: a value, its weight and the
/// rank range of its copies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SummaryEntry {
    /// The value.
    pub value: f64,
    /// Its total weight (count).
    pub weight: f64,
    /// Weight of all smaller values.
    pub min_rank: f64,
    /// `min_rank + weight`.
    pub max_rank: f64,
}

/// An exact summary of `(value, weight)` pairs: equal values merged,
/// sorted, ranks accumulated (NaN values must be left out by the caller).
pub fn exact_summary(values: &[(f64, f64)]) -> Vec<SummaryEntry> {
    let mut v: Vec<(f64, f64)> = values.to_vec();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<SummaryEntry> = Vec::with_capacity(v.len());
    let mut rank = 0.0;
    for (value, weight) in v {
        match out.last_mut() {
            Some(last) if last.value == value => {
                last.weight += weight;
                last.max_rank += weight;
            }
            _ => out.push(SummaryEntry {
                value,
                weight,
                min_rank: rank,
                max_rank: rank + weight,
            }),
        }
        rank += weight;
    }
    out
}

/// `num_quantiles + 1` boundaries (the min and the max included) with the
/// cumulative weight at each, by successive rank queries on the summary
/// (the query rule of TF's `WeightedQuantilesSummary`).
pub fn quantiles_and_cumulative_weights(
    entries: &[SummaryEntry],
    num_quantiles: usize,
) -> (Vec<f64>, Vec<f64>) {
    let (mut q, mut w) = (Vec::new(), Vec::new());
    let Some(last) = entries.last() else {
        return (q, w);
    };
    let num_quantiles = num_quantiles.max(2) as f64;
    let total = last.max_rank;
    let mut cur = 0usize;
    let mut rank = 0.0;
    while rank <= num_quantiles {
        let d2 = 2.0 * (rank * total / num_quantiles);
        let mut next = cur + 1;
        while next < entries.len() && d2 >= entries[next].min_rank + entries[next].max_rank {
            next += 1;
        }
        cur = next - 1;
        let pick = if next == entries.len()
            || d2
                < (entries[cur].min_rank + entries[cur].weight)
                    + (entries[next].max_rank - entries[next].weight)
        {
            &entries[cur]
        } else {
            &entries[next]
        };
        q.push(pick.value);
        w.push(pick.max_rank);
        rank += 1.0;
    }
    (q, w)
}

/// TFDV's QUANTILES histogram of an exact distribution of `(value, count)`:
/// `buckets` equal-rank buckets from the summary's quantiles and cumulative
/// weights (`quantiles_util.generate_quantiles_histogram`), as
/// `(low, high, count)`.
pub fn quantiles_histogram_of_counts(
    counts: &[(f64, f64)],
    buckets: usize,
) -> Vec<(f64, f64, f64)> {
    let summary = exact_summary(counts);
    let (q, c) = quantiles_and_cumulative_weights(&summary, buckets);
    bin_weights(&q, &c)
}

/// Buckets `(low, high, weight)` between successive boundaries; the weight
/// of buckets sharing an upper bound is spread evenly over them, and the
/// weight at the first boundary over the leading identical buckets.
pub fn bin_weights(bounds: &[f64], cum: &[f64]) -> Vec<(f64, f64, f64)> {
    let n = bounds.len().saturating_sub(1);
    let mut counts: Vec<f64> = (0..n).map(|i| cum[i + 1] - cum[i]).collect();
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && bounds[j + 1] == bounds[i + 1] {
            j += 1;
        }
        if j > i + 1 {
            let spread = counts[i..j].iter().sum::<f64>() / (j - i) as f64;
            counts[i..j].iter_mut().for_each(|c| *c = spread);
        }
        i = j;
    }
    let mut same = 0;
    while same < n && bounds[same] == bounds[0] && bounds[same + 1] == bounds[1] {
        same += 1;
    }
    if same > 0 {
        let first = cum[0] / same as f64;
        counts[..same].iter_mut().for_each(|c| *c += first);
    }
    (0..n)
        .map(|i| (bounds[i], bounds[i + 1], counts[i]))
        .collect()
}

/// The share of bucket `(low, high)` inside `[lo, hi]` (uniform within the
/// bucket; a point bucket on `lo` counts only for the first interval), and
/// whether the bucket lies wholly before or after the interval.
fn overlap(low: f64, high: f64, lo: f64, hi: f64, first: bool) -> (f64, bool, bool) {
    if low == high && low == lo {
        return if first {
            (1.0, false, false)
        } else {
            (0.0, true, false)
        };
    }
    if high < lo {
        return (0.0, true, false);
    }
    if low > hi {
        return (0.0, false, true);
    }
    if lo <= low && hi >= high {
        return (1.0, false, false);
    }
    let width = high - low;
    if lo <= low {
        return ((hi - low) / width, false, false);
    }
    if hi >= high {
        return ((high - lo) / width, false, false);
    }
    ((hi - lo) / width, false, false)
}

/// The STANDARD histogram `(low, high, count)` TFDV builds from quantile
/// boundaries and cumulative weights: infinities become point buckets at
/// the ends, the finite mass is spread onto `num_buckets` equal-width
/// buckets between `finite_min` and `finite_max` by linear overlap.
pub fn equi_width_histogram(
    quantiles: &[f64],
    cumulative: &[f64],
    finite_min: f64,
    finite_max: f64,
    num_buckets: usize,
    num_pos_inf: f64,
) -> Vec<(f64, f64, f64)> {
    let mut out = Vec::new();
    let Some(&total) = cumulative.last() else {
        return out;
    };
    if !finite_min.is_finite() && !finite_max.is_finite() {
        out.push((finite_min, finite_max, total));
        return out;
    }
    // Strip -inf: buckets ending at -inf hold only negative infinities.
    let neg = quantiles.partition_point(|&q| q == f64::NEG_INFINITY);
    let (mut q, mut c): (Vec<f64>, Vec<f64>) = (quantiles.to_vec(), cumulative.to_vec());
    let mut num_neg_inf = 0.0;
    if neg > 0 {
        num_neg_inf = c[neg - 1];
        q.drain(..neg);
        c.drain(..neg);
        c.iter_mut().for_each(|x| *x -= num_neg_inf);
    }
    if num_pos_inf > 0.0 {
        let pos = q.partition_point(|&x| x < f64::INFINITY);
        let finite_total = c.last().copied().unwrap_or(0.0) - num_pos_inf;
        q.truncate(pos);
        c.truncate(pos);
        q.push(finite_max);
        c.push(finite_total);
    }
    let buckets = bin_weights(&q, &c);
    let bounds: Vec<f64> = if finite_min == finite_max {
        vec![finite_min, finite_max]
    } else {
        // numpy's linspace: start + i * step, the end exactly.
        let step = (finite_max - finite_min) / num_buckets as f64;
        (0..=num_buckets)
            .map(|i| {
                if i == num_buckets {
                    finite_max
                } else {
                    finite_min + i as f64 * step
                }
            })
            .collect()
    };
    if bounds.iter().any(|b| !b.is_finite()) {
        return out;
    }
    if num_neg_inf > 0.0 {
        out.push((f64::NEG_INFINITY, f64::NEG_INFINITY, num_neg_inf));
    }
    let mut start = 0;
    for (i, w) in bounds.windows(2).enumerate() {
        let (lo, hi) = (w[0], w[1]);
        let mut count = 0.0;
        for (k, &(low, high, weight)) in buckets.iter().enumerate().skip(start) {
            let (share, before, after) = overlap(low, high, lo, hi, i == 0);
            if after {
                break;
            }
            if before {
                start = k;
            }
            count += share * weight;
        }
        out.push((lo, hi, count));
    }
    if num_pos_inf > 0.0 {
        out.push((f64::INFINITY, f64::INFINITY, num_pos_inf));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_integers_fill_equal_buckets() {
        let values: Vec<(f64, f64)> = (0..100).map(|v| (v as f64, 1.0)).collect();
        let s = exact_summary(&values);
        let (q, c) = quantiles_and_cumulative_weights(&s, 1000);
        assert_eq!(q.len(), 1001);
        assert_eq!((q[0], q[1000]), (0.0, 99.0));
        assert_eq!(c[1000], 100.0);
        let h = equi_width_histogram(&q, &c, 0.0, 99.0, 10, 0.0);
        assert_eq!(h.len(), 10);
        let total: f64 = h.iter().map(|b| b.2).sum();
        assert!((total - 100.0).abs() < 1e-9, "{h:?}");
        assert!(h.iter().all(|b| (b.2 - 10.0).abs() < 1.5), "{h:?}");
    }

    #[test]
    fn a_constant_is_one_bucket_and_infinities_are_points() {
        let s = exact_summary(&[(3.0, 5.0)]);
        let (q, c) = quantiles_and_cumulative_weights(&s, 1000);
        let h = equi_width_histogram(&q, &c, 3.0, 3.0, 10, 0.0);
        assert_eq!(h.len(), 1);
        assert_eq!((h[0].0, h[0].1), (3.0, 3.0));
        assert!((h[0].2 - 5.0).abs() < 1e-9, "{h:?}");
        let s = exact_summary(&[
            (f64::NEG_INFINITY, 2.0),
            (1.0, 3.0),
            (2.0, 3.0),
            (f64::INFINITY, 1.0),
        ]);
        let (q, c) = quantiles_and_cumulative_weights(&s, 1000);
        let h = equi_width_histogram(&q, &c, 1.0, 2.0, 2, 1.0);
        assert_eq!(h.first().map(|b| b.2), Some(2.0));
        assert_eq!(h.last().map(|b| b.2), Some(1.0));
        let finite: f64 = h[1..h.len() - 1].iter().map(|b| b.2).sum();
        assert!((finite - 6.0).abs() < 1e-9, "{h:?}");
    }
}
