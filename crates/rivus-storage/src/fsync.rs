//! Directory fsync, the step that makes a rename or a new file name durable.

use std::fs::File;
use std::path::Path;

use crate::{Result, StorageError};

/// Flushes a directory's entries (new names, renames, removals) to stable storage.
///
/// On Linux a rename is only durable once the parent directory has been fsynced.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let handle = File::open(dir).map_err(|e| StorageError::io(dir, e))?;
    handle.sync_all().map_err(|e| StorageError::io(dir, e))
}
