//! HMAC keys: GenerateMac and VerifyMac (RFC 2104 HMAC with SHA-2, RustCrypto `hmac`). The
//! secret is generated here (or imported, see `import.rs`), stored sealed under the root key
//! like a symmetric backing key, and never returned: callers only ever see MACs.

use std::collections::BTreeMap;

use hmac::{KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::crypto::dry_run_ok;
use super::db::{self, KeyRecord};
use super::error::{ErrorKind, KmsError};
use super::key_spec::KeySpec;
use super::util::{self, required};
use super::{Call, KmsService, gcm};

const MAX_MAC: usize = 6144;
const MAC_ALGORITHMS: &[&str] = &[
    "HMAC_SHA_224",
    "HMAC_SHA_256",
    "HMAC_SHA_384",
    "HMAC_SHA_512",
];

/// The longest secret an HMAC key of `spec` takes: its hash's block size (imported material
/// is the spec's length up to this, as AWS's import rules; generated secrets are the spec's).
pub(crate) fn max_material_len(spec: KeySpec) -> usize {
    match spec {
        KeySpec::Hmac384 | KeySpec::Hmac512 => 128,
        _ => 64,
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MacRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) mac_algorithm: Option<String>,
    pub(crate) mac: Option<String>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) dry_run: Option<bool>,
}

/// The request members both operations share, validated before any key is touched.
struct Checked {
    key_ref: String,
    message: Zeroizing<Vec<u8>>,
    algorithm: String,
    tokens: Vec<String>,
}

fn check(req: &MacRequest) -> Result<Checked, KmsError> {
    let key_ref = required(req.key_id.clone(), "keyId")?;
    let message = util::message_member(req.message.clone())?;
    let algorithm = required(req.mac_algorithm.clone(), "macAlgorithm")?;
    if !MAC_ALGORITHMS.contains(&algorithm.as_str()) {
        return Err(KmsError::constraint(
            &format!("'{algorithm}'"),
            "macAlgorithm",
            &format!(
                "Member must satisfy enum value set: [{}]",
                MAC_ALGORITHMS.join(", ")
            ),
        ));
    }
    Ok(Checked {
        key_ref,
        message,
        algorithm,
        tokens: util::grant_tokens(req.grant_tokens.clone())?,
    })
}

/// HMAC of `message` under `secret` with the spec's digest.
fn compute(spec: KeySpec, secret: &[u8], message: &[u8]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(secret: &[u8], message: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut m = <M as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
        m.update(message);
        m.finalize().into_bytes().to_vec()
    }
    match spec {
        KeySpec::Hmac224 => run::<hmac::Hmac<sha2::Sha224>>(secret, message),
        KeySpec::Hmac256 => run::<hmac::Hmac<sha2::Sha256>>(secret, message),
        KeySpec::Hmac384 => run::<hmac::Hmac<sha2::Sha384>>(secret, message),
        KeySpec::Hmac512 => run::<hmac::Hmac<sha2::Sha512>>(secret, message),
        _ => unreachable!("mac_for computes only with HMAC keys"),
    }
}

impl KmsService {
    /// Generates and stores the secret of a new HMAC key; returns its material id.
    pub(super) fn new_mac_material(
        &self,
        tx: &dyn super::db::Tx,
        key_id: &str,
        spec: KeySpec,
    ) -> Result<String, KmsError> {
        let material_id = hex::encode(gcm::random_array::<32>());
        let mut secret = Zeroizing::new(vec![0u8; spec.material_len()]);
        rand::RngCore::fill_bytes(&mut rand::rng(), secret.as_mut_slice());
        let row = db::MaterialRow {
            key_id: key_id.to_string(),
            material_id: material_id.clone(),
            sealed: Some(self.seal_material(key_id, &material_id, &secret)),
            created: self.now(),
            rotation_type: None,
            imported: false,
            fingerprint: None,
        };
        db::put_material(tx, &row)?;
        Ok(material_id)
    }

    /// Resolve, authorize, state- and usage-check an HMAC key, and compute the MAC. The order
    /// is AWS's: key, authorization, key state, key usage, algorithm; the callers check DryRun
    /// last (after the comparison, for VerifyMac).
    fn mac_for(
        &self,
        call: &mut Call<'_>,
        c: &Checked,
        action: &str,
    ) -> Result<(KeyRecord, Vec<u8>), KmsError> {
        self.inner.store.with_tx(|tx| {
            let key = self.resolve(tx, &c.key_ref, true)?;
            call.note_key(&key);
            self.authorize(tx, call, action, Some(&key), &BTreeMap::new(), &c.tokens)?;
            self.check_usable(call, &key)?;
            let op = action.trim_start_matches("kms:");
            let Some(alg) = key.key_spec.mac_algorithm() else {
                return Err(key.wrong_usage(op));
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
            let material_id = key
                .current_material
                .clone()
                .ok_or_else(|| KmsError::internal("HMAC key has no material"))?;
            let secret = self.secret_material(tx, &key, &material_id)?;
            if !(key.key_spec.material_len()..=max_material_len(key.key_spec))
                .contains(&secret.len())
            {
                return Err(KmsError::internal("stored HMAC key has the wrong length"));
            }
            let mac = compute(key.key_spec, &secret, &c.message);
            Ok((key, mac))
        })
    }

    pub(crate) fn generate_mac(
        &self,
        call: &mut Call<'_>,
        req: MacRequest,
    ) -> Result<Value, KmsError> {
        let c = check(&req)?;
        let (key, mac) = self.mac_for(call, &c, "kms:GenerateMac")?;
        dry_run_ok(req.dry_run)?;
        Ok(json!({
            "Mac": util::b64(&mac),
            "MacAlgorithm": c.algorithm,
            "KeyId": key.arn,
        }))
    }

    pub(crate) fn verify_mac(
        &self,
        call: &mut Call<'_>,
        req: MacRequest,
    ) -> Result<Value, KmsError> {
        let c = check(&req)?;
        let given = util::unb64(&required(req.mac.clone(), "mac")?, "Mac")?;
        if given.is_empty() || given.len() > MAX_MAC {
            let c = if given.is_empty() {
                "Member must have length greater than or equal to 1"
            } else {
                "Member must have length less than or equal to 6144"
            };
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value at 'mac' failed to satisfy constraint: {c}"
            )));
        }
        let (key, mac) = self.mac_for(call, &c, "kms:VerifyMac")?;
        // Constant-time: a timing difference would let a caller forge a MAC byte by byte.
        let equal = given.len() == mac.len()
            && subtle::ConstantTimeEq::ct_eq(given.as_slice(), mac.as_slice()).into();
        if !equal {
            return Err(KmsError::new(
                ErrorKind::KmsInvalidMac,
                "The MAC does not match the message under the given key and algorithm.",
            ));
        }
        dry_run_ok(req.dry_run)?;
        Ok(json!({
            "KeyId": key.arn,
            "MacValid": true,
            "MacAlgorithm": c.algorithm,
        }))
    }
}
