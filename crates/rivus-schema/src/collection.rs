//! Collection schemas.

use serde::{Deserialize, Serialize};

use crate::{FieldSchema, FunctionSchema};

/// The schema of a collection: its fields, functions and dynamic-field switch.
///
/// The hidden `$meta` field Milvus adds for dynamic fields is not listed: it is implied by
/// `enable_dynamic_field`, and describe_collection never shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionSchema {
    pub name: String,
    pub description: String,
    pub fields: Vec<FieldSchema>,
    pub functions: Vec<FunctionSchema>,
    pub enable_dynamic_field: bool,
}

impl CollectionSchema {
    /// The primary-key field (a validated schema has exactly one).
    pub fn primary_field(&self) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.is_primary_key)
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The vector fields, in schema order.
    pub fn vector_fields(&self) -> impl Iterator<Item = &FieldSchema> {
        self.fields.iter().filter(|f| f.data_type.is_vector())
    }

    /// The partition-key field, if any.
    pub fn partition_key_field(&self) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.is_partition_key)
    }
}
