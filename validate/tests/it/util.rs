//! Builders of statistics and schemas, and the case runner the tests share.

use weir_tfmd::statistics::{
    CommonStatistics, CustomStatistic, CustomValue, DatasetFeatureStatistics,
    FeatureNameStatistics, FeatureStatsType, FieldId, Histogram, HistogramBucket, HistogramType,
    NumericStatistics, RankBucket, RankHistogram, Stats, StringStatistics,
};
use weir_validate::anomalies::AnomalyType as T;
use weir_validate::{Anomalies, DatasetView, Schema, ValidateBuilder};

/// Feature statistics with `present` examples holding `vals` values each
/// (min, max) and `missing` examples without the feature.
pub(crate) struct F {
    pub(crate) stats: FeatureNameStatistics,
}

pub(crate) fn common(present: u64, missing: u64, vals: (u64, u64)) -> CommonStatistics {
    CommonStatistics {
        num_non_missing: present,
        num_missing: missing,
        min_num_values: if present > 0 { vals.0 } else { 0 },
        max_num_values: if present > 0 { vals.1 } else { 0 },
        avg_num_values: if present > 0 {
            (vals.0 + vals.1) as f32 / 2.0
        } else {
            0.0
        },
        num_values_histogram: None,
        tot_num_values: present * (vals.0 + vals.1) / 2,
        presence_and_valency_stats: Vec::new(),
    }
}

pub(crate) fn named(name: &str, ty: FeatureStatsType, stats: Stats) -> F {
    F {
        stats: FeatureNameStatistics {
            field_id: Some(FieldId::Name(name.into())),
            r#type: ty as i32,
            stats: Some(stats),
            custom_stats: Vec::new(),
        },
    }
}

pub(crate) fn int_f(name: &str, present: u64, missing: u64, min: f64, max: f64) -> F {
    named(
        name,
        FeatureStatsType::Int,
        Stats::NumStats(NumericStatistics {
            common_stats: Some(common(present, missing, (1, 1))),
            min,
            max,
            histograms: vec![histogram(
                HistogramType::Standard,
                &[(min, max, present as f64)],
                0,
            )],
            ..Default::default()
        }),
    )
}

pub(crate) fn histogram(
    kind: HistogramType,
    buckets: &[(f64, f64, f64)],
    num_nan: u64,
) -> Histogram {
    Histogram {
        num_nan,
        num_undefined: 0,
        buckets: buckets
            .iter()
            .map(|&(low_value, high_value, sample_count)| HistogramBucket {
                low_value,
                high_value,
                sample_count,
            })
            .collect(),
        r#type: kind as i32,
        name: String::new(),
    }
}

pub(crate) fn float_f(name: &str, n: u64, buckets: &[(f64, f64, f64)], num_nan: u64) -> F {
    let min = buckets.first().map_or(0.0, |b| b.0);
    let max = buckets.last().map_or(0.0, |b| b.1);
    named(
        name,
        FeatureStatsType::Float,
        Stats::NumStats(NumericStatistics {
            common_stats: Some(common(n, 0, (1, 1))),
            min,
            max,
            histograms: vec![
                histogram(HistogramType::Standard, buckets, num_nan),
                histogram(HistogramType::Quantiles, buckets, num_nan),
            ],
            ..Default::default()
        }),
    )
}

pub(crate) fn str_f(name: &str, values: &[(&str, f64)]) -> F {
    let n: f64 = values.iter().map(|v| v.1).sum();
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    named(
        name,
        FeatureStatsType::String,
        Stats::StringStats(StringStatistics {
            common_stats: Some(common(n as u64, 0, (1, 1))),
            unique: values.len() as u64,
            rank_histogram: Some(RankHistogram {
                buckets: sorted
                    .iter()
                    .enumerate()
                    .map(|(i, (label, count))| RankBucket {
                        low_rank: i as u64,
                        high_rank: i as u64,
                        label: label.to_string(),
                        sample_count: *count,
                    })
                    .collect(),
                name: String::new(),
            }),
            ..Default::default()
        }),
    )
}

impl F {
    pub(crate) fn values(mut self, min: u64, max: u64) -> F {
        let c = match self.stats.stats.as_mut().unwrap() {
            Stats::NumStats(s) => s.common_stats.as_mut().unwrap(),
            Stats::StringStats(s) => s.common_stats.as_mut().unwrap(),
            Stats::BytesStats(s) => s.common_stats.as_mut().unwrap(),
            Stats::StructStats(s) => s.common_stats.as_mut().unwrap(),
        };
        *c = common(c.num_non_missing, c.num_missing, (min, max));
        self
    }

    pub(crate) fn custom(mut self, name: &str, v: f64) -> F {
        self.stats.custom_stats.push(CustomStatistic {
            name: name.into(),
            val: Some(CustomValue::Num(v)),
        });
        self
    }
}

pub(crate) fn ds(num_examples: u64, features: Vec<F>) -> DatasetView {
    DatasetView::new(
        DatasetFeatureStatistics {
            name: "test".into(),
            num_examples,
            features: features.into_iter().map(|f| f.stats).collect(),
            weighted_num_examples: 0.0,
        },
        "test",
    )
}

pub(crate) fn schema(text: &str) -> Schema {
    Schema::from_text(text, "test schema").unwrap()
}

pub(crate) fn run(schema_text: &str, stats: DatasetView, control: Control) -> Anomalies {
    let b = ValidateBuilder::new(stats, schema(schema_text));
    match control {
        Control::None => b,
        Control::Previous(p) => b.with_previous(p),
        Control::Serving(s) => b.with_serving(s),
    }
    .execute()
}

pub(crate) enum Control {
    None,
    Previous(DatasetView),
    Serving(DatasetView),
}

/// The case's anomaly is raised on `bad` (for `feature`, or `""` for the
/// dataset) and nothing at all is raised on `clean`.
pub(crate) fn case(
    kind: T,
    feature: &str,
    schema_text: &str,
    clean: (DatasetView, Control),
    bad: (DatasetView, Control),
) {
    let ok = run(schema_text, clean.0, clean.1);
    assert!(
        ok.is_clean(),
        "{}: clean data raised anomalies:\n{}",
        kind.name(),
        ok.summary_table()
    );
    let got = run(schema_text, bad.0, bad.1);
    assert!(
        got.types().contains(&(feature.to_string(), kind)),
        "{} not raised for '{feature}'; got:\n{}",
        kind.name(),
        got.summary_table()
    );
    assert!(got.has_errors());
    // The anomalies file is valid text format that names the type.
    assert!(got.to_text().contains(kind.name()));
}

pub(crate) const INT_A: &str = "feature { name: \"a\" type: INT }";
