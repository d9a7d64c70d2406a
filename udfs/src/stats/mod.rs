//! Statistics aggregates: TFDV's per-feature statistic set as mergeable
//! DataFusion aggregates, so partial/final aggregation (in-process or on
//! Ballista) computes them in one streaming pass.
//!
//! A feature column is either scalar (one value per example, null when
//! missing) or a list (null or empty when missing), as weir's readers
//! produce them, or a list of lists (a SequenceExample's sequence feature,
//! whose levels `valency_stats` counts); [`FeatureColumn`] reads all three.

pub(crate) mod arrays;
mod common_stats;
mod exact_counts;
mod feature_column;
mod few_values;
mod frequent_bytes;
pub mod kll;
mod numeric_stats;
mod results;
mod string_stats;
mod string_stats_approx;
mod string_totals;
mod top_by_count;
mod valency_stats;
mod value_counts;
mod view_counts;

pub use common_stats::{CommonStatsAccumulator, CommonStatsUdaf};
pub use exact_counts::ExactCounts;
pub use feature_column::{is_nested_list, ByteValue, FeatureColumn};
pub use numeric_stats::{NumericStatsAccumulator, NumericStatsUdaf, QuantileSketch, DEFAULT_KLL_K};
pub use results::{CommonStatsResult, NumericStatsResult, StringStatsResult};
pub use string_stats::{StringStatsAccumulator, StringStatsUdaf, TOP_VALUES_KEPT};
pub use string_stats_approx::{
    ApproxStringStatsAccumulator, ApproxStringStatsUdaf, FREQUENT_ITEMS_MAP, HLL_LG_K,
};
pub use string_totals::{StringTotalsAccumulator, StringTotalsUdaf};
pub use top_by_count::{TopByCountAccumulator, TopByCountUdaf};
pub use valency_stats::{nesting_depth, ValencyStatsAccumulator, ValencyStatsUdaf};
pub use value_counts::ValueCounts;
