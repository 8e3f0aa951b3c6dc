//! DeleteObject and DeleteObjects.
//!
//! Without a version id a delete removes the object of a bucket that never had versioning and
//! puts a delete marker on top of the key's versions otherwise; with one it removes that
//! version for good (a delete marker included: the key reappears). Both answer what AWS
//! answers: the version id concerned and whether it is a delete marker.

use http::{Response, StatusCode};

use super::versioning::check_version_id;
use super::{common, conditional, object_lock};
use crate::meta::{BucketRecord, Version};
use crate::s3::Req;
use crate::s3::authz::Check;
use crate::s3::error::S3Error;
use crate::s3::xml;
use crate::server::Body;
use crate::store::{Expect, Versioning};

/// What one delete did: the version it made or removed and whether that is a delete marker.
#[derive(Debug, Default)]
pub(crate) struct Deleted {
    pub(crate) version_id: Option<String>,
    pub(crate) delete_marker: bool,
}

/// Deletes `key` of bucket `rec` (or its version `version_id`). Missing keys and versions are
/// not an error (S3 answers 204 either way) unless an ETag was required: then the current
/// object must exist with that ETag. A version its Object Lock protects is not removed
/// (AccessDenied); a delete without a version id only adds a delete marker, which Object Lock
/// allows.
pub(crate) async fn delete_one(
    req: &Req,
    rec: &BucketRecord,
    key: &str,
    version_id: Option<&str>,
    expect: Expect,
) -> Result<Deleted, S3Error> {
    let (bucket, versioning) = (rec.name.as_str(), Versioning::of(rec));
    if let Some(v) = version_id {
        check_version_id(v)?;
        object_lock::guard_removal(req, rec, key, v).await?;
        let removed = req.gw.store.remove_version(bucket, key, v).await?;
        return Ok(Deleted {
            version_id: Some(v.to_owned()),
            delete_marker: matches!(removed, Some(Version::Marker(_))),
        });
    }
    let marker = req
        .gw
        .store
        .delete_object_if(bucket, key, versioning, &expect)
        .await?;
    Ok(match marker {
        Some(m) => Deleted {
            version_id: Some(m.version_id.unwrap_or_else(|| "null".into())),
            delete_marker: true,
        },
        None => Deleted::default(),
    })
}

/// The expectation of a DeleteObjects entry's `ETag` (checked against the current object).
async fn entry_expectation(
    req: &Req,
    bucket: &str,
    key: &str,
    etag: Option<&str>,
) -> Result<Expect, S3Error> {
    let Some(wanted) = etag else {
        return Ok(Expect::Any);
    };
    match req.gw.store.get_meta(bucket, key).await? {
        None => Err(S3Error::NoSuchKey {
            key: key.to_owned(),
        }),
        Some(m) if conditional::etag_matches(wanted, &m.etag) => {
            Ok(Expect::Generation(m.generation))
        }
        Some(_) => Err(S3Error::PreconditionFailed {
            condition: "If-Match".into(),
        }),
    }
}

pub(crate) async fn handle_delete_object(
    mut req: Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    let expect = super::conditional::delete_expectation(&req, bucket, key).await?;
    let done = delete_one(&req, &rec, key, version_id, expect).await?;
    let mut resp = common::empty(StatusCode::NO_CONTENT);
    let h = resp.headers_mut();
    if let Some(v) = &done.version_id {
        common::set(h, "x-amz-version-id", v);
    }
    if done.delete_marker {
        common::set(h, "x-amz-delete-marker", "true");
    }
    Ok(resp)
}

pub(crate) async fn handle_delete_objects(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    let rec = req.bucket(bucket).await?;
    let body = req.small_body(2 * 1024 * 1024).await?;
    let request = xml::parse_delete_objects(&body)?;
    let mut result = xml::DeleteResult::default();
    for obj in request.objects {
        let version_id = obj.version_id.as_deref();
        // AWS authorizes DeleteObjects key by key: a refusal is that key's AccessDenied.
        let action = match version_id {
            Some(_) => "s3:DeleteObjectVersion",
            None => "s3:DeleteObject",
        };
        let check = Check::object(action, bucket, &obj.key);
        let outcome = match req.authorize(&check).await {
            Ok(()) => match entry_expectation(&req, bucket, &obj.key, obj.etag.as_deref()).await {
                Ok(expect) => delete_one(&req, &rec, &obj.key, version_id, expect).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match outcome {
            Ok(done) => {
                if !request.quiet {
                    // A version named by id is echoed as VersionId; a marker made by this
                    // delete is DeleteMarkerVersionId.
                    let marker = done
                        .delete_marker
                        .then(|| done.version_id.clone())
                        .flatten();
                    result.deleted.push(xml::DeletedEntry {
                        key: obj.key,
                        version_id: obj.version_id,
                        delete_marker_version_id: marker,
                    });
                }
            }
            Err(e) => result
                .errors
                .push(xml::DeleteErrorEntry::from_error(&obj.key, version_id, &e)),
        }
    }
    Ok(common::xml(StatusCode::OK, result.to_xml(request.quiet)))
}
