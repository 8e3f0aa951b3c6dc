//! S3 request routing: method + path + query (+ Host and `x-amz-copy-source`) → one
//! [`Endpoint`] value, with the operation's query parameters parsed and validated.
//!
//! Decisions:
//! - **Addressing.** Virtual-hosted style when the Host (port ignored) is `<bucket>.<suffix>`
//!   for a configured suffix (longest suffix wins); otherwise path style (`/bucket/key`).
//! - **Keys keep every byte.** The key is the percent-decoding of the raw path after the bucket
//!   (path style: after the first `/` following the bucket; virtual host: after the leading
//!   `/`). Nothing is normalised: `a//b`, `..`, `./`, trailing `/`, empty segments and `%2F`
//!   all survive, since S3 keys are opaque strings and SigV4 for S3 signs the path as sent.
//!   `+` is a literal plus (SDKs send `%2B` / `%20`). A path or query that is not valid
//!   percent-encoded UTF-8 is `InvalidURI`. An empty key (`/bucket/`) addresses the bucket.
//! - **Subresources.** A request naming a known S3 subresource (`?acl`, `?versioning`, …) is
//!   routed to that operation even when the gateway does not implement it
//!   ([`Endpoint::Unsupported`], answered 501 NotImplemented naming the operation) so it can
//!   never fall through to a data operation: `DELETE /bucket?cors` must not delete the bucket,
//!   `PUT /bucket/key?tagging` must not overwrite the object. A known subresource with a
//!   method S3 does not define for it is 405 MethodNotAllowed, as is an unknown method. Query
//!   parameters that are not subresources (`x-id`, presign `X-Amz-*`, unknown ones) are ignored,
//!   as S3 does.
//! - **Validation here, semantics in handlers.** Integers (`max-keys`, `partNumber`, …) are
//!   parsed with InvalidArgument on garbage; part numbers must be 1..=10000. Defaults, clamping
//!   (e.g. `max-keys` to 1000) and existence checks are the handlers' business.

use http::{HeaderMap, Method, Uri, header};

use super::error::S3Error;

mod addressing;
mod query;
#[cfg(test)]
mod readme;
mod unsupported;

use addressing::{bucket_from_host, split_path};
use query::{Query, percent_decode};
use unsupported::{unsupported_bucket_op, unsupported_object_op};

/// Longest key S3 accepts, in bytes of UTF-8.
pub(crate) const MAX_KEY_BYTES: usize = 1024;
/// Highest part number of a multipart upload.
pub(crate) const MAX_PART_NUMBER: u32 = 10_000;

/// `response-*` query parameters of GetObject/HeadObject: header values to put on the
/// response instead of the stored ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ResponseOverrides {
    pub(crate) content_type: Option<String>,
    pub(crate) content_language: Option<String>,
    pub(crate) expires: Option<String>,
    pub(crate) cache_control: Option<String>,
    pub(crate) content_disposition: Option<String>,
    pub(crate) content_encoding: Option<String>,
}

impl ResponseOverrides {
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.headers().next().is_none()
    }

    /// `(response header name, value)` for each override given.
    pub(crate) fn headers(&self) -> impl Iterator<Item = (http::HeaderName, &str)> {
        [
            (header::CONTENT_TYPE, &self.content_type),
            (header::CONTENT_LANGUAGE, &self.content_language),
            (header::EXPIRES, &self.expires),
            (header::CACHE_CONTROL, &self.cache_control),
            (header::CONTENT_DISPOSITION, &self.content_disposition),
            (header::CONTENT_ENCODING, &self.content_encoding),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.as_deref().map(|v| (name, v)))
    }

    fn from_query(q: &Query) -> Self {
        let get = |n: &str| q.get(n).map(str::to_owned);
        ResponseOverrides {
            content_type: get("response-content-type"),
            content_language: get("response-content-language"),
            expires: get("response-expires"),
            cache_control: get("response-cache-control"),
            content_disposition: get("response-content-disposition"),
            content_encoding: get("response-content-encoding"),
        }
    }
}

/// The source named by `x-amz-copy-source` (`[/]bucket/key[?versionId=v]`, percent-encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopySource {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) version_id: Option<String>,
}

/// One S3 operation with its target and query parameters.
///
/// Strings from the query are percent-decoded and otherwise as sent (an empty `delimiter=` is
/// `Some("")`). `encoding_type_url` is true for `encoding-type=url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    ListBuckets {
        prefix: Option<String>,
        continuation_token: Option<String>,
        max_buckets: Option<u32>,
    },
    CreateBucket {
        bucket: String,
    },
    HeadBucket {
        bucket: String,
    },
    DeleteBucket {
        bucket: String,
    },
    GetBucketLocation {
        bucket: String,
    },
    GetBucketEncryption {
        bucket: String,
    },
    PutBucketEncryption {
        bucket: String,
    },
    DeleteBucketEncryption {
        bucket: String,
    },
    GetBucketCors {
        bucket: String,
    },
    PutBucketCors {
        bucket: String,
    },
    DeleteBucketCors {
        bucket: String,
    },
    GetBucketPolicy {
        bucket: String,
    },
    PutBucketPolicy {
        bucket: String,
    },
    DeleteBucketPolicy {
        bucket: String,
    },
    GetBucketPolicyStatus {
        bucket: String,
    },
    GetPublicAccessBlock {
        bucket: String,
    },
    PutPublicAccessBlock {
        bucket: String,
    },
    DeletePublicAccessBlock {
        bucket: String,
    },
    GetBucketOwnershipControls {
        bucket: String,
    },
    PutBucketOwnershipControls {
        bucket: String,
    },
    DeleteBucketOwnershipControls {
        bucket: String,
    },
    GetBucketVersioning {
        bucket: String,
    },
    PutBucketVersioning {
        bucket: String,
    },
    ListObjectVersions {
        bucket: String,
        prefix: Option<String>,
        delimiter: Option<String>,
        key_marker: Option<String>,
        version_id_marker: Option<String>,
        max_keys: Option<u32>,
        encoding_type_url: bool,
    },
    GetObjectLockConfiguration {
        bucket: String,
    },
    PutObjectLockConfiguration {
        bucket: String,
    },
    GetBucketTagging {
        bucket: String,
    },
    PutBucketTagging {
        bucket: String,
    },
    DeleteBucketTagging {
        bucket: String,
    },
    GetBucketLifecycleConfiguration {
        bucket: String,
    },
    PutBucketLifecycleConfiguration {
        bucket: String,
    },
    DeleteBucketLifecycle {
        bucket: String,
    },
    /// `OPTIONS` on a bucket or object: a CORS preflight, answered without authentication.
    Preflight {
        bucket: String,
        key: Option<String>,
    },
    ListObjects {
        bucket: String,
        prefix: Option<String>,
        delimiter: Option<String>,
        marker: Option<String>,
        max_keys: Option<u32>,
        encoding_type_url: bool,
    },
    ListObjectsV2 {
        bucket: String,
        prefix: Option<String>,
        delimiter: Option<String>,
        max_keys: Option<u32>,
        continuation_token: Option<String>,
        start_after: Option<String>,
        encoding_type_url: bool,
        fetch_owner: bool,
    },
    ListMultipartUploads {
        bucket: String,
        prefix: Option<String>,
        delimiter: Option<String>,
        key_marker: Option<String>,
        upload_id_marker: Option<String>,
        max_uploads: Option<u32>,
        encoding_type_url: bool,
    },
    DeleteObjects {
        bucket: String,
    },
    PutObject {
        bucket: String,
        key: String,
    },
    CopyObject {
        bucket: String,
        key: String,
        source: CopySource,
    },
    GetObject {
        bucket: String,
        key: String,
        part_number: Option<u32>,
        version_id: Option<String>,
        overrides: ResponseOverrides,
    },
    HeadObject {
        bucket: String,
        key: String,
        part_number: Option<u32>,
        version_id: Option<String>,
        overrides: ResponseOverrides,
    },
    DeleteObject {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
    GetObjectTagging {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
    GetBucketAcl {
        bucket: String,
    },
    PutBucketAcl {
        bucket: String,
    },
    GetObjectAcl {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
    PutObjectAcl {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
    PutObjectTagging {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
    DeleteObjectTagging {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
    GetObjectRetention {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
    PutObjectRetention {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
    GetObjectLegalHold {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
    PutObjectLegalHold {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
    GetObjectAttributes {
        bucket: String,
        key: String,
        version_id: Option<String>,
        max_parts: Option<u32>,
        part_number_marker: Option<u32>,
    },
    CreateMultipartUpload {
        bucket: String,
        key: String,
    },
    UploadPart {
        bucket: String,
        key: String,
        part_number: u32,
        upload_id: String,
    },
    UploadPartCopy {
        bucket: String,
        key: String,
        part_number: u32,
        upload_id: String,
        source: CopySource,
    },
    CompleteMultipartUpload {
        bucket: String,
        key: String,
        upload_id: String,
    },
    AbortMultipartUpload {
        bucket: String,
        key: String,
        upload_id: String,
    },
    ListParts {
        bucket: String,
        key: String,
        upload_id: String,
        max_parts: Option<u32>,
        part_number_marker: Option<u32>,
    },
    /// A browser form upload (`POST /bucket`, `multipart/form-data`); the key and the
    /// credentials are in the form.
    PostObject {
        bucket: String,
    },
    /// A real S3 operation the gateway does not implement; answer
    /// [`Endpoint::not_implemented`] (501).
    Unsupported {
        bucket: Option<String>,
        key: Option<String>,
        /// The S3 operation name, e.g. `GetBucketAcl`.
        operation: &'static str,
    },
}

impl Endpoint {
    /// The S3 operation name (for logs, metrics and audit).
    pub(crate) fn name(&self) -> &'static str {
        use Endpoint::*;
        match self {
            ListBuckets { .. } => "ListBuckets",
            CreateBucket { .. } => "CreateBucket",
            HeadBucket { .. } => "HeadBucket",
            DeleteBucket { .. } => "DeleteBucket",
            GetBucketLocation { .. } => "GetBucketLocation",
            GetBucketEncryption { .. } => "GetBucketEncryption",
            PutBucketEncryption { .. } => "PutBucketEncryption",
            DeleteBucketEncryption { .. } => "DeleteBucketEncryption",
            GetBucketCors { .. } => "GetBucketCors",
            PutBucketCors { .. } => "PutBucketCors",
            DeleteBucketCors { .. } => "DeleteBucketCors",
            GetBucketPolicy { .. } => "GetBucketPolicy",
            PutBucketPolicy { .. } => "PutBucketPolicy",
            DeleteBucketPolicy { .. } => "DeleteBucketPolicy",
            GetBucketPolicyStatus { .. } => "GetBucketPolicyStatus",
            GetPublicAccessBlock { .. } => "GetPublicAccessBlock",
            PutPublicAccessBlock { .. } => "PutPublicAccessBlock",
            DeletePublicAccessBlock { .. } => "DeletePublicAccessBlock",
            GetBucketOwnershipControls { .. } => "GetBucketOwnershipControls",
            PutBucketOwnershipControls { .. } => "PutBucketOwnershipControls",
            DeleteBucketOwnershipControls { .. } => "DeleteBucketOwnershipControls",
            GetBucketVersioning { .. } => "GetBucketVersioning",
            PutBucketVersioning { .. } => "PutBucketVersioning",
            ListObjectVersions { .. } => "ListObjectVersions",
            GetObjectLockConfiguration { .. } => "GetObjectLockConfiguration",
            PutObjectLockConfiguration { .. } => "PutObjectLockConfiguration",
            GetObjectRetention { .. } => "GetObjectRetention",
            PutObjectRetention { .. } => "PutObjectRetention",
            GetObjectLegalHold { .. } => "GetObjectLegalHold",
            PutObjectLegalHold { .. } => "PutObjectLegalHold",
            GetBucketTagging { .. } => "GetBucketTagging",
            PutBucketTagging { .. } => "PutBucketTagging",
            DeleteBucketTagging { .. } => "DeleteBucketTagging",
            GetBucketLifecycleConfiguration { .. } => "GetBucketLifecycleConfiguration",
            PutBucketLifecycleConfiguration { .. } => "PutBucketLifecycleConfiguration",
            DeleteBucketLifecycle { .. } => "DeleteBucketLifecycle",
            GetObjectTagging { .. } => "GetObjectTagging",
            GetBucketAcl { .. } => "GetBucketAcl",
            PutBucketAcl { .. } => "PutBucketAcl",
            GetObjectAcl { .. } => "GetObjectAcl",
            PutObjectAcl { .. } => "PutObjectAcl",
            PutObjectTagging { .. } => "PutObjectTagging",
            DeleteObjectTagging { .. } => "DeleteObjectTagging",
            GetObjectAttributes { .. } => "GetObjectAttributes",
            Preflight { .. } => "PreflightRequest",
            ListObjects { .. } => "ListObjects",
            ListObjectsV2 { .. } => "ListObjectsV2",
            ListMultipartUploads { .. } => "ListMultipartUploads",
            DeleteObjects { .. } => "DeleteObjects",
            PutObject { .. } => "PutObject",
            PostObject { .. } => "PostObject",
            CopyObject { .. } => "CopyObject",
            GetObject { .. } => "GetObject",
            HeadObject { .. } => "HeadObject",
            DeleteObject { .. } => "DeleteObject",
            CreateMultipartUpload { .. } => "CreateMultipartUpload",
            UploadPart { .. } => "UploadPart",
            UploadPartCopy { .. } => "UploadPartCopy",
            CompleteMultipartUpload { .. } => "CompleteMultipartUpload",
            AbortMultipartUpload { .. } => "AbortMultipartUpload",
            ListParts { .. } => "ListParts",
            Unsupported { operation, .. } => operation,
        }
    }

    /// The bucket addressed, if any.
    pub(crate) fn bucket(&self) -> Option<&str> {
        use Endpoint::*;
        match self {
            ListBuckets { .. } => None,
            Unsupported { bucket, .. } => bucket.as_deref(),
            CreateBucket { bucket }
            | HeadBucket { bucket }
            | DeleteBucket { bucket }
            | GetBucketLocation { bucket }
            | GetBucketEncryption { bucket }
            | PutBucketEncryption { bucket }
            | DeleteBucketEncryption { bucket }
            | GetBucketCors { bucket }
            | PutBucketCors { bucket }
            | DeleteBucketCors { bucket }
            | GetBucketPolicy { bucket }
            | PutBucketPolicy { bucket }
            | DeleteBucketPolicy { bucket }
            | GetBucketPolicyStatus { bucket }
            | GetPublicAccessBlock { bucket }
            | PutPublicAccessBlock { bucket }
            | DeletePublicAccessBlock { bucket }
            | GetBucketOwnershipControls { bucket }
            | PutBucketOwnershipControls { bucket }
            | DeleteBucketOwnershipControls { bucket }
            | GetBucketVersioning { bucket }
            | PutBucketVersioning { bucket }
            | ListObjectVersions { bucket, .. }
            | GetObjectLockConfiguration { bucket }
            | PutObjectLockConfiguration { bucket }
            | GetObjectRetention { bucket, .. }
            | PutObjectRetention { bucket, .. }
            | GetObjectLegalHold { bucket, .. }
            | PutObjectLegalHold { bucket, .. }
            | GetBucketTagging { bucket }
            | PutBucketTagging { bucket }
            | DeleteBucketTagging { bucket }
            | GetBucketLifecycleConfiguration { bucket }
            | PutBucketLifecycleConfiguration { bucket }
            | DeleteBucketLifecycle { bucket }
            | GetObjectTagging { bucket, .. }
            | GetBucketAcl { bucket }
            | PutBucketAcl { bucket }
            | GetObjectAcl { bucket, .. }
            | PutObjectAcl { bucket, .. }
            | PutObjectTagging { bucket, .. }
            | DeleteObjectTagging { bucket, .. }
            | GetObjectAttributes { bucket, .. }
            | Preflight { bucket, .. }
            | ListObjects { bucket, .. }
            | ListObjectsV2 { bucket, .. }
            | ListMultipartUploads { bucket, .. }
            | DeleteObjects { bucket }
            | PutObject { bucket, .. }
            | PostObject { bucket }
            | CopyObject { bucket, .. }
            | GetObject { bucket, .. }
            | HeadObject { bucket, .. }
            | DeleteObject { bucket, .. }
            | CreateMultipartUpload { bucket, .. }
            | UploadPart { bucket, .. }
            | UploadPartCopy { bucket, .. }
            | CompleteMultipartUpload { bucket, .. }
            | AbortMultipartUpload { bucket, .. }
            | ListParts { bucket, .. } => Some(bucket),
        }
    }

    #[cfg(test)]
    /// The object key addressed, if any.
    pub(crate) fn key(&self) -> Option<&str> {
        use Endpoint::*;
        match self {
            Unsupported { key, .. } | Preflight { key, .. } => key.as_deref(),
            PutObject { key, .. }
            | CopyObject { key, .. }
            | GetObject { key, .. }
            | HeadObject { key, .. }
            | DeleteObject { key, .. }
            | GetObjectTagging { key, .. }
            | GetObjectAcl { key, .. }
            | PutObjectAcl { key, .. }
            | PutObjectTagging { key, .. }
            | DeleteObjectTagging { key, .. }
            | GetObjectRetention { key, .. }
            | PutObjectRetention { key, .. }
            | GetObjectLegalHold { key, .. }
            | PutObjectLegalHold { key, .. }
            | GetObjectAttributes { key, .. }
            | CreateMultipartUpload { key, .. }
            | UploadPart { key, .. }
            | UploadPartCopy { key, .. }
            | CompleteMultipartUpload { key, .. }
            | AbortMultipartUpload { key, .. }
            | ListParts { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The 501 answer for [`Endpoint::Unsupported`] (and a generic one for anything else).
    pub(crate) fn not_implemented(&self) -> S3Error {
        S3Error::NotImplemented(format!(
            "{} is not implemented by this gateway",
            self.name()
        ))
    }
}

/// Routes one request. `virtual_host_suffixes` are the DNS names under which buckets are
/// addressed as `<bucket>.<suffix>` (e.g. `s3.localhost`); ports are ignored on both sides.
pub(crate) fn parse(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    virtual_host_suffixes: &[String],
) -> Result<Endpoint, S3Error> {
    let host_bucket = bucket_from_host(uri, headers, virtual_host_suffixes);
    let (bucket, key) = split_path(uri.path(), host_bucket)?;
    let query = Query::parse(uri.query().unwrap_or(""))?;

    if method == Method::OPTIONS {
        // A CORS preflight names a bucket; the service itself has no CORS configuration.
        return Ok(match bucket {
            Some(bucket) => Endpoint::Preflight { bucket, key },
            None => Endpoint::Unsupported {
                bucket,
                key,
                operation: "PreflightRequest",
            },
        });
    }
    match (bucket, key) {
        (None, _) => route_service(method, &query),
        (Some(bucket), None) => route_bucket(method, bucket, &query),
        (Some(bucket), Some(key)) => route_object(method, bucket, key, &query, headers),
    }
}

/// The bucket a virtual-host `Host` names, if any (SigV2 signs it into the resource).
pub(crate) fn host_bucket(
    uri: &Uri,
    headers: &HeaderMap,
    virtual_host_suffixes: &[String],
) -> Option<String> {
    bucket_from_host(uri, headers, virtual_host_suffixes)
}

/// S3's 32-bit signed limit for `max-*` and marker parameters.
const I32_MAX: u32 = i32::MAX as u32;

// ---- subresources ----

/// Every S3 subresource keyword the router knows. A request carrying one of these is routed
/// by it; if the method has no operation for it, the answer is MethodNotAllowed.
pub(crate) const SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "delete",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "metadataTable",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "session",
    "tagging",
    "torrent",
    "uploads",
    "versioning",
    "versions",
    "website",
];

fn has_subresource(q: &Query) -> bool {
    SUBRESOURCES.iter().any(|s| q.has(s))
}

fn method_not_allowed(method: &Method, resource_type: &'static str) -> S3Error {
    S3Error::MethodNotAllowed {
        method: method.as_str().to_owned(),
        resource_type,
    }
}

// ---- routing per level ----

fn route_service(method: &Method, q: &Query) -> Result<Endpoint, S3Error> {
    if *method != Method::GET {
        return Err(method_not_allowed(method, "SERVICE"));
    }
    Ok(Endpoint::ListBuckets {
        prefix: q.string("prefix"),
        continuation_token: q.string("continuation-token"),
        max_buckets: q.int("max-buckets", 1, 10_000)?,
    })
}

fn route_bucket(method: &Method, bucket: String, q: &Query) -> Result<Endpoint, S3Error> {
    if let Some(operation) = unsupported_bucket_op(method, q) {
        return Ok(Endpoint::Unsupported {
            bucket: Some(bucket),
            key: None,
            operation,
        });
    }
    let ep = match *method {
        Method::GET if q.has("location") => Endpoint::GetBucketLocation { bucket },
        Method::GET if q.has("encryption") => Endpoint::GetBucketEncryption { bucket },
        Method::GET if q.has("cors") => Endpoint::GetBucketCors { bucket },
        Method::PUT if q.has("cors") => Endpoint::PutBucketCors { bucket },
        Method::DELETE if q.has("cors") => Endpoint::DeleteBucketCors { bucket },
        Method::GET if q.has("policyStatus") => Endpoint::GetBucketPolicyStatus { bucket },
        Method::GET if q.has("policy") => Endpoint::GetBucketPolicy { bucket },
        Method::PUT if q.has("policy") => Endpoint::PutBucketPolicy { bucket },
        Method::DELETE if q.has("policy") => Endpoint::DeleteBucketPolicy { bucket },
        Method::GET if q.has("publicAccessBlock") => Endpoint::GetPublicAccessBlock { bucket },
        Method::PUT if q.has("publicAccessBlock") => Endpoint::PutPublicAccessBlock { bucket },
        Method::DELETE if q.has("publicAccessBlock") => {
            Endpoint::DeletePublicAccessBlock { bucket }
        }
        Method::GET if q.has("ownershipControls") => {
            Endpoint::GetBucketOwnershipControls { bucket }
        }
        Method::PUT if q.has("ownershipControls") => {
            Endpoint::PutBucketOwnershipControls { bucket }
        }
        Method::DELETE if q.has("ownershipControls") => {
            Endpoint::DeleteBucketOwnershipControls { bucket }
        }
        Method::GET if q.has("versioning") => Endpoint::GetBucketVersioning { bucket },
        Method::PUT if q.has("versioning") => Endpoint::PutBucketVersioning { bucket },
        Method::GET if q.has("versions") => Endpoint::ListObjectVersions {
            bucket,
            prefix: q.string("prefix"),
            delimiter: q.string("delimiter"),
            key_marker: q.string("key-marker"),
            version_id_marker: q.string("version-id-marker"),
            max_keys: q.int("max-keys", 0, I32_MAX)?,
            encoding_type_url: q.encoding_type_url()?,
        },
        Method::GET if q.has("object-lock") => Endpoint::GetObjectLockConfiguration { bucket },
        Method::PUT if q.has("object-lock") => Endpoint::PutObjectLockConfiguration { bucket },
        Method::GET if q.has("tagging") => Endpoint::GetBucketTagging { bucket },
        Method::GET if q.has("acl") => Endpoint::GetBucketAcl { bucket },
        Method::PUT if q.has("acl") => Endpoint::PutBucketAcl { bucket },
        Method::PUT if q.has("tagging") => Endpoint::PutBucketTagging { bucket },
        Method::DELETE if q.has("tagging") => Endpoint::DeleteBucketTagging { bucket },
        Method::GET if q.has("lifecycle") => Endpoint::GetBucketLifecycleConfiguration { bucket },
        Method::PUT if q.has("lifecycle") => Endpoint::PutBucketLifecycleConfiguration { bucket },
        Method::DELETE if q.has("lifecycle") => Endpoint::DeleteBucketLifecycle { bucket },
        Method::GET if q.has("uploads") => Endpoint::ListMultipartUploads {
            bucket,
            prefix: q.string("prefix"),
            delimiter: q.string("delimiter"),
            key_marker: q.string("key-marker"),
            upload_id_marker: q.string("upload-id-marker"),
            max_uploads: q.int("max-uploads", 0, I32_MAX)?,
            encoding_type_url: q.encoding_type_url()?,
        },
        Method::PUT if q.has("encryption") => Endpoint::PutBucketEncryption { bucket },
        Method::DELETE if q.has("encryption") => Endpoint::DeleteBucketEncryption { bucket },
        Method::POST if q.has("delete") => Endpoint::DeleteObjects { bucket },
        Method::POST if !has_subresource(q) => Endpoint::PostObject { bucket },
        _ if has_subresource(q) => return Err(method_not_allowed(method, "BUCKET")),
        Method::GET => list_objects(bucket, q)?,
        Method::HEAD => Endpoint::HeadBucket { bucket },
        Method::PUT => Endpoint::CreateBucket { bucket },
        Method::DELETE => Endpoint::DeleteBucket { bucket },
        _ => return Err(method_not_allowed(method, "BUCKET")),
    };
    Ok(ep)
}

fn list_objects(bucket: String, q: &Query) -> Result<Endpoint, S3Error> {
    let prefix = q.string("prefix");
    let delimiter = q.string("delimiter");
    let max_keys = q.int("max-keys", 0, I32_MAX)?;
    let encoding_type_url = q.encoding_type_url()?;
    match q.get("list-type") {
        Some("2") => Ok(Endpoint::ListObjectsV2 {
            bucket,
            prefix,
            delimiter,
            max_keys,
            continuation_token: q.string("continuation-token"),
            start_after: q.string("start-after"),
            encoding_type_url,
            fetch_owner: q.bool("fetch-owner")?,
        }),
        None | Some("1") => Ok(Endpoint::ListObjects {
            bucket,
            prefix,
            delimiter,
            marker: q.string("marker"),
            max_keys,
            encoding_type_url,
        }),
        Some(other) => Err(S3Error::invalid_argument_named(
            "Invalid List Type specified in Request",
            "list-type",
            other,
        )),
    }
}

fn route_object(
    method: &Method,
    bucket: String,
    key: String,
    q: &Query,
    headers: &HeaderMap,
) -> Result<Endpoint, S3Error> {
    if let Some(operation) = unsupported_object_op(method, q) {
        return Ok(Endpoint::Unsupported {
            bucket: Some(bucket),
            key: Some(key),
            operation,
        });
    }
    let upload_id = q.string("uploadId");
    let ep = match *method {
        Method::POST if q.has("uploads") => {
            check_key_length(&key)?;
            Endpoint::CreateMultipartUpload { bucket, key }
        }
        Method::GET if q.has("acl") => Endpoint::GetObjectAcl {
            bucket,
            key,
            version_id: q.string("versionId"),
        },
        Method::PUT if q.has("acl") => Endpoint::PutObjectAcl {
            bucket,
            key,
            version_id: q.string("versionId"),
        },
        Method::GET if q.has("tagging") => Endpoint::GetObjectTagging {
            bucket,
            key,
            version_id: q.string("versionId"),
        },
        Method::PUT if q.has("tagging") => Endpoint::PutObjectTagging {
            bucket,
            key,
            version_id: q.string("versionId"),
        },
        Method::DELETE if q.has("tagging") => Endpoint::DeleteObjectTagging {
            bucket,
            key,
            version_id: q.string("versionId"),
        },
        Method::GET if q.has("retention") => Endpoint::GetObjectRetention {
            bucket,
            key,
            version_id: q.string("versionId"),
        },
        Method::PUT if q.has("retention") => Endpoint::PutObjectRetention {
            bucket,
            key,
            version_id: q.string("versionId"),
        },
        Method::GET if q.has("legal-hold") => Endpoint::GetObjectLegalHold {
            bucket,
            key,
            version_id: q.string("versionId"),
        },
        Method::PUT if q.has("legal-hold") => Endpoint::PutObjectLegalHold {
            bucket,
            key,
            version_id: q.string("versionId"),
        },
        Method::GET if q.has("attributes") => Endpoint::GetObjectAttributes {
            bucket,
            key,
            version_id: q.string("versionId"),
            // GetObjectAttributes takes these as headers, not query parameters.
            max_parts: header_int(headers, "x-amz-max-parts")?,
            part_number_marker: header_int(headers, "x-amz-part-number-marker")?,
        },
        _ if has_subresource(q) => return Err(method_not_allowed(method, "OBJECT")),
        Method::GET => match upload_id {
            Some(upload_id) => Endpoint::ListParts {
                bucket,
                key,
                upload_id,
                max_parts: q.int("max-parts", 0, I32_MAX)?,
                part_number_marker: q.int("part-number-marker", 0, I32_MAX)?,
            },
            None => Endpoint::GetObject {
                bucket,
                key,
                part_number: q.part_number()?,
                version_id: q.string("versionId"),
                overrides: ResponseOverrides::from_query(q),
            },
        },
        Method::HEAD => Endpoint::HeadObject {
            bucket,
            key,
            part_number: q.part_number()?,
            version_id: q.string("versionId"),
            overrides: ResponseOverrides::from_query(q),
        },
        Method::PUT => route_put_object(bucket, key, q, upload_id, headers)?,
        Method::DELETE => match upload_id {
            Some(upload_id) => Endpoint::AbortMultipartUpload {
                bucket,
                key,
                upload_id,
            },
            None => Endpoint::DeleteObject {
                bucket,
                key,
                version_id: q.string("versionId"),
            },
        },
        Method::POST => match upload_id {
            Some(upload_id) => Endpoint::CompleteMultipartUpload {
                bucket,
                key,
                upload_id,
            },
            None => return Err(method_not_allowed(method, "OBJECT")),
        },
        _ => return Err(method_not_allowed(method, "OBJECT")),
    };
    Ok(ep)
}

fn route_put_object(
    bucket: String,
    key: String,
    q: &Query,
    upload_id: Option<String>,
    headers: &HeaderMap,
) -> Result<Endpoint, S3Error> {
    let source = headers
        .get("x-amz-copy-source")
        .map(parse_copy_source)
        .transpose()?;
    let part_number = q.part_number()?;
    match (part_number, upload_id, source) {
        (Some(part_number), Some(upload_id), None) => Ok(Endpoint::UploadPart {
            bucket,
            key,
            part_number,
            upload_id,
        }),
        (Some(part_number), Some(upload_id), Some(source)) => Ok(Endpoint::UploadPartCopy {
            bucket,
            key,
            part_number,
            upload_id,
            source,
        }),
        // One without the other would otherwise silently become a whole-object write.
        (Some(_), None, _) => Err(S3Error::invalid_argument_named(
            "uploadId is required with partNumber",
            "uploadId",
            "",
        )),
        (None, Some(upload_id), _) => Err(S3Error::invalid_argument_named(
            "partNumber is required with uploadId",
            "partNumber",
            upload_id,
        )),
        (None, None, source) => {
            check_key_length(&key)?;
            Ok(match source {
                Some(source) => Endpoint::CopyObject {
                    bucket,
                    key,
                    source,
                },
                None => Endpoint::PutObject { bucket, key },
            })
        }
    }
}

/// An integer header of GetObjectAttributes (`x-amz-max-parts`, `x-amz-part-number-marker`):
/// InvalidArgument on garbage, like the query integers.
fn header_int(headers: &HeaderMap, name: &str) -> Result<Option<u32>, S3Error> {
    let Some(v) = headers.get(name) else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(v.as_bytes()).into_owned();
    match text.trim().parse::<u32>() {
        Ok(n) if n <= I32_MAX => Ok(Some(n)),
        _ => Err(S3Error::invalid_argument_named(
            format!("Provided {name} not an integer or within integer range"),
            name,
            text,
        )),
    }
}

fn check_key_length(key: &str) -> Result<(), S3Error> {
    if key.len() > MAX_KEY_BYTES {
        return Err(S3Error::KeyTooLongError);
    }
    Ok(())
}

/// Parses `x-amz-copy-source`: `[/]bucket/key[?versionId=v]`, with the key percent-encoded
/// (a literal `?` in a key arrives as `%3F`, so the first raw `?` starts the query).
pub(crate) fn parse_copy_source(value: &http::HeaderValue) -> Result<CopySource, S3Error> {
    let raw = value.to_str().unwrap_or("");
    let bad = || {
        S3Error::invalid_argument_named(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            "x-amz-copy-source",
            raw,
        )
    };
    let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
    let path = percent_decode(path).map_err(|_| bad())?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    let (bucket, key) = path.split_once('/').ok_or_else(bad)?;
    // A name no bucket can have is the client's mistake (400, as AWS answers it), not a lookup:
    // only a valid name that does not exist is 404 NoSuchBucket, later.
    if !crate::s3::names::valid_bucket_name(bucket) {
        return Err(S3Error::invalid_argument_named(
            "Invalid copy source bucket name",
            "x-amz-copy-source",
            raw,
        ));
    }
    if key.is_empty() {
        return Err(bad());
    }
    let version_id = Query::parse(query).map_err(|_| bad())?.string("versionId");
    Ok(CopySource {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        version_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Endpoint as E;

    fn s(x: &str) -> String {
        x.to_owned()
    }

    /// Extra request headers of a table row.
    type Headers<'a> = &'a [(&'a str, &'a str)];

    fn suffixes() -> Vec<String> {
        vec![s("s3.localhost"), s("localhost")]
    }

    /// Routes `method url` with `headers`; `url` is a path with query, the Host defaults to a
    /// plain `localhost:9443` (path style) unless a `host` header is given.
    fn route(method: &str, url: &str, hdrs: &[(&str, &str)]) -> Result<Endpoint, S3Error> {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:9443".parse().unwrap());
        for (n, v) in hdrs {
            headers.insert(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let uri: Uri = url.parse().unwrap();
        parse(&method, &uri, &headers, &suffixes())
    }

    fn get_object(bucket: &str, key: &str) -> Endpoint {
        E::GetObject {
            bucket: s(bucket),
            key: s(key),
            part_number: None,
            version_id: None,
            overrides: ResponseOverrides::default(),
        }
    }

    fn unsupported(bucket: Option<&str>, key: Option<&str>, op: &'static str) -> Endpoint {
        E::Unsupported {
            bucket: bucket.map(s),
            key: key.map(s),
            operation: op,
        }
    }

    fn copy_source(bucket: &str, key: &str, version: Option<&str>) -> CopySource {
        CopySource {
            bucket: s(bucket),
            key: s(key),
            version_id: version.map(s),
        }
    }

    #[test]
    fn routing_table() {
        let vhost = [("host", "bkt.s3.localhost:9443")];
        let copy = [("x-amz-copy-source", "/src/a%2Fb%3Fc?versionId=v1")];
        let cases: Vec<(&str, &str, Headers, Endpoint)> = vec![
            (
                "GET",
                "/",
                &[],
                E::ListBuckets {
                    prefix: None,
                    continuation_token: None,
                    max_buckets: None,
                },
            ),
            (
                "GET",
                "/?x-id=ListBuckets&max-buckets=10&prefix=a",
                &[],
                E::ListBuckets {
                    prefix: Some(s("a")),
                    continuation_token: None,
                    max_buckets: Some(10),
                },
            ),
            ("PUT", "/b", &[], E::CreateBucket { bucket: s("b") }),
            ("PUT", "/b/", &[], E::CreateBucket { bucket: s("b") }),
            ("HEAD", "/b", &[], E::HeadBucket { bucket: s("b") }),
            ("DELETE", "/b", &[], E::DeleteBucket { bucket: s("b") }),
            (
                "GET",
                "/b?location",
                &[],
                E::GetBucketLocation { bucket: s("b") },
            ),
            (
                "GET",
                "/b?encryption",
                &[],
                E::GetBucketEncryption { bucket: s("b") },
            ),
            (
                "PUT",
                "/b?encryption=",
                &[],
                E::PutBucketEncryption { bucket: s("b") },
            ),
            (
                "DELETE",
                "/b?encryption",
                &[],
                E::DeleteBucketEncryption { bucket: s("b") },
            ),
            (
                "GET",
                "/b?prefix=a%2Fb&delimiter=%2F&marker=m&max-keys=5&encoding-type=url",
                &[],
                E::ListObjects {
                    bucket: s("b"),
                    prefix: Some(s("a/b")),
                    delimiter: Some(s("/")),
                    marker: Some(s("m")),
                    max_keys: Some(5),
                    encoding_type_url: true,
                },
            ),
            (
                "GET",
                "/b?list-type=2&continuation-token=abc%3D%3D&start-after=s&fetch-owner=true&prefix=",
                &[],
                E::ListObjectsV2 {
                    bucket: s("b"),
                    prefix: Some(s("")),
                    delimiter: None,
                    max_keys: None,
                    continuation_token: Some(s("abc==")),
                    start_after: Some(s("s")),
                    encoding_type_url: false,
                    fetch_owner: true,
                },
            ),
            (
                "GET",
                "/b?uploads&prefix=p&key-marker=k&upload-id-marker=u&max-uploads=3",
                &[],
                E::ListMultipartUploads {
                    bucket: s("b"),
                    prefix: Some(s("p")),
                    delimiter: None,
                    key_marker: Some(s("k")),
                    upload_id_marker: Some(s("u")),
                    max_uploads: Some(3),
                    encoding_type_url: false,
                },
            ),
            (
                "POST",
                "/b?delete",
                &[],
                E::DeleteObjects { bucket: s("b") },
            ),
            (
                "PUT",
                "/b/k",
                &[],
                E::PutObject {
                    bucket: s("b"),
                    key: s("k"),
                },
            ),
            // Tricky keys keep every byte.
            (
                "PUT",
                "/b/a%2Fb",
                &[],
                E::PutObject {
                    bucket: s("b"),
                    key: s("a/b"),
                },
            ),
            ("GET", "/b/a//b/", &[], get_object("b", "a//b/")),
            ("GET", "/b/..", &[], get_object("b", "..")),
            ("GET", "/b/./x/../y", &[], get_object("b", "./x/../y")),
            ("GET", "/b//", &[], get_object("b", "/")),
            ("GET", "/b/%E2%9C%93", &[], get_object("b", "✓")),
            ("GET", "/b/a+b%20c", &[], get_object("b", "a+b c")),
            ("GET", "/b/%0D%0A", &[], get_object("b", "\r\n")),
            (
                "GET",
                "/b/k?partNumber=2&versionId=null&response-content-type=text%2Fplain&x-id=GetObject",
                &[],
                E::GetObject {
                    bucket: s("b"),
                    key: s("k"),
                    part_number: Some(2),
                    version_id: Some(s("null")),
                    overrides: ResponseOverrides {
                        content_type: Some(s("text/plain")),
                        ..Default::default()
                    },
                },
            ),
            (
                "HEAD",
                "/b/k?partNumber=1",
                &[],
                E::HeadObject {
                    bucket: s("b"),
                    key: s("k"),
                    part_number: Some(1),
                    version_id: None,
                    overrides: ResponseOverrides::default(),
                },
            ),
            (
                "DELETE",
                "/b/k",
                &[],
                E::DeleteObject {
                    bucket: s("b"),
                    key: s("k"),
                    version_id: None,
                },
            ),
            (
                "PUT",
                "/b/k",
                &copy,
                E::CopyObject {
                    bucket: s("b"),
                    key: s("k"),
                    source: copy_source("src", "a/b?c", Some("v1")),
                },
            ),
            (
                "POST",
                "/b/k?uploads",
                &[],
                E::CreateMultipartUpload {
                    bucket: s("b"),
                    key: s("k"),
                },
            ),
            (
                "PUT",
                "/b/k?partNumber=10000&uploadId=u%2B1",
                &[],
                E::UploadPart {
                    bucket: s("b"),
                    key: s("k"),
                    part_number: 10000,
                    upload_id: s("u+1"),
                },
            ),
            (
                "PUT",
                "/b/k?uploadId=u&partNumber=1",
                &[("x-amz-copy-source", "src/k")],
                E::UploadPartCopy {
                    bucket: s("b"),
                    key: s("k"),
                    part_number: 1,
                    upload_id: s("u"),
                    source: copy_source("src", "k", None),
                },
            ),
            (
                "POST",
                "/b/k?uploadId=u",
                &[],
                E::CompleteMultipartUpload {
                    bucket: s("b"),
                    key: s("k"),
                    upload_id: s("u"),
                },
            ),
            (
                "DELETE",
                "/b/k?uploadId=u",
                &[],
                E::AbortMultipartUpload {
                    bucket: s("b"),
                    key: s("k"),
                    upload_id: s("u"),
                },
            ),
            (
                "GET",
                "/b/k?uploadId=u&max-parts=2&part-number-marker=1",
                &[],
                E::ListParts {
                    bucket: s("b"),
                    key: s("k"),
                    upload_id: s("u"),
                    max_parts: Some(2),
                    part_number_marker: Some(1),
                },
            ),
            // Virtual-hosted style.
            (
                "GET",
                "/",
                &vhost,
                E::ListObjects {
                    bucket: s("bkt"),
                    prefix: None,
                    delimiter: None,
                    marker: None,
                    max_keys: None,
                    encoding_type_url: false,
                },
            ),
            ("GET", "/a//b", &vhost, get_object("bkt", "a//b")),
            ("GET", "//x", &vhost, get_object("bkt", "/x")),
            (
                "PUT",
                "/?encryption",
                &[("host", "my.dotted.bucket.s3.localhost")],
                E::PutBucketEncryption {
                    bucket: s("my.dotted.bucket"),
                },
            ),
            // The suffix itself, an IP or another name: path style.
            (
                "PUT",
                "/b2",
                &[("host", "s3.localhost:9443")],
                E::CreateBucket { bucket: s("b2") },
            ),
            (
                "PUT",
                "/b3",
                &[("host", "[::1]:9443")],
                E::CreateBucket { bucket: s("b3") },
            ),
            (
                "GET",
                "/b/k",
                &[("host", "example.com")],
                get_object("b", "k"),
            ),
            // "localhost" is also a suffix: the longest match wins.
            (
                "HEAD",
                "/",
                &[("host", "x.s3.localhost")],
                E::HeadBucket { bucket: s("x") },
            ),
            (
                "HEAD",
                "/",
                &[("host", "y.localhost")],
                E::HeadBucket { bucket: s("y") },
            ),
            // Known but unimplemented operations.
            ("GET", "/b?acl", &[], E::GetBucketAcl { bucket: s("b") }),
            (
                "PUT",
                "/b?versioning",
                &[],
                E::PutBucketVersioning { bucket: s("b") },
            ),
            (
                "DELETE",
                "/b?cors",
                &[],
                Endpoint::DeleteBucketCors { bucket: "b".into() },
            ),
            (
                "PUT",
                "/b?acl",
                &[],
                Endpoint::PutBucketAcl { bucket: "b".into() },
            ),
            (
                "PUT",
                "/b/k?acl&versionId=null",
                &[],
                Endpoint::PutObjectAcl {
                    bucket: "b".into(),
                    key: "k".into(),
                    version_id: Some("null".into()),
                },
            ),
            (
                "GET",
                "/b?versions&prefix=p&key-marker=k&version-id-marker=v&max-keys=1",
                &[],
                E::ListObjectVersions {
                    bucket: s("b"),
                    prefix: Some(s("p")),
                    delimiter: None,
                    key_marker: Some(s("k")),
                    version_id_marker: Some(s("v")),
                    max_keys: Some(1),
                    encoding_type_url: false,
                },
            ),
            (
                "GET",
                "/b?metrics",
                &[],
                unsupported(Some("b"), None, "ListBucketMetricsConfigurations"),
            ),
            (
                "GET",
                "/b?metrics&id=m",
                &[],
                unsupported(Some("b"), None, "GetBucketMetricsConfiguration"),
            ),
            (
                "GET",
                "/b?object-lock",
                &[],
                E::GetObjectLockConfiguration { bucket: s("b") },
            ),
            (
                "PUT",
                "/b?object-lock",
                &[],
                E::PutObjectLockConfiguration { bucket: s("b") },
            ),
            (
                "GET",
                "/b?publicAccessBlock",
                &[],
                E::GetPublicAccessBlock { bucket: s("b") },
            ),
            (
                "DELETE",
                "/b?ownershipControls",
                &[],
                E::DeleteBucketOwnershipControls { bucket: s("b") },
            ),
            (
                "POST",
                "/b",
                &[("content-type", "multipart/form-data; boundary=x")],
                E::PostObject { bucket: s("b") },
            ),
            // Any POST on the bucket without a subresource is PostObject; the handler answers
            // 412 when it is not a form, as AWS does.
            ("POST", "/b", &[], E::PostObject { bucket: s("b") }),
            (
                "PUT",
                "/b/k?tagging",
                &[],
                E::PutObjectTagging {
                    bucket: s("b"),
                    key: s("k"),
                    version_id: None,
                },
            ),
            (
                "DELETE",
                "/b/k?tagging&versionId=null",
                &[],
                E::DeleteObjectTagging {
                    bucket: s("b"),
                    key: s("k"),
                    version_id: Some(s("null")),
                },
            ),
            (
                "GET",
                "/b/k?attributes",
                &[("x-amz-max-parts", "2"), ("x-amz-part-number-marker", "1")],
                E::GetObjectAttributes {
                    bucket: s("b"),
                    key: s("k"),
                    version_id: None,
                    max_parts: Some(2),
                    part_number_marker: Some(1),
                },
            ),
            (
                "GET",
                "/b?versioning",
                &[],
                E::GetBucketVersioning { bucket: s("b") },
            ),
            (
                "DELETE",
                "/b?tagging",
                &[],
                E::DeleteBucketTagging { bucket: s("b") },
            ),
            (
                "GET",
                "/b?lifecycle",
                &[],
                E::GetBucketLifecycleConfiguration { bucket: s("b") },
            ),
            (
                "PUT",
                "/b?lifecycle",
                &[],
                E::PutBucketLifecycleConfiguration { bucket: s("b") },
            ),
            (
                "DELETE",
                "/b?lifecycle",
                &[],
                E::DeleteBucketLifecycle { bucket: s("b") },
            ),
            (
                "PUT",
                "/b/k?retention&versionId=v1",
                &[],
                E::PutObjectRetention {
                    bucket: s("b"),
                    key: s("k"),
                    version_id: Some(s("v1")),
                },
            ),
            (
                "GET",
                "/b/k?retention",
                &[],
                E::GetObjectRetention {
                    bucket: s("b"),
                    key: s("k"),
                    version_id: None,
                },
            ),
            (
                "GET",
                "/b/k?legal-hold",
                &[],
                E::GetObjectLegalHold {
                    bucket: s("b"),
                    key: s("k"),
                    version_id: None,
                },
            ),
            (
                "PUT",
                "/b/k?legal-hold&versionId=v2",
                &[],
                E::PutObjectLegalHold {
                    bucket: s("b"),
                    key: s("k"),
                    version_id: Some(s("v2")),
                },
            ),
            (
                "POST",
                "/b/k?select&select-type=2",
                &[],
                unsupported(Some("b"), Some("k"), "SelectObjectContent"),
            ),
            (
                "POST",
                "/b/k?restore",
                &[],
                unsupported(Some("b"), Some("k"), "RestoreObject"),
            ),
            (
                "GET",
                "/b/k?torrent",
                &[],
                unsupported(Some("b"), Some("k"), "GetObjectTorrent"),
            ),
            (
                "PUT",
                "/b/k?encryption",
                &[],
                unsupported(Some("b"), Some("k"), "UpdateObjectEncryption"),
            ),
            (
                "OPTIONS",
                "/b/k",
                &[],
                Endpoint::Preflight {
                    bucket: "b".into(),
                    key: Some("k".into()),
                },
            ),
        ];
        for (method, url, headers, expected) in cases {
            let got = route(method, url, headers);
            assert_eq!(got, Ok(expected), "{method} {url} {headers:?}");
        }
    }

    #[test]
    fn routing_errors() {
        let cases: Vec<(&str, &str, Headers, &str)> = vec![
            ("GET", "/b/%FF", &[], "InvalidURI"),
            ("GET", "/b/%zz", &[], "InvalidURI"),
            ("GET", "/b/k%", &[], "InvalidURI"),
            ("GET", "/b?prefix=%C3", &[], "InvalidURI"),
            ("GET", "/b?max-keys=abc", &[], "InvalidArgument"),
            ("GET", "/b?max-keys=-1", &[], "InvalidArgument"),
            (
                "GET",
                "/b?list-type=2&max-keys=99999999999",
                &[],
                "InvalidArgument",
            ),
            ("GET", "/b?list-type=3", &[], "InvalidArgument"),
            ("GET", "/b?encoding-type=base64", &[], "InvalidArgument"),
            (
                "GET",
                "/b?list-type=2&fetch-owner=maybe",
                &[],
                "InvalidArgument",
            ),
            ("GET", "/b/k?partNumber=0", &[], "InvalidArgument"),
            ("GET", "/b/k?partNumber=x", &[], "InvalidArgument"),
            (
                "PUT",
                "/b/k?partNumber=10001&uploadId=u",
                &[],
                "InvalidArgument",
            ),
            ("PUT", "/b/k?partNumber=1", &[], "InvalidArgument"),
            ("PUT", "/b/k?uploadId=u", &[], "InvalidArgument"),
            ("GET", "/b/k?uploadId=u&max-parts=x", &[], "InvalidArgument"),
            (
                "PUT",
                "/b/k",
                &[("x-amz-copy-source", "nokey")],
                "InvalidArgument",
            ),
            (
                "PUT",
                "/b/k",
                &[("x-amz-copy-source", "/bkt/")],
                "InvalidArgument",
            ),
            (
                "PUT",
                "/b/k",
                &[("x-amz-copy-source", "/bkt/%ZZ")],
                "InvalidArgument",
            ),
            ("PATCH", "/b/k", &[], "MethodNotAllowed"),
            ("POST", "/b/k", &[], "MethodNotAllowed"),
            ("PUT", "/", &[], "MethodNotAllowed"),
            ("DELETE", "/", &[], "MethodNotAllowed"),
            // A subresource S3 has no such method for must not become a data operation.
            ("DELETE", "/b?versioning", &[], "MethodNotAllowed"),
            ("DELETE", "/b?location", &[], "MethodNotAllowed"),
            ("PUT", "/b?uploads", &[], "MethodNotAllowed"),
            ("POST", "/b?acl", &[], "MethodNotAllowed"),
            ("DELETE", "/b/k?acl", &[], "MethodNotAllowed"),
            ("GET", "/b/k?uploads", &[], "MethodNotAllowed"),
            ("HEAD", "/b/k?tagging", &[], "MethodNotAllowed"),
            // Object Lock has no DELETE: never a data operation.
            ("DELETE", "/b/k?retention", &[], "MethodNotAllowed"),
            ("DELETE", "/b/k?legal-hold", &[], "MethodNotAllowed"),
            ("DELETE", "/b?object-lock", &[], "MethodNotAllowed"),
            ("GET", "//k", &[], "InvalidBucketName"),
        ];
        for (method, url, headers, code) in cases {
            match route(method, url, headers) {
                Err(e) => assert_eq!(e.code(), code, "{method} {url}: {e:?}"),
                Ok(ep) => panic!("{method} {url} routed to {ep:?}, expected {code}"),
            }
        }
    }

    #[test]
    fn error_details() {
        let err = route("GET", "/b/k?partNumber=0", &[]).unwrap_err();
        assert_eq!(
            err,
            S3Error::invalid_argument_named(
                "Part number must be an integer between 1 and 10000, inclusive",
                "partNumber",
                "0"
            )
        );
        let err = route("PATCH", "/b", &[]).unwrap_err();
        assert_eq!(
            err,
            S3Error::MethodNotAllowed {
                method: s("PATCH"),
                resource_type: "BUCKET"
            }
        );
    }

    #[test]
    fn long_keys_refused_on_write_only() {
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        let ok = "k".repeat(MAX_KEY_BYTES);
        assert_eq!(
            route("PUT", &format!("/b/{long}"), &[]),
            Err(S3Error::KeyTooLongError)
        );
        assert_eq!(
            route("POST", &format!("/b/{long}?uploads"), &[]),
            Err(S3Error::KeyTooLongError)
        );
        assert!(route("PUT", &format!("/b/{ok}"), &[]).is_ok());
        assert_eq!(
            route("GET", &format!("/b/{long}"), &[]),
            Ok(get_object("b", &long))
        );
    }

    #[test]
    fn names_and_accessors() {
        let ep = route("PUT", "/b/k?partNumber=1&uploadId=u", &[]).unwrap();
        assert_eq!(ep.name(), "UploadPart");
        assert_eq!((ep.bucket(), ep.key()), (Some("b"), Some("k")));
        let ep = route("GET", "/b?list-type=2", &[]).unwrap();
        assert_eq!(ep.name(), "ListObjectsV2");
        assert_eq!((ep.bucket(), ep.key()), (Some("b"), None));
        let ep = route("GET", "/", &[]).unwrap();
        assert_eq!((ep.name(), ep.bucket()), ("ListBuckets", None));
        let ep = route("GET", "/b?website", &[]).unwrap();
        assert_eq!(ep.name(), "GetBucketWebsite");
        let err = ep.not_implemented();
        assert_eq!(err.status().as_u16(), 501);
        assert!(err.message().contains("GetBucketWebsite"));
    }

    #[test]
    fn overrides_become_headers() {
        let ep = route(
            "GET",
            "/b/k?response-content-disposition=attachment%3B%20filename%3D%22a.txt%22\
             &response-cache-control=no-cache",
            &[],
        )
        .unwrap();
        let E::GetObject { overrides, .. } = ep else {
            panic!("{ep:?}")
        };
        let got: Vec<_> = overrides
            .headers()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            got,
            vec![
                (s("cache-control"), s("no-cache")),
                (
                    s("content-disposition"),
                    s("attachment; filename=\"a.txt\"")
                ),
            ]
        );
        assert!(ResponseOverrides::default().is_empty());
    }

    #[test]
    fn copy_source_forms() {
        let parse = |v: &str| parse_copy_source(&v.parse().unwrap());
        assert_eq!(parse("bkt/k"), Ok(copy_source("bkt", "k", None)));
        assert_eq!(parse("/bkt/a//b/"), Ok(copy_source("bkt", "a//b/", None)));
        assert_eq!(
            parse("bkt/%E2%9C%93%20x?versionId=3%2F4"),
            Ok(copy_source("bkt", "✓ x", Some("3/4")))
        );
        assert!(parse("bkt").is_err());
        assert!(parse("/bkt").is_err());
        assert!(parse("").is_err());
        let message = |v: &str| match parse(v) {
            Err(S3Error::InvalidArgument { msg, .. }) => msg,
            other => panic!("{v}: {other:?}"),
        };
        for bad_bucket in [
            "/Bad_Bucket!/k",
            "/ab/k",
            "//k",
            "/192.168.1.1/k",
            "%41bc/k",
        ] {
            assert_eq!(message(bad_bucket), "Invalid copy source bucket name");
        }
        assert_ne!(message("/bkt/"), "Invalid copy source bucket name");
    }
}
