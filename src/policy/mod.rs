//! The IAM policy language: parsing, validating and evaluating policy documents.
//!
//! This module knows the language only — documents, statements, `Effect`,
//! `Principal`/`NotPrincipal`, `Action`/`NotAction` and `Resource`/`NotResource` wildcard
//! matching, and the `Condition` operators with their evaluation (IAM User Guide: "IAM JSON
//! policy elements reference" and "IAM JSON policy elements: Condition operators"). It evaluates
//! a policy against a generic [`Request`] (principal, action, resource, [`ConditionKeys`]) and
//! says what the policy says about it in a [`Verdict`]. Combining verdicts of several policies
//! (key policy, identity policy, grants, bucket policy, ...) into a decision is the business of
//! the service that owns the resource: `kms::policy` for the KMS.
//!
//! Supported condition operators: `String[Not]Equals[IgnoreCase]`, `String[Not]Like`,
//! `Arn[Not]Equals`, `Arn[Not]Like`, `Bool`, `Null`, `Numeric*`, `[Not]IpAddress` (CIDR, IPv4
//! and IPv6), `Date*` (ISO 8601 or epoch seconds), each with the `IfExists`
//! suffix (except `Null`) and the `ForAllValues:`/`ForAnyValue:` set prefixes (except `Null`).
//!
//! Fail-closed choices: a statement using a condition operator we do not implement never grants
//! (as an `Allow` it does not match) but still refuses (as a `Deny` its conditions count as met).
//! [`Policy::unsupported_operator`] names such an operator so that callers can reject the
//! document up front.

mod condition;
mod principal;

use serde_json::{Map, Value};

pub(crate) use condition::ConditionKeys;
pub(crate) use principal::{arn_account, root_account};

use condition::Condition;
use principal::{Hit, Principals};

/// Why a policy document is refused. The messages are the `MalformedPolicyDocumentException`
/// texts the KMS answers with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum PolicyError {
    #[error("The policy is not a valid JSON document: {0}")]
    Json(String),
    #[error("The policy must be a JSON object with a Statement element")]
    NoStatement,
    #[error("Policy contains an unsupported element: {0}")]
    UnknownElement(String),
    #[error("Policy has an invalid Version: {0}")]
    Version(String),
    #[error("Policy contains a statement with an invalid or missing Effect")]
    Effect,
    #[error("Policy contains a statement with no principal")]
    NoPrincipal,
    #[error("Identity policies must not name a principal")]
    PrincipalInIdentityPolicy,
    #[error("Policy contains a statement with one or more invalid principals.")]
    InvalidPrincipal,
    #[error("Policy statement must contain exactly one of {0}")]
    ExactlyOne(&'static str),
    #[error("Policy element {0} has an invalid value")]
    InvalidValue(String),
    #[error("Policy contains an unsupported condition operator: {0}")]
    UnknownOperator(String),
}

/// Which kind of document is parsed: it decides whether statements name principals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyKind {
    /// Attached to a resource (a KMS key policy, an S3 bucket policy): every statement names a
    /// `Principal` or `NotPrincipal`.
    Resource,
    /// Attached to an identity: statements name no principal and apply to that identity.
    Identity,
}

/// The authenticated principal of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Principal<'a> {
    /// `arn:aws:iam::<acct>:user/<name>` or `arn:aws:iam::<acct>:root`.
    pub(crate) arn: &'a str,
    pub(crate) account: &'a str,
}

/// What a policy is evaluated against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub(crate) principal: Principal<'a>,
    /// `"kms:Encrypt"`; matched case-insensitively.
    pub(crate) action: &'a str,
    /// The resource ARN, or `"*"` for actions on no resource; matched case-sensitively.
    pub(crate) resource: &'a str,
    /// The condition keys the request carries.
    pub(crate) conditions: &'a ConditionKeys,
}

/// What one policy says about a request.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// A matching `Deny`.
    pub(crate) deny: bool,
    /// A matching `Allow` naming the principal directly (or everyone); identity policies always
    /// name their principal.
    pub(crate) direct: bool,
    /// A matching `Allow` naming the principal's account (delegation to the account's IAM).
    pub(crate) account: bool,
}

impl Verdict {
    /// The policy allows the principal by itself.
    pub(crate) fn allows(&self) -> bool {
        self.direct
    }
}

/// One statement as [`Policy::statements`] shows it.
#[derive(Debug)]
pub(crate) struct StatementView<'a> {
    pub(crate) allow: bool,
    /// `Principal: "*"`/`{"AWS": "*"}`, or a `NotPrincipal` (which matches all it does not
    /// name): the statement may apply to anyone, anonymous callers included.
    pub(crate) grants_anyone: bool,
    /// `Action` or `NotAction` patterns as written.
    pub(crate) actions: &'a [String],
    /// `Resource` or `NotResource` patterns as written.
    pub(crate) resources: &'a [String],
    pub(crate) conditions: Vec<ConditionView<'a>>,
}

/// One condition test: `operator` as written, `key` lower-cased.
#[derive(Debug)]
pub(crate) struct ConditionView<'a> {
    pub(crate) operator: &'a str,
    pub(crate) key: &'a str,
    pub(crate) values: &'a [String],
}

/// A parsed policy document.
#[derive(Debug)]
pub(crate) struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug)]
struct Statement {
    allow: bool,
    /// `None` in identity policies.
    principal: Option<Principals>,
    actions: Patterns,
    resources: Patterns,
    conditions: Vec<Condition>,
    /// The first condition operator we do not implement; see the module docs.
    unsupported: Option<String>,
}

/// `Action`/`Resource` or, with `negated`, `NotAction`/`NotResource`.
#[derive(Debug)]
struct Patterns {
    negated: bool,
    patterns: Vec<String>,
}

impl Policy {
    /// Parses and validates a document of the given kind.
    pub(crate) fn parse(doc: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        let value: Value =
            serde_json::from_str(doc).map_err(|e| PolicyError::Json(e.to_string()))?;
        let obj = value.as_object().ok_or(PolicyError::NoStatement)?;
        only_elements(obj, &["Version", "Id", "Statement"])?;
        if let Some(v) = obj.get("Version")
            && !matches!(v.as_str(), Some("2012-10-17" | "2008-10-17"))
        {
            return Err(PolicyError::Version(v.to_string()));
        }
        if obj.get("Id").is_some_and(|v| !v.is_string()) {
            return Err(PolicyError::InvalidValue("Id".into()));
        }
        let statements = match obj.get("Statement").ok_or(PolicyError::NoStatement)? {
            Value::Array(items) => items
                .iter()
                .map(|s| Statement::parse(s, kind))
                .collect::<Result<_, _>>()?,
            single @ Value::Object(_) => vec![Statement::parse(single, kind)?],
            _ => return Err(PolicyError::InvalidValue("Statement".into())),
        };
        Ok(Policy { statements })
    }

    /// The first condition operator in the document that we do not implement.
    pub(crate) fn unsupported_operator(&self) -> Option<&str> {
        self.statements
            .iter()
            .find_map(|s| s.unsupported.as_deref())
    }

    /// Read-only views of the statements, for a service's own rules on documents (S3: every
    /// resource in the bucket; whether a bucket policy is public).
    pub(crate) fn statements(&self) -> impl Iterator<Item = StatementView<'_>> {
        self.statements.iter().map(|s| StatementView {
            allow: s.allow,
            grants_anyone: s
                .principal
                .as_ref()
                .is_some_and(Principals::may_match_anyone),
            actions: &s.actions.patterns,
            resources: &s.resources.patterns,
            conditions: s
                .conditions
                .iter()
                .map(|c| ConditionView {
                    operator: &c.operator,
                    key: &c.key,
                    values: &c.values,
                })
                .collect(),
        })
    }

    /// What this policy says about `req`.
    pub(crate) fn evaluate(&self, req: &Request) -> Verdict {
        let mut verdict = Verdict::default();
        for stmt in &self.statements {
            let hit = match &stmt.principal {
                None => Hit::Direct,
                Some(p) => p.hit(&req.principal),
            };
            if hit == Hit::None || !stmt.targets(req) {
                continue;
            }
            let conditions_hold = || stmt.conditions.iter().all(|c| c.holds(req.conditions));
            if stmt.allow {
                if stmt.unsupported.is_none() && conditions_hold() {
                    verdict.direct |= hit == Hit::Direct;
                    verdict.account |= hit == Hit::Account;
                }
            } else if conditions_hold() {
                // A Deny applies even if it also carries an operator we cannot evaluate.
                verdict.deny = true;
            }
        }
        verdict
    }
}

impl Statement {
    fn parse(value: &Value, kind: PolicyKind) -> Result<Self, PolicyError> {
        let obj = value
            .as_object()
            .ok_or(PolicyError::InvalidValue("Statement".into()))?;
        only_elements(
            obj,
            &[
                "Sid",
                "Effect",
                "Principal",
                "NotPrincipal",
                "Action",
                "NotAction",
                "Resource",
                "NotResource",
                "Condition",
            ],
        )?;
        if obj.get("Sid").is_some_and(|v| !v.is_string()) {
            return Err(PolicyError::InvalidValue("Sid".into()));
        }
        let allow = match obj.get("Effect").and_then(Value::as_str) {
            Some("Allow") => true,
            Some("Deny") => false,
            _ => return Err(PolicyError::Effect),
        };
        let principal = match (obj.get("Principal"), obj.get("NotPrincipal"), kind) {
            (None, None, PolicyKind::Identity) => None,
            (_, _, PolicyKind::Identity) => return Err(PolicyError::PrincipalInIdentityPolicy),
            (None, None, PolicyKind::Resource) => return Err(PolicyError::NoPrincipal),
            (Some(_), Some(_), PolicyKind::Resource) => {
                return Err(PolicyError::ExactlyOne("Principal, NotPrincipal"));
            }
            (Some(p), None, PolicyKind::Resource) => Some(Principals::parse(p, false)?),
            (None, Some(p), PolicyKind::Resource) => Some(Principals::parse(p, true)?),
        };
        let actions = Patterns::parse(obj, "Action", "NotAction")?;
        if actions
            .patterns
            .iter()
            .any(|a| a != "*" && !a.contains(':'))
        {
            return Err(PolicyError::InvalidValue("Action".into()));
        }
        let resources = Patterns::parse(obj, "Resource", "NotResource")?;
        let (conditions, unsupported) = match obj.get("Condition") {
            None => (Vec::new(), None),
            Some(c) => Condition::parse_block(c)?,
        };
        Ok(Statement {
            allow,
            principal,
            actions,
            resources,
            conditions,
            unsupported,
        })
    }

    /// Action and Resource match the request.
    fn targets(&self, req: &Request) -> bool {
        let action = req.action.to_ascii_lowercase();
        self.actions
            .matches(|p| glob(&p.to_ascii_lowercase(), &action))
            && self.resources.matches(|p| glob(p, req.resource))
    }
}

impl Patterns {
    fn parse(
        obj: &Map<String, Value>,
        positive: &'static str,
        negative: &'static str,
    ) -> Result<Self, PolicyError> {
        let (name, negated) = match (obj.contains_key(positive), obj.contains_key(negative)) {
            (true, false) => (positive, false),
            (false, true) => (negative, true),
            _ => {
                return Err(PolicyError::ExactlyOne(if positive == "Action" {
                    "Action, NotAction"
                } else {
                    "Resource, NotResource"
                }));
            }
        };
        let patterns = strings(&obj[name])
            .filter(|p| !p.is_empty() && p.iter().all(|s| !s.is_empty()))
            .ok_or_else(|| PolicyError::InvalidValue(name.into()))?;
        Ok(Patterns { negated, patterns })
    }

    fn matches(&self, matcher: impl Fn(&str) -> bool) -> bool {
        self.patterns.iter().any(|p| matcher(p)) != self.negated
    }
}

fn only_elements(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), PolicyError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(PolicyError::UnknownElement(k.clone())),
        None => Ok(()),
    }
}

/// A string or an array of strings.
fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

/// `*` matches any run of characters, `?` exactly one (IAM wildcard semantics).
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            ti = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests;
