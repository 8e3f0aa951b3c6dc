//! Garbage collection: deferred deletion of generations that lost their record, crash
//! leftovers, staging files, abandoned multipart uploads and expired completion records.
//!
//! Why deletion is deferred: a GET reads the meta record, then streams the blobs of the
//! generation it names, part after part. If an overwrite or delete removed that generation at
//! once, a reader that started just before — on this gateway or on another one sharing the
//! backend — would find its blobs gone halfway. So a commit only *retires* the generation it
//! made unreachable: it writes a marker `retired/<bucket>/<generation>` whose backend
//! modification time is the moment the generation lost its record. The sweep deletes a
//! generation only when
//!
//! 1. no meta record and no upload record references it (read after listing the blobs, so a
//!    record written meanwhile belongs to blobs that are too young or recently touched),
//! 2. its newest blob is older than the grace period, and this process has not written or
//!    linked it within the grace (an in-flight write, a hard-linked copy with an old mtime),
//! 3. its retire marker is older than the grace period.
//!
//! A generation without a marker (a crash before the swap, or between the swap and the marker
//! write) gets one the first time a sweep finds it unreferenced: its clock starts then, never
//! earlier than the moment it really stopped being readable. A reader therefore has at least
//! the grace period from the swap to finish; one that outlives it fails (the gateway aborts the
//! response), it never receives wrong bytes.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::StreamExt;
use object_store::PutMode;
use object_store::path::Path;

use super::{READ_CONCURRENCY, Store, StoreError, backend_err, layout, records};

/// The content of a retire marker (only its modification time matters; the body names the
/// format so a later version can add fields).
const MARKER_BODY: &[u8] = b"sealgate-retired/1";

/// What the sweep reclaims, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepPolicy {
    /// How long an unreferenced generation is kept after it was retired, and the minimum age of
    /// blobs and staging files before they count as abandoned. Must exceed the longest GET
    /// that should survive an overwrite, and the longest single blob write.
    pub grace: Duration,
    /// Multipart uploads with no activity (creation, part upload) for this long are aborted.
    pub abort_uploads_after: Duration,
    /// Completion records (retried CompleteMultipartUpload) older than this are deleted; the
    /// gateway uses [`crate::meta::COMPLETION_WINDOW_MS`], past which they answer nothing.
    pub keep_completions: Duration,
}

/// What one sweep reclaimed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Unreferenced generations deleted (including those of aborted uploads).
    pub generations: u64,
    /// Abandoned staging files deleted (local backend).
    pub staging_files: u64,
    /// Multipart uploads aborted for being idle too long.
    pub uploads: u64,
    /// Bytes of blobs and staging files deleted.
    pub bytes: u64,
    /// Buckets whose sweep failed (logged; retried at the next sweep).
    pub failed_buckets: u64,
}

impl SweepReport {
    fn add(&mut self, other: SweepReport) {
        self.generations += other.generations;
        self.staging_files += other.staging_files;
        self.uploads += other.uploads;
        self.bytes += other.bytes;
        self.failed_buckets += other.failed_buckets;
    }
}

/// Milliseconds since the epoch, the unit backend timestamps are compared in.
pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Whether something stamped at `t_ms` is at least `age` old at `now`.
fn older_than(now: i64, t_ms: i64, age: Duration) -> bool {
    now.saturating_sub(t_ms) >= i64::try_from(age.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Default)]
struct Generation {
    newest_ms: i64,
    bytes: u64,
}

impl Store {
    /// Marks `generation` as no longer referenced, starting its grace period (the commits
    /// call this instead of deleting the generation they replaced).
    pub(crate) async fn retire_generation(
        &self,
        bucket: &str,
        generation: &str,
    ) -> Result<(), StoreError> {
        let path = layout::retired(bucket, generation)?;
        self.put_bytes(&path, Bytes::from_static(MARKER_BODY), PutMode::Overwrite)
            .await
    }

    /// Sweeps every bucket the backend holds anything of (also buckets deleted since), and the
    /// local data dir's staging files. Failures are per bucket: logged and counted, the rest
    /// is still swept.
    pub async fn sweep(&self, policy: &SweepPolicy) -> Result<SweepReport, StoreError> {
        let mut report = self.sweep_staging(policy.grace).await?;
        let mut names: BTreeSet<String> = self
            .list_buckets()
            .await?
            .into_iter()
            .map(|b| b.name)
            .collect();
        for area in [layout::DATA, layout::RETIRED, layout::UPLOADS] {
            let prefixes = match self.os.list_with_delimiter(Some(&Path::from(area))).await {
                Ok(listed) => listed.common_prefixes,
                Err(object_store::Error::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(backend_err(e)),
            };
            names.extend(
                prefixes
                    .iter()
                    .filter_map(|p| p.filename().map(str::to_owned))
                    .filter(|n| layout::check_bucket(n).is_ok()),
            );
        }
        for bucket in names {
            match self.sweep_bucket(&bucket, policy).await {
                Ok(r) => report.add(r),
                Err(e) => {
                    tracing::warn!(bucket, error = %e, "sweep of bucket failed");
                    report.failed_buckets += 1;
                }
            }
        }
        Ok(report)
    }

    /// Sweeps one bucket (see the module docs). Refuses (`Corrupt`) when a meta or upload
    /// record does not decode, as the generation it references is then unknown.
    pub async fn sweep_bucket(
        &self,
        bucket: &str,
        policy: &SweepPolicy,
    ) -> Result<SweepReport, StoreError> {
        let grace = policy.grace;
        let mut report = SweepReport::default();
        let now = now_ms();

        // Candidates first, references second.
        let mut generations: HashMap<String, Generation> = HashMap::new();
        for e in self.list_paths(&layout::data_dir(bucket)?).await? {
            if let Some(generation) = layout::generation_of_blob(&e.location) {
                let g = generations.entry(generation).or_default();
                g.newest_ms = g.newest_ms.max(e.last_modified.timestamp_millis());
                g.bytes += e.size;
            }
        }
        let mut markers: HashMap<String, (i64, Path)> = HashMap::new();
        for e in self.list_paths(&layout::retired_dir(bucket)?).await? {
            if let Some(generation) = layout::generation_of_marker(&e.location) {
                markers.insert(generation, (e.last_modified.timestamp_millis(), e.location));
            }
        }

        let mut referenced = self.meta_generations(bucket).await?;

        // Uploads: the generation each live one writes to, and when it last saw activity.
        let mut uploads: HashMap<String, (String, i64)> = HashMap::new();
        let mut part_records = Vec::new();
        let mut part_activity: HashMap<String, i64> = HashMap::new();
        for e in self.list_paths(&layout::uploads_dir(bucket)?).await? {
            let t = e.last_modified.timestamp_millis();
            match layout::upload_entry(&e.location) {
                Some((id, true)) => {
                    if let Some(b) = self.get_bytes(&e.location).await? {
                        let rec = records::decode_upload(&b)?;
                        uploads.insert(id, (rec.generation, t));
                    }
                }
                Some((id, false)) => {
                    let slot = part_activity.entry(id.clone()).or_insert(i64::MIN);
                    *slot = (*slot).max(t);
                    part_records.push((id, e));
                }
                None if layout::is_completion(&e.location)
                    && older_than(now, t, policy.keep_completions) =>
                {
                    // A retried Complete is only answered within the window.
                    self.delete_path(&e.location).await?;
                }
                None => {}
            }
        }
        for (id, e) in part_records {
            if !uploads.contains_key(&id)
                && older_than(now, e.last_modified.timestamp_millis(), grace)
            {
                self.delete_path(&e.location).await?;
            }
        }
        for (id, (generation, record_ms)) in &uploads {
            let activity = [
                *record_ms,
                part_activity.get(id).copied().unwrap_or(i64::MIN),
                generations
                    .get(generation)
                    .map_or(i64::MIN, |g| g.newest_ms),
            ]
            .into_iter()
            .max()
            .unwrap_or(i64::MIN);
            if older_than(now, activity, policy.abort_uploads_after)
                && !referenced.contains(generation)
            {
                // Abort = drop the records and retire the blobs: a Complete racing this sweep
                // may already have made an object of them, which the next sweep then sees.
                match self.delete_upload(bucket, id, false).await {
                    Ok(()) => {
                        report.uploads += 1;
                        tracing::info!(bucket, upload_id = %id, "aborted an idle multipart upload");
                    }
                    Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e),
                }
                self.retire_generation(bucket, generation).await?;
                markers.insert(generation.clone(), (now_ms(), Path::from("")));
            } else {
                referenced.insert(generation.clone());
            }
        }

        for (generation, g) in &generations {
            let marker = markers.remove(generation);
            if referenced.contains(generation) {
                // A marker beside a live record is stale; without it the generation would
                // simply be marked afresh once it is unreferenced, which is always safe.
                if let Some((_, path)) = marker {
                    self.delete_path(&path).await?;
                }
                continue;
            }
            if !older_than(now, g.newest_ms, grace)
                || self.recent.is_recent(bucket, generation, grace)
            {
                continue;
            }
            let retired_ms = match marker {
                Some((t, _)) => t,
                None => match self
                    .put_bytes(
                        &layout::retired(bucket, generation)?,
                        Bytes::from_static(MARKER_BODY),
                        PutMode::Create,
                    )
                    .await
                {
                    Ok(()) | Err(StoreError::AlreadyExists) => now_ms(),
                    Err(e) => return Err(e),
                },
            };
            if !older_than(now_ms(), retired_ms, grace) {
                continue;
            }
            self.delete_generation(bucket, generation).await?;
            self.delete_path(&layout::retired(bucket, generation)?)
                .await?;
            report.generations += 1;
            report.bytes += g.bytes;
        }
        // Markers left without blobs (a delete interrupted after the blobs went).
        for (_, (t, path)) in markers {
            if !path.as_ref().is_empty() && older_than(now, t, grace) {
                self.delete_path(&path).await?;
            }
        }
        Ok(report)
    }

    /// The generations the bucket's version records reference: current versions (`meta/`)
    /// first, then the others (`versions/`). That order matters: a write keeps the version it
    /// replaces under `versions/` before its swap, so a version moving between the two is
    /// always seen in one of them.
    async fn meta_generations(&self, bucket: &str) -> Result<HashSet<String>, StoreError> {
        let mut referenced = HashSet::new();
        for dir in [
            layout::meta_dir(bucket)?,
            layout::bucket_versions_dir(bucket)?,
        ] {
            let records = self.list_paths(&dir).await?;
            let results: Vec<Result<Option<String>, StoreError>> = futures::stream::iter(records)
                .map(|e| async move {
                    Ok(self
                        .read_version_at(&e.location)
                        .await?
                        .and_then(|v| v.generation().map(str::to_owned)))
                })
                .buffered(READ_CONCURRENCY)
                .collect()
                .await;
            for r in results {
                referenced.extend(r?);
            }
        }
        Ok(referenced)
    }

    /// Deletes the local data dir's staging files (`name#<digits>`, left by a crash during a
    /// write) older than `grace`. `object_store`'s listing never shows them, so this walks the
    /// directory itself. Remote backends have no staging files: an interrupted blob write there
    /// is an incomplete backend multipart upload, which the backend's lifecycle rule expires.
    async fn sweep_staging(&self, grace: Duration) -> Result<SweepReport, StoreError> {
        let Some(root) = self.local_root.clone() else {
            return Ok(SweepReport::default());
        };
        tokio::task::spawn_blocking(move || sweep_staging_dir(&root, grace))
            .await
            .map_err(|e| StoreError::Backend(format!("staging sweep: {e}")))
    }
}

/// Whether a file name is a local staging file: `<name>#<digits>`.
fn is_staging_name(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn sweep_staging_dir(root: &std::path::Path, grace: Duration) -> SweepReport {
    let mut report = SweepReport::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
                continue;
            }
            if !kind.is_file() || !is_staging_name(&entry.file_name().to_string_lossy()) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let age = meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .unwrap_or_default();
            if age >= grace && std::fs::remove_file(entry.path()).is_ok() {
                report.staging_files += 1;
                report.bytes += meta.len();
                remove_empty_parents(root, &entry.path());
            }
        }
    }
    report
}

/// Removes the directories above `file` that are now empty, up to (not including) `root`,
/// as the store does when it deletes a file itself.
fn remove_empty_parents(root: &std::path::Path, file: &std::path::Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            return;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names() {
        assert!(is_staging_name("p1#0"));
        assert!(is_staging_name("61-#12"));
        assert!(!is_staging_name("p1#"));
        assert!(!is_staging_name("p1#x1"));
        assert!(!is_staging_name("p1"));
    }

    #[test]
    fn ages_compare_inclusively() {
        assert!(older_than(1000, 1000, Duration::ZERO));
        assert!(older_than(2000, 1000, Duration::from_secs(1)));
        assert!(!older_than(1999, 1000, Duration::from_secs(1)));
        assert!(
            !older_than(0, 1000, Duration::ZERO),
            "a future stamp is young"
        );
    }
}
