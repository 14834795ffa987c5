//! The same contract, checked on the real file system and on `CrashFs`: what the storage types
//! rely on behaves the same on both.

use std::path::Path;
use std::sync::Arc;

use rivus_storage::{os_fs, CrashFs, DirEntry, Vfs};

fn contract(vfs: &Arc<dyn Vfs>, root: &Path) {
    let d = root.join("d");
    vfs.create_dir_all(&d.join("sub")).unwrap();
    vfs.create_dir_all(&d).unwrap(); // existing: fine
    assert!(vfs.exists(&d).unwrap());
    assert!(!vfs.exists(&d.join("nope")).unwrap());

    // Appending, cutting back, reading through the handle and by path.
    let a = d.join("a");
    let f = vfs.create(&a).unwrap();
    assert_eq!(f.path(), a);
    f.append(b"hello").unwrap();
    f.append(b" world").unwrap();
    assert_eq!(f.read_all().unwrap(), b"hello world");
    assert_eq!(f.len_bytes().unwrap(), 11);
    f.set_len(5).unwrap();
    f.append(b"!").unwrap();
    f.sync_data().unwrap();
    f.sync_all().unwrap();
    assert_eq!(vfs.read(&a).unwrap(), b"hello!");
    assert_eq!(vfs.file_len(&a).unwrap(), 6);
    drop(f);
    let g = vfs.open_append(&a).unwrap();
    assert_eq!(
        g.read_all().unwrap(),
        b"hello!",
        "open_append keeps the bytes"
    );
    g.append(b"?").unwrap();
    drop(g);
    assert_eq!(&*vfs.map(&a).unwrap(), b"hello!?");
    let h = vfs.create(&a).unwrap();
    assert_eq!(h.len_bytes().unwrap(), 0, "create truncates");
    h.append(b"new").unwrap();
    drop(h);
    let empty = d.join("empty");
    drop(vfs.create(&empty).unwrap());
    assert!(vfs.map(&empty).unwrap().is_empty());

    // Renaming over a file, listing, removing.
    let b = d.join("b");
    vfs.create(&b).unwrap().append(b"old b").unwrap();
    vfs.rename(&a, &b).unwrap();
    assert_eq!(vfs.read(&b).unwrap(), b"new");
    assert!(vfs.read(&a).unwrap_err().is_not_found());
    vfs.sync_dir(&d).unwrap();
    let entries = vfs.read_dir(&d).unwrap();
    let expect = |name: &str, is_dir| DirEntry {
        name: name.into(),
        path: d.join(name),
        is_dir,
    };
    assert_eq!(
        entries,
        vec![
            expect("b", false),
            expect("empty", false),
            expect("sub", true)
        ]
    );
    vfs.remove_file(&b).unwrap();
    assert!(!vfs.exists(&b).unwrap());
    assert!(vfs.remove_file(&b).unwrap_err().is_not_found());
    assert!(vfs.file_len(&b).unwrap_err().is_not_found());
    assert!(vfs
        .open_append(&d.join("missing/x"))
        .unwrap_err()
        .is_not_found());
    assert!(vfs.read_dir(&d.join("missing")).unwrap_err().is_not_found());

    // Locks: exclusive until dropped.
    let lock = d.join("LOCK");
    let first = vfs.try_lock(&lock).unwrap().expect("free");
    assert!(vfs.try_lock(&lock).unwrap().is_none());
    drop(first);
    assert!(vfs.try_lock(&lock).unwrap().is_some());

    vfs.remove_dir_all(&d).unwrap();
    assert!(!vfs.exists(&d).unwrap());
    vfs.sync_dir(root).unwrap();
}

#[test]
fn os_fs_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(&os_fs(), dir.path());
}

#[test]
fn crash_fs_meets_the_contract() {
    let fs = CrashFs::new();
    contract(&fs.vfs(), Path::new("/root"));
    contract(&fs.vfs(), Path::new("relative"));
}
