//! Files written whole or not at all: a temporary file in the same folder, synced, then renamed
//! over the target, so a worker killed mid-write leaves the old file or the new one, never half.

use crate::{Error, Result};
use std::{io::Write, path::Path};

/// Writes `bytes` to `path`, replacing it atomically; creates the parent folders.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let file = temporary(path, bytes)?;
    file.persist(path).map_err(|e| Error::io("renaming into", path, e.error))?;
    sync_parent(path);
    Ok(())
}

/// Writes `bytes` to `path` atomically, failing if `path` already exists.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let file = temporary(path, bytes)?;
    file.persist_noclobber(path).map_err(|e| Error::io("creating", path, e.error))?;
    sync_parent(path);
    Ok(())
}

/// Reads `path`, or `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(Error::io("reading", path, error)),
    }
}

/// A synced temporary file holding `bytes` beside `path` (private to the user on Unix).
fn temporary(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(|e| Error::io("creating folder", parent, e))?;
    let mut file = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(parent)
        .map_err(|e| Error::io("creating a temporary file in", parent, e))?;
    file.write_all(bytes).map_err(|e| Error::io("writing", file.path().to_owned(), e))?;
    file.as_file().sync_all().map_err(|e| Error::io("syncing", file.path().to_owned(), e))?;
    Ok(file)
}

/// Makes the rename itself durable, where the platform allows; a failure only loses durability.
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(dir) = std::fs::File::open(parent)
    {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_and_new_writes_refuse_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/state.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(read_optional(&path).unwrap().unwrap(), b"two");
        assert!(write_new(&path, b"three").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(read_optional(&dir.path().join("missing")).unwrap(), None);
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }
}
