//! Errors of the datasets crate: every variant names the file and, where it
//! applies, the row or byte offset at fault.

use std::path::Path;

/// Result alias for this crate.
pub type Result<T, E = DatasetError> = std::result::Result<T, E>;

/// An error reading, encoding or writing a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A problem with one row of a row-oriented input (CSV, JSON lines).
    #[error("{path}: row {row} (line {line}): {message}")]
    Row {
        /// The file.
        path: String,
        /// The data row (1-based, header excluded).
        row: u64,
        /// The line the row starts on.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A problem at a byte offset of a binary input (TFRecord, Avro, gzip).
    #[error("{path}: byte offset {offset}: {message}")]
    Offset {
        /// The file.
        path: String,
        /// Bytes from the start of the file (decompressed, for gzip).
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A problem with a whole file (bad header, unsupported type...).
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A bad option or argument.
    #[error("{0}")]
    Invalid(String),
    /// A broken invariant of weir's own (a bug, or data changed under a run).
    #[error("internal error: {0}")]
    Internal(String),
    /// An Arrow error with no better location.
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// A Parquet error with no better location.
    #[error("parquet: {0}")]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
}

impl DatasetError {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        DatasetError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    /// A whole-file problem on `path`.
    pub fn file(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        DatasetError::File {
            path: path.as_ref().display().to_string(),
            message: message.into(),
        }
    }

    /// A problem at `offset` bytes into `path`.
    pub fn offset(path: impl AsRef<Path>, offset: u64, message: impl Into<String>) -> Self {
        DatasetError::Offset {
            path: path.as_ref().display().to_string(),
            offset,
            message: message.into(),
        }
    }

    /// A problem with data row `row` (1-based, header excluded) starting at `line`.
    pub fn row(path: impl AsRef<Path>, row: u64, line: u64, message: impl Into<String>) -> Self {
        DatasetError::Row {
            path: path.as_ref().display().to_string(),
            row,
            line,
            message: message.into(),
        }
    }
}
