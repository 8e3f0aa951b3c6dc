//! Persistence of buckets, object meta records, ciphertext blobs and multipart uploads over
//! `object_store`, with one layout for the local filesystem and S3-compatible backends (see
//! `docs/STORAGE.md` and [`layout`]).
//!
//! The protocol that keeps readers safe without locks: a PUT writes its blobs into a fresh
//! generation, then swaps the meta record with one atomic put ([`Store::put_meta`] returns the
//! record it replaced), and only then is the previous generation *retired* (the commits in
//! `commit.rs` do the three steps for handlers): [`Store::sweep`] deletes it once it has been
//! unreferenced for a grace period, so readers that opened it before the swap finish (see
//! `sweep.rs`). A crash in between leaves unreferenced blobs, which the sweep reclaims the same
//! way. Keys are encoded by [`keyenc`] so every valid S3 key round-trips and sorts in S3
//! order; listing is a range query on an in-memory index for the local filesystem
//! ([`ListingMode::LocalIndex`]) and an offset listing on sorted backends
//! ([`ListingMode::Native`]).

pub mod backend;
mod blob;
mod blob_read;
mod commit;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod dir_sync;
mod direct_write;
pub(crate) mod keyenc;
pub(crate) mod layout;
mod listing;
mod local_index;
mod local_write;
mod private_fs;
pub(crate) mod records;
mod sweep;
mod versions;

#[cfg(test)]
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions};
use tokio::sync::Mutex;

pub(crate) use blob::BlobWriter;
pub(crate) use blob_read::BlobReader;
pub use listing::ListEntry;
pub(crate) use listing::Row;
pub use sweep::{SweepPolicy, SweepReport};
pub(crate) use versions::{VersionRow, Versioning};
pub use versions::{is_version_id, new_version_id};

use crate::meta::{
    BUCKET_FORMAT, BucketRecord, COMPLETION_FORMAT, CompletionRecord, META_FORMAT, META_FORMAT_V1,
    ObjectMeta, PartLayout, UPLOAD_FORMAT, UploadRecord, Version,
};
use blob::RecentGenerations;
use local_index::LocalIndex;

/// Errors of the store. `Backend` is an outage (503); `Corrupt` is a record or blob that does
/// not decode or disagrees with its meta record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    #[error("not empty")]
    NotEmpty,
    #[error("storage backend error: {0}")]
    Backend(String),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// A bucket, generation, upload id, blob name, part number or key the layout cannot hold
    /// (a caller bug: handlers validate names first).
    #[error("invalid name: {0}")]
    InvalidName(String),
    /// A conditional write ([`Expect`]) found another record than it expected: a concurrent
    /// write won the race.
    #[error("the record changed since it was read")]
    ConditionFailed,
}

/// What a conditional record write expects to replace (conditional PUTs, tag changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Whatever is there: an unconditional write.
    Any,
    /// No record (`If-None-Match: *`).
    Absent,
    /// The record of this generation (the one read before, e.g. for `If-Match`). A tag change
    /// keeps the generation, an overwrite never does, so a stale tag change cannot bring back
    /// an object that was replaced.
    Generation(String),
}

impl Expect {
    /// Whether the stored record `prev` (raw; `None` when absent) is what is expected. A record
    /// that does not decode only satisfies [`Expect::Any`].
    fn holds(&self, prev: Option<&Bytes>) -> bool {
        match (self, prev) {
            (Expect::Any, _) => true,
            // A delete marker hides its key: `If-None-Match: *` may write over it.
            (Expect::Absent, p) => p.is_none_or(|b| {
                matches!(
                    records::decode_version(b),
                    Ok(crate::meta::Version::Marker(_))
                )
            }),
            (Expect::Generation(_), None) => false,
            (Expect::Generation(g), Some(b)) => {
                records::decode_meta(b).is_ok_and(|m| &m.generation == g)
            }
        }
    }
}

pub(crate) fn backend_err(e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { .. } => StoreError::NotFound,
        object_store::Error::AlreadyExists { .. } => StoreError::AlreadyExists,
        other => StoreError::Backend(other.to_string()),
    }
}

/// How [`Store::list_objects`] finds keys in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingMode {
    /// The backend lists in lexical order and honours `list_with_offset` (S3 and compatibles,
    /// `InMemory`). Each page costs O(page) requests-worth of work. Wrong for the local
    /// filesystem, whose listing is unsorted.
    Native,
    /// Keep a sorted in-memory index per bucket, built by one walk on first listing. Only valid
    /// when this `Store` is the sole writer of the backend (the local data dir).
    LocalIndex,
}

/// Options of the local filesystem backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalOptions {
    /// fsync every written file and its directory before a write returns (default on).
    pub fsync: bool,
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self { fsync: true }
    }
}

/// Blob write buffer for remote backends: S3 parts must be at least 5 MiB.
const REMOTE_BLOB_BUFFER: usize = 8 * 1024 * 1024;
/// Blob write buffer for the local filesystem, where parts have no minimum size.
const LOCAL_BLOB_BUFFER: usize = 1024 * 1024;
/// Bytes per read of a local blob at full speed: large enough that a read costs little next
/// to its bytes. A GET reads ahead about this much (docs/PERFORMANCE.md, slow clients).
pub(crate) const BLOB_READ_CHUNK: usize = 256 * 1024;
/// Per-key lock stripes serialising read-previous-then-write of meta and part records. A PUT
/// holds its stripe across its record's fsyncs, so two PUTs of different keys on one stripe
/// wait for each other's disk: with 64 stripes a third of the bursts of 8 PUTs in flight had
/// such a pair (1 − ∏(1 − i/64)); with 1,024, 3% (a few tens of KiB of mutexes).
const LOCK_STRIPES: usize = 1024;
/// Conditional record writes tried before a contended swap gives up (503).
const SWAP_ATTEMPTS: u32 = 16;
/// Concurrent record reads while listing.
const READ_CONCURRENCY: usize = 16;

/// The storage of one gateway. Cheap to clone; clones share index and locks.
#[derive(Clone)]
pub struct Store {
    os: Arc<dyn ObjectStore>,
    mode: ListingMode,
    index: Arc<LocalIndex>,
    stripes: Arc<Vec<Mutex<()>>>,
    recent: Arc<RecentGenerations>,
    blob_buffer: usize,
    /// The data dir of a local store: the sweep walks it for staging files (`name#123`) that
    /// `object_store`'s listing hides.
    local_root: Option<std::path::PathBuf>,
    /// The local backend (the same as `os`), for the writes and reads the store does itself.
    local_fs: Option<Arc<private_fs::PrivateFs>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.os.to_string())
            .field("mode", &self.mode)
            .finish()
    }
}

impl Store {
    /// A store over any backend.
    pub fn new(os: Arc<dyn ObjectStore>, listing: ListingMode) -> Self {
        Self {
            os,
            mode: listing,
            index: Arc::new(LocalIndex::default()),
            stripes: Arc::new((0..LOCK_STRIPES).map(|_| Mutex::new(())).collect()),
            recent: Arc::new(RecentGenerations::default()),
            blob_buffer: REMOTE_BLOB_BUFFER,
            local_root: None,
            local_fs: None,
        }
    }

    /// A store over a remote backend (S3-compatible, GCS, Azure), shared with other gateways:
    /// native listing, no local index, multipart blob writes in parts S3 accepts.
    pub fn remote(spec: &backend::RemoteBackend) -> Result<Self, StoreError> {
        Ok(Self::new(spec.open()?, ListingMode::Native))
    }

    /// A store in directory `root` (created if missing), fsync on.
    pub fn local(root: &std::path::Path) -> Result<Self, StoreError> {
        Self::local_with(root, LocalOptions::default())
    }

    /// A store in directory `root` (created if missing) with explicit options.
    pub fn local_with(root: &std::path::Path, opts: LocalOptions) -> Result<Self, StoreError> {
        crate::fsutil::create_private_dir_all(root)
            .map_err(|e| StoreError::Backend(format!("create {}: {e}", root.display())))?;
        let fs = LocalFileSystem::new_with_prefix(root)
            .map_err(backend_err)?
            // Long keys and generations are directories; remove them when they empty.
            .with_automatic_cleanup(true)
            .with_fsync(opts.fsync);
        let fs = Arc::new(private_fs::PrivateFs::new(
            fs,
            root.to_path_buf(),
            opts.fsync,
        ));
        let mut store = Self::new(fs.clone(), ListingMode::LocalIndex);
        store.blob_buffer = LOCAL_BLOB_BUFFER;
        store.local_root = Some(root.to_path_buf());
        store.local_fs = Some(fs);
        Ok(store)
    }

    /// The backend, for callers that need it directly (e.g. `inspect`).
    pub fn backend(&self) -> &Arc<dyn ObjectStore> {
        &self.os
    }

    pub fn listing_mode(&self) -> ListingMode {
        self.mode
    }

    async fn lock(&self, scope: &str, bucket: &str, name: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (scope, bucket, name).hash(&mut h);
        self.stripes[(h.finish() % LOCK_STRIPES as u64) as usize]
            .lock()
            .await
    }

    async fn get_bytes(&self, path: &Path) -> Result<Option<Bytes>, StoreError> {
        if let Some(local) = &self.local_fs {
            return local.read(path).await.map_err(backend_err);
        }
        match self.os.get(path).await {
            Ok(r) => Ok(Some(r.bytes().await.map_err(backend_err)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn put_bytes(&self, path: &Path, body: Bytes, mode: PutMode) -> Result<(), StoreError> {
        let opts = PutOptions {
            mode,
            ..Default::default()
        };
        self.os
            .put_opts(path, body.into(), opts)
            .await
            .map(|_| ())
            .map_err(backend_err)
    }

    /// Replaces the record at `path` with `body` and returns the bytes it replaced, such that
    /// every replaced record is returned to exactly one writer (who then deletes its blobs).
    ///
    /// Within this `Store` the caller's stripe lock serialises writers. Several gateways on one
    /// remote backend have no common lock, so there ([`ListingMode::Native`]) the write is
    /// conditional on the record read — `If-Match` its ETag, or `If-None-Match: *` when there
    /// was none — and retried after a lost race. A backend that ignores those headers degrades
    /// to last-writer-wins, where a lost race only orphans a generation for the sweep.
    ///
    /// The write happens only when `expect` holds for the record it replaces (checked on the
    /// same read the conditional write depends on), else [`StoreError::ConditionFailed`].
    ///
    /// `read`: the record as the caller read it under its stripe lock, if it did. A local
    /// store has one writer (this gateway) and every writer of a record holds its stripe, so
    /// that read is still the record and is not repeated (one `open` + `read` per PUT less).
    async fn swap_record(
        &self,
        path: &Path,
        body: Bytes,
        expect: &Expect,
        read: Option<&Option<Bytes>>,
    ) -> Result<Option<Bytes>, StoreError> {
        if self.mode == ListingMode::LocalIndex {
            let prev = match read {
                Some(r) => r.clone(),
                None => self.get_bytes(path).await?,
            };
            if !expect.holds(prev.as_ref()) {
                return Err(StoreError::ConditionFailed);
            }
            self.put_bytes(path, body, PutMode::Overwrite).await?;
            return Ok(prev);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (prev, mode) = match self.os.get(path).await {
                Ok(r) => {
                    let version = object_store::UpdateVersion {
                        e_tag: r.meta.e_tag.clone(),
                        version: r.meta.version.clone(),
                    };
                    (
                        Some(r.bytes().await.map_err(backend_err)?),
                        PutMode::Update(version),
                    )
                }
                Err(object_store::Error::NotFound { .. }) => (None, PutMode::Create),
                Err(e) => return Err(backend_err(e)),
            };
            if !expect.holds(prev.as_ref()) {
                return Err(StoreError::ConditionFailed);
            }
            let opts = PutOptions {
                mode,
                ..Default::default()
            };
            match self.os.put_opts(path, body.clone().into(), opts).await {
                Ok(_) => return Ok(prev),
                Err(
                    object_store::Error::Precondition { .. }
                    | object_store::Error::AlreadyExists { .. },
                ) if attempt < SWAP_ATTEMPTS => {
                    // Another gateway wrote in between: read its record and try again.
                    tokio::time::sleep(Duration::from_millis(5 * attempt as u64)).await;
                }
                Err(e) => return Err(backend_err(e)),
            }
        }
    }

    /// Deletes `path`; a missing object is not an error.
    async fn delete_path(&self, path: &Path) -> Result<(), StoreError> {
        match self.os.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn list_paths(&self, prefix: &Path) -> Result<Vec<object_store::ObjectMeta>, StoreError> {
        self.os
            .list(Some(prefix))
            .map_err(backend_err)
            .try_collect()
            .await
    }

    async fn any_under(&self, prefix: &Path) -> Result<bool, StoreError> {
        match self.os.list(Some(prefix)).next().await {
            None => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(backend_err(e)),
        }
    }

    // ---- gateway-wide system records ----

    /// A record under `system/<area>/<name>` (outside every bucket, so never listed).
    pub async fn get_system(&self, area: &str, name: &str) -> Result<Option<Bytes>, StoreError> {
        self.get_bytes(&layout::system_record(area, name)?).await
    }

    /// Writes a system record only if absent (`AlreadyExists` otherwise), so gateways racing
    /// to create the same record agree on the first writer's content.
    pub async fn create_system(
        &self,
        area: &str,
        name: &str,
        body: Bytes,
    ) -> Result<(), StoreError> {
        self.put_bytes(&layout::system_record(area, name)?, body, PutMode::Create)
            .await
    }

    /// The record names in `system/<area>`.
    pub async fn list_system(&self, area: &str) -> Result<Vec<String>, StoreError> {
        let dir = layout::system_dir(area)?;
        Ok(self
            .list_paths(&dir)
            .await?
            .into_iter()
            .filter_map(|m| m.location.filename().map(str::to_owned))
            .collect())
    }

    // ---- buckets ----

    /// Creates the bucket record; `AlreadyExists` if there is one.
    pub async fn create_bucket(&self, rec: &BucketRecord) -> Result<(), StoreError> {
        check_format(&rec.format, BUCKET_FORMAT)?;
        let path = layout::bucket_record(&rec.name)?;
        self.put_bytes(&path, records::encode(rec)?, PutMode::Create)
            .await?;
        self.index.forget(&rec.name);
        Ok(())
    }

    pub async fn get_bucket(&self, name: &str) -> Result<Option<BucketRecord>, StoreError> {
        let path = layout::bucket_record(name)?;
        match self.get_bytes(&path).await? {
            Some(b) => records::decode_bucket(&b).map(Some),
            None => Ok(None),
        }
    }

    /// Overwrites the bucket record (configuration changes).
    pub async fn put_bucket(&self, rec: &BucketRecord) -> Result<(), StoreError> {
        check_format(&rec.format, BUCKET_FORMAT)?;
        let path = layout::bucket_record(&rec.name)?;
        self.put_bytes(&path, records::encode(rec)?, PutMode::Overwrite)
            .await
    }

    /// Deletes a bucket without objects: `NotFound` if absent, `NotEmpty` if it holds an
    /// object. Uploads in progress are aborted with it, as S3 does; leftover (orphan or
    /// retired) blobs are removed with it.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), StoreError> {
        let path = layout::bucket_record(name)?;
        if self.get_bytes(&path).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        if self.any_under(&layout::meta_dir(name)?).await? {
            return Err(StoreError::NotEmpty);
        }
        // Upload records, parts and completion records go first; their blobs are in `data/`,
        // which goes next with every other leftover.
        for e in self.list_paths(&layout::uploads_dir(name)?).await? {
            self.delete_path(&e.location).await?;
        }
        // Leftover blobs go with the bucket (no object can be read from it any more), then
        // the retire markers that named them.
        for blob in self.list_paths(&layout::data_dir(name)?).await? {
            self.delete_path(&blob.location).await?;
        }
        for marker in self.list_paths(&layout::retired_dir(name)?).await? {
            self.delete_path(&marker.location).await?;
        }
        // Copies of current versions a crash left behind (every key with versions has a
        // current one, so a bucket without records has no others).
        for v in self.list_paths(&layout::bucket_versions_dir(name)?).await? {
            self.delete_path(&v.location).await?;
        }
        self.delete_path(&path).await?;
        self.index.forget(name);
        Ok(())
    }

    /// All buckets, sorted by name. A record that does not decode is skipped.
    pub async fn list_buckets(&self) -> Result<Vec<BucketRecord>, StoreError> {
        let entries = self.list_paths(&layout::buckets_dir()).await?;
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            if let Some(b) = self.get_bytes(&e.location).await?
                && let Ok(rec) = records::decode_bucket(&b)
            {
                out.push(rec);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    // ---- data blobs ----

    /// A fresh generation id (UUID v4).
    pub fn new_generation() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    /// Starts a streaming write of `data/<bucket>/<generation>/<blob>`.
    pub(crate) async fn blob_writer(
        &self,
        bucket: &str,
        generation: &str,
        blob: &str,
    ) -> Result<BlobWriter, StoreError> {
        let path = layout::blob(bucket, generation, blob)?;
        let recent = Arc::clone(&self.recent);
        match &self.local_fs {
            Some(fs) => BlobWriter::local(fs, &path, self.blob_buffer, bucket, generation, recent),
            None => Ok(BlobWriter::remote(
                Arc::clone(&self.os),
                path,
                self.blob_buffer,
                bucket,
                generation,
                recent,
            )),
        }
    }

    /// Streams bytes `range` of a blob. `NotFound` if the blob is missing, `Corrupt` if it is
    /// shorter than `range.end`.
    pub async fn read_blob(
        &self,
        bucket: &str,
        generation: &str,
        blob: &str,
        range: std::ops::Range<u64>,
    ) -> Result<BoxStream<'static, Result<Bytes, StoreError>>, StoreError> {
        let reader = self
            .open_blob(bucket, generation, blob, range, BLOB_READ_CHUNK)
            .await?;
        Ok(reader.into_stream(1))
    }

    /// [`Store::read_blob`] for a caller that decides how much to read at a time, in records of
    /// `record_len` bytes where the backend lets the store choose (the local filesystem); a
    /// caller that decodes fixed-size records gives their size.
    pub(crate) async fn open_blob(
        &self,
        bucket: &str,
        generation: &str,
        blob: &str,
        range: std::ops::Range<u64>,
        record_len: usize,
    ) -> Result<BlobReader, StoreError> {
        let path = layout::blob(bucket, generation, blob)?;
        blob_read::open(&self.os, &path, range, record_len).await
    }

    /// Copies a blob (a hard link on the local filesystem, a server-side copy on S3).
    /// `from`/`to` are `(bucket, generation, blob)`.
    pub async fn copy_blob(
        &self,
        from: (&str, &str, &str),
        to: (&str, &str, &str),
    ) -> Result<(), StoreError> {
        let src = layout::blob(from.0, from.1, from.2)?;
        let dst = layout::blob(to.0, to.1, to.2)?;
        self.recent.touch(to.0, to.1);
        self.os.copy(&src, &dst).await.map_err(backend_err)
    }

    /// Deletes one blob; a missing blob is not an error.
    pub async fn delete_blob(
        &self,
        bucket: &str,
        generation: &str,
        blob: &str,
    ) -> Result<(), StoreError> {
        self.delete_path(&layout::blob(bucket, generation, blob)?)
            .await
    }

    /// Deletes every blob of a generation; an empty or missing generation is not an error.
    pub async fn delete_generation(
        &self,
        bucket: &str,
        generation: &str,
    ) -> Result<(), StoreError> {
        let dir = layout::generation_dir(bucket, generation)?;
        for blob in self.list_paths(&dir).await? {
            self.delete_path(&blob.location).await?;
        }
        Ok(())
    }

    // ---- objects ----

    /// The version record at `path`: an object's meta record or a delete marker.
    async fn read_version_at(&self, path: &Path) -> Result<Option<Version>, StoreError> {
        match self.get_bytes(path).await? {
            Some(b) => records::decode_version(&b).map(Some),
            None => Ok(None),
        }
    }

    /// The object record at `path`; a delete marker reads as none.
    async fn read_meta_at(&self, path: &Path) -> Result<Option<ObjectMeta>, StoreError> {
        Ok(match self.read_version_at(path).await? {
            Some(Version::Object(m)) => Some(*m),
            _ => None,
        })
    }

    /// The current version's record of `key`; `None` when there is none or it is a delete
    /// marker (see [`Store::get_current`]).
    pub async fn get_meta(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        self.read_meta_at(&layout::meta(bucket, key)?).await
    }

    /// Atomically replaces the meta record of `key` and returns the record it replaced, whose
    /// generation the caller deletes afterwards. A previous record that does not decode is
    /// overwritten and reported as `None` (its blobs become orphans for the sweep).
    pub async fn put_meta(
        &self,
        bucket: &str,
        key: &str,
        meta: &ObjectMeta,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        self.put_meta_if(bucket, key, meta, &Expect::Any).await
    }

    /// [`Store::put_meta`] when the record it replaces is what `expect` says, else
    /// [`StoreError::ConditionFailed`] and nothing written.
    pub async fn put_meta_if(
        &self,
        bucket: &str,
        key: &str,
        meta: &ObjectMeta,
        expect: &Expect,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        // Version 1 is still written for copies of version 1 objects (they share its blobs).
        if meta.format != META_FORMAT_V1 {
            check_format(&meta.format, META_FORMAT)?;
        }
        let path = layout::meta(bucket, key)?;
        let body = records::encode(meta)?;
        let _guard = self.lock("meta", bucket, key).await;
        let prev = self.swap_record(&path, body, expect, None).await?;
        if self.mode == ListingMode::LocalIndex {
            self.index.insert(bucket, key).await;
        }
        // A previous record that does not decode (or a delete marker) is replaced and reported
        // as none.
        Ok(prev.and_then(|b| records::decode_meta(&b).ok()))
    }

    /// Deletes the meta record of `key` and returns it (`None` if there was none).
    pub async fn delete_meta(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        self.delete_meta_if(bucket, key, &Expect::Any).await
    }

    /// [`Store::delete_meta`] when the record is what `expect` says, else
    /// [`StoreError::ConditionFailed`]. Within one gateway the stripe lock makes the check and
    /// the delete one step; `object_store` has no conditional delete, so gateways sharing a
    /// remote backend can still race between the two.
    pub async fn delete_meta_if(
        &self,
        bucket: &str,
        key: &str,
        expect: &Expect,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        let path = layout::meta(bucket, key)?;
        let _guard = self.lock("meta", bucket, key).await;
        let raw = self.get_bytes(&path).await?;
        if !expect.holds(raw.as_ref()) {
            return Err(StoreError::ConditionFailed);
        }
        let prev = match raw {
            Some(b) => records::decode_meta(&b).ok(),
            None => return Ok(None),
        };
        self.delete_path(&path).await?;
        if self.mode == ListingMode::LocalIndex {
            self.index.remove(bucket, key).await;
        }
        Ok(prev)
    }

    // ---- multipart ----

    pub async fn create_upload(&self, rec: &UploadRecord) -> Result<(), StoreError> {
        check_format(&rec.format, UPLOAD_FORMAT)?;
        layout::check_name("generation", &rec.generation)?;
        let path = layout::upload_record(&rec.bucket, &rec.upload_id)?;
        self.put_bytes(&path, records::encode(rec)?, PutMode::Create)
            .await
    }

    pub async fn get_upload(
        &self,
        bucket: &str,
        upload_id: &str,
    ) -> Result<Option<UploadRecord>, StoreError> {
        let path = layout::upload_record(bucket, upload_id)?;
        match self.get_bytes(&path).await? {
            Some(b) => records::decode_upload(&b).map(Some),
            None => Ok(None),
        }
    }

    /// Records a part of an upload; returns the part it replaced (the caller deletes that
    /// part's blob). `NotFound` if the upload does not exist.
    pub async fn put_part(
        &self,
        bucket: &str,
        upload_id: &str,
        part: &PartLayout,
    ) -> Result<Option<PartLayout>, StoreError> {
        let path = layout::part(bucket, upload_id, part.part_number)?;
        layout::check_name("blob", &part.blob)?;
        if self.get_upload(bucket, upload_id).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        let body = records::encode(part)?;
        let _guard = self.lock("part", bucket, path.as_ref()).await;
        let prev = self.swap_record(&path, body, &Expect::Any, None).await?;
        Ok(prev.and_then(|b| records::decode_part(&b).ok()))
    }

    /// The recorded parts of an upload, sorted by part number (empty if none or no upload).
    pub async fn list_parts(
        &self,
        bucket: &str,
        upload_id: &str,
    ) -> Result<Vec<PartLayout>, StoreError> {
        let dir = layout::parts_dir(bucket, upload_id)?;
        let entries = self.list_paths(&dir).await?;
        let mut parts = Vec::with_capacity(entries.len());
        for e in entries {
            if let Some(b) = self.get_bytes(&e.location).await? {
                parts.push(records::decode_part(&b)?);
            }
        }
        parts.sort_by_key(|p| p.part_number);
        Ok(parts)
    }

    /// Removes an upload's records (the upload record first, so it disappears at once). With
    /// `delete_blobs` (abort) its whole generation goes too; without (complete) the blobs
    /// stay for the object that now references them. `NotFound` if there is no upload record.
    pub async fn delete_upload(
        &self,
        bucket: &str,
        upload_id: &str,
        delete_blobs: bool,
    ) -> Result<(), StoreError> {
        let rec = self
            .get_upload(bucket, upload_id)
            .await
            .or_else(ignore_corrupt)?;
        let record = layout::upload_record(bucket, upload_id)?;
        self.delete_path(&record).await?;
        // A completion record stays for retried Completes (the sweep reclaims it).
        let completion = layout::completion_record(bucket, upload_id)?;
        for e in self
            .list_paths(&layout::upload_dir(bucket, upload_id)?)
            .await?
        {
            if e.location != completion {
                self.delete_path(&e.location).await?;
            }
        }
        match rec {
            Some(rec) if delete_blobs => self.delete_generation(bucket, &rec.generation).await,
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        }
    }

    /// Records what a finished upload answered (see [`CompletionRecord`]).
    pub async fn put_completion(&self, rec: &CompletionRecord) -> Result<(), StoreError> {
        check_format(&rec.format, COMPLETION_FORMAT)?;
        let path = layout::completion_record(&rec.bucket, &rec.upload_id)?;
        self.put_bytes(&path, records::encode(rec)?, PutMode::Overwrite)
            .await
    }

    /// The completion record of a finished upload, if it is still kept.
    pub async fn get_completion(
        &self,
        bucket: &str,
        upload_id: &str,
    ) -> Result<Option<CompletionRecord>, StoreError> {
        let path = layout::completion_record(bucket, upload_id)?;
        match self.get_bytes(&path).await? {
            Some(b) => records::decode_completion(&b).map(Some),
            None => Ok(None),
        }
    }

    /// Uploads in progress, sorted by key, then initiation time, then id.
    pub async fn list_uploads(&self, bucket: &str) -> Result<Vec<UploadRecord>, StoreError> {
        let mut out = Vec::new();
        for e in self.list_paths(&layout::uploads_dir(bucket)?).await? {
            if !matches!(layout::upload_entry(&e.location), Some((_, true))) {
                continue;
            }
            if let Some(b) = self.get_bytes(&e.location).await?
                && let Ok(rec) = records::decode_upload(&b)
            {
                out.push(rec);
            }
        }
        out.sort_by(|a, b| {
            (&a.key, a.initiated_ms, &a.upload_id).cmp(&(&b.key, b.initiated_ms, &b.upload_id))
        });
        Ok(out)
    }
}

fn check_format(actual: &str, expected: &str) -> Result<(), StoreError> {
    if actual == expected {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "refusing to write record format {actual:?}, expected {expected:?}"
        )))
    }
}

fn ignore_corrupt<T>(e: StoreError) -> Result<Option<T>, StoreError> {
    match e {
        StoreError::Corrupt(_) => Ok(None),
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("sealgate-store-{}", uuid::Uuid::new_v4()))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conformance_local_filesystem() {
        let root = temp_root();
        let store = Store::local(&root).unwrap();
        conformance::run_all(&store).await;
        // A fresh Store over the same directory (empty index) sees the same state.
        let again = Store::local(&root).unwrap();
        assert!(again.list_buckets().await.unwrap().is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conformance_in_memory_native_listing() {
        let os = Arc::new(object_store::memory::InMemory::new());
        conformance::run_all(&Store::new(os, ListingMode::Native)).await;
    }

    /// Two stores over one shared backend (two gateways) race on one key: each replaced
    /// record goes to exactly one writer (the conditional swap of `swap_record`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shared_backend_swaps_hand_back_each_record_once() {
        let os: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let (a, b) = (
            Store::new(os.clone(), ListingMode::Native),
            Store::new(os, ListingMode::Native),
        );
        a.create_bucket(&conformance::bucket_record("race"))
            .await
            .unwrap();
        let results: Vec<Option<ObjectMeta>> = futures::stream::iter(0..200)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                async move {
                    let m = conformance::object_meta(&format!("g{i}"), 1);
                    store.put_meta("race", "k", &m).await.unwrap()
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let mut seen = HashSet::new();
        for prev in results.iter().flatten() {
            assert!(
                seen.insert(prev.generation.clone()),
                "{} twice",
                prev.generation
            );
        }
        assert_eq!(seen.len(), 199);
        let current = a.get_meta("race", "k").await.unwrap().unwrap().generation;
        assert!(!seen.contains(&current));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn index_is_rebuilt_from_disk() {
        let root = temp_root();
        let store = Store::local_with(&root, LocalOptions { fsync: false }).unwrap();
        store
            .create_bucket(&conformance::bucket_record("rebuild"))
            .await
            .unwrap();
        for k in ["b", "a/b", "a", "a/b/", "x".repeat(500).as_str()] {
            store
                .put_meta("rebuild", k, &conformance::object_meta("g", 1))
                .await
                .unwrap();
        }
        let fresh = Store::local_with(&root, LocalOptions { fsync: false }).unwrap();
        let (items, more) = fresh.list_objects("rebuild", "", "", 100).await.unwrap();
        let keys: Vec<String> = items.into_iter().map(|(k, _)| k).collect();
        let long = "x".repeat(500);
        assert_eq!(keys, ["a", "a/b", "a/b/", "b", long.as_str()]);
        assert!(!more);
        // Deleting the long key removes its directories too, so the bucket can go.
        for k in keys {
            fresh.delete_meta("rebuild", &k).await.unwrap();
        }
        fresh.delete_bucket("rebuild").await.unwrap();
        assert!(!root.join("meta").join("rebuild").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A full walk of 20k keys, 1000 per page, returns every key once and in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn paged_listing_of_20k_keys() {
        let root = temp_root();
        let store = Store::local_with(&root, LocalOptions { fsync: false }).unwrap();
        let bucket = "many";
        store
            .create_bucket(&conformance::bucket_record(bucket))
            .await
            .unwrap();
        let mut keys: Vec<String> = (0..20_000u32)
            .map(|i| {
                format!(
                    "dir{}/sub{}/obj-{:x}",
                    i % 7,
                    i % 13,
                    i.wrapping_mul(2_654_435_761)
                )
            })
            .collect();
        let meta = conformance::object_meta("g", 1);
        futures::stream::iter(keys.iter())
            .map(|k| store.put_meta(bucket, k, &meta))
            .buffer_unordered(16)
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
        keys.sort();
        keys.dedup();

        let mut listed = Vec::with_capacity(keys.len());
        let mut cursor = String::new();
        let mut pages = 0;
        loop {
            let (page, more) = store.list_objects(bucket, "", &cursor, 1000).await.unwrap();
            pages += 1;
            assert!(page.len() <= 1000);
            if let Some((last, _)) = page.last() {
                cursor.clone_from(last);
            }
            listed.extend(page.into_iter().map(|(k, _)| k));
            if !more {
                break;
            }
        }
        assert_eq!(pages, keys.len().div_ceil(1000));
        assert_eq!(listed, keys);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
