//! Protocol buffer messages, defined with prost derive macros (no protoc).
//!
//! Field numbers follow TensorFlow's `example.proto` and `feature.proto`.
//! tensorflow-metadata's messages (statistics) are in `weir-tfmd`.

pub mod example;

pub use example::{BytesList, Example, Feature, FeatureKind, Features, FloatList, Int64List};
