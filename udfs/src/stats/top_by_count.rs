//! `top_by_count(value, count)`: the most frequent values of a feature from
//! rows that are already `(value, count)` pairs, one row per distinct
//! value (the output of `GROUP BY feature, value`). Keeps
//! [`TOP_VALUES_KEPT`] in TFDV's rank order (count descending, then value
//! descending), so its state stays that small however many distinct values
//! the feature has: exact statistics count values with DataFusion's own
//! (spilling, hash-partitioned) aggregation and reduce each feature with
//! this. Partial states merge exactly because every distinct value is one
//! row of one partition.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryArray, StructArray, UInt64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, UInt64Type};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::arrays::{list_of, one_list};
use super::string_stats::TOP_VALUES_KEPT;
use super::value_counts::top_of;

static FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new("top_values", list_of(DataType::Binary), false),
        Field::new("top_counts", list_of(DataType::UInt64), false),
    ])
});

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_GENERAL,
        "The most frequent values (at most 1,000) of (value, count) rows that \
         hold each distinct value once, in TFDV's rank order: count descending, \
         then value descending.",
        "top_by_count(value, count)",
    )
    .with_argument("value", "The distinct value (binary or string).")
    .with_argument("count", "How often it occurs (an integer).")
    .with_sql_example(
        "```sql\n> SELECT feature, top_by_count(value, n) FROM \
         (SELECT feature, value, count(*) AS n FROM v GROUP BY feature, value) \
         GROUP BY feature;\n```",
    )
    .build()
});

/// `top_by_count(value, count) -> struct<top_values, top_counts>`: see the
/// module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TopByCountUdaf {
    signature: Signature,
}

impl Default for TopByCountUdaf {
    fn default() -> Self {
        Self::new()
    }
}

impl TopByCountUdaf {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }

    /// Fields of the result struct (and of the state).
    pub fn fields() -> Fields {
        FIELDS.clone()
    }
}

impl AggregateUDFImpl for TopByCountUdaf {
    fn name(&self) -> &str {
        "top_by_count"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(FIELDS.clone()))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(TopByCountAccumulator::default()))
    }

    fn state_fields(&self, _args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(FIELDS.iter().cloned().collect())
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// The most frequent values seen so far (at most twice the limit between
/// prunings).
#[derive(Debug, Default)]
pub struct TopByCountAccumulator {
    kept: Vec<(Vec<u8>, u64)>,
    /// Once a pruning has kept [`TOP_VALUES_KEPT`] values, the last of
    /// them: a value ranked after it can never be in the top, so it is
    /// passed over without being copied (a feature of millions of distinct
    /// values, most seen once, costs one comparison of counts a value).
    floor: Option<(Vec<u8>, u64)>,
}

impl TopByCountAccumulator {
    /// Adds one distinct value with its count.
    pub fn add(&mut self, value: &[u8], count: u64) {
        if let Some((v, c)) = &self.floor {
            if count < *c || (count == *c && value < v.as_slice()) {
                return;
            }
        }
        self.kept.push((value.to_vec(), count));
        if self.kept.len() >= 2 * TOP_VALUES_KEPT {
            self.prune();
        }
    }

    /// Keeps the top [`TOP_VALUES_KEPT`], ranked.
    fn prune(&mut self) {
        let all: Vec<(&[u8], u64)> = self.kept.iter().map(|(v, c)| (v.as_slice(), *c)).collect();
        let top: Vec<(Vec<u8>, u64)> = top_of(all, TOP_VALUES_KEPT)
            .into_iter()
            .map(|(v, c)| (v.to_vec(), c))
            .collect();
        self.kept = top;
        if self.kept.len() == TOP_VALUES_KEPT {
            self.floor = self.kept.last().cloned();
        }
    }

    fn add_pairs(&mut self, values: &ArrayRef, counts: &ArrayRef) -> Result<()> {
        let values = match values.data_type() {
            DataType::Binary => values.clone(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::BinaryView => {
                cast(values, &DataType::Binary)?
            }
            other => return exec_err!("top_by_count: values of type {other}"),
        };
        let counts = cast(counts, &DataType::UInt64)?;
        let (values, counts) = (
            values.as_binary::<i32>(),
            counts.as_primitive::<UInt64Type>(),
        );
        for i in 0..values.len() {
            if values.is_valid(i) && counts.is_valid(i) {
                self.add(values.value(i), counts.value(i));
            }
        }
        Ok(())
    }

    fn lists(&mut self) -> [ArrayRef; 2] {
        self.prune();
        let values = BinaryArray::from_iter_values(self.kept.iter().map(|(v, _)| v));
        let counts = UInt64Array::from_iter_values(self.kept.iter().map(|(_, c)| *c));
        [one_list(Arc::new(values)), one_list(Arc::new(counts))]
    }
}

impl Accumulator for TopByCountAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add_pairs(&values[0], &values[1])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let arrays = self.lists().to_vec();
        Ok(ScalarValue::Struct(Arc::new(StructArray::new(
            FIELDS.clone(),
            arrays,
            None,
        ))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .kept
                .iter()
                .map(|(v, _)| v.capacity() + std::mem::size_of::<(Vec<u8>, u64)>())
                .sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.lists()
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (values, counts) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for row in 0..values.len() {
            if values.is_valid(row) {
                self.add_pairs(&values.value(row), &counts.value(row))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(acc: &mut TopByCountAccumulator) -> Vec<(String, u64)> {
        acc.prune();
        acc.kept
            .iter()
            .map(|(v, c)| (String::from_utf8_lossy(v).into_owned(), *c))
            .collect()
    }

    #[test]
    fn ranks_by_count_then_value_descending_and_merges_partials_exactly() {
        let pairs: Vec<(String, u64)> = (0..5000u64).map(|i| (format!("v{i:05}"), i % 7)).collect();
        let mut whole = TopByCountAccumulator::default();
        let mut parts = [
            TopByCountAccumulator::default(),
            TopByCountAccumulator::default(),
        ];
        for (i, (v, c)) in pairs.iter().enumerate() {
            whole.add(v.as_bytes(), *c);
            parts[i % 2].add(v.as_bytes(), *c);
        }
        let mut merged = TopByCountAccumulator::default();
        for p in &mut parts {
            let state: Vec<ArrayRef> = p
                .state()
                .unwrap()
                .iter()
                .map(|s| s.to_array().unwrap())
                .collect();
            merged.merge_batch(&state).unwrap();
        }
        let expected = {
            let mut all = pairs.clone();
            all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
            all.truncate(TOP_VALUES_KEPT);
            all
        };
        assert_eq!(top(&mut whole), expected);
        assert_eq!(top(&mut merged), expected);
        assert_eq!(expected[0], ("v04997".to_string(), 6));
    }

    /// Values ranked after the floor are passed over, and the result is
    /// still exactly the top: ties on the floor's count are decided by the
    /// value, however the values arrive.
    #[test]
    fn values_below_the_floor_are_passed_over_without_changing_the_top() {
        // Many values seen once, a few seen more often, arriving
        // interleaved, ascending and descending.
        let pairs: Vec<(String, u64)> = (0..20_000u64)
            .map(|i| {
                (
                    format!("v{:05}", (i * 7919) % 20_000),
                    1 + u64::from(i % 97 == 0),
                )
            })
            .collect();
        let expected = {
            let mut all = pairs.clone();
            all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
            all.truncate(TOP_VALUES_KEPT);
            all
        };
        for order in [0, 1, 2] {
            let mut ps = pairs.clone();
            match order {
                1 => ps.sort(),
                2 => ps.sort_by(|a, b| b.cmp(a)),
                _ => {}
            }
            let mut acc = TopByCountAccumulator::default();
            for (v, c) in &ps {
                acc.add(v.as_bytes(), *c);
            }
            assert!(acc.floor.is_some(), "order {order}: a floor was set");
            assert!(acc.kept.len() < 2 * TOP_VALUES_KEPT);
            assert_eq!(top(&mut acc), expected, "order {order}");
        }
    }
}
