//! Errors of schema inference and validation.

/// What went wrong; every variant names the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A schema that cannot be read, does not parse or makes no sense.
    #[error(transparent)]
    Tfmd(#[from] weir_tfmd::TfmdError),
    /// A statistics file that does not decode or holds no dataset.
    #[error("{origin}: not usable statistics: {problem}")]
    Statistics {
        /// The statistics file.
        origin: String,
        /// What is wrong.
        problem: String,
    },
    /// Options that cannot work together.
    #[error("{0}")]
    Invalid(String),
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, ValidateError>;
