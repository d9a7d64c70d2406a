//! Errors of reading TFMD files; every variant names the file.

/// What went wrong reading a schema.
#[derive(Debug, thiserror::Error)]
pub enum TfmdError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A schema that does not parse or makes no sense.
    #[error("{origin}: not a valid Schema: {problem}")]
    Schema {
        /// The schema file.
        origin: String,
        /// What is wrong, with line and column where the parser knows them.
        problem: String,
    },
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, TfmdError>;
