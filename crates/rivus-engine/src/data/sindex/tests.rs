//! Scalar index tests: a differential test (random chunks with nulls, NaNs and repeats,
//! random filters over the indexed fields, every index type) that [`filter_chunk`] gives the
//! rows `rivus_expr::evaluate` gives; and engine tests (indexes built after a flush, served
//! by queries, their files rebuilt when damaged).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs;

use rivus_expr::ast::PathStep;
use rivus_expr::plan::{ArithOp, CmpOp, ContainsMode, Literal, Operand, Predicate};
use rivus_schema::{
    ArrayColumn, Bitmap, CollectionSchema, Column, ColumnBatch, ColumnData, DataType, FieldSchema,
    Properties, ScalarValue, VectorColumn,
};

use super::{filter_chunk, ChunkIndexes, ScalarChunkIndex};
use crate::catalog::IndexMeta;
use crate::data::store::{Chunk, ChunkColumns, Pk};
use crate::data::vindex::IndexSpec;

thread_local! {
    /// Lookups ignore their cost budget (every coverable leaf is answered by the index).
    pub static NO_BUDGET: Cell<bool> = const { Cell::new(false) };
}

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

const INT8S: &[i64] = &[-128, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 127];
const INT32S: &[i64] = &[-2147483648, -20, -7, -1, 0, 1, 2, 3, 9, 10, 11, 2147483647];
const FLOATS: &[f64] = &[
    f64::NEG_INFINITY,
    -1.5,
    -0.0,
    0.0,
    0.5,
    1.0,
    2.5,
    3.0,
    f64::INFINITY,
    f64::NAN,
];
const STRS: &[&str] = &[
    "",
    "a",
    "ab",
    "abc",
    "abd",
    "abcdefghijk",
    "b",
    "ba",
    "é",
    "éa",
    "a%b",
    "a_c",
    "zz",
];

fn int64_value(rng: &mut Rng) -> i64 {
    if rng.chance(3) {
        rng.pick(&[i64::MIN, i64::MAX, (1 << 53) + 1, -(1 << 53) - 1])
    } else {
        rng.below(40) as i64
    }
}

fn float_value(rng: &mut Rng) -> f64 {
    let v = rng.pick(FLOATS);
    // A negative NaN too (it sorts first in `total_cmp` order).
    if v.is_nan() && rng.chance(50) {
        -f64::NAN
    } else {
        v
    }
}

/// The fields of the test chunks: (name, type, element type). `u` is never indexed.
const FIELDS: &[(&str, DataType, Option<DataType>)] = &[
    ("b", DataType::Bool, None),
    ("i8", DataType::Int8, None),
    ("i32", DataType::Int32, None),
    ("i64", DataType::Int64, None),
    ("f", DataType::Float, None),
    ("d", DataType::Double, None),
    ("s", DataType::VarChar, None),
    ("ai", DataType::Array, Some(DataType::Int64)),
    ("as", DataType::Array, Some(DataType::VarChar)),
    ("af", DataType::Array, Some(DataType::Float)),
    ("ab", DataType::Array, Some(DataType::Bool)),
    ("u", DataType::Int64, None),
];

fn element(rng: &mut Rng, t: DataType) -> ScalarValue {
    match t {
        DataType::Bool => ScalarValue::Bool(rng.chance(50)),
        DataType::Int64 => ScalarValue::Long(rng.below(10) as i64),
        DataType::Float => ScalarValue::Float(float_value(rng) as f32),
        _ => ScalarValue::String(rng.pick(STRS).to_string()),
    }
}

fn column(rng: &mut Rng, t: DataType, elem: Option<DataType>, rows: usize) -> Column {
    let data = match t {
        DataType::Bool => ColumnData::Bool((0..rows).map(|_| rng.chance(50)).collect()),
        DataType::Int8 => ColumnData::Int8((0..rows).map(|_| rng.pick(INT8S) as i8).collect()),
        DataType::Int32 => ColumnData::Int32((0..rows).map(|_| rng.pick(INT32S) as i32).collect()),
        DataType::Int64 => ColumnData::Int64((0..rows).map(|_| int64_value(rng)).collect()),
        DataType::Float => ColumnData::Float((0..rows).map(|_| float_value(rng) as f32).collect()),
        DataType::Double => ColumnData::Double((0..rows).map(|_| float_value(rng)).collect()),
        DataType::VarChar => ColumnData::VarChar((0..rows).map(|_| rng.pick(STRS)).collect()),
        _ => {
            let elem = elem.unwrap();
            let arrays: Vec<Vec<ScalarValue>> = (0..rows)
                .map(|_| {
                    let n = rng.below(5);
                    (0..n).map(|_| element(rng, elem)).collect()
                })
                .collect();
            ColumnData::Array(ArrayColumn::from_rows(elem, arrays).unwrap())
        }
    };
    let valid = match rng.below(3) {
        0 => None,
        1 => Some(Bitmap::from_fn(rows, |_| true)),
        _ => {
            let bits: Vec<bool> = (0..rows).map(|_| !rng.chance(15)).collect();
            Some(Bitmap::from_slice(&bits, |b| *b))
        }
    };
    Column { data, valid }
}

fn operand(name: &str) -> Operand {
    let (_, data_type, element_type) = *FIELDS.iter().find(|f| f.0 == name).unwrap();
    Operand {
        field: name.to_string(),
        data_type,
        element_type,
        path: Vec::new(),
        arith: Vec::new(),
    }
}

/// A literal for `t`: mostly from the values the column holds, sometimes beyond them, of
/// another type, or NaN.
fn literal(rng: &mut Rng, t: DataType) -> Literal {
    if rng.chance(4) {
        return rng.pick(&[
            Literal::Bool(true),
            Literal::Int(7),
            Literal::Float(f64::NAN),
            Literal::Str("ab".into()),
            Literal::Float(2.0),
            Literal::Float(-0.0),
        ]);
    }
    match t {
        DataType::Bool => Literal::Bool(rng.chance(50)),
        DataType::Int8 => match rng.below(6) {
            0 => Literal::Int(300),
            1 => Literal::Float(rng.pick(INT8S) as f64 + 0.5),
            _ => Literal::Int(rng.pick(INT8S)),
        },
        DataType::Int32 => match rng.below(6) {
            0 => Literal::Int(i64::MAX),
            1 => Literal::Float(rng.pick(INT32S) as f64),
            _ => Literal::Int(rng.pick(INT32S)),
        },
        DataType::Int64 => match rng.below(6) {
            0 => Literal::Float(rng.below(40) as f64 - 0.5),
            1 => Literal::Float(9.007_199_254_740_992e15),
            _ => Literal::Int(int64_value(rng)),
        },
        DataType::Float | DataType::Double => match rng.below(4) {
            0 => Literal::Int(rng.below(5) as i64 - 2),
            _ => Literal::Float(float_value(rng)),
        },
        _ => Literal::Str(rng.pick(STRS).to_string()),
    }
}

fn cmp_op(rng: &mut Rng) -> CmpOp {
    rng.pick(&[
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::Eq,
        CmpOp::Ne,
    ])
}

const PATTERNS: &[&str] = &[
    "a%", "ab%", "abc%", "%", "", "%b%", "a_c", "abc", "\\%%", "é%", "a%b", "_", "%c", "zz%", "q%",
];

fn leaf(rng: &mut Rng) -> Predicate {
    let (name, t, elem) = rng.pick(FIELDS);
    let o = operand(name);
    if t == DataType::Array {
        let elem = elem.unwrap();
        return match rng.below(6) {
            0 => Predicate::IsNull {
                operand: o,
                negated: rng.chance(50),
            },
            1 => Predicate::ArrayLength {
                operand: o,
                op: cmp_op(rng),
                value: rng.below(4) as i64,
            },
            2 => {
                let mut o = o;
                o.path = vec![PathStep::Index(rng.below(3) as i64)];
                Predicate::Compare {
                    lhs: o,
                    op: cmp_op(rng),
                    rhs: literal(rng, elem),
                }
            }
            _ => {
                let n = rng.below(4);
                Predicate::Contains {
                    operand: o,
                    values: (0..n).map(|_| array_literal(rng, elem)).collect(),
                    mode: rng.pick(&[ContainsMode::One, ContainsMode::All, ContainsMode::Any]),
                }
            }
        };
    }
    match rng.below(12) {
        0..=2 => Predicate::Compare {
            lhs: o,
            op: cmp_op(rng),
            rhs: literal(rng, t),
        },
        3 | 4 => Predicate::Range {
            operand: o,
            lower: literal(rng, t),
            lower_inclusive: rng.chance(50),
            upper: literal(rng, t),
            upper_inclusive: rng.chance(50),
        },
        5 | 6 => {
            let n = rng.below(5);
            Predicate::In {
                operand: o,
                values: (0..n).map(|_| literal(rng, t)).collect(),
                negated: rng.chance(40),
            }
        }
        7 => Predicate::IsNull {
            operand: o,
            negated: rng.chance(50),
        },
        8 => Predicate::Like {
            operand: if rng.chance(80) { operand("s") } else { o },
            pattern: rng.pick(PATTERNS).to_string(),
        },
        9 => Predicate::Truthy(if rng.chance(80) { operand("b") } else { o }),
        10 => {
            // Arithmetic: never from an index.
            let mut o = o;
            o.arith = vec![(ArithOp::Add, Literal::Int(1))];
            Predicate::Compare {
                lhs: o,
                op: cmp_op(rng),
                rhs: literal(rng, t),
            }
        }
        _ => Predicate::CompareFields {
            lhs: o,
            op: cmp_op(rng),
            rhs: operand("u"),
        },
    }
}

fn array_literal(rng: &mut Rng, elem: DataType) -> Literal {
    match elem {
        DataType::Int64 if !rng.chance(10) => Literal::Int(rng.below(12) as i64),
        _ => literal(rng, elem),
    }
}

fn predicate(rng: &mut Rng, depth: usize) -> Predicate {
    if depth == 0 || rng.chance(40) {
        return leaf(rng);
    }
    match rng.below(7) {
        0 | 1 => Predicate::And(
            (0..2 + rng.below(2))
                .map(|_| predicate(rng, depth - 1))
                .collect(),
        ),
        2 | 3 => Predicate::Or(
            (0..2 + rng.below(2))
                .map(|_| predicate(rng, depth - 1))
                .collect(),
        ),
        4 | 5 => Predicate::Not(Box::new(predicate(rng, depth - 1))),
        _ => Predicate::Const(rng.chance(50)),
    }
}

/// Index types Milvus accepts on a field type (index.rs `check_scalar_data_type`).
fn index_types(t: DataType, elem: Option<DataType>) -> Vec<&'static str> {
    let mut out = vec!["INVERTED"];
    let numeric = matches!(
        t,
        DataType::Int8 | DataType::Int32 | DataType::Int64 | DataType::Float | DataType::Double
    );
    if numeric {
        out.push("STL_SORT");
    }
    if t == DataType::VarChar {
        out.push("Trie");
    }
    let bitmap = |t: DataType| {
        matches!(
            t,
            DataType::Bool | DataType::Int8 | DataType::Int32 | DataType::Int64 | DataType::VarChar
        )
    };
    if bitmap(t) || elem.is_some_and(bitmap) {
        out.push("BITMAP");
    }
    if t != DataType::Array {
        out.push("AUTOINDEX");
    }
    out
}

fn spec(id: i64, name: &str, t: DataType, index_type: &str) -> IndexSpec {
    let mut params = Properties::new();
    params.set("index_type", index_type);
    let meta = IndexMeta {
        id,
        index_name: name.to_string(),
        field_name: name.to_string(),
        params,
        created_ts: 0,
    };
    IndexSpec::of(&meta, t).unwrap()
}

fn chunk(rng: &mut Rng, rows: usize) -> Chunk {
    let mut batch = ColumnBatch::new(rows);
    for (name, t, elem) in FIELDS {
        batch.insert(*name, column(rng, *t, *elem, rows));
    }
    let pks = (0..rows as i64).map(Pk::Int).collect();
    Chunk::new(0, ChunkColumns::Owned(batch), pks, vec![1; rows])
}

/// Indexes every field but `u` (a random index type each), some through a file round trip.
fn index_chunk(rng: &mut Rng, chunk: &Chunk, dir: &std::path::Path) {
    let vfs = rivus_storage::os_fs();
    for (i, (name, t, elem)) in FIELDS.iter().enumerate() {
        if *name == "u" {
            continue;
        }
        let spec = spec(i as i64 + 1, name, *t, rng.pick(&index_types(*t, *elem)));
        let mut index = ScalarChunkIndex::build(chunk, &spec).unwrap();
        if rng.chance(30) {
            let path = dir.join(format!("{name}.idx"));
            index.save(&vfs, &path).unwrap();
            index = ScalarChunkIndex::load(&vfs, &path, chunk, &spec).expect("loads back");
        }
        chunk
            .scalar
            .write()
            .unwrap()
            .push(std::sync::Arc::new(index));
    }
}

fn rows(b: &Bitmap) -> Vec<usize> {
    b.iter_ones().collect()
}

#[test]
fn filter_chunk_equals_evaluate_on_random_chunks_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed);
    let mut planned = 0usize;
    let mut total = 0usize;
    for round in 0..40 {
        let n = [0, 1, 7, 64, 300, 3000][round % 6];
        let chunk = chunk(&mut rng, n);
        index_chunk(&mut rng, &chunk, dir.path());
        let indexes = ChunkIndexes {
            list: chunk.scalar_indexes(),
            rows: chunk.len(),
        };
        for _ in 0..150 {
            let p = predicate(&mut rng, 3);
            let want = rows(&rivus_expr::evaluate(&p, &chunk.batch));
            for unlimited in [false, true] {
                NO_BUDGET.with(|c| c.set(unlimited));
                let got = rows(&filter_chunk(&chunk, &p));
                assert_eq!(
                    got, want,
                    "round {round}, {n} rows, no budget {unlimited}: {p:?}"
                );
                if unlimited {
                    total += 1;
                    planned += usize::from(indexes.plan(&p).is_some());
                }
            }
            NO_BUDGET.with(|c| c.set(false));
        }
    }
    eprintln!("planned {planned} of {total}");
    // The generator covers filters answered wholly from indexes and mixed ones.
    assert!(
        planned * 10 > total,
        "{planned} of {total} planned on indexes"
    );
    assert!(planned < total);
}

/// Filters on indexed fields are answered from the indexes (not by a silent scan), including
/// `not` over nullable fields, and the answer is the scan's.
#[test]
fn indexable_filters_are_planned_on_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(7);
    let chunk = chunk(&mut rng, 5000);
    index_chunk(&mut rng, &chunk, dir.path());
    let indexes = ChunkIndexes {
        list: chunk.scalar_indexes(),
        rows: chunk.len(),
    };
    let o = operand;
    let covered = [
        Predicate::Compare {
            lhs: o("i64"),
            op: CmpOp::Eq,
            rhs: Literal::Int(3),
        },
        Predicate::Not(Box::new(Predicate::Compare {
            lhs: o("i64"),
            op: CmpOp::Ne,
            rhs: Literal::Int(3),
        })),
        Predicate::Range {
            operand: o("i32"),
            lower: Literal::Int(1),
            lower_inclusive: true,
            upper: Literal::Int(2),
            upper_inclusive: false,
        },
        Predicate::In {
            operand: o("s"),
            values: vec![Literal::Str("ab".into()), Literal::Str("zz".into())],
            negated: false,
        },
        Predicate::Like {
            operand: o("s"),
            pattern: "abc%".into(),
        },
        Predicate::Or(vec![
            Predicate::IsNull {
                operand: o("d"),
                negated: false,
            },
            Predicate::Compare {
                lhs: o("d"),
                op: CmpOp::Lt,
                rhs: Literal::Float(-1.0),
            },
        ]),
        Predicate::Contains {
            operand: o("ai"),
            values: vec![Literal::Int(3)],
            mode: ContainsMode::One,
        },
        Predicate::Not(Box::new(Predicate::Contains {
            operand: o("as"),
            values: vec![Literal::Str("a".into()), Literal::Str("b".into())],
            mode: ContainsMode::All,
        })),
        Predicate::Truthy(o("b")),
        // Two wide comparisons that together are narrow: one lookup of their intersection.
        Predicate::And(vec![
            Predicate::Compare {
                lhs: o("i64"),
                op: CmpOp::Ge,
                rhs: Literal::Int(10),
            },
            Predicate::Compare {
                lhs: o("i64"),
                op: CmpOp::Lt,
                rhs: Literal::Int(11),
            },
            Predicate::IsNull {
                operand: o("s"),
                negated: true,
            },
        ]),
        Predicate::In {
            operand: o("i8"),
            values: vec![Literal::Int(-128), Literal::Int(5)],
            negated: true,
        },
    ];
    for p in &covered {
        assert!(indexes.plan(p).is_some(), "not planned on indexes: {p:?}");
        assert_eq!(
            rows(&filter_chunk(&chunk, p)),
            rows(&rivus_expr::evaluate(p, &chunk.batch)),
            "{p:?}"
        );
    }
    // A wide numeric range is left to the scan (cheaper), with the same rows.
    let wide = Predicate::Compare {
        lhs: o("u"),
        op: CmpOp::Ge,
        rhs: Literal::Int(0),
    };
    assert!(indexes.plan(&wide).is_none(), "u is not indexed");
}

// ---------------------------------------------------------------------------------------
// Through the engine

use crate::{CreateCollection, CreateIndex, Engine, EngineConfig, Query, Rows, Templates};

fn engine_schema() -> CollectionSchema {
    let mut id = FieldSchema::new("id", DataType::Int64);
    id.is_primary_key = true;
    let mut tag = FieldSchema::new("tag", DataType::VarChar).with_param("max_length", 16);
    tag.nullable = true;
    CollectionSchema {
        name: "c".into(),
        description: String::new(),
        fields: vec![
            id,
            FieldSchema::new("n", DataType::Int64),
            tag,
            FieldSchema::new("vec", DataType::FloatVector).with_param("dim", 2),
        ],
        functions: vec![],
        enable_dynamic_field: false,
    }
}

fn engine_rows(keys: std::ops::Range<i64>) -> Rows {
    let ids: Vec<i64> = keys.collect();
    let mut vec = VectorColumn::new(DataType::FloatVector, 2).unwrap();
    vec.floats = ids.iter().flat_map(|k| [*k as f32, 0.0]).collect();
    let tags: rivus_schema::StringColumn = ids.iter().map(|k| format!("t{}", k % 7)).collect();
    Rows {
        partition: None,
        columns: ColumnBatch::new(ids.len())
            .with(
                "n",
                Column::new(ColumnData::Int64(ids.iter().map(|k| k % 100).collect())),
            )
            .with(
                "tag",
                Column {
                    data: ColumnData::VarChar(tags),
                    valid: Some(Bitmap::from_slice(&ids, |k| k % 5 != 0)),
                },
            )
            .with("vec", Column::new(ColumnData::Vector(vec)))
            .with("id", Column::new(ColumnData::Int64(ids))),
    }
}

fn add_index(engine: &Engine, field: &str, index_type: &str) {
    let mut params = Properties::new();
    params.set("index_type", index_type);
    if field == "vec" {
        params.set("metric_type", "L2");
    }
    engine
        .create_index(
            "default",
            "c",
            CreateIndex {
                field_name: field.into(),
                index_name: String::new(),
                params,
            },
        )
        .unwrap();
}

fn wait_indexed(engine: &Engine, field: &str) {
    let id = engine.describe_index("default", "c", "", field).unwrap()[0].id;
    for _ in 0..1000 {
        let (total, indexed) = engine.index_progress("default", "c", id).unwrap();
        if total == indexed {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the {field} index build did not finish");
}

fn ids(engine: &Engine, filter: &str) -> Vec<i64> {
    let q = Query {
        filter: filter.into(),
        templates: Templates::new(),
        output_fields: vec!["id".into()],
        limit: None,
        offset: 0,
        partitions: Vec::new(),
    };
    let out = engine.query("default", "c", &q).unwrap();
    let (_, col) = &out.columns[0];
    let ColumnData::Int64(v) = &col.data else {
        panic!("int ids")
    };
    v.clone()
}

fn count(engine: &Engine, filter: &str) -> u64 {
    let q = Query {
        filter: filter.into(),
        templates: Templates::new(),
        output_fields: vec!["count(*)".into()],
        limit: None,
        offset: 0,
        partitions: Vec::new(),
    };
    engine.query("default", "c", &q).unwrap().count.unwrap()
}

const FILTERS: &[&str] = &[
    "n == 42",
    "n in [1, 2, 99]",
    "n >= 10 and n < 13",
    "not (n != 5)",
    "tag == \"t3\"",
    "tag like \"t1%\"",
    "tag is null",
    "not (tag == \"t2\" or n > 50)",
    "tag is not null and n < 3",
];

/// The rows each filter selects, from a model of the rows `0..n` minus deleted ones.
fn model(n: i64, deleted: &[i64]) -> BTreeMap<&'static str, Vec<i64>> {
    let alive = |k: &i64| !deleted.contains(k);
    let tag = |k: i64| (k % 5 != 0).then(|| format!("t{}", k % 7));
    let mut out = BTreeMap::new();
    for f in FILTERS {
        let keep = |k: i64| -> bool {
            let v = k % 100;
            let t = tag(k);
            match *f {
                "n == 42" => v == 42,
                "n in [1, 2, 99]" => [1, 2, 99].contains(&v),
                "n >= 10 and n < 13" => (10..13).contains(&v),
                "not (n != 5)" => v == 5,
                "tag == \"t3\"" => t.as_deref() == Some("t3"),
                "tag like \"t1%\"" => t.as_deref().is_some_and(|t| t.starts_with("t1")),
                "tag is null" => t.is_none(),
                // Milvus: a null `tag` with `n <= 50` is true (`or` keeps the valid bit).
                "not (tag == \"t2\" or n > 50)" => t.as_deref() != Some("t2") && v <= 50,
                _ => t.is_some() && v < 3,
            }
        };
        out.insert(*f, (0..n).filter(alive).filter(|k| keep(*k)).collect());
    }
    out
}

fn check(engine: &Engine, want: &BTreeMap<&'static str, Vec<i64>>) {
    for (f, rows) in want {
        assert_eq!(&ids(engine, f), rows, "{f}");
        assert_eq!(count(engine, f), rows.len() as u64, "count {f}");
    }
}

fn index_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = fs::read_dir(dir.join("collections"))
        .unwrap()
        .flatten()
        .flat_map(|c| fs::read_dir(c.path()).unwrap().flatten())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(".idx-"))
        .collect();
    out.sort();
    out
}

/// Scalar indexes are built per sealed chunk after a flush, answer queries (with deletes and
/// rows still in memory) as a scan would, are saved as files that later opens load, and a
/// damaged file is rebuilt (queries stay right meanwhile).
#[test]
fn scalar_indexes_serve_queries_and_damaged_files_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let config = || EngineConfig::new(dir.path());
    let engine = Engine::open(config()).unwrap();
    engine
        .create_collection("default", CreateCollection::new(engine_schema()))
        .unwrap();
    add_index(&engine, "vec", "FLAT");
    add_index(&engine, "n", "STL_SORT");
    add_index(&engine, "tag", "INVERTED");
    engine.load_collection("default", "c").unwrap();
    engine.insert("default", "c", engine_rows(0..3000)).unwrap();
    engine.flush("default", "c").unwrap();
    wait_indexed(&engine, "n");
    wait_indexed(&engine, "tag");
    // Rows in memory and a delete of sealed rows.
    engine
        .insert("default", "c", engine_rows(3000..3100))
        .unwrap();
    engine
        .delete(
            "default",
            "c",
            None,
            "id in [42, 142, 3042]",
            &Templates::new(),
        )
        .unwrap();
    let want = model(3100, &[42, 142, 3042]);
    check(&engine, &want);
    drop(engine);

    let files = index_files(dir.path());
    assert_eq!(
        files.len(),
        2,
        "one file per scalar index of the sealed chunk: {files:?}"
    );
    let engine = Engine::open(config()).unwrap();
    check(&engine, &want);
    wait_indexed(&engine, "n");
    drop(engine);
    assert_eq!(index_files(dir.path()), files, "loaded, not rewritten");

    // Damage both files: opens serve by scanning, rebuild and rewrite them.
    let mut damaged = Vec::new();
    for f in &files {
        let mut bytes = fs::read(f).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        fs::write(f, &bytes).unwrap();
        damaged.push(bytes);
    }
    let engine = Engine::open(config()).unwrap();
    check(&engine, &want);
    wait_indexed(&engine, "n");
    wait_indexed(&engine, "tag");
    check(&engine, &want);
    drop(engine);
    for (f, bytes) in files.iter().zip(&damaged) {
        assert_ne!(&fs::read(f).unwrap(), bytes, "{} rewritten", f.display());
    }
    let engine = Engine::open(config()).unwrap();
    check(&engine, &want);
}

/// JSON fields have no scalar index in rivus: `create_index` refuses it by name instead of
/// declaring one that is never built.
#[test]
fn json_index_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineConfig::new(dir.path())).unwrap();
    let mut schema = engine_schema();
    schema.fields.push(FieldSchema::new("doc", DataType::Json));
    engine
        .create_collection("default", CreateCollection::new(schema))
        .unwrap();
    let mut params = Properties::new();
    params.set("index_type", "INVERTED");
    params.set("json_cast_type", "DOUBLE");
    params.set("json_path", "doc[\"a\"]");
    let err = engine
        .create_index(
            "default",
            "c",
            CreateIndex {
                field_name: "doc".into(),
                index_name: String::new(),
                params,
            },
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("not supported by rivus yet"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Speed (`bench/sindex_bench.sh` runs this in release mode)

/// Filter evaluation alone over one chunk of 1M rows: `rivus_expr::evaluate` (the scan)
/// against `filter_chunk` with the chunk's indexes. Prints a table; checks the rows agree.
#[test]
#[ignore = "a measurement: bench/sindex_bench.sh"]
fn filter_speed_on_a_million_rows() {
    let n: usize = std::env::var("SINDEX_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runs = 31;
    let span = (n as u64).next_power_of_two();
    let perm = |i: u64| {
        let mut v = i.wrapping_mul(0x9E37_79B9_7F4A_7C15 | 1) & (span - 1);
        while v >= n as u64 {
            v = v.wrapping_mul(0x9E37_79B9_7F4A_7C15 | 1) & (span - 1);
        }
        v as i64
    };
    let x: Vec<i64> = (0..n as u64).map(perm).collect();
    let s: rivus_schema::StringColumn = x.iter().map(|v| format!("user{v:07}")).collect();
    let batch = ColumnBatch::new(n)
        .with("x", Column::new(ColumnData::Int64(x)))
        .with(
            "c",
            Column::new(ColumnData::Int64(
                (0..n).map(|i| (i * 7 % 16) as i64).collect(),
            )),
        )
        .with("s", Column::new(ColumnData::VarChar(s)))
        .with(
            "t",
            Column::new(ColumnData::VarChar(
                (0..n).map(|i| format!("tag{}", i * 31 % 100)).collect(),
            )),
        );
    let chunk = Chunk::new(
        0,
        ChunkColumns::Owned(batch),
        (0..n as i64).map(Pk::Int).collect(),
        vec![1; n],
    );
    for (i, (field, t, index_type)) in [
        ("x", DataType::Int64, "STL_SORT"),
        ("c", DataType::Int64, "BITMAP"),
        ("s", DataType::VarChar, "INVERTED"),
        ("t", DataType::VarChar, "Trie"),
    ]
    .into_iter()
    .enumerate()
    {
        let index = ScalarChunkIndex::build(&chunk, &spec(i as i64, field, t, index_type)).unwrap();
        chunk
            .scalar
            .write()
            .unwrap()
            .push(std::sync::Arc::new(index));
    }
    let cmp = |field: &str, op: CmpOp, v: i64| Predicate::Compare {
        lhs: Operand {
            field: field.into(),
            data_type: DataType::Int64,
            element_type: None,
            path: vec![],
            arith: vec![],
        },
        op,
        rhs: Literal::Int(v),
    };
    let text = |field: &str| Operand {
        field: field.into(),
        data_type: DataType::VarChar,
        element_type: None,
        path: vec![],
        arith: vec![],
    };
    let mid = n as i64 / 2;
    let range = |share: i64| {
        Predicate::And(vec![
            cmp("x", CmpOp::Ge, mid),
            cmp("x", CmpOp::Lt, mid + n as i64 / share),
        ])
    };
    let cases: Vec<(&str, Predicate)> = vec![
        ("`x == n/8`", cmp("x", CmpOp::Eq, n as i64 / 8)),
        ("`x >= n/2 and x < n/2 + n/1000` (0.1%)", range(1000)),
        ("`x >= n/2 and x < n/2 + n/100` (1%)", range(100)),
        ("`x >= n/2 and x < n/2 + n/10` (10%)", range(10)),
        ("`x >= n/2 and x < n/2 + n/5` (20%)", range(5)),
        ("`x >= n/2 and x < n/2 + n/4` (25%, the limit)", range(4)),
        ("`x >= n/2 and x < n/2 + n/3` (33%, scanned)", range(3)),
        ("`x < n/2` (50%, scanned)", cmp("x", CmpOp::Lt, mid)),
        ("`c == 3` (1/16, a bitmap)", cmp("c", CmpOp::Eq, 3)),
        (
            "`c in [1, 2, 3]` (3/16, bitmaps)",
            Predicate::In {
                operand: Operand {
                    data_type: DataType::Int64,
                    ..text("c")
                },
                values: vec![Literal::Int(1), Literal::Int(2), Literal::Int(3)],
                negated: false,
            },
        ),
        (
            "`s == \"user0333333\"`",
            Predicate::Compare {
                lhs: text("s"),
                op: CmpOp::Eq,
                rhs: Literal::Str("user0333333".into()),
            },
        ),
        (
            "`s like \"user03333%\"` (100 rows)",
            Predicate::Like {
                operand: text("s"),
                pattern: "user03333%".into(),
            },
        ),
        (
            "`t like \"%7\"` (100 values, 10%)",
            Predicate::Like {
                operand: text("t"),
                pattern: "%7".into(),
            },
        ),
    ];
    let median_us = |f: &mut dyn FnMut() -> usize| {
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let t = std::time::Instant::now();
                std::hint::black_box(f());
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[runs / 2]
    };
    println!("\n{n} rows, one chunk; filter evaluation alone, median of {runs} runs (µs)\n");
    println!("| filter | rows | scan µs | index µs | speed-up |");
    println!("|---|---|---|---|---|");
    for (name, p) in &cases {
        let want = rivus_expr::evaluate(p, &chunk.batch);
        assert_eq!(filter_chunk(&chunk, p), want, "{name}");
        let scan = median_us(&mut || rivus_expr::evaluate(p, &chunk.batch).count_ones());
        let index = median_us(&mut || filter_chunk(&chunk, p).count_ones());
        println!(
            "| {name} | {} | {scan:.0} | {index:.0} | {:.1}x |",
            want.count_ones(),
            scan / index
        );
    }
}
