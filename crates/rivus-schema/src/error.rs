//! Schema errors.
//!
//! Milvus reports schema problems in a handful of categories, each with its own status code,
//! and words every message in its own way (sometimes a plain Go error, code 65535). The
//! variants here are those categories; each carries the exact Milvus text of its detail, so
//! `Display` prints what Milvus prints. The Milvus source of each message is cited where it is
//! produced (`names.rs`, `validate.rs`).

/// Result of schema checks.
pub type Result<T> = std::result::Result<T, SchemaError>;

/// A schema or name that Milvus would refuse. Always the user's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// merr `ErrParameterInvalid` (code 1100), built by `WrapErrParameterInvalidMsg`.
    #[error("{detail}: invalid parameter")]
    InvalidParameter { detail: String },
    /// merr `ErrParameterInvalid` (code 1100), built by `WrapErrParameterInvalid(expected,
    /// actual, detail)`.
    #[error("{detail}: invalid parameter[expected={expected}][actual={actual}]")]
    InvalidParameterExpected {
        detail: String,
        expected: String,
        actual: String,
    },
    /// merr `ErrParameterInvalid` (1100), built by `WrapErrParameterInvalidRange`.
    #[error("{detail}: invalid parameter[{range}]")]
    InvalidParameterRange { detail: String, range: String },
    /// merr `ErrCollectionIllegalSchema` (105).
    #[error("{detail}: illegal collection schema[collection={collection}]")]
    IllegalSchema { collection: String, detail: String },
    /// merr `ErrFieldNameInvalid` (code 1701), built by `WrapErrFieldNameInvalid`.
    #[error("{detail}: field name invalid[field={field}]")]
    FieldNameInvalid { field: String, detail: String },
    /// merr `ErrDatabaseNameInvalid` (code 802), built by `WrapErrDatabaseNameInvalid`.
    #[error("{detail}: invalid database name[database={database}]")]
    DatabaseNameInvalid { database: String, detail: String },
    /// Milvus returns a plain Go error here (code 65535 on the wire); the text is Milvus's.
    #[error("{message}")]
    Unexpected { message: String },
    /// Something Milvus accepts that rivus does not support yet (a data type, a function
    /// type): refused, never accepted and ignored.
    #[error("{what} is not supported by rivus yet")]
    Unsupported { what: String },
}

impl SchemaError {
    /// A 1100 error with the given detail.
    pub fn invalid(detail: impl Into<String>) -> Self {
        SchemaError::InvalidParameter {
            detail: detail.into(),
        }
    }

    /// A plain (65535) error with Milvus's text.
    pub fn unexpected(message: impl Into<String>) -> Self {
        SchemaError::Unexpected {
            message: message.into(),
        }
    }
}
