//! `Principal`/`NotPrincipal` elements and the ARN helpers they need.

use serde_json::Value;

use super::{PolicyError, Principal, strings};

/// `Principal` or, with `negated`, `NotPrincipal`.
#[derive(Debug)]
pub(super) struct Principals {
    negated: bool,
    entries: Vec<PrincipalEntry>,
}

#[derive(Debug)]
enum PrincipalEntry {
    Anyone,
    Account(String),
    Arn(String),
    /// Service/Federated/CanonicalUser principals: valid syntax, never one of our callers.
    Foreign,
}

/// How a principal entry relates to the request's principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Hit {
    None,
    /// The principal's account is named; the principal is one of its IAM users (delegation to
    /// IAM).
    Account,
    /// The principal itself (or everyone) is named.
    Direct,
}

impl Principals {
    pub(super) fn parse(value: &Value, negated: bool) -> Result<Self, PolicyError> {
        let mut entries = Vec::new();
        match value {
            Value::String(s) if s == "*" => entries.push(PrincipalEntry::Anyone),
            Value::Object(map) if !map.is_empty() => {
                for (kind, v) in map {
                    let names = strings(v)
                        .filter(|n| !n.is_empty())
                        .ok_or(PolicyError::InvalidPrincipal)?;
                    match kind.as_str() {
                        "AWS" => {
                            for name in names {
                                entries.push(PrincipalEntry::parse_aws(&name)?);
                            }
                        }
                        "Service" | "Federated" | "CanonicalUser" => {
                            entries.push(PrincipalEntry::Foreign)
                        }
                        _ => return Err(PolicyError::InvalidPrincipal),
                    }
                }
            }
            _ => return Err(PolicyError::InvalidPrincipal),
        }
        Ok(Principals { negated, entries })
    }

    /// Whether this element can match a caller it does not name (everyone, or a
    /// `NotPrincipal`).
    pub(super) fn may_match_anyone(&self) -> bool {
        self.negated
            || self
                .entries
                .iter()
                .any(|e| matches!(e, PrincipalEntry::Anyone))
    }

    pub(super) fn hit(&self, principal: &Principal) -> Hit {
        let best = self
            .entries
            .iter()
            .map(|e| e.hit(principal))
            .max()
            .unwrap_or(Hit::None);
        if !self.negated {
            return best;
        }
        // NotPrincipal excludes only principals it names exactly; naming an account root does
        // not exclude that account's users (IAM NotPrincipal semantics).
        if best == Hit::Direct {
            Hit::None
        } else {
            Hit::Direct
        }
    }
}

impl PrincipalEntry {
    fn parse_aws(name: &str) -> Result<Self, PolicyError> {
        if name == "*" {
            return Ok(PrincipalEntry::Anyone);
        }
        if name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(PrincipalEntry::Account(name.to_owned()));
        }
        if let Some(account) = root_account(name) {
            return Ok(PrincipalEntry::Account(account.to_owned()));
        }
        // Principals name one identity: no wildcards besides a bare "*".
        let is_iam_arn =
            name.starts_with("arn:") && arn_account(name).is_some_and(|a| !a.is_empty());
        if !is_iam_arn || name.contains('*') || name.contains('?') {
            return Err(PolicyError::InvalidPrincipal);
        }
        Ok(PrincipalEntry::Arn(name.to_owned()))
    }

    fn hit(&self, principal: &Principal) -> Hit {
        match self {
            PrincipalEntry::Anyone => Hit::Direct,
            PrincipalEntry::Arn(arn) if arn == principal.arn => Hit::Direct,
            PrincipalEntry::Account(acct) if acct == principal.account => {
                if root_account(principal.arn) == Some(acct.as_str()) {
                    Hit::Direct
                } else {
                    Hit::Account
                }
            }
            _ => Hit::None,
        }
    }
}

/// The account of an ARN (`arn:<partition>:<service>:<region>:<account>:<resource>`).
pub(crate) fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next() == Some("arn")).then_some(())?;
    parts.nth(3).filter(|_| parts.next().is_some())
}

/// `Some(account)` when `arn` is an account root identity (`arn:<partition>:iam::<acct>:root`).
pub(crate) fn root_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let ok = parts.next() == Some("arn") && parts.nth(1) == Some("iam");
    let account = parts.nth(1)?;
    (ok && parts.next() == Some("root")).then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCT: &str = "111122223333";

    #[test]
    fn arn_helpers() {
        let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let alice = "arn:aws:iam::111122223333:user/alice";
        assert_eq!(arn_account(key), Some(ACCT));
        assert_eq!(arn_account(alice), Some(ACCT));
        assert_eq!(arn_account("not-an-arn"), None);
        assert_eq!(root_account("arn:aws:iam::111122223333:root"), Some(ACCT));
        assert_eq!(
            root_account("arn:aws-cn:iam::111122223333:root"),
            Some(ACCT)
        );
        assert_eq!(root_account(alice), None);
        assert_eq!(root_account("arn:aws:sts::111122223333:root"), None);
    }
}
