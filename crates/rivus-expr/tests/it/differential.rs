//! The vectorized evaluator against a naive row-at-a-time evaluator written independently
//! here, on random data (nulls included) and random expressions over scalar fields.

use proptest::prelude::*;
use rivus_expr::plan::{ArithOp, CmpOp, Literal, Operand, Predicate};
use rivus_expr::{bind, evaluate, like, parse, Templates};
use rivus_schema::{
    Bitmap, CollectionSchema, Column, ColumnBatch, ColumnData, DataType, FieldSchema,
};

#[derive(Debug, Clone)]
struct Row {
    id: i64,
    age: Option<i32>,
    score: Option<f64>,
    name: Option<String>,
    active: bool,
}

fn schema() -> CollectionSchema {
    let mut id = FieldSchema::new("id", DataType::Int64);
    id.is_primary_key = true;
    let mut fields = vec![id];
    for (n, t) in [
        ("age", DataType::Int32),
        ("score", DataType::Double),
        ("name", DataType::VarChar),
    ] {
        let mut f = FieldSchema::new(n, t);
        f.nullable = true;
        fields.push(f);
    }
    fields.push(FieldSchema::new("active", DataType::Bool));
    fields.push(FieldSchema::new("v", DataType::FloatVector).with_param("dim", 2));
    CollectionSchema {
        name: "c".into(),
        description: String::new(),
        fields,
        functions: vec![],
        enable_dynamic_field: false,
    }
}

fn batch(rows: &[Row]) -> ColumnBatch {
    let n = rows.len();
    ColumnBatch::new(n)
        .with(
            "id",
            Column::new(ColumnData::Int64(rows.iter().map(|r| r.id).collect())),
        )
        .with(
            "age",
            Column {
                data: ColumnData::Int32(rows.iter().map(|r| r.age.unwrap_or(-7)).collect()),
                valid: Some(Bitmap::from_fn(n, |i| rows[i].age.is_some())),
            },
        )
        .with(
            "score",
            Column {
                data: ColumnData::Double(rows.iter().map(|r| r.score.unwrap_or(9.9)).collect()),
                valid: Some(Bitmap::from_fn(n, |i| rows[i].score.is_some())),
            },
        )
        .with(
            "name",
            Column {
                data: ColumnData::VarChar(
                    rows.iter()
                        .map(|r| r.name.clone().unwrap_or_default())
                        .collect(),
                ),
                valid: Some(Bitmap::from_fn(n, |i| rows[i].name.is_some())),
            },
        )
        .with(
            "active",
            Column::new(ColumnData::Bool(rows.iter().map(|r| r.active).collect())),
        )
}

#[derive(Debug, Clone, Copy)]
enum V<'a> {
    Num(f64),
    Int(i64),
    Str(&'a str),
    Bool(bool),
}

fn read<'a>(row: &'a Row, o: &Operand) -> Option<V<'a>> {
    let mut v = match o.field.as_str() {
        "id" => V::Int(row.id),
        "age" => V::Int(i64::from(row.age?)),
        "score" => V::Num(row.score?),
        "name" => V::Str(row.name.as_deref()?),
        "active" => V::Bool(row.active),
        other => panic!("unexpected field {other}"),
    };
    for (op, lit) in &o.arith {
        v = match (v, lit) {
            (V::Int(a), Literal::Int(b)) => V::Int(match op {
                ArithOp::Add => a.checked_add(*b)?,
                ArithOp::Sub => a.checked_sub(*b)?,
                ArithOp::Mul => a.checked_mul(*b)?,
                ArithOp::Div => a.checked_div(*b)?,
                ArithOp::Mod => a.checked_rem(*b)?,
            }),
            (V::Int(_) | V::Num(_), _) => {
                let x = match v {
                    V::Int(i) => i as f64,
                    V::Num(f) => f,
                    _ => unreachable!(),
                };
                let b = lit.as_f64().unwrap();
                V::Num(match op {
                    ArithOp::Add => x + b,
                    ArithOp::Sub => x - b,
                    ArithOp::Mul => x * b,
                    ArithOp::Div => x / b,
                    ArithOp::Mod => x % b,
                })
            }
            _ => return None,
        };
    }
    Some(v)
}

fn cmp(v: V<'_>, op: CmpOp, lit: &Literal) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (v, lit) {
        (V::Int(a), Literal::Int(b)) => Some(a.cmp(b)),
        (V::Int(a), Literal::Float(b)) => (a as f64).partial_cmp(b),
        (V::Num(a), Literal::Int(b)) => a.partial_cmp(&(*b as f64)),
        (V::Num(a), Literal::Float(b)) => a.partial_cmp(b),
        (V::Str(a), Literal::Str(b)) => Some(a.cmp(b.as_str())),
        (V::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    };
    ord.is_some_and(|o| op.holds(o))
}

fn to_lit(v: V<'_>) -> Literal {
    match v {
        V::Int(i) => Literal::Int(i),
        V::Num(f) => Literal::Float(f),
        V::Str(s) => Literal::Str(s.to_string()),
        V::Bool(b) => Literal::Bool(b),
    }
}

/// One row at a time, Milvus's (value, valid) bits: a comparison on null is
/// (false, false), `not` flips and masks with valid, `and`/`or` combine values and OR the
/// valid bits.
fn naive(p: &Predicate, row: &Row) -> (bool, bool) {
    let on = |v: Option<bool>| v.map_or((false, false), |b| (b, true));
    match p {
        Predicate::Const(b) => (*b, true),
        Predicate::Truthy(o) => on(read(row, o).map(|v| matches!(v, V::Bool(true)))),
        Predicate::Compare { lhs, op, rhs } => on(read(row, lhs).map(|v| cmp(v, *op, rhs))),
        Predicate::CompareFields { lhs, op, rhs } => on(read(row, lhs)
            .zip(read(row, rhs))
            .map(|(a, b)| cmp(a, *op, &to_lit(b)))),
        Predicate::Range {
            operand,
            lower,
            lower_inclusive,
            upper,
            upper_inclusive,
        } => on(read(row, operand).map(|v| {
            cmp(
                v,
                if *lower_inclusive {
                    CmpOp::Ge
                } else {
                    CmpOp::Gt
                },
                lower,
            ) && cmp(
                v,
                if *upper_inclusive {
                    CmpOp::Le
                } else {
                    CmpOp::Lt
                },
                upper,
            )
        })),
        Predicate::In {
            operand,
            values,
            negated,
        } => {
            on(read(row, operand).map(|v| values.iter().any(|l| cmp(v, CmpOp::Eq, l)) != *negated))
        }
        Predicate::Like { operand, pattern } => on(read(row, operand).map(|v| match v {
            V::Str(s) => like(s, pattern),
            _ => false,
        })),
        Predicate::IsNull { operand, negated } => (
            read(
                row,
                &Operand {
                    arith: vec![],
                    ..operand.clone()
                },
            )
            .is_none()
                != *negated,
            true,
        ),
        Predicate::And(parts) | Predicate::Or(parts) => {
            let is_and = matches!(p, Predicate::And(_));
            let mut acc: Option<(bool, bool)> = None;
            for part in parts {
                let (v, k) = naive(part, row);
                acc = Some(match acc {
                    None => (v, k),
                    Some((av, ak)) => (if is_and { av && v } else { av || v }, ak || k),
                });
            }
            acc.unwrap_or((is_and, true))
        }
        Predicate::Not(inner) => {
            let (v, k) = naive(inner, row);
            (!v && k, k)
        }
        other => panic!("generator does not produce {other:?}"),
    }
}

fn row() -> impl Strategy<Value = Row> {
    (
        -5i64..5,
        proptest::option::of(-3i32..40),
        proptest::option::of(prop_oneof![Just(0.5f64), Just(-1.0), Just(2.0), Just(1e9)]),
        proptest::option::of(prop_oneof![
            Just("abc"),
            Just("ab"),
            Just(""),
            Just("b%c"),
            Just("xyz"),
            Just("a_c")
        ]),
        any::<bool>(),
    )
        .prop_map(|(id, age, score, name, active)| Row {
            id,
            age,
            score,
            name: name.map(str::to_string),
            active,
        })
}

fn num() -> impl Strategy<Value = String> {
    prop_oneof![
        (-5i64..40).prop_map(|v| v.to_string()),
        Just("1.5".to_string()),
        Just("-0.5".to_string())
    ]
}

fn atom() -> impl Strategy<Value = String> {
    let field = prop_oneof![Just("id"), Just("age"), Just("score")];
    let op = prop_oneof![
        Just("<"),
        Just("<="),
        Just(">"),
        Just(">="),
        Just("=="),
        Just("!=")
    ];
    prop_oneof![
        (field.clone(), op.clone(), num()).prop_map(|(f, o, n)| format!("{f} {o} {n}")),
        (
            num(),
            prop_oneof![Just("<"), Just("<=")],
            field.clone(),
            prop_oneof![Just("<"), Just("<=")],
            num()
        )
            .prop_map(|(a, o1, f, o2, b)| format!("{a} {o1} {f} {o2} {b}")),
        (
            field.clone(),
            proptest::collection::vec(num(), 0..4),
            any::<bool>()
        )
            .prop_map(|(f, vs, neg)| format!(
                "{f} {}in [{}]",
                if neg { "not " } else { "" },
                vs.join(", ")
            )),
        (
            field.clone(),
            prop_oneof![Just("+ 1"), Just("* 2"), Just("- 3"), Just("% 4")],
            op.clone(),
            num()
        )
            .prop_map(|(f, a, o, n)| format!("{f} {a} {o} {n}")),
        (
            prop_oneof![Just("name"), Just("name")],
            prop_oneof![
                Just("\"a%\""),
                Just("\"%c\""),
                Just("\"a_c\""),
                Just("\"b\\\\%c\""),
                Just("\"%\"")
            ]
        )
            .prop_map(|(f, p)| format!("{f} like {p}")),
        (
            prop_oneof![Just("name"), Just("age"), Just("score")],
            any::<bool>()
        )
            .prop_map(|(f, neg)| format!("{f} is {}null", if neg { "not " } else { "" })),
        (
            op,
            prop_oneof![Just("\"ab\""), Just("\"abc\""), Just("\"\"")]
        )
            .prop_map(|(o, s)| format!("name {o} {s}")),
        Just("active".to_string()),
        Just("age < score".to_string()),
        Just("id == age".to_string()),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    atom().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn vectorized_matches_naive(rows in proptest::collection::vec(row(), 0..70), text in expr()) {
        let plan = bind(&parse(&text).unwrap(), &schema(), &Templates::new())
            .unwrap_or_else(|e| panic!("{}", e.render(&text)));
        let got: Vec<usize> = evaluate(&plan, &batch(&rows)).iter_ones().collect();
        let want: Vec<usize> = rows.iter().enumerate().filter(|(_, r)| naive(&plan, r).0).map(|(i, _)| i).collect();
        prop_assert_eq!(got, want, "{}", text);
    }
}
