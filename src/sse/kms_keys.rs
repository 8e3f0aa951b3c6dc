//! The gateway's use of the KMS for SSE-KMS: data keys per object, or per bucket with S3 Bucket
//! Keys. KMS failures pass up unchanged ([`SseError::Kms`]); the S3 front end turns them into
//! the errors AWS surfaces (`KMS.<Exception>`, 503 when the KMS cannot be reached).
//!
//! A bucket key is a KMS data key generated for the bucket ARN and cached for a bounded time per
//! (KMS key, context, caller), as AWS does, so a burst of writes costs one GenerateDataKey and a
//! burst of reads one Decrypt. The object key of every object is still fresh; only the KEK
//! material is shared, and the per-object HKDF salt keeps each KEK distinct.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::SseError;
use crate::kms::{Caller, DataKey, Kms, Source};

/// How long a bucket key is reused (AWS: "a limited time").
pub(crate) const BUCKET_KEY_TTL: Duration = Duration::from_secs(300);
/// Bound on cached bucket keys, so a hostile caller cannot grow the caches without limit.
const MAX_CACHED: usize = 4096;

type Material = Arc<Zeroizing<[u8; 32]>>;

pub(crate) struct KmsKeys {
    kms: Arc<dyn Kms>,
    /// KMS keys this process has marked as protecting Object Lock-protected versions.
    lock_marked: Mutex<HashSet<String>>,
    issued: Mutex<HashMap<String, (Instant, Arc<DataKey>)>>,
    opened: Mutex<HashMap<String, (Instant, Material)>>,
}

fn cache_key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

fn fresh<T: Clone>(map: &Mutex<HashMap<String, (Instant, T)>>, k: &str) -> Option<T> {
    let map = map.lock().expect("cache lock");
    map.get(k)
        .filter(|(at, _)| at.elapsed() < BUCKET_KEY_TTL)
        .map(|(_, v)| v.clone())
}

fn remember<T>(map: &Mutex<HashMap<String, (Instant, T)>>, k: String, v: T) {
    let mut map = map.lock().expect("cache lock");
    if map.len() >= MAX_CACHED {
        map.retain(|_, (at, _)| at.elapsed() < BUCKET_KEY_TTL);
        if map.len() >= MAX_CACHED {
            map.clear();
        }
    }
    map.insert(k, (Instant::now(), v));
}

/// Whose permission a cached key stands for: the caller and, since key policies may test
/// `aws:SourceIp` and `aws:SecureTransport`, where its request came from. A caller's bucket
/// key fetched over TLS from one address is not handed to the same caller on another.
fn who(caller: &Caller) -> String {
    match caller.network {
        Some(n) => format!("{} {} {}", caller.arn, n.source_ip, n.secure_transport),
        None => caller.arn.clone(),
    }
}

impl KmsKeys {
    /// Marks `key_arn` at the KMS as the key of an Object Lock-protected version (docs/KMS.md
    /// "Keys of locked objects"), once per key per process. The write it follows has happened,
    /// so a failure is logged, not returned (the next locked write tries again).
    pub(crate) async fn mark_object_lock(&self, key_arn: &str, caller: &Caller, source: &Source) {
        if self
            .lock_marked
            .lock()
            .expect("mark lock")
            .contains(key_arn)
        {
            return;
        }
        match self.kms.mark_object_lock(key_arn, caller, source).await {
            Ok(()) => {
                let mut marked = self.lock_marked.lock().expect("mark lock");
                if marked.len() >= MAX_CACHED {
                    marked.clear();
                }
                marked.insert(key_arn.to_owned());
            }
            Err(e) => {
                tracing::warn!(key = key_arn, error = %e, "KMS key not marked as protecting locked objects")
            }
        }
    }

    pub(crate) fn new(kms: Arc<dyn Kms>) -> KmsKeys {
        KmsKeys {
            kms,
            lock_marked: Mutex::new(HashSet::new()),
            issued: Mutex::new(HashMap::new()),
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// A data key for sealing: fresh per object, or the cached bucket key.
    pub(crate) async fn data_key(
        &self,
        key_id: &str,
        context: &BTreeMap<String, String>,
        bucket_key: bool,
        caller: &Caller,
        source: &Source,
    ) -> Result<Arc<DataKey>, SseError> {
        let ctx_json = serde_json::to_string(context).unwrap_or_default();
        let ck = cache_key(&[key_id, &ctx_json, &who(caller)]);
        if bucket_key && let Some(dk) = fresh(&self.issued, &ck) {
            return Ok(dk);
        }
        let dk = Arc::new(
            self.kms
                .generate_data_key(key_id, context, caller, source)
                .await?,
        );
        if bucket_key {
            remember(&self.issued, ck, dk.clone());
            // The issuer can open its own bucket key without a Decrypt.
            let blob_key = cache_key(&[&hex::encode(&dk.ciphertext_blob), &who(caller)]);
            remember(&self.opened, blob_key, Arc::new(dk.plaintext.clone()));
        }
        Ok(dk)
    }

    /// The plaintext of a stored data key (KMS Decrypt, or the cached bucket key).
    pub(crate) async fn open_data_key(
        &self,
        blob: &[u8],
        context: &BTreeMap<String, String>,
        key_arn: &str,
        bucket_key: bool,
        caller: &Caller,
        source: &Source,
    ) -> Result<Material, SseError> {
        let ck = cache_key(&[&hex::encode(blob), &who(caller)]);
        if bucket_key && let Some(m) = fresh(&self.opened, &ck) {
            return Ok(m);
        }
        let d = self
            .kms
            .decrypt(blob, context, Some(key_arn), caller, source)
            .await?;
        let material: [u8; 32] = d
            .plaintext
            .as_slice()
            .try_into()
            .map_err(|_| SseError::BadDataKey)?;
        let material = Arc::new(Zeroizing::new(material));
        if bucket_key {
            remember(&self.opened, ck, material.clone());
        }
        Ok(material)
    }
}
