//! Asymmetric keys as a service: Sign, Verify and GetPublicKey for RSA and ECC SIGN_VERIFY keys,
//! and the generation and unsealing of every asymmetric private key (the primitives are in
//! `asym`). The private key is generated here and stored sealed under the root key like a
//! symmetric backing key; only the public key (DER SubjectPublicKeyInfo) leaves.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::asym::{self, PrivateKey};
use super::crypto::dry_run_ok;
use super::db::{self, KeyRecord};
use super::error::{ErrorKind, KmsError};
use super::key_spec::{self, KeyUsage};
use super::util::{self, required};
use super::{Call, KmsService, gcm};

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

impl KmsService {
    /// Stores a generated private key as the key's material; returns its material id.
    pub(super) fn put_private_key(
        &self,
        tx: &dyn super::db::Tx,
        key_id: &str,
        private: &PrivateKey,
    ) -> Result<String, KmsError> {
        let material = private.to_material()?;
        let material_id = hex::encode(gcm::random_array::<32>());
        let row = db::MaterialRow {
            key_id: key_id.to_string(),
            material_id: material_id.clone(),
            sealed: Some(self.seal_material(key_id, &material_id, &material)),
            created: self.now(),
            rotation_type: None,
            imported: false,
            fingerprint: None,
        };
        db::put_material(tx, &row)?;
        Ok(material_id)
    }

    /// Resolve, authorize and state-check a signing key; check usage, algorithm and digest
    /// length in AWS's order; unseal its private key.
    fn signing_key_for(
        &self,
        call: &mut Call<'_>,
        c: &Checked,
        action: &str,
    ) -> Result<(KeyRecord, PrivateKey), KmsError> {
        self.inner.store.with_tx(|tx| {
            let key = self.resolve(tx, &c.key_ref, true)?;
            call.note_key(&key);
            self.authorize(tx, call, action, Some(&key), &BTreeMap::new(), &c.tokens)?;
            self.check_usable(call, &key)?;
            if key.key_usage != KeyUsage::SignVerify {
                return Err(key.wrong_usage(action.trim_start_matches("kms:")));
            }
            if !key
                .key_spec
                .signing_algorithms()
                .contains(&c.algorithm.as_str())
            {
                return Err(KmsError::new(
                    ErrorKind::InvalidKeyUsage,
                    format!(
                        "Algorithm {} is incompatible with key spec {}.",
                        c.algorithm,
                        key.key_spec.as_str()
                    ),
                ));
            }
            if c.digest && c.message.len() != asym::digest_len(&c.algorithm) {
                return Err(KmsError::validation(format!(
                    "Digest is invalid length for algorithm {}.",
                    c.algorithm
                )));
            }
            let sk = self.private_key(tx, &key)?;
            Ok((key, sk))
        })
    }

    /// The unsealed private key of an asymmetric key (zeroized when dropped).
    pub(crate) fn private_key(
        &self,
        tx: &dyn super::db::Tx,
        key: &KeyRecord,
    ) -> Result<PrivateKey, KmsError> {
        let material_id = key
            .current_material
            .clone()
            .ok_or_else(|| KmsError::internal("asymmetric key has no material"))?;
        let secret = self.secret_material(tx, key, &material_id)?;
        PrivateKey::from_material(key.key_spec, &secret).ok_or_else(|| {
            KmsError::internal(format!(
                "stored private key is not a valid {} key",
                key.key_spec.as_str()
            ))
        })
    }

    pub(crate) fn sign(&self, call: &mut Call<'_>, req: SignRequest) -> Result<Value, KmsError> {
        let c = check(&req)?;
        let (key, sk) = self.signing_key_for(call, &c, "kms:Sign")?;
        dry_run_ok(req.dry_run)?;
        let sig = sk.sign(&c.algorithm, &c.message, c.digest)?;
        Ok(json!({
            "KeyId": key.arn,
            "Signature": util::b64(&sig),
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
        let valid = sk.verify(&c.algorithm, &c.message, c.digest, &given)?;
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
            if !key.key_spec.is_asymmetric() {
                return Err(KmsError::unsupported(format!(
                    "{} key spec is {} which has no public key.",
                    key.arn,
                    key.key_spec.as_str()
                )));
            }
            let der = self.private_key(tx, &key)?.public_key_der()?;
            let mut out = json!({
                "KeyId": key.arn,
                "PublicKey": util::b64(&der),
                "KeySpec": key.key_spec.as_str(),
                "CustomerMasterKeySpec": key.key_spec.as_str(),
                "KeyUsage": key.key_usage.as_str(),
            });
            key_spec::add_algorithms(key.key_spec, key.key_usage, &mut out);
            Ok(out)
        })
    }
}
