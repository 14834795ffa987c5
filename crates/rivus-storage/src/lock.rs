//! The data-directory lock: one server per data directory.
//!
//! The lock is an OS advisory lock (`flock`) on `<data-dir>/LOCK`, so it is released by the
//! kernel when the process dies, even by `kill -9`: a crashed server never leaves a stale lock
//! behind. The file's content (the holder's pid) is only for the error message.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::vfs::{create_dir_all_durable, os_fs, Vfs, VfsFile};
use crate::{Result, StorageError};

/// File name of the lock inside the data directory.
pub const LOCK_FILE_NAME: &str = "LOCK";

/// Holds the exclusive lock on a data directory for as long as it lives.
#[derive(Debug)]
pub struct DataDirLock {
    path: PathBuf,
    /// The locked file; dropping it releases the lock.
    _file: Box<dyn VfsFile>,
}

impl DataDirLock {
    /// Creates `dir` if needed and takes its lock.
    ///
    /// Fails with [`StorageError::Locked`] at once (never waits) when another process holds it.
    pub fn acquire(dir: &Path) -> Result<DataDirLock> {
        DataDirLock::acquire_in(&os_fs(), dir)
    }

    /// [`acquire`](Self::acquire) on the given backend. The directory is created durably (its
    /// new names synced into their parents), so it survives a crash.
    pub fn acquire_in(vfs: &Arc<dyn Vfs>, dir: &Path) -> Result<DataDirLock> {
        create_dir_all_durable(vfs.as_ref(), dir)?;
        let path = dir.join(LOCK_FILE_NAME);
        let Some(file) = vfs.try_lock(&path)? else {
            let holder = vfs.read(&path).unwrap_or_default();
            let holder = String::from_utf8_lossy(&holder);
            let holder = holder.trim();
            return Err(StorageError::Locked {
                path: dir.to_path_buf(),
                holder: (!holder.is_empty()).then(|| holder.to_string()),
            });
        };
        let pid = format!("pid {}\n", std::process::id());
        file.set_len(0)?;
        file.append(pid.as_bytes())?;
        Ok(DataDirLock { path, _file: file })
    }

    /// Path of the lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_on_same_dir_is_refused_until_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err();
        match &err {
            StorageError::Locked { path, holder } => {
                assert_eq!(path, dir.path());
                assert_eq!(
                    holder.as_deref(),
                    Some(format!("pid {}", std::process::id()).as_str())
                );
            }
            StorageError::Io { .. } | StorageError::Corrupt { .. } => panic!("unexpected {err:?}"),
        }
        assert!(err.to_string().contains("already in use"));
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn creates_missing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b/c");
        let lock = DataDirLock::acquire(&nested).unwrap();
        assert!(lock.path().exists());
    }
}
