//! Collections: create, drop, describe, list, rename, properties, load state.
//!
//! Every call that takes a collection name also accepts an alias where Milvus does, resolved
//! once, against one catalog snapshot (or inside the one catalog mutation), so a concurrent
//! `alter_alias` can never make a request see two different collections.

use rivus_schema::{
    validate_name, validate_new_collection, CollectionSchema, CollectionShape, NameKind, Properties,
};

use crate::catalog::{
    CatalogState, CollectionMeta, ConsistencyLevel, DatabaseMeta, LoadState, PartitionMeta,
    DEFAULT_PARTITION,
};
use crate::database::{database, database_mut};
use crate::{Engine, EngineError, Result};

/// A create-collection request.
#[derive(Debug, Clone)]
pub struct CreateCollection {
    /// The name the request asks for (Milvus checks it equals `schema.name`).
    pub name: String,
    pub schema: CollectionSchema,
    pub shards_num: i32,
    pub consistency_level: ConsistencyLevel,
    pub properties: Properties,
    /// Partitions for a partition-key collection (0: Milvus's default of 16).
    pub num_partitions: i64,
}

impl CreateCollection {
    /// A request for `schema` with Milvus's defaults (1 shard, Bounded consistency).
    pub fn new(schema: CollectionSchema) -> Self {
        CreateCollection {
            name: schema.name.clone(),
            schema,
            shards_num: 1,
            consistency_level: ConsistencyLevel::Bounded,
            properties: Properties::new(),
            num_partitions: 0,
        }
    }
}

/// What describe_collection reports.
#[derive(Debug, Clone)]
pub struct CollectionDescription {
    pub collection: CollectionMeta,
    /// Every alias of the collection, sorted.
    pub aliases: Vec<String>,
    pub database: String,
    pub database_id: i64,
}

/// Resolves `name` (a collection or an alias) in `db`: the name is validated first (1100,
/// as the Milvus proxy does), then looked up (100).
pub(crate) fn resolve<'a>(db: &'a DatabaseMeta, name: &str) -> Result<&'a CollectionMeta> {
    let name = validate_name(NameKind::Collection, name)?;
    db.resolve(&name)
        .ok_or_else(|| EngineError::collection_not_found_in(&db.name, name))
}

/// Mutable access to the collection behind `name` (a collection or an alias).
pub(crate) fn resolve_mut<'a>(
    state: &'a mut CatalogState,
    db: &str,
    name: &str,
) -> Result<&'a mut CollectionMeta> {
    let db = database_mut(state, db)?;
    let real = resolve(db, name)?.name().to_string();
    db.collections
        .get_mut(&real)
        .ok_or_else(|| EngineError::Internal(format!("collection {real} vanished")))
}

impl Engine {
    /// Creates a collection. Creating one that exists with the same schema and settings
    /// succeeds (Milvus is idempotent here); with different ones it fails.
    pub fn create_collection(&self, db: &str, request: CreateCollection) -> Result<()> {
        let CreateCollection {
            name,
            mut schema,
            shards_num,
            consistency_level,
            properties,
            num_partitions,
        } = request;
        let limits = self.config().schema_limits;
        let shards_num = if shards_num <= 0 { 1 } else { shards_num };
        let shape = validate_new_collection(
            &name,
            &mut schema,
            CollectionShape {
                shards_num,
                num_partitions,
            },
            &limits,
        )?;
        let max_collections = self.config().max_collections;
        self.catalog().mutate(|state| {
            let total: usize = state.databases.values().map(|d| d.collections.len()).sum();
            let db_meta = database(state, db)?;
            let name = schema.name.clone();
            if db_meta.aliases.contains_key(&name) {
                return Err(EngineError::CollectionNameIsAlias { name });
            }
            if let Some(existing) = db_meta.collections.get(&name) {
                let same = existing.schema == schema
                    && existing.shards_num == shape.shards_num
                    && existing.consistency_level == consistency_level
                    && existing.properties == properties
                    && existing.num_partitions == shape.num_partitions;
                return if same {
                    Ok(())
                } else {
                    Err(EngineError::CollectionAlreadyExists { collection: name })
                };
            }
            if total >= max_collections {
                return Err(EngineError::CollectionLimitExceeded {
                    database: db.to_string(),
                    limit: max_collections,
                });
            }
            let id = state.next_id();
            let created_ts = state.next_ts();
            let partition_names: Vec<String> = if schema.partition_key_field().is_some() {
                (0..shape.num_partitions)
                    .map(|i| format!("{DEFAULT_PARTITION}_{i}"))
                    .collect()
            } else {
                vec![DEFAULT_PARTITION.to_string()]
            };
            let partitions = partition_names
                .into_iter()
                .map(|name| PartitionMeta {
                    id: state.next_id(),
                    name,
                    created_ts,
                    released: false,
                })
                .collect();
            let new = CollectionMeta {
                id,
                schema,
                shards_num: shape.shards_num,
                consistency_level,
                properties,
                num_partitions: shape.num_partitions,
                created_ts,
                load_state: LoadState::NotLoad,
                partitions,
                indexes: Vec::new(),
            };
            database_mut(state, db)?.collections.insert(name, new);
            Ok(())
        })
    }

    /// Drops a collection. A missing collection (or database) succeeds; an alias, or a
    /// collection that still has aliases, is refused (Milvus 2.5.5+).
    pub fn drop_collection(&self, db: &str, name: &str) -> Result<()> {
        let name = name.trim();
        let dropped = self.catalog().mutate(|state| {
            let Some(db_meta) = state.databases.get_mut(db) else {
                return Ok(None);
            };
            if db_meta.aliases.contains_key(name) {
                return Err(EngineError::DropCollectionViaAlias {
                    alias: name.to_string(),
                });
            }
            let Some(collection) = db_meta.collections.get(name) else {
                return Ok(None);
            };
            let aliases = db_meta.aliases_of(collection.id);
            if !aliases.is_empty() {
                return Err(EngineError::CollectionHasAliases {
                    collection: name.to_string(),
                    aliases,
                });
            }
            Ok(db_meta.collections.remove(name).map(|c| c.id))
        })?;
        // The catalog no longer names the collection: its rows are garbage. A crash before
        // this leaves an orphan directory, removed at the next start (see `Engine::open`).
        if let Some(id) = dropped {
            self.destroy_store(id, false)?;
        }
        Ok(())
    }

    /// Whether `name` is a collection or an alias of one in `db`.
    pub fn has_collection(&self, db: &str, name: &str) -> Result<bool> {
        let state = self.catalog().snapshot();
        let name = validate_name(NameKind::Collection, name)?;
        Ok(database(&state, db)?.resolve(&name).is_some())
    }

    /// The collections of `db` in creation order (never aliases).
    pub fn list_collections(&self, db: &str) -> Result<Vec<CollectionMeta>> {
        let state = self.catalog().snapshot();
        let mut list: Vec<CollectionMeta> = database(&state, db)?
            .collections
            .values()
            .cloned()
            .collect();
        list.sort_by_key(|c| c.id);
        Ok(list)
    }

    /// The collection behind `name` (a collection or an alias), with its aliases.
    pub fn describe_collection(&self, db: &str, name: &str) -> Result<CollectionDescription> {
        let state = self.catalog().snapshot();
        let db_meta = database(&state, db)?;
        let collection = resolve(db_meta, name).map_err(|e| {
            if let EngineError::CollectionNotFound { collection, .. } = e {
                EngineError::CannotFindCollection {
                    database: db.to_string(),
                    collection,
                }
            } else {
                e
            }
        })?;
        Ok(CollectionDescription {
            aliases: db_meta.aliases_of(collection.id),
            collection: collection.clone(),
            database: db_meta.name.clone(),
            database_id: db_meta.id,
        })
    }

    /// Renames a collection, possibly into another database (Milvus order of checks:
    /// new name, target database, alias as old name, name taken, old name missing, aliases
    /// on a move across databases). Aliases follow a rename within a database.
    pub fn rename_collection(&self, db: &str, old: &str, new_db: &str, new: &str) -> Result<()> {
        let new = validate_name(NameKind::Collection, new)?;
        let new_db = if new_db.trim().is_empty() {
            db
        } else {
            new_db.trim()
        };
        self.catalog().mutate(|state| {
            let target = state.databases.get(new_db).ok_or_else(|| {
                EngineError::RenameTargetDatabaseNotFound {
                    database: new_db.to_string(),
                }
            })?;
            let source = database(state, db)?;
            if source.aliases.contains_key(old) {
                return Err(EngineError::RenameViaAlias {
                    alias: old.to_string(),
                });
            }
            if target.aliases.contains_key(&new) {
                return Err(EngineError::RenameToAlias { name: new.clone() });
            }
            if target.collections.contains_key(&new) {
                return Err(EngineError::RenameToExistingCollection {
                    database: new_db.to_string(),
                    new_name: new.clone(),
                });
            }
            let collection = source
                .collections
                .get(old)
                .ok_or_else(|| EngineError::collection_not_found_in(db, old))?;
            if new_db != db && !source.aliases_of(collection.id).is_empty() {
                return Err(EngineError::RenameAcrossDatabasesWithAliases);
            }
            let mut moved = database_mut(state, db)?
                .collections
                .remove(old)
                .ok_or_else(|| EngineError::Internal(format!("collection {old} vanished")))?;
            moved.schema.name = new.clone();
            database_mut(state, new_db)?
                .collections
                .insert(new.clone(), moved);
            Ok(())
        })
    }

    /// Sets collection properties (alias accepted), with Milvus's checks on the keys it
    /// interprets.
    pub fn alter_collection_properties(
        &self,
        db: &str,
        name: &str,
        properties: Properties,
    ) -> Result<()> {
        if properties.is_empty() {
            return Err(EngineError::refused(
                "The collection properties to alter and keys to delete must not be empty at the same time",
            ));
        }
        self.catalog().mutate(|state| {
            let collection = resolve_mut(state, db, name)?;
            let loaded = collection.load_state == LoadState::Loaded;
            for (key, value) in properties.iter() {
                check_property(collection.name(), key, value, loaded)?;
            }
            for (key, value) in properties.iter() {
                collection.properties.set(key, value);
            }
            Ok(())
        })
    }

    /// Removes collection properties (alias accepted); absent keys are ignored.
    pub fn drop_collection_properties(&self, db: &str, name: &str, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Err(EngineError::refused(
                "The collection properties to alter and keys to delete must not be empty at the same time",
            ));
        }
        self.catalog().mutate(|state| {
            let collection = resolve_mut(state, db, name)?;
            let loaded = collection.load_state == LoadState::Loaded;
            for key in keys {
                if loaded && MMAP_KEYS.contains(&key.as_str()) {
                    return Err(EngineError::CollectionLoaded {
                        collection: collection.name().to_string(),
                        detail: "can not delete mmap properties if collection loaded".into(),
                    });
                }
                if key == DYNAMIC_FIELD_KEY {
                    return Err(EngineError::invalid(format!(
                        "cannot delete key {DYNAMIC_FIELD_KEY}, dynamic field schema could support set to true/false"
                    )));
                }
            }
            for key in keys {
                collection.properties.remove(key);
            }
            Ok(())
        })
    }

    /// Loads a collection (alias accepted). Every vector field needs an index first, as in
    /// Milvus. Loading a loaded collection succeeds. The load state is persisted.
    pub fn load_collection(&self, db: &str, name: &str) -> Result<()> {
        self.load_partitions(db, name, &[])
    }

    /// Loads some partitions (all of them when `partitions` is empty), on top of those already
    /// loaded. Milvus's rules for loading apply (every vector field indexed).
    pub fn load_partitions(&self, db: &str, name: &str, partitions: &[String]) -> Result<()> {
        self.catalog().mutate(|state| {
            let collection = resolve_mut(state, db, name)?;
            for p in partitions {
                if collection.partition(p).is_none() {
                    return Err(EngineError::PartitionNotFound {
                        partition: p.clone(),
                    });
                }
            }
            if collection.indexes.is_empty() {
                return Err(EngineError::IndexNotFound {
                    key: "collection",
                    value: collection.name().to_string(),
                });
            }
            let unindexed: Vec<&str> = collection
                .schema
                .vector_fields()
                .filter(|f| !collection.indexes.iter().any(|i| i.field_name == f.name))
                .map(|f| f.name.as_str())
                .collect();
            if !unindexed.is_empty() {
                return Err(EngineError::refused(format!(
                    "there is no vector index on field: [{}], please create index firstly",
                    unindexed.join(" ")
                )));
            }
            let was_loaded = collection.load_state == LoadState::Loaded;
            for p in &mut collection.partitions {
                let listed = partitions.is_empty() || partitions.contains(&p.name);
                p.released = !(listed || (was_loaded && !p.released));
            }
            collection.load_state = LoadState::Loaded;
            Ok(())
        })
    }

    /// Releases a collection (alias accepted). Releasing one that is not loaded succeeds.
    pub fn release_collection(&self, db: &str, name: &str) -> Result<()> {
        self.catalog().mutate(|state| {
            let collection = resolve_mut(state, db, name)?;
            collection.load_state = LoadState::NotLoad;
            for p in &mut collection.partitions {
                p.released = false;
            }
            Ok(())
        })
    }

    /// Releases some partitions; releasing the last loaded one releases the collection.
    pub fn release_partitions(&self, db: &str, name: &str, partitions: &[String]) -> Result<()> {
        self.catalog().mutate(|state| {
            let collection = resolve_mut(state, db, name)?;
            for p in partitions {
                if collection.partition(p).is_none() {
                    return Err(EngineError::PartitionNotFound {
                        partition: p.clone(),
                    });
                }
            }
            if collection.load_state != LoadState::Loaded {
                return Ok(());
            }
            for p in &mut collection.partitions {
                if partitions.contains(&p.name) {
                    p.released = true;
                }
            }
            if collection.partitions.iter().all(|p| p.released) {
                collection.load_state = LoadState::NotLoad;
                for p in &mut collection.partitions {
                    p.released = false;
                }
            }
            Ok(())
        })
    }

    /// The load state of a collection (alias accepted): `NotExist` for a missing collection,
    /// as Milvus answers; partitions, when given, must exist.
    pub fn load_state(&self, db: &str, name: &str, partitions: &[String]) -> Result<LoadState> {
        let state = self.catalog().snapshot();
        let collection = match resolve(database(&state, db)?, name) {
            Ok(c) => c,
            Err(EngineError::CollectionNotFound { .. }) => return Ok(LoadState::NotExist),
            Err(e) => return Err(e),
        };
        for p in partitions {
            match collection.partition(p) {
                None => {
                    return Err(EngineError::PartitionNotFound {
                        partition: p.clone(),
                    })
                }
                Some(meta) if meta.released => return Ok(LoadState::NotLoad),
                Some(_) => {}
            }
        }
        Ok(collection.load_state)
    }

    /// Number of live rows of a collection (alias accepted): deletes are subtracted at once.
    pub fn collection_row_count(&self, db: &str, name: &str) -> Result<u64> {
        self.row_count(db, name)
    }
}

/// Properties that cannot change while a collection is loaded.
const MMAP_KEYS: [&str; 2] = ["mmap.enabled", "lazyload.enabled"];
/// The dynamic-field switch, only settable to true.
const DYNAMIC_FIELD_KEY: &str = "dynamicfield.enabled";
/// Collection TTL in seconds.
const TTL_KEY: &str = "collection.ttl.seconds";

/// Milvus's checks on collection property values it interprets (proxy `alterCollectionTask`).
fn check_property(collection: &str, key: &str, value: &str, loaded: bool) -> Result<()> {
    if loaded && MMAP_KEYS.contains(&key) {
        return Err(EngineError::CollectionLoaded {
            collection: collection.to_string(),
            detail: "can not alter mmap properties if collection loaded".into(),
        });
    }
    if key == DYNAMIC_FIELD_KEY && !value.eq_ignore_ascii_case("true") {
        return Err(EngineError::invalid(
            "dynamic schema cannot supported to be disabled",
        ));
    }
    if key == TTL_KEY {
        let ttl: i64 = value
            .trim()
            .parse()
            .map_err(|_| EngineError::invalid("collection TTL is not a valid positive integer"))?;
        if !(-1..=3_155_760_000).contains(&ttl) {
            return Err(EngineError::invalid(format!(
                "collection TTL is out of range, expect [-1, 3155760000], got {ttl}"
            )));
        }
    }
    Ok(())
}
