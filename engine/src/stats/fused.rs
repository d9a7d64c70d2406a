//! Statistics computed inside another pass over the data (ExampleGen's):
//! the same accumulators as the `common_stats` / `numeric_stats` /
//! `string_stats` aggregates, fed each split's rows as they are routed, so
//! the input is read once for both splits and statistics.

use datafusion::arrow::array::{AsArray, StructArray, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Accumulator;
use weir_datasets::example::FeatureType;
use weir_udfs::stats::{
    ApproxStringStatsAccumulator, CommonStatsAccumulator, NumericStatsAccumulator,
    StringStatsAccumulator, ValencyStatsAccumulator, DEFAULT_KLL_K,
};

use super::{
    dataset, feature_stats, stats_columns, FeatureResults, HistogramMode, SplitStatistics,
    StatsColumn, StatsOptions,
};
use crate::error::{EngineError, Result};

struct ColumnAccumulators {
    common: CommonStatsAccumulator,
    levels: Option<ValencyStatsAccumulator>,
    numeric: Option<NumericStatsAccumulator>,
    strings: Option<Box<dyn Accumulator>>,
}

/// Per split, per column statistics accumulators.
pub struct SplitStatsCollector {
    columns: Vec<StatsColumn>,
    splits: Vec<Vec<ColumnAccumulators>>,
    num_examples: Vec<u64>,
    histograms: HistogramMode,
}

fn as_struct(v: ScalarValue) -> Result<StructArray> {
    match v {
        ScalarValue::Struct(s) => Ok(s.as_ref().clone()),
        other => Err(EngineError::Internal(format!(
            "statistics accumulator returned {other:?}"
        ))),
    }
}

impl SplitStatsCollector {
    /// Accumulators for `splits` splits of batches of `schema`.
    pub fn new(schema: &SchemaRef, splits: usize, options: StatsOptions) -> Result<Self> {
        let columns = stats_columns(schema)?;
        let make = |column: &StatsColumn| ColumnAccumulators {
            common: CommonStatsAccumulator::default(),
            levels: (column.levels > 0).then(|| ValencyStatsAccumulator::new(column.levels)),
            numeric: matches!(column.kind, FeatureType::Int | FeatureType::Float)
                .then(|| NumericStatsAccumulator::new(DEFAULT_KLL_K)),
            strings: (column.kind == FeatureType::Bytes).then(|| -> Box<dyn Accumulator> {
                if options.approx {
                    Box::new(ApproxStringStatsAccumulator::default())
                } else {
                    Box::new(StringStatsAccumulator::default())
                }
            }),
        };
        let splits: Vec<Vec<ColumnAccumulators>> = (0..splits)
            .map(|_| columns.iter().map(make).collect())
            .collect();
        let num_examples = vec![0; splits.len()];
        Ok(Self {
            columns,
            splits,
            num_examples,
            histograms: options.histograms,
        })
    }

    /// Adds the rows of `batch`; `split_of_row[i]` is row i's split.
    pub fn update(&mut self, batch: &RecordBatch, split_of_row: &[usize]) -> Result<()> {
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); self.splits.len()];
        for (r, &s) in split_of_row.iter().enumerate() {
            rows[s].push(r as u32);
        }
        for (s, idx) in rows.into_iter().enumerate() {
            if idx.is_empty() {
                continue;
            }
            self.num_examples[s] += idx.len() as u64;
            let all = idx.len() == batch.num_rows();
            let idx = UInt32Array::from(idx);
            for (c, accs) in self.splits[s].iter_mut().enumerate() {
                let array = self.columns[c].array(batch)?;
                let column = if all {
                    array
                } else {
                    take(&array, &idx, None).map_err(|e| {
                        EngineError::from(datafusion::error::DataFusionError::from(e))
                    })?
                };
                let args = [column];
                accs.common.update_batch(&args).map_err(EngineError::from)?;
                if let Some(l) = accs.levels.as_mut() {
                    l.update_batch(&args).map_err(EngineError::from)?;
                }
                if let Some(n) = accs.numeric.as_mut() {
                    n.update_batch(&args).map_err(EngineError::from)?;
                }
                if let Some(st) = accs.strings.as_mut() {
                    st.update_batch(&args).map_err(EngineError::from)?;
                }
            }
        }
        Ok(())
    }

    /// The statistics of every split, named by `names`.
    pub fn finish(self, names: &[String]) -> Result<Vec<SplitStatistics>> {
        let mut out = Vec::new();
        for ((accs, name), num_examples) in
            self.splits.into_iter().zip(names).zip(self.num_examples)
        {
            let mut features = Vec::new();
            for (mut a, column) in accs.into_iter().zip(&self.columns) {
                let common = as_struct(a.common.evaluate().map_err(EngineError::from)?)?;
                let numeric = match a.numeric.as_mut() {
                    Some(n) => Some(as_struct(n.evaluate().map_err(EngineError::from)?)?),
                    None => None,
                };
                let strings = match a.strings.as_mut() {
                    Some(s) => Some(as_struct(s.evaluate().map_err(EngineError::from)?)?),
                    None => None,
                };
                let levels = match a.levels.as_mut() {
                    Some(l) => match l.evaluate().map_err(EngineError::from)? {
                        ScalarValue::List(list) => Some(list.value(0).as_struct().clone()),
                        other => {
                            return Err(EngineError::Internal(format!(
                                "valency accumulator returned {other:?}"
                            )))
                        }
                    },
                    None => None,
                };
                features.push(
                    feature_stats(
                        &column.path,
                        column.kind,
                        FeatureResults {
                            common: &common,
                            numeric: numeric.as_ref(),
                            strings: strings.as_ref(),
                            levels: levels.as_ref(),
                        },
                        self.histograms,
                    )
                    .map_err(EngineError::from)?,
                );
            }
            out.push(SplitStatistics {
                split: name.clone(),
                stats: dataset(name, num_examples, features)?,
            });
        }
        Ok(out)
    }
}
