//! The POST policy document (S3 User Guide, "Creating a POST policy"): base64 JSON with an
//! `expiration` and a list of `conditions` every form field must satisfy.
//!
//! Decisions, following AWS's documented and observed behaviour:
//! - `expiration` and `conditions` are required and their names are case-sensitive; condition
//!   operators and `$field` names are not (field names are matched in lower case).
//! - Conditions: `{"field": "value"}` (exactly one property; exact match), `["eq", "$field",
//!   "value"]`, `["starts-with", "$field", "prefix"]` (an empty prefix allows anything; for
//!   `Content-Type` every comma-separated type must start with it), and
//!   `["content-length-range", min, max]` on the file size.
//! - A field the form omits compares as the empty string.
//! - Every form field must be named by some condition except the signature and policy fields,
//!   `file` and `x-ignore-*`; the bucket counts as a field (AWS rejects a policy without a
//!   bucket condition).
//! - `key` is compared as sent, before `${filename}` is replaced (boto3's
//!   `generate_presigned_post` writes `["starts-with", "$key", "dir/"]` for `dir/${filename}`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::form::Fields;
use crate::s3::error::S3Error;

/// Fields the policy need not name.
const EXEMPT: [&str; 5] = [
    "file",
    "policy",
    "x-amz-signature",
    "signature",
    "awsaccesskeyid",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    Eq { field: String, value: String },
    StartsWith { field: String, prefix: String },
    LengthRange { min: u64, max: u64 },
}

impl Condition {
    fn field(&self) -> Option<&str> {
        match self {
            Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => Some(field),
            Condition::LengthRange { .. } => None,
        }
    }

    /// The condition as AWS quotes it in "Policy Condition failed: [...]".
    fn quoted(&self) -> String {
        let q = |s: &str| Value::String(s.to_owned()).to_string();
        match self {
            Condition::Eq { field, value } => {
                format!("[\"eq\", {}, {}]", q(&format!("${field}")), q(value))
            }
            Condition::StartsWith { field, prefix } => format!(
                "[\"starts-with\", {}, {}]",
                q(&format!("${field}")),
                q(prefix)
            ),
            Condition::LengthRange { min, max } => {
                format!("[\"content-length-range\", {min}, {max}]")
            }
        }
    }

    fn holds(&self, value: &str) -> bool {
        match self {
            Condition::Eq { value: want, .. } => value == want,
            Condition::StartsWith { field, prefix } if field == "content-type" => value
                .split(',')
                .all(|t| t.trim_start().starts_with(prefix.as_str())),
            Condition::StartsWith { prefix, .. } => value.starts_with(prefix.as_str()),
            Condition::LengthRange { .. } => true,
        }
    }
}

/// A decoded policy document.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    expiration: OffsetDateTime,
    conditions: Vec<Condition>,
}

fn invalid(msg: impl std::fmt::Display) -> S3Error {
    S3Error::InvalidPolicyDocument(format!("Invalid Policy: {msg}"))
}

fn denied(msg: impl std::fmt::Display) -> S3Error {
    S3Error::AccessDenied(format!("Invalid according to Policy: {msg}"))
}

impl Policy {
    /// Decodes the `policy` field (base64 of a JSON document; whitespace in the base64, as
    /// line-wrapping encoders produce, is ignored).
    pub(crate) fn parse(b64: &str) -> Result<Policy, S3Error> {
        let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let raw = STANDARD
            .decode(compact)
            .map_err(|_| invalid("Invalid Base64 Encoding."))?;
        let doc: Value = serde_json::from_slice(&raw).map_err(|_| invalid("Invalid JSON."))?;
        let doc = doc.as_object().ok_or_else(|| invalid("Invalid JSON."))?;
        let exp = doc
            .get("expiration")
            .ok_or_else(|| invalid("Policy missing expiration."))?;
        let expiration = exp
            .as_str()
            .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
            .ok_or_else(|| invalid(format!("Invalid 'expiration' value: {exp}")))?;
        let conds = doc
            .get("conditions")
            .ok_or_else(|| invalid("Policy missing conditions."))?
            .as_array()
            .ok_or_else(|| invalid("Invalid 'conditions' value: must be a list."))?;
        let conditions = conds
            .iter()
            .map(parse_condition)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy {
            expiration,
            conditions,
        })
    }

    /// 403 once the policy has expired.
    pub(crate) fn check_expiry(&self, now: OffsetDateTime) -> Result<(), S3Error> {
        if now >= self.expiration {
            return Err(denied("Policy expired."));
        }
        Ok(())
    }

    /// Checks every field condition, then that every form field is covered by one.
    pub(crate) fn check_fields(&self, fields: &Fields, bucket: &str) -> Result<(), S3Error> {
        let value_of = |name: &str| -> String {
            if name == "bucket" {
                bucket.to_owned()
            } else {
                fields.get(name).unwrap_or_default().to_owned()
            }
        };
        for c in &self.conditions {
            if let Some(field) = c.field()
                && !c.holds(&value_of(field))
            {
                return Err(denied(format!("Policy Condition failed: {}", c.quoted())));
            }
        }
        let covered = |name: &str| self.conditions.iter().any(|c| c.field() == Some(name));
        let inputs = std::iter::once("bucket").chain(fields.iter().map(|(n, _)| n));
        for name in inputs {
            if EXEMPT.contains(&name) || name.starts_with("x-ignore-") {
                continue;
            }
            if !covered(name) {
                return Err(denied(format!("Extra input fields: {name}")));
            }
        }
        Ok(())
    }

    /// The file sizes every `content-length-range` allows (their intersection).
    pub(crate) fn length_range(&self) -> (u64, u64) {
        self.conditions
            .iter()
            .fold((0, u64::MAX), |(lo, hi), c| match c {
                Condition::LengthRange { min, max } => (lo.max(*min), hi.min(*max)),
                _ => (lo, hi),
            })
    }
}

fn parse_condition(v: &Value) -> Result<Condition, S3Error> {
    if let Some(obj) = v.as_object() {
        if obj.len() != 1 {
            return Err(invalid(
                "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
            ));
        }
        let (k, val) = obj.iter().next().expect("one property");
        let value = val.as_str().ok_or_else(|| {
            invalid(format!(
                "Invalid Simple-Condition: value of '{k}' must be a string."
            ))
        })?;
        return Ok(Condition::Eq {
            field: k.trim_start_matches('$').to_ascii_lowercase(),
            value: value.to_owned(),
        });
    }
    let arr = v
        .as_array()
        .ok_or_else(|| invalid(format!("Invalid Condition: {v}")))?;
    let op = arr
        .first()
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| invalid(format!("Invalid Condition: {v}")))?;
    match op.as_str() {
        "eq" | "starts-with" => {
            let (Some(field), Some(value), 3) = (
                arr.get(1).and_then(Value::as_str),
                arr.get(2).and_then(Value::as_str),
                arr.len(),
            ) else {
                return Err(invalid(format!(
                    "Invalid '{op}' condition: expected [\"{op}\", \"$field\", \"value\"], got {v}"
                )));
            };
            let field = field
                .strip_prefix('$')
                .ok_or_else(|| {
                    invalid(format!(
                        "Invalid '{op}' condition: the field name must start with '$': {v}"
                    ))
                })?
                .to_ascii_lowercase();
            let value = value.to_owned();
            Ok(if op == "eq" {
                Condition::Eq { field, value }
            } else {
                Condition::StartsWith {
                    field,
                    prefix: value,
                }
            })
        }
        "content-length-range" => {
            let bound = |i: usize| arr.get(i).and_then(length_bound);
            match (bound(1), bound(2), arr.len()) {
                (Some(min), Some(max), 3) if min <= max => Ok(Condition::LengthRange { min, max }),
                _ => Err(invalid(format!(
                    "Invalid 'content-length-range' condition: expected two sizes, the least not above the greatest, got {v}"
                ))),
            }
        }
        _ => Err(invalid(format!(
            "Invalid Condition: unknown operation '{op}'"
        ))),
    }
}

/// A size in a `content-length-range`: a non-negative integer, or a string holding one.
fn length_bound(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        STANDARD.encode(json)
    }

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        let mut f = Fields::default();
        for (k, v) in pairs {
            f.push((*k).into(), (*v).into()).unwrap();
        }
        f
    }

    const FUTURE: &str = "2099-01-01T00:00:00.000Z";

    fn policy(conditions: &str) -> Policy {
        Policy::parse(&b64(&format!(
            r#"{{"expiration": "{FUTURE}", "conditions": {conditions}}}"#
        )))
        .unwrap()
    }

    fn message(e: S3Error) -> (String, u16, String) {
        (e.code().to_owned(), e.status().as_u16(), e.to_string())
    }

    #[test]
    fn malformed_documents_are_invalid_policy_documents() {
        for (doc, msg) in [
            ("not json", "Invalid Policy: Invalid JSON."),
            ("[]", "Invalid Policy: Invalid JSON."),
            (
                r#"{"conditions": []}"#,
                "Invalid Policy: Policy missing expiration.",
            ),
            (
                r#"{"EXPIRATION": "2099-01-01T00:00:00Z", "conditions": []}"#,
                "Invalid Policy: Policy missing expiration.",
            ),
            (
                r#"{"expiration": "2099-01-01T00:00:00Z", "CONDITIONS": []}"#,
                "Invalid Policy: Policy missing conditions.",
            ),
            (
                r#"{"expiration": "2014-01-01 00:00:00", "conditions": []}"#,
                "Invalid Policy: Invalid 'expiration' value: \"2014-01-01 00:00:00\"",
            ),
        ] {
            let e = Policy::parse(&b64(doc)).unwrap_err();
            assert_eq!(
                message(e),
                ("InvalidPolicyDocument".into(), 400, msg.into()),
                "{doc}"
            );
        }
        let e = Policy::parse("%%%").unwrap_err();
        assert_eq!(e.to_string(), "Invalid Policy: Invalid Base64 Encoding.");
    }

    #[test]
    fn malformed_conditions_are_refused() {
        for c in [
            r#"[{}]"#,
            r#"[{"a": "b", "c": "d"}]"#,
            r#"[{"a": 1}]"#,
            r#"[["eq", "$key"]]"#,
            r#"[["eq", "key", "x"]]"#,
            r#"[["starts-with", "$key", 5]]"#,
            r#"[["content-length-range", 0]]"#,
            r#"[["content-length-range", -1, 0]]"#,
            r#"[["content-length-range", 10, 5]]"#,
            r#"[["matches", "$key", "x"]]"#,
            r#"["eq"]"#,
            r#"{"key": "x"}"#,
        ] {
            let doc = format!(r#"{{"expiration": "{FUTURE}", "conditions": {c}}}"#);
            let e = Policy::parse(&b64(&doc)).unwrap_err();
            assert_eq!(e.code(), "InvalidPolicyDocument", "{c}");
        }
    }

    #[test]
    fn expiry() {
        let p = Policy::parse(&b64(
            r#"{"expiration": "2020-01-01T00:00:00Z", "conditions": []}"#,
        ))
        .unwrap();
        let e = p.check_expiry(OffsetDateTime::now_utc()).unwrap_err();
        assert_eq!(
            message(e),
            (
                "AccessDenied".into(),
                403,
                "Invalid according to Policy: Policy expired.".into()
            )
        );
        policy("[]")
            .check_expiry(OffsetDateTime::now_utc())
            .unwrap();
    }

    #[test]
    fn conditions_match_as_aws_does() {
        let p = policy(
            r#"[{"bucket": "b"}, ["starts-with", "$key", "user/"], ["eq", "$x-amz-meta-color", "blue"],
               ["StArTs-WiTh", "$Content-Type", "image/"], {"acl": "private"},
               ["content-length-range", 1, 100], ["content-length-range", "5", "1000"]]"#,
        );
        let ok = [
            ("key", "user/${filename}"),
            ("x-amz-meta-color", "blue"),
            ("content-type", "image/png,image/jpeg"),
            ("acl", "private"),
            ("policy", "…"),
            ("x-amz-signature", "…"),
            ("x-ignore-anything", "1"),
        ];
        p.check_fields(&fields(&ok), "b").unwrap();
        assert_eq!(p.length_range(), (5, 100));

        let e = p.check_fields(&fields(&ok), "other").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "b"]"#
        );
        let mut bad = ok;
        bad[0] = ("key", "admin/x");
        let e = p.check_fields(&fields(&bad), "b").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/"]"#
        );
        let mut bad = ok;
        bad[2] = ("content-type", "image/png,text/html");
        assert_eq!(
            p.check_fields(&fields(&bad), "b").unwrap_err().code(),
            "AccessDenied"
        );
        // A field the policy requires but the form lacks compares as "".
        let e = p.check_fields(&fields(&ok[..1]), "b").unwrap_err();
        assert!(e.to_string().contains("$x-amz-meta-color"), "{e}");

        let mut extra = ok.to_vec();
        extra.push(("x-amz-meta-size", "9"));
        let e = p.check_fields(&fields(&extra), "b").unwrap_err();
        assert_eq!(
            message(e),
            (
                "AccessDenied".into(),
                403,
                "Invalid according to Policy: Extra input fields: x-amz-meta-size".into()
            )
        );
    }

    #[test]
    fn the_bucket_must_be_covered() {
        let p = policy(r#"[["starts-with", "$key", ""]]"#);
        let e = p.check_fields(&fields(&[("key", "k")]), "b").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid according to Policy: Extra input fields: bucket"
        );
        let p = policy(r#"[["starts-with", "$key", ""], ["eq", "$bucket", "b"]]"#);
        p.check_fields(&fields(&[("key", "anything")]), "b")
            .unwrap();
        assert_eq!(p.length_range(), (0, u64::MAX));
    }
}
