//! Object listing in S3 order, plain and delimited.
//!
//! Both listing modes reduce to one primitive, "the next `n` keys with this prefix from this
//! lower bound" ([`Store::key_batch`]): a range query on the local index, or an offset listing
//! on a sorted backend (valid because `keyenc` preserves order). Everything else — pages,
//! common prefixes, skipping past a common prefix — is built on it, so a page costs O(page)
//! and a delimited listing costs one batch per common prefix, never a walk of the keys
//! beneath it. Meta records are read only for the objects a page returns — and, in a bucket
//! that ever had versioning, for the keys passed over because their current version is a
//! delete marker, at most [`MAX_HIDDEN`] of them per page.

use std::collections::BTreeSet;
use std::ops::Bound;

use futures::StreamExt;
use object_store::path::Path;

use super::{ListingMode, READ_CONCURRENCY, Store, StoreError, backend_err, keyenc, layout};
use crate::meta::ObjectMeta;

/// One row of a delimited listing, in S3 order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListEntry {
    /// Boxed: a meta record is large next to a prefix.
    Object { key: String, meta: Box<ObjectMeta> },
    /// A prefix ending in the delimiter that stands for every key beneath it.
    CommonPrefix(String),
}

/// A key or a common prefix of a listing, before any record is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Row {
    Key(String),
    Prefix(String),
}

/// Keys fetched per batch in a delimited listing.
const BATCH: usize = 1000;

/// Keys a ListObjects page passes over without returning them (delete markers, records that
/// vanished or do not decode) before it ends early: bounds the work of one request in a
/// bucket where most keys are deleted. AWS, too, may end a page short with more to come.
pub(crate) const MAX_HIDDEN: usize = 1000;

/// Keys fetched per batch, at least, by a page in a bucket that may hold delete markers.
const MARKER_BATCH: usize = 100;

/// One page of [`Store::list_page`].
#[derive(Debug, Default)]
pub(crate) struct ListPage {
    pub(crate) entries: Vec<ListEntry>,
    /// Set when more may follow: the key or common prefix the next page starts after. It can
    /// lie beyond the last entry (hidden keys passed over) and always beyond the start, so
    /// following it makes progress.
    pub(crate) next: Option<String>,
}

/// What a [`Store::list_page_with`] lists.
pub(crate) struct PageQuery<'a> {
    pub(crate) bucket: &'a str,
    pub(crate) prefix: &'a str,
    /// Empty: group nothing.
    pub(crate) delimiter: &'a str,
    /// The bucket may hold delete markers (it ever had versioning).
    pub(crate) markers: bool,
    /// Hidden keys passed over before the page ends early.
    pub(crate) max_hidden: usize,
}

fn after(start_after: &str) -> Bound<String> {
    if start_after.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Excluded(start_after.to_string())
    }
}

fn as_ref(b: &Bound<String>) -> Bound<&str> {
    b.as_ref().map(String::as_str)
}

/// The common prefix `key` rolls up into: `prefix` plus the rest up to and including the
/// first `delimiter`.
fn common_prefix<'a>(prefix: &str, delimiter: &str, key: &'a str) -> Option<&'a str> {
    let rest = key.strip_prefix(prefix)?;
    rest.find(delimiter)
        .map(|i| &key[..prefix.len() + i + delimiter.len()])
}

/// The common prefix `key` rolls up into under `delimiter` (empty: none).
fn common_prefix_of(prefix: &str, delimiter: &str, key: &str) -> Option<String> {
    if delimiter.is_empty() {
        None
    } else {
        common_prefix(prefix, delimiter, key).map(str::to_owned)
    }
}

/// Where a listing after `start_after` starts: past everything beneath `start_after` when it
/// is a common prefix (a page resuming after one); `None` when nothing can follow.
fn lower_bound(prefix: &str, delimiter: &str, start_after: &str) -> Option<Bound<String>> {
    match common_prefix_of(prefix, delimiter, start_after) {
        Some(cp) if cp == start_after => successor(&cp).map(Bound::Included),
        _ => Some(after(start_after)),
    }
}

/// The smallest string above every string that starts with `s` (None if there is none).
fn successor(s: &str) -> Option<String> {
    let mut chars: Vec<char> = s.chars().collect();
    while let Some(c) = chars.pop() {
        let next = match c as u32 {
            0xD7FF => Some('\u{E000}'),
            n => char::from_u32(n + 1),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

impl Store {
    /// Up to `limit` objects whose keys start with `prefix` and sort strictly after
    /// `start_after` (empty: from the start), in UTF-8 byte order, and whether more follow.
    /// Records deleted while listing, or that do not decode, are skipped.
    pub async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: &str,
        limit: usize,
    ) -> Result<(Vec<(String, ObjectMeta)>, bool), StoreError> {
        layout::check_bucket(bucket)?;
        let mut out = Vec::new();
        let mut lower = after(start_after);
        loop {
            let need = limit - out.len();
            // One key beyond the page tells whether more follow.
            let mut keys = self
                .key_batch(bucket, prefix, as_ref(&lower), need + 1)
                .await?;
            let exhausted = keys.len() <= need;
            keys.truncate(need);
            if let Some(last) = keys.last() {
                lower = Bound::Excluded(last.clone());
            }
            out.extend(self.read_metas(bucket, keys).await?);
            if exhausted {
                return Ok((out, false));
            }
            if out.len() == limit {
                return Ok((out, true));
            }
            // Some listed records vanished meanwhile: fill the page from further keys.
        }
    }

    /// One ListObjects page: up to `limit` entries (objects and common prefixes, each counting
    /// one) with `prefix` after `start_after`, grouped by `delimiter` (empty: none). When
    /// `start_after` is itself a common prefix (as when resuming after one), everything beneath
    /// it is skipped.
    ///
    /// Keys whose current version is a delete marker are passed over, and so is a common
    /// prefix with nothing but such keys beneath it, as on AWS. `markers` says whether the
    /// bucket can hold any (it ever had versioning): only then does a common prefix cost a
    /// record read. A page passes over at most [`MAX_HIDDEN`] such keys, so its cost stays
    /// bounded by its size however many markers there are; it may then end short, or empty,
    /// with [`ListPage::next`] past the keys it passed over.
    pub(crate) async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: &str,
        start_after: &str,
        limit: usize,
        markers: bool,
    ) -> Result<ListPage, StoreError> {
        let q = PageQuery {
            bucket,
            prefix,
            delimiter,
            markers,
            max_hidden: MAX_HIDDEN,
        };
        self.list_page_with(&q, start_after, limit).await
    }

    /// [`Store::list_page`] with its budget of hidden keys as a parameter (for tests).
    pub(crate) async fn list_page_with(
        &self,
        q: &PageQuery<'_>,
        start_after: &str,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
        layout::check_bucket(q.bucket)?;
        let mut page = ListPage::default();
        let Some(mut lower) = lower_bound(q.prefix, q.delimiter, start_after) else {
            return Ok(page);
        };
        // The last key or common prefix consumed, returned or hidden: where a truncated page
        // resumes after.
        let mut cursor = start_after.to_owned();
        let mut hidden = 0;
        'batches: loop {
            // Where delete markers may hide keys, fetch more keys than the page needs: listing
            // keys is cheap next to one request per few keys.
            let floor = if q.markers { MARKER_BATCH } else { 0 };
            let want = (limit - page.entries.len() + 1).max(floor).min(BATCH);
            let keys = self
                .key_batch(q.bucket, q.prefix, as_ref(&lower), want)
                .await?;
            let exhausted = keys.len() < want;
            let mut rest = keys.as_slice();
            while let Some(first) = rest.first() {
                if page.entries.len() == limit {
                    page.next = Some(cursor);
                    return Ok(page);
                }
                if let Some(cp) = common_prefix_of(q.prefix, q.delimiter, first) {
                    // Shown only with a live key beneath it: the first keys beneath it are
                    // read together until one is live (within the budget).
                    let group = if q.markers {
                        rest.iter()
                            .take(READ_CONCURRENCY.min(q.max_hidden - hidden))
                            .take_while(|k| {
                                common_prefix_of(q.prefix, q.delimiter, k).as_ref() == Some(&cp)
                            })
                            .count()
                    } else {
                        1
                    };
                    let (beneath, after) = rest.split_at(group);
                    rest = after;
                    let live_at = if q.markers {
                        let metas = self.read_live(q.bucket, beneath).await?;
                        metas.iter().position(Option::is_some)
                    } else {
                        Some(0)
                    };
                    let Some(at) = live_at else {
                        let last = &beneath[beneath.len() - 1];
                        cursor.clone_from(last);
                        lower = Bound::Excluded(last.clone());
                        hidden += beneath.len();
                        if hidden >= q.max_hidden {
                            page.next = Some(cursor);
                            return Ok(page);
                        }
                        continue;
                    };
                    hidden += at;
                    let next = successor(&cp);
                    cursor.clone_from(&cp);
                    page.entries.push(ListEntry::CommonPrefix(cp));
                    match next {
                        Some(s) => lower = Bound::Included(s),
                        None => break 'batches,
                    }
                    // The rest of this batch is (mostly) beneath the prefix: query again.
                    continue 'batches;
                }
                // A run of keys that roll up into nothing, their records read together.
                let run = rest
                    .iter()
                    .take(limit - page.entries.len())
                    .take_while(|k| common_prefix_of(q.prefix, q.delimiter, k).is_none())
                    .count();
                let (keys, after) = rest.split_at(run);
                rest = after;
                for (key, meta) in keys.iter().zip(self.read_live(q.bucket, keys).await?) {
                    cursor.clone_from(key);
                    lower = Bound::Excluded(key.clone());
                    match meta {
                        Some(meta) => page.entries.push(ListEntry::Object {
                            key: key.clone(),
                            meta: Box::new(meta),
                        }),
                        None => {
                            hidden += 1;
                            if hidden >= q.max_hidden {
                                page.next = Some(cursor);
                                return Ok(page);
                            }
                        }
                    }
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(page)
    }

    /// Up to `limit` keys and common prefixes (each counting one) with `prefix` after
    /// `start_after`, in S3 order, and whether more follow; no record is read. When
    /// `start_after` is itself a common prefix (as when resuming after one), everything beneath
    /// it is skipped. An empty `delimiter` groups nothing.
    pub(crate) async fn list_rows(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: &str,
        start_after: &str,
        limit: usize,
    ) -> Result<(Vec<Row>, bool), StoreError> {
        layout::check_bucket(bucket)?;
        let roll_up = |key: &str| common_prefix_of(prefix, delimiter, key);
        let Some(mut lower) = lower_bound(prefix, delimiter, start_after) else {
            return Ok((Vec::new(), false));
        };
        let mut rows = Vec::new();
        let mut more = false;
        'batches: loop {
            let want = (limit - rows.len() + 1).min(BATCH);
            let keys = self.key_batch(bucket, prefix, as_ref(&lower), want).await?;
            let exhausted = keys.len() < want;
            for key in keys {
                if rows.len() == limit {
                    more = true;
                    break 'batches;
                }
                if let Some(cp) = roll_up(&key) {
                    let next = successor(&cp);
                    rows.push(Row::Prefix(cp));
                    match next {
                        Some(s) => lower = Bound::Included(s),
                        None => break 'batches,
                    }
                    // The rest of this batch is (mostly) beneath the prefix: query again.
                    continue 'batches;
                }
                lower = Bound::Excluded(key.clone());
                rows.push(Row::Key(key));
            }
            if exhausted {
                break;
            }
        }
        Ok((rows, more))
    }

    /// Up to `n` keys with `prefix` within `lower`, in order.
    async fn key_batch(
        &self,
        bucket: &str,
        prefix: &str,
        lower: Bound<&str>,
        n: usize,
    ) -> Result<Vec<String>, StoreError> {
        match self.mode {
            ListingMode::LocalIndex => {
                self.index
                    .page(bucket, prefix, lower, n, || self.walk_keys(bucket))
                    .await
            }
            ListingMode::Native => self.native_keys(bucket, prefix, lower, n).await,
        }
    }

    /// Every key of a bucket, by one walk of its meta folder (builds the local index).
    async fn walk_keys(&self, bucket: &str) -> Result<BTreeSet<String>, StoreError> {
        let dir = layout::meta_dir(bucket)?;
        let mut keys = BTreeSet::new();
        let mut stream = self.os.list(Some(&dir));
        while let Some(entry) = stream.next().await {
            let entry = entry.map_err(backend_err)?;
            if let Some(k) = layout::key_of_meta(&dir, &entry.location) {
                keys.insert(k);
            }
        }
        Ok(keys)
    }

    async fn native_keys(
        &self,
        bucket: &str,
        prefix: &str,
        lower: Bound<&str>,
        n: usize,
    ) -> Result<Vec<String>, StoreError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let dir = layout::meta_dir(bucket)?;
        // Encoded keys sort like keys, so lower bounds become exclusive path offsets: keys
        // above `s` encode above `encode_key(s)`; keys from `s` on (and keys with prefix `s`)
        // encode above `chunked_hex(s)`. The tighter of the two offsets wins.
        let mut offset = keyenc::chunked_hex(prefix.as_bytes());
        let bound_offset = match lower {
            Bound::Excluded(s) => keyenc::encode_key(s),
            Bound::Included(s) => keyenc::chunked_hex(s.as_bytes()),
            Bound::Unbounded => String::new(),
        };
        if bound_offset > offset {
            offset = bound_offset;
        }
        let mut stream = if offset.is_empty() {
            self.os.list(Some(&dir))
        } else {
            let o = Path::parse(format!("{dir}/{offset}"))
                .map_err(|e| StoreError::InvalidName(e.to_string()))?;
            self.os.list_with_offset(Some(&dir), &o)
        };
        let mut keys = Vec::new();
        while let Some(entry) = stream.next().await {
            let entry = entry.map_err(backend_err)?;
            let Some(key) = layout::key_of_meta(&dir, &entry.location) else {
                continue;
            };
            let within = match lower {
                Bound::Excluded(s) => key.as_str() > s,
                Bound::Included(s) => key.as_str() >= s,
                Bound::Unbounded => true,
            };
            if !within {
                continue; // a backend that ignores the offset stays correct, only slower
            }
            if !key.starts_with(prefix) {
                if key.as_str() > prefix {
                    break; // past the prefix range
                }
                continue;
            }
            keys.push(key);
            if keys.len() == n {
                break;
            }
        }
        Ok(keys)
    }

    /// The meta records of `keys`, in order, read concurrently; missing or undecodable
    /// records, and delete markers, are left out.
    pub(super) async fn read_metas(
        &self,
        bucket: &str,
        keys: Vec<String>,
    ) -> Result<Vec<(String, ObjectMeta)>, StoreError> {
        let metas = self.read_live(bucket, &keys).await?;
        Ok(keys
            .into_iter()
            .zip(metas)
            .filter_map(|(k, m)| m.map(|m| (k, m)))
            .collect())
    }

    /// The object record of each of `keys`, read concurrently: `None` where there is none,
    /// it does not decode or the current version is a delete marker.
    async fn read_live(
        &self,
        bucket: &str,
        keys: &[String],
    ) -> Result<Vec<Option<ObjectMeta>>, StoreError> {
        // Owned keys: a stream of borrowed ones makes the handler's future not `Send`
        // (rust-lang/rust#102211).
        let owned = keys.to_vec();
        let results: Vec<Result<Option<ObjectMeta>, StoreError>> = futures::stream::iter(owned)
            .map(|k| async move {
                match self.get_meta(bucket, &k).await {
                    Err(StoreError::Corrupt(_)) => Ok(None),
                    other => other,
                }
            })
            .buffered(READ_CONCURRENCY)
            .collect()
            .await;
        results.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_bounds_every_extension() {
        assert_eq!(successor("a/").as_deref(), Some("a0"));
        assert_eq!(successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(successor("\u{10FFFF}"), None);
        let s = successor("x/").unwrap();
        for ext in ["", "\u{10FFFF}\u{10FFFF}", "zzz", "/"] {
            assert!(format!("x/{ext}") < s);
        }
    }

    #[test]
    fn common_prefix_rolls_up_at_first_delimiter() {
        assert_eq!(common_prefix("", "/", "a/b/c"), Some("a/"));
        assert_eq!(common_prefix("a/", "/", "a/b/c"), Some("a/b/"));
        assert_eq!(common_prefix("a/", "/", "a/b"), None);
        assert_eq!(common_prefix("", "::", "x::y::z"), Some("x::"));
        assert_eq!(common_prefix("q", "/", "a/b"), None);
    }
}
