//! The Object Lock marker on KMS keys (docs/KMS.md "Keys of locked objects").
//!
//! AWS lets the key of an Object Lock-protected SSE-KMS object be disabled or scheduled for
//! deletion: the lock keeps the ciphertext, not its readability. sealgate keeps those semantics
//! — nothing is refused — but makes sure the operator is told: when the gateway writes a
//! version protected by a retention or a legal hold under a KMS key of this KMS, it marks the
//! key with the tag `sealgate:object-lock` (visible in ListResourceTags, like any tag; written
//! by the service, not through TagResource, so the caller needs no tagging right). A
//! ScheduleKeyDeletion or DisableKey of a marked key then succeeds as on AWS, and its audit
//! record carries a `warning`, the log a WARN line, and the metric
//! `sealgate_kms_locked_key_deletions_total{operation}` one more.
//!
//! Why a mark and not a count: a count of locked versions per key would have to follow every
//! retention expiry and version removal; the mark only says "this key has protected locked
//! data", which stays true in the cases that matter (a deletion is worth a warning even if the
//! last lock expired yesterday) and costs one tag write per key per gateway process.

use std::sync::atomic::{AtomicU64, Ordering};

use super::error::KmsError;
use super::{Call, KmsService, db};

/// The tag that marks a key as protecting Object Lock-protected S3 versions.
pub const OBJECT_LOCK_TAG: &str = "sealgate:object-lock";
const OBJECT_LOCK_TAG_VALUE: &str = "protects-locked-s3-versions";

/// The operations that warn, in the order of [`LockedKeyWarnings::counts`].
const WARNING_OPERATIONS: [&str; 2] = ["ScheduleKeyDeletion", "DisableKey"];

/// How many times each warning operation hit a marked key since start.
#[derive(Default)]
pub(crate) struct LockedKeyWarnings([AtomicU64; 2]);

impl LockedKeyWarnings {
    pub(crate) fn counts(&self) -> Vec<(&'static str, u64)> {
        WARNING_OPERATIONS
            .iter()
            .zip(&self.0)
            .map(|(op, n)| (*op, n.load(Ordering::Relaxed)))
            .collect()
    }
}

impl KmsService {
    /// Marks `key_ref` (id or ARN) as the key of Object Lock-protected versions. Not an API
    /// operation: only the gateway's service path calls it, after its own authorized use of
    /// the key (GenerateDataKey or Decrypt as the caller).
    pub(crate) fn mark_object_lock(
        &self,
        call: &mut Call<'_>,
        key_ref: &str,
    ) -> Result<(), KmsError> {
        self.inner.store.with_tx(|tx| {
            let key = self.resolve(tx, key_ref, false)?;
            call.note_key(&key);
            let marked = db::tags(tx, &key.key_id)?
                .iter()
                .any(|(k, _)| k == OBJECT_LOCK_TAG);
            if !marked {
                db::put_tag(tx, &key.key_id, OBJECT_LOCK_TAG, OBJECT_LOCK_TAG_VALUE)?;
            }
            Ok(())
        })
    }

    /// After a successful ScheduleKeyDeletion or DisableKey (`operation`) of the key the call
    /// names: the warning, when the key carries the mark. A failure to read the tags is logged
    /// and otherwise ignored: it must not turn a done state change into an error.
    pub(super) fn warn_if_object_lock(&self, call: &mut Call<'_>, operation: &'static str) {
        let Some(arn) = call.key_arn.clone() else {
            return;
        };
        let key_id = arn.rsplit('/').next().unwrap_or(&arn).to_owned();
        let marked = self.inner.store.with_tx(|tx| {
            Ok::<_, KmsError>(
                db::tags(tx, &key_id)?
                    .iter()
                    .any(|(k, _)| k == OBJECT_LOCK_TAG),
            )
        });
        match marked {
            Ok(true) => {
                let idx = WARNING_OPERATIONS
                    .iter()
                    .position(|o| *o == operation)
                    .expect("a warning operation");
                self.inner.locked_key_warnings.0[idx].fetch_add(1, Ordering::Relaxed);
                let warning = format!(
                    "{arn} protects Object Lock-protected S3 versions (tag {OBJECT_LOCK_TAG}): \
                     {operation} makes them unreadable while their lock keeps them"
                );
                tracing::warn!(key = %arn, operation, "{warning}");
                call.warning = Some(warning);
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(key = %arn, error = %e, "object lock marker unreadable"),
        }
    }

    /// ScheduleKeyDeletion/DisableKey calls that hit a marked key, per operation.
    pub(crate) fn locked_key_warnings(&self) -> Vec<(&'static str, u64)> {
        self.inner.locked_key_warnings.counts()
    }
}
