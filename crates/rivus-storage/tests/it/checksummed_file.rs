//! `ChecksummedFile` replacement on `CrashFs`: after a power cut at any point of `write`, the
//! file reads as the old or the new payload, never damaged or missing.

use std::path::Path;
use std::sync::Arc;

use rivus_storage::{ChecksummedFile, CrashFs, FsOp, Vfs};

use crate::{fresh, power_cuts};

const MAGIC: [u8; 8] = *b"RVSTEST\0";
const PATH: &str = "/db/catalog";

fn file(vfs: &Arc<dyn Vfs>) -> ChecksummedFile {
    ChecksummedFile::new_in(vfs, PATH, MAGIC, 1)
}

/// A store holding `old` (if any) durably, and maybe a durable leftover `.tmp`.
fn setup(old: Option<&[u8]>, leftover_tmp: bool) -> (CrashFs, Arc<dyn Vfs>) {
    let (fs, vfs) = fresh();
    if let Some(old) = old {
        file(&vfs).write(old).unwrap();
    }
    if leftover_tmp {
        fs.write_durable(Path::new("/db/catalog.tmp"), b"half-written garbage")
            .unwrap();
    }
    (fs, vfs)
}

#[test]
fn a_power_cut_at_any_point_of_write_leaves_old_or_new() {
    let new = b"the new catalog, longer than the old one".as_slice();
    for (old, leftover) in [
        (Some(b"old catalog".as_slice()), false),
        (Some(b"old catalog".as_slice()), true),
        (None, false),
        (None, true),
    ] {
        let (fs, vfs) = setup(old, leftover);
        let start = fs.mutations();
        file(&vfs).write(new).unwrap();
        let points = fs.mutations() - start;
        assert!(points >= 5, "create, write, sync, rename, sync dir");
        for k in 0..=points {
            let (fs, vfs) = setup(old, leftover);
            fs.power_off_after(k);
            let written = file(&vfs).write(new);
            for (what, after) in power_cuts(&fs) {
                let what = format!("old {old:?}, leftover {leftover}, crash point {k}, {what}");
                let vfs = after.vfs();
                let got = file(&vfs).read().unwrap_or_else(|e| panic!("{what}: {e}"));
                if written.is_ok() {
                    assert_eq!(got.as_deref(), Some(new), "{what}: write returned Ok");
                } else {
                    assert!(
                        got.as_deref() == old || got.as_deref() == Some(new),
                        "{what}: read {got:?}"
                    );
                }
                // The next write goes through whatever was left behind.
                file(&vfs).write(b"next").unwrap();
                assert_eq!(file(&vfs).read().unwrap().as_deref(), Some(&b"next"[..]));
            }
        }
    }
}

#[test]
fn a_failing_call_returns_an_error_and_leaves_old_or_new() {
    let old = b"old".as_slice();
    let new = b"new".as_slice();
    for op in [
        FsOp::Open,
        FsOp::Write,
        FsOp::SyncFile,
        FsOp::Rename,
        FsOp::SyncDir,
    ] {
        let (fs, vfs) = setup(Some(old), false);
        fs.fail_nth(op, 1);
        let err = file(&vfs).write(new).unwrap_err();
        assert!(err.to_string().contains("injected"), "{op:?}: {err}");
        let now = file(&vfs).read().unwrap();
        // Only a failed directory sync comes after the rename.
        let expect = if op == FsOp::SyncDir { new } else { old };
        assert_eq!(now.as_deref(), Some(expect), "{op:?}");
        for (what, after) in power_cuts(&fs) {
            let got = file(&after.vfs()).read().unwrap();
            assert!(
                got.as_deref() == Some(old) || got.as_deref() == Some(new),
                "{op:?}, {what}: {got:?}"
            );
        }
    }
}

#[test]
fn a_read_error_is_an_error_not_a_missing_file() {
    let (fs, vfs) = setup(Some(b"x"), false);
    fs.fail_nth(FsOp::Read, 1);
    assert!(file(&vfs).read().is_err());
    assert_eq!(file(&vfs).read().unwrap().as_deref(), Some(&b"x"[..]));
}
