//! Fuzzes parsing and binding against a schema with every kind of field (dynamic field on):
//! any input must bind or fail with an in-bounds span, never panic.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use rivus_expr::plan::Literal;
use rivus_schema::{CollectionSchema, DataType, FieldSchema};

fn schema() -> CollectionSchema {
    let mut id = FieldSchema::new("id", DataType::Int64);
    id.is_primary_key = true;
    let mut arr = FieldSchema::new("arr", DataType::Array);
    arr.element_type = Some(DataType::Int64);
    let mut fields = vec![id, arr, FieldSchema::new("vec", DataType::FloatVector).with_param("dim", 4)];
    for (name, t) in [
        ("b", DataType::Bool),
        ("i8", DataType::Int8),
        ("i32", DataType::Int32),
        ("f", DataType::Float),
        ("d", DataType::Double),
        ("s", DataType::VarChar),
        ("j", DataType::Json),
    ] {
        let mut f = FieldSchema::new(name, t);
        f.nullable = true;
        fields.push(f);
    }
    CollectionSchema { name: "c".into(), description: String::new(), fields, functions: vec![], enable_dynamic_field: true }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(tree) = rivus_expr::parse(text) else { return };
    let mut templates = HashMap::new();
    templates.insert("x".to_string(), Literal::Int(3));
    templates.insert("l".to_string(), Literal::List(vec![Literal::Str("a".into()), Literal::Int(1)]));
    if let Err(err) = rivus_expr::bind(&tree, &schema(), &templates) {
        assert!(err.span.start <= err.span.end && err.span.end <= text.len());
    }
});
