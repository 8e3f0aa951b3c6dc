//! Ranged reads of blobs, pulled by the caller one batch at a time.
//!
//! A GET holds what it has read and not yet sent, and a client that stops reading holds it for
//! as long as it stays connected, so the reader decides how much to read next ([`BlobReader::
//! next`]) rather than a stream reading ahead on its own. On the local filesystem a batch is
//! one blocking task that reads consecutive records (sealed segments) into one buffer each: a
//! record waiting to be sent pins only its own memory, never the rest of its batch (with one
//! shared buffer per 256 KiB, each 64 KiB slice kept the whole buffer alive). At most
//! [`FILE_READS`] such tasks run at once: every blocking thread that allocates read buffers
//! gets a malloc arena of its own, and a hundred clients starting GETs together used to spread
//! their buffers over as many threads and arenas, memory that stays mapped afterwards.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt};
use tokio::sync::Semaphore;

use super::{StoreError, backend_err};

/// Local blob reads running at once. Each is a memory copy from the page cache (or a disk
/// read), so a few per core keep both busy; more only add threads.
const FILE_READS: usize = 8;
static FILE_READ_SLOTS: Semaphore = Semaphore::const_new(FILE_READS);

/// `range` of one blob, read front to back.
pub(crate) struct BlobReader(Source);

enum Source {
    File {
        file: Arc<std::fs::File>,
        at: u64,
        end: u64,
        record_len: usize,
    },
    /// A remote backend's response body keeps its own chunking.
    Stream(BoxStream<'static, Result<Bytes, StoreError>>),
    Done,
}

impl BlobReader {
    /// The next bytes, `None` at the end of the range. A local file gives up to `records`
    /// records of `record_len` bytes (the last may be shorter), each a buffer nothing else
    /// shares, so the caller may decrypt it in place; a remote stream gives its next chunk.
    pub(crate) async fn next(&mut self, records: usize) -> Option<Result<Vec<Bytes>, StoreError>> {
        match &mut self.0 {
            Source::Done => None,
            Source::Stream(s) => s.next().await.map(|r| r.map(|b| vec![b])),
            Source::File {
                file,
                at,
                end,
                record_len,
            } => {
                if *at >= *end {
                    return None;
                }
                let len = (*end - *at).min((records.max(1) * *record_len) as u64);
                let read =
                    read_records(Arc::clone(file), *at, len as usize, *record_len, *end).await;
                // An error ends the range: nothing after it is read.
                *at = if read.is_ok() { *at + len } else { *end };
                Some(read)
            }
        }
    }

    /// The rest of the range as a stream of `records`-record batches, one `Bytes` per record.
    pub(crate) fn into_stream(
        self,
        records: usize,
    ) -> BoxStream<'static, Result<Bytes, StoreError>> {
        futures::stream::unfold(self, move |mut reader| async move {
            let batch = reader.next(records).await?;
            Some((batch, reader))
        })
        .flat_map(|batch| {
            let items: Vec<Result<Bytes, StoreError>> = match batch {
                Ok(records) => records.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(items)
        })
        .boxed()
    }
}

/// Reads `len` bytes at `at` in one blocking task, into buffers of `record_len` bytes.
/// `end` is only for the error message.
async fn read_records(
    file: Arc<std::fs::File>,
    at: u64,
    len: usize,
    record_len: usize,
    end: u64,
) -> Result<Vec<Bytes>, StoreError> {
    use std::os::unix::fs::FileExt as _;
    let _slot = FILE_READ_SLOTS
        .acquire()
        .await
        .map_err(|e| StoreError::Backend(format!("blob read slots: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let mut records = Vec::with_capacity(len.div_ceil(record_len));
        let mut offset = at;
        let mut left = len;
        while left > 0 {
            let n = left.min(record_len);
            let mut buf = BytesMut::zeroed(n);
            file.read_exact_at(&mut buf, offset)?;
            records.push(buf.freeze());
            offset += n as u64;
            left -= n;
        }
        Ok(records)
    })
    .await
    .map_err(|e| StoreError::Backend(format!("blob read task: {e}")))?
    .map_err(|e: std::io::Error| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            StoreError::Corrupt(format!("blob ended before byte {end}"))
        }
        _ => StoreError::Backend(format!("blob read: {e}")),
    })
}

/// Opens `range` of the blob at `path` for reading in records of `record_len` bytes (on the
/// local filesystem). A blob shorter than the range is `Corrupt`: the caller computed the range
/// from the meta record, so the two disagree.
pub(super) async fn open(
    os: &Arc<dyn ObjectStore>,
    path: &Path,
    range: std::ops::Range<u64>,
    record_len: usize,
) -> Result<BlobReader, StoreError> {
    if range.start > range.end {
        return Err(StoreError::Corrupt(format!("inverted range {range:?}")));
    }
    if range.is_empty() {
        // object_store refuses empty ranges; still report a missing blob as missing.
        let head = os.head(path).await.map_err(backend_err)?;
        if head.size < range.end {
            return Err(short_blob(head.size, &range));
        }
        return Ok(BlobReader(Source::Done));
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
    Ok(BlobReader(match result.payload {
        GetResultPayload::File(file, _) => Source::File {
            file: Arc::new(file),
            at: range.start,
            end: range.end,
            record_len: record_len.max(1),
        },
        GetResultPayload::Stream(s) => Source::Stream(s.map(|r| r.map_err(backend_err)).boxed()),
    }))
}

fn short_blob(size: u64, range: &std::ops::Range<u64>) -> StoreError {
    StoreError::Corrupt(format!("blob of {size} bytes cannot serve range {range:?}"))
}
