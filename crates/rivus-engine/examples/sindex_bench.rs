//! Scalar index speed: the same filters over the same 1M sealed rows, in a collection
//! without scalar indexes (every filter scans its columns) and in one with STL_SORT, BITMAP,
//! INVERTED and Trie indexes. Prints a table of `count(*)` query times (median of runs, ms).
//!
//! `cargo run --release -p rivus-engine --example sindex_bench -- [--rows N] [--runs N]`

use std::time::{Duration, Instant};

use rivus_engine::{
    CreateCollection, CreateIndex, Engine, EngineConfig, Query, Rows, SyncPolicy, Templates,
};
use rivus_schema::{
    CollectionSchema, Column, ColumnBatch, ColumnData, DataType, FieldSchema, Properties,
    StringColumn, VectorColumn,
};

fn schema(name: &str) -> CollectionSchema {
    let mut id = FieldSchema::new("id", DataType::Int64);
    id.is_primary_key = true;
    CollectionSchema {
        name: name.into(),
        description: String::new(),
        fields: vec![
            id,
            FieldSchema::new("x", DataType::Int64),
            FieldSchema::new("c", DataType::Int64),
            FieldSchema::new("s", DataType::VarChar).with_param("max_length", 32),
            FieldSchema::new("t", DataType::VarChar).with_param("max_length", 32),
            FieldSchema::new("vec", DataType::FloatVector).with_param("dim", 2),
        ],
        functions: vec![],
        enable_dynamic_field: false,
    }
}

/// Row `i`: `x` a permutation of `0..n` (unique), `c` one of 16 values, `s` unique
/// (`user<x>`), `t` one of 100 values.
fn rows(range: std::ops::Range<u64>, n: u64) -> Rows {
    let ids: Vec<i64> = range.clone().map(|i| i as i64).collect();
    // An odd multiplier modulo a power of two is a permutation; fold into 0..n.
    let span = n.next_power_of_two();
    let perm = |i: u64| {
        let mut v = i.wrapping_mul(0x9E37_79B9_7F4A_7C15 | 1) & (span - 1);
        while v >= n {
            v = v.wrapping_mul(0x9E37_79B9_7F4A_7C15 | 1) & (span - 1);
        }
        v
    };
    let x: Vec<i64> = range.clone().map(|i| perm(i) as i64).collect();
    let c: Vec<i64> = range.clone().map(|i| ((i * 7) % 16) as i64).collect();
    let s: StringColumn = x.iter().map(|v| format!("user{v:07}")).collect();
    let t: StringColumn = range
        .clone()
        .map(|i| format!("tag{}", (i * 31) % 100))
        .collect();
    let mut vec = VectorColumn::new(DataType::FloatVector, 2).expect("dim");
    vec.floats = range.flat_map(|i| [i as f32, 1.0]).collect();
    Rows {
        partition: None,
        columns: ColumnBatch::new(ids.len())
            .with("id", Column::new(ColumnData::Int64(ids)))
            .with("x", Column::new(ColumnData::Int64(x)))
            .with("c", Column::new(ColumnData::Int64(c)))
            .with("s", Column::new(ColumnData::VarChar(s)))
            .with("t", Column::new(ColumnData::VarChar(t)))
            .with("vec", Column::new(ColumnData::Vector(vec))),
    }
}

fn index(engine: &Engine, collection: &str, field: &str, index_type: &str) {
    let mut params = Properties::new();
    params.set("index_type", index_type);
    if field == "vec" {
        params.set("metric_type", "L2");
    }
    engine
        .create_index(
            "default",
            collection,
            CreateIndex {
                field_name: field.into(),
                index_name: String::new(),
                params,
            },
        )
        .expect("create_index");
}

fn count(engine: &Engine, collection: &str, filter: &str) -> u64 {
    let q = Query {
        filter: filter.into(),
        templates: Templates::new(),
        output_fields: vec!["count(*)".into()],
        limit: None,
        offset: 0,
        partitions: Vec::new(),
    };
    engine
        .query("default", collection, &q)
        .expect("query")
        .count
        .expect("count")
}

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

fn wait_indexed(engine: &Engine, collection: &str, field: &str) {
    let id = engine
        .describe_index("default", collection, "", field)
        .expect("describe_index")[0]
        .id;
    loop {
        let (total, indexed) = engine
            .index_progress("default", collection, id)
            .expect("progress");
        if total == indexed {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() {
    let mut n: u64 = 1_000_000;
    let mut runs = 21;
    let args: Vec<String> = std::env::args().collect();
    for w in args.windows(2) {
        match w[0].as_str() {
            "--rows" => n = w[1].parse().expect("--rows N"),
            "--runs" => runs = w[1].parse().expect("--runs N"),
            _ => {}
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = EngineConfig::new(dir.path());
    config.wal_sync = SyncPolicy::Never;
    let engine = Engine::open(config).expect("open");
    for name in ["scan", "indexed"] {
        engine
            .create_collection("default", CreateCollection::new(schema(name)))
            .expect("create_collection");
        index(&engine, name, "vec", "FLAT");
        let mut at = 0;
        while at < n {
            let end = (at + 100_000).min(n);
            engine
                .insert("default", name, rows(at..end, n))
                .expect("insert");
            at = end;
        }
        engine.flush("default", name).expect("flush");
        engine.load_collection("default", name).expect("load");
    }
    // Indexes declared after the rows are sealed: the build time is the index pass's.
    let mut builds = Vec::new();
    for (field, index_type) in [
        ("x", "STL_SORT"),
        ("c", "BITMAP"),
        ("s", "INVERTED"),
        ("t", "Trie"),
    ] {
        let t = Instant::now();
        index(&engine, "indexed", field, index_type);
        wait_indexed(&engine, "indexed", field);
        builds.push((field, index_type, t.elapsed().as_secs_f64()));
    }
    let mid = n as i64 / 2;
    let tenth = n as i64 / 10;
    let thousandth = (n as i64 / 1000).max(1);
    let filters = [
        ("no filter (the floor: visibility, count)", String::new()),
        ("point", format!("x == {}", n as i64 / 8 + 3)),
        (
            "point under not",
            format!("not (x != {})", n as i64 / 8 + 3),
        ),
        ("in, 10 values", {
            let v: Vec<String> = (0..10).map(|k| (k * 99_991 % n).to_string()).collect();
            format!("x in [{}]", v.join(", "))
        }),
        (
            "range 0.1%",
            format!("x >= {mid} and x < {}", mid + thousandth),
        ),
        (
            "range 0.1% (a < x < b)",
            format!("{mid} <= x < {}", mid + thousandth),
        ),
        (
            "range 1%",
            format!("x >= {mid} and x < {}", mid + 10 * thousandth),
        ),
        ("range 10%", format!("x >= {mid} and x < {}", mid + tenth)),
        ("range 50% (scanned)", format!("x < {mid}")),
        ("BITMAP, 1/16 of rows", "c == 3".to_string()),
        ("BITMAP, 3/16 of rows", "c in [1, 2, 3]".to_string()),
        ("string equality", format!("s == \"user{:07}\"", n / 3)),
        (
            "string prefix (10 rows)",
            format!("s like \"user{:06}%\"", n / 30),
        ),
        ("string, 100 values, like %7", "t like \"%7\"".to_string()),
        (
            "and of two indexed",
            format!("c == 3 and x >= {mid} and x < {}", mid + tenth),
        ),
    ];
    println!(
        "{n} rows in one sealed segment; count(*) with each filter, median of {runs} runs (ms)\n"
    );
    println!("| filter | expression | rows | scan ms | index ms | speed-up |");
    println!("|---|---|---|---|---|---|");
    for (what, filter) in &filters {
        let want = count(&engine, "scan", filter);
        let got = count(&engine, "indexed", filter);
        assert_eq!(got, want, "{filter}: the index disagrees with the scan");
        let scan = median_ms(runs, || {
            count(&engine, "scan", filter);
        });
        let indexed = median_ms(runs, || {
            count(&engine, "indexed", filter);
        });
        println!(
            "| {what} | `{filter}` | {want} | {scan:.3} | {indexed:.3} | {:.1}x |",
            scan / indexed
        );
    }
    println!("\n| index | field | build s (1 chunk, background pass) |");
    println!("|---|---|---|");
    for (field, index_type, secs) in builds {
        println!("| {index_type} | {field} | {secs:.2} |");
    }
    let bytes: u64 = walk(dir.path())
        .iter()
        .filter(|p| p.to_string_lossy().contains(".idx-"))
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "\nscalar index files: {:.1} MB in all (FLAT vector indexes have none)",
        bytes as f64 / 1e6
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
