//! Object listing in S3 order, plain and delimited.
//!
//! Both listing modes reduce to one primitive, "the next `n` keys with this prefix from this
//! lower bound" ([`Store::key_batch`]): a range query on the local index, or an offset listing
//! on a sorted backend (valid because `keyenc` preserves order). Everything else — pages,
//! common prefixes, skipping past a common prefix — is built on it, so a page costs O(page)
//! and a delimited listing costs one batch per common prefix, never a walk of the keys
//! beneath it. Meta records are read only for the objects a page returns.

use std::collections::{BTreeSet, HashMap};
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

impl ListEntry {
    /// The key or common prefix: what a continuation resumes after.
    pub(crate) fn name(&self) -> &str {
        match self {
            ListEntry::Object { key, .. } => key,
            ListEntry::CommonPrefix(p) => p,
        }
    }
}

/// A key or a common prefix of a listing, before any record is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Row {
    Key(String),
    Prefix(String),
}

/// Keys fetched per batch in a delimited listing.
const BATCH: usize = 1000;

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

    /// ListObjects with a delimiter: up to `limit` entries (objects and common prefixes, each
    /// counting one) after `start_after`, and whether more follow. When `start_after` is itself
    /// a common prefix (as when resuming after one), everything beneath it is skipped. An
    /// empty `delimiter` lists plain objects.
    pub(crate) async fn list_delimited(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: &str,
        start_after: &str,
        limit: usize,
    ) -> Result<(Vec<ListEntry>, bool), StoreError> {
        if delimiter.is_empty() {
            let (objects, more) = self
                .list_objects(bucket, prefix, start_after, limit)
                .await?;
            let entries = objects
                .into_iter()
                .map(|(key, meta)| ListEntry::Object {
                    key,
                    meta: Box::new(meta),
                })
                .collect();
            return Ok((entries, more));
        }
        let (rows, more) = self
            .list_rows(bucket, prefix, delimiter, start_after, limit)
            .await?;
        let keys = rows
            .iter()
            .filter_map(|r| match r {
                Row::Key(k) => Some(k.clone()),
                Row::Prefix(_) => None,
            })
            .collect();
        let mut metas: HashMap<String, ObjectMeta> =
            self.read_metas(bucket, keys).await?.into_iter().collect();
        let entries = rows
            .into_iter()
            .filter_map(|r| match r {
                Row::Prefix(p) => Some(ListEntry::CommonPrefix(p)),
                Row::Key(key) => metas.remove(&key).map(|meta| ListEntry::Object {
                    key,
                    meta: Box::new(meta),
                }),
            })
            .collect();
        Ok((entries, more))
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
        let roll_up = |key: &str| -> Option<String> {
            if delimiter.is_empty() {
                None
            } else {
                common_prefix(prefix, delimiter, key).map(str::to_owned)
            }
        };
        let mut lower = match roll_up(start_after) {
            Some(cp) if cp == start_after => match successor(&cp) {
                Some(s) => Bound::Included(s),
                None => return Ok((Vec::new(), false)),
            },
            _ => after(start_after),
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
    /// records are left out.
    pub(super) async fn read_metas(
        &self,
        bucket: &str,
        keys: Vec<String>,
    ) -> Result<Vec<(String, ObjectMeta)>, StoreError> {
        let results: Vec<Result<Option<(String, ObjectMeta)>, StoreError>> =
            futures::stream::iter(keys)
                .map(|k| async move {
                    match self.get_meta(bucket, &k).await {
                        Ok(Some(m)) => Ok(Some((k, m))),
                        Ok(None) | Err(StoreError::Corrupt(_)) => Ok(None),
                        Err(e) => Err(e),
                    }
                })
                .buffered(READ_CONCURRENCY)
                .collect()
                .await;
        results.into_iter().filter_map(Result::transpose).collect()
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
