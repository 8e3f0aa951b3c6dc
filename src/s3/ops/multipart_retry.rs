//! A CompleteMultipartUpload retried after it succeeded (the client lost the first response,
//! so its SDK sends it again) answers what the first one did, as S3 does: the handler leaves a
//! completion record in the store (`docs/STORAGE.md`), valid for
//! [`COMPLETION_WINDOW_MS`] and while the key still holds the object it made.

use http::{Response, StatusCode};

use super::common;
use crate::meta::{
    COMPLETION_FORMAT, COMPLETION_WINDOW_MS, CompletionRecord, ObjectMeta, Sealing, UploadRecord,
};
use crate::s3::encryption::{self, KeyHeaders};
use crate::s3::error::S3Error;
use crate::s3::xml::{self, CompletedPart};
use crate::s3::{Req, SseFact};
use crate::server::Body;

/// The record a successful Complete leaves for its retries.
pub(super) fn completion(
    rec: &UploadRecord,
    meta: &ObjectMeta,
    requested: &[CompletedPart],
) -> CompletionRecord {
    CompletionRecord {
        format: COMPLETION_FORMAT.into(),
        upload_id: rec.upload_id.clone(),
        bucket: rec.bucket.clone(),
        key: rec.key.clone(),
        completed_ms: common::now_ms(),
        generation: meta.generation.clone(),
        etag: meta.etag.clone(),
        checksum: meta.checksum.clone(),
        parts: part_list(requested),
        sealing: meta.sealing.clone(),
    }
}

fn part_list(requested: &[CompletedPart]) -> Vec<(u32, String)> {
    requested
        .iter()
        .map(|p| (p.part_number, p.etag.trim().trim_matches('"').to_owned()))
        .collect()
}

/// Answers a Complete for an upload id that has no upload record: the first Complete's result
/// when this is its retry, else `NoSuchUpload`; a different part list is `InvalidPart` (the
/// parts it names are no longer there to complete with).
pub(super) async fn complete_again(
    mut req: Req,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<Response<Body>, S3Error> {
    let no_such = || S3Error::NoSuchUpload {
        upload_id: upload_id.to_owned(),
    };
    let Some(done) = req.gw.store.get_completion(bucket, upload_id).await? else {
        return Err(no_such());
    };
    if done.key != key || common::now_ms().saturating_sub(done.completed_ms) > COMPLETION_WINDOW_MS
    {
        return Err(no_such());
    }
    // Overwritten or deleted since: there is no result to repeat.
    let current = req.gw.store.get_meta(bucket, key).await?;
    let Some(current) = current.filter(|m| m.generation == done.generation) else {
        return Err(no_such());
    };
    let customer =
        encryption::from_headers(&req.headers, KeyHeaders::Target, common::over_tls(&req))?;
    encryption::check_upload_key(&done.sealing, customer.as_ref(), true)?;
    let body = req.small_body(4 * 1024 * 1024).await?;
    let requested = xml::parse_complete_multipart_upload(&body)?;
    if part_list(&requested) != done.parts {
        return Err(S3Error::invalid_part());
    }
    let result = xml::CompleteMultipartUploadResult {
        location: format!("/{bucket}/{}", xml::url_encode_key(key)),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        etag: done.etag.clone(),
        checksum: done.checksum.as_ref().map(super::copy::xml_checksum),
    };
    let mut resp = common::xml(StatusCode::OK, result.to_xml());
    // The same headers as the first answer (see the Complete handler).
    if let Some(v) = &current.version_id {
        common::set(resp.headers_mut(), "x-amz-version-id", v);
    }
    if !matches!(done.sealing, Sealing::SseC { .. }) {
        encryption::describe(&done.sealing, resp.headers_mut());
    }
    SseFact::attach(&mut resp, &done.sealing);
    Ok(resp)
}
