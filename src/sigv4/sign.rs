//! Signing outgoing requests (the gateway as a client of a remote KMS or S3 backend).

use std::time::SystemTime;

use http::{HeaderMap, Method, Uri};

use super::canonical::{
    AMZ_DATE_FORMAT, SigningKey, canonical_headers, canonical_query, canonical_request,
    canonical_uri_candidates, format_time, string_to_sign,
};
use super::parse::{Credential, header_str};
use super::{ALGORITHM, ServiceKind};

/// Signs an outgoing request in the header form (the client side of [`verify`]): adds
/// `x-amz-date` and `authorization`, and `host` from the URI's authority when absent.
///
/// Signed: `host`, `content-type` if present, and every `x-amz-*` header present (the verifier
/// refuses unsigned `x-amz-*` headers). The path is canonicalised with S3's rules when
/// `service` is `"s3"`, else with the JSON services' (KMS) rules. The payload hash signed is
/// the `x-amz-content-sha256` header when present, else `body_sha256_hex`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sign_request(
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
        .filter(|name| {
            *name == "host"
                || *name == "content-type"
                || name.starts_with("x-amz-")
                || name.starts_with("x-sealgate-")
        })
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
    let canonical_request = canonical_request(
        method,
        &path,
        &canonical_query(uri.query(), false),
        &canonical_headers(&signed, headers, uri),
        &signed_list,
        &payload,
    );
    let string_to_sign = string_to_sign(&amz_date, &scope, &canonical_request);
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
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sigv4::parse::UNSIGNED_PAYLOAD;
    use crate::sigv4::testutil::{SUITE_SECRET, at};
    use crate::sigv4::{
        AuthError, EMPTY_SHA256_HEX, Expectations, PayloadHash, parse, sha256_hex, verify,
    };

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
