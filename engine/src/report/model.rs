//! What a report shows, computed from statistics (weir's or TFDV's), an
//! optional baseline, schema and anomalies: plain data the HTML writer
//! renders, so the numbers are tested apart from the markup.

use std::collections::BTreeMap;

use weir_tfmd::statistics::{FeatureStatsType, HistogramType, Stats};
use weir_tfmd::Schema;
use weir_validate::metrics::{self, Hist};
use weir_validate::stats_view::{DatasetView, FeatureView};

/// Bars of a chart: (label or low bound, high bound, count).
pub type Bars = Vec<(String, f64, f64)>;

/// A drift measure between a split and its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// `L-infinity`, `JSD`, `chi-square p`, `KS p`.
    pub measure: String,
    /// Its value.
    pub value: f64,
    /// The schema's threshold, if it names one for this measure.
    pub threshold: Option<f64>,
    /// Whether the value crosses the threshold (p-values: below it).
    pub drifted: bool,
}

/// One feature of one split.
#[derive(Debug, Clone)]
pub struct FeatureRow {
    /// Feature name (user data: escaped when written).
    pub name: String,
    /// INT, FLOAT, STRING, BYTES or STRUCT.
    pub kind: String,
    /// Numeric (a numeric table row) or categorical.
    pub numeric: bool,
    /// Examples with the feature.
    pub count: f64,
    /// Share of examples without it, 0..1.
    pub missing: f64,
    /// Share of values equal to zero (numeric).
    pub zeros: Option<f64>,
    /// mean, std, min, median, max (numeric).
    pub summary: Option<[f64; 5]>,
    /// Distinct values, top value and its count, average length (categorical).
    pub unique: Option<u64>,
    /// The most frequent value and its count.
    pub top: Option<(String, f64)>,
    /// Average length of the values (categorical).
    pub avg_length: Option<f64>,
    /// Values per example: min and max (a list feature when max > 1).
    pub values_per_example: (i64, i64),
    /// The STANDARD histogram (numeric) or the top 20 values plus the rest
    /// summed (categorical).
    pub bars: Bars,
    /// The quantile boundaries (numeric).
    pub quantiles: Vec<f64>,
    /// The values-per-example histogram of a list feature (more than one
    /// value in some example).
    pub valency_bars: Option<Bars>,
    /// The same chart of the baseline, when comparing.
    pub baseline_bars: Option<Bars>,
    /// The drift measures against the baseline.
    pub drift: Vec<Drift>,
    /// TFDV anomaly types reported for this feature.
    pub anomalies: Vec<String>,
}

impl Drift {
    /// A distance, drifted when above the threshold.
    fn distance(measure: &str, value: f64, threshold: Option<f64>) -> Self {
        Drift {
            measure: measure.into(),
            value,
            threshold,
            drifted: threshold.is_some_and(|t| value > t),
        }
    }

    /// A test's p-value (shown; weir's tests have no schema threshold).
    fn p_value(measure: &str, value: f64) -> Self {
        Drift {
            measure: measure.into(),
            value,
            threshold: None,
            drifted: false,
        }
    }
}

impl FeatureRow {
    /// Whether any drift measure crossed its threshold.
    pub fn drifted(&self) -> bool {
        self.drift.iter().any(|d| d.drifted)
    }

    /// The drift value sorted on (the first measure), if any.
    pub fn drift_value(&self) -> Option<f64> {
        self.drift.first().map(|d| d.value)
    }
}

/// One split (dataset) of the statistics.
#[derive(Debug, Clone)]
pub struct SplitReport {
    /// The split's name.
    pub name: String,
    /// Examples.
    pub examples: f64,
    /// The baseline split's name and examples, when comparing.
    pub baseline: Option<(String, f64)>,
    /// Its features, in the file's order.
    pub features: Vec<FeatureRow>,
}

/// One anomaly to list.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyRow {
    /// The feature it is about (empty: the dataset).
    pub feature: String,
    /// TFDV types (e.g. `ENUM_TYPE_UNEXPECTED_STRING_VALUES`).
    pub types: Vec<String>,
    /// `ERROR`, `WARNING` or `UNKNOWN`.
    pub severity: String,
    /// The long description.
    pub description: String,
}

/// The whole page's content.
#[derive(Debug, Clone)]
pub struct Report {
    /// The page title.
    pub title: String,
    /// Each split.
    pub splits: Vec<SplitReport>,
    /// The anomalies.
    pub anomalies: Vec<AnomalyRow>,
}

const TOP_VALUES: usize = 20;
/// The label of the bar summing the values beyond the top 20.
const OTHER: &str = "(other values)";

fn kind_name(t: FeatureStatsType) -> &'static str {
    match t {
        FeatureStatsType::Int => "INT",
        FeatureStatsType::Float => "FLOAT",
        FeatureStatsType::String => "STRING",
        FeatureStatsType::Bytes => "BYTES",
        FeatureStatsType::Struct => "STRUCT",
    }
}

fn numeric_bars(f: &FeatureView<'_>) -> Bars {
    f.histogram(HistogramType::Standard)
        .map(|h| {
            h.buckets
                .iter()
                .map(|b| (format!("{}", b.low_value), b.high_value, b.sample_count))
                .collect()
        })
        .unwrap_or_default()
}

/// `other` re-bucketed onto the boundaries of `on` (uniform mass within a
/// bucket), so two histograms overlay on one value axis; mass outside
/// `on`'s range goes to its first or last bucket.
fn rebucket(other: &Bars, on: &Bars) -> Bars {
    let bounds: Vec<(f64, f64)> = on
        .iter()
        .map(|(low, high, _)| (low.parse().unwrap_or(f64::NAN), *high))
        .collect();
    let mut counts = vec![0.0; bounds.len()];
    let Some(first) = bounds.first() else {
        return Vec::new();
    };
    for (low, high, count) in other {
        let low: f64 = low.parse().unwrap_or(f64::NAN);
        let width = high - low;
        if width <= 0.0 || !width.is_finite() {
            let i = bounds.iter().position(|(l, h)| low >= *l && low <= *h);
            let i = i.unwrap_or(if low < first.0 { 0 } else { bounds.len() - 1 });
            counts[i] += count;
            continue;
        }
        let mut placed = 0.0;
        for (i, (l, h)) in bounds.iter().enumerate() {
            let overlap = (high.min(*h) - low.max(*l)).max(0.0);
            counts[i] += count * overlap / width;
            placed += count * overlap / width;
        }
        let rest = count - placed;
        if rest > 1e-12 {
            let i = if low < first.0 { 0 } else { bounds.len() - 1 };
            counts[i] += rest;
        }
    }
    on.iter()
        .zip(counts)
        .map(|((l, h, _), c)| (l.clone(), *h, c))
        .collect()
}

fn valency_bars(f: &FeatureView<'_>) -> Option<Bars> {
    let (_, max) = f.min_max_num_values();
    if max <= 1 {
        return None;
    }
    let h = f.common().num_values_histogram?;
    Some(
        h.buckets
            .iter()
            .map(|b| (format!("{}", b.low_value), b.high_value, b.sample_count))
            .collect(),
    )
}

fn top_bars(f: &FeatureView<'_>) -> Bars {
    let mut values: Vec<(String, f64)> = f.string_values_with_counts().into_iter().collect();
    values.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rest: f64 = values.iter().skip(TOP_VALUES).map(|(_, c)| c).sum();
    let mut bars: Bars = values
        .into_iter()
        .take(TOP_VALUES)
        .map(|(v, c)| (v, 0.0, c))
        .collect();
    if rest > 0.0 {
        bars.push((OTHER.to_string(), 0.0, rest));
    }
    bars
}

fn drift(
    current: &FeatureView<'_>,
    baseline: &FeatureView<'_>,
    schema: Option<&Schema>,
    numeric: bool,
) -> Vec<Drift> {
    let comparator = schema
        .and_then(|s| s.features.iter().find(|x| x.name == current.name))
        .and_then(|x| x.drift_comparator.clone());
    let mut out = Vec::new();
    if numeric {
        if let (Some(a), Some(b)) = (
            current.histogram(HistogramType::Standard),
            baseline.histogram(HistogramType::Standard),
        ) {
            if let Some(v) = metrics::jensen_shannon_histograms(&Hist::from(a), &Hist::from(b)) {
                let threshold = comparator
                    .as_ref()
                    .and_then(|c| c.jensen_shannon_divergence);
                out.push(Drift::distance("JSD", v, threshold));
            }
        }
        if let (Some(a), Some(b)) = (
            current.histogram(HistogramType::Quantiles),
            baseline.histogram(HistogramType::Quantiles),
        ) {
            if let Some(r) = metrics::kolmogorov_smirnov(&Hist::from(a), &Hist::from(b), 0.0) {
                out.push(Drift::p_value("KS p", r.p_value));
            }
        }
    } else {
        let (a, b) = (
            current.string_values_with_counts(),
            baseline.string_values_with_counts(),
        );
        if !a.is_empty() && !b.is_empty() {
            let (_, linf) = metrics::l_infinity(&a, &b);
            let threshold = comparator.as_ref().and_then(|c| c.infinity_norm);
            out.push(Drift::distance("L-infinity", linf, threshold));
            if let Some(v) = metrics::jensen_shannon_counts(&a, &b) {
                let threshold = comparator
                    .as_ref()
                    .and_then(|c| c.jensen_shannon_divergence);
                out.push(Drift::distance("JSD", v, threshold));
            }
            if let Some(r) = metrics::chi_squared(&a, &b) {
                out.push(Drift::p_value("chi-square p", r.p_value));
            }
        }
    }
    out
}

fn feature_row(
    f: &FeatureView<'_>,
    baseline: Option<&DatasetView>,
    schema: Option<&Schema>,
    anomalies: &BTreeMap<String, Vec<String>>,
) -> FeatureRow {
    let kind = f.stats_type();
    let numeric = matches!(kind, FeatureStatsType::Int | FeatureStatsType::Float);
    let examples = f.num_examples().max(0.0);
    let count = f.num_present();
    let missing = if examples > 0.0 {
        (examples - count).max(0.0) / examples
    } else {
        0.0
    };
    let (mut zeros, mut summary, mut unique, mut top, mut avg_length) =
        (None, None, None, None, None);
    let mut quantiles = Vec::new();
    match &f.stats.stats {
        Some(Stats::NumStats(n)) => {
            let values = f.total_value_count().max(1.0);
            zeros = Some(n.num_zeros as f64 / values);
            summary = Some([n.mean, n.std_dev, n.min, n.median, n.max]);
            if let Some(q) = f.histogram(HistogramType::Quantiles) {
                quantiles = q.buckets.iter().map(|b| b.low_value).collect();
                if let Some(last) = q.buckets.last() {
                    quantiles.push(last.high_value);
                }
            }
        }
        Some(Stats::StringStats(s)) => {
            unique = Some(s.unique);
            top = s.top_values.first().map(|t| (t.value.clone(), t.frequency));
            avg_length = Some(s.avg_length as f64);
        }
        _ => {}
    }
    let bars = if numeric {
        numeric_bars(f)
    } else {
        top_bars(f)
    };
    let base = baseline.and_then(|b| b.feature(&f.name));
    let baseline_bars = base.as_ref().map(|b| {
        if numeric {
            rebucket(&numeric_bars(b), &bars)
        } else {
            // The baseline's counts of this split's top values.
            let counts = b.string_values_with_counts();
            let total: f64 = counts.values().sum();
            let listed: f64 = bars.iter().filter_map(|(v, _, _)| counts.get(v)).sum();
            bars.iter()
                .map(|(v, h, _)| {
                    let c = match counts.get(v) {
                        Some(c) => *c,
                        None if v == OTHER => total - listed,
                        None => 0.0,
                    };
                    (v.clone(), *h, c)
                })
                .collect()
        }
    });
    FeatureRow {
        name: f.name.clone(),
        kind: kind_name(kind).to_string(),
        numeric,
        count,
        missing,
        zeros,
        summary,
        unique,
        top,
        avg_length,
        values_per_example: f.min_max_num_values(),
        valency_bars: valency_bars(f),
        bars,
        quantiles,
        baseline_bars,
        drift: base
            .as_ref()
            .map(|b| drift(f, b, schema, numeric))
            .unwrap_or_default(),
        anomalies: anomalies.get(&f.name).cloned().unwrap_or_default(),
    }
}

/// The report of `splits` (name, statistics), each compared with the
/// baseline split of the same name (or the only one) when given.
pub fn build(
    title: String,
    splits: &[(String, DatasetView)],
    baseline: &[(String, DatasetView)],
    schema: Option<&Schema>,
    anomalies: Vec<AnomalyRow>,
) -> Report {
    let mut by_feature: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in &anomalies {
        by_feature
            .entry(a.feature.clone())
            .or_default()
            .extend(a.types.iter().cloned());
    }
    let splits = splits
        .iter()
        .map(|(name, view)| {
            let base = baseline
                .iter()
                .find(|(n, _)| n == name)
                .or(if baseline.len() == 1 {
                    baseline.first()
                } else {
                    None
                });
            SplitReport {
                name: name.clone(),
                examples: view.num_examples(),
                baseline: base.map(|(n, v)| (n.clone(), v.num_examples())),
                features: view
                    .features()
                    .map(|f| feature_row(&f, base.map(|(_, v)| v), schema, &by_feature))
                    .collect(),
            }
        })
        .collect();
    Report {
        title,
        splits,
        anomalies,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_baseline_histogram_is_put_on_this_ones_axis() {
        let on: Bars = vec![("0".into(), 10.0, 5.0), ("10".into(), 20.0, 5.0)];
        let other: Bars = vec![
            ("5".into(), 15.0, 4.0),
            ("15".into(), 30.0, 3.0),
            ("-5".into(), -5.0, 1.0),
        ];
        let r = rebucket(&other, &on);
        assert_eq!(r.len(), 2);
        assert!((r[0].2 - 3.0).abs() < 1e-9, "{r:?}"); // 2 of [5,15) + the point -5
        assert!((r[1].2 - 5.0).abs() < 1e-9, "{r:?}"); // 2 of [5,15) + 1 of [15,30) + 2 beyond
        let total: f64 = r.iter().map(|b| b.2).sum();
        assert!((total - 8.0).abs() < 1e-9);
    }
}
