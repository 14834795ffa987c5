//! rivus-storage: every byte rivus keeps on disk goes through this crate.
//!
//! What it owns today:
//! - [`DataDirLock`]: the exclusive lock that keeps a second server off a data directory.
//! - [`ChecksummedFile`]: small files (the catalog) replaced atomically and checked on read:
//!   write a temporary file, fsync it, rename it over the old one, fsync the directory.
//!
//! What it does not do: interpret the bytes it stores. The engine decides what a catalog is;
//! this crate only guarantees that a reader sees either the old or the new file, whole, and that
//! a damaged file is reported as [`StorageError::Corrupt`] with its path, never silently reset.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod checksummed_file;
mod error;
mod fsync;
mod lock;

pub use checksummed_file::ChecksummedFile;
pub use error::{Result, StorageError};
pub use fsync::sync_dir;
pub use lock::DataDirLock;
