//! `document_frequencies(x)`: over a column of term-id lists (documents),
//! the number of documents and, for every term id, the number of documents
//! that hold it at least once: TF-Transform's `tfidf` analyzer (its corpus
//! size counts every row, so a NULL or empty document counts as a document
//! with no terms). The state is the exact id → count map, so partial/final
//! aggregation merges exactly; the result lists ids ascending.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StructArray, UInt64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type, UInt64Type};
use datafusion::common::{exec_err, HashMap, HashSet, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use crate::stats::arrays::{list_of, one_list};

/// Fields of the result (and of the state): `documents`, then `ids` and
/// `counts` aligned, ids ascending.
pub static DOCUMENT_FREQUENCY_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new("documents", DataType::UInt64, false),
        Field::new("ids", list_of(DataType::Int64), false),
        Field::new("counts", list_of(DataType::UInt64), false),
    ])
});

/// `document_frequencies(x) -> struct<documents: uint64, ids: list<int64>,
/// counts: list<uint64>>`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DocumentFrequencyUdaf {
    signature: Signature,
}

impl Default for DocumentFrequencyUdaf {
    fn default() -> Self {
        Self::new()
    }
}

impl DocumentFrequencyUdaf {
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
            "The number of documents and, for every term id, the number of documents holding it at least once (TF-Transform's tfidf analyzer); ids ascending.",
            "document_frequencies(x)",
            &[
            ("x", "A column of term-id lists (documents)."),
            ],
        )
    });

impl AggregateUDFImpl for DocumentFrequencyUdaf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(&DOCUMENTATION)
    }

    fn name(&self) -> &str {
        "document_frequencies"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[0] {
            DataType::List(_) | DataType::LargeList(_) | DataType::Null => {
                Ok(DataType::Struct(DOCUMENT_FREQUENCY_FIELDS.clone()))
            }
            other => exec_err!("document_frequencies: x must be a list of term ids, got {other}"),
        }
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(DocumentFrequencyAccumulator::default()))
    }

    fn state_fields(&self, _args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(DOCUMENT_FREQUENCY_FIELDS
            .iter()
            .map(|f| Arc::new(f.as_ref().clone().with_nullable(true)))
            .collect())
    }
}

/// Documents seen and documents per term id.
#[derive(Debug, Default)]
pub struct DocumentFrequencyAccumulator {
    documents: u64,
    frequencies: HashMap<i64, u64>,
}

impl DocumentFrequencyAccumulator {
    fn ranked(&self) -> (Int64Array, UInt64Array) {
        let mut pairs: Vec<(i64, u64)> = self.frequencies.iter().map(|(k, v)| (*k, *v)).collect();
        pairs.sort_unstable();
        (
            pairs.iter().map(|p| p.0).collect(),
            pairs.iter().map(|p| p.1).collect(),
        )
    }
}

impl Accumulator for DocumentFrequencyAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let x = &values[0];
        self.documents += x.len() as u64;
        if x.data_type() == &DataType::Null {
            return Ok(());
        }
        let x = cast(x, &list_of(DataType::Int64))?;
        let lists = x.as_list::<i32>();
        let mut seen = HashSet::new();
        for row in 0..lists.len() {
            if lists.is_null(row) {
                continue;
            }
            seen.clear();
            let ids = lists.value(row);
            for id in ids.as_primitive::<Int64Type>().iter().flatten() {
                if seen.insert(id) {
                    *self.frequencies.entry(id).or_default() += 1;
                }
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let (ids, counts) = self.ranked();
        Ok(ScalarValue::Struct(Arc::new(StructArray::new(
            DOCUMENT_FREQUENCY_FIELDS.clone(),
            vec![
                Arc::new(UInt64Array::from(vec![self.documents])),
                one_list(Arc::new(ids)),
                one_list(Arc::new(counts)),
            ],
            None,
        ))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.frequencies.capacity() * 24
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (ids, counts) = self.ranked();
        Ok(vec![
            ScalarValue::UInt64(Some(self.documents)),
            ScalarValue::List(Arc::new(one_list(Arc::new(ids)).as_list::<i32>().clone())),
            ScalarValue::List(Arc::new(
                one_list(Arc::new(counts)).as_list::<i32>().clone(),
            )),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let documents = states[0].as_primitive::<UInt64Type>();
        let ids = states[1].as_list::<i32>();
        let counts = states[2].as_list::<i32>();
        for row in 0..documents.len() {
            if documents.is_null(row) {
                continue;
            }
            self.documents += documents.value(row);
            let i = ids.value(row);
            let c = counts.value(row);
            let (i, c) = (
                i.as_primitive::<Int64Type>(),
                c.as_primitive::<UInt64Type>(),
            );
            for (id, n) in i.values().iter().zip(c.values()) {
                *self.frequencies.entry(*id).or_default() += n;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::ListArray;

    fn docs(rows: Vec<Option<Vec<Option<i64>>>>) -> ArrayRef {
        Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(rows))
    }

    fn result(acc: &mut DocumentFrequencyAccumulator) -> (u64, Vec<(i64, u64)>) {
        let ScalarValue::Struct(s) = acc.evaluate().unwrap() else {
            panic!("a struct")
        };
        let documents = s.column(0).as_primitive::<UInt64Type>().value(0);
        let ids = s.column(1).as_list::<i32>().value(0);
        let counts = s.column(2).as_list::<i32>().value(0);
        let pairs = ids
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .copied()
            .zip(counts.as_primitive::<UInt64Type>().values().iter().copied())
            .collect();
        (documents, pairs)
    }

    #[test]
    fn counts_each_term_once_per_document_and_every_row_as_a_document() {
        let mut acc = DocumentFrequencyAccumulator::default();
        acc.update_batch(&[docs(vec![
            Some(vec![Some(1), Some(2), Some(0), Some(0), Some(0)]),
            Some(vec![Some(3), Some(3), Some(0)]),
            None,
            Some(vec![]),
        ])])
        .unwrap();
        assert_eq!(result(&mut acc), (4, vec![(0, 2), (1, 1), (2, 1), (3, 1)]));
    }

    #[test]
    fn merged_partial_states_equal_one_pass() {
        let rows: Vec<Option<Vec<Option<i64>>>> = (0..200)
            .map(|r| Some((0..(r % 7)).map(|k| Some((r * k) % 11)).collect()))
            .collect();
        let mut whole = DocumentFrequencyAccumulator::default();
        whole.update_batch(&[docs(rows.clone())]).unwrap();
        let mut merged = DocumentFrequencyAccumulator::default();
        for chunk in rows.chunks(37) {
            let mut part = DocumentFrequencyAccumulator::default();
            part.update_batch(&[docs(chunk.to_vec())]).unwrap();
            let state: Vec<ArrayRef> = part
                .state()
                .unwrap()
                .into_iter()
                .map(|s| s.to_array().unwrap())
                .collect();
            merged.merge_batch(&state).unwrap();
        }
        assert_eq!(result(&mut whole), result(&mut merged));
    }
}
