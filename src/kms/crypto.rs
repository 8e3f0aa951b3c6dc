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

pub(super) fn check_algorithm(alg: Option<&str>, member: &str) -> Result<(), KmsError> {
    match alg {
        None | Some(ALGORITHM) => Ok(()),
        Some(a @ ("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE")) => Err(KmsError::new(
            ErrorKind::InvalidKeyUsage,
            format!("The encryption algorithm {a} is not valid for a symmetric key."),
        )),
        Some(a) => Err(KmsError::constraint(
            &format!("'{a}'"),
            member,
            "Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, \
             RSAES_OAEP_SHA_256, SM2PKE]",
        )),
    }
}

/// Only symmetric encryption keys encrypt; an HMAC key here is the caller's mistake.
fn check_encrypt_usage(key: &KeyRecord, action: &str) -> Result<(), KmsError> {
    if key.key_spec.key_usage() == "ENCRYPT_DECRYPT" {
        return Ok(());
    }
    Err(KmsError::new(
        ErrorKind::InvalidKeyUsage,
        format!(
            "{} key usage is {} which is not valid for {}.",
            key.arn,
            key.key_spec.key_usage(),
            action.trim_start_matches("kms:")
        ),
    ))
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
        let key = self.resolve(tx, key_ref, true)?;
        call.note_key(&key);
        call.note_context(ctx);
        self.authorize(tx, call, action, Some(&key), ctx, grant_tokens)?;
        self.check_usable(call, &key)?;
        check_encrypt_usage(&key, action)?;
        dry_run_ok(dry_run)?;
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
        let key_id = header.key_id.hyphenated().to_string();
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
        check_algorithm(req.encryption_algorithm.as_deref(), "encryptionAlgorithm")?;
        let ctx = util::context(req.encryption_context)?;
        let tokens = util::grant_tokens(req.grant_tokens)?;
        let sealed = self.inner.store.with_tx(|tx| {
            self.seal_under(
                tx,
                call,
                &key_ref,
                "kms:Encrypt",
                &ctx,
                &tokens,
                req.dry_run,
                &plaintext,
            )
        })?;
        Ok(json!({
            "CiphertextBlob": util::b64(&sealed.blob),
            "KeyId": sealed.key_arn,
            "EncryptionAlgorithm": ALGORITHM,
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
        check_algorithm(req.encryption_algorithm.as_deref(), "encryptionAlgorithm")?;
        if req.recipient.is_some() {
            return Err(KmsError::unsupported(
                "Recipient (Nitro Enclaves attestation) is not supported by this KMS",
            ));
        }
        let ctx = util::context(req.encryption_context)?;
        let tokens = util::grant_tokens(req.grant_tokens)?;
        let opened = self.inner.store.with_tx(|tx| {
            self.open_blob(
                tx,
                call,
                &ciphertext,
                req.key_id.as_deref(),
                "kms:Decrypt",
                &ctx,
                &tokens,
                req.dry_run,
            )
        })?;
        Ok(json!({
            "KeyId": opened.key_arn,
            "Plaintext": util::b64(&opened.plaintext),
            "EncryptionAlgorithm": ALGORITHM,
            "KeyMaterialId": opened.material_id,
        }))
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
        check_algorithm(
            req.source_encryption_algorithm.as_deref(),
            "sourceEncryptionAlgorithm",
        )?;
        check_algorithm(
            req.destination_encryption_algorithm.as_deref(),
            "destinationEncryptionAlgorithm",
        )?;
        let src_ctx = util::context(req.source_encryption_context)?;
        let dst_ctx = util::context(req.destination_encryption_context)?;
        let tokens = util::grant_tokens(req.grant_tokens)?;
        let (opened, sealed) = self.inner.store.with_tx(|tx| {
            let opened = self.open_blob(
                tx,
                call,
                &ciphertext,
                req.source_key_id.as_deref(),
                "kms:ReEncryptFrom",
                &src_ctx,
                &tokens,
                None,
            )?;
            let sealed = self.seal_under(
                tx,
                call,
                &dest_ref,
                "kms:ReEncryptTo",
                &dst_ctx,
                &tokens,
                req.dry_run,
                &opened.plaintext,
            )?;
            Ok((opened, sealed))
        })?;
        Ok(json!({
            "CiphertextBlob": util::b64(&sealed.blob),
            "SourceKeyId": opened.key_arn,
            "KeyId": sealed.key_arn,
            "SourceEncryptionAlgorithm": ALGORITHM,
            "DestinationEncryptionAlgorithm": ALGORITHM,
            "SourceKeyMaterialId": opened.material_id,
            "DestinationKeyMaterialId": sealed.material_id,
        }))
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
    let key_id = uuid::Uuid::parse_str(&key.key_id).map_err(KmsError::internal)?;
    let mut material = [0u8; 32];
    hex::decode_to_slice(material_id, &mut material).map_err(KmsError::internal)?;
    Ok(BlobHeader {
        key_id,
        material_id: material,
    })
}
