//! The S3 side of server-side encryption: which mode a request asks for (its headers and the
//! bucket default, checked in AWS's order), the SSE-C key headers, and the response headers
//! that describe a stored object. Everything here speaks S3's wire format and AWS's error
//! wording; the keys themselves are `sse`'s.
//!
//! References: AWS S3 User Guide, "Protecting data with server-side encryption" (SSE-S3,
//! SSE-KMS, SSE-C, bucket keys, default encryption) and the S3 API Reference for PutObject,
//! CopyObject, CreateMultipartUpload and GetObject (which headers each accepts and returns).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};
use zeroize::Zeroizing;

use crate::meta::{BucketRecord, Sealing};
use crate::s3::error::S3Error;
use crate::sse::{CustomerKey, WriteMode};

const SSE: &str = "x-amz-server-side-encryption";
const SSE_KMS_KEY: &str = "x-amz-server-side-encryption-aws-kms-key-id";
const SSE_CONTEXT: &str = "x-amz-server-side-encryption-context";
const SSE_BUCKET_KEY: &str = "x-amz-server-side-encryption-bucket-key-enabled";

/// Chooses the encryption of a write (PutObject, CopyObject target, CreateMultipartUpload),
/// in AWS's order of checks.
pub(crate) fn choose_write_mode(
    headers: &HeaderMap,
    bucket: &BucketRecord,
    tls: bool,
    plaintext_bucket: bool,
) -> Result<WriteMode, S3Error> {
    let sse = headers
        .get(SSE)
        .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned());
    if present(headers, KeyHeaders::Target) {
        if bucket
            .encryption
            .as_ref()
            .is_some_and(|e| e.blocked_types.iter().any(|t| t == "SSE-C"))
        {
            return Err(S3Error::AccessDenied(
                "Access Denied because this bucket has blocked upload requests that specify Server Side Encryption with Customer provided keys (SSE-C). Please specify a different server-side encryption type".into(),
            ));
        }
        if let Some(value) = sse {
            return Err(S3Error::InvalidArgument {
                msg: "Server Side Encryption with Customer provided key is incompatible with the encryption method specified".into(),
                name: Some(SSE.into()),
                value: Some(value),
            });
        }
        let key = from_headers(headers, KeyHeaders::Target, tls)?.expect("present was checked");
        return Ok(WriteMode::SseC(key));
    }
    let kms_key = headers
        .get(SSE_KMS_KEY)
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let context_given = headers.contains_key(SSE_CONTEXT);
    match sse.as_deref() {
        Some("AES256") => {
            if kms_key.is_some() || context_given {
                return Err(kms_requires_header());
            }
            Ok(WriteMode::SseS3)
        }
        Some("aws:kms") => {
            let default = bucket
                .encryption
                .as_ref()
                .filter(|e| e.algorithm == "aws:kms");
            Ok(WriteMode::SseKms {
                key_id: kms_key
                    .filter(|k| !k.is_empty())
                    .or_else(|| default.and_then(|e| e.kms_key_id.clone())),
                context: parse_context(headers)?,
                bucket_key: bucket_key_setting(headers, bucket)?,
            })
        }
        Some("aws:kms:dsse") => Err(S3Error::NotImplemented(
            "DSSE-KMS (aws:kms:dsse) is not supported by this gateway".into(),
        )),
        Some(other) => Err(S3Error::InvalidArgument {
            msg: "The encryption method specified is not supported".into(),
            name: Some(SSE.into()),
            value: Some(other.to_owned()),
        }),
        None if kms_key.is_some() || context_given => Err(kms_requires_header()),
        None => match bucket.encryption.as_ref() {
            None if plaintext_bucket => Ok(WriteMode::Plain),
            Some(e) if e.algorithm == "aws:kms" => Ok(WriteMode::SseKms {
                key_id: e.kms_key_id.clone(),
                context: BTreeMap::new(),
                bucket_key: bucket_key_setting(headers, bucket)?,
            }),
            _ => Ok(WriteMode::SseS3),
        },
    }
}

/// The client's `x-amz-server-side-encryption-context`: base64 of a JSON string→string map.
fn parse_context(headers: &HeaderMap) -> Result<BTreeMap<String, String>, S3Error> {
    let Some(v) = headers.get(SSE_CONTEXT) else {
        return Ok(BTreeMap::new());
    };
    let bad = || {
        S3Error::invalid_argument_named(
            "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map",
            SSE_CONTEXT,
            v.to_str().unwrap_or_default(),
        )
    };
    let raw = STANDARD.decode(v.as_bytes()).map_err(|_| bad())?;
    let map: BTreeMap<String, String> = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if map.keys().any(|k| k.starts_with("aws:")) {
        return Err(S3Error::invalid_argument_named(
            "Encryption context keys cannot start with the reserved prefix aws:",
            SSE_CONTEXT,
            v.to_str().unwrap_or_default(),
        ));
    }
    Ok(map)
}

/// The request's bucket-key header wins over the bucket rule.
fn bucket_key_setting(headers: &HeaderMap, bucket: &BucketRecord) -> Result<bool, S3Error> {
    match headers
        .get(SSE_BUCKET_KEY)
        .map(|v| v.to_str().unwrap_or_default())
    {
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(S3Error::invalid_argument_named(
            "x-amz-server-side-encryption-bucket-key-enabled must be true or false",
            SSE_BUCKET_KEY,
            v,
        )),
        None => Ok(bucket
            .encryption
            .as_ref()
            .is_some_and(|e| e.algorithm == "aws:kms" && e.bucket_key_enabled)),
    }
}

fn kms_requires_header() -> S3Error {
    S3Error::InvalidArgument {
        msg: "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms".into(),
        name: Some(SSE.into()),
        value: None,
    }
}

/// GET, HEAD and UploadPart take no SSE-S3/KMS headers (GetObject, HeadObject and UploadPart in the S3 API Reference).
pub(crate) fn reject_write_headers(headers: &HeaderMap) -> Result<(), S3Error> {
    for name in [SSE, SSE_KMS_KEY] {
        if let Some(v) = headers.get(name) {
            return Err(S3Error::InvalidArgument {
                msg: "x-amz-server-side-encryption header is not supported for this operation."
                    .into(),
                name: Some(name.into()),
                value: Some(v.to_str().unwrap_or_default().to_owned()),
            });
        }
    }
    Ok(())
}

/// Adds `x-amz-server-side-encryption-context` (base64 JSON of the full stored context), which
/// Put, Copy and CreateMultipartUpload return and GET/HEAD never do.
pub(crate) fn describe_context(sealing: &Sealing, out: &mut HeaderMap) {
    if let Sealing::SseKms { context, .. } = sealing
        && let Ok(json) = serde_json::to_vec(context)
        && let Ok(v) = HeaderValue::from_str(&STANDARD.encode(json))
    {
        out.insert(SSE_CONTEXT, v);
    }
}

/// The SSE response headers that describe a stored object .
pub(crate) fn describe(sealing: &Sealing, out: &mut HeaderMap) {
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name, v);
        }
    };
    match sealing {
        Sealing::SseS3 { .. } => put(SSE, "AES256"),
        Sealing::SseKms {
            key_arn,
            bucket_key,
            ..
        } => {
            put(SSE, "aws:kms");
            put(SSE_KMS_KEY, key_arn);
            if *bucket_key {
                put("x-amz-server-side-encryption-bucket-key-enabled", "true");
            }
        }
        Sealing::SseC { key_md5, .. } => {
            put("x-amz-server-side-encryption-customer-algorithm", "AES256");
            put("x-amz-server-side-encryption-customer-key-md5", key_md5);
        }
        Sealing::None => {}
    }
}

/// Which header family carries the key: the object's own, or a copy source's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyHeaders {
    Target,
    CopySource,
}

impl KeyHeaders {
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            KeyHeaders::Target => (
                "x-amz-server-side-encryption-customer-algorithm",
                "x-amz-server-side-encryption-customer-key",
                "x-amz-server-side-encryption-customer-key-md5",
            ),
            KeyHeaders::CopySource => (
                "x-amz-copy-source-server-side-encryption-customer-algorithm",
                "x-amz-copy-source-server-side-encryption-customer-key",
                "x-amz-copy-source-server-side-encryption-customer-key-md5",
            ),
        }
    }
}

/// A part request (UploadPart, UploadPartCopy, CompleteMultipartUpload) must present the
/// upload's SSE-C key, and only for an SSE-C upload; `completing` relaxes "must present":
/// Complete may omit the key.
pub(crate) fn check_upload_key(
    sealing: &Sealing,
    customer: Option<&CustomerKey>,
    completing: bool,
) -> Result<(), S3Error> {
    match (sealing, customer) {
        (Sealing::SseC { key_md5, .. }, Some(c)) if key_md5 != c.md5_b64() => {
            Err(S3Error::InvalidRequest(
                "The provided encryption parameters did not match the ones used originally.".into(),
            ))
        }
        (Sealing::SseC { .. }, None) | (Sealing::SseS3 { .. } | Sealing::SseKms { .. }, Some(_))
            if !completing =>
        {
            Err(S3Error::InvalidRequest(
                "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.".into(),
            ))
        }
        _ => Ok(()),
    }
}

const NEED_TLS: &str = "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.";

/// True when any header of the family is present.
pub(crate) fn present(headers: &HeaderMap, which: KeyHeaders) -> bool {
    let (a, k, m) = which.names();
    headers.contains_key(a) || headers.contains_key(k) || headers.contains_key(m)
}

/// Parses and validates the key headers, in the order AWS checks them (S3 User Guide, "Using server-side encryption with customer-provided keys").
/// `Ok(None)` when none of the headers is present.
pub(crate) fn from_headers(
    headers: &HeaderMap,
    which: KeyHeaders,
    tls: bool,
) -> Result<Option<CustomerKey>, S3Error> {
    if !present(headers, which) {
        return Ok(None);
    }
    if !tls {
        return Err(S3Error::InvalidRequest(NEED_TLS.into()));
    }
    let (a, k, m) = which.names();
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(algorithm) = get(a) else {
        return Err(S3Error::InvalidArgument {
            msg: "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.".into(),
            name: Some("x-amz-server-side-encryption".into()),
            value: None,
        });
    };
    if algorithm != "AES256" {
        return Err(S3Error::InvalidEncryptionAlgorithmError {
            value: algorithm.to_owned(),
        });
    }
    let Some(key_b64) = get(k) else {
        return Err(S3Error::InvalidArgument {
            msg: "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.".into(),
            name: Some("x-amz-server-side-encryption".into()),
            value: None,
        });
    };
    let invalid_key = || S3Error::InvalidArgument {
        msg: "The secret key was invalid for the specified algorithm.".into(),
        name: Some("x-amz-server-side-encryption".into()),
        value: None,
    };
    let raw = Zeroizing::new(STANDARD.decode(key_b64).map_err(|_| invalid_key())?);
    let key: [u8; 32] = raw.as_slice().try_into().map_err(|_| invalid_key())?;
    let key = CustomerKey::new(Zeroizing::new(key));
    match get(m) {
        Some(given) if given == key.md5_b64() => {}
        _ => {
            return Err(S3Error::InvalidArgument {
                msg: "The calculated MD5 hash of the key did not match the hash that was provided."
                    .into(),
                name: Some("x-amz-server-side-encryption".into()),
                value: None,
            });
        }
    }
    Ok(Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    const KEY: &str = "MTIzNDU2Nzg5MGFiY2RlZjEyMzQ1Njc4OTBhYmNkZWY=";
    const MD5: &str = "JMwgiexXqwuPqIPjYFmIZQ==";

    #[test]
    fn aws_vector_is_accepted() {
        let h = headers(&[
            ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            ("x-amz-server-side-encryption-customer-key", KEY),
            ("x-amz-server-side-encryption-customer-key-MD5", MD5),
        ]);
        let k = from_headers(&h, KeyHeaders::Target, true).unwrap().unwrap();
        assert_eq!(k.md5_b64(), MD5);
        assert_eq!(k.material(), b"1234567890abcdef1234567890abcdef");
        assert!(!format!("{k:?}").contains(KEY));
    }

    /// Request headers, whether the connection is TLS, and the expected S3 error code.
    type Case<'a> = (&'a [(&'a str, &'a str)], bool, &'a str);

    #[test]
    fn errors_follow_aws_order() {
        let cases: &[Case] = &[
            (
                &[("x-amz-server-side-encryption-customer-key", KEY)],
                true,
                "InvalidArgument",
            ),
            (
                &[("x-amz-server-side-encryption-customer-algorithm", "AES256")],
                true,
                "InvalidArgument",
            ),
            (
                &[
                    ("x-amz-server-side-encryption-customer-algorithm", "AES128"),
                    ("x-amz-server-side-encryption-customer-key", KEY),
                ],
                true,
                "InvalidEncryptionAlgorithmError",
            ),
            (
                &[
                    ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                    ("x-amz-server-side-encryption-customer-key", "c2hvcnQ="),
                    ("x-amz-server-side-encryption-customer-key-md5", MD5),
                ],
                true,
                "InvalidArgument",
            ),
            (
                &[
                    ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                    ("x-amz-server-side-encryption-customer-key", KEY),
                    (
                        "x-amz-server-side-encryption-customer-key-md5",
                        "AAAAAAAAAAAAAAAAAAAAAA==",
                    ),
                ],
                true,
                "InvalidArgument",
            ),
            (
                &[
                    ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                    ("x-amz-server-side-encryption-customer-key", KEY),
                    ("x-amz-server-side-encryption-customer-key-md5", MD5),
                ],
                false,
                "InvalidRequest",
            ),
        ];
        for (pairs, tls, code) in cases {
            let err = from_headers(&headers(pairs), KeyHeaders::Target, *tls).unwrap_err();
            assert_eq!(err.code(), *code, "{pairs:?}");
        }
        assert!(
            from_headers(&HeaderMap::new(), KeyHeaders::Target, false)
                .unwrap()
                .is_none()
        );
    }
}
