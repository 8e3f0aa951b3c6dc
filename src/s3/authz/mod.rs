//! S3 authorization: who may do what to which bucket and object, decided as AWS decides it
//! (docs/ACCESS.md). `s3::handle` calls [`authorize_endpoint`] once per request, after
//! authentication and before the handler; handlers whose decision needs what only they know
//! (DeleteObjects per key, a browser POST upload authenticated in its form) call [`check`].
//!
//! - `actions`: every router endpoint → IAM actions and resource ARNs;
//! - `context`: the condition keys of a request;
//! - `decide`: the evaluation (explicit deny, same vs cross account, anonymous);
//! - `acl`: which ACL grant covers which action, for the evaluation;
//! - `bucket_policy`: validation and public status of bucket policies;
//! - `owner`: bucket owner accounts and canonical ids.
//!
//! A handler that authenticates on its own (a browser POST upload, whose policy and signature
//! are form fields) builds the session once it knows the user and asks for its check:
//!
//! ```text
//! let session = authz::Session::new(Some(user), AuthKind::Post { v4 }, &headers, secure, tls_version, peer_ip);
//! authz::check(&gw, &session, &Check::object("s3:PutObject", bucket, key)).await?;
//! ```

mod acl;
mod action_names;
mod actions;
pub(crate) mod bucket_policy;
mod context;
mod decide;
pub(crate) mod owner;

use std::net::IpAddr;
use std::time::SystemTime;

use http::HeaderMap;

use crate::gateway::Gateway;
use crate::identity::User;
use crate::meta::{Acl, BucketRecord, Version};
use crate::policy::{ConditionKeys, Policy, PolicyKind};
use crate::s3::error::S3Error;
use crate::s3::router::Endpoint;

use acl::{AclVerdict, Scope};
pub(crate) use actions::{Check, Target};
pub(crate) use context::AuthKind;
use decide::{Decision, Question, decide};

/// An authenticated (or anonymous) caller with the request-wide condition keys.
pub(crate) struct Session {
    /// `None`: anonymous.
    user: Option<User>,
    /// The caller's identity policy, parsed once.
    identity_policy: Option<Policy>,
    keys: ConditionKeys,
    /// The client's address and transport, forwarded to the KMS with the caller.
    network: crate::kms::Network,
}

impl Session {
    /// `secure`: the request came over TLS (directly or through a trusted proxy);
    /// `tls_version`: the version negotiated on this connection (`"1.2"`, `"1.3"`), unknown
    /// behind a proxy.
    pub(crate) fn new(
        user: Option<User>,
        auth: AuthKind,
        headers: &HeaderMap,
        secure: bool,
        tls_version: Option<&str>,
        source_ip: IpAddr,
    ) -> Session {
        let keys = context::request_keys(&context::RequestFacts {
            user: user.as_ref(),
            auth,
            headers,
            secure,
            tls_version,
            source_ip,
            now: SystemTime::now(),
        });
        // A root user's rights come from being the account; IAM users from their policy. A
        // policy the config loader let through but the engine cannot read grants nothing.
        let identity_policy = user
            .as_ref()
            .filter(|u| !u.arn.ends_with(":root"))
            .and_then(|u| u.policy.as_deref())
            .and_then(|doc| match Policy::parse(doc, PolicyKind::Identity) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(error = %e, "identity policy unreadable; it grants nothing");
                    None
                }
            });
        Session {
            user,
            identity_policy,
            keys,
            network: crate::kms::Network::new(source_ip, secure),
        }
    }

    /// `aws:SourceIp` and `aws:SecureTransport` of the request, for the KMS.
    pub(crate) fn network(&self) -> crate::kms::Network {
        self.network
    }

    /// The caller's account (`None` for anonymous).
    pub(crate) fn account(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.account.as_str())
    }

    fn principal_arn(&self) -> &str {
        self.user.as_ref().map_or("anonymous", |u| u.arn.as_str())
    }
}

/// Authorizes `ep` for the session: every check of it must allow. Checks on a bucket that does
/// not exist are skipped (the handler answers NoSuchBucket, as AWS does whoever asks);
/// CreateBucket is decided on the caller's own account.
pub(crate) async fn authorize_endpoint(
    gw: &Gateway,
    session: &Session,
    ep: &Endpoint,
) -> Result<(), S3Error> {
    let checks = actions::checks(ep);
    if checks.is_empty() {
        return Ok(());
    }
    let mut keys = session.keys.clone();
    context::add_endpoint_keys(&mut keys, ep);
    for c in &checks {
        check_with(gw, session, c, &keys, true, false).await?;
    }
    Ok(())
}

/// One check made by a handler (DeleteObjects per key, POST uploads): `Err(AccessDenied)` when
/// denied, counted and logged like the central checks.
pub(crate) async fn check(gw: &Gateway, session: &Session, c: &Check) -> Result<(), S3Error> {
    check_with(gw, session, c, &session.keys, true, false).await
}

/// Whether `c` is allowed, without recording a denial: for answers that only leave out what the
/// caller may not see (the Object Lock headers of GetObject/HeadObject).
pub(crate) async fn allowed(gw: &Gateway, session: &Session, c: &Check) -> bool {
    check_with(gw, session, c, &session.keys, false, false)
        .await
        .is_ok()
}

/// A check CreateBucket makes for the bucket it is about to create (the actions AWS asks
/// besides `s3:CreateBucket`, e.g. for Object Lock): decided as `s3:CreateBucket` is, on the
/// caller's own account, since the bucket has no record (and no policy) yet.
pub(crate) async fn check_new_bucket(
    gw: &Gateway,
    session: &Session,
    c: &Check,
) -> Result<(), S3Error> {
    check_with(gw, session, c, &session.keys, true, true).await
}

/// Whether a missing key may be reported as missing: AWS answers 404 NoSuchKey only to a
/// caller allowed `s3:ListBucket` on the bucket, and 403 AccessDenied to anyone else.
pub(crate) async fn may_know_missing(gw: &Gateway, session: &Session, bucket: &str) -> bool {
    let c = Check {
        action: "s3:ListBucket",
        target: Target::Bucket(bucket.to_owned()),
    };
    check_with(gw, session, &c, &session.keys, false, false)
        .await
        .is_ok()
}

async fn check_with(
    gw: &Gateway,
    session: &Session,
    c: &Check,
    keys: &ConditionKeys,
    record_denial: bool,
    new_bucket: bool,
) -> Result<(), S3Error> {
    let caller_account = session.account().unwrap_or("");
    let record = match c.target.bucket() {
        // The bucket to create would be the caller's: decided on its own account, whoever
        // holds the name now (the handler answers BucketAlreadyExists for another account's).
        _ if new_bucket || c.action == "s3:CreateBucket" => None,
        None => None,
        Some(b) => match gw.store.get_bucket(b).await? {
            Some(rec) => Some(rec),
            None => return Ok(()),
        },
    };
    let (owner_account, bucket_policy) = match &record {
        Some(rec) => (
            owner::bucket_account(rec, &gw.cfg.account_id),
            stored_policy(rec),
        ),
        None => (caller_account, None),
    };
    let restrict_public = record
        .as_ref()
        .and_then(|r| r.public_access_block)
        .is_some_and(|b| b.restrict_public_buckets)
        && bucket_policy.as_ref().is_some_and(bucket_policy::is_public);
    let resource = c.target.arn();
    let mut question = Question {
        user: session.user.as_ref(),
        identity_policy: session.identity_policy.as_ref(),
        owner_account,
        bucket_policy: bucket_policy.as_ref(),
        restrict_public,
        acl: AclVerdict::default(),
        action: c.action,
        resource: &resource,
        keys,
    };
    let mut decision = decide(&question);
    // ACL grants can only turn an implicit deny into an allow, so the ACL (for an object, its
    // record) is read only when nothing else allowed.
    if decision == Decision::ImplicitDeny
        && let Some(rec) = &record
    {
        question.acl = acl_verdict(gw, session, c, rec, owner_account).await;
        if question.acl != AclVerdict::default() {
            decision = decide(&question);
        }
    }
    if decision == Decision::Allow {
        // AWS: the bucket policy is managed from the owner's account only; an identity of
        // another account, even one a policy allows, gets 405 (S3 API Reference:
        // PutBucketPolicy).
        if decide::POLICY_ACTIONS.contains(&c.action) && session.account() != Some(owner_account) {
            return Err(S3Error::MethodNotAllowed {
                method: match c.action {
                    "s3:GetBucketPolicy" => "GET",
                    "s3:PutBucketPolicy" => "PUT",
                    _ => "DELETE",
                }
                .into(),
                resource_type: "BUCKET",
            });
        }
        return Ok(());
    }
    if record_denial {
        gw.metrics.s3_access_denied.with([c.action]).inc();
        tracing::info!(
            principal = session.principal_arn(),
            action = c.action,
            resource,
            explicit = decision == Decision::ExplicitDeny,
            "access denied"
        );
    }
    Err(S3Error::AccessDenied("Access Denied".into()))
}

/// What the ACL `c` is judged by grants the caller, where the bucket's ACLs are enabled.
/// An object's ACL counts only from an authenticated record (docs/FORMAT.md §6.1): a record
/// that fails its check grants nothing.
async fn acl_verdict(
    gw: &Gateway,
    session: &Session,
    c: &Check,
    rec: &BucketRecord,
    owner_account: &str,
) -> AclVerdict {
    let Some(scope) = acl::scope(c.action).filter(|_| crate::s3::acl::acls_enabled(rec)) else {
        return AclVerdict::default();
    };
    let ignore_public = rec
        .public_access_block
        .is_some_and(|b| b.ignore_public_acls);
    let judge = |a: &Acl, need| acl::evaluate(a, need, session.account(), ignore_public);
    match (scope, &c.target) {
        (Scope::Bucket(need), _) => match &rec.acl {
            Some(a) => judge(a, need),
            None => judge(&crate::s3::acl::owner_only(owner_account), need),
        },
        (
            Scope::Object(need),
            Target::Object {
                bucket,
                key,
                version_id,
            },
        ) => {
            // The ACL of the version the request names: each version has its own.
            let found = match version_id {
                None => gw.store.get_current(bucket, key).await,
                Some(v) => gw.store.get_version(bucket, key, v).await,
            };
            let meta = match found {
                Ok(Some(Version::Object(m))) => *m,
                _ => return AclVerdict::default(),
            };
            if let Err(e) = gw.crypto.check_record(&meta, bucket, key).await {
                tracing::warn!(bucket, key, error = %e, "object record failed its check; its ACL grants nothing");
                return AclVerdict::default();
            }
            match &meta.acl {
                Some(a) => judge(a, need),
                None => judge(&crate::s3::acl::owner_only(owner_account), need),
            }
        }
        (Scope::Object(_), _) => AclVerdict::default(),
    }
}

/// The bucket's policy as the engine reads it. PutBucketPolicy validated it; one that no longer
/// parses (a later, stricter engine) grants nothing and denies nothing, and is logged.
fn stored_policy(rec: &BucketRecord) -> Option<Policy> {
    let doc = rec.policy.as_deref()?;
    match Policy::parse(doc, PolicyKind::Resource) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(bucket = rec.name, error = %e, "stored bucket policy unreadable; ignored");
            None
        }
    }
}
