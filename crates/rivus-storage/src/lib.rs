//! rivus-storage: every byte rivus keeps on disk goes through this crate.
//!
//! What it owns today:
//! - [`DataDirLock`]: the exclusive lock that keeps a second server off a data directory.
//! - [`ChecksummedFile`]: small files (the catalog snapshot) replaced atomically and checked on
//!   read: write a temporary file, fsync it, rename it over the old one, fsync the directory.
//! - [`RecordLog`]: an append-only log of checksummed records (the catalog's change log), each
//!   synced before it is acknowledged; recovery drops a torn tail and refuses other damage.
//! - [`Wal`]: the collections' write-ahead log (record-log frames, group commit).
//! - [`BlockFile`]: immutable files of named, checksummed blocks (segments), mapped on open.
//!
//! Every file operation goes through a backend, a [`Vfs`] shared as `Arc<dyn Vfs>`:
//! - [`OsFs`], the real file system, used by every path-based constructor
//!   ([`Wal::open`], [`BlockFile::open`], [`ChecksummedFile::new`], [`sync_dir`], ...);
//! - [`CrashFs`], in memory, for tests: it knows which bytes and names an fsync made durable,
//!   simulates power loss ([`CrashFs::crash`]), torn writes ([`CrashFs::crash_torn`]) and
//!   `kill -9` ([`CrashFs::process_crash`]), and fails chosen calls ([`CrashFs::fail_nth`],
//!   [`CrashFs::power_off_after`]).
//!
//! Each type has a constructor taking the backend: [`Wal::open_in`], [`RecordLog::open_in`],
//! [`ChecksummedFile::new_in`], [`BlockFile::open_in`], [`BlockFileWriter::create_in`],
//! [`DataDirLock::acquire_in`], [`sync_dir_in`]. See `docs/storage-backends.md`.
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
mod crash_fs;
mod error;
mod fsync;
mod lock;
mod record_log;
mod vfs;
mod wal;

pub use block_file::{f32s_in_place, BlockFile, BlockFileWriter, SharedBlock};
pub use checksummed_file::ChecksummedFile;
pub use crash_fs::{CrashFs, FsOp};
pub use error::{Result, StorageError};
pub use fsync::{sync_dir, sync_dir_in};
pub use lock::DataDirLock;
pub use record_log::{RecordLog, Recovered};
pub use vfs::{create_dir_all_durable, os_fs, DirEntry, FileBytes, OsFs, Vfs, VfsFile};
pub use wal::{SyncPolicy, Wal};
