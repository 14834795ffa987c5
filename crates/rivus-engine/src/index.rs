//! Index declarations: create, describe, drop, alter (configurable properties).
//!
//! The catalog records which index the user asked for on which field, with Milvus's checks
//! (known index types, which index types each field type takes, metric types per vector
//! type, knowhere's build-parameter ranges, one index per field, default names).
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
const MMAP_ENABLED: &str = "mmap.enabled";
const OFFSET_CACHE_ENABLED: &str = "indexoffsetcache.enabled";
/// Keys `alter_index_properties` may set or remove (Milvus 2.5 `indexparams.
/// IsConfigableIndexParam`); they are ignored when a re-declared index is compared.
const CONFIGURABLE_INDEX_PARAMS: &[&str] = &[MMAP_ENABLED, OFFSET_CACHE_ENABLED];

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
    // checkTrain: the checker's CheckValidDataType, then its CheckTrain.
    let is_vector_index = !SCALAR_INDEXES.contains(&index_type);
    if is_vector_index {
        if !field.data_type.is_vector() {
            return Err(invalid_index_params(format!(
                "index {index_type} only supports vector data type"
            )));
        }
        if !allowed.contains(&index_type) {
            return Err(invalid_index_params(format!(
                "index {index_type} do not support data type: {type_name}"
            )));
        }
    } else {
        check_scalar_data_type(field, index_type).map_err(invalid_index_params)?;
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
        knowhere::check_build_params(field, index_type, params).map_err(invalid_index_params)?;
    } else {
        check_scalar_params(field, index_type, params)?;
        if field.data_type == DataType::Json {
            // Accepted by Milvus, but rivus builds no JSON path index: refused rather than
            // declared and never used.
            return Err(EngineError::unsupported(format!(
                "index type {index_type} on a JSON field is not supported by rivus yet \
                 (scalar indexes: BOOL, INT8..INT64, FLOAT, DOUBLE, VARCHAR, ARRAY fields)"
            )));
        }
    }
    check_configurable_values(index_type, params)?;
    Ok(params.clone())
}

fn is_integer(data_type: DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
    )
}

fn is_arithmetic(data_type: DataType) -> bool {
    is_integer(data_type) || matches!(data_type, DataType::Float | DataType::Double)
}

/// The scalar checkers' `CheckValidDataType` (Milvus 2.5 internal/util/indexparamcheck:
/// inverted_checker.go, stl_sort_checker.go, trie_checker.go, bitmap_index_checker.go). They
/// also answer for a scalar index type on a vector field.
fn check_scalar_data_type(
    field: &FieldSchema,
    index_type: &str,
) -> std::result::Result<(), String> {
    let data_type = field.data_type;
    match index_type {
        "INVERTED" => {
            let ok = data_type == DataType::Bool
                || is_arithmetic(data_type)
                || matches!(
                    data_type,
                    DataType::VarChar | DataType::Array | DataType::Json
                );
            if !ok {
                return Err(format!(
                    "INVERTED are not supported on {} field",
                    data_type.milvus_name()
                ));
            }
        }
        "STL_SORT" if !is_arithmetic(data_type) => {
            return Err("STL_SORT are only supported on numeric field".into());
        }
        "Trie" if data_type != DataType::VarChar => {
            return Err("TRIE are only supported on varchar field".into());
        }
        "BITMAP" => {
            if field.is_primary_key {
                return Err("create bitmap index on primary key not supported".into());
            }
            let bitmap_type =
                |t: DataType| t == DataType::Bool || is_integer(t) || t == DataType::VarChar;
            if !bitmap_type(data_type) && data_type != DataType::Array {
                return Err(
                    "bitmap index are only supported on bool, int, string and array field".into(),
                );
            }
            if data_type == DataType::Array && !field.element_type.is_some_and(bitmap_type) {
                return Err(
                    "bitmap index are only supported on bool, int, string for array field".into(),
                );
            }
        }
        _ => {}
    }
    Ok(())
}

/// JSON cast types an INVERTED index on a JSON field accepts (Milvus 2.5 inverted_checker.go).
const JSON_CAST_TYPES: &[&str] = &[
    "BOOL",
    "DOUBLE",
    "VARCHAR",
    "ARRAY_BOOL",
    "ARRAY_DOUBLE",
    "ARRAY_VARCHAR",
];

/// The scalar checkers' `CheckTrain`: an index on a JSON field names the path it indexes and
/// the type it casts the values to.
fn check_scalar_params(field: &FieldSchema, index_type: &str, params: &Properties) -> Result<()> {
    if field.data_type != DataType::Json || index_type != "INVERTED" {
        return Ok(());
    }
    let Some(cast_type) = params.get("json_cast_type") else {
        return Err(invalid_index_params(
            "json index must specify cast type: missing parameter[missing_param=json_cast_type]"
                .into(),
        ));
    };
    if !JSON_CAST_TYPES.contains(&cast_type) {
        return Err(invalid_index_params(format!(
            "json_cast_type {cast_type} is not supported"
        )));
    }
    if params.get("json_path").is_none() {
        return Err(invalid_index_params(
            "json index must specify json path: missing parameter[missing_param=json_path]".into(),
        ));
    }
    Ok(())
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Index types whose files Milvus can memory-map (indexparamcheck `IsVectorMmapIndex`,
/// `IsScalarMmapIndex`, AUTOINDEX).
fn supports_mmap(index_type: &str) -> bool {
    matches!(
        index_type,
        "FLAT"
            | "IVF_FLAT"
            | "IVF_PQ"
            | "IVF_SQ8"
            | "HNSW"
            | "HNSW_SQ"
            | "BIN_FLAT"
            | "BIN_IVF_FLAT"
            | "SPARSE_INVERTED_INDEX"
            | "INVERTED"
            | "BITMAP"
            | "Trie"
            | AUTOINDEX
    )
}

/// datacoord `ValidateIndexParams`: the configurable keys' values (1100 errors).
fn check_configurable_values(index_type: &str, params: &Properties) -> Result<()> {
    if let Some(value) = params.get(MMAP_ENABLED) {
        let detail = match parse_go_bool(value) {
            None => Some(format!(
                "invalid {MMAP_ENABLED} value: {value}, expected: true, false"
            )),
            Some(true) if !supports_mmap(index_type) => {
                Some(format!("index type {index_type} does not support mmap"))
            }
            Some(_) => None,
        };
        if let Some(detail) = detail {
            return Err(EngineError::invalid(format!(
                "invalid mmap index params: {detail}"
            )));
        }
    }
    if let Some(value) = params.get(OFFSET_CACHE_ENABLED) {
        let detail = match parse_go_bool(value) {
            None => Some(format!(
                "invalid {OFFSET_CACHE_ENABLED} value: {value}, expected: true, false"
            )),
            Some(true) if index_type != "BITMAP" => Some(format!(
                "only bitmap index support {OFFSET_CACHE_ENABLED} now"
            )),
            Some(_) => None,
        };
        if let Some(detail) = detail {
            return Err(EngineError::invalid(format!(
                "invalid offset cache index params: {detail}"
            )));
        }
    }
    Ok(())
}

/// Whether a re-declared index asks for what `existing` holds: the same pairs in any order,
/// the configurable keys (set by `alter_index_properties`) left out of the stored side
/// (datacoord `CanCreateIndex`).
fn same_declaration(existing: &Properties, requested: &Properties) -> bool {
    let kept: Vec<(&str, &str)> = existing
        .iter()
        .filter(|(k, _)| !CONFIGURABLE_INDEX_PARAMS.contains(k))
        .collect();
    kept.len() == requested.len() && kept.iter().all(|(k, v)| requested.get(k) == Some(*v))
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
        self.catalog().mutate(|state| {
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
                if existing.field_name == field_name && same_declaration(&existing.params, &stored)
                {
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

/// Build-parameter checks of knowhere's index configs (`Config::FormatAndCheck` then
/// `Config::Load(TRAIN)` then `CheckAndAdjust`, knowhere include/knowhere/config.h,
/// src/common/config.cc, src/index/{hnsw/faiss_hnsw_config.h, ivf/ivf_config.h,
/// sparse/sparse_inverted_index_config.h}), which Milvus runs on every vector index it
/// declares. Errors carry knowhere's text.
mod knowhere {
    use rivus_schema::{DataType, FieldSchema, Properties};

    type Checked<T> = std::result::Result<T, String>;

    #[derive(Clone, Copy)]
    enum Kind {
        /// `CFG_INT` (int32) in `[lo, hi]`.
        Int { lo: i64, hi: i64 },
        /// `CFG_FLOAT` in `[lo, hi]`, or `[lo, hi)` when `open_right`.
        Float { lo: f32, hi: f32, open_right: bool },
    }

    struct Param {
        key: &'static str,
        kind: Kind,
        /// No default in knowhere: a missing value is an error.
        required: bool,
    }

    const fn int(key: &'static str, lo: i64, hi: i64) -> Param {
        Param {
            key,
            kind: Kind::Int { lo, hi },
            required: false,
        }
    }

    const INT_MAX: i64 = i32::MAX as i64;
    const HNSW: &[Param] = &[int("M", 2, 2048), int("efConstruction", 1, INT_MAX)];
    const IVF: &[Param] = &[int("nlist", 1, 65536)];
    const IVF_PQ: &[Param] = &[
        int("nlist", 1, 65536),
        Param {
            key: "m",
            kind: Kind::Int { lo: 1, hi: 65536 },
            required: true,
        },
        int("nbits", 1, 24),
    ];
    const SPARSE: &[Param] = &[Param {
        key: "drop_ratio_build",
        kind: Kind::Float {
            lo: 0.0,
            hi: 1.0,
            open_right: true,
        },
        required: false,
    }];

    /// A parsed value.
    #[derive(Clone, Copy)]
    enum Value {
        Int(i64),
        Float(f32),
    }

    /// `std::stoll` on the whole string: leading blanks, a sign, decimal digits, nothing after.
    fn parse_int(key: &str, text: &str) -> Checked<i64> {
        let body = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
        let bytes = body.as_bytes();
        let sign = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
        let digits = bytes[sign..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return Err(format!(
                "invalid integer value, key: '{key}', value: '{text}'"
            ));
        }
        let end = sign + digits;
        let out_of_range = || format!("integer value out of range, key: '{key}', value: '{text}'");
        let value: i64 = body[..end].parse().map_err(|_| out_of_range())?;
        if end < body.len() {
            return Err(format!(
                "wrong data type in json, key: '{key}', value: '{text}'"
            ));
        }
        if i32::try_from(value).is_err() {
            return Err(out_of_range());
        }
        Ok(value)
    }

    /// `std::stof`: the longest leading float (trailing text is ignored).
    fn parse_float(key: &str, text: &str) -> Checked<f32> {
        let body = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
        let bytes = body.as_bytes();
        let mut i = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
        let lower = body[i..].to_ascii_lowercase();
        let named = ["infinity", "inf", "nan"]
            .into_iter()
            .find(|name| lower.starts_with(name));
        let end = if let Some(name) = named {
            i + name.len()
        } else {
            let int_digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            i += int_digits;
            let mut frac_digits = 0;
            if bytes.get(i) == Some(&b'.') {
                frac_digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if int_digits + frac_digits > 0 {
                    i += 1 + frac_digits;
                }
            }
            if int_digits + frac_digits == 0 {
                return Err(format!(
                    "invalid float value, key: '{key}', value: '{text}'"
                ));
            }
            if matches!(bytes.get(i), Some(b'e' | b'E')) {
                let mut j = i + 1;
                j += usize::from(matches!(bytes.get(j), Some(b'+' | b'-')));
                let exp_digits = bytes[j.min(bytes.len())..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if exp_digits > 0 {
                    i = j + exp_digits;
                }
            }
            i
        };
        let prefix = &body[..end];
        let value: f32 = prefix
            .parse()
            .map_err(|_| format!("invalid float value, key: '{key}', value: '{text}'"))?;
        let overflow = value.is_infinite() && named.is_none();
        let underflow = value.abs() < f32::MIN_POSITIVE
            && prefix
                .split(['e', 'E'])
                .next()
                .is_some_and(|m| m.bytes().any(|b| matches!(b, b'1'..=b'9')));
        if overflow || underflow {
            return Err(format!(
                "float value out of range, key: '{key}', value: '{text}'"
            ));
        }
        Ok(value)
    }

    /// How nlohmann::json prints a number that was stored from a float.
    fn json_float(value: f32) -> String {
        let v = f64::from(value);
        if !v.is_finite() {
            "null".into()
        } else if v.fract() == 0.0 && v.abs() < 1e15 {
            format!("{v:.1}")
        } else {
            format!("{v}")
        }
    }

    fn check_params(specs: &[Param], params: &Properties) -> Checked<Vec<Option<Value>>> {
        // FormatAndCheck converts every string first; Load then checks presence and ranges.
        let mut values = Vec::with_capacity(specs.len());
        for spec in specs {
            let value = match (params.get(spec.key), spec.kind) {
                (None, _) => None,
                (Some(text), Kind::Int { .. }) => Some(Value::Int(parse_int(spec.key, text)?)),
                (Some(text), Kind::Float { .. }) => {
                    Some(Value::Float(parse_float(spec.key, text)?))
                }
            };
            values.push(value);
        }
        for (spec, value) in specs.iter().zip(&values) {
            let (shown, within, range) = match (value, spec.kind) {
                (None, _) if spec.required => {
                    return Err(format!("param '{}' not exist in json", spec.key));
                }
                (None, _) => continue,
                (Some(Value::Int(v)), Kind::Int { lo, hi }) => (
                    v.to_string(),
                    (lo..=hi).contains(v),
                    format!("[{lo}, {hi}]"),
                ),
                (Some(Value::Float(v)), Kind::Float { lo, hi, open_right }) => (
                    json_float(*v),
                    lo <= *v && (*v < hi || (!open_right && *v <= hi)),
                    format!("[{lo:.6}, {hi:.6}{}", if open_right { ")" } else { "]" }),
                ),
                _ => continue,
            };
            if !within {
                return Err(format!(
                    "Out of range in json: param '{}' ({shown}) should be in range {range}",
                    spec.key
                ));
            }
        }
        Ok(values)
    }

    /// Scalar quantizer and refine types HNSW_SQ accepts (knowhere `FaissHnswSqConfig`;
    /// SQ4U since Milvus 2.6.8).
    const SQ_TYPES: &[&str] = &["SQ4U", "SQ6", "SQ8", "FP16", "BF16"];
    const REFINE_TYPES: &[&str] = &["SQ6", "SQ8", "FP16", "BF16", "FP32", "FLAT"];

    /// The checks knowhere runs on the build parameters of `index_type` for `field`.
    pub(super) fn check_build_params(
        field: &FieldSchema,
        index_type: &str,
        params: &Properties,
    ) -> Checked<()> {
        // proxy fillDimension: the schema's dim, which a given `dim` must repeat.
        let dim = if field.data_type == DataType::SparseFloatVector {
            None
        } else {
            let schema_dim = field.type_params.get("dim").unwrap_or_default();
            if let Some(given) = params.get("dim") {
                if given != schema_dim {
                    return Err(format!(
                        "dimension mismatch, dimension in schema: {schema_dim}, dimension: {given}"
                    ));
                }
            }
            field.dim()
        };
        match index_type {
            "HNSW" => {
                check_params(HNSW, params)?;
            }
            "HNSW_SQ" => {
                check_params(HNSW, params)?;
                if !SQ_TYPES.contains(&params.get("sq_type").unwrap_or("SQ8")) {
                    return Err("invalid scalar quantizer type".into());
                }
                let refine = match params.get("refine") {
                    None => false,
                    Some(v) => super::parse_go_bool(v).ok_or_else(|| {
                        format!("Type conflict in json: param 'refine' ({v}) should be a boolean")
                    })?,
                };
                if let Some(refine_type) = params.get("refine_type") {
                    if !REFINE_TYPES.contains(&refine_type) {
                        return Err("invalid refine type type".into());
                    }
                    // knowhere `pick_refine_index`: half-precision data refines at its own
                    // precision or a lower one.
                    let (fp32, bf16, fp16) = (
                        matches!(refine_type, "FP32" | "FLAT"),
                        refine_type == "BF16",
                        refine_type == "FP16",
                    );
                    if refine && field.data_type == DataType::Float16Vector && (fp32 || bf16) {
                        return Err(
                            "fp16 input data does not accept bf16 or fp32 as a refine index."
                                .into(),
                        );
                    }
                    if refine && field.data_type == DataType::BFloat16Vector && (fp32 || fp16) {
                        return Err(
                            "bf16 input data does not accept fp16 or fp32 as a refine index."
                                .into(),
                        );
                    }
                }
            }
            "IVF_FLAT" | "IVF_SQ8" | "BIN_IVF_FLAT" => {
                check_params(IVF, params)?;
            }
            "IVF_PQ" => {
                let values = check_params(IVF_PQ, params)?;
                if let (Some(dim), Some(Value::Int(m))) = (dim, values[1]) {
                    if dim % m != 0 {
                        return Err(format!(
                            "The dimension of a vector (dim) should be a multiple of the number of \
                             subquantizers (m). Dimension: {dim}, m: {m}"
                        ));
                    }
                }
            }
            "SPARSE_INVERTED_INDEX" => {
                check_params(SPARSE, params)?;
            }
            _ => {}
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn props(pairs: &[(&str, &str)]) -> Properties {
            Properties::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        }

        fn float_field(dim: i64) -> FieldSchema {
            FieldSchema::new("v", DataType::FloatVector).with_param("dim", dim)
        }

        #[test]
        fn knowhere_texts() {
            let f = float_field(16);
            let check = |t: &str, p: &[(&str, &str)]| check_build_params(&f, t, &props(p));
            assert_eq!(
                check("HNSW", &[("M", "8"), ("efConstruction", "64")]),
                Ok(())
            );
            assert_eq!(
                check("HNSW", &[("M", "1")]).unwrap_err(),
                "Out of range in json: param 'M' (1) should be in range [2, 2048]"
            );
            assert_eq!(
                check("HNSW", &[("efConstruction", "0")]).unwrap_err(),
                "Out of range in json: param 'efConstruction' (0) should be in range [1, 2147483647]"
            );
            assert_eq!(
                check("HNSW", &[("M", " +16")]),
                Ok(()),
                "stoll accepts blanks and a sign"
            );
            assert_eq!(
                check("HNSW", &[("M", "1.5")]).unwrap_err(),
                "wrong data type in json, key: 'M', value: '1.5'"
            );
            assert_eq!(
                check("HNSW", &[("M", "abc")]).unwrap_err(),
                "invalid integer value, key: 'M', value: 'abc'"
            );
            assert_eq!(
                check("HNSW", &[("M", "3000000000")]).unwrap_err(),
                "integer value out of range, key: 'M', value: '3000000000'"
            );
            assert_eq!(
                check("IVF_SQ8", &[("nlist", "-1")]).unwrap_err(),
                "Out of range in json: param 'nlist' (-1) should be in range [1, 65536]"
            );
            assert_eq!(
                check("IVF_PQ", &[("nlist", "16")]).unwrap_err(),
                "param 'm' not exist in json"
            );
            assert_eq!(check("IVF_PQ", &[("m", "4"), ("nbits", "8")]), Ok(()));
            assert_eq!(
                check("IVF_PQ", &[("m", "5")]).unwrap_err(),
                "The dimension of a vector (dim) should be a multiple of the number of \
                 subquantizers (m). Dimension: 16, m: 5"
            );
            assert_eq!(
                check("IVF_PQ", &[("m", "4"), ("nbits", "25")]).unwrap_err(),
                "Out of range in json: param 'nbits' (25) should be in range [1, 24]"
            );
            assert_eq!(
                check("HNSW_SQ", &[("sq_type", "SQ4")]).unwrap_err(),
                "invalid scalar quantizer type"
            );
            assert_eq!(check("HNSW_SQ", &[("sq_type", "SQ4U")]), Ok(()));
            assert_eq!(
                check("HNSW_SQ", &[("refine", "true"), ("refine_type", "FLAT")]),
                Ok(())
            );
            assert_eq!(
                check("HNSW_SQ", &[("refine_type", "SQ4U")]).unwrap_err(),
                "invalid refine type type"
            );
            assert_eq!(
                check("HNSW_SQ", &[("refine", "yes")]).unwrap_err(),
                "Type conflict in json: param 'refine' (yes) should be a boolean"
            );
            let half = FieldSchema::new("h", DataType::Float16Vector).with_param("dim", 16);
            let refine = |t: &str, on: &str| {
                check_build_params(
                    &half,
                    "HNSW_SQ",
                    &props(&[("refine", on), ("refine_type", t)]),
                )
            };
            assert_eq!(
                refine("FP32", "true").unwrap_err(),
                "fp16 input data does not accept bf16 or fp32 as a refine index."
            );
            assert_eq!(refine("FP16", "true"), Ok(()));
            // Without `refine` the refine type builds nothing, so nothing is checked.
            assert_eq!(refine("BF16", "false"), Ok(()));
            assert_eq!(
                check("FLAT", &[("dim", "8")]).unwrap_err(),
                "dimension mismatch, dimension in schema: 16, dimension: 8"
            );

            let sparse = FieldSchema::new("s", DataType::SparseFloatVector);
            let check = |p: &[(&str, &str)]| {
                check_build_params(&sparse, "SPARSE_INVERTED_INDEX", &props(p))
            };
            assert_eq!(check(&[("drop_ratio_build", "0.2")]), Ok(()));
            assert_eq!(check(&[("drop_ratio_build", "0")]), Ok(()));
            assert_eq!(
                check(&[("drop_ratio_build", "1.0")]).unwrap_err(),
                "Out of range in json: param 'drop_ratio_build' (1.0) should be in range \
                 [0.000000, 1.000000)"
            );
            assert_eq!(
                check(&[("drop_ratio_build", "-0.5")]).unwrap_err(),
                "Out of range in json: param 'drop_ratio_build' (-0.5) should be in range \
                 [0.000000, 1.000000)"
            );
            assert_eq!(
                check(&[("drop_ratio_build", "x")]).unwrap_err(),
                "invalid float value, key: 'drop_ratio_build', value: 'x'"
            );
            assert_eq!(check(&[("drop_ratio_build", "0.5abc")]), Ok(()));
        }
    }
}

impl Engine {
    /// Changes the configurable properties of an index (`alter_index_properties` sets `set`,
    /// `drop_index_properties` removes `delete_keys`), with Milvus's checks in its order
    /// (proxy `alterIndexTask.PreExecute`, then datacoord `AlterIndex`): only configurable
    /// keys, an existing collection (alias accepted), a non-empty valid index name, a
    /// released collection, an existing index, valid values.
    pub fn alter_index(
        &self,
        db: &str,
        collection: &str,
        index_name: &str,
        set: &Properties,
        delete_keys: &[String],
    ) -> Result<()> {
        if !set.is_empty() && !delete_keys.is_empty() {
            return Err(EngineError::invalid(
                "cannot provide both DeleteKeys and ExtraParams",
            ));
        }
        let keys = set
            .iter()
            .map(|(k, _)| k)
            .chain(delete_keys.iter().map(String::as_str));
        for key in keys {
            if !CONFIGURABLE_INDEX_PARAMS.contains(&key) {
                return Err(EngineError::invalid(format!(
                    "{key} is not configable index param"
                )));
            }
        }
        self.catalog().mutate(|state| {
            let meta = resolve_mut(state, db, collection)?;
            if index_name.is_empty() {
                return Err(EngineError::invalid("index name is empty"));
            }
            check_index_name(index_name)?;
            if meta.load_state == LoadState::Loaded {
                return Err(EngineError::CollectionLoaded {
                    collection: collection.to_string(),
                    detail: "can't alter index on loaded collection, please release the \
                             collection first"
                        .into(),
                });
            }
            let index = meta
                .indexes
                .iter_mut()
                .find(|i| i.index_name == index_name)
                .ok_or_else(|| EngineError::IndexNotFound {
                    key: "indexName",
                    value: index_name.to_string(),
                })?;
            let mut params = index.params.clone();
            for (key, value) in set.iter() {
                params.set(key, value);
            }
            for key in delete_keys {
                params.remove(key);
            }
            check_configurable_values(index.index_type().unwrap_or(AUTOINDEX), &params)?;
            index.params = params;
            Ok(())
        })
    }
}
