//! Append-only audit log: one JSON object per line in `<data-dir>/kms-audit.log`, one line per
//! KMS API call and per in-process use by the gateway. Records carry who, what, which key, the
//! encryption context (keys and values, as CloudTrail does — contexts are not secret) and the
//! outcome; never plaintext or key material.
//!
//! Use of a key that is Disabled, PendingDeletion or PendingImport is flagged with
//! `"unusable_key_state"` so an operator can alarm on attempts to use retired keys.
//!
//! All writing goes through [`AuditLog::append`], which hash-chains, signs and rotates (see
//! [`audit_chain`] and docs/AUDIT.md).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Serialize;

use super::audit_chain::{self, DigestBody, DigestSigner, Head};
use super::audit_repair::{self, TornTail};

pub const DEFAULT_FILE_NAME: &str = "kms-audit.log";

/// Who is using the KMS: a client on the KMS API, the S3 gateway on behalf of a request, or
/// the gateway service for itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    KmsApi,
    /// The gateway service's own use of its service keys (the SSE-S3 master ring): in process,
    /// or on the KMS API signed by a principal listed as the service identity. Only this
    /// source may use `alias/sealgate/...` keys or use AWS-managed keys without a request.
    Service {
        /// What the key was used for (`system/sse-s3/v1`); absent on the KMS API.
        #[serde(skip_serializing_if = "Option::is_none")]
        resource: Option<String>,
    },
    S3Gateway {
        bucket: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// The gateway that forwarded the request to a remote KMS (its principal ARN), which
        /// named the S3 caller recorded as `principal`; absent for the embedded gateway.
        #[serde(skip_serializing_if = "Option::is_none")]
        via: Option<String>,
    },
    /// Background work (rotation, deletion, expiry, service-key conversion).
    Internal,
}

impl Source {
    /// The gateway service acting for itself (not for an S3 request, not a KMS API client).
    pub fn is_service(&self) -> bool {
        matches!(self, Source::Service { .. })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// RFC 3339 UTC.
    pub time: String,
    pub epoch: f64,
    pub request_id: String,
    /// The KMS operation name, or a background event ("RotateKey", "DeleteKey", ...).
    pub event: String,
    pub principal: String,
    /// The caller's address (`aws:SourceIp`): a direct caller's, or the S3 client's as the
    /// gateway named in `source.via` forwarded it. Absent for background work.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<std::net::IpAddr>,
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context: Option<BTreeMap<String, String>>,
    /// "success" or "failure".
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Set when the call tried to use a key in a state that forbids use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unusable_key_state: Option<String>,
    /// The two-person-rule request the call started, waited on, approved or carried out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_request: Option<String>,
    /// Something the operator must know about a call that succeeded as asked (a key of
    /// Object Lock-protected versions disabled or scheduled for deletion).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// When digests are written and when the file rotates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditOptions {
    /// A signed digest record after this many records.
    pub digest_every: u64,
    /// Rotate `kms-audit.log` to `kms-audit.log.1` (shifting older files up) once it is at
    /// least this many bytes.
    pub max_bytes: u64,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            digest_every: 100,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

impl AuditOptions {
    /// Defaults overridden by `SEALGATE_AUDIT_DIGEST_EVERY` / `SEALGATE_AUDIT_MAX_BYTES`.
    pub fn from_env() -> Self {
        let d = Self::default();
        let num = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
        };
        Self {
            digest_every: num("SEALGATE_AUDIT_DIGEST_EVERY").unwrap_or(d.digest_every),
            max_bytes: num("SEALGATE_AUDIT_MAX_BYTES").unwrap_or(d.max_bytes),
        }
    }
}

/// The chain state a new line continues from.
struct Writer {
    file: File,
    head: File,
    size: u64,
    next_seq: u64,
    prev: String,
    /// Records (not digests) since the last digest, and the first of them.
    since_digest: u64,
    first_undigested: u64,
    /// Serialized records that could not be written yet (start-up at a full disk), oldest
    /// first. They are chained, in order, before any later record.
    pending: Vec<Vec<u8>>,
}

/// One line: the chain fields first, then the body's own fields (`body` is a serialized
/// JSON object).
fn chained_line(seq: u64, prev: &str, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let fields = body
        .strip_prefix(b"{")
        .filter(|rest| rest.ends_with(b"}"))
        .ok_or_else(|| std::io::Error::other("audit record is not a JSON object"))?;
    let mut line = format!("{{\"seq\":{seq},\"prev\":\"{prev}\"").into_bytes();
    if fields != b"}" {
        line.push(b',');
    }
    line.extend_from_slice(fields);
    Ok(line)
}

pub struct AuditLog {
    path: PathBuf,
    opts: AuditOptions,
    signer: Arc<dyn DigestSigner>,
    writer: Mutex<Writer>,
    /// While set, a record that cannot be written is kept in memory and written later instead
    /// of failing the call (start-up at a full disk, docs/AUDIT.md).
    defer_when_full: AtomicBool,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish()
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

fn open_head(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true).write(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// `(seq, hash)` of the last complete chained line of `path`, if it has one. Lines after it
/// that are not chained records (tampering the repair refused to touch) are skipped: the chain
/// continues from the last record and `audit verify` reports them.
fn last_chained_line(path: &Path) -> std::io::Result<Option<(u64, String)>> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let complete = match data.iter().rposition(|b| *b == b'\n') {
        Some(end) => &data[..end],
        None => return Ok(None),
    };
    Ok(complete
        .split(|b| *b == b'\n')
        .rev()
        .find_map(|line| audit_chain::chain_fields(line).map(|(seq, _)| (seq, line)))
        .map(|(seq, line)| (seq, audit_chain::line_hash(line))))
}

/// Ends `path` with a newline if it does not already, so that a torn line the repair refused
/// to remove stays on its own line (as evidence) and the next record is not glued to it.
fn end_with_newline(path: &Path) -> std::io::Result<()> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if data.is_empty() || data.ends_with(b"\n") {
        return Ok(());
    }
    let mut f = open_append(path)?;
    f.write_all(b"\n")?;
    f.sync_data()
}

impl AuditLog {
    /// Opens (or creates) the log at `path`, continuing the chain from its last line (or the
    /// newest rotated file's). A torn last line left by a crash is cut off and the repair
    /// recorded ([`audit_repair`]). A pre-chain log is moved aside to `<name>.legacy-<time>`
    /// so the chained log starts clean.
    pub(crate) fn open(
        path: &Path,
        opts: AuditOptions,
        signer: Arc<dyn DigestSigner>,
    ) -> std::io::Result<Self> {
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let base = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(DEFAULT_FILE_NAME)
            .to_string();
        let torn = audit_repair::cut_torn_tail(&dir, &base, signer.as_ref())?;
        let mut last = last_chained_line(path)?;
        let current_len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        // Builds before chaining wrote no head file; with a head, a log without records is
        // damage for `audit verify` to report, not a legacy log to move out of its sight.
        let head_exists = dir.join(audit_chain::HEAD_FILE_NAME).exists();
        if last.is_none() && current_len > 0 && !head_exists {
            let stamp = SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            std::fs::rename(path, dir.join(format!("{base}.legacy-{stamp}")))?;
        }
        if last.is_none() {
            let files = audit_chain::log_files(&dir, &base)?;
            if let Some(newest) = files.iter().rev().find(|p| p.as_path() != path) {
                last = last_chained_line(newest)?;
            }
        }
        let (next_seq, prev) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (0, audit_chain::GENESIS.to_string()),
        };
        end_with_newline(path)?;
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        let head = open_head(&dir.join(audit_chain::HEAD_FILE_NAME))?;
        let log = Self {
            path: path.to_path_buf(),
            opts,
            signer,
            writer: Mutex::new(Writer {
                file,
                head,
                size,
                next_seq,
                prev,
                since_digest: 0,
                first_undigested: next_seq,
                pending: Vec::new(),
            }),
            defer_when_full: AtomicBool::new(false),
        };
        if let Some(t) = torn {
            log.record_repair(&t)?;
        }
        Ok(log)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// While `on`, records that cannot be written (no space, I/O error) are kept in memory and
    /// written, in order, as soon as a write succeeds ([`AuditLog::flush_pending`]), instead of
    /// failing. Used only while the gateway starts, so it can start on a full disk.
    pub(crate) fn defer_when_full(&self, on: bool) {
        self.defer_when_full.store(on, Ordering::SeqCst);
    }

    /// How many records wait for space.
    pub(crate) fn pending(&self) -> usize {
        self.lock().pending.len()
    }

    /// Writes the deferred records, if any.
    pub(crate) fn flush_pending(&self) -> std::io::Result<()> {
        let mut w = self.lock();
        self.write_pending(&mut w)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes one record as one line, all or nothing (see [`AuditLog::write_chained`]), after
    /// any deferred ones; then a digest or a rotation when due. An error means the record is
    /// not in the log (unless deferral is on, when it is kept to be written later).
    pub fn append(&self, record: &AuditRecord) -> std::io::Result<()> {
        let body = serde_json::to_vec(record)?;
        let mut w = self.lock();
        let written = self
            .write_pending(&mut w)
            .and_then(|()| self.write_record(&mut w, &body));
        match written {
            Ok(()) => Ok(()),
            Err(e) if self.defer_when_full.load(Ordering::SeqCst) => {
                tracing::warn!(error = %e, event = %record.event,
                    "audit record deferred until it can be written");
                w.pending.push(body);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Seals the records since the last digest (at shutdown), after writing deferred ones. A
    /// no-op when there are none.
    pub fn seal(&self) -> std::io::Result<()> {
        let mut w = self.lock();
        self.write_pending(&mut w)?;
        self.write_digest(&mut w)
    }

    fn write_pending(&self, w: &mut Writer) -> std::io::Result<()> {
        while !w.pending.is_empty() {
            let body = w.pending[0].clone();
            self.write_record(w, &body)?;
            w.pending.remove(0);
        }
        Ok(())
    }

    /// One record, then the digest and rotation when due. Once the record is in the log, a
    /// failed digest or rotation is only logged: both are retried after the next record.
    fn write_record(&self, w: &mut Writer, body: &[u8]) -> std::io::Result<()> {
        self.write_chained(w, body)?;
        w.since_digest += 1;
        if w.since_digest >= self.opts.digest_every
            && let Err(e) = self.write_digest(w)
        {
            tracing::warn!(error = %e, "audit digest deferred");
        }
        if w.size >= self.opts.max_bytes
            && let Err(e) = self.rotate(w)
        {
            tracing::warn!(error = %e, "audit log rotation deferred");
        }
        Ok(())
    }

    /// Appends the line for `body` and fsyncs it, then rewrites the head. All or nothing: on
    /// any failure (no space, I/O error) the file is cut back to its length before the append
    /// and the previous head restored, so a full disk never leaves a partial line for the next
    /// record to be glued onto.
    fn write_chained(&self, w: &mut Writer, body: &[u8]) -> std::io::Result<()> {
        let seq = w.next_seq;
        let mut line = chained_line(seq, &w.prev, body)?;
        let hash = audit_chain::line_hash(&line);
        line.push(b'\n');
        let head = Head::signed(seq, &hash, self.signer.as_ref())
            .map_err(std::io::Error::other)?
            .encode();
        let written = w
            .file
            .write_all(&line)
            .and_then(|()| w.file.sync_data())
            .and_then(|()| write_head(&w.head, &head));
        if let Err(e) = written {
            self.undo_append(w);
            return Err(e);
        }
        w.size += line.len() as u64;
        w.next_seq = seq + 1;
        w.prev = hash;
        Ok(())
    }

    /// Cuts the log back to `w.size` and rewrites the head for the last line it keeps.
    fn undo_append(&self, w: &mut Writer) {
        if let Err(e) = w.file.set_len(w.size).and_then(|()| w.file.sync_data()) {
            tracing::error!(error = %e, "could not cut a failed audit append back; \
                the next start repairs the torn tail");
        }
        match w.next_seq.checked_sub(1) {
            Some(last) => {
                if let Ok(head) = Head::signed(last, &w.prev, self.signer.as_ref()) {
                    let _ = write_head(&w.head, &head.encode());
                }
            }
            // No record yet: no head either (a partly written one would read as forged).
            None => {
                let _ = w.head.set_len(0);
            }
        }
    }

    /// Chains an [`audit_chain::RepairBody`] naming the bytes a torn tail held.
    fn record_repair(&self, t: &TornTail) -> std::io::Result<()> {
        let now = SystemTime::now();
        let body = serde_json::to_vec(&t.body(rfc3339(now), super::clock::epoch_secs(now)))?;
        tracing::warn!(file = %t.file.display(), bytes = t.removed.len(),
            "audit log: removed a torn last line left by a crash");
        let mut w = self.lock();
        if let Err(e) = self.write_record(&mut w, &body) {
            // No space even after the cut: the record waits like start-up records do.
            tracing::warn!(error = %e, "audit repair record deferred until it can be written");
            w.pending.push(body);
        }
        Ok(())
    }

    fn write_digest(&self, w: &mut Writer) -> std::io::Result<()> {
        if w.since_digest == 0 {
            return Ok(());
        }
        let now = SystemTime::now();
        let mut body = DigestBody {
            time: rfc3339(now),
            epoch: super::clock::epoch_secs(now),
            event: audit_chain::DIGEST_EVENT.to_string(),
            first_seq: w.first_undigested,
            last_seq: w.next_seq - 1,
            records: w.since_digest,
            signing_key: self.signer.key_id(),
            signature: String::new(),
        };
        let sig = self
            .signer
            .sign(&body.message(w.next_seq, &w.prev))
            .map_err(std::io::Error::other)?;
        body.signature = hex::encode(sig);
        self.write_chained(w, &serde_json::to_vec(&body)?)?;
        w.since_digest = 0;
        w.first_undigested = w.next_seq;
        Ok(())
    }

    /// Seals the current file with a digest, then shifts `log.N` → `log.N+1`, …, `log` →
    /// `log.1` and starts a new file. The chain continues: the new file's first `prev` is the
    /// hash of the old file's last line.
    fn rotate(&self, w: &mut Writer) -> std::io::Result<()> {
        self.write_digest(w)?;
        w.file.sync_data()?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let base = self
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(DEFAULT_FILE_NAME);
        let mut n = 1;
        while dir.join(format!("{base}.{n}")).exists() {
            n += 1;
        }
        for i in (1..n).rev() {
            std::fs::rename(
                dir.join(format!("{base}.{i}")),
                dir.join(format!("{base}.{}", i + 1)),
            )?;
        }
        std::fs::rename(&self.path, dir.join(format!("{base}.1")))?;
        w.file = open_append(&self.path)?;
        w.size = 0;
        Ok(())
    }
}

/// Rewrites the fixed-size head file in place with one positioned write, and syncs it.
fn write_head(head: &File, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    head.write_all_at(bytes, 0)?;
    head.sync_data()
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        if let Err(e) = self.seal() {
            tracing::warn!(error = %e, "could not write the final audit digest");
        }
        // Never drop a record silently: what could not be written goes to the service log.
        for body in &self.lock().pending {
            tracing::error!(record = %String::from_utf8_lossy(body),
                "audit record could not be written before shutdown (no space)");
        }
    }
}

pub fn rfc3339(t: std::time::SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let root = super::super::rootkey::RootKey::from_bytes([9; 32]);
        let signer = Arc::new(audit_chain::SoftwareSigner::from_root(&root));
        let log = AuditLog::open(
            &dir.path().join(DEFAULT_FILE_NAME),
            AuditOptions::default(),
            signer.clone(),
        )
        .unwrap();
        for i in 0..2 {
            log.append(&AuditRecord {
                time: rfc3339(std::time::UNIX_EPOCH),
                epoch: 0.0,
                request_id: format!("r{i}"),
                event: "Encrypt".into(),
                principal: "arn:aws:iam::000000000000:root".into(),
                source_ip: None,
                source: Source::S3Gateway {
                    bucket: "b".into(),
                    key: Some("k".into()),
                    via: None,
                },
                key_arn: None,
                encryption_context: None,
                outcome: "success",
                error_code: None,
                unusable_key_state: None,
                approval_request: None,
                warning: None,
            })
            .unwrap();
        }
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["request_id"], "r1");
        assert_eq!(lines[0]["source"]["kind"], "s3-gateway");
        assert_eq!(lines[0]["time"], "1970-01-01T00:00:00Z");
        assert_eq!(lines[0]["seq"], 0);
        assert_eq!(
            lines[1]["prev"],
            audit_chain::line_hash(text.lines().next().unwrap().as_bytes())
        );
        let report =
            audit_chain::verify(dir.path(), DEFAULT_FILE_NAME, signer.as_ref(), None).unwrap();
        assert_eq!(report.records, 2);
    }
}
