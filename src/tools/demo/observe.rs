//! What the demo reads back from the gateway's data dir: the KMS audit log (JSON lines, parsed
//! tolerantly: unknown fields are ignored, unparsable lines skipped) and the stored object (meta
//! record and ciphertext blobs, located with the store's own path rules).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use serde_json::Value;

use crate::kms::KmsClientError;

/// A KMS answer as the report shows it: `ok` or the exception name.
pub(crate) fn kms_outcome(r: &Result<Value, KmsClientError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(KmsClientError::Kms { type_name, .. }) => type_name.clone(),
        Err(e) => e.to_string(),
    }
}

/// One KMS audit record, the fields the demo shows.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub(crate) struct KmsCall {
    pub(crate) event: String,
    pub(crate) principal: String,
    /// `kms-api`, `s3-gateway` or `internal`.
    pub(crate) source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key_arn: Option<String>,
    pub(crate) outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_code: Option<String>,
    pub(crate) request_id: String,
}

/// The audit log, read incrementally: [`AuditCursor::take_new`] returns the records appended
/// since the previous call, so each demo step sees exactly the KMS calls it caused.
pub(crate) struct AuditCursor {
    path: Option<PathBuf>,
    offset: u64,
}

impl AuditCursor {
    /// Starts at the current end of the log (`None`: no log to observe).
    pub(crate) fn new(path: Option<PathBuf>) -> AuditCursor {
        let offset = path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len());
        AuditCursor { path, offset }
    }

    pub(crate) fn take_new(&mut self) -> Vec<KmsCall> {
        let Some(path) = &self.path else {
            return Vec::new();
        };
        let Ok(data) = std::fs::read(path) else {
            return Vec::new();
        };
        let start = (self.offset as usize).min(data.len());
        // Only whole lines: a record being appended right now is read next time.
        let end = data[start..]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(start, |i| start + i + 1);
        self.offset = end as u64;
        data[start..end]
            .split(|&b| b == b'\n')
            .filter_map(|line| serde_json::from_slice::<Value>(line).ok())
            .filter_map(|v| parse_record(&v))
            .collect()
    }
}

fn parse_record(v: &Value) -> Option<KmsCall> {
    let s = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_string);
    let source = v.get("source");
    let source_field = |name: &str| {
        source
            .and_then(|s| s.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Some(KmsCall {
        event: s("event")?,
        principal: s("principal").unwrap_or_default(),
        source: source_field("kind").unwrap_or_default(),
        bucket: source_field("bucket"),
        key: source_field("key"),
        key_arn: s("key_arn"),
        outcome: s("outcome").unwrap_or_default(),
        error_code: s("error_code"),
        request_id: s("request_id").unwrap_or_default(),
    })
}

/// One stored ciphertext file.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct StoredFile {
    /// Relative to the data dir.
    pub(crate) path: String,
    pub(crate) size: u64,
}

/// The object as the gateway stored it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Stored {
    /// The meta record, relative to the data dir.
    pub(crate) meta_record: String,
    /// `sealing.mode` of the record: how the gateway sealed its object key.
    pub(crate) gateway_sealing: String,
    /// What the record holds to reopen the object key (never key material).
    pub(crate) sealing_fields: Vec<String>,
    pub(crate) files: Vec<StoredFile>,
    pub(crate) stored_size: u64,
    /// First bytes of the first blob, hex.
    pub(crate) first_bytes_hex: String,
    /// Whether any stored file (blob or record) contains a 32-byte run of the plaintext.
    pub(crate) contains_plaintext: bool,
}

/// Reads the meta record and blobs of `bucket/key` from the local store under `data_dir`.
pub(crate) fn stored_object(
    data_dir: &Path,
    bucket: &str,
    key: &str,
    plaintext: &[u8],
) -> Result<Stored, String> {
    let root = data_dir.join("objects");
    let meta_rel = crate::store::layout::meta(bucket, key).map_err(|e| e.to_string())?;
    let meta_path = root.join(meta_rel.as_ref());
    let record_bytes =
        std::fs::read(&meta_path).map_err(|e| format!("{}: {e}", meta_path.display()))?;
    let record: Value = serde_json::from_slice(&record_bytes)
        .map_err(|e| format!("{}: {e}", meta_path.display()))?;
    let generation = record
        .get("generation")
        .and_then(Value::as_str)
        .ok_or("meta record without generation")?;
    let sealing = record.get("sealing").cloned().unwrap_or(Value::Null);
    let mode = sealing
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let mut files = Vec::new();
    let mut first = Vec::new();
    let mut contains = contains_run(&record_bytes, plaintext);
    for part in record
        .get("parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // A small object's sealed bytes are in its record (docs/STORAGE.md "Inline objects").
        let (rel, data) = if let Some(inline) = part.get("inline").and_then(Value::as_str) {
            let data = B64
                .decode(inline)
                .map_err(|e| format!("{}: inline part: {e}", meta_path.display()))?;
            let rel = Path::new("objects").join(meta_rel.as_ref());
            (format!("{} (inline)", rel.display()), data)
        } else {
            let Some(blob) = part.get("blob").and_then(Value::as_str) else {
                continue;
            };
            let rel = Path::new("objects")
                .join("data")
                .join(bucket)
                .join(generation)
                .join(blob);
            let data = std::fs::read(data_dir.join(&rel))
                .map_err(|e| format!("{}: {e}", rel.display()))?;
            (rel.display().to_string(), data)
        };
        if first.is_empty() {
            first = data.iter().take(16).copied().collect();
        }
        contains |= contains_run(&data, plaintext);
        files.push(StoredFile {
            path: rel,
            size: data.len() as u64,
        });
    }
    Ok(Stored {
        meta_record: Path::new("objects")
            .join(meta_rel.as_ref())
            .display()
            .to_string(),
        gateway_sealing: mode,
        sealing_fields: sealing_fields(&sealing),
        stored_size: files.iter().map(|f| f.size).sum(),
        files,
        first_bytes_hex: hex::encode(first),
        contains_plaintext: contains,
    })
}

/// A readable list of what the sealing record keeps (sizes of wrapped values, public ids).
fn sealing_fields(sealing: &Value) -> Vec<String> {
    let Some(obj) = sealing.as_object() else {
        return Vec::new();
    };
    let b64_len = |v: &Value| v.as_str().and_then(|s| B64.decode(s).ok()).map(|b| b.len());
    let mut out = Vec::new();
    for (name, value) in obj {
        match name.as_str() {
            "mode" => {}
            "sealed" => {
                if let Some(n) = value.get("ciphertext").and_then(b64_len) {
                    out.push(format!("sealed object key ({n} bytes)"));
                }
            }
            "kms_blob" => {
                if let Some(n) = b64_len(value) {
                    out.push(format!("KMS ciphertext blob ({n} bytes)"));
                }
            }
            "context" => out.push(format!("encryption context {value}")),
            _ => out.push(match value {
                Value::String(s) => format!("{name} {s}"),
                other => format!("{name} {other}"),
            }),
        }
    }
    out
}

/// True when `haystack` contains the first 32 bytes of `plaintext` (or all of a shorter one).
pub(crate) fn contains_run(haystack: &[u8], plaintext: &[u8]) -> bool {
    let needle = &plaintext[..plaintext.len().min(32)];
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_cursor_reads_only_new_whole_lines_and_skips_junk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kms-audit.log");
        std::fs::write(&path, "{\"event\":\"Old\"}\n").unwrap();
        let mut cur = AuditCursor::new(Some(path.clone()));
        let line = r#"{"event":"GenerateDataKey","principal":"p","source":{"kind":"s3-gateway","bucket":"b","key":"k"},"outcome":"success","request_id":"r","chain":"x"}"#;
        std::fs::write(
            &path,
            format!("{{\"event\":\"Old\"}}\n{line}\nnot json\n{{\"event\":\"Half"),
        )
        .unwrap();
        let calls = cur.take_new();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].event, "GenerateDataKey");
        assert_eq!(calls[0].bucket.as_deref(), Some("b"));
        assert_eq!(calls[0].source, "s3-gateway");
        assert!(cur.take_new().is_empty());
    }

    #[test]
    fn plaintext_runs() {
        assert!(contains_run(b"xxhello worldxx", b"hello world"));
        assert!(!contains_run(b"xxhello", b"hello world"));
    }
}
