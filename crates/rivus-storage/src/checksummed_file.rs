//! Small files that are replaced whole, atomically, and verified on every read.
//!
//! Layout (all integers little-endian), documented in `docs/format.md`:
//!
//! | offset | size | field                                   |
//! |--------|------|-----------------------------------------|
//! | 0      | 8    | magic, chosen by the owner of the file   |
//! | 8      | 4    | format version (u32)                    |
//! | 12     | 8    | payload length in bytes (u64)           |
//! | 20     | 4    | CRC-32 (IEEE) of the payload (u32)      |
//! | 24     | n    | payload                                 |
//!
//! Durability: [`ChecksummedFile::write`] writes `<name>.tmp`, fsyncs it, renames it over
//! `<name>` and fsyncs the directory, so after a crash at any moment the file holds either the
//! old or the new payload, never a mix. A leftover `.tmp` is ignored by readers and overwritten
//! by the next write.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::vfs::{os_fs, parent_dir, Vfs};
use crate::{Result, StorageError};

const HEADER_LEN: usize = 24;

/// A named file holding one checksummed payload.
#[derive(Debug, Clone)]
pub struct ChecksummedFile {
    vfs: Arc<dyn Vfs>,
    path: PathBuf,
    magic: [u8; 8],
    version: u32,
}

impl ChecksummedFile {
    /// Describes the file at `path` with its owner's `magic` and current format `version`.
    pub fn new(path: impl Into<PathBuf>, magic: [u8; 8], version: u32) -> Self {
        ChecksummedFile::new_in(&os_fs(), path, magic, version)
    }

    /// [`new`](Self::new) on the given backend.
    pub fn new_in(
        vfs: &Arc<dyn Vfs>,
        path: impl Into<PathBuf>,
        magic: [u8; 8],
        version: u32,
    ) -> Self {
        ChecksummedFile {
            vfs: Arc::clone(vfs),
            path: path.into(),
            magic,
            version,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and verifies the payload. `Ok(None)` when the file does not exist.
    ///
    /// Anything else that is not exactly what [`write`](Self::write) produced (short file,
    /// other magic, newer version, wrong length, checksum mismatch) is
    /// [`StorageError::Corrupt`] naming the file.
    pub fn read(&self) -> Result<Option<Vec<u8>>> {
        let bytes = match self.vfs.read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        self.decode(&bytes).map(Some)
    }

    fn decode(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        let corrupt = |reason: String| StorageError::corrupt(&self.path, reason);
        let (header, payload) = bytes.split_at_checked(HEADER_LEN).ok_or_else(|| {
            corrupt(format!(
                "file is {} bytes, shorter than its header",
                bytes.len()
            ))
        })?;
        let field = |range: std::ops::Range<usize>| header.get(range).unwrap_or_default();
        if field(0..8) != self.magic {
            return Err(corrupt(format!(
                "wrong magic bytes (expected {:?})",
                String::from_utf8_lossy(&self.magic)
            )));
        }
        let version = u32::from_le_bytes(field(8..12).try_into().unwrap_or_default());
        if version != self.version {
            return Err(corrupt(format!(
                "format version {version} is not the supported version {}",
                self.version
            )));
        }
        let len = u64::from_le_bytes(field(12..20).try_into().unwrap_or_default());
        if len != payload.len() as u64 {
            return Err(corrupt(format!(
                "header says {len} payload bytes, file holds {}",
                payload.len()
            )));
        }
        let stored_crc = u32::from_le_bytes(field(20..24).try_into().unwrap_or_default());
        let crc = crc32fast::hash(payload);
        if crc != stored_crc {
            return Err(corrupt(format!(
                "checksum mismatch (stored {stored_crc:#010x}, computed {crc:#010x})"
            )));
        }
        Ok(payload.to_vec())
    }

    /// Replaces the file's payload atomically and durably (see the module docs).
    pub fn write(&self, payload: &[u8]) -> Result<()> {
        let tmp = self.tmp_path();
        let mut frame = Vec::with_capacity(HEADER_LEN + payload.len());
        frame.extend_from_slice(&self.magic);
        frame.extend_from_slice(&self.version.to_le_bytes());
        frame.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        frame.extend_from_slice(payload);
        let file = self.vfs.create(&tmp)?;
        file.append(&frame)?;
        file.sync_all()?;
        drop(file);
        self.vfs.rename(&tmp, &self.path)?;
        self.vfs.sync_dir(parent_dir(&self.path))
    }

    fn tmp_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        self.path.with_file_name(name)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    const MAGIC: [u8; 8] = *b"RVSTEST\0";

    fn file(dir: &Path) -> ChecksummedFile {
        ChecksummedFile::new(dir.join("thing"), MAGIC, 1)
    }

    #[test]
    fn missing_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(file(dir.path()).read().unwrap(), None);
    }

    #[test]
    fn write_then_read_round_trips_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path());
        f.write(b"first").unwrap();
        assert_eq!(f.read().unwrap().as_deref(), Some(&b"first"[..]));
        f.write(b"").unwrap();
        assert_eq!(f.read().unwrap().as_deref(), Some(&b""[..]));
        f.write(b"second payload").unwrap();
        assert_eq!(f.read().unwrap().as_deref(), Some(&b"second payload"[..]));
        assert!(!dir.path().join("thing.tmp").exists());
    }

    #[test]
    fn leftover_tmp_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path());
        f.write(b"good").unwrap();
        fs::write(dir.path().join("thing.tmp"), b"half-written garbage").unwrap();
        assert_eq!(f.read().unwrap().as_deref(), Some(&b"good"[..]));
        f.write(b"newer").unwrap();
        assert_eq!(f.read().unwrap().as_deref(), Some(&b"newer"[..]));
    }

    fn assert_corrupt(f: &ChecksummedFile, needle: &str) {
        match f.read() {
            Err(StorageError::Corrupt { path, reason }) => {
                assert_eq!(path, f.path());
                assert!(reason.contains(needle), "{reason:?} lacks {needle:?}");
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn every_single_byte_flip_and_every_truncation_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path());
        f.write(b"{\"catalog\":true}").unwrap();
        let good = fs::read(f.path()).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            fs::write(f.path(), &bad).unwrap();
            assert!(
                matches!(f.read(), Err(StorageError::Corrupt { .. })),
                "flip at {i}"
            );
        }
        for len in 0..good.len() {
            fs::write(f.path(), &good[..len]).unwrap();
            assert!(
                matches!(f.read(), Err(StorageError::Corrupt { .. })),
                "truncated to {len}"
            );
        }
    }

    #[test]
    fn corruption_reasons_are_specific() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path());
        fs::write(f.path(), b"short").unwrap();
        assert_corrupt(&f, "shorter than its header");
        fs::write(f.path(), [b'x'; 40]).unwrap();
        assert_corrupt(&f, "wrong magic");
        f.write(b"payload").unwrap();
        let newer = ChecksummedFile::new(f.path(), MAGIC, 2);
        assert_corrupt(&newer, "format version 1");
        let mut bytes = fs::read(f.path()).unwrap();
        bytes.push(0);
        fs::write(f.path(), &bytes).unwrap();
        assert_corrupt(&f, "header says 7 payload bytes");
        bytes.pop();
        *bytes.last_mut().unwrap() ^= 0xff;
        fs::write(f.path(), &bytes).unwrap();
        assert_corrupt(&f, "checksum mismatch");
    }
}
