//! Statistics computed inside another pass over the data (ExampleGen's):
//! the same accumulators as the `common_stats` / `numeric_stats` /
//! `string_stats` aggregates (`weir_plan::kinds::split_stats`), fed each
//! split's rows as they are routed, so the input is read once for both
//! splits and statistics. In-process the splitter feeds them directly; on
//! a cluster every map part feeds its own and the driver merges their
//! partial states and the shards' value counts ([`SplitStatsCollector::merged`]).

use std::collections::BTreeMap;

use datafusion::arrow::array::StructArray;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use weir_plan::kinds::split_stats::{SplitAccumulators, StringMode};

use super::value_counts::{string_results, ValueCounts};
use super::{dataset, feature_of, HistogramMode, SplitStatistics, StatsOptions};
use crate::error::Result;

/// Per split, per column statistics accumulators, and with merged partial
/// states the features' exact value counts.
pub struct SplitStatsCollector {
    accumulators: SplitAccumulators,
    /// `(split, feature)` → uniques and top values, when the string
    /// accumulators only total (`StringMode::Totals`).
    counts: Option<BTreeMap<(u32, u32), ValueCounts>>,
    histograms: HistogramMode,
}

impl SplitStatsCollector {
    /// Accumulators for `splits` splits of batches of `schema`.
    pub fn new(schema: &SchemaRef, splits: usize, options: StatsOptions) -> Result<Self> {
        let mode = match options.approx {
            true => StringMode::Approx,
            false => StringMode::Exact,
        };
        Ok(Self {
            accumulators: SplitAccumulators::new(schema, splits, mode)?,
            counts: None,
            histograms: options.histograms,
        })
    }

    /// The statistics of a distributed run: partial `states` of every map
    /// part and, for exact statistics, the merged value counts.
    pub fn merged(
        schema: &SchemaRef,
        splits: usize,
        options: StatsOptions,
        states: &[RecordBatch],
        counts: BTreeMap<(u32, u32), (u64, StructArray)>,
    ) -> Result<Self> {
        let mode = match options.approx {
            true => StringMode::Approx,
            false => StringMode::Totals,
        };
        let mut accumulators = SplitAccumulators::new(schema, splits, mode)?;
        for s in states {
            accumulators.merge(s)?;
        }
        Ok(Self {
            accumulators,
            counts: (!options.approx).then(|| {
                counts
                    .into_iter()
                    .map(|(k, (unique, top))| (k, ValueCounts { unique, top }))
                    .collect()
            }),
            histograms: options.histograms,
        })
    }

    /// Adds the rows of `batch`; `split_of_row[i]` is row i's split.
    pub fn update(&mut self, batch: &RecordBatch, split_of_row: &[usize]) -> Result<()> {
        Ok(self
            .accumulators
            .update(batch, split_of_row, |_, _, _| Ok(()))?)
    }

    /// The statistics of every split, named by `names`.
    pub fn finish(self, names: &[String]) -> Result<Vec<SplitStatistics>> {
        let columns = self.accumulators.columns().to_vec();
        let results = self.accumulators.evaluate()?;
        let mut out = Vec::with_capacity(results.len());
        for (split, (result, name)) in results.into_iter().zip(names).enumerate() {
            let mut features = Vec::with_capacity(columns.len());
            for (f, (r, column)) in result.columns.iter().zip(&columns).enumerate() {
                let strings = match (&self.counts, &r.strings) {
                    (Some(counts), Some(totals)) => Some(string_results(
                        totals,
                        counts.get(&(split as u32, f as u32)),
                    )?),
                    (_, strings) => strings.clone(),
                };
                features.push(feature_of(column, r, strings.as_ref(), self.histograms)?);
            }
            out.push(SplitStatistics {
                split: name.clone(),
                stats: dataset(name, result.num_examples, features)?,
            });
        }
        Ok(out)
    }
}
