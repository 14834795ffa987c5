//! Engine tests: catalog semantics, persistence and crash safety, against a real data
//! directory.

use std::fs;
use std::path::Path;

use rivus_schema::{CollectionSchema, DataType, FieldSchema, Properties};

use crate::catalog::CATALOG_FILE_NAME;
use crate::{CreateCollection, CreateIndex, Engine, EngineConfig, EngineError, LoadState};

fn open(dir: &Path) -> Engine {
    Engine::open(EngineConfig::new(dir)).unwrap()
}

fn schema(name: &str, dim: i64) -> CollectionSchema {
    let mut id = FieldSchema::new("id", DataType::Int64);
    id.is_primary_key = true;
    CollectionSchema {
        name: name.into(),
        description: String::new(),
        fields: vec![
            id,
            FieldSchema::new("vector", DataType::FloatVector).with_param("dim", dim),
        ],
        functions: vec![],
        enable_dynamic_field: false,
    }
}

fn create(engine: &Engine, db: &str, name: &str) {
    engine
        .create_collection(db, CreateCollection::new(schema(name, 4)))
        .unwrap();
}

#[test]
fn founding_example_moves_the_alias() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    create(&engine, "default", "c1");
    create(&engine, "default", "c2");
    engine.create_alias("default", "bob", "c1").unwrap();
    assert_eq!(
        engine.describe_collection("default", "c1").unwrap().aliases,
        vec!["bob"]
    );
    engine.alter_alias("default", "bob", "c2").unwrap();
    assert!(engine
        .describe_collection("default", "c1")
        .unwrap()
        .aliases
        .is_empty());
    assert_eq!(
        engine.describe_collection("default", "c2").unwrap().aliases,
        vec!["bob"]
    );
    assert_eq!(
        engine
            .describe_collection("default", "bob")
            .unwrap()
            .collection
            .name(),
        "c2"
    );
}

#[test]
fn alias_error_paths() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    create(&engine, "default", "c1");
    create(&engine, "default", "c2");
    engine.create_alias("default", "a", "c1").unwrap();
    // Same alias, same target: idempotent.
    engine.create_alias("default", "a", "c1").unwrap();
    let err = engine.create_alias("default", "a", "c2").unwrap_err();
    assert!(matches!(err, EngineError::AliasAlreadyExists { .. }));
    assert_eq!(
        err.to_string(),
        "a is alias to another collection: c1: alias already exist[database=default][alias=a]"
    );
    let err = engine.create_alias("default", "c2", "c1").unwrap_err();
    assert!(matches!(
        err,
        EngineError::AliasCollectionNameConflict { .. }
    ));
    // An alias never targets an alias.
    let err = engine.create_alias("default", "b", "a").unwrap_err();
    assert_eq!(
        err.to_string(),
        "collection not found[database=default][collection=a]"
    );
    let err = engine.alter_alias("default", "zz", "c2").unwrap_err();
    assert_eq!(
        err.to_string(),
        "alias not found[database=default][alias=zz]"
    );
    let err = engine.alter_alias("default", "a", "nope").unwrap_err();
    assert_eq!(err.to_string(), "collection not found[collection=nope]");
    engine.drop_alias("default", "never-existed !").unwrap();
    assert!(matches!(
        engine.drop_collection("default", "a").unwrap_err(),
        EngineError::DropCollectionViaAlias { .. }
    ));
    assert!(matches!(
        engine.drop_collection("default", "c1").unwrap_err(),
        EngineError::CollectionHasAliases { .. }
    ));
    assert!(matches!(
        engine
            .create_collection("default", CreateCollection::new(schema("a", 4)))
            .unwrap_err(),
        EngineError::CollectionNameIsAlias { .. }
    ));
    engine.drop_alias("default", "a").unwrap();
    engine.drop_collection("default", "c1").unwrap();
    assert!(matches!(
        engine.describe_alias("default", "a").unwrap_err(),
        EngineError::AliasNotFound { .. }
    ));
}

#[test]
fn aliases_follow_a_rename_and_are_per_database() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine.create_database("db2", Properties::new()).unwrap();
    create(&engine, "default", "c1");
    create(&engine, "db2", "c1");
    engine.create_alias("default", "a", "c1").unwrap();
    engine.create_alias("db2", "a", "c1").unwrap();
    engine
        .rename_collection("default", "c1", "", "renamed")
        .unwrap();
    assert_eq!(engine.describe_alias("default", "a").unwrap(), "renamed");
    assert_eq!(engine.describe_alias("db2", "a").unwrap(), "c1");
    assert!(matches!(
        engine
            .rename_collection("default", "a", "", "x")
            .unwrap_err(),
        EngineError::RenameViaAlias { .. }
    ));
    assert!(matches!(
        engine
            .rename_collection("default", "renamed", "db2", "moved")
            .unwrap_err(),
        EngineError::RenameAcrossDatabasesWithAliases
    ));
    engine.drop_alias("default", "a").unwrap();
    engine
        .rename_collection("default", "renamed", "db2", "moved")
        .unwrap();
    assert!(engine.list_collections("default").unwrap().is_empty());
    assert_eq!(engine.list_collections("db2").unwrap().len(), 2);
}

#[test]
fn every_acknowledged_change_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = open(dir.path());
        let mut props = Properties::new();
        props.set("database.max.collections", "10");
        engine.create_database("db1", props).unwrap();
        create(&engine, "db1", "c1");
        engine.create_alias("db1", "a1", "c1").unwrap();
        let mut props = Properties::new();
        props.set("collection.ttl.seconds", "60");
        engine
            .alter_collection_properties("db1", "a1", props)
            .unwrap();
        let mut params = Properties::new();
        params.set("metric_type", "L2");
        engine
            .create_index(
                "db1",
                "c1",
                CreateIndex {
                    field_name: "vector".into(),
                    index_name: String::new(),
                    params,
                },
            )
            .unwrap();
        engine.load_collection("db1", "a1").unwrap();
        engine.create_partition("db1", "c1", "p1").unwrap();
    }
    let engine = open(dir.path());
    let db = engine.describe_database("db1").unwrap();
    assert_eq!(db.properties.get("database.max.collections"), Some("10"));
    let c = engine.describe_collection("db1", "a1").unwrap();
    assert_eq!(c.collection.name(), "c1");
    assert_eq!(c.aliases, vec!["a1"]);
    assert_eq!(
        c.collection.properties.get("collection.ttl.seconds"),
        Some("60")
    );
    assert_eq!(
        engine.load_state("db1", "c1", &[]).unwrap(),
        LoadState::Loaded
    );
    assert_eq!(
        engine.describe_index("db1", "c1", "", "").unwrap()[0].index_name,
        "vector"
    );
    assert!(engine.has_partition("db1", "c1", "p1").unwrap());
}

#[test]
fn second_engine_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(dir.path());
    let err = Engine::open(EngineConfig::new(dir.path())).unwrap_err();
    assert!(err.to_string().contains("already in use"), "{err}");
}

#[test]
fn corrupt_catalog_stops_startup_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = open(dir.path());
        create(&engine, "default", "c1");
    }
    let path = dir.path().join(CATALOG_FILE_NAME);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x20;
    fs::write(&path, &bytes).unwrap();
    let err = Engine::open(EngineConfig::new(dir.path())).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("corrupt"), "{msg}");
    assert_eq!(
        fs::read(&path).unwrap(),
        bytes,
        "a corrupt catalog must never be rewritten"
    );
}

#[test]
fn refused_changes_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    create(&engine, "default", "c1");
    let before = fs::read(dir.path().join(CATALOG_FILE_NAME)).unwrap();
    assert!(engine.create_alias("default", "1bad", "c1").is_err());
    assert!(engine
        .create_collection("default", CreateCollection::new(schema("c2", 1)))
        .is_err());
    assert!(engine.drop_database("default").is_err());
    // Idempotent calls change nothing either.
    engine.drop_alias("default", "nope").unwrap();
    engine
        .create_collection("default", CreateCollection::new(schema("c1", 4)))
        .unwrap();
    assert_eq!(
        fs::read(dir.path().join(CATALOG_FILE_NAME)).unwrap(),
        before
    );
}

#[test]
fn concurrent_readers_always_see_a_whole_alias_move() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine
        .create_collection("default", CreateCollection::new(schema("small", 2)))
        .unwrap();
    engine
        .create_collection("default", CreateCollection::new(schema("large", 8)))
        .unwrap();
    engine.create_alias("default", "live", "small").unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..40 {
                let target = if i % 2 == 0 { "large" } else { "small" };
                engine.alter_alias("default", "live", target).unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::Release);
        });
        for _ in 0..2 {
            s.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    let d = engine.describe_collection("default", "live").unwrap();
                    let dim = d.collection.schema.field("vector").unwrap().dim().unwrap();
                    let expected = if d.collection.name() == "small" { 2 } else { 8 };
                    assert_eq!(dim, expected);
                    assert_eq!(d.aliases, vec!["live"]);
                }
            });
        }
    });
}

fn log_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    names
}

#[test]
fn random_changes_replay_to_the_same_state_and_compaction_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine.create_database("db2", Properties::new()).unwrap();
    // A cheap deterministic generator: the sequence matters, not its quality.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let big = "x".repeat(64 * 1024);
    create(&engine, "default", "big");
    for step in 0..400 {
        if step % 20 == 0 {
            // Large values make the log outgrow its compaction threshold.
            let mut props = Properties::new();
            props.set("blob", format!("{step}{big}"));
            engine
                .alter_collection_properties("default", "big", props)
                .unwrap();
        }
        let db = if next(2) == 0 { "default" } else { "db2" };
        let c = format!("c{}", next(6));
        let a = format!("a{}", next(4));
        // Errors are expected (missing targets, conflicts); only acknowledged changes count.
        let _ = match next(8) {
            0 | 1 => engine.create_collection(db, CreateCollection::new(schema(&c, 4))),
            2 => engine.drop_collection(db, &c),
            3 => engine.create_alias(db, &a, &c),
            4 => engine.alter_alias(db, &a, &c),
            5 => engine.drop_alias(db, &a),
            6 => engine.rename_collection(db, &c, "", &format!("c{}", next(6))),
            _ => {
                let mut props = Properties::new();
                props.set("k", step.to_string());
                engine.alter_collection_properties(db, &c, props)
            }
        };
    }
    let expected = engine.catalog().snapshot();
    drop(engine);
    assert_eq!(
        log_files(dir.path()).len(),
        1,
        "compaction leaves exactly one log"
    );
    assert_ne!(
        log_files(dir.path()),
        vec!["catalog-1.log"],
        "the log was compacted"
    );
    let reopened = open(dir.path());
    assert_eq!(*reopened.catalog().snapshot(), *expected);
}

#[test]
fn torn_catalog_log_tail_is_dropped_and_earlier_damage_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = open(dir.path());
        create(&engine, "default", "c1");
        create(&engine, "default", "c2");
    }
    let log = dir.path().join(&log_files(dir.path())[0]);
    let good = fs::read(&log).unwrap();
    // An unacknowledged record cut short by a crash: the acknowledged ones all stay.
    let mut torn = good.clone();
    torn.extend_from_slice(&good[..good.len() / 3]);
    fs::write(&log, &torn).unwrap();
    {
        let engine = open(dir.path());
        assert_eq!(engine.list_collections("default").unwrap().len(), 2);
    }
    assert_eq!(fs::read(&log).unwrap(), good, "the torn tail is cut off");
    // Damage inside an acknowledged record is corruption, reported with the file's name.
    let mut bad = good.clone();
    bad[20] ^= 0x01;
    fs::write(&log, &bad).unwrap();
    let err = Engine::open(EngineConfig::new(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&log.display().to_string()) && err.contains("corrupt"),
        "{err}"
    );
}

#[test]
fn altered_index_properties_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mmap = |value: &str| {
        let mut props = Properties::new();
        props.set("mmap.enabled", value);
        props
    };
    let index_params = |engine: &Engine| {
        engine
            .describe_index("default", "c", "vec_idx", "")
            .unwrap()[0]
            .params
            .clone()
    };
    {
        let engine = open(dir.path());
        create(&engine, "default", "c");
        let mut params = Properties::new();
        for (k, v) in [("index_type", "HNSW"), ("metric_type", "L2"), ("M", "8")] {
            params.set(k, v);
        }
        engine
            .create_index(
                "default",
                "c",
                CreateIndex {
                    field_name: "vector".into(),
                    index_name: "vec_idx".into(),
                    params: params.clone(),
                },
            )
            .unwrap();
        engine
            .alter_index("default", "c", "vec_idx", &mmap("True"), &[])
            .unwrap();
        // Re-declaring the index as first declared still succeeds (configurable keys aside).
        engine
            .create_index(
                "default",
                "c",
                CreateIndex {
                    field_name: "vector".into(),
                    index_name: "vec_idx".into(),
                    params,
                },
            )
            .unwrap();

        let err = engine
            .alter_index(
                "default",
                "c",
                "vec_idx",
                &{
                    let mut p = Properties::new();
                    p.set("M", "16");
                    p
                },
                &[],
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "M is not configable index param: invalid parameter"
        );
        let err = engine
            .alter_index("default", "c", "vec_idx", &mmap("yes"), &[])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid mmap index params: invalid mmap.enabled value: yes, expected: true, false: \
             invalid parameter"
        );
        let err = engine
            .alter_index("default", "c", "nope", &mmap("true"), &[])
            .unwrap_err();
        assert_eq!(err.to_string(), "index not found[indexName=nope]");
        let err = engine
            .alter_index("default", "c", "", &mmap("true"), &[])
            .unwrap_err();
        assert_eq!(err.to_string(), "index name is empty: invalid parameter");
        engine.load_collection("default", "c").unwrap();
        let err = engine
            .alter_index(
                "default",
                "c",
                "vec_idx",
                &Properties::new(),
                &["mmap.enabled".into()],
            )
            .unwrap_err();
        assert!(matches!(err, EngineError::CollectionLoaded { .. }), "{err}");
        engine.release_collection("default", "c").unwrap();
    }
    {
        let engine = open(dir.path());
        let params = index_params(&engine);
        assert_eq!(params.get("mmap.enabled"), Some("True"));
        assert_eq!(params.get("M"), Some("8"));
        engine
            .alter_index(
                "default",
                "c",
                "vec_idx",
                &Properties::new(),
                &["mmap.enabled".into()],
            )
            .unwrap();
    }
    let engine = open(dir.path());
    let params = index_params(&engine);
    assert_eq!(params.get("mmap.enabled"), None);
    assert_eq!(params.get("index_type"), Some("HNSW"));
}
