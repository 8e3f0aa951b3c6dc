//! Asymmetric signing keys (ECC_NIST_P256, ECDSA_SHA_256): Sign, Verify, GetPublicKey, with
//! RustCrypto `p256`. The private scalar is generated here and stored sealed under the root key
//! like a symmetric backing key; only the public key (DER SubjectPublicKeyInfo) leaves.
//! Signatures are DER-encoded ECDSA-Sig-Value, as AWS returns them.

use std::collections::BTreeMap;

use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::crypto::dry_run_ok;
use super::db::{self, KeyRecord};
use super::error::{ErrorKind, KmsError};
use super::util::{self, required};
use super::{Call, KmsService, gcm};

const SHA256_LEN: usize = 32;
const MAX_SIGNATURE: usize = 6144;
const SIGNING_ALGORITHMS: &[&str] = &[
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "ECDSA_SHA_256",
    "ECDSA_SHA_384",
    "ECDSA_SHA_512",
    "SM2DSA",
    "ML_DSA_SHAKE_256",
    "ED25519_SHA_512",
    "ED25519_PH_SHA_512",
];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SignRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) message_type: Option<String>,
    pub(crate) signing_algorithm: Option<String>,
    pub(crate) signature: Option<String>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) dry_run: Option<bool>,
}

/// Validated members shared by Sign and Verify.
struct Checked {
    key_ref: String,
    message: Zeroizing<Vec<u8>>,
    digest: bool,
    algorithm: String,
    tokens: Vec<String>,
}

fn check(req: &SignRequest) -> Result<Checked, KmsError> {
    let key_ref = required(req.key_id.clone(), "keyId")?;
    let message = util::message_member(req.message.clone())?;
    let digest = match req.message_type.as_deref() {
        None | Some("RAW") => false,
        Some("DIGEST") => true,
        Some(t) => {
            return Err(KmsError::constraint(
                &format!("'{t}'"),
                "messageType",
                "Member must satisfy enum value set: [RAW, DIGEST, EXTERNAL_MU]",
            ));
        }
    };
    let algorithm = required(req.signing_algorithm.clone(), "signingAlgorithm")?;
    if !SIGNING_ALGORITHMS.contains(&algorithm.as_str()) {
        return Err(KmsError::constraint(
            &format!("'{algorithm}'"),
            "signingAlgorithm",
            &format!(
                "Member must satisfy enum value set: [{}]",
                SIGNING_ALGORITHMS.join(", ")
            ),
        ));
    }
    Ok(Checked {
        key_ref,
        message,
        digest,
        algorithm,
        tokens: util::grant_tokens(req.grant_tokens.clone())?,
    })
}

fn wrong_usage(key: &KeyRecord, op: &str) -> KmsError {
    KmsError::new(
        ErrorKind::InvalidKeyUsage,
        format!(
            "{} key usage is {} which is not valid for {op}.",
            key.arn,
            key.key_spec.key_usage()
        ),
    )
}

impl KmsService {
    /// Generates and stores the private scalar of a new P-256 key; returns its material id.
    pub(super) fn new_signing_material(
        &self,
        tx: &dyn super::db::Tx,
        key_id: &str,
    ) -> Result<String, KmsError> {
        // A uniformly random 32-byte string is a valid scalar unless zero or >= n
        // (probability ~2^-32); draw again then.
        let scalar = loop {
            let candidate = Zeroizing::new(gcm::random_array::<32>());
            if SigningKey::from_slice(candidate.as_ref()).is_ok() {
                break candidate;
            }
        };
        let material_id = hex::encode(gcm::random_array::<32>());
        let row = db::MaterialRow {
            key_id: key_id.to_string(),
            material_id: material_id.clone(),
            sealed: Some(self.seal_material(key_id, &material_id, scalar.as_ref())),
            created: self.now(),
            rotation_type: None,
            imported: false,
            fingerprint: None,
        };
        db::put_material(tx, &row)?;
        Ok(material_id)
    }

    /// Resolve, authorize and state-check a signing key; unseal its private key.
    fn signing_key_for(
        &self,
        call: &mut Call<'_>,
        c: &Checked,
        action: &str,
    ) -> Result<(KeyRecord, SigningKey), KmsError> {
        self.inner.store.with_tx(|tx| {
            let key = self.resolve(tx, &c.key_ref, true)?;
            call.note_key(&key);
            self.authorize(tx, call, action, Some(&key), &BTreeMap::new(), &c.tokens)?;
            self.check_usable(call, &key)?;
            let op = action.trim_start_matches("kms:");
            let Some(alg) = key.key_spec.signing_algorithm() else {
                return Err(wrong_usage(&key, op));
            };
            if alg != c.algorithm {
                return Err(KmsError::new(
                    ErrorKind::InvalidKeyUsage,
                    format!(
                        "Algorithm {} is incompatible with key spec {}.",
                        c.algorithm,
                        key.key_spec.as_str()
                    ),
                ));
            }
            if c.digest && c.message.len() != SHA256_LEN {
                return Err(KmsError::validation(format!(
                    "Digest is invalid length for algorithm {}.",
                    c.algorithm
                )));
            }
            let sk = self.private_key(tx, &key)?;
            Ok((key, sk))
        })
    }

    fn private_key(&self, tx: &dyn super::db::Tx, key: &KeyRecord) -> Result<SigningKey, KmsError> {
        let material_id = key
            .current_material
            .clone()
            .ok_or_else(|| KmsError::internal("signing key has no material"))?;
        let secret = self.secret_material(tx, key, &material_id)?;
        SigningKey::from_slice(&secret)
            .map_err(|_| KmsError::internal("stored signing key is not a valid P-256 scalar"))
    }

    pub(crate) fn sign(&self, call: &mut Call<'_>, req: SignRequest) -> Result<Value, KmsError> {
        let c = check(&req)?;
        let (key, sk) = self.signing_key_for(call, &c, "kms:Sign")?;
        dry_run_ok(req.dry_run)?;
        let sig: DerSignature = if c.digest {
            sk.sign_prehash(&c.message)
                .map_err(|_| KmsError::internal("ECDSA signing failed"))?
        } else {
            // Hashes the message with SHA-256 (the curve's digest), deterministic k (RFC 6979).
            sk.try_sign(&c.message)
                .map_err(|_| KmsError::internal("ECDSA signing failed"))?
        };
        Ok(json!({
            "KeyId": key.arn,
            "Signature": util::b64(sig.as_bytes()),
            "SigningAlgorithm": c.algorithm,
        }))
    }

    pub(crate) fn verify(&self, call: &mut Call<'_>, req: SignRequest) -> Result<Value, KmsError> {
        let c = check(&req)?;
        let given = util::unb64(&required(req.signature.clone(), "signature")?, "Signature")?;
        if given.is_empty() || given.len() > MAX_SIGNATURE {
            let m = if given.is_empty() {
                "Member must have length greater than or equal to 1"
            } else {
                "Member must have length less than or equal to 6144"
            };
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value at 'signature' failed to satisfy constraint: {m}"
            )));
        }
        let (key, sk) = self.signing_key_for(call, &c, "kms:Verify")?;
        dry_run_ok(req.dry_run)?;
        let vk = sk.verifying_key();
        // A signature that does not parse as DER is as invalid as one that does not verify.
        let valid = DerSignature::from_bytes(&given).is_ok_and(|sig| {
            if c.digest {
                vk.verify_prehash(&c.message, &sig).is_ok()
            } else {
                vk.verify(&c.message, &sig).is_ok()
            }
        });
        if !valid {
            return Err(KmsError::new(
                ErrorKind::KmsInvalidSignature,
                "The signature is not valid for the message under the given key and algorithm.",
            ));
        }
        Ok(json!({
            "KeyId": key.arn,
            "SignatureValid": true,
            "SigningAlgorithm": c.algorithm,
        }))
    }

    pub(crate) fn get_public_key(
        &self,
        call: &mut Call<'_>,
        req: super::keys::KeyIdRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let tokens = util::grant_tokens(req.grant_tokens)?;
        self.inner.store.with_tx(|tx| {
            let key = self.resolve(tx, &key_ref, true)?;
            call.note_key(&key);
            self.authorize(
                tx,
                call,
                "kms:GetPublicKey",
                Some(&key),
                &BTreeMap::new(),
                &tokens,
            )?;
            self.check_usable(call, &key)?;
            let Some(alg) = key.key_spec.signing_algorithm() else {
                return Err(KmsError::unsupported(format!(
                    "{} key spec is {} which has no public key.",
                    key.arn,
                    key.key_spec.as_str()
                )));
            };
            let sk = self.private_key(tx, &key)?;
            let der = sk
                .verifying_key()
                .to_public_key_der()
                .map_err(|_| KmsError::internal("public key encoding failed"))?;
            Ok(json!({
                "KeyId": key.arn,
                "PublicKey": util::b64(der.as_bytes()),
                "KeySpec": key.key_spec.as_str(),
                "CustomerMasterKeySpec": key.key_spec.as_str(),
                "KeyUsage": key.key_spec.key_usage(),
                "SigningAlgorithms": [alg],
            }))
        })
    }
}
