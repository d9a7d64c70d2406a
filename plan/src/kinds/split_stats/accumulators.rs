//! Every split's one-row statistics accumulators (`common_stats`,
//! `valency_stats`, `numeric_stats` and a string aggregate per feature),
//! fed the rows of each split as ExampleGen routes them, and their partial
//! states as one-row batches ([`SplitAccumulators::state`]) that merge
//! exactly like the aggregates' own partial states, in any order.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StructArray, UInt32Array, UInt64Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef, UInt32Type, UInt64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Accumulator;
use weir_datasets::example::FeatureType;
use weir_udfs::stats::{
    ApproxStringStatsAccumulator, CommonStatsAccumulator, NumericStatsAccumulator,
    StringStatsAccumulator, StringTotalsAccumulator, ValencyStatsAccumulator, DEFAULT_KLL_K,
};

use super::columns::{stats_columns, StatsColumn};
use crate::error::{PlanError, Result};

/// How string features are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StringMode {
    /// `string_stats`: exact, holding every distinct value (in-process).
    Exact,
    /// `string_totals`: exact counts and lengths; uniques and top values
    /// come from the value counts ([`super::values`]).
    Totals,
    /// `string_stats_approx`: sketched uniques and top values.
    Approx,
}

/// The accumulators of one feature.
struct ColumnAccumulators {
    common: CommonStatsAccumulator,
    levels: Option<ValencyStatsAccumulator>,
    numeric: Option<NumericStatsAccumulator>,
    strings: Option<Box<dyn Accumulator>>,
}

impl ColumnAccumulators {
    fn new(column: &StatsColumn, mode: StringMode) -> Self {
        Self {
            common: CommonStatsAccumulator::default(),
            levels: (column.levels > 0).then(|| ValencyStatsAccumulator::new(column.levels)),
            numeric: matches!(column.kind, FeatureType::Int | FeatureType::Float)
                .then(|| NumericStatsAccumulator::new(DEFAULT_KLL_K)),
            strings: (column.kind == FeatureType::Bytes).then(|| -> Box<dyn Accumulator> {
                match mode {
                    StringMode::Exact => Box::new(StringStatsAccumulator::default()),
                    StringMode::Totals => Box::new(StringTotalsAccumulator::default()),
                    StringMode::Approx => Box::new(ApproxStringStatsAccumulator::default()),
                }
            }),
        }
    }

    /// The accumulators in a fixed order, as `(tag, accumulator)`.
    fn all(&mut self) -> Vec<(&'static str, &mut dyn Accumulator)> {
        let mut out: Vec<(&'static str, &mut dyn Accumulator)> = vec![("common", &mut self.common)];
        if let Some(l) = self.levels.as_mut() {
            out.push(("levels", l));
        }
        if let Some(n) = self.numeric.as_mut() {
            out.push(("numeric", n));
        }
        if let Some(s) = self.strings.as_mut() {
            out.push(("strings", s.as_mut()));
        }
        out
    }
}

/// What the accumulators of one feature give.
#[derive(Debug, Clone)]
pub struct ColumnResults {
    /// `common_stats`' struct.
    pub common: StructArray,
    /// `numeric_stats`' struct (numeric features).
    pub numeric: Option<StructArray>,
    /// The string aggregate's struct (string features).
    pub strings: Option<StructArray>,
    /// `valency_stats`' struct (lists of lists).
    pub levels: Option<StructArray>,
}

/// What one split's accumulators give.
#[derive(Debug, Clone)]
pub struct SplitResults {
    /// Examples in the split.
    pub num_examples: u64,
    /// Per feature, in [`SplitAccumulators::columns`] order.
    pub columns: Vec<ColumnResults>,
}

/// Per split, per feature statistics accumulators.
pub struct SplitAccumulators {
    columns: Vec<StatsColumn>,
    splits: Vec<Vec<ColumnAccumulators>>,
    num_examples: Vec<u64>,
}

/// The split column of a state batch.
const SPLIT: &str = "split";
/// The example count column of a state batch.
const EXAMPLES: &str = "num_examples";

fn struct_of(v: ScalarValue, what: &str) -> Result<StructArray> {
    match v {
        ScalarValue::Struct(s) => Ok(s.as_ref().clone()),
        other => Err(PlanError::Internal(format!(
            "{what} accumulator returned {other:?}"
        ))),
    }
}

impl SplitAccumulators {
    /// Accumulators for `splits` splits of batches of `schema`.
    pub fn new(schema: &SchemaRef, splits: usize, mode: StringMode) -> Result<Self> {
        let columns = stats_columns(schema)?;
        let splits: Vec<Vec<ColumnAccumulators>> = (0..splits)
            .map(|_| {
                columns
                    .iter()
                    .map(|c| ColumnAccumulators::new(c, mode))
                    .collect()
            })
            .collect();
        Ok(Self {
            num_examples: vec![0; splits.len()],
            columns,
            splits,
        })
    }

    /// The features, in the order results come.
    pub fn columns(&self) -> &[StatsColumn] {
        &self.columns
    }

    /// Adds the rows of `batch`; `split_of_row[i]` is row i's split. Calls
    /// `each` with every split's rows of every feature (the values the
    /// accumulators saw).
    pub fn update(
        &mut self,
        batch: &RecordBatch,
        split_of_row: &[usize],
        mut each: impl FnMut(usize, usize, &ArrayRef) -> Result<()>,
    ) -> Result<()> {
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); self.splits.len()];
        for (r, &s) in split_of_row.iter().enumerate() {
            rows.get_mut(s)
                .ok_or_else(|| PlanError::Internal(format!("row routed to split {s}")))?
                .push(r as u32);
        }
        for (s, idx) in rows.into_iter().enumerate() {
            if idx.is_empty() {
                continue;
            }
            match idx.len() == batch.num_rows() {
                true => self.add_rows(s, batch, None, &mut each)?,
                false => self.add_rows(s, batch, Some(&UInt32Array::from(idx)), &mut each)?,
            }
        }
        Ok(())
    }

    /// Adds every row of `batch` to split `split`.
    pub fn update_split(&mut self, batch: &RecordBatch, split: usize) -> Result<()> {
        if split >= self.splits.len() {
            return Err(PlanError::Internal(format!("rows routed to split {split}")));
        }
        self.add_rows(split, batch, None, &mut |_, _, _| Ok(()))
    }

    /// Adds the rows `idx` of `batch` (all when `None`) to split `s`.
    fn add_rows(
        &mut self,
        s: usize,
        batch: &RecordBatch,
        idx: Option<&UInt32Array>,
        each: &mut impl FnMut(usize, usize, &ArrayRef) -> Result<()>,
    ) -> Result<()> {
        self.num_examples[s] += idx.map_or(batch.num_rows(), |i| i.len()) as u64;
        for (c, accs) in self.splits[s].iter_mut().enumerate() {
            let array = self.columns[c].array(batch)?;
            let column = match idx {
                None => array,
                Some(idx) => {
                    take(&array, idx, None).map_err(datafusion::error::DataFusionError::from)?
                }
            };
            let args = [column];
            for (_, acc) in accs.all() {
                acc.update_batch(&args)?;
            }
            each(s, c, &args[0])?;
        }
        Ok(())
    }

    /// Split `split`'s partial state as one row: its split, its example
    /// count and every accumulator's state fields (named
    /// `<feature>.<tag>.<field>`).
    pub fn state(&mut self, split: usize) -> Result<RecordBatch> {
        let mut fields = vec![
            Field::new(SPLIT, datafusion::arrow::datatypes::DataType::UInt32, false),
            Field::new(
                EXAMPLES,
                datafusion::arrow::datatypes::DataType::UInt64,
                false,
            ),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(vec![split as u32])),
            Arc::new(UInt64Array::from(vec![self.num_examples[split]])),
        ];
        for (c, accs) in self.splits[split].iter_mut().enumerate() {
            for (tag, acc) in accs.all() {
                for (i, v) in acc.state()?.into_iter().enumerate() {
                    let a = v.to_array()?;
                    fields.push(Field::new(
                        format!("{c}.{tag}.{i}"),
                        a.data_type().clone(),
                        true,
                    ));
                    columns.push(a);
                }
            }
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(|e| PlanError::Internal(format!("statistics state: {e}")))
    }

    /// Merges partial states ([`Self::state`]'s rows, of any split).
    pub fn merge(&mut self, states: &RecordBatch) -> Result<()> {
        let bad = |what: &str| PlanError::Internal(format!("statistics state: {what}"));
        let split = states
            .column_by_name(SPLIT)
            .and_then(|a| a.as_primitive_opt::<UInt32Type>())
            .ok_or_else(|| bad("no split column"))?;
        let examples = states
            .column_by_name(EXAMPLES)
            .and_then(|a| a.as_primitive_opt::<UInt64Type>())
            .ok_or_else(|| bad("no example count"))?;
        for row in 0..states.num_rows() {
            let s = split.value(row) as usize;
            let accs = self
                .splits
                .get_mut(s)
                .ok_or_else(|| bad(&format!("split {s} of {}", self.num_examples.len())))?;
            self.num_examples[s] += examples.value(row);
            for (c, column) in accs.iter_mut().enumerate() {
                for (tag, acc) in column.all() {
                    let mut fields = Vec::new();
                    while let Some(a) =
                        states.column_by_name(&format!("{c}.{tag}.{}", fields.len()))
                    {
                        fields.push(a.slice(row, 1));
                    }
                    if fields.is_empty() {
                        return Err(bad(&format!("no state of feature {c}'s {tag}")));
                    }
                    acc.merge_batch(&fields)?;
                }
            }
        }
        Ok(())
    }

    /// Every split's results.
    pub fn evaluate(self) -> Result<Vec<SplitResults>> {
        let mut out = Vec::with_capacity(self.splits.len());
        for (accs, num_examples) in self.splits.into_iter().zip(self.num_examples) {
            let mut columns = Vec::with_capacity(accs.len());
            for mut a in accs {
                let common = struct_of(a.common.evaluate()?, "common")?;
                let numeric = match a.numeric.as_mut() {
                    Some(n) => Some(struct_of(n.evaluate()?, "numeric")?),
                    None => None,
                };
                let strings = match a.strings.as_mut() {
                    Some(s) => Some(struct_of(s.evaluate()?, "string")?),
                    None => None,
                };
                let levels = match a.levels.as_mut() {
                    Some(l) => match l.evaluate()? {
                        ScalarValue::List(list) => Some(list.value(0).as_struct().clone()),
                        other => {
                            return Err(PlanError::Internal(format!(
                                "valency accumulator returned {other:?}"
                            )))
                        }
                    },
                    None => None,
                };
                columns.push(ColumnResults {
                    common,
                    numeric,
                    strings,
                    levels,
                });
            }
            out.push(SplitResults {
                num_examples,
                columns,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "n",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3), Some(4)])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![
                    Some("a"),
                    Some("bb"),
                    None,
                    Some("a"),
                ])) as _,
            ),
        ])
        .unwrap()
    }

    /// Two parts' states, merged (in either order), give one accumulator's
    /// results over all rows.
    #[test]
    fn merged_part_states_give_the_results_of_one_pass() {
        let b = batch();
        let splits = [0, 1, 0, 0];
        let mut whole = SplitAccumulators::new(&b.schema(), 2, StringMode::Totals).unwrap();
        whole.update(&b, &splits, |_, _, _| Ok(())).unwrap();
        let mut parts: Vec<SplitAccumulators> = (0..2)
            .map(|_| SplitAccumulators::new(&b.schema(), 2, StringMode::Totals).unwrap())
            .collect();
        parts[0]
            .update(&b.slice(0, 2), &splits[..2], |_, _, _| Ok(()))
            .unwrap();
        parts[1]
            .update(&b.slice(2, 2), &splits[2..], |_, _, _| Ok(()))
            .unwrap();
        let mut merged = SplitAccumulators::new(&b.schema(), 2, StringMode::Totals).unwrap();
        for p in parts.iter_mut().rev() {
            for s in 0..2 {
                merged.merge(&p.state(s).unwrap()).unwrap();
            }
        }
        let (w, m) = (whole.evaluate().unwrap(), merged.evaluate().unwrap());
        for (a, b) in w.iter().zip(&m) {
            assert_eq!(a.num_examples, b.num_examples);
            for (x, y) in a.columns.iter().zip(&b.columns) {
                assert_eq!(x.common, y.common);
                assert_eq!(x.strings, y.strings);
                assert_eq!(x.numeric.is_some(), y.numeric.is_some());
            }
        }
        assert_eq!((w[0].num_examples, w[1].num_examples), (3, 1));
    }

    /// A whole batch added to one split is what routing every row there
    /// gives; a split out of range is an error.
    #[test]
    fn a_whole_batch_into_one_split_is_every_row_routed_there() {
        let b = batch();
        let mut routed = SplitAccumulators::new(&b.schema(), 2, StringMode::Totals).unwrap();
        routed.update(&b, &[1, 1, 1, 1], |_, _, _| Ok(())).unwrap();
        let mut whole = SplitAccumulators::new(&b.schema(), 2, StringMode::Totals).unwrap();
        whole.update_split(&b, 1).unwrap();
        assert!(whole.update_split(&b, 2).is_err());
        assert_eq!(
            format!("{:?}", routed.evaluate().unwrap()),
            format!("{:?}", whole.evaluate().unwrap())
        );
    }

    #[test]
    fn a_state_of_another_shape_is_an_error() {
        let b = batch();
        let mut accs = SplitAccumulators::new(&b.schema(), 1, StringMode::Totals).unwrap();
        let other = RecordBatch::try_from_iter([(
            "split",
            Arc::new(UInt32Array::from(vec![0])) as ArrayRef,
        )])
        .unwrap();
        assert!(accs.merge(&other).is_err());
        let state = accs.state(0).unwrap();
        let mut two = SplitAccumulators::new(&b.schema(), 0, StringMode::Totals).unwrap();
        assert!(two.merge(&state).is_err());
    }
}
