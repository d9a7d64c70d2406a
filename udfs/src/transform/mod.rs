//! TF-Transform's analyzers and mappers as DataFusion functions: the
//! `vocabulary_counts` aggregate behind the vocabulary analyzers, and the
//! mappers `apply_vocabulary`, `apply_buckets`, `hash_strings`, `ngrams`
//! and `bag_of_words` (row functions whose frozen analyzer results
//! are literal arguments, so a plan carrying them serializes as is).

mod apply_buckets;
mod apply_vocabulary;
mod hash_strings;
mod ngrams;
mod vocabulary;

pub use apply_buckets::ApplyBucketsUdf;
pub use apply_vocabulary::{hash_bucket, ApplyVocabularyUdf};
pub use hash_strings::HashStringsUdf;
pub use ngrams::NgramsUdf;
pub use vocabulary::{VocabularyUdaf, VOCABULARY_FIELDS};
