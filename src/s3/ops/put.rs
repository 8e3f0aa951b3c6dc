//! PutObject.

use http::{Response, StatusCode};

use super::common::{self, check_key, quoted, set};
use super::versioning::{new_version, version_header};
use crate::checksum::{self, ChecksumAlgorithm};
use crate::meta::Checksum;
use crate::s3::acl;
use crate::s3::encryption;
use crate::s3::error::S3Error;
use crate::s3::object_lock;
use crate::s3::payload::PayloadOptions;
use crate::s3::{Req, SseFact};
use crate::server::Body;
use crate::sse::{Actor, EtagRule, ObjectBody};
use crate::store::Store;

/// Largest single PUT, as S3 allows.
pub(crate) const MAX_PUT: u64 = 5 * 1024 * 1024 * 1024;

pub(crate) async fn handle_put_object(
    mut req: Req,
    bucket: &str,
    key: &str,
) -> Result<Response<Body>, S3Error> {
    check_key(key)?;
    let brec = req.bucket(bucket).await?;
    let acl = acl::for_new_object(
        &brec,
        &req.gw.cfg.account_id,
        &req.user.account,
        &req.headers,
    )?;
    let mode = encryption::choose_write_mode(
        &req.headers,
        &brec,
        common::over_tls(&req),
        req.gw.cfg.plaintext_buckets.iter().any(|b| b == bucket),
    )?;
    let (content_headers, user_meta) = common::stored_headers(&req.headers)?;
    let tags = crate::s3::tags::from_header(&req.headers)?;
    let lock = object_lock::lock_for_write(&req.headers, &brec, common::now_ms())?;
    if object_lock::has_lock_headers(&req.headers) {
        common::require_integrity_check(&req.headers)?;
    }
    let expect = super::conditional::write_expectation(&req, bucket, key).await?;
    let (versioning, version_id) = new_version(&brec);
    let crypto = req
        .gw
        .crypto
        .seal_new(
            &mode,
            bucket,
            key,
            &Actor {
                caller: &req.caller(),
            },
        )
        .await?;
    let mut payload = req.payload(PayloadOptions {
        want_md5: crypto.etag_rule() == EtagRule::PlaintextMd5,
        max_len: MAX_PUT,
        default_checksum: Some(ChecksumAlgorithm::Crc64Nvme),
    })?;
    let store = req.gw.store.clone();
    let generation = Store::new_generation();
    let declared = payload.declared_len();
    let mut part = crypto
        .write_single_part(
            &store,
            bucket,
            &generation,
            declared,
            req.gw.cfg.inline_max_bytes,
            &mut payload,
        )
        .await?;
    let digest = payload.digest().clone();
    let etag = crypto.etag_rule().etag(digest.md5);
    let checksum = digest.checksum.as_ref().map(|(alg, raw)| Checksum {
        algorithm: alg.name().to_owned(),
        value: checksum::b64(raw),
        kind: "FULL_OBJECT".into(),
    });
    part.etag = etag.clone();
    let meta = req
        .gw
        .crypto
        .new_object_meta(
            &crypto,
            bucket,
            key,
            ObjectBody {
                size: digest.len,
                etag: etag.clone(),
                last_modified_ms: common::now_ms(),
                content_headers,
                user_meta,
                checksum: checksum.clone(),
                generation,
                parts: vec![part],
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
    let mut resp = common::empty(StatusCode::OK);
    let h = resp.headers_mut();
    set(h, "etag", &quoted(&etag));
    version_header(h, versioning, meta.version_id.as_deref());
    super::lifecycle::expiration_header(h, &brec, key, &meta);
    if let Some(c) = &checksum {
        let alg = ChecksumAlgorithm::from_name(&c.algorithm).expect("stored by us");
        set(h, alg.header_name(), &c.value);
        set(h, "x-amz-checksum-type", "FULL_OBJECT");
    }
    encryption::describe(&meta.sealing, h);
    encryption::describe_context(&meta.sealing, h);
    SseFact::attach(&mut resp, &meta.sealing);
    Ok(resp)
}
