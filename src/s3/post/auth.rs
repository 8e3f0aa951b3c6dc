//! Who sent a POST form: the signature fields of "Browser-based uploads using POST" (S3 API
//! Reference, SigV4 and the legacy SigV2 form).
//!
//! The string signed is the `policy` field exactly as sent (its base64 text):
//! - SigV4: `x-amz-signature` = hex HMAC-SHA256 under the signing key of `x-amz-credential`'s
//!   scope (`<key>/<date>/<region>/s3/aws4_request`), with `x-amz-algorithm` =
//!   `AWS4-HMAC-SHA256` and an `x-amz-date`;
//! - SigV2: `signature` = base64 HMAC-SHA1 under the secret of `AWSAccessKeyId`.
//!
//! Comparisons are constant-time. Which form applies is decided by which fields are present;
//! a form without any signature field is anonymous. A missing field of the chosen form is
//! InvalidArgument naming it, in AWS's words.

use super::form::Fields;
use crate::identity::{Identities, User};
use crate::s3::error::S3Error;
use crate::sigv4::{self, Credential, SigningKey};

/// The signature scheme a form used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    V4,
    V2,
}

/// The outcome of checking a form's signature.
#[derive(Debug)]
pub(crate) enum Signer {
    /// No signature fields at all.
    Anonymous,
    /// A valid signature of `policy` by this user.
    User {
        user: Box<User>,
        scheme: Scheme,
        policy: String,
    },
}

const V4_FIELDS: [&str; 4] = [
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-signature",
];
const V2_FIELDS: [&str; 2] = ["awsaccesskeyid", "signature"];

/// The value of a field the chosen scheme needs; `name` is AWS's spelling (fields are looked
/// up in lower case).
fn required<'a>(fields: &'a Fields, name: &str) -> Result<&'a str, S3Error> {
    fields.get(&name.to_ascii_lowercase()).ok_or_else(|| {
        S3Error::invalid_argument_named(
            format!(
                "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
            ),
            name,
            "",
        )
    })
}

/// Checks the signature fields of a form against the user table. `region` is the gateway's.
pub(crate) fn authenticate(
    fields: &Fields,
    ids: &Identities,
    region: &str,
) -> Result<Signer, S3Error> {
    let v4 = V4_FIELDS.iter().any(|f| fields.has(f));
    let v2 = V2_FIELDS.iter().any(|f| fields.has(f)) || fields.has("policy");
    if v4 {
        verify_v4(fields, ids, region)
    } else if v2 {
        verify_v2(fields, ids)
    } else {
        Ok(Signer::Anonymous)
    }
}

fn lookup(ids: &Identities, access_key: &str) -> Result<User, S3Error> {
    ids.lookup(access_key)
        .cloned()
        .ok_or_else(|| S3Error::InvalidAccessKeyId {
            access_key: access_key.to_owned(),
        })
}

fn mismatch(access_key: &str, policy: &str) -> S3Error {
    S3Error::SignatureDoesNotMatch {
        access_key: access_key.to_owned(),
        string_to_sign: policy.to_owned(),
        canonical_request: String::new(),
    }
}

fn verify_v4(fields: &Fields, ids: &Identities, region: &str) -> Result<Signer, S3Error> {
    let algorithm = required(fields, "x-amz-algorithm")?;
    let credential = required(fields, "x-amz-credential")?;
    let date = required(fields, "x-amz-date")?;
    let signature = required(fields, "x-amz-signature")?;
    let policy = required(fields, "policy")?;
    if algorithm != sigv4::ALGORITHM {
        return Err(S3Error::invalid_argument_named(
            format!("Invalid algorithm: only {} is supported", sigv4::ALGORITHM),
            "x-amz-algorithm",
            algorithm,
        ));
    }
    let date_ok = date.len() == 16
        && date.as_bytes()[8] == b'T'
        && date.ends_with('Z')
        && date[..8].bytes().all(|b| b.is_ascii_digit());
    if !date_ok {
        return Err(S3Error::invalid_argument_named(
            "x-amz-date must be in the ISO 8601 basic format yyyyMMddTHHmmssZ",
            "x-amz-date",
            date,
        ));
    }
    let cred = Credential::parse(credential).ok_or_else(|| {
        S3Error::invalid_argument_named(
            "Invalid credential: expected <access key>/<yyyymmdd>/<region>/s3/aws4_request",
            "x-amz-credential",
            credential,
        )
    })?;
    if cred.service != "s3" {
        return Err(S3Error::invalid_argument_named(
            format!(
                "Invalid credential: the service '{}' is incorrect; expecting 's3'",
                cred.service
            ),
            "x-amz-credential",
            credential,
        ));
    }
    if cred.region != region {
        return Err(S3Error::invalid_argument_named(
            format!(
                "Invalid credential: the region '{}' is wrong; expecting '{region}'",
                cred.region
            ),
            "x-amz-credential",
            credential,
        ));
    }
    let user = lookup(ids, &cred.access_key)?;
    let key = SigningKey::derive(&user.secret_key, &cred.date, &cred.region, "s3");
    let computed = key.sign(policy.as_bytes());
    if !sigv4::signatures_match(&computed, &signature.to_ascii_lowercase()) {
        return Err(mismatch(&cred.access_key, policy));
    }
    Ok(Signer::User {
        user: Box::new(user),
        scheme: Scheme::V4,
        policy: policy.to_owned(),
    })
}

fn verify_v2(fields: &Fields, ids: &Identities) -> Result<Signer, S3Error> {
    let access_key = required(fields, "AWSAccessKeyId")?;
    let policy = required(fields, "policy")?;
    let signature = required(fields, "signature")?;
    let user = lookup(ids, access_key)?;
    let computed = crate::sigv2::sign(&user.secret_key, policy.as_bytes());
    if !sigv4::signatures_match(&computed, signature) {
        return Err(mismatch(access_key, policy));
    }
    Ok(Signer::User {
        user: Box::new(user),
        scheme: Scheme::V2,
        policy: policy.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn ids() -> Identities {
        let mut ids = Identities::default();
        ids.insert(User {
            name: "root".into(),
            access_key: AK.into(),
            secret_key: zeroize::Zeroizing::new(SECRET.into()),
            arn: "arn:aws:iam::000000000000:root".into(),
            account: "000000000000".into(),
            policy: None,
        });
        ids
    }

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        let mut f = Fields::default();
        for (k, v) in pairs {
            f.push((*k).into(), (*v).into()).unwrap();
        }
        f
    }

    /// The example of the S3 API Reference's "Example: Browser-based upload using HTTP POST
    /// (using AWS signature version 4)": its policy and the signature published for it.
    #[test]
    fn aws_published_sigv4_example() {
        let policy = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
        let f = fields(&[
            ("key", "user/user1/${filename}"),
            (
                "x-amz-credential",
                &format!("{AK}/20151229/us-east-1/s3/aws4_request"),
            ),
            ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
            ("x-amz-date", "20151229T000000Z"),
            ("policy", policy),
            (
                "x-amz-signature",
                "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e",
            ),
        ]);
        let ids = ids();
        match authenticate(&f, &ids, "us-east-1").unwrap() {
            Signer::User { user, scheme, .. } => {
                assert_eq!(user.access_key, AK);
                assert_eq!(scheme, Scheme::V4);
            }
            other => panic!("{other:?}"),
        }
        let e = authenticate(&f, &ids, "eu-west-1").unwrap_err();
        assert_eq!(e.code(), "InvalidArgument");
    }

    #[test]
    fn sigv2_signs_the_policy_with_hmac_sha1() {
        let policy = "eyJleHBpcmF0aW9uIjoiMjA5OS0wMS0wMVQwMDowMDowMFoiLCJjb25kaXRpb25zIjpbXX0=";
        let sig = crate::sigv2::sign(SECRET, policy.as_bytes());
        let ok = fields(&[
            ("awsaccesskeyid", AK),
            ("policy", policy),
            ("signature", &sig),
        ]);
        assert!(matches!(
            authenticate(&ok, &ids(), "us-east-1").unwrap(),
            Signer::User {
                scheme: Scheme::V2,
                ..
            }
        ));
        let tampered = fields(&[
            ("awsaccesskeyid", AK),
            ("policy", &format!("{policy} ")),
            ("signature", &sig),
        ]);
        let e = authenticate(&tampered, &ids(), "us-east-1").unwrap_err();
        assert_eq!(e.code(), "SignatureDoesNotMatch");
        let unknown = fields(&[
            ("awsaccesskeyid", "NOPE"),
            ("policy", policy),
            ("signature", &sig),
        ]);
        assert_eq!(
            authenticate(&unknown, &ids(), "us-east-1")
                .unwrap_err()
                .code(),
            "InvalidAccessKeyId"
        );
    }

    #[test]
    fn missing_fields_are_named() {
        for (pairs, missing) in [
            (vec![("policy", "x")], "AWSAccessKeyId"),
            (vec![("awsaccesskeyid", AK), ("policy", "x")], "signature"),
            (vec![("awsaccesskeyid", AK), ("signature", "x")], "policy"),
            (vec![("x-amz-signature", "x")], "x-amz-algorithm"),
            (
                vec![
                    ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
                    ("x-amz-credential", "x"),
                    ("x-amz-date", "x"),
                    ("x-amz-signature", "x"),
                ],
                "policy",
            ),
        ] {
            let e = authenticate(&fields(&pairs), &ids(), "us-east-1").unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "Bucket POST must contain a field named '{missing}'.  If it is specified, please check the order of the fields."
                )
            );
        }
        assert!(matches!(
            authenticate(&fields(&[("key", "k")]), &ids(), "us-east-1").unwrap(),
            Signer::Anonymous
        ));
    }
}
