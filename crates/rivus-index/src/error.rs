//! The crate's one error type. Variants carry the values a caller needs to build a Milvus
//! status (the engine maps them; this crate knows nothing about status codes).

/// Why an index operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// A query or source vector has the wrong number of dimensions (the caller's fault).
    #[error("vector dimension mismatch: expected {expected}, got {got}")]
    DimensionMismatch {
        /// The index's (or source's) dimension.
        expected: usize,
        /// The offending length.
        got: usize,
    },
    /// A build or search parameter is out of range (the caller's fault).
    #[error("invalid parameter {name}={value}: {reason}")]
    InvalidParameter {
        /// Milvus's name for the parameter (`M`, `efConstruction`, `ef`, ...).
        name: &'static str,
        /// The rejected value, as given.
        value: String,
        /// What the accepted range is.
        reason: &'static str,
    },
    /// The vector source handed to a search holds fewer rows than the index covers (ours:
    /// the engine paired an index with the wrong segment).
    #[error("vector source has {got} rows, the index covers {expected}")]
    SourceTooShort {
        /// Rows the index was built over.
        expected: usize,
        /// Rows the source has.
        got: usize,
    },
    /// More rows or links than the serialized format can address (u32 row offsets).
    #[error("{what} too large for the index format: {count}")]
    TooLarge {
        /// What overflowed (`rows`, `links`).
        what: &'static str,
        /// How many there were.
        count: usize,
    },
    /// Bytes handed to a loader are not a valid index (corruption, or not an index at all).
    #[error("corrupt index: {reason}")]
    Corrupt {
        /// What check failed.
        reason: String,
    },
    /// The bytes are an index in a format version this build does not read.
    #[error("unsupported index format version {found} (this build reads {supported})")]
    UnsupportedVersion {
        /// The version in the header.
        found: u32,
        /// The version this build writes and reads.
        supported: u32,
    },
    /// The writer given to a serializer failed.
    #[error("writing index: {0}")]
    Io(#[from] std::io::Error),
}

impl IndexError {
    /// A [`IndexError::Corrupt`] with `reason`.
    pub fn corrupt(reason: impl Into<String>) -> Self {
        IndexError::Corrupt {
            reason: reason.into(),
        }
    }

    /// An [`IndexError::InvalidParameter`].
    pub fn invalid(name: &'static str, value: impl ToString, reason: &'static str) -> Self {
        IndexError::InvalidParameter {
            name,
            value: value.to_string(),
            reason,
        }
    }
}

/// This crate's result.
pub type Result<T> = std::result::Result<T, IndexError>;
