//! State files only their owner may read: written whole or not at all
//! (temporary file, fsync, rename, fsync of the directory), created `0600`
//! in a directory created `0700`. Silences, alert labels and notification
//! logs can name hosts and people, so no other local user reads them.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of state files.
pub const FILE_MODE: u32 = 0o600;
/// Mode of the directories holding them.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` (and missing parents) `0700`; an existing directory that
/// group or others may enter is narrowed to `0700`. Returns whether it had
/// to be narrowed, so the caller can say so.
pub fn ensure_private_dir(dir: &Path) -> io::Result<bool> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 == 0 {
        return Ok(false);
    }
    std::fs::set_permissions(dir, Permissions::from_mode(mode & 0o700 | DIR_MODE))?;
    Ok(true)
}

/// Replaces `path` with `bytes` atomically, the file `0600`; its directory
/// is created `0700` when missing (an existing one is left as it is: see
/// [`ensure_private_dir`]).
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(FILE_MODE)
            .open(&tmp)?;
        // A temporary file left by an older version may be wider.
        f.set_permissions(Permissions::from_mode(FILE_MODE))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_0600_in_a_0700_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/state.json");
        write_private(&path, b"one").unwrap();
        write_private(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&tmp.path().join("a/b")), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        let names: Vec<_> = std::fs::read_dir(tmp.path().join("a/b")).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn an_old_world_readable_file_and_temporary_are_replaced_private() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("state.json");
        for p in [&path, &tmp.path().join(".state.json.tmp")] {
            std::fs::write(p, b"old").unwrap();
            std::fs::set_permissions(p, Permissions::from_mode(0o644)).unwrap();
        }
        write_private(&path, b"new").unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn an_open_directory_is_narrowed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        assert!(!ensure_private_dir(&dir).unwrap(), "created private");
        assert_eq!(mode(&dir), 0o700);
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        assert!(ensure_private_dir(&dir).unwrap());
        assert_eq!(mode(&dir), 0o700);
    }
}
