//! Turns the structs that weir's statistics aggregates return into
//! tensorflow-metadata `FeatureNameStatistics`, the way TFDV fills them.

use datafusion::arrow::array::{Array, StructArray};
use datafusion::common::Result;
use weir_datasets::example::FeatureType;
use weir_tfmd::statistics::{
    CommonStatistics, CustomStatistic, CustomValue, FeatureNameStatistics, FeatureStatsType,
    FieldId, FreqAndValue, Histogram, HistogramBucket, HistogramType, NumericStatistics, Path,
    PresenceAndValencyStatistics, RankBucket, RankHistogram, Stats, StringStatistics,
    StructStatistics, EXACT_COUNTS_HISTOGRAM,
};

use super::tfdv_histogram::{
    bin_weights, equi_width_histogram, exact_summary, quantiles_and_cumulative_weights,
    quantiles_histogram_of_counts, HistogramMode, STANDARD_HISTOGRAM_QUANTILES,
};
use weir_udfs::stats::{CommonStatsResult, NumericStatsResult, QuantileSketch, StringStatsResult};

/// TFDV's number of buckets in every histogram.
pub const HISTOGRAM_BUCKETS: usize = 10;
/// TFDV's number of top values.
pub const TOP_VALUES: usize = 20;
/// TFDV's number of rank histogram buckets.
pub const RANK_BUCKETS: usize = 1000;

/// Quantile boundaries at ranks 0, 1/b, ..., 1.
pub fn quantile_boundaries(sketch: &QuantileSketch, buckets: usize) -> Vec<f64> {
    (0..=buckets)
        .filter_map(|i| sketch.quantile(i as f64 / buckets as f64))
        .collect()
}

/// A QUANTILES histogram: equal-rank boundaries, counts from the sketch's
/// CDF (each bucket `(low, high]`, the first also holding `low`).
pub fn quantiles_histogram(sketch: &QuantileSketch, total: f64, buckets: usize) -> Histogram {
    let b = quantile_boundaries(sketch, buckets);
    let mut out = Vec::new();
    if b.len() == buckets + 1 {
        let degenerate = b[0] == b[buckets];
        for i in 0..buckets {
            let count = if degenerate {
                total / buckets as f64
            } else {
                let hi = sketch.cdf(b[i + 1]).unwrap_or(0.0);
                let lo = if i == 0 {
                    0.0
                } else {
                    sketch.cdf(b[i]).unwrap_or(0.0)
                };
                (hi - lo).max(0.0) * total
            };
            out.push(HistogramBucket {
                low_value: b[i],
                high_value: b[i + 1],
                sample_count: count,
            });
        }
    }
    Histogram {
        buckets: out,
        r#type: HistogramType::Quantiles as i32,
        ..Default::default()
    }
}

/// The STANDARD histogram of `mode` (see [`HistogramMode`]).
pub fn standard_histogram(
    mode: HistogramMode,
    sketch: &QuantileSketch,
    n: &NumericStatsResult,
    buckets: usize,
) -> Histogram {
    match mode {
        HistogramMode::Tfdv => tfdv_standard_histogram(sketch, n, buckets),
        HistogramMode::ExactCounts => Histogram {
            name: EXACT_COUNTS_HISTOGRAM.into(),
            ..exact_standard_histogram(
                sketch,
                n.finite_min,
                n.finite_max,
                n.n as f64,
                n.num_nan,
                buckets,
            )
        },
    }
}

/// TFDV's STANDARD histogram: 1,000 quantiles of the feature's summary
/// spread onto equal-width buckets (see [`super::tfdv_histogram`]).
fn tfdv_standard_histogram(
    sketch: &QuantileSketch,
    n: &NumericStatsResult,
    buckets: usize,
) -> Histogram {
    let weighted: Vec<(f64, f64)> = sketch
        .weighted_values()
        .into_iter()
        .map(|(v, w)| (v, w as f64))
        .collect();
    let summary = exact_summary(&weighted);
    let (q, c) = quantiles_and_cumulative_weights(&summary, STANDARD_HISTOGRAM_QUANTILES);
    let out = equi_width_histogram(
        &q,
        &c,
        n.finite_min,
        n.finite_max,
        buckets,
        n.num_pos_inf as f64,
    );
    Histogram {
        num_nan: n.num_nan,
        ..histogram_of(out, HistogramType::Standard)
    }
}

/// A STANDARD histogram of exact counts: equal-width buckets between the
/// finite min and max, counts from the sketch's CDF.
pub fn exact_standard_histogram(
    sketch: &QuantileSketch,
    min: f64,
    max: f64,
    total: f64,
    num_nan: u64,
    buckets: usize,
) -> Histogram {
    let mut out = Vec::new();
    if min.is_finite() && max.is_finite() && total > 0.0 {
        if min == max {
            out.push(HistogramBucket {
                low_value: min,
                high_value: max,
                sample_count: total,
            });
        } else {
            let width = (max - min) / buckets as f64;
            // Whole counts of the finite values (negative infinities, below
            // `min`, are left out as positive ones are).
            let mut prev = sketch.weight_below(min, false);
            for i in 0..buckets {
                let low = min + width * i as f64;
                let high = if i + 1 == buckets {
                    max
                } else {
                    min + width * (i + 1) as f64
                };
                let c = sketch.weight_below(high, i + 1 == buckets);
                out.push(HistogramBucket {
                    low_value: low,
                    high_value: high,
                    sample_count: c.saturating_sub(prev) as f64,
                });
                prev = c;
            }
        }
    }
    Histogram {
        num_nan,
        buckets: out,
        r#type: HistogramType::Standard as i32,
        ..Default::default()
    }
}

/// TFDV's number of buckets in values-per-list histograms.
pub const NUM_VALUES_BUCKETS: usize = 10;

fn histogram_of(buckets: Vec<(f64, f64, f64)>, ty: HistogramType) -> Histogram {
    Histogram {
        buckets: buckets
            .into_iter()
            .map(|(low_value, high_value, sample_count)| HistogramBucket {
                low_value,
                high_value,
                sample_count,
            })
            .collect(),
        r#type: ty as i32,
        ..Default::default()
    }
}

fn distribution(s: &CommonStatsResult) -> Vec<(f64, f64)> {
    s.num_values
        .iter()
        .map(|&(v, c)| (v as f64, c as f64))
        .collect()
}

/// TFDV's values-per-list QUANTILES histogram of `s`'s distribution.
fn num_values_histogram(s: &CommonStatsResult) -> Option<Histogram> {
    (s.num_non_missing > 0).then(|| {
        histogram_of(
            quantiles_histogram_of_counts(&distribution(s), NUM_VALUES_BUCKETS),
            HistogramType::Quantiles,
        )
    })
}

fn presence_and_valency(s: &CommonStatsResult) -> PresenceAndValencyStatistics {
    PresenceAndValencyStatistics {
        num_non_missing: s.num_non_missing,
        num_missing: s.num_missing,
        min_num_values: if s.num_non_missing == 0 {
            0
        } else {
            s.min_num_values
        },
        max_num_values: s.max_num_values,
        tot_num_values: s.tot_num_values,
    }
}

/// TFDV's custom statistics of the value list lengths at nesting levels
/// below the first (`level_2_value_list_length_quantiles` and `_standard`).
fn level_custom_stats(levels: &[CommonStatsResult]) -> Vec<CustomStatistic> {
    let mut out = Vec::new();
    for (i, level) in levels.iter().enumerate().skip(1) {
        if level.num_non_missing == 0 {
            continue;
        }
        let summary = exact_summary(&distribution(level));
        let (q, c) = quantiles_and_cumulative_weights(&summary, NUM_VALUES_BUCKETS);
        out.push(CustomStatistic {
            name: format!("level_{}_value_list_length_quantiles", i + 1),
            val: Some(CustomValue::Histogram(histogram_of(
                bin_weights(&q, &c),
                HistogramType::Quantiles,
            ))),
        });
        let standard = equi_width_histogram(
            &q,
            &c,
            level.min_num_values as f64,
            level.max_num_values as f64,
            NUM_VALUES_BUCKETS,
            0.0,
        );
        out.push(CustomStatistic {
            name: format!("level_{}_value_list_length_standard", i + 1),
            val: Some(CustomValue::Histogram(histogram_of(
                standard,
                HistogramType::Standard,
            ))),
        });
    }
    out
}

fn common(s: &CommonStatsResult, levels: &[CommonStatsResult]) -> CommonStatistics {
    let non_missing = s.num_non_missing;
    let tot = s.tot_num_values;
    CommonStatistics {
        num_non_missing: non_missing,
        num_missing: s.num_missing,
        min_num_values: if non_missing == 0 {
            0
        } else {
            s.min_num_values
        },
        max_num_values: s.max_num_values,
        avg_num_values: if non_missing == 0 {
            0.0
        } else {
            (tot as f64 / non_missing as f64) as f32
        },
        tot_num_values: tot,
        num_values_histogram: num_values_histogram(s),
        presence_and_valency_stats: levels.iter().map(presence_and_valency).collect(),
    }
}

/// The aggregate results of one feature.
pub struct FeatureResults<'a> {
    /// `common_stats`.
    pub common: &'a StructArray,
    /// `numeric_stats` (numeric features).
    pub numeric: Option<&'a StructArray>,
    /// `string_stats` or `string_stats_approx` (bytes features).
    pub strings: Option<&'a StructArray>,
    /// `valency_stats`' levels (nested features): one struct row per level.
    pub levels: Option<&'a StructArray>,
}

/// Statistics of the feature at `path` from its aggregate results.
pub fn feature_stats(
    path: &[String],
    kind: FeatureType,
    results: FeatureResults<'_>,
    mode: HistogramMode,
) -> Result<FeatureNameStatistics> {
    let FeatureResults {
        common: common_struct,
        numeric,
        strings,
        levels,
    } = results;
    let common_result = CommonStatsResult::from_struct(common_struct, 0)?;
    let levels: Vec<CommonStatsResult> = match levels {
        Some(l) => (0..l.len())
            .map(|i| CommonStatsResult::from_struct(l, i))
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    let numeric = numeric
        .map(|n| NumericStatsResult::from_struct(n, 0))
        .transpose()?;
    let strings = strings
        .map(|s| StringStatsResult::from_struct(s, 0))
        .transpose()?;
    let common_stats = Some(common(&common_result, &levels));
    let field_id = Some(FieldId::Path(Path {
        step: path.to_vec(),
    }));
    if kind == FeatureType::Struct {
        return Ok(FeatureNameStatistics {
            field_id,
            r#type: FeatureStatsType::Struct as i32,
            stats: Some(Stats::StructStats(StructStatistics { common_stats })),
            custom_stats: Vec::new(),
        });
    }
    // TFDV types a feature from the values it sees in this dataset: with no
    // value at all it has no type and gets common statistics only.
    let kind = if common_result.tot_num_values == 0 {
        FeatureType::Unknown
    } else {
        kind
    };
    let mut custom_stats = Vec::new();
    let mut custom = |name: &str, v: u64| {
        if v > 0 {
            custom_stats.push(CustomStatistic {
                name: name.to_string(),
                val: Some(CustomValue::Num(v as f64)),
            });
        }
    };
    if let Some(n) = &numeric {
        custom("num_pos_inf", n.num_pos_inf);
        custom("num_neg_inf", n.num_neg_inf);
    }
    if let Some(s) = &strings {
        custom("invalid_utf8_count", s.invalid_utf8);
    }
    let (ty, stats) = match (kind, numeric, strings) {
        (FeatureType::Int | FeatureType::Float, Some(n), _) => {
            let sketch = QuantileSketch::from_bytes(&n.sketch)?;
            let count = n.n;
            let has = count > 0;
            let num_nan = n.num_nan;
            let histograms = if has {
                vec![
                    standard_histogram(mode, &sketch, &n, HISTOGRAM_BUCKETS),
                    Histogram {
                        num_nan,
                        ..quantiles_histogram(&sketch, count as f64, HISTOGRAM_BUCKETS)
                    },
                ]
            } else {
                Vec::new()
            };
            let stats = NumericStatistics {
                common_stats,
                mean: if has { n.mean } else { 0.0 },
                std_dev: if has { n.std_dev } else { 0.0 },
                num_zeros: n.num_zeros,
                min: if has { n.min } else { 0.0 },
                median: if has {
                    sketch.quantile(0.5).unwrap_or(0.0)
                } else {
                    0.0
                },
                max: if has { n.max } else { 0.0 },
                histograms,
            };
            let ty = if kind == FeatureType::Int {
                FeatureStatsType::Int
            } else {
                FeatureStatsType::Float
            };
            (ty, Stats::NumStats(stats))
        }
        (_, _, Some(s)) => {
            let label = |i: usize| String::from_utf8_lossy(&s.top_values[i]).into_owned();
            let top_values = (0..s.top_values.len().min(TOP_VALUES))
                .map(|i| FreqAndValue {
                    value: label(i),
                    frequency: s.top_counts[i] as f64,
                })
                .collect();
            let rank_buckets: Vec<RankBucket> = (0..s.top_values.len().min(RANK_BUCKETS))
                .map(|i| RankBucket {
                    low_rank: i as u64,
                    high_rank: i as u64,
                    label: label(i),
                    sample_count: s.top_counts[i] as f64,
                })
                .collect();
            let stats = StringStatistics {
                common_stats,
                unique: s.unique,
                top_values,
                avg_length: s.avg_length as f32,
                rank_histogram: (!rank_buckets.is_empty()).then(|| RankHistogram {
                    buckets: rank_buckets,
                    name: String::new(),
                }),
                vocabulary_file: String::new(),
            };
            (FeatureStatsType::String, Stats::StringStats(stats))
        }
        _ => (
            FeatureStatsType::String,
            Stats::StringStats(StringStatistics {
                common_stats,
                ..Default::default()
            }),
        ),
    };
    if kind != FeatureType::Unknown {
        custom_stats.extend(level_custom_stats(&levels));
    }
    Ok(FeatureNameStatistics {
        field_id,
        r#type: ty as i32,
        stats: Some(stats),
        custom_stats,
    })
}
