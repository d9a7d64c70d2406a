//! Distances between two datasets' statistics of one feature, as TFDV
//! computes them (L-infinity and normalized absolute difference on value
//! counts, Jensen-Shannon divergence on value counts or on histograms
//! aligned on the union of bucket boundaries), and weir's statistical tests
//! (chi-square on value counts, two-sample Kolmogorov-Smirnov from quantile
//! sketches).

use std::collections::{BTreeMap, BTreeSet};

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// A histogram bucket: `[low, high]` holding `count` values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// Values in the bucket.
    pub count: f64,
}

/// A numeric histogram with its NaN count.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hist {
    /// The buckets, in increasing order.
    pub buckets: Vec<Bucket>,
    /// NaN values (outside every bucket).
    pub num_nan: f64,
}

impl From<&weir_tfmd::statistics::Histogram> for Hist {
    fn from(h: &weir_tfmd::statistics::Histogram) -> Self {
        Hist {
            buckets: h
                .buckets
                .iter()
                .map(|b| Bucket {
                    low: b.low_value,
                    high: b.high_value,
                    count: b.sample_count,
                })
                .collect(),
            num_nan: h.num_nan as f64,
        }
    }
}

fn normalize(counts: &BTreeMap<String, f64>) -> BTreeMap<&str, f64> {
    let total: f64 = counts.values().sum();
    counts
        .iter()
        .map(|(k, v)| (k.as_str(), if total > 0.0 { v / total } else { 0.0 }))
        .collect()
}

/// The largest absolute difference between two maps (missing keys count as
/// 0), with the key where it occurs; ties go to the later key, as in TFDV.
fn max_abs_difference(a: &BTreeMap<&str, f64>, b: &BTreeMap<&str, f64>) -> (String, f64) {
    let keys: BTreeSet<&str> = a.keys().chain(b.keys()).copied().collect();
    let mut best = (String::new(), 0.0);
    for k in keys {
        let d = (a.get(k).copied().unwrap_or(0.0) - b.get(k).copied().unwrap_or(0.0)).abs();
        if d >= best.1 {
            best = (k.to_string(), d);
        }
    }
    best
}

/// L-infinity distance between the value distributions (each normalized by
/// its own total): the largest difference in any value's share, and that
/// value.
pub fn l_infinity(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> (String, f64) {
    max_abs_difference(&normalize(a), &normalize(b))
}

/// Normalized absolute difference: the largest difference of any value's
/// count, divided by the total count of both datasets.
pub fn normalized_absolute_difference(
    a: &BTreeMap<String, f64>,
    b: &BTreeMap<String, f64>,
) -> (String, f64) {
    let scale: f64 = a.values().sum::<f64>() + b.values().sum::<f64>();
    max_abs_difference(&scaled(a, scale), &scaled(b, scale))
}

fn scaled(m: &BTreeMap<String, f64>, scale: f64) -> BTreeMap<&str, f64> {
    m.iter()
        .map(|(k, v)| (k.as_str(), if scale > 0.0 { v / scale } else { 0.0 }))
        .collect()
}

fn kl_terms(p: f64, m: f64) -> f64 {
    if p > 0.0 && m > 0.0 {
        p * (p / m).log2()
    } else {
        0.0
    }
}

/// Jensen-Shannon divergence (log base 2, so in [0, 1]) between two value
/// distributions; `None` when either is empty.
pub fn jensen_shannon_counts(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (pa, pb) = (normalize(a), normalize(b));
    let keys: BTreeSet<&str> = pa.keys().chain(pb.keys()).copied().collect();
    let mut sum = 0.0;
    for k in keys {
        let p = pa.get(k).copied().unwrap_or(0.0);
        let q = pb.get(k).copied().unwrap_or(0.0);
        let m = (p + q) / 2.0;
        sum += kl_terms(p, m) + kl_terms(q, m);
    }
    Some((sum / 2.0).min(1.0))
}

/// Splits out zero-width (point) buckets and buckets with an infinite bound.
fn strip(h: &Hist) -> (Vec<Bucket>, BTreeMap<u64, f64>, f64) {
    let mut ranges = Vec::new();
    let mut points: BTreeMap<u64, f64> = BTreeMap::new();
    let mut infinite = 0.0;
    for b in &h.buckets {
        if !b.low.is_finite() || !b.high.is_finite() {
            infinite += b.count;
        } else if b.low == b.high {
            *points.entry(order_key(b.low)).or_default() += b.count;
        } else {
            ranges.push(*b);
        }
    }
    (ranges, points, infinite)
}

/// A u64 whose order is the f64's order (for finite values and ±0).
fn order_key(v: f64) -> u64 {
    let bits = (v + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Re-buckets `ranges` onto `bounds` (a superset of their boundaries),
/// spreading each bucket's count uniformly over its width.
fn rebucket(ranges: &[Bucket], bounds: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; bounds.len().saturating_sub(1)];
    for b in ranges {
        let width = b.high - b.low;
        for (i, w) in bounds.windows(2).enumerate() {
            let (lo, hi) = (w[0].max(b.low), w[1].min(b.high));
            if hi > lo && width > 0.0 {
                out[i] += b.count * (hi - lo) / width;
            }
        }
    }
    out
}

/// The sorted distinct bucket boundaries of `ranges`.
fn boundaries<'a>(ranges: impl IntoIterator<Item = &'a Bucket>) -> Vec<f64> {
    let mut bounds: Vec<f64> = ranges.into_iter().flat_map(|x| [x.low, x.high]).collect();
    bounds.sort_by(f64::total_cmp);
    bounds.dedup();
    bounds
}

/// Aligns two histograms on the union of their bucket boundaries (uniform
/// mass within a bucket), then adds matching point-mass buckets, a bucket
/// each for values in infinite-bound buckets, and NaN buckets — TFDV's
/// `AlignHistograms`. Returns the two aligned count vectors.
///
/// As in TFDV 1.16, the NaN buckets are added only when the two
/// histograms already share their boundaries: TFDV's re-bucketing builds
/// new histograms without their NaN counts, so histograms that needed it
/// are compared without NaN (drift thresholds tuned on TFDV's numbers
/// assume this).
pub fn align_histograms(a: &Hist, b: &Hist) -> (Vec<f64>, Vec<f64>) {
    let (ra, pa, ia) = strip(a);
    let (rb, pb, ib) = strip(b);
    let same_bounds = boundaries(&ra) == boundaries(&rb);
    let bounds = boundaries(ra.iter().chain(&rb));
    let mut va = rebucket(&ra, &bounds);
    let mut vb = rebucket(&rb, &bounds);
    let points: BTreeSet<u64> = pa.keys().chain(pb.keys()).copied().collect();
    for p in points {
        va.push(pa.get(&p).copied().unwrap_or(0.0));
        vb.push(pb.get(&p).copied().unwrap_or(0.0));
    }
    if ia != 0.0 {
        va.push(ia);
        vb.push(0.0);
    }
    if ib != 0.0 {
        va.push(0.0);
        vb.push(ib);
    }
    if same_bounds && (a.num_nan > 0.0 || b.num_nan > 0.0) {
        va.extend([0.0, a.num_nan]);
        vb.extend([b.num_nan, 0.0]);
    }
    (va, vb)
}

/// Jensen-Shannon divergence (log base 2) between two numeric histograms
/// aligned as [`align_histograms`] does; `None` when either is empty.
pub fn jensen_shannon_histograms(a: &Hist, b: &Hist) -> Option<f64> {
    let (va, vb) = align_histograms(a, b);
    let (ta, tb): (f64, f64) = (va.iter().sum(), vb.iter().sum());
    if ta <= 0.0 || tb <= 0.0 {
        return None;
    }
    let mut sum = 0.0;
    for (x, y) in va.iter().zip(&vb) {
        let (p, q) = (x / ta, y / tb);
        let m = (p + q) / 2.0;
        sum += kl_terms(p, m) + kl_terms(q, m);
    }
    Some((sum / 2.0).min(1.0))
}

/// The result of a statistical test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// The test statistic (chi-square value, or KS distance D).
    pub statistic: f64,
    /// The p-value under the hypothesis that both samples come from one
    /// distribution.
    pub p_value: f64,
    /// Degrees of freedom (chi-square) or the effective sample size (KS).
    pub dof_or_n: f64,
    /// For KS: a bound on |D - D_exact| from the sketches (0 for chi-square).
    pub error_bound: f64,
}

/// Pearson's chi-square test of homogeneity on a 2 x k table of value
/// counts (values missing from one side count 0). Categories that are
/// empty on both sides are dropped. `None` with fewer than two categories
/// or an empty side.
pub fn chi_squared(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> Option<TestResult> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let (na, nb): (f64, f64) = (a.values().sum(), b.values().sum());
    if na <= 0.0 || nb <= 0.0 || keys.len() < 2 {
        return None;
    }
    let n = na + nb;
    let mut stat = 0.0;
    let mut k = 0usize;
    for key in keys {
        let (oa, ob) = (
            a.get(key).copied().unwrap_or(0.0),
            b.get(key).copied().unwrap_or(0.0),
        );
        let total = oa + ob;
        if total <= 0.0 {
            continue;
        }
        k += 1;
        let (ea, eb) = (total * na / n, total * nb / n);
        stat += (oa - ea).powi(2) / ea + (ob - eb).powi(2) / eb;
    }
    if k < 2 {
        return None;
    }
    let dof = (k - 1) as f64;
    let dist = ChiSquared::new(dof).ok()?;
    Some(TestResult {
        statistic: stat,
        p_value: dist.sf(stat).clamp(0.0, 1.0),
        dof_or_n: dof,
        error_bound: 0.0,
    })
}

/// A CDF known at points: `(x, F(x))` pairs in increasing x, from a QUANTILES
/// histogram (bucket boundaries at equal rank steps).
fn cdf_points(h: &Hist) -> Vec<(f64, f64)> {
    let total: f64 = h.buckets.iter().map(|b| b.count).sum();
    let mut out = Vec::with_capacity(h.buckets.len() + 1);
    if total <= 0.0 {
        return out;
    }
    let mut acc = 0.0;
    if let Some(first) = h.buckets.first() {
        out.push((first.low, 0.0));
    }
    for b in &h.buckets {
        acc += b.count;
        out.push((b.high, acc / total));
    }
    out
}

/// F(x) by linear interpolation between known points (0 below, 1 above).
fn cdf_at(points: &[(f64, f64)], x: f64) -> f64 {
    match points.iter().position(|&(px, _)| px > x) {
        None => 1.0,
        Some(0) => 0.0,
        Some(i) => {
            let (x0, f0) = points[i - 1];
            let (x1, f1) = points[i];
            if x1 > x0 {
                f0 + (f1 - f0) * (x - x0) / (x1 - x0)
            } else {
                f1
            }
        }
    }
}

/// The Kolmogorov distribution's survival function Q(λ) = 2 Σ (-1)^(k-1)
/// exp(-2k²λ²) (statrs has no Kolmogorov distribution).
pub fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let k = k as f64;
        let term = (-2.0 * k * k * lambda * lambda).exp();
        sum += if k as i64 % 2 == 1 { term } else { -term };
        if term < 1e-16 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Two-sample Kolmogorov-Smirnov test from two QUANTILES histograms (the
/// quantile sketches' boundaries). D is the largest CDF difference over the
/// union of both boundary sets, with linear interpolation inside buckets.
///
/// Error stated in the result: each CDF is exact at its own boundaries up
/// to the sketch's rank error `epsilon`, and between boundaries the true
/// CDF stays within its bucket's rank step, so |D - D_exact| <=
/// 2·epsilon + the largest bucket fraction of either histogram (0.1 with
/// TFDV's 10 quantile buckets). The p-value uses the asymptotic Kolmogorov
/// distribution with the effective size n·m/(n+m) and Stephens' correction.
pub fn kolmogorov_smirnov(a: &Hist, b: &Hist, epsilon: f64) -> Option<TestResult> {
    let (pa, pb) = (cdf_points(a), cdf_points(b));
    if pa.is_empty() || pb.is_empty() {
        return None;
    }
    let xs: Vec<f64> = pa.iter().chain(&pb).map(|p| p.0).collect();
    let d = xs
        .iter()
        .map(|&x| (cdf_at(&pa, x) - cdf_at(&pb, x)).abs())
        .fold(0.0, f64::max);
    let n: f64 = a.buckets.iter().map(|x| x.count).sum();
    let m: f64 = b.buckets.iter().map(|x| x.count).sum();
    let ne = n * m / (n + m);
    let sq = ne.sqrt();
    let lambda = (sq + 0.12 + 0.11 / sq) * d;
    let step = |h: &Hist| {
        let total: f64 = h.buckets.iter().map(|x| x.count).sum();
        h.buckets
            .iter()
            .map(|x| x.count / total)
            .fold(0.0, f64::max)
    };
    Some(TestResult {
        statistic: d,
        p_value: kolmogorov_sf(lambda),
        dof_or_n: ne,
        error_bound: 2.0 * epsilon + step(a).max(step(b)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(v: &[(&str, f64)]) -> BTreeMap<String, f64> {
        v.iter().map(|(k, c)| (k.to_string(), *c)).collect()
    }

    #[test]
    fn l_infinity_and_nad_by_hand() {
        let a = counts(&[("x", 2.0), ("y", 2.0)]);
        let b = counts(&[("x", 3.0), ("y", 1.0), ("z", 4.0)]);
        // shares: a x .5 y .5; b x .375 y .125 z .5 -> max diff .5 at z
        let (k, d) = l_infinity(&a, &b);
        assert_eq!((k.as_str(), d), ("z", 0.5));
        // combined total 12: z differs by 4/12
        let (k, d) = normalized_absolute_difference(&a, &b);
        assert_eq!(k, "z");
        assert!((d - 4.0 / 12.0).abs() < 1e-12);
        assert_eq!(l_infinity(&a, &a).1, 0.0);
    }

    #[test]
    fn jsd_bounds() {
        let a = counts(&[("x", 1.0)]);
        let b = counts(&[("y", 1.0)]);
        assert_eq!(jensen_shannon_counts(&a, &b), Some(1.0));
        assert_eq!(jensen_shannon_counts(&a, &a), Some(0.0));
    }

    #[test]
    fn histograms_align_on_union_of_boundaries() {
        let a = Hist {
            buckets: vec![Bucket {
                low: 0.0,
                high: 2.0,
                count: 4.0,
            }],
            num_nan: 0.0,
        };
        let b = Hist {
            buckets: vec![Bucket {
                low: 1.0,
                high: 3.0,
                count: 2.0,
            }],
            num_nan: 1.0,
        };
        // Different boundaries: re-bucketed, NaN counts left out (TFDV).
        let (va, vb) = align_histograms(&a, &b);
        assert_eq!(va, vec![2.0, 2.0, 0.0]);
        assert_eq!(vb, vec![0.0, 1.0, 1.0]);
        // The same boundaries: a NaN bucket for each side.
        let a = Hist {
            buckets: b.buckets.clone(),
            num_nan: 3.0,
        };
        let (va, vb) = align_histograms(&a, &b);
        assert_eq!(va, vec![2.0, 0.0, 3.0]);
        assert_eq!(vb, vec![2.0, 1.0, 0.0]);
    }

    #[test]
    fn chi_squared_matches_a_hand_computed_table() {
        // 2x2 table [[10, 20], [20, 10]]: chi2 = 6.6667, dof 1, p = 0.009823
        let a = counts(&[("x", 10.0), ("y", 20.0)]);
        let b = counts(&[("x", 20.0), ("y", 10.0)]);
        let r = chi_squared(&a, &b).unwrap();
        assert!((r.statistic - 20.0 / 3.0).abs() < 1e-9);
        assert!((r.p_value - 0.009823).abs() < 1e-5, "{}", r.p_value);
    }

    #[test]
    fn kolmogorov_sf_known_values() {
        // Q(1.36) ~ 0.049, Q(1.63) ~ 0.0098
        assert!((kolmogorov_sf(1.36) - 0.0494).abs() < 1e-3);
        assert!((kolmogorov_sf(1.63) - 0.0098).abs() < 5e-4);
    }
}
