//! The ExampleGen manifest (`OUTPUT/manifest.json`): inputs with sizes and
//! fingerprints, options, the schema, per-split counts and every output file
//! with its size and sha256. It holds no timestamps, so reruns over the same
//! input write identical bytes.

use std::io::Read;
use std::path::Path;

use super::WrittenFile;
use crate::error::{DatasetError, Result};
use crate::input::InputFile;

/// One input file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputRecord {
    /// Path as resolved from the input argument.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// CRC32C of the content, hex (local files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    /// The store's entity tag (objects: the store already fingerprints
    /// them, so they are not read twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// One feature of the written examples.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchemaField {
    /// Feature name.
    pub name: String,
    /// tf.Example kind: INT, FLOAT, BYTES or TYPE_UNKNOWN.
    #[serde(rename = "type")]
    pub kind: String,
    /// Arrow type as read.
    pub arrow_type: String,
}

/// One split's output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SplitRecord {
    /// Split name.
    pub name: String,
    /// Hash buckets of this split (0 for splits taken from input folders).
    pub buckets: u32,
    /// Examples written.
    pub examples: u64,
    /// Files written.
    pub files: Vec<WrittenFile>,
}

/// The manifest of an ExampleGen run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExampleGenManifest {
    /// Version of weir that wrote it.
    pub weir_version: String,
    /// Always `examplegen`.
    pub component: String,
    /// Input format.
    pub input_format: String,
    /// The message of each output record (TFX's `payload_format`; absent
    /// in manifests written before it was recorded: tf.Example).
    #[serde(default)]
    pub payload_format: crate::example::PayloadFormat,
    /// Input files.
    pub inputs: Vec<InputRecord>,
    /// Options that shape the output.
    pub options: serde_json::Value,
    /// The features.
    pub schema: Vec<SchemaField>,
    /// The splits.
    pub splits: Vec<SplitRecord>,
    /// Examples in all splits.
    pub total_examples: u64,
}

impl ExampleGenManifest {
    /// Writes the manifest as pretty JSON to `dir/manifest.json`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(super::staging::MANIFEST_NAME);
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| DatasetError::Invalid(format!("manifest: {e}")))?;
        text.push('\n');
        std::fs::write(&path, text).map_err(|e| DatasetError::io(&path, e))?;
        let f = std::fs::File::open(&path).map_err(|e| DatasetError::io(&path, e))?;
        f.sync_all().map_err(|e| DatasetError::io(&path, e))
    }

    /// Reads `dir/manifest.json`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(super::staging::MANIFEST_NAME);
        let text = std::fs::read_to_string(&path).map_err(|e| DatasetError::io(&path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| DatasetError::file(&path, format!("bad manifest: {e}")))
    }
}

/// A fingerprint of an input: an object's ETag and size as listed, or the
/// CRC32C of a local file's content (hardware-accelerated; a fingerprint,
/// not a security hash). `read_crc32c` is that CRC when a pass that read
/// the whole file already took it (see `Source::read_crc32c`); otherwise
/// the file is read for it.
pub fn fingerprint(file: &InputFile, read_crc32c: Option<u32>) -> Result<InputRecord> {
    let path = file.path.as_path();
    if let Some(etag) = &file.etag {
        return Ok(InputRecord {
            path: path.display().to_string(),
            bytes: file.size,
            crc32c: None,
            etag: Some(etag.clone()),
        });
    }
    let (crc, bytes) = match read_crc32c {
        Some(crc) => (crc, file.size),
        None => crc32c_of_file(path)?,
    };
    Ok(InputRecord {
        path: path.display().to_string(),
        bytes,
        crc32c: Some(format!("{crc:08x}")),
        etag: None,
    })
}

/// The CRC32C of a file's content and its length in bytes, by reading it.
fn crc32c_of_file(path: &Path) -> Result<(u32, u64)> {
    let mut f = crate::store::read::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut crc = 0u32;
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| DatasetError::io(path, e))?;
        if n == 0 {
            return Ok((crc, bytes));
        }
        crc = crc32c::crc32c_append(crc, &buf[..n]);
        bytes += n as u64;
    }
}

/// The payload format an ExampleGen output records, for a later command
/// reading `input`: the output's folder, or one of its `Split-<name>/`
/// folders. `None` when `input` is no such local folder (then the command
/// reads tf.Examples unless told otherwise).
pub fn recorded_payload(input: &str) -> Option<crate::example::PayloadFormat> {
    let dir = Path::new(input);
    let candidates = [Some(dir), dir.parent()];
    candidates.into_iter().flatten().find_map(|d| {
        if !d.join(super::staging::MANIFEST_NAME).is_file() {
            return None;
        }
        let m = ExampleGenManifest::read(d).ok()?;
        (m.component == "examplegen").then_some(m.payload_format)
    })
}
