//! Put/Get/DeletePublicAccessBlock and Put/Get/DeleteBucketOwnershipControls (S3 API
//! Reference), both kept in the bucket record, and what CreateBucket starts a bucket with.

use http::{HeaderMap, Response, StatusCode};

use super::common;
use crate::config::BucketDefaults;
use crate::meta::{Acl, PublicAccessBlock};
use crate::s3::Req;
use crate::s3::acl::{self, BUCKET_OWNER_ENFORCED};
use crate::s3::error::S3Error;
use crate::s3::xml;
use crate::server::Body;

/// Largest configuration body accepted (either document is a few hundred bytes).
const MAX_CONFIG_BODY: u64 = 16 * 1024;

pub(crate) async fn handle_get_public_access_block(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    let block =
        rec.public_access_block
            .ok_or_else(|| S3Error::NoSuchPublicAccessBlockConfiguration {
                bucket: bucket.to_owned(),
            })?;
    Ok(common::xml(
        StatusCode::OK,
        xml::public_access_block_xml(&block),
    ))
}

pub(crate) async fn handle_put_public_access_block(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    let mut rec = req.bucket(bucket).await?;
    let body = req.small_body(MAX_CONFIG_BODY).await?;
    rec.public_access_block = Some(xml::parse_public_access_block(&body)?);
    req.gw.store.put_bucket(&rec).await?;
    Ok(common::empty(StatusCode::OK))
}

pub(crate) async fn handle_delete_public_access_block(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let mut rec = req.bucket(bucket).await?;
    if rec.public_access_block.take().is_some() {
        req.gw.store.put_bucket(&rec).await?;
    }
    Ok(common::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn handle_get_bucket_ownership_controls(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    let ownership =
        rec.object_ownership
            .ok_or_else(|| S3Error::OwnershipControlsNotFoundError {
                bucket: bucket.to_owned(),
            })?;
    Ok(common::xml(
        StatusCode::OK,
        xml::ownership_controls_xml(&ownership),
    ))
}

pub(crate) async fn handle_put_bucket_ownership_controls(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    let mut rec = req.bucket(bucket).await?;
    let body = req.small_body(MAX_CONFIG_BODY).await?;
    rec.object_ownership = Some(xml::parse_ownership_controls(&body)?.to_owned());
    req.gw.store.put_bucket(&rec).await?;
    Ok(common::empty(StatusCode::OK))
}

pub(crate) async fn handle_delete_bucket_ownership_controls(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let mut rec = req.bucket(bucket).await?;
    if rec.object_ownership.take().is_some() {
        req.gw.store.put_bucket(&rec).await?;
    }
    Ok(common::empty(StatusCode::NO_CONTENT))
}

/// What a new bucket starts with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NewBucket {
    pub(crate) public_access_block: Option<PublicAccessBlock>,
    pub(crate) ownership: String,
    /// The bucket ACL of CreateBucket's ACL headers (`None`: the creator alone).
    pub(crate) acl: Option<Acl>,
}

/// What CreateBucket by `creator` (an account) with `headers` starts the bucket with.
///
/// `x-amz-object-ownership` on CreateBucket chooses the ownership (an unknown value is
/// InvalidArgument). Without it, AWS accepts `x-amz-acl: private` alone (rclone sends it on
/// every mkdir) and then creates the bucket BucketOwnerPreferred; any other ACL on a bucket that
/// would be BucketOwnerEnforced is InvalidBucketAclWithObjectOwnership. Where ACLs are enabled
/// the headers become the bucket's ACL; a public one while the new bucket blocks public ACLs
/// is InvalidBucketAclWithBlockPublicAccessError.
pub(crate) fn new_bucket_settings(
    defaults: BucketDefaults,
    creator: &str,
    headers: &HeaderMap,
) -> Result<NewBucket, S3Error> {
    let (block, default_ownership) = match defaults {
        BucketDefaults::Aws => (Some(PublicAccessBlock::ALL), BUCKET_OWNER_ENFORCED),
        BucketDefaults::Legacy => (None, "ObjectWriter"),
    };
    let any_acl = headers
        .keys()
        .any(|k| k == "x-amz-acl" || k.as_str().starts_with("x-amz-grant-"));
    let private_only = any_acl
        && headers.get("x-amz-acl").is_some_and(|v| v == "private")
        && !headers
            .keys()
            .any(|k| k.as_str().starts_with("x-amz-grant-"));
    let ownership = match headers.get("x-amz-object-ownership") {
        Some(v) => {
            let v = v.to_str().unwrap_or("");
            if !xml::OBJECT_OWNERSHIPS.contains(&v) {
                return Err(S3Error::InvalidArgument {
                    msg: "Invalid x-amz-object-ownership header".into(),
                    name: Some("x-amz-object-ownership".into()),
                    value: Some(v.to_owned()),
                });
            }
            if v == BUCKET_OWNER_ENFORCED && any_acl {
                return Err(S3Error::InvalidBucketAclWithObjectOwnership);
            }
            v
        }
        None if default_ownership == BUCKET_OWNER_ENFORCED && private_only => {
            "BucketOwnerPreferred"
        }
        None if default_ownership == BUCKET_OWNER_ENFORCED && any_acl => {
            return Err(S3Error::InvalidBucketAclWithObjectOwnership);
        }
        None => default_ownership,
    };
    let acl = match acl::from_headers(headers)? {
        Some(spec) => {
            let acl = acl::resolve(&spec, creator, creator);
            if block.is_some_and(|b| b.block_public_acls) && acl::is_public(&acl) {
                return Err(S3Error::InvalidBucketAclWithBlockPublicAccessError);
            }
            acl::stored(acl, creator)
        }
        None => None,
    };
    Ok(NewBucket {
        public_access_block: block,
        ownership: ownership.to_owned(),
        acl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    const A: &str = "111111111111";

    fn new(defaults: BucketDefaults, h: &HeaderMap) -> Result<NewBucket, S3Error> {
        new_bucket_settings(defaults, A, h)
    }

    #[test]
    fn new_bucket_defaults() {
        let n = new(BucketDefaults::Aws, &HeaderMap::new()).unwrap();
        assert_eq!(
            (n.public_access_block, n.ownership.as_str(), n.acl),
            (Some(PublicAccessBlock::ALL), BUCKET_OWNER_ENFORCED, None)
        );
        let n = new(BucketDefaults::Legacy, &HeaderMap::new()).unwrap();
        assert_eq!(
            (n.public_access_block, n.ownership.as_str()),
            (None, "ObjectWriter")
        );
        let h = headers(&[("x-amz-object-ownership", "BucketOwnerPreferred")]);
        assert_eq!(
            new(BucketDefaults::Aws, &h).unwrap().ownership,
            "BucketOwnerPreferred"
        );
        let h = headers(&[("x-amz-object-ownership", "Mine")]);
        assert!(new(BucketDefaults::Aws, &h).is_err());
        let h = headers(&[("x-amz-acl", "private")]);
        let n = new(BucketDefaults::Aws, &h).unwrap();
        assert_eq!(
            (n.ownership.as_str(), n.acl),
            ("BucketOwnerPreferred", None)
        );
        for bad in [
            &[("x-amz-acl", "public-read")][..],
            &[("x-amz-grant-read", "id=x")][..],
            &[
                ("x-amz-acl", "private"),
                ("x-amz-object-ownership", "BucketOwnerEnforced"),
            ][..],
        ] {
            assert!(matches!(
                new(BucketDefaults::Aws, &headers(bad)),
                Err(S3Error::InvalidBucketAclWithObjectOwnership)
            ));
        }
        assert_eq!(
            new(BucketDefaults::Legacy, &h).unwrap().ownership,
            "ObjectWriter"
        );
        // ACLs enabled: the headers become the bucket ACL, public ones only without the block.
        let public = headers(&[("x-amz-acl", "public-read")]);
        let acl = new(BucketDefaults::Legacy, &public).unwrap().acl.unwrap();
        assert!(acl::is_public(&acl));
        let h = headers(&[
            ("x-amz-acl", "public-read"),
            ("x-amz-object-ownership", "ObjectWriter"),
        ]);
        assert!(matches!(
            new(BucketDefaults::Aws, &h),
            Err(S3Error::InvalidBucketAclWithBlockPublicAccessError)
        ));
    }
}
