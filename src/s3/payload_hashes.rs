//! The digests a payload needs (its signed SHA-256, the MD5 of an ETag or Content-MD5, a
//! flexible checksum), computed beside the request rather than on its task when that pays.
//!
//! MD5 and the SHA family cost a core-second per 0.4-0.7 GB: on a large body they are most
//! of a PUT's CPU, and they are serial (one state per payload). Run on the handler's task they
//! take turns with everything else the request does, because tokio runs a task woken by
//! another one on the waker's own worker next (its LIFO slot), so the connection's socket
//! reads and TLS open, the hashing and the sealing stage mostly share one thread. A blocking
//! thread of its own, fed through a short queue, puts the hashing on the other core.

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use md5::{Digest, Md5};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::checksum::{self, ChecksumAlgorithm};
use crate::s3::error::S3Error;

/// Payloads at least this long are hashed apart, when a costly digest is wanted.
const APART_FROM: u64 = 1024 * 1024;

/// Payloads hashed apart at once, over the whole process. Each holds a thread of tokio's
/// blocking pool, which the store's writes need too: were the pool full of hashing threads
/// waiting for pieces whose handlers wait for a write, no upload could move. Past the limit a
/// payload is hashed on its task as before (more threads would not find more cores anyway).
static APART: Slots = Slots::new(32);

/// Pieces queued for the hashing thread. The pieces are shared with the write path (reference
/// counted), so the queue holds no copies; a short one is enough to keep the thread busy.
const QUEUED_PIECES: usize = 16;

/// The running digests of one payload.
pub(crate) struct Hashes {
    pub(crate) sha256: Option<Sha256>,
    pub(crate) md5: Option<Md5>,
    pub(crate) checksum: Option<checksum::Hasher>,
}

impl Hashes {
    fn update(&mut self, data: &[u8]) {
        if let Some(h) = self.sha256.as_mut() {
            h.update(data);
        }
        if let Some(m) = self.md5.as_mut() {
            m.update(data);
        }
        if let Some(c) = self.checksum.as_mut() {
            c.update(data);
        }
    }
}

/// Where the digests of a payload are being computed.
pub(crate) enum Hashing {
    Here {
        hashes: Box<Hashes>,
        costly: bool,
    },
    Apart {
        queue: mpsc::Sender<Bytes>,
        thread: JoinHandle<Hashes>,
    },
}

/// A bound on the threads in use: taken with [`Slots::take`], given back when the [`Slot`] is
/// dropped.
pub(crate) struct Slots {
    used: AtomicUsize,
    max: usize,
}

impl Slots {
    pub(crate) const fn new(max: usize) -> Slots {
        Slots {
            used: AtomicUsize::new(0),
            max,
        }
    }

    fn take(&'static self) -> Option<Slot> {
        let before = self.used.fetch_add(1, Ordering::AcqRel);
        if before >= self.max {
            self.used.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(self))
    }
}

struct Slot(&'static Slots);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.used.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Hashing {
    /// `checksum_alg` is the flexible checksum in `hashes.checksum`, if any.
    pub(crate) fn start(
        hashes: Hashes,
        checksum_alg: Option<ChecksumAlgorithm>,
        declared_len: Option<u64>,
    ) -> Hashing {
        Hashing::start_within(hashes, checksum_alg, declared_len, &APART)
    }

    fn start_within(
        hashes: Hashes,
        checksum_alg: Option<ChecksumAlgorithm>,
        declared_len: Option<u64>,
        slots: &'static Slots,
    ) -> Hashing {
        let costly = hashes.sha256.is_some()
            || hashes.md5.is_some()
            || matches!(
                checksum_alg,
                Some(ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256)
            );
        let worth_it = costly && declared_len.is_some_and(|l| l >= APART_FROM);
        let Some(slot) = worth_it.then(|| slots.take()).flatten() else {
            return Hashing::Here {
                hashes: Box::new(hashes),
                costly,
            };
        };
        let (queue, mut pieces) = mpsc::channel::<Bytes>(QUEUED_PIECES);
        let thread = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let mut hashes = hashes;
            while let Some(piece) = pieces.blocking_recv() {
                hashes.update(&piece);
            }
            hashes
        });
        Hashing::Apart { queue, thread }
    }

    /// Whether `update` costs the calling task much CPU (a costly digest computed here).
    pub(crate) fn costly_here(&self) -> bool {
        matches!(self, Hashing::Here { costly: true, .. })
    }

    pub(crate) async fn update(&mut self, data: &Bytes) -> Result<(), S3Error> {
        match self {
            Hashing::Here { hashes, .. } => {
                hashes.update(data);
                Ok(())
            }
            Hashing::Apart { queue, .. } => queue
                .send(data.clone())
                .await
                .map_err(|_| S3Error::InternalError("the payload's hashing thread ended".into())),
        }
    }

    /// The digests of everything given to `update`.
    pub(crate) async fn finish(self) -> Result<Hashes, S3Error> {
        match self {
            Hashing::Here { hashes, .. } => Ok(*hashes),
            Hashing::Apart { queue, thread } => {
                drop(queue);
                thread.await.map_err(|e| {
                    S3Error::InternalError(format!("the payload's hashing thread: {e}"))
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_md5() -> Hashes {
        Hashes {
            sha256: None,
            md5: Some(Md5::new()),
            checksum: None,
        }
    }

    fn apart(h: &Hashing) -> bool {
        matches!(h, Hashing::Apart { .. })
    }

    /// Past the bound a payload is hashed on its task, with the same digest; a finished one
    /// gives its thread back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_the_bound_hash_apart_and_the_rest_alike() {
        static SLOTS: Slots = Slots::new(3);
        let big = Some(APART_FROM);
        let mut all: Vec<Hashing> = (0..5)
            .map(|_| Hashing::start_within(with_md5(), None, big, &SLOTS))
            .collect();
        assert_eq!(all.iter().filter(|h| apart(h)).count(), 3);
        let small = Hashing::start_within(with_md5(), None, Some(APART_FROM - 1), &SLOTS);
        assert!(!apart(&small));
        let data = Bytes::from_static(b"the same payload for every one");
        let mut digests = Vec::new();
        for mut h in all.drain(..) {
            h.update(&data).await.unwrap();
            let md5: [u8; 16] = h.finish().await.unwrap().md5.unwrap().finalize().into();
            digests.push(md5);
        }
        let expected: [u8; 16] = Md5::digest(&data[..]).into();
        assert!(digests.iter().all(|d| *d == expected));
        assert_eq!(SLOTS.used.load(Ordering::Acquire), 0);
        assert!(apart(&Hashing::start_within(with_md5(), None, big, &SLOTS)));
    }
}
