//! Function schemas: fields computed by the server from other fields (BM25).

use serde::{Deserialize, Serialize};

use crate::Properties;

/// Kind of a function (Milvus `schema.FunctionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FunctionType {
    /// Full-text search: VARCHAR input, SPARSE_FLOAT_VECTOR output.
    Bm25,
}

impl FunctionType {
    /// The Milvus enum number.
    pub fn code(self) -> i32 {
        match self {
            FunctionType::Bm25 => 1,
        }
    }

    /// The type for a Milvus enum number; `None` for types rivus does not run.
    pub fn from_code(code: i32) -> Option<FunctionType> {
        match code {
            1 => Some(FunctionType::Bm25),
            _ => None,
        }
    }
}

/// One function of a collection schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionSchema {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub function_type: FunctionType,
    pub input_field_names: Vec<String>,
    pub output_field_names: Vec<String>,
    pub params: Properties,
}
