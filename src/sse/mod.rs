//! Server-side encryption: which mode applies to a request, and the object-key verbs handlers
//! need (seal a fresh key, open a stored one, reseal for a copy, describe it in headers).
//!
//! Handlers never touch a cipher or a KEK; they hold an [`ObjectKey`] from here and hand it to
//! the envelope. Every mode roots in the same hierarchy (ARCHITECTURE.md §3): a fresh object key
//! per object, sealed under a KEK whose material depends on the mode and whose derivation binds
//! it to the mode, bucket and key name.

pub mod kms_keys;
pub mod master;
pub mod sse_c;

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use http::{HeaderMap, HeaderValue};

use crate::envelope::ObjectKey;
use crate::kms::{Caller, Kms, Source};
use crate::meta::{BucketRecord, Sealing};
use crate::s3::error::S3Error;
use crate::seal::{self, Binding};
use kms_keys::KmsKeys;
use master::{MasterError, MasterRing};
use sse_c::{CustomerKey, KeyHeaders};

const SSE: &str = "x-amz-server-side-encryption";
const SSE_KMS_KEY: &str = "x-amz-server-side-encryption-aws-kms-key-id";
const SSE_CONTEXT: &str = "x-amz-server-side-encryption-context";
const SSE_BUCKET_KEY: &str = "x-amz-server-side-encryption-bucket-key-enabled";
/// The key S3 uses when `aws:kms` names none.
pub const DEFAULT_KMS_KEY: &str = "alias/aws/s3";

/// The encryption a write asked for (or inherited from the bucket default).
#[derive(Debug)]
pub enum WriteMode {
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

impl WriteMode {
    pub fn customer_key(&self) -> Option<&CustomerKey> {
        match self {
            WriteMode::SseC(k) => Some(k),
            _ => None,
        }
    }
}

/// Chooses the encryption of a write (PutObject, CopyObject target, CreateMultipartUpload),
/// following aws-semantics §1.3 in AWS's order of checks.
pub fn choose_write_mode(
    headers: &HeaderMap,
    bucket: &BucketRecord,
    tls: bool,
    plaintext_bucket: bool,
) -> Result<WriteMode, S3Error> {
    let sse = headers
        .get(SSE)
        .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned());
    if sse_c::present(headers, KeyHeaders::Target) {
        if bucket
            .encryption
            .as_ref()
            .is_some_and(|e| e.blocked_types.iter().any(|t| t == "SSE-C"))
        {
            return Err(S3Error::AccessDenied(
                "Access Denied because this bucket has blocked upload requests that specify Server Side Encryption with Customer provided keys (SSE-C). Please specify a different server-side encryption type".into(),
            ));
        }
        if let Some(value) = sse {
            return Err(S3Error::InvalidArgument {
                msg: "Server Side Encryption with Customer provided key is incompatible with the encryption method specified".into(),
                name: Some(SSE.into()),
                value: Some(value),
            });
        }
        let key =
            sse_c::from_headers(headers, KeyHeaders::Target, tls)?.expect("present was checked");
        return Ok(WriteMode::SseC(key));
    }
    let kms_key = headers
        .get(SSE_KMS_KEY)
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let context_given = headers.contains_key(SSE_CONTEXT);
    match sse.as_deref() {
        Some("AES256") => {
            if kms_key.is_some() || context_given {
                return Err(kms_requires_header());
            }
            Ok(WriteMode::SseS3)
        }
        Some("aws:kms") => {
            let default = bucket
                .encryption
                .as_ref()
                .filter(|e| e.algorithm == "aws:kms");
            Ok(WriteMode::SseKms {
                key_id: kms_key
                    .filter(|k| !k.is_empty())
                    .or_else(|| default.and_then(|e| e.kms_key_id.clone())),
                context: parse_context(headers)?,
                bucket_key: bucket_key_setting(headers, bucket)?,
            })
        }
        Some("aws:kms:dsse") => Err(S3Error::NotImplemented(
            "DSSE-KMS (aws:kms:dsse) is not supported by this gateway".into(),
        )),
        Some(other) => Err(S3Error::InvalidArgument {
            msg: "The encryption method specified is not supported".into(),
            name: Some(SSE.into()),
            value: Some(other.to_owned()),
        }),
        None if kms_key.is_some() || context_given => Err(kms_requires_header()),
        None => match bucket.encryption.as_ref() {
            None if plaintext_bucket => Ok(WriteMode::Plain),
            Some(e) if e.algorithm == "aws:kms" => Ok(WriteMode::SseKms {
                key_id: e.kms_key_id.clone(),
                context: BTreeMap::new(),
                bucket_key: bucket_key_setting(headers, bucket)?,
            }),
            _ => Ok(WriteMode::SseS3),
        },
    }
}

/// The client's `x-amz-server-side-encryption-context`: base64 of a JSON string→string map.
fn parse_context(headers: &HeaderMap) -> Result<BTreeMap<String, String>, S3Error> {
    let Some(v) = headers.get(SSE_CONTEXT) else {
        return Ok(BTreeMap::new());
    };
    let bad = || {
        S3Error::invalid_argument_named(
            "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map",
            SSE_CONTEXT,
            v.to_str().unwrap_or_default(),
        )
    };
    let raw = STANDARD.decode(v.as_bytes()).map_err(|_| bad())?;
    let map: BTreeMap<String, String> = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if map.keys().any(|k| k.starts_with("aws:")) {
        return Err(S3Error::invalid_argument_named(
            "Encryption context keys cannot start with the reserved prefix aws:",
            SSE_CONTEXT,
            v.to_str().unwrap_or_default(),
        ));
    }
    Ok(map)
}

/// The request's bucket-key header wins over the bucket rule (aws-semantics §1.3 step 5).
fn bucket_key_setting(headers: &HeaderMap, bucket: &BucketRecord) -> Result<bool, S3Error> {
    match headers
        .get(SSE_BUCKET_KEY)
        .map(|v| v.to_str().unwrap_or_default())
    {
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(S3Error::invalid_argument_named(
            "x-amz-server-side-encryption-bucket-key-enabled must be true or false",
            SSE_BUCKET_KEY,
            v,
        )),
        None => Ok(bucket
            .encryption
            .as_ref()
            .is_some_and(|e| e.algorithm == "aws:kms" && e.bucket_key_enabled)),
    }
}

/// The encryption context S3 sends to KMS for an object (aws-semantics §1.5).
pub fn kms_context(
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

fn kms_requires_header() -> S3Error {
    S3Error::InvalidArgument {
        msg: "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms".into(),
        name: Some(SSE.into()),
        value: None,
    }
}

/// GET, HEAD and UploadPart take no SSE-S3/KMS headers (aws-semantics §1.2).
pub fn reject_write_headers(headers: &HeaderMap) -> Result<(), S3Error> {
    for name in [SSE, SSE_KMS_KEY] {
        if let Some(v) = headers.get(name) {
            return Err(S3Error::InvalidArgument {
                msg: "x-amz-server-side-encryption header is not supported for this operation."
                    .into(),
                name: Some(name.into()),
                value: Some(v.to_str().unwrap_or_default().to_owned()),
            });
        }
    }
    Ok(())
}

/// Owner of the key hierarchy for all modes.
pub struct Crypto {
    master: MasterRing,
    kms: KmsKeys,
}

/// Who a key operation is for: the caller's identity (KMS authorizes and audits against it)
/// and the object it serves.
pub struct Actor<'a> {
    pub caller: &'a Caller,
}

impl Crypto {
    pub fn new(master: MasterRing, kms: Arc<dyn Kms>) -> Crypto {
        Crypto {
            master,
            kms: KmsKeys::new(kms),
        }
    }

    /// The SSE-S3 master key ring (loaded at start; see [`MasterRing::load`]).
    pub fn master(&self) -> &MasterRing {
        &self.master
    }

    /// KMS calls made for SSE-KMS so far (benchmarks and metrics).
    pub fn kms_call_counts(&self) -> kms_keys::KmsCallCounts {
        self.kms.call_counts()
    }

    /// A fresh object key for a new object (or multipart upload), sealed for `mode`.
    pub async fn seal_new(
        &self,
        mode: &WriteMode,
        bucket: &str,
        key: &str,
        actor: &Actor<'_>,
    ) -> Result<(ObjectKey, Sealing), S3Error> {
        let ok = ObjectKey::generate();
        let sealing = self.reseal(&ok, mode, bucket, key, actor).await?;
        Ok((ok, sealing))
    }

    /// Seals an existing object key for `mode` under `bucket/key` (copies and re-keying).
    pub async fn reseal(
        &self,
        ok: &ObjectKey,
        mode: &WriteMode,
        bucket: &str,
        key: &str,
        actor: &Actor<'_>,
    ) -> Result<Sealing, S3Error> {
        match mode {
            WriteMode::Plain => Ok(Sealing::None),
            WriteMode::SseS3 => {
                let (version, material) = self.master.current().await.map_err(master_error)?;
                let sealed = seal::seal(&material[..], &binding("SSE-S3", bucket, key), ok);
                Ok(Sealing::SseS3 {
                    key_version: version,
                    sealed,
                })
            }
            WriteMode::SseC(customer) => {
                let sealed = seal::seal(customer.material(), &binding("SSE-C", bucket, key), ok);
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
                let source = Source::S3Gateway {
                    bucket: bucket.to_owned(),
                    key: Some(key.to_owned()),
                };
                let dk = self
                    .kms
                    .data_key(key_id, &ctx, *bucket_key, actor.caller, &source)
                    .await?;
                let sealed = seal::seal(&*dk.plaintext, &binding("SSE-KMS", bucket, key), ok);
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

    /// Opens the object key of a stored object. `customer` is the SSE-C key the request
    /// presented (validated by `sse_c::from_headers`), if any.
    pub async fn open(
        &self,
        sealing: &Sealing,
        bucket: &str,
        key: &str,
        customer: Option<&CustomerKey>,
        actor: &Actor<'_>,
    ) -> Result<ObjectKey, S3Error> {
        match (sealing, customer) {
            (Sealing::SseC { key_md5, sealed }, Some(c)) => {
                let wrong = || {
                    S3Error::AccessDenied(
                        "Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key.".into(),
                    )
                };
                if key_md5 != c.md5_b64() {
                    return Err(wrong());
                }
                seal::unseal(c.material(), &binding("SSE-C", bucket, key), sealed)
                    .map_err(|_| wrong())
            }
            (Sealing::SseC { .. }, None) => Err(S3Error::InvalidRequest(
                "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.".into(),
            )),
            (_, Some(_)) => Err(S3Error::InvalidRequest(
                "The encryption parameters are not applicable to this object.".into(),
            )),
            (Sealing::SseS3 { key_version, sealed }, None) => {
                let material = self
                    .master
                    .get(*key_version)
                    .await
                    .map_err(master_error)?;
                seal::unseal(&material[..], &binding("SSE-S3", bucket, key), sealed).map_err(|_| {
                    S3Error::InternalError("the object's key record failed authentication".into())
                })
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
                let source = Source::S3Gateway {
                    bucket: bucket.to_owned(),
                    key: Some(key.to_owned()),
                };
                let material = self
                    .kms
                    .open_data_key(kms_blob, context, key_arn, *bucket_key, actor.caller, &source)
                    .await?;
                seal::unseal(&material[..], &binding("SSE-KMS", bucket, key), sealed).map_err(|_| {
                    S3Error::InternalError("the object's key record failed authentication".into())
                })
            }
            // Plaintext comparison objects carry no key; the envelope is bypassed for them.
            (Sealing::None, None) => Ok(ObjectKey::generate()),
        }
    }
}

/// A master ring failure as S3 sees it: the KMS's answer (503 when unreachable), else 500.
fn master_error(e: MasterError) -> S3Error {
    match e {
        MasterError::Kms(e) => kms_keys::map_kms_error(e),
        MasterError::Store(crate::store::StoreError::Backend(m)) => {
            S3Error::ServiceUnavailable(format!("storage backend: {m}"))
        }
        other => S3Error::InternalError(other.to_string()),
    }
}

fn binding(mode: &'static str, bucket: &str, key: &str) -> Binding {
    Binding {
        mode,
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    }
}

/// Adds `x-amz-server-side-encryption-context` (base64 JSON of the full stored context), which
/// Put, Copy and CreateMultipartUpload return and GET/HEAD never do.
pub fn describe_context(sealing: &Sealing, out: &mut HeaderMap) {
    if let Sealing::SseKms { context, .. } = sealing
        && let Ok(json) = serde_json::to_vec(context)
        && let Ok(v) = HeaderValue::from_str(&STANDARD.encode(json))
    {
        out.insert(SSE_CONTEXT, v);
    }
}

/// The SSE response headers that describe a stored object (aws-semantics §1.2).
pub fn describe(sealing: &Sealing, out: &mut HeaderMap) {
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name, v);
        }
    };
    match sealing {
        Sealing::SseS3 { .. } => put(SSE, "AES256"),
        Sealing::SseKms {
            key_arn,
            bucket_key,
            ..
        } => {
            put(SSE, "aws:kms");
            put(SSE_KMS_KEY, key_arn);
            if *bucket_key {
                put("x-amz-server-side-encryption-bucket-key-enabled", "true");
            }
        }
        Sealing::SseC { key_md5, .. } => {
            put("x-amz-server-side-encryption-customer-algorithm", "AES256");
            put("x-amz-server-side-encryption-customer-key-md5", key_md5);
        }
        Sealing::None => {}
    }
}
