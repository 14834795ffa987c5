//! An append-only log of checksummed records, each made durable before `append` returns.
//!
//! Frame layout (little-endian), documented in `docs/format.md`:
//!
//! | offset | size | field                                          |
//! |--------|------|------------------------------------------------|
//! | 0      | 4    | payload length `n` (u32)                       |
//! | 4      | 4    | CRC-32 (IEEE) of the 4 length bytes (u32)      |
//! | 8      | 4    | CRC-32 (IEEE) of the payload (u32)             |
//! | 12     | n    | payload                                        |
//!
//! Recovery ([`RecordLog::open`]) reads every record in order. A crash can only damage the end
//! of the file (the record being appended), so these are a torn tail, never acknowledged, and
//! cut off: an incomplete header, an all-zero remainder, an incomplete payload, or a last
//! payload that fails its checksum. Anything else (a header failing its own checksum, a payload
//! failing its checksum with more records after it) is corruption and fails with the file's
//! path, leaving the file untouched. The length has its own checksum so that a damaged length
//! can never make acknowledged records after it look like a torn tail.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::vfs::{os_fs, parent_dir, Vfs, VfsFile};
use crate::{Result, StorageError};

const FRAME_HEADER: usize = 12;

/// An open log, positioned at its end.
#[derive(Debug)]
pub struct RecordLog {
    path: PathBuf,
    file: Box<dyn VfsFile>,
    len_bytes: u64,
    /// An append failed: the file may end in a torn record, so nothing more may follow it.
    failed: bool,
}

/// What [`RecordLog::open`] found.
#[derive(Debug)]
pub struct Recovered {
    pub log: RecordLog,
    /// Every intact record, in append order.
    pub records: Vec<Vec<u8>>,
    /// Bytes cut off the end (a torn last record); 0 after a clean shutdown.
    pub torn_bytes: u64,
}

impl RecordLog {
    /// Opens the log at `path`, creating it if missing, and recovers its records. The log's
    /// name is made durable (its directory synced) and a torn tail is truncated and synced
    /// before returning.
    pub fn open(path: &Path) -> Result<Recovered> {
        RecordLog::open_in(&os_fs(), path)
    }

    /// [`open`](Self::open) on the given backend.
    pub fn open_in(vfs: &Arc<dyn Vfs>, path: &Path) -> Result<Recovered> {
        let file = vfs.open_append(path)?;
        // Always, not only when the file is new: an earlier open may have created it and then
        // failed before its name was durable.
        vfs.sync_dir(parent_dir(path))?;
        let bytes = file.read_all()?;
        let (records, valid_len) = parse(path, &bytes)?;
        let torn_bytes = bytes.len() as u64 - valid_len;
        if torn_bytes > 0 {
            tracing::warn!(path = %path.display(), torn_bytes, "dropping a torn record at the end of the log");
            file.set_len(valid_len)?;
            file.sync_all()?;
        }
        Ok(Recovered {
            log: RecordLog {
                path: path.to_path_buf(),
                file,
                len_bytes: valid_len,
                failed: false,
            },
            records,
            torn_bytes,
        })
    }

    /// Appends one record and syncs it to disk. When this returns `Ok` the record survives a
    /// crash or power loss. On error the log may end in a torn record, which the next
    /// [`open`](Self::open) removes; every later append fails too (the engine poisons its
    /// catalog as well).
    pub fn append(&mut self, payload: &[u8]) -> Result<()> {
        if self.failed {
            return Err(StorageError::io(
                &self.path,
                std::io::Error::other("an earlier append to this log failed; reopen it"),
            ));
        }
        let len = u32::try_from(payload.len()).map_err(|_| {
            StorageError::io(
                &self.path,
                std::io::Error::new(ErrorKind::InvalidInput, "record larger than 4 GiB"),
            )
        })?;
        let frame = frame(len, payload);
        let written = self
            .file
            .append(&frame)
            .and_then(|()| self.file.sync_data());
        if written.is_err() {
            self.failed = true;
        }
        written?;
        self.len_bytes += frame.len() as u64;
        Ok(())
    }

    /// The open file and its length, for a writer that manages syncing itself ([`crate::Wal`]).
    pub(crate) fn into_parts(self) -> (Box<dyn VfsFile>, u64) {
        (self.file, self.len_bytes)
    }

    /// Size of the log in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.len_bytes
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// One record's bytes on disk: header then payload.
pub(crate) fn frame(len: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(FRAME_HEADER + payload.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&crc32fast::hash(&len.to_le_bytes()).to_le_bytes());
    frame.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    frame.extend_from_slice(payload);
    frame
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_default(),
    )
}

/// Parses frames; returns the records and the length of the intact prefix.
fn parse(path: &Path, bytes: &[u8]) -> Result<(Vec<Vec<u8>>, u64)> {
    let mut records = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = bytes.get(pos..).unwrap_or_default();
        if rest.len() < FRAME_HEADER || rest.iter().all(|&b| b == 0) {
            break; // torn: incomplete header, or space allocated but never written
        }
        let len_bytes = rest.get(0..4).unwrap_or_default();
        if crc32fast::hash(len_bytes) != u32_at(rest, 4) {
            return Err(StorageError::corrupt(
                path,
                format!("record header at byte {pos} fails its checksum"),
            ));
        }
        let len = u32_at(rest, 0) as usize;
        let Some(payload) = rest.get(FRAME_HEADER..FRAME_HEADER + len) else {
            break; // torn payload
        };
        let end = pos + FRAME_HEADER + len;
        if crc32fast::hash(payload) != u32_at(rest, 8) {
            if end == bytes.len() {
                break; // the last record was being written when the process died
            }
            return Err(StorageError::corrupt(
                path,
                format!("record at byte {pos} fails its checksum and is followed by more records"),
            ));
        }
        records.push(payload.to_vec());
        pos = end;
    }
    Ok((records, pos as u64))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn write_records(path: &Path, records: &[&[u8]]) -> Vec<u8> {
        let mut log = RecordLog::open(path).unwrap().log;
        for r in records {
            log.append(r).unwrap();
        }
        drop(log);
        fs::read(path).unwrap()
    }

    #[test]
    fn records_round_trip_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let bytes = write_records(&path, &[b"one", b"", b"three"]);
        let rec = RecordLog::open(&path).unwrap();
        assert_eq!(
            rec.records,
            vec![b"one".to_vec(), vec![], b"three".to_vec()]
        );
        assert_eq!(rec.torn_bytes, 0);
        assert_eq!(rec.log.len_bytes(), bytes.len() as u64);
    }

    #[test]
    fn every_truncation_of_the_last_record_is_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let full = write_records(&path, &[b"first record", b"second record"]);
        let first_len = FRAME_HEADER + b"first record".len();
        for cut in first_len..full.len() {
            fs::write(&path, &full[..cut]).unwrap();
            let rec = RecordLog::open(&path).unwrap();
            assert_eq!(rec.records, vec![b"first record".to_vec()], "cut at {cut}");
            assert_eq!(rec.torn_bytes, (cut - first_len) as u64);
            // The tail is gone from disk, and appending continues cleanly.
            let mut log = rec.log;
            log.append(b"after").unwrap();
            drop(log);
            let again = RecordLog::open(&path).unwrap();
            assert_eq!(
                again.records,
                vec![b"first record".to_vec(), b"after".to_vec()]
            );
        }
    }

    #[test]
    fn payload_damage_in_the_last_record_is_torn_and_all_other_damage_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let full = write_records(&path, &[b"first record", b"second record"]);
        let first_len = FRAME_HEADER + b"first record".len();
        for i in 0..full.len() {
            let mut bad = full.clone();
            bad[i] ^= 0x40;
            fs::write(&path, &bad).unwrap();
            let result = RecordLog::open(&path);
            // Damage to the last payload or its checksum looks exactly like a torn write.
            if i >= first_len + 8 {
                let rec = result.unwrap();
                assert_eq!(rec.records, vec![b"first record".to_vec()], "flip at {i}");
            } else {
                match result {
                    Err(StorageError::Corrupt { path: p, .. }) => assert_eq!(p, path),
                    other => panic!("flip at {i}: expected corruption, got {other:?}"),
                }
                assert_eq!(
                    fs::read(&path).unwrap(),
                    bad,
                    "a corrupt log is left untouched"
                );
            }
        }
    }

    #[test]
    fn zero_filled_tail_is_torn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut bytes = write_records(&path, &[b"kept"]);
        bytes.extend_from_slice(&[0u8; 100]);
        fs::write(&path, &bytes).unwrap();
        let rec = RecordLog::open(&path).unwrap();
        assert_eq!(rec.records, vec![b"kept".to_vec()]);
        assert_eq!(rec.torn_bytes, 100);
    }
}
