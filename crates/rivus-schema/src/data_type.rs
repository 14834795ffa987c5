//! Field data types, with the numeric values of Milvus's `schema.DataType` enum.
//!
//! The numbers are part of the wire protocol and of the persisted catalog, so they never change.
//! Types Milvus has but rivus does not store yet (`Geometry`, `Text`, `Timestamptz`, struct
//! arrays, vector arrays) are not variants: converting their numbers fails with
//! [`SchemaError::UnsupportedDataType`](crate::SchemaError::UnsupportedDataType).

use serde::{Deserialize, Serialize};

/// A field's data type (Milvus `schema.DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Float,
    Double,
    VarChar,
    Array,
    Json,
    BinaryVector,
    FloatVector,
    Float16Vector,
    BFloat16Vector,
    SparseFloatVector,
    Int8Vector,
}

impl DataType {
    /// Every supported type, in Milvus enum order.
    pub const ALL: [DataType; 16] = [
        DataType::Bool,
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::Float,
        DataType::Double,
        DataType::VarChar,
        DataType::Array,
        DataType::Json,
        DataType::BinaryVector,
        DataType::FloatVector,
        DataType::Float16Vector,
        DataType::BFloat16Vector,
        DataType::SparseFloatVector,
        DataType::Int8Vector,
    ];

    /// The Milvus enum number.
    pub fn code(self) -> i32 {
        match self {
            DataType::Bool => 1,
            DataType::Int8 => 2,
            DataType::Int16 => 3,
            DataType::Int32 => 4,
            DataType::Int64 => 5,
            DataType::Float => 10,
            DataType::Double => 11,
            DataType::VarChar => 21,
            DataType::Array => 22,
            DataType::Json => 23,
            DataType::BinaryVector => 100,
            DataType::FloatVector => 101,
            DataType::Float16Vector => 102,
            DataType::BFloat16Vector => 103,
            DataType::SparseFloatVector => 104,
            DataType::Int8Vector => 105,
        }
    }

    /// The type for a Milvus enum number; `None` for numbers rivus does not support (or unknown).
    pub fn from_code(code: i32) -> Option<DataType> {
        DataType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// Milvus's name for the type, as its error messages print it (`schemapb.DataType_name`).
    pub fn milvus_name(self) -> &'static str {
        match self {
            DataType::Bool => "Bool",
            DataType::Int8 => "Int8",
            DataType::Int16 => "Int16",
            DataType::Int32 => "Int32",
            DataType::Int64 => "Int64",
            DataType::Float => "Float",
            DataType::Double => "Double",
            DataType::VarChar => "VarChar",
            DataType::Array => "Array",
            DataType::Json => "JSON",
            DataType::BinaryVector => "BinaryVector",
            DataType::FloatVector => "FloatVector",
            DataType::Float16Vector => "Float16Vector",
            DataType::BFloat16Vector => "BFloat16Vector",
            DataType::SparseFloatVector => "SparseFloatVector",
            DataType::Int8Vector => "Int8Vector",
        }
    }

    /// Vector types (the ones a search can target).
    pub fn is_vector(self) -> bool {
        matches!(
            self,
            DataType::BinaryVector
                | DataType::FloatVector
                | DataType::Float16Vector
                | DataType::BFloat16Vector
                | DataType::SparseFloatVector
                | DataType::Int8Vector
        )
    }

    /// Dense vector types, the ones that need a `dim`.
    pub fn is_dense_vector(self) -> bool {
        self.is_vector() && self != DataType::SparseFloatVector
    }

    /// Integer scalar types.
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
        )
    }

    /// Types allowed as ARRAY elements (Milvus: every scalar but JSON and ARRAY).
    pub fn is_array_element(self) -> bool {
        matches!(
            self,
            DataType::Bool
                | DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::Float
                | DataType::Double
                | DataType::VarChar
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for t in DataType::ALL {
            assert_eq!(DataType::from_code(t.code()), Some(t));
        }
        let mut codes: Vec<i32> = DataType::ALL.iter().map(|t| t.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), DataType::ALL.len());
    }

    #[test]
    fn unsupported_codes_are_none() {
        // 0 None, 20 String, 24 Geometry, 25 Text, 26 Timestamptz, 106 ArrayOfVector, 200 struct.
        for code in [0, 20, 24, 25, 26, 106, 200, -1] {
            assert_eq!(DataType::from_code(code), None);
        }
    }
}
