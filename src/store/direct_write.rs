//! Large blobs written past the page cache (`O_DIRECT`).
//!
//! A buffered write copies every byte into page-cache pages the kernel must first allocate,
//! and writes them back later (inside the fsync that makes the blob durable). On the
//! benchmark's host that copy cost the writing thread 1.9-2.3 s of CPU per GB while other
//! writers were busy, and 0.15-0.2 s/GB when it was idle; a direct write of the same bytes cost
//! 0.07-0.08 s/GB in both states: the device copies them itself (docs/PERFORMANCE.md, "Large
//! PUT: past the page cache"). Small files stay buffered: they are written once, in one call,
//! and read back soon.
//!
//! `O_DIRECT` asks that the buffer's address, the file offset and the length be multiples of
//! the device's block size. The blob writer's buffers are none of these (sealed segments end
//! anywhere), so bytes pass through one aligned bounce buffer, written [`SLICE`] at a time; the
//! last piece is padded with zeros to [`ALIGN`] and the file then cut to its length.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The alignment asked of address, offset and length: the larger of the two logical block
/// sizes devices have (512 and 4096 bytes).
const ALIGN: usize = 4096;

/// Bytes per write call, a multiple of [`ALIGN`]; the bounce buffer holds one slice. The
/// blob writer's buffer size: on the benchmark's disk 1 MiB direct writes ran at 1.7-1.8 GB/s,
/// 256 KiB ones at 1.4 (each call waits for the device; docs/PERFORMANCE.md).
const SLICE: usize = 1024 * 1024;

/// A second handle on a staging file, opened for direct writes, and the bytes not yet written
/// through it. Appends only: the blob writer writes a file front to back.
pub(super) struct DirectWrites {
    file: File,
    /// `SLICE + ALIGN` bytes; the aligned window is `bounce[start..start + SLICE]`.
    bounce: Vec<u8>,
    start: usize,
    /// Bytes in the window not yet written.
    filled: usize,
    /// File offset of the window's first byte (a multiple of `ALIGN`).
    flushed: u64,
}

impl std::fmt::Debug for DirectWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectWrites")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl DirectWrites {
    /// Opens `path` (an existing, empty staging file) for direct writes; `None` when the
    /// filesystem does not take them (tmpfs before Linux 6.6, some FUSE filesystems), and the
    /// caller writes through the page cache as before.
    pub(super) fn open(path: &Path) -> io::Result<Option<DirectWrites>> {
        let Some(flags) = direct_flag() else {
            return Ok(None);
        };
        let file = match open_with(path, flags) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::InvalidInput => return Ok(None),
            Err(e) => return Err(e),
        };
        let bounce = vec![0u8; SLICE + ALIGN];
        let start = bounce.as_ptr().align_offset(ALIGN);
        Ok(Some(DirectWrites {
            file,
            bounce,
            start,
            filled: 0,
            flushed: 0,
        }))
    }

    /// Bytes appended so far: the file's length once finished.
    pub(super) fn len(&self) -> u64 {
        self.flushed + self.filled as u64
    }

    /// Appends `data`, writing every slice that fills.
    pub(super) fn append(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = (SLICE - self.filled).min(data.len());
            let at = self.start + self.filled;
            self.bounce[at..at + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled == SLICE {
                self.write_window(SLICE)?;
                self.flushed += SLICE as u64;
                self.filled = 0;
            }
        }
        Ok(())
    }

    /// Writes what is left, padded with zeros to [`ALIGN`], and cuts the file to its length.
    pub(super) fn finish(&mut self) -> io::Result<()> {
        if self.filled == 0 {
            return Ok(());
        }
        let len = self.len();
        let padded = self.filled.next_multiple_of(ALIGN);
        self.bounce[self.start + self.filled..self.start + padded].fill(0);
        self.write_window(padded)?;
        self.file.set_len(len)?;
        self.flushed = len;
        self.filled = 0;
        Ok(())
    }

    fn write_window(&self, n: usize) -> io::Result<()> {
        self.file
            .write_all_at(&self.bounce[self.start..self.start + n], self.flushed)
    }
}

#[cfg(target_os = "linux")]
fn direct_flag() -> Option<i32> {
    i32::try_from(rustix::fs::OFlags::DIRECT.bits()).ok()
}

#[cfg(not(target_os = "linux"))]
fn direct_flag() -> Option<i32> {
    None
}

fn open_with(path: &Path, flags: i32) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .custom_flags(flags)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lengths around every boundary: empty, under one block, a block, a slice and a bit.
    #[test]
    fn appends_of_any_size_read_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..3 * SLICE + 1234).map(|i| (i % 251) as u8).collect();
        for (case, pieces) in [
            vec![0usize],
            vec![1],
            vec![ALIGN - 1],
            vec![ALIGN],
            vec![SLICE],
            vec![SLICE + 1],
            vec![65_552, 65_552, 65_552, 65_552, 65_552, 100],
            vec![3 * SLICE + 1234],
            vec![7, SLICE, ALIGN + 3, SLICE - 10],
        ]
        .into_iter()
        .enumerate()
        {
            let path = dir.path().join(format!("blob-{case}"));
            std::fs::write(&path, b"").unwrap();
            let Some(mut w) = DirectWrites::open(&path).unwrap() else {
                // The filesystem under the temp dir takes no direct writes: nothing to test
                // here, and the store falls back to buffered writes on it.
                eprintln!("no O_DIRECT on {}", dir.path().display());
                return;
            };
            let mut at = 0;
            for n in &pieces {
                w.append(&data[at..at + n]).unwrap();
                at += n;
            }
            assert_eq!(w.len(), at as u64);
            w.finish().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), &data[..at], "case {case}");
        }
    }
}
