//! The KMS request checks the `kms_json` fuzz target drives (only with the `fuzzing` feature).
//!
//! [`check_request`] parses a body into the request type [`super::api::dispatch`] gives that
//! operation, then runs the member validators that need no key database: encryption contexts,
//! grant tokens, base64 members and the ciphertext-blob header, key policies (parsed and
//! evaluated), tags, alias names, limits and markers, import and grant tokens, key specs and
//! key pair specs.
//! What each operation checks against stored keys is not reached here.

use serde_json::Value;

use super::agreement::DeriveSharedSecretRequest;
use super::aliases::{self, AliasRequest, ListAliasesRequest};
use super::crypto::{self, CryptoRequest, ReEncryptRequest};
use super::custom_key_stores::{self, KeyStoreRequest};
use super::data_key_pair::{self, DataKeyPairRequest};
use super::error::{ErrorKind, KmsError};
use super::grants::{self, GrantRequest};
use super::import::{self, ImportRequest};
use super::keys::{
    self, CreateKeyRequest, KeyIdRequest, KeyPolicyRequest, ListRequest,
    ScheduleKeyDeletionRequest, TagResourceRequest, UpdateKeyDescriptionRequest,
};
use super::rotation::RotationRequest;
use super::util::{self, parse};
use crate::policy::{ConditionKeys, Policy, PolicyKind, Principal, Request};

/// See the module docs. `Err` is what the KMS would answer for the body.
pub(crate) fn check_request(operation: &str, body: &[u8]) -> Result<(), KmsError> {
    let op = operation
        .strip_prefix(super::api::TARGET_PREFIX)
        .unwrap_or(operation);
    match op {
        "CreateKey" => {
            let r: CreateKeyRequest = parse(body)?;
            if let Some(p) = &r.policy {
                policy_doc(p)?;
            }
            keys::validate_tags(r.tags.as_deref().unwrap_or_default())
        }
        "DescribeKey" | "EnableKey" | "DisableKey" | "CancelKeyDeletion" => {
            let r: KeyIdRequest = parse(body)?;
            util::grant_tokens(r.grant_tokens).map(drop)
        }
        "ListKeys" | "ListKeyPolicies" | "ListResourceTags" => {
            let r: ListRequest = parse(body)?;
            page(r.limit, r.marker.as_deref())
        }
        "ScheduleKeyDeletion" => {
            let r: ScheduleKeyDeletionRequest = parse(body)?;
            util::check_range(r.pending_window_in_days.unwrap_or(30), "days", 7, 30)
        }
        "UpdateKeyDescription" => parse::<UpdateKeyDescriptionRequest>(body).map(drop),
        "PutKeyPolicy" | "GetKeyPolicy" => {
            let r: KeyPolicyRequest = parse(body)?;
            r.policy.as_deref().map_or(Ok(()), policy_doc)
        }
        "TagResource" | "UntagResource" => {
            let r: TagResourceRequest = parse(body)?;
            keys::validate_tags(r.tags.as_deref().unwrap_or_default())
        }
        "CreateAlias" | "UpdateAlias" | "DeleteAlias" => {
            let r: AliasRequest = parse(body)?;
            aliases::validate_alias_name(&util::required(r.alias_name, "aliasName")?)
        }
        "ListAliases" => {
            let r: ListAliasesRequest = parse(body)?;
            page(r.limit, r.marker.as_deref())
        }
        "Encrypt"
        | "Decrypt"
        | "GenerateDataKey"
        | "GenerateDataKeyWithoutPlaintext"
        | "GenerateRandom" => {
            let r: CryptoRequest = parse(body)?;
            crypto::check_algorithm(r.encryption_algorithm.as_deref(), "encryptionAlgorithm")?;
            util::context(r.encryption_context)?;
            util::grant_tokens(r.grant_tokens)?;
            if let Some(p) = &r.plaintext {
                util::unb64(p, "Plaintext")?;
            }
            if let Some(b) = &r.ciphertext_blob {
                blob_header(&util::unb64(b, "CiphertextBlob")?)?;
            }
            if op.starts_with("GenerateDataKey") {
                crypto::data_key_len(r.key_spec.as_deref(), r.number_of_bytes)?;
            }
            Ok(())
        }
        "ReEncrypt" => {
            let r: ReEncryptRequest = parse(body)?;
            crypto::check_algorithm(r.source_encryption_algorithm.as_deref(), "source")?;
            crypto::check_algorithm(r.destination_encryption_algorithm.as_deref(), "dest")?;
            util::context(r.source_encryption_context)?;
            util::context(r.destination_encryption_context)?;
            blob_header(&util::unb64(
                &util::required(r.ciphertext_blob, "ciphertextBlob")?,
                "CiphertextBlob",
            )?)
        }
        "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => {
            let r: DataKeyPairRequest = parse(body)?;
            data_key_pair::key_pair_spec(r.key_pair_spec)?;
            util::context(r.encryption_context)?;
            util::grant_tokens(r.grant_tokens).map(drop)
        }
        "DeriveSharedSecret" => {
            let r: DeriveSharedSecretRequest = parse(body)?;
            if let Some(k) = &r.public_key {
                util::unb64(k, "PublicKey")?;
            }
            util::grant_tokens(r.grant_tokens).map(drop)
        }
        "EnableKeyRotation"
        | "DisableKeyRotation"
        | "GetKeyRotationStatus"
        | "RotateKeyOnDemand"
        | "ListKeyRotations" => {
            let r: RotationRequest = parse(body)?;
            if let Some(days) = r.rotation_period_in_days {
                util::check_range(days, "rotationPeriodInDays", 90, 2560)?;
            }
            page(r.limit, r.marker.as_deref())
        }
        "CreateGrant" | "ListGrants" | "ListRetirableGrants" | "RetireGrant" | "RevokeGrant" => {
            let r: GrantRequest = parse(body)?;
            util::grant_tokens(r.grant_tokens)?;
            if let Some(c) = r.constraints {
                let subset = c.encryption_context_subset.unwrap_or_default();
                let _ = super::blob::canonical_context(&subset);
            }
            if let Some(t) = &r.grant_token {
                let _ = grants::grant_id_from_token(t);
            }
            page(r.limit, r.marker.as_deref())
        }
        "GetParametersForImport" | "ImportKeyMaterial" | "DeleteImportedKeyMaterial" => {
            let r: ImportRequest = parse(body)?;
            if let Some(t) = &r.import_token {
                let _ = import::decode_token(t);
            }
            if let Some(m) = &r.encrypted_key_material {
                util::unb64(m, "EncryptedKeyMaterial")?;
            }
            Ok(())
        }
        "CreateCustomKeyStore"
        | "ConnectCustomKeyStore"
        | "DisconnectCustomKeyStore"
        | "DescribeCustomKeyStores"
        | "UpdateCustomKeyStore"
        | "DeleteCustomKeyStore" => {
            let r: KeyStoreRequest = parse(body)?;
            if let Some(n) = &r.custom_key_store_name {
                custom_key_stores::check_len(n, "customKeyStoreName", 1, 256)?;
            }
            if let Some(c) = &r.cloud_hsm_cluster_id {
                custom_key_stores::check_cluster_id(c)?;
            }
            page(r.limit, r.marker.as_deref())
        }
        other => Err(KmsError::new(
            ErrorKind::UnknownOperation,
            format!("Unknown operation {other}"),
        )),
    }
}

/// A key policy: validated as PutKeyPolicy does, then (when valid) evaluated against a fixed
/// request, and parsed as an identity policy too.
fn policy_doc(doc: &str) -> Result<(), KmsError> {
    keys::validate_policy_document(doc)?;
    let mut conditions = ConditionKeys::default();
    conditions.add("kms:CallerAccount", ["000000000000".to_owned()]);
    conditions.add("kms:EncryptionContext:project", ["fuzz".to_owned()]);
    conditions.add(
        "kms:GrantOperations",
        ["Decrypt".to_owned(), "Encrypt".to_owned()],
    );
    conditions.add("aws:SecureTransport", ["true".to_owned()]);
    let request = Request {
        principal: Principal {
            arn: "arn:aws:iam::000000000000:user/alice",
            account: "000000000000",
        },
        action: "kms:Encrypt",
        resource: "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        conditions: &conditions,
    };
    if let Ok(p) = Policy::parse(doc, PolicyKind::Resource) {
        let _ = p.evaluate(&request);
    }
    if let Ok(p) = Policy::parse(doc, PolicyKind::Identity) {
        let _ = p.evaluate(&request);
    }
    Ok(())
}

/// A `Limit`/`Marker` pair against a list of 50 items.
fn page(limit: Option<i64>, marker: Option<&str>) -> Result<(), KmsError> {
    let items: Vec<u32> = (0..50).collect();
    let (page, next) = util::paginate(items, limit, 100, 1000, marker)?;
    let _ = util::with_page(Value::Null, next);
    assert!(page.len() <= 50);
    Ok(())
}

fn blob_header(blob: &[u8]) -> Result<(), KmsError> {
    super::blob::parse_header(blob)
        .map(|h| {
            let _ = h.material_hex();
        })
        .map_err(|_| KmsError::new(ErrorKind::InvalidCiphertext, "invalid ciphertext"))
}
