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

use super::{Expect, Store, StoreError};
use crate::meta::{CompletionRecord, ObjectMeta, PartLayout, UploadRecord};

impl Store {
    /// Makes `meta` the record of `bucket/key` (PutObject, CopyObject), then retires the
    /// generation it replaced. When the swap fails, `meta`'s own generation is deleted.
    pub(crate) async fn commit_object(
        &self,
        bucket: &str,
        key: &str,
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        self.commit_object_if(bucket, key, meta, &Expect::Any).await
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
        expect: &Expect,
    ) -> Result<(), StoreError> {
        let previous = match self.put_meta_if(bucket, key, meta, expect).await {
            Ok(p) => p,
            Err(e) => {
                // A tag change reuses the live generation: never delete that.
                if !matches!(expect, Expect::Generation(g) if *g == meta.generation) {
                    let _ = self.delete_generation(bucket, &meta.generation).await;
                }
                return Err(e);
            }
        };
        self.release_replaced(bucket, meta, previous).await;
        Ok(())
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
        expect: &Expect,
    ) -> Result<(), StoreError> {
        let previous = self.put_meta_if(bucket, key, meta, expect).await?;
        if let Err(e) = self.put_completion(completion).await {
            tracing::warn!(bucket, error = %e, "completion record not written; a retried Complete will answer NoSuchUpload");
        }
        let _ = self.delete_upload(bucket, &upload.upload_id, false).await;
        for p in stored {
            if !meta.parts.iter().any(|c| c.blob == p.blob) {
                let _ = self.delete_blob(bucket, &upload.generation, &p.blob).await;
            }
        }
        self.release_replaced(bucket, meta, previous).await;
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
    /// it. On failure the partial copy is deleted.
    pub(crate) async fn copy_parts(
        &self,
        from: (&str, &str),
        parts: &[PartLayout],
        to_bucket: &str,
    ) -> Result<String, StoreError> {
        let generation = Store::new_generation();
        for part in parts {
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

    /// Removes the record of `bucket/key`, then retires its data; only if the record is what
    /// `expect` says (DeleteObject with `If-Match`), else [`StoreError::ConditionFailed`]. A
    /// missing key is not an error under [`Expect::Any`].
    pub(crate) async fn delete_object_if(
        &self,
        bucket: &str,
        key: &str,
        expect: &Expect,
    ) -> Result<(), StoreError> {
        if let Some(prev) = self.delete_meta_if(bucket, key, expect).await?
            && let Err(e) = self.retire_generation(bucket, &prev.generation).await
        {
            tracing::warn!(bucket, error = %e, "deleted object's data left for the sweep to mark");
        }
        Ok(())
    }

    async fn release_replaced(
        &self,
        bucket: &str,
        meta: &ObjectMeta,
        previous: Option<ObjectMeta>,
    ) {
        if let Some(prev) = previous
            && prev.generation != meta.generation
            && let Err(e) = self.retire_generation(bucket, &prev.generation).await
        {
            tracing::warn!(bucket, error = %e, "previous generation left for the sweep to mark");
        }
    }
}
