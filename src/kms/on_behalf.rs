//! The S3 caller a remote gateway names when it calls the KMS for an S3 request, so key
//! policies, grants and the audit log see the S3 user rather than the gateway — what AWS S3
//! does with forward access sessions.
//!
//! Wire: one request header, [`HEADER`], holding base64 (standard, padded) of a JSON object
//! `{"arn", "account", "policy"?, "bucket", "key"?, "source_ip"?, "secure_transport"?}`. The gateway signs it with SigV4 like
//! every `x-amz-*` header; the KMS accepts it only when it is among the signed headers and the
//! signer is one of its configured gateway service principals (`kms_service_principals`), so
//! an S3 user cannot name someone else and a stolen header cannot be replayed on another
//! request. `policy` is the caller's identity policy as the gateway's configuration has it:
//! the KMS trusts the gateway for who its users are, as it trusts it with their data keys.
//! `source_ip` and `secure_transport` are the S3 client's address and whether it used TLS, so
//! `aws:SourceIp` and `aws:SecureTransport` in key policies judge the S3 caller's request, not
//! the gateway's connection (which is always TLS, from the gateway's address). Both or neither:
//! a gateway that sends neither (an older build) leaves those keys absent. A KMS older than
//! this field refuses the header (unknown fields are refused), so upgrade KMS nodes first.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use std::net::IpAddr;

use super::audit::Source;
use super::policy::{Caller, Network};

/// The request header carrying the S3 caller (signed).
pub(crate) const HEADER: &str = "x-sealgate-on-behalf-of";
/// Longest header value accepted (an identity policy is at most a few KiB).
const MAX_LEN: usize = 24 * 1024;

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct OnBehalfOf {
    arn: String,
    account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    policy: Option<String>,
    bucket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secure_transport: Option<bool>,
}

/// The header value naming `caller` for an S3 request; `None` for any other source (the
/// gateway's own service calls go as the gateway).
pub(crate) fn encode(caller: &Caller, source: &Source) -> Option<String> {
    let Source::S3Gateway { bucket, key, .. } = source else {
        return None;
    };
    let body = OnBehalfOf {
        arn: caller.arn.clone(),
        account: caller.account.clone(),
        policy: caller.identity_policy.clone(),
        bucket: bucket.clone(),
        key: key.clone(),
        source_ip: caller.network.map(|n| n.source_ip),
        secure_transport: caller.network.map(|n| n.secure_transport),
    };
    Some(B64.encode(serde_json::to_vec(&body).expect("plain strings serialize")))
}

/// The S3 caller and the source a header value names, `gateway` being the signer's ARN.
pub(crate) fn decode(value: &[u8], gateway: &str) -> Result<(Caller, Source), String> {
    if value.len() > MAX_LEN {
        return Err(format!("{HEADER} is longer than {MAX_LEN} bytes"));
    }
    let json = B64
        .decode(value)
        .map_err(|_| format!("{HEADER} is not base64"))?;
    let body: OnBehalfOf =
        serde_json::from_slice(&json).map_err(|e| format!("{HEADER} is not valid: {e}"))?;
    if body.arn.is_empty() || body.account.is_empty() || body.bucket.is_empty() {
        return Err(format!("{HEADER} lacks the caller or the bucket"));
    }
    let network = match (body.source_ip, body.secure_transport) {
        (Some(ip), Some(secure)) => Some(Network::new(ip, secure)),
        (None, None) => None,
        _ => {
            return Err(format!(
                "{HEADER} names source_ip and secure_transport together or neither"
            ));
        }
    };
    Ok((
        Caller {
            arn: body.arn,
            account: body.account,
            identity_policy: body.policy,
            network,
        },
        Source::S3Gateway {
            bucket: body.bucket,
            key: body.key,
            via: Some(gateway.to_owned()),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_names_the_caller_and_the_gateway() {
        let caller = Caller {
            arn: "arn:aws:iam::111122223333:user/alice".into(),
            account: "111122223333".into(),
            identity_policy: Some(r#"{"Statement":[]}"#.into()),
            network: Some(Network::new("::ffff:198.51.100.7".parse().unwrap(), false)),
        };
        let source = Source::S3Gateway {
            bucket: "b".into(),
            key: Some("dir/ключ".into()),
            via: None,
        };
        let value = encode(&caller, &source).unwrap();
        let (got, from) = decode(value.as_bytes(), "arn:aws:iam::0:user/gw").unwrap();
        assert_eq!(got.arn, caller.arn);
        assert_eq!(got.identity_policy, caller.identity_policy);
        assert_eq!(
            got.network,
            Some(Network::new("198.51.100.7".parse().unwrap(), false)),
            "the S3 client's address and transport travel with the caller"
        );
        assert_eq!(
            from,
            Source::S3Gateway {
                bucket: "b".into(),
                key: Some("dir/ключ".into()),
                via: Some("arn:aws:iam::0:user/gw".into()),
            }
        );
        assert_eq!(encode(&caller, &Source::Service { resource: None }), None);
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            &b"not base64!"[..],
            B64.encode(b"[]").as_bytes(),
            B64.encode(br#"{"arn":"a","account":"1","bucket":"b","extra":1}"#)
                .as_bytes(),
            B64.encode(br#"{"arn":"","account":"1","bucket":"b"}"#)
                .as_bytes(),
            B64.encode(br#"{"arn":"a","account":"1","bucket":"b","source_ip":"10.0.0.1"}"#)
                .as_bytes(),
            B64.encode(
                br#"{"arn":"a","account":"1","bucket":"b","source_ip":"nope","secure_transport":true}"#,
            )
            .as_bytes(),
            &vec![b'A'; MAX_LEN + 4][..],
        ] {
            assert!(
                decode(bad, "gw").is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
