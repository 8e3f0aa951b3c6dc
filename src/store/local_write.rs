//! Files of the local backend written by sealgate itself: created owner-only (0600 in 0700
//! directories) rather than made so afterwards, published with one atomic rename (or hard link
//! for create-only writes), and with exactly the fsyncs that make a published file durable.
//!
//! `object_store`'s `LocalFileSystem` writes the same staging file (`<name>#<n>`) and renames
//! it, but a 4 KiB PUT through it cost six fsyncs, a `stat`/`chmod` pass per file and two
//! blocking tasks per write (docs/PERFORMANCE.md, "Small PUTs"). Here a write is one blocking
//! task, and the fsyncs are: the file's data, the directory that gets its name, and the parent
//! of each directory the write had to create (its entry) — a new directory that then receives
//! the file is synced once, after the rename, not also when it is made. Directory syncs are
//! shared by concurrent writes into the same directory (`dir_sync.rs`).

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::dir_sync::Fsync;
use super::direct_write::DirectWrites;
use crate::fsutil::{DIR_MODE, FILE_MODE};

/// Bytes per `pwrite`. A 1 MiB write lets the kernel allocate page-cache folios of up to
/// 1 MiB, and on a host whose memory is fragmented those order-8 allocations went through
/// direct compaction: 13% of a large PUT's server CPU in the profile (docs/PERFORMANCE.md).
/// 64 KiB writes cost 16 system calls per MiB and no compaction.
const WRITE_SLICE: usize = 64 * 1024;

/// How a staged file becomes visible under its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Publish {
    /// Replace whatever is there (rename).
    Overwrite,
    /// Only if nothing is there (hard link, then the staging name goes): `AlreadyExists` else.
    Create,
}

/// A staging file being written for `dest`. [`Staged::publish`] makes it visible; dropping it
/// unpublished removes it (a crash leaves it for the sweep, which knows the `#<n>` names).
#[derive(Debug)]
pub(super) struct Staged {
    file: File,
    path: PathBuf,
    dest: PathBuf,
    /// Directories that gained an entry for a directory this write created; synced on publish.
    new_entries_in: Vec<PathBuf>,
    fsync: Fsync,
    published: bool,
    /// Set for large blobs: their bytes go past the page cache (`direct_write.rs`).
    direct: Option<DirectWrites>,
}

impl Staged {
    /// Creates the staging file for `dest` (and any missing directories).
    pub(super) fn create(dest: PathBuf, fsync: Fsync) -> io::Result<Staged> {
        let mut new_entries_in = Vec::new();
        // Making the directories is retried: a delete's empty-directory cleanup may remove
        // one between our `mkdir` and the `open`.
        let mut dir_attempts = 0;
        let mut n = 1u32;
        loop {
            let path = staging_path(&dest, n);
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(FILE_MODE)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(Staged {
                        file,
                        path,
                        dest,
                        new_entries_in,
                        fsync,
                        published: false,
                        direct: None,
                    });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => n += 1,
                Err(e) if e.kind() == ErrorKind::NotFound && dir_attempts < 3 => {
                    dir_attempts += 1;
                    let parent = dest.parent().ok_or(e)?;
                    create_dirs(parent, &mut new_entries_in)?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Creates the staging file of a large blob, written front to back with
    /// [`Staged::write_at`] past the page cache where the filesystem allows it.
    pub(super) fn create_large(dest: PathBuf, fsync: Fsync) -> io::Result<Staged> {
        let mut staged = Staged::create(dest, fsync)?;
        staged.direct = DirectWrites::open(&staged.path)?;
        Ok(staged)
    }

    /// Writes `data` at byte `offset`, [`WRITE_SLICE`] bytes per system call. A large blob's
    /// writes must follow each other (`offset` is where the last one ended).
    pub(super) fn write_at(&mut self, data: &[u8], offset: u64) -> io::Result<()> {
        if let Some(direct) = self.direct.as_mut() {
            if offset != direct.len() {
                return Err(io::Error::new(
                    ErrorKind::InvalidInput,
                    "a large blob is written front to back",
                ));
            }
            return direct.append(data);
        }
        let mut at = offset;
        for slice in data.chunks(WRITE_SLICE) {
            self.file.write_all_at(slice, at)?;
            at += slice.len() as u64;
        }
        Ok(())
    }

    /// Makes the file visible under its name, durably when fsync is on, and returns its
    /// metadata. On failure the staging file is removed and nothing is published.
    pub(super) fn publish(mut self, how: Publish) -> io::Result<std::fs::Metadata> {
        let result = self.try_publish(how);
        self.published = result.is_ok();
        result
    }

    fn try_publish(&mut self, how: Publish) -> io::Result<std::fs::Metadata> {
        if let Some(direct) = self.direct.as_mut() {
            direct.finish()?;
        }
        if self.fsync.is_some() {
            self.file.sync_all()?;
        }
        let meta = self.file.metadata()?;
        match how {
            Publish::Overwrite => std::fs::rename(&self.path, &self.dest)?,
            Publish::Create => {
                std::fs::hard_link(&self.path, &self.dest)?;
                let _ = std::fs::remove_file(&self.path);
            }
        }
        if let Some(dirs) = &self.fsync {
            if let Some(parent) = self.dest.parent() {
                dirs.sync(parent)?;
            }
            for dir in &self.new_entries_in {
                dirs.sync(dir)?;
            }
        }
        Ok(meta)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// `object_store`'s local ETag for the file `meta` describes (inode, mtime in µs, size), so
/// records read back through `object_store` carry the ETag their write returned.
pub(super) fn etag(meta: &std::fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_micros();
    format!("\"{:x}-{mtime:x}-{:x}\"", meta.ino(), meta.len())
}

/// `<dest>#<n>`: the staging name `object_store` uses too, which the sweep recognises.
fn staging_path(dest: &Path, n: u32) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(format!("#{n}"));
    name.into()
}

/// Creates `dir` and its missing ancestors 0700, recording in `new_entries_in` each directory
/// that gained an entry for one of them — except `dir` itself, which the publish syncs anyway.
fn create_dirs(dir: &Path, new_entries_in: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.is_dir() {
        missing.push(at);
        at = at
            .parent()
            .ok_or_else(|| io::Error::new(ErrorKind::NotFound, "no existing ancestor"))?;
    }
    for d in missing.into_iter().rev() {
        match std::fs::DirBuilder::new().mode(DIR_MODE).create(d) {
            Ok(()) => {}
            // Another writer made it just now: sync its parent too, since that writer may
            // not have yet.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        if let Some(parent) = d.parent() {
            new_entries_in.push(parent.to_path_buf());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    /// A large blob goes past the page cache (on this filesystem, if it takes direct writes)
    /// and reads back exactly, owner-only, at its length; writes out of order are refused.
    #[test]
    fn a_large_blob_written_front_to_back_reads_back_exactly() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("big/blob");
        let mut staged = Staged::create_large(dest.clone(), Some(Default::default())).unwrap();
        let data: Vec<u8> = (0..(3 << 20) + 65_555).map(|i| (i % 253) as u8).collect();
        let mut at = 0;
        for piece in data.chunks((1 << 20) + 80) {
            staged.write_at(piece, at).unwrap();
            at += piece.len() as u64;
        }
        if staged.direct.is_some() {
            let err = staged.write_at(b"x", 7).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        }
        let meta = staged.publish(Publish::Overwrite).unwrap();
        assert_eq!(meta.len(), data.len() as u64);
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert_eq!(mode(&dest), 0o600);
    }

    #[test]
    fn publishes_owner_only_files_in_new_directories() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("a/b/c/blob");
        let mut staged = Staged::create(dest.clone(), Some(Default::default())).unwrap();
        // The directories a write creates gain entries in their parents: root, a and b.
        assert_eq!(
            staged.new_entries_in,
            vec![
                root.path().to_path_buf(),
                root.path().join("a"),
                root.path().join("a/b")
            ]
        );
        staged.write_at(b"world", 6).unwrap();
        staged.write_at(b"hello ", 0).unwrap();
        assert!(!dest.exists(), "nothing is visible before the publish");
        let meta = staged.publish(Publish::Overwrite).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello world");
        assert_eq!(meta.len(), 11);
        assert_eq!(mode(&dest), 0o600);
        for d in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&root.path().join(d)), 0o700, "{d}");
        }
        let left: Vec<_> = std::fs::read_dir(root.path().join("a/b/c"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("blob")]);
    }

    #[test]
    fn create_refuses_an_existing_name_and_leaves_it() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("rec");
        std::fs::write(&dest, b"first").unwrap();
        let mut staged = Staged::create(dest.clone(), None).unwrap();
        staged.write_at(b"second", 0).unwrap();
        let err = staged.publish(Publish::Create).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&dest).unwrap(), b"first");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
        let mut staged = Staged::create(dest.clone(), None).unwrap();
        staged.write_at(b"third", 0).unwrap();
        staged.publish(Publish::Overwrite).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"third");
    }

    #[test]
    fn an_unpublished_staging_file_is_removed_and_names_do_not_collide() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("blob");
        let first = Staged::create(dest.clone(), None).unwrap();
        let second = Staged::create(dest.clone(), None).unwrap();
        assert_ne!(first.path, second.path);
        drop(first);
        drop(second);
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
        assert!(!dest.exists());
    }
}
