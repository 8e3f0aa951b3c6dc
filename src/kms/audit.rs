//! Append-only audit log: one JSON object per line in `<data-dir>/kms-audit.log`, one line per
//! KMS API call and per in-process use by the gateway. Records carry who, what, which key, the
//! encryption context (keys and values, as CloudTrail does — contexts are not secret) and the
//! outcome; never plaintext or key material.
//!
//! Use of a key that is Disabled, PendingDeletion or PendingImport is flagged with
//! `"unusable_key_state"` so an operator can alarm on attempts to use retired keys.
//!
//! All writing goes through [`AuditLog::append`], the one place to add hash chaining later.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

pub const DEFAULT_FILE_NAME: &str = "kms-audit.log";

/// Who is using the KMS: a client on the KMS API, or the S3 gateway on behalf of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    KmsApi,
    S3Gateway {
        bucket: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// Background work (rotation, deletion, expiry).
    Internal,
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

#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditLog {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(opts.open(path)?),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one record as one line with a single `write` on an O_APPEND file, so concurrent
    /// writers never interleave within a line.
    pub fn append(&self, record: &AuditRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&line)?;
        file.flush()
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
        let log = AuditLog::open(&dir.path().join(DEFAULT_FILE_NAME)).unwrap();
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
    }
}
