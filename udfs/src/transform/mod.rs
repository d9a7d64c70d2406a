//! TF-Transform's analyzers and mappers as DataFusion functions: the
//! `vocabulary` analyzer (a full-pass aggregate) and the `apply_vocabulary`
//! and `apply_buckets` mappers (row functions whose frozen analyzer results
//! are literal arguments, so a plan carrying them serializes as is).

mod apply_buckets;
mod apply_vocabulary;
mod vocabulary;

pub use apply_buckets::ApplyBucketsUdf;
pub use apply_vocabulary::{hash_bucket, ApplyVocabularyUdf};
pub use vocabulary::{VocabularyUdaf, VOCABULARY_FIELDS};
