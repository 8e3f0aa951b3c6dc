//! Put/GetBucketVersioning and what every object operation shares about versions: reading the
//! version a request names (delete markers answer as AWS answers them) and the
//! `x-amz-version-id` header. Storage of versions: `store/versions.rs`.

use http::{HeaderMap, Response, StatusCode};

use super::common::{self, set};
use crate::meta::{BucketRecord, ObjectMeta, Version};
use crate::s3::Req;
use crate::s3::error::S3Error;
use crate::s3::xml;
use crate::server::Body;
use crate::store::{Versioning, is_version_id};

/// Largest PutBucketVersioning body accepted.
const MAX_VERSIONING_BODY: u64 = 16 * 1024;

pub(crate) async fn handle_get_bucket_versioning(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    Ok(common::xml(
        StatusCode::OK,
        xml::versioning_xml(rec.versioning.as_deref()),
    ))
}

/// `Enabled` or `Suspended`; a bucket never goes back to unversioned, as on AWS. MFA delete
/// cannot be configured: no MFA device exists here, so a body that enables it is refused as
/// AWS refuses it without the `x-amz-mfa` header.
pub(crate) async fn handle_put_bucket_versioning(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    let mut rec = req.bucket(bucket).await?;
    let body = req.small_body(MAX_VERSIONING_BODY).await?;
    let config = xml::parse_versioning(&body)?;
    if config.mfa_delete.as_deref() == Some("Enabled") {
        return Err(S3Error::AccessDenied(
            "Mfa Authentication must be used for this request".into(),
        ));
    }
    if rec.object_lock.is_some() && config.status.as_deref() == Some("Suspended") {
        return Err(S3Error::InvalidBucketState(
            "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.".into(),
        ));
    }
    if let Some(status) = config.status
        && rec.versioning.as_deref() != Some(status.as_str())
    {
        rec.versioning = Some(status);
        req.gw.store.put_bucket(&rec).await?;
    }
    Ok(common::empty(StatusCode::OK))
}

/// 400 InvalidArgument for a `versionId` this gateway cannot have issued.
pub(crate) fn check_version_id(version_id: &str) -> Result<(), S3Error> {
    if is_version_id(version_id) {
        Ok(())
    } else {
        Err(S3Error::invalid_argument_named(
            "Invalid version id specified",
            "versionId",
            version_id,
        ))
    }
}

/// The object a request names: the current version, or version `version_id`. A key whose
/// current version is a delete marker is 404 NoSuchKey with `x-amz-delete-marker: true`; a
/// delete marker named by id is 405 MethodNotAllowed (`method`) with its Last-Modified; an
/// id naming nothing is 404 NoSuchVersion (NoSuchBucket when the bucket is gone).
pub(crate) async fn load_object(
    req: &Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    method: &str,
) -> Result<ObjectMeta, S3Error> {
    let found = match version_id {
        None => req.gw.store.get_current(bucket, key).await?,
        Some(v) => {
            check_version_id(v)?;
            req.gw.store.get_version(bucket, key, v).await?
        }
    };
    match found {
        Some(Version::Object(m)) => Ok(*m),
        Some(Version::Marker(d)) => {
            let mut headers = vec![("x-amz-delete-marker", "true".to_owned())];
            headers.push((
                "x-amz-version-id",
                d.version_id.clone().unwrap_or_else(|| "null".into()),
            ));
            let inner = match version_id {
                None => S3Error::NoSuchKey {
                    key: key.to_owned(),
                },
                Some(_) => {
                    headers.push(("last-modified", common::http_date(d.last_modified_ms)));
                    S3Error::MethodNotAllowed {
                        method: method.to_owned(),
                        resource_type: "DeleteMarker",
                    }
                }
            };
            Err(S3Error::DeleteMarker {
                inner: Box::new(inner),
                headers,
            })
        }
        None => {
            req.bucket(bucket).await?;
            Err(match version_id {
                None => S3Error::NoSuchKey {
                    key: key.to_owned(),
                },
                Some(v) => S3Error::NoSuchVersion {
                    key: key.to_owned(),
                    version_id: v.to_owned(),
                },
            })
        }
    }
}

/// The version id a write to `bucket` gets, and the bucket's state.
pub(crate) fn new_version(rec: &BucketRecord) -> (Versioning, Option<String>) {
    let v = Versioning::of(rec);
    (v, v.new_id())
}

/// `x-amz-version-id` of a written or read version: its id, `null` for the null version of a
/// bucket with versioning, nothing in a bucket that never had it.
pub(crate) fn version_header(h: &mut HeaderMap, versioning: Versioning, version_id: Option<&str>) {
    match (version_id, versioning) {
        (Some(v), _) => set(h, "x-amz-version-id", v),
        (None, Versioning::Off) => {}
        (None, _) => set(h, "x-amz-version-id", "null"),
    }
}
