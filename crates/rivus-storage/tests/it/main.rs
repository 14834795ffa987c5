//! rivus-storage integration tests: the backends, and crash safety of every file type checked
//! on `CrashFs` (power loss at every crash point, torn writes, failing calls).

mod backends;
mod block_file;
mod checksummed_file;
mod crash_fs;
mod faults;
mod wal;

use std::path::Path;
use std::sync::Arc;

use rivus_storage::{CrashFs, Vfs};

/// A small deterministic generator for test sequences.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// A fresh `CrashFs` holding a durable, empty `/db`.
pub fn fresh() -> (CrashFs, Arc<dyn Vfs>) {
    let fs = CrashFs::new();
    let vfs = fs.vfs();
    vfs.create_dir_all(Path::new("/db")).unwrap();
    fs.sync_everything();
    (fs, vfs)
}

/// The file systems a power cut at this moment may leave: a clean cut and a few torn ones.
/// Powers `fs` off.
pub fn power_cuts(fs: &CrashFs) -> Vec<(String, CrashFs)> {
    let mut out = vec![("clean cut".to_string(), fs.crash())];
    for seed in 0..4 {
        out.push((format!("torn cut (seed {seed})"), fs.crash_torn(seed)));
    }
    out
}
