//! Streaming writes and ranged reads of ciphertext blobs.
//!
//! Writes go through `object_store`'s `BufWriter`: up to `capacity` bytes are buffered and
//! published with one atomic put; beyond that the blob streams as a multipart upload in
//! `capacity`-sized parts, at most [`MAX_PARTS_IN_FLIGHT`] at a time. Memory per writer is thus
//! bounded by `capacity × (MAX_PARTS_IN_FLIGHT + 1)`. On the local filesystem both paths write
//! a staging file and rename it into place, so a blob is never seen half-written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt};
use tokio::io::AsyncWriteExt;

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
    inner: BufWriter,
    written: u64,
    bucket: String,
    generation: String,
    recent: Arc<RecentGenerations>,
}

impl BlobWriter {
    pub(super) fn new(
        os: Arc<dyn ObjectStore>,
        path: Path,
        capacity: usize,
        bucket: &str,
        generation: &str,
        recent: Arc<RecentGenerations>,
    ) -> Self {
        recent.touch(bucket, generation);
        let inner =
            BufWriter::with_capacity(os, path, capacity).with_max_concurrency(MAX_PARTS_IN_FLIGHT);
        Self {
            inner,
            written: 0,
            bucket: bucket.to_string(),
            generation: generation.to_string(),
            recent,
        }
    }

    /// Appends `data`; waits when the writer's in-flight parts are at their limit.
    pub(crate) async fn write(&mut self, data: Bytes) -> Result<(), StoreError> {
        self.written += data.len() as u64;
        if data.is_empty() {
            return Ok(());
        }
        self.inner.put(data).await.map_err(backend_err)
    }

    /// Publishes the blob and returns its size in bytes.
    pub(crate) async fn finish(mut self) -> Result<u64, StoreError> {
        self.inner
            .shutdown()
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        self.recent.touch(&self.bucket, &self.generation);
        Ok(self.written)
    }

    /// Discards everything written so far.
    pub(crate) async fn abort(mut self) -> Result<(), StoreError> {
        self.inner.abort().await.map_err(backend_err)
    }
}

/// Streams `range` of the blob at `path`, in chunks of `chunk_len` bytes when the blob is a
/// local file (a remote backend's stream keeps its own chunking). A blob shorter than the range
/// is `Corrupt`: the caller computed the range from the meta record, so the two disagree.
pub(super) async fn read(
    os: &Arc<dyn ObjectStore>,
    path: &Path,
    range: std::ops::Range<u64>,
    chunk_len: usize,
) -> Result<BoxStream<'static, Result<Bytes, StoreError>>, StoreError> {
    if range.start > range.end {
        return Err(StoreError::Corrupt(format!("inverted range {range:?}")));
    }
    if range.is_empty() {
        // object_store refuses empty ranges; still report a missing blob as missing.
        let head = os.head(path).await.map_err(backend_err)?;
        if head.size < range.end {
            return Err(short_blob(head.size, &range));
        }
        return Ok(futures::stream::empty().boxed());
    }
    let opts = GetOptions {
        range: Some(GetRange::Bounded(range.clone())),
        ..Default::default()
    };
    let result = match os.get_opts(path, opts).await {
        Ok(r) => r,
        Err(object_store::Error::NotFound { .. }) => return Err(StoreError::NotFound),
        Err(e) => {
            // A start beyond the end is an error in object_store; tell it apart from an outage.
            if let Ok(head) = os.head(path).await
                && head.size < range.end
            {
                return Err(short_blob(head.size, &range));
            }
            return Err(backend_err(e));
        }
    };
    if result.range != range {
        return Err(short_blob(result.meta.size, &range));
    }
    match result.payload {
        GetResultPayload::File(file, _) => Ok(file_chunks(file, range, chunk_len.max(1))),
        GetResultPayload::Stream(s) => Ok(s.map(|r| r.map_err(backend_err)).boxed()),
    }
}

/// `range` of a local file, `chunk_len` bytes per read, each read a blocking task.
/// object_store's own stream reads 8 KiB per blocking task, which made the task hand-offs and
/// allocations most of a large GET's CPU (docs/PERFORMANCE.md); and a chunk that holds whole
/// sealed segments is decrypted in its own memory. Each chunk is a fresh buffer that nothing
/// else shares, so the reader may decrypt it in place.
fn file_chunks(
    file: std::fs::File,
    range: std::ops::Range<u64>,
    chunk_len: usize,
) -> BoxStream<'static, Result<Bytes, StoreError>> {
    use std::os::unix::fs::FileExt as _;
    let file = Arc::new(file);
    let end = range.end;
    futures::stream::try_unfold(range.start, move |at| {
        let file = Arc::clone(&file);
        async move {
            if at >= end {
                return Ok(None);
            }
            let len = (end - at).min(chunk_len as u64) as usize;
            let chunk = tokio::task::spawn_blocking(move || {
                let mut buf = bytes::BytesMut::zeroed(len);
                file.read_exact_at(&mut buf, at).map(|()| buf.freeze())
            })
            .await
            .map_err(|e| StoreError::Backend(format!("blob read task: {e}")))?
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    StoreError::Corrupt(format!("blob ended before byte {end}"))
                }
                _ => StoreError::Backend(format!("blob read: {e}")),
            })?;
            Ok(Some((chunk, at + len as u64)))
        }
    })
    .boxed()
}

fn short_blob(size: u64, range: &std::ops::Range<u64>) -> StoreError {
    StoreError::Corrupt(format!("blob of {size} bytes cannot serve range {range:?}"))
}
