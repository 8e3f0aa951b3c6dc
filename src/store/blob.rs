//! Streaming writes and ranged reads of ciphertext blobs.
//!
//! A writer collects what it is given in a buffer of `capacity` bytes and ships each full
//! buffer while the caller fills the next. On the local filesystem the store writes the blob
//! itself ([`super::local_write`]): a staging file created 0600 and written front to back by
//! one blocking task per large blob, which takes up to [`LOCAL_QUEUE`] full buffers queued
//! behind the one it writes and hands each back emptied, so at most about
//! `(LOCAL_QUEUE + 2) × capacity` (plus one caller's piece) is held per writer and the same
//! few buffers serve the whole blob (a fresh one per sealed segment made page faults a visible
//! share of a large PUT); then fsync, rename and the directory syncs. A small blob is all of
//! that in one blocking task. Remote backends get
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
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::local_write::{Publish, Staged};
use super::private_fs::PrivateFs;
use super::{StoreError, backend_err};

/// Parts uploaded concurrently by one writer.
pub(crate) const MAX_PARTS_IN_FLIGHT: usize = 2;

/// Full buffers a large local blob's writer may have waiting behind the one it writes. The
/// disk takes buffers at a steady rate while the caller fills them in bursts (reading the
/// body, sealing); with one buffer in flight each side often waited for the other
/// (docs/PERFORMANCE.md, "Large PUT: the client's hash, the
/// disk, and a client that does not sign").
const LOCAL_QUEUE: usize = 2;

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

/// The local filesystem side of a writer. A buffer shipped before the end means a large
/// blob: the first starts its writer.
struct LocalBlob {
    dest: std::path::PathBuf,
    fsync: super::dir_sync::Fsync,
    large: Option<LargeWrites>,
}

/// A large blob's writer: a blocking task that creates the staging file, writes the buffers
/// it is sent in order, and hands each back emptied for reuse.
struct LargeWrites {
    full: mpsc::Sender<Vec<u8>>,
    emptied: mpsc::Receiver<Vec<u8>>,
    task: JoinHandle<std::io::Result<Staged>>,
}

impl LargeWrites {
    fn start(dest: std::path::PathBuf, fsync: super::dir_sync::Fsync) -> Self {
        let (full, mut queued) = mpsc::channel::<Vec<u8>>(LOCAL_QUEUE);
        let (give_back, emptied) = mpsc::channel(LOCAL_QUEUE + 1);
        let task = tokio::task::spawn_blocking(move || {
            let mut staged = Staged::create_large(dest, fsync)?;
            let mut at = 0u64;
            while let Some(mut buf) = queued.blocking_recv() {
                staged.write_at(&buf, at)?;
                at += buf.len() as u64;
                buf.clear();
                // When the caller has buffers enough, this one is freed instead.
                let _ = give_back.try_send(buf);
            }
            Ok(staged)
        });
        Self {
            full,
            emptied,
            task,
        }
    }
}

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
            large: None,
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

    /// Sends the buffer on, taking an empty one (one the writer is done with, locally, when
    /// it has one) in its place.
    async fn ship(&mut self) -> Result<(), StoreError> {
        let full = std::mem::take(&mut self.buf);
        let spare = match &mut self.sink {
            Sink::Remote(w) => {
                w.put(Bytes::from(full)).await.map_err(backend_err)?;
                None
            }
            Sink::Local(local) => local.ship(full).await?,
        };
        self.buf = spare.unwrap_or_else(|| Vec::with_capacity(self.capacity));
        Ok(())
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
                let staged = local.settle().await?;
                let last = std::mem::take(&mut self.buf);
                let at = self.written - last.len() as u64;
                let (dest, fsync) = (local.dest.clone(), local.fsync.clone());
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
                let staged = local.settle().await.unwrap_or_default();
                tokio::task::spawn_blocking(move || drop(staged))
                    .await
                    .map_err(|e| StoreError::Backend(format!("blob write task: {e}")))
            }
        }
    }
}

impl LocalBlob {
    /// Queues a full buffer for the large blob's writer, starting it with the first; returns
    /// an emptied buffer to fill next when the writer has one to give back.
    async fn ship(&mut self, full: Vec<u8>) -> Result<Option<Vec<u8>>, StoreError> {
        let large = self
            .large
            .get_or_insert_with(|| LargeWrites::start(self.dest.clone(), self.fsync.clone()));
        if large.full.send(full).await.is_ok() {
            return Ok(large.emptied.try_recv().ok());
        }
        // The writer stopped at an error, which settling reports.
        self.settle().await?;
        Err(StoreError::Backend("blob write task stopped".into()))
    }

    /// Waits until everything shipped is written: the staging file, none before the first
    /// buffer was shipped.
    async fn settle(&mut self) -> Result<Option<Staged>, StoreError> {
        let Some(LargeWrites { full, task, .. }) = self.large.take() else {
            return Ok(None);
        };
        drop(full);
        let staged = task
            .await
            .map_err(|e| StoreError::Backend(format!("blob write task: {e}")))?
            .map_err(io_err)?;
        Ok(Some(staged))
    }
}

fn io_err(e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("blob write: {e}"))
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt as _;

    use super::super::Store;
    use super::super::conformance::bucket_record;

    fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    /// A large local blob goes through the writer's queue: what was written reads back
    /// exactly, and an abort with buffers still queued leaves no file behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queued_large_write_reads_back_and_an_aborted_one_leaves_no_file() {
        let root = std::env::temp_dir().join(format!("sealgate-blob-{}", uuid::Uuid::new_v4()));
        let store = Store::local(&root).unwrap();
        store.create_bucket(&bucket_record("queued")).await.unwrap();
        let data: Vec<u8> = (0..(super::LOCAL_QUEUE + 3) * (1 << 20) + 777)
            .map(|i| (i * 13 % 251) as u8)
            .collect();

        let g = Store::new_generation();
        let mut w = store.blob_writer("queued", &g, "1").await.unwrap();
        for chunk in data.chunks(65_552) {
            w.write(chunk).await.unwrap();
        }
        assert_eq!(w.finish().await.unwrap(), data.len() as u64);
        let chunks: Vec<bytes::Bytes> = store
            .read_blob("queued", &g, "1", 0..data.len() as u64)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert!(
            chunks.concat() == data,
            "the blob read back differs from what was written"
        );

        let g2 = Store::new_generation();
        let mut w = store.blob_writer("queued", &g2, "1").await.unwrap();
        for chunk in data.chunks(1 << 20) {
            w.write(chunk).await.unwrap();
        }
        w.abort().await.unwrap();
        let files = files_under(&root.join("data").join("queued"));
        let of = |generation: &str| -> Vec<_> {
            let gen_dir = root.join("data").join("queued").join(generation);
            files.iter().filter(|p| p.starts_with(&gen_dir)).collect()
        };
        assert_eq!(of(&g).len(), 1, "the finished blob is where the walk looks");
        assert!(of(&g2).is_empty(), "an aborted write left {:?}", of(&g2));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
