//! A `Kms` decorator that counts every call the gateway makes to its KMS (embedded or remote)
//! by operation, key and outcome, and raises the unusable-key alarm: a call refused because
//! the key is disabled (`DisabledException`) or pending deletion/import
//! (`KMSInvalidStateException`).
//!
//! The key label is the key ARN the KMS answered with when the call succeeded, otherwise the
//! key id the gateway asked for (the stored key ARN for Decrypt).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Metrics;
use crate::kms::client::{KeyDescription, KmsFuture};
use crate::kms::fleet::NodeHealth;
use crate::kms::{Caller, DataKey, Decrypted, Kms, KmsClientError, Source};

pub(crate) struct MeteredKms {
    inner: Arc<dyn Kms>,
    metrics: Arc<Metrics>,
}

impl MeteredKms {
    pub(crate) fn new(inner: Arc<dyn Kms>, metrics: Arc<Metrics>) -> MeteredKms {
        MeteredKms { inner, metrics }
    }

    /// `call`, counted when it completes: the key label is `answered_key` of a success, else
    /// `requested_key`.
    fn metered<'a, T: Send + 'a>(
        &'a self,
        operation: &'static str,
        requested_key: &'a str,
        call: KmsFuture<'a, T>,
        answered_key: impl FnOnce(&T) -> String + Send + 'a,
    ) -> KmsFuture<'a, T> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let result = call.await;
            self.metrics
                .kms_duration
                .with([operation])
                .observe(started.elapsed());
            self.record(operation, requested_key, &result, answered_key);
            result
        })
    }

    fn record<T>(
        &self,
        operation: &str,
        requested_key: &str,
        result: &Result<T, KmsClientError>,
        answered_key: impl FnOnce(&T) -> String,
    ) {
        match result {
            Ok(v) => self
                .metrics
                .kms_calls
                .with([operation, &answered_key(v), "success"])
                .inc(),
            Err(e) => {
                self.metrics
                    .kms_calls
                    .with([operation, requested_key, e.type_name()])
                    .inc();
                if let Some(state) = unusable_state(e) {
                    self.metrics
                        .kms_unusable_key_use
                        .with([requested_key, state])
                        .inc();
                }
            }
        }
    }
}

/// The key state behind a refusal to use a key, if that is what `e` is. AWS and sealgate both
/// answer `DisabledException` for a disabled key and `KMSInvalidStateException` with "pending
/// deletion" / "pending import" in the message for the other unusable states.
pub(crate) fn unusable_state(e: &KmsClientError) -> Option<&'static str> {
    let KmsClientError::Kms { type_name, message } = e else {
        return None;
    };
    match type_name.as_str() {
        "DisabledException" => Some("Disabled"),
        "KMSInvalidStateException" => {
            let m = message.to_ascii_lowercase();
            Some(if m.contains("pending deletion") {
                "PendingDeletion"
            } else if m.contains("pending import") {
                "PendingImport"
            } else {
                "InvalidState"
            })
        }
        _ => None,
    }
}

impl Kms for MeteredKms {
    fn generate_data_key<'a>(
        &'a self,
        key_id: &'a str,
        context: &'a BTreeMap<String, String>,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, DataKey> {
        let call = self
            .inner
            .generate_data_key(key_id, context, caller, source);
        self.metered("GenerateDataKey", key_id, call, |d| d.key_arn.clone())
    }

    fn decrypt<'a>(
        &'a self,
        ciphertext_blob: &'a [u8],
        context: &'a BTreeMap<String, String>,
        key_id: Option<&'a str>,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, Decrypted> {
        let call = self
            .inner
            .decrypt(ciphertext_blob, context, key_id, caller, source);
        let requested = key_id.unwrap_or("unknown");
        self.metered("Decrypt", requested, call, |d| d.key_arn.clone())
    }

    fn resolve_key_arn<'a>(
        &'a self,
        key_id_or_alias: &'a str,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, String> {
        let call = self.inner.resolve_key_arn(key_id_or_alias, caller, source);
        self.metered("ResolveKey", key_id_or_alias, call, String::clone)
    }

    fn describe<'a>(
        &'a self,
        key_id: &'a str,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, KeyDescription> {
        let call = self.inner.describe(key_id, caller, source);
        self.metered("DescribeKey", key_id, call, |d| d.key_arn.clone())
    }

    fn encrypt<'a>(
        &'a self,
        key_id: &'a str,
        plaintext: &'a [u8],
        context: &'a BTreeMap<String, String>,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, Vec<u8>> {
        let call = self
            .inner
            .encrypt(key_id, plaintext, context, caller, source);
        self.metered("Encrypt", key_id, call, |_| key_id.to_owned())
    }

    fn create_key_with_alias<'a>(
        &'a self,
        alias: &'a str,
        description: &'a str,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, String> {
        let call = self
            .inner
            .create_key_with_alias(alias, description, caller, source);
        self.metered("CreateKeyWithAlias", alias, call, String::clone)
    }

    fn nodes(&self) -> Vec<NodeHealth> {
        self.inner.nodes()
    }

    fn mark_object_lock<'a>(
        &'a self,
        key_arn: &'a str,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, ()> {
        self.inner.mark_object_lock(key_arn, caller, source)
    }

    fn locked_key_warnings(&self) -> Vec<(&'static str, u64)> {
        self.inner.locked_key_warnings()
    }

    fn audit_syncs(&self) -> Option<crate::kms::AuditSyncs> {
        self.inner.audit_syncs()
    }
}

/// Appends the embedded KMS's audit-log syncs (nothing when this process runs no KMS): their
/// count and seconds, whose ratio is the disk's sync latency every audited call waits for
/// (docs/SCALING.md "What to watch").
pub(super) fn render_audit_syncs(syncs: Option<crate::kms::AuditSyncs>, out: &mut String) {
    use std::fmt::Write as _;
    let Some(s) = syncs else {
        return;
    };
    let families = [
        (
            "sealgate_kms_audit_syncs_total",
            "Syncs of the KMS audit log that acknowledged calls waited for (one per commit group).",
            s.syncs.to_string(),
        ),
        (
            "sealgate_kms_audit_sync_seconds_total",
            "Seconds spent in those syncs; divided by the syncs, the audit disk's sync latency.",
            s.seconds.to_string(),
        ),
    ];
    for (name, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        let _ = writeln!(out, "{name} {value}");
    }
}

/// Appends `sealgate_kms_locked_key_deletions_total` (nothing when this process runs no KMS).
pub(super) fn render_locked_key_warnings(counts: &[(&'static str, u64)], out: &mut String) {
    use std::fmt::Write as _;
    if counts.is_empty() {
        return;
    }
    let name = "sealgate_kms_locked_key_deletions_total";
    let _ = writeln!(
        out,
        "# HELP {name} ScheduleKeyDeletion and DisableKey calls on a KMS key marked as protecting Object Lock-protected S3 versions (alarm on any increase)."
    );
    let _ = writeln!(out, "# TYPE {name} counter");
    for (op, n) in counts {
        let _ = writeln!(out, "{name}{{operation=\"{op}\"}} {n}");
    }
}

/// One per-node family: name, type, help, and the value it reads from a node's health.
type NodeFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&NodeHealth) -> u64,
);

/// Appends the per-node families of a remote KMS fleet to `out` (nothing for an embedded KMS).
pub(super) fn render_nodes(nodes: &[NodeHealth], out: &mut String) {
    use std::fmt::Write as _;
    if nodes.is_empty() {
        return;
    }
    let families: [NodeFamily; 4] = [
        (
            "sealgate_kms_node_up",
            "gauge",
            "1 while the remote KMS node answers, 0 while it is marked down after a connect error, timeout or 5xx.",
            |n| u64::from(n.up),
        ),
        (
            "sealgate_kms_node_requests_total",
            "counter",
            "KMS requests sent to the node, retries included.",
            |n| n.requests,
        ),
        (
            "sealgate_kms_node_failures_total",
            "counter",
            "Requests to the node that got no usable answer (connect, TLS, timeout, 5xx).",
            |n| n.failures,
        ),
        (
            "sealgate_kms_node_failovers_total",
            "counter",
            "Calls the node failed that another node then answered.",
            |n| n.failovers,
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for n in nodes {
            let endpoint = super::escape_label(&n.endpoint);
            let _ = writeln!(out, "{name}{{endpoint=\"{endpoint}\"}} {}", value(n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kms_err(t: &str, m: &str) -> KmsClientError {
        KmsClientError::Kms {
            type_name: t.into(),
            message: m.into(),
        }
    }

    #[test]
    fn unusable_states_from_error_kinds() {
        assert_eq!(
            unusable_state(&kms_err("DisabledException", "k is disabled.")),
            Some("Disabled")
        );
        assert_eq!(
            unusable_state(&kms_err(
                "KMSInvalidStateException",
                "k is pending deletion."
            )),
            Some("PendingDeletion")
        );
        assert_eq!(
            unusable_state(&kms_err("KMSInvalidStateException", "k is pending import.")),
            Some("PendingImport")
        );
        assert_eq!(unusable_state(&kms_err("NotFoundException", "x")), None);
        assert_eq!(
            unusable_state(&KmsClientError::Unavailable("down".into())),
            None
        );
    }
}
