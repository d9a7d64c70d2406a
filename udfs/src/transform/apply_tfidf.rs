//! `apply_tfidf(x, idf)`: TF-Transform's `tfidf` mapper. `x` is a list of
//! term ids (for example `compute_and_apply_vocabulary` of split tokens),
//! `idf` the frozen inverse document frequency of every id below the
//! vocabulary size (a literal list). Each document becomes one entry per
//! distinct term, ids ascending (as TFT's sparse output is ordered):
//! `index` the term id and `weight` = (count of the term in the document /
//! terms in the document) × idf, computed in f64 and stored as f32.
//!
//! An id outside `[0, vocab_size)` (a `default_value` of -1, or a
//! `vocab_size` that forgot the OOV buckets) is an error naming the row, as
//! TensorFlow's dense shape check is. NULL documents give NULL; NULL ids
//! inside a document are skipped.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, AsArray, Float32Builder, Int64Builder, ListBuilder, StructArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{constant_list, null_where_x_is_null};
use crate::stats::arrays::list_of;

/// Fields of the result struct: `index` (term ids) and `weight`, aligned.
pub static TFIDF_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new("index", list_of(DataType::Int64), true),
        Field::new("weight", list_of(DataType::Float32), true),
    ])
});

/// See the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ApplyTfidfUdf {
    signature: Signature,
}

impl Default for ApplyTfidfUdf {
    fn default() -> Self {
        Self::new()
    }
}

impl ApplyTfidfUdf {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

static DOCUMENTATION: std::sync::LazyLock<datafusion::logical_expr::Documentation> =
    std::sync::LazyLock::new(|| {
        crate::docs::scalar(
            "TF-Transform's tfidf mapper: one entry per distinct term of a document, ids ascending, with weight = (term count / terms in the document) x idf.",
            "apply_tfidf(x, idf)",
            &[
            ("x", "A list of term ids."),
            ("idf", "The frozen inverse document frequency of every id, a literal list."),
            ],
        )
    });

impl ScalarUDFImpl for ApplyTfidfUdf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(&DOCUMENTATION)
    }

    fn name(&self) -> &str {
        "apply_tfidf"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(TFIDF_FIELDS.clone()))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        null_where_x_is_null(self, &args)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let idf = constant_list(&args.args[1], &DataType::Float64, "apply_tfidf: idf")?;
        let idf: &[f64] = idf.as_primitive::<Float64Type>().values();
        let x = args.args[0].to_array(args.number_rows)?;
        let x = match x.data_type() {
            DataType::List(_) | DataType::LargeList(_) | DataType::Null => {
                cast(&x, &list_of(DataType::Int64))?
            }
            other => return exec_err!("apply_tfidf: x must be a list of term ids, got {other}"),
        };
        let docs = x.as_list::<i32>();
        let mut index = ListBuilder::new(Int64Builder::new());
        let mut weight = ListBuilder::new(Float32Builder::new());
        let mut terms: Vec<i64> = Vec::new();
        for row in 0..docs.len() {
            if docs.is_null(row) {
                index.append(false);
                weight.append(false);
                continue;
            }
            terms.clear();
            let ids = docs.value(row);
            terms.extend(ids.as_primitive::<Int64Type>().iter().flatten());
            if let Some(bad) = terms.iter().find(|&&t| t < 0 || t as usize >= idf.len()) {
                return exec_err!(
                    "apply_tfidf: row {row}: term id {bad} is outside [0, {}) (the vocab_size \
                     given to tfidf must count every id, OOV buckets included)",
                    idf.len()
                );
            }
            terms.sort_unstable();
            let size = terms.len() as f64;
            let mut start = 0;
            while start < terms.len() {
                let term = terms[start];
                let end = start + terms[start..].partition_point(|&t| t == term);
                let tf = (end - start) as f64 / size;
                index.values().append_value(term);
                weight
                    .values()
                    .append_value((tf * idf[term as usize]) as f32);
                start = end;
            }
            index.append(true);
            weight.append(true);
        }
        let index = index.finish();
        let weight = weight.finish();
        let nulls = index.nulls().cloned();
        Ok(ColumnarValue::Array(Arc::new(StructArray::new(
            TFIDF_FIELDS.clone(),
            vec![Arc::new(index), Arc::new(weight)],
            nulls,
        ))))
    }
}
