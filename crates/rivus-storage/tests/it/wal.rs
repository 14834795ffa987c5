//! The write-ahead log on `CrashFs`: acknowledged records survive a power cut at every crash
//! point, unacknowledged ones may vanish but never come back half, and recovery itself is
//! crash safe.

use std::path::Path;
use std::sync::Arc;

use rivus_storage::{CrashFs, RecordLog, SyncPolicy, Vfs, Wal};

use crate::{fresh, power_cuts, Rng};

const WAL: &str = "/db/wal-00000001.log";

fn payload(i: usize, rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(40) as usize;
    let mut p = format!("record {i}:").into_bytes();
    p.extend((0..len).map(|j| (i * 7 + j) as u8));
    p
}

#[derive(Clone, Copy)]
enum Step {
    Append,
    /// Sync up to the end of the `n`th-from-last appended record.
    SyncTo(usize),
    SyncAll,
}

fn script(seed: u64) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    (0..40)
        .map(|_| match rng.below(10) {
            0..=5 => Step::Append,
            6..=8 => Step::SyncTo(rng.below(3) as usize),
            _ => Step::SyncAll,
        })
        .collect()
}

/// What a run got through before the machine died.
struct Run {
    /// Every record `append` accepted, in order (the log's records from before included).
    appended: Vec<Vec<u8>>,
    /// How many of them were acknowledged durable.
    acked: usize,
}

fn open(vfs: &Arc<dyn Vfs>, before: &[Vec<u8>]) -> Wal {
    let (wal, records) = Wal::open_in(vfs, Path::new(WAL), SyncPolicy::Always).unwrap();
    assert_eq!(records, before);
    wal
}

/// Runs `steps` on `wal` until the first error.
fn run(wal: &Wal, seed: u64, steps: &[Step], before: Vec<Vec<u8>>) -> Run {
    let mut rng = Rng::new(seed + 1000);
    let mut acked = before.len();
    let mut appended = before;
    let mut ends: Vec<u64> = Vec::new(); // log position after each appended record (this run)
    let first = appended.len();
    for step in steps {
        match *step {
            Step::Append => {
                let p = payload(appended.len(), &mut rng);
                match wal.append(&p) {
                    Ok(end) => {
                        ends.push(end);
                        appended.push(p);
                    }
                    Err(_) => break,
                }
            }
            Step::SyncTo(back) => {
                let Some(i) = ends.len().checked_sub(back + 1) else {
                    continue;
                };
                if wal.sync_to(ends[i]).is_err() {
                    break;
                }
                acked = acked.max(first + i + 1);
            }
            Step::SyncAll => {
                if wal.sync_all().is_err() {
                    break;
                }
                acked = appended.len();
            }
        }
    }
    Run { appended, acked }
}

/// Recovers the log on `after` and checks it against the run; returns the records.
fn check_recovery(after: &CrashFs, run: &Run, what: &str) -> Vec<Vec<u8>> {
    let vfs = after.vfs();
    let (wal, records) = Wal::open_in(&vfs, Path::new(WAL), SyncPolicy::Always)
        .unwrap_or_else(|e| panic!("{what}: recovery failed: {e}"));
    assert!(
        records.len() >= run.acked,
        "{what}: {} records recovered, {} were acknowledged",
        records.len(),
        run.acked
    );
    assert_eq!(
        records[..],
        run.appended[..records.len()],
        "{what}: recovered records are not a prefix of the appended ones"
    );
    drop(wal);
    // The torn tail was cut off durably: a second power cut finds the same, clean log.
    let again = RecordLog::open_in(&after.crash().vfs(), Path::new(WAL))
        .unwrap_or_else(|e| panic!("{what}: second recovery failed: {e}"));
    assert_eq!(again.torn_bytes, 0, "{what}");
    assert_eq!(again.records, records, "{what}");
    records
}

#[test]
fn acknowledged_records_survive_a_power_cut_at_every_crash_point() {
    for seed in 0..4 {
        let steps = script(seed);
        // Some records from an earlier life of the log, durable.
        let setup = || {
            let (fs, vfs) = fresh();
            let mut before = Vec::new();
            if seed % 2 == 1 {
                let (wal, _) = Wal::open_in(&vfs, Path::new(WAL), SyncPolicy::Always).unwrap();
                for i in 0..3 {
                    let p = format!("earlier {i}").into_bytes();
                    wal.sync_to(wal.append(&p).unwrap()).unwrap();
                    before.push(p);
                }
            }
            (fs, vfs, before)
        };
        let (fs, vfs, before) = setup();
        let wal = open(&vfs, &before);
        let start = fs.mutations();
        let clean = run(&wal, seed, &steps, before);
        let points = fs.mutations() - start;
        assert!(points > 20, "the script does enough I/O ({points})");
        check_recovery(&fs.crash(), &clean, "no crash");
        let mut lost_some = false;
        for k in 0..=points {
            let (fs, vfs, before) = setup();
            // Crash points start once the WAL is open (recovery is tested below).
            let wal = open(&vfs, &before);
            fs.power_off_after(k);
            let got = run(&wal, seed, &steps, before);
            for (what, after) in power_cuts(&fs) {
                let what = format!("seed {seed}, crash point {k}, {what}");
                let records = check_recovery(&after, &got, &what);
                lost_some |= records.len() < got.appended.len();
            }
        }
        assert!(
            lost_some,
            "seed {seed}: some crash loses unacknowledged records"
        );
    }
}

#[test]
fn a_crash_during_recovery_loses_nothing_acknowledged() {
    let steps = script(7);
    let (fs, vfs) = fresh();
    let got = run(&open(&vfs, &[]), 7, &steps, Vec::new());
    for seed in 0..8 {
        let torn = fs.crash_torn(seed);
        // Crash again at every point of the recovery (open, directory sync, cut, sync).
        for k in 0..6 {
            let first = torn.process_crash();
            first.power_off_after(k);
            let _ = Wal::open_in(&first.vfs(), Path::new(WAL), SyncPolicy::Always);
            for (what, after) in power_cuts(&first) {
                check_recovery(
                    &after,
                    &got,
                    &format!("torn seed {seed}, recovery crash {k}, {what}"),
                );
            }
        }
    }
}

#[test]
fn group_commit_acknowledges_only_durable_records_under_concurrency() {
    const THREADS: u8 = 4;
    const PER_THREAD: u8 = 25;
    for cut in [3u64, 17, 40, 77, 120, 1000] {
        let (fs, vfs) = fresh();
        let (wal, _) = Wal::open_in(&vfs, Path::new(WAL), SyncPolicy::Always).unwrap();
        let wal = Arc::new(wal);
        fs.power_off_after(cut);
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let wal = wal.clone();
                std::thread::spawn(move || {
                    let mut acked = 0u8;
                    for i in 0..PER_THREAD {
                        let Ok(pos) = wal.append(&[t, i]) else { break };
                        if wal.sync_to(pos).is_err() {
                            break;
                        }
                        acked = i + 1;
                    }
                    acked
                })
            })
            .collect();
        let acked: Vec<u8> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        drop(wal);
        for (what, after) in power_cuts(&fs) {
            let (_, records) =
                Wal::open_in(&after.vfs(), Path::new(WAL), SyncPolicy::Always).unwrap();
            for t in 0..THREADS {
                let mine: Vec<u8> = records.iter().filter(|r| r[0] == t).map(|r| r[1]).collect();
                assert_eq!(
                    mine,
                    (0..mine.len() as u8).collect::<Vec<_>>(),
                    "cut {cut}, {what}: thread {t}'s records in order, none missing"
                );
                assert!(
                    mine.len() >= acked[t as usize] as usize,
                    "cut {cut}, {what}: thread {t} had {} acknowledged, {} recovered",
                    acked[t as usize],
                    mine.len()
                );
            }
            assert!(records.iter().all(|r| r.len() == 2 && r[0] < THREADS));
        }
    }
}

#[test]
fn sync_policy_never_survives_a_process_crash_but_not_a_power_cut() {
    let (fs, vfs) = fresh();
    let (wal, _) = Wal::open_in(&vfs, Path::new(WAL), SyncPolicy::Never).unwrap();
    let a = wal.append(b"a").unwrap();
    wal.sync_to(a).unwrap(); // acknowledged at once: no fsync
    wal.append(b"b").unwrap();
    let killed = fs.process_crash();
    drop(wal);
    let (wal, records) = Wal::open_in(&killed.vfs(), Path::new(WAL), SyncPolicy::Never).unwrap();
    assert_eq!(records, vec![b"a".to_vec(), b"b".to_vec()]);
    drop(wal);
    let (_, records) =
        Wal::open_in(&killed.crash().vfs(), Path::new(WAL), SyncPolicy::Never).unwrap();
    assert!(records.is_empty(), "nothing was ever synced");
}
