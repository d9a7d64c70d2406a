//! Statistics (TFDV's StatisticsGen): every feature's statistics per split,
//! computed in one streaming pass by weir's aggregate functions in a
//! DataFusion plan, written as TFDV-compatible `FeatureStats.pb` per split
//! and as one `statistics.parquet` table for SQL.

mod fused;
mod report;
pub mod tfdv_histogram;
mod to_proto;
mod value_counts;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{AsArray, StructArray};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::HashMap;
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::{lit, AggregateUDF, Expr};
use datafusion::prelude::SessionContext;
use prost::Message;
use weir_datasets::example::{FeatureType, PayloadFormat};
use weir_datasets::formats::{DecimalMode, ReadOptions, SourceSpec, StringDecoding};
use weir_datasets::input::{detect_format, resolve_input, split_folders};
use weir_datasets::sink::manifest::recorded_payload;
use weir_datasets::sink::StagedDir;
use weir_datasets::{DatasetError, Format};
use weir_tfmd::statistics::{
    DatasetFeatureStatistics, DatasetFeatureStatisticsList, FeatureNameStatistics,
    FeatureStatsType, FieldId,
};

pub use fused::SplitStatsCollector;
pub use report::{print_table, write_parquet};
pub use tfdv_histogram::HistogramMode;
pub use to_proto::{
    feature_stats, quantile_boundaries, FeatureResults, HISTOGRAM_BUCKETS, NUM_VALUES_BUCKETS,
    RANK_BUCKETS, TOP_VALUES,
};

use crate::error::{EngineError, Result};
use weir_plan::kinds::split_stats::summary::ipc_batches;
use weir_plan::kinds::split_stats::{
    stats_columns, ColumnResults, SplitAccumulators, StatsColumn, StringMode,
};
use weir_plan::scan::SourceTable;
use weir_plan::Execution;

/// Name of the dataset when the input has no splits.
pub const WHOLE_INPUT_SPLIT: &str = "all";

/// Statistics of one split.
#[derive(Debug, Clone)]
pub struct SplitStatistics {
    /// Split name.
    pub split: String,
    /// TFDV's dataset statistics.
    pub stats: DatasetFeatureStatistics,
}

/// What a statistics run produced.
#[derive(Debug, Clone)]
pub struct StatsSummary {
    /// Output directory.
    pub output: PathBuf,
    /// Per split statistics, in split order.
    pub splits: Vec<SplitStatistics>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// How statistics are computed, for every way of computing them (`weir
/// stats`, the statistics fused into ExampleGen, pipelines).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsOptions {
    /// Sketch string uniques and top values in bounded memory instead of
    /// counting them exactly.
    pub approx: bool,
    /// Which STANDARD histogram to write.
    pub histograms: HistogramMode,
}

/// Builds and runs a statistics computation.
#[derive(Debug, Clone)]
pub struct StatsBuilder {
    input: String,
    output: PathBuf,
    format: Option<Format>,
    splits_from_input: bool,
    batch_size: usize,
    options: StatsOptions,
    decimals: DecimalMode,
    execution: Execution,
    payload: Option<PayloadFormat>,
}

impl StatsBuilder {
    /// Statistics of `input` (file, directory or glob) into `output`.
    pub fn new(input: impl Into<String>, output: impl Into<PathBuf>) -> Self {
        Self {
            input: input.into(),
            output: output.into(),
            format: None,
            splits_from_input: false,
            batch_size: 8192,
            options: StatsOptions::default(),
            decimals: DecimalMode::Float,
            execution: Execution::InProcess,
            payload: None,
        }
    }

    /// The message TFRecord inputs hold. Default: what the ExampleGen
    /// output being read records in its manifest, else tf.Example (and a
    /// SequenceExample read as such is an error naming the flag).
    pub fn with_payload_format(mut self, payload: PayloadFormat) -> Self {
        self.payload = Some(payload);
        self
    }

    /// Run in-process (default) or on a Ballista cluster; the output is the
    /// same bytes either way.
    pub fn with_execution(mut self, execution: Execution) -> Self {
        self.execution = execution;
        self
    }

    /// How decimal columns are read (see [`DecimalMode`]).
    pub fn with_decimals(mut self, mode: DecimalMode) -> Self {
        self.decimals = mode;
        self
    }

    /// Sketch string uniques (HLL) and top values (frequent items) in
    /// bounded memory instead of counting them exactly.
    pub fn with_approx(mut self, yes: bool) -> Self {
        self.options.approx = yes;
        self
    }

    /// Which STANDARD histogram to write (default [`HistogramMode::Tfdv`]).
    pub fn with_histograms(mut self, mode: HistogramMode) -> Self {
        self.options.histograms = mode;
        self
    }

    /// Input format (default: from file names).
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// One dataset per `Split-<name>/` (or `<name>/`) folder of the input.
    pub fn with_splits_from_input(mut self, yes: bool) -> Self {
        self.splits_from_input = yes;
        self
    }

    /// Rows per batch.
    pub fn with_batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows.max(1);
        self
    }

    fn splits(&self) -> Result<Vec<(String, String)>> {
        if !self.splits_from_input {
            return Ok(vec![(WHOLE_INPUT_SPLIT.to_string(), self.input.clone())]);
        }
        Ok(split_folders(Path::new(&self.input))?
            .into_iter()
            .map(|(name, dir)| (name, dir.to_string_lossy().into_owned()))
            .collect())
    }

    /// How the input is read.
    fn read_options(&self, payload: PayloadFormat) -> ReadOptions {
        ReadOptions {
            batch_size: self.batch_size,
            decimals: self.decimals,
            // Each distinct string of a dictionary-encoded column is then
            // counted once per batch, not once per example.
            parquet_strings: StringDecoding::AsStored,
            tfrecord_payload: payload,
            // The statistics read the input once after opening it.
            csv_hold_bytes: self.execution.held_read_bytes(),
            ..Default::default()
        }
    }

    /// Computes the statistics of every split and commits the output.
    pub async fn execute(self) -> Result<StatsSummary> {
        let started = Instant::now();
        let mut splits = Vec::new();
        let ctx = self.execution.context().await?;
        let payload = self
            .payload
            .or_else(|| recorded_payload(&self.input))
            .unwrap_or_default();
        for (name, input) in self.splits()? {
            let files = resolve_input(&input)?;
            let format = detect_format(&files, self.format)?;
            let options = self.read_options(payload);
            let table = SourceTable::open(SourceSpec::new(files, format, options))?;
            let stats =
                dataset_statistics(&self.execution, &ctx, &name, table, self.options).await?;
            splits.push(SplitStatistics { split: name, stats });
        }
        let staged = StagedDir::create(&self.output)?;
        write_outputs(staged.path(), &splits, self.options)?;
        staged.commit()?;
        Ok(StatsSummary {
            output: self.output,
            splits,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// Writes `Split-<name>/FeatureStats.pb`, `statistics.parquet` and a
/// manifest into `dir`.
pub fn write_outputs(dir: &Path, splits: &[SplitStatistics], options: StatsOptions) -> Result<()> {
    let mut files = Vec::new();
    for s in splits {
        let rel = format!("Split-{}/FeatureStats.pb", s.split);
        let path = dir.join(&rel);
        std::fs::create_dir_all(path.parent().expect("has parent"))
            .map_err(|e| DatasetError::io(&path, e))?;
        let list = DatasetFeatureStatisticsList {
            datasets: vec![s.stats.clone()],
        };
        std::fs::write(&path, list.encode_to_vec()).map_err(|e| DatasetError::io(&path, e))?;
        files.push(rel);
    }
    write_parquet(&dir.join("statistics.parquet"), splits)?;
    files.push("statistics.parquet".into());
    let manifest = serde_json::json!({
        "weir_version": env!("CARGO_PKG_VERSION"),
        "component": "statistics",
        "approx": options.approx,
        "histograms": options.histograms.as_str(),
        "splits": splits.iter().map(|s| serde_json::json!({"name": s.split, "num_examples": s.stats.num_examples, "features": s.stats.features.len()})).collect::<Vec<_>>(),
        "files": files,
    });
    let path = dir.join("manifest.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&manifest).expect("json") + "\n",
    )
    .map_err(|e| DatasetError::io(&path, e))?;
    Ok(())
}

/// A dataset's statistics from its features: sorted by name, and checked
/// that every feature accounts for every example exactly once.
pub(crate) fn dataset(
    name: &str,
    num_examples: u64,
    mut features: Vec<FeatureNameStatistics>,
) -> Result<DatasetFeatureStatistics> {
    // By name; a struct and the features below it (SequenceExample's
    // `##SEQUENCE##`) after the others, where tfx_bsl's decoder puts them.
    features.sort_by_key(|f| {
        let nested = f.r#type == FeatureStatsType::Struct as i32
            || matches!(&f.field_id, Some(FieldId::Path(p)) if p.step.len() > 1);
        (nested, f.feature_name())
    });
    for f in &features {
        if let Some(c) = f.common() {
            if c.num_non_missing + c.num_missing != num_examples {
                return Err(EngineError::Internal(format!(
                    "feature '{}': {} present + {} missing != {num_examples} examples",
                    f.feature_name(),
                    c.num_non_missing,
                    c.num_missing
                )));
            }
        }
    }
    Ok(DatasetFeatureStatistics {
        name: name.to_string(),
        num_examples,
        features,
        weighted_num_examples: 0.0,
    })
}

/// The aggregate expressions of one feature's approximate statistics,
/// with `udafs` by name.
fn column_exprs(udafs: &HashMap<String, Arc<AggregateUDF>>, column: &StatsColumn) -> Vec<Expr> {
    let udf = |n: &str| udafs.get(n).expect("registered statistics function");
    let name = column.name();
    let c = column.expr();
    let mut exprs = vec![udf("common_stats")
        .call(vec![c.clone()])
        .alias(format!("common:{name}"))];
    if column.levels > 0 {
        exprs.push(
            udf("valency_stats")
                .call(vec![c.clone()])
                .alias(format!("levels:{name}")),
        );
    }
    match column.kind {
        FeatureType::Int | FeatureType::Float => exprs.push(
            udf("numeric_stats")
                .call(vec![c])
                .alias(format!("numeric:{name}")),
        ),
        FeatureType::Bytes => exprs.push(
            udf("string_stats_approx")
                .call(vec![c])
                .alias(format!("string:{name}")),
        ),
        // A struct's children are features of their own.
        FeatureType::Unknown | FeatureType::Struct => {}
    }
    exprs
}

/// The example count of the one-row aggregate's result.
fn examples_of(batch: &RecordBatch) -> Result<u64> {
    batch
        .column_by_name("__num_examples")
        .and_then(|a| a.as_primitive_opt::<Int64Type>())
        .map(|a| a.value(0) as u64)
        .ok_or_else(|| EngineError::Internal("the aggregate has no example count".into()))
}

/// The statistics accumulators and the value counts of the features
/// `counted` (places in `columns`) agree: the same examples, and each
/// string feature's values counted once in both. `examples` and
/// `num_values(i)` (feature i's values) are the accumulators'.
fn check_passes_agree(
    examples: u64,
    num_values: impl Fn(usize) -> Result<u64>,
    columns: &[StatsColumn],
    counted: &[usize],
    values: &value_counts::Counted,
) -> Result<()> {
    let mut wrong = Vec::new();
    if values.rows != examples {
        wrong.push(format!(
            "{examples} examples, {} in the value counts",
            values.rows
        ));
    }
    for (k, &i) in counted.iter().enumerate() {
        let name = columns[i].name();
        let (a, b) = (num_values(i)?, values.totals.get(&k).copied().unwrap_or(0));
        if a != b {
            wrong.push(format!("'{name}': {a} values, {b} in the value counts"));
        }
    }
    match wrong.is_empty() {
        true => Ok(()),
        false => Err(EngineError::Internal(format!(
            "the statistics passes disagree (shuffle data lost or duplicated): {}",
            wrong.join("; ")
        ))),
    }
}

/// The `num_values` of a string totals struct.
fn num_values_of(totals: Option<&StructArray>, name: &str) -> Result<u64> {
    totals
        .and_then(|s| s.column_by_name("num_values"))
        .and_then(|a| a.as_primitive_opt::<datafusion::arrow::datatypes::UInt64Type>())
        .map(|a| a.value(0))
        .ok_or_else(|| EngineError::Internal(format!("no string totals of {name}")))
}

/// Statistics of one dataset in one read of the input, run by `ctx` (in
/// process, or on a cluster) under `execution`'s watchdog: approximate
/// statistics in one aggregate, exact ones in the value-count plan whose
/// scan also feeds the accumulators ([`value_counts`]).
pub async fn dataset_statistics(
    execution: &Execution,
    ctx: &SessionContext,
    name: &str,
    table: SourceTable,
    options: StatsOptions,
) -> Result<DatasetFeatureStatistics> {
    let schema = table.source().schema();
    let columns = stats_columns(&schema)?;
    let (num_examples, results) = match options.approx {
        true => approx_results(execution, ctx, table, &columns).await?,
        false => exact_results(execution, ctx, table, &schema, &columns).await?,
    };
    let mut features = Vec::with_capacity(columns.len());
    for (column, r) in columns.iter().zip(&results) {
        features.push(feature_of(
            column,
            r,
            r.strings.as_ref(),
            options.histograms,
        )?);
    }
    dataset(name, num_examples, features)
}

/// The statistics of the feature `column` from its accumulators' results
/// `r`, with `strings` as its string statistics.
pub(crate) fn feature_of(
    column: &StatsColumn,
    r: &ColumnResults,
    strings: Option<&StructArray>,
    histograms: HistogramMode,
) -> Result<FeatureNameStatistics> {
    feature_stats(
        &column.path,
        column.kind,
        FeatureResults {
            common: &r.common,
            numeric: r.numeric.as_ref(),
            strings,
            levels: r.levels.as_ref(),
        },
        histograms,
    )
    .map_err(EngineError::from)
}

/// Approximate statistics: every feature's aggregates in one aggregate
/// without groups.
async fn approx_results(
    execution: &Execution,
    ctx: &SessionContext,
    table: SourceTable,
    columns: &[StatsColumn],
) -> Result<(u64, Vec<ColumnResults>)> {
    let udafs: HashMap<String, Arc<AggregateUDF>> = weir_udfs::all_udafs()
        .into_iter()
        .map(|u| (u.name().to_string(), u))
        .collect();
    let mut exprs = vec![count(lit(1)).alias("__num_examples")];
    for column in columns {
        exprs.extend(column_exprs(&udafs, column));
    }
    let batch = execution
        .watched(|| async {
            let df = ctx.read_table(Arc::new(table.clone()))?;
            let batches = df.aggregate(vec![], exprs.clone())?.collect().await?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            match batches.into_iter().find(|b| b.num_rows() > 0) {
                Some(b) if rows == 1 => Ok(b),
                _ => Err(EngineError::Internal(format!(
                    "an aggregate without groups returned {rows} rows"
                ))),
            }
        })
        .await?;
    let get = |n: String| -> Option<StructArray> {
        batch.column_by_name(&n).map(|a| a.as_struct().slice(0, 1))
    };
    let mut results = Vec::with_capacity(columns.len());
    for column in columns {
        let fname = column.name();
        results.push(ColumnResults {
            common: get(format!("common:{fname}"))
                .ok_or_else(|| EngineError::Internal(format!("no common statistics of {fname}")))?,
            numeric: get(format!("numeric:{fname}")),
            strings: get(format!("string:{fname}")),
            levels: batch
                .column_by_name(&format!("levels:{fname}"))
                .map(|a| a.as_list::<i32>().value(0).as_struct().clone()),
        });
    }
    Ok((examples_of(&batch)?, results))
}

/// Exact statistics in one read: the value-count plan, whose scan also
/// feeds every feature's accumulators (string totals), gives the parts'
/// partial states and the string features' value counts; the two are
/// accepted only when they agree on the examples and on every string
/// feature's values (Ballista has given duplicated shuffle data after an
/// executor died; a disagreement on a cluster resubmits the plan).
async fn exact_results(
    execution: &Execution,
    ctx: &SessionContext,
    table: SourceTable,
    schema: &SchemaRef,
    columns: &[StatsColumn],
) -> Result<(u64, Vec<ColumnResults>)> {
    // The (feature, value) counts, by the feature's place in `columns`.
    let counted: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i].kind == FeatureType::Bytes)
        .collect();
    let paths: Vec<Vec<String>> = counted.iter().map(|&i| columns[i].path.clone()).collect();
    let (result, values) = execution
        .watched(|| async {
            let values = value_counts::value_counts(ctx, table.clone(), paths.clone()).await?;
            if values.states.is_empty() && values.rows > 0 {
                // An executor that predates the map's `statistics` setting
                // ignores it and counts values only.
                return Err(EngineError::Internal(format!(
                    "the statistics scan counted {} examples but returned no \
                     accumulator states: do the executors run this version of weir?",
                    values.rows
                )));
            }
            let mut accumulators = SplitAccumulators::new(schema, 1, StringMode::Totals)?;
            for state in &values.states {
                for batch in ipc_batches(state)? {
                    accumulators.merge(&batch)?;
                }
            }
            let result = accumulators.evaluate()?.pop().ok_or_else(|| {
                EngineError::Internal("statistics accumulators without a split".into())
            })?;
            check_passes_agree(
                result.num_examples,
                |i| num_values_of(result.columns[i].strings.as_ref(), &columns[i].name()),
                columns,
                &counted,
                &values,
            )?;
            Ok::<_, EngineError>((result, values))
        })
        .await?;
    let mut counts: HashMap<usize, _> = values
        .features
        .into_iter()
        .map(|(k, v)| (counted[k], v))
        .collect();
    let mut results = result.columns;
    for &i in &counted {
        let totals = results[i].strings.as_ref().ok_or_else(|| {
            EngineError::Internal(format!("no string totals of {}", columns[i].name()))
        })?;
        // `string_totals`' result, joined with the feature's counts.
        results[i].strings = Some(value_counts::string_results(
            totals,
            counts.remove(&i).as_ref(),
        )?);
    }
    Ok((result.num_examples, results))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (fault figures, 1 run in 10 with 2 task slots): after an
    /// executor was killed, `weir stats --cluster` wrote statistics that
    /// differed from in-process. The accumulators and the value counts
    /// have to agree.
    #[test]
    fn passes_that_disagree_on_examples_or_values_are_refused() {
        let columns = vec![StatsColumn {
            path: vec!["s".into()],
            kind: FeatureType::Bytes,
            levels: 0,
        }];
        let counted = |rows: u64, total: u64| value_counts::Counted {
            rows,
            totals: std::collections::HashMap::from([(0, total)]),
            ..Default::default()
        };
        let five = |_: usize| Ok(5);
        assert!(check_passes_agree(3, five, &columns, &[0], &counted(3, 5)).is_ok());
        let err = check_passes_agree(3, five, &columns, &[0], &counted(6, 5))
            .unwrap_err()
            .to_string();
        assert!(err.contains("3 examples, 6 in the value counts"), "{err}");
        let err = check_passes_agree(3, five, &columns, &[0], &counted(3, 10))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'s': 5 values, 10"), "{err}");
        // Without string features only the examples are compared.
        assert!(check_passes_agree(3, five, &columns, &[], &counted(3, 0)).is_ok());
    }

    /// In-process statistics keep what CSV type inference parsed for their
    /// one read of the input; a cluster's do not (its executors read).
    #[test]
    fn in_process_statistics_hold_the_csv_batches_inference_builds() {
        let builder = StatsBuilder::new("in.csv", "out");
        let options = builder.read_options(PayloadFormat::default());
        assert!(options.csv_hold_bytes > 0);
        let cluster = StatsBuilder::new("in.csv", "out")
            .with_execution(Execution::Cluster("df://127.0.0.1:1".into()));
        assert_eq!(
            cluster
                .read_options(PayloadFormat::default())
                .csv_hold_bytes,
            0
        );
    }
}
