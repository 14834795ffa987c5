//! Field schemas.

use serde::{Deserialize, Serialize};

use crate::{DataType, Properties, ScalarValue};

/// Id of the first user field; Milvus reserves 0 (row id) and 1 (timestamp) and numbers user
/// fields from 100 (`common.StartOfUserFieldID`).
pub const START_OF_USER_FIELD_ID: i64 = 100;

/// `type_params` key of a dense vector's dimension.
pub const DIM_KEY: &str = "dim";
/// `type_params` key of a VARCHAR's maximum length in bytes.
pub const MAX_LENGTH_KEY: &str = "max_length";
/// `type_params` key of an ARRAY's maximum number of elements.
pub const MAX_CAPACITY_KEY: &str = "max_capacity";

/// One field of a collection, as persisted and as returned by describe_collection.
///
/// `type_params` and `index_params` are kept verbatim (key order included) so that a schema
/// round-trips through pymilvus unchanged; the typed accessors read the keys rivus interprets,
/// whose values [`crate::validate`] has checked at creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSchema {
    pub field_id: i64,
    pub name: String,
    pub description: String,
    pub data_type: DataType,
    /// Element type of an ARRAY field; `None` for every other type.
    pub element_type: Option<DataType>,
    pub is_primary_key: bool,
    pub auto_id: bool,
    pub is_partition_key: bool,
    pub is_clustering_key: bool,
    /// Set on the output field of a function (BM25's sparse vector).
    pub is_function_output: bool,
    pub nullable: bool,
    pub default_value: Option<ScalarValue>,
    pub type_params: Properties,
    pub index_params: Properties,
}

impl FieldSchema {
    /// A field with the given name and type and every option at its default.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Self {
        FieldSchema {
            field_id: 0,
            name: name.into(),
            description: String::new(),
            data_type,
            element_type: None,
            is_primary_key: false,
            auto_id: false,
            is_partition_key: false,
            is_clustering_key: false,
            is_function_output: false,
            nullable: false,
            default_value: None,
            type_params: Properties::new(),
            index_params: Properties::new(),
        }
    }

    /// Sets a type parameter (builder style).
    pub fn with_param(mut self, key: &str, value: impl ToString) -> Self {
        self.type_params.set(key, value.to_string());
        self
    }

    /// Dimension of a dense vector field.
    pub fn dim(&self) -> Option<i64> {
        self.int_param(DIM_KEY)
    }

    /// Maximum length in bytes of a VARCHAR field (or of VARCHAR array elements).
    pub fn max_length(&self) -> Option<i64> {
        self.int_param(MAX_LENGTH_KEY)
    }

    /// Maximum number of elements of an ARRAY field.
    pub fn max_capacity(&self) -> Option<i64> {
        self.int_param(MAX_CAPACITY_KEY)
    }

    fn int_param(&self, key: &str) -> Option<i64> {
        self.type_params
            .get(key)
            .and_then(|v| v.trim().parse().ok())
    }
}
