//! Collection schemas: `schema.CollectionSchema` ↔ [`rivus_schema::CollectionSchema`].
//!
//! Incoming schemas are checked for what the protobuf can say but rivus cannot store yet
//! (data types, function types, struct fields, external sources): those are refused with a
//! clear error, never dropped.

use milvus::proto::common::KeyValuePair;
use milvus::proto::schema as pb;
use rivus_schema::{
    CollectionSchema, DataType, FieldSchema, FunctionSchema, FunctionType, Properties, ScalarValue,
    SchemaError,
};

use super::{properties_from, properties_to};

/// Milvus's names of the data types rivus does not support, for error messages.
fn unsupported_type_name(code: i32) -> String {
    match code {
        24 => "Geometry".into(),
        25 => "Text".into(),
        26 => "Timestamptz".into(),
        27 => "Date".into(),
        106 => "ArrayOfVector".into(),
        200 => "ArrayOfStruct".into(),
        other => format!("data type {other}"),
    }
}

fn kv_unique(pairs: Vec<KeyValuePair>, what: &str) -> Result<Properties, SchemaError> {
    let mut seen = std::collections::HashSet::new();
    for pair in &pairs {
        if !seen.insert(pair.key.clone()) {
            return Err(SchemaError::invalid(format!(
                "duplicated {what} key \"{}\"",
                pair.key
            )));
        }
    }
    Ok(properties_from(pairs))
}

fn default_from(value: pb::ValueField) -> Result<Option<ScalarValue>, SchemaError> {
    use pb::value_field::Data;
    Ok(match value.data {
        None => None,
        Some(Data::BoolData(v)) => Some(ScalarValue::Bool(v)),
        Some(Data::IntData(v)) => Some(ScalarValue::Int(v)),
        Some(Data::LongData(v)) => Some(ScalarValue::Long(v)),
        Some(Data::FloatData(v)) => Some(ScalarValue::Float(v)),
        Some(Data::DoubleData(v)) => Some(ScalarValue::Double(v)),
        Some(Data::StringData(v)) => Some(ScalarValue::String(v)),
        Some(Data::BytesData(v)) => Some(ScalarValue::Bytes(v)),
        Some(Data::TimestamptzData(_)) | Some(Data::DateData(_)) | Some(Data::TimeData(_)) => {
            return Err(SchemaError::Unsupported {
                what: "a timestamp or date default value".into(),
            })
        }
    })
}

fn default_to(value: &ScalarValue) -> pb::ValueField {
    use pb::value_field::Data;
    let data = match value {
        ScalarValue::Bool(v) => Data::BoolData(*v),
        ScalarValue::Int(v) => Data::IntData(*v),
        ScalarValue::Long(v) => Data::LongData(*v),
        ScalarValue::Float(v) => Data::FloatData(*v),
        ScalarValue::Double(v) => Data::DoubleData(*v),
        ScalarValue::String(v) => Data::StringData(v.clone()),
        ScalarValue::Bytes(v) => Data::BytesData(v.clone()),
    };
    pb::ValueField { data: Some(data) }
}

fn data_type_from(code: i32) -> Result<DataType, SchemaError> {
    DataType::from_code(code).ok_or_else(|| match code {
        0 => SchemaError::unexpected("data type None is not valid"),
        20 => SchemaError::unexpected(
            "string data type not supported yet, please use VarChar type instead",
        ),
        other => SchemaError::Unsupported {
            what: format!("field type {}", unsupported_type_name(other)),
        },
    })
}

fn field_from(field: pb::FieldSchema) -> Result<FieldSchema, SchemaError> {
    let pb::FieldSchema {
        field_id: _,
        name,
        is_primary_key,
        description,
        data_type,
        type_params,
        index_params,
        auto_id,
        state: _,
        element_type,
        default_value,
        is_dynamic,
        is_partition_key,
        is_clustering_key,
        nullable,
        is_function_output: _,
        external_field,
        type_schema,
        element_nullable,
    } = field;
    if is_dynamic {
        return Err(SchemaError::unexpected(
            "cannot explicitly set a field as a dynamic field",
        ));
    }
    let data_type = data_type_from(data_type)?;
    let element_type = if data_type == DataType::Array {
        Some(
            DataType::from_code(element_type).ok_or_else(|| match element_type {
                0 => SchemaError::unexpected("element data type None is not valid"),
                20 => SchemaError::unexpected(
                    "string data type not supported yet, please use VarChar type instead",
                ),
                other => SchemaError::unexpected(format!(
                    "element type {} is not supported",
                    unsupported_type_name(other)
                )),
            })?,
        )
    } else {
        None
    };
    if !external_field.is_empty() || type_schema.is_some() || element_nullable {
        return Err(SchemaError::Unsupported {
            what: format!(
                "external fields, nested type schemas and nullable array elements (field {name})"
            ),
        });
    }
    Ok(FieldSchema {
        field_id: 0,
        name,
        description,
        data_type,
        element_type,
        is_primary_key,
        auto_id,
        is_partition_key,
        is_clustering_key,
        is_function_output: false,
        nullable,
        default_value: default_value.map(default_from).transpose()?.flatten(),
        type_params: kv_unique(type_params, "type param")?,
        index_params: kv_unique(index_params, "index param")?,
    })
}

fn function_from(function: pb::FunctionSchema) -> Result<FunctionSchema, SchemaError> {
    let pb::FunctionSchema {
        name,
        id: _,
        description,
        r#type,
        input_field_names,
        input_field_ids: _,
        output_field_names,
        output_field_ids: _,
        params,
    } = function;
    if name.is_empty() {
        return Err(SchemaError::unexpected("function name cannot be empty"));
    }
    let code = r#type;
    let function_type = FunctionType::from_code(code).ok_or_else(|| SchemaError::Unsupported {
        what: format!("function type {code} (function {name}); only BM25 is"),
    })?;
    if input_field_names.is_empty() {
        return Err(SchemaError::unexpected(format!(
            "function input field names cannot be empty, function: {name}"
        )));
    }
    if output_field_names.is_empty() {
        return Err(SchemaError::unexpected(format!(
            "function output field names cannot be empty, function: {name}"
        )));
    }
    Ok(FunctionSchema {
        id: 0,
        name,
        description,
        function_type,
        input_field_names,
        output_field_names,
        params: properties_from(params),
    })
}

/// A schema from a create-collection request, plus the properties it carried (Milvus lets a
/// client put collection properties in the schema too).
pub fn schema_from(
    schema: pb::CollectionSchema,
) -> Result<(CollectionSchema, Properties), SchemaError> {
    #[allow(deprecated)]
    let pb::CollectionSchema {
        name,
        description,
        auto_id: _,
        fields,
        enable_dynamic_field,
        properties,
        functions,
        db_name: _,
        struct_array_fields,
        version: _,
        external_source,
        external_spec,
        do_physical_backfill: _,
        file_resource_ids,
        enable_namespace,
    } = schema;
    if !struct_array_fields.is_empty() {
        return Err(SchemaError::Unsupported {
            what: "struct array fields".into(),
        });
    }
    if !external_source.is_empty() || !external_spec.is_empty() {
        return Err(SchemaError::Unsupported {
            what: "external collections".into(),
        });
    }
    if !file_resource_ids.is_empty() {
        return Err(SchemaError::Unsupported {
            what: "file resources".into(),
        });
    }
    if enable_namespace {
        return Err(SchemaError::Unsupported {
            what: "namespaces".into(),
        });
    }
    let fields = fields
        .into_iter()
        .map(field_from)
        .collect::<Result<Vec<_>, _>>()?;
    let functions = functions
        .into_iter()
        .map(function_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        CollectionSchema {
            name,
            description,
            fields,
            functions,
            enable_dynamic_field,
        },
        properties_from(properties),
    ))
}

fn field_to(field: &FieldSchema) -> pb::FieldSchema {
    pb::FieldSchema {
        field_id: field.field_id,
        name: field.name.clone(),
        is_primary_key: field.is_primary_key,
        description: field.description.clone(),
        data_type: field.data_type.code(),
        type_params: properties_to(&field.type_params),
        index_params: properties_to(&field.index_params),
        auto_id: field.auto_id,
        element_type: field.element_type.map(DataType::code).unwrap_or(0),
        default_value: field.default_value.as_ref().map(default_to),
        is_partition_key: field.is_partition_key,
        is_clustering_key: field.is_clustering_key,
        nullable: field.nullable,
        is_function_output: field.is_function_output,
        ..Default::default()
    }
}

fn function_to(schema: &CollectionSchema, function: &FunctionSchema) -> pb::FunctionSchema {
    let ids = |names: &[String]| {
        names
            .iter()
            .map(|n| schema.field(n).map(|f| f.field_id).unwrap_or(0))
            .collect()
    };
    pb::FunctionSchema {
        name: function.name.clone(),
        id: function.id,
        description: function.description.clone(),
        r#type: function.function_type.code(),
        input_field_names: function.input_field_names.clone(),
        input_field_ids: ids(&function.input_field_names),
        output_field_names: function.output_field_names.clone(),
        output_field_ids: ids(&function.output_field_names),
        params: properties_to(&function.params),
    }
}

/// A stored schema for describe_collection.
pub fn schema_to(
    schema: &CollectionSchema,
    properties: &Properties,
    db_name: &str,
) -> pb::CollectionSchema {
    #[allow(deprecated)]
    pb::CollectionSchema {
        name: schema.name.clone(),
        description: schema.description.clone(),
        auto_id: schema.primary_field().is_some_and(|f| f.auto_id),
        fields: schema.fields.iter().map(field_to).collect(),
        enable_dynamic_field: schema.enable_dynamic_field,
        properties: properties_to(properties),
        functions: schema
            .functions
            .iter()
            .map(|f| function_to(schema, f))
            .collect(),
        db_name: db_name.to_string(),
        ..Default::default()
    }
}
