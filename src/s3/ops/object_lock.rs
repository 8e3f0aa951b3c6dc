//! Get/PutObjectLockConfiguration, Get/PutObjectRetention, Get/PutObjectLegalHold, the Object
//! Lock headers of GetObject/HeadObject, and the guard every removal of a version passes. The
//! rules themselves are `s3::object_lock`'s.

use http::{Response, StatusCode};

use super::common;
use super::tagging::amend_object_record;
use super::versioning::load_object;
use crate::meta::{BucketRecord, LockMode, ObjectLock, ObjectMeta, Retention, Version};
use crate::s3::Req;
use crate::s3::authz::Check;
use crate::s3::error::S3Error;
use crate::s3::object_lock::{
    self as lock, Protection, future_date, only_strengthens, parse_mode, protected, require_enabled,
};
use crate::s3::xml;
use crate::server::Body;
use crate::sse::{Actor, RecordEdit};

/// Largest Object Lock body accepted.
const MAX_LOCK_BODY: u64 = 16 * 1024;
/// The request header asking to override a GOVERNANCE retention.
const BYPASS_HEADER: &str = "x-amz-bypass-governance-retention";

/// Whether the request asks to bypass GOVERNANCE retention.
fn bypass_asked(req: &Req) -> bool {
    req.header(BYPASS_HEADER)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// A GOVERNANCE retention may be overridden when the request asks for it and the caller is
/// allowed `s3:BypassGovernanceRetention` on the version (AccessDenied otherwise, as AWS).
async fn governance_bypass(
    req: &Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<(), S3Error> {
    if !bypass_asked(req) {
        return Err(protected());
    }
    let check = Check::object_version(
        "s3:BypassGovernanceRetention",
        bucket,
        key,
        &version_id.map(str::to_owned),
    );
    req.authorize(&check).await.map_err(|_| protected())
}

/// Refuses the removal of version `version_id` of `rec/key` while its lock protects it
/// (DeleteObject and DeleteObjects with a version id). A version that does not exist passes:
/// the removal then removes nothing.
pub(crate) async fn guard_removal(
    req: &Req,
    rec: &BucketRecord,
    key: &str,
    version_id: &str,
) -> Result<(), S3Error> {
    let Some(Version::Object(meta)) = req.gw.store.get_version(&rec.name, key, version_id).await?
    else {
        return Ok(());
    };
    match lock::protection(&req.gw.crypto, rec, key, &meta, common::now_ms()).await? {
        Protection::None => Ok(()),
        Protection::Governance => governance_bypass(req, &rec.name, key, Some(version_id)).await,
        Protection::Locked => Err(protected()),
    }
}

/// After a write of `meta` (a new version, or a retention or legal hold set on one): its KMS
/// key is marked when the lock holds it (`sse::Crypto::note_object_lock`).
pub(crate) async fn note_kms_key(req: &Req, bucket: &str, key: &str, meta: &ObjectMeta) {
    let actor = Actor {
        caller: &req.caller(),
    };
    req.gw
        .crypto
        .note_object_lock(meta, bucket, key, &actor)
        .await;
}

/// The `x-amz-object-lock-*` headers of a GetObject/HeadObject response: the retention to a
/// caller allowed `s3:GetObjectRetention`, the legal hold to one allowed
/// `s3:GetObjectLegalHold` (S3 API Reference: GetObject), nothing to anyone else.
pub(crate) async fn response_headers(
    req: &Req,
    bucket: &str,
    key: &str,
    meta: &ObjectMeta,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if meta.lock.is_empty() {
        return out;
    }
    let check = |action| Check::object_version(action, bucket, key, &meta.version_id);
    if let Some(r) = meta.lock.retention
        && req.allowed(&check("s3:GetObjectRetention")).await
    {
        out.push(("x-amz-object-lock-mode", r.mode.name().to_owned()));
        out.push((
            "x-amz-object-lock-retain-until-date",
            xml::format_timestamp_ms(r.retain_until_ms),
        ));
    }
    if let Some(on) = meta.lock.legal_hold
        && req.allowed(&check("s3:GetObjectLegalHold")).await
    {
        out.push((
            "x-amz-object-lock-legal-hold",
            if on { "ON" } else { "OFF" }.to_owned(),
        ));
    }
    out
}

pub(crate) async fn handle_get_object_lock_configuration(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    match rec.object_lock {
        Some(c) => Ok(common::xml(
            StatusCode::OK,
            xml::object_lock_configuration_xml(&c),
        )),
        None => Err(S3Error::ObjectLockConfigurationNotFoundError {
            bucket: bucket.to_owned(),
        }),
    }
}

/// Sets the default retention; on a bucket without Object Lock, enables it, which AWS allows
/// (since 2023) on a bucket whose versioning is Enabled and which cannot be undone.
pub(crate) async fn handle_put_object_lock_configuration(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    let mut rec = req.bucket(bucket).await?;
    common::require_integrity_check(&req.headers)?;
    let body = req.small_body(MAX_LOCK_BODY).await?;
    let config = xml::parse_object_lock_configuration(&body)?;
    if rec.object_lock.is_none() && rec.versioning.as_deref() != Some("Enabled") {
        return Err(S3Error::InvalidBucketState(
            "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
                .into(),
        ));
    }
    if rec.object_lock != Some(config) {
        rec.object_lock = Some(config);
        req.gw.store.put_bucket(&rec).await?;
    }
    Ok(common::empty(StatusCode::OK))
}

/// The version a retention or legal hold request names, from an authenticated record of a
/// bucket with Object Lock.
async fn locked_version(
    req: &Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<ObjectMeta, S3Error> {
    require_enabled(&req.bucket(bucket).await?)?;
    let meta = load_object(req, bucket, key, version_id, "GET").await?;
    req.gw.crypto.check_record(&meta, bucket, key).await?;
    Ok(meta)
}

pub(crate) async fn handle_get_object_retention(
    mut req: Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let meta = locked_version(&req, bucket, key, version_id).await?;
    let r = meta
        .lock
        .retention
        .ok_or(S3Error::NoSuchObjectLockConfiguration)?;
    Ok(common::xml(
        StatusCode::OK,
        xml::retention_xml(r.mode, r.retain_until_ms),
    ))
}

pub(crate) async fn handle_get_object_legal_hold(
    mut req: Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let meta = locked_version(&req, bucket, key, version_id).await?;
    let on = meta
        .lock
        .legal_hold
        .ok_or(S3Error::NoSuchObjectLockConfiguration)?;
    Ok(common::xml(StatusCode::OK, xml::legal_hold_xml(on)))
}

/// Sets, extends, shortens or removes a version's retention. Extending (or GOVERNANCE →
/// COMPLIANCE) is always allowed; anything else while the retention is in force needs a
/// GOVERNANCE retention and the bypass (header and permission); COMPLIANCE refuses it.
pub(crate) async fn handle_put_object_retention(
    mut req: Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Response<Body>, S3Error> {
    require_enabled(&req.bucket(bucket).await?)?;
    common::require_integrity_check(&req.headers)?;
    let body = req.small_body(MAX_LOCK_BODY).await?;
    let now = common::now_ms();
    let wanted = match xml::parse_retention(&body)? {
        None => None,
        Some((mode, date)) => Some(Retention {
            mode: parse_mode(&mode)?,
            retain_until_ms: future_date(&date, now)?,
        }),
    };
    // Whether the change needs the bypass is decided on the record as it is now; the
    // permission is asked for only then. The edit decides again on the record it amends (a
    // change that needs a bypass not granted here is refused there).
    let current = load_object(&req, bucket, key, version_id, "PUT").await?;
    let needs_bypass = |m: &ObjectMeta| match m.lock.retention {
        Some(old) if old.retain_until_ms > now => !only_strengthens(&old, wanted.as_ref()),
        _ => false,
    };
    let compliance = |m: &ObjectMeta| {
        m.lock
            .retention
            .is_some_and(|r| r.mode == LockMode::Compliance)
    };
    let may_bypass = needs_bypass(&current);
    if may_bypass {
        if compliance(&current) {
            return Err(protected());
        }
        governance_bypass(&req, bucket, key, version_id).await?;
    }
    amend_object_record(&req, bucket, key, version_id, |m| {
        if needs_bypass(m) && (!may_bypass || compliance(m)) {
            return Err(protected());
        }
        Ok(RecordEdit::Lock(ObjectLock {
            retention: wanted,
            ..m.lock
        }))
    })
    .await?;
    if let Some(r) = wanted {
        let mut noted = current;
        noted.lock.retention = Some(r);
        note_kms_key(&req, bucket, key, &noted).await;
    }
    Ok(common::empty(StatusCode::OK))
}

pub(crate) async fn handle_put_object_legal_hold(
    mut req: Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Response<Body>, S3Error> {
    require_enabled(&req.bucket(bucket).await?)?;
    common::require_integrity_check(&req.headers)?;
    let body = req.small_body(MAX_LOCK_BODY).await?;
    let on = xml::parse_legal_hold_body(&body)?;
    amend_object_record(&req, bucket, key, version_id, |m| {
        Ok(RecordEdit::Lock(ObjectLock {
            legal_hold: Some(on),
            ..m.lock
        }))
    })
    .await?;
    if on {
        let mut noted = load_object(&req, bucket, key, version_id, "PUT").await?;
        noted.lock.legal_hold = Some(true);
        note_kms_key(&req, bucket, key, &noted).await;
    }
    Ok(common::empty(StatusCode::OK))
}
