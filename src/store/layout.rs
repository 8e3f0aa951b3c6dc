//! Where each record and blob lives in the backend (see `docs/STORAGE.md`).
//!
//! ```text
//! buckets/<bucket>                                  BucketRecord
//! meta/<bucket>/<encoded key>                       ObjectMeta or DeleteMarker: the current
//!                                                   version (keyenc)
//! versions/<bucket>/<encoded key>/<version name>    ObjectMeta or DeleteMarker: the
//!                                                   non-current versions, newest first
//! data/<bucket>/<generation>/<blob>                 ciphertext      (immutable)
//! uploads/<bucket>/<upload-id>/record               UploadRecord
//! uploads/<bucket>/<upload-id>/parts/<NNNNN>        PartLayout      (5-digit part number)
//! uploads/<bucket>/<upload-id>/completed            CompletionRecord (retried Complete)
//! retired/<bucket>/<generation>                     retire marker   (when it lost its record)
//! system/<area>/<name>                              gateway-wide records (e.g. wrapped SSE-S3
//!                                                   master key versions); never listed as buckets
//! ```
//!
//! Bucket names, generations, upload ids and blob names are used verbatim as path segments, so
//! they are checked here instead of encoded: a name that could escape its folder or collide
//! with `object_store`'s staging files (`name#123`) is refused.

use object_store::path::Path;

use super::StoreError;
use super::keyenc;

pub(crate) const BUCKETS: &str = "buckets";
pub(crate) const META: &str = "meta";
pub(crate) const VERSIONS: &str = "versions";
pub(crate) const DATA: &str = "data";
pub(crate) const UPLOADS: &str = "uploads";
pub(crate) const SYSTEM: &str = "system";
pub(crate) const RETIRED: &str = "retired";

/// A bucket name as S3 allows it: 3–63 of `[a-z0-9.-]`.
pub(crate) fn check_bucket(name: &str) -> Result<(), StoreError> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidName(format!("bucket {name:?}")))
    }
}

/// A generation, upload id or blob name: 1–200 of `[A-Za-z0-9_.-]`, not `.` or `..`.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), StoreError> {
    let ok = (1..=200).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidName(format!("{what} {name:?}")))
    }
}

fn path(s: String) -> Result<Path, StoreError> {
    Path::parse(&s).map_err(|e| StoreError::InvalidName(e.to_string()))
}

pub(crate) fn buckets_dir() -> Path {
    Path::from(BUCKETS)
}

pub(crate) fn bucket_record(bucket: &str) -> Result<Path, StoreError> {
    check_bucket(bucket)?;
    path(format!("{BUCKETS}/{bucket}"))
}

pub(crate) fn meta_dir(bucket: &str) -> Result<Path, StoreError> {
    check_bucket(bucket)?;
    path(format!("{META}/{bucket}"))
}

/// S3 keys are 1..=1024 bytes; the empty key is refused (it would also be indistinguishable
/// from "no start" in listings). Longer keys are stored fine, the limit is the caller's.
pub(crate) fn meta(bucket: &str, key: &str) -> Result<Path, StoreError> {
    check_bucket(bucket)?;
    if key.is_empty() {
        return Err(StoreError::InvalidName("empty object key".into()));
    }
    path(format!("{META}/{bucket}/{}", keyenc::encode_key(key)))
}

/// The key a listed meta path stands for, if it is one.
pub(crate) fn key_of_meta(bucket_meta_dir: &Path, location: &Path) -> Option<String> {
    let rest = location
        .as_ref()
        .strip_prefix(bucket_meta_dir.as_ref())?
        .strip_prefix('/')?;
    keyenc::decode_key(rest).ok()
}

/// The folder of the non-current versions of `key`.
pub(crate) fn versions_dir(bucket: &str, key: &str) -> Result<Path, StoreError> {
    meta(bucket, key)?; // the same checks
    path(format!("{VERSIONS}/{bucket}/{}", keyenc::encode_key(key)))
}

/// The folder of every non-current version of a bucket.
pub(crate) fn bucket_versions_dir(bucket: &str) -> Result<Path, StoreError> {
    check_bucket(bucket)?;
    path(format!("{VERSIONS}/{bucket}"))
}

/// A non-current version of `key`, by its name (`version::entry_name`).
pub(crate) fn version(bucket: &str, key: &str, name: &str) -> Result<Path, StoreError> {
    check_name("version", name)?;
    Ok(versions_dir(bucket, key)?.join(name))
}

pub(crate) fn data_dir(bucket: &str) -> Result<Path, StoreError> {
    check_bucket(bucket)?;
    path(format!("{DATA}/{bucket}"))
}

pub(crate) fn generation_dir(bucket: &str, generation: &str) -> Result<Path, StoreError> {
    check_bucket(bucket)?;
    check_name("generation", generation)?;
    path(format!("{DATA}/{bucket}/{generation}"))
}

pub(crate) fn blob(bucket: &str, generation: &str, blob: &str) -> Result<Path, StoreError> {
    check_bucket(bucket)?;
    check_name("generation", generation)?;
    check_name("blob", blob)?;
    path(format!("{DATA}/{bucket}/{generation}/{blob}"))
}

/// The generation segment of a listed `data/<bucket>/<generation>/<blob>` path.
pub(crate) fn generation_of_blob(location: &Path) -> Option<String> {
    let mut parts = location.parts();
    let (_, _, generation) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next()?;
    Some(generation.as_ref().to_string())
}

pub(crate) fn retired_dir(bucket: &str) -> Result<Path, StoreError> {
    check_bucket(bucket)?;
    path(format!("{RETIRED}/{bucket}"))
}

/// The retire marker of a generation: its backend modification time is when the generation
/// stopped being referenced (the sweep's grace period counts from it).
pub(crate) fn retired(bucket: &str, generation: &str) -> Result<Path, StoreError> {
    check_name("generation", generation)?;
    Ok(retired_dir(bucket)?.join(generation))
}

/// The generation a listed `retired/<bucket>/<generation>` path marks.
pub(crate) fn generation_of_marker(location: &Path) -> Option<String> {
    let parts: Vec<_> = location.parts().collect();
    match parts.as_slice() {
        [_, _, generation] => Some(generation.as_ref().to_string()),
        _ => None,
    }
}

pub(crate) fn uploads_dir(bucket: &str) -> Result<Path, StoreError> {
    check_bucket(bucket)?;
    path(format!("{UPLOADS}/{bucket}"))
}

pub(crate) fn upload_dir(bucket: &str, upload_id: &str) -> Result<Path, StoreError> {
    check_bucket(bucket)?;
    check_name("upload id", upload_id)?;
    path(format!("{UPLOADS}/{bucket}/{upload_id}"))
}

pub(crate) fn upload_record(bucket: &str, upload_id: &str) -> Result<Path, StoreError> {
    Ok(upload_dir(bucket, upload_id)?.join("record"))
}

pub(crate) fn completion_record(bucket: &str, upload_id: &str) -> Result<Path, StoreError> {
    Ok(upload_dir(bucket, upload_id)?.join("completed"))
}

/// Whether a listed `uploads/<bucket>/...` path is a completion record.
pub(crate) fn is_completion(location: &Path) -> bool {
    let parts: Vec<_> = location.parts().collect();
    matches!(parts.as_slice(), [_, _, _, c] if c.as_ref() == "completed")
}

pub(crate) fn parts_dir(bucket: &str, upload_id: &str) -> Result<Path, StoreError> {
    Ok(upload_dir(bucket, upload_id)?.join("parts"))
}

pub(crate) fn part(bucket: &str, upload_id: &str, part_number: u32) -> Result<Path, StoreError> {
    if !(1..=10_000).contains(&part_number) {
        return Err(StoreError::InvalidName(format!(
            "part number {part_number}"
        )));
    }
    Ok(parts_dir(bucket, upload_id)?.join(format!("{part_number:05}")))
}

/// `(upload id, is the record)` of a listed `uploads/<bucket>/<id>/...` path.
pub(crate) fn upload_entry(location: &Path) -> Option<(String, bool)> {
    let parts: Vec<_> = location.parts().collect();
    match parts.as_slice() {
        [_, _, id, rec] if rec.as_ref() == "record" => Some((id.as_ref().to_string(), true)),
        [_, _, id, p, _] if p.as_ref() == "parts" => Some((id.as_ref().to_string(), false)),
        _ => None,
    }
}

/// The folder of one area of gateway-wide records, e.g. `system/sse-s3`.
pub(crate) fn system_dir(area: &str) -> Result<Path, StoreError> {
    check_name("system area", area)?;
    path(format!("{SYSTEM}/{area}"))
}

/// One gateway-wide record, e.g. `system/sse-s3/v1`.
pub(crate) fn system_record(area: &str, name: &str) -> Result<Path, StoreError> {
    check_name("system record", name)?;
    Ok(system_dir(area)?.join(name))
}
