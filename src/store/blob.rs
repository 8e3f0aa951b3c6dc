//! Streaming writes and ranged reads of ciphertext blobs.
//!
//! A writer collects what it is given in a buffer of `capacity` bytes and ships each full
//! buffer while the caller fills the next, so at most about `2 × capacity` (plus one
//! caller's piece) is held per writer on the local filesystem. There the store writes the
//! blob itself ([`super::local_write`]): a staging file created 0600, one positional write per
//! buffer on a blocking thread, the same two buffers reused for the whole blob (a fresh one
//! per sealed segment made page faults a visible share of a large PUT), then fsync, rename and
//! the directory syncs; a small blob is all of that in one blocking task. Remote backends get
//! each buffer through `object_store`'s `BufWriter`: one atomic put if the blob fits its
//! capacity, else a multipart upload of `capacity`-sized parts, at most
//! [`MAX_PARTS_IN_FLIGHT`] at a time. Either way a blob is never seen half-written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use object_store::ObjectStore;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

use super::local_write::{Publish, Staged};
use super::private_fs::PrivateFs;
use super::{StoreError, backend_err};

/// Parts uploaded concurrently by one writer.
pub(crate) const MAX_PARTS_IN_FLIGHT: usize = 2;

/// Generations written or linked recently by this process, so that a sweep never reclaims a
/// generation whose meta record is still being written. Needed because a hard link (local
/// copy) keeps the source's old mtime.
#[derive(Default)]
pub(crate) struct RecentGenerations {
    touched: Mutex<HashMap<(String, String), Instant>>,
}

impl RecentGenerations {
    pub(crate) fn touch(&self, bucket: &str, generation: &str) {
        let mut map = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        map.insert((bucket.to_string(), generation.to_string()), Instant::now());
    }

    /// Whether the generation was touched within `grace`; forgets entries older than that.
    pub(crate) fn is_recent(
        &self,
        bucket: &str,
        generation: &str,
        grace: std::time::Duration,
    ) -> bool {
        let mut map = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, t| t.elapsed() < grace);
        map.contains_key(&(bucket.to_string(), generation.to_string()))
    }
}

/// A blob being written. Call [`BlobWriter::finish`] to publish it; dropping or aborting it
/// leaves nothing visible (an S3 backend may keep an incomplete multipart upload until its
/// lifecycle rule removes it).
pub(crate) struct BlobWriter {
    sink: Sink,
    /// What the caller gave since the last buffer was shipped.
    buf: Vec<u8>,
    capacity: usize,
    written: u64,
    bucket: String,
    generation: String,
    recent: Arc<RecentGenerations>,
}

enum Sink {
    Remote(BufWriter),
    Local(LocalBlob),
}

/// The local filesystem side of a writer. The staging file is created by the first write and
/// travels with the write in flight, which hands it back with its emptied buffer.
struct LocalBlob {
    dest: std::path::PathBuf,
    fsync: super::dir_sync::Fsync,
    in_flight: Option<JoinHandle<std::io::Result<Written>>>,
    /// Bytes shipped so far: where the next buffer goes in the file.
    offset: u64,
}

/// What a finished buffer write hands back: the staging file and the buffer, emptied.
type Written = (Staged, Vec<u8>);

impl BlobWriter {
    pub(super) fn remote(
        os: Arc<dyn ObjectStore>,
        path: Path,
        capacity: usize,
        bucket: &str,
        generation: &str,
        recent: Arc<RecentGenerations>,
    ) -> Self {
        let inner =
            BufWriter::with_capacity(os, path, capacity).with_max_concurrency(MAX_PARTS_IN_FLIGHT);
        Self::new(Sink::Remote(inner), capacity, bucket, generation, recent)
    }

    pub(super) fn local(
        fs: &PrivateFs,
        path: &Path,
        capacity: usize,
        bucket: &str,
        generation: &str,
        recent: Arc<RecentGenerations>,
    ) -> Result<Self, StoreError> {
        let dest = fs.file_path(path).map_err(backend_err)?;
        let sink = Sink::Local(LocalBlob {
            dest,
            fsync: fs.fsync(),
            in_flight: None,
            offset: 0,
        });
        Ok(Self::new(sink, capacity, bucket, generation, recent))
    }

    fn new(
        sink: Sink,
        capacity: usize,
        bucket: &str,
        generation: &str,
        recent: Arc<RecentGenerations>,
    ) -> Self {
        recent.touch(bucket, generation);
        Self {
            sink,
            buf: Vec::with_capacity(capacity),
            capacity,
            written: 0,
            bucket: bucket.to_string(),
            generation: generation.to_string(),
            recent,
        }
    }

    /// Appends `data`; waits when the writer's in-flight writes are at their limit.
    pub(crate) async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        self.write_with(|buf| {
            buf.extend_from_slice(data);
            Ok::<(), StoreError>(())
        })
        .await
    }

    /// Lets `fill` append to the write buffer (e.g. seal into it, with no buffer of its own
    /// per segment), then ships the buffer once it holds `capacity` bytes.
    pub(crate) async fn write_with<E: From<StoreError>>(
        &mut self,
        fill: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let before = self.buf.len();
        fill(&mut self.buf)?;
        self.written += (self.buf.len() - before) as u64;
        if self.buf.len() >= self.capacity {
            self.ship().await?;
        }
        Ok(())
    }

    /// Sends the buffer on, taking an empty one (the previous write's, locally) in its place.
    async fn ship(&mut self) -> Result<(), StoreError> {
        match &mut self.sink {
            Sink::Remote(w) => {
                let full = std::mem::replace(&mut self.buf, Vec::with_capacity(self.capacity));
                w.put(Bytes::from(full)).await.map_err(backend_err)
            }
            Sink::Local(local) => {
                let (staged, spare) = local.settle().await?;
                let spare = spare.unwrap_or_else(|| Vec::with_capacity(self.capacity));
                let full = std::mem::replace(&mut self.buf, spare);
                let (dest, fsync, at) = (local.dest.clone(), local.fsync.clone(), local.offset);
                local.offset += full.len() as u64;
                local.in_flight = Some(tokio::task::spawn_blocking(move || {
                    // A buffer is shipped before the end only when the blob is large.
                    let mut staged = match staged {
                        Some(s) => s,
                        None => Staged::create_large(dest, fsync)?,
                    };
                    staged.write_at(&full, at)?;
                    let mut full = full;
                    full.clear();
                    Ok((staged, full))
                }));
                Ok(())
            }
        }
    }

    /// Publishes the blob and returns its size in bytes.
    pub(crate) async fn finish(mut self) -> Result<u64, StoreError> {
        match &mut self.sink {
            Sink::Remote(w) => {
                if !self.buf.is_empty() {
                    w.put(Bytes::from(std::mem::take(&mut self.buf)))
                        .await
                        .map_err(backend_err)?;
                }
                w.shutdown()
                    .await
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
            }
            Sink::Local(local) => {
                let (staged, _) = local.settle().await?;
                let last = std::mem::take(&mut self.buf);
                let (dest, fsync, at) = (local.dest.clone(), local.fsync.clone(), local.offset);
                // A small blob is created, written, synced and published in this one task.
                tokio::task::spawn_blocking(move || {
                    let mut staged = match staged {
                        Some(s) => s,
                        None => Staged::create(dest, fsync)?,
                    };
                    staged.write_at(&last, at)?;
                    staged.publish(Publish::Overwrite)
                })
                .await
                .map_err(|e| StoreError::Backend(format!("blob write task: {e}")))?
                .map_err(io_err)?;
            }
        }
        self.recent.touch(&self.bucket, &self.generation);
        Ok(self.written)
    }

    /// Discards everything written so far.
    pub(crate) async fn abort(mut self) -> Result<(), StoreError> {
        match &mut self.sink {
            Sink::Remote(w) => w.abort().await.map_err(backend_err),
            Sink::Local(local) => {
                // Dropping the staging file removes it; off the reactor, as any unlink.
                let (staged, _) = local.settle().await.unwrap_or_default();
                tokio::task::spawn_blocking(move || drop(staged))
                    .await
                    .map_err(|e| StoreError::Backend(format!("blob write task: {e}")))
            }
        }
    }
}

impl LocalBlob {
    /// Waits for the write in flight, if any: the staging file and the buffer it wrote,
    /// emptied; nothing before the first write.
    async fn settle(&mut self) -> Result<(Option<Staged>, Option<Vec<u8>>), StoreError> {
        match self.in_flight.take() {
            None => Ok((None, None)),
            Some(task) => {
                let (staged, buf) = task
                    .await
                    .map_err(|e| StoreError::Backend(format!("blob write task: {e}")))?
                    .map_err(io_err)?;
                Ok((Some(staged), Some(buf)))
            }
        }
    }
}

fn io_err(e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("blob write: {e}"))
}
