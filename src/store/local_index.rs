//! In-memory sorted key index for the local filesystem backend.
//!
//! `object_store`'s local listing walks the whole directory tree, unsorted, on every call, so
//! paging through a bucket with it would cost O(n) per page. Instead each bucket's keys are
//! kept in a `BTreeSet`, built by one walk the first time the bucket is listed and then kept
//! current by `put_meta`/`delete_meta` (the `Store` is the only writer of a local data dir).
//! A page is then a range query: O(log n + page).
//!
//! Consistency with concurrent writers: the build holds the bucket's write lock for the whole
//! walk, and every writer updates the index (under that lock) only after its file change. A
//! write that lands during the walk is either seen by the walk or applied after it; a write
//! before the index exists is seen by the walk. Writers of the same key are serialised by the
//! store's per-key lock, so the last index update matches the last file change.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use tokio::sync::RwLock;

use super::StoreError;

type Slot = Arc<RwLock<Option<BTreeSet<String>>>>;

#[derive(Default)]
pub(crate) struct LocalIndex {
    buckets: Mutex<HashMap<String, Slot>>,
}

impl LocalIndex {
    fn slot(&self, bucket: &str) -> Slot {
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry(bucket.to_string()).or_default())
    }

    /// Records that `key` now exists (no-op until the bucket's index is built).
    pub(crate) async fn insert(&self, bucket: &str, key: &str) {
        if let Some(set) = self.slot(bucket).write().await.as_mut() {
            set.insert(key.to_string());
        }
    }

    /// Records that `key` no longer exists.
    pub(crate) async fn remove(&self, bucket: &str, key: &str) {
        if let Some(set) = self.slot(bucket).write().await.as_mut() {
            set.remove(key);
        }
    }

    /// Drops a bucket's index (bucket deleted or created afresh).
    pub(crate) fn forget(&self, bucket: &str) {
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(bucket);
    }

    /// Up to `n` keys starting with `prefix` and within `lower`, in order. `build` walks the
    /// backend once if the bucket has no index yet.
    pub(crate) async fn page<F, Fut>(
        &self,
        bucket: &str,
        prefix: &str,
        lower: Bound<&str>,
        n: usize,
        build: F,
    ) -> Result<Vec<String>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<BTreeSet<String>, StoreError>>,
    {
        let slot = self.slot(bucket);
        {
            let guard = slot.read().await;
            if let Some(set) = guard.as_ref() {
                return Ok(range(set, prefix, lower, n));
            }
        }
        let mut guard = slot.write().await;
        if guard.is_none() {
            *guard = Some(build().await?);
        }
        let set = guard.as_ref().map(|s| range(s, prefix, lower, n));
        Ok(set.unwrap_or_default())
    }
}

fn range(set: &BTreeSet<String>, prefix: &str, lower: Bound<&str>, n: usize) -> Vec<String> {
    // Keys with a prefix are contiguous in byte order, so start at the tighter of the two lower
    // bounds and stop at the first key without the prefix.
    let lower = match lower {
        Bound::Included(s) | Bound::Excluded(s) if s < prefix => Bound::Included(prefix),
        Bound::Unbounded => Bound::Included(prefix),
        b => b,
    };
    set.range::<str, _>((lower, Bound::Unbounded))
        .take_while(|k| k.starts_with(prefix))
        .take(n)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_respects_prefix_and_start_after() {
        let set: BTreeSet<String> = ["a", "a/b", "a/c", "ab", "b", "b/x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let none = Vec::<String>::new();
        assert_eq!(range(&set, "a/", Bound::Unbounded, 10), ["a/b", "a/c"]);
        assert_eq!(range(&set, "a/", Bound::Excluded("a/b"), 10), ["a/c"]);
        assert_eq!(
            range(&set, "a/", Bound::Included("a/b"), 10),
            ["a/b", "a/c"]
        );
        assert_eq!(range(&set, "", Bound::Excluded("a/c"), 2), ["ab", "b"]);
        assert_eq!(range(&set, "b", Bound::Excluded(""), 10), ["b", "b/x"]);
        assert_eq!(range(&set, "b", Bound::Excluded("b"), 10), ["b/x"]);
        assert_eq!(range(&set, "a", Bound::Excluded("zzz"), 10), none);
        assert_eq!(range(&set, "c", Bound::Unbounded, 10), none);
        // Skipping a whole common prefix: from its successor.
        assert_eq!(
            range(&set, "", Bound::Included("a0"), 10),
            ["ab", "b", "b/x"]
        );
    }
}
