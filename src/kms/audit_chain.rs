//! Tamper evidence for the KMS audit log (docs/AUDIT.md).
//!
//! Every line carries `seq` (0, 1, 2, … with no gaps, across rotated files) and `prev`, the
//! lower-case hex SHA-256 of the exact bytes of the previous line (without its `\n`; the first
//! line's `prev` is 64 zeros). Editing, deleting, inserting or reordering a line therefore breaks
//! either the sequence or the hash chain at that point.
//!
//! A chain alone can be recomputed by whoever edits the file, so every N records (and at
//! shutdown and before rotation) the writer appends a *digest record* whose HMAC-SHA256
//! signature covers its `seq` and `prev` — and through `prev` the whole chain before it — under
//! a key only the KMS holds (derived from the root key). The head file `kms-audit.head` holds
//! the signed `(seq, hash)` of the newest line, so cutting records off the end (truncation) is
//! detected too.

use std::fs;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::rootkey::RootKey;

pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
pub(crate) const DIGEST_EVENT: &str = "AuditDigest";
/// The event of a torn-tail repair record ([`super::audit_repair`]).
pub(crate) const REPAIR_EVENT: &str = "AuditTornTailRepaired";
pub(crate) const HEAD_FILE_NAME: &str = "kms-audit.head";
/// The `signing_key` of digests signed with the root-derived HMAC key.
pub(crate) const ROOT_DERIVED_KEY_ID: &str = "root-hkdf:sealgate/audit-digest/v1";
/// The fixed size the head file is padded to, so it can be rewritten in place with one write.
pub(crate) const HEAD_LEN: usize = 384;

type HmacSha256 = Hmac<Sha256>;

/// Hex SHA-256 of one line (without its trailing newline).
pub(crate) fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// Something that signs digest records: the root-derived HMAC key, or a key in an HSM.
pub(crate) trait DigestSigner: Send + Sync {
    /// Names the key in each digest so a verifier knows which key to check with.
    fn key_id(&self) -> String;
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, String>;
}

/// HMAC-SHA256 under a key derived from the KMS root key (HKDF, info = the key id).
pub(crate) struct SoftwareSigner {
    key: Zeroizing<[u8; 32]>,
}

impl SoftwareSigner {
    pub(crate) fn from_root(root: &RootKey) -> Self {
        Self {
            key: root.derive(ROOT_DERIVED_KEY_ID.as_bytes()),
        }
    }
}

impl DigestSigner for SoftwareSigner {
    fn key_id(&self) -> String {
        ROOT_DERIVED_KEY_ID.to_string()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, String> {
        let mut mac = HmacSha256::new_from_slice(self.key.as_ref()).map_err(|e| e.to_string())?;
        mac.update(msg);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

/// Constant-time check of a hex signature against what `signer` computes for `msg`.
pub(crate) fn check_signature(signer: &dyn DigestSigner, msg: &[u8], sig_hex: &str) -> bool {
    let Ok(given) = hex::decode(sig_hex) else {
        return false;
    };
    let Ok(expected) = signer.sign(msg) else {
        return false;
    };
    subtle::ConstantTimeEq::ct_eq(given.as_slice(), expected.as_slice()).into()
}

/// The fields of a digest record after `seq`/`prev`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DigestBody {
    pub(crate) time: String,
    pub(crate) epoch: f64,
    pub(crate) event: String,
    /// The first and last record this digest seals since the previous digest.
    pub(crate) first_seq: u64,
    pub(crate) last_seq: u64,
    pub(crate) records: u64,
    pub(crate) signing_key: String,
    pub(crate) signature: String,
}

impl DigestBody {
    /// What is signed: everything in the record but the signature and `epoch` (a float does not
    /// survive a JSON round trip bit-exactly; `time` says the same), in a fixed layout.
    pub(crate) fn message(&self, seq: u64, prev: &str) -> Vec<u8> {
        format!(
            "sealgate-audit-digest-v1\n{seq}\n{prev}\n{}\n{}\n{}\n{}\n{}",
            self.time, self.first_seq, self.last_seq, self.records, self.signing_key
        )
        .into_bytes()
    }
}

/// The audit record of a repair.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RepairBody {
    pub(crate) time: String,
    pub(crate) epoch: f64,
    pub(crate) event: String,
    /// The log file's name (within the log directory).
    pub(crate) file: String,
    pub(crate) offset: u64,
    pub(crate) removed_bytes: u64,
    /// Lower-case hex SHA-256 of the removed bytes.
    pub(crate) removed_sha256: String,
}

/// The signed pointer to the newest line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Head {
    pub(crate) seq: u64,
    pub(crate) hash: String,
    pub(crate) signing_key: String,
    pub(crate) signature: String,
}

impl Head {
    pub(crate) fn message(seq: u64, hash: &str, key_id: &str) -> Vec<u8> {
        format!("sealgate-audit-head-v1\n{seq}\n{hash}\n{key_id}").into_bytes()
    }

    pub(crate) fn signed(seq: u64, hash: &str, signer: &dyn DigestSigner) -> Result<Head, String> {
        let key_id = signer.key_id();
        let sig = signer.sign(&Head::message(seq, hash, &key_id))?;
        Ok(Head {
            seq,
            hash: hash.to_string(),
            signing_key: key_id,
            signature: hex::encode(sig),
        })
    }

    /// The padded bytes written to the head file.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(self).unwrap_or_default();
        out.push(b'\n');
        if out.len() < HEAD_LEN {
            out.resize(HEAD_LEN, b' ');
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Head> {
        let text = std::str::from_utf8(bytes).ok()?;
        serde_json::from_str(text.trim()).ok()
    }
}

/// The log files of `dir`, oldest first: `kms-audit.log.N`, …, `kms-audit.log.1`,
/// `kms-audit.log`.
pub(crate) fn log_files(dir: &Path, base: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut rotated: Vec<(u64, PathBuf)> = Vec::new();
    let prefix = format!("{base}.");
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name
            .strip_prefix(&prefix)
            .and_then(|s| s.parse::<u64>().ok())
        {
            rotated.push((n, entry.path()));
        }
    }
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut out: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    let current = dir.join(base);
    if current.exists() {
        out.push(current);
    }
    Ok(out)
}

/// Where verification stopped: the first bad record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    pub(crate) file: PathBuf,
    /// 1-based line number (0 for findings about a whole file, e.g. the head file).
    pub(crate) line: usize,
    pub(crate) seq: Option<u64>,
    pub(crate) reason: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)?;
        if let Some(s) = self.seq {
            write!(f, ": seq {s}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Report {
    pub(crate) files: usize,
    pub(crate) records: u64,
    pub(crate) digests: u64,
    pub(crate) first_seq: Option<u64>,
    pub(crate) last_seq: Option<u64>,
    pub(crate) head_hash: Option<String>,
    /// Torn tails the KMS cut off at start (`AuditTornTailRepaired` records), as
    /// `(seq of the repair record, what it says)`.
    pub(crate) repairs: Vec<(u64, String)>,
}

/// The previous good line, for naming it when the next line's `prev` does not match.
struct Prev {
    file: PathBuf,
    line: usize,
    seq: u64,
    hash: String,
}

/// Verifies the chain in `dir` (log files named `base`, `base.1`, …) from `from` (or from
/// seq 0), every digest signature, and the head. The first problem found is returned.
pub(crate) fn verify(
    dir: &Path,
    base: &str,
    signer: &dyn DigestSigner,
    from: Option<u64>,
) -> Result<Report, Finding> {
    let head_path = dir.join(HEAD_FILE_NAME);
    let finding = |file: &Path, line: usize, seq: Option<u64>, reason: String| Finding {
        file: file.to_path_buf(),
        line,
        seq,
        reason,
    };
    // The head is read before the log: a writer appending meanwhile only makes the log longer.
    let head = match fs::read(&head_path) {
        // Created empty with the log, before its first record.
        Ok(bytes) if bytes.is_empty() => None,
        Ok(bytes) => {
            let head = Head::decode(&bytes).ok_or_else(|| {
                finding(&head_path, 0, None, "head file is not valid".to_string())
            })?;
            let msg = Head::message(head.seq, &head.hash, &head.signing_key);
            if head.signing_key != signer.key_id()
                || !check_signature(signer, &msg, &head.signature)
            {
                return Err(finding(
                    &head_path,
                    0,
                    Some(head.seq),
                    "head signature is invalid (forged or edited head)".to_string(),
                ));
            }
            Some(head)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(finding(&head_path, 0, None, format!("cannot read: {e}"))),
    };
    let files = log_files(dir, base).map_err(|e| {
        finding(
            dir,
            0,
            None,
            format!("cannot list the audit log files: {e}"),
        )
    })?;
    let mut report = Report {
        files: files.len(),
        ..Report::default()
    };
    let mut prev: Option<Prev> = None;
    let mut expected = from.unwrap_or(0);
    let mut started = false;
    let mut head_seen = false;
    for file in &files {
        let data =
            fs::read(file).map_err(|e| finding(file, 0, None, format!("cannot read: {e}")))?;
        let mut lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
        let torn = lines.last().is_some_and(|l| !l.is_empty());
        if !torn {
            lines.pop();
        }
        let parsed: Vec<Option<(u64, String)>> = lines.iter().map(|l| chain_fields(l)).collect();
        for (i, line) in lines.iter().enumerate() {
            let line_no = i + 1;
            let Some((seq, prev_field)) = parsed[i].clone() else {
                if !started && from.is_some() {
                    continue;
                }
                let reason = if torn && i + 1 == lines.len() {
                    "incomplete last line (the file was truncated mid-record)"
                } else {
                    "not a chained audit record (edited, truncated or inserted)"
                };
                return Err(finding(file, line_no, None, reason.to_string()));
            };
            if !started {
                if from.is_some_and(|f| seq < f) {
                    continue;
                }
                started = true;
                if from.is_none() && (seq != 0 || prev_field != GENESIS) {
                    return Err(finding(
                        file,
                        line_no,
                        Some(seq),
                        "the log does not start at seq 0 (older records were removed; use \
                         --from to verify from a later record)"
                            .to_string(),
                    ));
                }
                report.first_seq = Some(seq);
                expected = seq;
            }
            if seq != expected {
                let next_is_expected =
                    parsed.get(i + 1).and_then(|p| p.as_ref()).map(|p| p.0) == Some(expected);
                let reason = if next_is_expected {
                    format!(
                        "expected record seq {expected}, found seq {seq}: records were reordered"
                    )
                } else if seq > expected {
                    format!(
                        "expected record seq {expected}, found seq {seq}: record(s) seq \
                         {expected}..{} were deleted",
                        seq - 1
                    )
                } else {
                    format!(
                        "expected record seq {expected}, found seq {seq}: a record was \
                         duplicated, reordered or inserted"
                    )
                };
                return Err(finding(file, line_no, Some(seq), reason));
            }
            if let Some(p) = &prev
                && prev_field != p.hash
            {
                return Err(Finding {
                    file: p.file.clone(),
                    line: p.line,
                    seq: Some(p.seq),
                    reason: format!(
                        "record was modified: its hash does not match the prev of the next \
                         record (seq {seq})"
                    ),
                });
            }
            let hash = line_hash(line);
            if is_digest(line) {
                check_digest(line, seq, &prev_field, signer)
                    .map_err(|reason| finding(file, line_no, Some(seq), reason))?;
                report.digests += 1;
            } else {
                report.records += 1;
                if let Some(r) = repair_note(line) {
                    report.repairs.push((seq, r));
                }
            }
            if let Some(h) = &head
                && h.seq == seq
            {
                head_seen = true;
                if h.hash != hash {
                    return Err(finding(
                        file,
                        line_no,
                        Some(seq),
                        "record was modified: its hash does not match the signed head".into(),
                    ));
                }
            }
            report.last_seq = Some(seq);
            prev = Some(Prev {
                file: file.clone(),
                line: line_no,
                seq,
                hash,
            });
            expected = seq + 1;
        }
    }
    match (&head, &prev) {
        (Some(h), _) if !head_seen && from.is_none_or(|f| h.seq >= f) => {
            let (file, line) = prev
                .as_ref()
                .map(|p| (p.file.clone(), p.line + 1))
                .unwrap_or_else(|| (dir.join(base), 1));
            Err(Finding {
                file,
                line,
                seq: Some(expected),
                reason: format!(
                    "log truncated: the signed head names seq {} but the log ends before it",
                    h.seq
                ),
            })
        }
        (None, Some(p)) => Err(Finding {
            file: head_path,
            line: 0,
            seq: Some(p.seq),
            reason: "head file is missing".to_string(),
        }),
        _ => {
            report.head_hash = prev.map(|p| p.hash);
            Ok(report)
        }
    }
}

/// `(seq, prev)` of a chained line, `None` when it is not one.
pub(crate) fn chain_fields(line: &[u8]) -> Option<(u64, String)> {
    #[derive(Deserialize)]
    struct Chain {
        seq: u64,
        prev: String,
    }
    let c: Chain = serde_json::from_slice(line).ok()?;
    (c.prev.len() == 64).then_some((c.seq, c.prev))
}

/// What an `AuditTornTailRepaired` record says, `None` for any other record.
fn repair_note(line: &[u8]) -> Option<String> {
    let r: RepairBody = serde_json::from_slice(line).ok()?;
    (r.event == REPAIR_EVENT).then(|| {
        format!(
            "{} bytes cut from the end of {} at offset {} (sha256 {}) at {}",
            r.removed_bytes, r.file, r.offset, r.removed_sha256, r.time
        )
    })
}

fn is_digest(line: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Event {
        event: Option<String>,
    }
    serde_json::from_slice::<Event>(line)
        .ok()
        .and_then(|e| e.event)
        .as_deref()
        == Some(DIGEST_EVENT)
}

fn check_digest(
    line: &[u8],
    seq: u64,
    prev: &str,
    signer: &dyn DigestSigner,
) -> Result<(), String> {
    let body: DigestBody = serde_json::from_slice(line)
        .map_err(|_| "digest record is malformed (edited or forged)".to_string())?;
    if body.signing_key != signer.key_id() {
        return Err(format!(
            "digest is signed with key {:?}, not the KMS's key {:?} (forged digest)",
            body.signing_key,
            signer.key_id()
        ));
    }
    if body.last_seq + 1 != seq || body.first_seq > body.last_seq + 1 {
        return Err("digest covers the wrong records (forged or edited digest)".to_string());
    }
    if !check_signature(signer, &body.message(seq, prev), &body.signature) {
        return Err("digest signature is invalid (forged or edited digest)".to_string());
    }
    Ok(())
}
