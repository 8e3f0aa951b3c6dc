//! Record keys kept in meta records, and tag or ACL changes that re-authenticate a record
//! without touching the object's data (docs/FORMAT.md §6.1, "Tags").
//!
//! A tag change rewrites the meta record, so a version 2 record needs a fresh MAC. S3 gives
//! PutObjectTagging no customer key and should not need the KMS for it, so every record written
//! by this version keeps its record-MAC key sealed under the SSE-S3 master ring
//! ([`ObjectMeta::record_key`], bound to mode `object-record-mac-key`, bucket and key) — the
//! same trade as a multipart upload's record key: the MAC key opens no data (HKDF is one-way),
//! and a backend writer without the master key still cannot forge a record. Records written
//! before tagging have no record key; their first tag change derives it from the object key
//! (SSE-S3: the master ring; SSE-KMS: one KMS Decrypt as the caller; SSE-C: only when the
//! request carries the customer key) and stores it.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::object::Version;
use super::record_mac::RecordMacKey;
use super::{Actor, Crypto, CustomerKey, ObjectBody, ObjectCrypto, SseError, binding};
use crate::envelope::ObjectKey;
use crate::meta::{Acl, ObjectLock, ObjectMeta, RecordKey};
use crate::seal::{self, Mode};

impl Crypto {
    /// The meta record of a new object `bucket/key` written with `crypto` (PutObject,
    /// CopyObject): authenticated as [`ObjectCrypto::meta`] makes it, plus its sealed record key.
    pub(crate) async fn new_object_meta(
        &self,
        crypto: &ObjectCrypto,
        bucket: &str,
        key: &str,
        body: ObjectBody,
    ) -> Result<ObjectMeta, SseError> {
        let mut meta = crypto.meta(bucket, key, body);
        if let (Some(ok), Version::V2) = (crypto.object_key(), crypto.version()) {
            let mac_key = RecordMacKey::derive(ok);
            meta.record_key = Some(self.seal_object_record_key(&mac_key, bucket, key).await?);
        }
        Ok(meta)
    }

    /// `mac_key` sealed under the current SSE-S3 master version for the record of `bucket/key`.
    pub(super) async fn seal_object_record_key(
        &self,
        mac_key: &RecordMacKey,
        bucket: &str,
        key: &str,
    ) -> Result<RecordKey, SseError> {
        let as_key = ObjectKey::from_slice(mac_key.as_bytes()).expect("32 bytes");
        let (version, material) = self.master.current().await?;
        let sealed = seal::seal(
            &material[..],
            &binding(Mode::ObjectRecordKey, bucket, key),
            &as_key,
        );
        Ok(RecordKey {
            key_version: version,
            sealed,
        })
    }

    async fn open_object_record_key(
        &self,
        rk: &RecordKey,
        bucket: &str,
        key: &str,
    ) -> Result<RecordMacKey, SseError> {
        let material = self.master.get(rk.key_version).await?;
        let opened = seal::unseal(
            &material[..],
            &binding(Mode::ObjectRecordKey, bucket, key),
            &rk.sealed,
        )
        .map_err(|_| SseError::SealedKeyCorrupt)?;
        Ok(RecordMacKey::from_bytes(opened.as_bytes()))
    }

    /// Checks a version 2 record with its sealed record key, when it has one: readers of tags
    /// and ACLs (GetObjectTagging, GetObjectAcl, an authorization deciding by the ACL)
    /// authenticate what they use without opening the object key. A version 2 record without a
    /// record key predates tagging, so tags or an ACL on it are forged.
    pub(crate) async fn check_record(
        &self,
        meta: &ObjectMeta,
        bucket: &str,
        key: &str,
    ) -> Result<(), SseError> {
        if Version::of(meta) != Version::V2 {
            return Ok(());
        }
        match &meta.record_key {
            Some(rk) => {
                let mac_key = self.open_object_record_key(rk, bucket, key).await?;
                verify(&mac_key, meta, bucket, key)
            }
            None if meta.tags.is_empty() && meta.acl.is_none() && meta.lock.is_empty() => Ok(()),
            None => Err(SseError::RecordTampered),
        }
    }

    /// `meta` with `edit` applied (its tags or ACL replaced), re-authenticated: the object's
    /// data, keys and every other field stay as they are. The current record is checked
    /// first, so a tampered record is never re-signed. `customer` is only used for an SSE-C
    /// record written before tagging (see the module doc).
    pub(crate) async fn amend(
        &self,
        meta: &ObjectMeta,
        bucket: &str,
        key: &str,
        edit: RecordEdit,
        customer: Option<&CustomerKey>,
        actor: &Actor<'_>,
    ) -> Result<ObjectMeta, SseError> {
        let mut new = meta.clone();
        match edit {
            RecordEdit::Tags(tags) => new.tags = tags,
            RecordEdit::Acl(acl) => new.acl = acl,
            RecordEdit::Lock(lock) => new.lock = lock,
        }
        if Version::of(meta) != Version::V2 {
            // Version 1 and plaintext records carry no MAC (docs/FORMAT.md §6.2).
            return Ok(new);
        }
        let mac_key = match &meta.record_key {
            Some(rk) => {
                let k = self.open_object_record_key(rk, bucket, key).await?;
                verify(&k, meta, bucket, key)?;
                k
            }
            None => {
                // `open_object` checks the MAC itself.
                let crypto = self.open_object(meta, bucket, key, customer, actor).await?;
                let ok = crypto.object_key().ok_or(SseError::RecordTampered)?;
                let k = RecordMacKey::derive(ok);
                new.record_key = Some(self.seal_object_record_key(&k, bucket, key).await?);
                k
            }
        };
        new.mac = Some(STANDARD.encode(mac_key.sign(bucket, key, &new)));
        Ok(new)
    }
}

/// What [`Crypto::amend`] changes in a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RecordEdit {
    Tags(BTreeMap<String, String>),
    /// `None`: back to the bucket owner's FULL_CONTROL alone.
    Acl(Option<Acl>),
    /// A new retention or legal hold (PutObjectRetention, PutObjectLegalHold); whether the
    /// change is allowed is decided before, on the record this edit re-authenticates.
    Lock(ObjectLock),
}

impl RecordEdit {
    /// Whether `meta` already says what the edit would.
    pub(crate) fn is_noop(&self, meta: &ObjectMeta) -> bool {
        match self {
            RecordEdit::Tags(t) => &meta.tags == t,
            RecordEdit::Acl(a) => &meta.acl == a,
            RecordEdit::Lock(l) => &meta.lock == l,
        }
    }
}

fn verify(
    mac_key: &RecordMacKey,
    meta: &ObjectMeta,
    bucket: &str,
    key: &str,
) -> Result<(), SseError> {
    let tag = meta
        .mac
        .as_deref()
        .and_then(|m| STANDARD.decode(m).ok())
        .ok_or(SseError::RecordTampered)?;
    if mac_key.verify(bucket, key, meta, &tag) {
        Ok(())
    } else {
        Err(SseError::RecordTampered)
    }
}
