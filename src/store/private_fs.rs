//! The local filesystem backend with owner-only modes (docs/STORAGE.md, "File modes").
//!
//! `object_store`'s `LocalFileSystem` creates files and directories with the default modes
//! (0666/0777 less the umask, so usually 0644/0755) and offers no way to choose them. This
//! wrapper writes whole files itself ([`super::local_write`]: created 0600 in 0700 directories,
//! one blocking task, only the fsyncs durability needs) and delegates everything else; after a
//! write it does not do itself (multipart completion, copy, rename) it sets the written file to
//! 0600 and its directories up to the store root to 0700. Between creation and that `chmod` a
//! staging file may briefly have the wider mode; it is unreachable for other users all the
//! same, because the data dir and the store root are created 0700 and tightened at start.

use std::fmt;
use std::io::ErrorKind;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
    UploadPart,
};

use super::dir_sync::Fsync;
use super::local_write::{Publish, Staged, etag};

/// `LocalFileSystem` whose writes end up 0600 in 0700 directories.
#[derive(Debug)]
pub(crate) struct PrivateFs {
    inner: Arc<LocalFileSystem>,
    root: PathBuf,
    /// Whether writes are made durable (the `LocalFileSystem` was built with the same), and
    /// the directory syncs concurrent writes share.
    fsync: Fsync,
}

impl PrivateFs {
    pub(crate) fn new(inner: LocalFileSystem, root: PathBuf, fsync: bool) -> Self {
        Self {
            inner: Arc::new(inner),
            root,
            fsync: fsync.then(Default::default),
        }
    }

    /// The file that holds `location`.
    pub(crate) fn file_path(&self, location: &Path) -> Result<PathBuf> {
        self.inner.path_to_filesystem(location)
    }

    pub(super) fn fsync(&self) -> Fsync {
        self.fsync.clone()
    }

    /// The whole file at `location` in one blocking task (`get` and then reading the result
    /// takes two); `None` when there is none or it is a directory, as `get` says `NotFound`.
    pub(crate) async fn read(&self, location: &Path) -> Result<Option<Bytes>> {
        let path = self.file_path(location)?;
        blocking(move || match std::fs::read(&path) {
            Ok(data) => Ok(Some(Bytes::from(data))),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::IsADirectory) => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }
}

/// Runs filesystem work off the reactor, mapping its errors the way `LocalFileSystem` does
/// where callers tell them apart (`AlreadyExists`, `NotFound`).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    let io_err = |e: std::io::Error| match e.kind() {
        ErrorKind::AlreadyExists => object_store::Error::AlreadyExists {
            path: String::new(),
            source: Box::new(e),
        },
        ErrorKind::NotFound => object_store::Error::NotFound {
            path: String::new(),
            source: Box::new(e),
        },
        _ => generic(e),
    };
    tokio::task::spawn_blocking(f)
        .await
        .map_err(generic)?
        .map_err(io_err)
}

fn generic(e: impl std::error::Error + Send + Sync + 'static) -> object_store::Error {
    object_store::Error::Generic {
        store: "LocalFileSystem",
        source: Box::new(e),
    }
}

impl fmt::Display for PrivateFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.inner, f)
    }
}

/// Makes `location`'s file and each directory from it up to (not including) `root`
/// owner-only (0600 / 0700). Run off the reactor: it is a few `stat`/`chmod` calls.
async fn make_private(fs: Arc<LocalFileSystem>, root: PathBuf, location: Path) -> Result<()> {
    let file = fs.path_to_filesystem(&location)?;
    tokio::task::spawn_blocking(move || {
        crate::fsutil::make_owner_only(&file)?;
        let mut dir = file.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(&root) && *d != root) {
            crate::fsutil::make_owner_only(d)?;
            dir = d.parent();
        }
        Ok::<(), std::io::Error>(())
    })
    .await
    .map_err(generic)?
    .map_err(generic)
}

/// A multipart upload that makes its file private when it completes.
#[derive(Debug)]
struct PrivateUpload {
    inner: Box<dyn MultipartUpload>,
    fs: Arc<LocalFileSystem>,
    root: PathBuf,
    location: Path,
}

impl MultipartUpload for PrivateUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.inner.put_part(data)
    }

    fn complete<'a, 'b>(&'a mut self) -> BoxFuture<'b, Result<PutResult>>
    where
        'a: 'b,
        Self: 'b,
    {
        async move {
            let r = self.inner.complete().await?;
            make_private(self.fs.clone(), self.root.clone(), self.location.clone()).await?;
            Ok(r)
        }
        .boxed()
    }

    fn abort<'a, 'b>(&'a mut self) -> BoxFuture<'b, Result<()>>
    where
        'a: 'b,
        Self: 'b,
    {
        self.inner.abort()
    }
}

impl ObjectStore for PrivateFs {
    fn put_opts<'a, 'b, 'c>(
        &'a self,
        location: &'b Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> BoxFuture<'c, Result<PutResult>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        let how = match opts.mode {
            PutMode::Overwrite => Publish::Overwrite,
            PutMode::Create => Publish::Create,
            // Refused by `LocalFileSystem` with its own error.
            PutMode::Update(_) => return self.inner.put_opts(location, payload, opts),
        };
        if !opts.attributes.is_empty() {
            return self.inner.put_opts(location, payload, opts);
        }
        let (dest, fsync) = (self.file_path(location), self.fsync.clone());
        async move {
            let dest = dest?;
            let meta = blocking(move || {
                let mut staged = Staged::create(dest, fsync)?;
                let mut at = 0u64;
                for chunk in payload.iter() {
                    staged.write_at(chunk, at)?;
                    at += chunk.len() as u64;
                }
                staged.publish(how)
            })
            .await?;
            Ok(PutResult {
                e_tag: Some(etag(&meta)),
                version: None,
                extensions: Default::default(),
            })
        }
        .boxed()
    }

    fn put_multipart_opts<'a, 'b, 'c>(
        &'a self,
        location: &'b Path,
        opts: PutMultipartOptions,
    ) -> BoxFuture<'c, Result<Box<dyn MultipartUpload>>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        async move {
            let inner = self.inner.put_multipart_opts(location, opts).await?;
            Ok(Box::new(PrivateUpload {
                inner,
                fs: self.inner.clone(),
                root: self.root.clone(),
                location: location.clone(),
            }) as Box<dyn MultipartUpload>)
        }
        .boxed()
    }

    fn get_opts<'a, 'b, 'c>(
        &'a self,
        location: &'b Path,
        options: GetOptions,
    ) -> BoxFuture<'c, Result<GetResult>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        self.inner.get_opts(location, options)
    }

    fn get_ranges<'a, 'b, 'c, 'd>(
        &'a self,
        location: &'b Path,
        ranges: &'c [Range<u64>],
    ) -> BoxFuture<'d, Result<Vec<Bytes>>>
    where
        'a: 'd,
        'b: 'd,
        'c: 'd,
        Self: 'd,
    {
        self.inner.get_ranges(location, ranges)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    fn list_with_delimiter<'a, 'b, 'c>(
        &'a self,
        prefix: Option<&'b Path>,
    ) -> BoxFuture<'c, Result<ListResult>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        self.inner.list_with_delimiter(prefix)
    }

    fn copy_opts<'a, 'b, 'c, 'd>(
        &'a self,
        from: &'b Path,
        to: &'c Path,
        options: CopyOptions,
    ) -> BoxFuture<'d, Result<()>>
    where
        'a: 'd,
        'b: 'd,
        'c: 'd,
        Self: 'd,
    {
        async move {
            self.inner.copy_opts(from, to, options).await?;
            make_private(self.inner.clone(), self.root.clone(), to.clone()).await
        }
        .boxed()
    }

    fn rename_opts<'a, 'b, 'c, 'd>(
        &'a self,
        from: &'b Path,
        to: &'c Path,
        options: RenameOptions,
    ) -> BoxFuture<'d, Result<()>>
    where
        'a: 'd,
        'b: 'd,
        'c: 'd,
        Self: 'd,
    {
        async move {
            self.inner.rename_opts(from, to, options).await?;
            make_private(self.inner.clone(), self.root.clone(), to.clone()).await
        }
        .boxed()
    }
}
