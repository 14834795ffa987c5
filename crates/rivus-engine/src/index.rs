//! Index declarations: create, describe, drop.
//!
//! The catalog records which index the user asked for on which field, with Milvus's checks
//! (known index types, metric types per vector type, one index per field, default names).
//! Index types that rivus will not build are refused here, by name, rather than accepted and
//! served another way. Building indexes over rows belongs to the data plane; a collection
//! without rows has nothing to build, so its indexes report as finished with 0 rows.

use rivus_schema::{DataType, FieldSchema, Properties};

use crate::catalog::{IndexMeta, LoadState};
use crate::collection::{resolve, resolve_mut};
use crate::database::database;
use crate::{Engine, EngineError, Result};

/// A create-index request.
#[derive(Debug, Clone, Default)]
pub struct CreateIndex {
    pub field_name: String,
    /// Empty: the field's name (Milvus's default).
    pub index_name: String,
    /// `index_type`, `metric_type` and build parameters, flattened as Milvus stores them.
    pub params: Properties,
}

const INDEX_TYPE: &str = "index_type";
const METRIC_TYPE: &str = "metric_type";
const AUTOINDEX: &str = "AUTOINDEX";

/// Index types rivus builds (or will build with vector search) per kind of field.
const FLOAT_INDEXES: &[&str] = &["FLAT", "IVF_FLAT", "IVF_SQ8", "IVF_PQ", "HNSW", "HNSW_SQ"];
const BINARY_INDEXES: &[&str] = &["BIN_FLAT", "BIN_IVF_FLAT"];
const SPARSE_INDEXES: &[&str] = &["SPARSE_INVERTED_INDEX"];
const SCALAR_INDEXES: &[&str] = &["INVERTED", "STL_SORT", "BITMAP", "Trie"];
/// Index types Milvus has that rivus does not build: refused by name.
const MILVUS_ONLY_INDEXES: &[&str] = &[
    "DISKANN",
    "SCANN",
    "IVF_RABITQ",
    "HNSW_PQ",
    "HNSW_PRQ",
    "IVF_SQ_CC",
    "SPARSE_WAND",
    "GPU_IVF_FLAT",
    "GPU_IVF_PQ",
    "GPU_CAGRA",
    "GPU_BRUTE_FORCE",
    "MINHASH_LSH",
    "NGRAM",
    "RTREE",
    "MINHASH",
];

fn metrics_for(data_type: DataType) -> &'static [&'static str] {
    match data_type {
        DataType::FloatVector
        | DataType::Float16Vector
        | DataType::BFloat16Vector
        | DataType::Int8Vector => &["L2", "IP", "COSINE"],
        DataType::BinaryVector => &["HAMMING", "JACCARD", "SUBSTRUCTURE", "SUPERSTRUCTURE"],
        DataType::SparseFloatVector => &["IP", "BM25"],
        DataType::Bool
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Float
        | DataType::Double
        | DataType::VarChar
        | DataType::Array
        | DataType::Json => &[],
    }
}

fn default_metric(field: &FieldSchema) -> &'static str {
    if field.data_type == DataType::BinaryVector {
        "HAMMING"
    } else if field.data_type == DataType::SparseFloatVector {
        if field.is_function_output {
            "BM25"
        } else {
            "IP"
        }
    } else {
        "COSINE"
    }
}

fn invalid_index_params(detail: String) -> EngineError {
    EngineError::InvalidParameterExpected {
        detail: Some(detail),
        expected: "valid index params".into(),
        actual: "invalid index params".into(),
    }
}

/// Milvus's index-name rule (proxy `validateIndexName`); plain errors.
fn check_index_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Ok(());
    }
    let invalid = format!("Invalid index name: {name}. ");
    let bytes = name.as_bytes();
    if bytes.len() > rivus_schema::MAX_NAME_LENGTH {
        return Err(EngineError::refused(format!(
            "{invalid}The length of a index name must be less than {} characters.",
            rivus_schema::MAX_NAME_LENGTH
        )));
    }
    let first = bytes.first().copied().unwrap_or(b'_');
    if first != b'_' && !first.is_ascii_alphabetic() {
        return Err(EngineError::refused(format!(
            "{invalid}The first character of a index name must be an underscore or letter."
        )));
    }
    if bytes
        .iter()
        .any(|&c| c != b'_' && !c.is_ascii_alphanumeric())
    {
        return Err(EngineError::refused(format!(
            "{invalid}Index name cannot only contain numbers, letters, and underscores."
        )));
    }
    Ok(())
}

/// Checks the requested parameters against the field and returns what is stored.
fn checked_params(field: &FieldSchema, params: &Properties) -> Result<Properties> {
    let index_type = params.get(INDEX_TYPE).unwrap_or(AUTOINDEX);
    let type_name = field.data_type.milvus_name();
    if index_type == AUTOINDEX || index_type.is_empty() {
        if field.data_type.is_vector() {
            if params
                .iter()
                .any(|(k, _)| k != INDEX_TYPE && k != METRIC_TYPE)
            {
                return Err(EngineError::refused(
                    "only metric type can be passed when use AutoIndex",
                ));
            }
            let metric = params
                .get(METRIC_TYPE)
                .unwrap_or_else(|| default_metric(field));
            if !metrics_for(field.data_type).contains(&metric) {
                return Err(invalid_index_params(format!(
                    "{} index does not support metric type: {metric}",
                    vector_kind(field.data_type)
                )));
            }
            let mut stored = Properties::new();
            stored.set(INDEX_TYPE, AUTOINDEX);
            stored.set(METRIC_TYPE, metric);
            return Ok(stored);
        }
        if matches!(field.data_type, DataType::Json | DataType::Array) {
            return Err(EngineError::InvalidParameterExpected {
                detail: None,
                expected: "supported field".into(),
                actual: format!("create auto index on {type_name} field is not supported"),
            });
        }
        let mut stored = params.clone();
        stored.set(INDEX_TYPE, AUTOINDEX);
        return Ok(stored);
    }
    if MILVUS_ONLY_INDEXES.contains(&index_type) {
        return Err(EngineError::unsupported(format!(
            "index type {index_type} is not supported by rivus yet (supported: {}, {}, {}, {}, AUTOINDEX)",
            FLOAT_INDEXES.join(", "),
            BINARY_INDEXES.join(", "),
            SPARSE_INDEXES.join(", "),
            SCALAR_INDEXES.join(", ")
        )));
    }
    let allowed: &[&str] = if field.data_type == DataType::BinaryVector {
        BINARY_INDEXES
    } else if field.data_type == DataType::SparseFloatVector {
        SPARSE_INDEXES
    } else if field.data_type.is_vector() {
        FLOAT_INDEXES
    } else {
        SCALAR_INDEXES
    };
    let known = FLOAT_INDEXES
        .iter()
        .chain(BINARY_INDEXES)
        .chain(SPARSE_INDEXES)
        .chain(SCALAR_INDEXES)
        .any(|t| *t == index_type);
    if !known {
        return Err(EngineError::InvalidParameterExpected {
            detail: None,
            expected: "valid index".into(),
            actual: format!("invalid index type: {index_type}"),
        });
    }
    if !allowed.contains(&index_type) {
        return Err(invalid_index_params(format!(
            "data type {type_name} can't build with this index {index_type}"
        )));
    }
    if field.data_type.is_vector() {
        let Some(metric) = params.get(METRIC_TYPE) else {
            return Err(invalid_index_params(
                "metric type not set for vector index".into(),
            ));
        };
        if !metrics_for(field.data_type).contains(&metric) {
            if field.data_type == DataType::SparseFloatVector {
                return Err(invalid_index_params(
                    "only IP is the supported metric type for sparse index".into(),
                ));
            }
            return Err(invalid_index_params(format!(
                "{} index does not support metric type: {metric}",
                vector_kind(field.data_type)
            )));
        }
    }
    Ok(params.clone())
}

fn vector_kind(data_type: DataType) -> &'static str {
    if data_type == DataType::BinaryVector {
        "binary vector"
    } else if data_type == DataType::SparseFloatVector {
        "sparse vector"
    } else {
        "float vector"
    }
}

impl Engine {
    /// Declares an index (alias accepted). Re-declaring the same index succeeds.
    pub fn create_index(&self, db: &str, collection: &str, request: CreateIndex) -> Result<()> {
        let CreateIndex {
            field_name,
            index_name,
            params,
        } = request;
        let index_name = index_name.trim().to_string();
        self.catalog()
            .mutate(|state| {
                let id = state.next_id();
                let created_ts = state.next_ts();
                let meta = resolve_mut(state, db, collection)?;
                check_index_name(&index_name)?;
                let field = meta.schema.field(&field_name).ok_or_else(|| {
                    EngineError::refused(format!(
                        "cannot create index on non-exist field: {field_name}"
                    ))
                })?;
                let stored = checked_params(field, &params)?;
                let on_field = meta.indexes.iter().find(|i| i.field_name == field_name);
                let index_name = match (index_name.is_empty(), on_field) {
                    (true, Some(existing)) => existing.index_name.clone(),
                    (true, None) => field_name.clone(),
                    (false, _) => index_name,
                };
                if let Some(existing) = meta.indexes.iter().find(|i| i.index_name == index_name) {
                    if existing.field_name == field_name && existing.params == stored {
                        return Ok(false);
                    }
                    return Err(EngineError::refused(
                        "CreateIndex failed: at most one distinct index is allowed per field",
                    ));
                }
                if on_field.is_some() {
                    return Err(EngineError::refused(
                    "CreateIndex failed: creating multiple indexes on same field is not supported",
                ));
                }
                meta.indexes.push(IndexMeta {
                    id,
                    index_name,
                    field_name,
                    params: stored,
                    created_ts,
                });
                Ok(true)
            })?;
        self.refresh_indexes(db, collection)
    }

    /// The indexes of a collection (alias accepted), optionally only the one named
    /// `index_name` and/or on `field_name`. None found is Milvus's 700 error.
    pub fn describe_index(
        &self,
        db: &str,
        collection: &str,
        index_name: &str,
        field_name: &str,
    ) -> Result<Vec<IndexMeta>> {
        let state = self.catalog().snapshot();
        let meta = resolve(database(&state, db)?, collection)?;
        let found: Vec<IndexMeta> = meta
            .indexes
            .iter()
            .filter(|i| index_name.is_empty() || i.index_name == index_name)
            .filter(|i| field_name.is_empty() || i.field_name == field_name)
            .cloned()
            .collect();
        if found.is_empty() {
            return Err(if index_name.is_empty() {
                EngineError::IndexNotFound {
                    key: "collection",
                    value: meta.name().to_string(),
                }
            } else {
                EngineError::IndexNotFound {
                    key: "indexName",
                    value: index_name.to_string(),
                }
            });
        }
        Ok(found)
    }

    /// Drops an index (alias accepted). A missing index succeeds; a loaded collection refuses.
    pub fn drop_index(
        &self,
        db: &str,
        collection: &str,
        index_name: &str,
        field_name: &str,
    ) -> Result<()> {
        self.catalog().mutate(|state| {
            let meta = resolve_mut(state, db, collection)?;
            if meta.load_state == LoadState::Loaded {
                return Err(EngineError::refused(
                    "index cannot be dropped, collection is loaded, please release it first",
                ));
            }
            meta.indexes.retain(|i| {
                let name_matches = if index_name.is_empty() {
                    i.field_name == field_name
                } else {
                    i.index_name == index_name
                };
                !name_matches
            });
            Ok(())
        })?;
        self.refresh_indexes(db, collection)
    }
}
