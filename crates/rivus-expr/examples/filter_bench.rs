//! Filter evaluation speed over 1M rows, against the floor of a plain sum over the same
//! column (memory bandwidth). Run: `bench/filter_bench.sh` (release build). Prints a table.

use std::hint::black_box;
use std::time::Instant;

use rivus_expr::{bind, evaluate, parse, Templates};
use rivus_schema::{
    ArrayColumn, CollectionSchema, Column, ColumnBatch, ColumnData, DataType, FieldSchema,
    JsonColumn, ScalarValue,
};

const ROWS: usize = 1_000_000;

fn schema() -> CollectionSchema {
    let mut id = FieldSchema::new("id", DataType::Int64);
    id.is_primary_key = true;
    let mut tags = FieldSchema::new("tags", DataType::Array);
    tags.element_type = Some(DataType::Int64);
    CollectionSchema {
        name: "bench".into(),
        description: String::new(),
        fields: vec![
            id,
            FieldSchema::new("age", DataType::Int64),
            FieldSchema::new("status", DataType::VarChar).with_param("max_length", 16),
            FieldSchema::new("category", DataType::Int64),
            FieldSchema::new("name", DataType::VarChar).with_param("max_length", 32),
            FieldSchema::new("meta", DataType::Json),
            tags,
            FieldSchema::new("v", DataType::FloatVector).with_param("dim", 4),
        ],
        functions: vec![],
        enable_dynamic_field: false,
    }
}

fn data() -> ColumnBatch {
    // A fixed xorshift stream: the same data every run.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut age = Vec::with_capacity(ROWS);
    let mut status = Vec::with_capacity(ROWS);
    let mut category = Vec::with_capacity(ROWS);
    let mut name = Vec::with_capacity(ROWS);
    let mut meta = Vec::with_capacity(ROWS);
    let mut tags = Vec::with_capacity(ROWS);
    for _ in 0..ROWS {
        let r = next();
        age.push((r % 80) as i64);
        status.push(if r % 3 == 0 { "active" } else { "inactive" }.to_string());
        category.push(((r >> 8) % 1000) as i64);
        name.push(format!("{:x}", (r >> 16) % 0xfffff));
        meta.push(serde_json::json!({"price": (r >> 20) % 500, "brand": "x"}));
        tags.push(vec![
            ScalarValue::Long(((r >> 24) % 50) as i64),
            ScalarValue::Long(((r >> 32) % 50) as i64),
        ]);
    }
    ColumnBatch::new(ROWS)
        .with(
            "id",
            Column::new(ColumnData::Int64((0..ROWS as i64).collect())),
        )
        .with("age", Column::new(ColumnData::Int64(age)))
        .with(
            "status",
            Column::new(ColumnData::VarChar(status.into_iter().collect())),
        )
        .with("category", Column::new(ColumnData::Int64(category)))
        .with(
            "name",
            Column::new(ColumnData::VarChar(name.into_iter().collect())),
        )
        .with("meta", Column::new(ColumnData::Json(JsonColumn::new(meta))))
        .with(
            "tags",
            Column::new(ColumnData::Array(
                ArrayColumn::from_rows(DataType::Int64, tags).expect("int64 elements"),
            )),
        )
}

/// Fastest of `runs` runs of `f`, in seconds: the least disturbed by neighbours on a shared
/// machine, for the floor and the filters alike.
fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let schema = schema();
    let batch = data();
    let ColumnData::Int64(ages) = &rivus_schema::ColumnSource::column(&batch, "age")
        .unwrap()
        .data
    else {
        unreachable!()
    };
    let floor = time(9, || {
        black_box(ages.iter().copied().fold(0i64, i64::wrapping_add));
    });
    let categories: Vec<String> = (0..100).map(|i| (i * 7).to_string()).collect();
    let filters = [
        ("numeric comparison", "age > 25".to_string(), 2.0),
        (
            "numeric and string equality",
            "age > 25 and status == \"active\"".to_string(),
            20.0,
        ),
        (
            "in over 100 values",
            format!("category in [{}]", categories.join(", ")),
            4.0,
        ),
        ("prefix like", "name like \"abc%\"".to_string(), 20.0),
        (
            "JSON path comparison",
            "meta[\"price\"] > 250".to_string(),
            20.0,
        ),
        (
            "array_contains",
            "array_contains(tags, 7)".to_string(),
            20.0,
        ),
    ];
    println!("filter evaluation over {ROWS} rows (best of 9; floor = sum over the int64 column: {:.0} Mrows/s; CPU level {:?})\n", ROWS as f64 / floor / 1e6, rivus_schema::cpu::level());
    println!("| filter | expression | Mrows/s | x floor | bar | matched |");
    println!("|---|---|---|---|---|---|");
    for (label, expr, bar) in filters {
        let plan = bind(&parse(&expr).unwrap(), &schema, &Templates::new()).unwrap();
        let mut matched = 0;
        let secs = time(9, || {
            matched = black_box(evaluate(&plan, &batch)).count_ones();
        });
        let ratio = secs / floor;
        let shown = if expr.len() > 40 {
            format!("{}...", &expr[..37])
        } else {
            expr.clone()
        };
        println!(
            "| {label} | `{shown}` | {:.1} | {ratio:.1}x | {bar}x {} | {matched} |",
            ROWS as f64 / secs / 1e6,
            if ratio <= bar { "met" } else { "MISSED" }
        );
    }
}
