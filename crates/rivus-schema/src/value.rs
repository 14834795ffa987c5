//! Scalar values as Milvus carries them in `schema.ValueField` (field default values).

use serde::{Deserialize, Serialize};

/// One scalar value. The variant mirrors the protobuf `oneof` Milvus uses, so a default value
/// round-trips exactly: INT8/16/32 defaults travel as `Int`, INT64 as `Long`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ScalarValue {
    Bool(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    String(String),
    Bytes(Vec<u8>),
}

impl ScalarValue {
    /// Short name of the variant, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            ScalarValue::Bool(_) => "bool",
            ScalarValue::Int(_) => "int",
            ScalarValue::Long(_) => "long",
            ScalarValue::Float(_) => "float",
            ScalarValue::Double(_) => "double",
            ScalarValue::String(_) => "string",
            ScalarValue::Bytes(_) => "bytes",
        }
    }
}
