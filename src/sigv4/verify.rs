//! Verification: scope, clock skew or presigned expiry, the signed-header rule, and the
//! signature recomputed and compared in constant time.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, Uri};
use subtle::ConstantTimeEq;

use super::canonical::{
    AMZ_DATE_FORMAT, ISO8601_FORMAT, SigningKey, canonical_headers, canonical_query,
    canonical_request, canonical_uri_candidates, format_time, string_to_sign,
};
use super::parse::{PayloadHash, SignedRequest};
use super::{AuthError, AuthForm, KMS_MAX_SKEW, S3_MAX_SKEW};

/// What the server expects of a request's scope and time.
#[derive(Clone, Debug)]
pub(crate) struct Expectations {
    pub(crate) region: String,
    /// `"s3"` or `"kms"`.
    pub(crate) service: &'static str,
    pub(crate) now: SystemTime,
    pub(crate) max_skew: Duration,
}

impl Expectations {
    /// S3 defaults: service `s3`, 15-minute skew.
    pub(crate) fn s3(region: impl Into<String>, now: SystemTime) -> Self {
        Self {
            region: region.into(),
            service: "s3",
            now,
            max_skew: S3_MAX_SKEW,
        }
    }

    /// KMS defaults: service `kms`, 5-minute skew.
    pub(crate) fn kms(region: impl Into<String>, now: SystemTime) -> Self {
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
pub(crate) struct Verified {
    pub(crate) signing_key: SigningKey,
    /// The request signature: the first "previous signature" of a chunk chain.
    pub(crate) seed_signature: String,
    pub(crate) amz_date: String,
    /// `yyyymmdd/region/service/aws4_request`
    pub(crate) scope: String,
    /// The payload hash that was signed (for KMS without a header: the body hash).
    pub(crate) payload: PayloadHash,
}

impl Verified {
    /// The outcome of a scheme that signs neither the payload nor an aws-chunked chain
    /// (SigV2): the body is read as `UNSIGNED-PAYLOAD`, so the key below is never used to sign.
    pub(crate) fn unsigned_payload(amz_date: String) -> Self {
        Self {
            signing_key: SigningKey::unused(),
            seed_signature: String::new(),
            amz_date,
            scope: String::new(),
            payload: PayloadHash::Unsigned,
        }
    }
}

/// Constant-time equality of two signatures (hex strings).
pub(crate) fn signatures_match(computed: &str, provided: &str) -> bool {
    computed.as_bytes().ct_eq(provided.as_bytes()).into()
}

/// Verifies `req` (from [`parse`] on the same request) with the secret of
/// `req.credential.access_key`. `body_sha256_hex` is the hex SHA-256 of the body; it is required
/// for KMS requests without `x-amz-content-sha256` and is checked against a declared hex hash
/// when given. S3 callers pass `None` and check a `PayloadHash::Hex` against the body once it
/// has been read.
pub(crate) fn verify(
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
        let canonical_request = canonical_request(
            method,
            &path,
            &query,
            &canonical_headers,
            &signed_headers,
            payload.as_str(),
        );
        let string_to_sign = string_to_sign(&req.amz_date, &scope, &canonical_request);
        if signatures_match(&signing_key.sign(string_to_sign.as_bytes()), &req.signature) {
            return Ok(Verified {
                signing_key,
                seed_signature: req.signature.clone(),
                amz_date: req.amz_date.clone(),
                scope,
                payload,
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
        // SSE-C key material may ride unsigned when its algorithm header is signed (S3 documentation on SSE-C with presigned URLs).
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
#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::testutil::*;
    use crate::sigv4::{EMPTY_SHA256_HEX, ServiceKind, parse, sha256_hex};

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
        assert_eq!(v.scope, "20130524/us-east-1/s3/aws4_request");
        assert_eq!(v.amz_date, "20130524T000000Z");
        assert_eq!(
            v.seed_signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(v.payload, PayloadHash::Hex(EMPTY_SHA256_HEX.into()));
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
}
