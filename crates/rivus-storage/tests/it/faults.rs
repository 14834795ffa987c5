//! Injected failures poison the logs instead of corrupting them; the data-directory lock on
//! `CrashFs`.

use std::path::Path;

use rivus_storage::{DataDirLock, FsOp, RecordLog, StorageError, SyncPolicy, Wal};

use crate::{fresh, power_cuts};

const LOG: &str = "/db/log";

#[test]
fn a_failed_wal_append_poisons_the_log_and_recovery_stays_clean() {
    let (fs, vfs) = fresh();
    let (wal, _) = Wal::open_in(&vfs, Path::new(LOG), SyncPolicy::Always).unwrap();
    wal.sync_to(wal.append(b"first").unwrap()).unwrap();
    fs.fail_nth(FsOp::Write, 1);
    let long = vec![7u8; 100];
    assert!(wal.append(&long).is_err(), "the injected short write");
    // Without poisoning this record would follow half a frame: corruption on recovery.
    assert!(wal.append(b"third").is_err());
    assert!(wal.sync_to(u64::MAX).is_err());
    assert!(wal.sync_all().is_err());
    let killed = fs.process_crash();
    drop(wal);
    let mut cases = vec![("kill -9".to_string(), killed.process_crash())];
    cases.extend(power_cuts(&killed));
    for (what, after) in cases {
        let (_, records) = Wal::open_in(&after.vfs(), Path::new(LOG), SyncPolicy::Always)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(records, vec![b"first".to_vec()], "{what}");
    }
}

#[test]
fn a_failed_wal_sync_poisons_the_log() {
    let (fs, vfs) = fresh();
    let (wal, _) = Wal::open_in(&vfs, Path::new(LOG), SyncPolicy::Always).unwrap();
    let pos = wal.append(b"a").unwrap();
    fs.fail_nth(FsOp::SyncFile, 1);
    assert!(wal.sync_to(pos).is_err());
    // The next sync would succeed on this backend, but the kernel may have dropped the bytes
    // the failed one was writing: the log must not acknowledge anything any more.
    assert!(wal.sync_to(pos).is_err());
    assert!(wal.append(b"b").is_err());
    assert!(wal.sync_all().is_err());
    assert_eq!(fs.op_count(FsOp::SyncFile), 1, "no second sync was tried");
}

#[test]
fn a_failed_record_log_append_poisons_the_log() {
    for op in [FsOp::Write, FsOp::SyncFile] {
        let (fs, vfs) = fresh();
        let mut log = RecordLog::open_in(&vfs, Path::new(LOG)).unwrap().log;
        log.append(b"kept").unwrap();
        fs.fail_nth(op, 1);
        assert!(log.append(&[1u8; 64]).is_err(), "{op:?}");
        assert!(log.append(b"after").is_err(), "{op:?}: poisoned");
        for (what, after) in power_cuts(&fs) {
            let rec = RecordLog::open_in(&after.vfs(), Path::new(LOG)).unwrap();
            assert_eq!(rec.records, vec![b"kept".to_vec()], "{op:?}, {what}");
        }
    }
}

#[test]
fn a_log_created_by_a_failed_open_gets_a_durable_name_on_the_next_open() {
    let (fs, vfs) = fresh();
    fs.fail_nth(FsOp::SyncDir, 1);
    assert!(RecordLog::open_in(&vfs, Path::new(LOG)).is_err());
    // The file exists now, but its name is not durable; the retry must make it so.
    let mut log = RecordLog::open_in(&vfs, Path::new(LOG)).unwrap().log;
    log.append(b"acknowledged").unwrap();
    let rec = RecordLog::open_in(&fs.crash().vfs(), Path::new(LOG)).unwrap();
    assert_eq!(rec.records, vec![b"acknowledged".to_vec()]);
}

#[test]
fn the_data_dir_lock_works_on_crash_fs() {
    let fs = rivus_storage::CrashFs::new();
    let vfs = fs.vfs();
    let dir = Path::new("/var/rivus/data");
    let lock = DataDirLock::acquire_in(&vfs, dir).unwrap();
    assert_eq!(lock.path(), dir.join("LOCK"));
    match DataDirLock::acquire_in(&vfs, dir) {
        Err(StorageError::Locked { path, holder }) => {
            assert_eq!(path, dir);
            assert_eq!(holder, Some(format!("pid {}", std::process::id())));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(lock);
    let lock = DataDirLock::acquire_in(&vfs, dir).unwrap();
    // A dead process holds no lock, and the directory was created durably.
    let after = fs.crash();
    drop(lock);
    DataDirLock::acquire_in(&after.vfs(), dir).unwrap();
}
