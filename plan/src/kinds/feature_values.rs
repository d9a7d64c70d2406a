//! The scan map of exact string statistics ([`FeatureValuesMap`], kind
//! [`FEATURE_VALUES`]): each input batch becomes rows of
//! `(feature, value, count)`. Grouped by `(feature, value)` with
//! DataFusion's own aggregation, which hash-partitions the groups across
//! tasks (and executors) and spills them under a memory limit, these give
//! every feature's exact value counts without one process holding them all.
//!
//! A feature with few distinct values in a part (flags, modes, categories,
//! dates: most string features) is counted here, across the part's batches,
//! in a table of at most [`PART_DISTINCT`] values and [`PART_BYTES`] bytes,
//! which goes out as one row per distinct value when it fills up and when
//! the part ends: the aggregation sees a handful of rows instead of one per
//! example. A table that fills up having reduced its values less than
//! [`MIN_REDUCTION`] times, or whose first [`PROBE_VALUES`] values or more
//! are over 90% distinct, belongs to a high-cardinality feature (free text,
//! ids): it goes out, and the feature's next [`RETRY_AFTER`] batches go out
//! one row per value before counting is tried again. Such a feature costs
//! the counter a batch now and then. The rows the aggregation sees are
//! then mostly distinct, so DataFusion's partial aggregation, seeing that
//! it reduces nothing, passes them on (`skip_partial_aggregation_probe_*`)
//! instead of hashing every value twice. Which rows carry which counts
//! never changes the sums the aggregation gives.
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

use datafusion::arrow::array::{ArrayBuilder, BinaryBuilder, UInt32Builder, UInt64Builder};
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
/// Distinct values of one feature a part counts before it sends them on.
pub const PART_DISTINCT: usize = 16_384;
/// Bytes of one feature's distinct values a part holds before it sends
/// them on.
pub const PART_BYTES: usize = 1 << 20;
/// A feature's table that fills up having taken in fewer than this many
/// values per distinct value is not counted for its next [`RETRY_AFTER`]
/// batches.
pub const MIN_REDUCTION: u64 = 2;
/// Values a feature's table takes before it may be judged mostly distinct
/// (over 90% of them distinct values).
pub const PROBE_VALUES: u64 = 4096;
/// Batches of a feature whose table reduced too little that then go out
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
    /// Per feature, the part's counts not yet sent on.
    counters: Vec<PartCounter>,
    /// The part's statistics accumulators, with
    /// [`FeatureValuesMap::statistics`].
    statistics: Option<SplitAccumulators>,
}

/// One feature's counts in a part.
#[derive(Default)]
struct PartCounter {
    /// Distinct values and their counts, not yet sent on.
    counts: ValueCounts,
    /// Values taken into `counts` since it was last sent on.
    taken: u64,
    /// Batches left before counting is tried again.
    uncounted: u32,
}

impl PartCounter {
    /// True when the table should go out now: it holds more than
    /// [`PART_DISTINCT`] values or [`PART_BYTES`] bytes of them.
    fn full(&self) -> bool {
        self.counts.len() > PART_DISTINCT || self.counts.value_bytes() > PART_BYTES
    }

    /// True when the table has taken [`PROBE_VALUES`] values or more, over
    /// 90% of them distinct.
    fn mostly_distinct(&self) -> bool {
        self.taken >= PROBE_VALUES && self.counts.len() as u64 * 10 > self.taken * 9
    }
}

/// The map's output rows, built batch by batch.
#[derive(Default)]
struct Rows {
    features: UInt32Builder,
    values: BinaryBuilder,
    counts: UInt64Builder,
}

impl Rows {
    fn push(&mut self, feature: u32, value: &[u8], count: u64) {
        self.features.append_value(feature);
        self.values.append_value(value);
        self.counts.append_value(count);
    }

    /// Sends `counter`'s table on as rows of `feature`, and empties it.
    fn drain(&mut self, feature: u32, counter: &mut PartCounter) {
        for (v, n) in counter.counts.iter() {
            self.push(feature, v, n);
        }
        counter.counts.clear();
        counter.taken = 0;
    }

    fn finish(mut self) -> Result<RecordBatch> {
        RecordBatch::try_new(
            SCHEMA.clone(),
            vec![
                Arc::new(self.features.finish()),
                Arc::new(self.values.finish()),
                Arc::new(self.counts.finish()),
            ],
        )
        .map_err(|e| PlanError::Internal(format!("feature values batch: {e}")))
    }
}

impl FeatureValuesMapper {
    fn new(features: Vec<Vec<String>>) -> Self {
        Self {
            counters: features.iter().map(|_| PartCounter::default()).collect(),
            features,
            statistics: None,
        }
    }
}

impl RowMapper for FeatureValuesMapper {
    fn map(&mut self, batch: &SourceBatch) -> Result<RecordBatch> {
        if let Some(accumulators) = self.statistics.as_mut() {
            accumulators.update_split(&batch.batch, 0)?;
        }
        let mut rows = Rows::default();
        for ((i, path), counter) in self.features.iter().enumerate().zip(&mut self.counters) {
            let array = column_at(&batch.batch, path)?;
            let column = FeatureColumn::new(&array).map_err(PlanError::from)?;
            let feature = i as u32;
            if counter.uncounted > 0 {
                counter.uncounted -= 1;
                column
                    .for_each_bytes_counted(|v, n| rows.push(feature, v.bytes(), n))
                    .map_err(PlanError::from)?;
                continue;
            }
            // A dictionary-encoded column comes counted by key already.
            column
                .for_each_bytes_counted(|v, n| {
                    counter.counts.add(v.bytes(), n);
                    counter.taken += n;
                })
                .map_err(PlanError::from)?;
            let mostly_distinct = counter.mostly_distinct();
            if mostly_distinct || counter.full() {
                let reduced = counter.taken >= MIN_REDUCTION * counter.counts.len() as u64;
                rows.drain(feature, counter);
                if mostly_distinct || !reduced {
                    counter.uncounted = RETRY_AFTER;
                }
            }
        }
        rows.push(ROWS_FEATURE, b"", batch.batch.num_rows() as u64);
        rows.finish()
    }

    fn finish(self: Box<Self>) -> Result<Option<RecordBatch>> {
        let mut rows = Rows::default();
        let mut counters = self.counters;
        for (i, counter) in counters.iter_mut().enumerate() {
            rows.drain(i as u32, counter);
        }
        if let Some(mut accumulators) = self.statistics {
            let state = ipc_bytes(&accumulators.state(0)?)?;
            rows.push(STATE_FEATURE, &state, 1);
        }
        if rows.features.is_empty() {
            return Ok(None);
        }
        rows.finish().map(Some)
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

    /// Rows summed per (feature, value), as the plan's GROUP BY sums them.
    fn sums(batches: &[RecordBatch]) -> std::collections::BTreeMap<(u32, String), u64> {
        let mut sums = std::collections::BTreeMap::new();
        for (f, v, n) in batches.iter().flat_map(rows) {
            *sums.entry((f, v)).or_default() += n;
        }
        sums
    }

    /// The state row's value.
    fn state_of(batch: &RecordBatch) -> Vec<u8> {
        let f = batch.column(0).as_primitive::<UInt32Type>();
        let row = (0..batch.num_rows())
            .find(|&i| f.value(i) == STATE_FEATURE)
            .expect("a state row");
        batch.column(1).as_binary::<i32>().value(row).to_vec()
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
        // Few values are held until the part ends.
        assert_eq!(rows(&out), vec![(ROWS_FEATURE, String::new(), 3)]);
        let closing = Box::new(mapper)
            .finish()
            .unwrap()
            .expect("the part's counts");
        assert_eq!(closing.schema(), *SCHEMA);
        let sums = sums(&[out, closing.clone()]);
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
        // One row per distinct value.
        assert_eq!(rows(&closing).iter().filter(|r| r.0 == 2).count(), 2);

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
        let states: Vec<_> = closing.iter().filter(|r| r.0 == STATE_FEATURE).collect();
        assert_eq!(states.len(), 1);
        assert_eq!(states[0].2, 1);
        // With the part's counts of "s".
        let counted: Vec<_> = closing.iter().filter(|r| r.0 != STATE_FEATURE).collect();
        assert_eq!(counted, [&(0, "a".into(), 2), &(0, "bb".into(), 2)]);

        // The state's bytes, merged, against accumulators fed directly.
        let mut again = FeatureValuesMapper::new(map.features.clone());
        again.statistics = Some(SplitAccumulators::new(&schema, 1, StringMode::Totals).unwrap());
        again.map(&source).unwrap();
        again.map(&source).unwrap();
        let out = Box::new(again).finish().unwrap().unwrap();
        let state = state_of(&out);
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

    fn batch_of(columns: Vec<(&str, ArrayRef)>) -> SourceBatch {
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(name, a)| Field::new(*name, a.data_type().clone(), false))
                .collect::<Vec<_>>(),
        ));
        let batch =
            RecordBatch::try_new(schema, columns.into_iter().map(|(_, a)| a).collect()).unwrap();
        SourceBatch {
            file: 0,
            row: 0,
            batch,
            serialized: None,
            position: None,
        }
    }

    fn strings(values: impl Iterator<Item = String>) -> ArrayRef {
        Arc::new(StringArray::from_iter_values(values))
    }

    /// Per feature in `out`: (rows, values counted, distinct values).
    fn per_feature(out: &RecordBatch, f: u32) -> (usize, u64, usize) {
        let rows: Vec<_> = rows(out).into_iter().filter(|r| r.0 == f).collect();
        let total = rows.iter().map(|r| r.2).sum();
        let distinct: std::collections::BTreeSet<_> = rows.iter().map(|r| &r.1).collect();
        (rows.len(), total, distinct.len())
    }

    /// Few distinct values are held across batches and go out when the
    /// part ends. A feature whose values are all distinct goes out after
    /// its first batch, and one whose table fills up having reduced its
    /// values less than `MIN_REDUCTION` times goes out then; the next
    /// `RETRY_AFTER` batches of either go out one row per value before it
    /// is counted again.
    #[test]
    fn few_distinct_values_are_counted_per_part_and_many_go_out_one_row_each() {
        const ROWS: usize = 4096;
        // "mid" has 2 distinct values in every 3 rows: not mostly distinct,
        // but reduced 1.5 times when its table fills up, after this many
        // batches.
        let mid_fill = (PART_DISTINCT * 3 / 2) / ROWS + 1;
        let batches = mid_fill + RETRY_AFTER as usize + 1;
        let mut mapper = FeatureValuesMapper::new(
            ["lo", "fits", "many", "mid"]
                .iter()
                .map(|f| vec![f.to_string()])
                .collect(),
        );
        // Rows of a feature a batch gives, whose table of `table` distinct
        // values filled up (or was judged) after `fill` batches.
        let expected = |b: usize, fill: usize, table: usize| -> usize {
            if b + 1 < fill {
                0
            } else if b + 1 == fill {
                table
            } else if b < fill + RETRY_AFTER as usize {
                ROWS
            } else if fill == 1 {
                // Counted again, judged again, and one row per value after.
                ROWS
            } else {
                0
            }
        };
        let mut all = Vec::new();
        for b in 0..batches {
            let rows = b * ROWS..(b + 1) * ROWS;
            let source = batch_of(vec![
                ("lo", strings(rows.clone().map(|r| format!("v{}", r % 3)))),
                (
                    "fits",
                    strings(rows.clone().map(|r| format!("v{}", r / 2 % PART_DISTINCT))),
                ),
                ("many", strings(rows.clone().map(|r| format!("m{r}")))),
                ("mid", strings(rows.map(|r| format!("d{}", r * 2 / 3)))),
            ]);
            let out = mapper.map(&source).unwrap();
            assert_eq!(per_feature(&out, 0).0, 0, "batch {b}: held");
            assert_eq!(per_feature(&out, 1).0, 0, "batch {b}: held");
            assert_eq!(
                per_feature(&out, 2).0,
                expected(b, 1, ROWS),
                "batch {b}: many"
            );
            let mid = per_feature(&out, 3);
            let mid_table = (mid_fill * ROWS - 1) * 2 / 3 + 1;
            assert_eq!(mid.0, expected(b, mid_fill, mid_table), "batch {b}: mid");
            all.push(out);
        }
        let closing = Box::new(mapper).finish().unwrap().unwrap();
        assert_eq!(per_feature(&closing, 0), (3, (batches * ROWS) as u64, 3));
        assert_eq!(
            per_feature(&closing, 1),
            (PART_DISTINCT, (batches * ROWS) as u64, PART_DISTINCT)
        );
        // "mid"'s last batch, counted again.
        assert_eq!(per_feature(&closing, 3).1, ROWS as u64);
        all.push(closing);
        // Every value counted as often as it occurs.
        let sums = sums(&all);
        let of = |f: u32| sums.iter().filter(move |((g, _), _)| *g == f);
        assert_eq!(of(2).count(), batches * ROWS);
        assert!(of(2).all(|(_, n)| *n == 1));
        let mid: u64 = of(3).map(|(_, n)| n).sum();
        assert_eq!(mid, (batches * ROWS) as u64);
        assert_eq!(of(3).count(), (batches * ROWS - 1) * 2 / 3 + 1);
        assert_eq!(
            sums[&(ROWS_FEATURE, String::new())],
            (batches * ROWS) as u64
        );
    }

    /// A table whose values pass `PART_BYTES` goes out, and one that
    /// reduces its values keeps counting.
    #[test]
    fn a_table_past_its_bytes_goes_out_and_keeps_counting_when_it_reduces() {
        let distinct = PART_BYTES / 65_536 + 4;
        let wide = |r: usize| format!("{r:065535}-");
        let source = batch_of(vec![(
            "wide",
            strings((0..4 * distinct).map(|r| wide(r % distinct))),
        )]);
        let mut mapper = FeatureValuesMapper::new(vec![vec!["wide".to_string()]]);
        for b in 0..3 {
            let out = mapper.map(&source).unwrap();
            assert_eq!(
                per_feature(&out, 0),
                (distinct, 4 * distinct as u64, distinct),
                "batch {b}: the full table, counted"
            );
        }
        assert_eq!(mapper.counters[0].uncounted, 0);
        assert!(Box::new(mapper).finish().unwrap().is_none());
    }
}
