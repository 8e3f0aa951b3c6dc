//! Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus (S3 API Reference). The policy lives in
//! the bucket record; `s3::authz` reads it for every decision on the bucket.

use http::{Response, StatusCode};

use super::common;
use crate::s3::Req;
use crate::s3::authz::bucket_policy;
use crate::s3::error::S3Error;
use crate::server::{self, Body};

pub(crate) async fn handle_put_bucket_policy(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    let mut rec = req.bucket(bucket).await?;
    // One byte over the limit is enough to refuse with AWS's reason rather than a size error.
    let body = req
        .small_body(bucket_policy::MAX_POLICY_BYTES as u64 + 1)
        .await?;
    let doc = std::str::from_utf8(&body).map_err(|_| {
        S3Error::MalformedPolicy(
            "Policies must be valid JSON and the first byte must be '{'".into(),
        )
    })?;
    let policy = bucket_policy::validate(doc, bucket).map_err(S3Error::MalformedPolicy)?;
    if rec
        .public_access_block
        .is_some_and(|b| b.block_public_policy)
        && bucket_policy::is_public(&policy)
    {
        return Err(S3Error::AccessDenied(format!(
            "User: {} is not authorized to perform: s3:PutBucketPolicy on resource: \"arn:aws:s3:::{bucket}\" because public policies are blocked by the BlockPublicPolicy block public access setting.",
            req.user.arn
        )));
    }
    rec.policy = Some(doc.to_owned());
    req.gw.store.put_bucket(&rec).await?;
    Ok(common::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn handle_get_bucket_policy(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    let doc = rec.policy.ok_or_else(|| S3Error::NoSuchBucketPolicy {
        bucket: bucket.to_owned(),
    })?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(server::full(doc))
        .expect("static headers are valid"))
}

pub(crate) async fn handle_delete_bucket_policy(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let mut rec = req.bucket(bucket).await?;
    if rec.policy.take().is_some() {
        req.gw.store.put_bucket(&rec).await?;
    }
    Ok(common::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn handle_get_bucket_policy_status(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    let doc = rec.policy.ok_or_else(|| S3Error::NoSuchBucketPolicy {
        bucket: bucket.to_owned(),
    })?;
    let public = bucket_policy::validate(&doc, bucket)
        .map(|p| bucket_policy::is_public(&p))
        .unwrap_or(false);
    Ok(common::xml(
        StatusCode::OK,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PolicyStatus xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><IsPublic>{public}</IsPublic></PolicyStatus>"
        ),
    ))
}
