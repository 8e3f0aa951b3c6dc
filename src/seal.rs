//! Sealing an object key (OK) under a key-encryption key (KEK), for every SSE mode alike.
//!
//! `KEK = HKDF-SHA256(ikm = KEK material, salt = 32 random bytes, info = binding)` and the OK is
//! sealed with AES-256-GCM under the KEK, a random 96-bit nonce and `AAD = binding`. The KEK
//! material depends on the mode (the SSE-S3 master key of the recorded version, the plaintext
//! KMS data key, or the SSE-C customer key); the [`Binding`] names the mode, bucket and object
//! key, so a sealed OK copied into another object's record, or read under another mode, does
//! not open. The binding is in both places on purpose: in the HKDF info it makes the KEK itself
//! specific to the object, and as AAD it is checked again by the tag even if a KEK were reused.
//!
//! A fresh salt per sealing means a fresh KEK, so the random 96-bit nonce is never at risk of
//! repeating under one key. Every failure to unseal (wrong material, wrong binding, any
//! tampered field, malformed lengths) is the single [`SealError::Unseal`]: callers answer
//! "access denied" without learning which part was wrong.
//!
//! The byte layout is specified in `docs/FORMAT.md`.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::envelope::{KEY_LEN, ObjectKey};
use crate::meta::SealedKey;

/// The SSE mode a sealed object key belongs to. Its name is part of the KEK derivation, so a
/// key sealed for one mode never opens under another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    SseS3,
    SseKms,
    SseC,
    /// Not an SSE mode: a multipart upload's record-MAC key, sealed under the SSE-S3 master
    /// ring (the binding's `key` is the upload id).
    RecordKey,
    /// Not an SSE mode: an object's record-MAC key kept in its meta record (the binding's `key`
    /// is the object key), so tag changes can re-authenticate the record.
    ObjectRecordKey,
}

impl Mode {
    /// The name as it is encoded in a [`Binding`] (docs/FORMAT.md); never change these.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::SseS3 => "SSE-S3",
            Mode::SseKms => "SSE-KMS",
            Mode::SseC => "SSE-C",
            Mode::RecordKey => "record-mac-key",
            Mode::ObjectRecordKey => "object-record-mac-key",
        }
    }
}

/// Bytes of the HKDF salt stored in [`SealedKey::salt`].
pub(crate) const SALT_LEN: usize = 32;
/// Bytes of the AES-GCM nonce stored in [`SealedKey::nonce`].
pub(crate) const NONCE_LEN: usize = 12;
/// Bytes of [`SealedKey::ciphertext`]: the sealed OK and its tag.
pub(crate) const SEALED_LEN: usize = KEY_LEN + 16;

/// Version tag that starts every binding encoding.
const BINDING_TAG: &[u8] = b"sealgate/v1/kek";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SealError {
    #[error("the object key could not be unsealed")]
    Unseal,
}

/// What a sealed object key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Binding {
    pub(crate) mode: Mode,
    pub(crate) bucket: String,
    pub(crate) key: String,
}

impl Binding {
    pub(crate) fn new(mode: Mode, bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Binding {
            mode,
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    /// `"sealgate/v1/kek" ‖ (u32_be(len) ‖ bytes) for mode, bucket, key`: the fixed tag first
    /// and a length before every field, so no two bindings encode alike.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let fields = [
            self.mode.as_str().as_bytes(),
            self.bucket.as_bytes(),
            self.key.as_bytes(),
        ];
        let mut out = Vec::with_capacity(
            BINDING_TAG.len() + fields.iter().map(|f| 4 + f.len()).sum::<usize>(),
        );
        out.extend_from_slice(BINDING_TAG);
        for field in fields {
            let len = u32::try_from(field.len()).expect("binding fields are far below 4 GiB");
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field);
        }
        out
    }
}

fn derive_kek_bytes(kek_material: &[u8], salt: &[u8], binding: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
    let mut kek = Zeroizing::new([0u8; KEY_LEN]);
    Hkdf::<Sha256>::new(Some(salt), kek_material)
        .expand(binding, kek.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    kek
}

fn derive_kek(kek_material: &[u8], salt: &[u8], binding: &[u8]) -> Aes256Gcm {
    Aes256Gcm::new(&(*derive_kek_bytes(kek_material, salt, binding)).into())
}

/// Seals `ok` under the KEK derived from `kek_material` for `binding`, with fresh randomness.
///
/// `kek_material` must be secret key material of at least 32 bytes.
pub(crate) fn seal(kek_material: &[u8], binding: &Binding, ok: &ObjectKey) -> SealedKey {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut salt);
    rand::rng().fill_bytes(&mut nonce);
    seal_with(kek_material, binding, ok, salt, nonce)
}

fn seal_with(
    kek_material: &[u8],
    binding: &Binding,
    ok: &ObjectKey,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
) -> SealedKey {
    debug_assert!(kek_material.len() >= 32, "KEK material is too short");
    let binding = binding.encode();
    let mut ciphertext = Vec::with_capacity(SEALED_LEN);
    ciphertext.extend_from_slice(ok.as_bytes());
    derive_kek(kek_material, &salt, &binding)
        .encrypt_in_place(&Nonce::<Aes256Gcm>::from(nonce), &binding, &mut ciphertext)
        .expect("a 32-byte message is within AES-GCM limits");
    SealedKey {
        salt: salt.to_vec(),
        nonce: nonce.to_vec(),
        ciphertext,
    }
}

/// Opens a sealed object key. Every failure is [`SealError::Unseal`].
pub(crate) fn unseal(
    kek_material: &[u8],
    binding: &Binding,
    sealed: &SealedKey,
) -> Result<ObjectKey, SealError> {
    let nonce: [u8; NONCE_LEN] = sealed
        .nonce
        .as_slice()
        .try_into()
        .map_err(|_| SealError::Unseal)?;
    if sealed.salt.len() != SALT_LEN || sealed.ciphertext.len() != SEALED_LEN {
        return Err(SealError::Unseal);
    }
    let binding = binding.encode();
    let mut buf = Zeroizing::new(sealed.ciphertext.clone());
    derive_kek(kek_material, &sealed.salt, &binding)
        .decrypt_in_place(&Nonce::<Aes256Gcm>::from(nonce), &binding, &mut *buf)
        .map_err(|_| SealError::Unseal)?;
    ObjectKey::from_slice(&buf).ok_or(SealError::Unseal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding() -> Binding {
        Binding::new(Mode::SseC, "bucket", "dir/object.txt")
    }

    #[test]
    fn round_trip() {
        let ok = ObjectKey::generate();
        let sealed = seal(&[1; 32], &binding(), &ok);
        assert_eq!(sealed.salt.len(), SALT_LEN);
        assert_eq!(sealed.nonce.len(), NONCE_LEN);
        assert_eq!(sealed.ciphertext.len(), SEALED_LEN);
        let opened = unseal(&[1; 32], &binding(), &sealed).unwrap();
        assert_eq!(opened.as_bytes(), ok.as_bytes());
        // Fresh randomness on every sealing.
        assert_ne!(seal(&[1; 32], &binding(), &ok), sealed);
    }

    #[test]
    fn wrong_material_fails() {
        let sealed = seal(&[1; 32], &binding(), &ObjectKey::generate());
        let mut other = [1; 32];
        other[31] = 2;
        assert_eq!(
            unseal(&other, &binding(), &sealed).unwrap_err(),
            SealError::Unseal
        );
    }

    #[test]
    fn wrong_binding_fails() {
        let sealed = seal(&[1; 32], &binding(), &ObjectKey::generate());
        for b in [
            Binding::new(Mode::SseS3, "bucket", "dir/object.txt"),
            Binding::new(Mode::SseC, "bucket2", "dir/object.txt"),
            Binding::new(Mode::SseC, "bucket", "dir/object.txt2"),
            Binding::new(Mode::SseC, "bucketd", "ir/object.txt"),
        ] {
            assert_eq!(
                unseal(&[1; 32], &b, &sealed).unwrap_err(),
                SealError::Unseal
            );
        }
    }

    #[test]
    fn tampered_fields_fail() {
        let sealed = seal(&[1; 32], &binding(), &ObjectKey::generate());
        let fields: [fn(&mut SealedKey) -> &mut Vec<u8>; 3] =
            [|s| &mut s.salt, |s| &mut s.nonce, |s| &mut s.ciphertext];
        for field in fields {
            let len = field(&mut sealed.clone()).len();
            for i in 0..len {
                let mut bad = sealed.clone();
                field(&mut bad)[i] ^= 0x80;
                assert_eq!(
                    unseal(&[1; 32], &binding(), &bad).unwrap_err(),
                    SealError::Unseal
                );
            }
            let mut short = sealed.clone();
            field(&mut short).pop();
            assert_eq!(
                unseal(&[1; 32], &binding(), &short).unwrap_err(),
                SealError::Unseal
            );
            let mut long = sealed.clone();
            field(&mut long).push(0);
            assert_eq!(
                unseal(&[1; 32], &binding(), &long).unwrap_err(),
                SealError::Unseal
            );
        }
    }

    #[test]
    fn binding_encoding_is_length_prefixed() {
        let enc = Binding::new(Mode::SseS3, "b", "k/").encode();
        assert_eq!(
            enc,
            b"sealgate/v1/kek\0\0\0\x06SSE-S3\0\0\0\x01b\0\0\0\x02k/".to_vec()
        );
        assert_ne!(
            Binding::new(Mode::SseS3, "ab", "c").encode(),
            Binding::new(Mode::SseS3, "a", "bc").encode()
        );
    }

    /// The vector of docs/FORMAT.md §7; keep the two identical.
    #[test]
    fn format_doc_vector() {
        let ok = ObjectKey::from_bytes(&std::array::from_fn(|i| i as u8));
        let material: [u8; 32] = std::array::from_fn(|i| 0x40 + i as u8);
        let salt: [u8; 32] = std::array::from_fn(|i| 0xc0 + i as u8);
        let nonce: [u8; 12] = std::array::from_fn(|i| 0xe0 + i as u8);
        let b = Binding::new(Mode::SseC, "bucket", "photos/cat.jpg");
        assert_eq!(
            hex::encode(b.encode()),
            "7365616c676174652f76312f6b656b000000055353452d43\
             000000066275636b65740000000e70686f746f732f6361742e6a7067"
        );
        assert_eq!(
            hex::encode(*derive_kek_bytes(&material, &salt, &b.encode())),
            "e0d7d3ac6b4f5aa8d03a872ed5ed9d508111738ea17337e30bda6bf0ca5db725"
        );
        let sealed = seal_with(&material, &b, &ok, salt, nonce);
        assert_eq!(
            hex::encode(&sealed.ciphertext),
            "0da6e1e4c770d5d468a79d09b3a64986329a2044d63b0a06929fce571aed17d8\
             a668fbe9f25b927248ed454a1bb1fa6f"
        );
        assert_eq!(
            unseal(&material, &b, &sealed).unwrap().as_bytes(),
            ok.as_bytes()
        );
    }
}
