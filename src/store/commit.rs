//! The store's commits: each makes a write visible with one atomic record swap and then
//! releases what the swap made unreachable, so a handler hands over one finished write and
//! never sequences the store itself.
//!
//! Order is what keeps readers and crashes safe: blobs are already written (immutable, in a
//! fresh generation), the record swap is the single visible step, and only then is the
//! generation the previous record referenced *retired* — not deleted: a GET that read the old
//! record may still be streaming it, here or on another gateway, so [`Store::sweep`] deletes it
//! only after the grace period (`sweep.rs`). A crash between the swap and the retirement
//! leaves an unmarked unreferenced generation, which the sweep marks and then reclaims the same
//! way; a failed swap changes nothing visible. Blobs no reader can reach (a replaced part of an
//! upload in progress, the new generation of a failed swap) are deleted at once.

use super::{Expect, Store, StoreError, Versioning};
use crate::meta::{
    CompletionRecord, DELETE_MARKER_FORMAT, DeleteMarker, ObjectMeta, PartLayout, UploadRecord,
    Version,
};

impl Store {
    /// Makes `meta` the current version of `bucket/key` (PutObject, CopyObject), then retires
    /// the generation it replaced (a version with another id is kept instead, see
    /// `versions.rs`). When the swap fails, `meta`'s own generation is deleted.
    pub(crate) async fn commit_object(
        &self,
        bucket: &str,
        key: &str,
        meta: &ObjectMeta,
        versioning: Versioning,
    ) -> Result<(), StoreError> {
        self.commit_object_if(bucket, key, meta, versioning, &Expect::Any)
            .await
    }

    /// [`Store::commit_object`] only if the record it replaces is what `expect` says
    /// (conditional PUT, a tag change): the check and the swap are one step, so of two racing
    /// writers expecting the same record exactly one wins and the other gets
    /// [`StoreError::ConditionFailed`] with nothing changed but its own generation deleted.
    /// A record that keeps its generation (a tag change) retires nothing.
    pub(crate) async fn commit_object_if(
        &self,
        bucket: &str,
        key: &str,
        meta: &ObjectMeta,
        versioning: Versioning,
        expect: &Expect,
    ) -> Result<(), StoreError> {
        let new = Version::Object(Box::new(meta.clone()));
        match self
            .put_current(bucket, key, &new, versioning, expect)
            .await
        {
            Ok(retire) => {
                self.retire_all(bucket, retire).await;
                Ok(())
            }
            Err(e) => {
                // A tag change reuses the live generation: never delete that. An inline object
                // wrote no blobs.
                if let Some(generation) = meta.blob_generation()
                    && !matches!(expect, Expect::Generation(g) if g == generation)
                {
                    let _ = self.delete_generation(bucket, generation).await;
                }
                Err(e)
            }
        }
    }

    /// Completes a multipart upload: `meta` (whose parts are some of `stored`, the upload's
    /// recorded parts) becomes the record of `bucket/key`; then the upload's records go and the
    /// blobs of parts left out, and the generation the new record replaced is retired. When the swap
    /// fails the upload is left as it was, so the client can retry. The completion record is
    /// written before the upload's records go, so a retry never finds neither. `expect` makes
    /// the swap conditional as in [`Store::commit_object_if`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn commit_upload(
        &self,
        bucket: &str,
        key: &str,
        meta: &ObjectMeta,
        upload: &UploadRecord,
        stored: &[PartLayout],
        completion: &CompletionRecord,
        versioning: Versioning,
        expect: &Expect,
    ) -> Result<(), StoreError> {
        let new = Version::Object(Box::new(meta.clone()));
        let retire = self
            .put_current(bucket, key, &new, versioning, expect)
            .await?;
        if let Err(e) = self.put_completion(completion).await {
            tracing::warn!(bucket, error = %e, "completion record not written; a retried Complete will answer NoSuchUpload");
        }
        let _ = self.delete_upload(bucket, &upload.upload_id, false).await;
        for p in stored {
            if !meta.parts.iter().any(|c| c.blob == p.blob) {
                let _ = self.delete_blob(bucket, &upload.generation, &p.blob).await;
            }
        }
        self.retire_all(bucket, retire).await;
        Ok(())
    }

    /// Records an uploaded part (UploadPart, UploadPartCopy) and deletes the blob of the part
    /// it replaced; when recording fails, the new part's blob is deleted.
    pub(crate) async fn commit_part(
        &self,
        bucket: &str,
        upload: &UploadRecord,
        part: &PartLayout,
    ) -> Result<(), StoreError> {
        match self.put_part(bucket, &upload.upload_id, part).await {
            Ok(Some(old)) if old.blob != part.blob => {
                let _ = self
                    .delete_blob(bucket, &upload.generation, &old.blob)
                    .await;
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => {
                let _ = self
                    .delete_blob(bucket, &upload.generation, &part.blob)
                    .await;
                Err(e)
            }
        }
    }

    /// Copies the blobs of `parts` from `(bucket, generation)` into a fresh generation of
    /// `to_bucket` (hard links on the local filesystem, server-side copies on S3) and returns
    /// it. Inline parts travel in the record, so they copy nothing. On failure the partial copy
    /// is deleted.
    pub(crate) async fn copy_parts(
        &self,
        from: (&str, &str),
        parts: &[PartLayout],
        to_bucket: &str,
    ) -> Result<String, StoreError> {
        let generation = Store::new_generation();
        for part in parts.iter().filter(|p| !p.is_inline()) {
            if let Err(e) = self
                .copy_blob(
                    (from.0, from.1, &part.blob),
                    (to_bucket, &generation, &part.blob),
                )
                .await
            {
                let _ = self.delete_generation(to_bucket, &generation).await;
                return Err(e);
            }
        }
        Ok(generation)
    }

    /// DeleteObject without a version id, only if the current record is what `expect` says
    /// (`If-Match`), else [`StoreError::ConditionFailed`]. Without versioning the record goes
    /// and its data is retired (a missing key is not an error under [`Expect::Any`]); with
    /// versioning a delete marker becomes the current version (`null` while suspended) and is
    /// returned.
    pub(crate) async fn delete_object_if(
        &self,
        bucket: &str,
        key: &str,
        versioning: Versioning,
        expect: &Expect,
    ) -> Result<Option<DeleteMarker>, StoreError> {
        if versioning == Versioning::Off {
            if let Some(prev) = self.delete_meta_if(bucket, key, expect).await?
                && let Some(g) = prev.blob_generation()
            {
                self.retire_all(bucket, vec![g.to_owned()]).await;
            }
            return Ok(None);
        }
        let marker = DeleteMarker {
            format: DELETE_MARKER_FORMAT.into(),
            version_id: versioning.new_id(),
            last_modified_ms: super::sweep::now_ms(),
        };
        let retire = self
            .put_current(
                bucket,
                key,
                &Version::Marker(marker.clone()),
                versioning,
                expect,
            )
            .await?;
        self.retire_all(bucket, retire).await;
        Ok(Some(marker))
    }

    /// Removes one version for good (DeleteObject with a version id) and retires its data.
    pub(crate) async fn remove_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Option<Version>, StoreError> {
        let removed = self.delete_version(bucket, key, version_id).await?;
        if let Some(g) = removed.as_ref().and_then(Version::blob_generation) {
            self.retire_all(bucket, vec![g.to_owned()]).await;
        }
        Ok(removed)
    }

    async fn retire_all(&self, bucket: &str, generations: Vec<String>) {
        for g in generations {
            if let Err(e) = self.retire_generation(bucket, &g).await {
                tracing::warn!(bucket, error = %e, "replaced generation left for the sweep to mark");
            }
        }
    }
}
