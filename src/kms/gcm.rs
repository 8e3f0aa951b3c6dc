//! Thin AES-256-GCM wrapper (RustCrypto `aes-gcm`) and the randomness source, so the rest of
//! the KMS never touches cipher types directly.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

pub(crate) const KEY_LEN: usize = 32;
pub(crate) const NONCE_LEN: usize = 12;
pub(crate) const TAG_LEN: usize = 16;

/// Fills a fresh array from the thread-local CSPRNG (ChaCha, seeded from the OS).
pub(crate) fn random_array<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::rng().fill_bytes(&mut out);
    out
}

pub(crate) fn random_key() -> Zeroizing<[u8; KEY_LEN]> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    rand::rng().fill_bytes(key.as_mut());
    key
}

pub(crate) fn seal(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let cipher = Aes256Gcm::new(&(*key).into());
    let nonce = Nonce::from(*nonce);
    cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        // Only fails for inputs beyond GCM's length limits, which our callers bound far below.
        .expect("AES-GCM input within limits")
}

/// `None` on any authentication failure.
pub(crate) fn open(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let cipher = Aes256Gcm::new(&(*key).into());
    let nonce = Nonce::from(*nonce);
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    // NIST GCM test vector (gcmEncryptExtIV256, Count 0 with empty plaintext/AAD).
    #[test]
    fn nist_empty_vector() {
        let key = [0u8; 32];
        let nonce = [0u8; 12];
        let ct = seal(&key, &nonce, b"", b"");
        assert_eq!(hex::encode(&ct), "530f8afbc74536b9a963b4f1c4cb738b");
        assert!(open(&key, &nonce, b"", &ct).is_some());
        assert!(open(&key, &nonce, b"x", &ct).is_none());
    }
}
