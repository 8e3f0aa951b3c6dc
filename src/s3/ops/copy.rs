//! CopyObject and the copy-source half of UploadPartCopy.
//!
//! Copying an object whole never re-encrypts it: the destination gets hard-linked (or
//! server-side copied) ciphertext and the same object key, resealed for the destination's mode
//! and name. Only a ranged copy (UploadPartCopy with a range) decrypts and re-encrypts.

use http::{Response, StatusCode};

use super::common::{self, check_key};
use super::get::{check_conditions, load_meta};
use super::put::commit;
use crate::envelope::ObjectKey;
use crate::meta::{Checksum, META_FORMAT, ObjectMeta, Sealing};
use crate::s3::error::S3Error;
use crate::s3::object_io::store_error;
use crate::s3::xml;
use crate::s3::{Req, router};
use crate::server::Body;
use crate::sse::Actor;
use crate::sse::{self, WriteMode, sse_c};
use crate::store::Store;

/// The decrypted handle on a copy source.
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    pub meta: ObjectMeta,
    pub object_key: ObjectKey,
}

/// Checks the copy-source conditions and opens the source's object key.
pub async fn open_source(req: &Req, source: &router::CopySource) -> Result<CopySource, S3Error> {
    if source.version_id.as_deref().is_some_and(|v| v != "null") {
        return Err(S3Error::NotImplemented(
            "Versioning is not supported: x-amz-copy-source cannot name a versionId".into(),
        ));
    }
    let (bucket, key) = (source.bucket.as_str(), source.key.as_str());
    let meta = load_meta(req, bucket, key).await?;
    check_conditions(&req.headers, &meta, "x-amz-copy-source-")?;
    let customer = sse_c::from_headers(
        &req.headers,
        sse_c::KeyHeaders::CopySource,
        common::over_tls(req),
    )?;
    let object_key = req
        .gw
        .crypto
        .open(
            &meta.sealing,
            bucket,
            key,
            customer.as_ref(),
            &Actor {
                caller: &req.caller(),
            },
        )
        .await?;
    Ok(CopySource {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        meta,
        object_key,
    })
}

fn sse_headers_present(req: &Req) -> bool {
    req.headers.keys().any(|k| {
        let k = k.as_str();
        k == "x-amz-server-side-encryption" || k.starts_with("x-amz-server-side-encryption-")
    })
}

pub async fn handle_copy_object(
    mut req: Req,
    bucket: &str,
    key: &str,
    source: &router::CopySource,
) -> Result<Response<Body>, S3Error> {
    check_key(key)?;
    req.no_body().await?;
    let dest_bucket = req.bucket(bucket).await?;
    let src = open_source(&req, source).await?;
    let replace = match req.header("x-amz-metadata-directive") {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(other) => {
            return Err(S3Error::invalid_argument_named(
                "Unknown metadata directive.",
                "x-amz-metadata-directive",
                other,
            ));
        }
    };
    let in_place = src.bucket == bucket && src.key == key;
    if in_place
        && !replace
        && !sse_headers_present(&req)
        && dest_bucket.encryption.is_none()
        && matches!(src.meta.sealing, Sealing::SseS3 { .. })
    {
        return Err(S3Error::InvalidRequest(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.".into(),
        ));
    }
    let mode = sse::choose_write_mode(
        &req.headers,
        &dest_bucket,
        common::over_tls(&req),
        req.gw.cfg.plaintext_buckets.iter().any(|b| b == bucket),
    )?;
    if matches!(mode, WriteMode::Plain) != matches!(src.meta.sealing, Sealing::None) {
        return Err(S3Error::InvalidRequest(
            "Copying between a plaintext comparison bucket and encrypted objects is not supported"
                .into(),
        ));
    }
    let sealing = req
        .gw
        .crypto
        .reseal(
            &src.object_key,
            &mode,
            bucket,
            key,
            &Actor {
                caller: &req.caller(),
            },
        )
        .await?;
    let (content_headers, user_meta) = if replace {
        common::stored_headers(&req.headers)?
    } else {
        (src.meta.content_headers.clone(), src.meta.user_meta.clone())
    };
    let store = req.gw.store.clone();
    let generation = Store::new_generation();
    for part in &src.meta.parts {
        if let Err(e) = store
            .copy_blob(
                (&src.bucket, &src.meta.generation, &part.blob),
                (bucket, &generation, &part.blob),
            )
            .await
        {
            let _ = store.delete_generation(bucket, &generation).await;
            return Err(store_error(e));
        }
    }
    // The ETag follows the destination's mode: an opaque one for SSE-C/KMS; for SSE-S3 the
    // plaintext MD5 (single part) or the multipart ETag. A single-part SSE-KMS/SSE-C source has
    // no MD5 on record, so it is computed by reading the plaintext once; the data is still
    // not re-encrypted.
    let etag = match (&mode, &src.meta.sealing) {
        (WriteMode::SseS3, Sealing::SseS3 { .. }) | (WriteMode::Plain, _) => src.meta.etag.clone(),
        (WriteMode::SseS3, _) if src.meta.parts.len() > 1 => src.meta.etag.clone(),
        (WriteMode::SseS3, _) => match plaintext_md5(&req, &src).await {
            Ok(md5) => md5,
            Err(e) => {
                let _ = store.delete_generation(bucket, &generation).await;
                return Err(e);
            }
        },
        _ => common::opaque_etag(),
    };
    let meta = ObjectMeta {
        format: META_FORMAT.into(),
        size: src.meta.size,
        etag: etag.clone(),
        last_modified_ms: common::now_ms(),
        content_headers,
        user_meta,
        checksum: src.meta.checksum.clone(),
        segment_size: src.meta.segment_size,
        generation,
        parts: src.meta.parts.clone(),
        sealing,
    };
    commit(&store, bucket, key, &meta).await?;
    let result = xml::CopyResult {
        etag: etag.clone(),
        last_modified_ms: meta.last_modified_ms,
        checksum: meta.checksum.as_ref().map(xml_checksum),
    };
    let mut resp = common::xml(StatusCode::OK, result.to_copy_object_xml());
    sse::describe(&meta.sealing, resp.headers_mut());
    sse::describe_context(&meta.sealing, resp.headers_mut());
    Ok(resp)
}

/// Hex MD5 of a source object's plaintext.
async fn plaintext_md5(req: &Req, src: &CopySource) -> Result<String, S3Error> {
    use md5::{Digest, Md5};
    let mut md5 = Md5::new();
    if src.meta.size > 0 {
        let (first, mut rest) = crate::s3::object_io::read_plain(
            req.gw.store.clone(),
            src.bucket.clone(),
            &src.meta,
            src.object_key.clone(),
            0,
            src.meta.size - 1,
        )
        .await?;
        if let Some(b) = first {
            md5.update(&b);
        }
        while let Some(piece) = rest.0.recv().await {
            md5.update(&piece?);
        }
    }
    Ok(hex::encode(md5.finalize()))
}

/// A stored checksum as a response element.
pub fn xml_checksum(c: &Checksum) -> xml::XmlChecksum {
    xml::XmlChecksum {
        algorithm: c.algorithm.clone(),
        value: c.value.clone(),
        kind: Some(c.kind.clone()),
    }
}
