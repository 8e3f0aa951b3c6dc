//! The gateway's use of the KMS for SSE-KMS: data keys per object, or per bucket with S3 Bucket
//! Keys, and KMS errors turned into the S3 errors AWS surfaces (`KMS.<Exception>`, 503 when the
//! KMS cannot be reached).
//!
//! A bucket key is a KMS data key generated for the bucket ARN and cached for a bounded time per
//! (KMS key, context, caller), as AWS does, so a burst of writes costs one GenerateDataKey and a
//! burst of reads one Decrypt. The object key of every object is still fresh; only the KEK
//! material is shared, and the per-object HKDF salt keeps each KEK distinct.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::kms::{Caller, DataKey, Kms, KmsClientError, Source};
use crate::s3::error::S3Error;

/// How long a bucket key is reused (AWS: "a limited time").
pub const BUCKET_KEY_TTL: Duration = Duration::from_secs(300);
/// Bound on cached bucket keys, so a hostile caller cannot grow the caches without limit.
const MAX_CACHED: usize = 4096;

type Material = Arc<Zeroizing<[u8; 32]>>;

pub struct KmsKeys {
    kms: Arc<dyn Kms>,
    issued: Mutex<HashMap<String, (Instant, Arc<DataKey>)>>,
    opened: Mutex<HashMap<String, (Instant, Material)>>,
    generate_calls: AtomicU64,
    decrypt_calls: AtomicU64,
}

/// KMS calls made so far (for the bucket-key benchmark and metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KmsCallCounts {
    pub generate_data_key: u64,
    pub decrypt: u64,
}

pub(crate) fn map_kms_error(e: KmsClientError) -> S3Error {
    match e {
        KmsClientError::Unavailable(m) => {
            S3Error::ServiceUnavailable(format!("the KMS is unavailable: {m}"))
        }
        KmsClientError::Kms { type_name, message } => S3Error::kms(&type_name, message),
    }
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

impl KmsKeys {
    pub fn new(kms: Arc<dyn Kms>) -> KmsKeys {
        KmsKeys {
            kms,
            issued: Mutex::new(HashMap::new()),
            opened: Mutex::new(HashMap::new()),
            generate_calls: AtomicU64::new(0),
            decrypt_calls: AtomicU64::new(0),
        }
    }

    pub fn kms(&self) -> &Arc<dyn Kms> {
        &self.kms
    }

    pub fn call_counts(&self) -> KmsCallCounts {
        KmsCallCounts {
            generate_data_key: self.generate_calls.load(Ordering::Relaxed),
            decrypt: self.decrypt_calls.load(Ordering::Relaxed),
        }
    }

    /// A data key for sealing: fresh per object, or the cached bucket key.
    pub async fn data_key(
        &self,
        key_id: &str,
        context: &BTreeMap<String, String>,
        bucket_key: bool,
        caller: &Caller,
        source: &Source,
    ) -> Result<Arc<DataKey>, S3Error> {
        let ctx_json = serde_json::to_string(context).unwrap_or_default();
        let ck = cache_key(&[key_id, &ctx_json, &caller.arn]);
        if bucket_key && let Some(dk) = fresh(&self.issued, &ck) {
            return Ok(dk);
        }
        self.generate_calls.fetch_add(1, Ordering::Relaxed);
        let dk = Arc::new(
            self.kms
                .generate_data_key(key_id, context, caller, source)
                .await
                .map_err(map_kms_error)?,
        );
        if bucket_key {
            remember(&self.issued, ck, dk.clone());
            // The issuer can open its own bucket key without a Decrypt.
            let blob_key = cache_key(&[&hex::encode(&dk.ciphertext_blob), &caller.arn]);
            remember(&self.opened, blob_key, Arc::new(dk.plaintext.clone()));
        }
        Ok(dk)
    }

    /// The plaintext of a stored data key (KMS Decrypt, or the cached bucket key).
    pub async fn open_data_key(
        &self,
        blob: &[u8],
        context: &BTreeMap<String, String>,
        key_arn: &str,
        bucket_key: bool,
        caller: &Caller,
        source: &Source,
    ) -> Result<Material, S3Error> {
        let ck = cache_key(&[&hex::encode(blob), &caller.arn]);
        if bucket_key && let Some(m) = fresh(&self.opened, &ck) {
            return Ok(m);
        }
        self.decrypt_calls.fetch_add(1, Ordering::Relaxed);
        let d = self
            .kms
            .decrypt(blob, context, Some(key_arn), caller, source)
            .await
            .map_err(map_kms_error)?;
        let material: [u8; 32] = d.plaintext.as_slice().try_into().map_err(|_| {
            S3Error::InternalError("the KMS returned a data key of the wrong size".into())
        })?;
        let material = Arc::new(Zeroizing::new(material));
        if bucket_key {
            remember(&self.opened, ck, material.clone());
        }
        Ok(material)
    }
}
