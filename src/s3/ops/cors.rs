//! Get/Put/DeleteBucketCors and the unauthenticated `OPTIONS` preflight (S3 API Reference:
//! PutBucketCors, GetBucketCors, DeleteBucketCors, OPTIONS object). The rules live in the
//! bucket record; evaluation is `s3::cors`.

use std::sync::Arc;

use http::{HeaderMap, Response, StatusCode};

use super::common;
use crate::gateway::Gateway;
use crate::s3::Req;
use crate::s3::cors::{Preflight, actual_headers};
use crate::s3::error::S3Error;
use crate::s3::names::valid_bucket_name;
use crate::s3::xml;
use crate::server::Body;

/// Largest PutBucketCors body accepted (100 rules fit easily).
const MAX_CORS_BODY: u64 = 64 * 1024;

pub(crate) async fn handle_get_bucket_cors(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    match rec.cors {
        Some(rules) => Ok(common::xml(
            StatusCode::OK,
            xml::cors_configuration_xml(&rules),
        )),
        None => Err(S3Error::NoSuchCORSConfiguration {
            bucket: bucket.to_owned(),
        }),
    }
}

pub(crate) async fn handle_put_bucket_cors(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    let mut rec = req.bucket(bucket).await?;
    common::require_integrity_header(&req.headers)?;
    let body = req.small_body(MAX_CORS_BODY).await?;
    rec.cors = Some(xml::parse_cors_configuration(&body)?);
    req.gw.store.put_bucket(&rec).await?;
    Ok(common::empty(StatusCode::OK))
}

pub(crate) async fn handle_delete_bucket_cors(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let mut rec = req.bucket(bucket).await?;
    if rec.cors.take().is_some() {
        req.gw.store.put_bucket(&rec).await?;
    }
    Ok(common::empty(StatusCode::NO_CONTENT))
}

/// An `OPTIONS` preflight. Unauthenticated, as on AWS: browsers send preflights without
/// credentials, and the answer only reveals what the bucket's rules already grant.
pub(crate) async fn handle_preflight(
    gw: &Gateway,
    headers: &HeaderMap,
    bucket: &str,
    on_object: bool,
) -> Result<Response<Body>, S3Error> {
    let preflight = Preflight::from_headers(headers)?;
    let rec = match valid_bucket_name(bucket) {
        true => gw.store.get_bucket(bucket).await?,
        false => None,
    }
    .ok_or_else(|| preflight.forbidden("CORSResponse: Bucket not found", "BUCKET"))?;
    let resource_type = if on_object { "OBJECT" } else { "BUCKET" };
    let granted = preflight.answer(rec.cors.as_deref(), resource_type)?;
    let mut resp = common::empty(StatusCode::OK);
    resp.headers_mut().extend(granted);
    Ok(resp)
}

/// Adds the CORS headers of an actual request (any status, errors included) to a bucket that
/// has rules; `request` holds its `Origin` and any `Access-Control-Request-*`. A bucket that
/// cannot be read adds nothing: the request's own answer stands.
pub(crate) async fn add_actual_headers(
    gw: &Arc<Gateway>,
    resp: &mut Response<Body>,
    bucket: &str,
    request: &HeaderMap,
    method: &http::Method,
) {
    if !valid_bucket_name(bucket) {
        return;
    }
    if let Ok(Some(rec)) = gw.store.get_bucket(bucket).await
        && let Some(rules) = rec.cors.as_deref()
    {
        resp.headers_mut()
            .extend(actual_headers(rules, request, method.as_str()));
    }
}
