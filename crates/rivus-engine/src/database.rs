//! Databases: create, drop, list, describe, properties.

use rivus_schema::{validate_name, NameKind, Properties};

use crate::catalog::{CatalogState, DatabaseMeta, DEFAULT_DATABASE};
use crate::{Engine, EngineError, Result};

/// What describe/list report about a database.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseInfo {
    pub id: i64,
    pub name: String,
    /// Hybrid timestamp of creation.
    pub created_ts: u64,
    pub properties: Properties,
}

impl DatabaseInfo {
    fn of(db: &DatabaseMeta) -> Self {
        DatabaseInfo {
            id: db.id,
            name: db.name.clone(),
            created_ts: db.created_ts,
            properties: db.properties.clone(),
        }
    }
}

/// The database called `name`, or Milvus's 800 error.
pub(crate) fn database<'a>(state: &'a CatalogState, name: &str) -> Result<&'a DatabaseMeta> {
    state
        .databases
        .get(name)
        .ok_or_else(|| EngineError::DatabaseNotFound {
            database: name.to_string(),
        })
}

/// Mutable access to the database called `name`, or Milvus's 800 error.
pub(crate) fn database_mut<'a>(
    state: &'a mut CatalogState,
    name: &str,
) -> Result<&'a mut DatabaseMeta> {
    state
        .databases
        .get_mut(name)
        .ok_or_else(|| EngineError::DatabaseNotFound {
            database: name.to_string(),
        })
}

impl Engine {
    /// Creates a database. Fails if the name is invalid, taken, or the limit is reached.
    pub fn create_database(&self, name: &str, properties: Properties) -> Result<()> {
        let name = validate_name(NameKind::Database, name)?;
        let limit = self.config().max_databases;
        self.catalog().mutate(|state| {
            // Milvus checks the limit before the name (rootcoord `createDatabaseTask.Prepare`).
            if state.databases.len() >= limit {
                return Err(EngineError::DatabaseLimitExceeded { limit });
            }
            if state.databases.contains_key(&name) {
                return Err(EngineError::DatabaseAlreadyExists {
                    database: name.clone(),
                });
            }
            let id = state.next_id();
            let created_ts = state.next_ts();
            state.databases.insert(
                name.clone(),
                DatabaseMeta {
                    id,
                    name: name.clone(),
                    created_ts,
                    properties,
                    collections: Default::default(),
                    aliases: Default::default(),
                },
            );
            Ok(())
        })
    }

    /// Drops an empty database. Dropping a missing one succeeds (Milvus is idempotent);
    /// `default` and databases that hold collections are refused.
    pub fn drop_database(&self, name: &str) -> Result<()> {
        let name = validate_name(NameKind::Database, name)?;
        let name = name.as_str();
        if name == DEFAULT_DATABASE {
            return Err(EngineError::DefaultDatabaseUndroppable);
        }
        self.catalog().mutate(|state| {
            let Some(db) = state.databases.get(name) else {
                return Ok(());
            };
            if !db.collections.is_empty() {
                return Err(EngineError::DatabaseNotEmpty {
                    detail: format!(
                        "database:{name} not empty, must drop all collections before drop database"
                    ),
                });
            }
            state.databases.remove(name);
            Ok(())
        })
    }

    /// Every database, `default` first, then in creation order.
    pub fn list_databases(&self) -> Vec<DatabaseInfo> {
        let state = self.catalog().snapshot();
        let mut dbs: Vec<DatabaseInfo> = state.databases.values().map(DatabaseInfo::of).collect();
        dbs.sort_by_key(|d| (d.name != DEFAULT_DATABASE, d.created_ts));
        dbs
    }

    /// One database.
    pub fn describe_database(&self, name: &str) -> Result<DatabaseInfo> {
        let state = self.catalog().snapshot();
        database(&state, name).map(DatabaseInfo::of)
    }

    /// Sets (adds or replaces) database properties.
    pub fn alter_database_properties(&self, name: &str, properties: Properties) -> Result<()> {
        self.catalog().mutate(|state| {
            let db = database_mut(state, name)?;
            for (k, v) in properties.iter() {
                db.properties.set(k, v);
            }
            Ok(())
        })
    }

    /// Removes database properties; absent keys are ignored.
    pub fn drop_database_properties(&self, name: &str, keys: &[String]) -> Result<()> {
        self.catalog().mutate(|state| {
            let db = database_mut(state, name)?;
            for key in keys {
                db.properties.remove(key);
            }
            Ok(())
        })
    }
}
