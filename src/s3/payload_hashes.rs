//! The digests a payload needs (its signed SHA-256, the MD5 of an ETag or Content-MD5, a
//! flexible checksum), computed beside the request rather than on its task when that pays.
//!
//! MD5 and the SHA family cost a core-second per 0.4-0.7 GB: on a large body they are most
//! of a PUT's CPU, and they are serial (one state per payload). Run on the handler's task they
//! take turns with everything else the request does, because tokio runs a task woken by
//! another one on the waker's own worker next (its LIFO slot), so the connection's socket
//! reads and TLS open, the hashing and the sealing stage mostly share one thread. A blocking
//! thread of its own, fed through a short queue, puts the hashing on the other core.

use bytes::Bytes;
use md5::{Digest, Md5};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::checksum::{self, ChecksumAlgorithm};
use crate::s3::error::S3Error;

/// Payloads at least this long are hashed apart, when a costly digest is wanted.
const APART_FROM: u64 = 1024 * 1024;

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

impl Hashing {
    /// `checksum_alg` is the flexible checksum in `hashes.checksum`, if any.
    pub(crate) fn start(
        hashes: Hashes,
        checksum_alg: Option<ChecksumAlgorithm>,
        declared_len: Option<u64>,
    ) -> Hashing {
        let costly = hashes.sha256.is_some()
            || hashes.md5.is_some()
            || matches!(
                checksum_alg,
                Some(ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256)
            );
        if !costly || declared_len.is_none_or(|l| l < APART_FROM) {
            return Hashing::Here {
                hashes: Box::new(hashes),
                costly,
            };
        }
        let (queue, mut pieces) = mpsc::channel::<Bytes>(QUEUED_PIECES);
        let thread = tokio::task::spawn_blocking(move || {
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
