//! S3 request and response bodies.
//!
//! Responses are written by a small string builder rather than quick-xml's serde serializer,
//! because object keys must round-trip byte for byte: a key holding `\r` is only preserved if it
//! is written as the character reference `&#13;` (XML parsers turn a raw `\r` into `\n`), and
//! quick-xml's escaping leaves `\r` raw. [`escape_text`] is the one escaping rule for every
//! response body, including error documents. Roots carry the S3 namespace [`S3_NS`];
//! timestamps are ISO 8601 with milliseconds (`2026-11-28T13:31:39.000Z`); ETags are given
//! unquoted by handlers (as the store keeps them) and written quoted (`&quot;…&quot;`).
//!
//! Requests are read with quick-xml's serde deserializer, which keeps whitespace and resolves
//! character references inside keys. The root element name is checked separately (serde
//! ignores it), the namespace is optional (botocore sends it, some clients don't), unknown
//! elements are ignored, and anything malformed is
//! [`S3Error::MalformedXML`](super::error::S3Error::MalformedXML), as S3 answers.
//!
//! List handlers apply `encoding-type=url` themselves with [`url_encode_key`]; the list result
//! types here write the strings they are given and only echo `<EncodingType>url</EncodingType>`.

mod access;
mod acl;
mod cors;
mod lifecycle;
mod object_lock;
mod read;
mod tagging;
/// The escaping and element-writing primitive, also used by `s3::error`.
pub(crate) mod text;
mod versioning;
mod write;

pub(crate) use access::{
    OBJECT_OWNERSHIPS, ownership_controls_xml, parse_ownership_controls, parse_public_access_block,
    public_access_block_xml,
};
pub(crate) use acl::{access_control_policy_xml, parse_access_control_policy};
#[cfg(feature = "fuzzing")]
pub(crate) use cors::MAX_CORS_RULES;
pub(crate) use cors::{cors_configuration_xml, parse_cors_configuration};
pub(crate) use lifecycle::{lifecycle_configuration_xml, parse_lifecycle_configuration};
pub(crate) use object_lock::{
    legal_hold_xml, object_lock_configuration_xml, parse_legal_hold_body,
    parse_object_lock_configuration, parse_retention, retention_xml,
};
pub(crate) use read::{
    CompletedPart, parse_complete_multipart_upload, parse_create_bucket_configuration,
    parse_delete_objects, parse_sse_configuration,
};
pub(crate) use tagging::{
    AttributePart, AttributeParts, ObjectAttributes, parse_tagging, tagging_xml,
};
pub(crate) use versioning::{ListVersionsResult, VersionEntry, parse_versioning, versioning_xml};
pub(crate) use write::format_timestamp_ms;
pub(crate) use write::{
    BucketEntry, CompleteMultipartUploadResult, CopyResult, DeleteErrorEntry, DeleteResult,
    DeletedEntry, InitiateMultipartUploadResult, ListAllMyBucketsResult,
    ListMultipartUploadsResult, ListObjectsV1Result, ListObjectsV2Result, ListPartsResult,
    ObjectEntry, Owner, PartEntry, UploadEntry, XmlChecksum, location_constraint_xml,
    url_encode_key,
};

/// The S3 XML namespace put on every response root.
pub(crate) const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The most objects one DeleteObjects request may name.
pub(crate) const MAX_DELETE_OBJECTS: usize = 1000;

/// Checksum algorithms S3 names in `Checksum<ALG>` elements.
pub(crate) const CHECKSUM_ALGORITHMS: [&str; 5] =
    ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"];

/// `"etag"` with exactly one pair of quotes, whether or not the caller already quoted it.
pub(super) fn quoted_etag(etag: &str) -> String {
    format!("\"{}\"", unquote_etag(etag))
}

/// The ETag without surrounding quotes (clients send both forms in CompleteMultipartUpload).
pub(crate) fn unquote_etag(etag: &str) -> &str {
    let t = etag.trim();
    t.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(t)
}

/// Default encryption algorithm of a bucket (`SSEAlgorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SseAlgorithm {
    /// `AES256` (SSE-S3).
    Aes256,
    /// `aws:kms` (SSE-KMS).
    AwsKms,
    /// `aws:kms:dsse` (DSSE-KMS); parsed so the handler can answer it deliberately.
    AwsKmsDsse,
}

impl SseAlgorithm {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SseAlgorithm::Aes256 => "AES256",
            SseAlgorithm::AwsKms => "aws:kms",
            SseAlgorithm::AwsKmsDsse => "aws:kms:dsse",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "AES256" => Some(SseAlgorithm::Aes256),
            "aws:kms" => Some(SseAlgorithm::AwsKms),
            "aws:kms:dsse" => Some(SseAlgorithm::AwsKmsDsse),
            _ => None,
        }
    }
}

/// `<EncryptionType>` inside `<BlockedEncryptionTypes>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum BlockedEncryptionType {
    /// `NONE`.
    None,
    /// `SSE-C`.
    SseC,
}

impl BlockedEncryptionType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BlockedEncryptionType::None => "NONE",
            BlockedEncryptionType::SseC => "SSE-C",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "NONE" => Some(BlockedEncryptionType::None),
            "SSE-C" => Some(BlockedEncryptionType::SseC),
            _ => None,
        }
    }
}

/// A bucket's default encryption: the single `<Rule>` of a
/// `<ServerSideEncryptionConfiguration>`, used for both PutBucketEncryption (parsed by
/// [`parse_sse_configuration`]) and GetBucketEncryption (written by `to_xml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseConfiguration {
    pub(crate) algorithm: SseAlgorithm,
    /// Only with `aws:kms` / `aws:kms:dsse`; echoed as given (id, ARN or alias).
    pub(crate) kms_master_key_id: Option<String>,
    pub(crate) bucket_key_enabled: bool,
    /// Sorted, without duplicates; `<BlockedEncryptionTypes>` is written only when non-empty.
    pub(crate) blocked_encryption_types: Vec<BlockedEncryptionType>,
}

impl SseConfiguration {
    /// The SSE-S3 default every bucket has without configuration.
    pub(crate) fn sse_s3_default() -> Self {
        SseConfiguration {
            algorithm: SseAlgorithm::Aes256,
            kms_master_key_id: None,
            bucket_key_enabled: false,
            blocked_encryption_types: Vec::new(),
        }
    }
}
