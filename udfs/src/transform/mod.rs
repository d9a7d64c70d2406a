//! TF-Transform's analyzers and mappers as DataFusion functions: the
//! `vocabulary_counts` aggregate behind the vocabulary analyzers, the
//! `document_frequencies` aggregate behind `tfidf`, and the mappers
//! `apply_vocabulary`, `apply_buckets`, `apply_tfidf`, `hash_strings`,
//! `ngrams` and `bag_of_words` (row functions whose frozen analyzer results
//! are literal arguments, so a plan carrying them serializes as is).

mod apply_buckets;
mod apply_tfidf;
mod apply_vocabulary;
mod document_frequency;
mod hash_strings;
mod ngrams;
mod vocabulary;

pub use apply_buckets::ApplyBucketsUdf;
pub use apply_tfidf::{ApplyTfidfUdf, TFIDF_FIELDS};
pub use apply_vocabulary::{hash_bucket, ApplyVocabularyUdf};
pub use document_frequency::{DocumentFrequencyUdaf, DOCUMENT_FREQUENCY_FIELDS};
pub use hash_strings::HashStringsUdf;
pub use ngrams::NgramsUdf;
pub use vocabulary::{VocabularyUdaf, VOCABULARY_FIELDS};

/// The frozen list argument `arg` of a mapper as one array of type `to`;
/// `what` names it in the error when it is not a constant list.
pub(crate) fn constant_list(
    arg: &datafusion::logical_expr::ColumnarValue,
    to: &datafusion::arrow::datatypes::DataType,
    what: &str,
) -> datafusion::common::Result<datafusion::arrow::array::ArrayRef> {
    use datafusion::arrow::array::Array;
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::ColumnarValue;
    match arg {
        ColumnarValue::Scalar(ScalarValue::List(l)) if l.len() == 1 => {
            Ok(datafusion::arrow::compute::cast(&l.value(0), to)?)
        }
        _ => datafusion::common::exec_err!("{what} must be a constant list"),
    }
}

/// The result field of a mapper that is NULL exactly where its first
/// argument `x` is: nullable only when `x` is.
pub(crate) fn null_where_x_is_null(
    udf: &dyn datafusion::logical_expr::ScalarUDFImpl,
    args: &datafusion::logical_expr::ReturnFieldArgs,
) -> datafusion::common::Result<datafusion::arrow::datatypes::FieldRef> {
    let types: Vec<_> = args
        .arg_fields
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let nullable = args.arg_fields.first().is_none_or(|f| f.is_nullable());
    Ok(std::sync::Arc::new(
        datafusion::arrow::datatypes::Field::new(udf.name(), udf.return_type(&types)?, nullable),
    ))
}
