//! The SSE-S3 master key ring: versioned 256-bit keys that seal SSE-S3 object keys, rooted in
//! the KMS.
//!
//! Each version is stored only wrapped by a service-owned KMS key ([`SERVICE_KEY_ALIAS`]: a
//! sealgate KMS creates it on the service's first use, with `KeyManager: AWS` and automatic
//! rotation, and lets nobody but the gateway service manage or use it — see
//! `kms::service_keys`), as a system record `system/sse-s3/v<N>` in
//! the object store, so every gateway sharing a backend reads every SSE-S3 object. The wrapping
//! is a KMS data key (GenerateDataKey, or Encrypt when migrating a key the gateway already had)
//! under an encryption context naming the purpose and the version, so a record cannot be
//! replayed as another version. Plaintext versions live only in memory (zeroized on drop);
//! they are unwrapped with Decrypt when the ring loads and when an object names a version this
//! gateway has not seen (another gateway created it). Sealing and opening an SSE-S3 object key
//! costs no KMS call.
//!
//! Versions never change once written (records are created with `PutMode::Create`, so two
//! gateways racing to create a version agree on the first writer's), and objects sealed under
//! an old version stay readable after a new one becomes current.
//!
//! Earlier builds kept the ring as raw `keys/sse-s3/v<N>.key` files in the data dir; those are
//! wrapped, stored, verified and then removed when the ring first loads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::kms::{Caller, Kms, KmsClientError, SSE_S3_SERVICE_ALIAS, Source};
use crate::store::{Store, StoreError};

/// The service-owned KMS key that wraps the ring.
pub(crate) const SERVICE_KEY_ALIAS: &str = SSE_S3_SERVICE_ALIAS;
/// Used only with a KMS that does not create the service key itself (AWS KMS).
const SERVICE_KEY_DESCRIPTION: &str = "sealgate: wraps the SSE-S3 master keys (service-owned; deleting it makes every SSE-S3 object unreadable)";
/// The store area of the wrapped versions.
const AREA: &str = "sse-s3";
const RECORD_FORMAT: u32 = 1;
/// Encryption-context entries that bind a wrapped version to its purpose and number.
const CTX_PURPOSE: &str = "sealgate:purpose";
const PURPOSE: &str = "sse-s3-master-key";
const CTX_VERSION: &str = "sealgate:version";

pub(crate) type MasterKey = Arc<Zeroizing<[u8; 32]>>;

#[derive(Debug, thiserror::Error)]
pub(crate) enum MasterError {
    #[error("KMS: {0}")]
    Kms(#[from] KmsClientError),
    #[error(
        "the KMS refused the gateway's use of its service key {SERVICE_KEY_ALIAS} ({0}); \
         with a remote sealgate KMS, list the principal the gateway signs with in that KMS's \
         kms_service_principals"
    )]
    NotService(KmsClientError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("SSE-S3 master key version {0} does not exist")]
    Missing(u32),
    #[error("SSE-S3 master key record {0}: {1}")]
    Corrupt(String, String),
    #[error("legacy SSE-S3 key ring {0}: {1}")]
    Legacy(String, std::io::Error),
}

/// `system/sse-s3/v<N>`: one wrapped version.
#[derive(Serialize, Deserialize)]
struct WrappedRecord {
    format: u32,
    version: u32,
    key_arn: String,
    /// The KMS ciphertext blob, base64.
    blob: String,
}

pub(crate) struct MasterRing {
    store: Store,
    kms: Arc<dyn Kms>,
    /// The gateway's own identity at the KMS (the embedded KMS audits it; a remote KMS sees
    /// the gateway's signing credential instead).
    caller: Caller,
    /// The pre-KMS local ring to migrate, if any.
    legacy_dir: Option<PathBuf>,
    keys: RwLock<BTreeMap<u32, MasterKey>>,
    /// Serialises loading, creation and migration within this process.
    load: tokio::sync::Mutex<()>,
}

fn record_name(version: u32) -> String {
    format!("v{version}")
}

fn context(version: u32) -> BTreeMap<String, String> {
    BTreeMap::from([
        (CTX_PURPOSE.to_owned(), PURPOSE.to_owned()),
        (CTX_VERSION.to_owned(), version.to_string()),
    ])
}

/// The ring's calls are the service's own use of its key, not an S3 request's.
fn source(version: u32) -> Source {
    Source::Service {
        resource: Some(format!("system/{AREA}/{}", record_name(version))),
    }
}

fn is_not_found(e: &KmsClientError) -> bool {
    e.type_name() == "NotFoundException"
}

/// A refusal of the service key names the likely cause: a remote KMS that does not know the
/// gateway's principal as the service identity.
fn service_err(e: KmsClientError) -> MasterError {
    match e.type_name() {
        "AccessDeniedException" | "NotAuthorizedException" => MasterError::NotService(e),
        _ => MasterError::Kms(e),
    }
}

impl MasterRing {
    /// A ring over `store`; nothing is read until [`MasterRing::load`] or first use.
    pub(crate) fn new(
        store: Store,
        kms: Arc<dyn Kms>,
        caller: Caller,
        legacy_dir: Option<PathBuf>,
    ) -> MasterRing {
        MasterRing {
            store,
            kms,
            caller,
            legacy_dir,
            keys: RwLock::new(BTreeMap::new()),
            load: tokio::sync::Mutex::new(()),
        }
    }

    /// Migrates a legacy local ring, creates version 1 if the store has none, and unwraps
    /// every stored version. Run at start so a KMS or store problem stops the gateway early.
    pub(crate) async fn load(&self) -> Result<(), MasterError> {
        let _guard = self.load.lock().await;
        self.migrate_legacy().await?;
        let mut versions = self.stored_versions().await?;
        if versions.is_empty() {
            self.create_version(1).await?;
            versions = self.stored_versions().await?;
        }
        for v in versions {
            if !self.keys.read().expect("ring lock").contains_key(&v) {
                let key = self.unwrap_stored(v).await?;
                self.keys.write().expect("ring lock").insert(v, key);
            }
        }
        Ok(())
    }

    /// The version that seals new objects, with its key (loading the ring on first use).
    pub(crate) async fn current(&self) -> Result<(u32, MasterKey), MasterError> {
        if let Some((v, k)) = self.newest() {
            return Ok((v, k));
        }
        self.load().await?;
        self.newest().ok_or(MasterError::Missing(1))
    }

    /// A version's key; one this gateway has not seen yet is fetched and unwrapped.
    pub(crate) async fn get(&self, version: u32) -> Result<MasterKey, MasterError> {
        if let Some(k) = self.keys.read().expect("ring lock").get(&version) {
            return Ok(k.clone());
        }
        let _guard = self.load.lock().await;
        if let Some(k) = self.keys.read().expect("ring lock").get(&version) {
            return Ok(k.clone());
        }
        let key = self.unwrap_stored(version).await?;
        self.keys
            .write()
            .expect("ring lock")
            .insert(version, key.clone());
        Ok(key)
    }

    #[cfg(test)]
    /// Adds a new current version (the next number after the highest stored one). Old
    /// versions stay, so objects sealed under them remain readable.
    pub(crate) async fn rotate(&self) -> Result<u32, MasterError> {
        let _guard = self.load.lock().await;
        let next = self.stored_versions().await?.last().map_or(1, |v| v + 1);
        self.create_version(next).await?;
        if !self.keys.read().expect("ring lock").contains_key(&next) {
            let key = self.unwrap_stored(next).await?;
            self.keys.write().expect("ring lock").insert(next, key);
        }
        Ok(next)
    }

    fn newest(&self) -> Option<(u32, MasterKey)> {
        self.keys
            .read()
            .expect("ring lock")
            .iter()
            .next_back()
            .map(|(v, k)| (*v, k.clone()))
    }

    async fn stored_versions(&self) -> Result<Vec<u32>, MasterError> {
        let mut versions: Vec<u32> = self
            .store
            .list_system(AREA)
            .await?
            .iter()
            .filter_map(|n| n.strip_prefix('v')?.parse().ok())
            .collect();
        versions.sort_unstable();
        Ok(versions)
    }

    /// The service key's ARN. A sealgate KMS (embedded, or remote with this gateway's
    /// principal listed as the service's) creates it on this first use; a KMS that answers
    /// NotFound instead (AWS KMS) gets an ordinary key made through its API.
    async fn service_key(&self, version: u32) -> Result<String, KmsClientError> {
        let src = source(version);
        match self
            .kms
            .resolve_key_arn(SERVICE_KEY_ALIAS, &self.caller, &src)
            .await
        {
            Err(e) if is_not_found(&e) => {
                let arn = self
                    .kms
                    .create_key_with_alias(
                        SERVICE_KEY_ALIAS,
                        SERVICE_KEY_DESCRIPTION,
                        &self.caller,
                        &src,
                    )
                    .await?;
                tracing::info!(key = %arn, "created the SSE-S3 service key {SERVICE_KEY_ALIAS}");
                Ok(arn)
            }
            other => other,
        }
    }

    /// Creates version `version` from a fresh KMS data key and keeps it in memory; when
    /// another gateway stored that version first, theirs stands (ours is dropped) and is
    /// unwrapped when needed.
    async fn create_version(&self, version: u32) -> Result<(), MasterError> {
        let ctx = context(version);
        let src = source(version);
        let key_arn = self.service_key(version).await.map_err(service_err)?;
        let dk = self
            .kms
            .generate_data_key(&key_arn, &ctx, &self.caller, &src)
            .await
            .map_err(service_err)?;
        if self
            .store_wrapped(version, &dk.key_arn, &dk.ciphertext_blob)
            .await?
        {
            self.keys
                .write()
                .expect("ring lock")
                .insert(version, Arc::new(dk.plaintext.clone()));
        }
        Ok(())
    }

    /// Writes a wrapped version; `Ok(false)` when the record already existed.
    async fn store_wrapped(
        &self,
        version: u32,
        key_arn: &str,
        blob: &[u8],
    ) -> Result<bool, MasterError> {
        let record = WrappedRecord {
            format: RECORD_FORMAT,
            version,
            key_arn: key_arn.to_owned(),
            blob: STANDARD.encode(blob),
        };
        let body = serde_json::to_vec(&record)
            .map_err(|e| MasterError::Corrupt(record_name(version), e.to_string()))?;
        match self
            .store
            .create_system(AREA, &record_name(version), Bytes::from(body))
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::AlreadyExists) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn unwrap_stored(&self, version: u32) -> Result<MasterKey, MasterError> {
        let name = record_name(version);
        let body = self
            .store
            .get_system(AREA, &name)
            .await?
            .ok_or(MasterError::Missing(version))?;
        let record: WrappedRecord = serde_json::from_slice(&body)
            .map_err(|e| MasterError::Corrupt(name.clone(), e.to_string()))?;
        if record.format != RECORD_FORMAT || record.version != version {
            return Err(MasterError::Corrupt(
                name,
                format!("format {} version {}", record.format, record.version),
            ));
        }
        let blob = STANDARD
            .decode(&record.blob)
            .map_err(|e| MasterError::Corrupt(name.clone(), e.to_string()))?;
        let opened = self
            .kms
            .decrypt(
                &blob,
                &context(version),
                Some(&record.key_arn),
                &self.caller,
                &source(version),
            )
            .await
            .map_err(service_err)?;
        let key: [u8; 32] = opened
            .plaintext
            .as_slice()
            .try_into()
            .map_err(|_| MasterError::Corrupt(name, "unwrapped key is not 32 bytes".into()))?;
        Ok(Arc::new(Zeroizing::new(key)))
    }

    /// Wraps and stores each `v<N>.key` of the pre-KMS local ring, checks the stored record
    /// unwraps to the same key, and only then removes the plaintext file.
    async fn migrate_legacy(&self) -> Result<(), MasterError> {
        let Some(dir) = &self.legacy_dir else {
            return Ok(());
        };
        let legacy = |e| MasterError::Legacy(dir.display().to_string(), e);
        let found = match read_legacy(dir) {
            Ok(found) => found,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(legacy(e)),
        };
        for (version, path, key) in found {
            let ctx = context(version);
            let src = source(version);
            let arn = self.service_key(version).await.map_err(service_err)?;
            let blob = self
                .kms
                .encrypt(&arn, &key[..], &ctx, &self.caller, &src)
                .await
                .map_err(service_err)?;
            self.store_wrapped(version, &arn, &blob).await?;
            let stored = self.unwrap_stored(version).await?;
            if stored[..] != key[..] {
                return Err(MasterError::Corrupt(
                    record_name(version),
                    format!(
                        "the stored version differs from {}; the local file is kept",
                        path.display()
                    ),
                ));
            }
            std::fs::remove_file(&path).map_err(legacy)?;
            tracing::info!(version, "moved the SSE-S3 master key under the KMS");
        }
        // The directory is ours; leave it if something else was put there.
        let _ = std::fs::remove_dir(dir);
        Ok(())
    }
}

/// One `v<N>.key` file of a pre-KMS ring: `(version, path, key)`.
type LegacyVersion = (u32, PathBuf, Zeroizing<[u8; 32]>);

/// Every `v<N>.key` in `dir`, by version.
fn read_legacy(dir: &Path) -> std::io::Result<Vec<LegacyVersion>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(version) = name
            .to_str()
            .and_then(|n| n.strip_prefix('v'))
            .and_then(|n| n.strip_suffix(".key"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let bytes = Zeroizing::new(std::fs::read(entry.path())?);
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            std::io::Error::other(format!("{} is not 32 bytes", entry.path().display()))
        })?;
        found.push((version, entry.path(), Zeroizing::new(key)));
    }
    found.sort_by_key(|(v, _, _)| *v);
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::{KmsConfig, KmsService, SystemClock};

    fn service(dir: &Path) -> Arc<dyn Kms> {
        Arc::new(
            KmsService::open(
                &dir.join("kms"),
                KmsConfig {
                    region: "us-east-1".into(),
                    account_id: "000000000000".into(),
                    clock: Arc::new(SystemClock),
                    root_key_path: None,
                    ..KmsConfig::default()
                },
            )
            .unwrap(),
        )
    }

    fn root() -> Caller {
        Caller {
            arn: "arn:aws:iam::000000000000:root".into(),
            account: "000000000000".into(),
            identity_policy: None,
            network: None,
        }
    }

    #[tokio::test]
    async fn versions_are_wrapped_in_the_store_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let kms = service(dir.path());
        let store = Store::local(&dir.path().join("objects")).unwrap();
        let ring = MasterRing::new(store.clone(), kms.clone(), root(), None);
        let (v1, k1) = ring.current().await.unwrap();
        assert_eq!(v1, 1);
        assert_eq!(ring.rotate().await.unwrap(), 2);
        let raw = store.get_system(AREA, "v1").await.unwrap().unwrap();
        assert!(
            !raw.windows(32).any(|w| w == &k1[..]),
            "the stored record holds the plaintext key"
        );
        // A second ring (another gateway on the same store) sees both versions.
        let other = MasterRing::new(store.clone(), kms, root(), None);
        assert_eq!(other.current().await.unwrap().0, 2);
        assert_eq!(other.get(1).await.unwrap()[..], k1[..]);
        assert_ne!(other.get(2).await.unwrap()[..], k1[..]);
        assert!(matches!(other.get(3).await, Err(MasterError::Missing(3))));
    }

    #[tokio::test]
    async fn legacy_files_are_migrated_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = dir.path().join("keys/sse-s3");
        std::fs::create_dir_all(&legacy).unwrap();
        std::fs::write(legacy.join("v1.key"), [7u8; 32]).unwrap();
        std::fs::write(legacy.join("v2.key"), [9u8; 32]).unwrap();
        let store = Store::local(&dir.path().join("objects")).unwrap();
        let ring = MasterRing::new(store, service(dir.path()), root(), Some(legacy.clone()));
        ring.load().await.unwrap();
        assert!(!legacy.exists());
        let (v, k) = ring.current().await.unwrap();
        assert_eq!((v, &k[..]), (2, &[9u8; 32][..]));
        assert_eq!(ring.get(1).await.unwrap()[..], [7u8; 32]);
    }
}
