//! Parsing: the `Authorization` header form and the presigned query form into a
//! [`SignedRequest`], with no secret involved.

use std::time::SystemTime;

use http::{HeaderMap, Uri};
use percent_encoding::percent_decode;

use super::canonical::{AMZ_DATE_FORMAT, HTTP_DATE_FORMAT, format_time};
use super::{ALGORITHM, AuthError, AuthForm, MAX_PRESIGN_EXPIRES_SECS, ServiceKind};

pub(super) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
const STREAMING_ECDSA_PREFIX: &str = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD";

const QUERY_PARAMS_REQUIRED: &str = "Query-string authentication version 4 requires the \
     X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, \
     and X-Amz-Expires parameters.";
const QUERY_CREDENTIAL_MALFORMED: &str = "Error parsing the X-Amz-Credential parameter; the \
     Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";

/// What the client declared its payload hash to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PayloadHash {
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// A hex SHA-256 of the body, as sent (the caller must check it against the body).
    Hex(String),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked with a chunk-signature chain.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks plus a signed trailer.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked without signatures, with a trailer.
    StreamingUnsignedTrailer,
}

impl PayloadHash {
    /// Parses an `x-amz-content-sha256` value.
    pub(crate) fn parse(value: &str) -> Result<Self, AuthError> {
        match value {
            UNSIGNED_PAYLOAD => Ok(Self::Unsigned),
            STREAMING_SIGNED => Ok(Self::StreamingSigned),
            STREAMING_SIGNED_TRAILER => Ok(Self::StreamingSignedTrailer),
            STREAMING_UNSIGNED_TRAILER => Ok(Self::StreamingUnsignedTrailer),
            v if v.starts_with(STREAMING_ECDSA_PREFIX) => {
                Err(AuthError::UnsupportedAlgorithm(v.to_owned()))
            }
            v if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Self::Hex(v.to_owned()))
            }
            v => Err(AuthError::InvalidContentSha256(v.to_owned())),
        }
    }

    /// The value as it appears in the canonical request.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Unsigned => UNSIGNED_PAYLOAD,
            Self::Hex(hex) => hex,
            Self::StreamingSigned => STREAMING_SIGNED,
            Self::StreamingSignedTrailer => STREAMING_SIGNED_TRAILER,
            Self::StreamingUnsignedTrailer => STREAMING_UNSIGNED_TRAILER,
        }
    }

    /// The aws-chunked body ends with trailing headers.
    pub(crate) fn has_trailer(&self) -> bool {
        matches!(
            self,
            Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }

    /// For `Hex`: whether `body_sha256_hex` (what the server computed) matches the declaration.
    /// Other variants make no claim about the body and return `true`.
    pub(crate) fn matches_body(&self, body_sha256_hex: &str) -> bool {
        match self {
            Self::Hex(declared) => declared.eq_ignore_ascii_case(body_sha256_hex),
            _ => true,
        }
    }
}

/// The credential scope named by the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Credential {
    pub(crate) access_key: String,
    /// `yyyymmdd`
    pub(crate) date: String,
    pub(crate) region: String,
    pub(crate) service: String,
}

impl Credential {
    /// Parses `<AKID>/<yyyymmdd>/<region>/<service>/aws4_request`.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let mut parts = value.rsplitn(5, '/');
        let terminator = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let date = parts.next()?;
        let access_key = parts.next()?;
        let date_ok = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
        if terminator != "aws4_request"
            || !date_ok
            || access_key.is_empty()
            || region.is_empty()
            || service.is_empty()
        {
            return None;
        }
        Some(Self {
            access_key: access_key.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        })
    }

    /// `yyyymmdd/region/service/aws4_request`
    pub(crate) fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// Authentication data parsed from a request, not yet verified.
#[derive(Clone, Debug)]
pub(crate) struct SignedRequest {
    pub(crate) kind: ServiceKind,
    pub(crate) credential: Credential,
    pub(crate) form: AuthForm,
    /// Lower-case header names in the order the client listed them.
    pub(crate) signed_headers: Vec<String>,
    /// Lower-case hex.
    pub(crate) signature: String,
    /// `yyyymmddTHHMMSSZ` (converted from `Date` when `X-Amz-Date` is absent).
    pub(crate) amz_date: String,
    pub(crate) request_time: SystemTime,
    /// The declared payload hash. `None` only where the body hash is used instead (KMS without
    /// `x-amz-content-sha256`); always `Some` for S3.
    pub(crate) payload: Option<PayloadHash>,
}

/// Extracts the authentication data of a request. `Ok(None)` means anonymous: no
/// `Authorization` header and no presigned query parameters.
pub(crate) fn parse(
    uri: &Uri,
    headers: &HeaderMap,
    kind: ServiceKind,
) -> Result<Option<SignedRequest>, AuthError> {
    let query = decoded_query(uri.query());
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let presigned = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"]
        .iter()
        .any(|name| param(name).is_some());
    let sigv2_query = param("AWSAccessKeyId").is_some() && param("Signature").is_some();
    match (headers.get(http::header::AUTHORIZATION), presigned) {
        (Some(_), true) => Err(AuthError::MultipleAuthMechanisms),
        (Some(auth), false) => {
            let auth = auth
                .to_str()
                .map_err(|_| AuthError::Malformed("it is not valid ASCII".into()))?;
            parse_header_form(auth, headers, kind).map(Some)
        }
        (None, true) => parse_query_form(&param, headers, kind).map(Some),
        (None, false) if sigv2_query => Err(AuthError::UnsupportedAlgorithm("AWS".into())),
        (None, false) => Ok(None),
    }
}

fn parse_header_form(
    auth: &str,
    headers: &HeaderMap,
    kind: ServiceKind,
) -> Result<SignedRequest, AuthError> {
    let malformed = |why: &str| AuthError::Malformed(why.to_owned());
    let (algorithm, rest) = auth.trim().split_once(' ').unwrap_or((auth.trim(), ""));
    if algorithm != ALGORITHM {
        return Err(AuthError::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let (key, value) = component
            .split_once('=')
            .ok_or_else(|| malformed("a component is not of the form key=value"))?;
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(malformed("it contains an unknown component")),
        };
        if slot.replace(value.trim()).is_some() {
            return Err(malformed("a component is repeated"));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(malformed(
            "the authorization header requires three components: Credential, SignedHeaders, and Signature.",
        ));
    };
    let credential = Credential::parse(credential).ok_or_else(|| {
        malformed("the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
    })?;
    let signed_headers = parse_signed_headers(signed_headers)
        .ok_or_else(|| malformed("the SignedHeaders component is invalid"))?;
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(malformed("'Host' must be a signed header"));
    }
    let signature = parse_signature(signature)
        .ok_or_else(|| malformed("the Signature must be 64 hexadecimal characters"))?;

    let (amz_date, request_time) = header_date(headers)?;
    check_scope_date(&credential, &amz_date).map_err(AuthError::Malformed)?;

    let payload = match (header_str(headers, "x-amz-content-sha256"), kind) {
        (Some(value), _) => Some(PayloadHash::parse(value)?),
        (None, ServiceKind::S3) => return Err(AuthError::MissingContentSha256),
        (None, ServiceKind::Kms) => None,
    };
    Ok(SignedRequest {
        kind,
        credential,
        form: AuthForm::Header,
        signed_headers,
        signature,
        amz_date,
        request_time,
        payload,
    })
}

fn parse_query_form<'q>(
    param: &dyn Fn(&str) -> Option<&'q str>,
    headers: &HeaderMap,
    kind: ServiceKind,
) -> Result<SignedRequest, AuthError> {
    let bad = |why: &str| AuthError::QueryParamsError(why.to_owned());
    let required = |name: &str| param(name).ok_or_else(|| bad(QUERY_PARAMS_REQUIRED));
    let algorithm = required("X-Amz-Algorithm")?;
    let credential = required("X-Amz-Credential")?;
    let signature = required("X-Amz-Signature")?;
    let date = required("X-Amz-Date")?;
    let signed_headers = required("X-Amz-SignedHeaders")?;
    let expires = required("X-Amz-Expires")?;

    if algorithm != ALGORITHM {
        return Err(bad("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""));
    }
    let credential =
        Credential::parse(credential).ok_or_else(|| bad(QUERY_CREDENTIAL_MALFORMED))?;
    let request_time = parse_amz_date(date).ok_or_else(|| {
        bad("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    })?;
    check_scope_date(&credential, date).map_err(AuthError::QueryParamsError)?;
    let expires_secs: u64 = expires
        .parse()
        .map_err(|_| bad("X-Amz-Expires should be a number"))?;
    if expires_secs == 0 {
        return Err(bad("X-Amz-Expires must be non-negative"));
    }
    if expires_secs > MAX_PRESIGN_EXPIRES_SECS {
        return Err(bad(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds",
        ));
    }
    let signed_headers = parse_signed_headers(signed_headers)
        .ok_or_else(|| bad("X-Amz-SignedHeaders is invalid"))?;
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(bad("'Host' must be a signed header"));
    }
    let signature = parse_signature(signature)
        .ok_or_else(|| bad("X-Amz-Signature must be 64 hex characters"))?;

    // A signed content-hash header wins; otherwise the query may name one; otherwise S3
    // presigned URLs cover no payload, while other services sign the body hash.
    let declared = if signed_headers.iter().any(|h| h == "x-amz-content-sha256") {
        header_str(headers, "x-amz-content-sha256")
    } else {
        param("X-Amz-Content-Sha256")
    };
    let payload = match (declared, kind) {
        (Some(value), _) => Some(PayloadHash::parse(value)?),
        (None, ServiceKind::S3) => Some(PayloadHash::Unsigned),
        (None, ServiceKind::Kms) => None,
    };
    Ok(SignedRequest {
        kind,
        credential,
        form: AuthForm::Presigned { expires_secs },
        signed_headers,
        signature,
        amz_date: date.to_owned(),
        request_time,
        payload,
    })
}

/// Query parameters decoded for reading (not for canonicalisation), in order.
pub(crate) fn decoded_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| {
                percent_decode(s.as_bytes())
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(name), decode(value))
        })
        .collect()
}

fn parse_signed_headers(value: &str) -> Option<Vec<String>> {
    let names: Vec<String> = value.split(';').map(str::to_ascii_lowercase).collect();
    let valid = names.iter().all(|n| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b':' | b';' | b','))
    });
    valid.then_some(names)
}

fn parse_signature(value: &str) -> Option<String> {
    (value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| value.to_ascii_lowercase())
}

pub(super) fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The request timestamp of the header form: `X-Amz-Date`, else `Date` (IMF-fixdate).
fn header_date(headers: &HeaderMap) -> Result<(String, SystemTime), AuthError> {
    if let Some(value) = header_str(headers, "x-amz-date") {
        let time = parse_amz_date(value).ok_or(AuthError::MissingDate)?;
        return Ok((value.to_owned(), time));
    }
    let value = header_str(headers, "date").ok_or(AuthError::MissingDate)?;
    let time = time::PrimitiveDateTime::parse(value, HTTP_DATE_FORMAT)
        .map_err(|_| AuthError::MissingDate)?
        .assume_utc();
    let time = SystemTime::from(time);
    Ok((format_time(time, AMZ_DATE_FORMAT), time))
}

pub(super) fn parse_amz_date(value: &str) -> Option<SystemTime> {
    if value.len() != 16 {
        return None;
    }
    let time = time::PrimitiveDateTime::parse(value, AMZ_DATE_FORMAT).ok()?;
    Some(time.assume_utc().into())
}

fn check_scope_date(credential: &Credential, amz_date: &str) -> Result<(), String> {
    let day = amz_date.get(..8).unwrap_or(amz_date);
    if credential.date == day {
        Ok(())
    } else {
        Err(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{day}', from '{amz_date}'.",
            credential.date
        ))
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::EMPTY_SHA256_HEX;
    use crate::sigv4::testutil::*;

    #[test]
    fn presigned_parameter_errors() {
        let too_long = PRESIGNED.replace("X-Amz-Expires=86400", "X-Amz-Expires=604801");
        let missing = PRESIGNED.replace("&X-Amz-Expires=86400", "");
        let bad_cred = PRESIGNED.replace("%2Faws4_request", "%2Faws5_request");
        let not_a_number = PRESIGNED.replace("X-Amz-Expires=86400", "X-Amz-Expires=soon");
        for (uri, needle) in [
            (too_long.as_str(), "less than a week"),
            (missing.as_str(), "requires the X-Amz-Algorithm"),
            (bad_cred.as_str(), "Credential is mal-formed"),
            (not_a_number.as_str(), "should be a number"),
        ] {
            let r = presigned(uri, &[]);
            match parse(&r.uri, &r.headers, ServiceKind::S3) {
                Err(AuthError::QueryParamsError(msg)) => assert!(msg.contains(needle), "{msg}"),
                other => panic!("{uri}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_and_unsupported_authorization() {
        let auth = |value: &str| {
            let r = req(
                "GET",
                "/test.txt",
                &[
                    ("host", "examplebucket.s3.amazonaws.com"),
                    ("x-amz-content-sha256", EMPTY_SHA256_HEX),
                    ("x-amz-date", "20130524T000000Z"),
                    ("authorization", value),
                ],
            );
            parse(&r.uri, &r.headers, ServiceKind::S3)
        };
        let sig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
        let cases = [
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host".to_owned(),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3,SignedHeaders=host,Signature={sig}"
            ),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=range,Signature={sig}"
            ),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=xyz".to_owned(),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130525/us-east-1/s3/aws4_request,SignedHeaders=host,Signature={sig}"
            ),
            format!(
                "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature={sig},Extra=1"
            ),
        ];
        for case in &cases {
            assert!(matches!(auth(case), Err(AuthError::Malformed(_))), "{case}");
        }
        assert!(
            matches!(auth("AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="), Err(AuthError::UnsupportedAlgorithm(a)) if a == "AWS")
        );
        assert!(matches!(
            auth("AWS4-ECDSA-P256-SHA256 Credential=x"),
            Err(AuthError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn parse_edge_cases() {
        let r = req("GET", "/test.txt?versionId=3", &[("host", "h")]);
        assert!(
            parse(&r.uri, &r.headers, ServiceKind::S3)
                .unwrap()
                .is_none()
        );

        let r = aws_get_object(&[]);
        let mut headers = r.headers.clone();
        headers.remove("x-amz-content-sha256");
        assert!(matches!(
            parse(&r.uri, &headers, ServiceKind::S3),
            Err(AuthError::MissingContentSha256)
        ));
        headers.insert("x-amz-content-sha256", "not-a-hash".parse().unwrap());
        assert!(matches!(
            parse(&r.uri, &headers, ServiceKind::S3),
            Err(AuthError::InvalidContentSha256(_))
        ));
        headers.remove("x-amz-date");
        headers.insert("x-amz-content-sha256", EMPTY_SHA256_HEX.parse().unwrap());
        assert!(matches!(
            parse(&r.uri, &headers, ServiceKind::S3),
            Err(AuthError::MissingDate)
        ));

        let both: Uri = PRESIGNED.parse().unwrap();
        assert!(matches!(
            parse(&both, &r.headers, ServiceKind::S3),
            Err(AuthError::MultipleAuthMechanisms)
        ));
    }

    #[test]
    fn payload_hash_tokens() {
        for token in [
            "UNSIGNED-PAYLOAD",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            EMPTY_SHA256_HEX,
        ] {
            assert_eq!(PayloadHash::parse(token).unwrap().as_str(), token);
        }
        assert!(PayloadHash::StreamingUnsignedTrailer.has_trailer());
        assert!(!PayloadHash::StreamingSigned.has_trailer());
        assert!(matches!(
            PayloadHash::parse("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"),
            Err(AuthError::UnsupportedAlgorithm(_))
        ));
    }
}
