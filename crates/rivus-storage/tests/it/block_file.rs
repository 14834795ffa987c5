//! Block files on `CrashFs`: a crash before `finish` returns never leaves a file that opens as
//! valid but wrong, and failing calls are errors.

use std::path::Path;
use std::sync::Arc;

use rivus_storage::{BlockFile, BlockFileWriter, CrashFs, FsOp, StorageError, Vfs};

use crate::{fresh, power_cuts};

const PATH: &str = "/db/segment-00000002.seg";
const TMP: &str = "/db/segment-00000002.tmp";

fn blocks(version: u8) -> Vec<(String, Vec<u8>)> {
    vec![
        ("meta".to_string(), vec![version; 10]),
        (
            "c0.pks".to_string(),
            (0..300u32)
                .flat_map(|i| (i * 3 + u32::from(version)).to_le_bytes())
                .collect(),
        ),
        ("empty".to_string(), Vec::new()),
        ("c0.col.v".to_string(), vec![version.wrapping_mul(31); 5000]),
    ]
}

fn write(
    vfs: &Arc<dyn Vfs>,
    path: &str,
    blocks: &[(String, Vec<u8>)],
) -> rivus_storage::Result<()> {
    let mut w = BlockFileWriter::create_in(vfs, Path::new(path))?;
    for (name, bytes) in blocks {
        w.add(name, bytes)?;
    }
    w.finish()
}

/// Whether `path` on `vfs` opens with exactly `blocks`; `None` when missing. Any other
/// outcome (a corrupt file is refused, which is fine for a `.tmp`) is returned as an error.
fn opens_as(
    vfs: &Arc<dyn Vfs>,
    path: &str,
    blocks: &[(String, Vec<u8>)],
) -> Result<Option<bool>, StorageError> {
    match BlockFile::open_in(vfs, Path::new(path)) {
        Ok(f) => Ok(Some(
            blocks
                .iter()
                .all(|(name, bytes)| f.block(name) == Some(&bytes[..])),
        )),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn setup(old: bool) -> (CrashFs, Arc<dyn Vfs>) {
    let (fs, vfs) = fresh();
    if old {
        write(&vfs, PATH, &blocks(1)).unwrap();
    }
    (fs, vfs)
}

#[test]
fn a_crash_before_finish_never_leaves_a_valid_but_wrong_file() {
    let new = blocks(2);
    for old in [false, true] {
        let (fs, vfs) = setup(old);
        let start = fs.mutations();
        write(&vfs, PATH, &new).unwrap();
        let points = fs.mutations() - start;
        for k in 0..=points {
            let (fs, vfs) = setup(old);
            fs.power_off_after(k);
            let finished = write(&vfs, PATH, &new).is_ok();
            for (what, after) in power_cuts(&fs) {
                let what = format!("old {old}, crash point {k}, {what}");
                let vfs = after.vfs();
                let is_new = opens_as(&vfs, PATH, &new).unwrap_or_else(|e| panic!("{what}: {e}"));
                if finished {
                    assert_eq!(is_new, Some(true), "{what}: finish returned Ok");
                } else if is_new != Some(true) {
                    // Not the new file: the old one, whole, or (never written) nothing.
                    let is_old = opens_as(&vfs, PATH, &blocks(1)).unwrap();
                    assert_eq!(is_old, old.then_some(true), "{what}");
                }
                // A leftover temporary file is refused or whole, never wrong.
                if let Ok(Some(whole)) = opens_as(&vfs, TMP, &new) {
                    assert!(whole, "{what}: the .tmp opens with wrong blocks");
                }
            }
        }
    }
}

#[test]
fn failing_calls_are_errors_and_publish_nothing() {
    for op in [FsOp::Open, FsOp::Write, FsOp::SyncFile, FsOp::Rename] {
        let (fs, vfs) = setup(false);
        fs.fail_nth(op, 1);
        let err = write(&vfs, PATH, &blocks(2)).unwrap_err();
        assert!(err.to_string().contains("injected"), "{op:?}: {err}");
        assert!(!vfs.exists(Path::new(PATH)).unwrap(), "{op:?}");
    }
    let (fs, vfs) = setup(false);
    fs.fail_nth(FsOp::SyncDir, 1);
    assert!(write(&vfs, PATH, &blocks(2)).is_err());
    assert_eq!(opens_as(&vfs, PATH, &blocks(2)).unwrap(), Some(true));
    fs.fail_nth(FsOp::Read, 1);
    assert!(!opens_as(&vfs, PATH, &blocks(2)).unwrap_err().is_not_found());
}

#[test]
fn large_blocks_round_trip_on_both_backends() {
    let big: Vec<(String, Vec<u8>)> = vec![
        ("small".to_string(), b"abc".to_vec()),
        (
            "big".to_string(),
            (0..(1usize << 20) + 77).map(|i| (i % 251) as u8).collect(),
        ),
        ("after".to_string(), vec![9; 70_000]),
    ];
    let (_, vfs) = fresh();
    write(&vfs, PATH, &big).unwrap();
    assert_eq!(opens_as(&vfs, PATH, &big).unwrap(), Some(true));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.seg");
    let mut w = BlockFileWriter::create(&path).unwrap();
    for (name, bytes) in &big {
        w.add(name, bytes).unwrap();
    }
    w.finish().unwrap();
    let f = BlockFile::open(&path).unwrap();
    for (name, bytes) in &big {
        assert_eq!(f.block(name), Some(&bytes[..]));
    }
}
