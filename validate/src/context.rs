//! What the rules see besides a feature's own statistics: the
//! environment, the previous span's and the serving statistics, and the
//! inference limits. Shared by the rules and the drift/skew comparators.

use crate::stats_view::DatasetView;

/// What the rules need besides the feature's own statistics.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleContext<'a> {
    /// The environment the statistics were computed in (`--environment`).
    pub environment: Option<&'a str>,
    /// The previous span's statistics, for drift comparators.
    pub previous: Option<&'a DatasetView>,
    /// Serving statistics, for skew comparators.
    pub serving: Option<&'a DatasetView>,
    /// The largest string domain inferred (TFDV's `enum_threshold`).
    pub max_string_domain_size: usize,
    /// The quantile sketches' rank error, stated in KS results.
    pub sketch_epsilon: f64,
}
