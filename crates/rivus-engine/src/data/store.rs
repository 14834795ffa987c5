//! One collection's rows: the write-ahead log, the in-memory chunks readers scan, the primary
//! key index, and checkpoints to a segment file.
//!
//! Writes are sequenced by one mutex per collection: a write takes the next timestamp as its
//! sequence number, appends its record to the WAL (to the OS), applies it to memory, releases
//! the mutex, then waits for the group commit that makes its record durable; only then does
//! it advance `visible`, the sequence number readers see up to. A row is visible to a reader
//! with snapshot `s` when `insert_seq <= s < delete_seq`, so a write is never seen before it
//! is durable, and a reader never sees half a write.

// Primary keys are INT64 or VARCHAR: every other column type has none.
#![allow(clippy::wildcard_enum_match_arm)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use rivus_schema::{Bitmap, Column, ColumnBatch, ColumnData, ColumnSource};
use rivus_storage::codec::{
    decode_batch, decode_column, encode_batch, encode_column, DecodeError, Reader, Writer,
};
use rivus_storage::{
    create_dir_all_durable, BlockFile, BlockFileWriter, ChecksummedFile, StorageError, SyncPolicy,
    Vfs, Wal,
};

use super::sindex::ScalarChunkIndex;
use super::vindex::{index_path, parse_index_name, Built, ChunkIndex, IndexKind, IndexSpec};
use crate::{EngineError, Result};

/// A primary key value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pk {
    Int(i64),
    Str(String),
}

/// Delete sequence of a live row.
const ALIVE: u64 = u64::MAX;

/// Rows appended by one write (or loaded from a segment): immutable columns, plus per-row
/// insert and delete sequence numbers.
#[derive(Debug)]
pub struct Chunk {
    pub partition: i64,
    /// The sealed segment holding these rows, or `None` for rows only in memory and the WAL.
    pub segment: Option<u64>,
    pub batch: ChunkColumns,
    pub pks: Vec<Pk>,
    pub seqs: Vec<u64>,
    deleted: Vec<AtomicU64>,
    /// The newest insert sequence of its rows.
    max_seq: u64,
    /// How many of its rows are deleted.
    deletes: AtomicU64,
    /// Vector indexes built over this (sealed) chunk.
    pub indexes: RwLock<Vec<Built>>,
    /// Scalar indexes built over this (sealed) chunk.
    pub scalar: RwLock<Vec<Arc<ScalarChunkIndex>>>,
}

impl Chunk {
    pub(crate) fn new(partition: i64, batch: ChunkColumns, pks: Vec<Pk>, seqs: Vec<u64>) -> Chunk {
        let deleted = (0..pks.len()).map(|_| AtomicU64::new(ALIVE)).collect();
        let max_seq = seqs.iter().copied().max().unwrap_or(0);
        Chunk {
            partition,
            segment: None,
            batch,
            pks,
            seqs,
            deleted,
            max_seq,
            deletes: AtomicU64::new(0),
            indexes: RwLock::new(Vec::new()),
            scalar: RwLock::new(Vec::new()),
        }
    }

    /// Rows visible at snapshot `at`.
    pub fn visible(&self, at: u64) -> Bitmap {
        Bitmap::from_zip(&self.seqs, &self.deleted, |s, d| {
            *s <= at && d.load(Ordering::Relaxed) > at
        })
    }

    /// Whether row `row` is visible at snapshot `at`.
    pub fn visible_row(&self, row: usize, at: u64) -> bool {
        self.seqs.get(row).is_some_and(|s| *s <= at)
            && self
                .deleted
                .get(row)
                .is_some_and(|d| d.load(Ordering::Relaxed) > at)
    }

    /// Whether every row is visible at snapshot `at` (no filter needed).
    pub fn all_visible(&self, at: u64) -> bool {
        self.max_seq <= at && self.deletes.load(Ordering::Acquire) == 0
    }

    /// The built index `index_id`, if any.
    pub fn index(&self, index_id: i64) -> Option<Built> {
        self.indexes
            .read()
            .ok()?
            .iter()
            .find(|i| i.index_id == index_id)
            .cloned()
    }

    /// The scalar indexes built so far.
    pub fn scalar_indexes(&self) -> Vec<Arc<ScalarChunkIndex>> {
        self.scalar.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Whether index `index_id` (vector or scalar) is built over this chunk.
    pub fn has_index(&self, index_id: i64) -> bool {
        self.index(index_id).is_some()
            || self
                .scalar
                .read()
                .is_ok_and(|s| s.iter().any(|i| i.index_id == index_id))
    }

    pub fn len(&self) -> usize {
        self.pks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pks.is_empty()
    }

    fn delete(&self, row: usize, seq: u64) {
        if let Some(d) = self.deleted.get(row) {
            if d.fetch_min(seq, Ordering::Relaxed) == ALIVE {
                self.deletes.fetch_add(1, Ordering::Release);
            }
        }
    }

    /// The sequence number that deleted `row` (`ALIVE` if none).
    fn deleted_at(&self, row: usize) -> u64 {
        self.deleted
            .get(row)
            .map_or(ALIVE, |d| d.load(Ordering::Relaxed))
    }

    /// Rows deleted at or before `cut`: (row, delete sequence).
    fn deletes_upto(&self, cut: u64) -> Vec<(u32, u64)> {
        (0..self.len())
            .filter_map(|row| {
                let d = self.deleted_at(row);
                (d <= cut).then_some((row as u32, d))
            })
            .collect()
    }
}

/// What readers take: the chunks and the sequence number they may see up to.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub at: u64,
    pub chunks: Arc<Vec<Arc<Chunk>>>,
}

/// One logged change: rows deleted by key, then rows inserted (an upsert is both, applied
/// atomically).
#[derive(Debug)]
pub struct Mutation {
    pub seq: u64,
    pub deletes: Vec<Pk>,
    /// Rows per partition: (partition id, columns, keys).
    pub inserts: Vec<(i64, ColumnBatch, Vec<Pk>)>,
}

const RECORD_VERSION: u8 = 1;

fn encode_pks(pks: &[Pk], w: &mut Writer) {
    w.u64(pks.len() as u64);
    for pk in pks {
        match pk {
            Pk::Int(v) => {
                w.u8(0);
                w.i64(*v);
            }
            Pk::Str(s) => {
                w.u8(1);
                w.str(s);
            }
        }
    }
}

fn decode_pks(r: &mut Reader<'_>) -> std::result::Result<Vec<Pk>, DecodeError> {
    let n = r.len(9, "key count")?;
    let mut pks = Vec::with_capacity(n);
    for _ in 0..n {
        pks.push(match r.u8("key kind")? {
            0 => Pk::Int(r.i64("int key")?),
            _ => Pk::Str(r.str("string key")?.to_string()),
        });
    }
    Ok(pks)
}

impl Mutation {
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(RECORD_VERSION);
        w.u64(self.seq);
        encode_pks(&self.deletes, &mut w);
        w.u64(self.inserts.len() as u64);
        for (partition, batch, pks) in &self.inserts {
            w.i64(*partition);
            encode_pks(pks, &mut w);
            encode_batch(batch, &mut w);
        }
        w.buf
    }

    fn decode(bytes: &[u8]) -> std::result::Result<Mutation, DecodeError> {
        let mut r = Reader::new(bytes);
        if r.u8("record version")? != RECORD_VERSION {
            return Err(DecodeError {
                what: "record version",
                at: 0,
            });
        }
        let seq = r.u64("sequence")?;
        let deletes = decode_pks(&mut r)?;
        let n = r.len(8, "insert count")?;
        let mut inserts = Vec::with_capacity(n);
        for _ in 0..n {
            let partition = r.i64("partition")?;
            let pks = decode_pks(&mut r)?;
            let batch = decode_batch(&mut r)?;
            if batch.num_rows() != pks.len() {
                return Err(DecodeError {
                    what: "insert row count",
                    at: 0,
                });
            }
            inserts.push((partition, batch, pks));
        }
        if !r.is_done() {
            return Err(DecodeError {
                what: "record end",
                at: 0,
            });
        }
        Ok(Mutation {
            seq,
            deletes,
            inserts,
        })
    }
}

#[derive(Debug, Default)]
struct State {
    chunks: Arc<Vec<Arc<Chunk>>>,
    /// Newest row of each key: (chunk, row).
    index: HashMap<Pk, (u32, u32)>,
    /// Rows inserted minus rows deleted.
    live: u64,
    /// Chunks below this index are never replaced (a checkpoint is folding them).
    frozen: usize,
}

/// Small inserts are appended to the last in-memory chunk (copying it) up to this many rows,
/// so a stream of one-row inserts does not leave one chunk per row for queries to visit.
const MERGE_ROWS: usize = 4096;

impl State {
    fn apply(&mut self, m: Mutation) {
        for pk in &m.deletes {
            self.delete_key(pk, m.seq);
        }
        for (partition, batch, pks) in m.inserts {
            let added = pks.len();
            let (chunk_no, first_row, chunk) =
                match self.merge_into_last(partition, &batch, &pks, m.seq) {
                    Some(merged) => {
                        let chunk_no = self.chunks.len() - 1;
                        let first_row = merged.len() - added;
                        let merged = Arc::new(merged);
                        if let Some(last) = Arc::make_mut(&mut self.chunks).last_mut() {
                            *last = merged.clone();
                        }
                        (chunk_no, first_row, merged)
                    }
                    None => {
                        let seqs = vec![m.seq; added];
                        let chunk =
                            Arc::new(Chunk::new(partition, ChunkColumns::Owned(batch), pks, seqs));
                        Arc::make_mut(&mut self.chunks).push(chunk.clone());
                        (self.chunks.len() - 1, 0, chunk)
                    }
                };
            self.live += added as u64;
            for row in first_row..chunk.len() {
                let Some(pk) = chunk.pks.get(row) else {
                    continue;
                };
                // A key inserted again replaces its older row (also within one batch).
                self.delete_key(pk, m.seq);
                self.index.insert(pk.clone(), (chunk_no as u32, row as u32));
            }
        }
    }

    /// The last chunk with `batch` appended, when it is a small in-memory chunk of the same
    /// partition and fields that no checkpoint is folding. Readers keep the old chunk.
    fn merge_into_last(
        &self,
        partition: i64,
        batch: &ColumnBatch,
        pks: &[Pk],
        seq: u64,
    ) -> Option<Chunk> {
        let last = self.chunks.last()?;
        let ChunkColumns::Owned(old) = &last.batch else {
            return None;
        };
        if self.chunks.len() - 1 < self.frozen
            || last.partition != partition
            || last.len() + pks.len() > MERGE_ROWS
        {
            return None;
        }
        let mut names: Vec<&str> = old.columns().map(|(n, _)| n).collect();
        let mut new_names: Vec<&str> = batch.columns().map(|(n, _)| n).collect();
        names.sort_unstable();
        new_names.sort_unstable();
        if names != new_names {
            return None;
        }
        let old_rows: Vec<usize> = (0..last.len()).collect();
        let new_rows: Vec<usize> = (0..pks.len()).collect();
        let mut merged = ColumnBatch::new(last.len() + pks.len());
        for name in names {
            let (a, b) = (old.column(name)?, batch.column(name)?);
            merged.insert(name, Column::concat_rows(&[(a, &old_rows), (b, &new_rows)]));
        }
        let mut all_pks = last.pks.clone();
        all_pks.extend_from_slice(pks);
        let mut seqs = last.seqs.clone();
        seqs.extend(std::iter::repeat_n(seq, pks.len()));
        let chunk = Chunk::new(partition, ChunkColumns::Owned(merged), all_pks, seqs);
        for (row, d) in last.deleted.iter().enumerate() {
            chunk.delete(row, d.load(Ordering::Relaxed));
        }
        Some(chunk)
    }

    fn delete_key(&mut self, pk: &Pk, seq: u64) -> bool {
        let Some((c, r)) = self.index.remove(pk) else {
            return false;
        };
        if let Some(chunk) = self.chunks.get(c as usize) {
            chunk.delete(r as usize, seq);
        }
        self.live = self.live.saturating_sub(1);
        true
    }
}

/// One sealed segment as the manifest records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SegmentEntry {
    /// `segment-<id>.seg`.
    id: u64,
    /// Rows in the file.
    rows: u64,
    /// Rows of the file deleted as of the checkpoint that wrote the delete file.
    deleted: u64,
    /// `segment-<id>.del-<generation>` holds those deletes (none when `deleted` is 0).
    deletes: Option<u64>,
}

/// What the manifest records: the sealed segments (with their delete files), and the first
/// WAL file to replay after them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Manifest {
    generation: u64,
    segments: Vec<SegmentEntry>,
    wal: u64,
}

const MANIFEST_MAGIC: [u8; 8] = *b"RVSMANIF";
const MANIFEST_VERSION: u32 = 2;
const DELETES_MAGIC: [u8; 8] = *b"RVSDELET";

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u64(self.generation);
        w.u64(self.wal);
        w.u64(self.segments.len() as u64);
        for s in &self.segments {
            w.u64(s.id);
            w.u64(s.rows);
            w.u64(s.deleted);
            w.u64(s.deletes.unwrap_or(u64::MAX));
        }
        w.buf
    }

    fn decode(bytes: &[u8]) -> std::result::Result<Manifest, DecodeError> {
        let mut r = Reader::new(bytes);
        let generation = r.u64("generation")?;
        let wal = r.u64("wal")?;
        let n = r.len(32, "segment count")?;
        let mut segments = Vec::with_capacity(n);
        for _ in 0..n {
            let id = r.u64("segment id")?;
            let rows = r.u64("segment rows")?;
            let deleted = r.u64("deleted rows")?;
            let deletes = r.u64("delete file")?;
            segments.push(SegmentEntry {
                id,
                rows,
                deleted,
                deletes: (deletes != u64::MAX).then_some(deletes),
            });
        }
        if !r.is_done() {
            return Err(DecodeError {
                what: "manifest end",
                at: 0,
            });
        }
        Ok(Manifest {
            generation,
            segments,
            wal,
        })
    }

    /// The version 1 layout (one segment, no delete files): u64 generation, u64 segment
    /// (`u64::MAX` = none), u64 wal.
    fn decode_v1(bytes: &[u8]) -> std::result::Result<Manifest, DecodeError> {
        let mut r = Reader::new(bytes);
        let generation = r.u64("generation")?;
        let segment = r.u64("segment")?;
        let wal = r.u64("wal")?;
        let segments = (segment != u64::MAX)
            .then_some(SegmentEntry {
                id: segment,
                rows: 0,
                deleted: 0,
                deletes: None,
            })
            .into_iter()
            .collect();
        Ok(Manifest {
            generation,
            segments,
            wal,
        })
    }
}

/// Finds the newest row of each key: (chunk, row) per key that has one.
pub type Locate<'a> = &'a dyn Fn(&[Pk]) -> Vec<(u32, u32)>;

/// A collection's stored rows.
#[derive(Debug)]
pub struct CollectionStore {
    /// The file system the store's files live on.
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    policy: SyncPolicy,
    /// Serializes writes (sequence order = WAL order = apply order).
    writer: Mutex<WriterState>,
    state: RwLock<State>,
    visible: AtomicU64,
    poisoned: AtomicBool,
    /// Checkpoint once the WAL passes this many bytes.
    checkpoint_bytes: u64,
    /// A background checkpoint has been claimed (at most one queued at a time).
    checkpointing: AtomicBool,
    /// Serializes checkpoints (background ones and those `flush` runs).
    checkpoint_lock: Mutex<()>,
    /// The vector indexes the collection declares.
    specs: RwLock<Vec<IndexSpec>>,
    /// An index build pass is running; `index_again` asks it to run once more.
    indexing: AtomicBool,
    index_again: AtomicBool,
    /// The engine is shutting down: builds stop between chunks.
    pub stopping: AtomicBool,
}

#[derive(Debug)]
struct WriterState {
    wal: Arc<Wal>,
    /// The number of `wal` (`wal-<n>.log`): the manifest's, or a later one when a checkpoint
    /// switched to it (or recovery found it, left by a checkpoint that crashed before its
    /// MANIFEST was written).
    wal_no: u64,
    manifest: Manifest,
    /// The sequence number of the last record appended (to any WAL).
    last_seq: u64,
    /// Records were appended to the current WAL.
    dirty: bool,
}

fn wal_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("wal-{n:08}.log"))
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("segment-{n:08}.seg"))
}

fn deletes_file(vfs: &Arc<dyn Vfs>, dir: &Path, segment: u64, generation: u64) -> ChecksummedFile {
    ChecksummedFile::new_in(
        vfs,
        dir.join(format!("segment-{segment:08}.del-{generation:08}")),
        DELETES_MAGIC,
        1,
    )
}

fn manifest_file(vfs: &Arc<dyn Vfs>, dir: &Path) -> ChecksummedFile {
    ChecksummedFile::new_in(vfs, dir.join("MANIFEST"), MANIFEST_MAGIC, MANIFEST_VERSION)
}

fn corrupt(path: &Path, e: DecodeError) -> EngineError {
    EngineError::Storage(StorageError::corrupt(path, e.to_string()))
}

/// Reads the MANIFEST (either layout); `None` when the collection never checkpointed.
fn read_manifest(vfs: &Arc<dyn Vfs>, dir: &Path) -> Result<Option<Manifest>> {
    let mf = manifest_file(vfs, dir);
    match mf.read() {
        Ok(Some(bytes)) => Manifest::decode(&bytes)
            .map(Some)
            .map_err(|e| corrupt(mf.path(), e)),
        Ok(None) => Ok(None),
        Err(e) => {
            // A data directory written before version 2.
            let v1 = ChecksummedFile::new_in(vfs, mf.path(), MANIFEST_MAGIC, 1);
            match v1.read() {
                Ok(Some(bytes)) => Manifest::decode_v1(&bytes)
                    .map(Some)
                    .map_err(|e| corrupt(mf.path(), e)),
                Ok(None) | Err(_) => Err(e.into()),
            }
        }
    }
}

/// A delete file: u64 n, then n x (u32 chunk, u32 row, u64 delete sequence).
fn encode_deletes(deletes: &[(u32, u32, u64)]) -> Vec<u8> {
    let mut w = Writer::default();
    w.u64(deletes.len() as u64);
    for (chunk, row, seq) in deletes {
        w.u32(*chunk);
        w.u32(*row);
        w.u64(*seq);
    }
    w.buf
}

fn decode_deletes(bytes: &[u8]) -> std::result::Result<Vec<(u32, u32, u64)>, DecodeError> {
    let mut r = Reader::new(bytes);
    let n = r.len(16, "delete count")?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push((r.u32("chunk")?, r.u32("row")?, r.u64("delete sequence")?));
    }
    if !r.is_done() {
        return Err(DecodeError {
            what: "delete file end",
            at: 0,
        });
    }
    Ok(out)
}

/// Loads the sealed segment `entry`: its chunks, with its delete file applied.
fn load_segment(vfs: &Arc<dyn Vfs>, dir: &Path, entry: &SegmentEntry) -> Result<Vec<Chunk>> {
    let path = segment_path(dir, entry.id);
    if !vfs.exists(&path)? {
        return Err(EngineError::Storage(StorageError::corrupt(
            &path,
            "the manifest names this segment but it is missing",
        )));
    }
    let mut chunks = open_segment(vfs, &path)?;
    for c in &mut chunks {
        c.segment = Some(entry.id);
    }
    if let Some(generation) = entry.deletes {
        let file = deletes_file(vfs, dir, entry.id, generation);
        let bytes = file.read()?.ok_or_else(|| {
            EngineError::Storage(StorageError::corrupt(
                file.path(),
                "the manifest names this delete file but it is missing",
            ))
        })?;
        for (chunk, row, seq) in decode_deletes(&bytes).map_err(|e| corrupt(file.path(), e))? {
            let target = chunks
                .get(chunk as usize)
                .filter(|c| (row as usize) < c.len());
            let Some(target) = target else {
                return Err(EngineError::Storage(StorageError::corrupt(
                    file.path(),
                    format!("deletes row {row} of chunk {chunk}, which the segment lacks"),
                )));
            };
            target.delete(row as usize, seq);
        }
    }
    Ok(chunks)
}

/// Which files of `dir` the manifest still needs; everything else a store wrote is a
/// leftover of an interrupted checkpoint or an old generation.
fn remove_leftovers(vfs: &dyn Vfs, dir: &Path, manifest: &Manifest) {
    let Ok(entries) = vfs.read_dir(dir) else {
        return;
    };
    let keep_segment = |id: u64| manifest.segments.iter().any(|s| s.id == id);
    let keep_deletes = |id: u64, g: u64| {
        manifest
            .segments
            .iter()
            .any(|s| s.id == id && s.deletes == Some(g))
    };
    let mut removed = false;
    for e in entries {
        let Ok(name) = e.name.into_string() else {
            continue;
        };
        let parse = |t: &str| t.parse::<u64>().ok();
        let garbage = if name.ends_with(".tmp") {
            true
        } else if let Some((segment, _)) = parse_index_name(&name) {
            !keep_segment(segment)
        } else if let Some(rest) = name.strip_prefix("segment-") {
            match rest.split_once(".del-") {
                Some((id, g)) => match (parse(id), parse(g)) {
                    (Some(id), Some(g)) => !keep_deletes(id, g),
                    _ => false,
                },
                None => rest
                    .strip_suffix(".seg")
                    .and_then(parse)
                    .is_some_and(|id| !keep_segment(id)),
            }
        } else if let Some(rest) = name.strip_prefix("wal-") {
            rest.strip_suffix(".log")
                .and_then(parse)
                .is_some_and(|n| n < manifest.wal)
        } else {
            false
        };
        if garbage && vfs.remove_file(&e.path).is_ok() {
            removed = true;
        }
    }
    if removed {
        let _ = vfs.sync_dir(dir);
    }
}

impl CollectionStore {
    /// Opens (or creates) the store in `dir` on `vfs`: loads the sealed segments and their
    /// deletes, replays the WAL. A new directory is created durably (with its parents), so
    /// it cannot vanish in a power cut with the acknowledged writes of its WAL.
    pub fn open(
        vfs: &Arc<dyn Vfs>,
        dir: &Path,
        policy: SyncPolicy,
        checkpoint_bytes: u64,
    ) -> Result<CollectionStore> {
        create_dir_all_durable(&**vfs, dir)?;
        let manifest = read_manifest(vfs, dir)?.unwrap_or_default();
        remove_leftovers(&**vfs, dir, &manifest);
        let mut state = State::default();
        let mut max_seq = 0u64;
        for entry in &manifest.segments {
            for chunk in load_segment(vfs, dir, entry)? {
                max_seq = max_seq.max(chunk.seqs.iter().copied().max().unwrap_or(0));
                let chunk_no = state.chunks.len() as u32;
                for (row, pk) in chunk.pks.iter().enumerate() {
                    let d = chunk.deleted_at(row);
                    if d == ALIVE {
                        state.index.insert(pk.clone(), (chunk_no, row as u32));
                        state.live += 1;
                    } else {
                        max_seq = max_seq.max(d);
                    }
                }
                Arc::make_mut(&mut state.chunks).push(Arc::new(chunk));
            }
        }
        state.frozen = state.chunks.len();
        // Replay every WAL file from the manifest's on, in order; the last one stays open.
        let mut numbers: Vec<u64> = vfs
            .read_dir(dir)?
            .into_iter()
            .filter_map(|e| {
                let name = e.name.into_string().ok()?;
                name.strip_prefix("wal-")?
                    .strip_suffix(".log")?
                    .parse()
                    .ok()
            })
            .filter(|n| *n >= manifest.wal)
            .collect();
        numbers.sort_unstable();
        if numbers.is_empty() {
            numbers.push(manifest.wal);
        }
        let mut wal = None;
        let mut dirty = false;
        for n in &numbers {
            let path = wal_path(dir, *n);
            let (log, records) = Wal::open_in(vfs, &path, policy)?;
            if !records.is_empty() {
                // After a `kill -9` (or with `SyncPolicy::Never`) records may not be durable
                // yet; they are visible from now on, so they must survive a power cut.
                log.sync_all()?;
            }
            dirty |= !records.is_empty();
            for record in records {
                let m = Mutation::decode(&record).map_err(|e| corrupt(&path, e))?;
                max_seq = max_seq.max(m.seq);
                state.apply(m);
            }
            wal = Some((log, *n));
        }
        let (wal, wal_no) = match wal {
            Some(w) => w,
            None => (
                Wal::open_in(vfs, &wal_path(dir, manifest.wal), policy)?.0,
                manifest.wal,
            ),
        };
        Ok(CollectionStore {
            vfs: Arc::clone(vfs),
            dir: dir.to_path_buf(),
            policy,
            writer: Mutex::new(WriterState {
                wal: Arc::new(wal),
                wal_no,
                manifest,
                last_seq: max_seq,
                dirty,
            }),
            state: RwLock::new(state),
            visible: AtomicU64::new(max_seq),
            poisoned: AtomicBool::new(false),
            checkpoint_bytes,
            checkpointing: AtomicBool::new(false),
            checkpoint_lock: Mutex::new(()),
            specs: RwLock::new(Vec::new()),
            indexing: AtomicBool::new(false),
            index_again: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
        })
    }

    /// The latest sequence number recovered or written.
    pub fn last_seq(&self) -> u64 {
        self.visible.load(Ordering::Acquire)
    }

    /// What a reader sees now.
    pub fn snapshot(&self) -> Snapshot {
        let at = self.visible.load(Ordering::Acquire);
        let chunks = self
            .state
            .read()
            .map(|s| s.chunks.clone())
            .unwrap_or_default();
        Snapshot { at, chunks }
    }

    /// A snapshot and where the newest row of each of `pks` is, read together.
    pub fn snapshot_locating(&self, pks: &[Pk]) -> (Snapshot, Vec<(u32, u32)>) {
        let at = self.visible.load(Ordering::Acquire);
        let Ok(state) = self.state.read() else {
            return (
                Snapshot {
                    at,
                    chunks: Arc::default(),
                },
                Vec::new(),
            );
        };
        let located = pks
            .iter()
            .filter_map(|pk| state.index.get(pk).copied())
            .collect();
        (
            Snapshot {
                at,
                chunks: state.chunks.clone(),
            },
            located,
        )
    }

    /// Live rows (inserted and not deleted), including writes still being synced.
    pub fn live_rows(&self) -> u64 {
        if self.poisoned.load(Ordering::Acquire) {
            // A failed write was applied to memory but never becomes visible (nothing is
            // written after it): count what readers see instead.
            let snap = self.snapshot();
            return snap
                .chunks
                .iter()
                .map(|c| c.visible(snap.at).count_ones() as u64)
                .sum();
        }
        self.state.read().map(|s| s.live).unwrap_or(0)
    }

    /// Where the newest row of each key is, for keys that have one.
    pub fn locate(&self, pks: &[Pk]) -> Vec<(u32, u32)> {
        let Ok(state) = self.state.read() else {
            return Vec::new();
        };
        pks.iter()
            .filter_map(|pk| state.index.get(pk).copied())
            .collect()
    }

    /// Applies a write: `build` runs under the write lock with the write's sequence number and
    /// the current state's snapshot (to resolve filters or read old rows), and returns the
    /// mutation and a value for the caller. Returns after the mutation is durable and visible.
    pub fn write<T>(
        &self,
        next_seq: impl FnOnce() -> u64,
        build: impl FnOnce(
            u64,
            &Snapshot,
            &dyn Fn(&[Pk]) -> Vec<(u32, u32)>,
        ) -> Result<(Option<Mutation>, T)>,
    ) -> Result<(T, u64)> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(EngineError::Internal(
                "an earlier write to this collection failed; restart rivus after fixing the disk"
                    .into(),
            ));
        }
        let mut guard = self.writer.lock().map_err(|_| EngineError::Poisoned)?;
        let seq = next_seq();
        // Everything applied so far (synced or not) is what this write builds on.
        let current = Snapshot {
            at: u64::MAX - 1,
            chunks: self
                .state
                .read()
                .map(|s| s.chunks.clone())
                .map_err(|_| EngineError::Poisoned)?,
        };
        let locate = |pks: &[Pk]| self.locate(pks);
        let (mutation, out) = build(seq, &current, &locate)?;
        let Some(mutation) = mutation else {
            return Ok((out, self.last_seq()));
        };
        let record = mutation.encode();
        let wal = guard.wal.clone();
        let pos = match wal.append(&record) {
            Ok(pos) => pos,
            Err(e) => {
                self.poisoned.store(true, Ordering::Release);
                return Err(e.into());
            }
        };
        guard.last_seq = guard.last_seq.max(mutation.seq);
        guard.dirty = true;
        self.state
            .write()
            .map_err(|_| EngineError::Poisoned)?
            .apply(mutation);
        drop(guard);
        if let Err(e) = wal.sync_to(pos) {
            self.poisoned.store(true, Ordering::Release);
            return Err(e.into());
        }
        self.visible.fetch_max(seq, Ordering::AcqRel);
        Ok((out, seq))
    }

    /// Makes everything written durable (whatever the sync policy), then seals what the WAL
    /// holds into a segment, as Milvus's flush seals growing segments.
    pub fn flush(&self) -> Result<()> {
        let wal = self
            .writer
            .lock()
            .map_err(|_| EngineError::Poisoned)?
            .wal
            .clone();
        wal.sync_all()?;
        self.checkpoint()
    }

    /// Claims the right to run a background checkpoint when the WAL has grown past the
    /// threshold. The caller must then call [`checkpoint`](Self::checkpoint), which releases
    /// the claim.
    pub fn claim_checkpoint(&self) -> bool {
        let Ok(wal_bytes) = self.writer.lock().map(|w| w.wal.len_bytes()) else {
            return false;
        };
        wal_bytes > self.checkpoint_bytes && !self.checkpointing.swap(true, Ordering::AcqRel)
    }

    /// Seals the rows written since the last checkpoint into a new segment (merging small
    /// segments into it, and rewriting segments that are mostly deleted), records the deletes
    /// of the other segments in delete files, points the MANIFEST at all of it and a new WAL,
    /// and removes the files no longer named. Writers wait only while the WAL is switched and
    /// while memory is swapped to the new segment; readers never wait.
    pub fn checkpoint(&self) -> Result<()> {
        let lock = self
            .checkpoint_lock
            .lock()
            .map_err(|_| EngineError::Poisoned);
        let result = lock.and_then(|_held| self.checkpoint_inner());
        self.checkpointing.store(false, Ordering::Release);
        if result.is_err() {
            // A half-done checkpoint leaves consistent files (see docs/format.md) but this
            // process's view may be behind them: stop writing until restart.
            self.poisoned.store(true, Ordering::Release);
        }
        result
    }

    fn checkpoint_inner(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(EngineError::Internal(
                "an earlier write to this collection failed; restart rivus after fixing the disk"
                    .into(),
            ));
        }
        // 1. Switch to a new WAL. Everything before the switch (sequence <= `cut`, in the
        // first `frozen` chunks) is what this checkpoint makes part of the segments.
        let (old, old_wal, chunks, wal_no, cut) = {
            let mut guard = self.writer.lock().map_err(|_| EngineError::Poisoned)?;
            let old = guard.manifest.clone();
            let has_new_rows = self
                .state
                .read()
                .map_err(|_| EngineError::Poisoned)?
                .chunks
                .iter()
                .any(|c| c.segment.is_none());
            if !guard.dirty && !has_new_rows {
                return Ok(());
            }
            // After the WAL being written, not after the manifest's: recovery may have found
            // (and be appending to) a later WAL than the manifest names.
            let wal_no = guard.wal_no.max(old.wal) + 1;
            let (new_wal, _) = Wal::open_in(&self.vfs, &wal_path(&self.dir, wal_no), self.policy)?;
            let old_wal = std::mem::replace(&mut guard.wal, Arc::new(new_wal));
            guard.wal_no = wal_no;
            guard.dirty = false;
            let chunks = {
                let mut state = self.state.write().map_err(|_| EngineError::Poisoned)?;
                // The chunks before the switch must not change from here on.
                state.frozen = state.chunks.len();
                state.chunks.clone()
            };
            (old, old_wal, chunks, wal_no, guard.last_seq)
        };
        // 2. Everything before the switch goes into files, so it must be durable first.
        old_wal.sync_all()?;
        let plan = plan_checkpoint(&old, &chunks, cut);
        let generation = old.generation + 1;
        let merging: Vec<Arc<Chunk>> = chunks
            .iter()
            .filter(|c| c.segment.is_none_or(|id| plan.merge.contains(&id)))
            .cloned()
            .collect();
        let (merged, origins) = merge_live(&merging, cut);
        let mut segments: Vec<SegmentEntry> = Vec::new();
        for entry in &old.segments {
            if plan.merge.contains(&entry.id) {
                continue;
            }
            let deletes: Vec<(u32, u32, u64)> = chunks
                .iter()
                .filter(|c| c.segment == Some(entry.id))
                .enumerate()
                .flat_map(|(i, c)| {
                    c.deletes_upto(cut)
                        .into_iter()
                        .map(move |(row, seq)| (i as u32, row, seq))
                })
                .collect();
            let mut entry = *entry;
            if deletes.len() as u64 != entry.deleted {
                deletes_file(&self.vfs, &self.dir, entry.id, generation)
                    .write(&encode_deletes(&deletes))?;
                entry.deleted = deletes.len() as u64;
                entry.deletes = Some(generation);
            }
            segments.push(entry);
        }
        if !merged.is_empty() {
            write_segment(&self.vfs, &segment_path(&self.dir, generation), &merged)?;
            segments.push(SegmentEntry {
                id: generation,
                rows: merged.iter().map(|c| c.len() as u64).sum(),
                deleted: 0,
                deletes: None,
            });
        }
        let manifest = Manifest {
            generation,
            segments,
            wal: wal_no,
        };
        manifest_file(&self.vfs, &self.dir).write(&manifest.encode())?;
        // The MANIFEST is durable: files it no longer names are garbage now.
        remove_leftovers(&*self.vfs, &self.dir, &manifest);
        let sealed = if merged.is_empty() {
            Vec::new()
        } else {
            let mut sealed = open_segment(&self.vfs, &segment_path(&self.dir, generation))?;
            for c in &mut sealed {
                c.segment = Some(generation);
            }
            sealed
        };
        // 3. Swap memory: kept segments (the same chunks, deletes and all), the new segment
        // (mapped; heap copies go once readers let go) with the deletes made to its rows since
        // the cut carried over, then the chunks written since the switch.
        let mut guard = self.writer.lock().map_err(|_| EngineError::Poisoned)?;
        let mut state = self.state.write().map_err(|_| EngineError::Poisoned)?;
        for (new_chunk, from) in sealed.iter().zip(&origins) {
            for (row, (c, r)) in from.iter().enumerate() {
                let seq = merging.get(*c).map_or(ALIVE, |ch| ch.deleted_at(*r));
                if seq != ALIVE {
                    new_chunk.delete(row, seq);
                }
            }
        }
        let frozen = state.frozen;
        let mut all: Vec<Arc<Chunk>> = state
            .chunks
            .iter()
            .take(frozen)
            .filter(|c| c.segment.is_some_and(|id| !plan.merge.contains(&id)))
            .cloned()
            .collect();
        all.extend(sealed.into_iter().map(Arc::new));
        let sealed_chunks = all.len();
        all.extend(state.chunks.iter().skip(frozen).cloned());
        let mut fresh = State::default();
        for (chunk_no, chunk) in all.iter().enumerate() {
            for (row, pk) in chunk.pks.iter().enumerate() {
                if chunk.deleted_at(row) == ALIVE {
                    fresh
                        .index
                        .insert(pk.clone(), (chunk_no as u32, row as u32));
                    fresh.live += 1;
                }
            }
        }
        fresh.chunks = Arc::new(all);
        fresh.frozen = sealed_chunks;
        *state = fresh;
        guard.manifest = manifest;
        drop(state);
        drop(guard);
        tracing::debug!(dir = %self.dir.display(), generation, merged = ?plan.merge, "checkpoint written");
        Ok(())
    }

    /// Sets the vector indexes the collection declares; true when they changed.
    pub fn set_index_specs(&self, specs: Vec<IndexSpec>) -> bool {
        let Ok(mut current) = self.specs.write() else {
            return false;
        };
        if *current == specs {
            return false;
        }
        *current = specs;
        true
    }

    /// The declared vector index `index_id`.
    pub fn index_spec(&self, index_id: i64) -> Option<IndexSpec> {
        self.specs
            .read()
            .ok()?
            .iter()
            .find(|s| s.index_id == index_id)
            .cloned()
    }

    /// Claims the right to run index passes (false when one is running: it is asked to run
    /// again instead). The caller then calls [`build_indexes`](Self::build_indexes).
    pub fn claim_indexing(&self) -> bool {
        self.index_again.store(true, Ordering::Release);
        !self.indexing.swap(true, Ordering::AcqRel)
    }

    /// Builds (or loads from their files) the missing indexes of every sealed chunk, until a
    /// pass finds nothing asked for meanwhile; then releases the claim.
    pub fn build_indexes(&self) {
        loop {
            self.index_again.store(false, Ordering::Release);
            if let Err(e) = self.index_pass() {
                tracing::error!(dir = %self.dir.display(), error = %e, "index build failed");
            }
            self.indexing.store(false, Ordering::Release);
            // Asked again while running (and nobody else took over): one more pass.
            if !self.index_again.load(Ordering::Acquire)
                || self.stopping.load(Ordering::Acquire)
                || self.indexing.swap(true, Ordering::AcqRel)
            {
                return;
            }
        }
    }

    fn index_pass(&self) -> Result<()> {
        let specs: Vec<IndexSpec> = self
            .specs
            .read()
            .map_err(|_| EngineError::Poisoned)?
            .clone();
        let snap = self.snapshot();
        let mut ordinal: HashMap<u64, usize> = HashMap::new();
        for chunk in snap.chunks.iter() {
            let Some(segment) = chunk.segment else {
                continue;
            };
            let ord = {
                let n = ordinal.entry(segment).or_insert(0);
                *n += 1;
                *n - 1
            };
            if let Ok(mut built) = chunk.indexes.write() {
                built.retain(|b| specs.iter().any(|s| s.index_id == b.index_id));
            }
            if let Ok(mut built) = chunk.scalar.write() {
                built.retain(|b| specs.iter().any(|s| s.index_id == b.index_id));
            }
            for spec in specs.iter().filter(|s| s.needs_build()) {
                if chunk.has_index(spec.index_id) {
                    continue;
                }
                if self.stopping.load(Ordering::Acquire) || self.poisoned.load(Ordering::Acquire) {
                    return Ok(());
                }
                let path = index_path(&self.dir, segment, ord, spec.index_id);
                if spec.kind == IndexKind::Scalar {
                    let index = match ScalarChunkIndex::load(&self.vfs, &path, chunk, spec) {
                        Some(index) => index,
                        None => {
                            let Some(index) = ScalarChunkIndex::build(chunk, spec) else {
                                continue;
                            };
                            if self.stopping.load(Ordering::Acquire) {
                                return Ok(());
                            }
                            if let Err(e) = index.save(&self.vfs, &path) {
                                // The index still serves from memory; the file is only a cache.
                                tracing::warn!(file = %path.display(), error = %e, "cannot save an index file");
                            }
                            index
                        }
                    };
                    if let Ok(mut built) = chunk.scalar.write() {
                        built.push(Arc::new(index));
                    }
                    continue;
                }
                let index = match ChunkIndex::load(&self.vfs, &path, chunk, spec) {
                    Some(index) => index,
                    None => {
                        let Some(index) = ChunkIndex::build(chunk, spec)? else {
                            continue;
                        };
                        if self.stopping.load(Ordering::Acquire) {
                            return Ok(());
                        }
                        if let Err(e) = index.save(&self.vfs, &path) {
                            // The index still serves from memory; the file is only a cache.
                            tracing::warn!(file = %path.display(), error = %e, "cannot save an index file");
                        }
                        index
                    }
                };
                if let Ok(mut built) = chunk.indexes.write() {
                    built.push(Arc::new(index));
                }
            }
        }
        // Files of indexes no longer declared.
        if let Ok(entries) = self.vfs.read_dir(&self.dir) {
            for e in entries {
                let name = e.name.to_string_lossy().to_string();
                if let Some((_, id)) = parse_index_name(&name) {
                    if !specs.iter().any(|s| s.index_id == id) {
                        let _ = self.vfs.remove_file(&e.path);
                    }
                }
            }
        }
        Ok(())
    }

    /// Rows in sealed chunks, and those of them the index `index_id` covers (all of them for
    /// an index with nothing to build).
    pub fn index_progress(&self, index_id: i64) -> (u64, u64) {
        let snap = self.snapshot();
        let builds = self.index_spec(index_id).is_some_and(|s| s.needs_build());
        let mut total = 0u64;
        let mut indexed = 0u64;
        for chunk in snap.chunks.iter().filter(|c| c.segment.is_some()) {
            total += chunk.len() as u64;
            if !builds || chunk.has_index(index_id) {
                indexed += chunk.len() as u64;
            }
        }
        (total, indexed)
    }

    /// Removes the store's files (the collection was dropped).
    pub fn destroy(&self) -> Result<()> {
        self.stopping.store(true, Ordering::Release);
        self.poisoned.store(true, Ordering::Release);
        // No checkpoint or index build may still be writing files into the directory.
        let _checkpoint = self
            .checkpoint_lock
            .lock()
            .map_err(|_| EngineError::Poisoned)?;
        while self.indexing.load(Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let _guard = self.writer.lock().map_err(|_| EngineError::Poisoned)?;
        crate::ignore_not_found(self.vfs.remove_dir_all(&self.dir))
    }
}

/// What a checkpoint rewrites besides the new rows.
struct CheckpointPlan {
    /// Segments merged into the new one (their live rows rewritten, deleted rows dropped).
    merge: Vec<u64>,
}

/// A segment is rewritten once this share of its rows is deleted.
const REWRITE_DELETED_SHARE: f64 = 0.3;

/// Chooses the segments to merge: walking from the newest, each segment no bigger than the
/// rows gathered so far joins (so sizes grow geometrically and a row is rewritten about
/// log2(total / new) times), and any segment mostly deleted is rewritten to drop them.
fn plan_checkpoint(manifest: &Manifest, chunks: &[Arc<Chunk>], cut: u64) -> CheckpointPlan {
    let live_of = |rows: &mut dyn Iterator<Item = &Arc<Chunk>>| -> (u64, u64) {
        rows.fold((0, 0), |(live, total), c| {
            let alive = (0..c.len()).filter(|&r| c.deleted_at(r) > cut).count() as u64;
            (live + alive, total + c.len() as u64)
        })
    };
    let (mut gathered, _) = live_of(&mut chunks.iter().filter(|c| c.segment.is_none()));
    let mut merge = Vec::new();
    let mut growing = gathered > 0;
    for entry in manifest.segments.iter().rev() {
        let (live, total) = live_of(&mut chunks.iter().filter(|c| c.segment == Some(entry.id)));
        let mostly_deleted =
            total > 0 && (total - live) as f64 >= total as f64 * REWRITE_DELETED_SHARE;
        if growing && live <= gathered {
            gathered += live;
            merge.push(entry.id);
        } else {
            growing = false;
            if mostly_deleted || live == 0 {
                merge.push(entry.id);
            }
        }
    }
    CheckpointPlan { merge }
}

/// Rows of `chunks` alive after `cut` (deleted later or not at all), one merged chunk per
/// partition. Where each row of a merged chunk came from: (chunk, row) in the input.
type Origins = Vec<Vec<(usize, usize)>>;

fn merge_live(chunks: &[Arc<Chunk>], cut: u64) -> (Vec<Chunk>, Origins) {
    type Parts<'a> = Vec<(usize, &'a Arc<Chunk>, Vec<usize>)>;
    let mut by_partition: Vec<(i64, Parts<'_>)> = Vec::new();
    for (chunk_no, chunk) in chunks.iter().enumerate() {
        let rows: Vec<usize> = (0..chunk.len())
            .filter(|&i| chunk.deleted_at(i) > cut)
            .collect();
        if rows.is_empty() {
            continue;
        }
        match by_partition.iter_mut().find(|(p, _)| *p == chunk.partition) {
            Some((_, parts)) => parts.push((chunk_no, chunk, rows)),
            None => by_partition.push((chunk.partition, vec![(chunk_no, chunk, rows)])),
        }
    }
    let mut merged = Vec::with_capacity(by_partition.len());
    let mut origins = Vec::with_capacity(by_partition.len());
    for (partition, parts) in by_partition {
        let total: usize = parts.iter().map(|(_, _, r)| r.len()).sum();
        let mut batch = ColumnBatch::new(total);
        // Every field any part has (a schema change can add `$meta`); a part without one gets
        // nulls for it.
        let mut names: Vec<String> = Vec::new();
        for (_, c, _) in &parts {
            for n in c.batch.names() {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        for name in names {
            let template = parts.iter().find_map(|(_, c, _)| c.batch.column(&name));
            let Some(template) = template else { continue };
            let fillers: Vec<Option<Column>> = parts
                .iter()
                .map(|(_, c, rows)| {
                    c.batch.column(&name).is_none().then(|| {
                        let mut col = template.take(&vec![0; rows.len()]);
                        col.valid = Some(Bitmap::zeros(rows.len()));
                        col
                    })
                })
                .collect();
            let indexes: Vec<Vec<usize>> = parts
                .iter()
                .zip(&fillers)
                .map(|((_, _, rows), filler)| match filler {
                    Some(_) => (0..rows.len()).collect(),
                    None => rows.clone(),
                })
                .collect();
            let cols: Vec<(&Column, &[usize])> = parts
                .iter()
                .zip(&fillers)
                .zip(&indexes)
                .filter_map(|(((_, c, _), filler), idx)| {
                    let col = match filler {
                        Some(f) => f,
                        None => c.batch.column(&name)?,
                    };
                    Some((col, idx.as_slice()))
                })
                .collect();
            batch.insert(name, Column::concat_rows(&cols));
        }
        let mut pks = Vec::with_capacity(total);
        let mut seqs = Vec::with_capacity(total);
        let mut from = Vec::with_capacity(total);
        for (chunk_no, c, rows) in &parts {
            for &i in rows {
                pks.extend(c.pks.get(i).cloned());
                seqs.extend(c.seqs.get(i).copied());
                from.push((*chunk_no, i));
            }
        }
        merged.push(Chunk::new(partition, ChunkColumns::Owned(batch), pks, seqs));
        origins.push(from);
    }
    (merged, origins)
}

/// The columns of a chunk: in memory (written since the last checkpoint), or in a mapped
/// segment file, each column decoded the first time a reader asks for it.
#[derive(Debug)]
pub enum ChunkColumns {
    Owned(ColumnBatch),
    Mapped(MappedColumns),
}

/// A chunk's columns inside a segment file.
#[derive(Debug)]
pub struct MappedColumns {
    file: Arc<BlockFile>,
    chunk: usize,
    rows: usize,
    names: Vec<String>,
    cells: Vec<OnceLock<Option<Column>>>,
}

impl ChunkColumns {
    /// The field names present.
    pub fn names(&self) -> Vec<String> {
        match self {
            ChunkColumns::Owned(b) => b.columns().map(|(n, _)| n.to_string()).collect(),
            ChunkColumns::Mapped(m) => m.names.clone(),
        }
    }
}

/// A raw FLOAT vector block as a column (copied: for outputs; searches read it in place).
fn raw_f32_column(raw: &[u8], rows: usize) -> Option<Column> {
    let floats: Vec<f32> = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let dim = floats.len().checked_div(rows).filter(|d| *d > 0)?;
    let mut v = rivus_schema::VectorColumn::new(rivus_schema::DataType::FloatVector, dim)?;
    v.floats = floats;
    Some(Column {
        data: ColumnData::Vector(v),
        valid: None,
    })
}

impl ChunkColumns {
    /// A FLOAT vector field's values (`rows x dim`) and dim, read in place: from memory, or
    /// straight from the mapped segment file.
    pub fn f32_values(&self, field: &str) -> Option<(&[f32], usize)> {
        if let ChunkColumns::Mapped(m) = self {
            if let Some(raw) = m.file.block(&f32_block(m.chunk, field)) {
                if let Some(values) = rivus_storage::f32s_in_place(raw) {
                    let dim = values.len().checked_div(m.rows)?;
                    return Some((values, dim));
                }
            }
        }
        match &self.column(field)?.data {
            ColumnData::Vector(v) if v.data_type == rivus_schema::DataType::FloatVector => {
                Some((&v.floats, v.dim))
            }
            _ => None,
        }
    }
}

impl ColumnSource for ChunkColumns {
    fn num_rows(&self) -> usize {
        match self {
            ChunkColumns::Owned(b) => b.num_rows(),
            ChunkColumns::Mapped(m) => m.rows,
        }
    }

    fn column(&self, field: &str) -> Option<&Column> {
        match self {
            ChunkColumns::Owned(b) => b.column(field),
            ChunkColumns::Mapped(m) => {
                let i = m.names.iter().position(|n| n == field)?;
                m.cells
                    .get(i)?
                    .get_or_init(|| {
                        if let Some(raw) = m.file.block(&f32_block(m.chunk, field)) {
                            return raw_f32_column(raw, m.rows);
                        }
                        // The block's checksum was verified when the file was opened, so a
                        // decode failure here is a bug; it is logged and the column reads as
                        // missing rather than taking the server down.
                        let bytes = m.file.block(&column_block(m.chunk, field))?;
                        match decode_column(&mut Reader::new(bytes), m.rows) {
                            Ok(c) => Some(c),
                            Err(e) => {
                                tracing::error!(file = %m.file.path().display(), field, error = %e, "cannot decode a column");
                                None
                            }
                        }
                    })
                    .as_ref()
            }
        }
    }
}

fn column_block(chunk: usize, field: &str) -> String {
    format!("c{chunk}.col.{field}")
}

/// A FLOAT vector column stored raw: `rows x dim` little-endian f32 values.
fn f32_block(chunk: usize, field: &str) -> String {
    format!("c{chunk}.f32.{field}")
}

/// Writes `chunks` as a segment block file at `path`: a `meta` block (chunk count, then per
/// chunk its partition, row count and field names), and per chunk `c<i>.pks`, `c<i>.seqs`
/// and one `c<i>.col.<field>` block per column.
fn write_segment(vfs: &Arc<dyn Vfs>, path: &Path, chunks: &[Chunk]) -> Result<()> {
    let mut file = BlockFileWriter::create_in(vfs, path)?;
    let mut meta = Writer::default();
    meta.u64(chunks.len() as u64);
    for (i, c) in chunks.iter().enumerate() {
        let names = c.batch.names();
        meta.i64(c.partition);
        meta.u64(c.len() as u64);
        meta.u64(names.len() as u64);
        for n in &names {
            meta.str(n);
        }
        let mut w = Writer::default();
        encode_pks(&c.pks, &mut w);
        file.add(&format!("c{i}.pks"), &w.buf)?;
        let mut w = Writer::default();
        for s in &c.seqs {
            w.u64(*s);
        }
        file.add(&format!("c{i}.seqs"), &w.buf)?;
        for n in &names {
            let Some(col) = c.batch.column(n) else {
                continue;
            };
            // FLOAT vectors are stored raw so readers use them in place (no decode, no copy).
            if let (ColumnData::Vector(v), None) = (&col.data, &col.valid) {
                if v.data_type == rivus_schema::DataType::FloatVector {
                    let mut raw = Vec::with_capacity(v.floats.len() * 4);
                    for x in &v.floats {
                        raw.extend_from_slice(&x.to_le_bytes());
                    }
                    file.add(&f32_block(i, n), &raw)?;
                    continue;
                }
            }
            let mut w = Writer::default();
            encode_column(col, &mut w);
            file.add(&column_block(i, n), &w.buf)?;
        }
    }
    file.add("meta", &meta.buf)?;
    file.finish()?;
    Ok(())
}

/// Opens a segment: maps it, checks it, decodes keys and sequence numbers; columns stay in
/// the file until read.
fn open_segment(vfs: &Arc<dyn Vfs>, path: &Path) -> Result<Vec<Chunk>> {
    let file = Arc::new(BlockFile::open_in(vfs, path)?);
    let bad = |e: DecodeError| corrupt(path, e);
    let meta = file.block("meta").ok_or_else(|| {
        EngineError::Storage(StorageError::corrupt(path, "segment without a meta block"))
    })?;
    let mut r = Reader::new(meta);
    let n = r.len(24, "chunk count").map_err(bad)?;
    let mut chunks = Vec::with_capacity(n);
    for i in 0..n {
        let partition = r.i64("partition").map_err(bad)?;
        let rows = r.len(0, "row count").map_err(bad)?;
        let n_names = r.len(8, "column count").map_err(bad)?;
        let mut names = Vec::with_capacity(n_names);
        for _ in 0..n_names {
            names.push(r.str("column name").map_err(bad)?.to_string());
        }
        let block = |name: String| {
            file.block(&name).ok_or_else(|| {
                EngineError::Storage(StorageError::corrupt(path, format!("missing block {name}")))
            })
        };
        let pks = decode_pks(&mut Reader::new(block(format!("c{i}.pks"))?)).map_err(bad)?;
        let seqs: Vec<u64> = block(format!("c{i}.seqs"))?
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
            .collect();
        if pks.len() != rows || seqs.len() != rows {
            return Err(EngineError::Storage(StorageError::corrupt(
                path,
                format!("chunk {i}: row counts disagree"),
            )));
        }
        for name in &names {
            if file.block(&f32_block(i, name)).is_none() {
                block(column_block(i, name))?;
            }
        }
        let cells = names.iter().map(|_| OnceLock::new()).collect();
        let columns = ChunkColumns::Mapped(MappedColumns {
            file: file.clone(),
            chunk: i,
            rows,
            names,
            cells,
        });
        chunks.push(Chunk::new(partition, columns, pks, seqs));
    }
    Ok(chunks)
}

/// The primary keys of a pk column.
pub fn pks_of(column: &Column) -> Option<Vec<Pk>> {
    match &column.data {
        ColumnData::Int64(v) => Some(v.iter().map(|x| Pk::Int(*x)).collect()),
        ColumnData::VarChar(v) => Some(v.iter().map(|s| Pk::Str(s.to_string())).collect()),
        _ => None,
    }
}
