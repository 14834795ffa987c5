//! The crash model of `CrashFs` itself.

use std::path::Path;

use rivus_storage::{create_dir_all_durable, CrashFs, FsOp};

use crate::fresh;

fn p(s: &str) -> &Path {
    Path::new(s)
}

#[test]
fn unsynced_bytes_are_lost_and_synced_bytes_survive() {
    let (fs, vfs) = fresh();
    let f = vfs.create(p("/db/f")).unwrap();
    vfs.sync_dir(p("/db")).unwrap();
    f.append(b"synced").unwrap();
    f.sync_data().unwrap();
    f.append(b" lost").unwrap();
    assert_eq!(vfs.read(p("/db/f")).unwrap(), b"synced lost");
    assert_eq!(fs.durable_bytes(p("/db/f")).unwrap(), b"synced");
    let after = fs.crash().vfs();
    assert_eq!(after.read(p("/db/f")).unwrap(), b"synced");
}

#[test]
fn a_new_name_needs_its_directory_synced() {
    let (fs, vfs) = fresh();
    let f = vfs.create(p("/db/f")).unwrap();
    f.append(b"data").unwrap();
    f.sync_all().unwrap(); // the bytes, not the name
    assert!(!fs.crash().vfs().exists(p("/db/f")).unwrap());

    let (fs, vfs) = fresh();
    let f = vfs.create(p("/db/f")).unwrap();
    f.append(b"data").unwrap();
    f.sync_all().unwrap();
    vfs.sync_dir(p("/db")).unwrap();
    assert_eq!(fs.crash().vfs().read(p("/db/f")).unwrap(), b"data");

    // The name without the bytes: an empty file.
    let (fs, vfs) = fresh();
    vfs.create(p("/db/f")).unwrap().append(b"data").unwrap();
    vfs.sync_dir(p("/db")).unwrap();
    assert_eq!(fs.crash().vfs().read(p("/db/f")).unwrap(), b"");
}

#[test]
fn a_rename_needs_its_directory_synced() {
    let (fs, vfs) = fresh();
    fs.write_durable(p("/db/x"), b"old").unwrap();
    let tmp = vfs.create(p("/db/x.tmp")).unwrap();
    tmp.append(b"new").unwrap();
    tmp.sync_all().unwrap();
    drop(tmp);
    vfs.rename(p("/db/x.tmp"), p("/db/x")).unwrap();
    assert_eq!(vfs.read(p("/db/x")).unwrap(), b"new");
    let after = fs.crash().vfs();
    assert_eq!(after.read(p("/db/x")).unwrap(), b"old");
    assert!(!after.exists(p("/db/x.tmp")).unwrap());

    let (fs, vfs) = fresh();
    fs.write_durable(p("/db/x"), b"old").unwrap();
    let tmp = vfs.create(p("/db/x.tmp")).unwrap();
    tmp.append(b"new").unwrap();
    tmp.sync_all().unwrap();
    vfs.rename(p("/db/x.tmp"), p("/db/x")).unwrap();
    vfs.sync_dir(p("/db")).unwrap();
    let after = fs.crash().vfs();
    assert_eq!(after.read(p("/db/x")).unwrap(), b"new");
    assert!(!after.exists(p("/db/x.tmp")).unwrap());
}

#[test]
fn removals_and_truncations_need_a_sync() {
    let (fs, vfs) = fresh();
    fs.write_durable(p("/db/gone"), b"still here").unwrap();
    fs.write_durable(p("/db/cut"), b"hello").unwrap();
    vfs.remove_file(p("/db/gone")).unwrap();
    vfs.open_append(p("/db/cut")).unwrap().set_len(2).unwrap();
    let after = fs.crash().vfs();
    assert_eq!(after.read(p("/db/gone")).unwrap(), b"still here");
    assert_eq!(after.read(p("/db/cut")).unwrap(), b"hello");

    let (fs, vfs) = fresh();
    fs.write_durable(p("/db/gone"), b"still here").unwrap();
    fs.write_durable(p("/db/cut"), b"hello").unwrap();
    vfs.remove_file(p("/db/gone")).unwrap();
    vfs.sync_dir(p("/db")).unwrap();
    let cut = vfs.open_append(p("/db/cut")).unwrap();
    cut.set_len(2).unwrap();
    cut.append(b"y").unwrap();
    cut.sync_data().unwrap();
    let after = fs.crash().vfs();
    assert!(!after.exists(p("/db/gone")).unwrap());
    assert_eq!(after.read(p("/db/cut")).unwrap(), b"hey");
}

#[test]
fn a_torn_crash_keeps_a_prefix_of_the_unsynced_appends() {
    let mut lengths = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let (fs, vfs) = fresh();
        fs.write_durable(p("/db/log"), b"base").unwrap();
        vfs.open_append(p("/db/log"))
            .unwrap()
            .append(b"0123456789")
            .unwrap();
        let bytes = fs.crash_torn(seed).vfs().read(p("/db/log")).unwrap();
        assert!(
            b"base0123456789".starts_with(&bytes) && bytes.len() >= 4,
            "seed {seed}: {bytes:?}"
        );
        lengths.insert(bytes.len());
    }
    assert_eq!(lengths.len(), 11, "every prefix length occurs: {lengths:?}");
    // Bytes cut off since the last sync come back as they were, torn or not.
    let (fs, vfs) = fresh();
    fs.write_durable(p("/db/log"), b"base").unwrap();
    let f = vfs.open_append(p("/db/log")).unwrap();
    f.set_len(1).unwrap();
    f.append(b"xyz").unwrap();
    assert_eq!(fs.crash_torn(7).vfs().read(p("/db/log")).unwrap(), b"base");
}

#[test]
fn directories_are_inodes_and_need_their_parent_synced() {
    // A new directory is lost unless its parent is synced; `create_dir_all_durable` does it.
    let fs = CrashFs::new();
    let vfs = fs.vfs();
    fs.write_durable(p("/x/y/file"), b"1").unwrap();
    create_dir_all_durable(vfs.as_ref(), p("/c/d/e")).unwrap();
    vfs.create_dir_all(p("/a/b")).unwrap();
    vfs.create_dir_all(p("/c/new")).unwrap();
    vfs.sync_dir(p("/")).unwrap(); // makes `a` durable, not `a/b` or `c/new`
    let after = fs.crash().vfs();
    assert!(after.exists(p("/a")).unwrap());
    assert!(!after.exists(p("/a/b")).unwrap());
    assert!(!after.exists(p("/c/new")).unwrap());
    assert!(after.exists(p("/c/d/e")).unwrap());
    assert_eq!(after.read(p("/x/y/file")).unwrap(), b"1");

    // A renamed directory takes its (durable) entries along.
    let (fs, vfs) = fresh();
    fs.write_durable(p("/db/old/f"), b"kept").unwrap();
    vfs.rename(p("/db/old"), p("/db/new")).unwrap();
    vfs.sync_dir(p("/db")).unwrap();
    assert_eq!(fs.crash().vfs().read(p("/db/new/f")).unwrap(), b"kept");

    // remove_dir_all without a sync comes back whole.
    let (fs, vfs) = fresh();
    fs.write_durable(p("/db/sub/f"), b"back").unwrap();
    vfs.remove_dir_all(p("/db/sub")).unwrap();
    assert!(!vfs.exists(p("/db/sub")).unwrap());
    assert_eq!(fs.crash().vfs().read(p("/db/sub/f")).unwrap(), b"back");
}

#[test]
fn an_open_handle_outlives_its_name() {
    let (fs, vfs) = fresh();
    let f = vfs.create(p("/db/f")).unwrap();
    vfs.remove_file(p("/db/f")).unwrap();
    f.append(b"orphan").unwrap();
    f.sync_all().unwrap();
    assert_eq!(f.read_all().unwrap(), b"orphan");
    assert!(!fs.crash().vfs().exists(p("/db/f")).unwrap());
}

#[test]
fn a_crash_powers_the_old_machine_off() {
    let (fs, vfs) = fresh();
    let f = vfs.create(p("/db/f")).unwrap();
    let after = fs.crash();
    assert!(fs.is_powered_off() && !after.is_powered_off());
    assert!(f.append(b"x").is_err());
    assert!(vfs.read_dir(p("/db")).is_err());
    assert!(after.vfs().read_dir(p("/db")).unwrap().is_empty());
}

#[test]
fn a_process_crash_keeps_written_bytes_and_drops_locks() {
    let (fs, vfs) = fresh();
    let lock = vfs.try_lock(p("/db/LOCK")).unwrap().unwrap();
    let f = vfs.create(p("/db/f")).unwrap();
    f.append(b"in the page cache").unwrap();
    let after = fs.process_crash();
    drop((lock, f));
    let vfs = after.vfs();
    assert_eq!(vfs.read(p("/db/f")).unwrap(), b"in the page cache");
    assert!(vfs.try_lock(p("/db/LOCK")).unwrap().is_some());
    // Still not durable: a power cut later loses it.
    assert!(!after.crash().vfs().exists(p("/db/f")).unwrap());
}

#[test]
fn injected_failures_hit_the_chosen_call() {
    let (fs, vfs) = fresh();
    let f = vfs.create(p("/db/f")).unwrap();
    vfs.sync_dir(p("/db")).unwrap();
    fs.fail_nth(FsOp::Write, 2);
    f.append(b"one ").unwrap();
    let err = f.append(b"two!").unwrap_err();
    assert!(err.to_string().contains("injected"), "{err}");
    f.append(b"three").unwrap();
    assert_eq!(
        f.read_all().unwrap(),
        b"one twthree",
        "a failed write is short"
    );
    assert_eq!(fs.op_count(FsOp::Write), 3);

    fs.fail_from(FsOp::SyncFile, 1);
    assert!(f.sync_data().is_err());
    assert!(f.sync_all().is_err());
    assert_eq!(
        fs.durable_bytes(p("/db/f")).unwrap(),
        b"",
        "a failed sync syncs nothing"
    );
    fs.clear_faults();
    f.sync_all().unwrap();
    assert_eq!(fs.durable_bytes(p("/db/f")).unwrap(), b"one twthree");

    fs.fail_nth(FsOp::Rename, 1);
    assert!(vfs.rename(p("/db/f"), p("/db/g")).is_err());
    assert!(
        vfs.exists(p("/db/f")).unwrap(),
        "a failed rename changes nothing"
    );
    vfs.rename(p("/db/f"), p("/db/g")).unwrap();
}

#[test]
fn power_off_after_lets_n_changes_through() {
    let (fs, vfs) = fresh();
    let base = fs.mutations();
    fs.power_off_after(2);
    let f = vfs.create(p("/db/f")).unwrap(); // 1
    f.append(b"a").unwrap(); // 2
    assert!(vfs.exists(p("/db/f")).unwrap(), "reads do not count");
    assert!(f.append(b"b").is_err());
    assert!(
        vfs.exists(p("/db/f")).is_err(),
        "a dead machine reads nothing"
    );
    assert!(fs.is_powered_off());
    assert_eq!(fs.mutations(), base + 2);
}
