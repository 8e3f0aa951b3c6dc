//! The `Kms` trait the S3 gateway uses, and its in-process implementation over [`KmsService`].
//!
//! Futures are boxed so the trait is object-safe (`Arc<dyn Kms>`). The in-process
//! implementation runs each call on tokio's blocking pool (SQLite and RSA are blocking work).
//!
//! The remote implementation, [`super::remote::RemoteKms`], speaks the AWS KMS JSON 1.1 protocol
//! SigV4-signed (`sigv4::sign_request`) to a sealgate KMS on another host or to AWS KMS; it maps
//! connection failures and 5xx to [`KmsClientError::Unavailable`] and `__type` bodies to
//! [`KmsClientError::Kms`].

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use zeroize::Zeroizing;

use super::audit::Source;
use super::error::{ErrorKind, KmsError};
use super::{Caller, KmsService, db};

pub type KmsFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, KmsClientError>> + Send + 'a>>;

/// A fresh 256-bit data key: the plaintext (zeroized on drop, never printed) and its blob.
pub struct DataKey {
    pub plaintext: Zeroizing<[u8; 32]>,
    pub ciphertext_blob: Vec<u8>,
    pub key_arn: String,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("plaintext", &"<redacted>")
            .field("ciphertext_blob_len", &self.ciphertext_blob.len())
            .field("key_arn", &self.key_arn)
            .finish()
    }
}

pub struct Decrypted {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub key_arn: String,
}

impl fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypted")
            .field("plaintext", &"<redacted>")
            .field("key_arn", &self.key_arn)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDescription {
    pub key_id: String,
    pub key_arn: String,
    /// Enabled, Disabled, PendingDeletion or PendingImport.
    pub key_state: String,
    pub enabled: bool,
    pub aws_managed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsClientError {
    /// The KMS answered with an exception (`type_name` is its `__type`).
    #[error("{type_name}: {message}")]
    Kms { type_name: String, message: String },
    /// The KMS could not be reached or failed internally; S3 answers 503.
    #[error("KMS unavailable: {0}")]
    Unavailable(String),
}

impl KmsClientError {
    /// The KMS exception name, e.g. "NotFoundException"; "Unavailable" for the 503 case.
    pub fn type_name(&self) -> &str {
        match self {
            Self::Kms { type_name, .. } => type_name,
            Self::Unavailable(_) => "Unavailable",
        }
    }

    pub fn is_access_denied(&self) -> bool {
        self.type_name() == "AccessDeniedException"
    }
}

impl From<KmsError> for KmsClientError {
    fn from(e: KmsError) -> Self {
        match e.kind() {
            ErrorKind::KmsInternal | ErrorKind::Sealed => {
                Self::Unavailable(e.message().to_string())
            }
            _ => Self::Kms {
                type_name: e.type_name().to_string(),
                message: e.message().to_string(),
            },
        }
    }
}

/// What the S3 gateway needs from a KMS. Every call carries the end user's identity (so key
/// policies and grants apply to them) and the source (bucket/key) for the audit log.
///
/// Three implementations, each for a reason of its own (the signatures repeat because the
/// futures are boxed for `dyn Kms`):
/// - [`KmsService`] (below): the embedded KMS, called in process with the end user's
///   [`Caller`] and audit [`Source`], which the wire protocol cannot carry;
/// - [`super::remote::RemoteKms`]: the same calls as AWS KMS JSON requests to another host;
/// - `crate::metrics::kms::MeteredKms`: a decorator over either that counts calls and
///   unusable-key refusals (one line per method over a generic helper).
pub trait Kms: Send + Sync {
    /// GenerateDataKey with KeySpec AES_256 (key id, key ARN, alias name or alias ARN).
    fn generate_data_key<'a>(
        &'a self,
        key_id: &'a str,
        context: &'a BTreeMap<String, String>,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, DataKey>;

    /// Decrypt; with `key_id` set, a blob of another key fails with IncorrectKeyException.
    fn decrypt<'a>(
        &'a self,
        ciphertext_blob: &'a [u8],
        context: &'a BTreeMap<String, String>,
        key_id: Option<&'a str>,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, Decrypted>;

    /// The key ARN for an id/ARN/alias; `alias/aws/s3` is created on first use.
    fn resolve_key_arn<'a>(
        &'a self,
        key_id_or_alias: &'a str,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, String>;

    /// DescribeKey (authorized as kms:DescribeKey).
    fn describe<'a>(
        &'a self,
        key_id: &'a str,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, KeyDescription>;

    /// Encrypt of a small secret (at most 4096 bytes); returns the ciphertext blob. The gateway
    /// uses it to wrap key material it already holds (migrating a local SSE-S3 master).
    fn encrypt<'a>(
        &'a self,
        key_id: &'a str,
        plaintext: &'a [u8],
        context: &'a BTreeMap<String, String>,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, Vec<u8>>;

    /// Creates a symmetric key with automatic rotation for the gateway's own use and points
    /// `alias` at it; returns the ARN of the key the alias names. When another gateway created
    /// the alias first, the key made here is scheduled for deletion and the winner's is used.
    fn create_key_with_alias<'a>(
        &'a self,
        alias: &'a str,
        description: &'a str,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, String>;

    /// The nodes this client calls and how they answer (a remote KMS fleet); empty for the
    /// embedded KMS, which has no network between it and the gateway.
    fn nodes(&self) -> Vec<super::fleet::NodeHealth> {
        Vec::new()
    }

    /// Marks `key_arn` as the key of Object Lock-protected S3 versions, so that disabling or
    /// scheduling it for deletion warns (docs/KMS.md "Keys of locked objects"). A KMS without
    /// the mark (AWS KMS, a KMS on another host) does nothing.
    fn mark_object_lock<'a>(
        &'a self,
        _key_arn: &'a str,
        _caller: &'a Caller,
        _source: &'a Source,
    ) -> KmsFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    /// How many ScheduleKeyDeletion / DisableKey calls hit a marked key, per operation; empty
    /// for a KMS this process does not run.
    fn locked_key_warnings(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }

    /// The audit log's syncs that calls waited for, and their time; `None` for a KMS this
    /// process does not run.
    fn audit_syncs(&self) -> Option<super::AuditSyncs> {
        None
    }
}

/// The CreateKey → CreateAlias → EnableKeyRotation sequence behind
/// [`Kms::create_key_with_alias`], over any way of making KMS JSON calls (`call(op, request)`).
pub(crate) async fn create_key_with_alias_by<F, Fut>(
    call: F,
    alias: &str,
    description: &str,
) -> Result<String, KmsClientError>
where
    F: Fn(&'static str, serde_json::Value) -> Fut,
    Fut: Future<Output = Result<serde_json::Value, KmsClientError>>,
{
    use serde_json::json;
    let arn_of = |v: &serde_json::Value| {
        v["KeyMetadata"]["Arn"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| KmsClientError::Unavailable("KMS answer without KeyMetadata.Arn".into()))
    };
    let created = call("CreateKey", json!({ "Description": description })).await?;
    let arn = arn_of(&created)?;
    match call(
        "CreateAlias",
        json!({ "AliasName": alias, "TargetKeyId": arn }),
    )
    .await
    {
        Ok(_) => {
            call("EnableKeyRotation", json!({ "KeyId": arn })).await?;
            Ok(arn)
        }
        Err(KmsClientError::Kms { type_name, .. }) if type_name == "AlreadyExistsException" => {
            // Lost the race: retire our key (best effort) and use the one the alias names.
            let _ = call(
                "ScheduleKeyDeletion",
                json!({ "KeyId": arn, "PendingWindowInDays": 7 }),
            )
            .await;
            arn_of(&call("DescribeKey", json!({ "KeyId": alias })).await?)
        }
        Err(e) => {
            // The alias is refused (e.g. reserved by a sealgate KMS that does not count us as
            // the service): leave no orphan key behind.
            let _ = call(
                "ScheduleKeyDeletion",
                json!({ "KeyId": arn, "PendingWindowInDays": 7 }),
            )
            .await;
            Err(e)
        }
    }
}

/// One KMS JSON operation run in process (audited like an API call, with `source`), for the
/// few administrative calls the gateway makes for itself.
fn run_json(
    svc: &KmsService,
    op: &'static str,
    request: serde_json::Value,
    caller: &Caller,
    source: Source,
) -> Result<serde_json::Value, KmsError> {
    use super::util::parse;
    let body = request.to_string();
    let body = body.as_bytes();
    svc.run(
        op,
        caller,
        source,
        &new_request_id(),
        |svc, call| match op {
            "CreateKey" => svc.create_key(call, parse(body)?),
            "CreateAlias" => svc.create_alias(call, parse(body)?),
            "EnableKeyRotation" => svc.enable_key_rotation(call, parse(body)?),
            "ScheduleKeyDeletion" => svc.schedule_key_deletion(call, parse(body)?),
            "DescribeKey" => svc.describe_key(call, parse(body)?),
            "Encrypt" => svc.encrypt(call, parse(body)?),
            _ => Err(KmsError::unsupported(format!("{op} is not run in process"))),
        },
    )
}

fn own_caller(c: &Caller) -> Caller {
    Caller {
        arn: c.arn.clone(),
        account: c.account.clone(),
        identity_policy: c.identity_policy.clone(),
        network: c.network,
    }
}

/// Runs blocking KMS work off the async reactor when inside tokio, inline otherwise.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KmsError> + Send + 'static,
) -> Result<T, KmsClientError> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .map_err(|e| KmsClientError::Unavailable(format!("KMS task failed: {e}")))?
            .map_err(KmsClientError::from),
        Err(_) => f().map_err(KmsClientError::from),
    }
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Kms for KmsService {
    fn mark_object_lock<'a>(
        &'a self,
        key_arn: &'a str,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, ()> {
        let (svc, key_arn, caller, source) = (
            self.clone(),
            key_arn.to_string(),
            own_caller(caller),
            source.clone(),
        );
        Box::pin(blocking(move || {
            svc.run(
                "MarkObjectLockKey",
                &caller,
                source,
                &new_request_id(),
                |svc, call| svc.mark_object_lock(call, &key_arn),
            )
        }))
    }

    fn locked_key_warnings(&self) -> Vec<(&'static str, u64)> {
        KmsService::locked_key_warnings(self)
    }

    fn audit_syncs(&self) -> Option<super::AuditSyncs> {
        KmsService::audit_syncs(self)
    }

    fn generate_data_key<'a>(
        &'a self,
        key_id: &'a str,
        context: &'a BTreeMap<String, String>,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, DataKey> {
        let (svc, key_id, ctx, caller, source) = (
            self.clone(),
            key_id.to_string(),
            context.clone(),
            own_caller(caller),
            source.clone(),
        );
        Box::pin(blocking(move || {
            svc.run(
                "GenerateDataKey",
                &caller,
                source,
                &new_request_id(),
                |svc, call| {
                    let (plain, sealed) = svc.new_data_key(
                        call,
                        &key_id,
                        "kms:GenerateDataKey",
                        &ctx,
                        &[],
                        32,
                        None,
                    )?;
                    let mut plaintext = Zeroizing::new([0u8; 32]);
                    plaintext.copy_from_slice(&plain);
                    Ok(DataKey {
                        plaintext,
                        ciphertext_blob: sealed.blob,
                        key_arn: sealed.key_arn,
                    })
                },
            )
        }))
    }

    fn decrypt<'a>(
        &'a self,
        ciphertext_blob: &'a [u8],
        context: &'a BTreeMap<String, String>,
        key_id: Option<&'a str>,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, Decrypted> {
        let (svc, blob, ctx, key_id, caller, source) = (
            self.clone(),
            ciphertext_blob.to_vec(),
            context.clone(),
            key_id.map(str::to_string),
            own_caller(caller),
            source.clone(),
        );
        Box::pin(blocking(move || {
            svc.run(
                "Decrypt",
                &caller,
                source,
                &new_request_id(),
                |svc, call| {
                    let opened = svc.inner.store.with_tx(|tx| {
                        svc.open_blob(
                            tx,
                            call,
                            &blob,
                            key_id.as_deref(),
                            "kms:Decrypt",
                            &ctx,
                            &[],
                            None,
                        )
                    })?;
                    Ok(Decrypted {
                        plaintext: opened.plaintext,
                        key_arn: opened.key_arn,
                    })
                },
            )
        }))
    }

    fn resolve_key_arn<'a>(
        &'a self,
        key_id_or_alias: &'a str,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, String> {
        let (svc, key_ref, caller, source) = (
            self.clone(),
            key_id_or_alias.to_string(),
            own_caller(caller),
            source.clone(),
        );
        Box::pin(blocking(move || {
            svc.run(
                "ResolveKey",
                &caller,
                source,
                &new_request_id(),
                |svc, call| {
                    svc.ensure_service_key(call, &key_ref)?;
                    let key = svc
                        .inner
                        .store
                        .with_tx(|tx| svc.resolve(tx, &key_ref, true))?;
                    call.note_key(&key);
                    Ok(key.arn)
                },
            )
        }))
    }

    fn describe<'a>(
        &'a self,
        key_id: &'a str,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, KeyDescription> {
        let (svc, key_ref, caller, source) = (
            self.clone(),
            key_id.to_string(),
            own_caller(caller),
            source.clone(),
        );
        Box::pin(blocking(move || {
            svc.run(
                "DescribeKey",
                &caller,
                source,
                &new_request_id(),
                |svc, call| {
                    svc.inner.store.with_tx(|tx| {
                        let key = svc.resolve(tx, &key_ref, true)?;
                        call.note_key(&key);
                        svc.authorize(
                            tx,
                            call,
                            "kms:DescribeKey",
                            Some(&key),
                            &BTreeMap::new(),
                            &[],
                        )?;
                        Ok(KeyDescription {
                            key_id: key.key_id,
                            key_arn: key.arn,
                            key_state: key.state.as_str().to_string(),
                            enabled: key.state == db::KeyState::Enabled,
                            aws_managed: key.aws_managed,
                        })
                    })
                },
            )
        }))
    }
    fn encrypt<'a>(
        &'a self,
        key_id: &'a str,
        plaintext: &'a [u8],
        context: &'a BTreeMap<String, String>,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, Vec<u8>> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let request = serde_json::json!({
            "KeyId": key_id,
            "Plaintext": b64.encode(plaintext),
            "EncryptionContext": context,
        });
        let (svc, caller, source) = (self.clone(), own_caller(caller), source.clone());
        Box::pin(async move {
            let answer =
                blocking(move || run_json(&svc, "Encrypt", request, &caller, source)).await?;
            answer["CiphertextBlob"]
                .as_str()
                .and_then(|t| b64.decode(t).ok())
                .ok_or_else(|| KmsClientError::Unavailable("Encrypt answered no blob".into()))
        })
    }

    fn create_key_with_alias<'a>(
        &'a self,
        alias: &'a str,
        description: &'a str,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, String> {
        Box::pin(create_key_with_alias_by(
            move |op, request| {
                let (svc, caller, source) = (self.clone(), own_caller(caller), source.clone());
                blocking(move || run_json(&svc, op, request, &caller, source))
            },
            alias,
            description,
        ))
    }
}
