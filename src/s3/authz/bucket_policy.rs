//! Bucket policies as S3 accepts them (S3 API Reference: PutBucketPolicy; S3 User Guide:
//! "The meaning of public"): validation with AWS's MalformedPolicy reasons, and whether a policy
//! is public.

use crate::policy::{Policy, PolicyError, PolicyKind, StatementView};

/// AWS's limit on a bucket policy document.
pub(crate) const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Parses a bucket policy for `bucket`, or says why S3 refuses it (the MalformedPolicy message).
/// A policy that denies the owner everything is accepted, as on AWS: the owner's root can still
/// delete it.
pub(crate) fn validate(doc: &str, bucket: &str) -> Result<Policy, String> {
    if doc.len() > MAX_POLICY_BYTES {
        return Err("Policy exceeds the maximum allowed document size.".into());
    }
    if !doc.trim_start().starts_with('{') {
        return Err("Policies must be valid JSON and the first byte must be '{'".into());
    }
    let policy = Policy::parse(doc, PolicyKind::Resource).map_err(reason)?;
    if let Some(op) = policy.unsupported_operator() {
        return Err(format!("Invalid Condition type : {op}"));
    }
    let arn = format!("arn:aws:s3:::{bucket}");
    let in_bucket = |r: &str| r == arn || r.starts_with(&format!("{arn}/"));
    for s in policy.statements() {
        if !s.actions.iter().all(|a| super::action_names::is_known(a)) {
            return Err("Policy has invalid action".into());
        }
        if !s.resources.iter().all(|r| in_bucket(r)) {
            return Err("Policy has invalid resource".into());
        }
    }
    Ok(policy)
}

fn reason(e: PolicyError) -> String {
    match e {
        PolicyError::Json(_) => "Policies must be valid JSON and the first byte must be '{'".into(),
        PolicyError::NoStatement => "Missing required field Statement".into(),
        PolicyError::UnknownElement(f) => format!("Unknown field {f}"),
        PolicyError::Version(_) => "The policy must contain a valid version string".into(),
        PolicyError::Effect => "Missing required field Effect".into(),
        PolicyError::NoPrincipal => "Missing required field Principal".into(),
        PolicyError::InvalidPrincipal | PolicyError::PrincipalInIdentityPolicy => {
            "Invalid principal in policy".into()
        }
        PolicyError::InvalidValue(v) if v == "Action" => "Policy has invalid action".into(),
        PolicyError::InvalidValue(v) if v == "Resource" => "Policy has invalid resource".into(),
        PolicyError::UnknownOperator(op) => format!("Invalid Condition type : {op}"),
        other => other.to_string(),
    }
}

/// Condition keys whose fixed values confine a statement to known callers, so that a
/// statement naming everyone but tested on one of them is not public (S3 User Guide: "The
/// meaning of public").
const RESTRICTING_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:userid",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
];

/// Whether the policy is public: some `Allow` may apply to anyone without a condition that
/// pins the caller to fixed values.
pub(crate) fn is_public(policy: &Policy) -> bool {
    policy
        .statements()
        .any(|s| s.allow && s.grants_anyone && !restricted(&s))
}

fn restricted(s: &StatementView) -> bool {
    s.conditions.iter().any(|c| {
        let positive = matches!(
            c.operator,
            "StringEquals"
                | "StringEqualsIgnoreCase"
                | "StringLike"
                | "ArnEquals"
                | "ArnLike"
                | "IpAddress"
        );
        let wildcard = |v: &str| v.contains('*') || v.contains('?');
        let fixed = c
            .values
            .iter()
            .all(|v| !(wildcard(v) || (c.key == "aws:sourceip" && is_too_broad(v))));
        positive && fixed && RESTRICTING_KEYS.contains(&c.key)
    })
}

/// An address range wider than AWS treats as fixed (`0.0.0.0/0`-like: IPv4 shorter than /8,
/// IPv6 shorter than /32).
fn is_too_broad(cidr: &str) -> bool {
    match cidr.split_once('/') {
        Some((addr, len)) => {
            let len: u8 = len.parse().unwrap_or(0);
            if addr.contains(':') {
                len < 32
            } else {
                len < 8
            }
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(statement: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
    }

    #[test]
    fn validation_reasons() {
        let ok = doc(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
        );
        assert!(validate(&ok, "b").is_ok());
        let lockout = doc(
            r#"{"Effect":"Deny","Principal":"*","Action":"*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}"#,
        );
        assert!(validate(&lockout, "b").is_ok());
        let rows: &[(&str, String, &str)] = &[
            (
                "not json",
                "nope".into(),
                "Policies must be valid JSON and the first byte must be '{'",
            ),
            (
                "bad json",
                "{".into(),
                "Policies must be valid JSON and the first byte must be '{'",
            ),
            (
                "no principal",
                doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#),
                "Missing required field Principal",
            ),
            (
                "bad principal",
                doc(
                    r#"{"Effect":"Allow","Principal":{"AWS":"nobody"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
                ),
                "Invalid principal in policy",
            ),
            (
                "other bucket",
                doc(
                    r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}"#,
                ),
                "Policy has invalid resource",
            ),
            (
                "prefix of name",
                doc(
                    r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bb/*"}"#,
                ),
                "Policy has invalid resource",
            ),
            (
                "star resource",
                doc(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}"#),
                "Policy has invalid resource",
            ),
            (
                "kms action",
                doc(
                    r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"arn:aws:s3:::b/*"}"#,
                ),
                "Policy has invalid action",
            ),
            (
                "unknown s3 action",
                doc(
                    r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObjekt","Resource":"arn:aws:s3:::b/*"}"#,
                ),
                "Policy has invalid action",
            ),
            (
                "unknown field",
                doc(
                    r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Bogus":1}"#,
                ),
                "Unknown field Bogus",
            ),
            (
                "bad operator",
                doc(
                    r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"StringFuzzy":{"aws:SecureTransport":"x"}}}"#,
                ),
                "Invalid Condition type : StringFuzzy",
            ),
        ];
        for (name, d, want) in rows {
            assert_eq!(validate(d, "b").err().as_deref(), Some(*want), "{name}");
        }
        let big = format!("{}{}", ok, " ".repeat(MAX_POLICY_BYTES));
        assert!(validate(&big, "b").is_err());
    }

    #[test]
    fn public_or_not() {
        let p = |s: &str| is_public(&validate(&doc(s), "b").unwrap());
        assert!(p(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#
        ));
        assert!(p(
            r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#
        ));
        assert!(!p(
            r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#
        ));
        assert!(!p(
            r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#
        ));
        assert!(!p(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}"#
        ));
        assert!(p(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}"#
        ));
        assert!(!p(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}}"#
        ));
        assert!(p(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringLike":{"aws:PrincipalArn":"*"}}}"#
        ));
        assert!(p(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}"#
        ));
    }
}
