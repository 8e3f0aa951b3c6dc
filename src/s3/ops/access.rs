//! Put/Get/DeletePublicAccessBlock and Put/Get/DeleteBucketOwnershipControls (S3 API
//! Reference), both kept in the bucket record, and the ACL rule of BucketOwnerEnforced that
//! the write handlers apply.

use http::{HeaderMap, Response, StatusCode};

use super::common;
use super::versioning::load_object;
use crate::config::BucketDefaults;
use crate::meta::PublicAccessBlock;
use crate::s3::Req;
use crate::s3::authz::owner;
use crate::s3::error::S3Error;
use crate::s3::xml;
use crate::server::Body;

/// Largest configuration body accepted (either document is a few hundred bytes).
const MAX_CONFIG_BODY: u64 = 16 * 1024;

/// Object Ownership that disables ACLs.
pub(crate) const BUCKET_OWNER_ENFORCED: &str = "BucketOwnerEnforced";

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

/// GetBucketAcl: the owner's FULL_CONTROL grant, the only grant the gateway keeps (AWS answers
/// the same with ACLs disabled).
pub(crate) async fn handle_get_bucket_acl(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    let account = owner::bucket_account(&rec, &req.gw.cfg.account_id);
    Ok(common::xml(StatusCode::OK, owner_acl_xml(account)))
}

/// GetObjectAcl: every object belongs to the bucket owner, who holds FULL_CONTROL.
pub(crate) async fn handle_get_object_acl(
    mut req: Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    load_object(&req, bucket, key, version_id, "GET").await?;
    let account = owner::bucket_account(&rec, &req.gw.cfg.account_id);
    Ok(common::xml(StatusCode::OK, owner_acl_xml(account)))
}

fn owner_acl_xml(account: &str) -> String {
    let id = owner::canonical_id(account);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>{id}</ID><DisplayName>account-{account}</DisplayName></Owner><AccessControlList><Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>{id}</ID><DisplayName>account-{account}</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>"
    )
}

/// What a new bucket starts with: `(Block Public Access, Object Ownership)`.
///
/// `x-amz-object-ownership` on CreateBucket chooses the ownership (an unknown value is
/// InvalidArgument). Without it, AWS accepts `x-amz-acl: private` alone (rclone sends it on
/// every mkdir) and then creates the bucket BucketOwnerPreferred; any other ACL on a bucket that
/// would be BucketOwnerEnforced is InvalidBucketAclWithObjectOwnership.
pub(crate) fn new_bucket_settings(
    defaults: BucketDefaults,
    headers: &HeaderMap,
) -> Result<(Option<PublicAccessBlock>, String), S3Error> {
    let (block, default_ownership) = match defaults {
        BucketDefaults::Aws => (Some(PublicAccessBlock::ALL), BUCKET_OWNER_ENFORCED),
        BucketDefaults::Legacy => (None, "ObjectWriter"),
    };
    let acl = AclHeaders::of(headers);
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
            if v == BUCKET_OWNER_ENFORCED && acl.any() {
                return Err(S3Error::InvalidBucketAclWithObjectOwnership);
            }
            v
        }
        None if default_ownership == BUCKET_OWNER_ENFORCED && acl.is_private_only() => {
            "BucketOwnerPreferred"
        }
        None if default_ownership == BUCKET_OWNER_ENFORCED && acl.any() => {
            return Err(S3Error::InvalidBucketAclWithObjectOwnership);
        }
        None => default_ownership,
    };
    check_acl_headers(Some(ownership), headers)?;
    Ok((block, ownership.to_owned()))
}

/// The ACL a request carries.
struct AclHeaders<'a> {
    canned: Option<&'a [u8]>,
    grants: bool,
}

impl<'a> AclHeaders<'a> {
    fn of(headers: &'a HeaderMap) -> Self {
        AclHeaders {
            canned: headers.get("x-amz-acl").map(|v| v.as_bytes()),
            grants: headers
                .keys()
                .any(|k| k.as_str().starts_with("x-amz-grant-")),
        }
    }

    fn any(&self) -> bool {
        self.canned.is_some() || self.grants
    }

    fn is_private_only(&self) -> bool {
        self.canned == Some(b"private") && !self.grants
    }
}

/// The ACL headers of a write (or CreateBucket) against the bucket's Object Ownership.
///
/// BucketOwnerEnforced disables ACLs: any grant header, or a canned ACL other than
/// `bucket-owner-full-control`, is 400 AccessControlListNotSupported (S3 User Guide:
/// "Controlling ownership of objects and disabling ACLs"). Where ACLs are enabled the gateway
/// still keeps none: `private` and `bucket-owner-full-control` (the owner alone, which is
/// what every object here grants) are taken, anything granting others answers 501 rather than
/// being dropped silently.
pub(crate) fn check_acl_headers(
    ownership: Option<&str>,
    headers: &HeaderMap,
) -> Result<(), S3Error> {
    let acl = AclHeaders::of(headers);
    if ownership == Some(BUCKET_OWNER_ENFORCED) {
        if acl.grants
            || acl
                .canned
                .is_some_and(|c| c != b"bucket-owner-full-control")
        {
            return Err(S3Error::AccessControlListNotSupported);
        }
        return Ok(());
    }
    let owner_only = acl
        .canned
        .is_none_or(|c| c == b"private" || c == b"bucket-owner-full-control");
    if acl.grants || !owner_only {
        return Err(S3Error::NotImplemented(
            "ACL grants to others (x-amz-acl other than private, x-amz-grant-*) are not implemented by this gateway".into(),
        ));
    }
    Ok(())
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

    #[test]
    fn acl_headers_on_enforced_buckets() {
        let enforced = Some(BUCKET_OWNER_ENFORCED);
        assert!(check_acl_headers(enforced, &headers(&[])).is_ok());
        assert!(
            check_acl_headers(
                enforced,
                &headers(&[("x-amz-acl", "bucket-owner-full-control")])
            )
            .is_ok()
        );
        for bad in [
            &[("x-amz-acl", "private")][..],
            &[("x-amz-acl", "public-read")][..],
            &[(
                "x-amz-grant-read",
                "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
            )][..],
        ] {
            assert!(matches!(
                check_acl_headers(enforced, &headers(bad)),
                Err(S3Error::AccessControlListNotSupported)
            ));
        }
        for other in [None, Some("ObjectWriter"), Some("BucketOwnerPreferred")] {
            assert!(check_acl_headers(other, &headers(&[("x-amz-acl", "private")])).is_ok());
            assert!(matches!(
                check_acl_headers(other, &headers(&[("x-amz-acl", "public-read")])),
                Err(S3Error::NotImplemented(_))
            ));
        }
    }

    #[test]
    fn new_bucket_defaults() {
        let (b, o) = new_bucket_settings(BucketDefaults::Aws, &HeaderMap::new()).unwrap();
        assert_eq!(
            (b, o.as_str()),
            (Some(PublicAccessBlock::ALL), BUCKET_OWNER_ENFORCED)
        );
        let (b, o) = new_bucket_settings(BucketDefaults::Legacy, &HeaderMap::new()).unwrap();
        assert_eq!((b, o.as_str()), (None, "ObjectWriter"));
        let h = headers(&[("x-amz-object-ownership", "BucketOwnerPreferred")]);
        let (_, o) = new_bucket_settings(BucketDefaults::Aws, &h).unwrap();
        assert_eq!(o, "BucketOwnerPreferred");
        let h = headers(&[("x-amz-object-ownership", "Mine")]);
        assert!(new_bucket_settings(BucketDefaults::Aws, &h).is_err());
        let h = headers(&[("x-amz-acl", "private")]);
        let (_, o) = new_bucket_settings(BucketDefaults::Aws, &h).unwrap();
        assert_eq!(o, "BucketOwnerPreferred");
        for bad in [
            &[("x-amz-acl", "public-read")][..],
            &[("x-amz-grant-read", "id=x")][..],
            &[
                ("x-amz-acl", "private"),
                ("x-amz-object-ownership", "BucketOwnerEnforced"),
            ][..],
        ] {
            assert!(matches!(
                new_bucket_settings(BucketDefaults::Aws, &headers(bad)),
                Err(S3Error::InvalidBucketAclWithObjectOwnership)
            ));
        }
        let (_, o) = new_bucket_settings(BucketDefaults::Legacy, &h).unwrap();
        assert_eq!(o, "ObjectWriter");
    }
}
