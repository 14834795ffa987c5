//! The catalog's data model: what is persisted about databases, collections, aliases,
//! partitions and indexes.
//!
//! Invariants a [`CatalogState`] keeps (checked by the operations that change it):
//! 1. Within a database, collection names and alias names are disjoint sets.
//! 2. Every alias points at the id of a collection of the same database.
//! 3. Every collection has a partition named `_default` (unless partition-key managed).
//! 4. Ids are unique across the whole catalog and increase with creation time.

use std::collections::BTreeMap;

use rivus_schema::{CollectionSchema, Properties};
use serde::{Deserialize, Serialize};

/// Name of the database that always exists.
pub const DEFAULT_DATABASE: &str = "default";
/// Name of the partition every collection starts with.
pub const DEFAULT_PARTITION: &str = "_default";

/// Load state of a collection (Milvus `common.LoadState`). `NotExist` is only reported (for a
/// missing collection), never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoadState {
    NotExist,
    NotLoad,
    Loaded,
}

/// Read consistency a collection asks for (Milvus `common.ConsistencyLevel`). Stored and
/// returned; a single-node rivus always reads its own writes, which satisfies every level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsistencyLevel {
    Strong,
    Session,
    Bounded,
    Eventually,
    Customized,
}

impl ConsistencyLevel {
    /// The Milvus enum number.
    pub fn code(self) -> i32 {
        match self {
            ConsistencyLevel::Strong => 0,
            ConsistencyLevel::Session => 1,
            ConsistencyLevel::Bounded => 2,
            ConsistencyLevel::Eventually => 3,
            ConsistencyLevel::Customized => 4,
        }
    }

    /// The level for a Milvus enum number.
    pub fn from_code(code: i32) -> Option<ConsistencyLevel> {
        Some(match code {
            0 => ConsistencyLevel::Strong,
            1 => ConsistencyLevel::Session,
            2 => ConsistencyLevel::Bounded,
            3 => ConsistencyLevel::Eventually,
            4 => ConsistencyLevel::Customized,
            _ => return None,
        })
    }
}

/// The whole persisted catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogState {
    /// Last hybrid timestamp handed out (see [`crate::catalog::Tso`]).
    pub last_ts: u64,
    pub databases: BTreeMap<String, DatabaseMeta>,
}

/// A database and everything in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseMeta {
    pub id: i64,
    pub name: String,
    pub created_ts: u64,
    pub properties: Properties,
    /// Collections by name.
    pub collections: BTreeMap<String, CollectionMeta>,
    /// Aliases by name, each pointing at a collection id (so aliases follow a rename).
    pub aliases: BTreeMap<String, i64>,
}

impl DatabaseMeta {
    /// The collection with id `id`.
    pub fn collection_by_id(&self, id: i64) -> Option<&CollectionMeta> {
        self.collections.values().find(|c| c.id == id)
    }

    /// Aliases of collection `id`, sorted by name.
    pub fn aliases_of(&self, id: i64) -> Vec<String> {
        self.aliases
            .iter()
            .filter(|(_, target)| **target == id)
            .map(|(alias, _)| alias.clone())
            .collect()
    }

    /// Resolves a collection name or an alias to the collection.
    pub fn resolve(&self, name: &str) -> Option<&CollectionMeta> {
        self.collections.get(name).or_else(|| {
            self.aliases
                .get(name)
                .and_then(|id| self.collection_by_id(*id))
        })
    }
}

/// A collection's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionMeta {
    pub id: i64,
    /// `schema.name` is the collection's current name.
    pub schema: CollectionSchema,
    pub shards_num: i32,
    pub consistency_level: ConsistencyLevel,
    pub properties: Properties,
    /// Number of partitions when a partition key manages them, else 0.
    pub num_partitions: i64,
    /// Hybrid timestamp (physical milliseconds << 18 | logical) of creation.
    pub created_ts: u64,
    pub load_state: LoadState,
    pub partitions: Vec<PartitionMeta>,
    pub indexes: Vec<IndexMeta>,
}

impl CollectionMeta {
    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.schema.name
    }

    /// The partition called `name`.
    pub fn partition(&self, name: &str) -> Option<&PartitionMeta> {
        self.partitions.iter().find(|p| p.name == name)
    }
}

/// A partition's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionMeta {
    pub id: i64,
    pub name: String,
    pub created_ts: u64,
    /// Released on its own (`release_partitions`) while its collection is loaded, or left
    /// out of a `load_partitions`. A partition is loaded when its collection is and this is
    /// false.
    #[serde(default)]
    pub released: bool,
}

/// An index declared on a field. Only the declaration lives here; building it belongs to the
/// data plane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexMeta {
    pub id: i64,
    pub index_name: String,
    pub field_name: String,
    /// Every parameter as the user gave it (`index_type`, `metric_type`, `params`, ...).
    pub params: Properties,
    pub created_ts: u64,
}

impl IndexMeta {
    /// The declared `index_type`.
    pub fn index_type(&self) -> Option<&str> {
        self.params.get("index_type")
    }
}
