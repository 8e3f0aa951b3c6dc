//! Encrypt and Decrypt (and ReEncrypt's two halves) with RSA ENCRYPT_DECRYPT keys:
//! RSAES_OAEP_SHA_1 and RSAES_OAEP_SHA_256. The ciphertext is the bare OAEP output, as AWS
//! returns it, so anyone with the public key (GetPublicKey) can encrypt and only this KMS can
//! decrypt. AWS's rules: the algorithm is required (the default SYMMETRIC_DEFAULT does not fit
//! an RSA key), no encryption context, plaintext at most k − 2·hLen − 2 bytes, and Decrypt
//! needs the KeyId because the ciphertext does not name its key.

use std::collections::BTreeMap;

use super::asym;
use super::crypto::{Opened, RsaUse, Sealed, dry_run_ok};
use super::db::KeyRecord;
use super::error::{ErrorKind, KmsError};
use super::key_spec::{KeyUsage, RSA_ENCRYPTION};
use super::{Call, KmsService};

impl KmsService {
    /// Authorization, key state, usage, algorithm and context, in AWS's order.
    fn check_rsa_use(
        &self,
        tx: &dyn super::db::Tx,
        call: &mut Call<'_>,
        key: &KeyRecord,
        op: &RsaUse<'_>,
    ) -> Result<(), KmsError> {
        call.note_key(key);
        self.authorize(
            tx,
            call,
            op.action,
            Some(key),
            &BTreeMap::new(),
            op.grant_tokens,
        )?;
        self.check_usable(call, key)?;
        if key.key_usage != KeyUsage::EncryptDecrypt {
            return Err(key.wrong_usage(op.action.trim_start_matches("kms:")));
        }
        if !RSA_ENCRYPTION.contains(&op.alg) {
            return Err(KmsError::new(
                ErrorKind::InvalidKeyUsage,
                format!(
                    "The encryption algorithm {} is not valid for key spec {}.",
                    op.alg,
                    key.key_spec.as_str()
                ),
            ));
        }
        if !op.ctx.is_empty() {
            return Err(KmsError::validation(
                "EncryptionContext is not supported with asymmetric KMS keys.",
            ));
        }
        Ok(())
    }

    pub(crate) fn rsa_encrypt(
        &self,
        tx: &dyn super::db::Tx,
        call: &mut Call<'_>,
        key: KeyRecord,
        op: &RsaUse<'_>,
        plaintext: &[u8],
    ) -> Result<Sealed, KmsError> {
        self.check_rsa_use(tx, call, &key, op)?;
        let bits = key.key_spec.rsa_bits().unwrap_or_default();
        let max = asym::max_oaep_plaintext(bits, op.alg);
        if plaintext.len() > max {
            return Err(KmsError::validation(format!(
                "Plaintext is {} bytes; {} with {} accepts at most {max} bytes.",
                plaintext.len(),
                key.key_spec.as_str(),
                op.alg
            )));
        }
        dry_run_ok(op.dry_run)?;
        let private = self.private_key(tx, &key)?;
        let blob = private
            .oaep_encrypt(op.alg, plaintext)
            .ok_or_else(|| KmsError::internal("RSA-OAEP encryption failed"))?;
        Ok(Sealed {
            material_id: key.current_material.clone().unwrap_or_default(),
            key_arn: key.arn,
            blob,
        })
    }

    pub(crate) fn rsa_decrypt(
        &self,
        tx: &dyn super::db::Tx,
        call: &mut Call<'_>,
        key: KeyRecord,
        op: &RsaUse<'_>,
        ciphertext: &[u8],
    ) -> Result<Opened, KmsError> {
        self.check_rsa_use(tx, call, &key, op)?;
        dry_run_ok(op.dry_run)?;
        let private = self.private_key(tx, &key)?;
        let plaintext = private.oaep_decrypt(op.alg, ciphertext)?;
        Ok(Opened {
            material_id: key.current_material.clone().unwrap_or_default(),
            key_arn: key.arn,
            plaintext,
        })
    }
}
