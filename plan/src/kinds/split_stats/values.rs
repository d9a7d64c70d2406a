//! Exact uniques and top values of string features inside ExampleGen's
//! distributed plan, without one process holding a feature's distinct
//! values:
//!
//! - map side, [`ValueCombiner`]: each part counts `(split, feature, value)`
//!   in a bounded table (a combiner, flushed whenever it fills) and emits
//!   the counts as map rows keyed by a stable 64-bit hash of the key, in
//!   the shard that hash picks ([`value_row`]);
//! - sink side, [`ValueReducer`]: the shard sort (hash order) brings every
//!   count of one key together in one task; the reducer sums each key's
//!   counts and keeps, per `(split, feature)`, the number of distinct
//!   values and the top values ([`TopByCountAccumulator`]);
//! - driver side, [`merge_counts`]: uniques add up and top values merge
//!   exactly, since every distinct value was reduced in one shard.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hasher;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, StructArray, UInt32Array, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, UInt32Type, UInt64Type};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Accumulator;
use weir_udfs::stats::{FeatureColumn, TopByCountAccumulator};

use crate::error::{PlanError, Result};

/// Distinct keys a part's combiner holds before it flushes.
const COMBINER_KEYS: usize = 1 << 16;
/// Key bytes a part's combiner holds before it flushes.
const COMBINER_BYTES: usize = 32 << 20;

/// The key of a count: `split`, `feature` (little-endian u32s), the value.
fn push_key(buf: &mut Vec<u8>, split: u32, feature: u32, value: &[u8]) {
    buf.clear();
    buf.extend_from_slice(&split.to_le_bytes());
    buf.extend_from_slice(&feature.to_le_bytes());
    buf.extend_from_slice(value);
}

/// The hash that groups a key's counts: xxHash64 (seed 0) of the key, the
/// same in every process whatever it was built with.
pub fn key_hash(key: &[u8]) -> u64 {
    let mut h = twox_hash::XxHash64::with_seed(0);
    h.write(key);
    h.finish()
}

/// A map row's payload for one count: the key, then the count (u64 LE).
pub fn value_row(key: &[u8], n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 8);
    out.extend_from_slice(key);
    out.extend_from_slice(&n.to_le_bytes());
    out
}

/// A count row's key and count.
fn split_row(row: &[u8]) -> Result<(&[u8], u64)> {
    if row.len() < 16 {
        return Err(PlanError::Internal(format!(
            "a value-count row of {} bytes",
            row.len()
        )));
    }
    let (key, n) = row.split_at(row.len() - 8);
    Ok((key, u64::from_le_bytes(n.try_into().expect("8 bytes"))))
}

/// A key's `(split, feature, value)` (a key of at least 8 bytes).
fn key_parts(key: &[u8]) -> (u32, u32, &[u8]) {
    let word = |at: usize| u32::from_le_bytes(key[at..at + 4].try_into().expect("4 bytes"));
    (word(0), word(4), &key[8..])
}

/// A count row's `(split, feature, value, count)`.
pub fn parse_value_row(row: &[u8]) -> Result<(u32, u32, &[u8], u64)> {
    let (key, n) = split_row(row)?;
    let (split, feature, value) = key_parts(key);
    Ok((split, feature, value, n))
}

/// A part's bounded table of `(split, feature, value)` counts.
#[derive(Debug, Default)]
pub struct ValueCombiner {
    counts: HashMap<Vec<u8>, u64>,
    bytes: usize,
    key: Vec<u8>,
}

impl ValueCombiner {
    /// Counts the values of `array` (one split's rows of feature `feature`).
    pub fn add_column(&mut self, split: usize, feature: usize, array: &ArrayRef) -> Result<()> {
        let column = FeatureColumn::new(array)?;
        let (split, feature) = (split as u32, feature as u32);
        column.for_each_bytes_counted(|v, n| {
            push_key(&mut self.key, split, feature, v.bytes());
            match self.counts.get_mut(self.key.as_slice()) {
                Some(c) => *c += n,
                None => {
                    self.bytes += self.key.len();
                    self.counts.insert(self.key.clone(), n);
                }
            }
        })?;
        Ok(())
    }

    /// Whether the table should be flushed.
    pub fn is_full(&self) -> bool {
        self.counts.len() >= COMBINER_KEYS || self.bytes >= COMBINER_BYTES
    }

    /// Empties the table: `(hash, row payload)` of every count.
    pub fn drain(&mut self) -> Vec<(u64, Vec<u8>)> {
        self.bytes = 0;
        self.counts
            .drain()
            .map(|(key, n)| (key_hash(&key), value_row(&key, n)))
            .collect()
    }
}

/// One `(split, feature)`'s distinct values and top values.
#[derive(Debug, Default)]
pub struct FeatureCounts {
    /// Distinct values.
    pub unique: u64,
    /// The top values.
    pub top: TopByCountAccumulator,
}

/// A shard's reduction of the count rows it received, in hash order.
#[derive(Debug, Default)]
pub struct ValueReducer {
    run_hash: Option<u64>,
    run: Vec<(Vec<u8>, u64)>,
    features: BTreeMap<(u32, u32), FeatureCounts>,
}

impl ValueReducer {
    /// Adds one count row (`hash`: its key's hash, which orders the rows).
    pub fn add(&mut self, hash: u64, row: &[u8]) -> Result<()> {
        if self.run_hash.is_some_and(|h| h > hash) {
            return Err(PlanError::Internal(
                "value-count rows out of hash order (input not sorted)".into(),
            ));
        }
        if self.run_hash != Some(hash) {
            self.flush();
            self.run_hash = Some(hash);
        }
        let (key, n) = split_row(row)?;
        self.run.push((key.to_vec(), n));
        Ok(())
    }

    /// Reduces the rows of one hash (usually one key; more on a collision).
    fn flush(&mut self) {
        self.run.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut i = 0;
        while i < self.run.len() {
            let key = &self.run[i].0;
            let mut n = 0;
            let mut j = i;
            while j < self.run.len() && self.run[j].0 == *key {
                n += self.run[j].1;
                j += 1;
            }
            let (split, feature, value) = key_parts(key);
            let f = self.features.entry((split, feature)).or_default();
            f.unique += 1;
            f.top.add(value, n);
            i = j;
        }
        self.run.clear();
    }

    /// The reduction: per `(split, feature)` its counts.
    pub fn finish(mut self) -> BTreeMap<(u32, u32), FeatureCounts> {
        self.flush();
        self.features
    }
}

/// The columns of a shard's counts.
fn counts_schema() -> Arc<Schema> {
    let fields = weir_udfs::stats::TopByCountUdaf::fields();
    let mut all = vec![
        Field::new("split", DataType::UInt32, false),
        Field::new("feature", DataType::UInt32, false),
        Field::new("unique", DataType::UInt64, false),
    ];
    all.extend(fields.iter().map(|f| f.as_ref().clone()));
    Arc::new(Schema::new(all))
}

/// A shard's counts as a batch (one row per `(split, feature)`).
pub fn counts_batch(counts: BTreeMap<(u32, u32), FeatureCounts>) -> Result<RecordBatch> {
    let mut splits = Vec::with_capacity(counts.len());
    let mut features = Vec::with_capacity(counts.len());
    let mut uniques = Vec::with_capacity(counts.len());
    let mut values = Vec::with_capacity(counts.len());
    let mut tops = Vec::with_capacity(counts.len());
    for ((s, f), mut c) in counts {
        splits.push(s);
        features.push(f);
        uniques.push(c.unique);
        let mut state = c.top.state()?.into_iter();
        let (Some(v), Some(n)) = (state.next(), state.next()) else {
            return Err(PlanError::Internal(
                "top_by_count state of one field".into(),
            ));
        };
        values.push(v);
        tops.push(n);
    }
    let schema = counts_schema();
    let list = |scalars: Vec<ScalarValue>, i: usize| -> Result<ArrayRef> {
        if scalars.is_empty() {
            return Ok(datafusion::arrow::array::new_empty_array(
                schema.field(i).data_type(),
            ));
        }
        Ok(ScalarValue::iter_to_array(scalars)?)
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(splits)),
        Arc::new(UInt32Array::from(features)),
        Arc::new(UInt64Array::from(uniques)),
        list(values, 3)?,
        list(tops, 4)?,
    ];
    RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| PlanError::Internal(format!("value counts batch: {e}")))
}

/// Every feature's exact uniques and top values (`top_by_count`'s struct)
/// from the shards' counts, by `(split, feature)`.
pub fn merge_counts(batches: &[RecordBatch]) -> Result<BTreeMap<(u32, u32), (u64, StructArray)>> {
    let bad = || PlanError::Internal("value counts with unexpected columns".into());
    let mut merged: BTreeMap<(u32, u32), FeatureCounts> = BTreeMap::new();
    for b in batches {
        let split = b
            .column(0)
            .as_primitive_opt::<UInt32Type>()
            .ok_or_else(bad)?;
        let feature = b
            .column(1)
            .as_primitive_opt::<UInt32Type>()
            .ok_or_else(bad)?;
        let unique = b
            .column(2)
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(bad)?;
        for row in 0..b.num_rows() {
            let f = merged
                .entry((split.value(row), feature.value(row)))
                .or_default();
            f.unique += unique.value(row);
            f.top
                .merge_batch(&[b.column(3).slice(row, 1), b.column(4).slice(row, 1)])?;
        }
    }
    let mut out = BTreeMap::new();
    for (key, mut f) in merged {
        let top = match f.top.evaluate()? {
            ScalarValue::Struct(s) => s.as_ref().clone(),
            other => {
                return Err(PlanError::Internal(format!(
                    "top_by_count returned {other:?}"
                )))
            }
        };
        if top.len() != 1 {
            return Err(bad());
        }
        out.insert(key, (f.unique, top));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;

    /// The reduction of `rows` (any order of `(hash, payload)`), as the
    /// shard sort delivers them: by hash.
    fn reduce(mut rows: Vec<(u64, Vec<u8>)>) -> BTreeMap<(u32, u32), FeatureCounts> {
        rows.sort_by_key(|(h, _)| *h);
        let mut r = ValueReducer::default();
        for (h, p) in &rows {
            r.add(*h, p).unwrap();
        }
        r.finish()
    }

    fn top(c: &mut FeatureCounts) -> Vec<(String, u64)> {
        let ScalarValue::Struct(s) = c.top.evaluate().unwrap() else {
            panic!("not a struct")
        };
        let values = s.column(0).as_list::<i32>().value(0);
        let counts = s.column(1).as_list::<i32>().value(0);
        let (values, counts) = (
            values.as_binary::<i32>(),
            counts.as_primitive::<UInt64Type>(),
        );
        (0..values.len())
            .map(|i| {
                (
                    String::from_utf8_lossy(values.value(i)).into_owned(),
                    counts.value(i),
                )
            })
            .collect()
    }

    #[test]
    fn combined_counts_reduce_to_exact_uniques_and_top_values_per_split_and_feature() {
        let words: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "a", "c", "a", "b"]));
        let mut parts = [ValueCombiner::default(), ValueCombiner::default()];
        // The same values in two parts and two splits, and another feature.
        parts[0].add_column(0, 1, &words).unwrap();
        parts[1].add_column(0, 1, &words).unwrap();
        parts[1].add_column(1, 1, &words.slice(0, 2)).unwrap();
        parts[1].add_column(0, 2, &words.slice(3, 1)).unwrap();
        let rows: Vec<_> = parts.iter_mut().flat_map(|p| p.drain()).collect();
        let mut counts = reduce(rows);
        assert_eq!(
            counts.keys().copied().collect::<Vec<_>>(),
            [(0, 1), (0, 2), (1, 1)]
        );
        let f = counts.get_mut(&(0, 1)).unwrap();
        assert_eq!(f.unique, 3);
        assert_eq!(top(f), [("a".into(), 6), ("b".into(), 4), ("c".into(), 2)]);
        let f = counts.get_mut(&(1, 1)).unwrap();
        assert_eq!(
            (f.unique, top(f)),
            (2, vec![("b".into(), 1), ("a".into(), 1)])
        );
    }

    /// Two keys under one hash (a collision) stay two values.
    #[test]
    fn keys_that_share_a_hash_are_counted_apart() {
        let mut key = Vec::new();
        let mut rows = Vec::new();
        for (value, n) in [("x", 2), ("y", 5), ("x", 1)] {
            push_key(&mut key, 0, 0, value.as_bytes());
            rows.push((7, value_row(&key, n)));
        }
        let mut counts = reduce(rows);
        let f = counts.get_mut(&(0, 0)).unwrap();
        assert_eq!(
            (f.unique, top(f)),
            (2, vec![("y".into(), 5), ("x".into(), 3)])
        );
    }

    #[test]
    fn shard_counts_merge_into_the_whole_inputs() {
        let words: ArrayRef = Arc::new(StringArray::from(vec!["p", "q", "p", "r"]));
        let mut c = ValueCombiner::default();
        c.add_column(0, 0, &words).unwrap();
        let rows = c.drain();
        // Each row reduced in the shard its hash picks (of 3).
        let mut shards: Vec<Vec<(u64, Vec<u8>)>> = vec![Vec::new(); 3];
        for (h, p) in rows {
            shards[(h % 3) as usize].push((h, p));
        }
        let batches: Vec<RecordBatch> = shards
            .into_iter()
            .map(|rows| counts_batch(reduce(rows)).unwrap())
            .collect();
        let merged = merge_counts(&batches).unwrap();
        let (unique, top) = &merged[&(0, 0)];
        assert_eq!(*unique, 3);
        let values = top.column(0).as_list::<i32>().value(0);
        assert_eq!(values.as_binary::<i32>().value(0), b"p");
    }

    #[test]
    fn a_truncated_count_row_is_an_error() {
        assert!(parse_value_row(b"short").is_err());
        assert!(ValueReducer::default().add(1, b"short").is_err());
    }
}
