//! Get/PutBucketAcl and Get/PutObjectAcl (S3 API Reference). The bucket ACL lives in the bucket
//! record, an object's in its meta record under the record MAC (docs/FORMAT.md §6.1), so each
//! version has its own (`versionId`); an absent one is the bucket owner's FULL_CONTROL alone. With Object Ownership BucketOwnerEnforced ACLs
//! are disabled: the Gets answer the bucket owner's FULL_CONTROL whatever is stored, and a Put
//! is accepted only when it says just that.

use http::{Response, StatusCode};

use super::common;
use super::tagging::amend_object_record;
use super::versioning::load_object;
use crate::meta::{Acl, BucketRecord, Grant};
use crate::s3::Req;
use crate::s3::acl::{self, AclSpec};
use crate::s3::authz::owner::{bucket_account, canonical_id};
use crate::s3::error::S3Error;
use crate::s3::xml;
use crate::server::Body;
use crate::sse::RecordEdit;

/// Largest AccessControlPolicy accepted (100 grants of the longest ids fit easily).
const MAX_ACL_BODY: u64 = 64 * 1024;

pub(crate) async fn handle_get_bucket_acl(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    let owner = bucket_account(&rec, &req.gw.cfg.account_id);
    let acl = match &rec.acl {
        Some(a) if acl::acls_enabled(&rec) => a.clone(),
        _ => acl::owner_only(owner),
    };
    Ok(answer(&acl))
}

pub(crate) async fn handle_get_object_acl(
    mut req: Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    let meta = load_object(&req, bucket, key, version_id, "GET").await?;
    // An ACL is only answered from an authenticated record.
    req.gw.crypto.check_record(&meta, bucket, key).await?;
    let owner = bucket_account(&rec, &req.gw.cfg.account_id);
    let acl = match meta.acl {
        Some(a) if acl::acls_enabled(&rec) => a,
        _ => acl::owner_only(owner),
    };
    Ok(answer(&acl))
}

pub(crate) async fn handle_put_bucket_acl(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    let mut rec = req.bucket(bucket).await?;
    let requested = RequestedAcl::read(&mut req).await?;
    let owner = bucket_account(&rec, &req.gw.cfg.account_id).to_owned();
    let new = checked(&rec, requested.for_resource(&owner, &owner)?, &owner)?;
    if rec.acl != new {
        rec.acl = new;
        req.gw.store.put_bucket(&rec).await?;
    }
    Ok(common::empty(StatusCode::OK))
}

pub(crate) async fn handle_put_object_acl(
    mut req: Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Response<Body>, S3Error> {
    let rec = req.bucket(bucket).await?;
    let requested = RequestedAcl::read(&mut req).await?;
    let bucket_owner = bucket_account(&rec, &req.gw.cfg.account_id).to_owned();
    amend_object_record(&req, bucket, key, version_id, |meta| {
        // The object keeps its owner; only its grants change. With ACLs disabled the bucket
        // owner owns every object.
        let owner = if acl::acls_enabled(&rec) {
            acl::object_owner(meta.acl.as_ref(), &bucket_owner)
        } else {
            &bucket_owner
        };
        let new = checked(
            &rec,
            requested.for_resource(owner, &bucket_owner)?,
            &bucket_owner,
        )?;
        Ok(RecordEdit::Acl(new))
    })
    .await?;
    Ok(common::empty(StatusCode::OK))
}

/// `acl` as the record of a resource in `rec` keeps it: refused where ACLs are disabled unless
/// it is the bucket owner's FULL_CONTROL alone, refused when public under BlockPublicAcls.
fn checked(rec: &BucketRecord, acl: Acl, bucket_owner: &str) -> Result<Option<Acl>, S3Error> {
    if !acl::acls_enabled(rec) {
        if acl != acl::owner_only(bucket_owner) {
            return Err(S3Error::AccessControlListNotSupported);
        }
        return Ok(None);
    }
    acl::check_not_blocked(rec, &acl)?;
    Ok(acl::stored(acl, bucket_owner))
}

/// The ACL a Put*Acl request states: headers or an AccessControlPolicy body, never both.
enum RequestedAcl {
    Headers(AclSpec),
    Document {
        owner_id: String,
        grants: Vec<Grant>,
    },
}

impl RequestedAcl {
    async fn read(req: &mut Req) -> Result<RequestedAcl, S3Error> {
        let spec = acl::from_headers(&req.headers)?;
        let body = req.small_body(MAX_ACL_BODY).await?;
        let empty = body.iter().all(u8::is_ascii_whitespace);
        match (spec, empty) {
            (Some(spec), true) => Ok(RequestedAcl::Headers(spec)),
            (Some(_), false) => Err(S3Error::UnexpectedContent),
            (None, false) => {
                let (owner_id, grants) = xml::parse_access_control_policy(&body)?;
                Ok(RequestedAcl::Document { owner_id, grants })
            }
            (None, true) => Err(S3Error::MissingSecurityHeader {
                header: "x-amz-acl".into(),
            }),
        }
    }

    /// The ACL for a resource of `owner` in a bucket of `bucket_owner`. A document naming
    /// another owner is refused: an ACL cannot change who owns the resource.
    fn for_resource(&self, owner: &str, bucket_owner: &str) -> Result<Acl, S3Error> {
        match self {
            RequestedAcl::Headers(spec) => Ok(acl::resolve(spec, owner, bucket_owner)),
            RequestedAcl::Document { owner_id, grants } => {
                if *owner_id != canonical_id(owner) {
                    return Err(S3Error::invalid_argument_named(
                        "Invalid id",
                        "CanonicalUser/ID",
                        owner_id,
                    ));
                }
                Ok(acl::resolve(
                    &AclSpec::Grants(grants.clone()),
                    owner,
                    bucket_owner,
                ))
            }
        }
    }
}

fn answer(acl: &Acl) -> Response<Body> {
    common::xml(
        StatusCode::OK,
        xml::access_control_policy_xml(
            acl,
            &canonical_id(&acl.owner),
            &format!("account-{}", acl.owner),
        ),
    )
}
