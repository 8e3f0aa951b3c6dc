//! GetObjectAttributes (S3 API Reference: GetObjectAttributes): the attributes named in
//! `x-amz-object-attributes` — ETag, Checksum, ObjectParts (paged by `x-amz-max-parts` and
//! `x-amz-part-number-marker`), StorageClass, ObjectSize — without the object's data.
//!
//! An SSE-C object needs its key exactly as GET does (400 without it, 403 with another), and
//! a key sent for another mode is refused the same way. Like HEAD, the record is
//! authenticated whenever that costs no KMS call (SSE-S3, SSE-C); an SSE-KMS object's
//! attributes come from its record unopened, as AWS answers them without the KMS.

use http::{Response, StatusCode};

use super::common::{self, set};
use super::versioning::load_object;
use crate::meta::Sealing;
use crate::s3::Req;
use crate::s3::encryption::{self, KeyHeaders};
use crate::s3::error::S3Error;
use crate::s3::xml::{AttributePart, AttributeParts, ObjectAttributes};
use crate::server::Body;
use crate::sse::Actor;

/// Default and largest page of `<ObjectParts>`.
const MAX_PARTS: u32 = 1000;

/// The attributes a request may name.
#[derive(Debug, Default, PartialEq, Eq)]
struct Wanted {
    etag: bool,
    checksum: bool,
    parts: bool,
    storage_class: bool,
    size: bool,
}

fn wanted(header: Option<&str>) -> Result<Wanted, S3Error> {
    let names: Vec<&str> = header
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err(S3Error::invalid_argument_named(
            "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty",
            "x-amz-object-attributes",
            "",
        ));
    }
    let mut w = Wanted::default();
    for n in names {
        match n {
            "ETag" => w.etag = true,
            "Checksum" => w.checksum = true,
            "ObjectParts" => w.parts = true,
            "StorageClass" => w.storage_class = true,
            "ObjectSize" => w.size = true,
            other => {
                return Err(S3Error::invalid_argument_named(
                    "Invalid attribute name specified.",
                    "x-amz-object-attributes",
                    other,
                ));
            }
        }
    }
    Ok(w)
}

pub(crate) async fn handle_get_object_attributes(
    mut req: Req,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    max_parts: Option<u32>,
    part_number_marker: Option<u32>,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    // A list header: SDKs send one comma-separated line or one line per attribute.
    let names: Vec<&str> = req
        .headers
        .get_all("x-amz-object-attributes")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let want = wanted((!names.is_empty()).then(|| names.join(",")).as_deref())?;
    let meta = load_object(&req, bucket, key, version_id, "GET").await?;
    let customer =
        encryption::from_headers(&req.headers, KeyHeaders::Target, common::over_tls(&req))?;
    if customer.is_some() || matches!(meta.sealing, Sealing::SseC { .. } | Sealing::SseS3 { .. }) {
        req.gw
            .crypto
            .open_object(
                &meta,
                bucket,
                key,
                customer.as_ref(),
                &Actor {
                    caller: &req.caller(),
                },
            )
            .await?;
    }
    let mut out = ObjectAttributes::default();
    if want.etag {
        out.etag = Some(meta.etag.clone());
    }
    if want.checksum
        && let Some(c) = &meta.checksum
    {
        out.checksum = Some((c.algorithm.clone(), c.value.clone(), c.kind.clone()));
    }
    // Only a multipart object has parts to list (its ETag has the `-N` suffix).
    if want.parts && meta.etag.contains('-') {
        let max = max_parts.unwrap_or(MAX_PARTS).min(MAX_PARTS);
        let marker = part_number_marker.unwrap_or(0);
        let after: Vec<_> = meta
            .parts
            .iter()
            .filter(|p| p.part_number > marker)
            .collect();
        let page: Vec<AttributePart> = after
            .iter()
            .take(max as usize)
            .map(|p| AttributePart {
                part_number: p.part_number,
                size: p.size,
                checksum: p
                    .checksum_value()
                    .map(|(a, v)| (a.to_owned(), v.to_owned())),
            })
            .collect();
        let is_truncated = after.len() > page.len();
        out.parts = Some(AttributeParts {
            total: meta.parts.len(),
            part_number_marker: marker,
            next_part_number_marker: page.last().map(|p| p.part_number),
            max_parts: max,
            is_truncated,
            parts: page,
        });
    }
    if want.storage_class {
        out.storage_class = Some("STANDARD".into());
    }
    if want.size {
        out.size = Some(meta.size);
    }
    let mut resp = common::xml(StatusCode::OK, out.to_xml());
    set(
        resp.headers_mut(),
        "last-modified",
        &common::http_date(meta.last_modified_ms),
    );
    if let Some(v) = meta.version_id.as_deref().or(version_id) {
        set(resp.headers_mut(), "x-amz-version-id", v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names() {
        let w = wanted(Some("ETag, ObjectSize,ObjectParts")).unwrap();
        assert!(w.etag && w.size && w.parts && !w.checksum && !w.storage_class);
        assert_eq!(wanted(None).unwrap_err().code(), "InvalidArgument");
        assert_eq!(wanted(Some(" , ")).unwrap_err().code(), "InvalidArgument");
        assert_eq!(
            wanted(Some("ETag,Size")).unwrap_err().code(),
            "InvalidArgument"
        );
    }
}
