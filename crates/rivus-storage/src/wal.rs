//! The write-ahead log of a collection's data: [`RecordLog`] frames, appended by many writers
//! and made durable by group commit.
//!
//! A writer [`append`](Wal::append)s its record (one `write` to the OS, under a short lock) and
//! gets the log position after it; then it calls [`sync_to`](Wal::sync_to) with that position.
//! One `fdatasync` covers every record written before it started, so writers that arrive
//! while a sync runs share the next one. With [`SyncPolicy::Always`] (the default) an
//! acknowledged record survives power loss; with [`SyncPolicy::Never`] it survives a process
//! crash (`kill -9`: the OS has the bytes) but not a power cut.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::record_log::frame;
use crate::vfs::{os_fs, Vfs, VfsFile};
use crate::{RecordLog, Result, StorageError};

/// When appended records reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// `fdatasync` before acknowledging (group commit): survives power loss.
    #[default]
    Always,
    /// Written to the OS before acknowledging, synced only at checkpoints: survives a
    /// process crash, not a power cut.
    Never,
}

/// An open write-ahead log file.
///
/// After any failed append or sync the log refuses every later append and sync (it is
/// poisoned): a failed append may have left a torn record that nothing may follow, and after a
/// failed `fdatasync` the kernel may have dropped the unsynced bytes while a later sync reports
/// success. Reopening recovers what is intact.
#[derive(Debug)]
pub struct Wal {
    path: PathBuf,
    policy: SyncPolicy,
    /// The open file: appended under `writer`, synced under `sync_lock`, so a sync never
    /// blocks appends.
    file: Box<dyn VfsFile>,
    /// The bytes written to the file (appends are serialized here).
    writer: Mutex<u64>,
    /// Serializes syncs.
    sync_lock: Mutex<()>,
    /// Every byte before this is on disk.
    synced: AtomicU64,
    /// An append or sync failed.
    failed: AtomicBool,
}

impl Wal {
    /// Opens (or creates) the log, recovering its intact records (a torn tail is cut off;
    /// other damage fails with the file's path).
    pub fn open(path: &Path, policy: SyncPolicy) -> Result<(Wal, Vec<Vec<u8>>)> {
        Wal::open_in(&os_fs(), path, policy)
    }

    /// [`open`](Self::open) on the given backend.
    pub fn open_in(
        vfs: &Arc<dyn Vfs>,
        path: &Path,
        policy: SyncPolicy,
    ) -> Result<(Wal, Vec<Vec<u8>>)> {
        let recovered = RecordLog::open_in(vfs, path)?;
        let (file, len) = recovered.log.into_parts();
        Ok((
            Wal {
                path: path.to_path_buf(),
                policy,
                file,
                writer: Mutex::new(len),
                sync_lock: Mutex::new(()),
                synced: AtomicU64::new(len),
                failed: AtomicBool::new(false),
            },
            recovered.records,
        ))
    }

    fn check_usable(&self) -> Result<()> {
        if self.failed.load(Ordering::Acquire) {
            return Err(StorageError::io(
                &self.path,
                std::io::Error::other(
                    "an earlier write or sync of this log failed; it refuses further use",
                ),
            ));
        }
        Ok(())
    }

    fn note<T>(&self, result: Result<T>) -> Result<T> {
        if result.is_err() {
            self.failed.store(true, Ordering::Release);
        }
        result
    }

    /// Writes one record to the OS; returns the log position after it (pass it to
    /// [`sync_to`](Self::sync_to)). On error the file may end in a torn record, which
    /// recovery removes; the log refuses further use.
    pub fn append(&self, payload: &[u8]) -> Result<u64> {
        let len = u32::try_from(payload.len()).map_err(|_| {
            StorageError::io(
                &self.path,
                std::io::Error::new(ErrorKind::InvalidInput, "record larger than 4 GiB"),
            )
        })?;
        let bytes = frame(len, payload);
        let mut w = self.writer.lock().map_err(|_| poisoned(&self.path))?;
        self.check_usable()?;
        self.note(self.file.append(&bytes))?;
        *w += bytes.len() as u64;
        Ok(*w)
    }

    /// Returns once every byte before `pos` is durable per the policy.
    pub fn sync_to(&self, pos: u64) -> Result<()> {
        if self.synced.load(Ordering::Acquire) >= pos {
            return Ok(());
        }
        self.check_usable()?;
        if self.policy == SyncPolicy::Never {
            return Ok(());
        }
        let _one_at_a_time = self.sync_lock.lock().map_err(|_| poisoned(&self.path))?;
        if self.synced.load(Ordering::Acquire) >= pos {
            return Ok(()); // another writer's sync covered us
        }
        self.sync_written()
    }

    /// Syncs everything written before the call, then records it as synced.
    fn sync_written(&self) -> Result<()> {
        self.check_usable()?;
        let target = *self.writer.lock().map_err(|_| poisoned(&self.path))?;
        self.note(self.file.sync_data())?;
        self.synced.fetch_max(target, Ordering::AcqRel);
        Ok(())
    }

    /// Syncs everything written so far, whatever the policy.
    pub fn sync_all(&self) -> Result<()> {
        let _one_at_a_time = self.sync_lock.lock().map_err(|_| poisoned(&self.path))?;
        self.sync_written()
    }

    /// Bytes in the log.
    pub fn len_bytes(&self) -> u64 {
        self.writer.lock().map(|w| *w).unwrap_or(0)
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn poisoned(path: &Path) -> StorageError {
    StorageError::io(
        path,
        std::io::Error::other("an earlier write to this log panicked"),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn concurrent_appends_are_all_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (wal, records) = Wal::open(&path, SyncPolicy::Always).unwrap();
        assert!(records.is_empty());
        let wal = Arc::new(wal);
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                let wal = wal.clone();
                std::thread::spawn(move || {
                    for i in 0..50u8 {
                        let pos = wal.append(&[t, i]).unwrap();
                        wal.sync_to(pos).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(wal);
        let (_, records) = Wal::open(&path, SyncPolicy::Always).unwrap();
        assert_eq!(records.len(), 200);
        for t in 0..4u8 {
            let mine: Vec<u8> = records.iter().filter(|r| r[0] == t).map(|r| r[1]).collect();
            assert_eq!(mine, (0..50).collect::<Vec<_>>(), "per-writer order kept");
        }
    }

    #[test]
    fn a_torn_tail_is_dropped_byte_by_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (wal, _) = Wal::open(&path, SyncPolicy::Never).unwrap();
        let first = wal.append(b"first record").unwrap();
        let end = wal.append(b"second record").unwrap();
        wal.sync_all().unwrap();
        drop(wal);
        let full = std::fs::read(&path).unwrap();
        for cut in first..end {
            std::fs::write(&path, &full[..cut as usize]).unwrap();
            let (wal, records) = Wal::open(&path, SyncPolicy::Never).unwrap();
            assert_eq!(records, vec![b"first record".to_vec()], "cut at {cut}");
            assert_eq!(wal.len_bytes(), first);
        }
    }
}
