//! The data key and how it is wrapped, shared by the V2 and V3 formats: the two wrapping
//! algorithms `sealgate cp` writes (`kms+context` and `AES/GCM`), the `AES/GCM` keyring itself,
//! and the user's key file for `--cse-c`.
//!
//! `AES/GCM` wrapping is the reference clients' AES keyring: `nonce (12) ‖ AES-256-GCM(user
//! key, nonce, aad = "AES/GCM/NoPadding").encrypt(data key) ‖ tag`. The AAD is that fixed string
//! in both formats (the Java client's AES keyring uses the non-committing suite's cipher name
//! whatever suite encrypts the content), so a V3 object's data key is wrapped exactly like a
//! V2 one.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use super::error::CseError;
use crate::kms::gcm;

/// The additional data of an `AES/GCM`-wrapped data key.
const AES_GCM_WRAP_AAD: &[u8] = b"AES/GCM/NoPadding";

/// How the data key is wrapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wrap {
    /// `kms+context`: the KMS ciphertext blob of a `GenerateDataKey` data key.
    Kms,
    /// `AES/GCM` under a user-held 256-bit key.
    AesGcm,
}

impl Wrap {
    /// The V2 name (`x-amz-wrap-alg`), also how messages name it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Wrap::Kms => "kms+context",
            Wrap::AesGcm => "AES/GCM",
        }
    }

    /// The V3 two-digit code (`x-amz-w`).
    pub(crate) fn v3_code(self) -> &'static str {
        match self {
            Wrap::Kms => "12",
            Wrap::AesGcm => "02",
        }
    }

    /// The `sealgate cp` option that supplies this kind of key.
    pub(crate) fn option(self) -> &'static str {
        match self {
            Wrap::Kms => "--cse-kms <key>",
            Wrap::AesGcm => "--cse-c <keyfile>",
        }
    }
}

/// A fresh random data key (for `AES/GCM` wrapping; KMS wrapping gets its key from the KMS).
pub(crate) fn new_data_key() -> Zeroizing<[u8; gcm::KEY_LEN]> {
    gcm::random_key()
}

/// `AES/GCM` key wrapping: `nonce ‖ GCM(kek, nonce, aad = "AES/GCM/NoPadding").encrypt(key)`.
pub(crate) fn wrap_aes_gcm(kek: &[u8; 32], data_key: &[u8; 32]) -> Vec<u8> {
    let nonce: [u8; gcm::NONCE_LEN] = gcm::random_array();
    let mut out = nonce.to_vec();
    out.extend(gcm::seal(kek, &nonce, AES_GCM_WRAP_AAD, data_key));
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
    let plain = gcm::open(kek, &nonce, AES_GCM_WRAP_AAD, ct).ok_or(CseError::WrongKey)?;
    key_from(&plain).ok_or(CseError::WrongKey)
}

/// A 32-byte key from a slice (a KMS plaintext or an unwrapped data key).
pub(crate) fn key_from(bytes: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
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
    if let Some(key) = key_from(&raw) {
        return Ok(key);
    }
    let text = std::str::from_utf8(&raw).unwrap_or("").trim();
    let decoded = Zeroizing::new(
        hex::decode(text)
            .ok()
            .or_else(|| B64.decode(text).ok())
            .unwrap_or_default(),
    );
    key_from(&decoded).ok_or_else(|| {
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
    fn aes_gcm_wrapping_matches_the_reference_keyring_shape() {
        let kek = [9u8; 32];
        let dk = [5u8; 32];
        let wrapped = wrap_aes_gcm(&kek, &dk);
        assert_eq!(wrapped.len(), 12 + 32 + 16);
        // Independently: the tail opens with the nonce in front and the cipher name as AAD.
        let nonce: [u8; 12] = wrapped[..12].try_into().unwrap();
        let plain = gcm::open(&kek, &nonce, b"AES/GCM/NoPadding", &wrapped[12..]).unwrap();
        assert_eq!(plain.as_slice(), &dk);
        assert_eq!(*unwrap_aes_gcm(&kek, &wrapped).unwrap(), dk);
        assert!(matches!(
            unwrap_aes_gcm(&[8u8; 32], &wrapped),
            Err(CseError::WrongKey)
        ));
        assert!(matches!(
            unwrap_aes_gcm(&kek, &wrapped[..40]),
            Err(CseError::WrongKey)
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
