//! The `multipart/form-data` body of a POST Object, read as a stream.
//!
//! AWS reads a POST in three stretches, and so do we: the fields before `file` (small: their
//! names and values are limited to [`MAX_FIELDS_LEN`], the raw bytes before the file to
//! [`MAX_PRE_FILE_RAW`], so an unauthenticated client cannot make us hold more before its
//! signature is checked), the file itself (streamed piece by piece into the PUT pipeline, never
//! buffered), and whatever follows it (ignored, as AWS ignores fields after `file`, but read to
//! the end so a truncated body is an error and not an object).
//!
//! The multipart grammar is `multer`'s. Its buffer reads whatever the socket has ready, so the
//! body stream below yields to it every [`YIELD_EVERY`] bytes: that bounds what sits in memory
//! however fast the client sends.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body as _, Incoming};

use crate::s3::body_frames::BODY_IDLE_TIMEOUT;
use crate::s3::error::S3Error;

/// Largest total of field names and values before `file` (AWS: 20 KB).
pub(crate) const MAX_FIELDS_LEN: usize = 20 * 1024;
/// Largest raw body read before the file starts: the fields, their part headers and
/// boundaries, and the read-ahead of one socket read into the file.
const MAX_PRE_FILE_RAW: u64 = 1024 * 1024;
/// Largest raw body read after the file ends (ignored fields and the closing boundary).
const MAX_POST_FILE_RAW: u64 = 1024 * 1024;
/// The body stream pauses (and reschedules itself) after this many bytes in a row.
const YIELD_EVERY: u64 = 256 * 1024;

/// The field names and values before `file`, names in lower case (AWS matches them without
/// regard to case), in the order sent.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    /// The value of a field, by lower-case name.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Adds a field; a name sent twice is refused (which of the two would the policy cover?).
    pub(crate) fn push(&mut self, name: String, value: String) -> Result<(), S3Error> {
        if self.has(&name) {
            return Err(S3Error::invalid_argument_named(
                format!("Bucket POST must contain exactly one field named '{name}'."),
                name,
                value,
            ));
        }
        self.0.push((name, value));
        Ok(())
    }
}

/// How much of the body the reader may consume, shared with [`BodyStream`].
struct Budget {
    received: AtomicU64,
    limit: AtomicU64,
}

/// Why the body stream stopped; carried through `multer` and recovered by downcasting.
#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error("request body over the limit of its stretch")]
    OverLimit,
    #[error("request body ended abnormally")]
    Broken,
}

/// The request body as the `Stream` `multer` wants, metered by a [`Budget`]. The body sits in
/// a shared slot so that an error answer can still drain what the client is sending.
struct BodyStream {
    body: Arc<Mutex<Option<Incoming>>>,
    budget: Arc<Budget>,
    run: u64,
}

impl futures::Stream for BodyStream {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.run >= YIELD_EVERY {
            // Let the parser work through what it has before it reads more.
            this.run = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let mut slot = this.body.lock().unwrap_or_else(|p| p.into_inner());
        let Some(body) = slot.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(_))) => return Poll::Ready(Some(Err(StreamError::Broken))),
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let n = data.len() as u64;
                    let total = this.budget.received.fetch_add(n, Ordering::Relaxed) + n;
                    if total > this.budget.limit.load(Ordering::Relaxed) {
                        return Poll::Ready(Some(Err(StreamError::OverLimit)));
                    }
                    this.run += n;
                    return Poll::Ready(Some(Ok(data)));
                }
            }
        }
    }
}

/// Which stretch of the body is being read: decides what an over-limit body means.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stretch {
    Fields,
    File,
    After,
}

/// A POST body being read.
pub(crate) struct FormReader {
    multipart: multer::Multipart<'static>,
    body: Arc<Mutex<Option<Incoming>>>,
    budget: Arc<Budget>,
    stretch: Stretch,
}

/// The `file` part, streaming.
pub(crate) struct FilePart {
    field: multer::Field<'static>,
    /// The file name the client gave (`${filename}` in `key`), without any directory.
    pub(crate) file_name: String,
}

impl FormReader {
    /// Starts reading `body`, a form with this `boundary` (see [`boundary`]).
    pub(crate) fn new(boundary: String, body: Incoming) -> FormReader {
        let body = Arc::new(Mutex::new(Some(body)));
        let budget = Arc::new(Budget {
            received: AtomicU64::new(0),
            limit: AtomicU64::new(MAX_PRE_FILE_RAW),
        });
        let stream = BodyStream {
            body: body.clone(),
            budget: budget.clone(),
            run: 0,
        };
        FormReader {
            multipart: multer::Multipart::new(stream, boundary),
            body,
            budget,
            stretch: Stretch::Fields,
        }
    }

    /// Reads the fields up to the `file` part and returns both. A body without a file part
    /// is IncorrectNumberOfFilesInPostRequest.
    pub(crate) async fn fields_and_file(&mut self) -> Result<(Fields, FilePart), S3Error> {
        let mut fields = Fields::default();
        let mut total = 0usize;
        loop {
            let Some(mut field) = self.next_field().await? else {
                return Err(S3Error::IncorrectNumberOfFilesInPostRequest);
            };
            // A part without a name is no form field (RFC 7578 requires one).
            let name = field
                .name()
                .filter(|n| !n.is_empty())
                .ok_or(S3Error::MalformedPOSTRequest)?
                .to_ascii_lowercase();
            if name == "file" {
                let file_name = field.file_name().map(base_name).unwrap_or_default();
                // The file may be as large as S3 allows; the file source enforces the size.
                self.stretch = Stretch::File;
                self.budget.limit.store(u64::MAX, Ordering::Relaxed);
                return Ok((fields, FilePart { field, file_name }));
            }
            let mut value = Vec::new();
            total += name.len();
            while let Some(piece) = self.chunk(&mut field).await? {
                total += piece.len();
                if total > MAX_FIELDS_LEN {
                    return Err(S3Error::MaxPostPreDataLengthExceededError);
                }
                value.extend_from_slice(&piece);
            }
            if total > MAX_FIELDS_LEN {
                return Err(S3Error::MaxPostPreDataLengthExceededError);
            }
            let value = String::from_utf8(value).map_err(|_| S3Error::MalformedPOSTRequest)?;
            fields.push(name, value)?;
        }
    }

    /// The next piece of the file; `None` at its end.
    pub(crate) async fn file_chunk(
        &mut self,
        file: &mut FilePart,
    ) -> Result<Option<Bytes>, S3Error> {
        self.chunk(&mut file.field).await
    }

    /// Reads (and ignores) the rest of the form after the file, so that a body cut short is an
    /// error before anything is committed.
    pub(crate) async fn finish(&mut self, file: FilePart) -> Result<(), S3Error> {
        drop(file);
        self.stretch = Stretch::After;
        let seen = self.budget.received.load(Ordering::Relaxed);
        self.budget
            .limit
            .store(seen.saturating_add(MAX_POST_FILE_RAW), Ordering::Relaxed);
        while let Some(mut field) = self.next_field().await? {
            while self.chunk(&mut field).await?.is_some() {}
        }
        Ok(())
    }

    /// The body slot, for draining what the client still sends after an error.
    pub(crate) fn take_body(&self) -> Option<Incoming> {
        self.body.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    async fn next_field(&mut self) -> Result<Option<multer::Field<'static>>, S3Error> {
        let stretch = self.stretch;
        match tokio::time::timeout(BODY_IDLE_TIMEOUT, self.multipart.next_field()).await {
            Err(_) => Err(S3Error::RequestTimeout),
            Ok(r) => r.map_err(|e| form_error(e, stretch)),
        }
    }

    async fn chunk(&self, field: &mut multer::Field<'static>) -> Result<Option<Bytes>, S3Error> {
        match tokio::time::timeout(BODY_IDLE_TIMEOUT, field.chunk()).await {
            Err(_) => Err(S3Error::RequestTimeout),
            Ok(r) => r.map_err(|e| form_error(e, self.stretch)),
        }
    }
}

/// The boundary of a POST body from its `Content-Type`; anything but `multipart/form-data`
/// with a boundary is refused as AWS does (412 with the condition named).
pub(crate) fn boundary(content_type: Option<&str>) -> Result<String, S3Error> {
    let not_form = || S3Error::PreconditionFailed {
        condition: "Bucket POST must be of the enclosure-type multipart/form-data".into(),
    };
    let ct = content_type.ok_or_else(not_form)?;
    let essence = ct.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return Err(not_form());
    }
    multer::parse_boundary(ct).map_err(|_| S3Error::MalformedPOSTRequest)
}

/// The last path segment of a client-supplied file name (old browsers sent full paths).
fn base_name(name: &str) -> String {
    name.rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn form_error(e: multer::Error, stretch: Stretch) -> S3Error {
    if let multer::Error::StreamReadFailed(inner) = &e
        && let Some(s) = inner.downcast_ref::<StreamError>()
    {
        return match (s, stretch) {
            (StreamError::Broken, _) => S3Error::IncompleteBody,
            (StreamError::OverLimit, Stretch::Fields) => S3Error::MaxPostPreDataLengthExceededError,
            (StreamError::OverLimit, _) => S3Error::MalformedPOSTRequest,
        };
    }
    S3Error::MalformedPOSTRequest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_their_directories() {
        assert_eq!(base_name("photo.jpg"), "photo.jpg");
        assert_eq!(base_name("C:\\Users\\me\\photo.jpg"), "photo.jpg");
        assert_eq!(base_name("/tmp/a/b.txt"), "b.txt");
        assert_eq!(base_name(""), "");
    }

    #[test]
    fn only_form_data_is_a_post_object() {
        assert_eq!(
            boundary(Some("multipart/form-data; boundary=abc")).unwrap(),
            "abc"
        );
        assert_eq!(
            boundary(Some("Multipart/Form-Data; boundary=\"a b\"")).unwrap(),
            "a b"
        );
        for ct in [
            None,
            Some("application/x-www-form-urlencoded"),
            Some("text/plain"),
        ] {
            assert_eq!(
                boundary(ct).unwrap_err().code(),
                "PreconditionFailed",
                "{ct:?}"
            );
        }
        assert_eq!(
            boundary(Some("multipart/form-data")).unwrap_err().code(),
            "MalformedPOSTRequest"
        );
    }

    #[test]
    fn duplicate_fields_are_refused() {
        let mut f = Fields::default();
        f.push("key".into(), "a".into()).unwrap();
        let e = f.push("key".into(), "b".into()).unwrap_err();
        assert_eq!(e.code(), "InvalidArgument");
        assert_eq!(f.get("key"), Some("a"));
    }
}
