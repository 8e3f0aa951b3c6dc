//! The versions of a key as `sealgate inspect` shows them: one row per version, newest (the
//! current one) first — id, whether it is the latest, delete marker or object, SSE mode, the
//! fingerprint of its wrapped object key, size, last-modified — and picking the record of one.
//!
//! The fingerprint is the first 8 bytes of SHA-256 over the sealed object key's ciphertext:
//! it tells two wrapped keys apart (every version has its own object key, so its own
//! fingerprint) and reveals nothing the stored ciphertext does not.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::InspectError;
use crate::meta::{ObjectMeta, Sealing, Version};
use crate::store::{Store, layout};

/// One version of a key.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionInfo {
    pub(crate) version_id: String,
    pub(crate) is_latest: bool,
    pub(crate) delete_marker: bool,
    /// `SSE-S3`, `SSE-KMS`, `SSE-C`, `none`; `None` for a delete marker.
    pub(crate) mode: Option<String>,
    pub(crate) wrapped_key_fingerprint: Option<String>,
    pub(crate) size: Option<u64>,
    pub(crate) last_modified: Option<String>,
}

/// `sha256:<16 hex digits>` of the wrapped object key; `None` for a plaintext object.
pub(crate) fn fingerprint(sealing: &Sealing) -> Option<String> {
    let sealed = match sealing {
        Sealing::None => return None,
        Sealing::SseS3 { sealed, .. }
        | Sealing::SseC { sealed, .. }
        | Sealing::SseKms { sealed, .. } => sealed,
    };
    let digest = Sha256::digest(&sealed.ciphertext);
    Some(format!("sha256:{}", hex::encode(&digest[..8])))
}

pub(crate) fn mode_name(sealing: &Sealing) -> &'static str {
    match sealing {
        Sealing::None => "none",
        Sealing::SseS3 { .. } => "SSE-S3",
        Sealing::SseKms { .. } => "SSE-KMS",
        Sealing::SseC { .. } => "SSE-C",
    }
}

pub(crate) fn rfc3339_ms(ms: i64) -> Option<String> {
    u64::try_from(ms).ok().map(|ms| {
        crate::kms::audit::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
    })
}

fn info(v: &Version, is_latest: bool) -> VersionInfo {
    let object = match v {
        Version::Object(m) => Some(m),
        Version::Marker(_) => None,
    };
    VersionInfo {
        version_id: v.version_id().unwrap_or("null").to_owned(),
        is_latest,
        delete_marker: object.is_none(),
        mode: object.map(|m| mode_name(&m.sealing).to_owned()),
        wrapped_key_fingerprint: object.and_then(|m| fingerprint(&m.sealing)),
        size: object.map(|m| m.size),
        last_modified: rfc3339_ms(v.last_modified_ms()),
    }
}

/// The record of `key` inspect reports on — version `version_id`, else the current one — with
/// where it is stored, and every version of the key.
pub(crate) async fn select(
    store: &Store,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<(ObjectMeta, String, Vec<VersionInfo>), InspectError> {
    let all = store.all_versions(bucket, key).await?;
    let rows: Vec<VersionInfo> = all
        .iter()
        .enumerate()
        .map(|(i, v)| info(v, i == 0))
        .collect();
    let name = format!("s3://{bucket}/{key}");
    let (path, version) = match version_id {
        Some(id) => store
            .find_version(bucket, key, id)
            .await?
            .ok_or_else(|| InspectError::NoSuchObject(format!("{name} version {id}")))?,
        None => match all.into_iter().next() {
            Some(v) => (layout::meta(bucket, key)?, v),
            None => return Err(InspectError::NoSuchObject(name)),
        },
    };
    match version {
        Version::Object(m) => Ok((*m, path.to_string(), rows)),
        Version::Marker(d) => Err(InspectError::DeleteMarker {
            what: format!(
                "{name}: version {} is a delete marker (no data, no key); pick a version with --version-id",
                d.version_id.as_deref().unwrap_or("null")
            ),
            versions: table(&rows),
        }),
    }
}

/// The versions as a text table (the `versions` section of the text report).
pub(crate) fn table(rows: &[VersionInfo]) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "  versions ({}):", rows.len());
    let _ = writeln!(
        o,
        "    {:<32}  {:<6}  {:<7}  {:<23}  {:>12}  last modified",
        "version id", "latest", "mode", "wrapped key", "size"
    );
    for r in rows {
        let dash = || "-".to_owned();
        let _ = writeln!(
            o,
            "    {:<32}  {:<6}  {:<7}  {:<23}  {:>12}  {}",
            r.version_id,
            if r.is_latest { "yes" } else { "no" },
            if r.delete_marker {
                "marker"
            } else {
                r.mode.as_deref().unwrap_or("?")
            },
            r.wrapped_key_fingerprint.clone().unwrap_or_else(dash),
            r.size.map_or_else(dash, |s| s.to_string()),
            r.last_modified.clone().unwrap_or_else(dash),
        );
    }
    o
}
