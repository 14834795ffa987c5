//! Crash tests of the whole engine on `CrashFs` (see `docs/storage-backends.md`): a workload
//! of catalog changes, inserts, upserts, deletes, flushes (checkpoints that seal, merge and
//! write delete files) and a drop, with a power cut after every possible number of file-system
//! mutations; then recovery on the power-cut images (untorn and torn, and `kill -9`), a power
//! cut right after recovery and (on every third crash point) at every step of it, and writes
//! and a flush after it. Also: each failing fsync, write, open or rename of a write or a flush
//! poisons the collection without losing what was acknowledged, and damaged files are refused
//! with their path and left as they are.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rivus_schema::{ColumnData, Properties};
use rivus_storage::{CrashFs, FsOp, StorageError};

use crate::{
    CreateCollection, CreateIndex, Engine, EngineConfig, EngineError, LoadState, Query, Templates,
};

const DATA: &str = "/data";
const DB: &str = "default";
const NAME: &str = "c";

fn open(fs: &CrashFs) -> crate::Result<Engine> {
    Engine::open(EngineConfig::new(DATA).with_vfs(fs.vfs()))
}

// The collection's schema and rows are the data-plane tests' (`super::tests`).
use super::tests::{rows, schema};

fn pairs(keys: std::ops::Range<i64>) -> Vec<(i64, i64)> {
    keys.map(|k| (k, k)).collect()
}

/// One step of a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Create,
    /// A FLAT index: nothing is built in the background, so every run of a workload makes the
    /// same file-system calls (crash points are reproducible).
    Index,
    Load,
    Insert(Vec<(i64, i64)>),
    Upsert(Vec<(i64, i64)>),
    Delete(Vec<i64>),
    /// `v >= t`.
    DeleteWhere(i64),
    Flush,
    Drop,
}

/// What the collection holds, as the engine should show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct World {
    created: bool,
    indexed: bool,
    loaded: bool,
    rows: BTreeMap<i64, i64>,
}

impl World {
    fn apply(&mut self, step: &Step) {
        match step {
            Step::Create => self.created = true,
            Step::Index => self.indexed = true,
            Step::Load => self.loaded = true,
            Step::Insert(p) | Step::Upsert(p) => self.rows.extend(p.iter().copied()),
            Step::Delete(keys) => {
                for k in keys {
                    self.rows.remove(k);
                }
            }
            Step::DeleteWhere(t) => self.rows.retain(|_, v| *v < *t),
            Step::Flush => {}
            Step::Drop => *self = World::default(),
        }
    }
}

fn do_step(engine: &Engine, step: &Step) -> crate::Result<()> {
    let delete = |filter: String| {
        engine
            .delete(DB, NAME, None, &filter, &Templates::default())
            .map(drop)
    };
    match step {
        Step::Create => engine.create_collection(DB, CreateCollection::new(schema())),
        Step::Index => {
            let mut params = Properties::new();
            params.set("index_type", "FLAT");
            params.set("metric_type", "L2");
            engine.create_index(
                DB,
                NAME,
                CreateIndex {
                    field_name: "vec".into(),
                    index_name: String::new(),
                    params,
                },
            )
        }
        Step::Load => engine.load_collection(DB, NAME),
        Step::Insert(p) => engine.insert(DB, NAME, rows(p)).map(drop),
        Step::Upsert(p) => engine.upsert(DB, NAME, rows(p)).map(drop),
        Step::Delete(keys) => delete(format!("id in {keys:?}")),
        Step::DeleteWhere(t) => delete(format!("v >= {t}")),
        Step::Flush => engine.flush(DB, NAME),
        Step::Drop => engine.drop_collection(DB, NAME),
    }
}

/// What a (possibly interrupted) run acknowledged.
#[derive(Debug)]
struct Outcome {
    /// The state after every acknowledged step.
    acked: World,
    /// The state had the step that failed been applied (whole).
    pending: Option<World>,
}

impl Outcome {
    /// Whether `seen` is what a recovery may show: every acknowledged step, and the failed
    /// one whole or not at all.
    fn allows(&self, seen: &World) -> bool {
        *seen == self.acked || self.pending.as_ref() == Some(seen)
    }
}

/// Runs `steps` on `fs`, stopping at the first failure.
fn run(fs: &CrashFs, steps: &[Step]) -> Outcome {
    let mut acked = World::default();
    let Ok(engine) = open(fs) else {
        return Outcome {
            acked,
            pending: None,
        };
    };
    for step in steps {
        let mut next = acked.clone();
        next.apply(step);
        if do_step(&engine, step).is_err() {
            return Outcome {
                acked,
                pending: Some(next),
            };
        }
        acked = next;
    }
    Outcome {
        acked,
        pending: None,
    }
}

/// Every row as `(id, v)`, checking that each row's vector belongs to it, that keys are
/// unique, and that `count(*)` and the row count agree with the rows.
fn contents(engine: &Engine) -> Result<BTreeMap<i64, i64>, String> {
    let out = engine
        .query(
            DB,
            NAME,
            &Query {
                filter: "id >= -1000000".into(),
                output_fields: vec!["v".into(), "vec".into()],
                ..Default::default()
            },
        )
        .map_err(|e| format!("query: {e}"))?;
    let col = |name: &str| {
        out.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.data.clone())
    };
    let (Some(ColumnData::Int64(ids)), Some(ColumnData::Int64(vs)), Some(ColumnData::Vector(vecs))) =
        (col("id"), col("v"), col("vec"))
    else {
        return Err("the query lacks a column".into());
    };
    if !ids.windows(2).all(|w| w[0] < w[1]) {
        return Err(format!("keys not unique: {ids:?}"));
    }
    for (i, (k, v)) in ids.iter().zip(&vs).enumerate() {
        if vecs.floats.get(i * 2..i * 2 + 2) != Some(&[*k as f32, *v as f32][..]) {
            return Err(format!("row {k}: its vector belongs to another row"));
        }
    }
    let count = engine
        .query(
            DB,
            NAME,
            &Query {
                output_fields: vec!["count(*)".into()],
                ..Default::default()
            },
        )
        .map_err(|e| format!("count: {e}"))?
        .count;
    let row_count = engine.row_count(DB, NAME).map_err(|e| e.to_string())?;
    if count != Some(ids.len() as u64) || row_count != ids.len() as u64 {
        return Err(format!(
            "{} rows, count(*) {count:?}, row count {row_count}",
            ids.len()
        ));
    }
    Ok(ids.into_iter().zip(vs).collect())
}

/// What the engine shows of the collection.
fn observe(engine: &Engine) -> Result<World, String> {
    if !engine.has_collection(DB, NAME).map_err(|e| e.to_string())? {
        return Ok(World::default());
    }
    let indexed = engine.describe_index(DB, NAME, "", "").is_ok();
    let loaded = engine
        .load_state(DB, NAME, &[])
        .map_err(|e| e.to_string())?
        == LoadState::Loaded;
    let rows = if loaded {
        contents(engine)?
    } else {
        // Only a loaded collection can be queried; the workloads write after loading.
        match engine.row_count(DB, NAME).map_err(|e| e.to_string())? {
            0 => BTreeMap::new(),
            n => return Err(format!("{n} rows in a collection never loaded")),
        }
    };
    // No directory is left of a dropped collection.
    let id = engine
        .collection_meta(DB, NAME)
        .map_err(|e| e.to_string())?
        .id
        .to_string();
    let vfs = &engine.config().vfs;
    let dirs = match vfs.read_dir(&Path::new(DATA).join("collections")) {
        Ok(dirs) => dirs,
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => return Err(e.to_string()),
    };
    if let Some(orphan) = dirs.iter().find(|d| d.name.to_string_lossy() != id) {
        return Err(format!("orphan directory {}", orphan.path.display()));
    }
    Ok(World {
        created: true,
        indexed,
        loaded,
        rows,
    })
}

/// Opens the engine on `fs` and reads the collection.
fn recover(fs: &CrashFs) -> Result<World, String> {
    let engine = open(fs).map_err(|e| format!("open: {e}"))?;
    observe(&engine)
}

/// Whether every chunk of the collection is in a segment (nothing replayed from a WAL).
fn all_sealed(engine: &Engine) -> bool {
    let meta = engine.collection_meta(DB, NAME).unwrap();
    let store = engine.store(&meta).unwrap();
    store.snapshot().chunks.iter().all(|c| c.segment.is_some())
}

/// How hard to test one power-cut image.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Recover it, then write, flush and cut the power again.
    Recover,
    /// Also cut the power at every step of the recovery.
    Sweep,
}

/// Recovers `image` and checks it against `outcome`: what was acknowledged is there and the
/// failed step is whole or absent; with `Sweep`, a second power cut (untorn and torn) at every
/// step of the recovery changes nothing it showed. With `durable` false (a `kill -9` image,
/// which holds bytes never synced) a later power cut may drop what the failed step wrote.
/// Returns how many recoveries it ran.
fn check_image(image: &CrashFs, outcome: &Outcome, depth: Depth, durable: bool, ctx: &str) -> u64 {
    let copy = || {
        if durable {
            image.crash()
        } else {
            image.process_crash()
        }
    };
    let first = copy();
    let seen = recover(&first).unwrap_or_else(|e| panic!("{ctx}: recovery failed: {e}"));
    assert!(
        outcome.allows(&seen),
        "{ctx}: recovered {seen:?}\nacknowledged {:?}\npending {:?}",
        outcome.acked,
        outcome.pending
    );
    // A power cut right after recovery loses nothing it showed (recovery makes what it
    // replays durable, even bytes a `kill -9` left unsynced).
    let recovered = first.crash();
    let again = recover(&recovered).unwrap_or_else(|e| panic!("{ctx}: recovery failed: {e}"));
    assert_eq!(again, seen, "{ctx}: a power cut right after recovery");
    let mut recoveries = 2;
    if depth == Depth::Sweep {
        let steps = first.mutations();
        for j in 0..steps {
            let fs = copy();
            fs.power_off_after(j);
            let _ = recover(&fs);
            for (kind, again) in [("crash", fs.crash()), ("torn", fs.crash_torn(j + 1))] {
                let got = recover(&again).unwrap_or_else(|e| {
                    panic!("{ctx}: recovery after a {kind} at recovery step {j} failed: {e}")
                });
                recoveries += 1;
                let ok = if durable {
                    got == seen
                } else {
                    outcome.allows(&got)
                };
                assert!(
                    ok,
                    "{ctx}: a {kind} at recovery step {j} changed what recovery showed:\n\
                     {got:?}\nfirst recovery: {seen:?}"
                );
            }
        }
    }
    // After recovery: more writes and a flush, then a torn power cut; then a write, and
    // another.
    if seen.loaded {
        let engine = open(&recovered).unwrap();
        let mut expect = seen.clone();
        let mut steps = |engine: &Engine, steps: &[Step]| {
            for step in steps {
                do_step(engine, step).unwrap_or_else(|e| panic!("{ctx}: {step:?} failed: {e}"));
                expect.apply(step);
            }
        };
        steps(
            &engine,
            &[
                Step::Insert(vec![(1000, 1), (1001, 2)]),
                Step::Delete(vec![1000]),
                Step::Flush,
            ],
        );
        drop(engine);
        let after = recovered.crash_torn(7);
        let engine = open(&after).unwrap_or_else(|e| panic!("{ctx}: recovery failed: {e}"));
        // The flush left nothing to replay: the WAL it switched to holds only what came after.
        assert!(
            all_sealed(&engine),
            "{ctx}: rows replayed from a WAL after a flush"
        );
        steps(&engine, &[Step::Upsert(vec![(1002, 3), (1001, 4)])]);
        drop(engine);
        let got =
            recover(&after.crash_torn(8)).unwrap_or_else(|e| panic!("{ctx}: recovery failed: {e}"));
        assert_eq!(got, expect, "{ctx}: writes after recovery");
        recoveries += 2;
    }
    recoveries
}

fn workload() -> Vec<Step> {
    use Step::*;
    vec![
        Create,
        Index,
        Load,
        Insert(pairs(0..8)),
        Insert(pairs(8..16)),
        Upsert(vec![(3, 103), (5, 105), (20, 120)]),
        Delete(vec![1, 2]),
        Flush,
        Insert(pairs(16..20)),
        Delete(vec![4, 6]),
        Upsert(vec![(0, 200), (7, 207)]),
        // Deletes of the first segment go to a delete file.
        Flush,
        Insert(pairs(30..34)),
        DeleteWhere(100),
        // Merges both segments into the new one.
        Flush,
        Upsert(vec![(8, 308), (9, 309), (10, 310)]),
        Delete(vec![13]),
        Flush,
        // Only in the WAL.
        Insert(vec![(40, 40)]),
        Upsert(vec![(41, 41), (8, 408)]),
        Delete(vec![41]),
        // The directory goes; a new collection of the same name gets a new one.
        Drop,
        Create,
        Index,
        Load,
        Insert(vec![(50, 50), (51, 51)]),
        Flush,
        Upsert(vec![(51, 510), (52, 52)]),
    ]
}

#[test]
fn power_cut_at_every_point_of_a_workload() {
    let steps = workload();
    let clean = CrashFs::new();
    let outcome = run(&clean, &steps);
    assert!(outcome.pending.is_none(), "the workload runs clean");
    let mut expect = World::default();
    for s in &steps {
        expect.apply(s);
    }
    assert_eq!(outcome.acked, expect);
    assert_eq!(recover(&clean.crash()).unwrap(), expect);
    let total = clean.mutations();

    let sweep_all = std::env::var_os("RIVUS_CRASH_SWEEP_ALL").is_some();
    let started = Instant::now();
    let mut recoveries = 0u64;
    for k in 0..=total {
        let fs = CrashFs::new();
        fs.power_off_after(k);
        let outcome = run(&fs, &steps);
        let ctx = |kind: &str| format!("power cut after {k} of {total} mutations ({kind})");
        // The second power cut at every recovery step is swept on every third point (every
        // point with RIVUS_CRASH_SWEEP_ALL set: about 3x the time); the other points still
        // recover untorn, torn and `kill -9` images and cut the power after recovery.
        let depth = if k % 3 == 0 || sweep_all {
            Depth::Sweep
        } else {
            Depth::Recover
        };
        recoveries += check_image(&fs.crash(), &outcome, depth, true, &ctx("crash"));
        for seed in [2 * k + 1, 2 * k + 2] {
            let torn = fs.crash_torn(seed);
            recoveries += check_image(&torn, &outcome, depth, true, &ctx("torn"));
        }
        let killed = fs.process_crash();
        recoveries += check_image(&killed, &outcome, Depth::Recover, false, &ctx("kill -9"));
    }
    eprintln!(
        "{} crash points, {recoveries} recoveries checked in {:.1?}",
        total + 1,
        started.elapsed()
    );
}

/// A clean engine with the collection loaded and `rows` acknowledged (some flushed).
fn loaded_with_rows(fs: &CrashFs) -> (Engine, BTreeMap<i64, i64>) {
    let steps = [
        Step::Create,
        Step::Index,
        Step::Load,
        Step::Insert(pairs(0..10)),
        Step::Delete(vec![3]),
        Step::Flush,
        Step::Insert(pairs(10..14)),
        Step::Upsert(vec![(0, 100)]),
        Step::Delete(vec![5, 11]),
    ];
    let engine = open(fs).unwrap();
    let mut world = World::default();
    for s in &steps {
        do_step(&engine, s).unwrap();
        world.apply(s);
    }
    (engine, world.rows)
}

/// The steps tried after a fault: each must be refused once the collection is poisoned.
fn later_writes() -> Vec<Step> {
    vec![
        Step::Insert(vec![(500, 5)]),
        Step::Upsert(vec![(1, 7)]),
        Step::Delete(vec![2]),
        Step::Flush,
    ]
}

/// Fails the `n`th call of kind `op` during `step`, then checks: the step fails, every later
/// write is refused, reads show exactly what was acknowledged, and a restart (after a power
/// cut, torn, or `kill -9`) has every acknowledged row and the failed step whole or not at
/// all.
fn fault_during(op: FsOp, n: u64, step: &Step) -> bool {
    let fs = CrashFs::new();
    let (engine, acked) = loaded_with_rows(&fs);
    let before = fs.op_count(op);
    fs.fail_nth(op, n);
    let result = do_step(&engine, step);
    if fs.op_count(op) < before + n {
        // The step made fewer such calls: nothing failed.
        result.unwrap();
        return false;
    }
    let ctx = format!("{op:?} call {n} of {step:?}");
    fs.clear_faults();
    let acked_world = World {
        created: true,
        indexed: true,
        loaded: true,
        rows: acked,
    };
    let mut pending = acked_world.clone();
    pending.apply(step);
    if result.is_ok() {
        // Only a best-effort call may fail unnoticed (removing the files a checkpoint no
        // longer needs, and the directory sync after it): the step is done, and survives a
        // power cut.
        assert!(
            matches!(op, FsOp::SyncDir | FsOp::Remove) && *step == Step::Flush,
            "{ctx}: the step succeeded"
        );
        assert_eq!(contents(&engine), Ok(pending.rows.clone()), "{ctx}");
        drop(engine);
        let outcome = Outcome {
            acked: pending,
            pending: None,
        };
        check_image(&fs.crash(), &outcome, Depth::Recover, true, &ctx);
        return true;
    }
    for later in later_writes() {
        assert!(
            do_step(&engine, &later).is_err(),
            "{ctx}: {later:?} accepted after the failure"
        );
    }
    // Reads go on and show exactly what was acknowledged (a failed write is not visible).
    assert_eq!(contents(&engine), Ok(acked_world.rows.clone()), "{ctx}");
    drop(engine);
    let outcome = Outcome {
        acked: acked_world,
        pending: Some(pending),
    };
    check_image(&fs.crash(), &outcome, Depth::Recover, true, &ctx);
    check_image(&fs.crash_torn(n), &outcome, Depth::Recover, true, &ctx);
    check_image(&fs.process_crash(), &outcome, Depth::Recover, false, &ctx);
    true
}

#[test]
fn failed_fsync_or_write_poisons_the_collection_and_keeps_what_was_acknowledged() {
    let mut faults = 0;
    for step in [
        Step::Insert(vec![(200, 2), (201, 3)]),
        Step::Upsert(vec![(1, 11), (202, 4)]),
        Step::Delete(vec![0, 2]),
        Step::Flush,
    ] {
        for op in [
            FsOp::SyncFile,
            FsOp::Write,
            FsOp::SyncDir,
            FsOp::Rename,
            FsOp::Open,
            FsOp::Remove,
        ] {
            let mut n = 1;
            while fault_during(op, n, &step) {
                faults += 1;
                n += 1;
            }
        }
    }
    // Each write: one append and one fsync; a flush: every file it writes.
    eprintln!("{faults} faults injected");
    assert!(faults >= 20, "{faults} faults injected");
}

/// A clean data directory with one flushed collection (rows in a segment with a delete
/// file, and in the WAL); returns the power-cut image and the collection's directory.
fn flushed_image() -> (CrashFs, PathBuf) {
    let fs = CrashFs::new();
    let (engine, _) = loaded_with_rows(&fs);
    do_step(&engine, &Step::Flush).unwrap();
    do_step(&engine, &Step::Delete(vec![0])).unwrap();
    do_step(&engine, &Step::Flush).unwrap();
    let id = engine.collection_meta(DB, NAME).unwrap().id;
    drop(engine);
    let dir = Path::new(DATA).join("collections").join(id.to_string());
    (fs.crash(), dir)
}

fn file_in(fs: &CrashFs, dir: &Path, pick: impl Fn(&str) -> bool) -> PathBuf {
    fs.vfs()
        .read_dir(dir)
        .unwrap()
        .into_iter()
        .find(|e| pick(&e.name.to_string_lossy()))
        .map(|e| e.path)
        .unwrap_or_else(|| panic!("no such file in {}", dir.display()))
}

/// Plants `bytes` at `path`, then checks the collection refuses to open with an error naming
/// the file (writes too), and leaves the file as it was.
fn refused_naming(image: &CrashFs, path: &Path, bytes: &[u8]) {
    image.write_durable(path, bytes).unwrap();
    let engine = open(image).unwrap();
    let err = engine.row_count(DB, NAME).unwrap_err();
    let corrupt = matches!(
        &err,
        EngineError::Storage(StorageError::Corrupt { path: p, .. }) if p == path
    );
    assert!(corrupt, "{}: {err}", path.display());
    assert!(err.to_string().contains(&path.display().to_string()));
    assert!(do_step(&engine, &Step::Insert(vec![(900, 9)])).is_err());
    drop(engine);
    assert_eq!(
        image.durable_bytes(path).as_deref(),
        Some(bytes),
        "left as it was"
    );
}

#[test]
fn damaged_segment_manifest_or_delete_file_is_refused_with_its_path() {
    let (image, dir) = flushed_image();
    let segment = file_in(&image.crash(), &dir, |n| n.ends_with(".seg"));
    let mut bytes = image.durable_bytes(&segment).unwrap();
    // The first block starts at byte 64 (blocks are 64-byte aligned after the magic).
    bytes[64] ^= 0x40;
    refused_naming(&image.crash(), &segment, &bytes);
    refused_naming(&image.crash(), &segment, b"not a segment");

    let manifest = dir.join("MANIFEST");
    let mut bytes = image.durable_bytes(&manifest).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    refused_naming(&image.crash(), &manifest, &bytes);

    let deletes = file_in(&image.crash(), &dir, |n| n.contains(".del-"));
    let mut bytes = image.durable_bytes(&deletes).unwrap();
    bytes.truncate(bytes.len() - 3);
    refused_naming(&image.crash(), &deletes, &bytes);

    // A segment the MANIFEST names but the directory lacks.
    let missing = image.crash();
    missing.vfs().remove_file(&segment).unwrap();
    missing.vfs().sync_dir(&dir).unwrap();
    let engine = open(&missing).unwrap();
    let err = engine.row_count(DB, NAME).unwrap_err().to_string();
    assert!(err.contains(&segment.display().to_string()), "{err}");

    // The undamaged image opens with every row.
    let engine = open(&image.crash()).unwrap();
    assert!(contents(&engine).unwrap().len() > 5);
}

#[test]
fn new_collection_directory_survives_a_power_cut() {
    let fs = CrashFs::new();
    let engine = open(&fs).unwrap();
    let mut acked = World::default();
    for step in [
        Step::Create,
        Step::Index,
        Step::Load,
        Step::Insert(pairs(0..3)),
    ] {
        do_step(&engine, &step).unwrap();
        acked.apply(&step);
    }
    drop(engine);
    // No flush: the rows are only in the WAL of a directory created by this run.
    let after = fs.crash();
    let engine = open(&after).unwrap();
    assert_eq!(contents(&engine).unwrap(), acked.rows);
    let known: HashSet<String> = [engine.collection_meta(DB, NAME).unwrap().id.to_string()]
        .into_iter()
        .collect();
    let dirs = after
        .vfs()
        .read_dir(&Path::new(DATA).join("collections"))
        .unwrap();
    assert!(dirs
        .iter()
        .all(|d| known.contains(&*d.name.to_string_lossy())));
}
