//! `common_stats(feature)`: presence and valency of a feature, TFDV's
//! `CommonStatistics`: examples with and without a value, minimum, maximum
//! and total number of values per example, and the exact distribution of
//! the number of values per example (small integers, so an exact count map
//! is smaller and cheaper than a sketch), from which TFDV's 10-bucket
//! values-per-example quantiles histogram is made. A list of lists counts
//! its innermost values per example (TFDV's nested features); its
//! per-level counts are `valency_stats`'.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StructArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, UInt64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use super::arrays::{list_of, one_list};
use super::FeatureColumn;

fn scalar_fields() -> Vec<Field> {
    vec![
        Field::new("num_non_missing", DataType::UInt64, false),
        Field::new("num_missing", DataType::UInt64, false),
        Field::new("min_num_values", DataType::UInt64, false),
        Field::new("max_num_values", DataType::UInt64, false),
        Field::new("tot_num_values", DataType::UInt64, false),
    ]
}

static STATE_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    let mut f = scalar_fields();
    f.push(Field::new("num_values", list_of(DataType::UInt64), false));
    f.push(Field::new(
        "num_values_count",
        list_of(DataType::UInt64),
        false,
    ));
    Fields::from(f)
});

/// The result is the state: the counters and the exact distribution of
/// values per example.
static RESULT_FIELDS: LazyLock<Fields> = LazyLock::new(|| STATE_FIELDS.clone());

/// `common_stats(feature) -> struct`: see the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CommonStatsUdaf {
    signature: Signature,
}

impl Default for CommonStatsUdaf {
    fn default() -> Self {
        Self::new()
    }
}

impl CommonStatsUdaf {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    /// The fields of the result struct (also the fields of the state).
    pub fn fields() -> Fields {
        RESULT_FIELDS.clone()
    }
}

static DOCUMENTATION: std::sync::LazyLock<datafusion::logical_expr::Documentation> =
    std::sync::LazyLock::new(|| {
        crate::docs::aggregate(
            "TFDV's CommonStatistics of a feature: examples with and without a value, minimum, maximum and total values per example, and the exact distribution of values per example.",
            "common_stats(feature)",
            &[
            ("feature", "Any column: a scalar, a list, or a list of lists (innermost values counted)."),
            ],
        )
    });

impl AggregateUDFImpl for CommonStatsUdaf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(&DOCUMENTATION)
    }

    fn name(&self) -> &str {
        "common_stats"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(RESULT_FIELDS.clone()))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(CommonStatsAccumulator::default()))
    }

    fn state_fields(&self, _args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(STATE_FIELDS.iter().cloned().collect())
    }
}

/// Mergeable presence and valency counters.
#[derive(Debug)]
pub struct CommonStatsAccumulator {
    num_non_missing: u64,
    num_missing: u64,
    min_num_values: u64,
    max_num_values: u64,
    tot_num_values: u64,
    /// Examples by their number of values.
    by_num_values: BTreeMap<u64, u64>,
}

impl Default for CommonStatsAccumulator {
    fn default() -> Self {
        Self {
            num_non_missing: 0,
            num_missing: 0,
            min_num_values: u64::MAX,
            max_num_values: 0,
            tot_num_values: 0,
            by_num_values: BTreeMap::new(),
        }
    }
}

impl CommonStatsAccumulator {
    /// Counts `examples` missing examples (or value lists).
    pub(crate) fn add_missing(&mut self, examples: u64) {
        self.num_missing += examples;
    }

    /// Counts `examples` present examples (or value lists) of `num_values`.
    pub(crate) fn add(&mut self, num_values: u64, examples: u64) {
        if examples == 0 {
            return;
        }
        self.num_non_missing += examples;
        self.min_num_values = self.min_num_values.min(num_values);
        self.max_num_values = self.max_num_values.max(num_values);
        self.tot_num_values += num_values * examples;
        *self.by_num_values.entry(num_values).or_default() += examples;
    }

    /// The state (and result) as one-row arrays, of
    /// [`CommonStatsUdaf::fields`].
    pub(crate) fn state_arrays(&self) -> Vec<ArrayRef> {
        let mut arrays = self.scalars();
        arrays.push(one_list(Arc::new(UInt64Array::from_iter_values(
            self.by_num_values.keys().copied(),
        ))));
        arrays.push(one_list(Arc::new(UInt64Array::from_iter_values(
            self.by_num_values.values().copied(),
        ))));
        arrays
    }

    fn scalars(&self) -> Vec<ArrayRef> {
        let u = |v: u64| -> ArrayRef { Arc::new(UInt64Array::from(vec![v])) };
        vec![
            u(self.num_non_missing),
            u(self.num_missing),
            u(self.min_num_values),
            u(self.max_num_values),
            u(self.tot_num_values),
        ]
    }
}

impl Accumulator for CommonStatsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let col = FeatureColumn::new(&values[0])?;
        if !col.is_list {
            // A scalar column has exactly one value per present example.
            let missing = col.num_null();
            self.num_missing += missing as u64;
            self.add(1, (col.len() - missing) as u64);
            return Ok(());
        }
        for i in 0..col.len() {
            match col.range(i) {
                None => self.num_missing += 1,
                Some((s, e)) => self.add((e - s) as u64, 1),
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Struct(Arc::new(StructArray::new(
            RESULT_FIELDS.clone(),
            self.state_arrays(),
            None,
        ))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.by_num_values.len() * 32
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.state_arrays()
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let u = |i: usize| states[i].as_primitive::<UInt64Type>();
        let values = states[5].as_list::<i32>();
        let counts = states[6].as_list::<i32>();
        for r in 0..states[0].len() {
            self.num_missing += u(1).value(r);
            let (vs, cs) = (values.value(r), counts.value(r));
            let (vs, cs) = (
                vs.as_primitive::<UInt64Type>(),
                cs.as_primitive::<UInt64Type>(),
            );
            for i in 0..vs.len() {
                self.add(vs.value(i), cs.value(i));
            }
        }
        Ok(())
    }
}
