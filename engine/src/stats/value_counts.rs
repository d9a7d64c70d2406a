//! Exact uniques and top values of string features as a distributed
//! aggregation, the way TFDV's Beam combiners scale: the input scanned with
//! the `feature_values` map gives `(feature, value, count)` rows, which
//! DataFusion groups by `(feature, value)` (hash-partitioned across tasks
//! and executors, spilling under the session's memory limit), and then by
//! feature with `count(*)` (uniques) and `top_by_count` (the top values in
//! TFDV's rank order, a state of at most 1,000 values). No process holds a
//! feature's distinct values, and in-process runs use the same plan.
//!
//! The rest of the string statistics (`string_totals`) come from the
//! statistics accumulators, which the same scan feeds
//! ([`FeatureValuesMap::statistics`]): each part's partial state is one
//! more row of the scan, collected here with `array_agg`, so exact
//! statistics read the input once. [`string_results`] joins the two into
//! the result `string_stats` gives, so the statistics are its bytes.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    new_empty_array, Array, ArrayRef, AsArray, RecordBatch, StructArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Int64Type, UInt32Type, UInt64Type};
use datafusion::functions_aggregate::expr_fn::{array_agg, count, sum};
use datafusion::logical_expr::{col, lit, AggregateUDF, ExprFunctionExt};
use datafusion::prelude::SessionContext;
use weir_plan::kinds::feature_values::{
    COUNT_COLUMN, FEATURE_COLUMN, ROWS_FEATURE, STATE_FEATURE, VALUE_COLUMN,
};
use weir_plan::kinds::FeatureValuesMap;
use weir_plan::scan::SourceTable;
use weir_udfs::stats::{StringStatsUdaf, TopByCountUdaf};

use crate::error::{EngineError, Result};

/// One feature's exact uniques and top values.
#[derive(Debug, Clone)]
pub(crate) struct ValueCounts {
    /// Distinct values.
    pub unique: u64,
    /// `top_by_count`'s result struct (one row).
    pub top: StructArray,
}

/// What the value-count aggregation gave.
#[derive(Debug, Default)]
pub(crate) struct Counted {
    /// Per feature (its place in the `paths` counted), uniques and top
    /// values (a feature without values has no entry).
    pub features: HashMap<usize, ValueCounts>,
    /// Per feature, the values counted.
    pub totals: HashMap<usize, u64>,
    /// Examples counted.
    pub rows: u64,
    /// The parts' partial statistics states (Arrow IPC streams, in byte
    /// order).
    pub states: Vec<Vec<u8>>,
}

/// Uniques and top values of the features at `paths` of `table`, and
/// every part's partial statistics state, run by `ctx` (the caller's
/// watchdog resubmits it).
pub(crate) async fn value_counts(
    ctx: &SessionContext,
    table: SourceTable,
    paths: Vec<Vec<String>>,
) -> Result<Counted> {
    let table = table.with_map(Arc::new(FeatureValuesMap {
        features: paths,
        statistics: true,
    }));
    let ctx = &probing_early(ctx);
    let top = AggregateUDF::from(TopByCountUdaf::new());
    let per_feature = vec![
        count(lit(1)).alias("unique"),
        sum(col(COUNT_COLUMN)).alias("total"),
        top.call(vec![col(VALUE_COLUMN), col(COUNT_COLUMN)])
            .alias("top"),
        array_agg(col(VALUE_COLUMN))
            .filter(col(FEATURE_COLUMN).eq(lit(STATE_FEATURE)))
            .build()?
            .alias("states"),
    ];
    let df = ctx
        .read_table(Arc::new(table))?
        .aggregate(
            vec![col(FEATURE_COLUMN), col(VALUE_COLUMN)],
            vec![sum(col(COUNT_COLUMN)).alias(COUNT_COLUMN)],
        )?
        .aggregate(vec![col(FEATURE_COLUMN)], per_feature)?;
    let batches = df.collect().await?;
    let mut out = Counted::default();
    for b in &batches {
        read_rows(b, &mut out)?;
    }
    // The states merge in an order that does not depend on which part
    // finished first.
    out.states.sort_unstable();
    Ok(out)
}

/// `ctx` with DataFusion's partial aggregation deciding after one batch
/// whether it reduces its input. The map has counted what repeats within
/// its part already, so its rows are mostly distinct (or few); at
/// DataFusion's default (100,000 rows) a part smaller than that, as a
/// chunked CSV's parts are, would hash every value twice.
fn probing_early(ctx: &SessionContext) -> SessionContext {
    let mut state = ctx.state();
    let config = state.config_mut();
    let rows = config.batch_size();
    config
        .options_mut()
        .execution
        .skip_partial_aggregation_probe_rows_threshold = rows;
    SessionContext::new_with_state(state)
}

fn read_rows(b: &RecordBatch, out: &mut Counted) -> Result<()> {
    let bad = || EngineError::Internal("the value-count aggregate has unexpected columns".into());
    let feature = b
        .column_by_name(FEATURE_COLUMN)
        .and_then(|a| a.as_primitive_opt::<UInt32Type>())
        .ok_or_else(bad)?;
    let unique = b
        .column_by_name("unique")
        .and_then(|a| a.as_primitive_opt::<Int64Type>())
        .ok_or_else(bad)?;
    let total = b
        .column_by_name("total")
        .and_then(|a| a.as_primitive_opt::<UInt64Type>())
        .ok_or_else(bad)?;
    let top = b
        .column_by_name("top")
        .and_then(|a| a.as_struct_opt())
        .ok_or_else(bad)?;
    for row in 0..b.num_rows() {
        let f = feature.value(row);
        if f == ROWS_FEATURE {
            out.rows += total.value(row);
            continue;
        }
        if f == STATE_FEATURE {
            let states = b
                .column_by_name("states")
                .and_then(|a| a.as_list_opt::<i32>())
                .ok_or_else(bad)?
                .value(row);
            let states = states.as_binary_opt::<i32>().ok_or_else(bad)?;
            out.states
                .extend(states.iter().flatten().map(<[u8]>::to_vec));
            continue;
        }
        let previous = out.features.insert(
            f as usize,
            ValueCounts {
                unique: unique.value(row) as u64,
                top: top.slice(row, 1),
            },
        );
        out.totals.insert(f as usize, total.value(row));
        if previous.is_some() {
            return Err(EngineError::Internal(format!(
                "feature {f} counted in two groups"
            )));
        }
    }
    Ok(())
}

/// `string_stats`' result struct from `string_totals`' (`totals`) and the
/// feature's value counts (`None`: the feature has no values).
pub(crate) fn string_results(
    totals: &StructArray,
    counts: Option<&ValueCounts>,
) -> Result<StructArray> {
    let field = |s: &StructArray, name: &str| -> Result<ArrayRef> {
        s.column_by_name(name)
            .cloned()
            .ok_or_else(|| EngineError::Internal(format!("string statistics: no field '{name}'")))
    };
    let fields = StringStatsUdaf::fields();
    let empty_list = |i: usize| -> ArrayRef {
        let DataType::List(item) = fields[i].data_type() else {
            unreachable!("top_values and top_counts are lists")
        };
        Arc::new(datafusion::arrow::array::ListArray::new(
            item.clone(),
            datafusion::arrow::buffer::OffsetBuffer::from_lengths([0]),
            new_empty_array(item.data_type()),
            None,
        ))
    };
    let (unique, top_values, top_counts): (ArrayRef, ArrayRef, ArrayRef) = match counts {
        Some(c) => (
            Arc::new(UInt64Array::from(vec![c.unique])),
            field(&c.top, "top_values")?,
            field(&c.top, "top_counts")?,
        ),
        None => (
            Arc::new(UInt64Array::from(vec![0u64])),
            empty_list(1),
            empty_list(2),
        ),
    };
    let columns = vec![
        unique,
        top_values,
        top_counts,
        field(totals, "num_values")?,
        field(totals, "total_bytes")?,
        field(totals, "avg_length")?,
        field(totals, "invalid_utf8")?,
    ];
    if columns.iter().any(|c| c.len() != 1) {
        return Err(EngineError::Internal(
            "string statistics: a result of more than one row".into(),
        ));
    }
    StructArray::try_new(fields, columns, None)
        .map_err(|e| EngineError::Internal(format!("string statistics: {e}")))
}
