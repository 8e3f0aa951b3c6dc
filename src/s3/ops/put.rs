//! PutObject.

use http::{Response, StatusCode};

use super::common::{self, check_key, quoted, set};
use crate::checksum::{self, ChecksumAlgorithm};
use crate::meta::{Checksum, META_FORMAT, ObjectMeta};
use crate::s3::error::S3Error;
use crate::s3::object_io::{self, SEGMENT_SIZE};
use crate::s3::payload::PayloadOptions;
use crate::s3::{Req, object_io::store_error};
use crate::server::Body;
use crate::sse::Actor;
use crate::sse::{self, WriteMode};
use crate::store::Store;

/// Largest single PUT, as S3 allows.
pub const MAX_PUT: u64 = 5 * 1024 * 1024 * 1024;

pub async fn handle_put_object(
    mut req: Req,
    bucket: &str,
    key: &str,
) -> Result<Response<Body>, S3Error> {
    check_key(key)?;
    let brec = req.bucket(bucket).await?;
    let mode = sse::choose_write_mode(
        &req.headers,
        &brec,
        common::over_tls(&req),
        req.gw.cfg.plaintext_buckets.iter().any(|b| b == bucket),
    )?;
    let (content_headers, user_meta) = common::stored_headers(&req.headers)?;
    let (object_key, sealing) = req
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
    let plain_etag = matches!(mode, WriteMode::SseS3 | WriteMode::Plain);
    let mut payload = req.payload(PayloadOptions {
        want_md5: plain_etag,
        max_len: MAX_PUT,
        default_checksum: Some(ChecksumAlgorithm::Crc64Nvme),
    })?;
    let store = req.gw.store.clone();
    let generation = Store::new_generation();
    let written = object_io::write_part(
        &store,
        bucket,
        &generation,
        "1",
        1,
        &object_key,
        matches!(mode, WriteMode::Plain),
        &mut payload,
    )
    .await;
    let written = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = store.delete_generation(bucket, &generation).await;
            return Err(e);
        }
    };
    let digest = payload.digest().clone();
    let etag = match digest.md5 {
        Some(md5) if plain_etag => hex::encode(md5),
        _ => common::opaque_etag(),
    };
    let checksum = digest.checksum.as_ref().map(|(alg, raw)| Checksum {
        algorithm: alg.name().to_owned(),
        value: checksum::b64(raw),
        kind: "FULL_OBJECT".into(),
    });
    let mut layout = written.layout;
    layout.etag = etag.clone();
    let meta = ObjectMeta {
        format: META_FORMAT.into(),
        size: digest.len,
        etag: etag.clone(),
        last_modified_ms: common::now_ms(),
        content_headers,
        user_meta,
        checksum: checksum.clone(),
        segment_size: SEGMENT_SIZE,
        generation: generation.clone(),
        parts: vec![layout],
        sealing,
    };
    commit(&store, bucket, key, &meta).await?;
    let mut resp = common::empty(StatusCode::OK);
    let h = resp.headers_mut();
    set(h, "etag", &quoted(&etag));
    if let Some(c) = &checksum {
        let alg = ChecksumAlgorithm::from_name(&c.algorithm).expect("stored by us");
        set(h, alg.header_name(), &c.value);
        set(h, "x-amz-checksum-type", "FULL_OBJECT");
    }
    sse::describe(&meta.sealing, h);
    sse::describe_context(&meta.sealing, h);
    Ok(resp)
}

/// Swaps in a new meta record, then reclaims the previous version's data. A crash between the
/// two leaves only unreferenced blobs for the orphan sweep.
pub async fn commit(
    store: &Store,
    bucket: &str,
    key: &str,
    meta: &ObjectMeta,
) -> Result<(), S3Error> {
    let previous = match store.put_meta(bucket, key, meta).await {
        Ok(p) => p,
        Err(e) => {
            let _ = store.delete_generation(bucket, &meta.generation).await;
            return Err(store_error(e));
        }
    };
    if let Some(prev) = previous
        && prev.generation != meta.generation
        && let Err(e) = store.delete_generation(bucket, &prev.generation).await
    {
        tracing::warn!(bucket, error = %e, "previous generation left for the orphan sweep");
    }
    Ok(())
}
