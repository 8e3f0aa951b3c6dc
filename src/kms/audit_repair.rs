//! Repair of a torn audit log tail left by a crash (docs/AUDIT.md, "Torn tail").
//!
//! Appends are all-or-nothing while the process lives ([`super::audit::AuditLog`] cuts a
//! failed append back), but a crash or power loss in the middle of a `write` can still leave
//! part of a line at the end of `kms-audit.log`. Left there, the next record would be glued
//! onto it and `audit verify` would report TAMPERED forever. So on start the KMS cuts such a
//! tail off and chains an `AuditTornTailRepaired` record naming the bytes removed (count,
//! offset, SHA-256), which `audit verify` reports.
//!
//! The repair must never hide tampering, so it only touches the *last* line of the current
//! file, only when that line is not a complete record (no trailing newline, or not a chained
//! record), and only when the signed head does not name a record beyond what is kept: a
//! record the KMS acknowledged (the head is rewritten after every record) is never removed.
//! (After a power loss the head on disk may be older than that record, docs/AUDIT.md "When the
//! head is durable", but the record was synced whole before it was acknowledged, so it is not
//! a torn line.) Everything else is left for `audit verify` to report.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::audit_chain::{self, DigestSigner, HEAD_FILE_NAME, Head, REPAIR_EVENT, RepairBody};

/// The bytes cut off the end of a log file.
#[derive(Debug)]
pub(crate) struct TornTail {
    pub(crate) file: PathBuf,
    /// The file's length after the cut (where the torn line started).
    pub(crate) offset: u64,
    pub(crate) removed: Vec<u8>,
}

impl TornTail {
    pub(crate) fn body(&self, time: String, epoch: f64) -> RepairBody {
        RepairBody {
            time,
            epoch,
            event: REPAIR_EVENT.to_string(),
            file: self
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            offset: self.offset,
            removed_bytes: self.removed.len() as u64,
            removed_sha256: hex::encode(Sha256::digest(&self.removed)),
        }
    }
}

/// Where the torn last line of `data` starts, if its last line is not a complete record.
fn torn_start(data: &[u8]) -> Option<usize> {
    if data.is_empty() {
        return None;
    }
    if data.last() != Some(&b'\n') {
        return Some(data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1));
    }
    let body = &data[..data.len() - 1];
    let start = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    (audit_chain::chain_fields(&body[start..]).is_none()).then_some(start)
}

/// `(seq, hash)` of the last line of `data` (which ends with a complete line or is empty).
fn last_record(data: &[u8]) -> Option<(u64, String)> {
    let body = data.strip_suffix(b"\n")?;
    let start = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let line = &body[start..];
    audit_chain::chain_fields(line).map(|(seq, _)| (seq, audit_chain::line_hash(line)))
}

/// Whether the signed head allows cutting back to a log whose last record is `last`: there is
/// no head, or it names `last` itself or an earlier record. A head that does not verify, or
/// names a record that would not be kept, forbids the repair.
fn head_allows(dir: &Path, signer: &dyn DigestSigner, last: Option<&(u64, String)>) -> bool {
    let bytes = std::fs::read(dir.join(HEAD_FILE_NAME)).unwrap_or_default();
    if bytes.is_empty() {
        // No head yet (or only the empty file created with the log): nothing acknowledged.
        return last.is_none();
    }
    let Some(head) = Head::decode(&bytes) else {
        return false;
    };
    let msg = Head::message(head.seq, &head.hash, &head.signing_key);
    if head.signing_key != signer.key_id()
        || !audit_chain::check_signature(signer, &msg, &head.signature)
    {
        return false;
    }
    match last {
        Some((seq, hash)) if head.seq == *seq => head.hash == *hash,
        Some((seq, _)) => head.seq < *seq,
        None => false,
    }
}

/// Cuts a torn last line off `<dir>/<base>` when that is safe (see the module docs) and returns
/// what was removed.
pub(crate) fn cut_torn_tail(
    dir: &Path,
    base: &str,
    signer: &dyn DigestSigner,
) -> std::io::Result<Option<TornTail>> {
    let path = dir.join(base);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(start) = torn_start(&data) else {
        return Ok(None);
    };
    let kept = &data[..start];
    let mut last = last_record(kept);
    if kept.is_empty() {
        let files = audit_chain::log_files(dir, base)?;
        if let Some(newest) = files.iter().rev().find(|p| **p != path) {
            last = last_record(&std::fs::read(newest)?);
        }
    }
    if !head_allows(dir, signer, last.as_ref()) {
        tracing::error!(file = %path.display(),
            "audit log ends with an incomplete line the signed head does not allow removing; \
             left for `sealgate audit verify` to report");
        return Ok(None);
    }
    let file = std::fs::OpenOptions::new().write(true).open(&path)?;
    file.set_len(start as u64)?;
    file.sync_all()?;
    drop(file);
    // The cut is durable before the repair record is chained after it.
    std::fs::File::open(dir)?.sync_all().ok();
    Ok(Some(TornTail {
        file: path,
        offset: start as u64,
        removed: data[start..].to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::audit::{self, AuditLog, AuditOptions, AuditRecord, Source};
    use super::super::audit_chain::SoftwareSigner;
    use super::super::rootkey::RootKey;
    use super::*;

    fn record(i: u32) -> AuditRecord {
        AuditRecord {
            time: audit::rfc3339(std::time::UNIX_EPOCH),
            epoch: 0.0,
            request_id: format!("r{i}"),
            event: "Encrypt".into(),
            principal: "arn:aws:iam::000000000000:root".into(),
            source_ip: None,
            source: Source::KmsApi,
            key_arn: None,
            encryption_context: None,
            outcome: "success",
            error_code: None,
            unusable_key_state: None,
            approval_request: None,
            warning: None,
        }
    }

    /// A log with three records (no digest: the log is never dropped cleanly).
    fn log_with_records(dir: &Path, signer: &Arc<SoftwareSigner>) -> PathBuf {
        let path = dir.join(audit::DEFAULT_FILE_NAME);
        let log = AuditLog::open(&path, AuditOptions::default(), signer.clone()).unwrap();
        for i in 0..3 {
            log.append(&record(i)).unwrap();
        }
        std::mem::forget(log);
        path
    }

    #[test]
    fn a_torn_tail_is_cut_and_recorded_but_an_acknowledged_record_is_not() {
        let signer = Arc::new(SoftwareSigner::from_root(&RootKey::from_bytes([3; 32])));
        let dir = tempfile::tempdir().unwrap();
        let path = log_with_records(dir.path(), &signer);
        let mut data = std::fs::read(&path).unwrap();
        let good_len = data.len();
        let torn = br#"{"seq":3,"prev":"ab"#;
        data.extend_from_slice(torn);
        std::fs::write(&path, &data).unwrap();
        let log = AuditLog::open(&path, AuditOptions::default(), signer.clone()).unwrap();
        log.append(&record(9)).unwrap();
        drop(log);
        let report =
            audit_chain::verify(dir.path(), audit::DEFAULT_FILE_NAME, signer.as_ref(), None)
                .unwrap();
        assert_eq!(report.repairs.len(), 1, "{report:?}");
        assert_eq!(report.repairs[0].0, 3);
        assert!(
            report.repairs[0].1.contains(&format!(
                "{} bytes cut from the end of kms-audit.log at offset {good_len}",
                torn.len()
            )),
            "{report:?}"
        );

        // The last record the head names, cut short: left alone, verify reports it.
        let dir = tempfile::tempdir().unwrap();
        let path = log_with_records(dir.path(), &signer);
        let data = std::fs::read(&path).unwrap();
        std::fs::write(&path, &data[..data.len() - 10]).unwrap();
        assert!(
            cut_torn_tail(dir.path(), audit::DEFAULT_FILE_NAME, signer.as_ref())
                .unwrap()
                .is_none()
        );
        assert_eq!(std::fs::read(&path).unwrap(), &data[..data.len() - 10]);
        let finding =
            audit_chain::verify(dir.path(), audit::DEFAULT_FILE_NAME, signer.as_ref(), None)
                .unwrap_err();
        assert!(finding.reason.contains("incomplete last line"), "{finding}");
    }

    #[test]
    fn finds_only_an_incomplete_last_line() {
        let rec = br#"{"seq":0,"prev":"0000000000000000000000000000000000000000000000000000000000000000","event":"X"}"#;
        let mut complete = rec.to_vec();
        complete.push(b'\n');
        assert_eq!(torn_start(&complete), None);
        assert_eq!(torn_start(b""), None);
        let mut torn = complete.clone();
        torn.extend_from_slice(br#"{"seq":1,"pr"#);
        assert_eq!(torn_start(&torn), Some(complete.len()));
        let mut garbage = complete.clone();
        garbage.extend_from_slice(b"\0\0\0\n");
        assert_eq!(torn_start(&garbage), Some(complete.len()));
        assert_eq!(torn_start(br#"{"seq":0,"#), Some(0));
    }
}
