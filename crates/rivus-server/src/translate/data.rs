//! Rows on the wire (`schema.FieldData`) ↔ engine columns, and filter template values.
//!
//! Inserts arrive as pymilvus sends them: nullable scalars compacted (only the non-null
//! values, plus one `valid_data` bit per row), JSON as bytes, ARRAY element type taken from the
//! schema. Replies go out as pymilvus reads them: nullable scalars full length with
//! placeholders, ARRAY with its element type, every vector with its dim.

// Wire oneofs: every variant rivus does not take shares one refusal.
#![allow(clippy::wildcard_enum_match_arm)]

use milvus::proto::schema::{
    self as pb, field_data, scalar_field, template_array_value, template_value, vector_field,
    FieldData, ScalarField, TemplateValue, VectorField,
};
use rivus_engine::EngineError;
use rivus_engine::{Literal, Templates};
use rivus_schema::{
    ArrayColumn, Bitmap, CollectionSchema, Column, ColumnBatch, ColumnData, DataType, JsonColumn,
    ScalarValue, StringColumn, VectorColumn,
};

const META: &str = "$meta";

fn invalid(detail: impl Into<String>) -> EngineError {
    EngineError::invalid(detail)
}

fn mismatch(name: &str, want: &str) -> EngineError {
    EngineError::InvalidParameterExpected {
        detail: Some(format!("field '{name}' is illegal, array type mismatch")),
        expected: format!("need {want} array"),
        actual: "got nil".into(),
    }
}

/// Expands compacted values of a nullable column to one entry per row.
fn expand<T: Clone>(values: Vec<T>, valid: &[bool], fill: T, n: usize) -> Vec<T> {
    if valid.is_empty() || values.len() == n {
        return values;
    }
    let mut it = values.into_iter();
    valid
        .iter()
        .map(|v| {
            if *v {
                it.next().unwrap_or_else(|| fill.clone())
            } else {
                fill.clone()
            }
        })
        .collect()
}

/// The columns of an insert/upsert (`num_rows` rows), keyed by field name (`$meta` for the
/// dynamic field).
pub fn columns_from_fields(
    schema: &CollectionSchema,
    fields: Vec<FieldData>,
    num_rows: usize,
) -> Result<ColumnBatch, EngineError> {
    let mut batch = ColumnBatch::new(num_rows);
    for fd in fields {
        let name = if fd.is_dynamic {
            META.to_string()
        } else {
            fd.field_name.clone()
        };
        if rivus_schema::ColumnSource::column(&batch, &name).is_some() {
            return Err(invalid(format!("duplicated field {name} found")));
        }
        let field = schema.field(&name);
        let column = match fd.field {
            Some(field_data::Field::Scalars(s)) => {
                let element = field.and_then(|f| f.element_type);
                scalar_column(&name, s, element, num_rows, fd.valid_data)?
            }
            Some(field_data::Field::Vectors(v)) => {
                let want = field.map(|f| f.data_type);
                let schema_dim = field.and_then(|f| f.dim()).map(|d| d.max(0) as usize);
                vector_column(&name, v, want, schema_dim)?
            }
            _ => return Err(mismatch(&name, "scalar or vector")),
        };
        let column = narrow(field.map(|f| f.data_type), column)?;
        if column.data.len() != num_rows {
            return Err(EngineError::InvalidParameterExpected {
                detail: Some(format!(
                    "the num_rows ({}) of field ({name}) is not equal to passed num_rows ({num_rows})",
                    column.data.len()
                )),
                expected: num_rows.to_string(),
                actual: column.data.len().to_string(),
            });
        }
        batch.insert(name, column);
    }
    Ok(batch)
}

/// INT8 and INT16 travel as int32: narrow them, refusing values out of range.
fn narrow(want: Option<DataType>, column: Column) -> Result<Column, EngineError> {
    let (ColumnData::Int32(v), Some(t @ (DataType::Int8 | DataType::Int16))) = (&column.data, want)
    else {
        return Ok(column);
    };
    let (lo, hi) = if t == DataType::Int8 {
        (-128, 127)
    } else {
        (-32768, 32767)
    };
    if let Some((i, x)) = v
        .iter()
        .enumerate()
        .find(|(i, x)| column.is_valid(*i) && !(lo..=hi).contains(*x))
    {
        return Err(EngineError::InvalidParameterExpected {
            detail: Some(format!(
                "the {i}th element ({x}) out of range: [{lo}, {hi}]"
            )),
            expected: "integer doesn't overflow".into(),
            actual: "out of range".into(),
        });
    }
    let data = if t == DataType::Int8 {
        ColumnData::Int8(v.iter().map(|x| *x as i8).collect())
    } else {
        ColumnData::Int16(v.iter().map(|x| *x as i16).collect())
    };
    Ok(Column {
        data,
        valid: column.valid,
    })
}

fn scalar_column(
    name: &str,
    s: ScalarField,
    element: Option<DataType>,
    n: usize,
    legacy_valid: Vec<bool>,
) -> Result<Column, EngineError> {
    let valid_bits = if s.valid_data.is_empty() {
        legacy_valid
    } else {
        s.valid_data
    };
    let data = match s.data {
        Some(scalar_field::Data::BoolData(v)) => {
            ColumnData::Bool(expand(v.data, &valid_bits, false, n))
        }
        Some(scalar_field::Data::IntData(v)) => {
            ColumnData::Int32(expand(v.data, &valid_bits, 0, n))
        }
        Some(scalar_field::Data::LongData(v)) => {
            ColumnData::Int64(expand(v.data, &valid_bits, 0, n))
        }
        Some(scalar_field::Data::FloatData(v)) => {
            ColumnData::Float(expand(v.data, &valid_bits, 0.0, n))
        }
        Some(scalar_field::Data::DoubleData(v)) => {
            ColumnData::Double(expand(v.data, &valid_bits, 0.0, n))
        }
        Some(scalar_field::Data::StringData(v)) => ColumnData::VarChar(
            expand(v.data, &valid_bits, String::new(), n)
                .iter()
                .collect::<StringColumn>(),
        ),
        Some(scalar_field::Data::JsonData(v)) => {
            let raw = expand(v.data, &valid_bits, b"null".to_vec(), n);
            let mut docs = Vec::with_capacity(raw.len());
            for bytes in raw {
                docs.push(
                    serde_json::from_slice(&bytes)
                        .map_err(|e| invalid(format!("invalid json data of field {name}: {e}")))?,
                );
            }
            ColumnData::Json(JsonColumn::new(docs))
        }
        Some(scalar_field::Data::ArrayData(a)) => {
            let element = element
                .or_else(|| DataType::from_code(a.element_type))
                .ok_or_else(|| invalid(format!("unknown element type of field {name}")))?;
            let mut col = ArrayColumn::new(element)
                .ok_or_else(|| invalid(format!("unsupported element type of field {name}")))?;
            let rows = expand(a.data, &valid_bits, ScalarField::default(), n);
            for row in rows {
                let values = scalars_of(row);
                if col.push(&values).is_none() {
                    return Err(EngineError::InvalidParameterExpected {
                        detail: Some("insert data does not match".into()),
                        expected: format!("{} array", element.milvus_name().to_lowercase()),
                        actual: "another array".into(),
                    });
                }
            }
            ColumnData::Array(col)
        }
        _ => return Err(mismatch(name, "supported scalar")),
    };
    let valid = (!valid_bits.is_empty()).then(|| Bitmap::from_slice(&valid_bits, |b| *b));
    Ok(Column { data, valid })
}

fn scalars_of(s: ScalarField) -> Vec<ScalarValue> {
    match s.data {
        Some(scalar_field::Data::BoolData(v)) => {
            v.data.into_iter().map(ScalarValue::Bool).collect()
        }
        Some(scalar_field::Data::IntData(v)) => v.data.into_iter().map(ScalarValue::Int).collect(),
        Some(scalar_field::Data::LongData(v)) => {
            v.data.into_iter().map(ScalarValue::Long).collect()
        }
        Some(scalar_field::Data::FloatData(v)) => {
            v.data.into_iter().map(ScalarValue::Float).collect()
        }
        Some(scalar_field::Data::DoubleData(v)) => {
            v.data.into_iter().map(ScalarValue::Double).collect()
        }
        Some(scalar_field::Data::StringData(v)) => {
            v.data.into_iter().map(ScalarValue::String).collect()
        }
        _ => Vec::new(),
    }
}

fn vector_column(
    name: &str,
    v: VectorField,
    want: Option<DataType>,
    schema_dim: Option<usize>,
) -> Result<Column, EngineError> {
    let wire_dim = usize::try_from(v.dim).unwrap_or(0);
    // Rows are counted with the schema's dim (Milvus `GetNumRowsOf*VectorField`), then the
    // sent dim must equal it (`checkAligned`).
    let dim = schema_dim.unwrap_or(wire_dim);
    let check_dim = |dim: usize| -> Result<(), EngineError> {
        if wire_dim != dim {
            return Err(EngineError::InvalidParameterExpected {
                detail: Some(format!(
                    "the dim ({wire_dim}) of field data({name}) is not equal to schema dim ({dim})"
                )),
                expected: dim.to_string(),
                actual: wire_dim.to_string(),
            });
        }
        Ok(())
    };
    let (data_type, floats, bytes) = match v.data {
        Some(vector_field::Data::FloatVector(f)) => match want {
            // pymilvus sends float lists for FLOAT16/BFLOAT16 fields as float vectors.
            Some(t @ (DataType::Float16Vector | DataType::BFloat16Vector)) => {
                let bytes = f
                    .data
                    .iter()
                    .flat_map(|x| {
                        if t == DataType::Float16Vector {
                            f32_to_f16(*x).to_le_bytes()
                        } else {
                            ((x.to_bits() >> 16) as u16).to_le_bytes()
                        }
                    })
                    .collect();
                (t, Vec::new(), bytes)
            }
            _ => (DataType::FloatVector, f.data, Vec::new()),
        },
        Some(vector_field::Data::BinaryVector(b)) => (DataType::BinaryVector, Vec::new(), b),
        Some(vector_field::Data::Float16Vector(b)) => (DataType::Float16Vector, Vec::new(), b),
        Some(vector_field::Data::Bfloat16Vector(b)) => (DataType::BFloat16Vector, Vec::new(), b),
        Some(vector_field::Data::Int8Vector(b)) => (DataType::Int8Vector, Vec::new(), b),
        Some(vector_field::Data::SparseFloatVector(s)) => {
            return Ok(Column::new(ColumnData::Sparse(s.contents)));
        }
        Some(vector_field::Data::VectorArray(_)) | None => return Err(mismatch(name, "vector")),
    };
    let mut col = VectorColumn::new(data_type, dim.max(1))
        .ok_or_else(|| invalid(format!("invalid vector field {name}")))?;
    let width = VectorColumn::row_bytes_of(data_type, dim.max(1)).unwrap_or(1);
    if data_type == DataType::FloatVector {
        if dim == 0 || floats.len() % dim != 0 {
            return Err(EngineError::refused(format!(
                "the length({}) of float data should divide the dim({dim})",
                floats.len()
            )));
        }
        check_dim(dim)?;
        col.floats = floats;
    } else {
        if width == 0 || bytes.len() % width != 0 {
            return Err(EngineError::refused(format!(
                "the length({}) of {} data should divide the dim({dim})",
                bytes.len(),
                data_type.milvus_name().to_lowercase()
            )));
        }
        if data_type == DataType::Float16Vector || data_type == DataType::BFloat16Vector {
            for pair in bytes.chunks_exact(2) {
                let bits = u16::from_le_bytes([pair[0], pair[1]]);
                let (exp_mask, bad) = if data_type == DataType::Float16Vector {
                    (0x7c00, bits & 0x7c00 == 0x7c00)
                } else {
                    (0x7f80, bits & 0x7f80 == 0x7f80)
                };
                let _ = exp_mask;
                if bad {
                    return Err(EngineError::refused(format!(
                        "{} vector contain nan or infinity value.",
                        if data_type == DataType::Float16Vector {
                            "float16"
                        } else {
                            "bfloat16"
                        }
                    )));
                }
            }
        }
        check_dim(dim)?;
        col.bytes = bytes;
    }
    Ok(Column::new(ColumnData::Vector(col)))
}

/// IEEE half from single precision (round to nearest even).
fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = (mant | 0x80_0000) >> (1 - e);
        let round = (m >> 12) & 1;
        return sign | (((m >> 13) + round) as u16);
    }
    let m = mant >> 13;
    let round_bits = mant & 0x1fff;
    let mut out = u32::from(sign) | ((e as u32) << 10) | m;
    if round_bits > 0x1000 || (round_bits == 0x1000 && (m & 1) == 1) {
        out += 1;
    }
    out as u16
}

/// A result column as pymilvus reads it.
pub fn field_from_column(schema: &CollectionSchema, name: &str, column: &Column) -> FieldData {
    let field = schema.field(name);
    let is_dynamic = name == META;
    let n = column.data.len();
    let valid_data: Vec<bool> = match (&column.valid, field.is_some_and(|f| f.nullable)) {
        (Some(v), true) => (0..n).map(|i| v.get(i)).collect(),
        (None, true) => vec![true; n],
        _ => Vec::new(),
    };
    let scalars = |data| {
        field_data::Field::Scalars(ScalarField {
            data: Some(data),
            valid_data: Vec::new(),
        })
    };
    let (type_code, body) = match &column.data {
        ColumnData::Bool(v) => (
            DataType::Bool,
            scalars(scalar_field::Data::BoolData(pb::BoolArray {
                data: v.clone(),
            })),
        ),
        ColumnData::Int8(v) => (
            DataType::Int8,
            scalars(scalar_field::Data::IntData(pb::IntArray {
                data: v.iter().map(|x| i32::from(*x)).collect(),
            })),
        ),
        ColumnData::Int16(v) => (
            DataType::Int16,
            scalars(scalar_field::Data::IntData(pb::IntArray {
                data: v.iter().map(|x| i32::from(*x)).collect(),
            })),
        ),
        ColumnData::Int32(v) => (
            DataType::Int32,
            scalars(scalar_field::Data::IntData(pb::IntArray {
                data: v.clone(),
            })),
        ),
        ColumnData::Int64(v) => (
            DataType::Int64,
            scalars(scalar_field::Data::LongData(pb::LongArray {
                data: v.clone(),
            })),
        ),
        ColumnData::Float(v) => (
            DataType::Float,
            scalars(scalar_field::Data::FloatData(pb::FloatArray {
                data: v.clone(),
            })),
        ),
        ColumnData::Double(v) => (
            DataType::Double,
            scalars(scalar_field::Data::DoubleData(pb::DoubleArray {
                data: v.clone(),
            })),
        ),
        ColumnData::VarChar(v) => (
            DataType::VarChar,
            scalars(scalar_field::Data::StringData(pb::StringArray {
                data: v.iter().map(str::to_string).collect(),
            })),
        ),
        ColumnData::Json(v) => (
            DataType::Json,
            scalars(scalar_field::Data::JsonData(pb::JsonArray {
                data: v
                    .docs()
                    .iter()
                    .map(|d| d.to_string().into_bytes())
                    .collect(),
            })),
        ),
        ColumnData::Array(a) => {
            let element = a.values().data_type().unwrap_or(DataType::Int64);
            let rows = (0..a.len())
                .map(|i| scalar_field_of(element, &a.row(i)))
                .collect();
            (
                DataType::Array,
                scalars(scalar_field::Data::ArrayData(pb::ArrayArray {
                    data: rows,
                    element_type: element.code(),
                })),
            )
        }
        ColumnData::Vector(v) => {
            let data = match v.data_type {
                DataType::FloatVector => vector_field::Data::FloatVector(pb::FloatArray {
                    data: v.floats.clone(),
                }),
                DataType::Float16Vector => vector_field::Data::Float16Vector(v.bytes.clone()),
                DataType::BFloat16Vector => vector_field::Data::Bfloat16Vector(v.bytes.clone()),
                DataType::Int8Vector => vector_field::Data::Int8Vector(v.bytes.clone()),
                _ => vector_field::Data::BinaryVector(v.bytes.clone()),
            };
            (
                v.data_type,
                field_data::Field::Vectors(VectorField {
                    dim: v.dim as i64,
                    data: Some(data),
                    valid_data: Vec::new(),
                }),
            )
        }
        ColumnData::Sparse(rows) => {
            let dim = rows
                .iter()
                .flat_map(|r| {
                    r.chunks_exact(8)
                        .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
                })
                .max()
                .map_or(0, |m| i64::from(m) + 1);
            (
                DataType::SparseFloatVector,
                field_data::Field::Vectors(VectorField {
                    dim,
                    data: Some(vector_field::Data::SparseFloatVector(
                        pb::SparseFloatArray {
                            contents: rows.clone(),
                            dim,
                        },
                    )),
                    valid_data: Vec::new(),
                }),
            )
        }
    };
    let type_code = field.map_or(type_code, |f| f.data_type);
    FieldData {
        r#type: type_code.code(),
        field_name: name.to_string(),
        field_id: field.map_or(0, |f| f.field_id),
        is_dynamic,
        // pymilvus reads validity from here (the field-level list).
        valid_data,
        field: Some(body),
    }
}

fn scalar_field_of(element: DataType, values: &[ScalarValue]) -> ScalarField {
    let data = match element {
        DataType::Bool => scalar_field::Data::BoolData(pb::BoolArray {
            data: values
                .iter()
                .filter_map(|v| {
                    if let ScalarValue::Bool(b) = v {
                        Some(*b)
                    } else {
                        None
                    }
                })
                .collect(),
        }),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => {
            scalar_field::Data::IntData(pb::IntArray {
                data: values
                    .iter()
                    .filter_map(|v| {
                        if let ScalarValue::Int(b) = v {
                            Some(*b)
                        } else {
                            None
                        }
                    })
                    .collect(),
            })
        }
        DataType::Float => scalar_field::Data::FloatData(pb::FloatArray {
            data: values
                .iter()
                .filter_map(|v| {
                    if let ScalarValue::Float(b) = v {
                        Some(*b)
                    } else {
                        None
                    }
                })
                .collect(),
        }),
        DataType::Double => scalar_field::Data::DoubleData(pb::DoubleArray {
            data: values
                .iter()
                .filter_map(|v| {
                    if let ScalarValue::Double(b) = v {
                        Some(*b)
                    } else {
                        None
                    }
                })
                .collect(),
        }),
        DataType::VarChar => scalar_field::Data::StringData(pb::StringArray {
            data: values
                .iter()
                .filter_map(|v| {
                    if let ScalarValue::String(b) = v {
                        Some(b.clone())
                    } else {
                        None
                    }
                })
                .collect(),
        }),
        _ => scalar_field::Data::LongData(pb::LongArray {
            data: values
                .iter()
                .filter_map(|v| {
                    if let ScalarValue::Long(b) = v {
                        Some(*b)
                    } else {
                        None
                    }
                })
                .collect(),
        }),
    };
    ScalarField {
        data: Some(data),
        valid_data: Vec::new(),
    }
}

/// Filter template values (`expr_template_values`) as literals.
pub fn templates_from(
    values: std::collections::HashMap<String, TemplateValue>,
) -> Result<Templates, EngineError> {
    let mut out = Templates::new();
    for (k, v) in values {
        out.insert(
            k.clone(),
            literal_of(v.val)
                .ok_or_else(|| invalid(format!("unsupported template value for {k}")))?,
        );
    }
    Ok(out)
}

fn literal_of(v: Option<template_value::Val>) -> Option<Literal> {
    Some(match v? {
        template_value::Val::BoolVal(b) => Literal::Bool(b),
        template_value::Val::Int64Val(i) => Literal::Int(i),
        template_value::Val::FloatVal(f) => Literal::Float(f),
        template_value::Val::StringVal(s) => Literal::Str(s),
        template_value::Val::ArrayVal(a) => Literal::List(array_literals(a.data?)?),
        template_value::Val::BytesVal(_) => return None,
    })
}

fn array_literals(d: template_array_value::Data) -> Option<Vec<Literal>> {
    Some(match d {
        template_array_value::Data::BoolData(v) => v.data.into_iter().map(Literal::Bool).collect(),
        template_array_value::Data::LongData(v) => v.data.into_iter().map(Literal::Int).collect(),
        template_array_value::Data::DoubleData(v) => {
            v.data.into_iter().map(Literal::Float).collect()
        }
        template_array_value::Data::StringData(v) => v.data.into_iter().map(Literal::Str).collect(),
        template_array_value::Data::ArrayData(v) => v
            .data
            .into_iter()
            .map(|a| a.data.and_then(array_literals).map(Literal::List))
            .collect::<Option<Vec<_>>>()?,
        template_array_value::Data::JsonData(_) => return None,
    })
}
