//! ONNX export of a frozen transform, for trainers and serving runtimes
//! (ONNX Runtime, Triton) that do not run weir.
//!
//! One graph input per raw column the SQL reads (shape `[N]`, named as the
//! column), one output per transformed feature (named as in the SQL). The
//! output expressions, type-coerced by DataFusion, map to standard ops:
//! arithmetic and comparisons to `Add`/`Sub`/`Mul`/`Div`/`Less`…, casts to
//! `Cast`, `CASE` and `coalesce` to `Where`, bucket lookups to
//! `GreaterOrEqual` + `ReduceSum` (NaN to the last bucket, as TFT), and
//! vocabulary lookups to `ai.onnx.ml` `LabelEncoder`.
//!
//! Two differences, also written into `transform.json`:
//! - ONNX tensors have no NULL. A missing value enters the graph as NaN
//!   (float inputs), `i64::MIN` (integer inputs) or the empty string (text
//!   inputs); `IS NULL`, `coalesce` and `CASE` test for those.
//! - Out-of-vocabulary hashing (FarmHash Fingerprint64) has no standard
//!   op: in the graph every OOV token gets the first OOV bucket (id =
//!   vocabulary size) when the vocabulary has OOV buckets, else the default
//!   value — except the empty string (a missing text value), whose bucket
//!   is computed at export and is exact. Callers that need the exact bucket hash the token before the
//!   graph (`weir_udfs::transform::hash_bucket`) or use weir's apply.
//!
//! Anything else (hash_strings, n-grams, list outputs, string casts of
//! numbers) is not exported: `transform.json` says why.

mod graph;
pub mod proto;

pub use graph::{export, ExportInput};
