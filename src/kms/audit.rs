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
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Serialize;

use super::audit_chain::{self, DigestBody, DigestSigner, Head};

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
}

/// A record with its chain fields first.
#[derive(Serialize)]
struct Chained<'a, T: Serialize> {
    seq: u64,
    prev: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

pub struct AuditLog {
    path: PathBuf,
    opts: AuditOptions,
    signer: Arc<dyn DigestSigner>,
    writer: Mutex<Writer>,
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

/// `(seq, hash)` of the last complete chained line of `path`, if it has one.
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
    let line = match complete.iter().rposition(|b| *b == b'\n') {
        Some(start) => &complete[start + 1..],
        None => complete,
    };
    #[derive(serde::Deserialize)]
    struct Seq {
        seq: u64,
    }
    Ok(serde_json::from_slice::<Seq>(line)
        .ok()
        .map(|s| (s.seq, audit_chain::line_hash(line))))
}

impl AuditLog {
    /// Opens (or creates) the log at `path`, continuing the chain from its last line (or the
    /// newest rotated file's). A pre-chain log is moved aside to `<name>.legacy-<time>` so the
    /// chained log starts clean.
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
        let mut last = last_chained_line(path)?;
        let current_len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if last.is_none() && current_len > 0 {
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
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        let head = open_head(&dir.join(audit_chain::HEAD_FILE_NAME))?;
        Ok(Self {
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
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one record as one line with a single `write` on an O_APPEND file, so concurrent
    /// writers never interleave within a line; then the signed head, and a digest or a
    /// rotation when due.
    pub fn append(&self, record: &AuditRecord) -> std::io::Result<()> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.write_chained(&mut w, record)?;
        w.since_digest += 1;
        if w.since_digest >= self.opts.digest_every {
            self.write_digest(&mut w)?;
        }
        if w.size >= self.opts.max_bytes {
            self.rotate(&mut w)?;
        }
        Ok(())
    }

    /// Seals the records since the last digest (at shutdown). A no-op when there are none.
    pub fn seal(&self) -> std::io::Result<()> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.write_digest(&mut w)
    }

    fn write_chained<T: Serialize>(&self, w: &mut Writer, body: &T) -> std::io::Result<()> {
        let seq = w.next_seq;
        let mut line = serde_json::to_vec(&Chained {
            seq,
            prev: &w.prev,
            body,
        })?;
        let hash = audit_chain::line_hash(&line);
        line.push(b'\n');
        w.file.write_all(&line)?;
        w.file.flush()?;
        w.size += line.len() as u64;
        w.next_seq = seq + 1;
        w.prev = hash;
        self.write_head(w, seq)
    }

    fn write_head(&self, w: &mut Writer, seq: u64) -> std::io::Result<()> {
        let head =
            Head::signed(seq, &w.prev, self.signer.as_ref()).map_err(std::io::Error::other)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            w.head.write_all_at(&head.encode(), 0)
        }
        #[cfg(not(unix))]
        {
            use std::io::{Seek, SeekFrom};
            w.head.seek(SeekFrom::Start(0))?;
            w.head.write_all(&head.encode())
        }
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
        self.write_chained(w, &body)?;
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

impl Drop for AuditLog {
    fn drop(&mut self) {
        if let Err(e) = self.seal() {
            tracing::warn!(error = %e, "could not write the final audit digest");
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
                source: Source::S3Gateway {
                    bucket: "b".into(),
                    key: Some("k".into()),
                },
                key_arn: None,
                encryption_context: None,
                outcome: "success",
                error_code: None,
                unusable_key_state: None,
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
