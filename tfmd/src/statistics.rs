//! tensorflow-metadata `statistics.proto` (package `tensorflow.metadata.v0`):
//! the messages TFDV's `load_stats_binary` and Facets read, with the same
//! field numbers. Weighted, cross-feature and struct statistics are left out
//! (weir writes none); unknown fields in files read back are skipped.
//! Fields carry the names and numbers of `statistics.proto`, which documents them.
#![allow(missing_docs)]

/// `DatasetFeatureStatisticsList`: one entry per dataset (split).
#[derive(Clone, PartialEq, prost::Message)]
pub struct DatasetFeatureStatisticsList {
    #[prost(message, repeated, tag = "1")]
    pub datasets: Vec<DatasetFeatureStatistics>,
}

/// `DatasetFeatureStatistics`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DatasetFeatureStatistics {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(uint64, tag = "2")]
    pub num_examples: u64,
    #[prost(message, repeated, tag = "3")]
    pub features: Vec<FeatureNameStatistics>,
    #[prost(double, tag = "4")]
    pub weighted_num_examples: f64,
}

/// `Path` (tensorflow_metadata/proto/v0/path.proto).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Path {
    #[prost(string, repeated, tag = "1")]
    pub step: Vec<String>,
}

/// `FeatureNameStatistics.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum FeatureStatsType {
    Int = 0,
    Float = 1,
    String = 2,
    Bytes = 3,
    Struct = 4,
}

/// `FeatureNameStatistics`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FeatureNameStatistics {
    #[prost(oneof = "FieldId", tags = "1, 8")]
    pub field_id: Option<FieldId>,
    #[prost(enumeration = "FeatureStatsType", tag = "2")]
    pub r#type: i32,
    #[prost(oneof = "Stats", tags = "3, 4, 5, 7")]
    pub stats: Option<Stats>,
    #[prost(message, repeated, tag = "6")]
    pub custom_stats: Vec<CustomStatistic>,
}

/// `FeatureNameStatistics.field_id`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum FieldId {
    #[prost(string, tag = "1")]
    Name(String),
    #[prost(message, tag = "8")]
    Path(Path),
}

/// `FeatureNameStatistics.stats`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Stats {
    #[prost(message, tag = "3")]
    NumStats(NumericStatistics),
    #[prost(message, tag = "4")]
    StringStats(StringStatistics),
    #[prost(message, tag = "5")]
    BytesStats(BytesStatistics),
    #[prost(message, tag = "7")]
    StructStats(StructStatistics),
}

/// `StructStatistics`: the statistics of a struct feature (its children are
/// features of their own, at paths below it).
#[derive(Clone, PartialEq, prost::Message)]
pub struct StructStatistics {
    #[prost(message, optional, tag = "1")]
    pub common_stats: Option<CommonStatistics>,
}

/// `PresenceAndValencyStatistics`: presence and value counts at one nesting
/// level of a nested feature (level 0: value lists per example; level 1:
/// values per inner list; ...).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PresenceAndValencyStatistics {
    #[prost(uint64, tag = "1")]
    pub num_non_missing: u64,
    #[prost(uint64, tag = "2")]
    pub num_missing: u64,
    #[prost(uint64, tag = "3")]
    pub min_num_values: u64,
    #[prost(uint64, tag = "4")]
    pub max_num_values: u64,
    #[prost(uint64, tag = "5")]
    pub tot_num_values: u64,
}

/// `CustomStatistic`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CustomStatistic {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(oneof = "CustomValue", tags = "2, 3, 4, 5")]
    pub val: Option<CustomValue>,
}

/// `CustomStatistic.val`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum CustomValue {
    #[prost(double, tag = "2")]
    Num(f64),
    #[prost(string, tag = "3")]
    Str(String),
    #[prost(message, tag = "4")]
    Histogram(Histogram),
    #[prost(message, tag = "5")]
    RankHistogram(RankHistogram),
}

/// `NumericStatistics`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NumericStatistics {
    #[prost(message, optional, tag = "1")]
    pub common_stats: Option<CommonStatistics>,
    #[prost(double, tag = "2")]
    pub mean: f64,
    #[prost(double, tag = "3")]
    pub std_dev: f64,
    #[prost(uint64, tag = "4")]
    pub num_zeros: u64,
    #[prost(double, tag = "5")]
    pub min: f64,
    #[prost(double, tag = "6")]
    pub median: f64,
    #[prost(double, tag = "7")]
    pub max: f64,
    #[prost(message, repeated, tag = "8")]
    pub histograms: Vec<Histogram>,
}

/// `StringStatistics`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StringStatistics {
    #[prost(message, optional, tag = "1")]
    pub common_stats: Option<CommonStatistics>,
    #[prost(uint64, tag = "2")]
    pub unique: u64,
    #[prost(message, repeated, tag = "3")]
    pub top_values: Vec<FreqAndValue>,
    #[prost(float, tag = "4")]
    pub avg_length: f32,
    #[prost(message, optional, tag = "5")]
    pub rank_histogram: Option<RankHistogram>,
    #[prost(string, tag = "7")]
    pub vocabulary_file: String,
}

/// `StringStatistics.FreqAndValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FreqAndValue {
    #[prost(string, tag = "2")]
    pub value: String,
    #[prost(double, tag = "3")]
    pub frequency: f64,
}

/// `BytesStatistics`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BytesStatistics {
    #[prost(message, optional, tag = "1")]
    pub common_stats: Option<CommonStatistics>,
    #[prost(uint64, tag = "2")]
    pub unique: u64,
    #[prost(float, tag = "3")]
    pub avg_num_bytes: f32,
    #[prost(float, tag = "4")]
    pub min_num_bytes: f32,
    #[prost(float, tag = "5")]
    pub max_num_bytes: f32,
}

/// `CommonStatistics`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CommonStatistics {
    #[prost(uint64, tag = "1")]
    pub num_non_missing: u64,
    #[prost(uint64, tag = "2")]
    pub num_missing: u64,
    #[prost(uint64, tag = "3")]
    pub min_num_values: u64,
    #[prost(uint64, tag = "4")]
    pub max_num_values: u64,
    #[prost(float, tag = "5")]
    pub avg_num_values: f32,
    #[prost(message, optional, tag = "6")]
    pub num_values_histogram: Option<Histogram>,
    #[prost(uint64, tag = "8")]
    pub tot_num_values: u64,
    /// One entry per nesting level of a nested feature (empty otherwise).
    #[prost(message, repeated, tag = "10")]
    pub presence_and_valency_stats: Vec<PresenceAndValencyStatistics>,
}

/// `Histogram.HistogramType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum HistogramType {
    Standard = 0,
    Quantiles = 1,
}

/// `Histogram`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    #[prost(uint64, tag = "1")]
    pub num_nan: u64,
    #[prost(uint64, tag = "2")]
    pub num_undefined: u64,
    #[prost(message, repeated, tag = "3")]
    pub buckets: Vec<HistogramBucket>,
    #[prost(enumeration = "HistogramType", tag = "4")]
    pub r#type: i32,
    #[prost(string, tag = "5")]
    pub name: String,
}

/// The `Histogram.name` weir gives a STANDARD histogram of exact counts
/// (`weir stats --histograms exact`). TFDV-derived STANDARD histograms
/// (weir's default) have no name, as TFDV's own have none, so validation
/// can tell which kind it compares.
pub const EXACT_COUNTS_HISTOGRAM: &str = "weir:exact-counts";

impl Histogram {
    /// True for a STANDARD histogram of exact counts
    /// ([`EXACT_COUNTS_HISTOGRAM`]).
    pub fn is_exact_counts(&self) -> bool {
        self.name == EXACT_COUNTS_HISTOGRAM
    }
}

/// `Histogram.Bucket`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistogramBucket {
    #[prost(double, tag = "1")]
    pub low_value: f64,
    #[prost(double, tag = "2")]
    pub high_value: f64,
    #[prost(double, tag = "4")]
    pub sample_count: f64,
}

/// `RankHistogram`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RankHistogram {
    #[prost(message, repeated, tag = "1")]
    pub buckets: Vec<RankBucket>,
    #[prost(string, tag = "2")]
    pub name: String,
}

/// `RankHistogram.Bucket`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RankBucket {
    #[prost(uint64, tag = "1")]
    pub low_rank: u64,
    #[prost(uint64, tag = "2")]
    pub high_rank: u64,
    #[prost(string, tag = "4")]
    pub label: String,
    #[prost(double, tag = "5")]
    pub sample_count: f64,
}

impl FeatureNameStatistics {
    /// The feature's name (or its path joined with `.`).
    pub fn feature_name(&self) -> String {
        match &self.field_id {
            Some(FieldId::Name(n)) => n.clone(),
            Some(FieldId::Path(p)) => p.step.join("."),
            None => String::new(),
        }
    }

    /// The common statistics, whatever the kind.
    pub fn common(&self) -> Option<&CommonStatistics> {
        match &self.stats {
            Some(Stats::NumStats(s)) => s.common_stats.as_ref(),
            Some(Stats::StringStats(s)) => s.common_stats.as_ref(),
            Some(Stats::BytesStats(s)) => s.common_stats.as_ref(),
            Some(Stats::StructStats(s)) => s.common_stats.as_ref(),
            None => None,
        }
    }
}
