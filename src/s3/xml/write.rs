//! Response documents, written by a small string builder over [`super::text`].

use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use time::OffsetDateTime;
use time::macros::format_description;

use super::super::error::S3Error;
use super::text::{escape_text, push_elem};
use super::{CHECKSUM_ALGORITHMS, S3_NS, SseConfiguration, quoted_etag};

/// Everything but RFC 3986 unreserved characters and `/` is percent-encoded; S3 leaves `/`
/// readable in url-encoded keys and clients decode with (plus-aware) URL decoding, so a literal
/// `+` must become `%2B` and a space `%20`.
const KEY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// `encoding-type=url` encoding of a key, prefix, delimiter, marker or start-after value.
pub(crate) fn url_encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_ENCODE).to_string()
}

/// Formats milliseconds since the Unix epoch as S3 does in XML: `2026-11-28T13:31:39.000Z`.
/// Values outside `time`'s range are clamped to the epoch (they cannot come from a real clock).
pub(crate) fn format_timestamp_ms(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.format(&fmt)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

/// Builds one response document; element names are trusted constants, text is escaped.
struct Doc {
    out: String,
}

impl Doc {
    fn new(root: &str) -> Self {
        let mut out = String::with_capacity(512);
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{S3_NS}\">"
        );
        Doc { out }
    }
    fn open(&mut self, name: &str) {
        let _ = write!(self.out, "<{name}>");
    }
    fn close(&mut self, name: &str) {
        let _ = write!(self.out, "</{name}>");
    }
    fn elem(&mut self, name: &str, text: &str) {
        push_elem(&mut self.out, name, text);
    }
    fn opt(&mut self, name: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.elem(name, t);
        }
    }
    fn num(&mut self, name: &str, n: impl std::fmt::Display) {
        let _ = write!(self.out, "<{name}>{n}</{name}>");
    }
    fn boolean(&mut self, name: &str, b: bool) {
        self.elem(name, if b { "true" } else { "false" });
    }
    fn time(&mut self, name: &str, ms: i64) {
        self.elem(name, &format_timestamp_ms(ms));
    }
    fn etag(&mut self, etag: &str) {
        self.elem("ETag", &quoted_etag(etag));
    }
    fn owner(&mut self, tag: &str, owner: &Owner) {
        self.open(tag);
        self.elem("ID", &owner.id);
        self.opt("DisplayName", owner.display_name.as_deref());
        self.close(tag);
    }
    fn checksum(&mut self, c: &XmlChecksum) {
        // Only the five known names: the element name is built from the algorithm.
        if CHECKSUM_ALGORITHMS.contains(&c.algorithm.as_str()) {
            self.elem(&format!("Checksum{}", c.algorithm), &c.value);
        }
    }
    fn common_prefixes(&mut self, prefixes: &[String]) {
        for p in prefixes {
            self.open("CommonPrefixes");
            self.elem("Prefix", p);
            self.close("CommonPrefixes");
        }
    }
    fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.out
    }
}

// ------------------------------------------------------------------------------------------
// Response bodies
// ------------------------------------------------------------------------------------------

/// `<Owner>` / `<Initiator>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub(crate) id: String,
    pub(crate) display_name: Option<String>,
}

/// A flexible checksum in a response: `algorithm` is one of [`CHECKSUM_ALGORITHMS`], `value`
/// base64 (with `-N` for composite), `kind` `FULL_OBJECT`/`COMPOSITE` where the element exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlChecksum {
    pub(crate) algorithm: String,
    pub(crate) value: String,
    pub(crate) kind: Option<String>,
}

/// One `<Bucket>` of ListBuckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BucketEntry {
    pub(crate) name: String,
    pub(crate) creation_date_ms: i64,
    /// `<BucketRegion>` (sent by AWS since 2024).
    pub(crate) region: Option<String>,
}

/// ListBuckets response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListAllMyBucketsResult {
    pub(crate) owner: Owner,
    pub(crate) buckets: Vec<BucketEntry>,
    pub(crate) continuation_token: Option<String>,
    pub(crate) prefix: Option<String>,
}

impl ListAllMyBucketsResult {
    pub(crate) fn to_xml(&self) -> String {
        let root = "ListAllMyBucketsResult";
        let mut d = Doc::new(root);
        d.owner("Owner", &self.owner);
        d.open("Buckets");
        for b in &self.buckets {
            d.open("Bucket");
            d.elem("Name", &b.name);
            d.time("CreationDate", b.creation_date_ms);
            d.opt("BucketRegion", b.region.as_deref());
            d.close("Bucket");
        }
        d.close("Buckets");
        d.opt("ContinuationToken", self.continuation_token.as_deref());
        d.opt("Prefix", self.prefix.as_deref());
        d.finish(root)
    }
}

/// GetBucketLocation response. S3 answers an empty constraint for `us-east-1`.
pub(crate) fn location_constraint_xml(region: &str) -> String {
    let root = "LocationConstraint";
    if region.is_empty() || region == "us-east-1" {
        return format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{S3_NS}\"/>");
    }
    let mut d = Doc::new(root);
    d.out.push_str(&escape_text(region));
    d.finish(root)
}

/// One `<Contents>` of a listing. `key` already url-encoded when the listing asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectEntry {
    pub(crate) key: String,
    pub(crate) last_modified_ms: i64,
    /// Unquoted.
    pub(crate) etag: String,
    pub(crate) size: u64,
    /// Only when the listing asked for owners (V2 `fetch-owner`; V1 always).
    pub(crate) owner: Option<Owner>,
    pub(crate) checksum_algorithm: Option<String>,
    pub(crate) checksum_type: Option<String>,
}

fn write_contents(d: &mut Doc, entries: &[ObjectEntry]) {
    for o in entries {
        d.open("Contents");
        d.elem("Key", &o.key);
        d.time("LastModified", o.last_modified_ms);
        d.etag(&o.etag);
        d.opt("ChecksumAlgorithm", o.checksum_algorithm.as_deref());
        d.opt("ChecksumType", o.checksum_type.as_deref());
        d.num("Size", o.size);
        if let Some(owner) = &o.owner {
            d.owner("Owner", owner);
        }
        d.elem("StorageClass", "STANDARD");
        d.close("Contents");
    }
}

/// ListObjects (V1) response. All strings are written as given (url-encode before).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ListObjectsV1Result {
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) marker: String,
    /// Only when truncated and a delimiter was given (S3's rule).
    pub(crate) next_marker: Option<String>,
    pub(crate) max_keys: u32,
    pub(crate) delimiter: Option<String>,
    pub(crate) is_truncated: bool,
    /// Echo `<EncodingType>url</EncodingType>`.
    pub(crate) encoding_type_url: bool,
    pub(crate) contents: Vec<ObjectEntry>,
    pub(crate) common_prefixes: Vec<String>,
}

impl ListObjectsV1Result {
    pub(crate) fn to_xml(&self) -> String {
        let root = "ListBucketResult";
        let mut d = Doc::new(root);
        d.elem("Name", &self.name);
        d.elem("Prefix", &self.prefix);
        d.elem("Marker", &self.marker);
        d.opt("NextMarker", self.next_marker.as_deref());
        d.num("MaxKeys", self.max_keys);
        d.opt("Delimiter", self.delimiter.as_deref());
        d.boolean("IsTruncated", self.is_truncated);
        if self.encoding_type_url {
            d.elem("EncodingType", "url");
        }
        write_contents(&mut d, &self.contents);
        d.common_prefixes(&self.common_prefixes);
        d.finish(root)
    }
}

/// ListObjectsV2 response. `KeyCount` is computed (contents + common prefixes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ListObjectsV2Result {
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) continuation_token: Option<String>,
    pub(crate) next_continuation_token: Option<String>,
    pub(crate) start_after: Option<String>,
    pub(crate) max_keys: u32,
    pub(crate) delimiter: Option<String>,
    pub(crate) is_truncated: bool,
    pub(crate) encoding_type_url: bool,
    pub(crate) contents: Vec<ObjectEntry>,
    pub(crate) common_prefixes: Vec<String>,
}

impl ListObjectsV2Result {
    pub(crate) fn to_xml(&self) -> String {
        let root = "ListBucketResult";
        let mut d = Doc::new(root);
        d.elem("Name", &self.name);
        d.elem("Prefix", &self.prefix);
        d.opt("ContinuationToken", self.continuation_token.as_deref());
        d.opt(
            "NextContinuationToken",
            self.next_continuation_token.as_deref(),
        );
        d.opt("StartAfter", self.start_after.as_deref());
        d.num("KeyCount", self.contents.len() + self.common_prefixes.len());
        d.num("MaxKeys", self.max_keys);
        d.opt("Delimiter", self.delimiter.as_deref());
        d.boolean("IsTruncated", self.is_truncated);
        if self.encoding_type_url {
            d.elem("EncodingType", "url");
        }
        write_contents(&mut d, &self.contents);
        d.common_prefixes(&self.common_prefixes);
        d.finish(root)
    }
}

/// CopyObject / UploadPartCopy result body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyResult {
    /// Unquoted.
    pub(crate) etag: String,
    pub(crate) last_modified_ms: i64,
    pub(crate) checksum: Option<XmlChecksum>,
}

impl CopyResult {
    fn write(&self, root: &str) -> String {
        let mut d = Doc::new(root);
        d.etag(&self.etag);
        d.time("LastModified", self.last_modified_ms);
        if let Some(c) = &self.checksum {
            d.checksum(c);
            d.opt("ChecksumType", c.kind.as_deref());
        }
        d.finish(root)
    }

    /// `<CopyObjectResult>`.
    pub(crate) fn to_copy_object_xml(&self) -> String {
        self.write("CopyObjectResult")
    }

    /// `<CopyPartResult>`.
    pub(crate) fn to_copy_part_xml(&self) -> String {
        self.write("CopyPartResult")
    }
}

/// CreateMultipartUpload response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InitiateMultipartUploadResult {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) upload_id: String,
}

impl InitiateMultipartUploadResult {
    pub(crate) fn to_xml(&self) -> String {
        let root = "InitiateMultipartUploadResult";
        let mut d = Doc::new(root);
        d.elem("Bucket", &self.bucket);
        d.elem("Key", &self.key);
        d.elem("UploadId", &self.upload_id);
        d.finish(root)
    }
}

/// CompleteMultipartUpload response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompleteMultipartUploadResult {
    /// URL of the object, e.g. `https://host/bucket/key`.
    pub(crate) location: String,
    pub(crate) bucket: String,
    pub(crate) key: String,
    /// Unquoted (`hex-N`).
    pub(crate) etag: String,
    pub(crate) checksum: Option<XmlChecksum>,
}

impl CompleteMultipartUploadResult {
    pub(crate) fn to_xml(&self) -> String {
        let root = "CompleteMultipartUploadResult";
        let mut d = Doc::new(root);
        d.elem("Location", &self.location);
        d.elem("Bucket", &self.bucket);
        d.elem("Key", &self.key);
        d.etag(&self.etag);
        if let Some(c) = &self.checksum {
            d.checksum(c);
            d.opt("ChecksumType", c.kind.as_deref());
        }
        d.finish(root)
    }
}

/// One `<Part>` of ListParts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartEntry {
    pub(crate) part_number: u32,
    pub(crate) last_modified_ms: i64,
    /// Unquoted.
    pub(crate) etag: String,
    pub(crate) size: u64,
    /// The part checksum (`kind` is ignored here).
    pub(crate) checksum: Option<XmlChecksum>,
}

/// ListParts response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListPartsResult {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) upload_id: String,
    pub(crate) part_number_marker: u32,
    /// Set when truncated: the last part number returned.
    pub(crate) next_part_number_marker: Option<u32>,
    pub(crate) max_parts: u32,
    pub(crate) is_truncated: bool,
    /// Written as both `<Initiator>` and `<Owner>`.
    pub(crate) owner: Option<Owner>,
    pub(crate) checksum_algorithm: Option<String>,
    pub(crate) checksum_type: Option<String>,
    pub(crate) parts: Vec<PartEntry>,
}

impl ListPartsResult {
    pub(crate) fn to_xml(&self) -> String {
        let root = "ListPartsResult";
        let mut d = Doc::new(root);
        d.elem("Bucket", &self.bucket);
        d.elem("Key", &self.key);
        d.elem("UploadId", &self.upload_id);
        d.num("PartNumberMarker", self.part_number_marker);
        if let Some(n) = self.next_part_number_marker {
            d.num("NextPartNumberMarker", n);
        }
        d.num("MaxParts", self.max_parts);
        d.boolean("IsTruncated", self.is_truncated);
        if let Some(o) = &self.owner {
            d.owner("Initiator", o);
            d.owner("Owner", o);
        }
        d.elem("StorageClass", "STANDARD");
        d.opt("ChecksumAlgorithm", self.checksum_algorithm.as_deref());
        d.opt("ChecksumType", self.checksum_type.as_deref());
        for p in &self.parts {
            d.open("Part");
            d.num("PartNumber", p.part_number);
            d.time("LastModified", p.last_modified_ms);
            d.etag(&p.etag);
            d.num("Size", p.size);
            if let Some(c) = &p.checksum {
                d.checksum(c);
            }
            d.close("Part");
        }
        d.finish(root)
    }
}

/// One `<Upload>` of ListMultipartUploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadEntry {
    /// Already url-encoded when asked for.
    pub(crate) key: String,
    pub(crate) upload_id: String,
    pub(crate) initiated_ms: i64,
    /// Written as both `<Initiator>` and `<Owner>`.
    pub(crate) owner: Option<Owner>,
    pub(crate) checksum_algorithm: Option<String>,
    pub(crate) checksum_type: Option<String>,
}

/// ListMultipartUploads response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ListMultipartUploadsResult {
    pub(crate) bucket: String,
    pub(crate) key_marker: String,
    pub(crate) upload_id_marker: String,
    pub(crate) next_key_marker: Option<String>,
    pub(crate) next_upload_id_marker: Option<String>,
    pub(crate) prefix: String,
    pub(crate) delimiter: Option<String>,
    pub(crate) max_uploads: u32,
    pub(crate) is_truncated: bool,
    pub(crate) encoding_type_url: bool,
    pub(crate) uploads: Vec<UploadEntry>,
    pub(crate) common_prefixes: Vec<String>,
}

impl ListMultipartUploadsResult {
    pub(crate) fn to_xml(&self) -> String {
        let root = "ListMultipartUploadsResult";
        let mut d = Doc::new(root);
        d.elem("Bucket", &self.bucket);
        d.elem("KeyMarker", &self.key_marker);
        d.elem("UploadIdMarker", &self.upload_id_marker);
        d.opt("NextKeyMarker", self.next_key_marker.as_deref());
        d.opt("NextUploadIdMarker", self.next_upload_id_marker.as_deref());
        d.elem("Prefix", &self.prefix);
        d.opt("Delimiter", self.delimiter.as_deref());
        d.num("MaxUploads", self.max_uploads);
        d.boolean("IsTruncated", self.is_truncated);
        if self.encoding_type_url {
            d.elem("EncodingType", "url");
        }
        for u in &self.uploads {
            d.open("Upload");
            d.elem("Key", &u.key);
            d.elem("UploadId", &u.upload_id);
            if let Some(o) = &u.owner {
                d.owner("Initiator", o);
                d.owner("Owner", o);
            }
            d.elem("StorageClass", "STANDARD");
            d.time("Initiated", u.initiated_ms);
            d.opt("ChecksumAlgorithm", u.checksum_algorithm.as_deref());
            d.opt("ChecksumType", u.checksum_type.as_deref());
            d.close("Upload");
        }
        d.common_prefixes(&self.common_prefixes);
        d.finish(root)
    }
}

/// A successfully deleted key in DeleteObjects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeletedEntry {
    pub(crate) key: String,
    pub(crate) version_id: Option<String>,
    /// Set when the delete made or removed a delete marker: its version id.
    pub(crate) delete_marker_version_id: Option<String>,
}

/// A key DeleteObjects failed to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeleteErrorEntry {
    pub(crate) key: String,
    pub(crate) version_id: Option<String>,
    pub(crate) code: String,
    pub(crate) message: String,
}

impl DeleteErrorEntry {
    /// The per-key error entry for `err`.
    pub(crate) fn from_error(key: &str, version_id: Option<&str>, err: &S3Error) -> Self {
        DeleteErrorEntry {
            key: key.to_owned(),
            version_id: version_id.map(str::to_owned),
            code: err.code().to_owned(),
            message: err.message(),
        }
    }
}

/// DeleteObjects response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct DeleteResult {
    pub(crate) deleted: Vec<DeletedEntry>,
    pub(crate) errors: Vec<DeleteErrorEntry>,
}

impl DeleteResult {
    /// In quiet mode S3 reports only the failures.
    pub(crate) fn to_xml(&self, quiet: bool) -> String {
        let root = "DeleteResult";
        let mut d = Doc::new(root);
        if !quiet {
            for del in &self.deleted {
                d.open("Deleted");
                d.elem("Key", &del.key);
                d.opt("VersionId", del.version_id.as_deref());
                if let Some(m) = &del.delete_marker_version_id {
                    d.boolean("DeleteMarker", true);
                    d.elem("DeleteMarkerVersionId", m);
                }
                d.close("Deleted");
            }
        }
        for e in &self.errors {
            d.open("Error");
            d.elem("Key", &e.key);
            d.opt("VersionId", e.version_id.as_deref());
            d.elem("Code", &e.code);
            d.elem("Message", &e.message);
            d.close("Error");
        }
        d.finish(root)
    }
}

impl SseConfiguration {
    pub(crate) fn to_xml(&self) -> String {
        let root = "ServerSideEncryptionConfiguration";
        let mut d = Doc::new(root);
        d.open("Rule");
        d.open("ApplyServerSideEncryptionByDefault");
        d.elem("SSEAlgorithm", self.algorithm.as_str());
        d.opt("KMSMasterKeyID", self.kms_master_key_id.as_deref());
        d.close("ApplyServerSideEncryptionByDefault");
        d.boolean("BucketKeyEnabled", self.bucket_key_enabled);
        if !self.blocked_encryption_types.is_empty() {
            d.open("BlockedEncryptionTypes");
            for t in &self.blocked_encryption_types {
                d.elem("EncryptionType", t.as_str());
            }
            d.close("BlockedEncryptionTypes");
        }
        d.close("Rule");
        d.finish(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::xml::{BlockedEncryptionType, SseAlgorithm, parse_sse_configuration};

    const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

    fn ns(root: &str) -> String {
        format!("{DECL}<{root} xmlns=\"{S3_NS}\">")
    }

    // 2026-11-28T13:31:39.000Z
    const T: i64 = 1_795_872_699_000;

    #[test]
    fn timestamp_format() {
        assert_eq!(format_timestamp_ms(T), "2026-11-28T13:31:39.000Z");
        assert_eq!(format_timestamp_ms(T + 7), "2026-11-28T13:31:39.007Z");
        assert_eq!(format_timestamp_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_timestamp_ms(i64::MAX), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn url_encoding_of_keys() {
        assert_eq!(
            url_encode_key("photos/2006/a b+c.jpg"),
            "photos/2006/a%20b%2Bc.jpg"
        );
        assert_eq!(url_encode_key("ü~_-."), "%C3%BC~_-.");
        assert_eq!(url_encode_key("a\r&=?%"), "a%0D%26%3D%3F%25");
    }

    #[test]
    fn list_buckets_xml() {
        let r = ListAllMyBucketsResult {
            owner: Owner {
                id: "000000000000".into(),
                display_name: Some("root".into()),
            },
            buckets: vec![BucketEntry {
                name: "b1".into(),
                creation_date_ms: T,
                region: Some("us-east-1".into()),
            }],
            continuation_token: None,
            prefix: None,
        };
        assert_eq!(
            r.to_xml(),
            format!(
                "{}<Owner><ID>000000000000</ID><DisplayName>root</DisplayName></Owner>\
                 <Buckets><Bucket><Name>b1</Name><CreationDate>2026-11-28T13:31:39.000Z\
                 </CreationDate><BucketRegion>us-east-1</BucketRegion></Bucket></Buckets>\
                 </ListAllMyBucketsResult>",
                ns("ListAllMyBucketsResult")
            )
        );
    }

    #[test]
    fn location_xml() {
        assert_eq!(
            location_constraint_xml("us-east-1"),
            format!("{DECL}<LocationConstraint xmlns=\"{S3_NS}\"/>")
        );
        assert_eq!(
            location_constraint_xml("eu-west-1"),
            format!("{}eu-west-1</LocationConstraint>", ns("LocationConstraint"))
        );
    }

    fn entry(key: &str) -> ObjectEntry {
        ObjectEntry {
            key: key.into(),
            last_modified_ms: T,
            etag: "d41d8cd98f00b204e9800998ecf8427e".into(),
            size: 0,
            owner: None,
            checksum_algorithm: Some("CRC64NVME".into()),
            checksum_type: Some("FULL_OBJECT".into()),
        }
    }

    #[test]
    fn list_v1_xml() {
        let r = ListObjectsV1Result {
            name: "b".into(),
            prefix: "p/".into(),
            marker: String::new(),
            next_marker: Some("p/a".into()),
            max_keys: 1000,
            delimiter: Some("/".into()),
            is_truncated: true,
            encoding_type_url: false,
            contents: vec![ObjectEntry {
                owner: Some(Owner {
                    id: "o".into(),
                    display_name: None,
                }),
                ..entry("p/a")
            }],
            common_prefixes: vec!["p/d/".into()],
        };
        assert_eq!(
            r.to_xml(),
            format!(
                "{}<Name>b</Name><Prefix>p/</Prefix><Marker></Marker><NextMarker>p/a</NextMarker>\
                 <MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>\
                 <Contents><Key>p/a</Key><LastModified>2026-11-28T13:31:39.000Z</LastModified>\
                 <ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag>\
                 <ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm>\
                 <ChecksumType>FULL_OBJECT</ChecksumType><Size>0</Size>\
                 <Owner><ID>o</ID></Owner><StorageClass>STANDARD</StorageClass></Contents>\
                 <CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes></ListBucketResult>",
                ns("ListBucketResult")
            )
        );
    }

    #[test]
    fn list_v2_xml() {
        let r = ListObjectsV2Result {
            name: "b".into(),
            prefix: String::new(),
            continuation_token: Some("tok".into()),
            next_continuation_token: Some("n&t".into()),
            start_after: Some("a%20b".into()),
            max_keys: 2,
            delimiter: None,
            is_truncated: true,
            encoding_type_url: true,
            contents: vec![ObjectEntry {
                checksum_algorithm: None,
                checksum_type: None,
                ..entry("x%0D")
            }],
            common_prefixes: vec!["d/".into()],
        };
        assert_eq!(
            r.to_xml(),
            format!(
                "{}<Name>b</Name><Prefix></Prefix><ContinuationToken>tok</ContinuationToken>\
                 <NextContinuationToken>n&amp;t</NextContinuationToken>\
                 <StartAfter>a%20b</StartAfter><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>\
                 <IsTruncated>true</IsTruncated><EncodingType>url</EncodingType>\
                 <Contents><Key>x%0D</Key><LastModified>2026-11-28T13:31:39.000Z</LastModified>\
                 <ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>0</Size>\
                 <StorageClass>STANDARD</StorageClass></Contents>\
                 <CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes></ListBucketResult>",
                ns("ListBucketResult")
            )
        );
    }

    #[test]
    fn copy_results_xml() {
        let r = CopyResult {
            etag: "\"abc\"".into(), // already quoted: written with one pair only
            last_modified_ms: T,
            checksum: Some(XmlChecksum {
                algorithm: "CRC32".into(),
                value: "qSEQSA==".into(),
                kind: Some("FULL_OBJECT".into()),
            }),
        };
        let body = "<ETag>&quot;abc&quot;</ETag><LastModified>2026-11-28T13:31:39.000Z\
                    </LastModified><ChecksumCRC32>qSEQSA==</ChecksumCRC32>\
                    <ChecksumType>FULL_OBJECT</ChecksumType>";
        assert_eq!(
            r.to_copy_object_xml(),
            format!("{}{body}</CopyObjectResult>", ns("CopyObjectResult"))
        );
        assert_eq!(
            r.to_copy_part_xml(),
            format!("{}{body}</CopyPartResult>", ns("CopyPartResult"))
        );
    }

    #[test]
    fn unknown_checksum_algorithm_is_not_an_element() {
        let r = CopyResult {
            etag: "e".into(),
            last_modified_ms: 0,
            checksum: Some(XmlChecksum {
                algorithm: "X><evil".into(),
                value: "v".into(),
                kind: None,
            }),
        };
        assert!(!r.to_copy_object_xml().contains("evil"));
    }

    #[test]
    fn multipart_results_xml() {
        let init = InitiateMultipartUploadResult {
            bucket: "b".into(),
            key: "a/b c".into(),
            upload_id: "u1".into(),
        };
        assert_eq!(
            init.to_xml(),
            format!(
                "{}<Bucket>b</Bucket><Key>a/b c</Key><UploadId>u1</UploadId>\
                 </InitiateMultipartUploadResult>",
                ns("InitiateMultipartUploadResult")
            )
        );
        let done = CompleteMultipartUploadResult {
            location: "https://h/b/k".into(),
            bucket: "b".into(),
            key: "k".into(),
            etag: "4d45984fc3feb2ac9b22683c49674b56-3".into(),
            checksum: Some(XmlChecksum {
                algorithm: "CRC32".into(),
                value: "5FRUiw==-3".into(),
                kind: Some("COMPOSITE".into()),
            }),
        };
        assert_eq!(
            done.to_xml(),
            format!(
                "{}<Location>https://h/b/k</Location><Bucket>b</Bucket><Key>k</Key>\
                 <ETag>&quot;4d45984fc3feb2ac9b22683c49674b56-3&quot;</ETag>\
                 <ChecksumCRC32>5FRUiw==-3</ChecksumCRC32><ChecksumType>COMPOSITE</ChecksumType>\
                 </CompleteMultipartUploadResult>",
                ns("CompleteMultipartUploadResult")
            )
        );
    }

    #[test]
    fn list_parts_xml() {
        let r = ListPartsResult {
            bucket: "b".into(),
            key: "k".into(),
            upload_id: "u".into(),
            part_number_marker: 0,
            next_part_number_marker: Some(1),
            max_parts: 1,
            is_truncated: true,
            owner: Some(Owner {
                id: "o".into(),
                display_name: None,
            }),
            checksum_algorithm: Some("CRC32".into()),
            checksum_type: Some("COMPOSITE".into()),
            parts: vec![PartEntry {
                part_number: 1,
                last_modified_ms: T,
                etag: "e1".into(),
                size: 5,
                checksum: Some(XmlChecksum {
                    algorithm: "CRC32".into(),
                    value: "NRU+Sw==".into(),
                    kind: None,
                }),
            }],
        };
        assert_eq!(
            r.to_xml(),
            format!(
                "{}<Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId>\
                 <PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>1\
                 </NextPartNumberMarker><MaxParts>1</MaxParts><IsTruncated>true</IsTruncated>\
                 <Initiator><ID>o</ID></Initiator><Owner><ID>o</ID></Owner>\
                 <StorageClass>STANDARD</StorageClass><ChecksumAlgorithm>CRC32\
                 </ChecksumAlgorithm><ChecksumType>COMPOSITE</ChecksumType>\
                 <Part><PartNumber>1</PartNumber><LastModified>2026-11-28T13:31:39.000Z\
                 </LastModified><ETag>&quot;e1&quot;</ETag><Size>5</Size>\
                 <ChecksumCRC32>NRU+Sw==</ChecksumCRC32></Part></ListPartsResult>",
                ns("ListPartsResult")
            )
        );
    }

    #[test]
    fn list_uploads_xml() {
        let r = ListMultipartUploadsResult {
            bucket: "b".into(),
            max_uploads: 1000,
            uploads: vec![UploadEntry {
                key: "k".into(),
                upload_id: "u".into(),
                initiated_ms: T,
                owner: None,
                checksum_algorithm: None,
                checksum_type: None,
            }],
            common_prefixes: vec!["p/".into()],
            ..Default::default()
        };
        assert_eq!(
            r.to_xml(),
            format!(
                "{}<Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>\
                 <Prefix></Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false\
                 </IsTruncated><Upload><Key>k</Key><UploadId>u</UploadId>\
                 <StorageClass>STANDARD</StorageClass><Initiated>2026-11-28T13:31:39.000Z\
                 </Initiated></Upload><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes>\
                 </ListMultipartUploadsResult>",
                ns("ListMultipartUploadsResult")
            )
        );
    }

    #[test]
    fn delete_result_xml_quiet_and_verbose() {
        let r = DeleteResult {
            deleted: vec![DeletedEntry {
                key: "a".into(),
                version_id: None,
                delete_marker_version_id: None,
            }],
            errors: vec![DeleteErrorEntry::from_error(
                "b<",
                None,
                &S3Error::AccessDenied("Access Denied".into()),
            )],
        };
        let err = "<Error><Key>b&lt;</Key><Code>AccessDenied</Code>\
                   <Message>Access Denied</Message></Error>";
        assert_eq!(
            r.to_xml(false),
            format!(
                "{}<Deleted><Key>a</Key></Deleted>{err}</DeleteResult>",
                ns("DeleteResult")
            )
        );
        assert_eq!(
            r.to_xml(true),
            format!("{}{err}</DeleteResult>", ns("DeleteResult"))
        );
    }

    #[test]
    fn sse_configuration_xml() {
        assert_eq!(
            SseConfiguration::sse_s3_default().to_xml(),
            format!(
                "{}<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256\
                 </SSEAlgorithm></ApplyServerSideEncryptionByDefault>\
                 <BucketKeyEnabled>false</BucketKeyEnabled></Rule>\
                 </ServerSideEncryptionConfiguration>",
                ns("ServerSideEncryptionConfiguration")
            )
        );
        let kms = SseConfiguration {
            algorithm: SseAlgorithm::AwsKms,
            kms_master_key_id: Some("alias/x".into()),
            bucket_key_enabled: true,
            blocked_encryption_types: vec![BlockedEncryptionType::SseC],
        };
        let xml = kms.to_xml();
        assert!(xml.contains(
            "<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>alias/x</KMSMasterKeyID>\
             </ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>\
             <BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType>\
             </BlockedEncryptionTypes></Rule>"
        ));
        // What we write, we read back.
        assert_eq!(parse_sse_configuration(xml.as_bytes()).unwrap(), kms);
    }
}
