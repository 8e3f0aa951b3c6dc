//! Client-side encryption (CSE) in the object layout of the AWS S3 Encryption Client, metadata
//! format V2 (the format of the V2 clients and of the Java/Go/.NET V3 clients), so objects
//! written by `sealgate cp --cse-kms/--cse-c` follow that client's conventions and the gateway
//! only ever sees ciphertext.
//!
//! Layout (user metadata; S3 adds the `x-amz-meta-` prefix on the wire):
//!
//! | name | value |
//! |---|---|
//! | `x-amz-key-v2` | base64 of the wrapped content-encryption key (CEK) |
//! | `x-amz-iv` | base64 of the 12-byte content IV |
//! | `x-amz-cek-alg` | `AES/GCM/NoPadding` |
//! | `x-amz-tag-len` | `128` |
//! | `x-amz-wrap-alg` | `kms+context` or `AES/GCM` |
//! | `x-amz-matdesc` | JSON: the KMS encryption context (`kms+context`) or the material description (`AES/GCM`, `{}`) |
//! | `x-amz-unencrypted-content-length` | plaintext length in bytes |
//!
//! Content: `AES-256-GCM(CEK, IV, aad = empty).encrypt(plaintext)`, the 16-byte tag appended, so
//! the object is 16 bytes longer than the plaintext.
//!
//! Wrapping:
//! - `kms+context`: the CEK is a KMS data key (`GenerateDataKey`, `AES_256`) under the
//!   encryption context `{"aws:x-amz-cek-alg": "AES/GCM/NoPadding"}`; `x-amz-key-v2` is the
//!   KMS ciphertext blob, and reading calls KMS `Decrypt` with the context from `x-amz-matdesc`
//!   (after checking it names the same content algorithm, as the reference client does).
//! - `AES/GCM`: the CEK is random; `x-amz-key-v2` = `nonce (12) ‖ AES-256-GCM(user key, nonce,
//!   aad = "AES/GCM/NoPadding").encrypt(CEK) ‖ tag` — the reference client's AES keyring.
//!
//! Whole-object GCM has one tag at the end, so a reader cannot release any plaintext before the
//! whole object is verified: objects are processed in memory and capped at [`MAX_PLAINTEXT`]
//! (1 GiB). Larger files need a ranged/multipart scheme this module does not implement.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use crate::kms::gcm;

pub(crate) const CEK_ALG: &str = "AES/GCM/NoPadding";
pub(crate) const WRAP_KMS: &str = "kms+context";
pub(crate) const WRAP_AES_GCM: &str = "AES/GCM";
pub(crate) const TAG_LEN_BITS: &str = "128";
/// The encryption-context key the reference client reserves for the content algorithm.
pub(crate) const CONTEXT_CEK_ALG: &str = "aws:x-amz-cek-alg";
/// Largest plaintext `sealgate cp` encrypts or decrypts (whole-object GCM is done in memory).
pub(crate) const MAX_PLAINTEXT: u64 = 1 << 30;

pub(crate) const META_KEY: &str = "x-amz-key-v2";
pub(crate) const META_IV: &str = "x-amz-iv";
pub(crate) const META_CEK_ALG: &str = "x-amz-cek-alg";
pub(crate) const META_TAG_LEN: &str = "x-amz-tag-len";
pub(crate) const META_WRAP_ALG: &str = "x-amz-wrap-alg";
pub(crate) const META_MATDESC: &str = "x-amz-matdesc";
pub(crate) const META_PLAIN_LEN: &str = "x-amz-unencrypted-content-length";

#[derive(Debug, thiserror::Error)]
pub(crate) enum CseError {
    #[error("the object is not client-side encrypted (no x-amz-key-v2/x-amz-iv metadata)")]
    NotEncrypted,
    #[error("client-side encryption metadata: {0}")]
    BadMetadata(String),
    #[error("unsupported {0} {1:?}")]
    Unsupported(&'static str, String),
    #[error(
        "the object's data key does not open with this key (wrong key, or the metadata was changed)"
    )]
    WrongKey,
    #[error("the object content failed authentication (wrong key, or the object was changed)")]
    Tampered,
    #[error("{0} bytes is more than the client-side encryption limit of {MAX_PLAINTEXT} bytes")]
    TooLarge(u64),
    #[error("key file {0}: {1}")]
    KeyFile(String, String),
}

/// How the CEK is wrapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Wrap {
    /// `kms+context`: the KMS ciphertext blob of the data key.
    Kms,
    /// `AES/GCM` under a user-held 256-bit key.
    AesGcm,
}

impl Wrap {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Wrap::Kms => WRAP_KMS,
            Wrap::AesGcm => WRAP_AES_GCM,
        }
    }
}

/// Everything stored beside the ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) wrap: Wrap,
    pub(crate) wrapped_key: Vec<u8>,
    pub(crate) iv: [u8; gcm::NONCE_LEN],
    /// Encryption context (`kms+context`) or material description (`AES/GCM`).
    pub(crate) matdesc: BTreeMap<String, String>,
    pub(crate) plaintext_len: u64,
}

/// The encryption context of a `kms+context` data key.
pub(crate) fn kms_context() -> BTreeMap<String, String> {
    BTreeMap::from([(CONTEXT_CEK_ALG.to_string(), CEK_ALG.to_string())])
}

impl Envelope {
    /// The user-metadata pairs (names without `x-amz-meta-`).
    pub(crate) fn to_metadata(&self) -> Vec<(String, String)> {
        let matdesc = serde_json::to_string(&self.matdesc).unwrap_or_else(|_| "{}".into());
        vec![
            (META_KEY.into(), B64.encode(&self.wrapped_key)),
            (META_IV.into(), B64.encode(self.iv)),
            (META_CEK_ALG.into(), CEK_ALG.into()),
            (META_TAG_LEN.into(), TAG_LEN_BITS.into()),
            (META_WRAP_ALG.into(), self.wrap.name().into()),
            (META_MATDESC.into(), matdesc),
            (META_PLAIN_LEN.into(), self.plaintext_len.to_string()),
        ]
    }

    /// Reads the V2 layout from user metadata (names without `x-amz-meta-`).
    pub(crate) fn from_metadata(meta: &BTreeMap<String, String>) -> Result<Envelope, CseError> {
        let (Some(key), Some(iv)) = (meta.get(META_KEY), meta.get(META_IV)) else {
            return Err(CseError::NotEncrypted);
        };
        if meta.contains_key("x-amz-key") || meta.contains_key("x-amz-3") {
            return Err(CseError::BadMetadata(
                "keys of several format versions are present".into(),
            ));
        }
        let bad = |what: &str| CseError::BadMetadata(what.to_string());
        let cek_alg = meta
            .get(META_CEK_ALG)
            .ok_or_else(|| bad("no x-amz-cek-alg"))?;
        if cek_alg != CEK_ALG {
            return Err(CseError::Unsupported("content algorithm", cek_alg.clone()));
        }
        if let Some(tag) = meta.get(META_TAG_LEN)
            && tag != TAG_LEN_BITS
        {
            return Err(CseError::Unsupported("tag length", tag.clone()));
        }
        let wrap = match meta.get(META_WRAP_ALG).map(String::as_str) {
            Some(WRAP_KMS) => Wrap::Kms,
            Some(WRAP_AES_GCM) => Wrap::AesGcm,
            Some(other) => return Err(CseError::Unsupported("key wrapping", other.to_string())),
            None => return Err(bad("no x-amz-wrap-alg")),
        };
        let wrapped_key = B64
            .decode(key)
            .map_err(|_| bad("x-amz-key-v2 is not base64"))?;
        let iv: [u8; gcm::NONCE_LEN] = B64
            .decode(iv)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("x-amz-iv is not 12 base64 bytes"))?;
        let matdesc = match meta.get(META_MATDESC) {
            Some(json) => serde_json::from_str(json)
                .map_err(|_| bad("x-amz-matdesc is not a JSON object of strings"))?,
            None => BTreeMap::new(),
        };
        let plaintext_len = match meta.get(META_PLAIN_LEN) {
            Some(n) => n
                .parse()
                .map_err(|_| bad("x-amz-unencrypted-content-length"))?,
            None => 0,
        };
        Ok(Envelope {
            wrap,
            wrapped_key,
            iv,
            matdesc,
            plaintext_len,
        })
    }

    /// For `kms+context`: the stored context, checked to name our content algorithm (a context
    /// naming another algorithm would let an attacker change how the content is read).
    pub(crate) fn kms_context(&self) -> Result<&BTreeMap<String, String>, CseError> {
        match self.matdesc.get(CONTEXT_CEK_ALG) {
            Some(alg) if alg == CEK_ALG => Ok(&self.matdesc),
            _ => Err(CseError::BadMetadata(format!(
                "x-amz-matdesc lacks {CONTEXT_CEK_ALG}={CEK_ALG}"
            ))),
        }
    }
}

pub(crate) fn check_size(len: u64) -> Result<(), CseError> {
    if len > MAX_PLAINTEXT {
        return Err(CseError::TooLarge(len));
    }
    Ok(())
}

/// A fresh random IV for the content.
pub(crate) fn new_iv() -> [u8; gcm::NONCE_LEN] {
    gcm::random_array()
}

/// A fresh random CEK (for `AES/GCM` wrapping; KMS wrapping gets its CEK from the KMS).
pub(crate) fn new_cek() -> Zeroizing<[u8; gcm::KEY_LEN]> {
    gcm::random_key()
}

pub(crate) fn encrypt_content(cek: &[u8; 32], iv: &[u8; 12], plaintext: &[u8]) -> Vec<u8> {
    gcm::seal(cek, iv, b"", plaintext)
}

pub(crate) fn decrypt_content(
    cek: &[u8; 32],
    iv: &[u8; 12],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CseError> {
    gcm::open(cek, iv, b"", ciphertext).ok_or(CseError::Tampered)
}

/// `AES/GCM` key wrapping: `nonce ‖ GCM(kek, nonce, aad = "AES/GCM/NoPadding").encrypt(cek)`.
pub(crate) fn wrap_aes_gcm(kek: &[u8; 32], cek: &[u8; 32]) -> Vec<u8> {
    let nonce: [u8; gcm::NONCE_LEN] = gcm::random_array();
    let mut out = nonce.to_vec();
    out.extend(gcm::seal(kek, &nonce, CEK_ALG.as_bytes(), cek));
    out
}

pub(crate) fn unwrap_aes_gcm(
    kek: &[u8; 32],
    wrapped: &[u8],
) -> Result<Zeroizing<[u8; 32]>, CseError> {
    if wrapped.len() != gcm::NONCE_LEN + gcm::KEY_LEN + gcm::TAG_LEN {
        return Err(CseError::WrongKey);
    }
    let (nonce, ct) = wrapped.split_at(gcm::NONCE_LEN);
    let nonce: [u8; gcm::NONCE_LEN] = nonce.try_into().map_err(|_| CseError::WrongKey)?;
    let plain = gcm::open(kek, &nonce, CEK_ALG.as_bytes(), ct).ok_or(CseError::WrongKey)?;
    cek_from(&plain).ok_or(CseError::WrongKey)
}

/// A 32-byte key from a slice (a KMS plaintext or an unwrapped CEK).
pub(crate) fn cek_from(bytes: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    let arr: [u8; 32] = bytes.try_into().ok()?;
    Some(Zeroizing::new(arr))
}

/// A CSE-C key file: 32 raw bytes, or 64 hex characters, or base64 of 32 bytes (surrounding
/// whitespace ignored).
pub(crate) fn read_key_file(path: &std::path::Path) -> Result<Zeroizing<[u8; 32]>, CseError> {
    let shown = path.display().to_string();
    let raw = Zeroizing::new(
        std::fs::read(path).map_err(|e| CseError::KeyFile(shown.clone(), e.to_string()))?,
    );
    if let Some(key) = cek_from(&raw) {
        return Ok(key);
    }
    let text = std::str::from_utf8(&raw).unwrap_or("").trim();
    let decoded = Zeroizing::new(
        hex::decode(text)
            .ok()
            .or_else(|| B64.decode(text).ok())
            .unwrap_or_default(),
    );
    cek_from(&decoded).ok_or_else(|| {
        CseError::KeyFile(
            shown,
            "expected a 256-bit key: 32 raw bytes, 64 hex characters or base64".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_in_the_v2_layout() {
        let env = Envelope {
            wrap: Wrap::Kms,
            wrapped_key: vec![1, 2, 3],
            iv: [7; 12],
            matdesc: kms_context(),
            plaintext_len: 42,
        };
        let meta: BTreeMap<String, String> = env.to_metadata().into_iter().collect();
        assert_eq!(meta["x-amz-wrap-alg"], "kms+context");
        assert_eq!(meta["x-amz-cek-alg"], "AES/GCM/NoPadding");
        assert_eq!(meta["x-amz-tag-len"], "128");
        assert_eq!(
            meta["x-amz-matdesc"],
            r#"{"aws:x-amz-cek-alg":"AES/GCM/NoPadding"}"#
        );
        assert_eq!(meta["x-amz-unencrypted-content-length"], "42");
        assert_eq!(Envelope::from_metadata(&meta).unwrap(), env);
        assert!(matches!(
            Envelope::from_metadata(&BTreeMap::new()),
            Err(CseError::NotEncrypted)
        ));
        let mut other = meta.clone();
        other.insert("x-amz-cek-alg".into(), "AES/CBC/PKCS5Padding".into());
        assert!(matches!(
            Envelope::from_metadata(&other),
            Err(CseError::Unsupported(..))
        ));
    }

    #[test]
    fn aes_gcm_wrapping_matches_the_reference_keyring_shape() {
        let kek = [9u8; 32];
        let cek = [5u8; 32];
        let wrapped = wrap_aes_gcm(&kek, &cek);
        assert_eq!(wrapped.len(), 12 + 32 + 16);
        // Independently: the tail opens with the nonce in front and the CEK algorithm as AAD.
        let nonce: [u8; 12] = wrapped[..12].try_into().unwrap();
        let plain = gcm::open(&kek, &nonce, b"AES/GCM/NoPadding", &wrapped[12..]).unwrap();
        assert_eq!(plain.as_slice(), &cek);
        assert_eq!(*unwrap_aes_gcm(&kek, &wrapped).unwrap(), cek);
        assert!(matches!(
            unwrap_aes_gcm(&[8u8; 32], &wrapped),
            Err(CseError::WrongKey)
        ));
    }

    #[test]
    fn content_is_gcm_with_the_tag_appended() {
        let cek = [3u8; 32];
        let iv = [4u8; 12];
        let ct = encrypt_content(&cek, &iv, b"hello");
        assert_eq!(ct.len(), 5 + 16);
        assert_eq!(
            decrypt_content(&cek, &iv, &ct).unwrap().as_slice(),
            b"hello"
        );
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert!(matches!(
            decrypt_content(&cek, &iv, &bad),
            Err(CseError::Tampered)
        ));
    }

    #[test]
    fn key_files_in_three_encodings() {
        let dir = tempfile::tempdir().unwrap();
        let key = [0xabu8; 32];
        for (name, content) in [
            ("raw", key.to_vec()),
            ("hex", format!("{}\n", hex::encode(key)).into_bytes()),
            ("b64", B64.encode(key).into_bytes()),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, content).unwrap();
            assert_eq!(*read_key_file(&p).unwrap(), key, "{name}");
        }
        let p = dir.path().join("short");
        std::fs::write(&p, b"too short").unwrap();
        assert!(matches!(read_key_file(&p), Err(CseError::KeyFile(..))));
    }
}
