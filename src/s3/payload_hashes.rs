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
    /// The digests in groups that may run on threads of their own: the MD5 apart from the
    /// SHA-256 and the checksum when both are wanted (a client that signs its payload on a
    /// bucket whose ETag is the MD5: the two cost 1.5 and 0.6 s of CPU per GB, and one thread
    /// doing both was the PUT's slowest stage); else one group.
    fn split(self) -> Vec<Hashes> {
        if self.md5.is_none() || !self.costly_besides_md5() {
            return vec![self];
        }
        vec![
            Hashes {
                sha256: None,
                md5: self.md5,
                checksum: None,
            },
            Hashes {
                sha256: self.sha256,
                md5: None,
                checksum: self.checksum,
            },
        ]
    }

    /// Whether a digest other than the MD5 costs much CPU: the SHA-256 or a SHA checksum (the
    /// CRCs are cheap).
    fn costly_besides_md5(&self) -> bool {
        self.sha256.is_some()
            || self.checksum.as_ref().is_some_and(|c| {
                matches!(
                    c.algorithm(),
                    ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256
                )
            })
    }

    /// Takes the digests `other` computed.
    fn merge(&mut self, other: Hashes) {
        self.sha256 = self.sha256.take().or(other.sha256);
        self.md5 = self.md5.take().or(other.md5);
        self.checksum = self.checksum.take().or(other.checksum);
    }

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
    /// One thread per group of digests (see [`Hashes::split`]), each fed every piece.
    Apart(Vec<Thread>),
}

/// A hashing thread and its queue.
pub(crate) struct Thread {
    queue: mpsc::Sender<Bytes>,
    handle: JoinHandle<Hashes>,
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
    /// Starts computing `hashes` for a payload of `declared_len` bytes: on a thread (or two)
    /// apart when it is large and a digest is costly, else on the calling task.
    pub(crate) fn start(hashes: Hashes, declared_len: Option<u64>) -> Hashing {
        Hashing::start_within(hashes, declared_len, &APART)
    }

    fn start_within(hashes: Hashes, declared_len: Option<u64>, slots: &'static Slots) -> Hashing {
        let costly = hashes.md5.is_some() || hashes.costly_besides_md5();
        let worth_it = costly && declared_len.is_some_and(|l| l >= APART_FROM);
        let Some(first) = worth_it.then(|| slots.take()).flatten() else {
            return Hashing::Here {
                hashes: Box::new(hashes),
                costly,
            };
        };
        let mut groups = hashes.split();
        let mut taken = vec![first];
        while taken.len() < groups.len() {
            match slots.take() {
                Some(slot) => taken.push(slot),
                // Out of threads: the groups left join the first one.
                None => {
                    for rest in groups.split_off(taken.len()) {
                        groups[0].merge(rest);
                    }
                }
            }
        }
        let threads = groups
            .into_iter()
            .zip(taken)
            .map(|(mut hashes, slot)| {
                let (queue, mut pieces) = mpsc::channel::<Bytes>(QUEUED_PIECES);
                let handle = tokio::task::spawn_blocking(move || {
                    let _slot = slot;
                    while let Some(piece) = pieces.blocking_recv() {
                        hashes.update(&piece);
                    }
                    hashes
                });
                Thread { queue, handle }
            })
            .collect();
        Hashing::Apart(threads)
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
            Hashing::Apart(threads) => {
                for t in threads {
                    t.queue.send(data.clone()).await.map_err(|_| {
                        S3Error::InternalError("the payload's hashing thread ended".into())
                    })?;
                }
                Ok(())
            }
        }
    }

    /// The digests of everything given to `update`.
    pub(crate) async fn finish(self) -> Result<Hashes, S3Error> {
        match self {
            Hashing::Here { hashes, .. } => Ok(*hashes),
            Hashing::Apart(threads) => {
                let mut all = Hashes {
                    sha256: None,
                    md5: None,
                    checksum: None,
                };
                for Thread { queue, handle } in threads {
                    drop(queue);
                    all.merge(handle.await.map_err(|e| {
                        S3Error::InternalError(format!("the payload's hashing thread: {e}"))
                    })?);
                }
                Ok(all)
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
        matches!(h, Hashing::Apart(_))
    }

    /// Past the bound a payload is hashed on its task, with the same digest; a finished one
    /// gives its thread back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_the_bound_hash_apart_and_the_rest_alike() {
        static SLOTS: Slots = Slots::new(3);
        let big = Some(APART_FROM);
        let mut all: Vec<Hashing> = (0..5)
            .map(|_| Hashing::start_within(with_md5(), big, &SLOTS))
            .collect();
        assert_eq!(all.iter().filter(|h| apart(h)).count(), 3);
        let small = Hashing::start_within(with_md5(), Some(APART_FROM - 1), &SLOTS);
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
        assert!(apart(&Hashing::start_within(with_md5(), big, &SLOTS)));
    }

    /// MD5 and SHA-256 together run on two threads, with the digests of one; with one thread
    /// left they share it, alike.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn md5_and_sha256_split_across_threads_and_merge_back() {
        static SLOTS: Slots = Slots::new(3);
        let both = || Hashes {
            sha256: Some(Sha256::new()),
            md5: Some(Md5::new()),
            checksum: None,
        };
        let big = Some(APART_FROM);
        let two = Hashing::start_within(both(), big, &SLOTS);
        assert!(matches!(&two, Hashing::Apart(t) if t.len() == 2));
        let one = Hashing::start_within(both(), big, &SLOTS);
        assert!(matches!(&one, Hashing::Apart(t) if t.len() == 1));
        assert_eq!(SLOTS.used.load(Ordering::Acquire), 3);
        let data = Bytes::from(vec![7u8; 3 << 20]);
        for mut h in [two, one] {
            for piece in data.chunks(70_000) {
                h.update(&data.slice_ref(piece)).await.unwrap();
            }
            let got = h.finish().await.unwrap();
            let md5: [u8; 16] = got.md5.unwrap().finalize().into();
            let sha: [u8; 32] = got.sha256.unwrap().finalize().into();
            assert_eq!(md5, <[u8; 16]>::from(Md5::digest(&data[..])));
            assert_eq!(sha, <[u8; 32]>::from(Sha256::digest(&data[..])));
        }
        assert_eq!(SLOTS.used.load(Ordering::Acquire), 0);
    }
}
