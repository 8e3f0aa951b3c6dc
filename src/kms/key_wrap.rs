//! Unwrapping imported key material with the import wrapping key (ImportKeyMaterial):
//!
//! - `RSAES_OAEP_SHA_256` / `RSAES_OAEP_SHA_1`: the material under RSA-OAEP (MGF1 with the same
//!   hash, empty label). Carries at most the OAEP limit of the wrapping key (190 bytes for
//!   RSA_2048 with SHA-256): symmetric, HMAC and ECC material.
//! - `RSA_AES_KEY_WRAP_SHA_256` / `RSA_AES_KEY_WRAP_SHA_1`: an ephemeral AES-256 key under that
//!   RSA-OAEP (as many bytes as the wrapping key's modulus), followed by the material under AES
//!   key wrap with padding (RFC 5649, RustCrypto `aes-kw`). Carries any material, RSA private
//!   keys too, as AWS documents ("Wrapping key material", AWS KMS Developer Guide).

use aes_kw::KwpAes256;
use aes_kw::cipher::KeyInit;
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use super::asym::PrivateKey;

/// The material `wrapped` carries under `algorithm` (one of the four above, checked when the
/// import parameters were made); `None` when it does not open.
pub(crate) fn unwrap(
    wrapping_key: PrivateKey,
    algorithm: &str,
    wrapped: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    // The hash is the name's suffix for both families.
    let oaep = algorithm.replace("RSA_AES_KEY_WRAP", "RSAES_OAEP");
    if !algorithm.starts_with("RSA_AES_KEY_WRAP") {
        return wrapping_key.oaep_decrypt(&oaep, wrapped).ok();
    }
    let PrivateKey::Rsa(rsa_key) = &wrapping_key else {
        return None;
    };
    let modulus_len = rsa_key.size();
    if wrapped.len() <= modulus_len {
        return None;
    }
    let (wrapped_aes_key, wrapped_material) = wrapped.split_at(modulus_len);
    let aes_key = wrapping_key.oaep_decrypt(&oaep, wrapped_aes_key).ok()?;
    let kwp = KwpAes256::new_from_slice(&aes_key).ok()?;
    let mut out = Zeroizing::new(vec![0u8; wrapped_material.len().checked_sub(8)?]);
    let len = kwp.unwrap_key(wrapped_material, &mut out).ok()?.len();
    out.truncate(len);
    Some(out)
}
