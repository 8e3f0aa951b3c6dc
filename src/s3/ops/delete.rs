//! DeleteObject and DeleteObjects.

use http::{Response, StatusCode};

use super::{common, conditional};
use crate::s3::Req;
use crate::s3::authz::Check;
use crate::s3::error::S3Error;
use crate::s3::xml;
use crate::server::Body;
use crate::store::Expect;

/// Removes one object's meta record, then its data. Missing keys are not an error (S3 answers
/// 204 either way) unless an ETag was required: then the object must exist with that ETag.
pub(crate) async fn delete_one(
    req: &Req,
    bucket: &str,
    key: &str,
    etag: Option<&str>,
) -> Result<(), S3Error> {
    let expect = match etag {
        None => Expect::Any,
        Some(wanted) => match req.gw.store.get_meta(bucket, key).await? {
            None => {
                return Err(S3Error::NoSuchKey {
                    key: key.to_owned(),
                });
            }
            Some(m) if conditional::etag_matches(wanted, &m.etag) => {
                Expect::Generation(m.generation)
            }
            Some(_) => {
                return Err(S3Error::PreconditionFailed {
                    condition: "If-Match".into(),
                });
            }
        },
    };
    Ok(req.gw.store.delete_object_if(bucket, key, &expect).await?)
}

pub(crate) async fn handle_delete_object(
    mut req: Req,
    bucket: &str,
    key: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    req.bucket(bucket).await?;
    let expect = super::conditional::delete_expectation(&req, bucket, key).await?;
    req.gw.store.delete_object_if(bucket, key, &expect).await?;
    Ok(common::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn handle_delete_objects(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.bucket(bucket).await?;
    let body = req.small_body(2 * 1024 * 1024).await?;
    let request = xml::parse_delete_objects(&body)?;
    let mut result = xml::DeleteResult::default();
    for obj in request.objects {
        // AWS authorizes DeleteObjects key by key: a refusal is that key's AccessDenied.
        let check = Check::object("s3:DeleteObject", bucket, &obj.key);
        let outcome = match req.authorize(&check).await {
            Ok(()) => delete_one(&req, bucket, &obj.key, obj.etag.as_deref()).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => {
                if !request.quiet {
                    result.deleted.push(xml::DeletedEntry {
                        key: obj.key,
                        version_id: None,
                    });
                }
            }
            Err(e) => result
                .errors
                .push(xml::DeleteErrorEntry::from_error(&obj.key, None, &e)),
        }
    }
    Ok(common::xml(StatusCode::OK, result.to_xml(request.quiet)))
}
