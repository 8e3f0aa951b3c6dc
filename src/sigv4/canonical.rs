//! The canonical request, the string to sign and the signing-key derivation, shared by
//! verification and signing.

use std::fmt;
use std::time::SystemTime;

use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, Method, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{ALGORITHM, ServiceKind};

/// RFC 3986 unreserved characters stay; everything else is `%XX` (upper-case hex).
pub(super) const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Path segments keep their separators.
pub(super) const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

pub(super) const AMZ_DATE_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
pub(super) const ISO8601_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
pub(super) const HTTP_DATE_FORMAT: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

type HmacSha256 = Hmac<Sha256>;

/// A SigV4 signing key (`kSigning`). Zeroised on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct SigningKey([u8; 32]);

impl SigningKey {
    /// Derives `kSigning` from the secret and the credential scope.
    pub(crate) fn derive(secret: &str, date: &str, region: &str, service: &str) -> Self {
        let mut seed = Zeroizing::new(Vec::with_capacity(4 + secret.len()));
        seed.extend_from_slice(b"AWS4");
        seed.extend_from_slice(secret.as_bytes());
        let k_date = Zeroizing::new(hmac_sha256(&seed, date.as_bytes()));
        let k_region = Zeroizing::new(hmac_sha256(&*k_date, region.as_bytes()));
        let k_service = Zeroizing::new(hmac_sha256(&*k_region, service.as_bytes()));
        Self(hmac_sha256(&*k_service, b"aws4_request"))
    }

    /// A placeholder for requests whose payload is unsigned (SigV2): all zeros, never used
    /// because no aws-chunked decoder is built for an unsigned payload.
    pub(super) fn unused() -> Self {
        Self([0; 32])
    }

    /// Lower-case hex HMAC-SHA256 of `string_to_sign` under this key.
    pub(crate) fn sign(&self, string_to_sign: &[u8]) -> String {
        hex::encode(hmac_sha256(&self.0, string_to_sign))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex SHA-256.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The canonical request: method, canonical URI, canonical query, the canonical header block
/// (which ends with its own newline), the signed-header list and the payload hash, one per line.
pub(super) fn canonical_request(
    method: &Method,
    path: &str,
    query: &str,
    canonical_headers: &[u8],
    signed_headers: &str,
    payload: &str,
) -> Vec<u8> {
    [
        method.as_str().as_bytes(),
        path.as_bytes(),
        query.as_bytes(),
        canonical_headers,
        signed_headers.as_bytes(),
        payload.as_bytes(),
    ]
    .join(&b'\n')
}

/// The string to sign: algorithm, request time, credential scope and the hex SHA-256 of the
/// canonical request.
pub(super) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request)
    )
}

/// The canonical URIs worth trying, most likely first.
pub(super) fn canonical_uri_candidates(raw_path: &str, kind: ServiceKind) -> Vec<String> {
    let raw_path = if raw_path.is_empty() { "/" } else { raw_path };
    let mut candidates = match kind {
        ServiceKind::S3 => {
            let decoded = percent_decode(raw_path.as_bytes()).collect::<Vec<u8>>();
            vec![
                percent_encode(&decoded, UNRESERVED_AND_SLASH).to_string(),
                raw_path.to_owned(),
            ]
        }
        ServiceKind::Kms => {
            let normalized = remove_dot_segments(raw_path);
            let decoded = percent_decode(normalized.as_bytes()).collect::<Vec<u8>>();
            vec![
                percent_encode(normalized.as_bytes(), UNRESERVED_AND_SLASH).to_string(),
                percent_encode(&decoded, UNRESERVED_AND_SLASH).to_string(),
            ]
        }
    };
    candidates.dedup();
    candidates
}

/// RFC 3986 §5.2.4, on an absolute path.
pub(super) fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    out.pop();
                }
                // A trailing dot segment still denotes a directory.
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// Sorted `name=value` pairs, each side decoded once and re-encoded with the SigV4 rules.
pub(super) fn canonical_query(query: Option<&str>, presigned: bool) -> String {
    let encode = |s: &str| {
        let decoded = percent_decode(s.as_bytes()).collect::<Vec<u8>>();
        percent_encode(&decoded, UNRESERVED).to_string()
    };
    let mut pairs: Vec<(String, String)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            (encode(name), encode(value))
        })
        .filter(|(name, _)| !(presigned && name == "X-Amz-Signature"))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `name:value\n` for every signed header; the block ends with the newline that precedes the
/// signed-headers line.
pub(super) fn canonical_headers(signed: &[String], headers: &HeaderMap, uri: &Uri) -> Vec<u8> {
    let mut out = Vec::new();
    for name in signed {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut values = headers.get_all(name.as_str()).iter().peekable();
        if values.peek().is_none() && name == "host" {
            // HTTP/2 carries the host in the authority.
            if let Some(authority) = uri.authority() {
                out.extend_from_slice(authority.as_str().as_bytes());
            }
        }
        for (i, value) in values.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_collapsed(&mut out, value.as_bytes());
        }
        out.push(b'\n');
    }
    out
}

/// Trims and collapses inner whitespace runs to one space.
fn push_collapsed(out: &mut Vec<u8>, value: &[u8]) {
    let words = value
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    for (i, word) in words.enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(word);
    }
}

pub(super) fn format_time(time: SystemTime, format: &[BorrowedFormatItem<'_>]) -> String {
    OffsetDateTime::from(time)
        .format(format)
        .unwrap_or_else(|_| String::from("invalid time"))
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::testutil::AWS_DOC_SECRET;

    #[test]
    fn signing_key_never_prints() {
        let key = SigningKey::derive(AWS_DOC_SECRET, "20130524", "us-east-1", "s3");
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }

    #[test]
    fn canonical_uri_rules() {
        assert_eq!(
            canonical_uri_candidates("/a%2Fb/c d", ServiceKind::S3)[0],
            "/a/b/c%20d"
        );
        assert_eq!(
            canonical_uri_candidates("/a//./b", ServiceKind::S3),
            ["/a//./b"]
        );
        assert_eq!(
            canonical_uri_candidates("/a+b", ServiceKind::S3)[0],
            "/a%2Bb"
        );
        assert_eq!(canonical_uri_candidates("", ServiceKind::Kms), ["/"]);
        assert_eq!(remove_dot_segments("/a/b/../c/./d"), "/a/c/d");
        assert_eq!(
            canonical_query(Some("b=2&a=&c&a=1"), false),
            "a=&a=1&b=2&c="
        );
        assert_eq!(
            canonical_query(Some("X-Amz-Signature=x&k=v%2Fw"), true),
            "k=v%2Fw"
        );
    }
}
