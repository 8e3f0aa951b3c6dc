//! Persisted records: what the store keeps beside the ciphertext.
//!
//! Every record carries a `format` marker so that a later version can migrate the previous one
//! on read (see `docs/STORAGE.md`). The records hold wrapped keys and public facts only; no
//! plaintext key material ever reaches this module.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Marker and version of the object meta record: version 2 carries a MAC over the whole record
/// and binds every part key to its part number (docs/FORMAT.md §6).
pub const META_FORMAT: &str = "sealgate-meta/2";
/// Version 1 records (written before whole-record authentication, and copies of such objects,
/// which share their blobs) stay readable and are reported as unauthenticated.
pub const META_FORMAT_V1: &str = "sealgate-meta/1";
/// Marker and version of the bucket record.
pub const BUCKET_FORMAT: &str = "sealgate-bucket/1";
/// Marker and version of the multipart upload record.
pub const UPLOAD_FORMAT: &str = "sealgate-upload/1";

/// How an object's object key (OK) is sealed. The OK itself is never stored in the clear.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode")]
pub enum Sealing {
    /// Stored without encryption (only for buckets configured for comparison).
    None,
    /// SSE-S3: sealed under a KEK derived from the gateway master key `key_version`.
    SseS3 { key_version: u32, sealed: SealedKey },
    /// SSE-KMS: sealed under a KEK derived from the plaintext KMS data key whose wrapped form is
    /// `kms_blob`, issued by `key_arn` for `context`.
    SseKms {
        key_arn: String,
        #[serde(with = "b64")]
        kms_blob: Vec<u8>,
        context: BTreeMap<String, String>,
        bucket_key: bool,
        sealed: SealedKey,
    },
    /// SSE-C: sealed under a KEK derived from the customer's key; only the key's MD5 (public)
    /// is kept: the sealed key itself proves a later request presents the same key, since it
    /// opens under no other.
    SseC { key_md5: String, sealed: SealedKey },
}

/// An object key sealed with AES-256-GCM under a KEK derived by HKDF-SHA256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKey {
    #[serde(with = "b64")]
    pub salt: Vec<u8>,
    #[serde(with = "b64")]
    pub nonce: Vec<u8>,
    /// Ciphertext of the 32-byte object key followed by the 16-byte tag.
    #[serde(with = "b64")]
    pub ciphertext: Vec<u8>,
}

/// A flexible checksum as S3 reports it: algorithm name (`CRC32`, `CRC32C`, `CRC64NVME`,
/// `SHA1`, `SHA256`), base64 value (with `-N` for composite), and type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: String,
    pub value: String,
    /// `FULL_OBJECT` or `COMPOSITE`.
    pub kind: String,
}

/// One encrypted part of an object (a single PUT is one part).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartLayout {
    pub part_number: u32,
    /// Plaintext size of this part.
    pub size: u64,
    /// Name of the ciphertext blob inside the object's generation.
    pub blob: String,
    /// Per-part salt: the segment key is HKDF(object key, salt), so every part upload gets a
    /// fresh key even when a part number is uploaded again.
    #[serde(with = "b64")]
    pub key_salt: Vec<u8>,
    /// The 7-byte STREAM nonce prefix of this part.
    #[serde(with = "b64")]
    pub nonce_prefix: Vec<u8>,
    /// The part's ETag (unquoted) as returned by UploadPart.
    pub etag: String,
    /// The part's checksum when the upload used one.
    pub checksum: Option<String>,
    /// The sealed part itself (exactly the bytes its blob would hold) when the object was small
    /// enough to keep in its record (docs/STORAGE.md "Inline objects"); `blob` is then empty
    /// and the generation has no data directory. Covered by `mac` (docs/FORMAT.md §6.1).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "b64_opt")]
    pub inline: Option<Vec<u8>>,
}

impl PartLayout {
    /// The part's checksum as `(algorithm, base64 value)`: the record keeps it as
    /// `ALGORITHM:value`, a form that must never reach a client.
    pub fn checksum_value(&self) -> Option<(&str, &str)> {
        self.checksum.as_deref()?.split_once(':')
    }

    /// Whether the part's sealed bytes are in the record rather than in a blob.
    pub fn is_inline(&self) -> bool {
        self.inline.is_some()
    }
}

/// The meta record of one object: `meta/<bucket>/<key>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub format: String,
    /// Plaintext size.
    pub size: u64,
    /// Unquoted ETag (`hex` or `hex-N`).
    pub etag: String,
    /// Milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
    /// Content-Type, Content-Encoding, Content-Disposition, Content-Language, Cache-Control,
    /// Expires as given at upload (lower-case names).
    pub content_headers: BTreeMap<String, String>,
    /// `x-amz-meta-*` pairs (names lower-case, without the prefix).
    pub user_meta: BTreeMap<String, String>,
    pub checksum: Option<Checksum>,
    /// Segment size of the envelope in bytes.
    pub segment_size: u32,
    /// Generation id: the folder of this version's data blobs.
    pub generation: String,
    pub parts: Vec<PartLayout>,
    pub sealing: Sealing,
    /// Object tags (PutObjectTagging, `x-amz-tagging`), by key. Stored in the clear like the
    /// rest of the record and, in version 2, covered by `mac` (docs/FORMAT.md §6.1); absent in
    /// records written before tagging, which read as "no tags".
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The object ACL; `None` means the bucket owner owns the object and alone has
    /// FULL_CONTROL (every record written before ACLs). Covered by `mac` like the tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Acl>,
    /// Version 2: base64 HMAC-SHA256 over the record (docs/FORMAT.md §6), keyed from the object
    /// key, so only a holder of the object's key can write a record its readers accept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The record-MAC key sealed under the SSE-S3 master ring (bound to bucket and key), so a
    /// tag change can re-authenticate the record without the customer's or the KMS's key. Not
    /// covered by `mac`: it opens no data, and a substituted one only makes the next re-signed
    /// record fail its check. Absent in records written before tagging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_key: Option<RecordKey>,
    /// The version id in a bucket with versioning (docs/STORAGE.md "Versions"); absent for the
    /// `null` version, which every record written before versioning is. Covered by `mac`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Object Lock state of this version (retention, legal hold); absent when it has none,
    /// as in every record written before Object Lock. Covered by `mac` (docs/FORMAT.md §6.1).
    #[serde(default, skip_serializing_if = "ObjectLock::is_empty")]
    pub lock: ObjectLock,
}

impl ObjectMeta {
    /// Whether this record is authenticated as a whole (version 2).
    pub fn is_authenticated(&self) -> bool {
        self.format == META_FORMAT
    }

    /// The generation whose blobs hold this version's data; `None` when every part is inline,
    /// so there is no data directory to copy, retire or sweep.
    pub fn blob_generation(&self) -> Option<&str> {
        (!self.parts.iter().all(PartLayout::is_inline)).then_some(self.generation.as_str())
    }
}

/// An Object Lock retention mode (S3 User Guide: "Retention modes").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockMode {
    /// Removable or shortenable by a caller allowed `s3:BypassGovernanceRetention` who asks for
    /// the bypass.
    #[serde(rename = "GOVERNANCE")]
    Governance,
    /// Never removed or shortened by anyone until it expires; only extended.
    #[serde(rename = "COMPLIANCE")]
    Compliance,
}

impl LockMode {
    /// The name S3 uses in headers and XML.
    pub fn name(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }

    pub fn from_name(name: &str) -> Option<LockMode> {
        match name {
            "GOVERNANCE" => Some(LockMode::Governance),
            "COMPLIANCE" => Some(LockMode::Compliance),
            _ => None,
        }
    }
}

/// A retention period of one version: protected until `retain_until_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub mode: LockMode,
    /// Milliseconds since the Unix epoch.
    pub retain_until_ms: i64,
}

/// The Object Lock state of one version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// `None`: never set (GetObjectLegalHold answers NoSuchObjectLockConfiguration); `Some(false)`
    /// once turned OFF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<bool>,
}

impl ObjectLock {
    pub fn is_empty(&self) -> bool {
        self.retention.is_none() && self.legal_hold.is_none()
    }

    /// Whether a retention (expired or not) or a legal hold is set on the version.
    pub fn holds(&self) -> bool {
        self.retention.is_some() || self.legal_hold == Some(true)
    }
}

/// A bucket's Object Lock configuration (S3 API Reference: ObjectLockConfiguration). Present
/// means Object Lock is enabled, which cannot be undone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLockConfig {
    /// Applied to new versions that name no retention of their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_retention: Option<DefaultRetention>,
}

/// A bucket's default retention: a mode and a period in days or years.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    pub mode: LockMode,
    pub period: RetentionPeriod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionPeriod {
    Days(u32),
    Years(u32),
}

/// Marker and version of a delete marker record.
pub const DELETE_MARKER_FORMAT: &str = "sealgate-delete-marker/1";

/// A delete marker: what DeleteObject leaves in a bucket with versioning. It has no data and no
/// key, so nothing in it can be authenticated with an object key; it only ever hides versions
/// (a forged one makes a key look deleted, which whoever can write the backend can do anyway).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMarker {
    pub format: String,
    /// `None` is the `null` version (a DeleteObject while versioning is suspended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
}

/// One version of a key: an object or a delete marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Version {
    /// Boxed: a meta record is large next to a marker.
    Object(Box<ObjectMeta>),
    Marker(DeleteMarker),
}

impl Version {
    /// The version id, `None` for the `null` version.
    pub fn version_id(&self) -> Option<&str> {
        match self {
            Version::Object(m) => m.version_id.as_deref(),
            Version::Marker(d) => d.version_id.as_deref(),
        }
    }

    pub fn last_modified_ms(&self) -> i64 {
        match self {
            Version::Object(m) => m.last_modified_ms,
            Version::Marker(d) => d.last_modified_ms,
        }
    }

    /// The data generation an object version references (markers have none).
    pub fn generation(&self) -> Option<&str> {
        match self {
            Version::Object(m) => Some(&m.generation),
            Version::Marker(_) => None,
        }
    }

    /// The generation whose blobs hold the version's data: none for markers and for objects
    /// kept wholly inline in their record ([`ObjectMeta::blob_generation`]).
    pub fn blob_generation(&self) -> Option<&str> {
        match self {
            Version::Object(m) => m.blob_generation(),
            Version::Marker(_) => None,
        }
    }
}

/// Default encryption of a bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketEncryption {
    /// `AES256` or `aws:kms`.
    pub algorithm: String,
    pub kms_key_id: Option<String>,
    pub bucket_key_enabled: bool,
    /// e.g. `["SSE-C"]`.
    pub blocked_types: Vec<String>,
}

/// The bucket record: `buckets/<bucket>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    pub format: String,
    pub name: String,
    pub created_ms: i64,
    /// The creator's ARN; its account owns the bucket (records without one belong to the
    /// root user's account).
    pub owner: String,
    pub region: String,
    /// Explicit default encryption; `None` means the SSE-S3 default.
    pub encryption: Option<BucketEncryption>,
    /// CORS rules (PutBucketCors), in the order given; absent in records written before CORS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Vec<CorsRule>>,
    /// The bucket policy (PutBucketPolicy) as the owner sent it; absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Bucket tags (PutBucketTagging); `None` until set, so GetBucketTagging can answer
    /// NoSuchTagSet. Absent in records written before bucket tagging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Block Public Access (PutPublicAccessBlock); `None` when none is set. Absent in records
    /// written before Block Public Access, which read as "no block" (how those buckets behaved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    /// Object Ownership (`BucketOwnerEnforced`, `BucketOwnerPreferred` or `ObjectWriter`);
    /// `None` when none is set (records written before Object Ownership: ACLs enabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ownership: Option<String>,
    /// Versioning (PutBucketVersioning): `Enabled` or `Suspended`; `None` for a bucket that never
    /// had it (and records written before versioning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<String>,
    /// The bucket ACL (CreateBucket's ACL headers, PutBucketAcl); `None` means the owner's
    /// FULL_CONTROL alone, so records written before ACLs need no migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Acl>,
    /// Lifecycle rules (PutBucketLifecycleConfiguration), in the order given; `None` until set,
    /// so GetBucketLifecycleConfiguration can answer NoSuchLifecycleConfiguration. Absent in
    /// records written before lifecycle rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Vec<LifecycleRule>>,
    /// Object Lock (CreateBucket with `x-amz-bucket-object-lock-enabled`,
    /// PutObjectLockConfiguration); `None` for a bucket without it (and older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLockConfig>,
}

/// One lifecycle rule, as PutBucketLifecycleConfiguration accepted it (S3 API Reference:
/// LifecycleRule). The shapes mirror the XML so GET answers what PUT was given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    /// Given or generated (AWS makes one up when the rule has none).
    pub id: String,
    /// `Status` is `Enabled`.
    pub enabled: bool,
    pub filter: LifecycleFilter,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<LifecycleExpiration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_expiration: Option<NoncurrentExpiration>,
    /// `AbortIncompleteMultipartUpload/DaysAfterInitiation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_upload_days: Option<u32>,
}

/// Which objects a rule applies to: the one element of `<Filter>`, or the legacy rule-level
/// `<Prefix>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LifecycleFilter {
    /// `<Rule><Prefix>` (the form before filters existed).
    LegacyPrefix(String),
    /// `<Filter><Prefix>`; an empty `<Filter/>` is the empty prefix.
    Prefix(String),
    Tag(String, String),
    SizeGreaterThan(u64),
    SizeLessThan(u64),
    And {
        prefix: Option<String>,
        tags: Vec<(String, String)>,
        size_greater_than: Option<u64>,
        size_less_than: Option<u64>,
    },
}

/// `<Expiration>`: one of its three forms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LifecycleExpiration {
    Days(u32),
    /// Midnight UTC, seconds since the epoch.
    Date(i64),
    ExpiredObjectDeleteMarker(bool),
}

/// `<NoncurrentVersionExpiration>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentExpiration {
    pub noncurrent_days: u32,
    /// How many of the newest noncurrent versions to keep whatever their age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<u32>,
}

/// An access control list (S3 API Reference: AccessControlPolicy). Kept only when it says more
/// than "the bucket owner has FULL_CONTROL", which an absent ACL means.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    /// The account owning the resource (an object written by another account under
    /// ObjectWriter belongs to that account).
    pub owner: String,
    pub grants: Vec<Grant>,
}

/// One grant of an ACL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

/// Who a grant is for. Grants by e-mail address are refused when given (no account has one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value")]
pub enum Grantee {
    /// An account, by its canonical id (64 hex digits).
    CanonicalUser(String),
    /// A predefined group, by its URI (`http://acs.amazonaws.com/groups/global/AllUsers`, …).
    Group(String),
}

/// The group of everyone, signed or not.
pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
/// The group of every signed request, from any account.
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
/// S3's server access logging (no such service here: grants to it allow nobody).
pub const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// What a grant allows (S3 User Guide: "Access control list (ACL) overview").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "FULL_CONTROL")]
    FullControl,
    #[serde(rename = "WRITE")]
    Write,
    #[serde(rename = "WRITE_ACP")]
    WriteAcp,
    #[serde(rename = "READ")]
    Read,
    #[serde(rename = "READ_ACP")]
    ReadAcp,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::FullControl,
        Permission::Write,
        Permission::WriteAcp,
        Permission::Read,
        Permission::ReadAcp,
    ];

    /// The name S3 uses (`FULL_CONTROL`, `READ_ACP`, …).
    pub fn name(self) -> &'static str {
        match self {
            Permission::FullControl => "FULL_CONTROL",
            Permission::Write => "WRITE",
            Permission::WriteAcp => "WRITE_ACP",
            Permission::Read => "READ",
            Permission::ReadAcp => "READ_ACP",
        }
    }

    pub fn from_name(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// The four Block Public Access flags of a bucket (S3 API Reference:
/// PublicAccessBlockConfiguration).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// All four flags on: what AWS gives a new bucket since April 2023.
    pub const ALL: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
}

/// One CORS rule of a bucket, as PutBucketCors accepted it (S3 API Reference: CORSRule).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    pub id: Option<String>,
    /// `GET`, `PUT`, `POST`, `DELETE` or `HEAD`.
    pub allowed_methods: Vec<String>,
    /// Origins, each with at most one `*`.
    pub allowed_origins: Vec<String>,
    /// Header names (compared case-insensitively), each with at most one `*`.
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i64>,
}

/// A multipart upload in progress: `uploads/<bucket>/<upload-id>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub format: String,
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated_ms: i64,
    pub content_headers: BTreeMap<String, String>,
    pub user_meta: BTreeMap<String, String>,
    /// Checksum algorithm and type named at CreateMultipartUpload.
    pub checksum_algorithm: Option<String>,
    pub checksum_type: Option<String>,
    /// The generation the parts are written to; it becomes the object's generation.
    pub generation: String,
    pub sealing: Sealing,
    /// The completed object's record-MAC key, sealed under the SSE-S3 master ring, so that
    /// CompleteMultipartUpload can authenticate the record without the customer's or the KMS's
    /// key (it opens no data). Uploads created before record authentication have none; their
    /// objects are version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_key: Option<RecordKey>,
    /// Tags given at CreateMultipartUpload (`x-amz-tagging`), applied at Complete.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The ACL given at CreateMultipartUpload, applied at Complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Acl>,
    /// The Object Lock state given at CreateMultipartUpload (or the bucket's default then),
    /// applied at Complete.
    #[serde(default, skip_serializing_if = "ObjectLock::is_empty")]
    pub lock: ObjectLock,
}

/// What a finished multipart upload answered: `uploads/<bucket>/<upload-id>/completed`, kept
/// for [`COMPLETION_WINDOW_MS`] so a retried CompleteMultipartUpload (the client lost the first
/// response) gets the same answer from any gateway sharing the backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionRecord {
    pub format: String,
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub completed_ms: i64,
    /// The object's generation: once the key holds another one, the record is void.
    pub generation: String,
    pub etag: String,
    pub checksum: Option<Checksum>,
    /// The part list the Complete named, as `(part number, unquoted ETag)`.
    pub parts: Vec<(u32, String)>,
    pub sealing: Sealing,
}

pub const COMPLETION_FORMAT: &str = "sealgate-completion/1";
/// How long a completion record answers retries (15 minutes: SDK retries with backoff end
/// within seconds to minutes), after which the sweep reclaims it.
pub const COMPLETION_WINDOW_MS: i64 = 15 * 60 * 1000;

/// A record-MAC key sealed under version `key_version` of the SSE-S3 master ring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordKey {
    pub key_version: u32,
    pub sealed: SealedKey,
}

/// base64 (standard alphabet) for byte fields, so records stay readable JSON.
/// [`b64`] for an optional field (absent rather than `null` when `None`).
mod b64_opt {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&STANDARD.encode(v)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(s) => STANDARD
                .decode(s)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}
