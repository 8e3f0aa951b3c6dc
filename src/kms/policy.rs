//! Authorization for the KMS: key policy + identity policy + grants, evaluated the way AWS KMS does.
//!
//! One entry point, [`authorize`], decides every KMS call. The rules (AWS KMS Developer Guide,
//! "Determining access to a KMS key"):
//!
//! 1. A matching `Deny` statement in the key policy or in the caller's identity policy refuses the
//!    request; nothing overrides it, not even a grant.
//! 2. Otherwise the request is allowed when one of these holds:
//!    - the key policy allows the caller *directly* (its ARN, `"*"`, or — for the account's root
//!      identity — the account itself). For a caller of the key's own account that suffices;
//!    - the key policy allows the caller's *account* (principal `<acct>` / `arn:aws:iam::<acct>:root`)
//!      and the caller's identity policy allows the action. This is what the default key policy
//!      does: it grants nothing to users by itself, it delegates to IAM;
//!    - for a caller of *another* account, the key policy must allow it (directly or by account)
//!      *and* its own identity policy must allow it (that account's root needs no identity policy);
//!    - a grant on the key names the caller as grantee, lists the operation, and its
//!      encryption-context constraint is met.
//! 3. Account-level actions (`CreateKey`, `ListKeys`, ...; no key ARN) are IAM-only: the identity
//!    policy must allow them, or the caller is its account's root.
//!
//! The policy language itself (parsing, wildcards, condition operators) is [`crate::policy`].
//! Fail-closed choices: a stored key or identity policy that does not parse denies the request;
//! a statement using a condition operator we do not implement never grants but still refuses
//! (see [`crate::policy`]). [`validate_policy`] rejects such documents up front, so these paths
//! only guard data written by older versions.
//!
//! Condition keys come from the request: `kms:EncryptionContext:<k>` (key part case-insensitive,
//! like all condition key names), `kms:EncryptionContextKeys` (multi-valued; absent when the
//! context is empty), `kms:CallerAccount`, `aws:PrincipalArn`, `aws:PrincipalAccount`,
//! `aws:PrincipalType`, `kms:GrantIsForAWSResource` (always `false` here: no AWS service creates
//! our grants), and `kms:ViaService` (`s3.<region>.amazonaws.com`) on calls the S3 gateway makes
//! for an S3 request — in process, or forwarded by a remote gateway — never on direct calls.
//! `aws:SourceIp` and `aws:SecureTransport` are the caller's ([`Network`]): a direct caller's
//! connection, or the S3 client's as its gateway forwards them; absent when unknown.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::policy::{
    ConditionKeys, Policy, PolicyError, PolicyKind, Principal, Request, Verdict, arn_account,
    root_account,
};

/// The authenticated principal making a KMS call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `arn:aws:iam::<acct>:user/<name>` or `arn:aws:iam::<acct>:root`.
    pub arn: String,
    pub account: String,
    /// The caller's IAM policy JSON (same language as key policies, without `Principal`).
    pub identity_policy: Option<String>,
    /// Where the caller's request came from; `None` for work the gateway does for itself and
    /// for callers a gateway named without it (then `aws:SourceIp` and `aws:SecureTransport`
    /// are absent, and only `...IfExists` conditions on them hold).
    pub network: Option<Network>,
}

/// The caller's network facts: `aws:SourceIp` and `aws:SecureTransport`. For an S3 request
/// they are the S3 client's, forwarded by the gateway (as AWS's forward access sessions carry
/// the original caller's), not the gateway's own connection to the KMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    /// IPv4-mapped IPv6 addresses are kept as the IPv4 address they map, as IAM sees them.
    pub source_ip: IpAddr,
    /// Over TLS (itself, or through a trusted proxy that says so).
    pub secure_transport: bool,
}

impl Network {
    pub fn new(source_ip: IpAddr, secure_transport: bool) -> Self {
        let source_ip = match source_ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(source_ip, IpAddr::V4),
            v4 => v4,
        };
        Self {
            source_ip,
            secure_transport,
        }
    }
}

/// A grant's encryption-context constraint (CreateGrant `Constraints`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantConstraints {
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
}

/// A grant as stored by the key store.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub grant_id: String,
    pub key_arn: String,
    pub grantee_principal: String,
    pub retiring_principal: Option<String>,
    /// Operation names without the `kms:` prefix, as in CreateGrant (`"Decrypt"`).
    pub operations: Vec<String>,
    pub constraints: Option<GrantConstraints>,
    pub name: Option<String>,
    pub issuing_account: String,
    pub creation_date: f64,
    pub grant_tokens: Vec<String>,
}

/// Everything [`authorize`] looks at for one call.
#[derive(Debug, Clone, Copy)]
pub struct AuthzRequest<'a> {
    pub caller: &'a Caller,
    /// `"kms:Encrypt"`.
    pub action: &'a str,
    /// `None` for account-level actions: CreateKey, ListKeys, ListAliases, GenerateRandom.
    pub key_arn: Option<&'a str>,
    /// The key's policy JSON.
    pub key_policy: Option<&'a str>,
    /// Grants on this key.
    pub grants: &'a [Grant],
    /// For CreateGrant through a grant: pass the new grant's constraint pairs here, so a parent
    /// grant's constraint is enforced on its children.
    pub encryption_context: &'a BTreeMap<String, String>,
    /// Accepted and ignored: our grants are effective immediately (AWS needs tokens only for
    /// eventual consistency).
    pub grant_tokens: &'a [String],
    /// `kms:ViaService`: the AWS service the request came through (`s3.<region>.amazonaws.com`
    /// for the gateway acting for an S3 request); `None` for direct KMS API calls.
    pub via_service: Option<&'a str>,
}

/// The outcome; `Deny` carries the `AccessDeniedException` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(String),
}

/// Every value of the `GrantOperation` enum, i.e. what CreateGrant's `Operations` may name at
/// all (AWS KMS API Reference: CreateGrant, `Operations`). Which of them a particular key
/// accepts depends on its key spec: see `grants::NOT_FOR_SYMMETRIC_ENCRYPTION_KEYS`.
const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// Grant operations that take no encryption context; AWS ignores grant constraints for them
/// (AWS KMS API Reference: GrantConstraints).
const OPS_WITHOUT_CONTEXT: &[&str] = &[
    "DescribeKey",
    "RetireGrant",
    "GetPublicKey",
    "Sign",
    "Verify",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// Whether `op` (no `kms:` prefix, exact case) is a value of the `GrantOperation` enum.
pub fn grant_allows_operation(op: &str) -> bool {
    GRANT_OPERATIONS.contains(&op)
}

/// The key policy AWS attaches to a key created without one.
pub fn default_key_policy(account: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Id":"key-default-1","Statement":[{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    )
}

/// Checks a key policy for PutKeyPolicy/CreateKey. `Err` is the
/// `MalformedPolicyDocumentException` message.
pub fn validate_policy(doc: &str) -> Result<(), String> {
    let policy = Policy::parse(doc, PolicyKind::Resource).map_err(|e| e.to_string())?;
    match policy.unsupported_operator() {
        Some(op) => Err(PolicyError::UnknownOperator(op.to_owned()).to_string()),
        None => Ok(()),
    }
}

/// Whether `caller` may retire `grant`: its retiring principal, its grantee when the grant lists
/// RetireGrant, or the root identity of the account that issued it (RetireGrant API reference).
pub fn can_retire_grant(caller: &Caller, grant: &Grant) -> bool {
    grant.retiring_principal.as_deref() == Some(caller.arn.as_str())
        || (grant.grantee_principal == caller.arn
            && grant.operations.iter().any(|o| o == "RetireGrant"))
        || (root_account(&caller.arn) == Some(grant.issuing_account.as_str()))
}

/// Decides one KMS call. See the module docs for the rules.
pub fn authorize(req: &AuthzRequest) -> Decision {
    let caller = req.caller;
    let resource = req.key_arn.unwrap_or("*");
    let denial = Denial {
        caller: &caller.arn,
        action: req.action,
        resource,
    };
    let conditions = condition_keys(req);
    let ctx = Request {
        principal: Principal {
            arn: &caller.arn,
            account: &caller.account,
        },
        action: req.action,
        resource,
        conditions: &conditions,
    };
    let is_root = root_account(&caller.arn) == Some(caller.account.as_str());

    let identity = match caller
        .identity_policy
        .as_deref()
        .map(|d| Policy::parse(d, PolicyKind::Identity))
    {
        None => Verdict::default(),
        Some(Ok(policy)) => policy.evaluate(&ctx),
        // Fail closed: an unreadable policy may hold a Deny we cannot see.
        Some(Err(_)) => return denial.no_identity_allow(),
    };

    let Some(key_arn) = req.key_arn else {
        if identity.deny {
            return denial.explicit_identity_deny();
        }
        return if identity.allows() || is_root {
            Decision::Allow
        } else {
            denial.no_identity_allow()
        };
    };

    let key = match req
        .key_policy
        .map(|d| Policy::parse(d, PolicyKind::Resource))
    {
        None => Verdict::default(),
        Some(Ok(policy)) => policy.evaluate(&ctx),
        Some(Err(_)) => return denial.no_resource_allow(),
    };
    if key.deny {
        return denial.explicit_resource_deny();
    }
    if identity.deny {
        return denial.explicit_identity_deny();
    }

    let same_account = arn_account(key_arn) == Some(caller.account.as_str());
    let policies_allow = if same_account {
        key.direct || (key.account && identity.allows())
    } else {
        (key.direct || key.account) && (identity.allows() || is_root)
    };
    if policies_allow || req.grants.iter().any(|g| grant_allows(g, req, key_arn)) {
        return Decision::Allow;
    }
    // AWS names the side that is missing: if the key policy lets the caller (or its account) in,
    // the identity policy is what failed.
    if key.direct || key.account {
        denial.no_identity_allow()
    } else {
        denial.no_resource_allow()
    }
}

/// The condition keys a KMS request carries (see the module docs).
fn condition_keys(req: &AuthzRequest) -> ConditionKeys {
    let caller = req.caller;
    let ec = req.encryption_context;
    let mut keys = ConditionKeys::default();
    keys.add("kms:CallerAccount", [caller.account.clone()]);
    if let Some(via) = req.via_service {
        keys.add("kms:ViaService", [via.to_owned()]);
    }
    keys.add("aws:PrincipalAccount", [caller.account.clone()]);
    keys.add("aws:PrincipalArn", [caller.arn.clone()]);
    if let Some(net) = caller.network {
        keys.add("aws:SourceIp", [net.source_ip.to_string()]);
        keys.add("aws:SecureTransport", [net.secure_transport.to_string()]);
    }
    let root = root_account(&caller.arn).is_some();
    keys.add(
        "aws:PrincipalType",
        [if root { "Account" } else { "User" }.to_owned()],
    );
    let op = strip_prefix_ignore_case(req.action, "kms:").unwrap_or_default();
    if ["creategrant", "listgrants", "revokegrant"].contains(&op.to_ascii_lowercase().as_str()) {
        keys.add("kms:GrantIsForAWSResource", ["false".to_owned()]);
    }
    keys.add("kms:EncryptionContextKeys", ec.keys().cloned());
    for (k, v) in ec {
        // The key part is lower-cased on its own, as condition key names in policies are.
        let name = format!("kms:encryptioncontext:{}", k.to_lowercase());
        keys.add(&name, [v.clone()]);
    }
    keys
}

/// Builds the AccessDeniedException messages AWS uses.
struct Denial<'a> {
    caller: &'a str,
    action: &'a str,
    resource: &'a str,
}

impl Denial<'_> {
    fn prefix(&self) -> String {
        format!(
            "User: {} is not authorized to perform: {} on resource: {}",
            self.caller, self.action, self.resource
        )
    }
    fn no_resource_allow(&self) -> Decision {
        Decision::Deny(format!(
            "{} because no resource-based policy allows the {} action",
            self.prefix(),
            self.action
        ))
    }
    fn no_identity_allow(&self) -> Decision {
        Decision::Deny(format!(
            "{} because no identity-based policy allows the {} action",
            self.prefix(),
            self.action
        ))
    }
    fn explicit_resource_deny(&self) -> Decision {
        Decision::Deny(format!(
            "{} with an explicit deny in a resource-based policy",
            self.prefix()
        ))
    }
    fn explicit_identity_deny(&self) -> Decision {
        Decision::Deny(format!(
            "{} with an explicit deny in an identity-based policy",
            self.prefix()
        ))
    }
}

fn grant_allows(grant: &Grant, req: &AuthzRequest, key_arn: &str) -> bool {
    let op = strip_prefix_ignore_case(req.action, "kms:").unwrap_or(req.action);
    if grant.key_arn != key_arn
        || grant.grantee_principal != req.caller.arn
        || !grant.operations.iter().any(|o| o == op)
    {
        return false;
    }
    if OPS_WITHOUT_CONTEXT.contains(&op) {
        return true;
    }
    let Some(c) = &grant.constraints else {
        return true;
    };
    let ctx = req.encryption_context;
    // Grant constraints compare keys case-insensitively and values exactly (GrantConstraints docs).
    c.encryption_context_subset
        .as_ref()
        .is_none_or(|s| context_contains(ctx, s))
        && c.encryption_context_equals
            .as_ref()
            .is_none_or(|e| context_contains(ctx, e) && context_contains(e, ctx))
}

fn context_contains(
    haystack: &BTreeMap<String, String>,
    needle: &BTreeMap<String, String>,
) -> bool {
    needle.iter().all(|(k, v)| {
        haystack
            .iter()
            .any(|(hk, hv)| hv == v && hk.to_lowercase() == k.to_lowercase())
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const ACCT: &str = "111122223333";
    const OTHER: &str = "444455556666";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const KEY2: &str =
        "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
    const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
    const BOB: &str = "arn:aws:iam::111122223333:user/bob";
    const ROOT: &str = "arn:aws:iam::111122223333:root";
    const CAROL: &str = "arn:aws:iam::444455556666:user/carol";
    const OTHER_ROOT: &str = "arn:aws:iam::444455556666:root";

    fn caller(arn: &str, identity: Option<&str>) -> Caller {
        Caller {
            arn: arn.into(),
            account: arn_account(arn).unwrap().into(),
            identity_policy: identity.map(str::to_owned),
            network: None,
        }
    }

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn stmt_policy(statements: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
    }

    fn identity(effect: &str, action: &str, resource: &str, condition: &str) -> String {
        let cond = if condition.is_empty() {
            String::new()
        } else {
            format!(r#","Condition":{condition}"#)
        };
        stmt_policy(&format!(
            r#"{{"Effect":"{effect}","Action":{action},"Resource":"{resource}"{cond}}}"#
        ))
    }

    fn grant(grantee: &str, ops: &[&str], constraints: Option<GrantConstraints>) -> Grant {
        Grant {
            grant_id: "g1".into(),
            key_arn: KEY.into(),
            grantee_principal: grantee.into(),
            retiring_principal: None,
            operations: ops.iter().map(|o| o.to_string()).collect(),
            constraints,
            name: None,
            issuing_account: ACCT.into(),
            creation_date: 0.0,
            grant_tokens: Vec::new(),
        }
    }

    fn subset(pairs: &[(&str, &str)]) -> Option<GrantConstraints> {
        Some(GrantConstraints {
            encryption_context_subset: Some(ctx(pairs)),
            encryption_context_equals: None,
        })
    }

    fn equals(pairs: &[(&str, &str)]) -> Option<GrantConstraints> {
        Some(GrantConstraints {
            encryption_context_subset: None,
            encryption_context_equals: Some(ctx(pairs)),
        })
    }

    /// Expected outcome: allow, or deny with a message containing the given text.
    enum Want {
        Allow,
        Deny(&'static str),
    }

    const NO_RES: &str = "because no resource-based policy allows";
    const NO_ID: &str = "because no identity-based policy allows";
    const DENY_RES: &str = "with an explicit deny in a resource-based policy";
    const DENY_ID: &str = "with an explicit deny in an identity-based policy";

    struct Row {
        name: &'static str,
        caller: Caller,
        action: &'static str,
        key: Option<&'static str>,
        key_policy: Option<String>,
        grants: Vec<Grant>,
        context: BTreeMap<String, String>,
        want: Want,
    }

    fn row(name: &'static str, caller: Caller, action: &'static str, want: Want) -> Row {
        Row {
            name,
            caller,
            action,
            key: Some(KEY),
            key_policy: Some(default_key_policy(ACCT)),
            grants: Vec::new(),
            context: BTreeMap::new(),
            want,
        }
    }

    impl Row {
        fn policy(mut self, p: String) -> Self {
            self.key_policy = Some(p);
            self
        }
        fn no_key(mut self) -> Self {
            self.key = None;
            self.key_policy = None;
            self
        }
        fn grants(mut self, g: Vec<Grant>) -> Self {
            self.grants = g;
            self
        }
        fn ctx(mut self, pairs: &[(&str, &str)]) -> Self {
            self.context = ctx(pairs);
            self
        }
    }

    fn key_stmt(effect: &str, principal: &str, action: &str, condition: &str) -> String {
        let cond = if condition.is_empty() {
            String::new()
        } else {
            format!(r#","Condition":{condition}"#)
        };
        format!(
            r#"{{"Effect":"{effect}","Principal":{principal},"Action":{action},"Resource":"*"{cond}}}"#
        )
    }

    fn rows() -> Vec<Row> {
        let root_stmt = key_stmt("Allow", &format!(r#"{{"AWS":"{ROOT}"}}"#), r#""kms:*""#, "");
        let decrypt_on_key = identity("Allow", r#""kms:Decrypt""#, KEY, "");
        let all_kms = identity("Allow", r#""kms:*""#, "*", "");
        let from_net = identity(
            "Allow",
            r#""kms:Decrypt""#,
            KEY,
            r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        );
        let at = |c: Caller, ip: &str, tls: bool| Caller {
            network: Some(Network::new(ip.parse().unwrap(), tls)),
            ..c
        };
        let dept = |op: &str, v: &str| {
            identity(
                "Allow",
                r#""kms:*""#,
                KEY,
                &format!(r#"{{"{op}":{{"kms:EncryptionContext:dept":{v}}}}}"#),
            )
        };
        let keys_cond = |op: &str, v: &str| {
            identity(
                "Allow",
                r#""kms:*""#,
                KEY,
                &format!(r#"{{"{op}":{{"kms:EncryptionContextKeys":{v}}}}}"#),
            )
        };
        vec![
            // Default policy.
            row("root + default policy", caller(ROOT, None), "kms:Encrypt", Want::Allow),
            row("root + default policy, management op", caller(ROOT, None), "kms:ScheduleKeyDeletion", Want::Allow),
            row("user without identity policy", caller(ALICE, None), "kms:Encrypt", Want::Deny(NO_ID)),
            row("identity allows Decrypt", caller(ALICE, Some(&decrypt_on_key)), "kms:Decrypt", Want::Allow),
            row("identity allows Decrypt, not Encrypt", caller(ALICE, Some(&decrypt_on_key)), "kms:Encrypt", Want::Deny(NO_ID)),
            row("identity for another key", caller(ALICE, Some(&identity("Allow", r#""kms:*""#, KEY2, ""))), "kms:Decrypt", Want::Deny(NO_ID)),
            row("other account user, default policy", caller(CAROL, Some(&all_kms)), "kms:Decrypt", Want::Deny(NO_RES)),
            row("other account root, default policy", caller(OTHER_ROOT, None), "kms:Decrypt", Want::Deny(NO_RES)),
            // Explicit deny.
            row("key policy Deny beats identity Allow", caller(ALICE, Some(&all_kms)), "kms:Decrypt", Want::Deny(DENY_RES))
                .policy(stmt_policy(&format!("{root_stmt},{}", key_stmt("Deny", &format!(r#"{{"AWS":"{ALICE}"}}"#), r#""kms:Decrypt""#, "")))),
            row("identity Deny beats key policy direct Allow", caller(ALICE, Some(&stmt_policy(&format!(
                r#"{{"Effect":"Allow","Action":"kms:*","Resource":"*"}},{{"Effect":"Deny","Action":"kms:Decrypt","Resource":"{KEY}"}}"#)))), "kms:Decrypt", Want::Deny(DENY_ID))
                .policy(stmt_policy(&key_stmt("Allow", &format!(r#"{{"AWS":"{ALICE}"}}"#), r#""kms:*""#, ""))),
            row("key policy Deny beats grant", caller(BOB, None), "kms:Decrypt", Want::Deny(DENY_RES))
                .policy(stmt_policy(&format!("{root_stmt},{}", key_stmt("Deny", r#""*""#, r#""kms:Decrypt""#, ""))))
                .grants(vec![grant(BOB, &["Decrypt"], None)]),
            row("NotPrincipal Deny spares the named user", caller(ALICE, None), "kms:Decrypt", Want::Allow)
                .policy(stmt_policy(&format!(r#"{},{{"Effect":"Deny","NotPrincipal":{{"AWS":"{ALICE}"}},"Action":"kms:*","Resource":"*"}}"#,
                    key_stmt("Allow", r#"{"AWS":"*"}"#, r#""kms:*""#, "")))),
            row("NotPrincipal Deny hits everyone else", caller(BOB, None), "kms:Decrypt", Want::Deny(DENY_RES))
                .policy(stmt_policy(&format!(r#"{},{{"Effect":"Deny","NotPrincipal":{{"AWS":"{ALICE}"}},"Action":"kms:*","Resource":"*"}}"#,
                    key_stmt("Allow", r#"{"AWS":"*"}"#, r#""kms:*""#, "")))),
            // Key policy naming principals.
            row("key policy names user directly", caller(ALICE, None), "kms:Encrypt", Want::Allow)
                .policy(stmt_policy(&key_stmt("Allow", &format!(r#"{{"AWS":["{BOB}","{ALICE}"]}}"#), r#""kms:Encrypt""#, ""))),
            row("key policy names another user", caller(BOB, None), "kms:Encrypt", Want::Deny(NO_RES))
                .policy(stmt_policy(&key_stmt("Allow", &format!(r#"{{"AWS":"{ALICE}"}}"#), r#""kms:Encrypt""#, ""))),
            row("no root statement: IAM allow is ineffective", caller(BOB, Some(&all_kms)), "kms:Encrypt", Want::Deny(NO_RES))
                .policy(stmt_policy(&key_stmt("Allow", &format!(r#"{{"AWS":"{ALICE}"}}"#), r#""kms:*""#, ""))),
            row("no root statement: root locked out", caller(ROOT, None), "kms:PutKeyPolicy", Want::Deny(NO_RES))
                .policy(stmt_policy(&key_stmt("Allow", &format!(r#"{{"AWS":"{ALICE}"}}"#), r#""kms:*""#, ""))),
            row("principal as bare account id delegates", caller(ALICE, Some(&decrypt_on_key)), "kms:Decrypt", Want::Allow)
                .policy(stmt_policy(&key_stmt("Allow", &format!(r#"{{"AWS":"{ACCT}"}}"#), r#""kms:*""#, ""))),
            row("principal as bare account id admits root", caller(ROOT, None), "kms:Decrypt", Want::Allow)
                .policy(stmt_policy(&key_stmt("Allow", &format!(r#"{{"AWS":"{ACCT}"}}"#), r#""kms:*""#, ""))),
            row("principal * admits same-account user", caller(ALICE, None), "kms:Decrypt", Want::Allow)
                .policy(stmt_policy(&key_stmt("Allow", r#""*""#, r#""kms:Decrypt""#, ""))),
            row("principal * with CallerAccount condition (other account)", caller(CAROL, Some(&all_kms)), "kms:Decrypt", Want::Deny(NO_RES))
                .policy(stmt_policy(&key_stmt("Allow", r#""*""#, r#""kms:Decrypt""#, &format!(r#"{{"StringEquals":{{"kms:CallerAccount":"{ACCT}"}}}}"#)))),
            row("aws:PrincipalArn condition", caller(ALICE, None), "kms:Decrypt", Want::Allow)
                .policy(stmt_policy(&key_stmt("Allow", r#"{"AWS":"*"}"#, r#""kms:Decrypt""#, r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/a*"}}"#))),
            row("aws:PrincipalArn condition, other user", caller(BOB, None), "kms:Decrypt", Want::Deny(NO_RES))
                .policy(stmt_policy(&key_stmt("Allow", r#"{"AWS":"*"}"#, r#""kms:Decrypt""#, r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/a*"}}"#))),
            // Cross-account.
            row("cross-account: key policy + identity", caller(CAROL, Some(&all_kms)), "kms:Decrypt", Want::Allow)
                .policy(stmt_policy(&format!("{root_stmt},{}", key_stmt("Allow", &format!(r#"{{"AWS":"{OTHER_ROOT}"}}"#), r#"["kms:Decrypt","kms:DescribeKey"]"#, "")))),
            row("cross-account: key policy without identity", caller(CAROL, None), "kms:Decrypt", Want::Deny(NO_ID))
                .policy(stmt_policy(&format!("{root_stmt},{}", key_stmt("Allow", &format!(r#"{{"AWS":"{OTHER}"}}"#), r#""kms:Decrypt""#, "")))),
            row("cross-account: user named directly still needs identity", caller(CAROL, None), "kms:Decrypt", Want::Deny(NO_ID))
                .policy(stmt_policy(&key_stmt("Allow", &format!(r#"{{"AWS":"{CAROL}"}}"#), r#""kms:Decrypt""#, ""))),
            row("cross-account: other account's root", caller(OTHER_ROOT, None), "kms:Decrypt", Want::Allow)
                .policy(stmt_policy(&format!("{root_stmt},{}", key_stmt("Allow", &format!(r#"{{"AWS":"{OTHER}"}}"#), r#""kms:Decrypt""#, "")))),
            row("cross-account: action outside key policy", caller(CAROL, Some(&all_kms)), "kms:Encrypt", Want::Deny(NO_RES))
                .policy(stmt_policy(&format!("{root_stmt},{}", key_stmt("Allow", &format!(r#"{{"AWS":"{OTHER}"}}"#), r#""kms:Decrypt""#, "")))),
            // Wildcards and NotAction.
            row("kms:Generate* covers GenerateDataKey", caller(ALICE, Some(&identity("Allow", r#""kms:Generate*""#, KEY, ""))), "kms:GenerateDataKey", Want::Allow),
            row("kms:Generate* covers WithoutPlaintext", caller(ALICE, Some(&identity("Allow", r#""kms:Generate*""#, KEY, ""))), "kms:GenerateDataKeyWithoutPlaintext", Want::Allow),
            row("kms:Generate* not Decrypt", caller(ALICE, Some(&identity("Allow", r#""kms:Generate*""#, KEY, ""))), "kms:Decrypt", Want::Deny(NO_ID)),
            row("action match is case-insensitive", caller(ALICE, Some(&identity("Allow", r#""KMS:decrypt""#, KEY, ""))), "kms:Decrypt", Want::Allow),
            row("? wildcard", caller(ALICE, Some(&identity("Allow", r#""kms:?ncrypt""#, KEY, ""))), "kms:Encrypt", Want::Allow),
            row("action * allows", caller(ALICE, Some(&identity("Allow", r#""*""#, "*", ""))), "kms:Encrypt", Want::Allow),
            row("resource wildcard in account", caller(ALICE, Some(&identity("Allow", r#""kms:*""#, "arn:aws:kms:us-east-1:111122223333:key/*", ""))), "kms:Encrypt", Want::Allow),
            row("resource wildcard other region", caller(ALICE, Some(&identity("Allow", r#""kms:*""#, "arn:aws:kms:eu-west-1:*", ""))), "kms:Encrypt", Want::Deny(NO_ID)),
            row("NotAction allows the rest", caller(ALICE, Some(&stmt_policy(r#"{"Effect":"Allow","NotAction":"kms:Decrypt","Resource":"*"}"#))), "kms:Encrypt", Want::Allow),
            row("NotAction excludes the named", caller(ALICE, Some(&stmt_policy(r#"{"Effect":"Allow","NotAction":["kms:Decrypt"],"Resource":"*"}"#))), "kms:Decrypt", Want::Deny(NO_ID)),
            row("Deny NotAction blocks management", caller(ALICE, Some(&all_kms)), "kms:ScheduleKeyDeletion", Want::Deny(DENY_RES))
                .policy(stmt_policy(&format!("{root_stmt},{}", r#"{"Effect":"Deny","Principal":"*","NotAction":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}"#))),
            row("Deny NotAction spares the listed", caller(ALICE, Some(&all_kms)), "kms:Encrypt", Want::Allow)
                .policy(stmt_policy(&format!("{root_stmt},{}", r#"{"Effect":"Deny","Principal":"*","NotAction":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}"#))),
            row("NotResource", caller(ALICE, Some(&stmt_policy(&format!(r#"{{"Effect":"Allow","Action":"kms:*","NotResource":"{KEY2}"}}"#)))), "kms:Encrypt", Want::Allow),
            // Encryption-context conditions.
            row("StringEquals context match", caller(ALICE, Some(&dept("StringEquals", r#""finance""#))), "kms:Decrypt", Want::Allow).ctx(&[("dept", "finance")]),
            row("StringEquals context mismatch", caller(ALICE, Some(&dept("StringEquals", r#""finance""#))), "kms:Decrypt", Want::Deny(NO_ID)).ctx(&[("dept", "hr")]),
            row("StringEquals value is case-sensitive", caller(ALICE, Some(&dept("StringEquals", r#""finance""#))), "kms:Decrypt", Want::Deny(NO_ID)).ctx(&[("dept", "Finance")]),
            row("StringEquals context absent", caller(ALICE, Some(&dept("StringEquals", r#""finance""#))), "kms:Decrypt", Want::Deny(NO_ID)),
            row("context key name is case-insensitive", caller(ALICE, Some(&dept("StringEquals", r#""finance""#))), "kms:Decrypt", Want::Allow).ctx(&[("Dept", "finance")]),
            row("StringEquals any of several values", caller(ALICE, Some(&dept("StringEquals", r#"["hr","finance"]"#))), "kms:Decrypt", Want::Allow).ctx(&[("dept", "finance")]),
            row("StringNotEquals absent key holds", caller(ALICE, Some(&dept("StringNotEquals", r#""finance""#))), "kms:Decrypt", Want::Allow),
            row("StringNotEquals equal value fails", caller(ALICE, Some(&dept("StringNotEquals", r#""finance""#))), "kms:Decrypt", Want::Deny(NO_ID)).ctx(&[("dept", "finance")]),
            row("StringEqualsIgnoreCase", caller(ALICE, Some(&dept("StringEqualsIgnoreCase", r#""FINANCE""#))), "kms:Decrypt", Want::Allow).ctx(&[("dept", "Finance")]),
            row("StringEqualsIfExists absent", caller(ALICE, Some(&dept("StringEqualsIfExists", r#""finance""#))), "kms:Decrypt", Want::Allow),
            row("StringLike s3 arn", caller(ALICE, Some(&identity("Allow", r#""kms:*""#, KEY, r#"{"StringLike":{"kms:EncryptionContext:aws:s3:arn":"arn:aws:s3:::bucket/*"}}"#))), "kms:GenerateDataKey", Want::Allow)
                .ctx(&[("aws:s3:arn", "arn:aws:s3:::bucket/a/b")]),
            row("StringLike s3 arn other bucket", caller(ALICE, Some(&identity("Allow", r#""kms:*""#, KEY, r#"{"StringLike":{"kms:EncryptionContext:aws:s3:arn":"arn:aws:s3:::bucket/*"}}"#))), "kms:GenerateDataKey", Want::Deny(NO_ID))
                .ctx(&[("aws:s3:arn", "arn:aws:s3:::bucket2/a")]),
            row("ForAllValues keys subset", caller(ALICE, Some(&keys_cond("ForAllValues:StringEquals", r#"["dept","project"]"#))), "kms:Decrypt", Want::Allow).ctx(&[("dept", "x")]),
            row("ForAllValues extra key", caller(ALICE, Some(&keys_cond("ForAllValues:StringEquals", r#"["dept","project"]"#))), "kms:Decrypt", Want::Deny(NO_ID)).ctx(&[("dept", "x"), ("other", "y")]),
            row("ForAllValues empty context is vacuously true", caller(ALICE, Some(&keys_cond("ForAllValues:StringEquals", r#"["dept"]"#))), "kms:Decrypt", Want::Allow),
            row("ForAnyValue one key present", caller(ALICE, Some(&keys_cond("ForAnyValue:StringEquals", r#""dept""#))), "kms:Decrypt", Want::Allow).ctx(&[("dept", "x"), ("other", "y")]),
            row("ForAnyValue empty context", caller(ALICE, Some(&keys_cond("ForAnyValue:StringEquals", r#""dept""#))), "kms:Decrypt", Want::Deny(NO_ID)),
            row("Null false requires a context", caller(ALICE, Some(&keys_cond("Null", r#""false""#))), "kms:Encrypt", Want::Deny(NO_ID)),
            row("Null false with context", caller(ALICE, Some(&keys_cond("Null", "false"))), "kms:Encrypt", Want::Allow).ctx(&[("a", "b")]),
            row("Null true without context", caller(ALICE, Some(&keys_cond("Null", r#""true""#))), "kms:Encrypt", Want::Allow),
            row("Deny when context missing (Null true)", caller(ALICE, Some(&stmt_policy(
                r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*","Condition":{"Null":{"kms:EncryptionContextKeys":"true"}}}"#))),
                "kms:Encrypt", Want::Deny(DENY_ID)),
            row("Bool GrantIsForAWSResource false on CreateGrant", caller(ALICE, Some(&identity("Allow", r#""kms:CreateGrant""#, KEY, r#"{"Bool":{"kms:GrantIsForAWSResource":"false"}}"#))), "kms:CreateGrant", Want::Allow),
            row("Bool GrantIsForAWSResource true on CreateGrant", caller(ALICE, Some(&identity("Allow", r#""kms:CreateGrant""#, KEY, r#"{"Bool":{"kms:GrantIsForAWSResource":true}}"#))), "kms:CreateGrant", Want::Deny(NO_ID)),
            row("kms:ViaService is absent on direct calls", caller(ALICE, Some(&identity("Allow", r#""kms:*""#, KEY, r#"{"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}"#))), "kms:Decrypt", Want::Deny(NO_ID)),
            // The caller's network (a direct caller's connection, or the S3 client's as a gateway forwards it).
            row("aws:SourceIp in range", at(caller(ALICE, Some(&from_net)), "::ffff:10.1.2.3", true), "kms:Decrypt", Want::Allow),
            row("aws:SourceIp out of range", at(caller(ALICE, Some(&from_net)), "192.0.2.1", true), "kms:Decrypt", Want::Deny(NO_ID)),
            row("aws:SourceIp absent when the network is unknown", caller(ALICE, Some(&from_net)), "kms:Decrypt", Want::Deny(NO_ID)),
            row("aws:SecureTransport false meets a key policy Deny", at(caller(ALICE, Some(&all_kms)), "10.1.2.3", false), "kms:Decrypt", Want::Deny(DENY_RES))
                .policy(stmt_policy(&format!("{root_stmt},{}", r#"{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#))),
            row("aws:SecureTransport true passes it", at(caller(ALICE, Some(&all_kms)), "10.1.2.3", true), "kms:Decrypt", Want::Allow)
                .policy(stmt_policy(&format!("{root_stmt},{}", r#"{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#))),
            row("condition in key policy statement", caller(ALICE, None), "kms:Decrypt", Want::Deny(NO_RES)).ctx(&[("dept", "hr")])
                .policy(stmt_policy(&key_stmt("Allow", &format!(r#"{{"AWS":"{ALICE}"}}"#), r#""kms:Decrypt""#, r#"{"StringEquals":{"kms:EncryptionContext:dept":"finance"}}"#))),
            row("two operators are ANDed", caller(ALICE, Some(&identity("Allow", r#""kms:*""#, KEY, r#"{"StringEquals":{"kms:EncryptionContext:dept":"finance"},"StringLike":{"kms:EncryptionContext:team":"a*"}}"#))), "kms:Decrypt", Want::Deny(NO_ID))
                .ctx(&[("dept", "finance"), ("team", "b")]),
            // Fail closed.
            row("unknown operator in Allow never matches", caller(ALICE, Some(&identity("Allow", r#""kms:*""#, KEY, r#"{"StringFuzzy":{"kms:EncryptionContext:dept":"x"}}"#))), "kms:Decrypt", Want::Deny(NO_ID)),
            row("unknown operator in Deny still denies", caller(ALICE, Some(&stmt_policy(
                r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"StringFuzzy":{"a:b":"x"}}}"#))),
                "kms:Decrypt", Want::Deny(DENY_ID)),
            row("malformed key policy denies root", caller(ROOT, None), "kms:Decrypt", Want::Deny(NO_RES)).policy("{not json".into()),
            row("malformed identity policy denies", caller(ALICE, Some("[1,2]")), "kms:Decrypt", Want::Deny(NO_ID)),
            row("missing key policy allows nothing", caller(ROOT, None), "kms:Decrypt", Want::Deny(NO_RES)).policy(String::new()),
            // Grants.
            row("grant allows Decrypt", caller(BOB, None), "kms:Decrypt", Want::Allow).grants(vec![grant(BOB, &["Decrypt"], None)]),
            row("grant does not allow Encrypt", caller(BOB, None), "kms:Encrypt", Want::Deny(NO_ID)).grants(vec![grant(BOB, &["Decrypt"], None)]),
            row("GenerateDataKey grant excludes WithoutPlaintext", caller(BOB, None), "kms:GenerateDataKeyWithoutPlaintext", Want::Deny(NO_ID))
                .grants(vec![grant(BOB, &["GenerateDataKey"], None)]),
            row("grant for another grantee ignored", caller(BOB, None), "kms:Decrypt", Want::Deny(NO_ID)).grants(vec![grant(ALICE, &["Decrypt"], None)]),
            row("grant on another key ignored", caller(BOB, None), "kms:Decrypt", Want::Deny(NO_ID))
                .grants(vec![Grant { key_arn: KEY2.into(), ..grant(BOB, &["Decrypt"], None) }]),
            row("grant subset met", caller(BOB, None), "kms:Decrypt", Want::Allow).ctx(&[("dept", "finance"), ("x", "y")])
                .grants(vec![grant(BOB, &["Decrypt"], subset(&[("dept", "finance")]))]),
            row("grant subset key case-insensitive", caller(BOB, None), "kms:Decrypt", Want::Allow).ctx(&[("DEPT", "finance")])
                .grants(vec![grant(BOB, &["Decrypt"], subset(&[("dept", "finance")]))]),
            row("grant subset value case-sensitive", caller(BOB, None), "kms:Decrypt", Want::Deny(NO_ID)).ctx(&[("dept", "Finance")])
                .grants(vec![grant(BOB, &["Decrypt"], subset(&[("dept", "finance")]))]),
            row("grant subset missing pair", caller(BOB, None), "kms:Decrypt", Want::Deny(NO_ID)).ctx(&[("x", "y")])
                .grants(vec![grant(BOB, &["Decrypt"], subset(&[("dept", "finance")]))]),
            row("grant equals met", caller(BOB, None), "kms:Encrypt", Want::Allow).ctx(&[("dept", "finance")])
                .grants(vec![grant(BOB, &["Encrypt"], equals(&[("dept", "finance")]))]),
            row("grant equals extra pair", caller(BOB, None), "kms:Encrypt", Want::Deny(NO_ID)).ctx(&[("dept", "finance"), ("x", "y")])
                .grants(vec![grant(BOB, &["Encrypt"], equals(&[("dept", "finance")]))]),
            row("grant equals empty context", caller(BOB, None), "kms:Encrypt", Want::Deny(NO_ID))
                .grants(vec![grant(BOB, &["Encrypt"], equals(&[("dept", "finance")]))]),
            row("grant constraints ignored for DescribeKey", caller(BOB, None), "kms:DescribeKey", Want::Allow)
                .grants(vec![grant(BOB, &["DescribeKey", "Decrypt"], equals(&[("dept", "finance")]))]),
            row("second grant matches", caller(BOB, None), "kms:Decrypt", Want::Allow).ctx(&[("dept", "hr")])
                .grants(vec![grant(BOB, &["Decrypt"], subset(&[("dept", "finance")])), grant(BOB, &["Decrypt"], subset(&[("dept", "hr")]))]),
            row("cross-account grantee", caller(CAROL, None), "kms:Decrypt", Want::Allow).grants(vec![grant(CAROL, &["Decrypt"], None)]),
            row("identity Deny beats grant", caller(BOB, Some(&identity("Deny", r#""kms:*""#, "*", ""))), "kms:Decrypt", Want::Deny(DENY_ID))
                .grants(vec![grant(BOB, &["Decrypt"], None)]),
            // Account-level actions.
            row("CreateKey as root", caller(ROOT, None), "kms:CreateKey", Want::Allow).no_key(),
            row("CreateKey without identity policy", caller(ALICE, None), "kms:CreateKey", Want::Deny("on resource: * because no identity-based policy allows the kms:CreateKey action")).no_key(),
            row("CreateKey with identity policy", caller(ALICE, Some(&identity("Allow", r#"["kms:CreateKey","kms:ListKeys"]"#, "*", ""))), "kms:CreateKey", Want::Allow).no_key(),
            row("key-scoped identity does not cover ListKeys", caller(ALICE, Some(&identity("Allow", r#""kms:*""#, "arn:aws:kms:*:111122223333:key/*", ""))), "kms:ListKeys", Want::Deny(NO_ID)).no_key(),
            row("identity Deny on GenerateRandom", caller(ALICE, Some(&stmt_policy(
                r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:GenerateRandom","Resource":"*"}"#))),
                "kms:GenerateRandom", Want::Deny(DENY_ID)).no_key(),
        ]
    }

    #[test]
    fn authorization_table() {
        let rows = rows();
        assert!(rows.len() > 90, "table shrank: {}", rows.len());
        let mut failures = Vec::new();
        for r in rows {
            let policy = r.key_policy.as_deref().filter(|p| !p.is_empty());
            let req = AuthzRequest {
                caller: &r.caller,
                action: r.action,
                key_arn: r.key,
                key_policy: policy,
                grants: &r.grants,
                encryption_context: &r.context,
                grant_tokens: &[],
                via_service: None,
            };
            let got = authorize(&req);
            let ok = match (&r.want, &got) {
                (Want::Allow, Decision::Allow) => true,
                (Want::Deny(text), Decision::Deny(msg)) => msg.contains(text),
                _ => false,
            };
            if !ok {
                failures.push(format!("{}: got {got:?}", r.name));
            }
        }
        assert!(
            failures.is_empty(),
            "{} rows failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn deny_messages_match_aws_wording() {
        let alice = caller(ALICE, None);
        let empty = BTreeMap::new();
        let req = AuthzRequest {
            caller: &alice,
            action: "kms:Decrypt",
            key_arn: Some(KEY),
            key_policy: Some(
                r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*"}}"#,
            ),
            grants: &[],
            encryption_context: &empty,
            grant_tokens: &[],
            via_service: None,
        };
        assert_eq!(
            authorize(&req),
            Decision::Deny(format!(
                "User: {ALICE} is not authorized to perform: kms:Decrypt on resource: {KEY} because no resource-based policy allows the kms:Decrypt action"
            ))
        );
        let default = default_key_policy(ACCT);
        let req = AuthzRequest {
            key_policy: Some(&default),
            ..req
        };
        assert_eq!(
            authorize(&req),
            Decision::Deny(format!(
                "User: {ALICE} is not authorized to perform: kms:Decrypt on resource: {KEY} because no identity-based policy allows the kms:Decrypt action"
            ))
        );
    }

    #[test]
    fn grant_tokens_are_accepted() {
        let bob = caller(BOB, None);
        let grants = [grant(BOB, &["Encrypt"], None)];
        let empty = BTreeMap::new();
        let tokens = ["AQpAM2RhZ...token".to_string()];
        let req = AuthzRequest {
            caller: &bob,
            action: "kms:Encrypt",
            key_arn: Some(KEY),
            key_policy: None,
            grants: &grants,
            encryption_context: &empty,
            grant_tokens: &tokens,
            via_service: None,
        };
        assert_eq!(authorize(&req), Decision::Allow);
    }

    #[test]
    fn default_key_policy_is_aws_text() {
        assert_eq!(
            default_key_policy(ACCT),
            r#"{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#
        );
        let parsed: Value = serde_json::from_str(&default_key_policy(ACCT)).unwrap();
        assert_eq!(parsed["Statement"][0]["Sid"], "Enable IAM User Permissions");
    }

    #[test]
    fn validate_policy_table() {
        // AWS's pretty-printed form of the default policy, as GetKeyPolicy returns it.
        let aws_pretty = "{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::111122223333:root\"\n    },\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  } ]\n}";
        let s3_style = r#"{"Version":"2012-10-17","Statement":[{"Sid":"s3","Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333","kms:ViaService":"s3.us-east-1.amazonaws.com"},"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["aws:s3:arn"]},"Null":{"kms:EncryptionContextKeys":false},"NumericLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":10}}},{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333","arn:aws:iam::111122223333:user/admin"]},"Action":"kms:PutKeyPolicy","Resource":"*"},{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"kms:Decrypt","Resource":"*"}]}"#;
        let ok: &[(&str, &str)] = &[
            ("default policy", &default_key_policy(ACCT)),
            ("AWS pretty default policy", aws_pretty),
            ("S3-style policy", s3_style),
            (
                "single statement object",
                r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
            ),
        ];
        for (name, doc) in ok {
            assert_eq!(validate_policy(doc), Ok(()), "{name}");
        }
        let bad: &[(&str, &str, &str)] = &[
            ("malformed JSON", r#"{"Statement":["#, "not a valid JSON"),
            ("not an object", "[]", "Statement"),
            ("no Statement", r#"{"Version":"2012-10-17"}"#, "Statement"),
            (
                "missing Effect",
                r#"{"Statement":[{"Principal":"*","Action":"kms:*","Resource":"*"}]}"#,
                "Effect",
            ),
            (
                "lower-case Effect",
                r#"{"Statement":[{"Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*"}]}"#,
                "Effect",
            ),
            (
                "unknown operator",
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringFuzzy":{"kms:CallerAccount":"1"}}}]}"#,
                "StringFuzzy",
            ),
            (
                "Null with IfExists",
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NullIfExists":{"kms:CallerAccount":"true"}}}]}"#,
                "NullIfExists",
            ),
            (
                "Bool with non-boolean",
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"yes"}}}]}"#,
                "invalid value",
            ),
            (
                "missing principal",
                r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
                "no principal",
            ),
            (
                "invalid principal",
                r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"kms:*","Resource":"*"}]}"#,
                "invalid principals",
            ),
            (
                "wildcard principal ARN",
                r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"kms:*","Resource":"*"}]}"#,
                "invalid principals",
            ),
            (
                "Action and NotAction",
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","NotAction":"kms:Decrypt","Resource":"*"}]}"#,
                "Action, NotAction",
            ),
            (
                "no Action",
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Resource":"*"}]}"#,
                "Action, NotAction",
            ),
            (
                "no Resource",
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*"}]}"#,
                "Resource, NotResource",
            ),
            (
                "empty Action list",
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"}]}"#,
                "Action",
            ),
            (
                "bad Action",
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"Decrypt","Resource":"*"}]}"#,
                "Action",
            ),
            (
                "unknown element",
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Extra":1}]}"#,
                "Extra",
            ),
            (
                "bad Version",
                r#"{"Version":"2020-01-01","Statement":[]}"#,
                "Version",
            ),
        ];
        for (name, doc, text) in bad {
            match validate_policy(doc) {
                Err(msg) => assert!(msg.contains(text), "{name}: {msg}"),
                Ok(()) => panic!("{name}: accepted"),
            }
        }
    }

    #[test]
    fn grant_operations() {
        for op in [
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ] {
            assert!(grant_allows_operation(op), "{op}");
        }
        for op in [
            "decrypt",
            "kms:Decrypt",
            "ReEncrypt",
            "ScheduleKeyDeletion",
            "PutKeyPolicy",
            "RevokeGrant",
            "ListGrants",
            "",
        ] {
            assert!(!grant_allows_operation(op), "{op}");
        }
    }

    #[test]
    fn retiring_grants() {
        let mut g = grant(BOB, &["Decrypt"], None);
        g.retiring_principal = Some(ALICE.into());
        assert!(can_retire_grant(&caller(ALICE, None), &g));
        assert!(can_retire_grant(&caller(ROOT, None), &g));
        assert!(!can_retire_grant(&caller(BOB, None), &g));
        assert!(!can_retire_grant(&caller(OTHER_ROOT, None), &g));
        g.operations.push("RetireGrant".into());
        assert!(can_retire_grant(&caller(BOB, None), &g));
    }
}
