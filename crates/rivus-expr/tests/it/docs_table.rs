use std::collections::HashMap;

use rivus_expr::plan::Literal;
use rivus_expr::{bind, evaluate, parse, Templates};
use rivus_schema::{
    ArrayColumn, Bitmap, CollectionSchema, Column, ColumnBatch, ColumnData, DataType, FieldSchema,
    JsonColumn, ScalarValue,
};
use serde_json::json;

fn schema() -> CollectionSchema {
    let mut id = FieldSchema::new("id", DataType::Int64);
    id.is_primary_key = true;
    let mut age = FieldSchema::new("age", DataType::Int32);
    age.nullable = true;
    let mut tags = FieldSchema::new("tags", DataType::Array)
        .with_param("max_capacity", 8)
        .with_param("max_length", 16);
    tags.element_type = Some(DataType::VarChar);
    let mut nums = FieldSchema::new("nums", DataType::Array).with_param("max_capacity", 8);
    nums.element_type = Some(DataType::Int64);
    CollectionSchema {
        name: "c".into(),
        description: String::new(),
        fields: vec![
            id,
            age,
            FieldSchema::new("score", DataType::Double),
            FieldSchema::new("name", DataType::VarChar).with_param("max_length", 64),
            FieldSchema::new("active", DataType::Bool),
            FieldSchema::new("meta", DataType::Json),
            tags,
            nums,
            FieldSchema::new("vec", DataType::FloatVector).with_param("dim", 2),
        ],
        functions: vec![],
        enable_dynamic_field: true,
    }
}

fn array(element_type: DataType, rows: Vec<Vec<ScalarValue>>) -> ArrayColumn {
    ArrayColumn::from_rows(element_type, rows).expect("elements of the element type")
}

fn strs(v: &[&str]) -> Vec<ScalarValue> {
    v.iter()
        .map(|s| ScalarValue::String(s.to_string()))
        .collect()
}

fn longs(v: &[i64]) -> Vec<ScalarValue> {
    v.iter().map(|x| ScalarValue::Long(*x)).collect()
}

/// Six rows; `age` is null in rows 2 and 5.
fn batch() -> ColumnBatch {
    let n = 6;
    ColumnBatch::new(n)
        .with("id", Column::new(ColumnData::Int64(vec![1, 2, 3, 4, 5, 6])))
        .with(
            "age",
            Column {
                data: ColumnData::Int32(vec![30, 18, 0, 45, 25, 0]),
                valid: Some(Bitmap::from_fn(n, |i| i != 2 && i != 5)),
            },
        )
        .with(
            "score",
            Column::new(ColumnData::Double(vec![0.5, 1.5, 2.5, 3.5, 4.5, 5.5])),
        )
        .with(
            "name",
            Column::new(ColumnData::VarChar(
                ["abc", "abd", "xabc", "a%c", "b_c", "ABC"].iter().collect(),
            )),
        )
        .with(
            "active",
            Column::new(ColumnData::Bool(vec![
                true, false, true, false, true, false,
            ])),
        )
        .with(
            "meta",
            Column::new(ColumnData::Json(JsonColumn::new(vec![
                json!({"a": {"b": [1, 2]}, "color": "red", "n": 10}),
                json!({"a": {"b": [3]}, "color": "blue", "n": 20.5}),
                json!({"color": "red"}),
                json!({"a": 1, "n": "ten"}),
                json!({"tags": ["x", "y"], "n": 5}),
                json!(null),
            ]))),
        )
        .with(
            "tags",
            Column::new(ColumnData::Array(array(
                DataType::VarChar,
                vec![
                    strs(&["x", "y"]),
                    strs(&["y"]),
                    strs(&[]),
                    strs(&["x", "z"]),
                    strs(&["z"]),
                    strs(&["x", "y", "z"]),
                ],
            ))),
        )
        .with(
            "nums",
            Column::new(ColumnData::Array(array(
                DataType::Int64,
                vec![
                    longs(&[1, 2, 3]),
                    longs(&[4]),
                    longs(&[]),
                    longs(&[1]),
                    longs(&[2, 2]),
                    longs(&[7, 8, 9, 10]),
                ],
            ))),
        )
        .with(
            "$meta",
            Column::new(ColumnData::Json(JsonColumn::new(vec![
                json!({"city": "Paris", "rank": 1}),
                json!({"city": "Rome"}),
                json!({}),
                json!({"city": "Paris", "rank": 3}),
                json!({"rank": 2}),
                json!({"city": "Oslo", "rank": 2}),
            ]))),
        )
}

fn ids(expr: &str, templates: &Templates) -> Vec<i64> {
    let tree = parse(expr).unwrap_or_else(|e| panic!("{}", e.render(expr)));
    let plan = bind(&tree, &schema(), templates).unwrap_or_else(|e| panic!("{}", e.render(expr)));
    evaluate(&plan, &batch())
        .iter_ones()
        .map(|i| i as i64 + 1)
        .collect()
}

#[test]
fn documented_expressions_select_the_expected_rows() {
    let none = Templates::new();
    let table: &[(&str, &[i64])] = &[
        // Basic operators
        ("age > 25", &[1, 4]),
        ("age >= 25 and active == true", &[1, 5]),
        ("age > 25 or score > 5", &[1, 4, 6]),
        ("10 < age < 30", &[2, 5]),
        ("30 >= age > 18", &[1, 5]),
        ("\"a\" <= name < \"b\"", &[1, 2, 4]),
        ("id in [1, 3, 5]", &[1, 3, 5]),
        ("id not in [1, 3, 5]", &[2, 4, 6]),
        ("name in ['abc', 'ABC']", &[1, 6]),
        ("score == 2.5", &[3]),
        ("score != 2.5", &[1, 2, 4, 5, 6]),
        ("age * 2 + 1 > 61", &[4]),
        ("age % 2 == 0", &[1, 2]),
        ("not (age > 25)", &[2, 5]),
        ("!(id == 1) && id < 4", &[2, 3]),
        ("active", &[1, 3, 5]),
        ("not active", &[2, 4, 6]),
        ("score > age", &[]),
        ("id < score", &[]),
        ("id == 1 || id == 2", &[1, 2]),
        // LIKE
        ("name like \"ab%\"", &[1, 2]),
        ("name like \"%bc\"", &[1, 3]),
        ("name like \"%b%\"", &[1, 2, 3, 5]),
        ("name like \"a_c\"", &[1, 4]),
        ("name like \"a\\\\%c\"", &[4]),
        ("name like \"b\\\\_c\"", &[5]),
        // Nulls: a comparison on null is false and `not` keeps it false; `and`/`or` combine
        // values (Milvus segcore, not SQL).
        ("not (age > 100 or id == 3)", &[1, 2, 4, 5, 6]),
        ("age is null", &[3, 6]),
        ("age IS NOT NULL", &[1, 2, 4, 5]),
        ("age != 30", &[2, 4, 5]),
        ("not (age == 30)", &[2, 4, 5]),
        ("age > 100 or id == 3", &[3]),
        ("age > 0 and id == 3", &[]),
        ("age in [18, 45]", &[2, 4]),
        // JSON
        ("meta[\"color\"] == \"red\"", &[1, 3]),
        ("meta[\"a\"][\"b\"][0] == 1", &[1]),
        ("meta[\"n\"] > 9", &[1, 2]),
        ("meta[\"n\"] in [5, 10]", &[1, 5]),
        ("exists meta[\"a\"]", &[1, 2, 4]),
        ("json_contains(meta[\"tags\"], \"x\")", &[5]),
        ("json_contains_all(meta[\"a\"][\"b\"], [1, 2])", &[1]),
        ("json_contains_any(meta[\"a\"][\"b\"], [2, 3])", &[1, 2]),
        ("meta[\"color\"] like \"r%\"", &[1, 3]),
        // Dynamic fields, by bare name and by $meta.
        ("city == \"Paris\"", &[1, 4]),
        ("$meta[\"rank\"] >= 2", &[4, 5, 6]),
        ("rank == 2 and city == \"Oslo\"", &[6]),
        ("exists city", &[1, 2, 4, 6]),
        // Arrays
        ("array_contains(tags, \"x\")", &[1, 4, 6]),
        ("array_contains_all(tags, [\"x\", \"y\"])", &[1, 6]),
        ("array_contains_any(nums, [4, 9])", &[2, 6]),
        ("array_length(nums) == 1", &[2, 4]),
        ("ARRAY_LENGTH(tags) >= 2", &[1, 4, 6]),
        ("nums[0] == 1", &[1, 4]),
        ("tags[1] == \"y\"", &[1, 6]),
        // Constants fold
        ("1 + 1 == 2", &[1, 2, 3, 4, 5, 6]),
        ("id > 2 ** 2", &[5, 6]),
        ("id == 0x3", &[3]),
    ];
    for (expr, expected) in table {
        assert_eq!(ids(expr, &none), expected.to_vec(), "{expr}");
    }
}

#[test]
fn templates_fill_scalars_and_lists() {
    let mut t: Templates = HashMap::new();
    t.insert("min".into(), Literal::Int(20));
    t.insert(
        "names".into(),
        Literal::List(vec![Literal::Str("abc".into()), Literal::Str("b_c".into())]),
    );
    assert_eq!(ids("age > {min} and name in {names}", &t), vec![1, 5]);
    let err = bind(&parse("age > {max}").unwrap(), &schema(), &t).unwrap_err();
    assert!(err.message.contains("{max}"), "{}", err.message);
}

#[test]
fn binding_errors_name_the_field_and_the_problem() {
    let none = Templates::new();
    let mut strict = schema();
    strict.enable_dynamic_field = false;
    let cases: &[(&CollectionSchema, &str, &str)] = &[
        (&strict, "nope > 1", "field nope not exist"),
        (&strict, "$meta[\"a\"] == 1", "dynamic field is not enabled"),
        (
            &strict,
            "name > 3",
            "comparisons between VarChar and Int64 are not supported",
        ),
        (&strict, "vec == 1", "vector field vec cannot be used"),
        (&strict, "age like \"a%\"", "like operation on non-string"),
        (
            &strict,
            "array_contains(name, \"a\")",
            "applies to a JSON or ARRAY field, not name",
        ),
        (&strict, "json_contains(meta)", "takes 2 argument(s), got 1"),
        (
            &strict,
            "active > true",
            "comparisons between Bool and Bool",
        ),
        (
            &strict,
            "text_match(name, \"x\")",
            "not supported by rivus yet",
        ),
        (&strict, "age / 0 > 1", "division by zero"),
        (&strict, "1 + age > 1", "field on the left"),
        (&strict, "name[0] == \"a\"", "cannot be indexed"),
        (&strict, "age in [1, \"x\"]", "does not match the type"),
        (&strict, "age", "not a boolean condition"),
    ];
    for (s, expr, needle) in cases {
        let tree = parse(expr).unwrap();
        let err = bind(&tree, s, &none).unwrap_err();
        assert!(err.message.contains(needle), "{expr}: {:?}", err.message);
        assert!(err.span.end <= expr.len());
    }
}

#[test]
fn primary_key_lookups_are_recognised() {
    let none = Templates::new();
    let plan = |e: &str| bind(&parse(e).unwrap(), &schema(), &none).unwrap();
    assert_eq!(
        plan("id in [3, 1]").primary_key_values("id"),
        Some(vec![Literal::Int(3), Literal::Int(1)])
    );
    assert_eq!(
        plan("id == 2 or id in [4]").primary_key_values("id"),
        Some(vec![Literal::Int(2), Literal::Int(4)])
    );
    assert_eq!(plan("id not in [1]").primary_key_values("id"), None);
    assert_eq!(plan("id == 1 and age > 3").primary_key_values("id"), None);
    assert_eq!(plan("age == 1").primary_key_values("id"), None);
}

#[test]
fn a_scalar_index_answers_leaves_and_nulls_keep_scan_semantics() {
    use std::cell::Cell;

    use rivus_expr::plan::Predicate;
    use rivus_expr::{evaluate_with, ScalarIndex};

    /// Answers `age > 25` from a precomputed bitmap, and counts its answers.
    struct AgeIndex(Cell<usize>);
    impl ScalarIndex for AgeIndex {
        fn lookup(&self, leaf: &Predicate, n: usize) -> Option<Bitmap> {
            match leaf {
                Predicate::Compare {
                    lhs,
                    rhs: Literal::Int(25),
                    ..
                } if lhs.field == "age" => {
                    self.0.set(self.0.get() + 1);
                    Some(Bitmap::from_fn(n, |i| i == 0 || i == 3))
                }
                _ => None,
            }
        }
    }
    let index = AgeIndex(Cell::new(0));
    for expr in [
        "age > 25",
        "not (age > 25)",
        "age > 25 or id == 3",
        "not (age > 25) and id < 6",
    ] {
        let plan = bind(&parse(expr).unwrap(), &schema(), &Templates::new()).unwrap();
        assert_eq!(
            evaluate_with(&plan, &batch(), &index),
            evaluate(&plan, &batch()),
            "{expr}"
        );
    }
    assert_eq!(index.0.get(), 4);
}
