//! Observation of one S3 request: operation, status, latency, payload bytes and SSE mode.
//!
//! `s3::handle` starts a [`Probe`] when a request arrives, tells it the routed operation, and
//! hands it the finished response; everything else about S3 metrics lives here. The probe reads
//! only facts: the SSE mode a handler wrote or read is an [`SseFact`] it put in the response's
//! extensions, never something re-derived from headers or the store.

use std::time::Instant;

use http::{HeaderMap, Response};
use http_body_util::BodyExt;

use super::Metrics;
use crate::meta::Sealing;
use crate::server::Body;

/// The SSE mode of the object a response wrote or read (a label of [`super::SSE_MODES`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SseFact(pub &'static str);

impl SseFact {
    /// Records that `resp` wrote or read an object sealed as `sealing`.
    pub(crate) fn attach<B>(resp: &mut Response<B>, sealing: &Sealing) {
        resp.extensions_mut().insert(SseFact(sealing_mode(sealing)));
    }
}

/// What is known about a request before its handler runs.
pub(crate) struct Probe {
    started: Instant,
    operation: &'static str,
    /// Payload length the client declared (decoded length for aws-chunked uploads).
    declared_len: Option<u64>,
}

impl Probe {
    pub(crate) fn start(headers: &HeaderMap) -> Probe {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        Probe {
            started: Instant::now(),
            operation: "unknown",
            declared_len: num("x-amz-decoded-content-length").or_else(|| num("content-length")),
        }
    }

    /// The operation the router chose (`Endpoint::name`).
    pub(crate) fn routed(&mut self, operation: &'static str) {
        self.operation = operation;
    }

    /// Records the request and returns the response, its body metered when it carries object
    /// payload (GetObject).
    pub(crate) fn finish(self, m: &Metrics, resp: Response<Body>) -> Response<Body> {
        let op = self.operation;
        let status = resp.status();
        m.s3_requests.with([op, status.as_str()]).inc();
        m.s3_duration.with([op]).observe(self.started.elapsed());
        if !status.is_success() {
            return resp;
        }
        let mode = resp
            .extensions()
            .get::<SseFact>()
            .map_or("none", |fact| fact.0);
        match op {
            "PutObject" | "UploadPart" => {
                m.s3_bytes_received
                    .with([op])
                    .add(self.declared_len.unwrap_or(0));
            }
            _ => {}
        }
        match op {
            "PutObject" | "PostObject" | "CopyObject" | "CompleteMultipartUpload" => {
                m.sse_written.with([mode]).inc();
            }
            "GetObject" => {
                m.sse_read.with([mode]).inc();
                let sent = m.s3_bytes_sent.with([op]);
                return resp.map(|body| {
                    body.map_frame(move |frame| {
                        if let Some(data) = frame.data_ref() {
                            sent.add(data.len() as u64);
                        }
                        frame
                    })
                    .boxed()
                });
            }
            _ => {}
        }
        resp
    }
}

pub(crate) fn sealing_mode(s: &Sealing) -> &'static str {
    match s {
        Sealing::None => "none",
        Sealing::SseS3 { .. } => "SSE-S3",
        Sealing::SseKms { .. } => "SSE-KMS",
        Sealing::SseC { .. } => "SSE-C",
    }
}
