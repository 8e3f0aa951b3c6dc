//! The two-person rule (a sealgate extension): administrative operations named in the
//! configuration happen only once enough principals other than the requester approved them.
//!
//! The check sits in [`KmsService::authorize`]: only a caller the policies allow may start a
//! request, and the act runs with the requester's rights at the time it happens. A governed
//! call without a matching approved request fails with `ApprovalRequiredException` naming a
//! pending *approval request*; it is recorded after the call's transaction rolled back. Other
//! principals allowed `sealgate:ApproveRequest` approve it (`Sealgate.ApproveRequest`, `sealgate
//! kms approve`); the requester never can. Once the quorum is in, the requester repeats the
//! call — the same operation with the same parameters (the request is bound to a digest of
//! them) — and it happens; the request is then used up in the same transaction as the act, so
//! it cannot be replayed, and stays usable if the act fails. A request not carried out within
//! the configured time limit expires: it can be neither approved nor used.
//!
//! Every step is in the audit log: the refused first call, each approval (`ApproveRequest`),
//! and the act, all carrying `approval_request` with the request id.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::db::{self, ApprovalRow, Tx};
use super::error::{ErrorKind, KmsError};
use super::{Call, KmsService, audit};

/// Operations the rule may govern: administrative acts whose handlers authorize `kms:<Op>`.
pub(crate) const GOVERNABLE: &[&str] = &[
    "CancelKeyDeletion",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "PutKeyPolicy",
    "RevokeGrant",
    "ScheduleKeyDeletion",
    "UpdateCustomKeyStore",
];

/// The IAM action that lets a principal approve other principals' requests.
pub(crate) const APPROVE_ACTION: &str = "sealgate:ApproveRequest";

/// Which operations need how many approvals, within what time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumPolicy {
    operations: BTreeSet<String>,
    approvals: u32,
    expires_after: Duration,
}

impl QuorumPolicy {
    /// `approvals`: distinct principals other than the requester (at least 1).
    pub fn new(
        operations: &[String],
        approvals: u32,
        expires_after: Duration,
    ) -> Result<Self, String> {
        if operations.is_empty() {
            return Err("kms_quorum.operations names no operation".into());
        }
        if let Some(op) = operations
            .iter()
            .find(|op| !GOVERNABLE.contains(&op.as_str()))
        {
            return Err(format!(
                "kms_quorum.operations: {op:?} cannot be governed; use some of {}",
                GOVERNABLE.join(", ")
            ));
        }
        if approvals == 0 {
            return Err("kms_quorum.approvals must be at least 1".into());
        }
        if expires_after.is_zero() {
            return Err("kms_quorum.expires_after must be at least 1s".into());
        }
        Ok(Self {
            operations: operations.iter().cloned().collect(),
            approvals,
            expires_after,
        })
    }

    fn governs(&self, operation: &str) -> bool {
        self.operations.contains(operation)
    }
}

/// The quorum side of one call: set by the API dispatcher, read and filled in by
/// [`KmsService::check_quorum`] and the audit record.
#[derive(Debug, Default)]
pub(crate) struct CallQuorum {
    /// The operation and a digest of its parameters; only API calls have it (the service's
    /// own calls are not governed).
    request: Option<(String, String)>,
    /// The approval request this call started, waited on or used up.
    pub(crate) approval: Option<String>,
    /// A request to record once the call's transaction has rolled back.
    new_request: Option<ApprovalRow>,
}

impl CallQuorum {
    pub(crate) fn for_request(operation: &str, body: &[u8]) -> Self {
        // Parameters compare as JSON values (member order and spacing do not matter).
        let canonical = serde_json::from_slice::<Value>(body)
            .map(|v| v.to_string().into_bytes())
            .unwrap_or_else(|_| body.to_vec());
        let digest = Sha256::new()
            .chain_update(operation)
            .chain_update([0])
            .chain_update(&canonical)
            .finalize();
        Self {
            request: Some((operation.to_string(), hex::encode(digest))),
            ..Self::default()
        }
    }
}

const PENDING: &str = "PENDING";
const APPROVED: &str = "APPROVED";
const DONE: &str = "DONE";

fn time(epoch: f64) -> String {
    audit::rfc3339(std::time::UNIX_EPOCH + Duration::from_secs_f64(epoch.max(0.0)))
}

fn pending_error(row: &ApprovalRow) -> KmsError {
    KmsError::new(
        ErrorKind::ApprovalRequired,
        format!(
            "{} needs the approval of {} principal(s) other than the requester (two-person \
             rule): approval request {} has {} of {} approvals and expires at {}. Approve it \
             with `sealgate kms approve {}`, then repeat the call.",
            row.operation,
            row.required,
            row.id,
            row.approvers.len(),
            row.required,
            time(row.expires),
            row.id
        ),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApproveRequest {
    #[serde(rename = "RequestId")]
    request_id: Option<String>,
}

impl KmsService {
    /// The rule for a call the policies just allowed `action` (on `resource`): passes when the
    /// action is not governed or an approved request for exactly this call exists (using it
    /// up in `tx`); otherwise fails with the pending request, creating it if needed.
    pub(super) fn check_quorum(
        &self,
        tx: &dyn Tx,
        call: &Call<'_>,
        action: &str,
        resource: Option<&str>,
    ) -> Result<(), KmsError> {
        let Some(policy) = &self.inner.quorum else {
            return Ok(());
        };
        let mut q = call.quorum.borrow_mut();
        let Some((operation, digest)) = q.request.clone() else {
            return Ok(());
        };
        if action.strip_prefix("kms:") != Some(operation.as_str())
            || !policy.governs(&operation)
            || q.approval.is_some()
        {
            return Ok(());
        }
        let now = self.now();
        match db::open_approval(tx, &call.caller.arn, &digest, DONE, now)? {
            Some(mut row) if row.status == APPROVED => {
                row.status = DONE.into();
                db::put_approval(tx, &row)?;
                q.approval = Some(row.id);
                Ok(())
            }
            Some(row) => {
                q.approval = Some(row.id.clone());
                Err(pending_error(&row))
            }
            None => {
                let row = ApprovalRow {
                    id: uuid::Uuid::new_v4().to_string(),
                    operation,
                    requester: call.caller.arn.clone(),
                    digest,
                    resource: resource.map(str::to_string),
                    created: now,
                    expires: now + policy.expires_after.as_secs_f64(),
                    required: policy.approvals,
                    approvers: Vec::new(),
                    status: PENDING.into(),
                };
                let err = pending_error(&row);
                q.approval = Some(row.id.clone());
                q.new_request = Some(row);
                Err(err)
            }
        }
    }

    /// Records the request a governed call started (after its own transaction rolled back).
    pub(super) fn record_new_approval_request(&self, q: &mut CallQuorum) -> Result<(), KmsError> {
        match q.new_request.take() {
            Some(row) => self
                .inner
                .store
                .with_tx(|tx| Ok(db::put_approval(tx, &row)?)),
            None => Ok(()),
        }
    }

    /// `Sealgate.ApproveRequest`: one principal's approval of another's pending request.
    pub(crate) fn approve_request(
        &self,
        call: &mut Call<'_>,
        req: ApproveRequest,
    ) -> Result<Value, KmsError> {
        let id = req
            .request_id
            .ok_or_else(|| KmsError::missing("requestId"))?;
        // Named in the audit record even when the approval is refused.
        call.quorum.get_mut().approval = Some(id.clone());
        self.authorize_account_action(call, APPROVE_ACTION)?;
        let row = self.inner.store.with_tx(|tx| {
            let mut row = db::get_approval(tx, &id)?.ok_or_else(|| {
                KmsError::not_found(format!("Approval request {id} does not exist"))
            })?;
            call.key_arn = row.resource.clone();
            if row.status == DONE {
                return Err(KmsError::invalid_state(format!(
                    "Approval request {id} was carried out already"
                )));
            }
            if row.expires <= self.now() {
                return Err(KmsError::invalid_state(format!(
                    "Approval request {id} expired at {}",
                    time(row.expires)
                )));
            }
            if row.requester == call.caller.arn {
                return Err(KmsError::new(
                    ErrorKind::AccessDenied,
                    format!(
                        "{} requested {id} and cannot approve it: approvals must come from \
                         other principals",
                        call.caller.arn
                    ),
                ));
            }
            if row.approvers.contains(&call.caller.arn) {
                return Err(KmsError::invalid_state(format!(
                    "{} approved {id} already",
                    call.caller.arn
                )));
            }
            row.approvers.push(call.caller.arn.clone());
            if row.approvers.len() >= row.required as usize {
                row.status = APPROVED.into();
            }
            db::put_approval(tx, &row)?;
            Ok(row)
        })?;
        Ok(json!({
            "RequestId": row.id,
            "Operation": row.operation,
            "Requester": row.requester,
            "Resource": row.resource,
            "Approvers": row.approvers,
            "ApprovalsRequired": row.required,
            "Status": row.status,
            "CreationDate": row.created,
            "ExpirationDate": row.expires,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_only_governable_operations() {
        let ops = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let hour = Duration::from_secs(3600);
        let p = QuorumPolicy::new(&ops(&["ScheduleKeyDeletion", "PutKeyPolicy"]), 2, hour).unwrap();
        assert!(p.governs("PutKeyPolicy") && !p.governs("DisableKey"));
        assert!(
            QuorumPolicy::new(&ops(&["Decrypt"]), 1, hour)
                .unwrap_err()
                .contains("Decrypt")
        );
        assert!(QuorumPolicy::new(&ops(&[]), 1, hour).is_err());
        assert!(QuorumPolicy::new(&ops(&["DisableKey"]), 0, hour).is_err());
        assert!(QuorumPolicy::new(&ops(&["DisableKey"]), 1, Duration::ZERO).is_err());
    }

    #[test]
    fn the_digest_binds_operation_and_parameters_not_their_spelling() {
        let d = |op: &str, body: &str| CallQuorum::for_request(op, body.as_bytes()).request;
        let a = d(
            "ScheduleKeyDeletion",
            r#"{"KeyId":"k","PendingWindowInDays":7}"#,
        );
        assert_eq!(
            a,
            d(
                "ScheduleKeyDeletion",
                r#"{ "PendingWindowInDays": 7, "KeyId": "k" }"#
            )
        );
        assert_ne!(
            a,
            d(
                "ScheduleKeyDeletion",
                r#"{"KeyId":"k","PendingWindowInDays":30}"#
            )
        );
        assert_ne!(
            a,
            d("DisableKey", r#"{"KeyId":"k","PendingWindowInDays":7}"#)
        );
    }
}
