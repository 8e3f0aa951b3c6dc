//! Observation of one S3 request: operation, status, latency, payload bytes and SSE mode.
//!
//! `s3::handle` starts a [`Probe`] when a request arrives, tells it the routed endpoint, and
//! hands it the finished response; everything else about S3 metrics lives here.

use std::time::Instant;

use http::{HeaderMap, Response};
use http_body_util::BodyExt;

use crate::gateway::Gateway;
use crate::meta::Sealing;
use crate::s3::router::Endpoint;
use crate::server::Body;

/// What is known about a request before its handler runs.
pub struct Probe {
    started: Instant,
    operation: &'static str,
    /// Payload length the client declared (decoded length for aws-chunked uploads).
    declared_len: Option<u64>,
    /// Bucket and key of a CompleteMultipartUpload (see [`written_mode`]).
    completed: Option<(String, String)>,
}

impl Probe {
    pub fn start(headers: &HeaderMap) -> Probe {
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
            completed: None,
        }
    }

    pub fn routed(&mut self, endpoint: &Endpoint) {
        self.operation = endpoint.name();
        if let Endpoint::CompleteMultipartUpload { bucket, key, .. } = endpoint {
            self.completed = Some((bucket.clone(), key.clone()));
        }
    }

    /// Records the request and returns the response, its body metered when it carries object
    /// payload (GetObject).
    pub async fn finish(self, gw: &Gateway, resp: Response<Body>) -> Response<Body> {
        let m = &gw.metrics;
        let op = self.operation;
        let status = resp.status();
        m.s3_requests.with([op, status.as_str()]).inc();
        m.s3_duration.with([op]).observe(self.started.elapsed());
        if !status.is_success() {
            return resp;
        }
        match op {
            "PutObject" | "UploadPart" => {
                m.s3_bytes_received
                    .with([op])
                    .add(self.declared_len.unwrap_or(0));
            }
            _ => {}
        }
        match op {
            "PutObject" | "CopyObject" | "CompleteMultipartUpload" => {
                let mode = match header_mode(resp.headers()) {
                    Some(mode) => mode,
                    None => written_mode(gw, self.completed.as_ref()).await,
                };
                m.sse_written.with([mode]).inc();
            }
            "GetObject" => {
                m.sse_read
                    .with([header_mode(resp.headers()).unwrap_or("none")])
                    .inc();
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

/// The SSE mode the response headers describe (every handler describes the stored object
/// through `sse::describe`), or `None` when they name none.
fn header_mode(h: &HeaderMap) -> Option<&'static str> {
    if h.contains_key("x-amz-server-side-encryption-customer-algorithm") {
        return Some("SSE-C");
    }
    match h
        .get("x-amz-server-side-encryption")
        .and_then(|v| v.to_str().ok())
    {
        Some("AES256") => Some("SSE-S3"),
        Some(v) if v.starts_with("aws:kms") => Some("SSE-KMS"),
        _ => None,
    }
}

/// The mode of a write whose response names none: a plaintext object, except for
/// CompleteMultipartUpload, which by AWS's rule never echoes SSE-C headers; for it the new
/// meta record is read back (one small read per completed upload).
async fn written_mode(gw: &Gateway, completed: Option<&(String, String)>) -> &'static str {
    let Some((bucket, key)) = completed else {
        return "none";
    };
    match gw.store.get_meta(bucket, key).await {
        Ok(Some(meta)) => sealing_mode(&meta.sealing),
        _ => "none",
    }
}

pub fn sealing_mode(s: &Sealing) -> &'static str {
    match s {
        Sealing::None => "none",
        Sealing::SseS3 { .. } => "SSE-S3",
        Sealing::SseKms { .. } => "SSE-KMS",
        Sealing::SseC { .. } => "SSE-C",
    }
}
