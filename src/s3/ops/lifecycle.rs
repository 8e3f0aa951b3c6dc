//! Get/Put/DeleteBucketLifecycleConfiguration (S3 API Reference). The rules live in the bucket
//! record; `crate::lifecycle` applies them in the background and names the expiry of an
//! object in `x-amz-expiration`.

use http::{HeaderMap, Response, StatusCode};

use super::common;
use crate::lifecycle::rules::earliest_expiry;
use crate::meta::{BucketRecord, ObjectMeta};
use crate::s3::Req;
use crate::s3::error::S3Error;
use crate::s3::xml;
use crate::server::Body;

/// Largest PutBucketLifecycleConfiguration body accepted: 1000 rules with long IDs, prefixes
/// and tag filters fit.
const MAX_LIFECYCLE_BODY: u64 = 2 * 1024 * 1024;

pub(crate) async fn handle_get_bucket_lifecycle(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    match rec.lifecycle {
        Some(rules) => Ok(common::xml(
            StatusCode::OK,
            xml::lifecycle_configuration_xml(&rules),
        )),
        None => Err(S3Error::NoSuchLifecycleConfiguration {
            bucket: bucket.to_owned(),
        }),
    }
}

pub(crate) async fn handle_put_bucket_lifecycle(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    let mut rec = req.bucket(bucket).await?;
    common::require_integrity_check(&req.headers)?;
    let body = req.small_body(MAX_LIFECYCLE_BODY).await?;
    rec.lifecycle = Some(xml::parse_lifecycle_configuration(&body)?);
    req.gw.store.put_bucket(&rec).await?;
    Ok(common::empty(StatusCode::OK))
}

pub(crate) async fn handle_delete_bucket_lifecycle(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let mut rec = req.bucket(bucket).await?;
    if rec.lifecycle.take().is_some() {
        req.gw.store.put_bucket(&rec).await?;
    }
    Ok(common::empty(StatusCode::NO_CONTENT))
}

/// Adds `x-amz-expiration: expiry-date="<HTTP date>", rule-id="<id>"` when an enabled rule of
/// `bucket` expires the current version `meta` of `key` (the earliest such rule, as S3 names
/// one). Noncurrent versions get none: only `Expiration` acts on current versions.
pub(crate) fn expiration_header(
    h: &mut HeaderMap,
    bucket: &BucketRecord,
    key: &str,
    meta: &ObjectMeta,
) {
    let Some(rules) = bucket.lifecycle.as_deref() else {
        return;
    };
    if let Some((due, rule_id)) = earliest_expiry(rules, key, meta) {
        let value = format!(
            "expiry-date=\"{}\", rule-id=\"{rule_id}\"",
            common::http_date(due)
        );
        // An ID that cannot be a header value (non-ASCII) leaves the header out.
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            h.insert("x-amz-expiration", v);
        }
    }
}
