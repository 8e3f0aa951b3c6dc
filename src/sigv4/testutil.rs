//! Shared test fixtures: the AWS documentation's example requests and the SigV4 test suite's
//! credentials.

use std::time::SystemTime;

use http::{HeaderMap, Method, Uri};

use super::parse::parse_amz_date;
use super::{AuthError, EMPTY_SHA256_HEX, Expectations, ServiceKind, Verified, parse, verify};

pub(super) const AWS_DOC_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
pub(super) const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

pub(super) fn at(amz_date: &str) -> SystemTime {
    parse_amz_date(amz_date).unwrap()
}

pub(super) struct Req {
    pub(super) method: Method,
    pub(super) uri: Uri,
    pub(super) headers: HeaderMap,
}

pub(super) fn req(method: &str, uri: &str, headers: &[(&str, &str)]) -> Req {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(value).unwrap(),
        );
    }
    Req {
        method: method.parse().unwrap(),
        uri: uri.parse().unwrap(),
        headers: map,
    }
}

pub(super) fn check(
    r: &Req,
    kind: ServiceKind,
    secret: &str,
    exp: &Expectations,
    body: Option<&str>,
) -> Result<Verified, AuthError> {
    let signed = parse(&r.uri, &r.headers, kind)?.expect("request is signed");
    verify(&signed, &r.method, &r.uri, &r.headers, secret, exp, body)
}

pub(super) fn s3_exp(now: &str) -> Expectations {
    Expectations::s3("us-east-1", at(now))
}

/// AWS "GET Object" example (sig-v4-header-based-auth).
pub(super) fn aws_get_object(extra: &[(&str, &str)]) -> Req {
    let mut headers = vec![
        ("host", "examplebucket.s3.amazonaws.com"),
        ("range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY_SHA256_HEX),
        ("x-amz-date", "20130524T000000Z"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        ),
    ];
    headers.extend_from_slice(extra);
    req("GET", "/test.txt", &headers)
}

pub(super) const PRESIGNED: &str = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

pub(super) fn presigned(uri: &str, extra: &[(&str, &str)]) -> Req {
    let mut headers = vec![("host", "examplebucket.s3.amazonaws.com")];
    headers.extend_from_slice(extra);
    req("GET", uri, &headers)
}
