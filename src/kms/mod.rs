//! sealgate's AWS-KMS-compatible key management service.
//!
//! [`KmsService`] is the whole service as plain Rust: the KMS listener turns each HTTP request
//! into [`api::dispatch`]; the S3 gateway uses it through the [`client::Kms`] trait. Keys live
//! in SQLite or PostgreSQL ([`db`]) with their material sealed under a root key ([`rootkey`]);
//! ciphertext blobs are self-describing ([`blob`]); every call is authorized by
//! [`policy::authorize`] and recorded in the audit log ([`audit`]). Calendar behaviour
//! (rotation, deletion, import expiry) reads a [`clock::Clock`] the tests control, and becomes
//! effective when a background task calls [`KmsService::run_due_work`].
//!
//! Key specs: symmetric (SYMMETRIC_DEFAULT = AES-256-GCM), HMAC, RSA and ECC ([`key_spec`]);
//! asymmetric primitives are in [`asym`].
//!
//! Regions: one KMS serves its home Region and the further Regions it is configured with
//! ([`KmsConfig::replica_regions`]). A [`KmsService`] value is the service as one Region sees
//! it ([`KmsService::in_region`]; the listener picks the Region of each request's SigV4
//! credential scope): keys, ARNs and key lookups are that Region's. Multi-Region keys
//! ([`multi_region`]) have a primary key in one Region and replica keys in others, sharing key
//! material, so a ciphertext made in one Region decrypts in the others.

pub(crate) mod agreement;
pub(crate) mod aliases;
pub mod api;
pub(crate) mod asym;
pub mod audit;
pub(crate) mod audit_chain;
pub(crate) mod audit_repair;
pub(crate) mod blob;
pub mod client;
pub mod clock;
pub(crate) mod crypto;
pub(crate) mod custom_key_stores;
pub(crate) mod data_key_pair;
pub mod db;
pub mod error;
pub mod fleet;
#[cfg(feature = "fuzzing")]
pub(crate) mod fuzzing;
pub(crate) mod gcm;
pub(crate) mod grants;
pub mod hsm;
pub(crate) mod http;
pub(crate) mod import;
pub(crate) mod key_id;
pub(crate) mod key_spec;
pub(crate) mod key_wrap;
pub(crate) mod keys;
pub(crate) mod mac;
pub(crate) mod multi_region;
pub mod object_lock;
pub(crate) mod on_behalf;
pub mod policy;
pub(crate) mod quorum;
pub mod remote;
pub(crate) mod rootkey;
pub(crate) mod rotation;
pub(crate) mod rsa_encryption;
pub(crate) mod service_keys;
pub(crate) mod sign;
pub(crate) mod unseal;
mod util;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use zeroize::Zeroizing;

pub use audit::{AuditSyncs, Source};
pub use client::{DataKey, Decrypted, Kms, KmsClientError};
pub use clock::{Clock, SystemClock, TestClock};
pub use db::{KeyState, KmsDb};
pub use error::{ErrorKind, KmsError};
pub use policy::{Caller, Network};
pub use quorum::QuorumPolicy;
pub use rootkey::RootKeyError;
pub use service_keys::SSE_S3_SERVICE_ALIAS;

use audit::{AuditLog, AuditRecord};
use db::{KeyRecord, Store};
use rootkey::RootKey;

/// Service configuration. `root_key_path` defaults to `<data_dir>/kms-root.key`.
#[derive(Clone)]
pub struct KmsConfig {
    /// The home Region: the gateway's, and the one of keys from before Regions were served.
    pub region: String,
    /// Further Regions this KMS serves (replica keys of multi-Region keys live there).
    pub replica_regions: Vec<String>,
    pub account_id: String,
    pub clock: Arc<dyn Clock>,
    pub root_key_path: Option<PathBuf>,
    /// Digest cadence and rotation size of the audit log.
    pub audit: audit::AuditOptions,
    /// The PKCS#11 module (shared library) of custom key stores; default from
    /// SEALGATE_HSM_MODULE, none when unset (CreateCustomKeyStore then fails).
    pub hsm_module: Option<PathBuf>,
    /// Principal ARNs whose KMS API calls are the gateway service's own (remote gateways):
    /// the only API callers that may use service-owned keys (see `service_keys`).
    pub service_principals: Vec<String>,
    /// Where keys, aliases, grants and policies live (`--kms-db`): SQLite in the data
    /// directory by default, or a PostgreSQL database several KMS nodes share.
    pub db: db::KmsDb,
    /// The two-person rule for administrative operations (see `quorum`); none by default.
    pub quorum: Option<QuorumPolicy>,
}

impl Default for KmsConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            replica_regions: Vec::new(),
            account_id: "000000000000".into(),
            clock: Arc::new(SystemClock),
            root_key_path: None,
            audit: audit::AuditOptions::from_env(),
            hsm_module: std::env::var_os("SEALGATE_HSM_MODULE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            service_principals: Vec::new(),
            db: db::KmsDb::default(),
            quorum: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KmsOpenError {
    #[error("KMS data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    RootKey(#[from] rootkey::RootKeyError),
    #[error("KMS key store: {0}")]
    Store(#[from] db::DbError),
    #[error("KMS audit log: {0}")]
    Audit(std::io::Error),
    #[error("KMS service key: {0}")]
    ServiceKey(KmsError),
}

/// The KMS as one of its Regions sees it. Cheap to clone (two `Arc`s).
#[derive(Clone)]
pub struct KmsService {
    inner: Arc<Inner>,
    /// The Region of this view: one of `inner.regions`.
    region: Arc<str>,
}

struct Inner {
    /// The Regions served, the home Region first.
    regions: Vec<String>,
    account: String,
    clock: Arc<dyn Clock>,
    store: Store,
    /// Set at start, or when enough shares unseal a KMS in sealed mode; never unset.
    root: OnceLock<RootKey>,
    /// Opened with the root key (its digests are signed with a key derived from it).
    audit: OnceLock<AuditLog>,
    audit_path: PathBuf,
    audit_opts: audit::AuditOptions,
    /// Sealed mode: the shares presented so far; `None` once unsealed (or never sealed).
    unsealer: Mutex<Option<unseal::Unsealer>>,
    /// Audit records of calls made while sealed, written first once the log opens.
    sealed_audit: Mutex<Vec<AuditRecord>>,
    hsm_module: Option<PathBuf>,
    service_principals: Vec<String>,
    /// In-memory connection state of custom key stores (DISCONNECTED after a restart).
    key_stores: custom_key_stores::Connections,
    quorum: Option<QuorumPolicy>,
    /// Deletions and disablings of keys marked as protecting locked S3 versions.
    locked_key_warnings: object_lock::LockedKeyWarnings,
}

/// Records kept while sealed; past this, refused calls go unrecorded (a warning is logged)
/// so that callers cannot exhaust memory before an unseal.
const MAX_SEALED_RECORDS: usize = 10_000;

/// What the audit record of one call needs; operations fill it in as they learn it.
pub struct Call<'a> {
    pub caller: &'a Caller,
    pub source: Source,
    pub request_id: String,
    key_arn: Option<String>,
    context: Option<BTreeMap<String, String>>,
    unusable_state: Option<KeyState>,
    /// Filled in by authorization (`quorum::check_quorum`), which sees the call immutably.
    quorum: RefCell<quorum::CallQuorum>,
    /// A warning for the audit record (a marked key disabled or scheduled for deletion).
    warning: Option<String>,
}

impl<'a> Call<'a> {
    fn note_key(&mut self, key: &KeyRecord) {
        self.key_arn = Some(key.arn.clone());
    }

    fn note_context(&mut self, ctx: &BTreeMap<String, String>) {
        if !ctx.is_empty() {
            self.context = Some(ctx.clone());
        }
    }
}

impl KmsService {
    pub fn open(data_dir: &Path, cfg: KmsConfig) -> Result<Self, KmsOpenError> {
        crate::fsutil::create_private_dir_all(data_dir).map_err(|source| {
            KmsOpenError::DataDir {
                path: data_dir.to_path_buf(),
                source,
            }
        })?;
        let root_path = cfg
            .root_key_path
            .clone()
            .unwrap_or_else(|| data_dir.join(rootkey::DEFAULT_FILE_NAME));
        let sealed_path = unseal::sealed_path(data_dir);
        let (root, unsealer) = match unseal::SealedRoot::load(&sealed_path)? {
            Some(_) if root_path.exists() => {
                return Err(RootKeyError::Sealed(
                    sealed_path,
                    format!(
                        "{} exists too: a KMS in sealed mode keeps no plaintext root key; \
                         destroy that file",
                        root_path.display()
                    ),
                )
                .into());
            }
            Some(sealed) => (None, Some(unseal::Unsealer::new(sealed))),
            None => (Some(RootKey::load_or_create(&root_path)?), None),
        };
        let store = Store::open(&cfg.db, data_dir)?;
        let mut regions = vec![cfg.region.clone()];
        for r in cfg.replica_regions {
            if !regions.contains(&r) {
                regions.push(r);
            }
        }
        let svc = Self {
            region: cfg.region.into(),
            inner: Arc::new(Inner {
                regions,
                account: cfg.account_id,
                clock: cfg.clock,
                store,
                root: OnceLock::new(),
                audit: OnceLock::new(),
                audit_path: data_dir.join(audit::DEFAULT_FILE_NAME),
                audit_opts: cfg.audit,
                unsealer: Mutex::new(unsealer),
                sealed_audit: Mutex::new(Vec::new()),
                hsm_module: cfg.hsm_module,
                service_principals: cfg.service_principals,
                key_stores: Default::default(),
                quorum: cfg.quorum,
                locked_key_warnings: Default::default(),
            }),
        };
        if let Some(root) = root {
            svc.install_root(root)?;
        }
        Ok(svc)
    }

    /// Puts the root key to work: opens the audit log (writing what was recorded while
    /// sealed), then adopts service keys of earlier builds.
    fn install_root(&self, root: RootKey) -> Result<(), KmsOpenError> {
        let signer = Arc::new(audit_chain::SoftwareSigner::from_root(&root));
        let log = AuditLog::open(&self.inner.audit_path, self.inner.audit_opts, signer)
            .map_err(KmsOpenError::Audit)?;
        {
            let mut held = self.lock_sealed_audit();
            let _ = self.inner.root.set(root);
            let _ = self.inner.audit.set(log);
            if let Some(log) = self.inner.audit.get() {
                for record in held.drain(..) {
                    if let Err(e) = log.append(&record) {
                        tracing::warn!(error = %e, event = %record.event,
                            "an audit record of the sealed period could not be written");
                    }
                }
            }
        }
        self.adopt_service_keys().map_err(KmsOpenError::ServiceKey)
    }

    fn lock_sealed_audit(&self) -> std::sync::MutexGuard<'_, Vec<AuditRecord>> {
        self.inner
            .sealed_audit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// `Some((presented, threshold))` while the KMS waits for unseal shares.
    pub fn sealed(&self) -> Option<(usize, u8)> {
        if self.inner.root.get().is_some() {
            return None;
        }
        let unsealer = self
            .inner
            .unsealer
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Some(unsealer.as_ref().map_or((0, 0), |u| u.progress()))
    }

    fn sealed_error(&self) -> KmsError {
        let (presented, threshold) = self.sealed().unwrap_or_default();
        KmsError::new(
            ErrorKind::Sealed,
            format!(
                "the KMS is sealed: {presented} of {threshold} shares presented; unseal it with \
                 `sealgate kms unseal`"
            ),
        )
    }

    /// The root key. Every operation runs through [`KmsService::run`], which refuses all of
    /// them while the KMS is sealed, and the root key is never unset once set.
    fn root(&self) -> &RootKey {
        self.inner
            .root
            .get()
            .expect("operations run only once the KMS is unsealed (KmsService::run)")
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The Regions this KMS serves, the home Region first.
    pub fn regions(&self) -> &[String] {
        &self.inner.regions
    }

    /// The service as `region` sees it; `None` when this KMS does not serve `region`.
    pub fn in_region(&self, region: &str) -> Option<KmsService> {
        self.inner
            .regions
            .iter()
            .any(|r| r == region)
            .then(|| KmsService {
                inner: self.inner.clone(),
                region: region.into(),
            })
    }

    /// Whether `key` is one of this Region's keys. Keys in a Region this KMS does not serve
    /// (made before a change of `--region`) belong to the home Region.
    fn owns(&self, key: &KeyRecord) -> bool {
        let region = key.region();
        region == &*self.region
            || (*self.region == self.inner.regions[0]
                && !self.inner.regions.iter().any(|r| r == region))
    }

    pub fn account_id(&self) -> &str {
        &self.inner.account
    }

    pub fn audit_log_path(&self) -> &Path {
        &self.inner.audit_path
    }

    /// Writes a signed digest over the audit records since the last one (call at shutdown).
    pub fn seal_audit_log(&self) {
        if let Some(Err(e)) = self.inner.audit.get().map(AuditLog::seal) {
            tracing::warn!(error = %e, "could not write the audit digest");
        }
    }

    /// While `on`, audit records that cannot be written (full disk) are kept in memory and
    /// written in order once space returns, instead of failing the call. The gateway turns
    /// this on only while it starts (loading the SSE-S3 ring audits its Decrypt calls), so it
    /// can start on a full disk; see docs/AUDIT.md.
    pub fn defer_audit_when_full(&self, on: bool) {
        if let Some(log) = self.inner.audit.get() {
            log.defer_when_full(on);
        }
    }

    /// Makes the audit head durable if it was rewritten since its last sync (docs/AUDIT.md
    /// "The head file": every acknowledged record is already durable in the log).
    pub fn sync_audit_head(&self) -> std::io::Result<()> {
        match self.inner.audit.get() {
            Some(log) => log.sync_head(),
            None => Ok(()),
        }
    }

    /// The audit log's syncs for acknowledged records and their time (`None` before the log
    /// is opened).
    pub fn audit_syncs(&self) -> Option<AuditSyncs> {
        self.inner.audit.get().map(AuditLog::syncs)
    }

    /// Writes deferred audit records; `Ok(n)` with how many still wait (0 when all written).
    pub fn flush_deferred_audit(&self) -> std::io::Result<usize> {
        let Some(log) = self.inner.audit.get() else {
            return Ok(0);
        };
        if log.pending() == 0 {
            return Ok(0);
        }
        log.flush_pending()?;
        Ok(log.pending())
    }

    /// Appends to the audit log, or keeps the record until the log opens (sealed).
    fn append_audit(&self, record: AuditRecord) -> std::io::Result<()> {
        if let Some(log) = self.inner.audit.get() {
            return log.append(&record);
        }
        let mut held = self.lock_sealed_audit();
        match self.inner.audit.get() {
            Some(log) => log.append(&record),
            None if held.len() < MAX_SEALED_RECORDS => {
                held.push(record);
                Ok(())
            }
            None => {
                tracing::warn!(event = %record.event, principal = %record.principal,
                    "KMS sealed: too many calls held for the audit log; this one goes unrecorded");
                Ok(())
            }
        }
    }

    /// Runs one operation and writes its audit record. A failure to write the audit record
    /// turns the answer into KMSInternalException: an unaudited key use is not acknowledged.
    /// While the KMS is sealed every operation fails (503) without running.
    pub fn run<T>(
        &self,
        operation: &str,
        caller: &Caller,
        source: Source,
        request_id: &str,
        op: impl FnOnce(&Self, &mut Call<'_>) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        self.run_call(operation, caller, source, request_id, |svc, call| {
            if svc.inner.root.get().is_none() {
                return Err(svc.sealed_error());
            }
            op(svc, call)
        })
    }

    /// [`KmsService::run`] without the sealed check (for `Unseal`).
    fn run_call<T>(
        &self,
        operation: &str,
        caller: &Caller,
        source: Source,
        request_id: &str,
        op: impl FnOnce(&Self, &mut Call<'_>) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let mut call = Call {
            caller,
            source,
            request_id: request_id.to_string(),
            key_arn: None,
            context: None,
            unusable_state: None,
            quorum: RefCell::default(),
            warning: None,
        };
        let mut result = op(self, &mut call);
        if let Err(e) = self.record_new_approval_request(call.quorum.get_mut()) {
            result = Err(e);
        }
        self.audit(operation, call, result.as_ref().err())?;
        result
    }

    /// Writes the audit record of one finished call.
    fn audit(
        &self,
        operation: &str,
        call: Call<'_>,
        error: Option<&KmsError>,
    ) -> Result<(), KmsError> {
        let now = self.inner.clock.now();
        let record = AuditRecord {
            time: audit::rfc3339(now),
            epoch: clock::epoch_secs(now),
            request_id: call.request_id,
            event: operation.to_string(),
            principal: call.caller.arn.clone(),
            source_ip: call.caller.network.map(|n| n.source_ip),
            source: call.source,
            key_arn: call.key_arn,
            encryption_context: call.context,
            outcome: if error.is_none() {
                "success"
            } else {
                "failure"
            },
            error_code: error.map(|e| e.type_name().to_string()),
            unusable_key_state: call.unusable_state.map(|s| s.as_str().to_string()),
            approval_request: call.quorum.into_inner().approval,
            warning: call.warning,
        };
        self.append_audit(record)
            .map_err(|e| KmsError::internal(format!("audit log: {e}")))
    }

    fn now(&self) -> f64 {
        clock::epoch_secs(self.inner.clock.now())
    }

    fn key_arn(&self, key_id: &str) -> String {
        self.key_arn_in(&self.region, key_id)
    }

    fn key_arn_in(&self, region: &str, key_id: &str) -> String {
        format!("arn:aws:kms:{region}:{}:key/{key_id}", self.inner.account)
    }

    fn alias_arn(&self, alias: &str) -> String {
        format!("arn:aws:kms:{}:{}:{alias}", self.region, self.inner.account)
    }

    /// Resolves a key id, key ARN, alias name or alias ARN (the latter two only when
    /// `aliases_ok`) to the key record, with AWS's NotFound messages.
    fn resolve(
        &self,
        tx: &dyn db::Tx,
        key_ref: &str,
        aliases_ok: bool,
    ) -> Result<KeyRecord, KmsError> {
        let invalid = || KmsError::not_found(format!("Invalid keyId '{key_ref}'"));
        let local = if let Some(rest) = key_ref.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            if parts.len() != 5 || parts[1] != "kms" {
                return Err(KmsError::new(
                    ErrorKind::InvalidArn,
                    format!("Invalid arn {key_ref}"),
                ));
            }
            if parts[2] != &*self.region {
                return Err(KmsError::not_found(format!("Invalid arn {}", parts[2])));
            }
            if parts[3] != self.inner.account {
                return Err(KmsError::not_found(format!(
                    "Key '{key_ref}' does not exist"
                )));
            }
            parts[4]
        } else {
            key_ref
        };
        if local.starts_with("alias/") {
            if !aliases_ok {
                return Err(invalid());
            }
            return match db::get_alias(tx, local)? {
                Some(a) => self.load_key(tx, &a.key_id),
                None if local == aliases::AWS_S3_ALIAS => {
                    self.create_aws_managed(tx, aliases::AWS_S3_ALIAS)
                }
                None => Err(KmsError::not_found(format!(
                    "Alias {} is not found.",
                    self.alias_arn(local)
                ))),
            };
        }
        let id = local.strip_prefix("key/").unwrap_or(local);
        if key_id::to_bytes(id).is_none() {
            return Err(invalid());
        }
        self.load_key(tx, id)
    }

    /// The key `key_id` as this Region has it, if it has one (no expiry applied).
    fn find_key(&self, tx: &dyn db::Tx, key_id: &str) -> Result<Option<KeyRecord>, KmsError> {
        Ok(match db::get_key_in(tx, key_id, &self.region)? {
            Some(k) => Some(k),
            None => db::get_key(tx, key_id)?.filter(|k| self.owns(k)),
        })
    }

    /// The key `key_id` of this Region.
    fn load_key(&self, tx: &dyn db::Tx, key_id: &str) -> Result<KeyRecord, KmsError> {
        let mut key = self.find_key(tx, key_id)?.ok_or_else(|| {
            KmsError::not_found(format!("Key '{}' does not exist", self.key_arn(key_id)))
        })?;
        import::apply_expiry(self, tx, &mut key)?;
        Ok(key)
    }

    /// Asks the policy module; a denial is AccessDeniedException.
    fn authorize(
        &self,
        tx: &dyn db::Tx,
        call: &Call<'_>,
        action: &str,
        key: Option<&KeyRecord>,
        ctx: &BTreeMap<String, String>,
        grant_tokens: &[String],
    ) -> Result<(), KmsError> {
        // AWS-managed and service keys have a fixed policy: no principal manages them, and
        // only their service uses them (see `service_keys`).
        if let Some(k) = key
            && self.managed_key_rule(call, action, k)? == service_keys::ManagedRule::Service
        {
            return Ok(());
        }
        let grants = match key {
            Some(k) => grants::policy_grants(tx, k)?,
            None => Vec::new(),
        };
        // The gateway acting for an S3 request, as AWS S3 calls KMS with a forward access
        // session: key policies see the S3 caller, through S3.
        let via_service = matches!(call.source, Source::S3Gateway { .. })
            .then(|| format!("s3.{}.amazonaws.com", self.region));
        let req = policy::AuthzRequest {
            caller: call.caller,
            action,
            key_arn: key.map(|k| k.arn.as_str()),
            key_policy: key.map(|k| k.policy.as_str()),
            grants: &grants,
            encryption_context: ctx,
            grant_tokens,
            via_service: via_service.as_deref(),
        };
        decide(&req)?;
        self.check_quorum(tx, call, action, key.map(|k| k.arn.as_str()))
    }

    /// Authorizes an action on no key (the sealgate admin actions): the caller's identity
    /// policy, or the account's root.
    fn authorize_account_action(&self, call: &Call<'_>, action: &str) -> Result<(), KmsError> {
        decide(&policy::AuthzRequest {
            caller: call.caller,
            action,
            key_arn: None,
            key_policy: None,
            grants: &[],
            encryption_context: &BTreeMap::new(),
            grant_tokens: &[],
            via_service: None,
        })
    }

    /// Resolve + authorize for operations without an encryption context.
    fn key_for(
        &self,
        tx: &dyn db::Tx,
        call: &mut Call<'_>,
        key_ref: &str,
        aliases_ok: bool,
        action: &str,
    ) -> Result<KeyRecord, KmsError> {
        let key = self.resolve(tx, key_ref, aliases_ok)?;
        call.note_key(&key);
        self.authorize(tx, call, action, Some(&key), &BTreeMap::new(), &[])?;
        Ok(key)
    }

    /// The state rule for cryptographic use (Encrypt, Decrypt, ReEncrypt, GenerateDataKey*,
    /// CreateGrant). A refused use is flagged in the audit record.
    fn check_usable(&self, call: &mut Call<'_>, key: &KeyRecord) -> Result<(), KmsError> {
        let err = match key.state {
            KeyState::Enabled => return Ok(()),
            KeyState::Disabled => {
                KmsError::new(ErrorKind::Disabled, format!("{} is disabled.", key.arn))
            }
            KeyState::PendingDeletion => {
                KmsError::invalid_state(format!("{} is pending deletion.", key.arn))
            }
            KeyState::PendingImport => {
                KmsError::invalid_state(format!("{} is pending import.", key.arn))
            }
        };
        call.unusable_state = Some(key.state);
        Err(err)
    }

    fn check_not_pending_deletion(&self, key: &KeyRecord) -> Result<(), KmsError> {
        if key.state == KeyState::PendingDeletion {
            return Err(KmsError::invalid_state(format!(
                "{} is pending deletion.",
                key.arn
            )));
        }
        Ok(())
    }

    /// Customers may not manage AWS-managed keys (policy, state, rotation, tags, deletion).
    fn check_customer_managed(&self, key: &KeyRecord) -> Result<(), KmsError> {
        if key.aws_managed {
            return Err(KmsError::unsupported(format!(
                "{} is an AWS managed key; this operation is not allowed on AWS managed keys.",
                key.arn
            )));
        }
        Ok(())
    }

    /// Generates and stores a new backing key version; returns its material id.
    fn new_material(
        &self,
        tx: &dyn db::Tx,
        key_id: &str,
        rotation_type: Option<&str>,
    ) -> Result<String, KmsError> {
        let material_id = hex::encode(gcm::random_array::<32>());
        let secret = gcm::random_key();
        let row = db::MaterialRow {
            key_id: key_id.to_string(),
            material_id: material_id.clone(),
            sealed: Some(self.seal_material(key_id, &material_id, secret.as_ref())),
            created: self.now(),
            rotation_type: rotation_type.map(str::to_string),
            imported: false,
            fingerprint: None,
        };
        db::put_material(tx, &row)?;
        Ok(material_id)
    }

    fn seal_material(&self, key_id: &str, material_id: &str, secret: &[u8]) -> Vec<u8> {
        self.root().seal(
            format!("material:{key_id}:{material_id}").as_bytes(),
            secret,
        )
    }

    /// Unseals one backing key version.
    fn backing_key(
        &self,
        tx: &dyn db::Tx,
        key: &KeyRecord,
        material_id: &str,
    ) -> Result<Zeroizing<[u8; 32]>, KmsError> {
        let opened = self.secret_material(tx, key, material_id)?;
        let mut out = Zeroizing::new([0u8; 32]);
        if opened.len() != 32 {
            return Err(KmsError::internal(
                "stored key material has the wrong length",
            ));
        }
        out.copy_from_slice(&opened);
        Ok(out)
    }

    /// Unseals one version of a key's secret material, whatever its length (HMAC keys).
    fn secret_material(
        &self,
        tx: &dyn db::Tx,
        key: &KeyRecord,
        material_id: &str,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let row = db::get_material(tx, &key.key_id, material_id)?;
        let Some(sealed) = row.and_then(|r| r.sealed) else {
            // Deleted imported material, or a blob naming material this key never had.
            return Err(match key.origin {
                db::Origin::External => {
                    KmsError::invalid_state(format!("{} is pending import.", key.arn))
                }
                db::Origin::AwsKms | db::Origin::AwsCloudHsm => KmsError::invalid_ciphertext(),
            });
        };
        self.root()
            .open(
                format!("material:{}:{material_id}", key.key_id).as_bytes(),
                &sealed,
            )
            .ok_or_else(|| KmsError::internal("key material failed to unseal under the root key"))
    }

    /// Background work: due automatic rotations, passed deletion windows, expired imported
    /// material and import parameters. Returns the number of keys changed.
    ///
    /// Several KMS nodes on one database all run this; each change happens once. The key is
    /// read again, and the work decided again, inside the transaction that does it: a node
    /// that lost the race (the store serializes the two transactions) finds the key rotated,
    /// purged or no longer expiring, does nothing and audits nothing.
    pub fn run_due_work(&self) -> Result<usize, KmsError> {
        if self.sealed().is_some() {
            return Ok(0);
        }
        let caller = Caller {
            arn: format!("arn:aws:iam::{}:root", self.inner.account),
            account: self.inner.account.clone(),
            identity_policy: None,
            network: None,
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut changed = 0;
        let keys = self
            .inner
            .store
            .with_tx(|tx| Ok(db::all_incarnations(tx)?))?;
        let now = self.now();
        for key in keys {
            let Some(listed) = due_event(&key, now) else {
                continue;
            };
            let done = self.inner.store.with_tx(|tx| {
                let Some(mut fresh) = db::get_key_in(tx, &key.key_id, key.region())? else {
                    return Ok(None);
                };
                let Some(event) = due_event(&fresh, now) else {
                    return Ok(None);
                };
                match event {
                    DueEvent::Delete => {
                        if fresh.origin == db::Origin::AwsCloudHsm {
                            self.destroy_hsm_key(tx, &fresh.key_id);
                        }
                        if fresh.replica {
                            db::purge_replica(tx, &fresh)?
                        } else {
                            db::purge_key(tx, &fresh)?
                        }
                    }
                    DueEvent::Rotate => rotation::rotate(self, tx, &mut fresh, "AUTOMATIC")?,
                    DueEvent::ExpireMaterial => import::apply_expiry(self, tx, &mut fresh)?,
                }
                Ok(Some(event))
            });
            let call = Call {
                caller: &caller,
                source: Source::Internal,
                request_id: request_id.clone(),
                key_arn: Some(key.arn.clone()),
                context: None,
                unusable_state: None,
                quorum: RefCell::default(),
                warning: None,
            };
            match done {
                Ok(None) => {}
                Ok(Some(event)) => {
                    changed += 1;
                    self.audit(event.name(), call, None)?;
                }
                Err(e) => {
                    self.audit(listed.name(), call, Some(&e))?;
                    return Err(e);
                }
            }
        }
        // Expired import parameters linger a week so a late ImportKeyMaterial still gets
        // ExpiredImportTokenException rather than InvalidImportTokenException.
        self.inner.store.with_tx(|tx| {
            Ok(db::delete_expired_import_params(
                tx,
                now - 7.0 * clock::DAY_SECS,
            )?)
        })?;
        Ok(changed)
    }
}

/// Calendar work a key may be due for (see [`KmsService::run_due_work`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DueEvent {
    Delete,
    Rotate,
    ExpireMaterial,
}

impl DueEvent {
    /// The audit event name.
    fn name(self) -> &'static str {
        match self {
            DueEvent::Delete => "DeleteKey",
            DueEvent::Rotate => "RotateKey",
            DueEvent::ExpireMaterial => "DeleteExpiredKeyMaterial",
        }
    }
}

/// A replica key is due only for its own deletion: rotation and expiry of the material it
/// shares happen through its primary key.
fn due_event(key: &KeyRecord, now: f64) -> Option<DueEvent> {
    if key.state == KeyState::PendingDeletion && key.deletion_date.is_some_and(|d| d <= now) {
        Some(DueEvent::Delete)
    } else if key.replica {
        None
    } else if rotation::is_due(key, now) {
        Some(DueEvent::Rotate)
    } else if import::is_expired(key, now) && key.current_material.is_some() {
        Some(DueEvent::ExpireMaterial)
    } else {
        None
    }
}

/// The policy decision as a result: a denial is AccessDeniedException.
fn decide(req: &policy::AuthzRequest<'_>) -> Result<(), KmsError> {
    match policy::authorize(req) {
        policy::Decision::Allow => Ok(()),
        policy::Decision::Deny(msg) => Err(KmsError::new(ErrorKind::AccessDenied, msg)),
    }
}
