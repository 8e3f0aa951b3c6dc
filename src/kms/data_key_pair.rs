//! GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext: a fresh RSA or ECC key pair for
//! the caller, its private key (DER PKCS#8 PrivateKeyInfo) encrypted under a symmetric KMS key
//! as an ordinary blob — so the normal Decrypt, with the same encryption context, gives the
//! PKCS#8 bytes back — and its public key as DER SubjectPublicKeyInfo. This KMS keeps nothing.

use serde::Deserialize;
use serde_json::{Value, json};

use super::asym::PrivateKey;
use super::error::KmsError;
use super::key_spec::KeySpec;
use super::util::{self, required};
use super::{Call, KmsService};

/// AWS's `KeyPairSpec` enum; SM2 (China Regions) and Ed25519 are not offered here.
const KEY_PAIR_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
    "ECC_NIST_EDWARDS25519",
];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DataKeyPairRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) key_pair_spec: Option<String>,
    pub(crate) encryption_context: Option<serde_json::Map<String, Value>>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) dry_run: Option<bool>,
    pub(crate) recipient: Option<Value>,
}

/// The pair spec a request names, validated as AWS does: the enum first, then what is offered.
pub(crate) fn key_pair_spec(name: Option<String>) -> Result<KeySpec, KmsError> {
    let name = required(name, "keyPairSpec")?;
    if !KEY_PAIR_SPECS.contains(&name.as_str()) {
        return Err(KmsError::constraint(
            &format!("'{name}'"),
            "keyPairSpec",
            &format!(
                "Member must satisfy enum value set: [{}]",
                KEY_PAIR_SPECS.join(", ")
            ),
        ));
    }
    KeySpec::parse(&name)
        .filter(|s| s.is_asymmetric())
        .ok_or_else(|| {
            KmsError::unsupported(format!("KeyPairSpec {name} is not supported by this KMS"))
        })
}

impl KmsService {
    pub(crate) fn generate_data_key_pair(
        &self,
        call: &mut Call<'_>,
        req: DataKeyPairRequest,
        with_plaintext: bool,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let spec = key_pair_spec(req.key_pair_spec)?;
        if req.recipient.is_some() {
            return Err(KmsError::unsupported(
                "Recipient (Nitro Enclaves attestation) is not supported by this KMS",
            ));
        }
        let ctx = util::context(req.encryption_context)?;
        let tokens = util::grant_tokens(req.grant_tokens)?;
        let action = if with_plaintext {
            "kms:GenerateDataKeyPair"
        } else {
            "kms:GenerateDataKeyPairWithoutPlaintext"
        };
        // Every check first: generating an RSA key takes up to seconds, which neither an
        // unauthorized caller nor the key store's transaction should get to spend.
        self.inner.store.with_tx(|tx| {
            self.key_for_sealing(tx, call, &key_ref, action, &ctx, &tokens, req.dry_run)
                .map(drop)
        })?;
        let private = PrivateKey::generate(spec)?;
        let pkcs8 = private.to_pkcs8_der()?;
        let public = private.public_key_der()?;
        let sealed = self.inner.store.with_tx(|tx| {
            self.seal_under(
                tx,
                call,
                &key_ref,
                action,
                &ctx,
                &tokens,
                req.dry_run,
                &pkcs8,
            )
        })?;
        let mut out = json!({
            "KeyId": sealed.key_arn,
            "KeyPairSpec": spec.as_str(),
            "PrivateKeyCiphertextBlob": util::b64(&sealed.blob),
            "PublicKey": util::b64(&public),
            "KeyMaterialId": sealed.material_id,
        });
        if with_plaintext {
            out["PrivateKeyPlaintext"] = json!(util::b64(&pkcs8));
        }
        Ok(out)
    }
}
