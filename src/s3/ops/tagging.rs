//! Get/Put/DeleteObjectTagging (of any version), Get/Put/DeleteBucketTagging, and the record
//! amendment PutObjectAcl shares with the object tag changes.
//!
//! Object tags live in the object's meta record, covered by its MAC (docs/FORMAT.md §6.1); a
//! tag change rewrites only that record — never the data — with the store's conditional
//! commit on the generation it read, so a tag change racing an overwrite cannot bring the old
//! object back: it is retried on the new record instead. Bucket tags live in the bucket record.

use std::collections::BTreeMap;

use http::{Response, StatusCode};

use super::common;
use super::versioning::load_object;
use crate::meta::ObjectMeta;
use crate::s3::Req;
use crate::s3::encryption::{self, KeyHeaders};
use crate::s3::error::S3Error;
use crate::s3::tags::{self, TagTarget};
use crate::s3::xml;
use crate::server::Body;
use crate::sse::{Actor, RecordEdit};
use crate::store::{Expect, StoreError, Versioning};

/// Largest tagging body accepted (50 tags of the longest keys and values fit easily).
const MAX_TAGGING_BODY: u64 = 64 * 1024;
/// Tag changes tried before a key overwritten that often gives up (409).
const RETAG_ATTEMPTS: u32 = 8;

pub(crate) async fn handle_get_object_tagging(
    mut req: Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let meta = load_object(&req, bucket, key, version_id, "GET").await?;
    // Tags are only answered from an authenticated record.
    req.gw.crypto.check_record(&meta, bucket, key).await?;
    let mut resp = common::xml(StatusCode::OK, xml::tagging_xml(&meta.tags));
    if let Some(v) = &meta.version_id {
        common::set(resp.headers_mut(), "x-amz-version-id", v);
    }
    Ok(resp)
}

pub(crate) async fn handle_put_object_tagging(
    mut req: Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Response<Body>, S3Error> {
    let body = req.small_body(MAX_TAGGING_BODY).await?;
    let tags = tags::validate(xml::parse_tagging(&body)?, TagTarget::Object)?;
    set_object_tags(&req, bucket, key, version_id, tags).await?;
    Ok(common::empty(StatusCode::OK))
}

pub(crate) async fn handle_delete_object_tagging(
    mut req: Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    set_object_tags(&req, bucket, key, version_id, BTreeMap::new()).await?;
    Ok(common::empty(StatusCode::NO_CONTENT))
}

/// Replaces the tags of `bucket/key` (version `version_id`).
async fn set_object_tags(
    req: &Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    tags: BTreeMap<String, String>,
) -> Result<(), S3Error> {
    amend_object_record(req, bucket, key, version_id, |_| {
        Ok(RecordEdit::Tags(tags.clone()))
    })
    .await
}

/// Applies the edit `edit` makes of the record of `bucket/key` (the current version, or
/// version `version_id`): its tags or ACL, re-authenticating the record, conditional on the
/// record's generation: when an overwrite wins in between, the change is made again on the new
/// record (it then simply happened after the overwrite).
pub(crate) async fn amend_object_record(
    req: &Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    edit: impl Fn(&ObjectMeta) -> Result<RecordEdit, S3Error>,
) -> Result<(), S3Error> {
    // Only used for SSE-C records written before tagging (`sse::retag`).
    let customer =
        encryption::from_headers(&req.headers, KeyHeaders::Target, common::over_tls(req))?;
    for _ in 0..RETAG_ATTEMPTS {
        let meta = load_object(req, bucket, key, version_id, "PUT").await?;
        let change = edit(&meta)?;
        if change.is_noop(&meta) {
            // Still checked, so a forged record is reported rather than confirmed.
            req.gw.crypto.check_record(&meta, bucket, key).await?;
            return Ok(());
        }
        let new = req
            .gw
            .crypto
            .amend(
                &meta,
                bucket,
                key,
                change,
                customer.as_ref(),
                &Actor {
                    caller: &req.caller(),
                },
            )
            .await?;
        let expect = Expect::Generation(meta.generation.clone());
        let store = &req.gw.store;
        let current = match version_id {
            None => true,
            Some(_) => store
                .get_current(bucket, key)
                .await?
                .is_some_and(|c| c.version_id() == meta.version_id.as_deref()),
        };
        // A tag or ACL change keeps the version (same id, same generation): nothing is kept
        // aside or replaced, whatever the bucket's versioning.
        let written = if current {
            store
                .commit_object_if(bucket, key, &new, Versioning::Off, &expect)
                .await
        } else {
            store.replace_noncurrent(bucket, key, &new).await
        };
        match written {
            Ok(()) => return Ok(()),
            Err(StoreError::ConditionFailed | StoreError::NotFound) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(S3Error::ConditionalRequestConflict)
}

pub(crate) async fn handle_get_bucket_tagging(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    match rec.tags {
        Some(t) => Ok(common::xml(StatusCode::OK, xml::tagging_xml(&t))),
        None => Err(S3Error::NoSuchTagSet {
            bucket: bucket.to_owned(),
        }),
    }
}

/// An empty `<TagSet/>` removes the bucket's tags, as DeleteBucketTagging does.
pub(crate) async fn handle_put_bucket_tagging(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    let mut rec = req.bucket(bucket).await?;
    let body = req.small_body(MAX_TAGGING_BODY).await?;
    let tags = tags::validate(xml::parse_tagging(&body)?, TagTarget::Bucket)?;
    rec.tags = Some(tags).filter(|t| !t.is_empty());
    req.gw.store.put_bucket(&rec).await?;
    Ok(common::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn handle_delete_bucket_tagging(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let mut rec = req.bucket(bucket).await?;
    if rec.tags.take().is_some() {
        req.gw.store.put_bucket(&rec).await?;
    }
    Ok(common::empty(StatusCode::NO_CONTENT))
}
