//! Object versions (docs/STORAGE.md "Versions").
//!
//! The current version of a key — an object or a delete marker — is its record under `meta/`,
//! exactly where an unversioned object lives, so today's objects are the `null` version
//! without any migration and ListObjects, GET and HEAD read one record as before. The other
//! versions live under `versions/<bucket>/<encoded key>/<name>`, one record each, where `name`
//! is the version id. Version ids start with the creation time inverted
//! (`u64::MAX − nanoseconds`, 16 hex digits), so a key's folder lists newest first; a `null`
//! version that stopped being current is named by its own inverted time plus `null`.
//!
//! One rule decides what a write does with the version it replaces: a record with the *same*
//! version id is replaced (its generation retired unless the new record keeps it, as a tag
//! change does); a record with *another* id is kept, written under `versions/` **before** the
//! swap, so a crash leaves at worst the same version twice (readers prefer `meta/` and skip the
//! copy), never a version that is nowhere. Unversioned buckets only ever write `null` records,
//! so they behave as before; while versioning is suspended a new `null` version also replaces
//! a `null` version kept under `versions/`.
//!
//! A ListObjectVersions page walks keys through the same key index as ListObjects (every key
//! with any version has a `meta/` record: deleting the current version promotes the newest
//! other one) and lists the version folder of each key it shows, so its cost follows the page
//! and the versions of the keys on it, never the bucket's whole history.

use futures::TryStreamExt;
use object_store::path::Path;
use rand::RngCore;

use super::listing::Row;
use super::{Expect, Store, StoreError, backend_err, layout, records};
use crate::meta::{BucketRecord, Version};

/// A bucket's versioning state (PutBucketVersioning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Versioning {
    /// Never enabled: only `null` versions, each write replaces the key's only record.
    Off,
    Enabled,
    Suspended,
}

impl Versioning {
    pub(crate) fn of(bucket: &BucketRecord) -> Versioning {
        match bucket.versioning.as_deref() {
            Some("Enabled") => Versioning::Enabled,
            Some("Suspended") => Versioning::Suspended,
            _ => Versioning::Off,
        }
    }

    /// The version id a new write gets: a fresh one while enabled, else `null` (`None`).
    pub(crate) fn new_id(self) -> Option<String> {
        (self == Versioning::Enabled).then(new_version_id)
    }
}

const ID_TIME_HEX: usize = 16;
const ID_RANDOM: usize = 16;
const NULL_SUFFIX: &str = "null";
const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn inverted_time(nanos: u64) -> String {
    format!("{:016x}", u64::MAX - nanos)
}

/// A fresh version id: 16 hex digits of the inverted creation time in nanoseconds, then 16
/// random characters of `[0-9A-Za-z]` (32 characters, like AWS's, and safe in paths and URLs).
pub fn new_version_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let mut rnd = [0u8; ID_RANDOM];
    rand::rng().fill_bytes(&mut rnd);
    let mut id = inverted_time(nanos);
    id.extend(
        rnd.iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char),
    );
    id
}

/// Whether `s` is a version id this gateway could have issued (or `null`).
pub fn is_version_id(s: &str) -> bool {
    s == NULL_SUFFIX
        || (s.len() == ID_TIME_HEX + ID_RANDOM
            && s[..ID_TIME_HEX]
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            && s[ID_TIME_HEX..].bytes().all(|c| c.is_ascii_alphanumeric()))
}

/// The name a non-current version is kept under.
fn entry_name(v: &Version) -> String {
    match v.version_id() {
        Some(id) => id.to_owned(),
        None => {
            let nanos = u64::try_from(v.last_modified_ms().max(0)).unwrap_or(0) * 1_000_000;
            format!("{}{NULL_SUFFIX}", inverted_time(nanos))
        }
    }
}

fn is_null_name(name: &str) -> bool {
    name.len() == ID_TIME_HEX + NULL_SUFFIX.len() && name.ends_with(NULL_SUFFIX)
}

/// One row of a ListObjectVersions page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VersionRow {
    Version {
        key: String,
        version: Version,
        is_latest: bool,
    },
    CommonPrefix(String),
}

/// A ListObjectVersions page: its rows, and where the next page starts when it is truncated
/// (`(key, version id)`; the id is `None` after a common prefix).
#[derive(Debug, Default)]
pub(crate) struct VersionPage {
    pub(crate) rows: Vec<VersionRow>,
    pub(crate) next: Option<(String, Option<String>)>,
}

impl VersionPage {
    /// Adds a row unless the page is full, in which case it is marked truncated after its
    /// last row and `false` is returned.
    fn push(&mut self, row: VersionRow, limit: usize) -> bool {
        if self.rows.len() == limit {
            self.next = self.rows.last().map(|r| match r {
                VersionRow::Version { key, version, .. } => (
                    key.clone(),
                    Some(version.version_id().unwrap_or(NULL_SUFFIX).to_owned()),
                ),
                VersionRow::CommonPrefix(p) => (p.clone(), None),
            });
            return false;
        }
        self.rows.push(row);
        true
    }
}

fn id_str(v: &Version) -> &str {
    v.version_id().unwrap_or(NULL_SUFFIX)
}

impl Store {
    /// The current version of `key`, delete markers included.
    pub(crate) async fn get_current(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<Version>, StoreError> {
        self.read_version_at(&layout::meta(bucket, key)?).await
    }

    /// The version `version_id` (`null` included) of `key`, current or not.
    pub(crate) async fn get_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Option<Version>, StoreError> {
        Ok(self
            .find_version(bucket, key, version_id)
            .await?
            .map(|(_, v)| v))
    }

    /// [`Store::get_version`] with where its record is (for `sealgate inspect`).
    pub(crate) async fn find_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Option<(Path, Version)>, StoreError> {
        let path = layout::meta(bucket, key)?;
        if let Some(cur) = self.read_version_at(&path).await?
            && id_str(&cur) == version_id
        {
            return Ok(Some((path, cur)));
        }
        self.find_noncurrent(bucket, key, version_id).await
    }

    /// A non-current version by id, with its path.
    async fn find_noncurrent(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Option<(Path, Version)>, StoreError> {
        if version_id == NULL_SUFFIX {
            return Ok(self
                .noncurrent(bucket, key)
                .await?
                .into_iter()
                .find(|(name, _)| is_null_name(name))
                .map(|(name, v)| (layout::version(bucket, key, &name), v))
                .and_then(|(p, v)| p.ok().map(|p| (p, v))));
        }
        if !is_version_id(version_id) {
            return Ok(None);
        }
        let path = layout::version(bucket, key, version_id)?;
        Ok(self.read_version_at(&path).await?.map(|v| (path, v)))
    }

    /// The non-current versions of `key`, newest first, as `(name, version)`. Records that do
    /// not decode are left out.
    async fn noncurrent(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<(String, Version)>, StoreError> {
        let dir = layout::versions_dir(bucket, key)?;
        let mut listed: Vec<object_store::ObjectMeta> = self
            .os
            .list(Some(&dir))
            .map_err(backend_err)
            .try_collect()
            .await?;
        listed.sort_by(|a, b| a.location.cmp(&b.location));
        let mut out = Vec::with_capacity(listed.len());
        for e in listed {
            let Some(name) = e.location.filename().map(str::to_owned) else {
                continue;
            };
            match self.read_version_at(&e.location).await {
                Ok(Some(v)) => out.push((name, v)),
                Ok(None) | Err(StoreError::Corrupt(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Every version of `key`, newest (the current one) first.
    pub(crate) async fn all_versions(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<Version>, StoreError> {
        let current = match self.get_current(bucket, key).await {
            Ok(c) => c,
            Err(StoreError::Corrupt(_)) => None,
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        let current_id = current.as_ref().map(|c| id_str(c).to_owned());
        out.extend(current);
        for (_, v) in self.noncurrent(bucket, key).await? {
            // A copy of the current version left by a crash between keeping it and the swap.
            if Some(id_str(&v)) != current_id.as_deref() {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Makes `new` the current version of `key` (see the module docs for what happens to the
    /// version it replaces) when `expect` holds for the current record. Returns the
    /// generations no version references any more, for the caller to retire.
    pub(crate) async fn put_current(
        &self,
        bucket: &str,
        key: &str,
        new: &Version,
        versioning: Versioning,
        expect: &Expect,
    ) -> Result<Vec<String>, StoreError> {
        if let Version::Object(m) = new
            && m.format != crate::meta::META_FORMAT_V1
        {
            super::check_format(&m.format, crate::meta::META_FORMAT)?;
        }
        let path = layout::meta(bucket, key)?;
        let body = records::encode_version(new)?;
        let _guard = self.lock("meta", bucket, key).await;
        let before = self.get_bytes(&path).await?;
        if !expect.holds(before.as_ref()) {
            return Err(StoreError::ConditionFailed);
        }
        let mut retire = Vec::new();
        if let Some(b) = &before {
            self.keep_or_replace(bucket, key, b, new, &mut retire)
                .await?;
        }
        let prev = self.swap_record(&path, body, expect, Some(&before)).await?;
        // Another gateway wrote in between: what it wrote is replaced too.
        if let Some(p) = &prev
            && Some(p) != before.as_ref()
        {
            self.keep_or_replace(bucket, key, p, new, &mut retire)
                .await?;
        }
        if versioning == Versioning::Suspended && new.version_id().is_none() {
            // The one `null` version of a key: the new one replaces a kept one.
            for (name, v) in self.noncurrent(bucket, key).await? {
                if is_null_name(&name) {
                    self.delete_path(&layout::version(bucket, key, &name)?)
                        .await?;
                    retire.extend(v.blob_generation().map(str::to_owned));
                }
            }
        }
        if self.mode == super::ListingMode::LocalIndex {
            self.index.insert(bucket, key).await;
        }
        let keep = new.generation();
        retire.retain(|g| Some(g.as_str()) != keep);
        Ok(retire)
    }

    /// The rule for the record `raw` that `new` replaces: same version id → replaced (its
    /// generation to retire), another id → kept under `versions/`.
    async fn keep_or_replace(
        &self,
        bucket: &str,
        key: &str,
        raw: &[u8],
        new: &Version,
        retire: &mut Vec<String>,
    ) -> Result<(), StoreError> {
        let Ok(old) = records::decode_version(raw) else {
            return Ok(()); // undecodable: overwritten, its blobs orphans for the sweep
        };
        if old.version_id() == new.version_id() {
            retire.extend(old.blob_generation().map(str::to_owned));
            return Ok(());
        }
        let path = layout::version(bucket, key, &entry_name(&old))?;
        self.put_bytes(
            &path,
            bytes::Bytes::copy_from_slice(raw),
            object_store::PutMode::Overwrite,
        )
        .await
    }

    /// Rewrites a non-current version in place (a tag change), only while it still references
    /// `generation`. `NotFound` when the version is gone.
    pub(crate) async fn replace_noncurrent(
        &self,
        bucket: &str,
        key: &str,
        meta: &crate::meta::ObjectMeta,
    ) -> Result<(), StoreError> {
        let id = meta.version_id.as_deref().unwrap_or(NULL_SUFFIX);
        let _guard = self.lock("meta", bucket, key).await;
        let Some((path, old)) = self.find_noncurrent(bucket, key, id).await? else {
            return Err(StoreError::NotFound);
        };
        if old.generation() != Some(meta.generation.as_str()) {
            return Err(StoreError::ConditionFailed);
        }
        self.put_bytes(
            &path,
            records::encode(meta)?,
            object_store::PutMode::Overwrite,
        )
        .await
    }

    /// Removes version `version_id` of `key` for good and returns it (`None`: no such
    /// version). Removing the current version makes the newest other one current; the
    /// caller retires the removed version's generation.
    pub(crate) async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Option<Version>, StoreError> {
        let path = layout::meta(bucket, key)?;
        let _guard = self.lock("meta", bucket, key).await;
        let current = self.get_current(bucket, key).await?;
        let Some(cur) = current.filter(|c| id_str(c) == version_id) else {
            let Some((p, v)) = self.find_noncurrent(bucket, key, version_id).await? else {
                return Ok(None);
            };
            self.delete_path(&p).await?;
            return Ok(Some(v));
        };
        let mut promoted = None;
        for (name, v) in self.noncurrent(bucket, key).await? {
            let p = layout::version(bucket, key, &name)?;
            if id_str(&v) == version_id {
                self.delete_path(&p).await?; // a leftover copy of the current version
                continue;
            }
            promoted = Some((p, v));
            break;
        }
        match promoted {
            Some((p, v)) => {
                // The swap first: the promoted version is never in neither place.
                self.swap_record(&path, records::encode_version(&v)?, &Expect::Any, None)
                    .await?;
                self.delete_path(&p).await?;
            }
            None => {
                self.delete_path(&path).await?;
                if self.mode == super::ListingMode::LocalIndex {
                    self.index.remove(bucket, key).await;
                }
            }
        }
        Ok(Some(cur))
    }

    /// ListObjectVersions: up to `limit` rows (versions and common prefixes) with `prefix`,
    /// starting after `key_marker` — inside it, after `version_id_marker`, when one is given —
    /// each key's versions newest first.
    pub(crate) async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: &str,
        key_marker: &str,
        version_id_marker: Option<&str>,
        limit: usize,
    ) -> Result<VersionPage, StoreError> {
        let mut page = VersionPage::default();
        if let Some(vm) = version_id_marker.filter(|_| !key_marker.is_empty())
            && key_marker.starts_with(prefix)
        {
            let versions = self.all_versions(bucket, key_marker).await?;
            let start = versions
                .iter()
                .position(|v| id_str(v) == vm)
                .map_or(versions.len(), |i| i + 1);
            for (i, v) in versions.into_iter().enumerate().skip(start) {
                let row = VersionRow::Version {
                    key: key_marker.to_owned(),
                    version: v,
                    is_latest: i == 0,
                };
                if !page.push(row, limit) {
                    return Ok(page);
                }
            }
        }
        let mut cursor = key_marker.to_owned();
        loop {
            let want = limit - page.rows.len() + 1;
            let (rows, more) = self
                .list_rows(bucket, prefix, delimiter, &cursor, want)
                .await?;
            for row in rows {
                match row {
                    Row::Prefix(p) => {
                        cursor.clone_from(&p);
                        if !page.push(VersionRow::CommonPrefix(p), limit) {
                            return Ok(page);
                        }
                    }
                    Row::Key(key) => {
                        cursor.clone_from(&key);
                        for (i, v) in self
                            .all_versions(bucket, &key)
                            .await?
                            .into_iter()
                            .enumerate()
                        {
                            let row = VersionRow::Version {
                                key: key.clone(),
                                version: v,
                                is_latest: i == 0,
                            };
                            if !page.push(row, limit) {
                                return Ok(page);
                            }
                        }
                    }
                }
            }
            if !more {
                return Ok(page);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_sort_newest_first_and_validate() {
        let a = new_version_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_version_id();
        assert!(b < a, "{b} !< {a}");
        assert!(is_version_id(&a) && is_version_id("null"));
        for bad in [
            "",
            "nul",
            "x",
            &a[..31],
            &format!("{a}0"),
            &a.replace(&a[..1], "G"),
        ] {
            assert!(!is_version_id(bad), "{bad}");
        }
        let null = Version::Marker(crate::meta::DeleteMarker {
            format: crate::meta::DELETE_MARKER_FORMAT.into(),
            version_id: None,
            last_modified_ms: 1,
        });
        assert!(is_null_name(&entry_name(&null)));
        assert!(!is_null_name(&a));
    }
}
