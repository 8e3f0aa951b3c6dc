//! Whether Object Lock keeps a version from being removed: the one question a client's DELETE
//! by version id (`s3::ops::object_lock`) and the lifecycle worker both ask. It lives outside
//! `s3` so the worker can ask it without depending on the S3 front end.
//!
//! A lock is only as good as the record that carries it: a version 2 record is authenticated
//! (its record MAC, FORMAT.md §6) before its lock may permit a removal, and a record that
//! fails that check, or cannot be checked, is kept.

use crate::meta::{BucketRecord, LockMode, ObjectLock, ObjectMeta, Sealing, Version};
use crate::sse::{Crypto, SseError};

/// What keeps a version from being removed (or its retention from being shortened) now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protection {
    None,
    /// A GOVERNANCE retention in force: a caller allowed `s3:BypassGovernanceRetention` who
    /// asks for the bypass may proceed.
    Governance,
    /// A COMPLIANCE retention in force, a legal hold, or a record that cannot prove it has
    /// neither: nobody may proceed.
    Locked,
}

/// The protection `lock` gives at `now_ms` (a retention whose date has passed gives none).
pub(crate) fn protection_of(lock: &ObjectLock, now_ms: i64) -> Protection {
    if lock.legal_hold == Some(true) {
        return Protection::Locked;
    }
    match lock.retention {
        Some(r) if r.retain_until_ms > now_ms => match r.mode {
            LockMode::Compliance => Protection::Locked,
            LockMode::Governance => Protection::Governance,
        },
        _ => Protection::None,
    }
}

/// The protection of version `meta` of `rec/key` at `now_ms`, after authenticating its record
/// (see the module doc). Every version 2 record is checked, in any bucket: the bucket record
/// has no MAC, so "this bucket has no Object Lock" is no proof that a version has no lock.
pub(crate) async fn protection(
    crypto: &Crypto,
    rec: &BucketRecord,
    key: &str,
    meta: &ObjectMeta,
    now_ms: i64,
) -> Result<Protection, SseError> {
    if !meta.is_authenticated() {
        let provable = rec.object_lock.is_none() || matches!(meta.sealing, Sealing::None);
        return Ok(if provable {
            protection_of(&meta.lock, now_ms)
        } else {
            Protection::Locked
        });
    }
    crypto.check_record(meta, &rec.name, key).await?;
    Ok(protection_of(&meta.lock, now_ms))
}

/// Whether version `v` of `rec/key` may be removed at `now_ms` by someone who does not bypass
/// governance retention (the lifecycle worker's question). Delete markers carry no lock; a
/// record that fails its check, or cannot be checked now, is kept.
pub(crate) async fn version_deletable(
    crypto: &Crypto,
    rec: &BucketRecord,
    key: &str,
    v: &Version,
    now_ms: i64,
) -> bool {
    match v {
        Version::Marker(_) => true,
        Version::Object(meta) => matches!(
            protection(crypto, rec, key, meta, now_ms).await,
            Ok(Protection::None)
        ),
    }
}
