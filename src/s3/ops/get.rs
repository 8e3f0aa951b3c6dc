//! GetObject and HeadObject.

use futures::StreamExt;
use http::{HeaderMap, Response, StatusCode};
use http_body_util::BodyExt;

use super::common::{self, set};
use super::versioning::{load_object, version_header};
use crate::checksum::ChecksumAlgorithm;
use crate::meta::{BucketRecord, ObjectMeta, Sealing};
use crate::s3::encryption::{self, KeyHeaders};
use crate::s3::error::S3Error;
use crate::s3::router::ResponseOverrides;
use crate::s3::{Req, SseFact};
use crate::server::{self, Body};
use crate::sse::Actor;
use crate::store::Versioning;

/// Loads the current version's meta record or answers NoSuchKey (NoSuchBucket when the bucket
/// is gone; with `x-amz-delete-marker` when the current version is a delete marker).
pub(crate) async fn load_meta(req: &Req, bucket: &str, key: &str) -> Result<ObjectMeta, S3Error> {
    load_object(req, bucket, key, None, "GET").await
}

/// If-Match / If-None-Match / If-(Un)Modified-Since, in the order S3 evaluates them.
pub(crate) fn check_conditions(
    headers: &HeaderMap,
    meta: &ObjectMeta,
    prefix: &str,
) -> Result<(), S3Error> {
    let get = |n: &str| {
        headers
            .get(format!("{prefix}{n}"))
            .and_then(|v| v.to_str().ok())
    };
    let etag_matches = |list: &str| {
        list.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_matches('"') == meta.etag
        })
    };
    let if_match = get("if-match");
    if let Some(list) = if_match
        && !etag_matches(list)
    {
        return Err(S3Error::PreconditionFailed {
            condition: "If-Match".into(),
        });
    }
    if if_match.is_none()
        && let Some(since) = get("if-unmodified-since").and_then(common::parse_http_date)
        && meta.last_modified_ms / 1000 > since / 1000
    {
        return Err(S3Error::PreconditionFailed {
            condition: "If-Unmodified-Since".into(),
        });
    }
    let if_none_match = get("if-none-match");
    if let Some(list) = if_none_match
        && etag_matches(list)
    {
        return Err(if prefix.is_empty() {
            not_modified(meta)
        } else {
            S3Error::PreconditionFailed {
                condition: "x-amz-copy-source-If-None-Match".into(),
            }
        });
    }
    if if_none_match.is_none()
        && let Some(since) = get("if-modified-since").and_then(common::parse_http_date)
        && meta.last_modified_ms / 1000 <= since / 1000
    {
        return Err(if prefix.is_empty() {
            not_modified(meta)
        } else {
            S3Error::PreconditionFailed {
                condition: "x-amz-copy-source-If-Modified-Since".into(),
            }
        });
    }
    Ok(())
}

/// A 304 carrying the validators and caching headers the 200 would have carried.
fn not_modified(meta: &ObjectMeta) -> S3Error {
    let mut headers = vec![
        ("etag", common::quoted(&meta.etag)),
        ("last-modified", common::http_date(meta.last_modified_ms)),
    ];
    for name in ["cache-control", "expires"] {
        if let Some(v) = meta.content_headers.get(name) {
            headers.push((name, v.clone()));
        }
    }
    S3Error::NotModified { headers }
}

/// Parses a single `bytes=` range against an object size. `Ok(None)`: serve everything (no
/// header, or a form S3 ignores such as several ranges).
pub(crate) fn parse_range(value: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, S3Error> {
    let Some(v) = value else { return Ok(None) };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let unsatisfiable = || S3Error::InvalidRange {
        range: v.to_owned(),
        size,
    };
    let range = if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(unsatisfiable());
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let Ok(start) = a.parse::<u64>() else {
            return Ok(None);
        };
        let end = if b.is_empty() {
            u64::MAX
        } else {
            match b.parse::<u64>() {
                Ok(e) if e >= start => e,
                _ => return Ok(None),
            }
        };
        if start >= size {
            return Err(unsatisfiable());
        }
        (start, end.min(size - 1))
    };
    Ok(Some(range))
}

/// What decides `x-amz-version-id` on a read of the `null` version named by no id: AWS
/// sends `null` once the bucket has (or had) versioning and nothing in a bucket that never
/// had it. Only this case needs the bucket record; a version with an id, or one asked for
/// by id (`versionId=null` included), carries that id whatever the bucket's state.
fn null_version_state(
    bucket_rec: Option<&BucketRecord>,
    meta: &ObjectMeta,
    version_id: Option<&str>,
) -> Versioning {
    if meta.version_id.is_some() || version_id.is_some() {
        return Versioning::Enabled;
    }
    bucket_rec.map_or(Versioning::Off, Versioning::of)
}

pub(crate) async fn handle_get_object(
    req: Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    part_number: Option<u32>,
    overrides: &ResponseOverrides,
    head: bool,
) -> Result<Response<Body>, S3Error> {
    encryption::reject_write_headers(&req.headers)?;
    let method = if head { "HEAD" } else { "GET" };
    let meta = load_object(&req, bucket, key, version_id, method).await?;
    let customer =
        encryption::from_headers(&req.headers, KeyHeaders::Target, common::over_tls(&req))?;
    let checksum_mode = req
        .header("x-amz-checksum-mode")
        .is_some_and(|v| v.eq_ignore_ascii_case("ENABLED"));
    // A HEAD reads no data, so like S3 it asks the KMS nothing (an SSE-KMS object with a
    // disabled key still answers HEAD) unless it reveals checksums; SSE-C keys are always
    // checked. Opening the key also authenticates the record, so HEAD opens it whenever that
    // costs no KMS call (SSE-S3 keys are in memory): only an SSE-KMS HEAD without checksum
    // mode answers from an unauthenticated record (docs/FORMAT.md §6).
    let needs_key = !head
        || checksum_mode
        || customer.is_some()
        || matches!(meta.sealing, Sealing::SseC { .. } | Sealing::SseS3 { .. });
    let crypto = if needs_key {
        Some(
            req.gw
                .crypto
                .open_object(
                    &meta,
                    bucket,
                    key,
                    customer.as_ref(),
                    &Actor {
                        caller: &req.caller(),
                    },
                )
                .await?,
        )
    } else {
        None
    };
    check_conditions(&req.headers, &meta, "")?;
    // A read of the current version (no id asked) needs the bucket record twice over: for
    // its expiry (`Expiration` acts on current versions only) and for the null version's
    // `x-amz-version-id`. One read serves both; a read by id needs neither.
    let bucket_rec = match version_id {
        None => req.gw.store.get_bucket(bucket).await?,
        Some(_) => None,
    };
    let versioning = null_version_state(bucket_rec.as_ref(), &meta, version_id);

    let mut part_range = None;
    if let Some(n) = part_number {
        let idx = n as usize - 1;
        if idx >= meta.parts.len() {
            return Err(S3Error::InvalidPartNumber {
                requested: n,
                actual: meta.parts.len(),
            });
        }
        let start: u64 = meta.parts[..idx].iter().map(|p| p.size).sum();
        let size = meta.parts[idx].size;
        part_range = Some((start, start + size));
    }
    let range = match part_range {
        Some((s, e)) if e > s => Some((s, e - 1)),
        Some(_) => None,
        None => parse_range(req.header("range"), meta.size)?,
    };

    let lock_headers = super::object_lock::response_headers(&req, bucket, key, &meta).await;
    let mut resp = Response::builder()
        .status(if range.is_some() {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        })
        .body(server::empty())
        .expect("valid");
    let h = resp.headers_mut();
    common::put_object_headers(&meta, h);
    for (name, v) in &lock_headers {
        set(h, name, v);
    }
    for (name, v) in overrides.headers() {
        if let Ok(v) = http::HeaderValue::from_str(v) {
            h.insert(name, v);
        }
    }
    set(h, "accept-ranges", "bytes");
    version_header(h, versioning, meta.version_id.as_deref().or(version_id));
    if let Some(b) = &bucket_rec {
        super::lifecycle::expiration_header(h, b, key, &meta);
    }
    encryption::describe(&meta.sealing, h);
    // AWS sends PartsCount only when a part was asked for and the object was uploaded in
    // parts (its ETag has the `-N` suffix): not on whole-object reads, not for a single PUT.
    if part_number.is_some() && meta.etag.contains('-') {
        set(h, "x-amz-mp-parts-count", &meta.parts.len().to_string());
    }
    let (start, end) = range.unwrap_or((0, meta.size.saturating_sub(1)));
    let len = if meta.size == 0 { 0 } else { end - start + 1 };
    set(h, "content-length", &len.to_string());
    if range.is_some() {
        set(
            h,
            "content-range",
            &format!("bytes {start}-{end}/{}", meta.size),
        );
    }
    if checksum_mode && let Some(c) = &meta.checksum {
        let whole = range.is_none() || (part_range.is_some() && meta.parts.len() == 1);
        if whole && let Some(alg) = ChecksumAlgorithm::from_name(&c.algorithm) {
            set(h, alg.header_name(), &c.value);
            set(h, "x-amz-checksum-type", &c.kind);
        } else if let (Some(n), Some(alg)) =
            (part_number, ChecksumAlgorithm::from_name(&c.algorithm))
            && c.kind == "COMPOSITE"
            && let Some((_, v)) = meta.parts[n as usize - 1].checksum_value()
        {
            // The value alone: the record's `ALGORITHM:` prefix is internal.
            set(h, alg.header_name(), v);
            set(h, "x-amz-checksum-type", "COMPOSITE");
        }
    }
    if !head {
        SseFact::attach(&mut resp, &meta.sealing);
    }
    let Some(crypto) = crypto.filter(|_| !head && len > 0) else {
        return Ok(resp);
    };
    let (first, rest) = crypto
        .read_range(req.gw.store.clone(), bucket.to_owned(), &meta, start, end)
        .await?;
    // The status and Content-Length are sent by now. A later failure (a blob whose generation
    // the sweep deleted after the grace period, a tampered segment) becomes a body error, on
    // which hyper closes the connection short of Content-Length: the client sees a failed
    // download, never a short body with 200 (docs/STORAGE.md, "Garbage").
    let stream = futures::stream::iter(first.map(Ok))
        .chain(rest.into_stream())
        .map(|r| {
            r.map(hyper::body::Frame::data)
                .map_err(|e| std::io::Error::other(e.to_string()))
        });
    *resp.body_mut() = BodyExt::boxed(http_body_util::StreamBody::new(stream));
    Ok(resp)
}
