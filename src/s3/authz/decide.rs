//! AWS's evaluation for S3 (S3 User Guide: "How Amazon S3 authorizes a request"; IAM User Guide:
//! "Policy evaluation logic", "Cross-account policy evaluation logic"):
//!
//! 1. A matching `Deny` in the identity policy or the bucket policy denies — except that the
//!    bucket owner's root user may always Get/Put/DeleteBucketPolicy, so a bad policy can be
//!    removed.
//! 2. Anonymous callers are allowed only by a bucket policy statement naming everyone or an
//!    AllUsers ACL grant.
//! 3. Same account (caller's account owns the bucket, or no bucket is involved): the account's
//!    root is allowed; an IAM user is allowed by its identity policy OR by a bucket policy
//!    naming the user OR by an ACL grant to a group it is in.
//! 4. Cross account: both sides — the caller's account (root: always; IAM user: its identity
//!    policy) AND the resource side: the bucket policy naming the caller or its account, or an
//!    ACL grant to its account or a group it is in.
//!
//! ACL grants (`acl.rs`) only ever add an Allow, and only where ACLs are enabled; the caller
//! of this module passes what they grant as an [`AclVerdict`].
//! 5. Anything else: implicit deny.
//!
//! Block Public Access's RestrictPublicBuckets (S3 User Guide: "Blocking public access to
//! your Amazon S3 storage"): while the bucket policy is public, its `Allow`s count only for
//! principals of the owner's account; anonymous and cross-account callers get nothing from it.

use super::acl::AclVerdict;
use crate::identity::User;
use crate::policy::{ConditionKeys, Policy, Principal, Request, Verdict};

/// What is being decided.
pub(crate) struct Question<'a> {
    /// `None`: anonymous.
    pub(crate) user: Option<&'a User>,
    /// The caller's identity policy, parsed (IAM users only).
    pub(crate) identity_policy: Option<&'a Policy>,
    /// The account owning the resource (the caller's own for actions on no bucket and for
    /// CreateBucket).
    pub(crate) owner_account: &'a str,
    pub(crate) bucket_policy: Option<&'a Policy>,
    /// RestrictPublicBuckets is on and the bucket policy is public: the policy then grants
    /// nothing to anonymous callers or other accounts (its denials still apply).
    pub(crate) restrict_public: bool,
    /// What the ACL the action is judged by grants the caller (nothing where ACLs are
    /// disabled or have no say in the action).
    pub(crate) acl: AclVerdict,
    pub(crate) action: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) keys: &'a ConditionKeys,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow,
    /// A `Deny` statement matched.
    ExplicitDeny,
    /// Nothing allowed it.
    ImplicitDeny,
}

/// Actions the bucket owner's root can always perform on the bucket policy.
pub(crate) const POLICY_ACTIONS: &[&str] = &[
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
];

pub(crate) fn decide(q: &Question) -> Decision {
    let (arn, account) = match q.user {
        Some(u) => (u.arn.as_str(), u.account.as_str()),
        // Matches only statements naming everyone: no ARN or account equals these.
        None => ("", ""),
    };
    let req = Request {
        principal: Principal { arn, account },
        action: q.action,
        resource: q.resource,
        conditions: q.keys,
    };
    let is_root = q.user.is_some() && arn.ends_with(":root");
    let same_account = q.user.is_some() && account == q.owner_account;
    if same_account && is_root && POLICY_ACTIONS.contains(&q.action) {
        return Decision::Allow;
    }
    let identity = match (q.user, q.identity_policy) {
        (Some(_), Some(p)) if !is_root => p.evaluate(&req),
        _ => Verdict::default(),
    };
    let mut bucket = q
        .bucket_policy
        .map(|p| p.evaluate(&req))
        .unwrap_or_default();
    if q.restrict_public && !same_account {
        bucket.direct = false;
        bucket.account = false;
    }
    if identity.deny || bucket.deny {
        return Decision::ExplicitDeny;
    }
    let allowed = if q.user.is_none() {
        bucket.allows() || q.acl.direct
    } else if same_account {
        is_root || identity.allows() || bucket.allows() || q.acl.direct
    } else {
        let caller_side = is_root || identity.allows();
        let owner_side = bucket.allows() || bucket.account || q.acl.direct || q.acl.account;
        caller_side && owner_side
    };
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyKind;
    use zeroize::Zeroizing;

    const A: &str = "111111111111";
    const B: &str = "222222222222";

    fn user(account: &str, name: Option<&str>) -> User {
        User {
            name: name.unwrap_or("root").into(),
            access_key: String::new(),
            secret_key: Zeroizing::new(String::new()),
            arn: match name {
                Some(n) => format!("arn:aws:iam::{account}:user/{n}"),
                None => format!("arn:aws:iam::{account}:root"),
            },
            account: account.into(),
            policy: None,
        }
    }

    fn bucket_policy(principal: &str, effect: &str, action: &str) -> Policy {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Principal":{principal},"Action":"{action}","Resource":"arn:aws:s3:::b/*"}}]}}"#
        );
        Policy::parse(&doc, PolicyKind::Resource).unwrap()
    }

    fn identity(action: &str) -> Policy {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
        );
        Policy::parse(&doc, PolicyKind::Identity).unwrap()
    }

    fn ask(
        user: Option<&User>,
        idp: Option<&Policy>,
        bp: Option<&Policy>,
        action: &str,
    ) -> Decision {
        decide(&Question {
            user,
            identity_policy: idp,
            owner_account: A,
            bucket_policy: bp,
            restrict_public: false,
            acl: AclVerdict::default(),
            action,
            resource: "arn:aws:s3:::b/k",
            keys: &ConditionKeys::default(),
        })
    }

    /// `(case, caller, identity policy, bucket policy, action, expected)`.
    type Row<'a> = (
        &'a str,
        Option<&'a User>,
        Option<&'a Policy>,
        Option<&'a Policy>,
        &'a str,
        Decision,
    );

    #[test]
    fn matrix() {
        use Decision::*;
        let root_a = user(A, None);
        let alice = user(A, Some("alice"));
        let root_b = user(B, None);
        let bob = user(B, Some("bob"));
        let get_all = identity("s3:GetObject");
        let to_b = bucket_policy(&format!(r#"{{"AWS":"{B}"}}"#), "Allow", "s3:GetObject");
        let to_bob = bucket_policy(
            &format!(r#"{{"AWS":"arn:aws:iam::{B}:user/bob"}}"#),
            "Allow",
            "s3:GetObject",
        );
        let to_alice = bucket_policy(
            &format!(r#"{{"AWS":"arn:aws:iam::{A}:user/alice"}}"#),
            "Allow",
            "s3:GetObject",
        );
        let public = bucket_policy(r#""*""#, "Allow", "s3:GetObject");
        let deny_all = bucket_policy(r#""*""#, "Deny", "s3:*");
        let g = "s3:GetObject";
        let rows: &[Row] = &[
            ("owner root", Some(&root_a), None, None, g, Allow),
            (
                "owner root, deny policy",
                Some(&root_a),
                None,
                Some(&deny_all),
                g,
                ExplicitDeny,
            ),
            (
                "owner root may fix the policy",
                Some(&root_a),
                None,
                Some(&deny_all),
                "s3:DeleteBucketPolicy",
                Allow,
            ),
            (
                "same-account user, no policy",
                Some(&alice),
                None,
                None,
                g,
                ImplicitDeny,
            ),
            (
                "same-account user, identity allows",
                Some(&alice),
                Some(&get_all),
                None,
                g,
                Allow,
            ),
            (
                "same-account user, other action",
                Some(&alice),
                Some(&get_all),
                None,
                "s3:PutObject",
                ImplicitDeny,
            ),
            (
                "same-account user named by bucket policy",
                Some(&alice),
                None,
                Some(&to_alice),
                g,
                Allow,
            ),
            (
                "same-account user cannot fix the policy",
                Some(&alice),
                Some(&identity("s3:*")),
                Some(&deny_all),
                "s3:DeleteBucketPolicy",
                ExplicitDeny,
            ),
            (
                "other root, no bucket policy",
                Some(&root_b),
                None,
                None,
                g,
                ImplicitDeny,
            ),
            (
                "other root, account granted",
                Some(&root_b),
                None,
                Some(&to_b),
                g,
                Allow,
            ),
            (
                "other user, account granted, no identity",
                Some(&bob),
                None,
                Some(&to_b),
                g,
                ImplicitDeny,
            ),
            (
                "other user, account granted and identity",
                Some(&bob),
                Some(&get_all),
                Some(&to_b),
                g,
                Allow,
            ),
            (
                "other user named, no identity",
                Some(&bob),
                None,
                Some(&to_bob),
                g,
                ImplicitDeny,
            ),
            (
                "other user named and identity",
                Some(&bob),
                Some(&get_all),
                Some(&to_bob),
                g,
                Allow,
            ),
            (
                "other user, identity only",
                Some(&bob),
                Some(&get_all),
                None,
                g,
                ImplicitDeny,
            ),
            ("anonymous, nothing", None, None, None, g, ImplicitDeny),
            ("anonymous, public", None, None, Some(&public), g, Allow),
            (
                "anonymous, account grant is not public",
                None,
                None,
                Some(&to_b),
                g,
                ImplicitDeny,
            ),
            (
                "other root, public",
                Some(&root_b),
                None,
                Some(&public),
                g,
                Allow,
            ),
        ];
        for (name, u, idp, bp, action, want) in rows {
            assert_eq!(ask(*u, *idp, *bp, action), *want, "{name}");
        }
    }

    /// RestrictPublicBuckets: the public policy's grants stay for the owner's account only.
    #[test]
    fn restricted_public_policy() {
        let alice = user(A, Some("alice"));
        let bob = user(B, Some("bob"));
        let root_b = user(B, None);
        let public = bucket_policy(r#""*""#, "Allow", "s3:GetObject");
        let deny_all = bucket_policy(r#""*""#, "Deny", "s3:*");
        let ask_r = |u: Option<&User>, idp: Option<&Policy>, bp: &Policy| {
            decide(&Question {
                user: u,
                identity_policy: idp,
                owner_account: A,
                bucket_policy: Some(bp),
                restrict_public: true,
                acl: AclVerdict::default(),
                action: "s3:GetObject",
                resource: "arn:aws:s3:::b/k",
                keys: &ConditionKeys::default(),
            })
        };
        let get_all = identity("s3:GetObject");
        assert_eq!(ask_r(None, None, &public), Decision::ImplicitDeny);
        assert_eq!(ask_r(Some(&root_b), None, &public), Decision::ImplicitDeny);
        assert_eq!(
            ask_r(Some(&bob), Some(&get_all), &public),
            Decision::ImplicitDeny
        );
        assert_eq!(ask_r(Some(&alice), None, &public), Decision::Allow);
        assert_eq!(ask_r(Some(&alice), None, &deny_all), Decision::ExplicitDeny);
        // Unrestricted, the same policy lets everyone read.
        assert_eq!(
            ask(None, None, Some(&public), "s3:GetObject"),
            Decision::Allow
        );
    }
    /// ACL grants add an Allow on the resource side, never past a Deny.
    #[test]
    fn acl_grants() {
        let alice = user(A, Some("alice"));
        let root_b = user(B, None);
        let bob = user(B, Some("bob"));
        let get_all = identity("s3:GetObject");
        let deny_all = bucket_policy(r#""*""#, "Deny", "s3:*");
        let direct = AclVerdict {
            direct: true,
            account: false,
        };
        let account = AclVerdict {
            direct: false,
            account: true,
        };
        let ask_acl = |u: Option<&User>, idp: Option<&Policy>, bp: Option<&Policy>, acl| {
            decide(&Question {
                user: u,
                identity_policy: idp,
                owner_account: A,
                bucket_policy: bp,
                restrict_public: false,
                acl,
                action: "s3:GetObject",
                resource: "arn:aws:s3:::b/k",
                keys: &ConditionKeys::default(),
            })
        };
        use Decision::*;
        assert_eq!(ask_acl(None, None, None, direct), Allow);
        assert_eq!(ask_acl(None, None, None, account), ImplicitDeny);
        assert_eq!(ask_acl(Some(&alice), None, None, direct), Allow);
        assert_eq!(ask_acl(Some(&alice), None, None, account), ImplicitDeny);
        assert_eq!(ask_acl(Some(&root_b), None, None, account), Allow);
        assert_eq!(ask_acl(Some(&bob), None, None, account), ImplicitDeny);
        assert_eq!(ask_acl(Some(&bob), Some(&get_all), None, account), Allow);
        assert_eq!(ask_acl(None, None, Some(&deny_all), direct), ExplicitDeny);
    }
}
