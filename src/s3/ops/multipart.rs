//! Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts,
//! ListMultipartUploads.
//!
//! The upload's object key is made and sealed at Create (so the encryption is fixed there, as
//! in S3); every part upload gets its own salt and nonce prefix, hence its own part key, even
//! when a part number is uploaded again.

use http::{Response, StatusCode};
use md5::{Digest, Md5};

use super::common::{self, check_key, quoted, set};
use super::complete_checksum;
use super::copy::open_source;
use super::multipart_retry;
use crate::checksum::{self, ChecksumAlgorithm};
use crate::meta::{Checksum, PartLayout, Sealing, UPLOAD_FORMAT, UploadRecord};
use crate::s3::acl;
use crate::s3::encryption::{self, KeyHeaders};
use crate::s3::error::S3Error;
use crate::s3::payload::PayloadOptions;
use crate::s3::xml;
use crate::s3::{Req, SseFact, router};
use crate::server::Body;
use crate::sse::{Actor, ObjectBody, ObjectCrypto, PlainSource, PlainStream};
use crate::store::Store;

const MIN_PART: u64 = 5 * 1024 * 1024;
const MAX_PART: u64 = 5 * 1024 * 1024 * 1024;

fn checksum_settings(req: &Req) -> Result<(Option<ChecksumAlgorithm>, Option<String>), S3Error> {
    let alg = match req.header("x-amz-checksum-algorithm") {
        Some(v) => Some(ChecksumAlgorithm::from_name(v).ok_or_else(|| {
            S3Error::InvalidRequest(
                "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]".into(),
            )
        })?),
        None => None,
    };
    let kind = req
        .header("x-amz-checksum-type")
        .map(str::to_ascii_uppercase);
    match (alg, kind) {
        (None, Some(_)) => Err(S3Error::InvalidRequest(
            "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.".into(),
        )),
        (None, None) => Ok((None, None)),
        (Some(a), None) => Ok((Some(a), Some(a.default_type().as_str().to_owned()))),
        (Some(a), Some(k)) => match k.as_str() {
            "COMPOSITE" if a == ChecksumAlgorithm::Crc64Nvme => Err(S3Error::InvalidRequest(
                "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."
                    .into(),
            )),
            "FULL_OBJECT" if !a.supports_full_object() => Err(S3Error::InvalidRequest(format!(
                "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                a.name().to_ascii_lowercase()
            ))),
            "COMPOSITE" | "FULL_OBJECT" => Ok((Some(a), Some(k))),
            _ => Err(S3Error::InvalidRequest(
                "Value for x-amz-checksum-type header is invalid.".into(),
            )),
        },
    }
}

pub(crate) async fn handle_create_multipart_upload(
    mut req: Req,
    bucket: &str,
    key: &str,
) -> Result<Response<Body>, S3Error> {
    check_key(key)?;
    req.no_body().await?;
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
    let (checksum_algorithm, checksum_type) = checksum_settings(&req)?;
    let (content_headers, user_meta) = common::stored_headers(&req.headers)?;
    let tags = crate::s3::tags::from_header(&req.headers)?;
    let lock = crate::s3::object_lock::lock_for_write(&req.headers, &brec, common::now_ms())?;
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
    let upload_id = uuid::Uuid::new_v4().simple().to_string();
    let rec = UploadRecord {
        format: UPLOAD_FORMAT.into(),
        upload_id: upload_id.clone(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        initiated_ms: common::now_ms(),
        content_headers,
        user_meta,
        checksum_algorithm: checksum_algorithm.map(|a| a.name().to_owned()),
        checksum_type: checksum_type.clone(),
        generation: Store::new_generation(),
        sealing: crypto.sealing().clone(),
        record_key: req
            .gw
            .crypto
            .seal_record_key(&crypto, bucket, &upload_id)
            .await?,
        tags,
        acl,
        lock,
    };
    req.gw.store.create_upload(&rec).await?;
    let body = xml::InitiateMultipartUploadResult {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        upload_id,
    };
    let mut resp = common::xml(StatusCode::OK, body.to_xml());
    let h = resp.headers_mut();
    encryption::describe(&rec.sealing, h);
    encryption::describe_context(&rec.sealing, h);
    if let (Some(a), Some(t)) = (checksum_algorithm, checksum_type) {
        set(h, "x-amz-checksum-algorithm", a.name());
        set(h, "x-amz-checksum-type", &t);
    }
    Ok(resp)
}

async fn load_upload(req: &Req, bucket: &str, upload_id: &str) -> Result<UploadRecord, S3Error> {
    req.bucket(bucket).await?;
    req.gw
        .store
        .get_upload(bucket, upload_id)
        .await?
        .ok_or_else(|| S3Error::NoSuchUpload {
            upload_id: upload_id.to_owned(),
        })
}

/// Opens the upload's object key, enforcing that SSE-C parts carry the upload's key.
async fn open_upload_key(req: &Req, rec: &UploadRecord) -> Result<ObjectCrypto, S3Error> {
    let customer =
        encryption::from_headers(&req.headers, KeyHeaders::Target, common::over_tls(req))?;
    encryption::check_upload_key(&rec.sealing, customer.as_ref(), false)?;
    Ok(req
        .gw
        .crypto
        .open_upload(
            rec,
            customer.as_ref(),
            &Actor {
                caller: &req.caller(),
            },
        )
        .await?)
}

fn upload_alg(rec: &UploadRecord) -> Option<ChecksumAlgorithm> {
    rec.checksum_algorithm
        .as_deref()
        .and_then(ChecksumAlgorithm::from_name)
}

fn part_blob_name(part_number: u32) -> String {
    format!("p{part_number}-{}", uuid::Uuid::new_v4().simple())
}

pub(crate) async fn handle_upload_part(
    mut req: Req,
    bucket: &str,
    key: &str,
    upload_id: &str,
    part_number: u32,
) -> Result<Response<Body>, S3Error> {
    encryption::reject_write_headers(&req.headers)?;
    let rec = load_upload(&req, bucket, upload_id).await?;
    if rec.key != key {
        return Err(S3Error::NoSuchUpload {
            upload_id: upload_id.to_owned(),
        });
    }
    let crypto = open_upload_key(&req, &rec).await?;
    let alg = upload_alg(&rec);
    let mut payload = req.payload(PayloadOptions {
        want_md5: true,
        max_len: MAX_PART,
        default_checksum: Some(alg.unwrap_or(ChecksumAlgorithm::Crc64Nvme)),
    })?;
    let store = req.gw.store.clone();
    let blob = part_blob_name(part_number);
    let mut part = crypto
        .write_part(
            &store,
            bucket,
            &rec.generation,
            &blob,
            part_number,
            &mut payload,
        )
        .await?;
    let digest = payload.digest().clone();
    if let (Some(expected), Some((got, _))) = (alg, digest.checksum.as_ref())
        && digest.client_sent_checksum
        && expected != *got
    {
        let _ = store.delete_blob(bucket, &rec.generation, &blob).await;
        return Err(S3Error::InvalidRequest(format!(
            "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
            expected.name().to_ascii_lowercase(),
            got.name().to_ascii_lowercase()
        )));
    }
    part.etag = crypto.part_etag(digest.md5);
    part.checksum = digest
        .checksum
        .as_ref()
        .map(|(a, raw)| format!("{}:{}", a.name(), checksum::b64(raw)));
    store.commit_part(bucket, &rec, &part).await?;
    let mut resp = common::empty(StatusCode::OK);
    let h = resp.headers_mut();
    set(h, "etag", &quoted(&part.etag));
    if let Some((a, raw)) = &digest.checksum
        && (digest.client_sent_checksum || alg.is_some())
    {
        set(h, a.header_name(), &checksum::b64(raw));
    }
    encryption::describe(&rec.sealing, h);
    Ok(resp)
}

/// Splits a stored part checksum `ALG:base64` into its algorithm and raw bytes.
fn stored_part_checksum(part: &PartLayout) -> Option<(ChecksumAlgorithm, String)> {
    let (a, v) = part.checksum.as_deref()?.split_once(':')?;
    Some((ChecksumAlgorithm::from_name(a)?, v.to_owned()))
}

pub(crate) async fn handle_upload_part_copy(
    mut req: Req,
    bucket: &str,
    key: &str,
    upload_id: &str,
    part_number: u32,
    source: &router::CopySource,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = load_upload(&req, bucket, upload_id).await?;
    if rec.key != key {
        return Err(S3Error::NoSuchUpload {
            upload_id: upload_id.to_owned(),
        });
    }
    let crypto = open_upload_key(&req, &rec).await?;
    let src = open_source(&req, source).await?;
    let (start, end) = match req.header("x-amz-copy-source-range") {
        Some(v) => {
            let bad = || {
                S3Error::InvalidArgument {
                    msg: "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy".into(),
                    name: Some("x-amz-copy-source-range".into()),
                    value: Some(v.to_owned()),
                }
            };
            let (a, b) = v
                .strip_prefix("bytes=")
                .and_then(|r| r.split_once('-'))
                .ok_or_else(bad)?;
            let a: u64 = a.parse().map_err(|_| bad())?;
            let b: u64 = b.parse().map_err(|_| bad())?;
            if a > b || b >= src.meta.size {
                return Err(S3Error::InvalidRange {
                    range: v.to_owned(),
                    size: src.meta.size,
                });
            }
            (a, b)
        }
        None => (0, src.meta.size.saturating_sub(1)),
    };
    let alg = upload_alg(&rec).unwrap_or(ChecksumAlgorithm::Crc64Nvme);
    let store = req.gw.store.clone();
    let blob = part_blob_name(part_number);
    // A ranged copy re-encrypts: the destination's part key is not the source's.
    let (first, rest) = if src.meta.size == 0 {
        (None, PlainStream::empty())
    } else {
        src.crypto
            .read_range(store.clone(), src.bucket.clone(), &src.meta, start, end)
            .await?
    };
    let mut source = HashingSource {
        first,
        rest,
        md5: Md5::new(),
        sum: checksum::Hasher::new(alg),
    };
    let mut part = crypto
        .write_part(
            &store,
            bucket,
            &rec.generation,
            &blob,
            part_number,
            &mut source,
        )
        .await?;
    let md5: [u8; 16] = source.md5.finalize().into();
    let raw_sum = source.sum.finalize();
    part.etag = crypto.part_etag(Some(md5));
    part.checksum = Some(format!("{}:{}", alg.name(), checksum::b64(&raw_sum)));
    store.commit_part(bucket, &rec, &part).await?;
    let body = xml::CopyResult {
        etag: part.etag.clone(),
        last_modified_ms: common::now_ms(),
        checksum: upload_alg(&rec).map(|a| xml::XmlChecksum {
            algorithm: a.name().to_owned(),
            value: checksum::b64(&raw_sum),
            kind: None,
        }),
    };
    let mut resp = common::xml(StatusCode::OK, body.to_copy_part_xml());
    encryption::describe(&rec.sealing, resp.headers_mut());
    Ok(resp)
}

/// Plaintext from a copy source, hashed on the way for the part's ETag and checksum.
struct HashingSource {
    first: Option<bytes::Bytes>,
    rest: PlainStream,
    md5: Md5,
    sum: checksum::Hasher,
}

impl PlainSource for HashingSource {
    type Error = S3Error;
    async fn next_piece(&mut self) -> Result<Option<bytes::Bytes>, S3Error> {
        let piece = match self.first.take() {
            Some(b) => Some(b),
            None => self.rest.next().await.transpose()?,
        };
        if let Some(p) = &piece {
            self.md5.update(p);
            self.sum.update(p);
        }
        Ok(piece)
    }
}

pub(crate) async fn handle_complete_multipart_upload(
    mut req: Req,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<Response<Body>, S3Error> {
    let rec = match load_upload(&req, bucket, upload_id).await {
        // Perhaps a retry of a Complete that succeeded.
        Err(S3Error::NoSuchUpload { .. }) => {
            return multipart_retry::complete_again(req, bucket, key, upload_id).await;
        }
        r => r?,
    };
    if rec.key != key {
        return Err(S3Error::NoSuchUpload {
            upload_id: upload_id.to_owned(),
        });
    }
    let customer =
        encryption::from_headers(&req.headers, KeyHeaders::Target, common::over_tls(&req))?;
    encryption::check_upload_key(&rec.sealing, customer.as_ref(), true)?;
    let claimed = complete_checksum::take(&mut req.headers)?;
    let expect = super::conditional::write_expectation(&req, bucket, key).await?;
    let body = req.small_body(4 * 1024 * 1024).await?;
    let requested = xml::parse_complete_multipart_upload(&body)?;
    if requested.is_empty() {
        return Err(S3Error::MalformedXML);
    }
    let alg = upload_alg(&rec);
    if let (Some(t), Some(a)) = (
        req.header("x-amz-checksum-type"),
        rec.checksum_type.as_deref(),
    ) && !t.eq_ignore_ascii_case(a)
    {
        return Err(S3Error::InvalidRequest(format!(
            "The upload was created using the {a} checksum mode. The complete request must use the same checksum mode."
        )));
    }
    let stored = req.gw.store.list_parts(bucket, upload_id).await?;
    let mut chosen: Vec<PartLayout> = Vec::with_capacity(requested.len());
    let mut last = 0u32;
    for (i, p) in requested.iter().enumerate() {
        if p.part_number <= last {
            return Err(S3Error::InvalidPartOrder);
        }
        last = p.part_number;
        let Some(part) = stored.iter().find(|s| s.part_number == p.part_number) else {
            return Err(S3Error::invalid_part());
        };
        if p.etag.trim().trim_matches('"') != part.etag {
            return Err(S3Error::invalid_part());
        }
        if i + 1 < requested.len() && part.size < MIN_PART {
            return Err(S3Error::EntityTooSmall);
        }
        let given = p.checksums.iter().next();
        match (alg, given) {
            (Some(a), None) => {
                return Err(S3Error::InvalidRequest(format!(
                    "The upload was created using a {} checksum. The complete request must include the checksum for each part. It was missing for part {} in the request.",
                    a.name().to_ascii_lowercase(),
                    p.part_number
                )));
            }
            (Some(a), Some((elem, value))) => {
                let ok = p.checksums.len() == 1
                    && elem.eq_ignore_ascii_case(a.name())
                    && stored_part_checksum(part).is_some_and(|(sa, sv)| sa == a && sv == *value);
                if !ok {
                    return Err(S3Error::invalid_part());
                }
            }
            (None, Some(_)) => return Err(S3Error::invalid_part()),
            (None, None) => {}
        }
        chosen.push(part.clone());
    }
    let mut md5 = Md5::new();
    for p in &chosen {
        md5.update(hex::decode(&p.etag).unwrap_or_default());
    }
    let etag = format!("{}-{}", hex::encode(md5.finalize()), chosen.len());
    let object_checksum = object_checksum(alg, rec.checksum_type.as_deref(), &chosen);
    if let Some(c) = &claimed {
        complete_checksum::verify(c, object_checksum.as_ref())?;
    }
    let size = chosen.iter().map(|p| p.size).sum();
    // The state at Complete decides the version, as on AWS (not the state at Create).
    let brec = req.bucket(bucket).await?;
    let (versioning, version_id) = super::versioning::new_version(&brec);
    let meta = req
        .gw
        .crypto
        .completed_meta(
            &rec,
            ObjectBody {
                size,
                etag: etag.clone(),
                last_modified_ms: common::now_ms(),
                content_headers: rec.content_headers.clone(),
                user_meta: rec.user_meta.clone(),
                checksum: object_checksum.clone(),
                generation: rec.generation.clone(),
                parts: chosen,
                tags: rec.tags.clone(),
                version_id,
                acl: rec.acl.clone(),
                lock: rec.lock,
            },
        )
        .await?;
    let completion = multipart_retry::completion(&rec, &meta, &requested);
    req.gw
        .store
        .commit_upload(
            bucket,
            key,
            &meta,
            &rec,
            &stored,
            &completion,
            versioning,
            &expect,
        )
        .await?;
    super::object_lock::note_kms_key(&req, bucket, key, &meta).await;
    let body = xml::CompleteMultipartUploadResult {
        location: format!("/{bucket}/{}", xml::url_encode_key(key)),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        etag: etag.clone(),
        checksum: object_checksum.as_ref().map(super::copy::xml_checksum),
    };
    let mut resp = common::xml(StatusCode::OK, body.to_xml());
    let h = resp.headers_mut();
    super::versioning::version_header(h, versioning, meta.version_id.as_deref());
    super::lifecycle::expiration_header(h, &brec, key, &meta);
    // Complete echoes SSE/KMS headers only, never SSE-C ones (CompleteMultipartUpload in the
    // S3 API Reference lists no SSE-C response headers).
    if !matches!(meta.sealing, Sealing::SseC { .. }) {
        encryption::describe(&meta.sealing, h);
    }
    SseFact::attach(&mut resp, &meta.sealing);
    Ok(resp)
}

/// The object's checksum from its parts: composite or full-object as the upload asked, else
/// S3's default CRC64NVME full-object checksum when every part has one.
fn object_checksum(
    alg: Option<ChecksumAlgorithm>,
    kind: Option<&str>,
    parts: &[PartLayout],
) -> Option<Checksum> {
    let alg = alg.unwrap_or(ChecksumAlgorithm::Crc64Nvme);
    let kind = kind.unwrap_or("FULL_OBJECT");
    let mut raws = Vec::with_capacity(parts.len());
    for p in parts {
        let (a, v) = stored_part_checksum(p)?;
        if a != alg {
            return None;
        }
        raws.push((checksum::parse_b64(a, &v).ok()?, p.size));
    }
    let value = if kind == "COMPOSITE" {
        let only: Vec<Vec<u8>> = raws.into_iter().map(|(r, _)| r).collect();
        checksum::composite(alg, &only)
    } else {
        checksum::b64(&checksum::combine_full_object(alg, &raws).ok()?)
    };
    Some(Checksum {
        algorithm: alg.name().to_owned(),
        value,
        kind: kind.to_owned(),
    })
}

pub(crate) async fn handle_abort_multipart_upload(
    mut req: Req,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = load_upload(&req, bucket, upload_id).await?;
    if rec.key != key {
        return Err(S3Error::NoSuchUpload {
            upload_id: upload_id.to_owned(),
        });
    }
    req.gw.store.delete_upload(bucket, upload_id, true).await?;
    Ok(common::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn handle_list_parts(
    mut req: Req,
    bucket: &str,
    key: &str,
    upload_id: &str,
    max_parts: Option<u32>,
    part_number_marker: Option<u32>,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = load_upload(&req, bucket, upload_id).await?;
    if rec.key != key {
        return Err(S3Error::NoSuchUpload {
            upload_id: upload_id.to_owned(),
        });
    }
    let max = max_parts.unwrap_or(1000).min(1000) as usize;
    let marker = part_number_marker.unwrap_or(0);
    let all = req.gw.store.list_parts(bucket, upload_id).await?;
    let after: Vec<&PartLayout> = all.iter().filter(|p| p.part_number > marker).collect();
    let truncated = after.len() > max;
    let page: Vec<&PartLayout> = after.into_iter().take(max).collect();
    let alg = upload_alg(&rec);
    let body = xml::ListPartsResult {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        upload_id: upload_id.to_owned(),
        part_number_marker: marker,
        next_part_number_marker: if truncated {
            page.last().map(|p| p.part_number)
        } else {
            None
        },
        max_parts: max as u32,
        is_truncated: truncated,
        owner: None,
        checksum_algorithm: alg.map(|a| a.name().to_owned()),
        checksum_type: rec.checksum_type.clone(),
        parts: page
            .iter()
            .map(|p| xml::PartEntry {
                part_number: p.part_number,
                last_modified_ms: rec.initiated_ms,
                etag: p.etag.clone(),
                size: p.size,
                checksum: alg.and_then(|a| {
                    stored_part_checksum(p)
                        .filter(|(sa, _)| *sa == a)
                        .map(|(_, v)| xml::XmlChecksum {
                            algorithm: a.name().to_owned(),
                            value: v,
                            kind: None,
                        })
                }),
            })
            .collect(),
    };
    Ok(common::xml(StatusCode::OK, body.to_xml()))
}

pub(crate) async fn handle_list_multipart_uploads(
    mut req: Req,
    bucket: &str,
    prefix: Option<String>,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    req.bucket(bucket).await?;
    let prefix = prefix.unwrap_or_default();
    let mut uploads = req.gw.store.list_uploads(bucket).await?;
    uploads.retain(|u| u.key.starts_with(&prefix));
    uploads.sort_by(|a, b| (&a.key, a.initiated_ms).cmp(&(&b.key, b.initiated_ms)));
    let body = xml::ListMultipartUploadsResult {
        bucket: bucket.to_owned(),
        prefix,
        max_uploads: 1000,
        is_truncated: false,
        uploads: uploads
            .into_iter()
            .take(1000)
            .map(|u| xml::UploadEntry {
                key: u.key,
                upload_id: u.upload_id,
                initiated_ms: u.initiated_ms,
                owner: None,
                checksum_algorithm: u.checksum_algorithm,
                checksum_type: u.checksum_type,
            })
            .collect(),
        ..Default::default()
    };
    Ok(common::xml(StatusCode::OK, body.to_xml()))
}
