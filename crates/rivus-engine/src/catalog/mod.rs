//! The catalog: databases, collections, aliases, partitions, index declarations and the
//! state users set on them (properties, load state), kept in memory and persisted.
//!
//! Persistence: a snapshot file (`catalog`, replaced atomically, see
//! `rivus_storage::ChecksummedFile`) plus a change log (`catalog-<generation>.log`, see
//! `rivus_storage::RecordLog`). Every change appends one record holding the entity-level
//! differences it made ([`change::diff`]) and syncs it before it is acknowledged. When the log
//! outgrows the snapshot, the state is written as a new snapshot of the next generation, a new
//! log starts, and the old log is removed; a crash at any point of that leaves either the old
//! snapshot with its log or the new snapshot with its (possibly empty) log.
//!
//! Concurrency: readers take an `Arc` snapshot ([`Catalog::snapshot`]) and never wait on disk.
//! Changes are serialized by one writer mutex: [`Catalog::mutate`] clones the current state,
//! applies the change, persists the difference and only then publishes the new state. So a
//! change is acknowledged only once durable, a refused change leaves nothing behind, and the
//! next request after an acknowledgement sees it. After a failed write the catalog refuses
//! further changes (it is poisoned until restart; recovery then sees the record whole or not).
//!
//! Lock order: `writer` before `current`; `current` is only held to clone or swap an `Arc`.

mod change;
mod model;
mod tso;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

pub use change::CatalogChange;
pub use model::*;
use rivus_storage::{ChecksummedFile, RecordLog, StorageError, Vfs};
use serde::{Deserialize, Serialize};
pub use tso::{next_ts, physical_ms};

use crate::{EngineError, Result};

/// File name of the catalog snapshot inside the data directory.
pub const CATALOG_FILE_NAME: &str = "catalog";
const CATALOG_MAGIC: [u8; 8] = *b"RVSCATLG";
const CATALOG_VERSION: u32 = 1;
/// The log is folded into a new snapshot once it is larger than this and than the snapshot.
const MIN_COMPACTION_BYTES: u64 = 1 << 20;

/// The snapshot file's payload.
#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    /// Generation of the log that continues this snapshot.
    generation: u64,
    state: CatalogState,
}

/// The live catalog.
#[derive(Debug)]
pub struct Catalog {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    snapshot_file: ChecksummedFile,
    writer: Mutex<Persisted>,
    current: RwLock<Arc<CatalogState>>,
    poisoned: AtomicBool,
}

/// The files being written; guarded by the writer mutex.
#[derive(Debug)]
struct Persisted {
    generation: u64,
    log: RecordLog,
    snapshot_bytes: u64,
}

fn log_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("{CATALOG_FILE_NAME}-{generation}.log"))
}

fn corrupt(path: &Path, reason: String) -> EngineError {
    EngineError::Storage(StorageError::corrupt(path, reason))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| EngineError::Internal(format!("cannot encode the catalog: {e}")))
}

impl Catalog {
    /// Loads the catalog of `data_dir` (snapshot, then its log), creating a fresh one with the
    /// `default` database when the directory has none. A snapshot or log that cannot be read
    /// or decoded is an error naming the file; nothing is reset or rewritten. Every file is
    /// read and written through `vfs`.
    pub fn open(vfs: &Arc<dyn Vfs>, data_dir: &Path) -> Result<Catalog> {
        let snapshot_file = ChecksummedFile::new_in(
            vfs,
            data_dir.join(CATALOG_FILE_NAME),
            CATALOG_MAGIC,
            CATALOG_VERSION,
        );
        let (snapshot, snapshot_bytes) = match snapshot_file.read()? {
            Some(bytes) => {
                let snapshot: Snapshot = serde_json::from_slice(&bytes).map_err(|e| {
                    corrupt(
                        snapshot_file.path(),
                        format!("catalog does not decode: {e}"),
                    )
                })?;
                (snapshot, bytes.len() as u64)
            }
            None => {
                let snapshot = Snapshot {
                    generation: 1,
                    state: fresh_state(),
                };
                let bytes = encode(&snapshot)?;
                snapshot_file.write(&bytes)?;
                tracing::info!(path = %snapshot_file.path().display(), "created a new catalog");
                (snapshot, bytes.len() as u64)
            }
        };
        let Snapshot {
            generation,
            mut state,
        } = snapshot;
        let path = log_path(data_dir, generation);
        let recovered = RecordLog::open_in(vfs, &path)?;
        if !recovered.records.is_empty() {
            // After a `kill -9` the log may hold a record whose sync never returned (a change
            // never acknowledged). It is part of the state served from now on, so it must be
            // durable before anything is built on it.
            vfs.open_append(&path)?.sync_data()?;
        }
        for (i, record) in recovered.records.iter().enumerate() {
            let changes: Vec<CatalogChange> = serde_json::from_slice(record)
                .map_err(|e| corrupt(&path, format!("record {i} does not decode: {e}")))?;
            for change in changes {
                change::apply(&mut state, change)
                    .map_err(|e| corrupt(&path, format!("record {i}: {e}")))?;
            }
        }
        remove_stale_logs(&**vfs, data_dir, generation);
        Ok(Catalog {
            vfs: Arc::clone(vfs),
            dir: data_dir.to_path_buf(),
            snapshot_file,
            writer: Mutex::new(Persisted {
                generation,
                log: recovered.log,
                snapshot_bytes,
            }),
            current: RwLock::new(Arc::new(state)),
            poisoned: AtomicBool::new(false),
        })
    }

    /// Whether a failed write stopped further changes.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// The current state. Cheap; never blocks on I/O.
    pub fn snapshot(&self) -> Arc<CatalogState> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Applies `change` to a copy of the state; if it succeeds and changed anything, persists
    /// the difference and publishes the copy. Returns what `change` returned.
    pub fn mutate<T>(&self, change: impl FnOnce(&mut CatalogState) -> Result<T>) -> Result<T> {
        let mut persisted = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if self.is_poisoned() {
            return Err(EngineError::Poisoned);
        }
        let before = self.snapshot();
        let mut next = CatalogState::clone(&before);
        let value = change(&mut next)?;
        let changes = change::diff(&before, &next);
        if changes.is_empty() {
            return Ok(value);
        }
        let written = encode(&changes).and_then(|record| Ok(persisted.log.append(&record)?));
        if let Err(e) = written {
            self.poison(&e);
            return Err(e);
        }
        let next = Arc::new(next);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = next.clone();
        if persisted.log.len_bytes() > MIN_COMPACTION_BYTES.max(persisted.snapshot_bytes) {
            if let Err(e) = self.compact(&mut persisted, &next) {
                // The change itself is durable; only further changes are refused.
                self.poison(&e);
            }
        }
        Ok(value)
    }

    fn poison(&self, error: &EngineError) {
        self.poisoned.store(true, Ordering::Release);
        tracing::error!(%error, "catalog write failed; refusing further changes until restart");
    }

    /// Folds the log into a new snapshot of the next generation.
    fn compact(&self, persisted: &mut Persisted, state: &CatalogState) -> Result<()> {
        let generation = persisted.generation + 1;
        let bytes = encode(&Snapshot {
            generation,
            state: state.clone(),
        })?;
        // Order matters: the new log exists (empty, durable) before the snapshot that names
        // it, and the old log goes only after the snapshot is durable.
        let new_log = RecordLog::open_in(&self.vfs, &log_path(&self.dir, generation))?.log;
        self.snapshot_file.write(&bytes)?;
        let old = std::mem::replace(&mut persisted.log, new_log);
        persisted.generation = generation;
        persisted.snapshot_bytes = bytes.len() as u64;
        drop(old);
        remove_stale_logs(&*self.vfs, &self.dir, generation);
        tracing::debug!(
            generation,
            snapshot_bytes = bytes.len(),
            "catalog log compacted"
        );
        Ok(())
    }
}

/// Removes logs of other generations (left by a compaction that crashed half-way). Best
/// effort: a leftover file is harmless, it is never read.
fn remove_stale_logs(vfs: &dyn Vfs, dir: &Path, keep: u64) {
    let Ok(entries) = vfs.read_dir(dir) else {
        return;
    };
    for entry in entries {
        let Some(name) = entry.name.to_str() else {
            continue;
        };
        let generation = name
            .strip_prefix(&format!("{CATALOG_FILE_NAME}-"))
            .and_then(|rest| rest.strip_suffix(".log"))
            .and_then(|g| g.parse::<u64>().ok());
        if generation.is_some_and(|g| g != keep) {
            if let Err(e) = vfs.remove_file(&entry.path) {
                tracing::warn!(path = %entry.path.display(), error = %e, "cannot remove a stale catalog log");
            }
        }
    }
}

impl CatalogState {
    /// A new hybrid timestamp (also used as an id source).
    pub fn next_ts(&mut self) -> u64 {
        self.last_ts = tso::next_ts(self.last_ts);
        self.last_ts
    }

    /// A new catalog-wide unique id.
    pub fn next_id(&mut self) -> i64 {
        // Hybrid timestamps stay below 2^63 until the year 2248.
        i64::try_from(self.next_ts()).unwrap_or(i64::MAX)
    }
}

fn fresh_state() -> CatalogState {
    let mut state = CatalogState {
        last_ts: 0,
        databases: Default::default(),
    };
    let id = state.next_id();
    let created_ts = state.next_ts();
    state.databases.insert(
        DEFAULT_DATABASE.to_string(),
        DatabaseMeta {
            id,
            name: DEFAULT_DATABASE.to_string(),
            created_ts,
            properties: Default::default(),
            collections: Default::default(),
            aliases: Default::default(),
        },
    );
    state
}
