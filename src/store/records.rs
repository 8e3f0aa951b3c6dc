//! JSON (de)serialisation of the persisted records, with the format check.
//!
//! Each record names its format (`sealgate-meta/1`, ...). Decoding reads the marker first and
//! dispatches on it, so a later version adds an arm here that migrates the old shape; an
//! unknown marker is `Corrupt`, never a silent misread.

use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use crate::meta::{
    BUCKET_FORMAT, BucketRecord, COMPLETION_FORMAT, CompletionRecord, DELETE_MARKER_FORMAT,
    META_FORMAT, META_FORMAT_V1, ObjectMeta, PartLayout, UPLOAD_FORMAT, UploadRecord, Version,
};

#[derive(Deserialize)]
struct Marker {
    format: String,
}

fn decode_marked<T: DeserializeOwned>(bytes: &[u8], expected: &[&str]) -> Result<T, StoreError> {
    let marker: Marker =
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if !expected.contains(&marker.format.as_str()) {
        return Err(StoreError::Corrupt(format!(
            "unknown record format {:?} (expected {expected:?})",
            marker.format
        )));
    }
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn encode<T: serde::Serialize>(rec: &T) -> Result<Bytes, StoreError> {
    serde_json::to_vec(rec)
        .map(Bytes::from)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn decode_meta(bytes: &[u8]) -> Result<ObjectMeta, StoreError> {
    // Version 1 has the same shape without `mac`; the reader treats it as unauthenticated.
    decode_marked(bytes, &[META_FORMAT, META_FORMAT_V1])
}

/// A version record: an object's meta record or a delete marker (docs/STORAGE.md "Versions").
pub(crate) fn decode_version(bytes: &[u8]) -> Result<Version, StoreError> {
    let marker: Marker =
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if marker.format == DELETE_MARKER_FORMAT {
        return decode_marked(bytes, &[DELETE_MARKER_FORMAT]).map(Version::Marker);
    }
    decode_meta(bytes).map(|m| Version::Object(Box::new(m)))
}

/// Encodes a version record.
pub(crate) fn encode_version(v: &Version) -> Result<Bytes, StoreError> {
    match v {
        Version::Object(m) => encode(m),
        Version::Marker(d) => encode(d),
    }
}

pub(crate) fn decode_bucket(bytes: &[u8]) -> Result<BucketRecord, StoreError> {
    decode_marked(bytes, &[BUCKET_FORMAT])
}

pub(crate) fn decode_upload(bytes: &[u8]) -> Result<UploadRecord, StoreError> {
    decode_marked(bytes, &[UPLOAD_FORMAT])
}

/// Part records carry no marker of their own: they live only as long as their upload, whose
/// record is versioned.
pub(crate) fn decode_part(bytes: &[u8]) -> Result<PartLayout, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn decode_completion(bytes: &[u8]) -> Result<CompletionRecord, StoreError> {
    decode_marked(bytes, &[COMPLETION_FORMAT])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::object_meta;

    /// A blob-backed part encodes as before (no `inline` key, so records written earlier and
    /// records written now are the same bytes); an inline part round-trips, and its version has
    /// no data generation to retire.
    #[test]
    fn inline_parts_round_trip_and_blob_parts_encode_unchanged() {
        let blob = object_meta("g1", 10);
        let bytes = encode(&blob).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("inline"));
        assert_eq!(decode_meta(&bytes).unwrap(), blob);
        assert_eq!(blob.blob_generation(), Some("g1"));

        let mut inline = object_meta("g2", 10);
        inline.parts[0].blob = String::new();
        inline.parts[0].inline = Some(vec![0, 1, 2, 255]);
        let bytes = encode(&inline).unwrap();
        assert!(String::from_utf8_lossy(&bytes).contains(r#""inline":"AAEC/w==""#));
        let back = decode_meta(&bytes).unwrap();
        assert_eq!(back, inline);
        assert_eq!(back.blob_generation(), None);
        assert_eq!(Version::Object(Box::new(back)).blob_generation(), None);
        assert_eq!(Version::Object(Box::new(inline)).generation(), Some("g2"));
    }
}
