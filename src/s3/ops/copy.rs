//! CopyObject and the copy-source half of UploadPartCopy.
//!
//! Copying an object whole never re-encrypts it: the destination gets hard-linked (or
//! server-side copied) ciphertext and the same object key, resealed for the destination's mode
//! and name. Only a ranged copy (UploadPartCopy with a range) decrypts and re-encrypts.

use http::{Response, StatusCode};

use super::common::{self, check_key};
use super::get::check_conditions;
use super::versioning::{load_object, new_version, version_header};
use crate::meta::{Checksum, ObjectMeta, Sealing};
use crate::s3::acl;
use crate::s3::encryption::{self, KeyHeaders};
use crate::s3::error::S3Error;
use crate::s3::xml;
use crate::s3::{Req, SseFact, router};
use crate::server::Body;
use crate::sse::{Actor, EtagRule, ObjectBody, ObjectCrypto};

/// The opened copy source.
pub(crate) struct CopySource {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) meta: ObjectMeta,
    pub(crate) crypto: ObjectCrypto,
}

/// Checks the copy-source conditions and opens the source's object key.
pub(crate) async fn open_source(
    req: &Req,
    source: &router::CopySource,
) -> Result<CopySource, S3Error> {
    let (bucket, key) = (source.bucket.as_str(), source.key.as_str());
    let meta = match load_object(req, bucket, key, source.version_id.as_deref(), "GET").await {
        Err(S3Error::DeleteMarker { .. }) if source.version_id.is_some() => {
            return Err(S3Error::InvalidRequest(
                "The source of a copy request may not specifically refer to a delete marker by version id."
                    .into(),
            ));
        }
        other => other?,
    };
    check_conditions(&req.headers, &meta, "x-amz-copy-source-")?;
    let customer =
        encryption::from_headers(&req.headers, KeyHeaders::CopySource, common::over_tls(req))?;
    let crypto = req
        .gw
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
    Ok(CopySource {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        meta,
        crypto,
    })
}

fn sse_headers_present(req: &Req) -> bool {
    req.headers.keys().any(|k| {
        let k = k.as_str();
        k == "x-amz-server-side-encryption" || k.starts_with("x-amz-server-side-encryption-")
    })
}

pub(crate) async fn handle_copy_object(
    mut req: Req,
    bucket: &str,
    key: &str,
    source: &router::CopySource,
) -> Result<Response<Body>, S3Error> {
    check_key(key)?;
    req.no_body().await?;
    let dest_bucket = req.bucket(bucket).await?;
    // A copy gets the ACL of its request, never the source's (as on S3).
    let acl = acl::for_new_object(
        &dest_bucket,
        &req.gw.cfg.account_id,
        &req.user.account,
        &req.headers,
    )?;
    // The copy's lock is its request's (or the bucket's default), never the source's.
    let lock =
        crate::s3::object_lock::lock_for_write(&req.headers, &dest_bucket, common::now_ms())?;
    let src = open_source(&req, source).await?;
    let (versioning, version_id) = new_version(&dest_bucket);
    // `If-None-Match: *` / `If-Match` name the destination (the source has its own
    // `x-amz-copy-source-if-*`).
    let expect = super::conditional::write_expectation(&req, bucket, key).await?;
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
    let mode = encryption::choose_write_mode(
        &req.headers,
        &dest_bucket,
        common::over_tls(&req),
        req.gw.cfg.plaintext_buckets.iter().any(|b| b == bucket),
    )?;
    let crypto = req
        .gw
        .crypto
        .reseal(
            &src.crypto,
            &mode,
            bucket,
            key,
            &Actor {
                caller: &req.caller(),
            },
        )
        .await?;
    let tags = match req.header("x-amz-tagging-directive") {
        None | Some("COPY") => src.meta.tags.clone(),
        Some("REPLACE") => crate::s3::tags::from_header(&req.headers)?,
        Some(other) => {
            return Err(S3Error::invalid_argument_named(
                "Unknown tagging directive.",
                "x-amz-tagging-directive",
                other,
            ));
        }
    };
    let (content_headers, user_meta) = if replace {
        common::stored_headers(&req.headers)?
    } else {
        (src.meta.content_headers.clone(), src.meta.user_meta.clone())
    };
    // The ETag follows the destination's mode: an opaque one for SSE-C/KMS; for SSE-S3 the
    // plaintext MD5 (single part) or the multipart ETag. A single-part SSE-KMS/SSE-C source has
    // no MD5 on record, so it is computed by reading the plaintext once; the data is still
    // not re-encrypted.
    let etag = match (crypto.etag_rule(), EtagRule::of(&src.meta.sealing)) {
        (EtagRule::Opaque, _) => EtagRule::Opaque.etag(None),
        (EtagRule::PlaintextMd5, EtagRule::PlaintextMd5) => src.meta.etag.clone(),
        (EtagRule::PlaintextMd5, _) if src.meta.parts.len() > 1 => src.meta.etag.clone(),
        (EtagRule::PlaintextMd5, _) => plaintext_md5(&req, &src).await?,
    };
    let store = &req.gw.store;
    let generation = store
        .copy_parts((&src.bucket, &src.meta.generation), &src.meta.parts, bucket)
        .await?;
    let meta = req
        .gw
        .crypto
        .new_object_meta(
            &crypto,
            bucket,
            key,
            ObjectBody {
                size: src.meta.size,
                etag: etag.clone(),
                last_modified_ms: common::now_ms(),
                content_headers,
                user_meta,
                checksum: src.meta.checksum.clone(),
                generation,
                parts: src.meta.parts.clone(),
                tags,
                version_id,
                acl,
                lock,
            },
        )
        .await?;
    store
        .commit_object_if(bucket, key, &meta, versioning, &expect)
        .await?;
    super::object_lock::note_kms_key(&req, bucket, key, &meta).await;
    let result = xml::CopyResult {
        etag: etag.clone(),
        last_modified_ms: meta.last_modified_ms,
        checksum: meta.checksum.as_ref().map(xml_checksum),
    };
    let mut resp = common::xml(StatusCode::OK, result.to_copy_object_xml());
    // The source's version, when it has one or was named by id (`null` included).
    if let Some(id) = src
        .meta
        .version_id
        .as_deref()
        .or(source.version_id.as_deref())
    {
        common::set(resp.headers_mut(), "x-amz-copy-source-version-id", id);
    }
    version_header(resp.headers_mut(), versioning, meta.version_id.as_deref());
    super::lifecycle::expiration_header(resp.headers_mut(), &dest_bucket, key, &meta);
    encryption::describe(&meta.sealing, resp.headers_mut());
    encryption::describe_context(&meta.sealing, resp.headers_mut());
    SseFact::attach(&mut resp, &meta.sealing);
    Ok(resp)
}

/// Hex MD5 of a source object's plaintext.
async fn plaintext_md5(req: &Req, src: &CopySource) -> Result<String, S3Error> {
    use md5::{Digest, Md5};
    let mut md5 = Md5::new();
    if src.meta.size > 0 {
        let (first, mut rest) = src
            .crypto
            .read_range(
                req.gw.store.clone(),
                src.bucket.clone(),
                &src.meta,
                0,
                src.meta.size - 1,
            )
            .await?;
        if let Some(b) = first {
            md5.update(&b);
        }
        while let Some(piece) = rest.next().await {
            md5.update(&piece?);
        }
    }
    Ok(hex::encode(md5.finalize()))
}

/// A stored checksum as a response element.
pub(crate) fn xml_checksum(c: &Checksum) -> xml::XmlChecksum {
    xml::XmlChecksum {
        algorithm: c.algorithm.clone(),
        value: c.value.clone(),
        kind: Some(c.kind.clone()),
    }
}
