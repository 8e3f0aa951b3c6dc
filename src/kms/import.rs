//! Imported key material (Origin EXTERNAL): GetParametersForImport, ImportKeyMaterial,
//! DeleteImportedKeyMaterial, and expiry of material at its ValidTo.
//!
//! GetParametersForImport makes a fresh RSA wrapping key pair per call (RSA_2048/3072/4096);
//! its private half is stored sealed under the root key, named by the import token, and valid
//! for 24 hours. Wrapping algorithms: RSAES_OAEP_SHA_256 and RSAES_OAEP_SHA_1 (OAEP and MGF1
//! with the same hash, empty label), and RSA_AES_KEY_WRAP_SHA_256 / _SHA_1 (an ephemeral
//! AES-256 key under that OAEP, then the material under AES key wrap with padding, RFC 5649),
//! the only ones that carry an RSA private key.
//!
//! What may be imported is AWS's: 32 bytes for SYMMETRIC_DEFAULT, a secret of the spec's
//! length up to its hash's block size for HMAC keys, a DER PKCS#8 private key of the spec
//! for RSA and ECC keys (anything else: IncorrectKeyMaterialException). The key stores it as
//! generated material of its spec is stored (an ECC key as its scalar).
//!
//! A key remembers a salted SHA-256 fingerprint of its material, so a reimport after deletion
//! or expiry must bring the same key (else IncorrectKeyMaterialException) and restores the
//! same KeyMaterialId — old ciphertexts decrypt again.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::asym::{CryptoRng, PrivateKey};
use super::db::{self, ImportParamsRow, KeyRecord, KeyState, MaterialRow, Origin};
use super::error::{ErrorKind, KmsError};
use super::key_spec::KeySpec;
use super::util::{self, required};
use super::{Call, KmsService, clock, gcm};

const TOKEN_VALIDITY_SECS: f64 = clock::DAY_SECS;
const MAX_VALID_TO_SECS: f64 = 365.0 * clock::DAY_SECS;
const EXPIRES: &str = "KEY_MATERIAL_EXPIRES";
const DOES_NOT_EXPIRE: &str = "KEY_MATERIAL_DOES_NOT_EXPIRE";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ImportRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) wrapping_algorithm: Option<String>,
    pub(crate) wrapping_key_spec: Option<String>,
    pub(crate) import_token: Option<String>,
    pub(crate) encrypted_key_material: Option<String>,
    pub(crate) expiration_model: Option<String>,
    pub(crate) valid_to: Option<f64>,
    pub(crate) import_type: Option<String>,
    pub(crate) key_material_id: Option<String>,
}

pub(crate) fn is_expired(key: &KeyRecord, now: f64) -> bool {
    key.origin == Origin::External
        && key.expiration_model.as_deref() == Some(EXPIRES)
        && key.valid_to.is_some_and(|v| v <= now)
}

/// Deletes imported material whose ValidTo has passed (the key becomes PendingImport).
pub(crate) fn apply_expiry(
    svc: &KmsService,
    tx: &dyn super::db::Tx,
    key: &mut KeyRecord,
) -> Result<(), KmsError> {
    if !is_expired(key, svc.now()) || key.current_material.is_none() {
        return Ok(());
    }
    drop_material(tx, key)?;
    key.valid_to = None;
    db::put_key(tx, key)?;
    Ok(())
}

/// Forgets the current material's bytes (keeping its fingerprint) and leaves the key
/// PendingImport, or PendingDeletion if it was.
fn drop_material(tx: &dyn super::db::Tx, key: &mut KeyRecord) -> Result<Option<String>, KmsError> {
    let Some(mid) = key.current_material.take() else {
        return Ok(None);
    };
    if let Some(mut row) = db::get_material(tx, &key.key_id, &mid)? {
        row.sealed = None;
        db::put_material(tx, &row)?;
    }
    if key.state != KeyState::PendingDeletion {
        key.state = KeyState::PendingImport;
    }
    Ok(Some(mid))
}

fn require_external(key: &KeyRecord) -> Result<(), KmsError> {
    if key.origin != Origin::External {
        return Err(KmsError::unsupported(format!(
            "{} origin is {} which is not valid for this operation.",
            key.arn,
            key.origin.as_str()
        )));
    }
    Ok(())
}

fn fingerprint(key_id: &str, material: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"sealgate-kms-imported-material-v1\0");
    h.update(key_id.as_bytes());
    h.update([0u8]);
    h.update(material);
    hex::encode(h.finalize())
}

/// The material a key of `spec` stores for `imported` bytes, or IncorrectKeyMaterialException.
fn importable(spec: KeySpec, imported: &[u8]) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    let incorrect = |what: String| KmsError::new(ErrorKind::IncorrectKeyMaterial, what);
    if spec == KeySpec::SymmetricDefault {
        if imported.len() != 32 {
            return Err(KmsError::validation(
                "Symmetric key material must be exactly 32 bytes (256 bits)",
            ));
        }
        return Ok(Zeroizing::new(imported.to_vec()));
    }
    if spec.is_hmac() {
        let range = spec.material_len()..=super::mac::max_material_len(spec);
        if !range.contains(&imported.len()) {
            return Err(incorrect(format!(
                "{} key material must be {} to {} bytes; got {}",
                spec.as_str(),
                range.start(),
                range.end(),
                imported.len()
            )));
        }
        return Ok(Zeroizing::new(imported.to_vec()));
    }
    let private = PrivateKey::from_pkcs8(spec, imported).ok_or_else(|| {
        incorrect(format!(
            "The key material is not a DER-encoded PKCS#8 private key of KeySpec {}",
            spec.as_str()
        ))
    })?;
    Ok(private.to_material()?)
}

fn invalid_token() -> KmsError {
    KmsError::new(ErrorKind::InvalidImportToken, "Import token is invalid")
}

fn encode_token(key_id: &uuid::Uuid, token_id: &[u8; 32]) -> String {
    let mut raw = vec![1u8];
    raw.extend_from_slice(key_id.as_bytes());
    raw.extend_from_slice(token_id);
    B64.encode(raw)
}

/// (key id, token id hex)
pub(super) fn decode_token(token: &str) -> Result<(String, String), KmsError> {
    let raw = B64.decode(token).map_err(|_| invalid_token())?;
    if raw.len() != 49 || raw[0] != 1 {
        return Err(invalid_token());
    }
    let key_id = uuid::Uuid::from_slice(&raw[1..17]).map_err(|_| invalid_token())?;
    Ok((super::key_id::from_bytes(key_id), hex::encode(&raw[17..])))
}

impl KmsService {
    pub(crate) fn get_parameters_for_import(
        &self,
        call: &mut Call<'_>,
        req: ImportRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let algorithm = required(req.wrapping_algorithm, "wrappingAlgorithm")?;
        let spec = required(req.wrapping_key_spec, "wrappingKeySpec")?;
        match algorithm.as_str() {
            "RSAES_OAEP_SHA_256"
            | "RSAES_OAEP_SHA_1"
            | "RSA_AES_KEY_WRAP_SHA_256"
            | "RSA_AES_KEY_WRAP_SHA_1" => {}
            "SM2PKE" | "RSAES_PKCS1_V1_5" => {
                return Err(KmsError::unsupported(format!(
                    "Wrapping algorithm {algorithm} is not supported; use RSAES_OAEP_SHA_256, \
                     RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1"
                )));
            }
            other => {
                return Err(KmsError::constraint(
                    &format!("'{other}'"),
                    "wrappingAlgorithm",
                    "Member must satisfy enum value set: [RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, \
                     RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256, SM2PKE]",
                ));
            }
        }
        let bits = match spec.as_str() {
            "RSA_2048" => 2048,
            "RSA_3072" => 3072,
            "RSA_4096" => 4096,
            "SM2" => {
                return Err(KmsError::unsupported(
                    "Wrapping key spec SM2 is not supported",
                ));
            }
            other => {
                return Err(KmsError::constraint(
                    &format!("'{other}'"),
                    "wrappingKeySpec",
                    "Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, SM2]",
                ));
            }
        };
        let key = self.inner.store.with_tx(|tx| {
            let key = self.key_for(tx, call, &key_ref, false, "kms:GetParametersForImport")?;
            require_external(&key)?;
            self.check_not_pending_deletion(&key)?;
            Ok(key)
        })?;
        // Key generation is slow; keep it outside the store transaction.
        let private = rsa::PrivateKey::new(&mut CryptoRng(rand::rng()), bits)
            .map_err(|e| KmsError::internal(format!("RSA key generation: {e}")))?;
        let public_der = private
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| KmsError::internal(format!("public key encoding: {e}")))?;
        let private_der = private
            .to_pkcs8_der()
            .map_err(|e| KmsError::internal(format!("private key encoding: {e}")))?;
        let token_id: [u8; 32] = gcm::random_array();
        let token_hex = hex::encode(token_id);
        let valid_to = self.now() + TOKEN_VALIDITY_SECS;
        let key_uuid = super::key_id::to_bytes(&key.key_id)
            .ok_or_else(|| KmsError::internal("stored key id is malformed"))?;
        self.inner.store.with_tx(|tx| {
            db::put_import_params(
                tx,
                &ImportParamsRow {
                    token_id: token_hex.clone(),
                    key_id: key.key_id.clone(),
                    algorithm: algorithm.clone(),
                    sealed_private_key: self.root().seal(
                        format!("import:{token_hex}").as_bytes(),
                        private_der.as_bytes(),
                    ),
                    valid_to,
                },
            )?;
            Ok(())
        })?;
        Ok(json!({
            "KeyId": key.arn,
            "ImportToken": encode_token(&key_uuid, &token_id),
            "PublicKey": util::b64(public_der.as_bytes()),
            "ParametersValidTo": valid_to,
        }))
    }

    pub(crate) fn import_key_material(
        &self,
        call: &mut Call<'_>,
        req: ImportRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let token = required(req.import_token, "importToken")?;
        let wrapped = util::unb64(
            &required(req.encrypted_key_material, "encryptedKeyMaterial")?,
            "EncryptedKeyMaterial",
        )?;
        let model = req.expiration_model.as_deref().unwrap_or(EXPIRES);
        let now = self.now();
        let valid_to = match (model, req.valid_to) {
            (EXPIRES, None) => {
                return Err(KmsError::validation(
                    "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES",
                ));
            }
            (EXPIRES, Some(v)) if v <= now || v > now + MAX_VALID_TO_SECS => {
                return Err(KmsError::validation(
                    "ValidTo must be in the future and no more than 365 days from now",
                ));
            }
            (EXPIRES, Some(v)) => Some(v),
            (DOES_NOT_EXPIRE, None) => None,
            (DOES_NOT_EXPIRE, Some(_)) => {
                return Err(KmsError::validation(
                    "A validTo date must not be set if the ExpirationModel is \
                     KEY_MATERIAL_DOES_NOT_EXPIRE",
                ));
            }
            (other, _) => {
                return Err(KmsError::constraint(
                    &format!("'{other}'"),
                    "expirationModel",
                    "Member must satisfy enum value set: [KEY_MATERIAL_EXPIRES, \
                     KEY_MATERIAL_DOES_NOT_EXPIRE]",
                ));
            }
        };
        let (token_key_id, token_id) = decode_token(&token)?;
        self.inner.store.with_tx(|tx| {
            let mut key = self.key_for(tx, call, &key_ref, false, "kms:ImportKeyMaterial")?;
            require_external(&key)?;
            self.check_not_pending_deletion(&key)?;
            if token_key_id != key.key_id {
                return Err(invalid_token());
            }
            let params = db::get_import_params(tx, &token_id)?
                .filter(|p| p.key_id == key.key_id)
                .ok_or_else(invalid_token)?;
            if params.valid_to <= now {
                return Err(KmsError::new(
                    ErrorKind::ExpiredImportToken,
                    "The import token has expired; call GetParametersForImport again",
                ));
            }
            let material = importable(key.key_spec, &self.unwrap_material(&params, &wrapped)?)?;
            let fp = fingerprint(&key.key_id, &material);
            let previous = db::list_materials(tx, &key.key_id)?;
            let material_id = match previous.iter().find(|m| m.imported) {
                Some(m) if m.fingerprint.as_deref() != Some(fp.as_str()) => {
                    return Err(KmsError::new(
                        ErrorKind::IncorrectKeyMaterial,
                        "The key material you are trying to import is different than the key \
                         material that was previously imported for this KMS key.",
                    ));
                }
                Some(m) => {
                    if req.import_type.as_deref() == Some("NEW_KEY_MATERIAL") {
                        return Err(KmsError::unsupported(
                            "Importing new key material for rotation is not supported by this KMS",
                        ));
                    }
                    m.material_id.clone()
                }
                None => req
                    .key_material_id
                    .clone()
                    .filter(|id| id.len() == 64 && hex::decode(id).is_ok())
                    .unwrap_or_else(|| hex::encode(gcm::random_array::<32>())),
            };
            db::put_material(
                tx,
                &MaterialRow {
                    key_id: key.key_id.clone(),
                    material_id: material_id.clone(),
                    sealed: Some(self.seal_material(&key.key_id, &material_id, &material)),
                    created: now,
                    rotation_type: None,
                    imported: true,
                    fingerprint: Some(fp),
                },
            )?;
            key.current_material = Some(material_id.clone());
            key.expiration_model = Some(model.to_string());
            key.valid_to = valid_to;
            if key.state == KeyState::PendingImport {
                key.state = KeyState::Enabled;
            }
            db::put_key(tx, &key)?;
            Ok(json!({ "KeyId": key.arn, "KeyMaterialId": material_id }))
        })
    }

    fn unwrap_material(
        &self,
        params: &ImportParamsRow,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let der = self
            .root()
            .open(
                format!("import:{}", params.token_id).as_bytes(),
                &params.sealed_private_key,
            )
            .ok_or_else(|| KmsError::internal("import wrapping key failed to unseal"))?;
        let private = rsa::PrivateKey::from_pkcs8_der(&der)
            .map_err(|e| KmsError::internal(format!("import wrapping key: {e}")))?;
        super::key_wrap::unwrap(
            PrivateKey::Rsa(Box::new(private)),
            &params.algorithm,
            wrapped,
        )
        .ok_or_else(KmsError::invalid_ciphertext)
    }

    pub(crate) fn delete_imported_key_material(
        &self,
        call: &mut Call<'_>,
        req: ImportRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        self.inner.store.with_tx(|tx| {
            let mut key =
                self.key_for(tx, call, &key_ref, false, "kms:DeleteImportedKeyMaterial")?;
            require_external(&key)?;
            if let Some(want) = &req.key_material_id
                && key.current_material.as_ref() != Some(want)
            {
                return Err(KmsError::not_found(format!(
                    "Key material {want} is not the current key material of {}",
                    key.arn
                )));
            }
            let removed = drop_material(tx, &mut key)?;
            key.valid_to = None;
            key.expiration_model = None;
            db::put_key(tx, &key)?;
            let mut out = json!({ "KeyId": key.arn });
            if let Some(mid) = removed {
                out["KeyMaterialId"] = json!(mid);
            }
            Ok(out)
        })
    }
}
