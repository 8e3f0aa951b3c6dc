//! The asymmetric story of `sealgate demo`: an ECC_NIST_P256 SIGN_VERIFY key signs a message
//! in the KMS; anyone verifies the signature offline with the public key GetPublicKey hands
//! out (here with the `p256` crate, no KMS call); a changed message fails that check; and the
//! private key never leaves: no answer of the story carries private key material, and the
//! audit log lists every call that touched the key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::pkcs8::DecodePublicKey;
use serde::Serialize;
use serde_json::{Value, json};

use super::observe::{AuditCursor, KmsCall, kms_outcome};
use crate::kms::remote::RemoteKms;

const KEY_SPEC: &str = "ECC_NIST_P256";
const ALGORITHM: &str = "ECDSA_SHA_256";
const MESSAGE: &[u8] =
    b"sealgate demo: a release manifest signed by a key that never leaves the KMS";

#[derive(Clone, Debug, Serialize)]
pub(crate) struct SigningReport {
    pub(crate) key_arn: String,
    pub(crate) key_spec: &'static str,
    pub(crate) signing_algorithm: &'static str,
    pub(crate) message: String,
    /// The DER ECDSA signature Sign returned.
    pub(crate) signature_hex: String,
    /// GetPublicKey's DER SubjectPublicKeyInfo.
    pub(crate) public_key_der_hex: String,
    /// The fields of GetPublicKey's answer: a public key and its description, nothing else.
    pub(crate) public_key_answer_fields: Vec<String>,
    /// The signature checked with `p256` and the public key alone (no KMS call).
    pub(crate) verified_offline: bool,
    /// The same check on the message with one byte changed.
    pub(crate) tampered_message_verified_offline: bool,
    /// Answers of the story's KMS calls that carried a `PrivateKey…` field.
    pub(crate) answers_with_private_key: usize,
    /// The KMS calls on the key, from the audit log (empty when the log is not readable).
    pub(crate) kms_calls: Vec<KmsCall>,
    /// What the demo did, with each answer.
    pub(crate) actions: Vec<String>,
}

/// Whether an answer names private key material (GenerateDataKeyPair's fields do; nothing
/// of a signing key's should).
fn has_private_key(answer: &Value) -> bool {
    answer
        .as_object()
        .is_some_and(|o| o.keys().any(|k| k.starts_with("PrivateKey")))
}

/// The offline check: ECDSA P-256 with SHA-256 over `message`, DER signature.
fn verify_offline(public_der: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use sha2::Digest as _;
    let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(public_der) else {
        return false;
    };
    let Ok(sig) = p256::ecdsa::DerSignature::from_bytes(signature) else {
        return false;
    };
    key.verify_prehash(&sha2::Sha256::digest(message), &sig)
        .is_ok()
}

fn b64_field(answer: &Value, field: &str) -> Result<Vec<u8>, String> {
    answer[field]
        .as_str()
        .and_then(|s| B64.decode(s).ok())
        .ok_or_else(|| format!("answer without a base64 {field}"))
}

/// Runs the story; an error when the KMS refuses a step the story needs.
pub(crate) async fn run(kms: &RemoteKms, audit: &mut AuditCursor) -> Result<SigningReport, String> {
    audit.take_new();
    let mut actions = Vec::new();
    let mut answers = Vec::new();
    let (shown, created) = call(
        kms,
        "CreateKey",
        json!({
            "KeySpec": KEY_SPEC,
            "KeyUsage": "SIGN_VERIFY",
            "Description": "sealgate demo: signing",
        }),
    )
    .await;
    actions.push(format!("CreateKey {KEY_SPEC} SIGN_VERIFY → {}", shown));
    let created = created.map_err(|e| format!("CreateKey {KEY_SPEC}: {e}"))?;
    let key_arn = created["KeyMetadata"]["Arn"]
        .as_str()
        .ok_or("CreateKey answer without an ARN")?
        .to_string();
    answers.push(created);

    let (shown, signed) = call(
        kms,
        "Sign",
        json!({
            "KeyId": key_arn,
            "Message": B64.encode(MESSAGE),
            "MessageType": "RAW",
            "SigningAlgorithm": ALGORITHM,
        }),
    )
    .await;
    actions.push(format!("Sign {ALGORITHM} → {shown}"));
    let signed = signed.map_err(|e| format!("Sign: {e}"))?;
    let signature = b64_field(&signed, "Signature")?;
    answers.push(signed);

    let (shown, public) = call(kms, "GetPublicKey", json!({ "KeyId": key_arn })).await;
    actions.push(format!("GetPublicKey → {shown} (DER SubjectPublicKeyInfo)"));
    let public = public.map_err(|e| format!("GetPublicKey: {e}"))?;
    let public_der = b64_field(&public, "PublicKey")?;
    let public_key_answer_fields = public
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    answers.push(public);

    let verified_offline = verify_offline(&public_der, MESSAGE, &signature);
    let mut tampered = MESSAGE.to_vec();
    tampered[0] ^= 0x01;
    let tampered_message_verified_offline = verify_offline(&public_der, &tampered, &signature);
    actions.push(format!(
        "verify offline with p256 and the public key → {}; with one message byte changed → {}",
        if verified_offline { "valid" } else { "INVALID" },
        if tampered_message_verified_offline {
            "VALID"
        } else {
            "invalid"
        }
    ));
    let kms_calls = audit
        .take_new()
        .into_iter()
        .filter(|c| c.key_arn.as_deref() == Some(key_arn.as_str()))
        .collect();
    Ok(SigningReport {
        key_arn,
        key_spec: KEY_SPEC,
        signing_algorithm: ALGORITHM,
        message: String::from_utf8_lossy(MESSAGE).into_owned(),
        signature_hex: hex::encode(&signature),
        public_key_der_hex: hex::encode(&public_der),
        public_key_answer_fields,
        verified_offline,
        tampered_message_verified_offline,
        answers_with_private_key: answers.iter().filter(|a| has_private_key(a)).count(),
        kms_calls,
        actions,
    })
}

/// One KMS call: its answer, and how the story shows it (`ok` or the exception name).
async fn call(
    kms: &RemoteKms,
    op: &str,
    body: Value,
) -> (String, Result<Value, crate::kms::KmsClientError>) {
    let r = kms.call(op, body).await;
    (kms_outcome(&r), r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_verification_accepts_only_the_signed_message() {
        use p256::ecdsa::signature::hazmat::PrehashSigner;
        use p256::pkcs8::EncodePublicKey;
        use sha2::Digest as _;
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let sig: p256::ecdsa::DerSignature =
            sk.sign_prehash(&sha2::Sha256::digest(MESSAGE)).unwrap();
        let der = sk.verifying_key().to_public_key_der().unwrap();
        assert!(verify_offline(der.as_bytes(), MESSAGE, sig.as_bytes()));
        assert!(!verify_offline(
            der.as_bytes(),
            b"another message",
            sig.as_bytes()
        ));
        assert!(!verify_offline(b"not a key", MESSAGE, sig.as_bytes()));
        assert!(has_private_key(&json!({"PrivateKeyPlaintext": "x"})));
        assert!(!has_private_key(&json!({"PublicKey": "x", "KeyId": "k"})));
    }
}
