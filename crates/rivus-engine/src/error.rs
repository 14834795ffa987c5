//! Engine errors. Each variant is one Milvus error category; `Display` prints the exact text
//! Milvus puts in `Status.reason` (formats from `milvus-io/milvus:pkg/util/merr/utils.go` and
//! the rootcoord/proxy tasks cited per variant), so embedded and gRPC users read the same
//! message. `rivus-server/src/status.rs` maps each variant to its Milvus code.

use rivus_schema::SchemaError;
use rivus_storage::StorageError;

/// Result of an engine call.
pub type Result<T> = std::result::Result<T, EngineError>;

/// Why an engine call failed. "User" variants are the caller's fault, "ours" are the server's.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// User: a name or schema Milvus would refuse.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// User: merr `ErrParameterInvalid` (1100) with a detail.
    #[error("{detail}: invalid parameter")]
    InvalidParameter { detail: String },
    /// User: merr `ErrParameterInvalid` (1100) as built by `WrapErrParameterInvalid(expected,
    /// actual)`, optionally prefixed by a detail.
    #[error(
        "{}invalid parameter[expected={expected}][actual={actual}]",
        detail.as_deref().map(|d| format!("{d}: ")).unwrap_or_default()
    )]
    InvalidParameterExpected {
        detail: Option<String>,
        expected: String,
        actual: String,
    },
    /// User: the database does not exist (800).
    #[error("database not found[database={database}]")]
    DatabaseNotFound { database: String },
    /// User: creating a database that exists (plain error in rootcoord `create_db_task.go`).
    #[error("database already exist: {database}")]
    DatabaseAlreadyExists { database: String },
    /// User: too many databases (801).
    #[error("exceeded the limit number of database[limit={limit}]")]
    DatabaseLimitExceeded { limit: usize },
    /// User: the `default` database cannot be dropped (rootcoord `drop_db_task.go`).
    #[error("can not drop default database")]
    DefaultDatabaseUndroppable,
    /// User: dropping a database that still holds collections (rootcoord `drop_db_task.go`).
    #[error("{detail}")]
    DatabaseNotEmpty { detail: String },
    /// User: the collection does not exist (100). `database` is printed when Milvus prints it.
    #[error(
        "collection not found{db}[collection={collection}]",
        db = database.as_deref().map(|d| format!("[database={d}]")).unwrap_or_default()
    )]
    CollectionNotFound {
        database: Option<String>,
        collection: String,
    },
    /// User: describe_collection of a missing collection (code 100; the Milvus proxy rewrites
    /// the reason this way in `describeCollectionTask.Execute`).
    #[error("can't find collection[database={database}][collection={collection}]")]
    CannotFindCollection {
        database: String,
        collection: String,
    },
    /// User: a collection of this name exists with a different schema (rootcoord
    /// `create_collection_task.go`, plain error).
    #[error("create duplicate collection with different parameters, collection: {collection}")]
    CollectionAlreadyExists { collection: String },
    /// User: too many collections (102).
    #[error("exceeded the limit number of collections[dbName={database}][limit={limit}]")]
    CollectionLimitExceeded { database: String, limit: usize },
    /// User: a new collection takes the name of an alias (plain error).
    #[error(
        "collection name [{name}] conflicts with an existing alias, please choose a unique name"
    )]
    CollectionNameIsAlias { name: String },
    /// User: the alias does not exist (1600).
    #[error("alias not found[database={database}][alias={alias}]")]
    AliasNotFound { database: String, alias: String },
    /// User: an alias with a collection's name (1601).
    #[error("alias and collection name conflict[database={database}][alias={alias}]")]
    AliasCollectionNameConflict { database: String, alias: String },
    /// User: create_alias of an alias that points at another collection (1602).
    #[error("{alias} is alias to another collection: {collection}: alias already exist[database={database}][alias={alias}]")]
    AliasAlreadyExists {
        database: String,
        alias: String,
        collection: String,
    },
    /// User: drop_collection given an alias (plain error, `drop_collection_task.go`).
    #[error("cannot drop the collection via alias = {alias}")]
    DropCollectionViaAlias { alias: String },
    /// User: drop_collection of a collection that still has aliases (plain error, 2.5.5+).
    #[error(
        "unable to drop the collection [{collection}] because it has associated aliases [{}], please remove all aliases before dropping the collection",
        aliases.join(" ")
    )]
    CollectionHasAliases {
        collection: String,
        aliases: Vec<String>,
    },
    /// User: rename_collection given an alias as the old name.
    #[error("unsupported use an alias to rename collection, alias:{alias}: invalid parameter")]
    RenameViaAlias { alias: String },
    /// User: rename_collection onto an alias name (plain error).
    #[error("cannot rename collection to an existing alias: {name}")]
    RenameToAlias { name: String },
    /// User: rename_collection onto an existing collection (plain error).
    #[error(
        "duplicated new collection name {database}:{new_name} with other collection name or alias"
    )]
    RenameToExistingCollection { database: String, new_name: String },
    /// User: rename_collection into a database that does not exist (plain error).
    #[error("target database:{database} not found")]
    RenameTargetDatabaseNotFound { database: String },
    /// User: a change refused because the collection is loaded (104).
    #[error("{detail}: collection already loaded[collection={collection}]")]
    CollectionLoaded { collection: String, detail: String },
    /// User: a request Milvus refuses with a plain error (code 65535); the text is Milvus's.
    #[error("{message}")]
    Refused { message: String },
    /// User: moving a collection with aliases to another database (plain error).
    #[error("fail to rename db name, must drop all aliases of this collection before rename")]
    RenameAcrossDatabasesWithAliases,
    /// User: a group-by field that is not in the schema (1700).
    #[error("groupBy field not found in schema: field not found[field={field}]")]
    GroupByFieldNotFound { field: String },
    /// User: the partition does not exist (200).
    #[error("partition not found[partition={partition}]")]
    PartitionNotFound { partition: String },

    /// User: the index does not exist (700).
    #[error("index not found[{key}={value}]")]
    IndexNotFound { key: &'static str, value: String },

    /// User: the collection is not loaded (101).
    #[error("collection not loaded[collection={collection}]")]
    CollectionNotLoaded { collection: String },
    /// User: a query on a collection that is not loaded (101, proxy query task wording).
    #[error("failed to query: collection not loaded[collection={collection}]")]
    QueryNotLoaded { collection: i64 },
    /// User: a query on a released partition (201).
    #[error("partition not loaded[partition={partition}]")]
    PartitionNotLoaded { partition: String },
    /// User: a feature rivus does not have yet; refused instead of silently ignored (Milvus
    /// code 3000, "unsupported operation").
    #[error("{what}: unsupported operation")]
    Unsupported { what: String },
    /// Ours: the disk failed us or a file is corrupt.
    #[error("service internal error: {0}")]
    Storage(#[from] StorageError),
    /// Ours: a catalog write failed earlier; changes are refused until restart.
    #[error("service internal error: the catalog could not be written earlier; restart rivus after fixing the disk")]
    Poisoned,
    /// Ours: a bug or an impossible state.
    #[error("service internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// A 1100 error with the given detail.
    pub fn invalid(detail: impl Into<String>) -> Self {
        EngineError::InvalidParameter {
            detail: detail.into(),
        }
    }

    /// Collection not found, printed without the database (Milvus proxy form).
    pub fn collection_not_found(collection: impl Into<String>) -> Self {
        EngineError::CollectionNotFound {
            database: None,
            collection: collection.into(),
        }
    }

    /// Collection not found, printed with the database (Milvus rootcoord form).
    pub fn collection_not_found_in(database: &str, collection: impl Into<String>) -> Self {
        EngineError::CollectionNotFound {
            database: Some(database.to_string()),
            collection: collection.into(),
        }
    }

    /// A plain Milvus error (65535) with Milvus's text.
    pub fn refused(message: impl Into<String>) -> Self {
        EngineError::Refused {
            message: message.into(),
        }
    }

    /// A feature rivus refuses for now.
    pub fn unsupported(what: impl Into<String>) -> Self {
        EngineError::Unsupported { what: what.into() }
    }
}
