//! Name rules for collections, aliases, fields, partitions and databases, with Milvus's
//! messages (`internal/proxy/util.go`: `validateCollectionNameOrAlias`, `validateFieldName`,
//! `validatePartitionTag`, `ValidateDatabaseName`; Milvus 2.5/2.6).
//!
//! Every rule works on bytes: a name is at most 255 bytes, starts with `_` or an ASCII letter
//! and continues with ASCII letters, digits or `_`. Leading and trailing whitespace is trimmed
//! first (2.5/2.6 behaviour), and callers store the trimmed name.

use crate::{Result, SchemaError};

/// Milvus `proxy.maxNameLength`.
pub const MAX_NAME_LENGTH: usize = 255;

/// What a name names; picks Milvus's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Collection,
    Alias,
    Field,
    Partition,
    Database,
}

fn is_alpha(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

enum Violation {
    Empty,
    TooLong,
    FirstChar,
    OtherChar,
}

fn check(name: &str) -> std::result::Result<(), Violation> {
    let bytes = name.as_bytes();
    let Some((&first, rest)) = bytes.split_first() else {
        return Err(Violation::Empty);
    };
    if bytes.len() > MAX_NAME_LENGTH {
        return Err(Violation::TooLong);
    }
    if first != b'_' && !is_alpha(first) {
        return Err(Violation::FirstChar);
    }
    if rest
        .iter()
        .any(|&c| c != b'_' && !is_alpha(c) && !c.is_ascii_digit())
    {
        return Err(Violation::OtherChar);
    }
    Ok(())
}

/// Field names Milvus reserves (`common.FieldNameKeywords`), compared as written.
const FIELD_NAME_KEYWORDS: &[&str] = &[
    "$meta",
    "like",
    "LIKE",
    "exists",
    "EXISTS",
    "and",
    "AND",
    "or",
    "OR",
    "not",
    "NOT",
    "in",
    "IN",
    "json_contains",
    "JSON_CONTAINS",
    "json_contains_all",
    "JSON_CONTAINS_ALL",
    "json_contains_any",
    "JSON_CONTAINS_ANY",
    "array_contains",
    "ARRAY_CONTAINS",
    "array_contains_all",
    "ARRAY_CONTAINS_ALL",
    "array_contains_any",
    "ARRAY_CONTAINS_ANY",
    "array_length",
    "ARRAY_LENGTH",
    "true",
    "True",
    "TRUE",
    "false",
    "False",
    "FALSE",
    "text_match",
    "TEXT_MATCH",
    "phrase_match",
    "PHRASE_MATCH",
    "random_sample",
    "RANDOM_SAMPLE",
];

/// Validates a name and returns it as stored, or Milvus's error for it.
///
/// Collection, alias, field and partition names are trimmed first; database names are not
/// (Milvus's `ValidateDatabaseName` does not trim).
pub fn validate_name(kind: NameKind, name: &str) -> Result<String> {
    let name = if kind == NameKind::Database {
        name
    } else {
        name.trim()
    };
    let violation = match check(name) {
        Ok(()) if kind == NameKind::Field && FIELD_NAME_KEYWORDS.contains(&name) => {
            return Err(SchemaError::FieldNameInvalid {
                field: name.to_string(),
                detail: format!("Invalid field name: {name}. {name} is keyword in milvus."),
            });
        }
        Ok(()) => return Ok(name.to_string()),
        Err(violation) => violation,
    };
    Err(match kind {
        NameKind::Collection | NameKind::Alias => {
            let entity = if kind == NameKind::Collection {
                "name"
            } else {
                "alias"
            };
            let invalid = format!("Invalid collection {entity}: {name}. ");
            SchemaError::invalid(match violation {
                Violation::Empty => format!("collection {entity} should not be empty"),
                Violation::TooLong => format!(
                    "{invalid} the length of a collection {entity} must be less than {MAX_NAME_LENGTH} characters"
                ),
                Violation::FirstChar => format!(
                    "{invalid} the first character of a collection {entity} must be an underscore or letter"
                ),
                Violation::OtherChar => format!(
                    "{invalid} collection {entity} can only contain numbers, letters and underscores"
                ),
            })
        }
        NameKind::Field => {
            let invalid = format!("Invalid field name: {name}. ");
            let detail = match violation {
                Violation::Empty => "field name should not be empty".to_string(),
                Violation::TooLong => format!(
                    "{invalid}The length of a field name must be less than {MAX_NAME_LENGTH} characters."
                ),
                Violation::FirstChar => format!(
                    "{invalid}The first character of a field name must be an underscore or letter."
                ),
                Violation::OtherChar => {
                    format!("{invalid}Field name can only contain numbers, letters, and underscores.")
                }
            };
            SchemaError::FieldNameInvalid {
                field: name.to_string(),
                detail,
            }
        }
        NameKind::Partition => {
            // `validatePartitionTag`: plain errors, and a digit may start the name.
            if matches!(violation, Violation::FirstChar)
                && name.as_bytes().first().is_some_and(u8::is_ascii_digit)
            {
                return match check(&format!("_{name}")) {
                    Ok(()) => Ok(name.to_string()),
                    Err(_) => Err(SchemaError::unexpected(format!(
                        "Invalid partition name: {name}. Partition name can only contain numbers, letters and underscores."
                    ))),
                };
            }
            let invalid = format!("Invalid partition name: {name}. ");
            SchemaError::unexpected(match violation {
                Violation::Empty => format!("{invalid}Partition name should not be empty."),
                Violation::TooLong => format!(
                    "{invalid}The length of a partition name must be less than {MAX_NAME_LENGTH} characters."
                ),
                Violation::FirstChar => format!(
                    "{invalid}The first character of a partition name must be an underscore or letter."
                ),
                Violation::OtherChar => format!(
                    "{invalid}Partition name can only contain numbers, letters and underscores."
                ),
            })
        }
        NameKind::Database => {
            let detail = match violation {
                Violation::Empty => "database name couldn't be empty".to_string(),
                Violation::TooLong => format!(
                    "the length of a database name must be less than {MAX_NAME_LENGTH} characters"
                ),
                Violation::FirstChar => {
                    "the first character of a database name must be an underscore or letter"
                        .to_string()
                }
                Violation::OtherChar => {
                    "database name can only contain numbers, letters and underscores".to_string()
                }
            };
            SchemaError::DatabaseNameInvalid {
                database: name.to_string(),
                detail,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_trimmed() {
        assert_eq!(validate_name(NameKind::Alias, " _a1 ").unwrap(), "_a1");
        assert_eq!(
            validate_name(NameKind::Collection, "Abc_9").unwrap(),
            "Abc_9"
        );
        let longest = "a".repeat(MAX_NAME_LENGTH);
        assert_eq!(validate_name(NameKind::Alias, &longest).unwrap(), longest);
    }

    #[test]
    fn alias_messages_match_milvus() {
        let msg = |n: &str| validate_name(NameKind::Alias, n).unwrap_err().to_string();
        assert_eq!(
            msg(""),
            "collection alias should not be empty: invalid parameter"
        );
        assert_eq!(
            msg("   "),
            "collection alias should not be empty: invalid parameter"
        );
        assert_eq!(
            msg("12-s"),
            "Invalid collection alias: 12-s.  the first character of a collection alias must be an underscore or letter: invalid parameter"
        );
        assert_eq!(
            msg("a-b"),
            "Invalid collection alias: a-b.  collection alias can only contain numbers, letters and underscores: invalid parameter"
        );
        assert!(msg("中文").contains("the first character of a collection alias"));
        assert!(msg(&"a".repeat(256))
            .contains("the length of a collection alias must be less than 255 characters"));
    }

    #[test]
    fn each_kind_has_its_error_category() {
        assert!(matches!(
            validate_name(NameKind::Field, "1x"),
            Err(SchemaError::FieldNameInvalid { .. })
        ));
        assert!(matches!(
            validate_name(NameKind::Field, "like"),
            Err(SchemaError::FieldNameInvalid { .. })
        ));
        assert_eq!(
            validate_name(NameKind::Database, " db").unwrap_err().to_string(),
            "the first character of a database name must be an underscore or letter: invalid database name[database= db]"
        );
        assert!(matches!(
            validate_name(NameKind::Database, "a b"),
            Err(SchemaError::DatabaseNameInvalid { .. })
        ));
        assert!(matches!(
            validate_name(NameKind::Partition, "$"),
            Err(SchemaError::Unexpected { .. })
        ));
        assert_eq!(validate_name(NameKind::Partition, "1abc").unwrap(), "1abc");
        assert!(validate_name(NameKind::Partition, "1a-c").is_err());
    }
}
