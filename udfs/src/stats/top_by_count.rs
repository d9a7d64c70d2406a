//! `top_by_count(value, count)`: the most frequent values of a feature from
//! rows that are already `(value, count)` pairs, one row per distinct
//! value (the output of `GROUP BY feature, value`). Keeps
//! [`TOP_VALUES_KEPT`] in TFDV's rank order (count descending, then value
//! descending), so its state stays that small however many distinct values
//! the feature has: exact statistics count values with DataFusion's own
//! (spilling, hash-partitioned) aggregation and reduce each feature with
//! this. Partial states merge exactly because every distinct value is one
//! row of one partition. Grouped by feature, each row goes straight to its
//! feature's accumulator ([`TopByCountGroups`]), without DataFusion's
//! adapter first copying every value into per-group arrays.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, ListArray, StructArray, UInt64Builder,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, UInt64Type};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use super::arrays::list_of;
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

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(TopByCountGroups::default()))
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
    /// Bytes of the kept values.
    value_bytes: usize,
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
        self.value_bytes += value.len();
        if self.kept.len() >= 2 * TOP_VALUES_KEPT {
            self.prune();
        }
    }

    /// Bytes held beyond the struct itself.
    fn held_bytes(&self) -> usize {
        self.kept.capacity() * std::mem::size_of::<(Vec<u8>, u64)>()
            + self.value_bytes
            + self.floor.as_ref().map_or(0, |(v, _)| v.len())
    }

    /// Keeps the top [`TOP_VALUES_KEPT`], ranked.
    fn prune(&mut self) {
        let all: Vec<(&[u8], u64)> = self.kept.iter().map(|(v, c)| (v.as_slice(), *c)).collect();
        let top: Vec<(Vec<u8>, u64)> = top_of(all, TOP_VALUES_KEPT)
            .into_iter()
            .map(|(v, c)| (v.to_vec(), c))
            .collect();
        self.kept = top;
        self.value_bytes = self.kept.iter().map(|(v, _)| v.len()).sum();
        if self.kept.len() == TOP_VALUES_KEPT {
            self.floor = self.kept.last().cloned();
        }
    }

    fn add_pairs(&mut self, values: &ArrayRef, counts: &ArrayRef) -> Result<()> {
        let (values, counts) = pairs(values, counts)?;
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
        lists_of(std::slice::from_mut(self))
    }
}

/// `(value, count)` arguments as Binary and UInt64 arrays.
fn pairs(values: &ArrayRef, counts: &ArrayRef) -> Result<(ArrayRef, ArrayRef)> {
    let values = match values.data_type() {
        DataType::Binary => values.clone(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::BinaryView => {
            cast(values, &DataType::Binary)?
        }
        other => return exec_err!("top_by_count: values of type {other}"),
    };
    Ok((values, cast(counts, &DataType::UInt64)?))
}

/// The ranked top values and counts of `accumulators` as two list arrays,
/// one row each.
fn lists_of(accumulators: &mut [TopByCountAccumulator]) -> [ArrayRef; 2] {
    let mut values = BinaryBuilder::new();
    let mut counts = UInt64Builder::new();
    let mut lengths = Vec::with_capacity(accumulators.len());
    for acc in accumulators {
        acc.prune();
        lengths.push(acc.kept.len());
        for (v, c) in &acc.kept {
            values.append_value(v);
            counts.append_value(*c);
        }
    }
    two_lists(lengths, values, counts)
}

/// Lists of `lengths` items of `values` and of `counts`.
fn two_lists(
    lengths: Vec<usize>,
    mut values: BinaryBuilder,
    mut counts: UInt64Builder,
) -> [ArrayRef; 2] {
    let offsets = OffsetBuffer::from_lengths(lengths);
    let list = |items: ArrayRef| -> ArrayRef {
        let field = Arc::new(Field::new("item", items.data_type().clone(), true));
        Arc::new(ListArray::new(field, offsets.clone(), items, None))
    };
    [
        list(Arc::new(values.finish())),
        list(Arc::new(counts.finish())),
    ]
}

/// `top_by_count` over many groups (features) at once: one
/// [`TopByCountAccumulator`] a group, fed row by row.
#[derive(Debug, Default)]
pub struct TopByCountGroups {
    groups: Vec<TopByCountAccumulator>,
    /// The groups' [`TopByCountAccumulator::held_bytes`], summed.
    held: usize,
}

impl TopByCountGroups {
    /// Adds `(values[i], counts[i])` to group `group_indices[i]` for every
    /// row the filter keeps.
    fn add_rows(
        &mut self,
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
        mut add: impl FnMut(&mut TopByCountAccumulator, usize) -> Result<()>,
    ) -> Result<()> {
        if self.groups.len() < total_num_groups {
            self.groups
                .resize_with(total_num_groups, TopByCountAccumulator::default);
        }
        for (row, &g) in group_indices.iter().enumerate() {
            if opt_filter.is_some_and(|f| !f.is_valid(row) || !f.value(row)) {
                continue;
            }
            let Some(acc) = self.groups.get_mut(g) else {
                return exec_err!("top_by_count: group {g} of {total_num_groups}");
            };
            let before = acc.held_bytes();
            add(acc, row)?;
            self.held = self.held + acc.held_bytes() - before;
        }
        Ok(())
    }
}

impl GroupsAccumulator for TopByCountGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let (values, counts) = pairs(&values[0], &values[1])?;
        let (values, counts) = (
            values.as_binary::<i32>(),
            counts.as_primitive::<UInt64Type>(),
        );
        self.add_rows(group_indices, opt_filter, total_num_groups, |acc, i| {
            if values.is_valid(i) && counts.is_valid(i) {
                acc.add(values.value(i), counts.value(i));
            }
            Ok(())
        })
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let arrays = self.state(emit_to)?;
        Ok(Arc::new(StructArray::new(FIELDS.clone(), arrays, None)))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let mut emitted = emit_to.take_needed(&mut self.groups);
        self.held -= emitted.iter().map(|g| g.held_bytes()).sum::<usize>();
        Ok(lists_of(&mut emitted).to_vec())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let (values, counts) = (values[0].as_list::<i32>(), values[1].as_list::<i32>());
        self.add_rows(
            group_indices,
            None,
            total_num_groups,
            |acc, row| match values.is_valid(row) {
                true => acc.add_pairs(&values.value(row), &counts.value(row)),
                false => Ok(()),
            },
        )
    }

    /// Each row as its own group's state: a one-value list (empty where
    /// the filter drops the row or it has no value or count).
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let (values, counts) = pairs(&values[0], &values[1])?;
        let (values, counts) = (
            values.as_binary::<i32>(),
            counts.as_primitive::<UInt64Type>(),
        );
        let mut out = (BinaryBuilder::new(), UInt64Builder::new());
        let lengths = (0..values.len()).map(|i| {
            let kept = opt_filter.is_none_or(|f| f.is_valid(i) && f.value(i));
            let pair = kept && values.is_valid(i) && counts.is_valid(i);
            if pair {
                out.0.append_value(values.value(i));
                out.1.append_value(counts.value(i));
            }
            usize::from(pair)
        });
        let lengths: Vec<usize> = lengths.collect();
        Ok(two_lists(lengths, out.0, out.1).to_vec())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.groups.capacity() * std::mem::size_of::<TopByCountAccumulator>()
            + self.held
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
        std::mem::size_of_val(self) + self.held_bytes()
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

    /// `(group's top values, counts)` of each row of an evaluated struct.
    fn tops_of(result: &ArrayRef) -> Vec<Vec<(String, u64)>> {
        let st = result.as_struct();
        let (values, counts) = (st.column(0).as_list::<i32>(), st.column(1).as_list::<i32>());
        (0..st.len())
            .map(|row| {
                let v = values.value(row);
                let c = counts.value(row);
                let (v, c) = (v.as_binary::<i32>(), c.as_primitive::<UInt64Type>());
                (0..v.len())
                    .map(|i| (String::from_utf8_lossy(v.value(i)).into_owned(), c.value(i)))
                    .collect()
            })
            .collect()
    }

    /// Grouped, with a filter, split into batches, through states, through
    /// rows converted to states, and emitted in two steps, every group's
    /// top is the single accumulator's.
    #[test]
    fn groups_give_each_group_the_single_accumulators_top() {
        let rows: Vec<(usize, String, u64, bool)> = (0..9000u64)
            .map(|i| {
                let g = (i * 31 % 3) as usize;
                (
                    g,
                    format!("v{:05}", (i * 7919) % 9000),
                    1 + i % 5,
                    i % 11 != 0,
                )
            })
            .collect();
        let expected: Vec<Vec<(String, u64)>> = (0..3)
            .map(|g| {
                let mut acc = TopByCountAccumulator::default();
                for (rg, v, c, keep) in &rows {
                    if *rg == g && *keep {
                        acc.add(v.as_bytes(), *c);
                    }
                }
                top(&mut acc)
            })
            .collect();
        let arrays =
            |rows: &[(usize, String, u64, bool)]| -> (Vec<ArrayRef>, Vec<usize>, BooleanArray) {
                let values: ArrayRef =
                    Arc::new(datafusion::arrow::array::StringArray::from_iter_values(
                        rows.iter().map(|r| r.1.as_str()),
                    ));
                let counts: ArrayRef =
                    Arc::new(datafusion::arrow::array::Int64Array::from_iter_values(
                        rows.iter().map(|r| r.2 as i64),
                    ));
                let groups = rows.iter().map(|r| r.0).collect();
                let filter = BooleanArray::from_iter(rows.iter().map(|r| Some(r.3)));
                (vec![values, counts], groups, filter)
            };
        // Two partials over halves of the rows, merged by a final one
        // whose group numbers are reversed.
        let mut finals = TopByCountGroups::default();
        for half in rows.chunks(4500) {
            let mut partial = TopByCountGroups::default();
            for batch in half.chunks(1000) {
                let (args, groups, filter) = arrays(batch);
                partial
                    .update_batch(&args, &groups, Some(&filter), 3)
                    .unwrap();
            }
            assert!(partial.size() > 0);
            let state = partial.state(EmitTo::All).unwrap();
            finals.merge_batch(&state, &[2, 1, 0], 3).unwrap();
        }
        let mut got = tops_of(&finals.evaluate(EmitTo::First(1)).unwrap());
        got.extend(tops_of(&finals.evaluate(EmitTo::All).unwrap()));
        got.reverse();
        assert_eq!(got, expected);
        // Each row its own state, merged.
        let (args, groups, filter) = arrays(&rows);
        let mut converted = TopByCountGroups::default();
        let state = converted.convert_to_state(&args, Some(&filter)).unwrap();
        converted.merge_batch(&state, &groups, 3).unwrap();
        assert_eq!(tops_of(&converted.evaluate(EmitTo::All).unwrap()), expected);
    }
}
