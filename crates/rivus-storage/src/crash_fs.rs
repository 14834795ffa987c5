//! [`CrashFs`]: an in-memory [`Vfs`] that simulates power loss, torn writes and failing calls.
//!
//! The model is the strict POSIX one that a careful storage engine must survive:
//!
//! - Every file has its **current** bytes (what reads see) and its **durable** bytes (what the
//!   last `sync_data`/`sync_all` of it made durable; empty for a new file).
//! - Every directory has its **current** entries and its **durable** entries (what the last
//!   [`Vfs::sync_dir`] of it made durable). Creating, renaming or removing a name changes only
//!   the current entries; a file's own sync does not make its name durable. Files are inodes:
//!   an entry names a file, and a rename moves the entry, not the bytes.
//! - [`CrashFs::crash`] is a power cut: it returns a new file system holding, from the root
//!   down through the durable entries only, each reachable file's durable bytes.
//!   [`CrashFs::crash_torn`] does the same but keeps, per file, a seeded random prefix of the
//!   bytes appended since its last sync (a disk that wrote part of them; bytes overwritten or
//!   cut off since the last sync come back as they were). [`CrashFs::process_crash`] is a
//!   `kill -9`: everything written stays (the OS has it), durable or not; only locks go away.
//!   Each of them powers this file system off: every later call on it fails, as a dead
//!   machine's would.
//! - Fault injection: [`CrashFs::fail_nth`] / [`CrashFs::fail_from`] make calls of one
//!   [`FsOp`] kind fail with an I/O error; [`CrashFs::power_off_after`] lets a given number of
//!   state-changing calls through, then fails everything (crash points). A failed append
//!   stores the first half of its bytes (a short write); other failed calls change nothing.
//!
//! A [`CrashFs`] is a cheap handle (`Clone` shares the same files); [`CrashFs::vfs`] gives the
//! `Arc<dyn Vfs>` the storage types take. Paths are resolved from the file system's root:
//! `/data/x`, `data/x` and `./data/x` are the same file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::fmt;
use std::io::{self, ErrorKind};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::vfs::{DirEntry, FileBytes, Vfs, VfsFile};
use crate::{Result, StorageError};

/// Kinds of calls, counted separately for fault injection ([`CrashFs::fail_nth`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FsOp {
    /// `open_append`, `create`, `try_lock`.
    Open,
    /// `VfsFile::append`.
    Write,
    /// `VfsFile::set_len`.
    SetLen,
    /// `VfsFile::sync_data` and `VfsFile::sync_all`.
    SyncFile,
    /// `Vfs::sync_dir`.
    SyncDir,
    /// `Vfs::rename`.
    Rename,
    /// `Vfs::remove_file` and `Vfs::remove_dir_all`.
    Remove,
    /// `Vfs::create_dir_all`.
    CreateDir,
    /// `Vfs::read`, `Vfs::map`, `VfsFile::read_all`.
    Read,
    /// `Vfs::exists`, `Vfs::file_len`, `Vfs::read_dir`, `VfsFile::len_bytes`.
    Stat,
}

const OP_KINDS: usize = 10;

impl FsOp {
    fn index(self) -> usize {
        match self {
            FsOp::Open => 0,
            FsOp::Write => 1,
            FsOp::SetLen => 2,
            FsOp::SyncFile => 3,
            FsOp::SyncDir => 4,
            FsOp::Rename => 5,
            FsOp::Remove => 6,
            FsOp::CreateDir => 7,
            FsOp::Read => 8,
            FsOp::Stat => 9,
        }
    }

    /// Whether the call can change what is on the disk (these are the crash points).
    fn mutates(self) -> bool {
        match self {
            FsOp::Open
            | FsOp::Write
            | FsOp::SetLen
            | FsOp::SyncFile
            | FsOp::SyncDir
            | FsOp::Rename
            | FsOp::Remove
            | FsOp::CreateDir => true,
            FsOp::Read | FsOp::Stat => false,
        }
    }
}

type NodeId = usize;
const ROOT: NodeId = 0;

#[derive(Debug, Clone, Default)]
struct FileNode {
    data: Vec<u8>,
    durable: Vec<u8>,
    /// `data[..clean] == durable[..clean]`: what a sync must copy starts here.
    clean: usize,
}

impl FileNode {
    fn durable(content: Vec<u8>) -> FileNode {
        FileNode {
            clean: content.len(),
            durable: content.clone(),
            data: content,
        }
    }

    fn sync(&mut self) {
        self.durable.truncate(self.clean);
        self.durable
            .extend_from_slice(self.data.get(self.clean..).unwrap_or_default());
        self.clean = self.data.len();
    }

    /// What survives a power cut: the durable bytes, plus (torn) a random prefix of the bytes
    /// appended after them since the last sync.
    fn after_power_loss(&self, rng: Option<&mut SplitMix64>) -> Vec<u8> {
        let mut out = self.durable.clone();
        if let Some(rng) = rng {
            if self.clean == self.durable.len() {
                let appended = self.data.get(self.clean..).unwrap_or_default();
                let keep = rng.below(appended.len() as u64 + 1) as usize;
                out.extend_from_slice(appended.get(..keep).unwrap_or_default());
            }
        }
        out
    }
}

#[derive(Debug, Clone, Default)]
struct DirNode {
    live: BTreeMap<OsString, NodeId>,
    durable: BTreeMap<OsString, NodeId>,
}

#[derive(Debug, Clone)]
enum Node {
    File(FileNode),
    Dir(DirNode),
}

#[derive(Debug, Clone, Copy)]
struct Fault {
    op: FsOp,
    /// Fails the call of kind `op` whose 1-based count is `at` ...
    at: u64,
    /// ... and, if sticky, every later one.
    sticky: bool,
}

/// Why a call fails.
enum Failure {
    PowerOff,
    Injected(FsOp, u64),
}

impl Failure {
    fn error(&self, path: &Path) -> StorageError {
        let msg = match self {
            Failure::PowerOff => "CrashFs: the power is off".to_string(),
            Failure::Injected(op, n) => format!("CrashFs: injected failure of {op:?} call #{n}"),
        };
        StorageError::io(path, io::Error::other(msg))
    }
}

#[derive(Debug, Clone)]
struct State {
    nodes: Vec<Node>,
    locks: HashSet<NodeId>,
    counts: [u64; OP_KINDS],
    mutations: u64,
    power_off_at: Option<u64>,
    powered_off: bool,
    faults: Vec<Fault>,
}

impl Default for State {
    fn default() -> Self {
        State {
            nodes: vec![Node::Dir(DirNode::default())],
            locks: HashSet::new(),
            counts: [0; OP_KINDS],
            mutations: 0,
            power_off_at: None,
            powered_off: false,
            faults: Vec::new(),
        }
    }
}

fn io_err(path: &Path, kind: ErrorKind, what: &str) -> StorageError {
    StorageError::io(path, io::Error::new(kind, what.to_string()))
}

fn not_found(path: &Path) -> StorageError {
    io_err(path, ErrorKind::NotFound, "no such file or directory")
}

fn components(path: &Path) -> Vec<OsString> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(name) => out.push(name.to_os_string()),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

impl State {
    /// Counts the call and decides whether it fails.
    fn begin(&mut self, op: FsOp) -> std::result::Result<(), Failure> {
        let count = self.counts.get_mut(op.index()).map(|c| {
            *c += 1;
            *c
        });
        let n = count.unwrap_or_default();
        if op.mutates() && !self.powered_off {
            if self.power_off_at.is_some_and(|at| self.mutations >= at) {
                self.powered_off = true;
            } else {
                self.mutations += 1;
            }
        }
        if self.powered_off {
            return Err(Failure::PowerOff);
        }
        let injected = self
            .faults
            .iter()
            .any(|f| f.op == op && (f.at == n || (f.sticky && n > f.at)));
        if injected {
            return Err(Failure::Injected(op, n));
        }
        Ok(())
    }

    fn check(&mut self, op: FsOp, path: &Path) -> Result<()> {
        self.begin(op).map_err(|f| f.error(path))
    }

    fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    fn dir(&self, id: NodeId) -> Option<&DirNode> {
        match self.nodes.get(id) {
            Some(Node::Dir(d)) => Some(d),
            Some(Node::File(_)) | None => None,
        }
    }

    fn dir_mut(&mut self, id: NodeId) -> Option<&mut DirNode> {
        match self.nodes.get_mut(id) {
            Some(Node::Dir(d)) => Some(d),
            Some(Node::File(_)) | None => None,
        }
    }

    fn file(&self, id: NodeId) -> Option<&FileNode> {
        match self.nodes.get(id) {
            Some(Node::File(f)) => Some(f),
            Some(Node::Dir(_)) | None => None,
        }
    }

    fn file_mut(&mut self, id: NodeId) -> Option<&mut FileNode> {
        match self.nodes.get_mut(id) {
            Some(Node::File(f)) => Some(f),
            Some(Node::Dir(_)) | None => None,
        }
    }

    fn add(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// The node at `path` (through current entries).
    fn lookup(&self, path: &Path) -> Option<NodeId> {
        let mut at = ROOT;
        for name in components(path) {
            at = *self.dir(at)?.live.get(&name)?;
        }
        Some(at)
    }

    /// The directory that holds `path`'s entry, and the entry's name.
    fn parent_of(&self, path: &Path) -> Result<(NodeId, OsString)> {
        let mut names = components(path);
        let name = names
            .pop()
            .ok_or_else(|| io_err(path, ErrorKind::InvalidInput, "the root has no parent"))?;
        let mut at = ROOT;
        for n in names {
            let dir = self
                .dir(at)
                .ok_or_else(|| io_err(path, ErrorKind::NotADirectory, "not a directory"))?;
            at = *dir.live.get(&n).ok_or_else(|| not_found(path))?;
        }
        if self.dir(at).is_none() {
            return Err(io_err(path, ErrorKind::NotADirectory, "not a directory"));
        }
        Ok((at, name))
    }

    fn file_at(&self, path: &Path) -> Result<&FileNode> {
        let id = self.lookup(path).ok_or_else(|| not_found(path))?;
        self.file(id)
            .ok_or_else(|| io_err(path, ErrorKind::IsADirectory, "is a directory"))
    }

    /// Opens (creating if missing) the file at `path`; `truncate` empties it.
    fn open(&mut self, path: &Path, truncate: bool) -> Result<NodeId> {
        let (dir, name) = self.parent_of(path)?;
        let existing = self.dir(dir).and_then(|d| d.live.get(&name)).copied();
        match existing {
            Some(id) => {
                let file = self
                    .file_mut(id)
                    .ok_or_else(|| io_err(path, ErrorKind::IsADirectory, "is a directory"))?;
                if truncate {
                    file.data.clear();
                    file.clean = 0;
                }
                Ok(id)
            }
            None => {
                let id = self.add(Node::File(FileNode::default()));
                if let Some(d) = self.dir_mut(dir) {
                    d.live.insert(name, id);
                }
                Ok(id)
            }
        }
    }

    fn create_dirs(&mut self, path: &Path) -> Result<()> {
        let mut at = ROOT;
        for name in components(path) {
            let next = self
                .dir(at)
                .ok_or_else(|| io_err(path, ErrorKind::NotADirectory, "not a directory"))?
                .live
                .get(&name)
                .copied();
            at = match next {
                Some(id) => id,
                None => {
                    let id = self.add(Node::Dir(DirNode::default()));
                    if let Some(d) = self.dir_mut(at) {
                        d.live.insert(name, id);
                    }
                    id
                }
            };
        }
        if self.dir(at).is_none() {
            return Err(io_err(
                path,
                ErrorKind::AlreadyExists,
                "a file is in the way",
            ));
        }
        Ok(())
    }

    fn rename(&mut self, from: &Path, to: &Path) -> Result<()> {
        let (src_dir, src_name) = self.parent_of(from)?;
        let id = *self
            .dir(src_dir)
            .and_then(|d| d.live.get(&src_name))
            .ok_or_else(|| not_found(from))?;
        let (dst_dir, dst_name) = self.parent_of(to)?;
        if src_dir == dst_dir && src_name == dst_name {
            return Ok(());
        }
        let moving_dir = self.dir(id).is_some();
        if moving_dir && components(to).starts_with(&components(from)) {
            return Err(io_err(
                to,
                ErrorKind::InvalidInput,
                "cannot move a directory into itself",
            ));
        }
        if let Some(&target) = self.dir(dst_dir).and_then(|d| d.live.get(&dst_name)) {
            if moving_dir || self.dir(target).is_some() {
                return Err(io_err(to, ErrorKind::AlreadyExists, "target exists"));
            }
        }
        if let Some(d) = self.dir_mut(src_dir) {
            d.live.remove(&src_name);
        }
        if let Some(d) = self.dir_mut(dst_dir) {
            d.live.insert(dst_name, id);
        }
        Ok(())
    }

    fn remove(&mut self, path: &Path, want_dir: bool) -> Result<()> {
        let (dir, name) = self.parent_of(path)?;
        let id = *self
            .dir(dir)
            .and_then(|d| d.live.get(&name))
            .ok_or_else(|| not_found(path))?;
        match (self.dir(id).is_some(), want_dir) {
            (true, false) => return Err(io_err(path, ErrorKind::IsADirectory, "is a directory")),
            (false, true) => return Err(io_err(path, ErrorKind::NotADirectory, "not a directory")),
            (true, true) | (false, false) => {}
        }
        if let Some(d) = self.dir_mut(dir) {
            d.live.remove(&name);
        }
        Ok(())
    }

    /// The disk after a power cut: durable entries from the root down, durable bytes (plus a
    /// torn prefix of unsynced appends when `rng` is given).
    fn after_power_loss(&self, mut rng: Option<SplitMix64>) -> State {
        let mut out = State::default();
        let mut copied: HashMap<NodeId, NodeId> = HashMap::from([(ROOT, ROOT)]);
        let mut todo = vec![ROOT];
        while let Some(old_dir) = todo.pop() {
            let Some(dir) = self.dir(old_dir) else {
                continue;
            };
            let Some(&new_dir) = copied.get(&old_dir) else {
                continue;
            };
            for (name, &old) in &dir.durable {
                let new = match copied.get(&old) {
                    Some(&new) => new,
                    None => {
                        let node = match self.node(old) {
                            Some(Node::File(f)) => {
                                Node::File(FileNode::durable(f.after_power_loss(rng.as_mut())))
                            }
                            Some(Node::Dir(_)) => {
                                todo.push(old);
                                Node::Dir(DirNode::default())
                            }
                            None => continue,
                        };
                        let new = out.add(node);
                        copied.insert(old, new);
                        new
                    }
                };
                if let Some(d) = out.dir_mut(new_dir) {
                    d.live.insert(name.clone(), new);
                    d.durable.insert(name.clone(), new);
                }
            }
        }
        out
    }

    fn sync_everything(&mut self) {
        for node in &mut self.nodes {
            match node {
                Node::File(f) => f.sync(),
                Node::Dir(d) => d.durable = d.live.clone(),
            }
        }
    }
}

/// A small deterministic random generator (SplitMix64), enough for choosing torn lengths.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// An in-memory, crash-simulating [`Vfs`] for tests (see the module docs for the model).
///
/// ```
/// use std::path::Path;
/// use rivus_storage::{CrashFs, SyncPolicy, Wal};
///
/// let fs = CrashFs::new();
/// let vfs = fs.vfs();
/// vfs.create_dir_all(Path::new("/data")).unwrap();
/// fs.sync_everything(); // the directory exists before the test starts
/// let (wal, _) = Wal::open_in(&vfs, Path::new("/data/wal"), SyncPolicy::Always).unwrap();
/// let pos = wal.append(b"acknowledged").unwrap();
/// wal.sync_to(pos).unwrap();
/// wal.append(b"never synced").unwrap();
///
/// let after = fs.crash().vfs(); // power cut
/// let (_, records) = Wal::open_in(&after, Path::new("/data/wal"), SyncPolicy::Always).unwrap();
/// assert_eq!(records, vec![b"acknowledged".to_vec()]);
/// ```
#[derive(Clone, Default)]
pub struct CrashFs {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for CrashFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        f.debug_struct("CrashFs")
            .field("nodes", &s.nodes.len())
            .field("mutations", &s.mutations)
            .field("powered_off", &s.powered_off)
            .finish()
    }
}

impl CrashFs {
    /// An empty file system (just the root directory, durable).
    pub fn new() -> CrashFs {
        CrashFs::default()
    }

    fn from_state(state: State) -> CrashFs {
        CrashFs {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This file system as the `Arc<dyn Vfs>` the storage types take (sharing its files).
    pub fn vfs(&self) -> Arc<dyn Vfs> {
        Arc::new(self.clone())
    }

    /// A power cut now: returns the file system as it comes back (durable names and bytes
    /// only), and powers this one off.
    pub fn crash(&self) -> CrashFs {
        let mut s = self.lock();
        s.powered_off = true;
        CrashFs::from_state(s.after_power_loss(None))
    }

    /// A power cut in which each file also keeps a random (by `seed`) prefix of the bytes
    /// appended since its last sync, as a disk that had written part of them. Powers this one
    /// off.
    pub fn crash_torn(&self, seed: u64) -> CrashFs {
        let mut s = self.lock();
        s.powered_off = true;
        CrashFs::from_state(s.after_power_loss(Some(SplitMix64(seed))))
    }

    /// The process dies (`kill -9`) but the machine does not: every written byte and name
    /// stays (durable or not, as before), locks are released. Powers this handle off.
    pub fn process_crash(&self) -> CrashFs {
        let mut s = self.lock();
        s.powered_off = true;
        CrashFs::from_state(State {
            nodes: s.nodes.clone(),
            ..State::default()
        })
    }

    /// From now on every call fails (the machine is dead).
    pub fn power_off(&self) {
        self.lock().powered_off = true;
    }

    /// Lets `n` more state-changing calls ([`FsOp`] other than `Read` and `Stat`) through,
    /// then powers off. Looping `n` over `0..=`[`mutations`](Self::mutations) of a clean run,
    /// then calling [`crash`](Self::crash), visits every crash point of that run.
    pub fn power_off_after(&self, n: u64) {
        let mut s = self.lock();
        s.power_off_at = Some(s.mutations.saturating_add(n));
    }

    /// Whether this file system is powered off.
    pub fn is_powered_off(&self) -> bool {
        self.lock().powered_off
    }

    /// The `n`th next call of kind `op` (1 = the next one) fails with an I/O error, once.
    pub fn fail_nth(&self, op: FsOp, n: u64) {
        let mut s = self.lock();
        let at = s.counts.get(op.index()).copied().unwrap_or_default() + n.max(1);
        s.faults.push(Fault {
            op,
            at,
            sticky: false,
        });
    }

    /// The `n`th next call of kind `op` and every later one fail (a broken disk).
    pub fn fail_from(&self, op: FsOp, n: u64) {
        let mut s = self.lock();
        let at = s.counts.get(op.index()).copied().unwrap_or_default() + n.max(1);
        s.faults.push(Fault {
            op,
            at,
            sticky: true,
        });
    }

    /// Removes every injected fault (not a power-off).
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// How many calls of kind `op` were made (failed ones included).
    pub fn op_count(&self, op: FsOp) -> u64 {
        self.lock()
            .counts
            .get(op.index())
            .copied()
            .unwrap_or_default()
    }

    /// How many state-changing calls went through (the crash points so far).
    pub fn mutations(&self) -> u64 {
        self.lock().mutations
    }

    /// Makes everything durable, as if every file and directory had been synced (test setup).
    pub fn sync_everything(&self) {
        self.lock().sync_everything();
    }

    /// Test setup and damage: puts `bytes` at `path` (creating parent directories), durably,
    /// without counting calls or honoring faults.
    pub fn write_durable(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let mut s = self.lock();
        if let Some(parent) = path.parent() {
            s.create_dirs(parent)?;
        }
        let id = s.open(path, true)?;
        if let Some(f) = s.file_mut(id) {
            *f = FileNode::durable(bytes.to_vec());
        }
        // Make the names on the way durable too.
        let mut at = ROOT;
        for name in components(path) {
            let Some(d) = s.dir_mut(at) else {
                break;
            };
            let Some(&next) = d.live.get(&name) else {
                break;
            };
            d.durable.insert(name, next);
            at = next;
        }
        Ok(())
    }

    /// The durable bytes of the file at `path` (what a power cut now would keep, untorn);
    /// `None` if no file is there now.
    pub fn durable_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.lock();
        let id = s.lookup(path)?;
        s.file(id).map(|f| f.durable.clone())
    }
}

impl Vfs for CrashFs {
    fn open_append(&self, path: &Path) -> Result<Box<dyn VfsFile>> {
        let mut s = self.lock();
        s.check(FsOp::Open, path)?;
        let node = s.open(path, false)?;
        Ok(Box::new(MemFile::new(self, node, path, false)))
    }

    fn create(&self, path: &Path) -> Result<Box<dyn VfsFile>> {
        let mut s = self.lock();
        s.check(FsOp::Open, path)?;
        let node = s.open(path, true)?;
        Ok(Box::new(MemFile::new(self, node, path, false)))
    }

    fn try_lock(&self, path: &Path) -> Result<Option<Box<dyn VfsFile>>> {
        let mut s = self.lock();
        s.check(FsOp::Open, path)?;
        let node = s.open(path, false)?;
        if !s.locks.insert(node) {
            return Ok(None);
        }
        Ok(Some(Box::new(MemFile::new(self, node, path, true))))
    }

    fn read(&self, path: &Path) -> Result<Vec<u8>> {
        let mut s = self.lock();
        s.check(FsOp::Read, path)?;
        Ok(s.file_at(path)?.data.clone())
    }

    fn map(&self, path: &Path) -> Result<FileBytes> {
        let mut s = self.lock();
        s.check(FsOp::Read, path)?;
        Ok(FileBytes::new(s.file_at(path)?.data.clone()))
    }

    fn file_len(&self, path: &Path) -> Result<u64> {
        let mut s = self.lock();
        s.check(FsOp::Stat, path)?;
        Ok(s.file_at(path)?.data.len() as u64)
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        let mut s = self.lock();
        s.check(FsOp::Stat, path)?;
        Ok(s.lookup(path).is_some())
    }

    fn read_dir(&self, dir: &Path) -> Result<Vec<DirEntry>> {
        let mut s = self.lock();
        s.check(FsOp::Stat, dir)?;
        let id = s.lookup(dir).ok_or_else(|| not_found(dir))?;
        let d = s
            .dir(id)
            .ok_or_else(|| io_err(dir, ErrorKind::NotADirectory, "not a directory"))?;
        Ok(d.live
            .iter()
            .map(|(name, &id)| DirEntry {
                name: name.clone(),
                path: dir.join(name),
                is_dir: s.dir(id).is_some(),
            })
            .collect())
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let mut s = self.lock();
        s.check(FsOp::Rename, to)?;
        s.rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        let mut s = self.lock();
        s.check(FsOp::Remove, path)?;
        s.remove(path, false)
    }

    fn remove_dir_all(&self, path: &Path) -> Result<()> {
        let mut s = self.lock();
        s.check(FsOp::Remove, path)?;
        s.remove(path, true)
    }

    fn create_dir_all(&self, path: &Path) -> Result<()> {
        let mut s = self.lock();
        s.check(FsOp::CreateDir, path)?;
        s.create_dirs(path)
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        let mut s = self.lock();
        s.check(FsOp::SyncDir, dir)?;
        let id = s.lookup(dir).ok_or_else(|| not_found(dir))?;
        let d = s
            .dir_mut(id)
            .ok_or_else(|| io_err(dir, ErrorKind::NotADirectory, "not a directory"))?;
        d.durable = d.live.clone();
        Ok(())
    }
}

/// An open [`CrashFs`] file: an inode, so it keeps working after its name is removed.
struct MemFile {
    fs: CrashFs,
    node: NodeId,
    path: PathBuf,
    /// Holds the [`Vfs::try_lock`] lock on `node`.
    locked: bool,
}

impl MemFile {
    fn new(fs: &CrashFs, node: NodeId, path: &Path, locked: bool) -> MemFile {
        MemFile {
            fs: fs.clone(),
            node,
            path: path.to_path_buf(),
            locked,
        }
    }

    /// Runs `f` on this file's node after counting the call as `op`.
    fn with<T>(&self, op: FsOp, f: impl FnOnce(&mut FileNode) -> T) -> Result<T> {
        let mut s = self.fs.lock();
        s.check(op, &self.path)?;
        let file = s
            .file_mut(self.node)
            .ok_or_else(|| io_err(&self.path, ErrorKind::NotFound, "inode vanished"))?;
        Ok(f(file))
    }
}

impl fmt::Debug for MemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemFile")
            .field("path", &self.path)
            .field("node", &self.node)
            .finish()
    }
}

impl Drop for MemFile {
    fn drop(&mut self) {
        if self.locked {
            self.fs.lock().locks.remove(&self.node);
        }
    }
}

impl VfsFile for MemFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn append(&self, bytes: &[u8]) -> Result<()> {
        let mut s = self.fs.lock();
        let failure = s.begin(FsOp::Write).err();
        let Some(file) = s.file_mut(self.node) else {
            return Err(io_err(&self.path, ErrorKind::NotFound, "inode vanished"));
        };
        match failure {
            None => {
                file.data.extend_from_slice(bytes);
                Ok(())
            }
            Some(Failure::PowerOff) => Err(Failure::PowerOff.error(&self.path)),
            Some(failure @ Failure::Injected(..)) => {
                // A short write: the first half made it.
                let half = bytes.get(..bytes.len() / 2).unwrap_or_default();
                file.data.extend_from_slice(half);
                Err(failure.error(&self.path))
            }
        }
    }

    fn set_len(&self, len: u64) -> Result<()> {
        let len = usize::try_from(len)
            .map_err(|_| io_err(&self.path, ErrorKind::InvalidInput, "length too large"))?;
        self.with(FsOp::SetLen, |f| {
            f.data.resize(len, 0);
            f.clean = f.clean.min(len);
        })
    }

    fn sync_data(&self) -> Result<()> {
        self.with(FsOp::SyncFile, FileNode::sync)
    }

    fn sync_all(&self) -> Result<()> {
        self.with(FsOp::SyncFile, FileNode::sync)
    }

    fn len_bytes(&self) -> Result<u64> {
        self.with(FsOp::Stat, |f| f.data.len() as u64)
    }

    fn read_all(&self) -> Result<Vec<u8>> {
        self.with(FsOp::Read, |f| f.data.clone())
    }
}
