//! One lifecycle pass: every bucket with enabled rules, the keys under the rules' prefixes a
//! page at a time, and each key's versions (see the module docs of `crate::lifecycle`).

use std::collections::BTreeMap;

use super::rules::{applies, current_expiry_ms, due_ms, matches, prefix};
use crate::meta::{BucketRecord, LifecycleExpiration, LifecycleRule, Version};
use crate::retention::version_deletable;
use crate::sse::Crypto;
use crate::store::{Expect, Row, Store, StoreError, Versioning};

/// Keys listed per page.
const PAGE: usize = 1000;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunReport {
    /// Current versions expired (deleted, or hidden under a delete marker).
    pub(crate) expired: u64,
    /// Noncurrent versions (objects or delete markers) removed for good.
    pub(crate) noncurrent_removed: u64,
    /// Expired object delete markers (the only version left of a key) removed.
    pub(crate) markers_removed: u64,
    pub(crate) uploads_aborted: u64,
    /// Buckets whose pass failed (logged; retried at the next run).
    pub(crate) failed_buckets: u64,
}

/// Applies every bucket's enabled rules as of `now_ms`.
pub(crate) async fn run(
    store: &Store,
    crypto: &Crypto,
    now_ms: i64,
) -> Result<RunReport, StoreError> {
    let mut report = RunReport::default();
    for bucket in store.list_buckets().await? {
        let rules: Vec<&LifecycleRule> = bucket
            .lifecycle
            .iter()
            .flatten()
            .filter(|r| r.enabled)
            .collect();
        if rules.is_empty() {
            continue;
        }
        if let Err(e) = apply_bucket(store, crypto, &bucket, &rules, now_ms, &mut report).await {
            tracing::warn!(bucket = %bucket.name, error = %e, "lifecycle pass of bucket failed");
            report.failed_buckets += 1;
        }
    }
    Ok(report)
}

async fn apply_bucket(
    store: &Store,
    crypto: &Crypto,
    bucket: &BucketRecord,
    rules: &[&LifecycleRule],
    now_ms: i64,
    report: &mut RunReport,
) -> Result<(), StoreError> {
    let name = bucket.name.as_str();
    let versioning = Versioning::of(bucket);
    let object_rules: Vec<&LifecycleRule> = rules
        .iter()
        .copied()
        .filter(|r| r.expiration.is_some() || r.noncurrent_expiration.is_some())
        .collect();
    for p in scan_prefixes(object_rules.iter().map(|r| prefix(&r.filter))) {
        let mut cursor = String::new();
        loop {
            let (rows, more) = store.list_rows(name, &p, "", &cursor, PAGE).await?;
            for row in rows {
                let Row::Key(key) = row else { continue };
                let at = Key {
                    store,
                    crypto,
                    rec: bucket,
                    bucket: name,
                    key: &key,
                    versioning,
                    now_ms,
                };
                // One broken key must not stop the rules for the rest of the bucket.
                if let Err(e) = at.apply(&object_rules, report).await {
                    tracing::warn!(bucket = name, key = %key, error = %e, "lifecycle action failed");
                }
                cursor = key;
            }
            if !more {
                break;
            }
        }
    }
    let abort: Vec<(&str, u32)> = rules
        .iter()
        .filter_map(|r| Some((prefix(&r.filter), r.abort_incomplete_upload_days?)))
        .collect();
    if !abort.is_empty() {
        for u in store.list_uploads(name).await? {
            let due = abort
                .iter()
                .any(|(p, d)| u.key.starts_with(p) && now_ms >= due_ms(u.initiated_ms, *d));
            if due {
                match store.delete_upload(name, &u.upload_id, true).await {
                    Ok(()) => report.uploads_aborted += 1,
                    // Completed or aborted by a client meanwhile.
                    Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

/// The fewest prefixes whose keys cover every given prefix's (a prefix that extends another
/// adds nothing), so no key is visited twice.
fn scan_prefixes<'a>(prefixes: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut sorted: Vec<&str> = prefixes.collect();
    sorted.sort_unstable();
    let mut out: Vec<String> = Vec::new();
    for p in sorted {
        // Sorted, every extension of a kept prefix directly follows it.
        if !out.last().is_some_and(|q| p.starts_with(q.as_str())) {
            out.push(p.to_owned());
        }
    }
    out
}

fn id(v: &Version) -> &str {
    v.version_id().unwrap_or("null")
}

/// Whether `rule`'s filter selects version `v` of `key`. A delete marker has no tags and no
/// size: it is selected as an empty object would be.
fn selects(rule: &LifecycleRule, key: &str, v: &Version) -> bool {
    match v {
        Version::Object(m) => applies(rule, key, m),
        Version::Marker(_) => rule.enabled && matches(&rule.filter, key, 0, &BTreeMap::new()),
    }
}

/// One key being worked on.
struct Key<'a> {
    store: &'a Store,
    crypto: &'a Crypto,
    rec: &'a BucketRecord,
    bucket: &'a str,
    key: &'a str,
    versioning: Versioning,
    now_ms: i64,
}

impl Key<'_> {
    async fn apply(
        &self,
        rules: &[&LifecycleRule],
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        let versions = self.store.all_versions(self.bucket, self.key).await?;
        let Some(current) = versions.first() else {
            return Ok(());
        };
        let mut noncurrent_left = versions.len() - 1;
        for (i, v) in versions.iter().enumerate().skip(1) {
            // A version became noncurrent when the next newer one was written; `rank` counts
            // the newer noncurrent versions (NewerNoncurrentVersions keeps that many).
            let since = versions[i - 1].last_modified_ms();
            let rank = i - 1;
            // Object Lock outranks every rule: a protected version stays (AWS does the same).
            if rules.iter().any(|r| self.noncurrent_due(r, v, since, rank))
                && version_deletable(self.crypto, self.rec, self.key, v, self.now_ms).await
                && self
                    .store
                    .remove_version(self.bucket, self.key, id(v))
                    .await?
                    .is_some()
            {
                report.noncurrent_removed += 1;
                noncurrent_left -= 1;
            }
        }
        match current {
            Version::Object(meta) => {
                let due = rules.iter().any(|r| {
                    current_expiry_ms(r, self.key, meta).is_some_and(|t| self.now_ms >= t)
                });
                if !due {
                    return Ok(());
                }
                // Only the version judged: an overwrite meanwhile is not due.
                let expect = Expect::Generation(meta.generation.clone());
                match self
                    .store
                    .delete_object_if(self.bucket, self.key, self.versioning, &expect)
                    .await
                {
                    Ok(_) => report.expired += 1,
                    Err(StoreError::ConditionFailed) => {}
                    Err(e) => return Err(e),
                }
            }
            Version::Marker(_) => {
                let cleanup = rules.iter().any(|r| {
                    r.expiration == Some(LifecycleExpiration::ExpiredObjectDeleteMarker(true))
                        && selects(r, self.key, current)
                });
                if cleanup
                    && noncurrent_left == 0
                    && self
                        .store
                        .remove_version(self.bucket, self.key, id(current))
                        .await?
                        .is_some()
                {
                    report.markers_removed += 1;
                }
            }
        }
        Ok(())
    }

    fn noncurrent_due(
        &self,
        rule: &LifecycleRule,
        v: &Version,
        since_ms: i64,
        rank: usize,
    ) -> bool {
        let Some(n) = &rule.noncurrent_expiration else {
            return false;
        };
        let keep = n.newer_noncurrent_versions.unwrap_or(0) as usize;
        rank >= keep
            && self.now_ms >= due_ms(since_ms, n.noncurrent_days)
            && selects(rule, self.key, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_prefixes_drop_extensions() {
        let got = scan_prefixes(["logs/a", "logs/", "tmp", "logs/b/c", "tmpx"].into_iter());
        assert_eq!(got, vec!["logs/".to_owned(), "tmp".to_owned()]);
        assert_eq!(scan_prefixes(["a", ""].into_iter()), vec![String::new()]);
    }
}
