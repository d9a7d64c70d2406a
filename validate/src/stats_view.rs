//! Read-only views of one dataset's statistics, answering the questions
//! TFDV's rules ask (how many examples have the feature, its values per
//! example, its value counts, histograms), whatever wrote the statistics
//! (weir or TFDV).

use std::collections::BTreeMap;
use std::path::Path;

use prost::Message;
use weir_tfmd::statistics::{
    CommonStatistics, CustomValue, DatasetFeatureStatistics, DatasetFeatureStatisticsList,
    FeatureNameStatistics, FeatureStatsType, Histogram, HistogramType, NumericStatistics, Stats,
};

use crate::error::{Result, ValidateError};
use crate::schema::FeatureType;

/// The label TFDV writes in top values for bytes that are not UTF-8.
pub const INVALID_UTF8_LABEL: &str = "__BYTES_VALUE__";

/// One dataset's statistics and the file they came from.
#[derive(Debug, Clone)]
pub struct DatasetView {
    /// The statistics.
    pub stats: DatasetFeatureStatistics,
    /// Where they were read from (for messages).
    pub origin: String,
}

/// Reads a binary `DatasetFeatureStatisticsList` (a `FeatureStats.pb` file,
/// or a `Split-*` folder holding one) that holds exactly one dataset.
pub fn read_statistics(path: &Path) -> Result<DatasetView> {
    let file = if path.is_dir() {
        path.join("FeatureStats.pb")
    } else {
        path.to_path_buf()
    };
    let origin = file.display().to_string();
    let bytes = std::fs::read(&file).map_err(|e| ValidateError::Io {
        path: origin.clone(),
        source: e,
    })?;
    let list = DatasetFeatureStatisticsList::decode(bytes.as_slice()).map_err(|e| {
        ValidateError::Statistics {
            origin: origin.clone(),
            problem: format!("not a binary DatasetFeatureStatisticsList: {e}"),
        }
    })?;
    match list.datasets.len() {
        1 => Ok(DatasetView {
            stats: list.datasets.into_iter().next().expect("one dataset"),
            origin,
        }),
        n => Err(ValidateError::Statistics {
            origin,
            problem: format!("holds {n} datasets; validation needs exactly one"),
        }),
    }
}

impl DatasetView {
    /// Wraps statistics built in memory.
    pub fn new(stats: DatasetFeatureStatistics, origin: impl Into<String>) -> Self {
        DatasetView {
            stats,
            origin: origin.into(),
        }
    }

    /// `num_examples`.
    pub fn num_examples(&self) -> f64 {
        self.stats.num_examples as f64
    }

    /// The features with statistics, in file order (TFDV skips entries with
    /// no statistics at all).
    pub fn features(&self) -> impl Iterator<Item = FeatureView<'_>> + '_ {
        self.stats
            .features
            .iter()
            .filter(|f| f.stats.is_some() || !f.custom_stats.is_empty())
            .map(move |f| FeatureView {
                name: f.feature_name(),
                stats: f,
                num_examples: self.num_examples(),
            })
    }

    /// The statistics of feature `name`.
    pub fn feature(&self, name: &str) -> Option<FeatureView<'_>> {
        self.features().find(|f| f.name == name)
    }
}

/// One feature's statistics.
#[derive(Debug, Clone)]
pub struct FeatureView<'a> {
    /// The feature's name (path steps joined with `.`).
    pub name: String,
    /// The statistics.
    pub stats: &'a FeatureNameStatistics,
    num_examples: f64,
}

impl<'a> FeatureView<'a> {
    /// The statistics' own type (INT, FLOAT, STRING, BYTES, STRUCT).
    pub fn stats_type(&self) -> FeatureStatsType {
        FeatureStatsType::try_from(self.stats.r#type).unwrap_or(FeatureStatsType::String)
    }

    /// The schema type the statistics imply (STRING and BYTES are BYTES).
    pub fn feature_type(&self) -> FeatureType {
        match self.stats_type() {
            FeatureStatsType::Int => FeatureType::Int,
            FeatureStatsType::Float => FeatureType::Float,
            FeatureStatsType::String | FeatureStatsType::Bytes => FeatureType::Bytes,
            FeatureStatsType::Struct => FeatureType::Struct,
        }
    }

    /// The common statistics (an empty set when absent).
    pub fn common(&self) -> CommonStatistics {
        self.stats.common().cloned().unwrap_or_default()
    }

    /// Examples in which the feature has a value list.
    pub fn num_present(&self) -> f64 {
        self.common().num_non_missing as f64
    }

    /// Examples without the feature.
    pub fn num_missing(&self) -> f64 {
        self.common().num_missing as f64
    }

    /// Examples in the dataset.
    pub fn num_examples(&self) -> f64 {
        self.num_examples
    }

    /// The fraction of examples with the feature (exactly 1 when none is
    /// missing, as TFDV avoids rounding there).
    pub fn fraction_present(&self) -> Option<f64> {
        if self.num_missing() == 0.0 {
            return Some(1.0);
        }
        (self.num_examples > 0.0).then(|| self.num_present() / self.num_examples)
    }

    /// The fewest and most values an example has.
    pub fn min_max_num_values(&self) -> (i64, i64) {
        let c = self.common();
        (c.min_num_values as i64, c.max_num_values as i64)
    }

    /// Per nesting level of a nested feature (a SequenceExample's sequence
    /// feature), the fewest and most values a value list has there (level
    /// 0: lists per example); empty for a feature that is not nested.
    pub fn level_min_max_num_values(&self) -> Vec<(i64, i64)> {
        self.common()
            .presence_and_valency_stats
            .iter()
            .map(|l| (l.min_num_values as i64, l.max_num_values as i64))
            .collect()
    }

    /// Values across all examples (`tot_num_values`, or the product TFDV
    /// falls back to when it is absent).
    pub fn total_value_count(&self) -> f64 {
        let c = self.common();
        if c.tot_num_values == 0 {
            c.num_non_missing as f64 * c.avg_num_values as f64
        } else {
            c.tot_num_values as f64
        }
    }

    /// The numeric statistics, for INT and FLOAT features.
    pub fn num_stats(&self) -> Option<&'a NumericStatistics> {
        match &self.stats.stats {
            Some(Stats::NumStats(n)) => Some(n),
            _ => None,
        }
    }

    /// The histogram of `kind` (STANDARD or QUANTILES), if computed.
    pub fn histogram(&self, kind: HistogramType) -> Option<&'a Histogram> {
        self.num_stats()?
            .histograms
            .iter()
            .find(|h| h.r#type == kind as i32)
    }

    /// Each distinct string value with its count, from the rank histogram
    /// (TFDV's source for domains and categorical comparators).
    pub fn string_values_with_counts(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        if let Some(Stats::StringStats(s)) = &self.stats.stats {
            if let Some(h) = &s.rank_histogram {
                for b in &h.buckets {
                    out.insert(b.label.clone(), b.sample_count);
                }
            }
        }
        out
    }

    /// Distinct values, for string features.
    pub fn num_unique(&self) -> Option<u64> {
        match &self.stats.stats {
            Some(Stats::StringStats(s)) => Some(s.unique),
            _ => None,
        }
    }

    /// A numeric custom statistic.
    pub fn custom_num(&self, name: &str) -> Option<f64> {
        self.stats.custom_stats.iter().find_map(|c| match &c.val {
            Some(CustomValue::Num(v)) if c.name == name => Some(*v),
            _ => None,
        })
    }

    /// Whether some value is not valid UTF-8 (TFDV's placeholder label, or
    /// weir's `invalid_utf8_count` custom statistic).
    pub fn has_invalid_utf8(&self) -> bool {
        self.custom_num("invalid_utf8_count").unwrap_or(0.0) > 0.0
            || self
                .string_values_with_counts()
                .contains_key(INVALID_UTF8_LABEL)
    }

    /// NaN values (from the histograms).
    pub fn num_nan(&self) -> u64 {
        self.num_stats()
            .map(|n| n.histograms.iter().map(|h| h.num_nan).max().unwrap_or(0))
            .unwrap_or(0)
    }
}
