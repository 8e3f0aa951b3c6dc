//! Small pieces every handler family shares: dates, ETags, stored content headers, query
//! parameters and response building.

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::meta::ObjectMeta;
use crate::s3::error::S3Error;
use crate::server::{self, Body};

/// Content headers stored with an object and returned on GET/HEAD.
pub(crate) const CONTENT_HEADERS: [&str; 6] = [
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
];

/// Largest total size of user metadata, as S3 allows.
const MAX_USER_META: usize = 2048;

/// AWS requires an integrity check on some configuration bodies (CORS, lifecycle, the Object
/// Lock operations) and on PUTs with Object Lock headers:
/// Content-MD5 or a flexible checksum (which current SDKs send instead); the payload layer
/// verifies whichever is given.
pub(crate) fn require_integrity_check(headers: &HeaderMap) -> Result<(), S3Error> {
    let has_check = headers.contains_key("content-md5")
        || headers.contains_key("x-amz-sdk-checksum-algorithm")
        || headers
            .keys()
            .any(|k| k.as_str().starts_with("x-amz-checksum-"));
    if has_check {
        Ok(())
    } else {
        Err(S3Error::InvalidRequest(
            "Missing required header for this request: Content-MD5".into(),
        ))
    }
}

/// Whether the request counts as arriving over TLS, which SSE-C requires: its own
/// connection's TLS, or a configured trusted proxy's forwarded-https header.
pub(crate) fn over_tls(req: &crate::s3::Req) -> bool {
    req.gw
        .cfg
        .trusted_proxies
        .request_is_tls(&req.conn, &req.headers)
}

pub(crate) fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn datetime(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `Sat, 28 Nov 2026 13:31:39 GMT`
pub(crate) fn http_date(ms: i64) -> String {
    datetime(ms)
        .format(format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        ))
        .unwrap_or_default()
}

pub(crate) fn parse_http_date(s: &str) -> Option<i64> {
    let pd = time::PrimitiveDateTime::parse(
        s.trim(),
        format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        ),
    )
    .ok()?;
    Some((pd.assume_utc().unix_timestamp_nanos() / 1_000_000) as i64)
}

pub(crate) fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// A Content-Encoding without its `aws-chunked` coding, which is framing, not a property of the
/// object. The rest stays exactly as sent, spacing included, as S3 returns it
/// (`aws-chunked, deflate, gzip` → `deflate, gzip`).
fn without_aws_chunked(v: &str) -> String {
    v.split(',')
        .filter(|c| !c.trim().eq_ignore_ascii_case("aws-chunked"))
        .collect::<Vec<_>>()
        .join(",")
        .trim()
        .to_owned()
}

/// Content headers and `x-amz-meta-*` pairs of a write request.
/// Stored content headers and user metadata, both by lower-case name.
pub(crate) type StoredHeaders = (BTreeMap<String, String>, BTreeMap<String, String>);

pub(crate) fn stored_headers(headers: &HeaderMap) -> Result<StoredHeaders, S3Error> {
    let mut content = BTreeMap::new();
    for name in CONTENT_HEADERS {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            let v = if name == "content-encoding" {
                without_aws_chunked(v)
            } else {
                v.to_owned()
            };
            if !v.is_empty() {
                content.insert(name.to_owned(), v);
            }
        }
    }
    let mut user = BTreeMap::new();
    let mut total = 0;
    for (name, value) in headers {
        if let Some(k) = name.as_str().strip_prefix("x-amz-meta-") {
            let v = value.to_str().map_err(|_| {
                S3Error::invalid_argument(format!("x-amz-meta-{k} must be printable ASCII"))
            })?;
            total += k.len() + v.len();
            user.insert(k.to_owned(), v.to_owned());
        }
    }
    if total > MAX_USER_META {
        return Err(S3Error::invalid_argument(
            "Your metadata headers exceed the maximum allowed metadata size (2048 bytes)",
        ));
    }
    Ok((content, user))
}

/// Writes an object's stored headers into a response.
pub(crate) fn put_object_headers(meta: &ObjectMeta, h: &mut HeaderMap) {
    for (k, v) in &meta.content_headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(n, v);
        }
    }
    if !h.contains_key(http::header::CONTENT_TYPE) {
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("binary/octet-stream"),
        );
    }
    for (k, v) in &meta.user_meta {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(n, v);
        }
    }
    set(h, "etag", &quoted(&meta.etag));
    set(h, "last-modified", &http_date(meta.last_modified_ms));
    if !meta.tags.is_empty() {
        set(h, "x-amz-tagging-count", &meta.tags.len().to_string());
    }
}

pub(crate) fn set(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

pub(crate) fn xml(status: StatusCode, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/xml")
        .body(server::full(body))
        .expect("static headers are valid")
}

pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(server::empty())
        .expect("static headers are valid")
}

/// S3 keys are at most 1024 bytes of UTF-8.
pub(crate) fn check_key(key: &str) -> Result<(), S3Error> {
    if key.len() > 1024 {
        return Err(S3Error::KeyTooLongError);
    }
    if key.is_empty() {
        return Err(S3Error::invalid_argument("Object key must not be empty"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        let ms = 1_795_873_899_000; // 2026-11-28T...
        let h = http_date(ms);
        assert!(h.ends_with(" GMT"), "{h}");
        assert_eq!(parse_http_date(&h), Some(ms));
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn aws_chunked_is_stripped_from_content_encoding() {
        let mut h = HeaderMap::new();
        h.insert("content-encoding", "gzip,aws-chunked".parse().unwrap());
        h.insert("x-amz-meta-color", "blue".parse().unwrap());
        let (c, u) = stored_headers(&h).unwrap();
        assert_eq!(c.get("content-encoding").unwrap(), "gzip");
        assert_eq!(u.get("color").unwrap(), "blue");
        for (sent, kept) in [
            ("aws-chunked, deflate, gzip", "deflate, gzip"),
            ("deflate, gzip", "deflate, gzip"),
            ("deflate,gzip", "deflate,gzip"),
            ("deflate, aws-chunked, gzip", "deflate, gzip"),
            ("deflate, gzip,aws-chunked", "deflate, gzip"),
        ] {
            h.insert("content-encoding", sent.parse().unwrap());
            let (c, _) = stored_headers(&h).unwrap();
            assert_eq!(c.get("content-encoding").unwrap(), kept, "{sent}");
        }
        h.insert("content-encoding", "aws-chunked".parse().unwrap());
        assert!(
            !stored_headers(&h)
                .unwrap()
                .0
                .contains_key("content-encoding")
        );
    }
}
