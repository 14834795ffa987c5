//! The storage backend: every file operation of this crate goes through a [`Vfs`].
//!
//! [`OsFs`] is the real file system and what the path-based constructors use. [`crate::CrashFs`]
//! is an in-memory backend for tests that knows which bytes and which directory entries an
//! fsync made durable, and can simulate power loss, torn writes and failing calls.
//!
//! The operations are the ones durable storage needs and no more: files are written by
//! appending (a log, or a new file written front to back), cut back with
//! [`set_len`](VfsFile::set_len) (torn-tail repair), synced, read whole or mapped whole; names
//! are created, renamed and removed, and made durable by syncing their directory
//! ([`Vfs::sync_dir`]). See `docs/storage-backends.md`.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{Result, StorageError};

/// A file system: the operations rivus's storage performs, on paths.
///
/// Object safe; shared as `Arc<dyn Vfs>`. Every error is a [`StorageError`] naming the path;
/// a missing file is [`StorageError::Io`] with [`std::io::ErrorKind::NotFound`] (see
/// [`StorageError::is_not_found`]).
///
/// Durability contract (what [`crate::CrashFs`] enforces and a real disk may do after power
/// loss): a file's bytes are durable once [`VfsFile::sync_data`] or [`VfsFile::sync_all`]
/// returns; a new name, a rename or a removal is durable once [`sync_dir`](Vfs::sync_dir) of
/// the directory holding the entry returns (both directories, for a rename across them).
pub trait Vfs: Send + Sync + fmt::Debug {
    /// Opens `path` for appending, creating it empty if missing; existing bytes are kept.
    fn open_append(&self, path: &Path) -> Result<Box<dyn VfsFile>>;
    /// Creates `path` empty for writing (truncating it if it exists).
    fn create(&self, path: &Path) -> Result<Box<dyn VfsFile>>;
    /// Opens `path` for appending (creating it if missing) and takes an exclusive advisory
    /// lock on it, held until the returned handle is dropped (or the process dies). `Ok(None)`
    /// when another holder has it; never waits.
    fn try_lock(&self, path: &Path) -> Result<Option<Box<dyn VfsFile>>>;
    /// The whole content of `path`.
    fn read(&self, path: &Path) -> Result<Vec<u8>>;
    /// The whole content of `path` as shared bytes: a read-only memory map for [`OsFs`].
    ///
    /// Only for files that are never changed once in place (written under a temporary name
    /// and renamed): the file must not be written to or truncated while the bytes are alive.
    fn map(&self, path: &Path) -> Result<FileBytes>;
    /// Length of `path` in bytes.
    fn file_len(&self, path: &Path) -> Result<u64>;
    /// Whether `path` names a file or directory.
    fn exists(&self, path: &Path) -> Result<bool>;
    /// The entries of directory `dir`, sorted by name.
    fn read_dir(&self, dir: &Path) -> Result<Vec<DirEntry>>;
    /// Renames `from` to `to`, replacing a file at `to`.
    fn rename(&self, from: &Path, to: &Path) -> Result<()>;
    /// Removes the file `path`.
    fn remove_file(&self, path: &Path) -> Result<()>;
    /// Removes the directory `path` and everything under it.
    fn remove_dir_all(&self, path: &Path) -> Result<()>;
    /// Creates directory `path` and any missing parents (see [`create_dir_all_durable`] for the
    /// version that also makes the new names durable).
    fn create_dir_all(&self, path: &Path) -> Result<()>;
    /// Makes the entries of directory `dir` (new names, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> Result<()>;
}

/// An open file: appended to, cut back, synced, read whole.
pub trait VfsFile: Send + Sync + fmt::Debug {
    /// The path it was opened with (for error messages).
    fn path(&self) -> &Path;
    /// Writes all of `bytes` at the end of the file. On error a prefix of them may have been
    /// written.
    fn append(&self, bytes: &[u8]) -> Result<()>;
    /// Cuts the file to `len` bytes (or extends it with zeros).
    fn set_len(&self, len: u64) -> Result<()>;
    /// Makes the file's bytes durable (`fdatasync`).
    fn sync_data(&self) -> Result<()>;
    /// Makes the file's bytes and metadata durable (`fsync`).
    fn sync_all(&self) -> Result<()>;
    /// The file's length in bytes.
    fn len_bytes(&self) -> Result<u64>;
    /// The file's whole content.
    fn read_all(&self) -> Result<Vec<u8>>;
}

/// One entry of [`Vfs::read_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's name within its directory.
    pub name: OsString,
    /// The directory's path joined with `name`.
    pub path: PathBuf,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// A whole file's bytes, shared and read-only: a memory map ([`OsFs`]) or a buffer.
#[derive(Clone)]
pub struct FileBytes(Arc<dyn AsRef<[u8]> + Send + Sync>);

impl FileBytes {
    /// Wraps any owned byte container (a `Vec<u8>`, a memory map, ...).
    pub fn new(bytes: impl AsRef<[u8]> + Send + Sync + 'static) -> FileBytes {
        FileBytes(Arc::new(bytes))
    }
}

impl Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

impl AsRef<[u8]> for FileBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileBytes({} bytes)", self.len())
    }
}

/// The real file system ([`std::fs`]; files mapped with `mmap`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsFs;

/// A shared [`OsFs`]: what every path-based constructor of this crate uses.
pub fn os_fs() -> Arc<dyn Vfs> {
    Arc::new(OsFs)
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates `dir` and its missing parents, and makes every new name durable by syncing the
/// directory that holds it, so a directory created before a crash is still there after it.
pub fn create_dir_all_durable(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(p) = at.filter(|p| !p.as_os_str().is_empty()) {
        if vfs.exists(p)? {
            break;
        }
        missing.push(p);
        at = p.parent();
    }
    if missing.is_empty() {
        return Ok(());
    }
    vfs.create_dir_all(dir)?;
    // Outermost first: a name is synced into a directory whose own name is already durable.
    for p in missing.iter().rev() {
        vfs.sync_dir(parent_dir(p))?;
    }
    Ok(())
}

#[derive(Debug)]
struct OsFile {
    path: PathBuf,
    file: File,
}

impl OsFile {
    fn io(&self, e: std::io::Error) -> StorageError {
        StorageError::io(&self.path, e)
    }
}

impl VfsFile for OsFile {
    fn path(&self) -> &Path {
        &self.path
    }
    fn append(&self, bytes: &[u8]) -> Result<()> {
        // Opened with O_APPEND: every write lands at the end.
        (&self.file).write_all(bytes).map_err(|e| self.io(e))
    }
    fn set_len(&self, len: u64) -> Result<()> {
        self.file.set_len(len).map_err(|e| self.io(e))
    }
    fn sync_data(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| self.io(e))
    }
    fn sync_all(&self) -> Result<()> {
        self.file.sync_all().map_err(|e| self.io(e))
    }
    fn len_bytes(&self) -> Result<u64> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| self.io(e))
    }
    fn read_all(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut f = &self.file;
        f.seek(SeekFrom::Start(0))
            .and_then(|_| f.read_to_end(&mut bytes))
            .map_err(|e| self.io(e))?;
        Ok(bytes)
    }
}

fn open_for_append(path: &Path) -> Result<OsFile> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| StorageError::io(path, e))?;
    Ok(OsFile {
        path: path.to_path_buf(),
        file,
    })
}

impl Vfs for OsFs {
    fn open_append(&self, path: &Path) -> Result<Box<dyn VfsFile>> {
        Ok(Box::new(open_for_append(path)?))
    }

    fn create(&self, path: &Path) -> Result<Box<dyn VfsFile>> {
        // O_APPEND cannot be combined with O_TRUNC, so truncate after opening.
        let file = open_for_append(path)?;
        file.set_len(0)?;
        Ok(Box::new(file))
    }

    fn try_lock(&self, path: &Path) -> Result<Option<Box<dyn VfsFile>>> {
        let file = open_for_append(path)?;
        match file.file.try_lock() {
            Ok(()) => Ok(Some(Box::new(file))),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(StorageError::io(path, e)),
        }
    }

    fn read(&self, path: &Path) -> Result<Vec<u8>> {
        fs::read(path).map_err(|e| StorageError::io(path, e))
    }

    fn map(&self, path: &Path) -> Result<FileBytes> {
        let file = File::open(path).map_err(|e| StorageError::io(path, e))?;
        let len = file
            .metadata()
            .map_err(|e| StorageError::io(path, e))?
            .len();
        if len == 0 {
            return Ok(FileBytes::new(Vec::new())); // mmap refuses empty files
        }
        // SAFETY: `Vfs::map` is only for files that are immutable once in place (block files
        // are written under a temporary name, fsynced and renamed, and never written again),
        // and the data directory is locked against other rivus processes, so the mapped bytes
        // never change while the map lives.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| StorageError::io(path, e))?;
        Ok(FileBytes::new(map))
    }

    fn file_len(&self, path: &Path) -> Result<u64> {
        fs::metadata(path)
            .map(|m| m.len())
            .map_err(|e| StorageError::io(path, e))
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        path.try_exists().map_err(|e| StorageError::io(path, e))
    }

    fn read_dir(&self, dir: &Path) -> Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))? {
            let entry = entry.map_err(|e| StorageError::io(dir, e))?;
            let is_dir = entry
                .file_type()
                .map_err(|e| StorageError::io(entry.path(), e))?
                .is_dir();
            out.push(DirEntry {
                name: entry.file_name(),
                path: entry.path(),
                is_dir,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        fs::rename(from, to).map_err(|e| StorageError::io(to, e))
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        fs::remove_file(path).map_err(|e| StorageError::io(path, e))
    }

    fn remove_dir_all(&self, path: &Path) -> Result<()> {
        fs::remove_dir_all(path).map_err(|e| StorageError::io(path, e))
    }

    fn create_dir_all(&self, path: &Path) -> Result<()> {
        fs::create_dir_all(path).map_err(|e| StorageError::io(path, e))
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        let handle = File::open(dir).map_err(|e| StorageError::io(dir, e))?;
        handle.sync_all().map_err(|e| StorageError::io(dir, e))
    }
}
