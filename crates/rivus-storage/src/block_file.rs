//! Immutable files of named, checksummed blocks, opened by `mmap` ([`Vfs::map`]): a reader gets each block's
//! bytes in place and decodes only what it uses (segment files).
//!
//! Layout (little-endian; `docs/format.md`):
//!
//! ```text
//! "RVSBLK01"                       8-byte magic
//! block*                           each starting at a multiple of 64 bytes (zero padding)
//! footer                           u64 n, n x (u64 name length, name, u64 offset, u64 length,
//!                                  u32 CRC-32 of the block)
//! u64 footer offset, u64 footer length, u32 CRC-32 of the footer, "RVSBLK01"   (28 bytes)
//! ```
//!
//! Files are written to a temporary name, fsynced, renamed into place and the directory
//! fsynced, so a reader sees a whole file or none. `open` checks the footer and every
//! block's checksum (reading the bytes, not decoding them); damage is [`StorageError::Corrupt`]
//! naming the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::codec::{Reader, Writer};
use crate::vfs::{os_fs, parent_dir, FileBytes, Vfs, VfsFile};
use crate::{Result, StorageError};

const MAGIC: &[u8; 8] = b"RVSBLK01";
const ALIGN: u64 = 64;
const TRAILER: usize = 8 + 8 + 4 + 8;
/// Bytes buffered before they are handed to the file.
const WRITE_BUFFER: usize = 1 << 20;

#[derive(Debug, Clone)]
struct BlockRef {
    name: String,
    offset: u64,
    len: u64,
    crc: u32,
}

/// Writes a block file.
#[derive(Debug)]
pub struct BlockFileWriter {
    vfs: Arc<dyn Vfs>,
    path: PathBuf,
    tmp: PathBuf,
    file: Box<dyn VfsFile>,
    buf: Vec<u8>,
    pos: u64,
    blocks: Vec<BlockRef>,
}

impl BlockFileWriter {
    /// Starts writing the file that will appear at `path` when [`finish`](Self::finish)
    /// succeeds.
    pub fn create(path: &Path) -> Result<Self> {
        BlockFileWriter::create_in(&os_fs(), path)
    }

    /// [`create`](Self::create) on the given backend.
    pub fn create_in(vfs: &Arc<dyn Vfs>, path: &Path) -> Result<Self> {
        let tmp = path.with_extension("tmp");
        let file = vfs.create(&tmp)?;
        let mut buf = Vec::with_capacity(WRITE_BUFFER);
        buf.extend_from_slice(MAGIC);
        Ok(BlockFileWriter {
            vfs: Arc::clone(vfs),
            path: path.to_path_buf(),
            tmp,
            file,
            buf,
            pos: MAGIC.len() as u64,
            blocks: Vec::new(),
        })
    }

    /// Buffers `bytes`, handing full buffers (and large writes) to the file.
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        if self.buf.len() + bytes.len() > WRITE_BUFFER {
            self.flush()?;
        }
        if bytes.len() >= WRITE_BUFFER {
            self.file.append(bytes)
        } else {
            self.buf.extend_from_slice(bytes);
            Ok(())
        }
    }

    fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.file.append(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn pad(&mut self) -> Result<()> {
        let pad = (ALIGN - self.pos % ALIGN) % ALIGN;
        self.write(
            [0u8; ALIGN as usize]
                .get(..pad as usize)
                .unwrap_or_default(),
        )?;
        self.pos += pad;
        Ok(())
    }

    /// Appends a block.
    pub fn add(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        self.pad()?;
        self.write(bytes)?;
        self.blocks.push(BlockRef {
            name: name.to_string(),
            offset: self.pos,
            len: bytes.len() as u64,
            crc: crc32fast::hash(bytes),
        });
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Writes the footer, syncs, and moves the file into place.
    pub fn finish(mut self) -> Result<()> {
        self.pad()?;
        let mut w = Writer::default();
        w.u64(self.blocks.len() as u64);
        for b in &self.blocks {
            w.str(&b.name);
            w.u64(b.offset);
            w.u64(b.len);
            w.u32(b.crc);
        }
        let footer = w.buf;
        let mut trailer = Vec::with_capacity(TRAILER);
        trailer.extend_from_slice(&self.pos.to_le_bytes());
        trailer.extend_from_slice(&(footer.len() as u64).to_le_bytes());
        trailer.extend_from_slice(&crc32fast::hash(&footer).to_le_bytes());
        trailer.extend_from_slice(MAGIC);
        self.write(&footer)?;
        self.write(&trailer)?;
        self.flush()?;
        self.file.sync_all()?;
        let BlockFileWriter {
            vfs,
            path,
            tmp,
            file,
            ..
        } = self;
        drop(file);
        vfs.rename(&tmp, &path)?;
        vfs.sync_dir(parent_dir(&path))
    }
}

/// An open block file, mapped into memory.
#[derive(Debug)]
pub struct BlockFile {
    path: PathBuf,
    bytes: FileBytes,
    blocks: Vec<BlockRef>,
}

impl BlockFile {
    /// Maps the file and checks its footer and every block's checksum.
    pub fn open(path: &Path) -> Result<BlockFile> {
        BlockFile::open_in(&os_fs(), path)
    }

    /// [`open`](Self::open) on the given backend.
    pub fn open_in(vfs: &Arc<dyn Vfs>, path: &Path) -> Result<BlockFile> {
        // Block files are immutable once renamed into place, as `Vfs::map` requires.
        let map = vfs.map(path)?;
        let bytes: &[u8] = &map;
        let corrupt = |why: &str| StorageError::corrupt(path, why.to_string());
        if bytes.len() < MAGIC.len() + TRAILER
            || !bytes.starts_with(MAGIC)
            || !bytes.ends_with(MAGIC)
        {
            return Err(corrupt("not a rivus block file (bad magic or too short)"));
        }
        let trailer = bytes
            .get(bytes.len() - TRAILER..)
            .ok_or_else(|| corrupt("no trailer"))?;
        let mut r = Reader::new(trailer);
        let footer_at = r.u64("footer offset").map_err(|_| corrupt("bad trailer"))? as usize;
        let footer_len = r.u64("footer length").map_err(|_| corrupt("bad trailer"))? as usize;
        let footer_crc = r.u32("footer crc").map_err(|_| corrupt("bad trailer"))?;
        let footer = footer_at
            .checked_add(footer_len)
            .filter(|end| *end <= bytes.len() - TRAILER)
            .and_then(|end| bytes.get(footer_at..end))
            .ok_or_else(|| corrupt("footer out of bounds"))?;
        if crc32fast::hash(footer) != footer_crc {
            return Err(corrupt("footer fails its checksum"));
        }
        let mut r = Reader::new(footer);
        let n = r
            .len(28, "block count")
            .map_err(|_| corrupt("bad footer"))?;
        let mut blocks = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r
                .str("block name")
                .map_err(|_| corrupt("bad footer"))?
                .to_string();
            let offset = r.u64("block offset").map_err(|_| corrupt("bad footer"))?;
            let len = r.u64("block length").map_err(|_| corrupt("bad footer"))?;
            let crc = r.u32("block crc").map_err(|_| corrupt("bad footer"))?;
            let block = offset
                .checked_add(len)
                .filter(|end| *end <= footer_at as u64)
                .and_then(|end| bytes.get(offset as usize..end as usize))
                .ok_or_else(|| corrupt(&format!("block {name} out of bounds")))?;
            if crc32fast::hash(block) != crc {
                return Err(corrupt(&format!("block {name} fails its checksum")));
            }
            blocks.push(BlockRef {
                name,
                offset,
                len,
                crc,
            });
        }
        Ok(BlockFile {
            path: path.to_path_buf(),
            bytes: map,
            blocks,
        })
    }

    /// The bytes of block `name`, in place.
    pub fn block(&self, name: &str) -> Option<&[u8]> {
        let b = self.blocks.iter().find(|b| b.name == name)?;
        self.bytes
            .get(b.offset as usize..(b.offset + b.len) as usize)
    }

    /// Block `name` as an owning handle on the mapping (for structures read in place, such
    /// as an index graph, that outlive the borrow of this file).
    pub fn shared_block(&self, name: &str) -> Option<SharedBlock> {
        let b = self.blocks.iter().find(|b| b.name == name)?;
        let start = b.offset as usize;
        let end = start.checked_add(b.len as usize)?;
        self.bytes.get(start..end)?;
        Some(SharedBlock {
            bytes: self.bytes.clone(),
            start,
            end,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// One block of a [`BlockFile`], keeping the mapping alive. Blocks start at multiples of 64
/// bytes in the file, so their words are aligned as in memory.
#[derive(Debug, Clone)]
pub struct SharedBlock {
    bytes: FileBytes,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for SharedBlock {
    fn as_ref(&self) -> &[u8] {
        self.bytes.get(self.start..self.end).unwrap_or_default()
    }
}

/// `bytes` as little-endian f32 values, in place: `None` when they are not 4-byte aligned,
/// not a whole number of values, or the machine is big-endian (the caller decodes instead).
pub fn f32s_in_place(bytes: &[u8]) -> Option<&[f32]> {
    if cfg!(target_endian = "big") || !bytes.len().is_multiple_of(4) {
        return None;
    }
    // SAFETY: every bit pattern is a valid f32, `align_to` only yields the middle part at
    // f32 alignment, and the slice keeps the borrow of `bytes`.
    #[allow(unsafe_code)]
    let (head, values, tail) = unsafe { bytes.align_to::<f32>() };
    (head.is_empty() && tail.is_empty()).then_some(values)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn blocks_round_trip_and_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.seg");
        let mut w = BlockFileWriter::create(&path).unwrap();
        w.add("a", b"hello").unwrap();
        w.add("b", &[7u8; 100]).unwrap();
        w.add("empty", b"").unwrap();
        w.finish().unwrap();
        let f = BlockFile::open(&path).unwrap();
        assert_eq!(f.block("a"), Some(&b"hello"[..]));
        assert_eq!(f.block("b").map(|b| b.len()), Some(100));
        assert_eq!(f.block("empty"), Some(&b""[..]));
        assert!(f.block("missing").is_none());
        drop(f);
        let good = fs::read(&path).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x55;
            fs::write(&path, &bad).unwrap();
            // Padding bytes are not covered; everything else is. Blocks: 64..69 and 128..228;
            // the footer starts at 256.
            let padding = (8..64).contains(&i) || (69..128).contains(&i) || (228..256).contains(&i);
            if !padding {
                assert!(BlockFile::open(&path).is_err(), "byte {i}");
            }
        }
        for cut in 0..good.len() {
            fs::write(&path, &good[..cut]).unwrap();
            assert!(BlockFile::open(&path).is_err(), "cut {cut}");
        }
    }
}
