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
//!
//! Appends are group-committed: an fdatasync costs milliseconds, so callers that arrive while
//! one is in flight queue their records, and the first of them to get the log (the leader)
//! writes every queued line in order with one `write`, syncs the file once, rewrites the head
//! and wakes the rest. Each caller still returns only once a sync covered its record, and a
//! failure fails every caller of the group and cuts the whole group back, as for a single
//! record.
//!
//! The head's own sync is not on a caller's path: it is rewritten (in the page cache) after
//! every group, and made durable with the group that writes a digest, by
//! [`AuditLog::sync_head`] (the server calls it every second) and at shutdown. Only a power
//! loss can leave it behind the log, by at most those bounds (docs/AUDIT.md "The head file").

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Instant, SystemTime};

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
    /// The head was rewritten since its last sync (it is durable only after one).
    head_unsynced: bool,
    /// The lines being committed hold a digest: their head is synced with them.
    digest_staged: bool,
    /// How many times the head was synced (the tests check the policy with it).
    head_syncs: u64,
}

/// What every caller of one commit group gets: `io::Error` is not `Clone`, so each caller
/// gets its own error rebuilt from the kind and message.
type GroupOutcome = Result<(), (std::io::ErrorKind, String)>;

/// The records waiting for the next group commit.
struct Queue {
    bodies: Vec<Vec<u8>>,
    /// Set by the leader that commits `bodies`; every caller of the group waits on it.
    outcome: Arc<OnceLock<GroupOutcome>>,
    /// A leader is writing and syncing a group (records queued now go in the next one).
    committing: bool,
}

impl Default for Queue {
    fn default() -> Self {
        Self {
            bodies: Vec::new(),
            outcome: Arc::new(OnceLock::new()),
            committing: false,
        }
    }
}

/// A leader's turn: when it ends — normally, or by a panic in the middle of a commit — the
/// group's callers get an outcome (an error if none was set) and the next leader may start,
/// so no caller waits forever.
struct Leading<'a> {
    log: &'a AuditLog,
    done: Arc<OnceLock<GroupOutcome>>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        let _ = self.done.set(Err((
            std::io::ErrorKind::Other,
            "audit group commit was interrupted".to_string(),
        )));
        self.log.lock_queue().committing = false;
        self.log.committed.notify_all();
    }
}

/// The chain position a failed commit goes back to.
struct Saved {
    next_seq: u64,
    prev: String,
    since_digest: u64,
    first_undigested: u64,
}

impl Saved {
    fn of(w: &Writer) -> Self {
        Self {
            next_seq: w.next_seq,
            prev: w.prev.clone(),
            since_digest: w.since_digest,
            first_undigested: w.first_undigested,
        }
    }
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
    /// Group commit: records waiting for a leader, and the wake-up for their callers. Never
    /// held while waiting for `writer`, so the two locks cannot deadlock.
    queue: Mutex<Queue>,
    committed: Condvar,
    /// While set, a record that cannot be written is kept in memory and written later instead
    /// of failing the call (start-up at a full disk, docs/AUDIT.md).
    defer_when_full: AtomicBool,
    /// The log syncs that acknowledged records waited for, and their nanoseconds: what the
    /// disk's sync costs a KMS call, for the metrics ([`AuditLog::syncs`]).
    syncs: AtomicU64,
    sync_nanos: AtomicU64,
}

/// How many times the log was synced for acknowledged records (one per commit group) and the
/// seconds those syncs took, since the log was opened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AuditSyncs {
    pub syncs: u64,
    pub seconds: f64,
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
                head_unsynced: false,
                digest_staged: false,
                head_syncs: 0,
            }),
            queue: Mutex::new(Queue::default()),
            committed: Condvar::new(),
            defer_when_full: AtomicBool::new(false),
            syncs: AtomicU64::new(0),
            sync_nanos: AtomicU64::new(0),
        };
        if let Some(t) = torn {
            log.record_repair(&t)?;
        }
        Ok(log)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The log's syncs for acknowledged records so far, and their time.
    pub fn syncs(&self) -> AuditSyncs {
        AuditSyncs {
            syncs: self.syncs.load(Ordering::Relaxed),
            seconds: self.sync_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
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
        self.write_records(&mut w, &[])
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes one record as one line, all or nothing, after any deferred ones; then a digest or
    /// a rotation when due. Returns once a sync covers the record: records of concurrent
    /// callers share that sync (group commit, module docs). An error means the record is not
    /// in the log (unless deferral is on, when it is kept to be written later).
    pub fn append(&self, record: &AuditRecord) -> std::io::Result<()> {
        let body = serde_json::to_vec(record)?;
        let mut q = self.lock_queue();
        q.bodies.push(body);
        let outcome = q.outcome.clone();
        loop {
            if let Some(result) = outcome.get() {
                return result
                    .clone()
                    .map_err(|(kind, msg)| std::io::Error::new(kind, msg));
            }
            if q.committing {
                q = self.committed.wait(q).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // Leader: take the whole queue (our record and every one queued behind it), and let
            // records that arrive meanwhile gather for the next group.
            q.committing = true;
            let group = std::mem::take(&mut q.bodies);
            let leading = Leading {
                log: self,
                done: std::mem::replace(&mut q.outcome, Arc::new(OnceLock::new())),
            };
            drop(q);
            let _ = leading.done.set(self.commit_group(group));
            drop(leading);
            q = self.lock_queue();
        }
    }

    /// Writes a group of records with one sync; with deferral on, a group that cannot be
    /// written is kept for later instead of failing.
    fn commit_group(&self, group: Vec<Vec<u8>>) -> GroupOutcome {
        let mut w = self.lock();
        match self.write_records(&mut w, &group) {
            Ok(()) => Ok(()),
            Err(e) if self.defer_when_full.load(Ordering::SeqCst) => {
                tracing::warn!(error = %e, records = group.len(),
                    "audit record deferred until it can be written");
                w.pending.extend(group);
                Ok(())
            }
            Err(e) => Err((e.kind(), e.to_string())),
        }
    }

    /// Seals the records since the last digest (at shutdown), after writing deferred ones, and
    /// makes the head durable. A no-op when there is nothing to write or sync.
    pub fn seal(&self) -> std::io::Result<()> {
        let mut w = self.lock();
        self.write_records(&mut w, &[])?;
        self.write_digest(&mut w)?;
        Self::sync_head_of(&mut w)
    }

    /// Makes the head durable if it was rewritten since its last sync. Every acknowledged
    /// record is already durable in the log; this bounds how far behind the log a power loss
    /// can leave the head (docs/AUDIT.md "The head file"). The server calls it every second.
    pub(crate) fn sync_head(&self) -> std::io::Result<()> {
        Self::sync_head_of(&mut self.lock())
    }

    fn sync_head_of(w: &mut Writer) -> std::io::Result<()> {
        if w.head_unsynced {
            w.head.sync_data()?;
            w.head_unsynced = false;
            w.head_syncs += 1;
        }
        Ok(())
    }

    /// The deferred records, then `bodies`, each followed by a digest when one is due, as one
    /// write and one sync (see [`AuditLog::commit`]); then a rotation when due. All or
    /// nothing: on failure none of them is in the log and the deferred ones still wait. A
    /// failed rotation is only logged and retried after the next record; a digest that cannot
    /// be signed likewise.
    fn write_records(&self, w: &mut Writer, bodies: &[Vec<u8>]) -> std::io::Result<()> {
        if w.pending.is_empty() && bodies.is_empty() {
            return Ok(());
        }
        let saved = Saved::of(w);
        let mut buf = Vec::new();
        let pending = std::mem::take(&mut w.pending);
        let staged = pending
            .iter()
            .chain(bodies)
            .try_for_each(|body| self.stage_record(w, body, &mut buf));
        w.pending = pending;
        let committed = staged.and_then(|()| self.commit(w, &buf));
        if let Err(e) = committed {
            self.restore(w, saved);
            return Err(e);
        }
        w.pending.clear();
        if w.size >= self.opts.max_bytes
            && let Err(e) = self.rotate(w)
        {
            tracing::warn!(error = %e, "audit log rotation deferred");
        }
        Ok(())
    }

    /// Adds the line for one record to `buf`, then a digest line when one is due.
    fn stage_record(&self, w: &mut Writer, body: &[u8], buf: &mut Vec<u8>) -> std::io::Result<()> {
        self.stage_line(w, body, buf)?;
        w.since_digest += 1;
        if w.since_digest >= self.opts.digest_every
            && let Err(e) = self.stage_digest(w, buf)
        {
            tracing::warn!(error = %e, "audit digest deferred");
        }
        Ok(())
    }

    /// Adds the chained line for `body` to `buf` and moves the chain past it (not yet
    /// written: [`AuditLog::commit`] writes it, [`AuditLog::restore`] undoes the move).
    fn stage_line(&self, w: &mut Writer, body: &[u8], buf: &mut Vec<u8>) -> std::io::Result<()> {
        let line = chained_line(w.next_seq, &w.prev, body)?;
        w.prev = audit_chain::line_hash(&line);
        w.next_seq += 1;
        buf.extend_from_slice(&line);
        buf.push(b'\n');
        Ok(())
    }

    /// Appends the staged lines with one `write` and fsyncs them, then rewrites the head for
    /// the last of them; the head is synced too when the lines hold a digest (otherwise by
    /// [`AuditLog::sync_head`]). All or nothing: on any failure (no space, I/O error) the file
    /// is cut back to its length before the append and the previous head restored (by the
    /// caller, [`AuditLog::restore`]), so a full disk never leaves a partial line for the next
    /// record to be glued onto.
    fn commit(&self, w: &mut Writer, buf: &[u8]) -> std::io::Result<()> {
        let with_digest = std::mem::take(&mut w.digest_staged);
        if buf.is_empty() {
            return Ok(());
        }
        let head = Head::signed(w.next_seq - 1, &w.prev, self.signer.as_ref())
            .map_err(std::io::Error::other)?
            .encode();
        w.file.write_all(buf)?;
        let started = Instant::now();
        w.file.sync_data()?;
        let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.sync_nanos.fetch_add(took, Ordering::Relaxed);
        self.syncs.fetch_add(1, Ordering::Relaxed);
        rewrite_head(&w.head, &head)?;
        w.head_unsynced = true;
        if with_digest {
            Self::sync_head_of(w)?;
        }
        w.size += buf.len() as u64;
        Ok(())
    }

    /// Takes the chain back to `saved` after a failed commit and cuts the file and the head
    /// back to match.
    fn restore(&self, w: &mut Writer, saved: Saved) {
        w.next_seq = saved.next_seq;
        w.prev = saved.prev;
        w.since_digest = saved.since_digest;
        w.first_undigested = saved.first_undigested;
        w.digest_staged = false;
        self.undo_append(w);
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
                    let _ = rewrite_head(&w.head, &head.encode());
                    w.head_unsynced = true;
                    let _ = Self::sync_head_of(w);
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
        if let Err(e) = self.write_records(&mut w, std::slice::from_ref(&body)) {
            // No space even after the cut: the record waits like start-up records do.
            tracing::warn!(error = %e, "audit repair record deferred until it can be written");
            w.pending.push(body);
        }
        Ok(())
    }

    /// Writes a digest of the records since the last one, if any, on its own.
    fn write_digest(&self, w: &mut Writer) -> std::io::Result<()> {
        let saved = Saved::of(w);
        let mut buf = Vec::new();
        let written = self
            .stage_digest(w, &mut buf)
            .and_then(|()| self.commit(w, &buf));
        if let Err(e) = written {
            self.restore(w, saved);
            return Err(e);
        }
        Ok(())
    }

    /// Adds a signed digest line for the records since the last digest to `buf`; nothing when
    /// there are none.
    fn stage_digest(&self, w: &mut Writer, buf: &mut Vec<u8>) -> std::io::Result<()> {
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
        self.stage_line(w, &serde_json::to_vec(&body)?, buf)?;
        w.since_digest = 0;
        w.first_undigested = w.next_seq;
        w.digest_staged = true;
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

/// Rewrites the fixed-size head file in place with one positioned write (not synced: see
/// [`AuditLog::sync_head`]).
fn rewrite_head(head: &File, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    head.write_all_at(bytes, 0)
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

    fn signer() -> Arc<audit_chain::SoftwareSigner> {
        let root = super::super::rootkey::RootKey::from_bytes([9; 32]);
        Arc::new(audit_chain::SoftwareSigner::from_root(&root))
    }

    fn record(request_id: String) -> AuditRecord {
        AuditRecord {
            time: rfc3339(std::time::UNIX_EPOCH),
            epoch: 0.0,
            request_id,
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
        }
    }

    #[test]
    fn appends_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let signer = signer();
        let log = AuditLog::open(
            &dir.path().join(DEFAULT_FILE_NAME),
            AuditOptions::default(),
            signer.clone(),
        )
        .unwrap();
        for i in 0..2 {
            log.append(&record(format!("r{i}"))).unwrap();
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

    /// The contract of group commit (docs/AUDIT.md): when `append` returns, the head file
    /// names the caller's record or a later line, and its hash is that line's. Eight threads
    /// at once, no rotation (the head's line is in the current file).
    #[test]
    fn every_acknowledged_record_is_named_by_the_head() {
        const THREADS: usize = 8;
        const EACH: usize = 25;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_FILE_NAME);
        let opts = AuditOptions {
            digest_every: 5,
            max_bytes: u64::MAX,
        };
        let log = Arc::new(AuditLog::open(&path, opts, signer()).unwrap());
        let head_path = dir.path().join(audit_chain::HEAD_FILE_NAME);
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (log, path, head_path) = (log.clone(), path.clone(), head_path.clone());
                std::thread::spawn(move || {
                    for i in 0..EACH {
                        let id = format!("t{t}-{i}");
                        log.append(&record(id.clone())).unwrap();
                        let head = audit_chain::Head::decode(&std::fs::read(&head_path).unwrap())
                            .expect("a head file");
                        let text = std::fs::read_to_string(&path).unwrap();
                        let line_of = |seq: u64| {
                            text.lines()
                                .find(|l| {
                                    audit_chain::chain_fields(l.as_bytes()).map(|f| f.0)
                                        == Some(seq)
                                })
                                .unwrap_or_else(|| panic!("no line {seq}"))
                        };
                        let mine = text
                            .lines()
                            .find(|l| l.contains(&format!("\"request_id\":\"{id}\"")))
                            .expect("the record is in the log");
                        let (seq, _) = audit_chain::chain_fields(mine.as_bytes()).unwrap();
                        assert!(head.seq >= seq, "head {} before record {seq}", head.seq);
                        assert_eq!(
                            head.hash,
                            audit_chain::line_hash(line_of(head.seq).as_bytes())
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    /// The head's sync is off the callers' path: one record at a time, the head is synced only
    /// with the commits that write a digest (every `digest_every` records), by `sync_head` when
    /// it changed since, and at the final seal; the file always names the newest record. The
    /// log's own syncs, which callers wait for, are counted with their time: one per commit
    /// group (a digest rides in its record's group), one more for the final seal's digest.
    #[test]
    fn the_head_is_synced_with_digests_and_on_demand() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_FILE_NAME);
        let opts = AuditOptions {
            digest_every: 10,
            max_bytes: u64::MAX,
        };
        let signer = signer();
        let log = AuditLog::open(&path, opts, signer.clone()).unwrap();
        let syncs = |log: &AuditLog| log.lock().head_syncs;
        assert_eq!(log.syncs().syncs, 0);
        for i in 0..95 {
            log.append(&record(format!("r{i}"))).unwrap();
        }
        // 95 records and 9 digests: seq 0..=103, the head names the last one.
        assert_eq!(syncs(&log), 9);
        let log_syncs = log.syncs();
        assert_eq!(log_syncs.syncs, 95);
        assert!(log_syncs.seconds > 0.0, "{log_syncs:?}");
        let head_path = dir.path().join(audit_chain::HEAD_FILE_NAME);
        let head = audit_chain::Head::decode(&std::fs::read(&head_path).unwrap()).unwrap();
        assert_eq!(head.seq, 103);
        log.sync_head().unwrap();
        assert_eq!(syncs(&log), 10);
        log.sync_head().unwrap();
        assert_eq!(syncs(&log), 10, "an unchanged head is not synced again");
        log.append(&record("last".into())).unwrap();
        log.seal().unwrap();
        // The seal's digest is synced with its head; nothing is left to sync after it.
        assert_eq!(syncs(&log), 11);
        assert_eq!(log.syncs().syncs, 97);
        assert!(!log.lock().head_unsynced);
        let report =
            audit_chain::verify(dir.path(), DEFAULT_FILE_NAME, signer.as_ref(), None).unwrap();
        assert_eq!((report.records, report.digests), (96, 10));
    }

    /// Threads appending at once share syncs (group commit); the chain they leave must still
    /// be one strict sequence holding every record once, across digests and rotations that
    /// fall in the middle of groups.
    #[test]
    fn concurrent_appends_leave_one_gapless_verified_chain() {
        const THREADS: usize = 8;
        const EACH: usize = 60;
        let dir = tempfile::tempdir().unwrap();
        let signer = signer();
        let opts = AuditOptions {
            digest_every: 7,
            max_bytes: 16 * 1024,
        };
        let log = Arc::new(
            AuditLog::open(&dir.path().join(DEFAULT_FILE_NAME), opts, signer.clone()).unwrap(),
        );
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..EACH {
                        log.append(&record(format!("t{t}-{i}"))).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(log);

        let report =
            audit_chain::verify(dir.path(), DEFAULT_FILE_NAME, signer.as_ref(), None).unwrap();
        let files = audit_chain::log_files(dir.path(), DEFAULT_FILE_NAME).unwrap();
        assert!(files.len() > 2, "rotated during the run: {files:?}");
        let lines: Vec<serde_json::Value> = files
            .iter()
            .flat_map(|f| {
                let text = std::fs::read_to_string(f).unwrap();
                text.lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, (0..lines.len() as u64).collect::<Vec<_>>());
        assert_eq!(report.last_seq, Some(lines.len() as u64 - 1));
        let mut ids: Vec<&str> = lines
            .iter()
            .filter(|l| l["event"] == "Encrypt")
            .map(|l| l["request_id"].as_str().unwrap())
            .collect();
        ids.sort_unstable();
        let mut want: Vec<String> = (0..THREADS)
            .flat_map(|t| (0..EACH).map(move |i| format!("t{t}-{i}")))
            .collect();
        want.sort_unstable();
        assert_eq!(ids, want, "every record exactly once");
        // Each thread's own records keep the order it appended them in.
        for t in 0..THREADS {
            let mine: Vec<&str> = lines
                .iter()
                .filter_map(|l| l["request_id"].as_str())
                .filter(|id| id.starts_with(&format!("t{t}-")))
                .collect();
            let ordered: Vec<String> = (0..EACH).map(|i| format!("t{t}-{i}")).collect();
            assert_eq!(mine, ordered);
        }
        assert!(report.digests >= (THREADS * EACH / 7) as u64);
    }
}
