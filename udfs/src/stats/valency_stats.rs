//! `valency_stats(feature)`: presence and valency at every nesting level of
//! a list of lists (a SequenceExample's sequence feature), TFDV's
//! `CommonStatistics.presence_and_valency_stats`: level 0 counts the value
//! lists of each example (steps), level 1 the values of each inner list,
//! each with `common_stats`' counters and exact distribution. An absent
//! outer list is missing at level 0; a null inner list (a step with an
//! empty `Feature`) is missing at level 1.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, GenericListArray, ListArray, OffsetSizeTrait, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use super::common_stats::{CommonStatsAccumulator, CommonStatsUdaf};
use super::feature_column::is_nested_list;

/// `List<Struct<common_stats' fields>>`: one element per nesting level.
fn levels_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(CommonStatsUdaf::fields()),
        false,
    )))
}

/// Nesting levels of a list type (2 for a list of lists, 0 for a scalar).
pub fn nesting_depth(dt: &DataType) -> usize {
    match dt {
        DataType::List(f) | DataType::LargeList(f) => 1 + nesting_depth(f.data_type()),
        _ => 0,
    }
}

/// `valency_stats(list_of_lists) -> list<struct>`: see the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ValencyStatsUdaf {
    signature: Signature,
}

impl Default for ValencyStatsUdaf {
    fn default() -> Self {
        Self::new()
    }
}

impl ValencyStatsUdaf {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

static DOCUMENTATION: std::sync::LazyLock<datafusion::logical_expr::Documentation> =
    std::sync::LazyLock::new(|| {
        crate::docs::aggregate(
            "Presence and valency at every nesting level of a list of lists (TFDV's presence_and_valency_stats): level 0 counts each example's inner lists, level 1 the values of each inner list.",
            "valency_stats(feature)",
            &[
            ("feature", "A list of lists (a SequenceExample's sequence feature)."),
            ],
        )
    });

impl AggregateUDFImpl for ValencyStatsUdaf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(&DOCUMENTATION)
    }

    fn name(&self) -> &str {
        "valency_stats"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !is_nested_list(&arg_types[0]) {
            return exec_err!("valency_stats takes a list of lists, not {}", arg_types[0]);
        }
        Ok(levels_type())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let levels = nesting_depth(&args.exprs[0].data_type(args.schema)?);
        Ok(Box::new(ValencyStatsAccumulator::new(levels)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[levels]", args.name),
            levels_type(),
            true,
        ))])
    }
}

/// Per nesting level, a [`CommonStatsAccumulator`].
#[derive(Debug)]
pub struct ValencyStatsAccumulator {
    levels: Vec<CommonStatsAccumulator>,
}

impl ValencyStatsAccumulator {
    /// Accumulators for `levels` nesting levels.
    pub fn new(levels: usize) -> Self {
        Self {
            levels: (0..levels)
                .map(|_| CommonStatsAccumulator::default())
                .collect(),
        }
    }

    fn levels_array(&self) -> Result<ArrayRef> {
        let fields = CommonStatsUdaf::fields();
        let rows: Vec<ArrayRef> = self
            .levels
            .iter()
            .map(|l| -> Result<ArrayRef> {
                Ok(Arc::new(StructArray::try_new(
                    fields.clone(),
                    l.state_arrays(),
                    None,
                )?))
            })
            .collect::<Result<_>>()?;
        let refs: Vec<&dyn Array> = rows.iter().map(|a| a.as_ref()).collect();
        let values = datafusion::arrow::compute::concat(&refs)?;
        Ok(Arc::new(ListArray::new(
            Arc::new(Field::new("item", values.data_type().clone(), false)),
            OffsetBuffer::from_lengths([values.len()]),
            values,
            None,
        )))
    }
}

/// Each row's value range, and the values.
fn list_parts<O: OffsetSizeTrait>(l: &GenericListArray<O>) -> (Vec<(usize, usize)>, &ArrayRef) {
    let o = l.value_offsets();
    let ranges = (0..l.len())
        .map(|i| (o[i].as_usize(), o[i + 1].as_usize()))
        .collect();
    (ranges, l.values())
}

/// Counts the lists at `rows` of `array` into `levels[0]`, and their
/// children into the deeper levels.
fn count_level(
    levels: &mut [CommonStatsAccumulator],
    array: &ArrayRef,
    rows: &mut dyn Iterator<Item = usize>,
) -> Result<()> {
    let Some((level, deeper)) = levels.split_first_mut() else {
        return Ok(());
    };
    let (offsets, child) = match array.data_type() {
        DataType::List(_) => list_parts(array.as_list::<i32>()),
        DataType::LargeList(_) => list_parts(array.as_list::<i64>()),
        other => return exec_err!("valency_stats: expected a list, got {other}"),
    };
    let mut children = Vec::new();
    for i in rows {
        if array.is_null(i) {
            level.add_missing(1);
        } else {
            let (s, e) = offsets[i];
            level.add((e - s) as u64, 1);
            children.extend(s..e);
        }
    }
    if deeper.is_empty() {
        return Ok(());
    }
    count_level(deeper, child, &mut children.into_iter())
}

impl Accumulator for ValencyStatsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let array = &values[0];
        count_level(&mut self.levels, array, &mut (0..array.len()))
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::List(Arc::new(
            self.levels_array()?.as_list::<i32>().clone(),
        )))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.levels.iter().map(|l| l.size()).sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for r in 0..lists.len() {
            if lists.is_null(r) {
                continue;
            }
            let levels = lists.value(r);
            let levels = levels.as_struct();
            if levels.len() != self.levels.len() {
                return exec_err!(
                    "valency_stats: a partial state of {} levels merged into {}",
                    levels.len(),
                    self.levels.len()
                );
            }
            for (i, acc) in self.levels.iter_mut().enumerate() {
                let row = levels.slice(i, 1);
                acc.merge_batch(row.columns())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::CommonStatsResult;
    use datafusion::arrow::array::{Int64Builder, ListBuilder};

    #[test]
    fn levels_count_steps_and_values_and_merge() {
        // Row 0: steps [1], [], null; row 1: absent; row 2: zero steps.
        let mut b = ListBuilder::new(ListBuilder::new(Int64Builder::new()));
        b.values().values().append_value(1);
        b.values().append(true);
        b.values().append(true);
        b.values().append(false);
        b.append(true);
        b.append(false);
        b.append(true);
        let array: ArrayRef = Arc::new(b.finish());
        let mut a = ValencyStatsAccumulator::new(2);
        a.update_batch(&[array]).unwrap();
        let state = a.state().unwrap();
        let mut merged = ValencyStatsAccumulator::new(2);
        let arrays: Vec<ArrayRef> = state.iter().map(|s| s.to_array().unwrap()).collect();
        merged.merge_batch(&arrays).unwrap();
        merged.merge_batch(&arrays).unwrap();
        let ScalarValue::List(out) = merged.evaluate().unwrap() else {
            panic!("a list")
        };
        let levels = out.value(0);
        let levels = levels.as_struct();
        let l0 = CommonStatsResult::from_struct(levels, 0).unwrap();
        let l1 = CommonStatsResult::from_struct(levels, 1).unwrap();
        assert_eq!((l0.num_non_missing, l0.num_missing), (4, 2));
        assert_eq!(
            (l0.min_num_values, l0.max_num_values, l0.tot_num_values),
            (0, 3, 6)
        );
        assert_eq!((l1.num_non_missing, l1.num_missing), (4, 2));
        assert_eq!(
            (l1.min_num_values, l1.max_num_values, l1.tot_num_values),
            (0, 1, 2)
        );
        assert_eq!(l1.num_values, vec![(0, 2), (1, 2)]);
    }
}
