//! Multipart upload in parts, [`CONCURRENCY`] in flight, with end-to-end checksums and resume.
//!
//! The upload is created with the CRC64NVME FULL_OBJECT checksum: every part carries its
//! `x-amz-checksum-crc64nvme` (the gateway refuses a part whose bytes do not match), and
//! CompleteMultipartUpload carries the CRC64NVME of the whole file, combined from the parts',
//! which the gateway checks against what it stored (400 BadDigest otherwise).
//!
//! Resuming needs no local state: a re-run lists the key's uploads in progress
//! (ListMultipartUploads), newest first, and takes the first one whose parts (ListParts) all
//! have the size and CRC64NVME of the same part of this file; those parts are not sent again.
//! An upload whose parts do not match (another file, another part size) is someone else's
//! and is left alone. A failure answered by S3 aborts the upload; a transport failure or a
//! kill keeps it, so the next run resumes it. Client-side encrypted uploads are never resumed:
//! each run encrypts under a new data key, so no earlier part can match.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt as _;

use bytes::Bytes;
use futures::StreamExt as _;

use super::progress::Progress;
use super::{CONCURRENCY, CpError, PART_SIZE, s3_failure};
use crate::checksum::{self, ChecksumAlgorithm};
use crate::tools::client::s3::{
    CompletedPart, S3Client, S3ClientError, S3Response, xml_blocks, xml_element,
};

const MAX_PARTS: u64 = 10_000;
const CHECKSUM_ELEMENT: &str = "ChecksumCRC64NVME";
const CHECKSUM_HEADER: &str = "x-amz-checksum-crc64nvme";

/// The part size for `len` bytes: 8 MiB, or enough to stay within 10,000 parts.
pub(super) fn part_size(len: u64) -> u64 {
    PART_SIZE.max(len.div_ceil(MAX_PARTS))
}

/// What is uploaded: a file read one part at a time, or bytes already in memory (CSE
/// ciphertext).
pub(super) enum Source {
    File { file: File, shown: String, len: u64 },
    Memory(Bytes),
}

impl Source {
    pub(super) fn open(path: &str) -> Result<Source, CpError> {
        let io = |e| CpError::Io(path.to_string(), e);
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Ok(Source::File {
            file,
            shown: path.to_string(),
            len,
        })
    }

    pub(super) fn len(&self) -> u64 {
        match self {
            Source::File { len, .. } => *len,
            Source::Memory(b) => b.len() as u64,
        }
    }

    fn read(&self, offset: u64, len: u64) -> Result<Bytes, CpError> {
        match self {
            Source::File { file, shown, .. } => {
                let mut buf = vec![0u8; len as usize];
                file.read_exact_at(&mut buf, offset)
                    .map_err(|e| CpError::Io(shown.clone(), e))?;
                Ok(Bytes::from(buf))
            }
            Source::Memory(b) => Ok(b.slice(offset as usize..(offset + len) as usize)),
        }
    }
}

/// How an upload went, for the result line.
pub(super) struct Uploaded {
    pub(super) response: S3Response,
    pub(super) parts: usize,
    /// Parts an interrupted run had already uploaded.
    pub(super) resumed: usize,
}

/// One part as S3 holds it: what Complete names, and the raw CRC to combine.
struct SentPart {
    completed: CompletedPart,
    crc: Vec<u8>,
    len: u64,
}

/// Uploads `source` to `bucket/object` as a multipart upload; `headers` (metadata, SSE) go on
/// CreateMultipartUpload. With `resume`, an interrupted upload of the same bytes is continued.
pub(super) async fn upload_multipart(
    s3: &S3Client,
    source: &Source,
    bucket: &str,
    object: &str,
    headers: &[(String, String)],
    resume: bool,
) -> Result<Uploaded, CpError> {
    let found = match resume {
        true => find_resumable(s3, source, bucket, object).await?,
        false => None,
    };
    let (upload_id, done) = match found {
        Some(found) => found,
        None => (create(s3, bucket, object, headers).await?, BTreeMap::new()),
    };
    match send_parts(s3, source, bucket, object, &upload_id, done).await {
        Err(CpError::Transport(source)) => Err(CpError::UploadKept { upload_id, source }),
        Err(e) => {
            // Best effort: the error being reported is the one that matters.
            let _ = s3.abort_multipart_upload(bucket, object, &upload_id).await;
            Err(e)
        }
        ok => ok,
    }
}

async fn create(
    s3: &S3Client,
    bucket: &str,
    object: &str,
    headers: &[(String, String)],
) -> Result<String, CpError> {
    let mut headers = headers.to_vec();
    headers.push(("x-amz-checksum-algorithm".into(), "CRC64NVME".into()));
    headers.push(("x-amz-checksum-type".into(), "FULL_OBJECT".into()));
    let r = s3.create_multipart_upload(bucket, object, &headers).await?;
    if !r.is_success() {
        return Err(s3_failure("CreateMultipartUpload", bucket, object, &r));
    }
    r.xml_text("UploadId").ok_or_else(|| CpError::S3 {
        op: "CreateMultipartUpload",
        bucket: bucket.to_string(),
        key: object.to_string(),
        status: r.status,
        code: "MalformedAnswer".into(),
        message: "no UploadId in the answer".into(),
    })
}

/// The offset and length of part `number` (1-based).
fn part_bounds(number: u32, len: u64) -> (u64, u64) {
    let size = part_size(len);
    let start = u64::from(number - 1) * size;
    (start, size.min(len - start))
}

fn part_count(len: u64) -> u32 {
    // At least one part: an empty file is one empty part.
    len.div_ceil(part_size(len)).max(1) as u32
}

async fn send_parts(
    s3: &S3Client,
    source: &Source,
    bucket: &str,
    object: &str,
    upload_id: &str,
    mut done: BTreeMap<u32, SentPart>,
) -> Result<Uploaded, CpError> {
    let len = source.len();
    let count = part_count(len);
    let resumed = done.len();
    let resumed_bytes = done.values().map(|p| p.len).sum();
    let mut progress = Progress::new("upload", len, resumed_bytes);
    let todo: Vec<u32> = (1..=count).filter(|n| !done.contains_key(n)).collect();
    let mut sends = futures::stream::iter(todo)
        .map(|number| send_part(s3, source, bucket, object, upload_id, number))
        .buffer_unordered(CONCURRENCY);
    while let Some(sent) = sends.next().await {
        let sent = sent?;
        progress.advance(sent.len);
        done.insert(sent.completed.number, sent);
    }
    drop(sends);
    progress.finish();
    let crcs: Vec<(Vec<u8>, u64)> = done.values().map(|p| (p.crc.clone(), p.len)).collect();
    let whole = checksum::combine_full_object(ChecksumAlgorithm::Crc64Nvme, &crcs)
        .map_err(|e| CpError::Verify(e.to_string()))?;
    let parts: Vec<CompletedPart> = done.into_values().map(|p| p.completed).collect();
    let headers = [
        (CHECKSUM_HEADER.to_string(), checksum::b64(&whole)),
        ("x-amz-checksum-type".to_string(), "FULL_OBJECT".to_string()),
    ];
    let r = s3
        .complete_multipart_upload(bucket, object, upload_id, &parts, &headers)
        .await?;
    // Complete can fail after a 200: the error is then in the body.
    if !r.is_success() || r.error_code().is_some() {
        return Err(s3_failure("CompleteMultipartUpload", bucket, object, &r));
    }
    Ok(Uploaded {
        response: r,
        parts: parts.len(),
        resumed,
    })
}

async fn send_part(
    s3: &S3Client,
    source: &Source,
    bucket: &str,
    object: &str,
    upload_id: &str,
    number: u32,
) -> Result<SentPart, CpError> {
    let (start, len) = part_bounds(number, source.len());
    let body = source.read(start, len)?;
    let crc = checksum::digest(ChecksumAlgorithm::Crc64Nvme, &body);
    let value = checksum::b64(&crc);
    let headers = [(CHECKSUM_HEADER.to_string(), value.clone())];
    let r = s3
        .upload_part(bucket, object, upload_id, number, &headers, body)
        .await?;
    if !r.is_success() {
        return Err(s3_failure("UploadPart", bucket, object, &r));
    }
    Ok(SentPart {
        completed: CompletedPart {
            number,
            etag: r.header("etag").unwrap_or_default().to_string(),
            checksum: Some((CHECKSUM_ELEMENT.into(), value)),
        },
        crc,
        len,
    })
}

fn unescape(xml: &str) -> String {
    xml.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The newest upload in progress for `object` whose parts are all parts of `source`, with
/// those parts. Listing failures (no permission to list uploads) mean a fresh upload.
async fn find_resumable(
    s3: &S3Client,
    source: &Source,
    bucket: &str,
    object: &str,
) -> Result<Option<(String, BTreeMap<u32, SentPart>)>, CpError> {
    let r = s3.list_multipart_uploads(bucket, object).await?;
    if !r.is_success() {
        return Ok(None);
    }
    let mut candidates: Vec<(String, String)> = xml_blocks(&r.body, "Upload")
        .into_iter()
        .filter_map(|u| {
            let key = unescape(&xml_element(u.as_bytes(), "Key")?);
            let id = unescape(&xml_element(u.as_bytes(), "UploadId")?);
            let initiated = xml_element(u.as_bytes(), "Initiated").unwrap_or_default();
            (key == object).then_some((initiated, id))
        })
        .collect();
    candidates.sort_by(|a, b| b.0.cmp(&a.0));
    for (_, id) in candidates {
        if let Some(parts) = matching_parts(s3, source, bucket, object, &id).await? {
            return Ok(Some((id, parts)));
        }
    }
    Ok(None)
}

/// All parts of upload `id` when each is the same part of `source` (size and CRC64NVME);
/// `None` when there are none or one differs.
async fn matching_parts(
    s3: &S3Client,
    source: &Source,
    bucket: &str,
    object: &str,
    id: &str,
) -> Result<Option<BTreeMap<u32, SentPart>>, S3ClientError> {
    let len = source.len();
    let count = part_count(len);
    let mut parts = BTreeMap::new();
    let mut marker = 0;
    loop {
        let r = s3.list_parts(bucket, object, id, marker).await?;
        if !r.is_success() {
            return Ok(None);
        }
        for p in xml_blocks(&r.body, "Part") {
            let field = |name: &str| xml_element(p.as_bytes(), name).map(|v| unescape(&v));
            let (Some(number), Some(etag), Some(size), Some(crc)) = (
                field("PartNumber").and_then(|n| n.parse::<u32>().ok()),
                field("ETag"),
                field("Size").and_then(|s| s.parse::<u64>().ok()),
                field(CHECKSUM_ELEMENT),
            ) else {
                return Ok(None);
            };
            if number == 0 || number > count {
                return Ok(None);
            }
            let (start, part_len) = part_bounds(number, len);
            let Ok(local) = source.read(start, part_len) else {
                return Ok(None);
            };
            let local_crc = checksum::digest(ChecksumAlgorithm::Crc64Nvme, &local);
            if size != part_len || checksum::b64(&local_crc) != crc {
                return Ok(None);
            }
            parts.insert(
                number,
                SentPart {
                    completed: CompletedPart {
                        number,
                        etag,
                        checksum: Some((CHECKSUM_ELEMENT.into(), crc)),
                    },
                    crc: local_crc,
                    len: part_len,
                },
            );
        }
        let truncated = r.xml_text("IsTruncated").is_some_and(|t| t == "true");
        match r
            .xml_text("NextPartNumberMarker")
            .and_then(|m| m.parse().ok())
        {
            Some(next) if truncated && next > marker => marker = next,
            _ => break,
        }
    }
    Ok((!parts.is_empty()).then_some(parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_8_mib_until_10000_would_not_do() {
        assert_eq!(part_size(20 << 20), 8 << 20);
        assert_eq!(part_size(80_000 << 20), 8 << 20);
        let big = 5u64 << 40; // 5 TiB, S3's largest object
        assert_eq!(part_size(big), big.div_ceil(10_000));
        assert!(big.div_ceil(part_size(big)) <= 10_000);
    }

    #[test]
    fn parts_cover_the_source_exactly() {
        let len = (20 << 20) + 3;
        assert_eq!(part_count(len), 3);
        assert_eq!(part_bounds(1, len), (0, 8 << 20));
        assert_eq!(part_bounds(3, len), (16 << 20, (4 << 20) + 3));
        assert_eq!(part_count(0), 1);
        assert_eq!(part_bounds(1, 0), (0, 0));
    }

    #[test]
    fn memory_sources_slice_without_copying() {
        let s = Source::Memory(Bytes::from_static(b"0123456789"));
        assert_eq!(s.len(), 10);
        assert_eq!(s.read(3, 4).unwrap(), Bytes::from_static(b"3456"));
    }
}
