//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
//! GenerateDataKeyWithoutPlaintext, GenerateRandom. New blobs use the key's current material;
//! Decrypt uses whatever material the blob names, so rotation never breaks old ciphertexts.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::blob::{self, BlobHeader};
use super::db::{KeyRecord, Origin};
use super::error::{ErrorKind, KmsError};
use super::key_spec::{KeySpec, KeyUsage};
use super::util::{self, required};
use super::{Call, KmsService};

/// Actions that use key material; AWS-managed keys allow them only via the gateway.
pub(crate) const USE_ACTIONS: &[&str] = &[
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
];

const ALGORITHM: &str = "SYMMETRIC_DEFAULT";
const MAX_PLAINTEXT: usize = 4096;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CryptoRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) plaintext: Option<String>,
    pub(crate) ciphertext_blob: Option<String>,
    pub(crate) encryption_context: Option<serde_json::Map<String, Value>>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) encryption_algorithm: Option<String>,
    pub(crate) key_spec: Option<String>,
    pub(crate) number_of_bytes: Option<i64>,
    pub(crate) dry_run: Option<bool>,
    pub(crate) custom_key_store_id: Option<String>,
    pub(crate) recipient: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReEncryptRequest {
    pub(crate) ciphertext_blob: Option<String>,
    pub(crate) source_encryption_context: Option<serde_json::Map<String, Value>>,
    pub(crate) source_key_id: Option<String>,
    pub(crate) destination_key_id: Option<String>,
    pub(crate) destination_encryption_context: Option<serde_json::Map<String, Value>>,
    pub(crate) source_encryption_algorithm: Option<String>,
    pub(crate) destination_encryption_algorithm: Option<String>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) dry_run: Option<bool>,
}

/// The request members an RSA encryption use (`rsa_encryption`) is checked against.
pub(crate) struct RsaUse<'a> {
    pub(crate) action: &'a str,
    pub(crate) alg: &'a str,
    pub(crate) ctx: &'a BTreeMap<String, String>,
    pub(crate) grant_tokens: &'a [String],
    pub(crate) dry_run: Option<bool>,
}

/// A fresh blob and the key that made it.
pub(crate) struct Sealed {
    pub(crate) key_arn: String,
    pub(crate) material_id: String,
    pub(crate) blob: Vec<u8>,
}

/// An opened blob. The plaintext zeroizes on drop.
pub(crate) struct Opened {
    pub(crate) key_arn: String,
    pub(crate) material_id: String,
    pub(crate) plaintext: Zeroizing<Vec<u8>>,
}

const ENCRYPTION_ALGORITHMS: &[&str] = &[
    ALGORITHM,
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
];

/// An EncryptionAlgorithm member: one of AWS's enum values, SYMMETRIC_DEFAULT when absent.
/// Whether it suits the key is decided once the key is known (`seal_any`, `open_any`).
pub(super) fn check_algorithm(alg: Option<&str>, member: &str) -> Result<&'static str, KmsError> {
    let Some(a) = alg else { return Ok(ALGORITHM) };
    ENCRYPTION_ALGORITHMS
        .iter()
        .find(|known| **known == a)
        .copied()
        .ok_or_else(|| {
            KmsError::constraint(
                &format!("'{a}'"),
                member,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    ENCRYPTION_ALGORITHMS.join(", ")
                ),
            )
        })
}

/// Blobs are AES-256-GCM under a symmetric key: only SYMMETRIC_DEFAULT names that.
fn symmetric_algorithm(alg: &str) -> Result<(), KmsError> {
    if alg == ALGORITHM {
        return Ok(());
    }
    Err(KmsError::new(
        ErrorKind::InvalidKeyUsage,
        format!("The encryption algorithm {alg} is not valid for a symmetric key."),
    ))
}

/// Only symmetric encryption keys make and open blobs; any other key here is the caller's
/// mistake (an RSA key reaches here only for GenerateDataKey*, which AWS refuses too).
fn check_encrypt_usage(key: &KeyRecord, action: &str) -> Result<(), KmsError> {
    let op = action.trim_start_matches("kms:");
    match (key.key_spec, key.key_usage) {
        (KeySpec::SymmetricDefault, _) => Ok(()),
        (spec, KeyUsage::EncryptDecrypt) => Err(KmsError::new(
            ErrorKind::InvalidKeyUsage,
            format!(
                "{} key spec is {} which is not valid for {op}.",
                key.arn,
                spec.as_str()
            ),
        )),
        _ => Err(key.wrong_usage(op)),
    }
}

pub(super) fn dry_run_ok(dry_run: Option<bool>) -> Result<(), KmsError> {
    if dry_run == Some(true) {
        return Err(KmsError::new(
            ErrorKind::DryRunOperation,
            "The request would have succeeded, but the DryRun option is set.",
        ));
    }
    Ok(())
}

/// Data key length from exactly one of KeySpec / NumberOfBytes.
pub(super) fn data_key_len(
    key_spec: Option<&str>,
    number_of_bytes: Option<i64>,
) -> Result<usize, KmsError> {
    match (key_spec, number_of_bytes) {
        (Some("AES_256"), None) => Ok(32),
        (Some("AES_128"), None) => Ok(16),
        (Some(s), None) => Err(KmsError::constraint(
            &format!("'{s}'"),
            "keySpec",
            "Member must satisfy enum value set: [AES_256, AES_128]",
        )),
        (None, Some(n)) => {
            util::check_range(n, "numberOfBytes", 1, 1024)?;
            Ok(n as usize)
        }
        _ => Err(KmsError::validation(
            "Please specify either number of bytes or key spec.",
        )),
    }
}

impl KmsService {
    /// Resolve, authorize and state-check a key for a use that makes a new blob, then seal.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn seal_under(
        &self,
        tx: &dyn super::db::Tx,
        call: &mut Call<'_>,
        key_ref: &str,
        action: &str,
        ctx: &BTreeMap<String, String>,
        grant_tokens: &[String],
        dry_run: Option<bool>,
        plaintext: &[u8],
    ) -> Result<Sealed, KmsError> {
        let key = self.key_for_sealing(tx, call, key_ref, action, ctx, grant_tokens, dry_run)?;
        self.seal_with(tx, key, ctx, plaintext)
    }

    /// The checks of `seal_under` without sealing: resolve, authorize, key state, usage, DryRun.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn key_for_sealing(
        &self,
        tx: &dyn super::db::Tx,
        call: &mut Call<'_>,
        key_ref: &str,
        action: &str,
        ctx: &BTreeMap<String, String>,
        grant_tokens: &[String],
        dry_run: Option<bool>,
    ) -> Result<KeyRecord, KmsError> {
        let key = self.resolve(tx, key_ref, true)?;
        call.note_key(&key);
        call.note_context(ctx);
        self.authorize(tx, call, action, Some(&key), ctx, grant_tokens)?;
        self.check_usable(call, &key)?;
        check_encrypt_usage(&key, action)?;
        dry_run_ok(dry_run)?;
        Ok(key)
    }

    /// Seals `plaintext` under a checked symmetric key's current material.
    fn seal_with(
        &self,
        tx: &dyn super::db::Tx,
        key: KeyRecord,
        ctx: &BTreeMap<String, String>,
        plaintext: &[u8],
    ) -> Result<Sealed, KmsError> {
        let material_id = key
            .current_material
            .clone()
            .ok_or_else(|| KmsError::invalid_state(format!("{} is pending import.", key.arn)))?;
        let header = header_for(&key, &material_id)?;
        if key.origin == Origin::AwsCloudHsm {
            // AES-256-GCM in the token: blob = header ‖ IV ‖ ciphertext ‖ tag, as below.
            let (hsm, store_id) = self.hsm_for(tx, &key)?;
            let head = header.encode();
            let body = hsm
                .encrypt(&key.key_id, &blob::aad(&head, ctx), plaintext)
                .map_err(|e| super::custom_key_stores::hsm_use_error(&key, &store_id, e))?;
            let mut out = head.to_vec();
            out.extend_from_slice(&body);
            return Ok(Sealed {
                blob: out,
                key_arn: key.arn,
                material_id,
            });
        }
        let backing = self.backing_key(tx, &key, &material_id)?;
        Ok(Sealed {
            blob: blob::seal(&backing, &header, ctx, plaintext),
            key_arn: key.arn,
            material_id,
        })
    }

    /// Find the key a blob names, check it against `key_ref` if given, authorize, open.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn open_blob(
        &self,
        tx: &dyn super::db::Tx,
        call: &mut Call<'_>,
        ciphertext: &[u8],
        key_ref: Option<&str>,
        action: &str,
        ctx: &BTreeMap<String, String>,
        grant_tokens: &[String],
        dry_run: Option<bool>,
    ) -> Result<Opened, KmsError> {
        call.note_context(ctx);
        let header = blob::parse_header(ciphertext).map_err(|_| KmsError::invalid_ciphertext())?;
        let key_id = super::key_id::from_bytes(header.key_id);
        let key = self.load_key(tx, &key_id)?;
        call.note_key(&key);
        if let Some(r) = key_ref {
            let named = self.resolve(tx, r, true)?;
            if named.key_id != key.key_id {
                return Err(KmsError::new(
                    ErrorKind::IncorrectKey,
                    "The key ID in the request does not identify a CMK that can perform this \
                     operation.",
                ));
            }
        }
        self.authorize(tx, call, action, Some(&key), ctx, grant_tokens)?;
        self.check_usable(call, &key)?;
        check_encrypt_usage(&key, action)?;
        dry_run_ok(dry_run)?;
        let material_id = header.material_hex();
        if key.origin == Origin::AwsCloudHsm {
            if super::db::get_material(tx, &key.key_id, &material_id)?.is_none() {
                return Err(KmsError::invalid_ciphertext());
            }
            let (hsm, store_id) = self.hsm_for(tx, &key)?;
            let plaintext = hsm
                .decrypt(
                    &key.key_id,
                    &blob::aad(&header.encode(), ctx),
                    &ciphertext[blob::HEADER_LEN..],
                )
                .map_err(|e| super::custom_key_stores::hsm_use_error(&key, &store_id, e))?;
            return Ok(Opened {
                key_arn: key.arn,
                material_id,
                plaintext,
            });
        }
        let backing = self.backing_key(tx, &key, &material_id)?;
        let plaintext =
            blob::open(&backing, ciphertext, ctx).map_err(|_| KmsError::invalid_ciphertext())?;
        Ok(Opened {
            key_arn: key.arn,
            material_id,
            plaintext,
        })
    }

    /// Encrypt-side dispatch: an RSA key encrypts with OAEP (`rsa_encryption`); every other
    /// key makes a blob, which only SYMMETRIC_DEFAULT describes.
    #[allow(clippy::too_many_arguments)]
    fn seal_any(
        &self,
        tx: &dyn super::db::Tx,
        call: &mut Call<'_>,
        key_ref: &str,
        action: &str,
        alg: &str,
        ctx: &BTreeMap<String, String>,
        grant_tokens: &[String],
        dry_run: Option<bool>,
        plaintext: &[u8],
    ) -> Result<Sealed, KmsError> {
        let key = self.resolve(tx, key_ref, true)?;
        if key.key_spec.rsa_bits().is_some() {
            let op = RsaUse {
                action,
                alg,
                ctx,
                grant_tokens,
                dry_run,
            };
            return self.rsa_encrypt(tx, call, key, &op, plaintext);
        }
        symmetric_algorithm(alg)?;
        self.seal_under(
            tx,
            call,
            key_ref,
            action,
            ctx,
            grant_tokens,
            dry_run,
            plaintext,
        )
    }

    /// Decrypt-side dispatch: RSA ciphertext carries no key id, so it is recognised by the
    /// KeyId the caller must give (as AWS requires for asymmetric keys); anything else is a blob.
    #[allow(clippy::too_many_arguments)]
    fn open_any(
        &self,
        tx: &dyn super::db::Tx,
        call: &mut Call<'_>,
        ciphertext: &[u8],
        key_ref: Option<&str>,
        action: &str,
        alg: &str,
        ctx: &BTreeMap<String, String>,
        grant_tokens: &[String],
        dry_run: Option<bool>,
    ) -> Result<Opened, KmsError> {
        if let Some(r) = key_ref {
            let key = self.resolve(tx, r, true)?;
            if key.key_spec.rsa_bits().is_some() {
                let op = RsaUse {
                    action,
                    alg,
                    ctx,
                    grant_tokens,
                    dry_run,
                };
                return self.rsa_decrypt(tx, call, key, &op, ciphertext);
            }
        }
        // Otherwise the ciphertext must be a blob, and one that is not is invalid ciphertext
        // whatever algorithm the caller named.
        blob::parse_header(ciphertext).map_err(|_| KmsError::invalid_ciphertext())?;
        symmetric_algorithm(alg)?;
        self.open_blob(
            tx,
            call,
            ciphertext,
            key_ref,
            action,
            ctx,
            grant_tokens,
            dry_run,
        )
    }

    pub(crate) fn encrypt(
        &self,
        call: &mut Call<'_>,
        req: CryptoRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let plaintext = Zeroizing::new(util::unb64(
            &required(req.plaintext, "plaintext")?,
            "Plaintext",
        )?);
        if plaintext.is_empty() || plaintext.len() > MAX_PLAINTEXT {
            let c = if plaintext.is_empty() {
                "Member must have length greater than or equal to 1"
            } else {
                "Member must have length less than or equal to 4096"
            };
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: {c}"
            )));
        }
        let alg = check_algorithm(req.encryption_algorithm.as_deref(), "encryptionAlgorithm")?;
        let ctx = util::context(req.encryption_context)?;
        let tokens = util::grant_tokens(req.grant_tokens)?;
        let sealed = self.inner.store.with_tx(|tx| {
            self.seal_any(
                tx,
                call,
                &key_ref,
                "kms:Encrypt",
                alg,
                &ctx,
                &tokens,
                req.dry_run,
                &plaintext,
            )
        })?;
        Ok(json!({
            "CiphertextBlob": util::b64(&sealed.blob),
            "KeyId": sealed.key_arn,
            "EncryptionAlgorithm": alg,
        }))
    }

    pub(crate) fn decrypt(
        &self,
        call: &mut Call<'_>,
        req: CryptoRequest,
    ) -> Result<Value, KmsError> {
        let ciphertext = util::unb64(
            &required(req.ciphertext_blob, "ciphertextBlob")?,
            "CiphertextBlob",
        )?;
        let alg = check_algorithm(req.encryption_algorithm.as_deref(), "encryptionAlgorithm")?;
        if req.recipient.is_some() {
            return Err(KmsError::unsupported(
                "Recipient (Nitro Enclaves attestation) is not supported by this KMS",
            ));
        }
        let ctx = util::context(req.encryption_context)?;
        let tokens = util::grant_tokens(req.grant_tokens)?;
        let opened = self.inner.store.with_tx(|tx| {
            self.open_any(
                tx,
                call,
                &ciphertext,
                req.key_id.as_deref(),
                "kms:Decrypt",
                alg,
                &ctx,
                &tokens,
                req.dry_run,
            )
        })?;
        let mut out = json!({
            "KeyId": opened.key_arn,
            "Plaintext": util::b64(&opened.plaintext),
            "EncryptionAlgorithm": alg,
        });
        // AWS names the key material only for symmetric keys.
        if alg == ALGORITHM {
            out["KeyMaterialId"] = json!(opened.material_id);
        }
        Ok(out)
    }

    pub(crate) fn re_encrypt(
        &self,
        call: &mut Call<'_>,
        req: ReEncryptRequest,
    ) -> Result<Value, KmsError> {
        let ciphertext = util::unb64(
            &required(req.ciphertext_blob, "ciphertextBlob")?,
            "CiphertextBlob",
        )?;
        let dest_ref = required(req.destination_key_id, "destinationKeyId")?;
        let src_alg = check_algorithm(
            req.source_encryption_algorithm.as_deref(),
            "sourceEncryptionAlgorithm",
        )?;
        let dst_alg = check_algorithm(
            req.destination_encryption_algorithm.as_deref(),
            "destinationEncryptionAlgorithm",
        )?;
        let src_ctx = util::context(req.source_encryption_context)?;
        let dst_ctx = util::context(req.destination_encryption_context)?;
        let tokens = util::grant_tokens(req.grant_tokens)?;
        let (opened, sealed) = self.inner.store.with_tx(|tx| {
            let opened = self.open_any(
                tx,
                call,
                &ciphertext,
                req.source_key_id.as_deref(),
                "kms:ReEncryptFrom",
                src_alg,
                &src_ctx,
                &tokens,
                None,
            )?;
            let sealed = self.seal_any(
                tx,
                call,
                &dest_ref,
                "kms:ReEncryptTo",
                dst_alg,
                &dst_ctx,
                &tokens,
                req.dry_run,
                &opened.plaintext,
            )?;
            Ok((opened, sealed))
        })?;
        let mut out = json!({
            "CiphertextBlob": util::b64(&sealed.blob),
            "SourceKeyId": opened.key_arn,
            "KeyId": sealed.key_arn,
            "SourceEncryptionAlgorithm": src_alg,
            "DestinationEncryptionAlgorithm": dst_alg,
        });
        if src_alg == ALGORITHM {
            out["SourceKeyMaterialId"] = json!(opened.material_id);
        }
        if dst_alg == ALGORITHM {
            out["DestinationKeyMaterialId"] = json!(sealed.material_id);
        }
        Ok(out)
    }

    /// GenerateDataKey core: a fresh random data key and its blob.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_data_key(
        &self,
        call: &mut Call<'_>,
        key_ref: &str,
        action: &str,
        ctx: &BTreeMap<String, String>,
        tokens: &[String],
        len: usize,
        dry_run: Option<bool>,
    ) -> Result<(Zeroizing<Vec<u8>>, Sealed), KmsError> {
        let mut data_key = Zeroizing::new(vec![0u8; len]);
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut data_key);
        let sealed = self.inner.store.with_tx(|tx| {
            self.seal_under(tx, call, key_ref, action, ctx, tokens, dry_run, &data_key)
        })?;
        Ok((data_key, sealed))
    }

    pub(crate) fn generate_data_key(
        &self,
        call: &mut Call<'_>,
        req: CryptoRequest,
        with_plaintext: bool,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        if req.recipient.is_some() {
            return Err(KmsError::unsupported(
                "Recipient (Nitro Enclaves attestation) is not supported by this KMS",
            ));
        }
        let len = data_key_len(req.key_spec.as_deref(), req.number_of_bytes)?;
        let ctx = util::context(req.encryption_context)?;
        let tokens = util::grant_tokens(req.grant_tokens)?;
        let action = if with_plaintext {
            "kms:GenerateDataKey"
        } else {
            "kms:GenerateDataKeyWithoutPlaintext"
        };
        let (data_key, sealed) =
            self.new_data_key(call, &key_ref, action, &ctx, &tokens, len, req.dry_run)?;
        let mut out = json!({
            "CiphertextBlob": util::b64(&sealed.blob),
            "KeyId": sealed.key_arn,
            "KeyMaterialId": sealed.material_id,
        });
        if with_plaintext {
            out["Plaintext"] = json!(util::b64(&data_key));
        }
        Ok(out)
    }

    pub(crate) fn generate_random(
        &self,
        call: &mut Call<'_>,
        req: CryptoRequest,
    ) -> Result<Value, KmsError> {
        let n = req
            .number_of_bytes
            .ok_or_else(|| KmsError::validation("NumberOfBytes is required."))?;
        util::check_range(n, "numberOfBytes", 1, 1024)?;
        if req.custom_key_store_id.is_some() {
            return Err(KmsError::new(
                ErrorKind::CustomKeyStoreNotFound,
                "Custom key stores are not supported by this KMS",
            ));
        }
        self.inner.store.with_tx(|tx| {
            self.authorize(tx, call, "kms:GenerateRandom", None, &BTreeMap::new(), &[])
        })?;
        let mut bytes = Zeroizing::new(vec![0u8; n as usize]);
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        Ok(json!({ "Plaintext": util::b64(&bytes) }))
    }
}

fn header_for(key: &KeyRecord, material_id: &str) -> Result<BlobHeader, KmsError> {
    let key_id = super::key_id::to_bytes(&key.key_id)
        .ok_or_else(|| KmsError::internal("stored key id is malformed"))?;
    let mut material = [0u8; 32];
    hex::decode_to_slice(material_id, &mut material).map_err(KmsError::internal)?;
    Ok(BlobHeader {
        key_id,
        material_id: material,
    })
}
