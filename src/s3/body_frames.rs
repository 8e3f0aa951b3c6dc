//! The data frames of a request body, read ahead of the handler for large bodies.
//!
//! hyper's HTTP/1 connection task reads a body only while the handler waits for the next
//! frame: the two take turns, so the socket read and TLS open of one frame never overlap the
//! hashing and sealing of the one before, and every frame costs a wake-up on each side. For a
//! large body a task of its own drains the frames into a short queue instead, so receiving
//! (that task and the connection's, which wake each other on one thread) and consuming (the
//! handler) run at once on different cores. Small bodies keep the direct path: the extra task
//! would cost more than it overlaps.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::mpsc;

use crate::s3::error::S3Error;

/// How long a client may stay silent in the middle of a body.
pub(crate) const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Bodies at least this long are read ahead.
const READ_AHEAD_FROM: u64 = 1024 * 1024;

/// Frames read ahead of the handler. hyper hands over what one socket read produced (at most
/// its read buffer, 400 KiB by default), so this bounds a request's queued bytes to a few MiB.
const QUEUED_FRAMES: usize = 4;

pub(crate) struct BodyFrames(Source);

enum Source {
    Direct(Incoming),
    ReadAhead(mpsc::Receiver<Result<Bytes, S3Error>>),
}

impl BodyFrames {
    /// `declared_len` is the length the request announced, if any; an unannounced length is
    /// read directly (S3 requires one for every large upload).
    pub(crate) fn new(body: Incoming, declared_len: Option<u64>) -> BodyFrames {
        if declared_len.is_some_and(|l| l >= READ_AHEAD_FROM) {
            let (tx, rx) = mpsc::channel(QUEUED_FRAMES);
            tokio::spawn(read_ahead(body, tx));
            BodyFrames(Source::ReadAhead(rx))
        } else {
            BodyFrames(Source::Direct(body))
        }
    }

    /// The next data frame; `Ok(None)` at the end of the body.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>, S3Error> {
        match &mut self.0 {
            Source::Direct(body) => next_data(body).await,
            Source::ReadAhead(rx) => rx.recv().await.transpose(),
        }
    }
}

/// Reads frames while the queue has room. Ends when the body ends (closing the queue), on the
/// first error (queued last), or as soon as the handler drops the queue: then the body is
/// dropped too, as if the handler had dropped it.
async fn read_ahead(mut body: Incoming, tx: mpsc::Sender<Result<Bytes, S3Error>>) {
    loop {
        let Ok(permit) = tx.reserve().await else {
            return;
        };
        let next = tokio::select! {
            next = next_data(&mut body) => next,
            () = tx.closed() => return,
        };
        match next {
            Ok(Some(data)) => permit.send(Ok(data)),
            Ok(None) => return,
            Err(e) => {
                permit.send(Err(e));
                return;
            }
        }
    }
}

async fn next_data(body: &mut Incoming) -> Result<Option<Bytes>, S3Error> {
    loop {
        let frame = tokio::time::timeout(BODY_IDLE_TIMEOUT, body.frame())
            .await
            .map_err(|_| S3Error::RequestTimeout)?;
        match frame {
            None => return Ok(None),
            Some(Err(_)) => return Err(S3Error::IncompleteBody),
            Some(Ok(f)) => {
                if let Ok(data) = f.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}
