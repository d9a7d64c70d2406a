//! The scan map of exact string statistics ([`FeatureValuesMap`], kind
//! [`FEATURE_VALUES`]): each input batch becomes rows of
//! `(feature, value, count)`. Grouped by `(feature, value)` with
//! DataFusion's own aggregation, which hash-partitions the groups across
//! tasks (and executors) and spills them under a memory limit, these give
//! every feature's exact value counts without one process holding them all.
//!
//! A feature with few distinct values in a batch (flags, modes, categories:
//! most string features) is counted here, one row per distinct value of the
//! batch, so the aggregation sees a handful of rows instead of one per
//! example. Once a batch shows more than [`BATCH_DISTINCT`] distinct values
//! the rest of it goes out one row per value, and so do the next
//! [`RETRY_AFTER`] batches of that feature: a high-cardinality feature costs
//! the counter a few hundred values now and then. Its rows are then mostly
//! distinct, so DataFusion's partial aggregation, seeing that it reduces
//! nothing, passes them on (`skip_partial_aggregation_probe_*`) instead of
//! holding a second copy of every distinct value. Which rows carry which
//! counts never changes the sums the aggregation gives.
//!
//! Each batch also gives one row of feature [`ROWS_FEATURE`] (an empty
//! value, counted by the batch's rows), so the aggregation's result says
//! how many examples it counted: the driver checks it, and every feature's
//! total, against the rest of the statistics.
//!
//! With [`FeatureValuesMap::statistics`] the map also feeds every feature's
//! one-row statistics accumulators (`split_stats`, one split, string
//! totals) with the batches it reads, and closes its part with their
//! partial state: one row of feature [`STATE_FEATURE`] whose value is the
//! state as an Arrow IPC stream. Exact statistics are then one read of the
//! input: the driver merges the parts' states and joins them with the
//! value counts.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    BinaryArray, BinaryBuilder, UInt32Array, UInt32Builder, UInt64Array, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use weir_datasets::formats::{Source, SourceBatch};
use weir_udfs::stats::{FeatureColumn, ValueCounts};

use super::split_stats::columns::column_at;
use super::split_stats::summary::ipc_bytes;
use super::split_stats::{SplitAccumulators, StringMode};
use crate::error::{PlanError, Result};
use crate::map::{RowMapper, ScanMap};

/// The kind name of the value-count map.
pub const FEATURE_VALUES: &str = "feature_values";

/// The feature's number (its place in [`FeatureValuesMap::features`]).
pub const FEATURE_COLUMN: &str = "feature";
/// One distinct value, as bytes.
pub const VALUE_COLUMN: &str = "value";
/// How often the value occurs in the batch.
pub const COUNT_COLUMN: &str = "n";
/// The feature number of the rows counted (not a feature).
pub const ROWS_FEATURE: u32 = u32::MAX;
/// The feature number of a part's partial statistics state (not a
/// feature; with [`FeatureValuesMap::statistics`]).
pub const STATE_FEATURE: u32 = u32::MAX - 1;
/// Distinct values of one feature a batch is counted for, at most.
pub const BATCH_DISTINCT: usize = 256;
/// Batches of a feature that overflowed [`BATCH_DISTINCT`] that then go out
/// one row per value before counting is tried again.
pub const RETRY_AFTER: u32 = 64;

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new(FEATURE_COLUMN, DataType::UInt32, false),
        Field::new(VALUE_COLUMN, DataType::Binary, false),
        Field::new(COUNT_COLUMN, DataType::UInt64, false),
    ]))
});

/// The string features whose values to count, each as its path of column
/// names (a top-level column, or a struct's child such as
/// `["##SEQUENCE##", "tokens"]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureValuesMap {
    /// The features, numbered by their place here.
    pub features: Vec<Vec<String>>,
    /// Also feed every feature's statistics accumulators and close each
    /// part with their partial state (a [`STATE_FEATURE`] row).
    #[serde(default)]
    pub statistics: bool,
}

impl ScanMap for FeatureValuesMap {
    fn kind(&self) -> &'static str {
        FEATURE_VALUES
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn schema(&self, _input: &Schema) -> SchemaRef {
        SCHEMA.clone()
    }

    fn mapper(&self, source: &Source, _files: Vec<PathBuf>) -> Result<Box<dyn RowMapper>> {
        let mut mapper = FeatureValuesMapper::new(self.features.clone());
        if self.statistics {
            mapper.statistics = Some(SplitAccumulators::new(
                &source.schema(),
                1,
                StringMode::Totals,
            )?);
        }
        Ok(Box::new(mapper))
    }

    /// The columns of the counted features (a struct child's path starts
    /// at its top-level column); all of them with statistics.
    fn columns(&self) -> Option<Vec<String>> {
        if self.statistics {
            return None;
        }
        let mut names: Vec<String> = Vec::new();
        for name in self.features.iter().filter_map(|p| p.first()) {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        Some(names)
    }
}

struct FeatureValuesMapper {
    features: Vec<Vec<String>>,
    /// One batch's counts of the feature being mapped.
    counter: ValueCounts,
    /// Per feature, the batches left before counting is tried again.
    uncounted: Vec<u32>,
    /// The part's statistics accumulators, with
    /// [`FeatureValuesMap::statistics`].
    statistics: Option<SplitAccumulators>,
}

impl FeatureValuesMapper {
    fn new(features: Vec<Vec<String>>) -> Self {
        Self {
            uncounted: vec![0; features.len()],
            features,
            counter: ValueCounts::default(),
            statistics: None,
        }
    }
}

impl RowMapper for FeatureValuesMapper {
    fn map(&mut self, batch: &SourceBatch) -> Result<RecordBatch> {
        if let Some(accumulators) = self.statistics.as_mut() {
            accumulators.update_split(&batch.batch, 0)?;
        }
        let mut features = UInt32Builder::new();
        let mut values = BinaryBuilder::new();
        let mut counts = UInt64Builder::new();
        for (i, path) in self.features.iter().enumerate() {
            let array = column_at(&batch.batch, path)?;
            let column = FeatureColumn::new(&array).map_err(PlanError::from)?;
            let feature = i as u32;
            let mut counting = self.uncounted[i] == 0;
            self.uncounted[i] = self.uncounted[i].saturating_sub(1);
            let counter = &mut self.counter;
            counter.clear();
            // A dictionary-encoded column comes counted by key already.
            column
                .for_each_bytes_counted(|v, n| {
                    if counting {
                        counter.add(v.bytes(), n);
                        counting = counter.len() <= BATCH_DISTINCT;
                    } else {
                        features.append_value(feature);
                        values.append_value(v.bytes());
                        counts.append_value(n);
                    }
                })
                .map_err(PlanError::from)?;
            if counter.len() > BATCH_DISTINCT {
                self.uncounted[i] = RETRY_AFTER;
            }
            for (v, n) in counter.iter() {
                features.append_value(feature);
                values.append_value(v);
                counts.append_value(n);
            }
        }
        features.append_value(ROWS_FEATURE);
        values.append_value(b"");
        counts.append_value(batch.batch.num_rows() as u64);
        RecordBatch::try_new(
            SCHEMA.clone(),
            vec![
                Arc::new(features.finish()),
                Arc::new(values.finish()),
                Arc::new(counts.finish()),
            ],
        )
        .map_err(|e| PlanError::Internal(format!("feature values batch: {e}")))
    }

    fn finish(self: Box<Self>) -> Result<Option<RecordBatch>> {
        let Some(mut accumulators) = self.statistics else {
            return Ok(None);
        };
        let state = ipc_bytes(&accumulators.state(0)?)?;
        RecordBatch::try_new(
            SCHEMA.clone(),
            vec![
                Arc::new(UInt32Array::from(vec![STATE_FEATURE])),
                Arc::new(BinaryArray::from_iter_values([state])),
                Arc::new(UInt64Array::from(vec![1u64])),
            ],
        )
        .map(Some)
        .map_err(|e| PlanError::Internal(format!("feature values state: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        ArrayRef, AsArray, DictionaryArray, ListBuilder, StringArray, StringBuilder, StructArray,
    };
    use datafusion::arrow::datatypes::{Int32Type, UInt32Type, UInt64Type};

    fn rows(batch: &RecordBatch) -> Vec<(u32, String, u64)> {
        let f = batch.column(0).as_primitive::<UInt32Type>();
        let v = batch.column(1).as_binary::<i32>();
        let n = batch.column(2).as_primitive::<UInt64Type>();
        let mut out: Vec<(u32, String, u64)> = (0..batch.num_rows())
            .map(|i| {
                (
                    f.value(i),
                    String::from_utf8_lossy(v.value(i)).into_owned(),
                    n.value(i),
                )
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn every_value_of_plain_list_dictionary_and_struct_features_becomes_a_row() {
        let plain: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None, Some("a")]));
        let mut lists = ListBuilder::new(StringBuilder::new());
        lists.values().append_value("1");
        lists.values().append_value("2");
        lists.append(true);
        lists.append(false);
        lists.values().append_value("2");
        lists.append(true);
        let list: ArrayRef = Arc::new(lists.finish());
        let dict: ArrayRef = Arc::new(
            vec!["x", "y", "x"]
                .into_iter()
                .collect::<DictionaryArray<Int32Type>>(),
        );
        let inner: ArrayRef = Arc::new(StringArray::from(vec!["s", "t", "s"]));
        let nested: ArrayRef = Arc::new(StructArray::from(vec![(
            Arc::new(Field::new("tokens", DataType::Utf8, false)),
            inner,
        )]));
        let schema = Arc::new(Schema::new(vec![
            Field::new("plain", plain.data_type().clone(), true),
            Field::new("list", list.data_type().clone(), true),
            Field::new("dict", dict.data_type().clone(), false),
            Field::new("seq", nested.data_type().clone(), false),
        ]));
        let batch = RecordBatch::try_new(schema, vec![plain, list, dict, nested]).unwrap();
        let source = SourceBatch {
            file: 0,
            row: 0,
            batch,
            serialized: None,
            position: None,
        };
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut mapper = FeatureValuesMapper::new(vec![
            path(&["plain"]),
            path(&["list"]),
            path(&["dict"]),
            path(&["seq", "tokens"]),
        ]);
        let out = mapper.map(&source).unwrap();
        assert_eq!(out.schema(), *SCHEMA);
        // Summed per (feature, value), as the plan's GROUP BY sums them.
        let mut sums: std::collections::BTreeMap<(u32, String), u64> = Default::default();
        for (f, v, n) in rows(&out) {
            *sums.entry((f, v)).or_default() += n;
        }
        let expected: Vec<((u32, String), u64)> = vec![
            ((0, "a".into()), 2),
            ((1, "1".into()), 1),
            ((1, "2".into()), 2),
            ((2, "x".into()), 2),
            ((2, "y".into()), 1),
            ((3, "s".into()), 2),
            ((3, "t".into()), 1),
            ((ROWS_FEATURE, "".into()), 3),
        ];
        assert_eq!(sums.into_iter().collect::<Vec<_>>(), expected);
        // The dictionary column comes counted by key: one row per value.
        assert_eq!(rows(&out).iter().filter(|r| r.0 == 2).count(), 2);

        let mut missing = FeatureValuesMapper::new(vec![path(&["seq", "nope"])]);
        let err = missing.map(&source).unwrap_err().to_string();
        assert!(err.contains("feature 'seq.nope' is not a column"), "{err}");
    }

    /// With statistics the part closes with one state row, which merged
    /// gives what the accumulators fed directly give; the scan then reads
    /// every column.
    #[test]
    fn with_statistics_a_part_closes_with_its_partial_state() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("x", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![Some("a"), None, Some("bb")])),
                Arc::new(datafusion::arrow::array::Int64Array::from(vec![
                    Some(1),
                    Some(5),
                    None,
                ])),
            ],
        )
        .unwrap();
        let source = SourceBatch {
            file: 0,
            row: 0,
            batch: batch.clone(),
            serialized: None,
            position: None,
        };
        let map = FeatureValuesMap {
            features: vec![vec!["s".to_string()]],
            statistics: true,
        };
        assert_eq!(map.columns(), None);
        let plain = FeatureValuesMap {
            statistics: false,
            ..map.clone()
        };
        assert_eq!(plain.columns(), Some(vec!["s".to_string()]));

        let mut mapper = FeatureValuesMapper::new(map.features.clone());
        mapper.statistics = Some(SplitAccumulators::new(&schema, 1, StringMode::Totals).unwrap());
        for _ in 0..2 {
            let out = mapper.map(&source).unwrap();
            assert!(rows(&out).iter().all(|r| r.0 != STATE_FEATURE));
        }
        let closing = Box::new(mapper).finish().unwrap().expect("a state row");
        let closing = rows(&closing);
        assert_eq!(closing.len(), 1);
        assert_eq!((closing[0].0, closing[0].2), (STATE_FEATURE, 1));

        // The state's bytes, merged, against accumulators fed directly.
        let mut again = FeatureValuesMapper::new(map.features.clone());
        again.statistics = Some(SplitAccumulators::new(&schema, 1, StringMode::Totals).unwrap());
        again.map(&source).unwrap();
        again.map(&source).unwrap();
        let out = Box::new(again).finish().unwrap().unwrap();
        let state = out.column(1).as_binary::<i32>().value(0).to_vec();
        let mut merged = SplitAccumulators::new(&schema, 1, StringMode::Totals).unwrap();
        for b in crate::kinds::split_stats::summary::ipc_batches(&state).unwrap() {
            merged.merge(&b).unwrap();
        }
        let mut direct = SplitAccumulators::new(&schema, 1, StringMode::Totals).unwrap();
        for _ in 0..2 {
            direct.update(&batch, &[0, 0, 0], |_, _, _| Ok(())).unwrap();
        }
        let (merged, direct) = (
            merged.evaluate().unwrap().pop().unwrap(),
            direct.evaluate().unwrap().pop().unwrap(),
        );
        assert_eq!(merged.num_examples, 6);
        assert_eq!(format!("{merged:?}"), format!("{direct:?}"));
    }

    #[test]
    fn few_distinct_values_are_counted_per_batch_and_many_go_out_one_row_each() {
        let n = BATCH_DISTINCT + 1;
        // "lo": 3 values; "fits": BATCH_DISTINCT values; "many": one more
        // than that. Each value 4 times.
        let column = |distinct: usize| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(
                (0..4 * n).map(|r| format!("v{}", r % distinct)),
            ))
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("lo", DataType::Utf8, false),
            Field::new("fits", DataType::Utf8, false),
            Field::new("many", DataType::Utf8, false),
        ]));
        let batch =
            RecordBatch::try_new(schema, vec![column(3), column(BATCH_DISTINCT), column(n)])
                .unwrap();
        let source = SourceBatch {
            file: 0,
            row: 0,
            batch,
            serialized: None,
            position: None,
        };
        let mut mapper = FeatureValuesMapper::new(vec![
            vec!["lo".to_string()],
            vec!["fits".to_string()],
            vec!["many".to_string()],
        ]);
        let per_feature = |out: &RecordBatch, f: u32| -> (usize, u64, usize) {
            let rows: Vec<_> = rows(out).into_iter().filter(|r| r.0 == f).collect();
            let total = rows.iter().map(|r| r.2).sum();
            let distinct: std::collections::BTreeSet<_> = rows.iter().map(|r| &r.1).collect();
            (rows.len(), total, distinct.len())
        };
        for b in 0..=RETRY_AFTER + 1 {
            let out = mapper.map(&source).unwrap();
            let values = (4 * n) as u64;
            assert_eq!(per_feature(&out, 0), (3, values, 3), "batch {b}");
            assert_eq!(
                per_feature(&out, 1),
                (BATCH_DISTINCT, values, BATCH_DISTINCT),
                "batch {b}"
            );
            let (rows, total, distinct) = per_feature(&out, 2);
            assert_eq!((total, distinct), (values, n), "batch {b}");
            let counted = b == 0 || b == RETRY_AFTER + 1;
            if counted {
                // The first n values counted, the other 3n one row each.
                assert_eq!(rows, n + 3 * n, "batch {b}");
            } else {
                assert_eq!(rows, 4 * n, "batch {b}: one row per value");
            }
        }
    }
}
