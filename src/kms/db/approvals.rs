//! Approval requests of the two-person rule (see `kms/quorum.rs`), one row each.

use super::{DbResult, Row, Tx, Value, query_opt, upsert};

/// One approval request. `status` is PENDING, APPROVED or DONE (carried out).
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRow {
    pub id: String,
    pub operation: String,
    pub requester: String,
    /// SHA-256 of the operation and its parameters: the call this request is for.
    pub digest: String,
    pub resource: Option<String>,
    pub created: f64,
    pub expires: f64,
    pub required: u32,
    pub approvers: Vec<String>,
    pub status: String,
}

const COLUMNS: &str =
    "id, operation, requester, digest, resource, created, expires, required, approvers, status";

fn from_row(r: &Row) -> DbResult<ApprovalRow> {
    Ok(ApprovalRow {
        id: r.text(0)?,
        operation: r.text(1)?,
        requester: r.text(2)?,
        digest: r.text(3)?,
        resource: r.opt_text(4)?,
        created: r.real(5)?,
        expires: r.real(6)?,
        required: r.u32(7)?,
        approvers: serde_json::from_str(&r.text(8)?).unwrap_or_default(),
        status: r.text(9)?,
    })
}

pub fn get_approval(c: &dyn Tx, id: &str) -> DbResult<Option<ApprovalRow>> {
    query_opt(
        c,
        &format!("SELECT {COLUMNS} FROM approval_requests WHERE id = $1"),
        vals![id],
        from_row,
    )
}

/// The newest request of `requester` for exactly the call `digest`, neither carried out
/// (`done` is that status) nor expired at `now`.
pub fn open_approval(
    c: &dyn Tx,
    requester: &str,
    digest: &str,
    done: &str,
    now: f64,
) -> DbResult<Option<ApprovalRow>> {
    query_opt(
        c,
        &format!(
            "SELECT {COLUMNS} FROM approval_requests WHERE requester = $1 AND digest = $2 \
             AND status != $3 AND expires > $4 ORDER BY created DESC LIMIT 1"
        ),
        vals![requester, digest, done, now],
        from_row,
    )
}

pub fn put_approval(c: &dyn Tx, a: &ApprovalRow) -> DbResult<()> {
    let approvers = serde_json::to_string(&a.approvers).unwrap_or_else(|_| "[]".into());
    c.execute(
        &upsert("approval_requests", COLUMNS, &["id"]),
        vals![
            &a.id,
            &a.operation,
            &a.requester,
            &a.digest,
            &a.resource,
            a.created,
            a.expires,
            a.required,
            &approvers,
            &a.status
        ],
    )?;
    Ok(())
}
