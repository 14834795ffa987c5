//! rivus-engine: the embedded rivus API. Everything the Milvus server does, callable from
//! Rust without gRPC.
//!
//! ```
//! use rivus_engine::{CreateCollection, Engine, EngineConfig};
//! use rivus_schema::{CollectionSchema, DataType, FieldSchema};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let engine = Engine::open(EngineConfig::new(dir.path())).unwrap();
//! for name in ["test_collection_1", "test_collection_2"] {
//!     let mut id = FieldSchema::new("id", DataType::Int64);
//!     id.is_primary_key = true;
//!     let schema = CollectionSchema {
//!         name: name.to_string(),
//!         description: String::new(),
//!         fields: vec![id, FieldSchema::new("vector", DataType::FloatVector).with_param("dim", 5)],
//!         functions: vec![],
//!         enable_dynamic_field: true,
//!     };
//!     engine.create_collection("default", CreateCollection::new(schema)).unwrap();
//! }
//! engine.create_alias("default", "test", "test_collection_1").unwrap();
//! engine.alter_alias("default", "test", "test_collection_2").unwrap();
//! assert_eq!(engine.describe_alias("default", "test").unwrap(), "test_collection_2");
//! ```
//!
//! Threading: [`Engine`] is `Clone + Send + Sync`; every method is synchronous and may block on
//! disk I/O (catalog changes are fsynced before they return), so async callers run them on a
//! blocking pool. Catalog changes are serialized; reads never wait for them.
//!
//! Storage: every file the engine reads or writes goes through the [`Vfs`] of its
//! [`EngineConfig`] (the real file system by default; `rivus_storage::CrashFs` in crash tests).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod alias;
pub mod catalog;
mod collection;
pub mod data;
mod database;
mod error;
mod index;
mod partition;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rivus_schema::SchemaLimits;
use rivus_storage::{DataDirLock, StorageError};

pub use catalog::{
    CollectionMeta, ConsistencyLevel, IndexMeta, LoadState, PartitionMeta, DEFAULT_DATABASE,
    DEFAULT_PARTITION,
};
pub use collection::{CollectionDescription, CreateCollection};
pub use data::{
    GroupBy, HybridSearch, Keys, Metric, Query, QueryOutput, Ranker, Rows, Search, SearchOutput,
    SearchVectors, WriteResult,
};
pub use database::DatabaseInfo;
pub use error::{EngineError, Result};
pub use index::CreateIndex;
pub use rivus_expr::plan::Literal;
pub use rivus_expr::Templates;
pub use rivus_storage::{os_fs, SyncPolicy, Vfs};

/// How to open an engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The data directory (created if missing; one engine per directory).
    pub data_dir: PathBuf,
    /// Schema limits (Milvus defaults).
    pub schema_limits: SchemaLimits,
    /// Milvus `rootCoord.maxDatabaseNum`.
    pub max_databases: usize,
    /// Milvus `quotaAndLimits.limits.maxCollectionNum`.
    pub max_collections: usize,
    /// When data writes reach the disk (default: synced before acknowledging).
    pub wal_sync: SyncPolicy,
    /// A collection's WAL is folded into a segment file once it passes this many bytes (and
    /// the size of the collection's current segment file).
    pub checkpoint_bytes: u64,
    /// The file system every file of the data directory is read and written through (the
    /// lock, the catalog, the collections' WALs, segments and index files). Default:
    /// [`os_fs()`], the real one.
    pub vfs: Arc<dyn Vfs>,
}

impl EngineConfig {
    /// Milvus's defaults on the given data directory.
    pub fn new(data_dir: impl AsRef<Path>) -> Self {
        EngineConfig {
            data_dir: data_dir.as_ref().to_path_buf(),
            schema_limits: SchemaLimits::default(),
            max_databases: 64,
            max_collections: 65536,
            wal_sync: SyncPolicy::Always,
            checkpoint_bytes: 256 << 20,
            vfs: os_fs(),
        }
    }

    /// The same configuration on another file-system backend.
    pub fn with_vfs(mut self, vfs: Arc<dyn Vfs>) -> Self {
        self.vfs = vfs;
        self
    }
}

/// A handle on an open rivus data directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: EngineConfig,
    catalog: catalog::Catalog,
    /// Last timestamp handed out by [`Engine::allocate_timestamp`].
    last_ts: AtomicU64,
    /// Open collection stores (rows).
    stores: data::Stores,
    // Declared last: dropped after everything that writes into the directory.
    _lock: DataDirLock,
}

impl Engine {
    /// Opens (or creates) the data directory: takes its lock, then loads the catalog.
    ///
    /// Fails if another process holds the directory, or if the catalog is unreadable or
    /// corrupt (the error names the file; nothing is reset).
    pub fn open(config: EngineConfig) -> Result<Engine> {
        let lock = DataDirLock::acquire_in(&config.vfs, &config.data_dir)?;
        let catalog = catalog::Catalog::open(&config.vfs, &config.data_dir)?;
        let last_ts = AtomicU64::new(catalog.snapshot().last_ts);
        remove_orphan_stores(&*config.vfs, &config.data_dir, &catalog.snapshot());
        Ok(Engine {
            inner: Arc::new(Inner {
                config,
                catalog,
                last_ts,
                stores: data::Stores::default(),
                _lock: lock,
            }),
        })
    }

    /// A fresh hybrid timestamp (Milvus `AllocTimestamp`): strictly increasing within this
    /// process and never behind the wall clock.
    pub fn allocate_timestamp(&self) -> u64 {
        let mut last = self.inner.last_ts.load(Ordering::Relaxed);
        loop {
            let next = catalog::next_ts(last);
            match self.inner.last_ts.compare_exchange_weak(
                last,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// Moves the clock past `ts` (a timestamp recovered from disk), so new timestamps and
    /// auto ids stay above every stored one.
    pub(crate) fn observe_timestamp(&self, ts: u64) {
        self.inner.last_ts.fetch_max(ts, Ordering::AcqRel);
    }

    /// Reserves `n` consecutive ids (auto_id keys) from the timestamp clock; returns the
    /// first. Ids are unique and increasing across restarts, like Milvus's.
    pub(crate) fn allocate_ids(&self, n: u64) -> u64 {
        let first = self.allocate_timestamp();
        self.inner
            .last_ts
            .fetch_max(first + n.saturating_sub(1), Ordering::AcqRel);
        first
    }

    /// Reasons the engine is unhealthy; empty when healthy.
    pub fn health(&self) -> Vec<String> {
        if self.catalog().is_poisoned() {
            vec!["the catalog could not be written; changes are refused until restart".into()]
        } else {
            Vec::new()
        }
    }

    /// The configuration the engine was opened with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    fn catalog(&self) -> &catalog::Catalog {
        &self.inner.catalog
    }
}

/// Removes row directories of collections the catalog no longer has (a crash between a
/// drop's catalog change and its file removal). Best effort: a directory left behind (or
/// brought back by a crash before the removal was durable) is removed at the next start.
fn remove_orphan_stores(vfs: &dyn Vfs, data_dir: &Path, state: &catalog::CatalogState) {
    let known: std::collections::HashSet<String> = state
        .databases
        .values()
        .flat_map(|d| d.collections.values().map(|c| c.id.to_string()))
        .collect();
    let Ok(entries) = vfs.read_dir(&data_dir.join("collections")) else {
        return;
    };
    for entry in entries {
        let name = entry.name.to_string_lossy().to_string();
        if !known.contains(&name) {
            tracing::info!(dir = %entry.path.display(), "removing rows of a dropped collection");
            if let Err(e) = vfs.remove_dir_all(&entry.path) {
                tracing::warn!(error = %e, "cannot remove the rows of a dropped collection");
            }
        }
    }
}

/// A removal of something already gone is not an error.
pub(crate) fn ignore_not_found(result: std::result::Result<(), StorageError>) -> Result<()> {
    match result {
        Err(e) if !e.is_not_found() => Err(e.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
