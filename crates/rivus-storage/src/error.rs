//! Storage errors. Every variant names the file it is about.

use std::io;
use std::path::PathBuf;

/// Result of a storage operation.
pub type Result<T> = std::result::Result<T, StorageError>;

/// What can go wrong with bytes on disk.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O call failed (our environment's fault: permissions, full disk, ...).
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Another process holds the data directory (the user started a second server).
    #[error(
        "data directory {path} is already in use by another rivus process{holder}; \
         stop it first or choose another --data-dir",
        holder = holder.as_deref().map(|h| format!(" ({h})")).unwrap_or_default()
    )]
    Locked {
        path: PathBuf,
        holder: Option<String>,
    },
    /// A file exists but its bytes are not what we wrote (disk damage, manual edits, a foreign
    /// file). Never repaired silently.
    #[error("file {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

impl StorageError {
    /// Wraps an `io::Error` with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            source,
        }
    }

    /// A corruption report for `path`.
    pub fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        StorageError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Whether this is an I/O error saying the file or directory does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            StorageError::Io { source, .. } => source.kind() == io::ErrorKind::NotFound,
            StorageError::Locked { .. } | StorageError::Corrupt { .. } => false,
        }
    }
}
