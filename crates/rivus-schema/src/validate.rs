//! Collection schema validation with Milvus's rules, order of checks and messages.
//!
//! Sources (Milvus 2.5/2.6): `internal/proxy/task.go` (`createCollectionTask.PreExecute`),
//! `internal/proxy/util.go` (`validateDimension`, `validateMaxLengthPerRow`,
//! `validateMaxCapacityPerRow`, `validatePrimaryKey`, `ValidateFieldAutoID`, ...),
//! `internal/rootcoord/create_collection_task.go` (`validateSchema`, `checkDefaultValue`).
//! Where Milvus answers with a plain Go error the variant is [`SchemaError::Unexpected`], so
//! the wire code is 65535 exactly as Milvus sends it.

use std::collections::HashSet;

use crate::field::START_OF_USER_FIELD_ID;
use crate::names::{validate_name, NameKind};
use crate::{
    CollectionSchema, DataType, FieldSchema, FunctionType, Result, ScalarValue, SchemaError,
};

/// The configurable limits Milvus checks a schema against, at Milvus's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaLimits {
    /// `proxy.maxFieldNum`.
    pub max_fields: usize,
    /// `proxy.maxVectorFieldNum`.
    pub max_vector_fields: usize,
    /// `proxy.maxDimension` (binary vectors may have 8x as many bits).
    pub max_dimension: i64,
    /// `proxy.maxVarCharLength`.
    pub max_varchar_length: i64,
    /// `proxy.maxArrayCapacity`... (Milvus `defaultMaxArrayCapacity`).
    pub max_array_capacity: i64,
    /// `proxy.maxShardNum`.
    pub max_shards: i32,
    /// `rootCoord.maxPartitionNum`.
    pub max_partitions: i64,
    /// `common.DefaultPartitionsWithPartitionKey`.
    pub default_partitions_with_partition_key: i64,
}

impl Default for SchemaLimits {
    fn default() -> Self {
        SchemaLimits {
            max_fields: 64,
            max_vector_fields: 4,
            max_dimension: 32768,
            max_varchar_length: 65535,
            max_array_capacity: 4096,
            max_shards: 16,
            max_partitions: 1024,
            default_partitions_with_partition_key: 16,
        }
    }
}

/// What a create-collection request asks for besides the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionShape {
    pub shards_num: i32,
    pub num_partitions: i64,
}

/// Checks a schema proposed by a create-collection request named `collection_name`, and
/// completes it: names are trimmed, field ids assigned from 100 in order, function ids
/// assigned, output fields of functions marked. Returns the shape with Milvus's defaults
/// applied (partition-key collections get 16 partitions unless told otherwise).
pub fn validate_new_collection(
    collection_name: &str,
    schema: &mut CollectionSchema,
    shape: CollectionShape,
    limits: &SchemaLimits,
) -> Result<CollectionShape> {
    let mut shape = shape;
    check_functions(schema)?;
    if shape.shards_num > limits.max_shards {
        return Err(SchemaError::unexpected(format!(
            "maximum shards's number should be limited to {}",
            limits.max_shards
        )));
    }
    if schema.fields.len() > limits.max_fields {
        return Err(SchemaError::unexpected(format!(
            "maximum field's number should be limited to {}",
            limits.max_fields
        )));
    }
    let vector_fields = schema
        .fields
        .iter()
        .filter(|f| f.data_type.is_vector())
        .count();
    if vector_fields > limits.max_vector_fields {
        return Err(SchemaError::unexpected(format!(
            "maximum vector field's number should be limited to {}",
            limits.max_vector_fields
        )));
    }
    if vector_fields == 0 {
        return Err(SchemaError::invalid("schema does not contain vector field"));
    }
    schema.name = validate_name(NameKind::Collection, &schema.name)?;
    check_duplicated_field_names(schema)?;
    check_primary_key(schema)?;
    check_auto_id(schema)?;
    check_element_types(schema)?;
    shape.num_partitions = check_partition_key(schema, shape.num_partitions, limits)?;
    check_clustering_key(schema)?;
    for field in &mut schema.fields {
        field.name = validate_name(NameKind::Field, &field.name)?;
    }
    for field in &schema.fields {
        if field.data_type.is_vector() {
            check_dimension(field, limits)?;
        }
        if field.data_type == DataType::VarChar
            || (field.data_type == DataType::Array && field.element_type == Some(DataType::VarChar))
        {
            check_max_length(&schema.name, field, limits)?;
        }
        if field.data_type == DataType::Array {
            check_max_capacity(&schema.name, field, limits)?;
        }
    }
    // rootcoord `validateSchema`, after the proxy's checks.
    if schema.name != collection_name.trim() {
        return Err(SchemaError::InvalidParameterExpected {
            detail: format!(
                "collection name = {}, schema.Name={}",
                collection_name.trim(),
                schema.name
            ),
            expected: "collection name matches schema name".into(),
            actual: "don't match".into(),
        });
    }
    for field in &schema.fields {
        check_nullable_and_default(field)?;
    }
    if schema
        .fields
        .iter()
        .any(|f| f.name == "RowID" || f.name == "Timestamp")
    {
        return Err(SchemaError::InvalidParameterExpected {
            detail: "schema contains system field: RowID, Timestamp, $meta".into(),
            expected: "schema don't contains system field".into(),
            actual: "contains".into(),
        });
    }
    let mut next_id = START_OF_USER_FIELD_ID;
    for field in &mut schema.fields {
        field.field_id = next_id;
        next_id += 1;
    }
    for function in &mut schema.functions {
        function.id = next_id;
        next_id += 1;
    }
    Ok(shape)
}

fn check_duplicated_field_names(schema: &CollectionSchema) -> Result<()> {
    let mut seen = HashSet::new();
    for field in &schema.fields {
        if !seen.insert(field.name.trim()) {
            return Err(SchemaError::unexpected(format!(
                "duplicated field name {} found",
                field.name.trim()
            )));
        }
    }
    Ok(())
}

fn check_primary_key(schema: &CollectionSchema) -> Result<()> {
    let mut primary: Option<&FieldSchema> = None;
    for field in schema.fields.iter().filter(|f| f.is_primary_key) {
        if let Some(first) = primary {
            return Err(SchemaError::unexpected(format!(
                "there are more than one primary key, field name = {}, {}",
                first.name, field.name
            )));
        }
        if !matches!(field.data_type, DataType::Int64 | DataType::VarChar) {
            return Err(SchemaError::unexpected(
                "the data type of primary key should be Int64 or VarChar",
            ));
        }
        primary = Some(field);
    }
    if primary.is_none() {
        return Err(SchemaError::unexpected("primary key is not specified"));
    }
    Ok(())
}

fn check_auto_id(schema: &CollectionSchema) -> Result<()> {
    let mut auto: Option<&FieldSchema> = None;
    for field in schema.fields.iter().filter(|f| f.auto_id) {
        if let Some(first) = auto {
            return Err(SchemaError::unexpected(format!(
                "only one field can speficy AutoID with true, field name = {}, {}",
                first.name, field.name
            )));
        }
        if !field.is_primary_key {
            return Err(SchemaError::unexpected(format!(
                "only primary field can speficy AutoID with true, field name = {}",
                field.name
            )));
        }
        auto = Some(field);
    }
    Ok(())
}

fn check_element_types(schema: &CollectionSchema) -> Result<()> {
    for field in &schema.fields {
        if field.data_type == DataType::Array {
            match field.element_type {
                None => {
                    return Err(SchemaError::unexpected(
                        "element data type None is not valid",
                    ))
                }
                Some(t) if !t.is_array_element() => {
                    return Err(SchemaError::unexpected(format!(
                        "element type {} is not supported",
                        t.milvus_name()
                    )))
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

fn check_partition_key(
    schema: &CollectionSchema,
    num_partitions: i64,
    limits: &SchemaLimits,
) -> Result<i64> {
    let mut key: Option<&FieldSchema> = None;
    let mut num_partitions = num_partitions;
    for field in schema.fields.iter().filter(|f| f.is_partition_key) {
        if let Some(first) = key {
            return Err(SchemaError::unexpected(format!(
                "there are more than one partition key, field name = {}, {}",
                first.name, field.name
            )));
        }
        if field.is_primary_key {
            return Err(SchemaError::unexpected(
                "the partition key field must not be primary field",
            ));
        }
        if field.nullable {
            return Err(SchemaError::invalid(
                "partition key field not support nullable",
            ));
        }
        if !matches!(field.data_type, DataType::Int64 | DataType::VarChar) {
            return Err(SchemaError::unexpected(
                "the data type of partition key should be Int64 or VarChar",
            ));
        }
        if num_partitions < 0 {
            return Err(SchemaError::unexpected(
                "the specified partitions should be greater than 0 if partition key is used",
            ));
        }
        if num_partitions > limits.max_partitions {
            return Err(SchemaError::invalid(format!(
                "partition number ({num_partitions}) exceeds max configuration ({})",
                limits.max_partitions
            )));
        }
        if num_partitions == 0 {
            num_partitions = limits.default_partitions_with_partition_key;
        }
        key = Some(field);
    }
    if key.is_none() && num_partitions != 0 {
        return Err(SchemaError::unexpected(
            "num_partitions should only be specified with partition key field enabled",
        ));
    }
    Ok(num_partitions)
}

fn check_clustering_key(schema: &CollectionSchema) -> Result<()> {
    let mut key: Option<&FieldSchema> = None;
    for field in schema.fields.iter().filter(|f| f.is_clustering_key) {
        if let Some(first) = key {
            return Err(SchemaError::IllegalSchema {
                collection: schema.name.clone(),
                detail: format!(
                    "there are more than one clustering key, field name = {}, {}",
                    first.name, field.name
                ),
            });
        }
        key = Some(field);
    }
    Ok(())
}

fn check_dimension(field: &FieldSchema, limits: &SchemaLimits) -> Result<()> {
    let raw = field.type_params.get(crate::field::DIM_KEY);
    if field.data_type == DataType::SparseFloatVector {
        if raw.is_some() {
            return Err(SchemaError::unexpected(format!(
                "dim should not be specified for sparse vector field {}({})",
                field.name, field.field_id
            )));
        }
        return Ok(());
    }
    let Some(raw) = raw else {
        return Err(SchemaError::unexpected(
        format!("dimension is not defined in field type params of field {}, check type param `dim` for vector field", field.name),
        ));
    };
    let dim: i64 = raw.trim().parse().map_err(|_| {
        SchemaError::unexpected(format!("strconv.ParseInt: parsing {raw:?}: invalid syntax"))
    })?;
    if dim <= 1 {
        return Err(SchemaError::unexpected(format!(
            "invalid dimension: {dim}. should be in range 2 ~ {}",
            limits.max_dimension
        )));
    }
    if field.data_type == DataType::BinaryVector {
        if dim % 8 != 0 {
            return Err(SchemaError::unexpected(format!(
                "invalid dimension: {dim} of field {}. binary vector dimension should be multiple of 8. ",
                field.name
            )));
        }
        if dim > limits.max_dimension * 8 {
            return Err(SchemaError::unexpected(format!(
                "invalid dimension: {dim} of field {}. binary vector dimension should be in range 2 ~ {}",
                field.name,
                limits.max_dimension * 8
            )));
        }
    } else if dim > limits.max_dimension {
        return Err(SchemaError::unexpected(format!(
            "invalid dimension: {dim} of field {}. float vector dimension should be in range 2 ~ {}",
            field.name,
            limits.max_dimension
        )));
    }
    Ok(())
}

fn check_max_length(collection: &str, field: &FieldSchema, limits: &SchemaLimits) -> Result<()> {
    let Some(raw) = field.type_params.get(crate::field::MAX_LENGTH_KEY) else {
        return Err(SchemaError::unexpected(format!(
            "type param(max_length) should be specified for the field({}) of collection {collection}",
            field.name
        )));
    };
    let max_length: i64 = raw.trim().parse().map_err(|_| {
        SchemaError::unexpected(format!("strconv.ParseInt: parsing {raw:?}: invalid syntax"))
    })?;
    if max_length <= 0 || max_length > limits.max_varchar_length {
        return Err(SchemaError::invalid(format!(
            "the maximum length specified for a VarChar field({}) should be in (0, {}], but got {max_length} instead",
            field.name, limits.max_varchar_length
        )));
    }
    Ok(())
}

fn check_max_capacity(collection: &str, field: &FieldSchema, limits: &SchemaLimits) -> Result<()> {
    let Some(raw) = field.type_params.get(crate::field::MAX_CAPACITY_KEY) else {
        return Err(SchemaError::unexpected(format!(
            "type param(max_capacity) should be specified for array field {} of collection {collection}",
            field.name
        )));
    };
    let capacity: i64 = raw.trim().parse().map_err(|_| {
        SchemaError::unexpected(format!(
            "the value for max_capacity of field {} must be an integer",
            field.name
        ))
    })?;
    if capacity <= 0 || capacity > limits.max_array_capacity {
        return Err(SchemaError::unexpected(format!(
            "the maximum capacity specified for a Array should be in (0, {}]",
            limits.max_array_capacity
        )));
    }
    Ok(())
}

/// Milvus 2.6 proxy `validateFunction`: generic checks per function, then BM25's own.
fn check_functions(schema: &mut CollectionSchema) -> Result<()> {
    let mut names = HashSet::new();
    let mut all_outputs = HashSet::new();
    for function in &schema.functions {
        let fname = &function.name;
        if !names.insert(fname.clone()) {
            return Err(SchemaError::unexpected(format!(
                "duplicate function name: {fname}"
            )));
        }
        let mut inputs = HashSet::new();
        for input in &function.input_field_names {
            if !inputs.insert(input) {
                return Err(SchemaError::unexpected(format!(
                    "each function input field should be used exactly once in the same function, function: {fname}, input field: {input}"
                )));
            }
            let field = schema.field(input).ok_or_else(|| {
                SchemaError::unexpected(format!("function input field not found: {input}"))
            })?;
            if field.nullable {
                return Err(SchemaError::unexpected(format!(
                    "function input field cannot be nullable: function {fname}, field {input}"
                )));
            }
        }
        for output in &function.output_field_names {
            let field = schema.field(output).ok_or_else(|| {
                SchemaError::unexpected(format!("function output field not found: {output}"))
            })?;
            if inputs.contains(output) {
                return Err(SchemaError::unexpected(format!(
                    "a single field cannot be both input and output in the same function, function: {fname}, field: {output}"
                )));
            }
            if field.is_primary_key {
                return Err(SchemaError::unexpected(format!(
                    "function output field cannot be primary key: function {fname}, field {output}"
                )));
            }
            if field.is_partition_key || field.is_clustering_key {
                return Err(SchemaError::unexpected(format!(
                    "function output field cannot be partition key or clustering key: function {fname}, field {output}"
                )));
            }
            if field.nullable {
                return Err(SchemaError::unexpected(format!(
                    "function output field cannot be nullable: function {fname}, field {output}"
                )));
            }
            if !all_outputs.insert(output.clone()) {
                return Err(SchemaError::unexpected(format!(
                    "duplicate function output field: function {fname}, field {output}"
                )));
            }
        }
        match function.function_type {
            FunctionType::Bm25 => check_bm25(schema, function)?,
        }
    }
    for field in &mut schema.fields {
        if all_outputs.contains(&field.name) {
            field.is_function_output = true;
        }
    }
    Ok(())
}

fn check_bm25(schema: &CollectionSchema, function: &crate::FunctionSchema) -> Result<()> {
    if !function.params.is_empty() {
        return Err(SchemaError::unexpected("BM25 function accepts no params"));
    }
    let inputs = &function.input_field_names;
    let first = inputs.first().and_then(|n| schema.field(n));
    if inputs.len() != 1 || first.is_none_or(|f| f.data_type != DataType::VarChar) {
        return Err(SchemaError::unexpected(format!(
            "BM25 function input field must be a VARCHAR field, got {} field with type {}",
            inputs.len(),
            first.map(|f| f.data_type.milvus_name()).unwrap_or("None")
        )));
    }
    if first.and_then(|f| f.type_params.get("enable_analyzer")) != Some("true") {
        return Err(SchemaError::unexpected(
            "BM25 function input field must set enable_analyzer to true",
        ));
    }
    let [output] = function.output_field_names.as_slice() else {
        return Err(SchemaError::unexpected(format!(
            "BM25 function only need 1 output field, but got {}",
            function.output_field_names.len()
        )));
    };
    let output_type = schema.field(output).map(|f| f.data_type);
    if output_type != Some(DataType::SparseFloatVector) {
        return Err(SchemaError::unexpected(format!(
            "BM25 function output field must be a SparseFloatVector field, but got {}",
            output_type.map(DataType::milvus_name).unwrap_or("None")
        )));
    }
    Ok(())
}

fn check_nullable_and_default(field: &FieldSchema) -> Result<()> {
    let type_name = field.data_type.milvus_name();
    if field.nullable && field.data_type.is_vector() {
        return Err(SchemaError::invalid(format!(
            "vector type not support null, type:{type_name}, name:{}",
            field.name
        )));
    }
    if field.nullable && field.is_primary_key {
        return Err(SchemaError::invalid(format!(
            "primary field not support null, type:{type_name}, name:{}",
            field.name
        )));
    }
    let Some(default) = &field.default_value else {
        return Ok(());
    };
    if field.is_primary_key {
        return Err(SchemaError::invalid(format!(
            "primary field not support default_value, type:{type_name}, name:{}",
            field.name
        )));
    }
    if matches!(field.data_type, DataType::Json | DataType::Array) || field.data_type.is_vector() {
        return Err(SchemaError::invalid(format!(
            "type not support default_value, type:{type_name}, name:{}",
            field.name
        )));
    }
    let mismatch = |expected: &str| {
        Err(SchemaError::invalid(format!(
            "type ({type_name}) of field ({}) is not equal to the type({expected}) of default_value",
            field.name
        )))
    };
    match default {
        ScalarValue::Bool(_) if field.data_type != DataType::Bool => mismatch("DataType_Bool"),
        // pymilvus sends a Python int as `long_data` whatever the field's width (Milvus
        // accepts it and range-checks), numpy ints of 8-32 bits as `int_data`.
        ScalarValue::Int(_)
            if !matches!(
                field.data_type,
                DataType::Int8 | DataType::Int16 | DataType::Int32
            ) =>
        {
            mismatch("DataType_Int")
        }
        ScalarValue::Int(v) => check_int_range(field.data_type, i64::from(*v)),
        ScalarValue::Long(v) if field.data_type.is_integer() => {
            check_int_range(field.data_type, *v)
        }
        ScalarValue::Long(_) => mismatch("DataType_Int64"),
        ScalarValue::Float(_) if field.data_type != DataType::Float => mismatch("DataType_Float"),
        ScalarValue::Double(_) if field.data_type != DataType::Double => {
            mismatch("DataType_Double")
        }
        ScalarValue::String(_) if field.data_type != DataType::VarChar => {
            mismatch("DataType_VarChar")
        }
        ScalarValue::String(s) => {
            let max = field.max_length().unwrap_or(0);
            if s.len() as i64 > max {
                return Err(SchemaError::InvalidParameterExpected {
                    detail: format!(
                        "the length ({}) of string exceeds max length ({max})",
                        s.len()
                    ),
                    expected: "valid length string".into(),
                    actual: "string length exceeds max length".into(),
                });
            }
            Ok(())
        }
        ScalarValue::Bytes(_) => Err(SchemaError::invalid(format!(
            "type not support default_value, type:{type_name}, name:{}",
            field.name
        ))),
        ScalarValue::Bool(_) | ScalarValue::Float(_) | ScalarValue::Double(_) => Ok(()),
    }
}

fn check_int_range(data_type: DataType, v: i64) -> Result<()> {
    let (lo, hi) = if data_type == DataType::Int8 {
        (i64::from(i8::MIN), i64::from(i8::MAX))
    } else if data_type == DataType::Int16 {
        (i64::from(i16::MIN), i64::from(i16::MAX))
    } else if data_type == DataType::Int32 {
        (i64::from(i32::MIN), i64::from(i32::MAX))
    } else {
        (i64::MIN, i64::MAX)
    };
    if v < lo || v > hi {
        return Err(SchemaError::InvalidParameterRange {
            detail: "default value out of range".into(),
            range: format!("{v} out of range {lo} <= value <= {hi}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FieldSchema;

    fn pk() -> FieldSchema {
        let mut f = FieldSchema::new("id", DataType::Int64);
        f.is_primary_key = true;
        f
    }

    fn vector(dim: &str) -> FieldSchema {
        FieldSchema::new("v", DataType::FloatVector).with_param("dim", dim)
    }

    fn schema(fields: Vec<FieldSchema>) -> CollectionSchema {
        CollectionSchema {
            name: "c".into(),
            description: String::new(),
            fields,
            functions: vec![],
            enable_dynamic_field: false,
        }
    }

    fn check(fields: Vec<FieldSchema>) -> Result<(CollectionSchema, CollectionShape)> {
        let mut s = schema(fields);
        let shape = validate_new_collection(
            "c",
            &mut s,
            CollectionShape {
                shards_num: 1,
                num_partitions: 0,
            },
            &SchemaLimits::default(),
        )?;
        Ok((s, shape))
    }

    fn message(fields: Vec<FieldSchema>) -> String {
        check(fields).unwrap_err().to_string()
    }

    #[test]
    fn valid_schema_gets_field_ids_from_100() {
        let (s, shape) = check(vec![pk(), vector("8")]).unwrap();
        assert_eq!(
            s.fields.iter().map(|f| f.field_id).collect::<Vec<_>>(),
            vec![100, 101]
        );
        assert_eq!(shape.num_partitions, 0);
    }

    #[test]
    fn structural_errors_use_milvus_texts() {
        assert_eq!(
            message(vec![pk()]),
            "schema does not contain vector field: invalid parameter"
        );
        assert_eq!(
            message(vec![FieldSchema::new("id", DataType::Int64), vector("8")]),
            "primary key is not specified"
        );
        assert_eq!(
            message(vec![pk(), vector("1")]),
            "invalid dimension: 1. should be in range 2 ~ 32768"
        );
        assert_eq!(
            message(vec![pk(), vector("32769")]),
            "invalid dimension: 32769 of field v. float vector dimension should be in range 2 ~ 32768"
        );
        let varchar = FieldSchema::new("s", DataType::VarChar).with_param("max_length", 65536);
        assert_eq!(
            message(vec![pk(), vector("8"), varchar]),
            "the maximum length specified for a VarChar field(s) should be in (0, 65535], but got 65536 instead: invalid parameter"
        );
    }

    #[test]
    fn integer_defaults_arrive_as_long_and_are_range_checked() {
        let mut small = FieldSchema::new("small", DataType::Int8);
        small.default_value = Some(ScalarValue::Long(127));
        assert!(check(vec![pk(), vector("8"), small.clone()]).is_ok());
        small.default_value = Some(ScalarValue::Long(128));
        assert_eq!(
            message(vec![pk(), vector("8"), small]),
            "default value out of range: invalid parameter[128 out of range -128 <= value <= 127]"
        );
    }

    #[test]
    fn partition_key_defaults_to_16_partitions() {
        let mut key = FieldSchema::new("k", DataType::VarChar).with_param("max_length", 16);
        key.is_partition_key = true;
        let (_, shape) = check(vec![pk(), vector("8"), key]).unwrap();
        assert_eq!(shape.num_partitions, 16);
    }
}
