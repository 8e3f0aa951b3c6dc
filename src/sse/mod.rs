//! Server-side encryption: custody of every key in the hierarchy and the one owner of object
//! crypto. Handlers say which mode a write wants ([`WriteMode`], parsed from S3 headers by
//! `s3::encryption`) and get back an [`ObjectCrypto`] whose verbs write and read object data;
//! they never touch a cipher, a KEK or an object key.
//!
//! Every mode roots in the same hierarchy (docs/FORMAT.md §1): a fresh object key per object,
//! sealed under a KEK whose material depends on the mode (the SSE-S3 master ring, a KMS data
//! key, the customer's key) and whose derivation binds it to the mode, bucket and key name.
//! This module knows nothing of S3's wire format: its failures are [`SseError`], which the S3
//! front end turns into AWS's errors in one place (`s3::error`).

pub(crate) mod customer;
pub(crate) mod kms_keys;
pub(crate) mod master;
mod object;
mod part_etag;
mod record_mac;
mod retag;

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::envelope::{EnvelopeError, ObjectKey};
use crate::kms::{Caller, Kms, KmsClientError, Source};
use crate::meta::{ObjectMeta, RecordKey, Sealing, UploadRecord};
use crate::seal::{self, Binding, Mode};
use crate::store::StoreError;
pub(crate) use customer::CustomerKey;
use kms_keys::KmsKeys;
use master::{MasterError, MasterRing};
use object::Version;
pub(crate) use object::{EtagRule, ObjectBody, ObjectCrypto, PlainSource, PlainStream};
use record_mac::RecordMacKey;
pub(crate) use retag::RecordEdit;

/// The key S3 uses when `aws:kms` names none.
pub(crate) const DEFAULT_KMS_KEY: &str = "alias/aws/s3";

/// The encryption a write asked for (or inherited from the bucket default).
#[derive(Debug)]
pub(crate) enum WriteMode {
    /// No encryption: only in buckets the operator configured as plaintext comparison buckets,
    /// and only when the request names no encryption.
    Plain,
    SseS3,
    SseKms {
        /// As requested (id, ARN, alias); `None` means `alias/aws/s3`.
        key_id: Option<String>,
        /// The client's additional encryption context (without `aws:s3:arn`).
        context: BTreeMap<String, String>,
        bucket_key: bool,
    },
    SseC(CustomerKey),
}

/// Why a key or object operation failed, in this layer's terms; `s3::error` maps each to the
/// S3 error AWS returns.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SseError {
    /// The request presented an SSE-C key other than the one the object was sealed with.
    #[error("the customer key does not match the object's")]
    WrongCustomerKey,
    /// The object is SSE-C and the request presented no key.
    #[error("the object is SSE-C and no customer key was presented")]
    CustomerKeyRequired,
    /// The request presented an SSE-C key for an object that is not SSE-C.
    #[error("a customer key was presented for an object that is not SSE-C")]
    CustomerKeyNotApplicable,
    /// A copy between a plaintext comparison bucket and an encrypted object (either way).
    #[error("copy between plaintext and encrypted objects")]
    PlainCopyMismatch,
    #[error("KMS: {0}")]
    Kms(#[from] KmsClientError),
    #[error("SSE-S3 master key ring: {0}")]
    Master(#[from] MasterError),
    /// A sealed object key did not open under the right KEK: the record was altered.
    #[error("the object's key record failed authentication")]
    SealedKeyCorrupt,
    /// A version 2 meta record whose MAC does not match: its parts, sizes, headers, checksums
    /// or sealing were changed, or it was moved under another name.
    #[error("the object's meta record failed authentication")]
    RecordTampered,
    /// The KMS returned plaintext of the wrong length for a data key.
    #[error("the KMS returned a data key of the wrong size")]
    BadDataKey,
    /// Stored parameters or ciphertext failed the envelope's checks.
    #[error("envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// A segment failed authentication, or a part ended early: never returned as data.
    #[error("stored object failed authentication: {0}")]
    Tampered(EnvelopeError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The task sealing and writing a part ended abnormally.
    #[error("write stage: {0}")]
    WriteStage(String),
    /// The plaintext source stopped without an error and without its end (cannot happen while
    /// sources report their own errors; kept so the writer never commits a short part).
    #[error("the plaintext source ended early")]
    SourceAborted,
    /// A part being sealed inline yielded more than its declared size (sources check their
    /// length first, so this only bounds the buffer).
    #[error("an inline part outgrew its declared size")]
    InlineOverflow,
}

/// Who a key operation is for: the caller's identity (KMS authorizes and audits against it).
pub(crate) struct Actor<'a> {
    pub(crate) caller: &'a Caller,
}

/// Owner of the key hierarchy for all modes.
pub(crate) struct Crypto {
    master: MasterRing,
    kms: KmsKeys,
}

impl Crypto {
    pub(crate) fn new(master: MasterRing, kms: Arc<dyn Kms>) -> Crypto {
        Crypto {
            master,
            kms: KmsKeys::new(kms),
        }
    }

    /// After `meta` was written: when it is an SSE-KMS version its Object Lock holds (a
    /// retention or a legal hold), its KMS key is marked so that disabling or deleting the
    /// key warns the operator (docs/KMS.md "Keys of locked objects").
    pub(crate) async fn note_object_lock(
        &self,
        meta: &ObjectMeta,
        bucket: &str,
        key: &str,
        actor: &Actor<'_>,
    ) {
        if let (true, Sealing::SseKms { key_arn, .. }) = (meta.lock.holds(), &meta.sealing) {
            self.kms
                .mark_object_lock(key_arn, actor.caller, &source(bucket, key))
                .await;
        }
    }

    /// The SSE-S3 master key ring (loaded at start; see [`MasterRing::load`]).
    pub(crate) fn master(&self) -> &MasterRing {
        &self.master
    }

    /// A fresh object key for a new object (or multipart upload), sealed for `mode`.
    pub(crate) async fn seal_new(
        &self,
        mode: &WriteMode,
        bucket: &str,
        key: &str,
        actor: &Actor<'_>,
    ) -> Result<ObjectCrypto, SseError> {
        if matches!(mode, WriteMode::Plain) {
            return Ok(ObjectCrypto::plain());
        }
        let ok = ObjectKey::generate();
        let sealing = self.seal_key(&ok, mode, bucket, key, actor).await?;
        Ok(ObjectCrypto::sealed(
            ok,
            sealing,
            object::SEGMENT_SIZE,
            Version::V2,
        ))
    }

    /// The record-MAC key of a new multipart upload, sealed under the current SSE-S3 master
    /// version (bound to the upload id), for its upload record: Complete then authenticates
    /// the object's record without the customer's or the KMS's key. `None` for plaintext
    /// uploads. Only the MAC key is sealed for the gateway, never the object key: the gateway
    /// cannot read SSE-C or SSE-KMS data with it.
    pub(crate) async fn seal_record_key(
        &self,
        upload: &ObjectCrypto,
        bucket: &str,
        upload_id: &str,
    ) -> Result<Option<RecordKey>, SseError> {
        let Some(ok) = upload.object_key() else {
            return Ok(None);
        };
        let mac_key = RecordMacKey::derive(ok);
        let as_key = ObjectKey::from_slice(mac_key.as_bytes()).expect("32 bytes");
        let (version, material) = self.master.current().await?;
        let sealed = seal::seal(
            &material[..],
            &binding(Mode::RecordKey, bucket, upload_id),
            &as_key,
        );
        Ok(Some(RecordKey {
            key_version: version,
            sealed,
        }))
    }

    /// The record of a completed multipart upload: its parts were written by
    /// [`ObjectCrypto::write_part`] under the upload's sealing; the record is authenticated
    /// with the upload's sealed record-MAC key (version 1 for uploads that have none).
    pub(crate) async fn completed_meta(
        &self,
        upload: &UploadRecord,
        body: ObjectBody,
    ) -> Result<ObjectMeta, SseError> {
        let mac_key = match &upload.record_key {
            None => None,
            Some(rk) => {
                let material = self.master.get(rk.key_version).await?;
                let opened = seal::unseal(
                    &material[..],
                    &binding(Mode::RecordKey, &upload.bucket, &upload.upload_id),
                    &rk.sealed,
                )
                .map_err(|_| SseError::SealedKeyCorrupt)?;
                Some(RecordMacKey::from_bytes(opened.as_bytes()))
            }
        };
        let mut meta = object::object_meta(
            body,
            upload.sealing.clone(),
            object::SEGMENT_SIZE,
            mac_key
                .as_ref()
                .map(|k| (k, upload.bucket.as_str(), upload.key.as_str())),
        );
        if let Some(k) = &mac_key {
            meta.record_key = Some(
                self.seal_object_record_key(k, &upload.bucket, &upload.key)
                    .await?,
            );
        }
        Ok(meta)
    }

    /// The same object key sealed for `mode` under `bucket/key` (CopyObject, a change of mode,
    /// SSE-C re-keying): the data it encrypts is never re-encrypted.
    pub(crate) async fn reseal(
        &self,
        source: &ObjectCrypto,
        mode: &WriteMode,
        bucket: &str,
        key: &str,
        actor: &Actor<'_>,
    ) -> Result<ObjectCrypto, SseError> {
        match (source.object_key(), mode) {
            (None, WriteMode::Plain) => Ok(ObjectCrypto::plain()),
            (None, _) | (Some(_), WriteMode::Plain) => Err(SseError::PlainCopyMismatch),
            (Some(ok), _) => {
                let sealing = self.seal_key(ok, mode, bucket, key, actor).await?;
                Ok(ObjectCrypto::sealed(
                    ok.clone(),
                    sealing,
                    source.segment_size(),
                    source.version(),
                ))
            }
        }
    }

    async fn seal_key(
        &self,
        ok: &ObjectKey,
        mode: &WriteMode,
        bucket: &str,
        key: &str,
        actor: &Actor<'_>,
    ) -> Result<Sealing, SseError> {
        match mode {
            WriteMode::Plain => Ok(Sealing::None),
            WriteMode::SseS3 => {
                let (version, material) = self.master.current().await?;
                let sealed = seal::seal(&material[..], &binding(Mode::SseS3, bucket, key), ok);
                Ok(Sealing::SseS3 {
                    key_version: version,
                    sealed,
                })
            }
            WriteMode::SseC(customer) => {
                let sealed = seal::seal(customer.material(), &binding(Mode::SseC, bucket, key), ok);
                Ok(Sealing::SseC {
                    key_md5: customer.md5_b64().to_owned(),
                    sealed,
                })
            }
            WriteMode::SseKms {
                key_id,
                context,
                bucket_key,
            } => {
                let ctx = kms_context(context, bucket, key, *bucket_key);
                let key_id = key_id.as_deref().unwrap_or(DEFAULT_KMS_KEY);
                let dk = self
                    .kms
                    .data_key(
                        key_id,
                        &ctx,
                        *bucket_key,
                        actor.caller,
                        &source(bucket, key),
                    )
                    .await?;
                let sealed = seal::seal(&*dk.plaintext, &binding(Mode::SseKms, bucket, key), ok);
                Ok(Sealing::SseKms {
                    key_arn: dk.key_arn.clone(),
                    kms_blob: dk.ciphertext_blob.clone(),
                    context: ctx,
                    bucket_key: *bucket_key,
                    sealed,
                })
            }
        }
    }

    /// Opens the object key of a multipart upload (its parts use the segment size of new
    /// objects, and bind their part numbers when the upload has a record key).
    pub(crate) async fn open_upload(
        &self,
        upload: &UploadRecord,
        customer: Option<&CustomerKey>,
        actor: &Actor<'_>,
    ) -> Result<ObjectCrypto, SseError> {
        let version = match upload.record_key {
            Some(_) => Version::V2,
            None => Version::V1,
        };
        self.open(
            &upload.sealing,
            object::SEGMENT_SIZE,
            version,
            &upload.bucket,
            &upload.key,
            customer,
            actor,
        )
        .await
    }

    /// Opens the object key of the stored object `meta` of `bucket/key` and, for a version 2
    /// record, checks its MAC before anything of it is used. `customer` is the SSE-C key the
    /// request presented, if any.
    pub(crate) async fn open_object(
        &self,
        meta: &ObjectMeta,
        bucket: &str,
        key: &str,
        customer: Option<&CustomerKey>,
        actor: &Actor<'_>,
    ) -> Result<ObjectCrypto, SseError> {
        let version = Version::of(meta);
        let crypto = self
            .open(
                &meta.sealing,
                meta.segment_size,
                version,
                bucket,
                key,
                customer,
                actor,
            )
            .await?;
        if version == Version::V2 {
            let ok = crypto.object_key().ok_or(SseError::RecordTampered)?;
            let tag = meta
                .mac
                .as_deref()
                .and_then(|m| STANDARD.decode(m).ok())
                .ok_or(SseError::RecordTampered)?;
            if !RecordMacKey::derive(ok).verify(bucket, key, meta, &tag) {
                return Err(SseError::RecordTampered);
            }
        }
        Ok(crypto)
    }

    #[allow(clippy::too_many_arguments)]
    async fn open(
        &self,
        sealing: &Sealing,
        segment_size: u32,
        version: Version,
        bucket: &str,
        key: &str,
        customer: Option<&CustomerKey>,
        actor: &Actor<'_>,
    ) -> Result<ObjectCrypto, SseError> {
        let ok = match (sealing, customer) {
            (Sealing::SseC { key_md5, sealed }, Some(c)) => {
                if key_md5 != c.md5_b64() {
                    return Err(SseError::WrongCustomerKey);
                }
                seal::unseal(c.material(), &binding(Mode::SseC, bucket, key), sealed)
                    .map_err(|_| SseError::WrongCustomerKey)?
            }
            (Sealing::SseC { .. }, None) => return Err(SseError::CustomerKeyRequired),
            (_, Some(_)) => return Err(SseError::CustomerKeyNotApplicable),
            (
                Sealing::SseS3 {
                    key_version,
                    sealed,
                },
                None,
            ) => {
                let material = self.master.get(*key_version).await?;
                seal::unseal(&material[..], &binding(Mode::SseS3, bucket, key), sealed)
                    .map_err(|_| SseError::SealedKeyCorrupt)?
            }
            (
                Sealing::SseKms {
                    key_arn,
                    kms_blob,
                    context,
                    bucket_key,
                    sealed,
                },
                None,
            ) => {
                let material = self
                    .kms
                    .open_data_key(
                        kms_blob,
                        context,
                        key_arn,
                        *bucket_key,
                        actor.caller,
                        &source(bucket, key),
                    )
                    .await?;
                seal::unseal(&material[..], &binding(Mode::SseKms, bucket, key), sealed)
                    .map_err(|_| SseError::SealedKeyCorrupt)?
            }
            // Plaintext comparison objects carry no key; the envelope is bypassed for them.
            (Sealing::None, None) => return Ok(ObjectCrypto::plain()),
        };
        Ok(ObjectCrypto::sealed(
            ok,
            sealing.clone(),
            segment_size,
            version,
        ))
    }
}

/// The encryption context S3 sends to KMS for an object: the client's pairs plus
/// `aws:s3:arn` naming the object, or the bucket when a bucket key is used (AWS S3 User
/// Guide, "Encryption context" under SSE-KMS).
fn kms_context(
    user: &BTreeMap<String, String>,
    bucket: &str,
    key: &str,
    bucket_key: bool,
) -> BTreeMap<String, String> {
    let mut ctx = user.clone();
    let arn = if bucket_key {
        format!("arn:aws:s3:::{bucket}")
    } else {
        format!("arn:aws:s3:::{bucket}/{key}")
    };
    ctx.insert("aws:s3:arn".into(), arn);
    ctx
}

/// The KMS audit log's record of which object a key use served.
fn source(bucket: &str, key: &str) -> Source {
    Source::S3Gateway {
        bucket: bucket.to_owned(),
        key: Some(key.to_owned()),
        via: None,
    }
}

fn binding(mode: Mode, bucket: &str, key: &str) -> Binding {
    Binding::new(mode, bucket, key)
}
