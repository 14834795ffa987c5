//! The one place that turns engine errors into Milvus statuses.
//!
//! Milvus reports failures in-band: a `common.Status` inside an OK gRPC response. Like
//! `merr.Status` (`milvus-io/milvus:pkg/util/merr/utils.go`) we set `code` (the merr code),
//! the legacy `error_code` (`oldCode`: 100 → CollectionNotExists, 1100 → IllegalArgument,
//! 700 → IndexNotExist, 200 → MetaFailed, everything else UnexpectedError), `reason` and
//! `detail` (both the full message). pymilvus raises `MilvusException(code, reason)` from it.

use milvus::proto::common::{ErrorCode, Status};
use rivus_engine::EngineError;
use rivus_schema::SchemaError;

/// merr code of a plain (unwrapped) Go error.
pub const UNEXPECTED: i32 = 65535;

/// A success status.
pub fn ok() -> Status {
    Status::default()
}

/// The merr code Milvus uses for this error.
pub fn code_of(error: &EngineError) -> i32 {
    match error {
        EngineError::Schema(schema) => match schema {
            SchemaError::InvalidParameter { .. }
            | SchemaError::InvalidParameterExpected { .. }
            | SchemaError::InvalidParameterRange { .. } => 1100,
            SchemaError::IllegalSchema { .. } => 105,
            SchemaError::FieldNameInvalid { .. } => 1701,
            SchemaError::DatabaseNameInvalid { .. } => 802,
            SchemaError::Unexpected { .. } => UNEXPECTED,
            SchemaError::Unsupported { .. } => 3000,
        },
        EngineError::InvalidParameter { .. }
        | EngineError::InvalidParameterExpected { .. }
        | EngineError::RenameViaAlias { .. } => 1100,
        EngineError::DatabaseNotFound { .. } => 800,
        EngineError::GroupByFieldNotFound { .. } => 1700,
        EngineError::DatabaseLimitExceeded { .. } => 801,
        EngineError::CollectionNotFound { .. } | EngineError::CannotFindCollection { .. } => 100,
        EngineError::CollectionNotLoaded { .. } | EngineError::QueryNotLoaded { .. } => 101,
        EngineError::CollectionLimitExceeded { .. } => 102,
        EngineError::CollectionLoaded { .. } => 104,
        EngineError::PartitionNotFound { .. } => 200,
        EngineError::PartitionNotLoaded { .. } => 201,
        EngineError::IndexNotFound { .. } => 700,
        EngineError::AliasNotFound { .. } => 1600,
        EngineError::AliasCollectionNameConflict { .. } => 1601,
        EngineError::AliasAlreadyExists { .. } => 1602,
        EngineError::Unsupported { .. } => 3000,
        EngineError::DatabaseAlreadyExists { .. }
        | EngineError::DefaultDatabaseUndroppable
        | EngineError::DatabaseNotEmpty { .. }
        | EngineError::CollectionAlreadyExists { .. }
        | EngineError::CollectionNameIsAlias { .. }
        | EngineError::DropCollectionViaAlias { .. }
        | EngineError::CollectionHasAliases { .. }
        | EngineError::RenameToAlias { .. }
        | EngineError::RenameToExistingCollection { .. }
        | EngineError::RenameTargetDatabaseNotFound { .. }
        | EngineError::RenameAcrossDatabasesWithAliases
        | EngineError::Refused { .. } => UNEXPECTED,
        EngineError::Storage(_) | EngineError::Poisoned | EngineError::Internal(_) => 5,
    }
}

/// Milvus's legacy `error_code` for a merr code (`merr.oldCode`).
pub fn legacy_error_code(code: i32) -> ErrorCode {
    match code {
        0 => ErrorCode::Success,
        1 => ErrorCode::NotReadyServe,
        100 => ErrorCode::CollectionNotExists,
        1100 => ErrorCode::IllegalArgument,
        700 => ErrorCode::IndexNotExist,
        200 | 400 | 501 => ErrorCode::MetaFailed,
        600 => ErrorCode::SegmentNotFound,
        _ => ErrorCode::UnexpectedError,
    }
}

/// The status for a failed engine call.
pub fn from_error(error: &EngineError) -> Status {
    let code = code_of(error);
    let reason = error.to_string();
    match code {
        5 => tracing::error!(code, %reason, "request failed"),
        _ => tracing::debug!(code, %reason, "request refused"),
    }
    status(code, reason)
}

/// A failure status with the given merr code and reason.
pub fn status(code: i32, reason: String) -> Status {
    #[allow(deprecated)]
    Status {
        error_code: legacy_error_code(code) as i32,
        code,
        detail: reason.clone(),
        reason,
        retriable: false,
        extra_info: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(deprecated)]
    fn collection_not_found_sets_both_codes() {
        let s = from_error(&EngineError::collection_not_found_in("default", "c"));
        assert_eq!(s.code, 100);
        assert_eq!(s.error_code, ErrorCode::CollectionNotExists as i32);
        assert_eq!(
            s.reason,
            "collection not found[database=default][collection=c]"
        );
    }

    #[test]
    #[allow(deprecated)]
    fn alias_conflicts_use_alias_codes_and_unexpected_legacy_code() {
        let s = from_error(&EngineError::AliasAlreadyExists {
            database: "default".into(),
            alias: "a".into(),
            collection: "c1".into(),
        });
        assert_eq!(s.code, 1602);
        assert_eq!(s.error_code, ErrorCode::UnexpectedError as i32);
        assert_eq!(
            s.reason,
            "a is alias to another collection: c1: alias already exist[database=default][alias=a]"
        );
    }
}
