//! The AWS S3 Encryption Client's metadata format **V2** (written by the V2 clients and the
//! Java/Go/.NET V3 clients; read by every current client when its commitment policy allows
//! non-committing objects). Algorithm suite `ALG_AES_256_GCM_IV12_TAG16_NO_KDF`: no key
//! commitment, so `sealgate cp` writes it only under `forbid-encrypt-allow-decrypt`.
//!
//! Layout (user metadata; S3 adds the `x-amz-meta-` prefix on the wire):
//!
//! | name | value |
//! |---|---|
//! | `x-amz-key-v2` | base64 of the wrapped data key |
//! | `x-amz-iv` | base64 of the 12-byte content IV |
//! | `x-amz-cek-alg` | `AES/GCM/NoPadding` |
//! | `x-amz-tag-len` | `128` |
//! | `x-amz-wrap-alg` | `kms+context` or `AES/GCM` |
//! | `x-amz-matdesc` | JSON: the KMS encryption context (`kms+context`) or the material description (`AES/GCM`, `{}`) |
//! | `x-amz-unencrypted-content-length` | plaintext length in bytes |
//!
//! Content: `AES-256-GCM(data key, IV, aad = empty).encrypt(plaintext)`, the 16-byte tag
//! appended. For `kms+context` the encryption context is `{"aws:x-amz-cek-alg":
//! "AES/GCM/NoPadding"}`; reading checks the stored context names that algorithm, as the
//! reference client does, so a context naming another algorithm cannot change how the content
//! is read.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use super::error::CseError;
use super::keys::Wrap;
use crate::kms::gcm;

pub(crate) const CEK_ALG: &str = "AES/GCM/NoPadding";
pub(crate) const TAG_LEN_BITS: &str = "128";
/// The encryption-context key the reference client reserves for the content algorithm.
pub(crate) const CONTEXT_CEK_ALG: &str = "aws:x-amz-cek-alg";

pub(crate) const META_KEY: &str = "x-amz-key-v2";
pub(crate) const META_IV: &str = "x-amz-iv";
pub(crate) const META_CEK_ALG: &str = "x-amz-cek-alg";
pub(crate) const META_TAG_LEN: &str = "x-amz-tag-len";
pub(crate) const META_WRAP_ALG: &str = "x-amz-wrap-alg";
pub(crate) const META_MATDESC: &str = "x-amz-matdesc";
pub(crate) const META_PLAIN_LEN: &str = "x-amz-unencrypted-content-length";

/// Everything stored beside a V2 ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) wrap: Wrap,
    pub(crate) wrapped_key: Vec<u8>,
    pub(crate) iv: [u8; gcm::NONCE_LEN],
    /// Encryption context (`kms+context`) or material description (`AES/GCM`).
    pub(crate) matdesc: BTreeMap<String, String>,
    /// `x-amz-unencrypted-content-length`, when the object carries it.
    pub(crate) plaintext_len: Option<u64>,
}

/// The encryption context of a V2 `kms+context` data key.
pub(crate) fn kms_context() -> BTreeMap<String, String> {
    BTreeMap::from([(CONTEXT_CEK_ALG.to_string(), CEK_ALG.to_string())])
}

impl Envelope {
    /// Encrypts `plaintext` under `data_key` with a fresh IV: the body and its envelope.
    pub(crate) fn seal(
        wrap: Wrap,
        wrapped_key: Vec<u8>,
        matdesc: BTreeMap<String, String>,
        data_key: &[u8; 32],
        plaintext: &[u8],
    ) -> (Vec<u8>, Envelope) {
        let iv: [u8; gcm::NONCE_LEN] = gcm::random_array();
        let body = gcm::seal(data_key, &iv, b"", plaintext);
        let envelope = Envelope {
            wrap,
            wrapped_key,
            iv,
            matdesc,
            plaintext_len: Some(plaintext.len() as u64),
        };
        (body, envelope)
    }

    /// Decrypts and verifies the body; the length check runs only when the object stated one.
    pub(crate) fn open(
        &self,
        data_key: &[u8; 32],
        body: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CseError> {
        let plain = gcm::open(data_key, &self.iv, b"", body).ok_or(CseError::Tampered)?;
        if self.plaintext_len.is_some_and(|n| n != plain.len() as u64) {
            return Err(CseError::BadMetadata(
                "x-amz-unencrypted-content-length does not match the content".into(),
            ));
        }
        Ok(plain)
    }

    /// The user-metadata pairs (names without `x-amz-meta-`).
    pub(crate) fn to_metadata(&self) -> Vec<(String, String)> {
        let matdesc = serde_json::to_string(&self.matdesc).unwrap_or_else(|_| "{}".into());
        let mut out = vec![
            (META_KEY.into(), B64.encode(&self.wrapped_key)),
            (META_IV.into(), B64.encode(self.iv)),
            (META_CEK_ALG.into(), CEK_ALG.into()),
            (META_TAG_LEN.into(), TAG_LEN_BITS.into()),
            (META_WRAP_ALG.into(), self.wrap.name().into()),
            (META_MATDESC.into(), matdesc),
        ];
        if let Some(n) = self.plaintext_len {
            out.push((META_PLAIN_LEN.into(), n.to_string()));
        }
        out
    }

    /// Reads the V2 layout from user metadata the format detector has classified as V2.
    pub(crate) fn from_metadata(meta: &BTreeMap<String, String>) -> Result<Envelope, CseError> {
        let bad = |what: &str| CseError::BadMetadata(what.to_string());
        let key = meta.get(META_KEY).ok_or(CseError::NotEncrypted)?;
        let iv = meta.get(META_IV).ok_or_else(|| bad("no x-amz-iv"))?;
        let cek_alg = meta
            .get(META_CEK_ALG)
            .ok_or_else(|| bad("no x-amz-cek-alg"))?;
        match cek_alg.as_str() {
            CEK_ALG => {}
            "AES/CBC/PKCS5Padding" => {
                return Err(CseError::Legacy(
                    "the V2 format with AES/CBC/PKCS5Padding content".into(),
                ));
            }
            other => return Err(CseError::Unsupported("content algorithm", other.into())),
        }
        if let Some(tag) = meta.get(META_TAG_LEN)
            && tag != TAG_LEN_BITS
        {
            return Err(CseError::Unsupported("tag length", tag.clone()));
        }
        let wrap = match meta.get(META_WRAP_ALG).map(String::as_str) {
            Some("kms+context") => Wrap::Kms,
            Some("AES/GCM") => Wrap::AesGcm,
            Some(
                legacy @ ("kms" | "AESWrap" | "AES" | "RSA/ECB/OAEPWithSHA-256AndMGF1Padding"),
            ) => {
                return Err(CseError::Legacy(format!(
                    "the V2 format with key wrapping {legacy}"
                )));
            }
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
            Some(n) => Some(
                n.parse()
                    .map_err(|_| bad("x-amz-unencrypted-content-length"))?,
            ),
            None => None,
        };
        Ok(Envelope {
            wrap,
            wrapped_key,
            iv,
            matdesc,
            plaintext_len,
        })
    }

    /// For `kms+context`: the stored context, checked to name this format's content algorithm.
    pub(crate) fn kms_context(&self) -> Result<&BTreeMap<String, String>, CseError> {
        match self.matdesc.get(CONTEXT_CEK_ALG) {
            Some(alg) if alg == CEK_ALG => Ok(&self.matdesc),
            _ => Err(CseError::BadMetadata(format!(
                "x-amz-matdesc lacks {CONTEXT_CEK_ALG}={CEK_ALG}"
            ))),
        }
    }
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
            plaintext_len: Some(42),
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
        let mut other = meta.clone();
        other.insert("x-amz-cek-alg".into(), "AES/CBC/PKCS5Padding".into());
        assert!(matches!(
            Envelope::from_metadata(&other),
            Err(CseError::Legacy(..))
        ));
        other.insert("x-amz-cek-alg".into(), "AES/CTR/NoPadding".into());
        assert!(matches!(
            Envelope::from_metadata(&other),
            Err(CseError::Unsupported(..))
        ));
        let mut other = meta.clone();
        other.insert("x-amz-wrap-alg".into(), "kms".into());
        let err = Envelope::from_metadata(&other).unwrap_err().to_string();
        assert!(err.contains("key wrapping kms"), "{err}");
    }

    #[test]
    fn content_is_gcm_with_the_tag_appended() {
        let dk = [3u8; 32];
        let (body, env) = Envelope::seal(Wrap::AesGcm, vec![], BTreeMap::new(), &dk, b"hello");
        assert_eq!(body.len(), 5 + 16);
        // Independently: GCM under the data key and the stored IV, no AAD.
        let plain = gcm::open(&dk, &env.iv, b"", &body).unwrap();
        assert_eq!(plain.as_slice(), b"hello");
        assert_eq!(env.open(&dk, &body).unwrap().as_slice(), b"hello");
        let mut bad = body.clone();
        bad[0] ^= 1;
        assert!(matches!(env.open(&dk, &bad), Err(CseError::Tampered)));
        let lying = Envelope {
            plaintext_len: Some(6),
            ..env
        };
        assert!(matches!(
            lying.open(&dk, &body),
            Err(CseError::BadMetadata(..))
        ));
    }
}
