//! Ranged, parallel, resumable download of an object that is not client-side encrypted.
//!
//! The object is fetched as 8 MiB `Range` GETs, [`CONCURRENCY`] in flight, each written at its
//! offset into `.<name>.sealgate-download` beside the target and sent with `If-Match` on the
//! ETag the HEAD gave, so a change to the object mid-way is a 412, never a mix of two versions.
//! When all ranges are in, the whole file is checked against what S3 says of the object (its
//! length always; its whole-object checksum, or each part's checksum when it is COMPOSITE, or
//! the ETag when that is the content's MD5), flushed, and renamed onto the target.
//!
//! Resuming: a sidecar `.<name>.sealgate-download.state` (JSON) records the object (bucket, key,
//! size, ETag, Last-Modified, range size) and the CRC64NVME of every range written. A re-run
//! for the same target re-reads each recorded range from the temporary file, keeps those whose
//! CRC still matches, and fetches only the rest. When the object changed (another ETag,
//! Last-Modified or size) the old temporary file is discarded and the download starts over.
//! The state is replaced atomically after each range, so a kill at any moment leaves a state
//! that undercounts at worst.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use futures::StreamExt as _;
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};

use super::progress::Progress;
use super::{CONCURRENCY, CpError, PART_SIZE, s3_failure};
use crate::checksum::{self, ChecksumAlgorithm, Hasher};
use crate::tools::client::s3::{S3Client, S3Response, xml_blocks, xml_element};

/// What a HEAD says of the object: what the download must reproduce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Remote {
    pub(super) size: u64,
    pub(super) etag: String,
    pub(super) last_modified: String,
    /// A whole-object checksum (FULL_OBJECT, or any checksum of a single-PUT object).
    pub(super) checksum: Option<(ChecksumAlgorithm, String)>,
    /// A COMPOSITE checksum (`<base64>-<parts>`): a checksum of the parts' checksums.
    pub(super) composite: Option<(ChecksumAlgorithm, String)>,
    /// The ETag is the MD5 of the content (single PUT, not SSE-KMS or SSE-C).
    pub(super) etag_is_md5: bool,
}

impl Remote {
    /// From a HEAD sent with `x-amz-checksum-mode: ENABLED`.
    pub(super) fn from_head(r: &S3Response) -> Result<Remote, CpError> {
        let size = r
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| CpError::Verify("the HEAD answer has no Content-Length".into()))?;
        let etag = r.header("etag").unwrap_or_default().to_string();
        let composite = r
            .header("x-amz-checksum-type")
            .is_some_and(|t| t.eq_ignore_ascii_case("COMPOSITE"));
        let sent = ChecksumAlgorithm::ALL
            .into_iter()
            .find_map(|alg| Some((alg, r.header(alg.header_name())?.to_string())));
        let (checksum, composite) = match sent {
            Some(c) if composite || c.1.contains('-') => (None, Some(c)),
            other => (other, None),
        };
        let hex = etag.trim_matches('"');
        let sse = r.header("x-amz-server-side-encryption").unwrap_or("AES256");
        let etag_is_md5 = hex.len() == 32
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
            && sse.eq_ignore_ascii_case("AES256")
            && r.header("x-amz-server-side-encryption-customer-algorithm")
                .is_none();
        Ok(Remote {
            size,
            etag,
            last_modified: r.header("last-modified").unwrap_or_default().to_string(),
            checksum,
            composite,
            etag_is_md5,
        })
    }
}

/// The sidecar state of an interrupted download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    version: u32,
    bucket: String,
    key: String,
    size: u64,
    etag: String,
    last_modified: String,
    range_size: u64,
    /// Range index → base64 CRC64NVME of its bytes as written.
    done: BTreeMap<u64, String>,
}

const STATE_VERSION: u32 = 1;

impl State {
    fn same_object(&self, other: &State) -> bool {
        (
            self.version,
            &self.bucket,
            &self.key,
            self.size,
            &self.etag,
            &self.last_modified,
            self.range_size,
        ) == (
            other.version,
            &other.bucket,
            &other.key,
            other.size,
            &other.etag,
            &other.last_modified,
            other.range_size,
        )
    }
}

/// How a download went, for the result line.
#[derive(Debug)]
pub(super) struct Downloaded {
    pub(super) ranges: u64,
    /// Ranges found complete in the temporary file of an interrupted run.
    pub(super) resumed: u64,
    /// An interrupted run's file was discarded because the object changed.
    pub(super) restarted: bool,
    /// What the whole file was checked against besides its length.
    pub(super) verified: String,
}

/// The temporary file and the state file of a download to `target`.
fn work_paths(target: &Path) -> (PathBuf, PathBuf) {
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (
        dir.join(format!(".{name}.sealgate-download")),
        dir.join(format!(".{name}.sealgate-download.state")),
    )
}

fn range_bounds(index: u64, size: u64) -> (u64, u64) {
    let start = index * PART_SIZE;
    (start, PART_SIZE.min(size - start))
}

fn crc_of(data: &[u8]) -> String {
    checksum::b64(&checksum::digest(ChecksumAlgorithm::Crc64Nvme, data))
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> CpError + '_ {
    move |e| CpError::Io(path.display().to_string(), e)
}

fn save_state(path: &Path, state: &State) -> Result<(), CpError> {
    let tmp = path.with_extension("state.new");
    let json =
        serde_json::to_vec(state).map_err(|e| CpError::Io(path.display().to_string(), e.into()))?;
    std::fs::write(&tmp, json)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(io_err(path))
}

fn load_state(path: &Path) -> Option<State> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Downloads `bucket/object`, described by `remote`, to `target`, resuming an interrupted run.
pub(super) async fn download_to_file(
    s3: &S3Client,
    bucket: &str,
    object: &str,
    remote: &Remote,
    target: &Path,
) -> Result<Downloaded, CpError> {
    let (tmp, state_path) = work_paths(target);
    let fresh = State {
        version: STATE_VERSION,
        bucket: bucket.to_string(),
        key: object.to_string(),
        size: remote.size,
        etag: remote.etag.clone(),
        last_modified: remote.last_modified.clone(),
        range_size: PART_SIZE,
        done: BTreeMap::new(),
    };
    let tmp_len = std::fs::metadata(&tmp).map(|m| m.len()).ok();
    let (mut state, restarted) = match load_state(&state_path) {
        Some(old) if old.same_object(&fresh) && tmp_len == Some(remote.size) => (old, false),
        // The object changed since the interrupted run: its bytes are worthless now.
        Some(old) if !old.same_object(&fresh) => (fresh.clone(), true),
        // The same object, but its temporary file is gone or cut short: start it afresh.
        _ => (fresh.clone(), false),
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(state.done.is_empty())
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    file.set_len(remote.size).map_err(io_err(&tmp))?;
    // Keep only the recorded ranges whose bytes are still what was written.
    let mut buf = Vec::new();
    state.done.retain(|&index, crc| {
        if index >= remote.size.div_ceil(PART_SIZE) {
            return false;
        }
        let (start, len) = range_bounds(index, remote.size);
        buf.resize(len as usize, 0);
        file.read_exact_at(&mut buf, start).is_ok() && crc_of(&buf) == *crc
    });
    drop(buf);
    save_state(&state_path, &state)?;

    let ranges = remote.size.div_ceil(PART_SIZE);
    let resumed = state.done.len() as u64;
    let resumed_bytes = state
        .done
        .keys()
        .map(|&i| range_bounds(i, remote.size).1)
        .sum();
    let mut progress = Progress::new("download", remote.size, resumed_bytes);
    let todo: Vec<u64> = (0..ranges)
        .filter(|i| !state.done.contains_key(i))
        .collect();
    let mut fetches = futures::stream::iter(todo)
        .map(|index| fetch_range(s3, bucket, object, remote, &file, &tmp, index))
        .buffer_unordered(CONCURRENCY);
    while let Some(done) = fetches.next().await {
        let (index, len, crc) = done?;
        state.done.insert(index, crc);
        save_state(&state_path, &state)?;
        progress.advance(len);
    }
    drop(fetches);
    progress.finish();

    let checked = match &remote.composite {
        Some((alg, value)) => verify_parts(s3, bucket, object, &file, *alg, value).await,
        None => verify_whole(&file, &tmp, remote),
    };
    let verified = match checked {
        Ok(v) => v,
        Err(e) => {
            // What is on disk is not the object: nothing of it may be resumed.
            let _ = std::fs::remove_file(&tmp);
            let _ = std::fs::remove_file(&state_path);
            return Err(e);
        }
    };
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, target).map_err(io_err(target))?;
    let _ = std::fs::remove_file(&state_path);
    Ok(Downloaded {
        ranges,
        resumed,
        restarted,
        verified,
    })
}

/// Fetches range `index` with `If-Match`, writes it at its offset, and returns its index,
/// length and CRC64NVME.
async fn fetch_range(
    s3: &S3Client,
    bucket: &str,
    object: &str,
    remote: &Remote,
    file: &File,
    tmp: &Path,
    index: u64,
) -> Result<(u64, u64, String), CpError> {
    let (start, len) = range_bounds(index, remote.size);
    let end = start + len - 1;
    let headers = [
        ("range".to_string(), format!("bytes={start}-{end}")),
        ("if-match".to_string(), remote.etag.clone()),
    ];
    let r = s3.get_object(bucket, object, &headers).await?;
    if r.status == 412 {
        return Err(CpError::Changed(format!("s3://{bucket}/{object}")));
    }
    if !r.is_success() {
        return Err(s3_failure("GET (range)", bucket, object, &r));
    }
    let expected_range = format!("bytes {start}-{end}/{}", remote.size);
    let whole = r.status == 200 && start == 0 && len == remote.size;
    if !(whole || (r.status == 206 && r.header("content-range") == Some(&expected_range)))
        || r.body.len() as u64 != len
    {
        return Err(CpError::Verify(format!(
            "asked for {expected_range}, got {} {:?} with {} bytes",
            r.status,
            r.header("content-range"),
            r.body.len()
        )));
    }
    file.write_all_at(&r.body, start).map_err(io_err(tmp))?;
    Ok((index, len, crc_of(&r.body)))
}

/// Checks a multipart object with a COMPOSITE checksum part by part: each part's checksum
/// (GetObjectAttributes ObjectParts) over its bytes in the file, then the composite of those
/// against the object's value. Returns what was checked, for the result line.
async fn verify_parts(
    s3: &S3Client,
    bucket: &str,
    object: &str,
    file: &File,
    alg: ChecksumAlgorithm,
    value: &str,
) -> Result<String, CpError> {
    let element = format!("Checksum{}", alg.name());
    let mut raw_sums = Vec::new();
    let mut offset = 0u64;
    let mut marker = 0u32;
    loop {
        let r = s3
            .get_object_attributes(bucket, object, "ObjectParts", marker)
            .await?;
        if !r.is_success() {
            return Err(s3_failure("GetObjectAttributes", bucket, object, &r));
        }
        for part in xml_blocks(&r.body, "Part") {
            let field = |name: &str| xml_element(part.as_bytes(), name);
            let (Some(number), Some(size), Some(want)) = (
                field("PartNumber"),
                field("Size").and_then(|s| s.parse::<u64>().ok()),
                field(&element),
            ) else {
                return Err(CpError::Verify(format!(
                    "the object's parts do not list their {alg} checksums"
                )));
            };
            let raw = file_checksum(file, alg, offset, size)
                .map_err(|e| CpError::Verify(format!("part {number}: {e}")))?;
            if checksum::b64(&raw) != want {
                return Err(CpError::Verify(format!(
                    "part {number} has {alg} {}, the object's part {want}",
                    checksum::b64(&raw)
                )));
            }
            raw_sums.push(raw);
            offset += size;
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
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let whole = checksum::composite(alg, &raw_sums);
    if offset != len || whole != value {
        return Err(CpError::Verify(format!(
            "the parts add up to {offset} bytes and {alg} {whole}, the object is {len} bytes \
             with {value}"
        )));
    }
    Ok(format!(
        "length and {alg} of each of {} parts",
        raw_sums.len()
    ))
}

/// The `alg` checksum of `len` bytes of `file` at `offset`, read a MiB at a time.
fn file_checksum(
    file: &File,
    alg: ChecksumAlgorithm,
    offset: u64,
    len: u64,
) -> std::io::Result<Vec<u8>> {
    let mut h = Hasher::new(alg);
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], offset + at)?;
        h.update(&buf[..n]);
        at += n as u64;
    }
    Ok(h.finalize())
}

/// Checks the whole file against the object's checksum (or MD5 ETag) and length; returns what
/// was checked, for the result line.
fn verify_whole(file: &File, tmp: &Path, remote: &Remote) -> Result<String, CpError> {
    let len = file.metadata().map_err(io_err(tmp))?.len();
    if len != remote.size {
        return Err(CpError::Verify(format!(
            "{len} bytes written, the object has {}",
            remote.size
        )));
    }
    enum Check {
        Sum(Hasher, ChecksumAlgorithm, String),
        Md5(Md5),
        None,
    }
    let mut check = match (&remote.checksum, remote.etag_is_md5) {
        (Some((alg, value)), _) => Check::Sum(Hasher::new(*alg), *alg, value.clone()),
        (None, true) => Check::Md5(Md5::new()),
        (None, false) => Check::None,
    };
    if matches!(check, Check::None) {
        return Ok("length".into());
    }
    let mut reader = file;
    std::io::Seek::rewind(&mut reader).map_err(io_err(tmp))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf).map_err(io_err(tmp))?;
        if n == 0 {
            break;
        }
        match &mut check {
            Check::Sum(h, ..) => h.update(&buf[..n]),
            Check::Md5(h) => h.update(&buf[..n]),
            Check::None => {}
        }
    }
    match check {
        Check::Sum(h, alg, want) => {
            let got = checksum::b64(&h.finalize());
            if got != want {
                return Err(CpError::Verify(format!(
                    "the downloaded bytes have {alg} {got}, the object {want}"
                )));
            }
            Ok(format!("length and {alg}"))
        }
        Check::Md5(h) => {
            let got = hex::encode(h.finalize());
            if got != remote.etag.trim_matches('"') {
                return Err(CpError::Verify(format!(
                    "the downloaded bytes have MD5 {got}, the object's ETag is {}",
                    remote.etag
                )));
            }
            Ok("length and MD5 (ETag)".into())
        }
        Check::None => Ok("length".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_files_sit_hidden_beside_the_target() {
        let (tmp, state) = work_paths(Path::new("/d/out.bin"));
        assert_eq!(tmp, Path::new("/d/.out.bin.sealgate-download"));
        assert_eq!(state, Path::new("/d/.out.bin.sealgate-download.state"));
        let (tmp, _) = work_paths(Path::new("out.bin"));
        assert_eq!(tmp, Path::new("./.out.bin.sealgate-download"));
    }

    #[test]
    fn ranges_cover_the_object_exactly() {
        let size: u64 = (20 << 20) + 3;
        let ranges = size.div_ceil(PART_SIZE);
        assert_eq!(ranges, 3);
        assert_eq!(range_bounds(0, size), (0, 8 << 20));
        assert_eq!(range_bounds(2, size), (16 << 20, (4 << 20) + 3));
    }

    #[test]
    fn a_changed_object_is_another_state() {
        let s = State {
            version: STATE_VERSION,
            bucket: "b".into(),
            key: "k".into(),
            size: 10,
            etag: "\"e\"".into(),
            last_modified: "then".into(),
            range_size: PART_SIZE,
            done: BTreeMap::from([(0, "x".into())]),
        };
        let mut other = s.clone();
        other.done.clear();
        assert!(s.same_object(&other));
        other.etag = "\"f\"".into();
        assert!(!s.same_object(&other));
    }
}
