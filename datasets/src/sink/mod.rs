//! Output: a staged directory committed atomically, sharded TFRecord and
//! Parquet writers that hash what they write, and the run manifest.

mod buffered;
pub mod manifest;
mod parquet;
mod staging;
mod tfrecord;

pub use self::buffered::{
    BufferedShardWriter, FramedBuffer, RowChunker, ShardInput, ShardWorker, FLUSH_BYTES,
    PARQUET_CHUNK_ROWS,
};
pub use self::parquet::ParquetShardWriter;
pub use self::staging::{
    pid_alive, run_tag, RemoteStaging, StagedDir, StagedObjects, MANIFEST_NAME,
};
pub use self::tfrecord::TfRecordShardWriter;

use std::io::Write;

use sha2::{Digest, Sha256};

/// What output shards hold: TFRecord of serialized `tf.Example` (TFX's
/// layout) or Parquet of the input's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// TFRecord files of serialized tf.Example (TFX's layout).
    #[default]
    Tfrecord,
    /// Parquet files of the input columns.
    Parquet,
}

impl std::str::FromStr for OutputFormat {
    type Err = crate::DatasetError;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "tfrecord" | "tfrecords" => Ok(OutputFormat::Tfrecord),
            "parquet" => Ok(OutputFormat::Parquet),
            other => Err(crate::DatasetError::Invalid(format!(
                "unknown output format '{other}' (expected tfrecord or parquet)"
            ))),
        }
    }
}

/// A file written by a sink, as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WrittenFile {
    /// Path relative to the output root, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Lowercase hex sha256 of the bytes.
    pub sha256: String,
    /// Records (examples or rows) in the file.
    pub records: u64,
}

/// TFX's shard file name: `<prefix>-00000-of-00012<suffix>`.
pub fn shard_name(prefix: &str, shard: usize, shards: usize, suffix: &str) -> String {
    format!("{prefix}-{shard:05}-of-{shards:05}{suffix}")
}

/// A writer that counts and sha256-hashes what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Bytes written, hex sha256 and the inner writer.
    pub fn finish(self) -> (u64, String, W) {
        let digest = self.hasher.finalize();
        (self.bytes, hex(&digest), self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
