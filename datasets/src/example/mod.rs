//! `tf.train.Example` and `tf.train.SequenceExample` encoding and decoding
//! between Arrow record batches and serialized protos.

mod decoder;
mod encoder;
mod kind;
mod payload;

pub use decoder::{list_to_scalar, ExampleDecoder, FeatureSchema};
pub use encoder::{EncodedBatch, ExampleEncoder};
pub use kind::{canonical_column, is_nested, ArrowFeatureType, FeatureType};
pub use payload::{PayloadFormat, SEQUENCE_COLUMN};
