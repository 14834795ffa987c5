//! Data-plane tests against a real data directory: a random-operation test against a plain
//! in-memory model (across reopens and checkpoints), and crash simulations on the WAL.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rivus_schema::{
    CollectionSchema, Column, ColumnBatch, ColumnData, DataType, FieldSchema, VectorColumn,
};

use rivus_schema::Properties;

use crate::{
    CreateCollection, CreateIndex, Engine, EngineConfig, EngineError, Query, QueryOutput, Rows,
    Templates,
};

fn config(dir: &Path, checkpoint_bytes: u64) -> EngineConfig {
    let mut c = EngineConfig::new(dir);
    c.checkpoint_bytes = checkpoint_bytes;
    c
}

pub(super) fn schema() -> CollectionSchema {
    let mut id = FieldSchema::new("id", DataType::Int64);
    id.is_primary_key = true;
    CollectionSchema {
        name: "c".into(),
        description: String::new(),
        fields: vec![
            id,
            FieldSchema::new("v", DataType::Int64),
            FieldSchema::new("vec", DataType::FloatVector).with_param("dim", 2),
        ],
        functions: vec![],
        enable_dynamic_field: false,
    }
}

fn setup(dir: &Path, checkpoint_bytes: u64) -> Engine {
    let engine = Engine::open(config(dir, checkpoint_bytes)).unwrap();
    engine
        .create_collection("default", CreateCollection::new(schema()))
        .unwrap();
    let mut params = Properties::new();
    params.set("metric_type", "L2");
    engine
        .create_index(
            "default",
            "c",
            CreateIndex {
                field_name: "vec".into(),
                index_name: String::new(),
                params,
            },
        )
        .unwrap();
    engine.load_collection("default", "c").unwrap();
    engine
}

/// Rows `(id, v)`, each with the vector `[id, v]` (so a row's columns can be checked to
/// belong together).
pub(super) fn rows(pairs: &[(i64, i64)]) -> Rows {
    let mut vec = VectorColumn::new(DataType::FloatVector, 2).unwrap();
    vec.floats = pairs
        .iter()
        .flat_map(|(k, v)| [*k as f32, *v as f32])
        .collect();
    Rows {
        partition: None,
        columns: ColumnBatch::new(pairs.len())
            .with(
                "id",
                Column::new(ColumnData::Int64(pairs.iter().map(|p| p.0).collect())),
            )
            .with(
                "v",
                Column::new(ColumnData::Int64(pairs.iter().map(|p| p.1).collect())),
            )
            .with("vec", Column::new(ColumnData::Vector(vec))),
    }
}

/// The values of one output column.
fn data_of(out: &QueryOutput, name: &str) -> Option<ColumnData> {
    out.columns
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, c)| c.data.clone())
}

/// Every row as (id, v), by id; also checks the vectors came back with their rows.
fn contents(engine: &Engine) -> BTreeMap<i64, i64> {
    let out = engine
        .query(
            "default",
            "c",
            &Query {
                filter: "id >= -1000000".into(),
                output_fields: vec!["v".into(), "vec".into()],
                ..Default::default()
            },
        )
        .unwrap();
    let col = |name: &str| data_of(&out, name);
    let (Some(ColumnData::Int64(ids)), Some(ColumnData::Int64(vs)), Some(ColumnData::Vector(vecs))) =
        (col("id"), col("v"), col("vec"))
    else {
        panic!("missing columns");
    };
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "sorted by key, each once"
    );
    for (i, (k, v)) in ids.iter().zip(&vs).enumerate() {
        assert_eq!(&vecs.floats[i * 2..i * 2 + 2], &[*k as f32, *v as f32]);
    }
    let count = engine
        .query(
            "default",
            "c",
            &Query {
                output_fields: vec!["count(*)".into()],
                ..Default::default()
            },
        )
        .unwrap()
        .count;
    assert_eq!(count, Some(ids.len() as u64));
    assert_eq!(engine.row_count("default", "c").unwrap(), ids.len() as u64);
    ids.into_iter().zip(vs).collect()
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn random_operations_match_a_model_across_reopens_and_checkpoints() {
    for seed in [7u64, 99, 12345] {
        let dir = tempfile::tempdir().unwrap();
        // A tiny checkpoint threshold makes checkpoints happen along the way.
        let mut engine = setup(dir.path(), 4096);
        let mut model: BTreeMap<i64, i64> = BTreeMap::new();
        let mut rng = Rng(seed);
        for step in 0..300 {
            match rng.below(10) {
                0..=3 => {
                    let n = 1 + rng.below(8) as usize;
                    let batch: Vec<(i64, i64)> = (0..n)
                        .map(|_| (rng.below(60) as i64, rng.below(1000) as i64))
                        .collect();
                    let upsert = rng.below(2) == 0;
                    let mut seen = std::collections::HashSet::new();
                    let dup = !batch.iter().all(|(k, _)| seen.insert(*k));
                    let result = if upsert {
                        engine.upsert("default", "c", rows(&batch))
                    } else {
                        engine.insert("default", "c", rows(&batch))
                    };
                    if upsert && dup {
                        assert!(matches!(result, Err(EngineError::InvalidParameter { .. })));
                    } else {
                        result.unwrap();
                        // The last row of a key wins, inside a batch too.
                        for (k, v) in batch {
                            model.insert(k, v);
                        }
                    }
                }
                4..=5 => {
                    let keys: Vec<i64> = (0..1 + rng.below(5))
                        .map(|_| rng.below(60) as i64)
                        .collect();
                    let list = keys
                        .iter()
                        .map(|k| k.to_string())
                        .collect::<Vec<_>>()
                        .join(", ");
                    engine
                        .delete(
                            "default",
                            "c",
                            None,
                            &format!("id in [{list}]"),
                            &Templates::new(),
                        )
                        .unwrap();
                    for k in keys {
                        model.remove(&k);
                    }
                }
                6 => {
                    let x = rng.below(1000) as i64;
                    let res = engine
                        .delete("default", "c", None, &format!("v > {x}"), &Templates::new())
                        .unwrap();
                    let before = model.len();
                    model.retain(|_, v| *v <= x);
                    assert_eq!(res.count as usize, before - model.len());
                }
                7 => {
                    drop(engine);
                    engine = Engine::open(config(dir.path(), 4096)).unwrap();
                }
                8 => engine.flush("default", "c").unwrap(),
                _ => {}
            }
            assert_eq!(contents(&engine), model, "seed {seed} step {step}");
            // Key lookups (served from the key index) agree with the model too.
            let keys: Vec<i64> = (0..3).map(|_| rng.below(60) as i64).collect();
            let got = engine
                .query(
                    "default",
                    "c",
                    &Query {
                        filter: format!("id in [{}, {}, {}]", keys[0], keys[1], keys[2]),
                        output_fields: vec!["v".into()],
                        ..Default::default()
                    },
                )
                .unwrap();
            let col = |name: &str| data_of(&got, name);
            let (Some(ColumnData::Int64(ids)), Some(ColumnData::Int64(vs))) = (col("id"), col("v"))
            else {
                panic!("missing columns");
            };
            let want: BTreeMap<i64, i64> = keys
                .iter()
                .filter_map(|k| model.get(k).map(|v| (*k, *v)))
                .collect();
            assert_eq!(ids.into_iter().zip(vs).collect::<BTreeMap<_, _>>(), want);
        }
    }
}

fn wal_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("collections"))
        .unwrap()
        .flatten()
        .flat_map(|c| fs::read_dir(c.path()).unwrap().flatten().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

#[test]
fn a_torn_wal_tail_loses_only_the_write_being_made() {
    let dir = tempfile::tempdir().unwrap();
    let engine = setup(dir.path(), u64::MAX);
    for i in 0..5 {
        engine.insert("default", "c", rows(&[(i, i * 10)])).unwrap();
    }
    let before_last = fs::metadata(&wal_files(dir.path())[0]).unwrap().len();
    engine
        .insert("default", "c", rows(&[(5, 50), (6, 60)]))
        .unwrap();
    drop(engine);
    let wal = wal_files(dir.path())[0].clone();
    let full = fs::read(&wal).unwrap();
    // A crash while the last record was being written: every cut inside it.
    for cut in (before_last..full.len() as u64).step_by(7) {
        fs::write(&wal, &full[..cut as usize]).unwrap();
        let engine = Engine::open(config(dir.path(), u64::MAX)).unwrap();
        let got = contents(&engine);
        assert_eq!(got, (0..5).map(|i| (i, i * 10)).collect(), "cut at {cut}");
        drop(engine);
    }
    // A damaged byte in an earlier record is corruption: refused, file named, untouched.
    let mut damaged = full.clone();
    damaged[20] ^= 0xff;
    fs::write(&wal, &damaged).unwrap();
    let err = Engine::open(config(dir.path(), u64::MAX))
        .and_then(|e| e.row_count("default", "c"))
        .unwrap_err();
    assert!(
        err.to_string().contains(&wal.display().to_string()),
        "{err}"
    );
    assert_eq!(fs::read(&wal).unwrap(), damaged);
}

#[test]
fn checkpoints_survive_restart_and_drop_removes_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let engine = setup(dir.path(), 1);
    engine
        .insert("default", "c", rows(&[(1, 1), (2, 2), (3, 3)]))
        .unwrap();
    engine
        .delete("default", "c", None, "id == 2", &Templates::new())
        .unwrap();
    engine.insert("default", "c", rows(&[(4, 4)])).unwrap();
    drop(engine);
    let engine = Engine::open(config(dir.path(), 1)).unwrap();
    assert_eq!(contents(&engine), BTreeMap::from([(1, 1), (3, 3), (4, 4)]));
    let segments = fs::read_dir(dir.path().join("collections"))
        .unwrap()
        .flatten()
        .flat_map(|c| fs::read_dir(c.path()).unwrap().flatten())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        .count();
    assert!(segments >= 1, "checkpoints wrote segments");
    engine.release_collection("default", "c").unwrap();
    engine.drop_collection("default", "c").unwrap();
    assert_eq!(
        fs::read_dir(dir.path().join("collections"))
            .unwrap()
            .count(),
        0
    );
}

/// A crash at any step of a checkpoint leaves files that recover to the same rows: before the
/// MANIFEST switch the new segment is an unreferenced leftover; after it, the old WAL and
/// segment are.
#[test]
fn a_crash_at_any_checkpoint_step_recovers_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let engine = setup(dir.path(), u64::MAX);
    engine
        .insert("default", "c", rows(&[(1, 10), (2, 20)]))
        .unwrap();
    drop(engine);
    let coll = fs::read_dir(dir.path().join("collections"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let before: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(&coll)
        .unwrap()
        .flatten()
        .map(|e| (e.path(), fs::read(e.path()).unwrap()))
        .collect();
    // Checkpoint for real (a 1-byte threshold checkpoints on the next write).
    let engine = Engine::open(config(dir.path(), 1)).unwrap();
    engine.insert("default", "c", rows(&[(3, 30)])).unwrap();
    drop(engine);
    let after: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(&coll)
        .unwrap()
        .flatten()
        .map(|e| (e.path(), fs::read(e.path()).unwrap()))
        .collect();
    let want = BTreeMap::from([(1, 10), (2, 20), (3, 30)]);
    // 1. Crash after the new segment was written, before the MANIFEST switch: the old files
    //    plus the WAL record of the third write (it was acknowledged) and a stray segment.
    for (path, bytes) in &after {
        if path.extension().is_some_and(|e| e == "seg") {
            fs::write(path, bytes).unwrap();
        }
    }
    for (path, bytes) in &before {
        fs::write(path, bytes).unwrap();
    }
    let engine = Engine::open(config(dir.path(), u64::MAX)).unwrap();
    engine.insert("default", "c", rows(&[(3, 30)])).unwrap();
    assert_eq!(contents(&engine), want);
    drop(engine);
    // 2. Crash after the MANIFEST switch, before the old files were removed.
    for (path, bytes) in before.iter().chain(&after) {
        if !path.ends_with("MANIFEST") {
            fs::write(path, bytes).unwrap();
        }
    }
    for (path, bytes) in &after {
        if path.ends_with("MANIFEST") {
            fs::write(path, bytes).unwrap();
        }
    }
    let engine = Engine::open(config(dir.path(), u64::MAX)).unwrap();
    assert_eq!(contents(&engine), want);
}

#[test]
fn a_damaged_segment_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let engine = setup(dir.path(), 1);
    engine
        .insert("default", "c", rows(&[(1, 1), (2, 2)]))
        .unwrap();
    engine.insert("default", "c", rows(&[(3, 3)])).unwrap();
    drop(engine);
    let seg = fs::read_dir(dir.path().join("collections"))
        .unwrap()
        .flatten()
        .flat_map(|c| fs::read_dir(c.path()).unwrap().flatten().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let mut bytes = fs::read(&seg).unwrap();
    bytes[70] ^= 0x01; // inside the first block
    fs::write(&seg, &bytes).unwrap();
    let engine = Engine::open(config(dir.path(), 1)).unwrap();
    let err = engine.row_count("default", "c").unwrap_err();
    assert!(
        err.to_string().contains(&seg.display().to_string()),
        "{err}"
    );
    assert_eq!(fs::read(&seg).unwrap(), bytes, "left as it was");
}

/// Writers keep going while background checkpoints fold the WAL into segments; deletes made
/// during a checkpoint are not lost when memory switches to the new segment.
#[test]
fn concurrent_writers_and_background_checkpoints_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = setup(dir.path(), 2048);
    let threads: Vec<_> = (0..4i64)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut model = BTreeMap::new();
                let mut rng = Rng(t as u64 * 7919 + 1);
                for _ in 0..150 {
                    let k = t * 1000 + rng.below(40) as i64;
                    match rng.below(4) {
                        0 => {
                            engine
                                .delete(
                                    "default",
                                    "c",
                                    None,
                                    &format!("id == {k}"),
                                    &Templates::new(),
                                )
                                .unwrap();
                            model.remove(&k);
                        }
                        1 => {
                            engine.upsert("default", "c", rows(&[(k, 2)])).unwrap();
                            model.insert(k, 2);
                        }
                        _ => {
                            engine
                                .insert("default", "c", rows(&[(k, 1), (k + 500, 1)]))
                                .unwrap();
                            model.insert(k, 1);
                            model.insert(k + 500, 1);
                        }
                    }
                }
                model
            })
        })
        .collect();
    let mut want = BTreeMap::new();
    for t in threads {
        want.extend(t.join().unwrap());
    }
    assert_eq!(contents(&engine), want);
    drop(engine); // waits for a running checkpoint
    let segments = fs::read_dir(dir.path().join("collections"))
        .unwrap()
        .flatten()
        .flat_map(|c| fs::read_dir(c.path()).unwrap().flatten())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        .count();
    assert!(segments >= 1, "checkpoints ran");
    let engine = Engine::open(config(dir.path(), 2048)).unwrap();
    assert_eq!(contents(&engine), want);
}

#[test]
fn auto_ids_keep_increasing_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = schema();
    s.fields[0].auto_id = true;
    let mut last = 0i64;
    for round in 0..3 {
        let engine = Engine::open(config(dir.path(), u64::MAX)).unwrap();
        if round == 0 {
            engine
                .create_collection("default", CreateCollection::new(s.clone()))
                .unwrap();
        }
        let mut vec = VectorColumn::new(DataType::FloatVector, 2).unwrap();
        vec.floats = vec![0.0; 2000];
        let res = engine
            .insert(
                "default",
                "c",
                Rows {
                    partition: None,
                    columns: ColumnBatch::new(1000)
                        .with("v", Column::new(ColumnData::Int64(vec![1; 1000])))
                        .with("vec", Column::new(ColumnData::Vector(vec))),
                },
            )
            .unwrap();
        let crate::Keys::Int(ids) = res.keys else {
            panic!("int keys")
        };
        assert!(
            ids.windows(2).all(|w| w[1] == w[0] + 1),
            "consecutive in a batch"
        );
        assert!(ids[0] > last, "round {round}: {} <= {last}", ids[0]);
        last = *ids.last().unwrap();
        assert!(
            res.timestamp as i64 > last,
            "the write's timestamp follows its ids"
        );
    }
}

fn store_files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    fs::read_dir(dir.join("collections"))
        .unwrap()
        .flatten()
        .flat_map(|c| fs::read_dir(c.path()).unwrap().flatten())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(suffix))
        .collect()
}

/// Each flush seals only the new rows; segments merge by size (so their count stays about
/// log2 of the flushes), deletes of sealed rows go to delete files that survive restarts, and
/// a mostly deleted segment is rewritten without its deleted rows.
#[test]
fn flushes_seal_segments_that_merge_by_size_and_keep_their_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let engine = setup(dir.path(), u64::MAX);
    let mut want = BTreeMap::new();
    for batch in 0..64i64 {
        let batch_rows: Vec<(i64, i64)> = (0..10).map(|i| (batch * 10 + i, batch)).collect();
        want.extend(batch_rows.iter().copied());
        engine.insert("default", "c", rows(&batch_rows)).unwrap();
        engine.flush("default", "c").unwrap();
        let segments = store_files(dir.path(), ".seg").len();
        assert!(
            segments <= 8,
            "{segments} segments after {} flushes",
            batch + 1
        );
    }
    assert_eq!(contents(&engine), want);
    // A few deletes of sealed rows: kept in a delete file, not by rewriting the segment.
    let segments_before = store_files(dir.path(), ".seg");
    engine
        .delete(
            "default",
            "c",
            None,
            "id in [0, 11, 222]",
            &Templates::new(),
        )
        .unwrap();
    for k in [0, 11, 222] {
        want.remove(&k);
    }
    engine.flush("default", "c").unwrap();
    assert_eq!(store_files(dir.path(), ".seg"), segments_before);
    assert!(
        !store_files(dir.path(), ".del-").is_empty(),
        "a delete file"
    );
    drop(engine);
    let engine = Engine::open(config(dir.path(), u64::MAX)).unwrap();
    assert_eq!(contents(&engine), want);
    assert_eq!(engine.row_count("default", "c").unwrap(), want.len() as u64);
    // Delete most rows: segments that are mostly deleted are rewritten without them.
    engine
        .delete("default", "c", None, "id % 10 < 6", &Templates::new())
        .unwrap();
    want.retain(|k, _| k % 10 >= 6);
    engine.flush("default", "c").unwrap();
    assert_eq!(contents(&engine), want);
    drop(engine);
    let engine = Engine::open(config(dir.path(), u64::MAX)).unwrap();
    assert_eq!(contents(&engine), want);
    assert_eq!(engine.row_count("default", "c").unwrap(), want.len() as u64);
    assert!(
        store_files(dir.path(), ".del-").is_empty(),
        "every segment was rewritten, so no delete file is left"
    );
    // Idle flushes write nothing.
    let files = store_files(dir.path(), "");
    engine.flush("default", "c").unwrap();
    assert_eq!(store_files(dir.path(), ""), files);
}

fn wait_indexed(engine: &Engine) {
    let id = engine.describe_index("default", "c", "", "vec").unwrap()[0].id;
    for _ in 0..500 {
        let (total, indexed) = engine.index_progress("default", "c", id).unwrap();
        if total == indexed {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the index build did not finish");
}

fn nearest(engine: &Engine, q: [f32; 2], limit: usize) -> Vec<(i64, f32)> {
    let s = crate::Search::new("vec", crate::SearchVectors::Float(vec![q.to_vec()]), limit);
    let out = engine.search("default", "c", &s).unwrap();
    let crate::Keys::Int(keys) = out.keys else {
        panic!("int keys")
    };
    keys.into_iter().zip(out.scores).collect()
}

/// The exact answer over the model: squared L2 to (k, v), ties by key.
fn nearest_in(model: &BTreeMap<i64, i64>, q: [f32; 2], limit: usize) -> Vec<(i64, f32)> {
    let mut all: Vec<(i64, f32)> = model
        .iter()
        .map(|(k, v)| {
            let (dx, dy) = (*k as f32 - q[0], *v as f32 - q[1]);
            (*k, dx * dx + dy * dy)
        })
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    all.truncate(limit);
    all
}

/// Search covers sealed rows (through the HNSW index, vectors read in place from the segment
/// file) and rows still in memory, honours deletes, and survives restarts; the index file is
/// a cache: a damaged one is rebuilt and searches stay right meanwhile.
#[test]
fn search_over_sealed_and_growing_rows_with_index_files_as_caches() {
    let dir = tempfile::tempdir().unwrap();
    let engine = setup(dir.path(), u64::MAX);
    let mut model = BTreeMap::new();
    let sealed: Vec<(i64, i64)> = (0..600).map(|k| (k, (k * 37) % 101)).collect();
    engine.insert("default", "c", rows(&sealed)).unwrap();
    model.extend(sealed.iter().copied());
    engine.flush("default", "c").unwrap();
    wait_indexed(&engine);
    let growing: Vec<(i64, i64)> = (600..620).map(|k| (k, 50)).collect();
    engine.insert("default", "c", rows(&growing)).unwrap();
    model.extend(growing.iter().copied());
    engine
        .delete(
            "default",
            "c",
            None,
            "id in [3, 4, 5, 610]",
            &Templates::new(),
        )
        .unwrap();
    for k in [3, 4, 5, 610] {
        model.remove(&k);
    }
    let queries = [[4.0, 30.0], [605.0, 50.0], [300.0, 0.0]];
    for q in queries {
        assert_eq!(nearest(&engine, q, 7), nearest_in(&model, q, 7), "{q:?}");
    }
    drop(engine);
    let index_files = store_files(dir.path(), ".idx-");
    assert_eq!(index_files.len(), 1, "one sealed chunk, one graph file");
    let engine = Engine::open(config(dir.path(), u64::MAX)).unwrap();
    for q in queries {
        assert_eq!(nearest(&engine, q, 7), nearest_in(&model, q, 7), "{q:?}");
    }
    drop(engine);
    // Damage the graph: the next open serves exactly, rebuilds, and rewrites the file.
    let mut bytes = fs::read(&index_files[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    fs::write(&index_files[0], &bytes).unwrap();
    let engine = Engine::open(config(dir.path(), u64::MAX)).unwrap();
    for q in queries {
        assert_eq!(nearest(&engine, q, 7), nearest_in(&model, q, 7), "{q:?}");
    }
    wait_indexed(&engine);
    drop(engine);
    assert_ne!(fs::read(&index_files[0]).unwrap(), bytes, "rewritten");
}
