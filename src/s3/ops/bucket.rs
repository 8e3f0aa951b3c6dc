//! ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation.

use http::{Response, StatusCode};

use super::access;
use super::common::{self, set};
use crate::meta::{BUCKET_FORMAT, BucketRecord, ObjectLockConfig};
use crate::s3::Req;
use crate::s3::authz::{self, owner};
use crate::s3::error::S3Error;
use crate::s3::names::valid_bucket_name;
use crate::s3::xml;
use crate::server::Body;
use crate::store::StoreError;

pub(crate) async fn handle_list_buckets(mut req: Req) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    // Authorization let only signed callers through; each sees its own account's buckets.
    let account = req.user.account.clone();
    let default_account = req.gw.cfg.account_id.clone();
    let buckets = req.gw.store.list_buckets().await?;
    let result = xml::ListAllMyBucketsResult {
        owner: owner::owner_xml(&account),
        buckets: buckets
            .into_iter()
            .filter(|b| owner::bucket_account(b, &default_account) == account)
            .map(|b| xml::BucketEntry {
                name: b.name,
                creation_date_ms: b.created_ms,
                region: Some(b.region),
            })
            .collect(),
        continuation_token: None,
        prefix: None,
    };
    Ok(common::xml(StatusCode::OK, result.to_xml()))
}

pub(crate) async fn handle_create_bucket(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    if !valid_bucket_name(bucket) {
        return Err(S3Error::InvalidBucketName {
            bucket: bucket.to_owned(),
        });
    }
    let body = req.small_body(64 * 1024).await?;
    if !body.is_empty()
        && let Some(location) = xml::parse_create_bucket_configuration(&body)?
        && location != req.gw.cfg.region
        && !(location.is_empty() && req.gw.cfg.region == "us-east-1")
    {
        return Err(S3Error::IllegalLocationConstraint(format!(
            "The {location} location constraint is incompatible for the region specific endpoint this request was sent to."
        )));
    }
    let object_lock = match req.header("x-amz-bucket-object-lock-enabled") {
        None => false,
        Some(v) if v.trim().eq_ignore_ascii_case("true") => true,
        Some(v) if v.trim().eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(S3Error::invalid_argument_named(
                "Invalid value for x-amz-bucket-object-lock-enabled",
                "x-amz-bucket-object-lock-enabled",
                v,
            ));
        }
    };
    if object_lock {
        // AWS asks these besides s3:CreateBucket of a bucket created with Object Lock.
        for action in [
            "s3:PutBucketObjectLockConfiguration",
            "s3:PutBucketVersioning",
        ] {
            authz::check_new_bucket(&req.gw, &req.session, &authz::Check::bucket(action, bucket))
                .await?;
        }
    }
    let access::NewBucket {
        public_access_block,
        ownership,
        acl,
    } = access::new_bucket_settings(req.gw.cfg.bucket_defaults, &req.user.account, &req.headers)?;
    let rec = BucketRecord {
        format: BUCKET_FORMAT.into(),
        name: bucket.to_owned(),
        created_ms: common::now_ms(),
        owner: req.user.arn.clone(),
        region: req.gw.cfg.region.clone(),
        encryption: None,
        cors: None,
        policy: None,
        tags: None,
        public_access_block,
        object_ownership: Some(ownership),
        // Object Lock needs versioning, which then stays Enabled (PutBucketVersioning).
        versioning: object_lock.then(|| "Enabled".to_owned()),
        acl,
        lifecycle: None,
        object_lock: object_lock.then(ObjectLockConfig::default),
    };
    match req.gw.store.create_bucket(&rec).await {
        Ok(()) => {}
        // The name is global: another account's bucket is 409 BucketAlreadyExists.
        Err(StoreError::AlreadyExists) if !owned_by_caller(&req, bucket).await? => {
            return Err(S3Error::BucketAlreadyExists {
                bucket: bucket.to_owned(),
            });
        }
        // AWS keeps a legacy rule for us-east-1: creating a bucket you already own there
        // succeeds (200, the bucket unchanged); every other region answers 409
        // BucketAlreadyOwnedByYou.
        Err(StoreError::AlreadyExists) if req.gw.cfg.region == "us-east-1" => {}
        Err(StoreError::AlreadyExists) => {
            return Err(S3Error::BucketAlreadyOwnedByYou {
                bucket: bucket.to_owned(),
            });
        }
        Err(e) => return Err(e.into()),
    }
    let mut resp = common::empty(StatusCode::OK);
    set(resp.headers_mut(), "location", &format!("/{bucket}"));
    Ok(resp)
}

/// Whether the existing bucket `bucket` belongs to the caller's account (a bucket deleted since
/// counts as the caller's: the retry will succeed or answer again).
async fn owned_by_caller(req: &Req, bucket: &str) -> Result<bool, S3Error> {
    Ok(match req.gw.store.get_bucket(bucket).await? {
        Some(rec) => owner::bucket_account(&rec, &req.gw.cfg.account_id) == req.user.account,
        None => true,
    })
}

pub(crate) async fn handle_head_bucket(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    let mut resp = common::empty(StatusCode::OK);
    set(resp.headers_mut(), "x-amz-bucket-region", &rec.region);
    Ok(resp)
}

pub(crate) async fn handle_delete_bucket(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    req.bucket(bucket).await?;
    match req.gw.store.delete_bucket(bucket).await {
        Ok(()) => Ok(common::empty(StatusCode::NO_CONTENT)),
        Err(StoreError::NotEmpty) => Err(S3Error::BucketNotEmpty {
            bucket: bucket.to_owned(),
        }),
        Err(StoreError::NotFound) => Err(S3Error::NoSuchBucket {
            bucket: bucket.to_owned(),
        }),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn handle_get_bucket_location(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    Ok(common::xml(
        StatusCode::OK,
        xml::location_constraint_xml(&rec.region),
    ))
}
