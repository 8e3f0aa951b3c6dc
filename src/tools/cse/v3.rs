//! The AWS S3 Encryption Client's metadata format **V3**, algorithm suite
//! `ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY` (id `0x0073` = 115): the key-committing format the
//! Python 4.x, Java/Go/.NET 4.x and C++/PHP/Ruby 3.x clients write by default.
//!
//! Key commitment closes the gap V2 leaves open: a GCM ciphertext can be built that decrypts
//! under two different keys, so a V2 object whose wrapped key opens differently for two readers
//! can show them different plaintexts. V3 derives the content key and a commitment value from
//! the data key and a random message id, stores the commitment, and every reader recomputes it
//! (constant-time compare) before touching the content.
//!
//! Derivation (HKDF, RFC 5869, with SHA-512):
//! - `PRK = HMAC-SHA512(key = message id (28 bytes), data = data key (32 bytes))`
//! - content key `= HKDF-Expand(PRK, info = 0x00 0x73 ‖ "DERIVEKEY", 32)`
//! - commitment `= HKDF-Expand(PRK, info = 0x00 0x73 ‖ "COMMITKEY", 28)`
//!
//! Content: `AES-256-GCM(content key, IV = twelve 0x01 bytes, aad = 0x00 0x73)`, tag appended.
//! The fixed IV is safe because the content key is unique per message id.
//!
//! Layout (user metadata; S3 adds the `x-amz-meta-` prefix):
//!
//! | name | value |
//! |---|---|
//! | `x-amz-c` | `115` (the suite id in decimal) |
//! | `x-amz-3` | base64 of the wrapped data key |
//! | `x-amz-w` | `12` (`kms+context`) or `02` (`AES/GCM`) |
//! | `x-amz-i` | base64 of the 28-byte message id |
//! | `x-amz-d` | base64 of the 28-byte commitment |
//! | `x-amz-t` | JSON KMS encryption context (`kms+context`): `{"aws:x-amz-cek-alg":"115"}` |
//! | `x-amz-m` | JSON material description (`AES/GCM`; absent means `{}`) |
//!
//! `x-amz-c`, `x-amz-d` and `x-amz-i` always live in the object's metadata; the rest may live in
//! an instruction file (`<key>.instruction`, a JSON object of those names).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hkdf::Hkdf;
use sha2::Sha512;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::error::CseError;
use super::keys::Wrap;
use crate::kms::gcm;

/// The algorithm suite id, as stored in `x-amz-c` and in the KMS encryption context.
pub(crate) const SUITE_ID: &str = "115";
/// The suite id as two big-endian bytes: the HKDF info prefix and the content AAD.
const SUITE_ID_BYTES: [u8; 2] = [0x00, 0x73];
pub(crate) const MESSAGE_ID_LEN: usize = 28;
pub(crate) const COMMITMENT_LEN: usize = 28;
/// The content IV: all `0x01`, fixed because the content key is unique per message id.
const CONTENT_IV: [u8; gcm::NONCE_LEN] = [0x01; gcm::NONCE_LEN];

pub(crate) const META_CONTENT_CIPHER: &str = "x-amz-c";
pub(crate) const META_KEY: &str = "x-amz-3";
pub(crate) const META_WRAP_ALG: &str = "x-amz-w";
pub(crate) const META_MESSAGE_ID: &str = "x-amz-i";
pub(crate) const META_COMMITMENT: &str = "x-amz-d";
pub(crate) const META_CONTEXT: &str = "x-amz-t";
pub(crate) const META_MATDESC: &str = "x-amz-m";
/// The mapkeys that must stay in the object metadata (never in an instruction file).
pub(crate) const OBJECT_ONLY: [&str; 3] = [META_CONTENT_CIPHER, META_COMMITMENT, META_MESSAGE_ID];

/// The encryption-context key the reference clients reserve for the content algorithm.
const CONTEXT_CEK_ALG: &str = "aws:x-amz-cek-alg";

/// The encryption context of a V3 `kms+context` data key.
pub(crate) fn kms_context() -> BTreeMap<String, String> {
    BTreeMap::from([(CONTEXT_CEK_ALG.to_string(), SUITE_ID.to_string())])
}

/// The content key and the commitment derived from a data key and a message id.
pub(crate) struct Derived {
    pub(crate) content_key: Zeroizing<[u8; 32]>,
    pub(crate) commitment: [u8; COMMITMENT_LEN],
}

pub(crate) fn derive(data_key: &[u8; 32], message_id: &[u8; MESSAGE_ID_LEN]) -> Derived {
    let hk = Hkdf::<Sha512>::new(Some(message_id), data_key);
    let mut content_key = Zeroizing::new([0u8; 32]);
    let mut commitment = [0u8; COMMITMENT_LEN];
    let info = |label: &[u8]| [SUITE_ID_BYTES.as_slice(), label].concat();
    // Both lengths are far below HKDF-SHA512's 255 × 64-byte limit.
    hk.expand(&info(b"DERIVEKEY"), content_key.as_mut())
        .expect("32 bytes is a valid HKDF-SHA512 length");
    hk.expand(&info(b"COMMITKEY"), &mut commitment)
        .expect("28 bytes is a valid HKDF-SHA512 length");
    Derived {
        content_key,
        commitment,
    }
}

/// Everything stored beside a V3 ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) wrap: Wrap,
    pub(crate) wrapped_key: Vec<u8>,
    pub(crate) message_id: [u8; MESSAGE_ID_LEN],
    pub(crate) commitment: [u8; COMMITMENT_LEN],
    /// `x-amz-t` (KMS encryption context) for `kms+context`, `x-amz-m` for `AES/GCM`.
    pub(crate) context: BTreeMap<String, String>,
}

impl Envelope {
    /// Encrypts `plaintext` under a key derived from `data_key` and a fresh message id.
    pub(crate) fn seal(
        wrap: Wrap,
        wrapped_key: Vec<u8>,
        context: BTreeMap<String, String>,
        data_key: &[u8; 32],
        plaintext: &[u8],
    ) -> (Vec<u8>, Envelope) {
        let message_id: [u8; MESSAGE_ID_LEN] = gcm::random_array();
        let (body, commitment) = seal_with(data_key, &message_id, plaintext);
        let envelope = Envelope {
            wrap,
            wrapped_key,
            message_id,
            commitment,
            context,
        };
        (body, envelope)
    }

    /// Checks the commitment (before anything else), then decrypts and verifies the body.
    pub(crate) fn open(
        &self,
        data_key: &[u8; 32],
        body: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CseError> {
        let derived = derive(data_key, &self.message_id);
        if !bool::from(derived.commitment.ct_eq(&self.commitment)) {
            return Err(CseError::CommitmentMismatch);
        }
        gcm::open(&derived.content_key, &CONTENT_IV, &SUITE_ID_BYTES, body)
            .ok_or(CseError::Tampered)
    }

    /// The user-metadata pairs (names without `x-amz-meta-`).
    pub(crate) fn to_metadata(&self) -> Vec<(String, String)> {
        let mut out = vec![
            (META_CONTENT_CIPHER.into(), SUITE_ID.into()),
            (META_KEY.into(), B64.encode(&self.wrapped_key)),
            (META_WRAP_ALG.into(), self.wrap.v3_code().into()),
            (META_MESSAGE_ID.into(), B64.encode(self.message_id)),
            (META_COMMITMENT.into(), B64.encode(self.commitment)),
        ];
        let json = serde_json::to_string(&self.context).unwrap_or_else(|_| "{}".into());
        match self.wrap {
            Wrap::Kms => out.push((META_CONTEXT.into(), json)),
            // An empty material description is the default: the reference clients omit it.
            Wrap::AesGcm if !self.context.is_empty() => out.push((META_MATDESC.into(), json)),
            Wrap::AesGcm => {}
        }
        out
    }

    /// Reads the V3 layout from metadata the format detector has classified as V3 (object
    /// metadata, merged with the instruction file's when there is one).
    pub(crate) fn from_metadata(meta: &BTreeMap<String, String>) -> Result<Envelope, CseError> {
        let bad = |what: String| CseError::BadMetadata(what);
        let need = |name: &str| meta.get(name).ok_or_else(|| bad(format!("no {name}")));
        let suite = need(META_CONTENT_CIPHER)?;
        match suite.as_str() {
            SUITE_ID => {}
            "AES/GCM/NoPadding" | "AES/CBC/PKCS5Padding" => {
                return Err(bad(format!(
                    "x-amz-c {suite:?} is a non-committing suite in a V3 (committing) layout"
                )));
            }
            other => return Err(CseError::Unsupported("content algorithm", other.into())),
        }
        let wrap = match need(META_WRAP_ALG)?.as_str() {
            "12" => Wrap::Kms,
            "02" => Wrap::AesGcm,
            "22" => {
                return Err(CseError::Legacy(
                    "the V3 format with RSA-OAEP-SHA1 key wrapping".into(),
                ));
            }
            other => {
                return Err(CseError::Unsupported(
                    "key wrapping (x-amz-w)",
                    other.into(),
                ));
            }
        };
        let wrapped_key = B64
            .decode(need(META_KEY)?)
            .map_err(|_| bad("x-amz-3 is not base64".into()))?;
        let fixed = |name: &str| -> Result<[u8; 28], CseError> {
            B64.decode(need(name)?)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| bad(format!("{name} is not 28 base64 bytes")))
        };
        let message_id = fixed(META_MESSAGE_ID)?;
        let commitment = fixed(META_COMMITMENT)?;
        let context_name = match wrap {
            Wrap::Kms => META_CONTEXT,
            Wrap::AesGcm => META_MATDESC,
        };
        let context = match meta.get(context_name) {
            Some(json) => serde_json::from_str(json)
                .map_err(|_| bad(format!("{context_name} is not a JSON object of strings")))?,
            None => BTreeMap::new(),
        };
        Ok(Envelope {
            wrap,
            wrapped_key,
            message_id,
            commitment,
            context,
        })
    }

    /// For `kms+context`: the stored context, checked to name this suite.
    pub(crate) fn kms_context(&self) -> Result<&BTreeMap<String, String>, CseError> {
        match self.context.get(CONTEXT_CEK_ALG) {
            Some(alg) if alg == SUITE_ID => Ok(&self.context),
            _ => Err(CseError::BadMetadata(format!(
                "x-amz-t lacks {CONTEXT_CEK_ALG}={SUITE_ID}"
            ))),
        }
    }
}

/// The body and the commitment for a given message id (split out so a fixed test vector can
/// be reproduced).
fn seal_with(
    data_key: &[u8; 32],
    message_id: &[u8; MESSAGE_ID_LEN],
    plaintext: &[u8],
) -> (Vec<u8>, [u8; COMMITMENT_LEN]) {
    let derived = derive(data_key, message_id);
    let body = gcm::seal(
        &derived.content_key,
        &CONTENT_IV,
        &SUITE_ID_BYTES,
        plaintext,
    );
    (body, derived.commitment)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Produced by AWS's S3 Encryption Client for Python 4.0.0 (`PutEncryptedObjectPipeline`,
    /// a keyring returning a fixed data key, `os.urandom` fixed for the message id); the same
    /// vector is in docs/CSE.md.
    const DATA_KEY: [u8; 32] = {
        let mut k = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            k[i] = i as u8;
            i += 1;
        }
        k
    };
    const MESSAGE_ID_B64: &str = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaWw==";
    const COMMITMENT_B64: &str = "DnQZ5c+3xg1Xp0jYfAMnh0k1DJu0yXP09Agx9A==";
    const CONTENT_KEY_HEX: &str =
        "35f108bd2c11d0a8334d2c5d6e7dacb51d477b00723a49466ef1dff41ff45d52";
    const PLAINTEXT: &[u8] = b"sealgate v3 test vector\n";
    const CIPHERTEXT_HEX: &str =
        "a0022b6c41ec1f44336ba261d037bc7016e051f9548c4fbfba0fb8bfedcffb816c70bf1f555b1cf7";
    const EMPTY_CIPHERTEXT_HEX: &str = "1957e31f3fbe220acba1a68965e5d1c9";

    fn vector_envelope() -> Envelope {
        let meta: BTreeMap<String, String> = [
            ("x-amz-c", "115"),
            ("x-amz-3", "d3JhcHBlZC1rZXktYmxvYg=="),
            ("x-amz-t", "{\"aws:x-amz-cek-alg\": \"115\"}"),
            ("x-amz-w", "12"),
            ("x-amz-d", COMMITMENT_B64),
            ("x-amz-i", MESSAGE_ID_B64),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Envelope::from_metadata(&meta).unwrap()
    }

    #[test]
    fn the_python_clients_vector_reproduces_and_opens() {
        let env = vector_envelope();
        assert_eq!(env.wrap, Wrap::Kms);
        assert_eq!(env.wrapped_key, b"wrapped-key-blob");
        assert_eq!(env.kms_context().unwrap(), &kms_context());
        assert_eq!(env.message_id, core::array::from_fn(|i| 0x40 + i as u8));
        let derived = derive(&DATA_KEY, &env.message_id);
        assert_eq!(hex::encode(*derived.content_key), CONTENT_KEY_HEX);
        assert_eq!(B64.encode(derived.commitment), COMMITMENT_B64);
        let (body, commitment) = seal_with(&DATA_KEY, &env.message_id, PLAINTEXT);
        assert_eq!(hex::encode(&body), CIPHERTEXT_HEX);
        assert_eq!(commitment, env.commitment);
        let (empty, _) = seal_with(&DATA_KEY, &env.message_id, b"");
        assert_eq!(hex::encode(&empty), EMPTY_CIPHERTEXT_HEX);
        let body = hex::decode(CIPHERTEXT_HEX).unwrap();
        assert_eq!(env.open(&DATA_KEY, &body).unwrap().as_slice(), PLAINTEXT);
    }

    #[test]
    fn a_changed_commitment_or_message_id_is_refused_before_the_content() {
        let body = hex::decode(CIPHERTEXT_HEX).unwrap();
        let mut env = vector_envelope();
        env.commitment[27] ^= 1;
        assert!(matches!(
            env.open(&DATA_KEY, &body),
            Err(CseError::CommitmentMismatch)
        ));
        let mut env = vector_envelope();
        env.message_id[0] ^= 1;
        assert!(matches!(
            env.open(&DATA_KEY, &body),
            Err(CseError::CommitmentMismatch)
        ));
        // Another data key: the commitment check, not GCM, is what refuses it.
        assert!(matches!(
            vector_envelope().open(&[7u8; 32], &body),
            Err(CseError::CommitmentMismatch)
        ));
        let mut tampered = body.clone();
        tampered[3] ^= 0x80;
        assert!(matches!(
            vector_envelope().open(&DATA_KEY, &tampered),
            Err(CseError::Tampered)
        ));
    }

    #[test]
    fn metadata_round_trips_and_bad_values_are_named() {
        let (_, env) = Envelope::seal(Wrap::AesGcm, vec![9; 60], BTreeMap::new(), &[1; 32], b"x");
        let meta: BTreeMap<String, String> = env.to_metadata().into_iter().collect();
        assert_eq!(meta["x-amz-c"], "115");
        assert_eq!(meta["x-amz-w"], "02");
        assert!(!meta.contains_key("x-amz-m") && !meta.contains_key("x-amz-t"));
        assert_eq!(Envelope::from_metadata(&meta).unwrap(), env);
        let (_, kms) = Envelope::seal(Wrap::Kms, vec![1], kms_context(), &[1; 32], b"x");
        let kms_meta: BTreeMap<String, String> = kms.to_metadata().into_iter().collect();
        assert_eq!(kms_meta["x-amz-t"], r#"{"aws:x-amz-cek-alg":"115"}"#);
        assert_eq!(kms_meta["x-amz-w"], "12");

        let with = |name: &str, value: &str| {
            let mut m = meta.clone();
            m.insert(name.into(), value.into());
            Envelope::from_metadata(&m).unwrap_err().to_string()
        };
        assert!(with("x-amz-c", "116").contains("content algorithm"));
        assert!(with("x-amz-c", "AES/GCM/NoPadding").contains("non-committing"));
        assert!(with("x-amz-w", "22").contains("RSA-OAEP-SHA1"));
        assert!(with("x-amz-w", "13").contains("x-amz-w"));
        assert!(with("x-amz-d", "AAAA").contains("x-amz-d is not 28"));
        assert!(with("x-amz-i", "!!").contains("x-amz-i is not 28"));
        assert!(with("x-amz-m", "[1]").contains("x-amz-m is not a JSON"));
        let mut missing = meta.clone();
        missing.remove("x-amz-d");
        assert!(
            Envelope::from_metadata(&missing)
                .unwrap_err()
                .to_string()
                .contains("no x-amz-d")
        );
        // A KMS context naming another algorithm is refused.
        let mut ctx = kms.clone();
        ctx.context
            .insert("aws:x-amz-cek-alg".into(), "AES/GCM/NoPadding".into());
        assert!(ctx.kms_context().is_err());
    }
}
