//! DeriveSharedSecret: ECDH between a KEY_AGREEMENT key's private key (ECC_NIST_P256/P384/P521)
//! and a public key the caller gives as DER SubjectPublicKeyInfo on the same curve. As AWS, the
//! answer is the raw shared secret (the shared point's x-coordinate); deriving keys from it
//! (a KDF) is the caller's job.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::asym::AsymError;
use super::crypto::dry_run_ok;
use super::error::KmsError;
use super::key_spec::KeyUsage;
use super::util::{self, required};
use super::{Call, KmsService};

const MAX_PUBLIC_KEY: usize = 8192;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeriveSharedSecretRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) key_agreement_algorithm: Option<String>,
    pub(crate) public_key: Option<String>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) dry_run: Option<bool>,
    pub(crate) recipient: Option<Value>,
}

impl KmsService {
    pub(crate) fn derive_shared_secret(
        &self,
        call: &mut Call<'_>,
        req: DeriveSharedSecretRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let algorithm = required(req.key_agreement_algorithm, "keyAgreementAlgorithm")?;
        if algorithm != "ECDH" {
            return Err(KmsError::constraint(
                &format!("'{algorithm}'"),
                "keyAgreementAlgorithm",
                "Member must satisfy enum value set: [ECDH]",
            ));
        }
        let public = util::unb64(&required(req.public_key, "publicKey")?, "PublicKey")?;
        if public.is_empty() || public.len() > MAX_PUBLIC_KEY {
            let c = if public.is_empty() {
                "Member must have length greater than or equal to 1"
            } else {
                "Member must have length less than or equal to 8192"
            };
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value at 'publicKey' failed to satisfy constraint: {c}"
            )));
        }
        if req.recipient.is_some() {
            return Err(KmsError::unsupported(
                "Recipient (Nitro Enclaves attestation) is not supported by this KMS",
            ));
        }
        let tokens = util::grant_tokens(req.grant_tokens)?;
        let (key, secret) = self.inner.store.with_tx(|tx| {
            let key = self.resolve(tx, &key_ref, true)?;
            call.note_key(&key);
            self.authorize(
                tx,
                call,
                "kms:DeriveSharedSecret",
                Some(&key),
                &BTreeMap::new(),
                &tokens,
            )?;
            self.check_usable(call, &key)?;
            if key.key_usage != KeyUsage::KeyAgreement {
                return Err(key.wrong_usage("DeriveSharedSecret"));
            }
            let secret = self
                .private_key(tx, &key)?
                .ecdh(&public)
                .map_err(|e| match e {
                    AsymError::PublicKey => KmsError::validation(format!(
                        "PublicKey must be a DER-encoded X.509 SubjectPublicKeyInfo of a point \
                         on the curve of key spec {}.",
                        key.key_spec.as_str()
                    )),
                    other => other.into(),
                })?;
            Ok((key, secret))
        })?;
        dry_run_ok(req.dry_run)?;
        Ok(json!({
            "KeyId": key.arn,
            "SharedSecret": util::b64(&secret),
            "KeyAgreementAlgorithm": "ECDH",
            "KeyOrigin": key.origin.as_str(),
        }))
    }
}
