//! AWS Signature Version 4 verification, shared by the S3 and KMS listeners, and signing of
//! the gateway's own outgoing requests.
//!
//! We verify by recomputation: rebuild the canonical request from what arrived on the wire,
//! derive the signing key from the caller's secret, and compare signatures in constant time.
//! Parsing ([`parse()`]) needs no secret, so the caller can look the access key up (and answer
//! "unknown key" in its own dialect) before [`verify()`] runs.
//!
//! The parts, in the order a request meets them:
//! - `parse`: the `Authorization` header or presigned query → [`SignedRequest`];
//! - `canonical`: canonical request, string to sign, [`SigningKey`] derivation;
//! - `verify`: scope, clock skew / expiry, the signed-header rule, the signature → [`Verified`];
//! - `sign`: [`sign_request`], the client side, for requests the gateway sends.
//!
//! Protocol decisions (reference: the AWS Signature Version 4 documentation, and the S3 API
//! Reference's "Authenticating Requests (AWS Signature Version 4)" for the header and
//! presigned-query forms and SSE-C with presigned URLs; see also `docs/DESIGN.md`):
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

use std::time::Duration;

mod canonical;
mod parse;
mod sign;
mod verify;

pub(crate) use canonical::{SigningKey, sha256_hex};
pub(crate) use parse::{Credential, PayloadHash, SignedRequest, decoded_query, parse};
pub(crate) use sign::sign_request;
pub(crate) use verify::{Expectations, Verified, signatures_match, verify};

/// The only algorithm accepted (SigV4a is not supported).
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Hex SHA-256 of the empty string.
pub(crate) const EMPTY_SHA256_HEX: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Longest presigned lifetime AWS accepts (one week).
pub(crate) const MAX_PRESIGN_EXPIRES_SECS: u64 = 604_800;
/// Clock-skew window for S3 header authentication.
pub(crate) const S3_MAX_SKEW: Duration = Duration::from_secs(15 * 60);
/// Clock-skew window for KMS (JSON protocol) requests.
pub(crate) const KMS_MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// Which canonicalisation rules apply: S3's, or those of the JSON services (KMS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServiceKind {
    S3,
    Kms,
}

/// Where the signature travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthForm {
    Header,
    Presigned { expires_secs: u64 },
}

/// Why a request failed authentication. Neutral: the S3 and KMS front ends map these to their
/// own error codes (see the variant docs for the S3 mapping).
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthError {
    /// S3: 400 InvalidArgument "Unsupported Authorization Type" (SigV4a, unknown; SigV2 is
    /// `crate::sigv2`'s for S3, and unsupported on the KMS).
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
    /// SigV2 presigned URL past its `Expires` (an absolute time, not a lifetime). S3: 403
    /// AccessDenied.
    #[error("Request has expired")]
    ExpiredAt {
        /// ISO 8601
        expires_at: String,
        /// ISO 8601
        server_time: String,
    },
    /// A SigV2 `Authorization` header that cannot be read. S3: 400 InvalidArgument.
    #[error("{0}")]
    MalformedV2(String),
    /// A SigV2 query form missing a parameter or with an unreadable `Expires`. S3: 403
    /// AccessDenied with this message.
    #[error("{0}")]
    DeniedV2(String),
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

#[cfg(test)]
mod testutil;
