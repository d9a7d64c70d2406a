//! [`SourceSpec`]: everything needed to open an input again elsewhere (the
//! files with their sizes and tags, the format and the read options), so
//! a cluster task can reopen exactly the input the planner saw and read
//! its own partition of it.

use crate::error::Result;
use crate::formats::{ReadOptions, Source};
use crate::input::{Format, InputFile};

/// A serializable description of an input.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceSpec {
    /// The input files, sorted by path.
    pub files: Vec<InputFile>,
    /// Their format.
    pub format: Format,
    /// How they are read.
    pub options: ReadOptions,
}

impl SourceSpec {
    /// A spec of `files` of `format` read with `options`.
    pub fn new(files: Vec<InputFile>, format: Format, options: ReadOptions) -> Self {
        Self {
            files,
            format,
            options,
        }
    }

    /// Opens the input (schema inference happens here).
    pub fn open(&self) -> Result<Source> {
        Source::open(self.files.clone(), self.format, &self.options)
    }

    /// The spec as JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a source spec always serializes")
    }

    /// A spec from [`SourceSpec::to_json`]'s bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| crate::error::DatasetError::Invalid(format!("bad source spec: {e}")))
    }
}
