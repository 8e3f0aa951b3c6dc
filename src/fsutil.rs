//! Small filesystem helpers shared by everything that persists secrets or records locally.
//!
//! Everything sealgate writes under its data dir is owner-only: files 0600, directories 0700,
//! whatever the umask (docs/STORAGE.md, "File modes"). Files are created with that mode where
//! sealgate opens them itself; what other code creates (object_store, SQLite) is set right
//! after, and [`tighten_tree`] fixes what earlier builds left wider.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every file sealgate writes.
pub(crate) const FILE_MODE: u32 = 0o600;
/// Mode of every directory sealgate creates.
pub(crate) const DIR_MODE: u32 = 0o700;

/// Writes `data` to `path` atomically (temp file + rename), 0600, fsynced.
pub(crate) fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&tmp)?;
    // `mode` is filtered by the umask; an unusual umask must not make it narrower than 0600
    // (unreadable to ourselves) either.
    f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    let written = f.write_all(data).and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// Creates `path` and any missing parents 0700 (an existing directory is left as it is; the
/// start-up [`tighten_tree`] fixes its mode).
pub(crate) fn create_private_dir_all(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)?;
    make_owner_only(path).map(|_| ())
}

/// Creates `path` empty and 0600 if it does not exist (so that SQLite, which gives its `-wal`
/// and `-shm` files the database file's mode, creates those 0600 too).
pub(crate) fn create_private_file(path: &Path) -> std::io::Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(f) => f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes every permission bit but the owner's from `path` (0644 → 0600, 0755 → 0700);
/// `Ok(true)` when it changed something. Symlinks are not followed.
pub(crate) fn make_owner_only(path: &Path) -> std::io::Result<bool> {
    let meta = std::fs::symlink_metadata(path)?;
    let mode = meta.permissions().mode() & 0o7777;
    if meta.file_type().is_symlink() || mode & !0o700 == 0 {
        return Ok(false);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
    Ok(true)
}

/// Makes `root` and everything under it owner-only ([`make_owner_only`]: files sealgate wrote
/// become 0600, directories 0700), without following symlinks; returns how many entries
/// changed. An entry that vanishes meanwhile is skipped. Files in `keep` are left alone (their
/// owners check the mode themselves).
pub(crate) fn tighten_tree(root: &Path, keep: &[&Path]) -> std::io::Result<usize> {
    let mut changed = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        match make_owner_only(&dir) {
            Ok(c) => changed += usize::from(c),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let ty = entry.file_type()?;
            if ty.is_dir() {
                stack.push(entry.path());
            } else if ty.is_file() && !keep.contains(&entry.path().as_path()) {
                match make_owner_only(&entry.path()) {
                    Ok(c) => changed += usize::from(c),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn tightens_files_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f"), b"x").unwrap();
        std::fs::write(root.join("g"), b"y").unwrap();
        std::fs::write(root.join("k"), b"z").unwrap();
        std::fs::set_permissions(root.join("k"), std::fs::Permissions::from_mode(0o640)).unwrap();
        for (p, m) in [("", 0o755), ("a", 0o755), ("a/b", 0o775), ("a/b/f", 0o644)] {
            std::fs::set_permissions(root.join(p), std::fs::Permissions::from_mode(m)).unwrap();
        }
        std::fs::set_permissions(root.join("g"), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(tighten_tree(&root, &[root.join("k").as_path()]).unwrap(), 4);
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("a/b")), 0o700);
        assert_eq!(mode(&root.join("a/b/f")), 0o600);
        assert_eq!(mode(&root.join("g")), 0o600);
        assert_eq!(mode(&root.join("k")), 0o640, "kept as it was");
        assert_eq!(tighten_tree(&root, &[]).unwrap(), 1);
        assert_eq!(mode(&root.join("k")), 0o600);
    }

    #[test]
    fn writes_private_files_in_private_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("x/y");
        create_private_dir_all(&sub).unwrap();
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&dir.path().join("x")), 0o700);
        write_private(&sub.join("f"), b"data").unwrap();
        assert_eq!(mode(&sub.join("f")), 0o600);
        assert_eq!(std::fs::read(sub.join("f")).unwrap(), b"data");
    }
}
