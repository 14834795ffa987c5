//! Directory fsync, the step that makes a rename or a new file name durable.

use std::path::Path;

use crate::vfs::{OsFs, Vfs};
use crate::Result;

/// Flushes a directory's entries (new names, renames, removals) to stable storage.
///
/// On Linux a rename is only durable once the parent directory has been fsynced.
pub fn sync_dir(dir: &Path) -> Result<()> {
    OsFs.sync_dir(dir)
}

/// [`sync_dir`] on the given backend.
pub fn sync_dir_in(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    vfs.sync_dir(dir)
}
