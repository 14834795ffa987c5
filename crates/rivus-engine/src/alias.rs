//! Collection aliases, with Milvus 2.5/2.6 semantics (`internal/rootcoord/meta_table.go`
//! `CheckIfAliasCreatable` / `CheckIfAliasAlterable` / `DescribeAlias` / `ListAliases`, and
//! the proxy's name validation). The specification is `shared/design/alias-semantics.md`.
//!
//! Rules kept here:
//! - An alias names exactly one collection of its database; a collection may have many.
//! - Alias names and collection names of a database never overlap.
//! - An alias targets a collection *name*: an alias of an alias is "collection not found".
//! - Aliases point at collection ids, so they follow a rename.
//! - Every change is one catalog mutation: after `alter_alias` returns, every request sees
//!   the new target; no request ever sees a half-moved alias.

use rivus_schema::{validate_name, NameKind};

use crate::catalog::DatabaseMeta;
use crate::database::{database, database_mut};
use crate::{Engine, EngineError, Result};

/// The checks create_alias and alter_alias share, in Milvus's order: the alias must not be a
/// collection's name (1601), the target must be a collection name (100; `missing` words the
/// error as each RPC does). Returns the target's id.
fn alias_target(
    db_meta: &DatabaseMeta,
    alias: &str,
    collection: &str,
    missing: impl FnOnce() -> EngineError,
) -> Result<i64> {
    if db_meta.collections.contains_key(alias) {
        return Err(EngineError::AliasCollectionNameConflict {
            database: db_meta.name.clone(),
            alias: alias.to_string(),
        });
    }
    db_meta
        .collections
        .get(collection)
        .map(|c| c.id)
        .ok_or_else(missing)
}

impl Engine {
    /// Creates `alias` for `collection`. Re-creating an alias for the same collection
    /// succeeds; for another collection it fails with 1602.
    pub fn create_alias(&self, db: &str, alias: &str, collection: &str) -> Result<()> {
        let alias = validate_name(NameKind::Alias, alias)?;
        let collection = validate_name(NameKind::Collection, collection)?;
        self.catalog().mutate(|state| {
            let db_meta = database_mut(state, db)?;
            let target_id = alias_target(db_meta, &alias, &collection, || {
                EngineError::collection_not_found_in(db, collection.clone())
            })?;
            if let Some(&current) = db_meta.aliases.get(&alias) {
                if current == target_id {
                    return Ok(());
                }
                let current_name = db_meta
                    .collection_by_id(current)
                    .map(|c| c.name().to_string())
                    .unwrap_or_default();
                return Err(EngineError::AliasAlreadyExists {
                    database: db.to_string(),
                    alias,
                    collection: current_name,
                });
            }
            db_meta.aliases.insert(alias, target_id);
            Ok(())
        })
    }

    /// Re-points an existing `alias` to `collection`, atomically.
    pub fn alter_alias(&self, db: &str, alias: &str, collection: &str) -> Result<()> {
        let alias = validate_name(NameKind::Alias, alias)?;
        let collection = validate_name(NameKind::Collection, collection)?;
        self.catalog().mutate(|state| {
            let db_meta = database_mut(state, db)?;
            let target_id = alias_target(db_meta, &alias, &collection, || {
                EngineError::collection_not_found(collection.clone())
            })?;
            let Some(slot) = db_meta.aliases.get_mut(&alias) else {
                return Err(EngineError::AliasNotFound {
                    database: db.to_string(),
                    alias,
                });
            };
            *slot = target_id;
            Ok(())
        })
    }

    /// Drops `alias`. Dropping an alias that does not exist succeeds (Milvus does not even
    /// validate the name here).
    pub fn drop_alias(&self, db: &str, alias: &str) -> Result<()> {
        let alias = alias.trim();
        self.catalog().mutate(|state| {
            database_mut(state, db)?.aliases.remove(alias);
            Ok(())
        })
    }

    /// The name of the collection `alias` points to.
    pub fn describe_alias(&self, db: &str, alias: &str) -> Result<String> {
        let alias = validate_name(NameKind::Alias, alias)?;
        let state = self.catalog().snapshot();
        let db_meta = database(&state, db)?;
        db_meta
            .aliases
            .get(&alias)
            .and_then(|id| db_meta.collection_by_id(*id))
            .map(|c| c.name().to_string())
            .ok_or(EngineError::AliasNotFound {
                database: db.to_string(),
                alias,
            })
    }

    /// The aliases of `collection` (a collection name, not an alias), or of every collection
    /// of the database when `collection` is empty; sorted by name.
    pub fn list_aliases(&self, db: &str, collection: &str) -> Result<Vec<String>> {
        let collection = if collection.is_empty() {
            None
        } else {
            Some(validate_name(NameKind::Collection, collection)?)
        };
        let state = self.catalog().snapshot();
        let db_meta = database(&state, db)?;
        match collection {
            None => Ok(db_meta.aliases.keys().cloned().collect()),
            Some(name) => {
                let target = db_meta
                    .collections
                    .get(&name)
                    .ok_or_else(|| EngineError::collection_not_found(name))?;
                Ok(db_meta.aliases_of(target.id))
            }
        }
    }
}
