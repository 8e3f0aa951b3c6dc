//! Addressing: which bucket and key a request names, from the Host header (virtual-hosted
//! style) or the path (path style). Keys keep every byte (see the parent module's doc).

use http::{HeaderMap, Uri, header};

use super::super::error::S3Error;
use super::query::percent_decode;

pub(super) fn bucket_from_host(
    uri: &Uri,
    headers: &HeaderMap,
    suffixes: &[String],
) -> Option<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))?;
    let host = strip_port(host)?.to_ascii_lowercase();
    let suffixes: Vec<&str> = suffixes
        .iter()
        .filter_map(|s| strip_port(s.trim_start_matches('.')))
        .filter(|s| !s.is_empty())
        .collect();
    // The service endpoint itself (`s3.localhost`) is path style even when a shorter suffix
    // (`localhost`) would make it look like bucket `s3`.
    if suffixes.iter().any(|s| s.eq_ignore_ascii_case(&host)) {
        return None;
    }
    let mut best: Option<&str> = None;
    for suffix in suffixes {
        if host.len() <= suffix.len() + 1 {
            continue;
        }
        let (head, tail) = host.split_at(host.len() - suffix.len());
        if tail.eq_ignore_ascii_case(suffix)
            && head.ends_with('.')
            && best.is_none_or(|b| b.len() < suffix.len())
        {
            best = Some(suffix);
        }
    }
    let suffix = best?;
    let bucket = &host[..host.len() - suffix.len() - 1];
    (!bucket.is_empty()).then(|| bucket.to_owned())
}

/// The host part of `host[:port]`; `None` for IPv6 literals (never a bucket).
fn strip_port(host: &str) -> Option<&str> {
    if host.starts_with('[') {
        return None;
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => Some(h),
        _ => Some(host),
    }
}

/// `(bucket, key)` from the raw path; `key` is `None` for the empty key.
pub(super) fn split_path(
    raw_path: &str,
    host_bucket: Option<String>,
) -> Result<(Option<String>, Option<String>), S3Error> {
    let rest = raw_path.strip_prefix('/').unwrap_or(raw_path);
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    if let Some(bucket) = host_bucket {
        return Ok((Some(bucket), non_empty(percent_decode(rest)?)));
    }
    if rest.is_empty() {
        return Ok((None, None));
    }
    let (raw_bucket, raw_key) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket = percent_decode(raw_bucket)?;
    if bucket.is_empty() {
        return Err(S3Error::InvalidBucketName { bucket });
    }
    Ok((Some(bucket), non_empty(percent_decode(raw_key)?)))
}
