//! rivus-schema: the data model every other rivus crate speaks. No I/O.
//!
//! - [`DataType`], [`FieldSchema`], [`CollectionSchema`], [`FunctionSchema`]: collections as
//!   Milvus defines them, with Milvus's enum numbers.
//! - [`ScalarValue`]: field default values; [`Properties`]: ordered key/value settings.
//! - [`Column`], [`ColumnSource`], [`Bitmap`]: field values for a run of rows, and row sets.
//! - [`validate_name`] and [`validate_new_collection`]: Milvus's rules and messages for names
//!   and schemas.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod bitmap;
mod collection;
mod column;
pub mod cpu;
mod data_type;
mod error;
pub mod field;
mod function;
mod names;
mod nested;
mod properties;
mod validate;
mod value;

pub use bitmap::Bitmap;
pub use collection::CollectionSchema;
pub use column::{Column, ColumnBatch, ColumnData, ColumnSource, StringColumn, VectorColumn};
pub use data_type::DataType;
pub use error::{Result, SchemaError};
pub use field::FieldSchema;
pub use function::{FunctionSchema, FunctionType};
pub use names::{validate_name, NameKind, MAX_NAME_LENGTH};
pub use nested::{ArrayColumn, JsonColumn, JsonShred};
pub use properties::Properties;
pub use validate::{validate_new_collection, CollectionShape, SchemaLimits};
pub use value::ScalarValue;
