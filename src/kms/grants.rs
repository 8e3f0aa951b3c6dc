//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant, and the
//! conversion of stored grants into the `policy::Grant`s that authorization evaluates.
//!
//! Grants are effective immediately (no eventual consistency), so grant tokens only matter to
//! RetireGrant and to the policy module. A token is base64 of 0x01 ‖ grant id (32 bytes) ‖
//! 32 random bytes; every CreateGrant call returns a new one.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::db::{self, KeyRecord};
use super::error::{ErrorKind, KmsError};
use super::key_spec::KeyUsage;
use super::util::{self, required};
use super::{Call, KmsService, gcm, policy};

/// Values of the `GrantOperation` enum that a grant on a symmetric encryption key may not list:
/// they apply only to asymmetric or HMAC keys (AWS KMS Developer Guide: "Grants in AWS KMS",
/// "Grant operations"); CreateGrant refuses them with a ValidationException. The full enum is
/// `policy::grant_allows_operation`.
const NOT_FOR_SYMMETRIC_ENCRYPTION_KEYS: &[&str] = &[
    "Sign",
    "Verify",
    "GetPublicKey",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// The grant operations an HMAC key accepts (same Developer Guide table).
const FOR_HMAC_KEYS: &[&str] = &[
    "GenerateMac",
    "VerifyMac",
    "DescribeKey",
    "CreateGrant",
    "RetireGrant",
];

/// The grant operations a signing key accepts.
const FOR_SIGNING_KEYS: &[&str] = &[
    "Sign",
    "Verify",
    "GetPublicKey",
    "DescribeKey",
    "CreateGrant",
    "RetireGrant",
];

/// The grant operations an asymmetric (RSA) encryption key accepts.
const FOR_ASYMMETRIC_ENCRYPTION_KEYS: &[&str] = &[
    "Encrypt",
    "Decrypt",
    "ReEncryptFrom",
    "ReEncryptTo",
    "GetPublicKey",
    "DescribeKey",
    "CreateGrant",
    "RetireGrant",
];

/// The grant operations a key agreement key accepts.
const FOR_KEY_AGREEMENT_KEYS: &[&str] = &[
    "DeriveSharedSecret",
    "GetPublicKey",
    "DescribeKey",
    "CreateGrant",
    "RetireGrant",
];

/// A grant may list only operations the key's type supports.
fn check_operation_fits(op: &str, key: &KeyRecord) -> Result<(), KmsError> {
    let (fits, kind) = match key.key_usage {
        KeyUsage::GenerateVerifyMac => (FOR_HMAC_KEYS.contains(&op), "an HMAC key"),
        KeyUsage::SignVerify => (FOR_SIGNING_KEYS.contains(&op), "a signing key"),
        KeyUsage::KeyAgreement => (FOR_KEY_AGREEMENT_KEYS.contains(&op), "a key agreement key"),
        KeyUsage::EncryptDecrypt if key.key_spec.is_asymmetric() => (
            FOR_ASYMMETRIC_ENCRYPTION_KEYS.contains(&op),
            "an asymmetric encryption key",
        ),
        KeyUsage::EncryptDecrypt => (
            !NOT_FOR_SYMMETRIC_ENCRYPTION_KEYS.contains(&op),
            "a symmetric encryption key",
        ),
    };
    if fits {
        return Ok(());
    }
    Err(KmsError::validation(format!(
        "Grant operation {op} is not valid for {kind}"
    )))
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GrantConstraintsIn {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) encryption_context_subset: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) encryption_context_equals: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing)]
    pub(crate) source_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GrantRequest {
    pub(crate) key_id: Option<String>,
    pub(crate) grantee_principal: Option<String>,
    pub(crate) grantee_service_principal: Option<String>,
    pub(crate) retiring_principal: Option<String>,
    pub(crate) retiring_service_principal: Option<String>,
    pub(crate) operations: Option<Vec<String>>,
    pub(crate) constraints: Option<GrantConstraintsIn>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) name: Option<String>,
    pub(crate) dry_run: Option<bool>,
    pub(crate) grant_token: Option<String>,
    pub(crate) grant_id: Option<String>,
    pub(crate) limit: Option<i64>,
    pub(crate) marker: Option<String>,
}

/// What the `grants.body` column holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct GrantRecord {
    grant_id: String,
    /// The key's `KeyRecord::scope`: the key id, with the Region for a multi-Region key.
    key_id: String,
    key_arn: String,
    grantee_principal: String,
    retiring_principal: Option<String>,
    operations: Vec<String>,
    constraints: Option<GrantConstraintsIn>,
    name: Option<String>,
    /// Account id (ListGrants reports it as `arn:aws:iam::<account>:root`).
    issuing_account: String,
    creation_date: f64,
    tokens: Vec<String>,
}

impl GrantRecord {
    fn to_policy(&self) -> policy::Grant {
        policy::Grant {
            grant_id: self.grant_id.clone(),
            key_arn: self.key_arn.clone(),
            grantee_principal: self.grantee_principal.clone(),
            retiring_principal: self.retiring_principal.clone(),
            operations: self.operations.clone(),
            constraints: self.constraints.as_ref().map(|c| policy::GrantConstraints {
                encryption_context_subset: c.encryption_context_subset.clone(),
                encryption_context_equals: c.encryption_context_equals.clone(),
            }),
            name: self.name.clone(),
            issuing_account: self.issuing_account.clone(),
            creation_date: self.creation_date,
            grant_tokens: self.tokens.clone(),
        }
    }

    fn to_json(&self) -> Value {
        let mut g = json!({
            "KeyId": self.key_arn,
            "GrantId": self.grant_id,
            "CreationDate": self.creation_date,
            "GranteePrincipal": self.grantee_principal,
            "IssuingAccount": format!("arn:aws:iam::{}:root", self.issuing_account),
            "Operations": self.operations,
        });
        if let Some(n) = &self.name {
            g["Name"] = json!(n);
        }
        if let Some(r) = &self.retiring_principal {
            g["RetiringPrincipal"] = json!(r);
        }
        if let Some(c) = &self.constraints {
            g["Constraints"] = json!(c);
        }
        g
    }

    fn save(&self, tx: &dyn super::db::Tx) -> Result<(), KmsError> {
        let body = serde_json::to_string(self).map_err(KmsError::internal)?;
        db::put_grant(
            tx,
            &self.grant_id,
            &self.key_id,
            self.retiring_principal.as_deref(),
            self.creation_date,
            &body,
        )?;
        Ok(())
    }
}

fn parse_record(body: &str) -> Result<GrantRecord, KmsError> {
    serde_json::from_str(body).map_err(KmsError::internal)
}

fn new_token(grant_id: &str) -> Result<String, KmsError> {
    let mut raw = vec![1u8];
    raw.extend_from_slice(&hex::decode(grant_id).map_err(KmsError::internal)?);
    raw.extend_from_slice(&gcm::random_array::<32>());
    Ok(B64.encode(raw))
}

pub(super) fn grant_id_from_token(token: &str) -> Option<String> {
    let raw = B64.decode(token).ok()?;
    (raw.len() == 65 && raw[0] == 1).then(|| hex::encode(&raw[1..33]))
}

fn invalid_token() -> KmsError {
    KmsError::new(ErrorKind::InvalidGrantToken, "Invalid grant token")
}

/// The grants on `key`, in the form the policy module evaluates.
pub(crate) fn policy_grants(
    tx: &dyn super::db::Tx,
    key: &KeyRecord,
) -> Result<Vec<policy::Grant>, KmsError> {
    db::grant_bodies_for_key(tx, &key.scope())?
        .iter()
        .map(|b| parse_record(b).map(|g| g.to_policy()))
        .collect()
}

impl KmsService {
    pub(crate) fn create_grant(
        &self,
        call: &mut Call<'_>,
        req: GrantRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        if req.grantee_service_principal.is_some()
            || req.retiring_service_principal.is_some()
            || req
                .constraints
                .as_ref()
                .is_some_and(|c| c.source_arn.is_some())
        {
            return Err(KmsError::unsupported(
                "Service principals and SourceArn constraints are not supported by this KMS",
            ));
        }
        let grantee = required(req.grantee_principal, "granteePrincipal")?;
        let mut operations = required(req.operations, "operations")?;
        if operations.is_empty() {
            return Err(KmsError::constraint(
                "'[]'",
                "operations",
                "Member must have length greater than or equal to 1",
            ));
        }
        for op in &operations {
            if !policy::grant_allows_operation(op) {
                return Err(KmsError::constraint(
                    &format!("'{op}'"),
                    "operations",
                    "Member must satisfy enum value set of grant operations",
                ));
            }
        }
        operations.sort();
        operations.dedup();
        let tokens = util::grant_tokens(req.grant_tokens)?;
        self.inner.store.with_tx(|tx| {
            let key = self.resolve(tx, &key_ref, false)?;
            call.note_key(&key);
            self.authorize(
                tx,
                call,
                "kms:CreateGrant",
                Some(&key),
                &BTreeMap::new(),
                &tokens,
            )?;
            self.check_usable(call, &key)?;
            for op in &operations {
                check_operation_fits(op, &key)?;
            }
            if req.dry_run == Some(true) {
                return Err(KmsError::new(
                    ErrorKind::DryRunOperation,
                    "The request would have succeeded, but the DryRun option is set.",
                ));
            }
            let constraints = req.constraints.clone().filter(|c| {
                c.encryption_context_equals.is_some() || c.encryption_context_subset.is_some()
            });
            // A retried CreateGrant with the same Name and parameters returns the same grant.
            if let Some(name) = &req.name {
                for body in db::grant_bodies_for_key(tx, &key.scope())? {
                    let mut g = parse_record(&body)?;
                    if g.name.as_deref() == Some(name)
                        && g.grantee_principal == grantee
                        && g.retiring_principal == req.retiring_principal
                        && g.operations == operations
                        && g.constraints == constraints
                    {
                        let token = new_token(&g.grant_id)?;
                        g.tokens.push(token.clone());
                        g.save(tx)?;
                        return Ok(json!({ "GrantToken": token, "GrantId": g.grant_id }));
                    }
                }
            }
            let grant_id = hex::encode(gcm::random_array::<32>());
            let token = new_token(&grant_id)?;
            let g = GrantRecord {
                grant_id: grant_id.clone(),
                key_id: key.scope(),
                key_arn: key.arn.clone(),
                grantee_principal: grantee.clone(),
                retiring_principal: req.retiring_principal.clone(),
                operations: operations.clone(),
                constraints,
                name: req.name.clone(),
                issuing_account: call.caller.account.clone(),
                creation_date: self.now(),
                tokens: vec![token.clone()],
            };
            g.save(tx)?;
            Ok(json!({ "GrantToken": token, "GrantId": grant_id }))
        })
    }

    pub(crate) fn list_grants(
        &self,
        call: &mut Call<'_>,
        req: GrantRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let records = self.inner.store.with_tx(|tx| {
            let key = self.key_for(tx, call, &key_ref, false, "kms:ListGrants")?;
            db::grant_bodies_for_key(tx, &key.scope())?
                .iter()
                .map(|b| parse_record(b))
                .collect::<Result<Vec<_>, _>>()
        })?;
        if let Some(id) = &req.grant_id
            && !records.iter().any(|g| &g.grant_id == id)
        {
            return Err(KmsError::new(
                ErrorKind::InvalidGrantId,
                format!("Grant ID {id} not found"),
            ));
        }
        let entries: Vec<Value> = records
            .iter()
            .filter(|g| req.grant_id.as_ref().is_none_or(|id| &g.grant_id == id))
            .filter(|g| {
                req.grantee_principal
                    .as_ref()
                    .is_none_or(|p| &g.grantee_principal == p)
            })
            .map(GrantRecord::to_json)
            .collect();
        let (page, next) = util::paginate(entries, req.limit, 50, 100, req.marker.as_deref())?;
        Ok(util::with_page(json!({ "Grants": page }), next))
    }

    pub(crate) fn list_retirable_grants(
        &self,
        call: &mut Call<'_>,
        req: GrantRequest,
    ) -> Result<Value, KmsError> {
        let principal = required(req.retiring_principal, "retiringPrincipal")?;
        let records = self.inner.store.with_tx(|tx| {
            self.authorize(
                tx,
                call,
                "kms:ListRetirableGrants",
                None,
                &BTreeMap::new(),
                &[],
            )?;
            db::grant_bodies_for_retiring(tx, &principal)?
                .iter()
                .map(|b| parse_record(b))
                .collect::<Result<Vec<_>, _>>()
        })?;
        let entries: Vec<Value> = records.iter().map(GrantRecord::to_json).collect();
        let (page, next) = util::paginate(entries, req.limit, 50, 100, req.marker.as_deref())?;
        Ok(util::with_page(json!({ "Grants": page }), next))
    }

    /// Retire: whoever `policy::can_retire_grant` accepts (retiring principal, grantee with
    /// RetireGrant, issuing account root), or anyone the key policy allows kms:RetireGrant.
    pub(crate) fn retire_grant(
        &self,
        call: &mut Call<'_>,
        req: GrantRequest,
    ) -> Result<Value, KmsError> {
        self.inner.store.with_tx(|tx| {
            let record = match (&req.grant_token, &req.key_id, &req.grant_id) {
                (Some(token), _, _) => {
                    let id = grant_id_from_token(token).ok_or_else(invalid_token)?;
                    let g = match db::grant_body(tx, &id)? {
                        Some(b) => parse_record(&b)?,
                        None => return Err(invalid_token()),
                    };
                    let known = g
                        .tokens
                        .iter()
                        .any(|t| bool::from(t.as_bytes().ct_eq(token.as_bytes())));
                    if !known || req.grant_id.as_ref().is_some_and(|i| i != &g.grant_id) {
                        return Err(invalid_token());
                    }
                    g
                }
                (None, Some(key_ref), Some(id)) => {
                    let key = self.resolve(tx, key_ref, false)?;
                    match db::grant_body(tx, id)? {
                        Some(b) if parse_record(&b)?.key_id == key.scope() => parse_record(&b)?,
                        _ => {
                            return Err(KmsError::not_found(format!("Grant ID {id} not found")));
                        }
                    }
                }
                _ => {
                    return Err(KmsError::validation(
                        "Either GrantToken or both KeyId and GrantId must be specified.",
                    ));
                }
            };
            // A grant of a multi-Region key is its Region's key's (`KeyRecord::scope`).
            let key = match record.key_id.split_once('@') {
                Some((id, region)) => match self.in_region(region) {
                    Some(there) => there.load_key(tx, id)?,
                    None => return Err(invalid_token()),
                },
                None => self.load_key(tx, &record.key_id)?,
            };
            call.note_key(&key);
            if !policy::can_retire_grant(call.caller, &record.to_policy()) {
                self.authorize(
                    tx,
                    call,
                    "kms:RetireGrant",
                    Some(&key),
                    &BTreeMap::new(),
                    &[],
                )?;
            }
            if req.dry_run == Some(true) {
                return Err(KmsError::new(
                    ErrorKind::DryRunOperation,
                    "The request would have succeeded, but the DryRun option is set.",
                ));
            }
            db::delete_grant(tx, &record.grant_id)?;
            Ok(json!({}))
        })
    }

    pub(crate) fn revoke_grant(
        &self,
        call: &mut Call<'_>,
        req: GrantRequest,
    ) -> Result<Value, KmsError> {
        let key_ref = required(req.key_id, "keyId")?;
        let grant_id = required(req.grant_id, "grantId")?;
        self.inner.store.with_tx(|tx| {
            let key = self.key_for(tx, call, &key_ref, false, "kms:RevokeGrant")?;
            match db::grant_body(tx, &grant_id)? {
                Some(b) if parse_record(&b)?.key_id == key.scope() => {}
                _ => {
                    return Err(KmsError::not_found(format!(
                        "Grant ID {grant_id} not found"
                    )));
                }
            }
            if req.dry_run == Some(true) {
                return Err(KmsError::new(
                    ErrorKind::DryRunOperation,
                    "The request would have succeeded, but the DryRun option is set.",
                ));
            }
            db::delete_grant(tx, &grant_id)?;
            Ok(json!({}))
        })
    }
}
