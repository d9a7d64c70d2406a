//! `weir validate --suggest`: drift thresholds proposed from past spans.
//!
//! For each pair of consecutive spans the drift a comparator would measure
//! is computed (L-infinity for categorical features, Jensen-Shannon
//! divergence on the standard histogram for numeric ones). The proposed
//! threshold is the largest drift seen between normal spans times a margin
//! (default 1.5), rounded up to two significant digits and at least
//! `floor` (0.01) — so none of the past spans would have raised an anomaly,
//! and a shift clearly larger than any seen before does.

use weir_tfmd::statistics::HistogramType;

use crate::metrics::{self, Hist};
use crate::schema::{FeatureComparator, Schema};
use crate::stats_view::DatasetView;

/// Which comparator a suggestion sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuggestedComparator {
    /// `drift_comparator.infinity_norm`.
    InfinityNorm,
    /// `drift_comparator.jensen_shannon_divergence`.
    JensenShannonDivergence,
}

/// A proposed drift threshold for one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// The feature.
    pub feature: String,
    /// The comparator.
    pub comparator: SuggestedComparator,
    /// Drift measured between each pair of consecutive spans.
    pub observed: Vec<f64>,
    /// The proposed threshold.
    pub threshold: f64,
}

/// Options of the suggestion.
#[derive(Debug, Clone)]
pub struct SuggestOptions {
    /// Multiplier over the largest drift seen.
    pub margin: f64,
    /// The smallest threshold proposed.
    pub floor: f64,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        SuggestOptions {
            margin: 1.5,
            floor: 0.01,
        }
    }
}

fn round_up_2_significant(v: f64) -> f64 {
    if v <= 0.0 {
        return 0.0;
    }
    let scale = 10f64.powi(1 - v.log10().floor() as i32);
    // Tolerate float noise (0.05 * 1.5 = 0.07500000000000001).
    (v * scale - 1e-9).ceil() / scale
}

/// Proposes drift thresholds from spans given oldest first.
pub fn suggest_drift_thresholds(
    spans: &[DatasetView],
    options: &SuggestOptions,
) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = Vec::new();
    let Some(last) = spans.last() else {
        return out;
    };
    for feature in last.features() {
        let mut observed = Vec::new();
        let mut comparator = None;
        for pair in spans.windows(2) {
            let (Some(prev), Some(cur)) = (
                pair[0].feature(&feature.name),
                pair[1].feature(&feature.name),
            ) else {
                continue;
            };
            let (pc, cc) = (
                prev.string_values_with_counts(),
                cur.string_values_with_counts(),
            );
            if !pc.is_empty() && !cc.is_empty() {
                observed.push(metrics::l_infinity(&cc, &pc).1);
                comparator = Some(SuggestedComparator::InfinityNorm);
            } else if let (Some(a), Some(b)) = (
                cur.histogram(HistogramType::Standard),
                prev.histogram(HistogramType::Standard),
            ) {
                if let Some(d) = metrics::jensen_shannon_histograms(&Hist::from(a), &Hist::from(b))
                {
                    observed.push(d);
                    comparator = Some(SuggestedComparator::JensenShannonDivergence);
                }
            }
        }
        if let Some(comparator) = comparator {
            let worst = observed.iter().copied().fold(0.0, f64::max);
            let threshold = round_up_2_significant(worst * options.margin).max(options.floor);
            out.push(Suggestion {
                feature: feature.name.clone(),
                comparator,
                observed,
                threshold: threshold.min(1.0),
            });
        }
    }
    out
}

/// Writes the suggestions into the schema's drift comparators (features
/// that already have a threshold of that kind keep it).
pub fn apply_suggestions(schema: &mut Schema, suggestions: &[Suggestion]) {
    for s in suggestions {
        let Some(f) = schema.feature_mut(&s.feature) else {
            continue;
        };
        let c = f
            .drift_comparator
            .get_or_insert_with(FeatureComparator::default);
        let slot = match s.comparator {
            SuggestedComparator::InfinityNorm => &mut c.infinity_norm,
            SuggestedComparator::JensenShannonDivergence => &mut c.jensen_shannon_divergence,
        };
        if slot.is_none() {
            *slot = Some(s.threshold);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_up_to_two_digits() {
        assert_eq!(round_up_2_significant(0.01234), 0.013);
        assert_eq!(round_up_2_significant(0.5), 0.5);
        assert_eq!(round_up_2_significant(1.01), 1.1);
    }
}
