//! Catalog changes: the records of the catalog log.
//!
//! A mutation is persisted as the list of entity-level differences between the state before
//! and after it ([`diff`]), appended as one log record, so a record is applied whole or not at
//! all. [`apply`] replays a record at startup. Changes are "puts" of whole entities and
//! removals, so their cost is proportional to what changed, not to the catalog's size.

use std::collections::BTreeMap;

use rivus_schema::Properties;
use serde::{Deserialize, Serialize};

use super::{CatalogState, CollectionMeta, DatabaseMeta};

/// One entity-level change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CatalogChange {
    LastTs(u64),
    /// Creates a database (empty) or updates its header, keeping its contents.
    PutDatabase {
        name: String,
        id: i64,
        created_ts: u64,
        properties: Properties,
    },
    DropDatabase {
        name: String,
    },
    PutCollection {
        db: String,
        meta: Box<CollectionMeta>,
    },
    DropCollection {
        db: String,
        name: String,
    },
    PutAlias {
        db: String,
        alias: String,
        collection_id: i64,
    },
    DropAlias {
        db: String,
        alias: String,
    },
}

fn header_differs(a: &DatabaseMeta, b: &DatabaseMeta) -> bool {
    a.id != b.id || a.created_ts != b.created_ts || a.properties != b.properties
}

fn diff_map<V: PartialEq>(
    before: Option<&BTreeMap<String, V>>,
    after: &BTreeMap<String, V>,
    mut removed: impl FnMut(&str),
    mut put: impl FnMut(&str, &V),
) {
    let empty = BTreeMap::new();
    let before = before.unwrap_or(&empty);
    for name in before.keys().filter(|k| !after.contains_key(*k)) {
        removed(name);
    }
    for (name, value) in after {
        if before.get(name) != Some(value) {
            put(name, value);
        }
    }
}

/// The changes that turn `before` into `after`, in an order [`apply`] can replay.
pub fn diff(before: &CatalogState, after: &CatalogState) -> Vec<CatalogChange> {
    let mut changes = Vec::new();
    if before.last_ts != after.last_ts {
        changes.push(CatalogChange::LastTs(after.last_ts));
    }
    for name in before
        .databases
        .keys()
        .filter(|k| !after.databases.contains_key(*k))
    {
        changes.push(CatalogChange::DropDatabase { name: name.clone() });
    }
    for (name, db) in &after.databases {
        let old = before.databases.get(name);
        if old.is_none_or(|o| header_differs(o, db)) {
            changes.push(CatalogChange::PutDatabase {
                name: name.clone(),
                id: db.id,
                created_ts: db.created_ts,
                properties: db.properties.clone(),
            });
        }
        // Removals first: a rename drops the old name before putting the new one.
        let mut puts = Vec::new();
        diff_map(
            old.map(|o| &o.aliases),
            &db.aliases,
            |alias| {
                changes.push(CatalogChange::DropAlias {
                    db: name.clone(),
                    alias: alias.into(),
                })
            },
            |alias, id| {
                puts.push(CatalogChange::PutAlias {
                    db: name.clone(),
                    alias: alias.into(),
                    collection_id: *id,
                })
            },
        );
        diff_map(
            old.map(|o| &o.collections),
            &db.collections,
            |coll| {
                changes.push(CatalogChange::DropCollection {
                    db: name.clone(),
                    name: coll.into(),
                })
            },
            |_, meta| {
                puts.push(CatalogChange::PutCollection {
                    db: name.clone(),
                    meta: Box::new(meta.clone()),
                })
            },
        );
        changes.extend(puts);
    }
    changes
}

/// Applies one change; an impossible change (into a missing database) is an error message.
pub fn apply(state: &mut CatalogState, change: CatalogChange) -> Result<(), String> {
    fn db_mut<'a>(state: &'a mut CatalogState, db: &str) -> Result<&'a mut DatabaseMeta, String> {
        state
            .databases
            .get_mut(db)
            .ok_or_else(|| format!("change refers to missing database {db}"))
    }
    match change {
        CatalogChange::LastTs(ts) => state.last_ts = ts,
        CatalogChange::PutDatabase {
            name,
            id,
            created_ts,
            properties,
        } => {
            let entry = state
                .databases
                .entry(name.clone())
                .or_insert_with(|| DatabaseMeta {
                    id,
                    name,
                    created_ts,
                    properties: Properties::new(),
                    collections: BTreeMap::new(),
                    aliases: BTreeMap::new(),
                });
            entry.id = id;
            entry.created_ts = created_ts;
            entry.properties = properties;
        }
        CatalogChange::DropDatabase { name } => {
            state.databases.remove(&name);
        }
        CatalogChange::PutCollection { db, meta } => {
            db_mut(state, &db)?
                .collections
                .insert(meta.name().to_string(), *meta);
        }
        CatalogChange::DropCollection { db, name } => {
            db_mut(state, &db)?.collections.remove(&name);
        }
        CatalogChange::PutAlias {
            db,
            alias,
            collection_id,
        } => {
            db_mut(state, &db)?.aliases.insert(alias, collection_id);
        }
        CatalogChange::DropAlias { db, alias } => {
            db_mut(state, &db)?.aliases.remove(&alias);
        }
    }
    Ok(())
}
