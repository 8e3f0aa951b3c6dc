//! The ciphertext blob returned by Encrypt / GenerateDataKey, version 1.
//!
//! ```text
//! offset  len  field
//!      0    4  magic b"SGKM"
//!      4    1  format version (0x01)
//!      5   16  KMS key id (UUID, binary)
//!     21   32  key material id (the 64-hex CurrentKeyMaterialId, binary)
//!     53   12  AES-GCM nonce (random per blob)
//!     65    n  AES-256-GCM ciphertext of the plaintext, followed by the 16-byte tag
//! ```
//!
//! The backing key is the material named in the header. AAD = bytes 0..53 (the header) ‖
//! canonical encoding of the encryption context, so neither the header nor the context can be
//! changed without failing authentication. The context is not stored in the blob (as in AWS):
//! the caller must present it again on Decrypt.
//!
//! Canonical context encoding: u32-BE pair count, then for each pair in byte-wise sorted key
//! order: u32-BE key length, key bytes, u32-BE value length, value bytes. Length prefixes make it
//! unambiguous (`{"a":"bc"}` and `{"ab":"c"}` encode differently).
//!
//! Random 96-bit nonces bound each backing key to well under 2^32 blobs; rotation starts a new
//! backing key. Any parse or authentication failure is `InvalidCiphertextException`.

use std::collections::BTreeMap;

use uuid::Uuid;
use zeroize::Zeroizing;

use super::gcm::{self, KEY_LEN, NONCE_LEN, TAG_LEN};

pub(crate) const MAGIC: &[u8; 4] = b"SGKM";
pub(crate) const VERSION: u8 = 1;
pub(crate) const HEADER_LEN: usize = 4 + 1 + 16 + 32;
pub(crate) const MIN_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// The cleartext part of a blob: which key and which material sealed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlobHeader {
    pub(crate) key_id: Uuid,
    pub(crate) material_id: [u8; 32],
}

impl BlobHeader {
    pub(crate) fn material_hex(&self) -> String {
        hex::encode(self.material_id)
    }

    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..4].copy_from_slice(MAGIC);
        h[4] = VERSION;
        h[5..21].copy_from_slice(self.key_id.as_bytes());
        h[21..53].copy_from_slice(&self.material_id);
        h
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid ciphertext")]
pub(crate) struct InvalidBlob;

/// Reads the header without authenticating anything (the key lookup needs it first).
pub(crate) fn parse_header(blob: &[u8]) -> Result<BlobHeader, InvalidBlob> {
    if blob.len() < MIN_LEN || &blob[..4] != MAGIC || blob[4] != VERSION {
        return Err(InvalidBlob);
    }
    let key_id = Uuid::from_slice(&blob[5..21]).map_err(|_| InvalidBlob)?;
    let mut material_id = [0u8; 32];
    material_id.copy_from_slice(&blob[21..53]);
    Ok(BlobHeader {
        key_id,
        material_id,
    })
}

pub(crate) fn canonical_context(ctx: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(ctx.len() as u32).to_be_bytes());
    // BTreeMap<String, _> iterates in byte-wise key order, which is the canonical order.
    for (k, v) in ctx {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

/// The AAD of a blob: header ‖ canonical context. HSM-backed keys (custom key stores) use the
/// same layout and AAD; the token does the AES-256-GCM with its own key and random nonce.
pub(crate) fn aad(header: &[u8; HEADER_LEN], ctx: &BTreeMap<String, String>) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&canonical_context(ctx));
    aad
}

pub(crate) fn seal(
    backing_key: &[u8; KEY_LEN],
    header: &BlobHeader,
    ctx: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> Vec<u8> {
    let head = header.encode();
    let nonce: [u8; NONCE_LEN] = gcm::random_array();
    let mut out = Vec::with_capacity(MIN_LEN + plaintext.len());
    out.extend_from_slice(&head);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&gcm::seal(backing_key, &nonce, &aad(&head, ctx), plaintext));
    out
}

pub(crate) fn open(
    backing_key: &[u8; KEY_LEN],
    blob: &[u8],
    ctx: &BTreeMap<String, String>,
) -> Result<Zeroizing<Vec<u8>>, InvalidBlob> {
    let header = parse_header(blob)?;
    let head = header.encode();
    let nonce: [u8; NONCE_LEN] = blob[HEADER_LEN..HEADER_LEN + NONCE_LEN]
        .try_into()
        .map_err(|_| InvalidBlob)?;
    gcm::open(
        backing_key,
        &nonce,
        &aad(&head, ctx),
        &blob[HEADER_LEN + NONCE_LEN..],
    )
    .ok_or(InvalidBlob)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn header() -> BlobHeader {
        BlobHeader {
            key_id: Uuid::new_v4(),
            material_id: [7u8; 32],
        }
    }

    #[test]
    fn round_trip_and_header() {
        let key = [1u8; 32];
        let h = header();
        let c = ctx(&[("aws:s3:arn", "arn:aws:s3:::b/k"), ("a", "1")]);
        let blob = seal(&key, &h, &c, b"hello");
        assert_eq!(blob.len(), MIN_LEN + 5);
        assert_eq!(parse_header(&blob).unwrap(), h);
        assert_eq!(&open(&key, &blob, &c).unwrap()[..], b"hello");
    }

    #[test]
    fn context_must_match_exactly() {
        let key = [1u8; 32];
        let blob = seal(&key, &header(), &ctx(&[("a", "bc")]), b"x");
        assert!(open(&key, &blob, &ctx(&[("ab", "c")])).is_err());
        assert!(open(&key, &blob, &ctx(&[("a", "BC")])).is_err());
        assert!(open(&key, &blob, &ctx(&[])).is_err());
        assert!(open(&key, &blob, &ctx(&[("a", "bc"), ("z", "")])).is_err());
        assert_ne!(
            canonical_context(&ctx(&[("a", "bc")])),
            canonical_context(&ctx(&[("ab", "c")]))
        );
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let key = [1u8; 32];
        let blob = seal(&key, &header(), &ctx(&[]), b"data key bytes");
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert!(open(&key, &bad, &ctx(&[])).is_err(), "byte {i}");
        }
        assert!(open(&key, &blob[..blob.len() - 1], &ctx(&[])).is_err());
        assert!(parse_header(&blob[..MIN_LEN - 1]).is_err());
        assert!(open(&[2u8; 32], &blob, &ctx(&[])).is_err());
    }
}
