//! AWS KMS JSON 1.1 dispatch. The listener verifies SigV4, builds the [`Caller`], and passes
//! the `X-Amz-Target` operation and the body here; it answers `Ok(v)` as HTTP 200 with `v` as
//! `application/x-amz-json-1.1`, and `Err(e)` as `e.status()` with `e.to_json()` (plus
//! `x-amzn-RequestId` either way). Every call, including ones that fail to parse, is audited.

use serde_json::Value;

use super::error::{ErrorKind, KmsError};
use super::quorum::CallQuorum;
use super::util::parse;
use super::{Caller, KmsService, Source};

pub const TARGET_PREFIX: &str = "TrentService.";

/// `operation` is the `X-Amz-Target` value (`TrentService.Encrypt`) or the bare name.
pub fn dispatch(
    svc: &KmsService,
    operation: &str,
    body: &[u8],
    caller: &Caller,
) -> Result<Value, KmsError> {
    let request_id = uuid::Uuid::new_v4().to_string();
    dispatch_with_request_id(svc, operation, body, caller, &request_id)
}

/// As [`dispatch`], recording the listener's `x-amzn-RequestId` in the audit log.
pub fn dispatch_with_request_id(
    svc: &KmsService,
    operation: &str,
    body: &[u8],
    caller: &Caller,
    request_id: &str,
) -> Result<Value, KmsError> {
    dispatch_from(
        svc,
        operation,
        body,
        caller,
        svc.api_source(caller),
        request_id,
    )
}

/// As [`dispatch_with_request_id`], for a call whose source is known otherwise: a remote
/// gateway acting for an S3 caller ([`Source::S3Gateway`] with `via`).
pub fn dispatch_from(
    svc: &KmsService,
    operation: &str,
    body: &[u8],
    caller: &Caller,
    source: Source,
    request_id: &str,
) -> Result<Value, KmsError> {
    let op = operation.strip_prefix(TARGET_PREFIX).unwrap_or(operation);
    // The one call a sealed KMS takes.
    if op == "Sealgate.Unseal" {
        return svc.unseal(caller, request_id, body);
    }
    svc.run(op, caller, source, request_id, |svc, call| {
        *call.quorum.get_mut() = CallQuorum::for_request(op, body);
        run_op(svc, call, op, body)
    })
}

fn run_op(
    svc: &KmsService,
    call: &mut super::Call<'_>,
    op: &str,
    body: &[u8],
) -> Result<Value, KmsError> {
    match op {
        "CreateKey" => svc.create_key(call, parse(body)?),
        "DescribeKey" => svc.describe_key(call, parse(body)?),
        "ListKeys" => svc.list_keys(call, parse(body)?),
        "EnableKey" => svc.enable_key(call, parse(body)?),
        "DisableKey" => svc.disable_key(call, parse(body)?),
        "ScheduleKeyDeletion" => svc.schedule_key_deletion(call, parse(body)?),
        "CancelKeyDeletion" => svc.cancel_key_deletion(call, parse(body)?),
        "UpdateKeyDescription" => svc.update_key_description(call, parse(body)?),
        "PutKeyPolicy" => svc.put_key_policy(call, parse(body)?),
        "GetKeyPolicy" => svc.get_key_policy(call, parse(body)?),
        "ListKeyPolicies" => svc.list_key_policies(call, parse(body)?),
        "TagResource" => svc.tag_resource(call, parse(body)?),
        "UntagResource" => svc.untag_resource(call, parse(body)?),
        "ListResourceTags" => svc.list_resource_tags(call, parse(body)?),
        "CreateAlias" => svc.create_alias(call, parse(body)?),
        "UpdateAlias" => svc.update_alias(call, parse(body)?),
        "DeleteAlias" => svc.delete_alias(call, parse(body)?),
        "ListAliases" => svc.list_aliases(call, parse(body)?),
        "Encrypt" => svc.encrypt(call, parse(body)?),
        "Decrypt" => svc.decrypt(call, parse(body)?),
        "ReEncrypt" => svc.re_encrypt(call, parse(body)?),
        "GenerateDataKey" => svc.generate_data_key(call, parse(body)?, true),
        "GenerateDataKeyWithoutPlaintext" => svc.generate_data_key(call, parse(body)?, false),
        "GenerateMac" => svc.generate_mac(call, parse(body)?),
        "VerifyMac" => svc.verify_mac(call, parse(body)?),
        "Sign" => svc.sign(call, parse(body)?),
        "Verify" => svc.verify(call, parse(body)?),
        "GetPublicKey" => svc.get_public_key(call, parse(body)?),
        "DeriveSharedSecret" => svc.derive_shared_secret(call, parse(body)?),
        "GenerateDataKeyPair" => svc.generate_data_key_pair(call, parse(body)?, true),
        "GenerateDataKeyPairWithoutPlaintext" => {
            svc.generate_data_key_pair(call, parse(body)?, false)
        }
        "GenerateRandom" => svc.generate_random(call, parse(body)?),
        "EnableKeyRotation" => svc.enable_key_rotation(call, parse(body)?),
        "DisableKeyRotation" => svc.disable_key_rotation(call, parse(body)?),
        "GetKeyRotationStatus" => svc.get_key_rotation_status(call, parse(body)?),
        "RotateKeyOnDemand" => svc.rotate_key_on_demand(call, parse(body)?),
        "ListKeyRotations" => svc.list_key_rotations(call, parse(body)?),
        "CreateGrant" => svc.create_grant(call, parse(body)?),
        "ListGrants" => svc.list_grants(call, parse(body)?),
        "ListRetirableGrants" => svc.list_retirable_grants(call, parse(body)?),
        "RetireGrant" => svc.retire_grant(call, parse(body)?),
        "RevokeGrant" => svc.revoke_grant(call, parse(body)?),
        "GetParametersForImport" => svc.get_parameters_for_import(call, parse(body)?),
        "ImportKeyMaterial" => svc.import_key_material(call, parse(body)?),
        "DeleteImportedKeyMaterial" => svc.delete_imported_key_material(call, parse(body)?),
        "CreateCustomKeyStore" => svc.create_custom_key_store(call, parse(body)?),
        "ConnectCustomKeyStore" => svc.connect_custom_key_store(call, parse(body)?),
        "DisconnectCustomKeyStore" => svc.disconnect_custom_key_store(call, parse(body)?),
        "DescribeCustomKeyStores" => svc.describe_custom_key_stores(call, parse(body)?),
        "UpdateCustomKeyStore" => svc.update_custom_key_store(call, parse(body)?),
        "DeleteCustomKeyStore" => svc.delete_custom_key_store(call, parse(body)?),
        "ReplicateKey" => svc.replicate_key(call, parse(body)?),
        "UpdatePrimaryRegion" => svc.update_primary_region(call, parse(body)?),
        "Sealgate.ApproveRequest" => svc.approve_request(call, parse(body)?),
        other => Err(KmsError::new(
            ErrorKind::UnknownOperation,
            format!("Unknown operation {other}"),
        )),
    }
}
