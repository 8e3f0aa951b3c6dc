//! AWS Signature Version 2 for S3: the `Authorization: AWS AKID:signature` header form and the
//! `AWSAccessKeyId`/`Expires`/`Signature` query form of presigned URLs.
//!
//! Older SDKs and tools (the aws CLI v1 `s3 presign`, boto with `signature_version='s3'`,
//! s3cmd) still produce these. We verify by recomputation, as for SigV4: rebuild the string to
//! sign from what arrived, HMAC-SHA1 it with the caller's secret, and compare the base64
//! signatures in constant time. [`parse()`] needs no secret, so the caller can look the access
//! key up (and answer InvalidAccessKeyId) before [`verify()`] runs.
//!
//! Protocol decisions (reference: the S3 API Reference, "Signing and authenticating REST
//! requests (AWS signature version 2)"; see also `docs/DESIGN.md`):
//! - StringToSign = method, Content-MD5, Content-Type, Date, one line each, then the
//!   CanonicalizedAmzHeaders and the CanonicalizedResource (see [`string_to_sign`]).
//! - Header form: the Date line is empty when `x-amz-date` is present (that header is signed
//!   among the `x-amz-*` ones instead); the request time must fall within S3's 15-minute skew.
//! - Query form: the Date line is the `Expires` value, an absolute Unix time; past it the URL
//!   is refused ("Request has expired"). `x-amz-*` query parameters are signed as `x-amz-*`
//!   headers (the SDKs move signed headers into presigned URLs that way) and, as on S3, act as
//!   those headers ([`apply_query_headers`]): a URL presigned with `x-amz-server-side-encryption`
//!   or `x-amz-meta-*` stores the object so, whatever client fetches it.
//! - SigV2 signs no payload hash: the body is `UNSIGNED-PAYLOAD`, and a Content-MD5 header is
//!   what protects it (signed, and checked against the body by the payload reader).
//! - One identity per request: a SigV2 form next to another signature is refused.
//! - S3 only: the KMS (JSON protocol) stays SigV4-only, as AWS KMS.

mod string_to_sign;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, Method, Uri};
use sha1::Sha1;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc2822;
use time::macros::format_description;

// SigV2 signs sub-resource values unencoded, so it reads them decoded, as SigV4 does.
use crate::sigv4::{AuthError, S3_MAX_SKEW, Verified, decoded_query, signatures_match};

const ISO8601_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
/// RFC 1123 with the `GMT` zone, which RFC 2822 parsing does not take.
const HTTP_DATE_FORMAT: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);
const AMZ_DATE_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

const HEADER_MALFORMED: &str =
    "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature";
const QUERY_PARAMS_REQUIRED: &str =
    "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters";

/// Where the signature travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// `Authorization: AWS AKID:signature`
    Header,
    /// `AWSAccessKeyId`, `Expires`, `Signature` query parameters (presigned URL).
    Query,
}

impl Form {
    /// The metric label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Form::Header => "header",
            Form::Query => "query",
        }
    }
}

/// When the request claims to have been made (header form) or stops being valid (query form).
#[derive(Clone, Debug)]
enum Time {
    /// The `x-amz-date` or `Date` header, as sent and as parsed.
    Dated {
        raw: String,
        at: SystemTime,
    },
    Expires(SystemTime),
}

/// SigV2 authentication data of a request, not yet verified.
#[derive(Clone, Debug)]
pub(crate) struct SignedRequest {
    pub(crate) access_key: String,
    pub(crate) form: Form,
    /// Base64, as provided.
    signature: String,
    /// The fourth line of the string to sign.
    date_line: String,
    time: Time,
}

/// Extracts SigV2 authentication data. `Ok(None)`: the request does not use SigV2 (it may use
/// SigV4 or be anonymous).
pub(crate) fn parse(uri: &Uri, headers: &HeaderMap) -> Result<Option<SignedRequest>, AuthError> {
    let query = decoded_query(uri.query());
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let auth = headers.get(http::header::AUTHORIZATION);
    let v2_header = auth.is_some_and(|a| a.as_bytes().starts_with(b"AWS "));
    let v2_query = param("AWSAccessKeyId").is_some() || param("Signature").is_some();
    if !v2_header && !v2_query {
        return Ok(None);
    }
    let v4_query = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"]
        .iter()
        .any(|name| param(name).is_some());
    if (auth.is_some() && v2_query) || v4_query {
        return Err(AuthError::MultipleAuthMechanisms);
    }
    if let Some(auth) = auth {
        let auth = auth
            .to_str()
            .map_err(|_| AuthError::MalformedV2(HEADER_MALFORMED.into()))?;
        return parse_header_form(auth, headers).map(Some);
    }
    let required =
        |name: &str| param(name).ok_or_else(|| AuthError::DeniedV2(QUERY_PARAMS_REQUIRED.into()));
    let access_key = required("AWSAccessKeyId")?;
    let signature = required("Signature")?;
    let expires = required("Expires")?;
    let secs: u64 = expires.parse().map_err(|_| {
        AuthError::DeniedV2(format!(
            "Invalid date (should be seconds since epoch): {expires}"
        ))
    })?;
    Ok(Some(SignedRequest {
        access_key: access_key.to_owned(),
        form: Form::Query,
        signature: signature.to_owned(),
        date_line: expires.to_owned(),
        time: Time::Expires(UNIX_EPOCH + Duration::from_secs(secs)),
    }))
}

/// Makes the `x-amz-*` parameters of a SigV2 presigned URL the request headers they stand for,
/// before routing and authentication, so the whole request sees them as S3 does (SSE choice,
/// metadata, tagging, copy source). A header sent as well wins, as in the string to sign, which
/// is therefore the same before and after. Requests of any other form are left alone.
pub(crate) fn apply_query_headers(uri: &Uri, headers: &mut HeaderMap) -> Result<(), AuthError> {
    let query = decoded_query(uri.query());
    let v2_query = query
        .iter()
        .any(|(k, _)| k == "AWSAccessKeyId" || k == "Signature");
    if !v2_query || headers.contains_key(http::header::AUTHORIZATION) {
        return Ok(());
    }
    let mut hoisted = Vec::new();
    for (name, value) in &query {
        let name = name.to_ascii_lowercase();
        if !name.starts_with("x-amz-") || headers.contains_key(name.as_str()) {
            continue;
        }
        let invalid =
            || AuthError::MalformedV2(format!("Invalid value for query parameter {name}"));
        let header_name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let header_value = http::HeaderValue::from_str(value).map_err(|_| invalid())?;
        hoisted.push((header_name, header_value));
    }
    for (name, value) in hoisted {
        headers.append(name, value);
    }
    Ok(())
}

fn parse_header_form(auth: &str, headers: &HeaderMap) -> Result<SignedRequest, AuthError> {
    let rest = auth.strip_prefix("AWS ").unwrap_or(auth).trim();
    let (access_key, signature) = rest
        .split_once(':')
        .filter(|(a, s)| !a.is_empty() && !s.is_empty())
        .ok_or_else(|| AuthError::MalformedV2(HEADER_MALFORMED.into()))?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // x-amz-date wins over Date and is signed among the x-amz-* headers instead.
    let (raw, date_line) = match (header("x-amz-date"), header("date")) {
        (Some(amz), _) => (amz, ""),
        (None, Some(date)) => (date, date.trim()),
        (None, None) => return Err(AuthError::MissingDate),
    };
    let at = parse_http_date(raw.trim()).ok_or(AuthError::MissingDate)?;
    Ok(SignedRequest {
        access_key: access_key.to_owned(),
        form: Form::Header,
        signature: signature.to_owned(),
        date_line: date_line.to_owned(),
        time: Time::Dated {
            raw: raw.to_owned(),
            at,
        },
    })
}

/// RFC 1123 (`GMT`), RFC 2822 (`+0000`), or the ISO 8601 basic form SigV4 uses.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc2822) {
        return Some(t.into());
    }
    if let Ok(t) = time::PrimitiveDateTime::parse(value, HTTP_DATE_FORMAT) {
        return Some(t.assume_utc().into());
    }
    time::PrimitiveDateTime::parse(value, AMZ_DATE_FORMAT)
        .ok()
        .map(|t| t.assume_utc().into())
}

fn iso8601(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(ISO8601_FORMAT)
        .unwrap_or_else(|_| String::from("invalid time"))
}

/// Verifies `req` (from [`parse`] on the same request) with the caller's secret.
/// `host_bucket` is the bucket named by a virtual-host `Host`, which the canonical resource
/// carries as if the request were path style.
pub(crate) fn verify(
    req: &SignedRequest,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    host_bucket: Option<&str>,
    secret: &str,
    now: SystemTime,
) -> Result<Verified, AuthError> {
    match &req.time {
        Time::Dated { raw, at } => {
            let distance = match now.duration_since(*at) {
                Ok(d) => d,
                Err(e) => e.duration(),
            };
            if distance > S3_MAX_SKEW {
                return Err(AuthError::RequestTimeTooSkewed {
                    request_time: raw.clone(),
                    server_time: iso8601(now),
                    max_skew: S3_MAX_SKEW,
                    in_future: *at > now,
                });
            }
        }
        Time::Expires(at) => {
            if now > *at {
                return Err(AuthError::ExpiredAt {
                    expires_at: iso8601(*at),
                    server_time: iso8601(now),
                });
            }
        }
    }
    let query = decoded_query(uri.query());
    let sts = string_to_sign::build(
        method,
        uri.path(),
        &query,
        headers,
        req.form,
        &req.date_line,
        host_bucket,
    );
    if signatures_match(&sign(secret, sts.as_bytes()), &req.signature) {
        let amz_date = match &req.time {
            Time::Dated { at, .. } => OffsetDateTime::from(*at)
                .format(AMZ_DATE_FORMAT)
                .unwrap_or_default(),
            Time::Expires(_) => String::new(),
        };
        return Ok(Verified::unsigned_payload(amz_date));
    }
    Err(AuthError::SignatureMismatch {
        access_key: req.access_key.clone(),
        signature_provided: req.signature.clone(),
        string_to_sign: sts,
        canonical_request: String::new(),
    })
}

/// Base64 HMAC-SHA1 of `string_to_sign` under `secret`.
pub(crate) fn sign(secret: &str, string_to_sign: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(string_to_sign);
    STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLE";

    fn request(uri: &str, headers: &[(&str, &str)]) -> (Uri, HeaderMap) {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        (uri.parse().unwrap(), h)
    }

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix)
    }

    /// 2007-03-27T19:36:42Z
    const DATE_UNIX: u64 = 1_175_024_202;

    /// Signed by botocore's `HmacV1Auth` (the AWS SDK for Python), which is independent of
    /// this implementation: a versioned GET with a Content-Type and an `x-amz-meta-*` header.
    fn botocore_header_vector() -> (Uri, HeaderMap) {
        request(
            "/awsexamplebucket1/photos/puppy.jpg?versionId=3%2F4&prefix=x",
            &[
                ("date", "Tue, 27 Mar 2007 19:36:42 +0000"),
                ("content-type", "text/plain"),
                ("x-amz-meta-a", "1"),
                (
                    "authorization",
                    "AWS AKIAIOSFODNN7EXAMPLE:CeOKpQCbLmjq2txI433TLCP5mLM=",
                ),
            ],
        )
    }

    fn check(
        uri: &Uri,
        h: &HeaderMap,
        method: Method,
        now: SystemTime,
    ) -> Result<Verified, AuthError> {
        let signed = parse(uri, h)?.expect("a SigV2 request");
        verify(&signed, &method, uri, h, None, SECRET, now)
    }

    #[test]
    fn botocore_header_vector_verifies() {
        let (uri, h) = botocore_header_vector();
        let signed = parse(&uri, &h).unwrap().unwrap();
        assert_eq!(signed.access_key, AKID);
        assert_eq!(signed.form, Form::Header);
        let v = check(&uri, &h, Method::GET, at(DATE_UNIX + 60)).unwrap();
        assert_eq!(v.payload, crate::sigv4::PayloadHash::Unsigned);
        assert_eq!(v.amz_date, "20070327T193642Z");
        // Another method, another version, another secret: no longer the same signature.
        assert!(matches!(
            check(&uri, &h, Method::DELETE, at(DATE_UNIX)),
            Err(AuthError::SignatureMismatch { .. })
        ));
        let (_, h2) = botocore_header_vector();
        let other: Uri = "/awsexamplebucket1/photos/puppy.jpg?versionId=3%2F5"
            .parse()
            .unwrap();
        match check(&other, &h2, Method::GET, at(DATE_UNIX)) {
            Err(AuthError::SignatureMismatch {
                string_to_sign,
                access_key,
                ..
            }) => {
                assert_eq!(access_key, AKID);
                assert_eq!(
                    string_to_sign,
                    "GET\n\ntext/plain\nTue, 27 Mar 2007 19:36:42 +0000\nx-amz-meta-a:1\n\
                     /awsexamplebucket1/photos/puppy.jpg?versionId=3/5"
                );
            }
            other => panic!("{other:?}"),
        }
        let signed = parse(&uri, &h).unwrap().unwrap();
        assert!(matches!(
            verify(
                &signed,
                &Method::GET,
                &uri,
                &h,
                None,
                "other",
                at(DATE_UNIX)
            ),
            Err(AuthError::SignatureMismatch { .. })
        ));
    }

    #[test]
    fn header_form_skew_window() {
        let (uri, h) = botocore_header_vector();
        for ok in [DATE_UNIX + 900, DATE_UNIX - 900] {
            check(&uri, &h, Method::GET, at(ok)).unwrap();
        }
        match check(&uri, &h, Method::GET, at(DATE_UNIX + 901)) {
            Err(AuthError::RequestTimeTooSkewed {
                request_time,
                server_time,
                in_future,
                ..
            }) => {
                assert_eq!(request_time, "Tue, 27 Mar 2007 19:36:42 +0000");
                assert_eq!(server_time, "2007-03-27T19:51:43Z");
                assert!(!in_future);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check(&uri, &h, Method::GET, at(DATE_UNIX - 901)),
            Err(AuthError::RequestTimeTooSkewed {
                in_future: true,
                ..
            })
        ));
    }

    #[test]
    fn botocore_query_vector_and_expiry() {
        let (uri, h) = request(
            "/awsexamplebucket1/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=zJnYqMLstIOYxvsnr3P%2FA3iqzho%3D&Expires=1175139620",
            &[],
        );
        let signed = parse(&uri, &h).unwrap().unwrap();
        assert_eq!(signed.form, Form::Query);
        // Any time up to Expires, however far back (no skew window for URLs).
        check(&uri, &h, Method::GET, at(1_175_139_620)).unwrap();
        check(&uri, &h, Method::GET, at(1_000_000_000)).unwrap();
        match check(&uri, &h, Method::GET, at(1_175_139_621)) {
            Err(AuthError::ExpiredAt {
                expires_at,
                server_time,
            }) => {
                assert_eq!(expires_at, "2007-03-29T03:40:20Z");
                assert_eq!(server_time, "2007-03-29T03:40:21Z");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parse_decides_the_scheme_and_rejects_mixtures() {
        let (uri, h) = request("/b/k", &[]);
        assert!(parse(&uri, &h).unwrap().is_none());
        let v4 = "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=00";
        let (uri, h) = request("/b/k", &[("authorization", v4)]);
        assert!(parse(&uri, &h).unwrap().is_none());
        let (uri, h) = request("/b/k?X-Amz-Signature=00", &[]);
        assert!(parse(&uri, &h).unwrap().is_none());

        let mixtures = [
            (
                "/b/k?AWSAccessKeyId=A&Expires=1&Signature=x",
                Some("AWS A:x"),
            ),
            ("/b/k?AWSAccessKeyId=A&Expires=1&Signature=x", Some(v4)),
            ("/b/k?X-Amz-Signature=00", Some("AWS A:x")),
            (
                "/b/k?AWSAccessKeyId=A&Expires=1&Signature=x&X-Amz-Credential=c",
                None,
            ),
        ];
        for (uri, auth) in mixtures {
            let (uri, h) = request(
                uri,
                &auth
                    .map(|a| ("authorization", a))
                    .into_iter()
                    .collect::<Vec<_>>(),
            );
            assert!(
                matches!(parse(&uri, &h), Err(AuthError::MultipleAuthMechanisms)),
                "{uri}"
            );
        }
    }

    #[test]
    fn malformed_forms() {
        for auth in ["AWS ", "AWS AKID", "AWS :sig", "AWS AKID:"] {
            let (uri, h) = request("/b", &[("authorization", auth), ("date", "x")]);
            assert!(
                matches!(parse(&uri, &h), Err(AuthError::MalformedV2(_))),
                "{auth}"
            );
        }
        let (uri, h) = request("/b", &[("authorization", "AWS A:s")]);
        assert!(matches!(parse(&uri, &h), Err(AuthError::MissingDate)));
        let (uri, h) = request("/b", &[("authorization", "AWS A:s"), ("date", "yesterday")]);
        assert!(matches!(parse(&uri, &h), Err(AuthError::MissingDate)));
        for uri in [
            "/b?AWSAccessKeyId=A&Signature=s",
            "/b?Signature=s&Expires=1",
            "/b?AWSAccessKeyId=A&Signature=s&Expires=soon",
        ] {
            let (uri, h) = request(uri, &[]);
            assert!(
                matches!(parse(&uri, &h), Err(AuthError::DeniedV2(_))),
                "{uri}"
            );
        }
    }

    #[test]
    fn amz_query_parameters_become_headers_without_changing_the_string_to_sign() {
        let (uri, mut h) = request(
            "/b/k?AWSAccessKeyId=A&Expires=100&Signature=s&x-amz-server-side-encryption=aws%3Akms\
             &X-Amz-Meta-Color=blue&x-amz-acl=private&response-content-type=a%2Fb",
            &[("x-amz-acl", "public-read")],
        );
        let before = string_to_sign::build(
            &Method::PUT,
            uri.path(),
            &decoded_query(uri.query()),
            &h,
            Form::Query,
            "100",
            None,
        );
        apply_query_headers(&uri, &mut h).unwrap();
        assert_eq!(h["x-amz-server-side-encryption"], "aws:kms");
        assert_eq!(h["x-amz-meta-color"], "blue");
        // The header sent wins; other parameters stay parameters.
        assert_eq!(h.get_all("x-amz-acl").iter().count(), 1);
        assert_eq!(h["x-amz-acl"], "public-read");
        assert!(!h.contains_key("response-content-type"));
        let after = string_to_sign::build(
            &Method::PUT,
            uri.path(),
            &decoded_query(uri.query()),
            &h,
            Form::Query,
            "100",
            None,
        );
        assert_eq!(before, after);

        // Not a SigV2 URL (SigV4, or a header signature): nothing moves.
        for (uri, auth) in [
            ("/b/k?X-Amz-Signature=0&x-amz-meta-a=1", None),
            ("/b/k?x-amz-meta-a=1", None),
            ("/b/k?Signature=s&x-amz-meta-a=1", Some("AWS A:s")),
        ] {
            let (uri, mut h) = request(
                uri,
                &auth
                    .map(|a| ("authorization", a))
                    .into_iter()
                    .collect::<Vec<_>>(),
            );
            apply_query_headers(&uri, &mut h).unwrap();
            assert!(!h.contains_key("x-amz-meta-a"), "{uri}");
        }
        let (uri, mut h) = request("/b/k?Signature=s&x-amz-meta-a=%0A", &[]);
        assert!(matches!(
            apply_query_headers(&uri, &mut h),
            Err(AuthError::MalformedV2(_))
        ));
    }

    #[test]
    fn date_forms() {
        let want = Some(at(DATE_UNIX));
        assert_eq!(parse_http_date("Tue, 27 Mar 2007 19:36:42 +0000"), want);
        assert_eq!(parse_http_date("Tue, 27 Mar 2007 19:36:42 GMT"), want);
        assert_eq!(parse_http_date("20070327T193642Z"), want);
        assert_eq!(parse_http_date("27/03/2007"), None);
    }
}
