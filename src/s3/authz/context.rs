//! The condition keys of a request (S3 User Guide: "Condition keys for Amazon S3"; IAM User
//! Guide: "AWS global condition context keys"). A key the request does not carry is absent,
//! which is what `Null` and the `…IfExists` operators test — so the encryption keys come from the
//! request's headers only, never from the bucket's default encryption, exactly as on AWS.

use std::net::IpAddr;
use std::time::SystemTime;

use http::HeaderMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::identity::User;
use crate::policy::ConditionKeys;
use crate::s3::router::Endpoint;

/// How the request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthKind {
    /// No credentials at all.
    Anonymous,
    /// Signature Version 2; `query` for a presigned URL.
    V2 { query: bool },
    /// Signature Version 4; `query` for a presigned URL.
    V4 { query: bool },
    /// A browser POST upload, credentials in the form (signed as SigV4 or SigV2). Built by the
    /// POST Object handler when it authorizes the upload through `authz::check`.
    Post { v4: bool },
}

/// Request headers that become `s3:` condition keys of the same name (lower case).
const HEADER_KEYS: &[&str] = &[
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-acl",
    "x-amz-content-sha256",
    "x-amz-copy-source",
    "x-amz-metadata-directive",
    "x-amz-storage-class",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
];

/// What the keys are computed from: the request as received and who sent it.
pub(crate) struct RequestFacts<'a> {
    pub(crate) user: Option<&'a User>,
    pub(crate) auth: AuthKind,
    pub(crate) headers: &'a HeaderMap,
    /// Over TLS (itself, or through a trusted proxy that says so).
    pub(crate) secure: bool,
    /// The TLS version of the connection (`"1.2"`, `"1.3"`): `s3:TlsVersion`.
    pub(crate) tls_version: Option<&'a str>,
    pub(crate) source_ip: IpAddr,
    pub(crate) now: SystemTime,
}

/// The request-wide condition keys (principal, transport, time, headers).
pub(crate) fn request_keys(f: &RequestFacts) -> ConditionKeys {
    let mut k = ConditionKeys::default();
    let one = |k: &mut ConditionKeys, name: &str, v: String| k.add(name, [v]);
    one(&mut k, "aws:SecureTransport", f.secure.to_string());
    // A number for the Numeric operators (S3 User Guide: "s3:TlsVersion"); absent over plain
    // HTTP and behind a proxy, which does not say.
    k.add("s3:TlsVersion", f.tls_version.map(str::to_owned));
    let ip = crate::kms::Network::new(f.source_ip, f.secure).source_ip;
    one(&mut k, "aws:SourceIp", ip.to_string());
    let now = OffsetDateTime::from(f.now);
    if let Ok(t) = now.replace_nanosecond(0).unwrap_or(now).format(&Rfc3339) {
        one(&mut k, "aws:CurrentTime", t);
    }
    one(&mut k, "aws:EpochTime", now.unix_timestamp().to_string());
    match f.user {
        Some(u) => {
            one(&mut k, "aws:PrincipalArn", u.arn.clone());
            one(&mut k, "aws:PrincipalAccount", u.account.clone());
            if u.arn.ends_with(":root") {
                one(&mut k, "aws:PrincipalType", "Account".into());
                one(&mut k, "aws:userid", u.account.clone());
            } else {
                one(&mut k, "aws:PrincipalType", "User".into());
                one(&mut k, "aws:username", u.name.clone());
                one(&mut k, "aws:userid", user_id(&u.arn));
            }
        }
        None => {
            one(&mut k, "aws:PrincipalType", "Anonymous".into());
            one(&mut k, "aws:userid", "anonymous".into());
        }
    }
    let (version, auth_type) = match f.auth {
        AuthKind::Anonymous => (None, None),
        AuthKind::V2 { query } => (Some("AWS"), Some(rest(query))),
        AuthKind::V4 { query } => (Some("AWS4-HMAC-SHA256"), Some(rest(query))),
        AuthKind::Post { v4 } => (
            Some(if v4 { "AWS4-HMAC-SHA256" } else { "AWS" }),
            Some("POST"),
        ),
    };
    if let Some(v) = version {
        one(&mut k, "s3:signatureversion", v.into());
    }
    if let Some(t) = auth_type {
        one(&mut k, "s3:authType", t.into());
    }
    for name in HEADER_KEYS {
        let values = f
            .headers
            .get_all(*name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned());
        k.add(&format!("s3:{name}"), values);
    }
    k
}

fn rest(query: bool) -> &'static str {
    if query {
        "REST-QUERY-STRING"
    } else {
        "REST-HEADER"
    }
}

/// `aws:userid` of an IAM user: AWS shows a unique id (`AIDA…`); ours is derived from the ARN
/// so it stays the same across restarts.
fn user_id(arn: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(arn.as_bytes());
    format!("AIDA{}", hex::encode_upper(&digest[..8]))
}

/// Keys only some operations carry: the listing parameters of ListObjects(V2),
/// ListObjectVersions and ListMultipartUploads (`s3:prefix`, `s3:delimiter`, `s3:max-keys`).
pub(crate) fn add_endpoint_keys(k: &mut ConditionKeys, ep: &Endpoint) {
    let (prefix, delimiter, max_keys) = match ep {
        Endpoint::ListObjects {
            prefix,
            delimiter,
            max_keys,
            ..
        }
        | Endpoint::ListObjectsV2 {
            prefix,
            delimiter,
            max_keys,
            ..
        }
        | Endpoint::ListObjectVersions {
            prefix,
            delimiter,
            max_keys,
            ..
        } => (prefix, delimiter, *max_keys),
        Endpoint::ListMultipartUploads {
            prefix, delimiter, ..
        } => (prefix, delimiter, None),
        _ => return,
    };
    k.add("s3:prefix", prefix.clone());
    k.add("s3:delimiter", delimiter.clone());
    k.add("s3:max-keys", max_keys.map(|n| n.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn alice() -> User {
        User {
            name: "alice".into(),
            access_key: "AK".into(),
            secret_key: Zeroizing::new("SK".into()),
            arn: "arn:aws:iam::111122223333:user/alice".into(),
            account: "111122223333".into(),
            policy: None,
        }
    }

    #[test]
    fn keys_from_headers_principal_and_transport() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-server-side-encryption", "aws:kms".parse().unwrap());
        h.insert("x-amz-acl", "private".parse().unwrap());
        let u = alice();
        let k = request_keys(&RequestFacts {
            user: Some(&u),
            auth: AuthKind::V4 { query: true },
            headers: &h,
            secure: false,
            tls_version: Some("1.3"),
            source_ip: "::ffff:10.1.2.3".parse().unwrap(),
            now: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_796_533_200_500),
        });
        let get = |n: &str| k.get(n).map(|v| v.join(","));
        assert_eq!(
            get("s3:x-amz-server-side-encryption").as_deref(),
            Some("aws:kms")
        );
        assert_eq!(get("s3:x-amz-server-side-encryption-aws-kms-key-id"), None);
        assert_eq!(get("s3:x-amz-acl").as_deref(), Some("private"));
        assert_eq!(get("aws:SecureTransport").as_deref(), Some("false"));
        assert_eq!(get("s3:TlsVersion").as_deref(), Some("1.3"));
        assert_eq!(get("aws:SourceIp").as_deref(), Some("10.1.2.3"));
        assert_eq!(
            get("aws:CurrentTime").as_deref(),
            Some("2026-12-06T05:00:00Z")
        );
        assert_eq!(get("aws:EpochTime").as_deref(), Some("1796533200"));
        assert_eq!(get("aws:username").as_deref(), Some("alice"));
        assert_eq!(get("aws:PrincipalType").as_deref(), Some("User"));
        assert_eq!(get("aws:PrincipalAccount").as_deref(), Some("111122223333"));
        assert_eq!(
            get("s3:signatureversion").as_deref(),
            Some("AWS4-HMAC-SHA256")
        );
        assert_eq!(get("s3:authType").as_deref(), Some("REST-QUERY-STRING"));
        assert!(get("aws:userid").unwrap().starts_with("AIDA"));

        let anon = request_keys(&RequestFacts {
            user: None,
            auth: AuthKind::Anonymous,
            headers: &HeaderMap::new(),
            secure: true,
            tls_version: None,
            source_ip: "127.0.0.1".parse().unwrap(),
            now: SystemTime::now(),
        });
        assert_eq!(anon.get("aws:PrincipalArn"), None);
        assert_eq!(anon.get("s3:signatureversion"), None);
        assert_eq!(anon.get("s3:TlsVersion"), None);
        assert_eq!(anon.get("s3:x-amz-server-side-encryption"), None);
    }
}
