//! AWS Signature Version 4 verification, shared by the S3 and KMS listeners.
//!
//! We verify by recomputation: rebuild the canonical request from what arrived on the wire,
//! derive the signing key from the caller's secret, and compare signatures in constant time.
//! Parsing ([`parse`]) needs no secret, so the caller can look the access key up (and answer
//! "unknown key" in its own dialect) before [`verify`] runs.
//!
//! Protocol decisions (reference: `aws-semantics.md` §3.6, §1.9):
//! - Two forms: the `Authorization` header and the presigned query (`X-Amz-*` parameters).
//!   Presence of both is rejected: the request has one identity or none.
//! - S3 signs the path as sent (no dot-segment or slash normalisation); clients differ in which
//!   bytes they escape, so we decode the raw path once and re-encode every byte outside the
//!   unreserved set and `/`, and fall back to the raw path exactly as received. Other services
//!   (KMS) normalise dot segments and encode the raw path again ("double encoding").
//! - S3's payload hash is the `x-amz-content-sha256` value, which the header form must carry; a
//!   presigned request signs `UNSIGNED-PAYLOAD` unless it signed a content hash. KMS signs the
//!   hex SHA-256 of the body, which the caller supplies.
//! - Every `x-amz-*` header present must be signed, so a signed request cannot be extended with
//!   unsigned semantics. Exempt: `x-amz-content-sha256` on presigned requests (the query carries
//!   the hash decision), and SSE-C key / key-MD5 headers when their algorithm header is signed,
//!   because presigned URLs are shared and the key must not be baked into them.
//! - The header form must fall within a clock-skew window; the presigned form is instead
//!   checked against its own `X-Amz-Expires` (and is "not yet valid" when dated beyond the
//!   skew window into the future).

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, SystemTime};

use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, Method, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The only algorithm accepted (SigV4a is not supported).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Hex SHA-256 of the empty string.
pub const EMPTY_SHA256_HEX: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Longest presigned lifetime AWS accepts (one week).
pub const MAX_PRESIGN_EXPIRES_SECS: u64 = 604_800;
/// Clock-skew window for S3 header authentication.
pub const S3_MAX_SKEW: Duration = Duration::from_secs(15 * 60);
/// Clock-skew window for KMS (JSON protocol) requests.
pub const KMS_MAX_SKEW: Duration = Duration::from_secs(5 * 60);

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
const STREAMING_ECDSA_PREFIX: &str = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD";

const QUERY_PARAMS_REQUIRED: &str = "Query-string authentication version 4 requires the \
     X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, \
     and X-Amz-Expires parameters.";
const QUERY_CREDENTIAL_MALFORMED: &str = "Error parsing the X-Amz-Credential parameter; the \
     Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";

/// RFC 3986 unreserved characters stay; everything else is `%XX` (upper-case hex).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Path segments keep their separators.
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

const AMZ_DATE_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
const ISO8601_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
const HTTP_DATE_FORMAT: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

type HmacSha256 = Hmac<Sha256>;

/// Which canonicalisation rules apply: S3's, or those of the JSON services (KMS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    S3,
    Kms,
}

/// What the client declared its payload hash to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadHash {
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
    pub fn parse(value: &str) -> Result<Self, AuthError> {
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
    pub fn as_str(&self) -> &str {
        match self {
            Self::Unsigned => UNSIGNED_PAYLOAD,
            Self::Hex(hex) => hex,
            Self::StreamingSigned => STREAMING_SIGNED,
            Self::StreamingSignedTrailer => STREAMING_SIGNED_TRAILER,
            Self::StreamingUnsignedTrailer => STREAMING_UNSIGNED_TRAILER,
        }
    }

    /// The body is aws-chunked framed.
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            Self::StreamingSigned | Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }

    /// The aws-chunked body ends with trailing headers.
    pub fn has_trailer(&self) -> bool {
        matches!(
            self,
            Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }

    /// For `Hex`: whether `body_sha256_hex` (what the server computed) matches the declaration.
    /// Other variants make no claim about the body and return `true`.
    pub fn matches_body(&self, body_sha256_hex: &str) -> bool {
        match self {
            Self::Hex(declared) => declared.eq_ignore_ascii_case(body_sha256_hex),
            _ => true,
        }
    }
}

/// The credential scope named by the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub access_key: String,
    /// `yyyymmdd`
    pub date: String,
    pub region: String,
    pub service: String,
}

impl Credential {
    /// Parses `<AKID>/<yyyymmdd>/<region>/<service>/aws4_request`.
    pub fn parse(value: &str) -> Option<Self> {
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
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// Where the signature travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthForm {
    Header,
    Presigned { expires_secs: u64 },
}

/// Authentication data parsed from a request, not yet verified.
#[derive(Clone, Debug)]
pub struct SignedRequest {
    pub kind: ServiceKind,
    pub credential: Credential,
    pub form: AuthForm,
    /// Lower-case header names in the order the client listed them.
    pub signed_headers: Vec<String>,
    /// Lower-case hex.
    pub signature: String,
    /// `yyyymmddTHHMMSSZ` (converted from `Date` when `X-Amz-Date` is absent).
    pub amz_date: String,
    pub request_time: SystemTime,
    /// The declared payload hash. `None` only where the body hash is used instead (KMS without
    /// `x-amz-content-sha256`); always `Some` for S3.
    pub payload: Option<PayloadHash>,
    /// `X-Amz-Security-Token` (header or query) — temporary credentials; the caller decides.
    pub security_token: Option<String>,
}

/// What the server expects of a request's scope and time.
#[derive(Clone, Debug)]
pub struct Expectations {
    pub region: String,
    /// `"s3"` or `"kms"`.
    pub service: &'static str,
    pub now: SystemTime,
    pub max_skew: Duration,
}

impl Expectations {
    /// S3 defaults: service `s3`, 15-minute skew.
    pub fn s3(region: impl Into<String>, now: SystemTime) -> Self {
        Self {
            region: region.into(),
            service: "s3",
            now,
            max_skew: S3_MAX_SKEW,
        }
    }

    /// KMS defaults: service `kms`, 5-minute skew.
    pub fn kms(region: impl Into<String>, now: SystemTime) -> Self {
        Self {
            region: region.into(),
            service: "kms",
            now,
            max_skew: KMS_MAX_SKEW,
        }
    }
}

/// A request whose signature checked out, with what the aws-chunked decoder needs.
#[derive(Clone, Debug)]
pub struct Verified {
    pub access_key: String,
    pub signing_key: SigningKey,
    /// The request signature: the first "previous signature" of a chunk chain.
    pub seed_signature: String,
    pub amz_date: String,
    /// `yyyymmdd/region/service/aws4_request`
    pub scope: String,
    /// The payload hash that was signed (for KMS without a header: the body hash).
    pub payload: PayloadHash,
    pub form: AuthForm,
    pub security_token: Option<String>,
}

/// Why a request failed authentication. Neutral: the S3 and KMS front ends map these to their
/// own error codes (see the variant docs for the S3 mapping).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// S3: 400 InvalidArgument "Unsupported Authorization Type" (SigV2, SigV4a, unknown).
    #[error("unsupported authorization type: {0}")]
    UnsupportedAlgorithm(String),
    /// S3: 400 InvalidArgument "Only one auth mechanism allowed".
    #[error(
        "only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"
    )]
    MultipleAuthMechanisms,
    /// S3: 400 AuthorizationHeaderMalformed.
    #[error("The authorization header is malformed; {0}")]
    Malformed(String),
    /// S3: 400 AuthorizationQueryParametersError.
    #[error("{0}")]
    QueryParamsError(String),
    /// S3: 403 AccessDenied.
    #[error("AWS authentication requires a valid Date or x-amz-date header")]
    MissingDate,
    /// S3: 400 InvalidRequest "Missing required header for this request: x-amz-content-sha256".
    #[error("Missing required header for this request: x-amz-content-sha256")]
    MissingContentSha256,
    /// S3: 400 InvalidArgument.
    #[error(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value: {0:?}"
    )]
    InvalidContentSha256(String),
    /// A declared hex payload hash differs from the body the caller hashed. S3: 400
    /// XAmzContentSHA256Mismatch.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    /// S3: 400 AuthorizationHeaderMalformed (the AWS message names both regions).
    #[error("the region '{got}' is wrong; expecting '{expected}'")]
    WrongRegion { got: String, expected: String },
    /// S3: 400 AuthorizationHeaderMalformed.
    #[error("incorrect service '{got}'; this endpoint belongs to '{expected}'")]
    WrongService { got: String, expected: String },
    /// S3: 403 AccessDenied "There were headers present in the request which were not signed"
    /// with `<HeadersNotSigned>` listing them.
    #[error("There were headers present in the request which were not signed: {}", .0.join(", "))]
    UnsignedHeaders(Vec<String>),
    /// Header form outside the skew window. S3: 403 RequestTimeTooSkewed; KMS: 400
    /// InvalidSignatureException "Signature expired"/"Signature not yet current".
    #[error("The difference between the request time and the current time is too large.")]
    RequestTimeTooSkewed {
        /// `yyyymmddTHHMMSSZ`
        request_time: String,
        /// `yyyymmddTHHMMSSZ`
        server_time: String,
        max_skew: Duration,
        /// The request claims a time after the server's.
        in_future: bool,
    },
    /// Presigned URL past its lifetime. S3: 403 AccessDenied.
    #[error("Request has expired")]
    Expired {
        expires_secs: u64,
        /// ISO 8601 (`2013-05-25T00:00:00Z`)
        expires_at: String,
        /// ISO 8601
        server_time: String,
    },
    /// Presigned URL dated in the future. S3: 403 AccessDenied.
    #[error("Request is not valid yet")]
    NotYetValid {
        /// ISO 8601
        request_time: String,
        /// ISO 8601
        server_time: String,
    },
    /// S3: 403 SignatureDoesNotMatch (with these fields in the error body); KMS: 400
    /// InvalidSignatureException.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your key and signing method."
    )]
    SignatureMismatch {
        access_key: String,
        signature_provided: String,
        string_to_sign: String,
        canonical_request: String,
    },
}

/// A SigV4 signing key (`kSigning`). Zeroised on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// Derives `kSigning` from the secret and the credential scope.
    pub fn derive(secret: &str, date: &str, region: &str, service: &str) -> Self {
        let mut seed = Zeroizing::new(Vec::with_capacity(4 + secret.len()));
        seed.extend_from_slice(b"AWS4");
        seed.extend_from_slice(secret.as_bytes());
        let k_date = Zeroizing::new(hmac_sha256(&seed, date.as_bytes()));
        let k_region = Zeroizing::new(hmac_sha256(&*k_date, region.as_bytes()));
        let k_service = Zeroizing::new(hmac_sha256(&*k_region, service.as_bytes()));
        Self(hmac_sha256(&*k_service, b"aws4_request"))
    }

    /// Lower-case hex HMAC-SHA256 of `string_to_sign` under this key.
    pub fn sign(&self, string_to_sign: &[u8]) -> String {
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
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Constant-time equality of two signatures (hex strings).
pub fn signatures_match(computed: &str, provided: &str) -> bool {
    computed.as_bytes().ct_eq(provided.as_bytes()).into()
}

/// Extracts the authentication data of a request. `Ok(None)` means anonymous: no
/// `Authorization` header and no presigned query parameters.
pub fn parse(
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
        security_token: header_str(headers, "x-amz-security-token").map(str::to_owned),
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
    let security_token = param("X-Amz-Security-Token")
        .or_else(|| header_str(headers, "x-amz-security-token"))
        .map(str::to_owned);
    Ok(SignedRequest {
        kind,
        credential,
        form: AuthForm::Presigned { expires_secs },
        signed_headers,
        signature,
        amz_date: date.to_owned(),
        request_time,
        payload,
        security_token,
    })
}

/// Verifies `req` (from [`parse`] on the same request) with the secret of
/// `req.credential.access_key`. `body_sha256_hex` is the hex SHA-256 of the body; it is required
/// for KMS requests without `x-amz-content-sha256` and is checked against a declared hex hash
/// when given. S3 callers pass `None` and check a `PayloadHash::Hex` against the body once it
/// has been read.
pub fn verify(
    req: &SignedRequest,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    secret: &str,
    exp: &Expectations,
    body_sha256_hex: Option<&str>,
) -> Result<Verified, AuthError> {
    let cred = &req.credential;
    if cred.service != exp.service {
        return Err(AuthError::WrongService {
            got: cred.service.clone(),
            expected: exp.service.to_owned(),
        });
    }
    if cred.region != exp.region {
        return Err(AuthError::WrongRegion {
            got: cred.region.clone(),
            expected: exp.region.clone(),
        });
    }
    check_time(req, exp)?;
    check_all_amz_headers_signed(req, headers)?;

    let payload = match (&req.payload, body_sha256_hex) {
        (Some(declared), Some(body)) if !declared.matches_body(body) => {
            return Err(AuthError::ContentSha256Mismatch);
        }
        (Some(declared), _) => declared.clone(),
        (None, Some(body)) => PayloadHash::Hex(body.to_ascii_lowercase()),
        (None, None) => return Err(AuthError::MissingContentSha256),
    };

    let scope = cred.scope();
    let signing_key = SigningKey::derive(secret, &cred.date, &cred.region, &cred.service);
    let query = canonical_query(uri.query(), matches!(req.form, AuthForm::Presigned { .. }));
    let canonical_headers = canonical_headers(&req.signed_headers, headers, uri);
    let signed_headers = req.signed_headers.join(";");

    let mut first_attempt = None;
    for path in canonical_uri_candidates(uri.path(), req.kind) {
        let canonical_request = [
            method.as_str().as_bytes(),
            path.as_bytes(),
            query.as_bytes(),
            &canonical_headers,
            signed_headers.as_bytes(),
            payload.as_str().as_bytes(),
        ]
        .join(&b'\n');
        let string_to_sign = format!(
            "{ALGORITHM}\n{}\n{scope}\n{}",
            req.amz_date,
            sha256_hex(&canonical_request)
        );
        if signatures_match(&signing_key.sign(string_to_sign.as_bytes()), &req.signature) {
            return Ok(Verified {
                access_key: cred.access_key.clone(),
                signing_key,
                seed_signature: req.signature.clone(),
                amz_date: req.amz_date.clone(),
                scope,
                payload,
                form: req.form,
                security_token: req.security_token.clone(),
            });
        }
        first_attempt.get_or_insert((string_to_sign, canonical_request));
    }
    let (string_to_sign, canonical_request) = first_attempt.unwrap_or_default();
    Err(AuthError::SignatureMismatch {
        access_key: cred.access_key.clone(),
        signature_provided: req.signature.clone(),
        string_to_sign,
        canonical_request: String::from_utf8_lossy(&canonical_request).into_owned(),
    })
}

fn check_time(req: &SignedRequest, exp: &Expectations) -> Result<(), AuthError> {
    // Err(d): the request claims a time `d` after the server's clock.
    let age = exp.now.duration_since(req.request_time);
    match req.form {
        AuthForm::Header => {
            let (distance, in_future) = match &age {
                Ok(d) => (*d, false),
                Err(e) => (e.duration(), true),
            };
            if distance > exp.max_skew {
                return Err(AuthError::RequestTimeTooSkewed {
                    request_time: req.amz_date.clone(),
                    server_time: format_time(exp.now, AMZ_DATE_FORMAT),
                    max_skew: exp.max_skew,
                    in_future,
                });
            }
        }
        AuthForm::Presigned { expires_secs } => match age {
            // A URL minted on a client whose clock runs slightly ahead is still usable.
            Err(e) if e.duration() > exp.max_skew => {
                return Err(AuthError::NotYetValid {
                    request_time: format_time(req.request_time, ISO8601_FORMAT),
                    server_time: format_time(exp.now, ISO8601_FORMAT),
                });
            }
            Ok(d) if d > Duration::from_secs(expires_secs) => {
                return Err(AuthError::Expired {
                    expires_secs,
                    expires_at: format_time(
                        req.request_time + Duration::from_secs(expires_secs),
                        ISO8601_FORMAT,
                    ),
                    server_time: format_time(exp.now, ISO8601_FORMAT),
                });
            }
            _ => {}
        },
    }
    Ok(())
}

fn check_all_amz_headers_signed(req: &SignedRequest, headers: &HeaderMap) -> Result<(), AuthError> {
    let signed: BTreeSet<&str> = req.signed_headers.iter().map(String::as_str).collect();
    let presigned = matches!(req.form, AuthForm::Presigned { .. });
    let exempt = |name: &str| {
        if !presigned {
            return false;
        }
        if name == "x-amz-content-sha256" {
            return true;
        }
        // SSE-C key material may ride unsigned when its algorithm header is signed (§1.9).
        ["x-amz-", "x-amz-copy-source-"].iter().any(|prefix| {
            let Some(rest) = name.strip_prefix(prefix) else {
                return false;
            };
            matches!(
                rest,
                "server-side-encryption-customer-key" | "server-side-encryption-customer-key-md5"
            ) && signed
                .contains(format!("{prefix}server-side-encryption-customer-algorithm").as_str())
        })
    };
    let unsigned: Vec<String> = headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| name.starts_with("x-amz-") && !signed.contains(name) && !exempt(name))
        .map(str::to_owned)
        .collect();
    if unsigned.is_empty() {
        Ok(())
    } else {
        Err(AuthError::UnsignedHeaders(unsigned))
    }
}

/// The canonical URIs worth trying, most likely first.
fn canonical_uri_candidates(raw_path: &str, kind: ServiceKind) -> Vec<String> {
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
fn remove_dot_segments(path: &str) -> String {
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
fn canonical_query(query: Option<&str>, presigned: bool) -> String {
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
fn canonical_headers(signed: &[String], headers: &HeaderMap, uri: &Uri) -> Vec<u8> {
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

/// Query parameters decoded for reading (not for canonicalisation).
fn decoded_query(query: Option<&str>) -> Vec<(String, String)> {
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

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
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

fn parse_amz_date(value: &str) -> Option<SystemTime> {
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

fn format_time(time: SystemTime, format: &[BorrowedFormatItem<'_>]) -> String {
    OffsetDateTime::from(time)
        .format(format)
        .unwrap_or_else(|_| String::from("invalid time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS_DOC_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn at(amz_date: &str) -> SystemTime {
        parse_amz_date(amz_date).unwrap()
    }

    struct Req {
        method: Method,
        uri: Uri,
        headers: HeaderMap,
    }

    fn req(method: &str, uri: &str, headers: &[(&str, &str)]) -> Req {
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

    fn check(
        r: &Req,
        kind: ServiceKind,
        secret: &str,
        exp: &Expectations,
        body: Option<&str>,
    ) -> Result<Verified, AuthError> {
        let signed = parse(&r.uri, &r.headers, kind)?.expect("request is signed");
        verify(&signed, &r.method, &r.uri, &r.headers, secret, exp, body)
    }

    fn s3_exp(now: &str) -> Expectations {
        Expectations::s3("us-east-1", at(now))
    }

    /// AWS "GET Object" example (sig-v4-header-based-auth).
    fn aws_get_object(extra: &[(&str, &str)]) -> Req {
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

    #[test]
    fn aws_get_object_vector_verifies() {
        let v = check(
            &aws_get_object(&[]),
            ServiceKind::S3,
            AWS_DOC_SECRET,
            &s3_exp("20130524T000100Z"),
            None,
        )
        .unwrap();
        assert_eq!(v.access_key, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(v.scope, "20130524/us-east-1/s3/aws4_request");
        assert_eq!(v.amz_date, "20130524T000000Z");
        assert_eq!(
            v.seed_signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(v.payload, PayloadHash::Hex(EMPTY_SHA256_HEX.into()));
        assert_eq!(v.form, AuthForm::Header);
    }

    #[test]
    fn aws_put_object_vector_verifies_with_encoded_and_raw_path() {
        let headers = [
            ("host", "examplebucket.s3.amazonaws.com"),
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            (
                "x-amz-content-sha256",
                "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            ),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
            ),
        ];
        for path in ["/test%24file.text", "/test$file.text"] {
            let r = req("PUT", path, &headers);
            check(
                &r,
                ServiceKind::S3,
                AWS_DOC_SECRET,
                &s3_exp("20130524T000000Z"),
                None,
            )
            .unwrap();
        }
    }

    #[test]
    fn aws_bucket_query_vectors_verify() {
        let cases = [
            (
                "/?lifecycle",
                "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
            ),
            (
                "/?max-keys=2&prefix=J",
                "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
            ),
        ];
        for (uri, signature) in cases {
            let auth = format!(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature={signature}"
            );
            let r = req(
                "GET",
                uri,
                &[
                    ("host", "examplebucket.s3.amazonaws.com"),
                    ("x-amz-date", "20130524T000000Z"),
                    ("x-amz-content-sha256", EMPTY_SHA256_HEX),
                    ("authorization", &auth),
                ],
            );
            check(
                &r,
                ServiceKind::S3,
                AWS_DOC_SECRET,
                &s3_exp("20130524T000000Z"),
                None,
            )
            .unwrap_or_else(|e| panic!("{uri}: {e:?}"));
        }
    }

    const PRESIGNED: &str = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

    fn presigned(uri: &str, extra: &[(&str, &str)]) -> Req {
        let mut headers = vec![("host", "examplebucket.s3.amazonaws.com")];
        headers.extend_from_slice(extra);
        req("GET", uri, &headers)
    }

    #[test]
    fn aws_presigned_vector_verifies() {
        let v = check(
            &presigned(PRESIGNED, &[]),
            ServiceKind::S3,
            AWS_DOC_SECRET,
            &s3_exp("20130524T120000Z"),
            None,
        )
        .unwrap();
        assert_eq!(
            v.form,
            AuthForm::Presigned {
                expires_secs: 86400
            }
        );
        assert_eq!(v.payload, PayloadHash::Unsigned);
        // The content hash header is exempt from the unsigned-header rule on presigned URLs.
        let r = presigned(PRESIGNED, &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]);
        check(
            &r,
            ServiceKind::S3,
            AWS_DOC_SECRET,
            &s3_exp("20130524T120000Z"),
            None,
        )
        .unwrap();
    }

    #[test]
    fn presigned_expiry_and_not_yet_valid() {
        let r = presigned(PRESIGNED, &[]);
        check(
            &r,
            ServiceKind::S3,
            AWS_DOC_SECRET,
            &s3_exp("20130525T000000Z"),
            None,
        )
        .unwrap();
        match check(
            &r,
            ServiceKind::S3,
            AWS_DOC_SECRET,
            &s3_exp("20130525T000001Z"),
            None,
        ) {
            Err(AuthError::Expired {
                expires_secs,
                expires_at,
                server_time,
            }) => {
                assert_eq!(expires_secs, 86400);
                assert_eq!(expires_at, "2013-05-25T00:00:00Z");
                assert_eq!(server_time, "2013-05-25T00:00:01Z");
            }
            other => panic!("{other:?}"),
        }
        let err = check(
            &r,
            ServiceKind::S3,
            AWS_DOC_SECRET,
            &s3_exp("20130523T230000Z"),
            None,
        )
        .unwrap_err();
        assert!(matches!(err, AuthError::NotYetValid { .. }), "{err:?}");
        // Presigned requests are not subject to the skew window.
        check(
            &r,
            ServiceKind::S3,
            AWS_DOC_SECRET,
            &s3_exp("20130524T200000Z"),
            None,
        )
        .unwrap();
    }

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
    fn presigned_rejects_unsigned_amz_headers() {
        let r = presigned(PRESIGNED, &[("x-amz-acl", "public-read")]);
        let err = check(
            &r,
            ServiceKind::S3,
            AWS_DOC_SECRET,
            &s3_exp("20130524T120000Z"),
            None,
        )
        .unwrap_err();
        assert!(
            matches!(&err, AuthError::UnsignedHeaders(h) if h == &["x-amz-acl"]),
            "{err:?}"
        );
    }

    #[test]
    fn presigned_sse_c_key_headers_may_be_unsigned_when_algorithm_is_signed() {
        let r = presigned(
            PRESIGNED,
            &[
                ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                ("x-amz-server-side-encryption-customer-key", "a2V5"),
                ("x-amz-server-side-encryption-customer-key-md5", "bWQ1"),
            ],
        );
        let mut signed = parse(&r.uri, &r.headers, ServiceKind::S3).unwrap().unwrap();
        signed.signed_headers = vec![
            "host".into(),
            "x-amz-server-side-encryption-customer-algorithm".into(),
        ];
        check_all_amz_headers_signed(&signed, &r.headers).unwrap();
        // Without the signed algorithm header the key headers are just unsigned headers.
        signed.signed_headers = vec!["host".into()];
        let err = check_all_amz_headers_signed(&signed, &r.headers).unwrap_err();
        assert!(
            matches!(&err, AuthError::UnsignedHeaders(h) if h.len() == 3),
            "{err:?}"
        );
        // The header form has no such exemption.
        signed.form = AuthForm::Header;
        signed.signed_headers = vec![
            "host".into(),
            "x-amz-server-side-encryption-customer-algorithm".into(),
        ];
        let err = check_all_amz_headers_signed(&signed, &r.headers).unwrap_err();
        assert!(
            matches!(&err, AuthError::UnsignedHeaders(h) if h.len() == 2),
            "{err:?}"
        );
    }

    #[test]
    fn tampered_header_is_a_signature_mismatch() {
        let mut r = aws_get_object(&[]);
        r.headers.insert("range", "bytes=0-99".parse().unwrap());
        match check(
            &r,
            ServiceKind::S3,
            AWS_DOC_SECRET,
            &s3_exp("20130524T000000Z"),
            None,
        ) {
            Err(AuthError::SignatureMismatch {
                canonical_request,
                string_to_sign,
                access_key,
                ..
            }) => {
                assert!(
                    canonical_request.contains("\nrange:bytes=0-99\n"),
                    "{canonical_request}"
                );
                assert!(string_to_sign.starts_with(
                    "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
                ));
                assert_eq!(access_key, "AKIAIOSFODNN7EXAMPLE");
            }
            other => panic!("{other:?}"),
        }
        let wrong_secret = check(
            &aws_get_object(&[]),
            ServiceKind::S3,
            SUITE_SECRET,
            &s3_exp("20130524T000000Z"),
            None,
        );
        assert!(matches!(
            wrong_secret,
            Err(AuthError::SignatureMismatch { .. })
        ));
    }

    #[test]
    fn wrong_region_and_service() {
        let r = aws_get_object(&[]);
        let exp = Expectations::s3("eu-west-1", at("20130524T000000Z"));
        let err = check(&r, ServiceKind::S3, AWS_DOC_SECRET, &exp, None).unwrap_err();
        assert!(
            matches!(&err, AuthError::WrongRegion { got, expected } if got == "us-east-1" && expected == "eu-west-1"),
            "{err:?}"
        );
        let exp = Expectations::kms("us-east-1", at("20130524T000000Z"));
        let err = check(&r, ServiceKind::Kms, AWS_DOC_SECRET, &exp, None).unwrap_err();
        assert!(matches!(err, AuthError::WrongService { .. }), "{err:?}");
    }

    #[test]
    fn clock_skew_window() {
        let r = aws_get_object(&[]);
        for ok in ["20130524T001500Z", "20130523T234500Z"] {
            check(&r, ServiceKind::S3, AWS_DOC_SECRET, &s3_exp(ok), None).unwrap();
        }
        match check(
            &r,
            ServiceKind::S3,
            AWS_DOC_SECRET,
            &s3_exp("20130524T001501Z"),
            None,
        ) {
            Err(AuthError::RequestTimeTooSkewed {
                request_time,
                server_time,
                in_future,
                max_skew,
            }) => {
                assert_eq!(request_time, "20130524T000000Z");
                assert_eq!(server_time, "20130524T001501Z");
                assert!(!in_future);
                assert_eq!(max_skew, S3_MAX_SKEW);
            }
            other => panic!("{other:?}"),
        }
        let err = check(
            &r,
            ServiceKind::S3,
            AWS_DOC_SECRET,
            &s3_exp("20130523T234459Z"),
            None,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                AuthError::RequestTimeTooSkewed {
                    in_future: true,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn unsigned_amz_header_on_header_form() {
        let r = aws_get_object(&[("x-amz-meta-owner", "mallory")]);
        let err = check(
            &r,
            ServiceKind::S3,
            AWS_DOC_SECRET,
            &s3_exp("20130524T000000Z"),
            None,
        )
        .unwrap_err();
        assert!(
            matches!(&err, AuthError::UnsignedHeaders(h) if h == &["x-amz-meta-owner"]),
            "{err:?}"
        );
        // Headers outside x-amz-* (user-agent, expect, ...) may stay unsigned.
        let r = aws_get_object(&[("user-agent", "test"), ("expect", "100-continue")]);
        check(
            &r,
            ServiceKind::S3,
            AWS_DOC_SECRET,
            &s3_exp("20130524T000000Z"),
            None,
        )
        .unwrap();
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
        assert!(PayloadHash::StreamingSigned.is_streaming());
        assert!(matches!(
            PayloadHash::parse("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"),
            Err(AuthError::UnsupportedAlgorithm(_))
        ));
    }

    /// Cases from the AWS SigV4 test suite (credentials AKIDEXAMPLE, service `service`), which
    /// follow the non-S3 rules: normalised path, body hash as the payload hash.
    #[test]
    fn aws_sigv4_test_suite_vectors() {
        let cases = [
            (
                "GET",
                "/",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "POST",
                "/",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            ),
            (
                "GET",
                "/?Param2=value2&Param1=value1",
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            ),
            (
                "GET",
                "/?Param1=value1",
                "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
            ),
            (
                "GET",
                "/example1/example2/../..",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "GET",
                "/./",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "GET",
                "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
            ),
            (
                "GET",
                "/%E1%88%B4",
                "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
            ),
        ];
        let exp = Expectations {
            region: "us-east-1".into(),
            service: "service",
            now: at("20150830T123600Z"),
            max_skew: KMS_MAX_SKEW,
        };
        for (method, uri, signature) in cases {
            let auth = format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"
            );
            let r = req(
                method,
                uri,
                &[
                    ("host", "example.amazonaws.com"),
                    ("x-amz-date", "20150830T123600Z"),
                    ("authorization", &auth),
                ],
            );
            let v = check(
                &r,
                ServiceKind::Kms,
                SUITE_SECRET,
                &exp,
                Some(EMPTY_SHA256_HEX),
            )
            .unwrap_or_else(|e| panic!("{method} {uri}: {e:?}"));
            assert_eq!(v.payload, PayloadHash::Hex(EMPTY_SHA256_HEX.into()));
        }
    }

    #[test]
    fn kms_requires_and_checks_the_body_hash() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let exp = Expectations {
            region: "us-east-1".into(),
            service: "service",
            now: at("20150830T123600Z"),
            max_skew: KMS_MAX_SKEW,
        };
        let r = req(
            "GET",
            "/",
            &[
                ("host", "example.amazonaws.com"),
                ("x-amz-date", "20150830T123600Z"),
                ("authorization", auth),
            ],
        );
        assert!(matches!(
            check(&r, ServiceKind::Kms, SUITE_SECRET, &exp, None),
            Err(AuthError::MissingContentSha256)
        ));
        let other_body = sha256_hex(b"{}");
        assert!(matches!(
            check(&r, ServiceKind::Kms, SUITE_SECRET, &exp, Some(&other_body)),
            Err(AuthError::SignatureMismatch { .. })
        ));
        let too_late = Expectations {
            now: at("20150830T124101Z"),
            ..exp.clone()
        };
        assert!(matches!(
            check(
                &r,
                ServiceKind::Kms,
                SUITE_SECRET,
                &too_late,
                Some(EMPTY_SHA256_HEX)
            ),
            Err(AuthError::RequestTimeTooSkewed { .. })
        ));
    }

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

/// Signs an outgoing request in the header form (the client side of [`verify`]): adds
/// `x-amz-date` and `authorization`, and `host` from the URI's authority when absent.
///
/// Signed: `host`, `content-type` if present, and every `x-amz-*` header present (the verifier
/// refuses unsigned `x-amz-*` headers). The path is canonicalised with S3's rules when
/// `service` is `"s3"`, else with the JSON services' (KMS) rules. The payload hash signed is
/// the `x-amz-content-sha256` header when present, else `body_sha256_hex`.
#[allow(clippy::too_many_arguments)]
pub fn sign_request(
    method: &Method,
    uri: &Uri,
    headers: &mut HeaderMap,
    body_sha256_hex: &str,
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    now: SystemTime,
) -> Result<(), http::header::InvalidHeaderValue> {
    let kind = if service == "s3" {
        ServiceKind::S3
    } else {
        ServiceKind::Kms
    };
    if !headers.contains_key(http::header::HOST)
        && let Some(authority) = uri.authority()
    {
        headers.insert(
            http::header::HOST,
            http::HeaderValue::from_str(authority.as_str())?,
        );
    }
    let amz_date = format_time(now, AMZ_DATE_FORMAT);
    headers.insert("x-amz-date", http::HeaderValue::from_str(&amz_date)?);
    // A stale signature from an earlier attempt must not be part of what we sign.
    headers.remove(http::header::AUTHORIZATION);

    let mut signed: Vec<String> = headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| *name == "host" || *name == "content-type" || name.starts_with("x-amz-"))
        .map(str::to_owned)
        .collect();
    signed.sort();
    signed.dedup();

    let payload = header_str(headers, "x-amz-content-sha256")
        .unwrap_or(body_sha256_hex)
        .to_owned();
    let credential = Credential {
        access_key: access_key.to_owned(),
        date: amz_date[..8].to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
    };
    let scope = credential.scope();
    let path = canonical_uri_candidates(uri.path(), kind)
        .into_iter()
        .next()
        .unwrap_or_else(|| "/".to_owned());
    let signed_list = signed.join(";");
    let canonical_request = [
        method.as_str().as_bytes(),
        path.as_bytes(),
        canonical_query(uri.query(), false).as_bytes(),
        &canonical_headers(&signed, headers, uri),
        signed_list.as_bytes(),
        payload.as_bytes(),
    ]
    .join(&b'\n');
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(&canonical_request)
    );
    let signing_key = SigningKey::derive(secret, &credential.date, region, service);
    let signature = signing_key.sign(string_to_sign.as_bytes());
    headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&format!(
            "{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed_list}, Signature={signature}"
        ))?,
    );
    Ok(())
}

#[cfg(test)]
mod sign_tests {
    use super::*;

    /// The secret of the AWS SigV4 test suite (AKIDEXAMPLE).
    const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn at(amz_date: &str) -> SystemTime {
        parse_amz_date(amz_date).unwrap()
    }

    #[test]
    fn reproduces_the_aws_suite_post_vanilla_vector() {
        let uri: Uri = "https://example.amazonaws.com/".parse().unwrap();
        let mut headers = HeaderMap::new();
        sign_request(
            &Method::POST,
            &uri,
            &mut headers,
            EMPTY_SHA256_HEX,
            "AKIDEXAMPLE",
            SUITE_SECRET,
            "us-east-1",
            "service",
            at("20150830T123600Z"),
        )
        .unwrap();
        assert_eq!(headers["host"], "example.amazonaws.com");
        assert_eq!(headers["x-amz-date"], "20150830T123600Z");
        assert_eq!(
            headers["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
    }

    fn signed_kms_request(secret: &str, now: SystemTime) -> (Uri, HeaderMap, String) {
        let body = br#"{"KeyId":"alias/x","KeySpec":"AES_256"}"#;
        let body_hash = sha256_hex(body);
        // The form a client sends: origin-form path, host header naming the port.
        let uri: Uri = "/".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", "localhost:4443".parse().unwrap());
        headers.insert(
            "content-type",
            "application/x-amz-json-1.1".parse().unwrap(),
        );
        headers.insert(
            "x-amz-target",
            "TrentService.GenerateDataKey".parse().unwrap(),
        );
        headers.insert("user-agent", "sealgate".parse().unwrap());
        sign_request(
            &Method::POST,
            &uri,
            &mut headers,
            &body_hash,
            "GATEWAY",
            secret,
            "eu-west-1",
            "kms",
            now,
        )
        .unwrap();
        (uri, headers, body_hash)
    }

    #[test]
    fn a_signed_kms_request_verifies_with_the_same_secret_only() {
        let now = at("20240102T030405Z");
        let (uri, headers, body_hash) = signed_kms_request("s3cr3t", now);
        let auth = headers["authorization"].to_str().unwrap();
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target,"),
            "{auth}"
        );
        let signed = parse(&uri, &headers, ServiceKind::Kms).unwrap().unwrap();
        assert_eq!(signed.credential.access_key, "GATEWAY");
        let exp = Expectations::kms("eu-west-1", now + Duration::from_secs(2));
        let verify_with = |secret: &str, headers: &HeaderMap, body: &str| {
            verify(
                &signed,
                &Method::POST,
                &uri,
                headers,
                secret,
                &exp,
                Some(body),
            )
        };
        let v = verify_with("s3cr3t", &headers, &body_hash).unwrap();
        assert_eq!(v.scope, "20240102/eu-west-1/kms/aws4_request");

        assert!(matches!(
            verify_with("other", &headers, &body_hash),
            Err(AuthError::SignatureMismatch { .. })
        ));
        assert!(matches!(
            verify_with("s3cr3t", &headers, &sha256_hex(b"{}")),
            Err(AuthError::SignatureMismatch { .. })
        ));
        let mut retargeted = headers.clone();
        retargeted.insert("x-amz-target", "TrentService.Decrypt".parse().unwrap());
        assert!(matches!(
            verify_with("s3cr3t", &retargeted, &body_hash),
            Err(AuthError::SignatureMismatch { .. })
        ));
    }

    #[test]
    fn an_s3_request_signs_its_declared_payload_hash() {
        let now = at("20240102T030405Z");
        let uri: Uri = "https://s3.local:9000/bucket/a%20key?versionId=1"
            .parse()
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-content-sha256", UNSIGNED_PAYLOAD.parse().unwrap());
        sign_request(
            &Method::GET,
            &uri,
            &mut headers,
            EMPTY_SHA256_HEX,
            "AK",
            "sk",
            "us-east-1",
            "s3",
            now,
        )
        .unwrap();
        let signed = parse(&uri, &headers, ServiceKind::S3).unwrap().unwrap();
        let v = verify(
            &signed,
            &Method::GET,
            &uri,
            &headers,
            "sk",
            &Expectations::s3("us-east-1", now),
            None,
        )
        .unwrap();
        assert_eq!(v.payload, PayloadHash::Unsigned);
    }
}
