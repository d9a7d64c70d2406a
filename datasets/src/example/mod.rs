//! `tf.train.Example` encoding and decoding between Arrow record batches and
//! serialized protos.

mod decoder;
mod encoder;
mod kind;

pub use decoder::{list_to_scalar, ExampleDecoder, FeatureSchema};
pub use encoder::{EncodedBatch, ExampleEncoder};
pub use kind::{canonical_column, ArrowFeatureType, FeatureType};
