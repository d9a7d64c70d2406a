//! weir's data layer: input formats (CSV, Parquet, Avro, TFRecord, JSON
//! lines), the `tf.train.Example` codec, the TFRecord container, TFX's hash
//! splits (and the routing of rows to splits and shards), and the sinks that
//! write outputs atomically (with the shard buffering every writer shares).
//!
//! Everything here is synchronous and streaming: sources yield Arrow record
//! batches, encoders turn them into serialized examples, sinks write shards.

pub mod compression;
pub mod error;
pub mod example;
pub mod formats;
pub mod input;
pub mod proto;
pub mod route;
pub mod schema;
pub mod sink;
pub mod split;
pub mod store;
pub mod synth;
pub mod tfrecord;

pub use compression::Compression;
pub use error::{DatasetError, Result};
pub use input::{Format, InputFile};
pub use split::{SplitConfig, SplitSpec};
