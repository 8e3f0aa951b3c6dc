//! [`S3Client`]: the few S3 calls the command line needs (PUT, GET, HEAD, DELETE object,
//! CreateBucket, and the calls of a multipart upload and of resuming one), path-style, SigV4-signed with [`crate::sigv4::sign_request`] over an
//! [`HttpEndpoint`]. Whole bodies are buffered: callers cap what they send and accept.
//!
//! A key with a `.` or `..` path segment (`a/../b`) is refused before sending: the HTTP
//! client's URL parser would resolve the segment away and address another key.
//!
//! Answers are returned as they came (status, headers, body); [`S3Response::error_code`] reads
//! the `<Code>` of an S3 error body so callers can report `403 AccessDenied` and the like.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::http_client::{EndpointError, HttpEndpoint};
use crate::sigv4;

/// Characters left as they are in a path-style object path: S3's unreserved set and `/`.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Characters left as they are in a query name or value: S3's unreserved set only.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Bound on one request, connect to last body byte (large objects over a slow link need more).
const TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub(crate) enum S3ClientError {
    #[error("{0}")]
    Endpoint(#[from] EndpointError),
    #[error("S3 at {endpoint}: {message}")]
    Transport { endpoint: String, message: String },
    #[error("bad request header {0}")]
    Header(String),
    #[error("key {0:?}: a `.` or `..` path segment cannot be sent path-style")]
    DotSegment(String),
}

/// One answer: status, headers and the whole body.
#[derive(Debug)]
pub(crate) struct S3Response {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl S3Response {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The text of the first `<name>` element of the body (flat S3 answers: `UploadId`).
    pub(crate) fn xml_text(&self, name: &str) -> Option<String> {
        xml_element(&self.body, name)
    }

    /// The `<Code>` of an S3 error body, if there is one.
    pub(crate) fn error_code(&self) -> Option<String> {
        xml_element(&self.body, "Code")
    }

    /// The `<Message>` of an S3 error body, if there is one.
    pub(crate) fn error_message(&self) -> Option<String> {
        xml_element(&self.body, "Message")
    }

    /// `"403 AccessDenied"`, or just the status when the body names no code (HEAD).
    pub(crate) fn outcome(&self) -> String {
        match self.error_code() {
            Some(code) if !self.is_success() => format!("{} {code}", self.status),
            _ => self.status.to_string(),
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The user metadata (`x-amz-meta-<name>`), names without the prefix.
    pub(crate) fn user_metadata(&self) -> std::collections::BTreeMap<String, String> {
        self.headers
            .iter()
            .filter_map(|(name, value)| {
                let name = name.as_str().strip_prefix("x-amz-meta-")?;
                Some((name.to_string(), value.to_str().ok()?.to_string()))
            })
            .collect()
    }
}

/// One part of a CompleteMultipartUpload request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CompletedPart {
    pub(crate) number: u32,
    pub(crate) etag: String,
    /// The part's checksum element (`ChecksumCRC64NVME`) and base64 value, when the upload
    /// has a checksum algorithm (S3 then requires it for every part).
    pub(crate) checksum: Option<(String, String)>,
}

/// The inner text of every `<name>` element, in order (the `<Part>`s of ListParts, the
/// `<Upload>`s of ListMultipartUploads: flat blocks that do not nest in themselves).
pub(crate) fn xml_blocks<'a>(body: &'a [u8], name: &str) -> Vec<&'a str> {
    let Ok(mut text) = std::str::from_utf8(body) else {
        return Vec::new();
    };
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    while let Some(start) = text.find(&open) {
        let rest = &text[start + open.len()..];
        let Some(end) = rest.find(&close) else { break };
        out.push(&rest[..end]);
        text = &rest[end + close.len()..];
    }
    out
}

/// The text of the first `<name>` element; S3 error bodies are small and flat.
pub(crate) fn xml_element(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&format!("</{name}>"))?;
    Some(text[start..end].to_string())
}

/// A gateway (or any S3 endpoint) reached with one credential.
pub(crate) struct S3Client {
    conn: HttpEndpoint,
    access_key: String,
    secret_key: Zeroizing<String>,
    region: String,
    /// Largest answer body accepted.
    max_body: usize,
}

impl std::fmt::Debug for S3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Client")
            .field("conn", &self.conn)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

impl S3Client {
    /// `endpoint` is `https://host[:port]` (trusting `ca_pem`) or `http://host[:port]`.
    pub(crate) fn new(
        endpoint: &str,
        ca_pem: Option<&std::path::Path>,
        access_key: &str,
        secret_key: &str,
        region: &str,
        max_body: usize,
    ) -> Result<S3Client, S3ClientError> {
        Ok(S3Client {
            conn: HttpEndpoint::new(endpoint, ca_pem, true)?,
            access_key: access_key.to_string(),
            secret_key: Zeroizing::new(secret_key.to_string()),
            region: region.to_string(),
            max_body,
        })
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.conn.is_tls()
    }

    pub(crate) async fn create_bucket(&self, bucket: &str) -> Result<S3Response, S3ClientError> {
        self.send(Method::PUT, bucket, None, &[], Bytes::new())
            .await
    }

    pub(crate) async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<S3Response, S3ClientError> {
        self.send(Method::PUT, bucket, Some(key), headers, body)
            .await
    }

    pub(crate) async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        headers: &[(String, String)],
    ) -> Result<S3Response, S3ClientError> {
        self.send(Method::GET, bucket, Some(key), headers, Bytes::new())
            .await
    }

    pub(crate) async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        headers: &[(String, String)],
    ) -> Result<S3Response, S3ClientError> {
        self.send(Method::HEAD, bucket, Some(key), headers, Bytes::new())
            .await
    }

    /// CreateMultipartUpload (`POST ?uploads`); `headers` carry metadata and SSE options.
    pub(crate) async fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        headers: &[(String, String)],
    ) -> Result<S3Response, S3ClientError> {
        self.send_query(
            Method::POST,
            bucket,
            Some(key),
            &[("uploads", "")],
            headers,
            Bytes::new(),
        )
        .await
    }

    /// UploadPart (`PUT ?partNumber=N&uploadId=…`); `headers` carry its checksum.
    pub(crate) async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<S3Response, S3ClientError> {
        let n = part_number.to_string();
        let query = [("partNumber", n.as_str()), ("uploadId", upload_id)];
        self.send_query(Method::PUT, bucket, Some(key), &query, headers, body)
            .await
    }

    /// CompleteMultipartUpload (`POST ?uploadId=…`) with the parts in order; `headers` carry
    /// the whole object's checksum.
    pub(crate) async fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        headers: &[(String, String)],
    ) -> Result<S3Response, S3ClientError> {
        let escape = |v: &str| v.replace('&', "&amp;").replace('<', "&lt;");
        let mut xml = String::from("<CompleteMultipartUpload>");
        for p in parts {
            xml.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag>",
                p.number,
                escape(&p.etag)
            ));
            if let Some((element, value)) = &p.checksum {
                xml.push_str(&format!("<{element}>{}</{element}>", escape(value)));
            }
            xml.push_str("</Part>");
        }
        xml.push_str("</CompleteMultipartUpload>");
        let query = [("uploadId", upload_id)];
        self.send_query(
            Method::POST,
            bucket,
            Some(key),
            &query,
            headers,
            Bytes::from(xml),
        )
        .await
    }

    /// ListMultipartUploads (`GET /bucket?uploads&prefix=…`), the first page.
    pub(crate) async fn list_multipart_uploads(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<S3Response, S3ClientError> {
        let query = [("prefix", prefix), ("uploads", "")];
        self.send_query(Method::GET, bucket, None, &query, &[], Bytes::new())
            .await
    }

    /// GetObjectAttributes (`GET ?attributes`) for `attributes` (`ObjectParts`, …), one page
    /// of parts after `marker`.
    pub(crate) async fn get_object_attributes(
        &self,
        bucket: &str,
        key: &str,
        attributes: &str,
        marker: u32,
    ) -> Result<S3Response, S3ClientError> {
        let headers = [
            (
                "x-amz-object-attributes".to_string(),
                attributes.to_string(),
            ),
            ("x-amz-part-number-marker".to_string(), marker.to_string()),
        ];
        let query = [("attributes", "")];
        self.send_query(
            Method::GET,
            bucket,
            Some(key),
            &query,
            &headers,
            Bytes::new(),
        )
        .await
    }

    /// ListParts (`GET ?uploadId=…&part-number-marker=…`), one page.
    pub(crate) async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        marker: u32,
    ) -> Result<S3Response, S3ClientError> {
        let marker = marker.to_string();
        let query = [
            ("part-number-marker", marker.as_str()),
            ("uploadId", upload_id),
        ];
        self.send_query(Method::GET, bucket, Some(key), &query, &[], Bytes::new())
            .await
    }

    /// AbortMultipartUpload (`DELETE ?uploadId=…`).
    pub(crate) async fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<S3Response, S3ClientError> {
        let query = [("uploadId", upload_id)];
        self.send_query(Method::DELETE, bucket, Some(key), &query, &[], Bytes::new())
            .await
    }

    /// One signed request; `headers` are added as given (names lower-case).
    pub(crate) async fn send(
        &self,
        method: Method,
        bucket: &str,
        key: Option<&str>,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<S3Response, S3ClientError> {
        self.send_query(method, bucket, key, &[], headers, body)
            .await
    }

    /// [`Self::send`] with query parameters (`("uploads", "")` is sent as `uploads=`, which S3
    /// reads as the bare sub-resource).
    pub(crate) async fn send_query(
        &self,
        method: Method,
        bucket: &str,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<S3Response, S3ClientError> {
        if key.is_some_and(|k| k.split('/').any(|s| s == "." || s == "..")) {
            return Err(S3ClientError::DotSegment(
                key.unwrap_or_default().to_string(),
            ));
        }
        let mut path = match key {
            Some(key) => format!("/{bucket}/{}", utf8_percent_encode(key, PATH)),
            None => format!("/{bucket}"),
        };
        for (i, (name, value)) in query.iter().enumerate() {
            path.push(if i == 0 { '?' } else { '&' });
            path.push_str(&format!(
                "{}={}",
                utf8_percent_encode(name, QUERY),
                utf8_percent_encode(value, QUERY)
            ));
        }
        let uri: Uri = path
            .parse()
            .map_err(|_| S3ClientError::Header(format!("path {path:?}")))?;
        let mut map = HeaderMap::new();
        let header_err = |name: &str| S3ClientError::Header(name.to_string());
        map.insert(
            http::header::HOST,
            HeaderValue::from_str(self.conn.authority()).map_err(|_| header_err("host"))?,
        );
        for (name, value) in headers {
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| header_err(name))?;
            let v = HeaderValue::from_str(value).map_err(|_| header_err(name))?;
            map.insert(n, v);
        }
        let body_hash = sigv4::sha256_hex(&body);
        map.insert(
            "x-amz-content-sha256",
            HeaderValue::from_str(&body_hash).map_err(|_| header_err("x-amz-content-sha256"))?,
        );
        let sends_body = !body.is_empty() || method == Method::PUT || method == Method::POST;
        if sends_body {
            map.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        sigv4::sign_request(
            &method,
            &uri,
            &mut map,
            &body_hash,
            &self.access_key,
            &self.secret_key,
            &self.region,
            "s3",
            SystemTime::now(),
        )
        .map_err(|_| header_err("authorization"))?;
        let body = sends_body.then_some(body);
        let transport = |message: String| S3ClientError::Transport {
            endpoint: self.conn.authority().to_string(),
            message,
        };
        let exchange = self.conn.exchange(method, &path, map, body, self.max_body);
        let resp = tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| transport(format!("no answer within {TIMEOUT:?}")))?
            .map_err(|e| transport(e.message))?;
        let (parts, body) = resp.into_parts();
        Ok(S3Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_code_and_message() {
        let r = S3Response {
            status: 403,
            headers: HeaderMap::new(),
            body: Bytes::from_static(
                b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>no</Message></Error>",
            ),
        };
        assert_eq!(r.error_code().as_deref(), Some("AccessDenied"));
        assert_eq!(r.error_message().as_deref(), Some("no"));
        assert_eq!(r.outcome(), "403 AccessDenied");
    }

    #[test]
    fn repeated_blocks_are_listed_in_order() {
        let body = b"<R><Part><N>1</N></Part><PartX/><Part><N>2</N></Part><Part><N>3";
        assert_eq!(xml_blocks(body, "Part"), ["<N>1</N>", "<N>2</N>"]);
        assert!(xml_blocks(b"<R/>", "Part").is_empty());
    }

    #[test]
    fn keys_are_percent_encoded_but_slashes_kept() {
        let p = format!("/b/{}", utf8_percent_encode("a b/c+d~é", PATH));
        assert_eq!(p, "/b/a%20b/c%2Bd~%C3%A9");
    }
}
