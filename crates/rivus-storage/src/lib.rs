//! rivus-storage: every byte rivus keeps on disk goes through this crate.
//!
//! What it owns today:
//! - [`DataDirLock`]: the exclusive lock that keeps a second server off a data directory.
//! - [`ChecksummedFile`]: small files (the catalog snapshot) replaced atomically and checked on
//!   read: write a temporary file, fsync it, rename it over the old one, fsync the directory.
//! - [`RecordLog`]: an append-only log of checksummed records (the catalog's change log), each
//!   synced before it is acknowledged; recovery drops a torn tail and refuses other damage.
//!
//! What it does not do: interpret the bytes it stores. The engine decides what a catalog is;
//! this crate only guarantees that a reader sees either the old or the new file, whole, and that
//! a damaged file is reported as [`StorageError::Corrupt`] with its path, never silently reset.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod block_file;
mod checksummed_file;
pub mod codec;
mod error;
mod fsync;
mod lock;
mod record_log;
mod wal;

pub use block_file::{BlockFile, BlockFileWriter};
pub use checksummed_file::ChecksummedFile;
pub use error::{Result, StorageError};
pub use fsync::sync_dir;
pub use lock::DataDirLock;
pub use record_log::{RecordLog, Recovered};
pub use wal::{SyncPolicy, Wal};
