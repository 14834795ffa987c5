//! The catalog: databases, collections, aliases, partitions, index declarations and the
//! state users set on them (properties, load state), kept in memory and persisted whole.
//!
//! Concurrency: readers take an `Arc` snapshot ([`Catalog::snapshot`]) and never wait on disk.
//! Changes are serialized by one writer mutex: [`Catalog::mutate`] clones the current state,
//! applies the change, persists the new state (atomic replace + fsync, see
//! `rivus_storage::ChecksummedFile`) and only then publishes it. So a change is acknowledged
//! only once durable, a failed change leaves nothing behind, and the next request after an
//! acknowledgement sees it. After a failed write the catalog refuses further changes (the file
//! may hold either state): it is poisoned until restart.
//!
//! Lock order: `writer` before `current`; `current` is only held to clone or swap an `Arc`.

mod model;
mod tso;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

pub use model::*;
use rivus_storage::{ChecksummedFile, StorageError};
pub use tso::{next_ts, physical_ms};

use crate::{EngineError, Result};

/// File name of the catalog inside the data directory.
pub const CATALOG_FILE_NAME: &str = "catalog";
const CATALOG_MAGIC: [u8; 8] = *b"RVSCATLG";
const CATALOG_VERSION: u32 = 1;

/// The live catalog.
#[derive(Debug)]
pub struct Catalog {
    file: ChecksummedFile,
    writer: Mutex<()>,
    current: RwLock<Arc<CatalogState>>,
    poisoned: AtomicBool,
}

impl Catalog {
    /// Loads the catalog of `data_dir`, creating a fresh one (with the `default` database)
    /// when the directory has none. A catalog file that cannot be read or decoded is an error
    /// naming the file; it is never replaced.
    pub fn open(data_dir: &Path) -> Result<Catalog> {
        let file = ChecksummedFile::new(
            data_dir.join(CATALOG_FILE_NAME),
            CATALOG_MAGIC,
            CATALOG_VERSION,
        );
        let state = match file.read()? {
            Some(bytes) => serde_json::from_slice::<CatalogState>(&bytes).map_err(|e| {
                EngineError::Storage(StorageError::corrupt(
                    file.path(),
                    format!("catalog does not decode: {e}"),
                ))
            })?,
            None => {
                let state = fresh_state();
                write_state(&file, &state)?;
                tracing::info!(path = %file.path().display(), "created a new catalog");
                state
            }
        };
        Ok(Catalog {
            file,
            writer: Mutex::new(()),
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
    /// the copy and publishes it. Returns what `change` returned.
    pub fn mutate<T>(&self, change: impl FnOnce(&mut CatalogState) -> Result<T>) -> Result<T> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if self.poisoned.load(Ordering::Acquire) {
            return Err(EngineError::Poisoned);
        }
        let before = self.snapshot();
        let mut next = CatalogState::clone(&before);
        let value = change(&mut next)?;
        if next != *before {
            if let Err(e) = write_state(&self.file, &next) {
                self.poisoned.store(true, Ordering::Release);
                tracing::error!(error = %e, "catalog write failed; refusing further changes");
                return Err(e);
            }
            *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        }
        Ok(value)
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

fn write_state(file: &ChecksummedFile, state: &CatalogState) -> Result<()> {
    let bytes = serde_json::to_vec(state)
        .map_err(|e| EngineError::Internal(format!("cannot encode the catalog: {e}")))?;
    file.write(&bytes)?;
    Ok(())
}
