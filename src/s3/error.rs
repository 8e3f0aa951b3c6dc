//! The S3 error type: every error the gateway answers on the S3 API, mapped to status, code,
//! message and XML body in this one file.
//!
//! Each variant carries exactly what its XML body needs (the extra elements AWS sends, such as
//! `<BucketName>` or `<ArgumentName>`), so handlers build an error once and the HTTP layer renders
//! it with [`S3Error::to_xml`]. Codes, statuses and messages follow AWS (see
//! the S3 API Reference's "Error responses" list and each operation's page). Where AWS uses one code for
//! several situations with different extra elements (`AccessDenied` for an expired presigned URL,
//! for unsigned headers), there is one variant per situation and they share the code.
//!
//! Responses to `HEAD` carry no body; the HTTP layer decides that, not this type.
//! [`S3Error::NotModified`] never has a body; it carries headers instead.

use std::fmt::Write as _;

use http::StatusCode;

use super::xml::text::push_elem;

/// One S3 error answer.
///
/// `Display` is the message sent to the client (`message()`), except for
/// [`S3Error::InternalError`] and [`S3Error::ServiceUnavailable`] whose detail is for logs only
/// (visible through `Debug`) and never reaches the client.
///
/// The catalogue is AWS's, rendered and tested as a whole: a few variants (marked
/// `allow(dead_code)`) belong to features still to come — bucket names taken by another account,
/// Object Lock and archived objects, back-pressure on a full disk — and are kept with their
/// tested status and code so those features only construct them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum S3Error {
    // ---- authentication and authorization ----
    /// Status 403. The message is free text; AWS's default is "Access Denied".
    #[error("{0}")]
    AccessDenied(String),
    /// 403 AccessDenied for a presigned URL past its expiry.
    #[error("Request has expired")]
    RequestExpired {
        /// The `X-Amz-Expires` value (seconds) as given: `<X-Amz-Expires>`; empty for SigV2.
        expires: String,
        /// When the URL expired, ISO 8601 (`2026-11-28T13:31:39Z`): `<Expires>`.
        expires_at: String,
        /// Server time, ISO 8601.
        server_time: String,
    },
    /// 403 AccessDenied: `x-amz-*` headers present but not signed.
    #[error("There were headers present in the request which were not signed")]
    HeadersNotSigned {
        /// The unsigned header names, comma-separated as AWS lists them.
        headers: String,
    },
    /// Status 403.
    #[error("The AWS Access Key Id you provided does not exist in our records.")]
    InvalidAccessKeyId { access_key: String },
    /// Status 403. Empty strings are left out of the body (chunk-signature failures have no
    /// canonical request).
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your key and signing method."
    )]
    SignatureDoesNotMatch {
        access_key: String,
        string_to_sign: String,
        canonical_request: String,
    },
    /// Status 403. Times in AWS's form (`20261128T133139Z` for the request, ISO 8601 for the server).
    #[error("The difference between the request time and the current time is too large.")]
    RequestTimeTooSkewed {
        request_time: String,
        server_time: String,
    },
    /// Status 400. `region` is the expected region when the credential scope named another one.
    #[error("{msg}")]
    AuthorizationHeaderMalformed { msg: String, region: Option<String> },
    /// Status 400.
    #[error("{0}")]
    AuthorizationQueryParametersError(String),
    /// Status 400. `header` is the missing header's name (e.g. `x-amz-content-sha256`).
    #[error("Your request was missing a required header")]
    // In AWS's catalogue, answered by the next features (see the enum doc).
    #[allow(dead_code)]
    MissingSecurityHeader { header: String },
    /// Status 400.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    XAmzContentSHA256Mismatch,

    // ---- buckets and keys ----
    /// Status 404.
    #[error("The specified bucket does not exist")]
    NoSuchBucket { bucket: String },
    /// Status 404.
    #[error("The specified key does not exist.")]
    NoSuchKey { key: String },
    /// Status 404.
    #[error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )]
    NoSuchUpload { upload_id: String },
    /// Status 409.
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou { bucket: String },
    /// Status 409.
    #[error(
        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."
    )]
    BucketAlreadyExists { bucket: String },
    /// Status 409.
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty { bucket: String },
    /// Status 400.
    #[error("The specified bucket is not valid.")]
    InvalidBucketName { bucket: String },
    /// Status 400. Keys are limited to 1024 bytes of UTF-8.
    #[error("Your key is too long")]
    KeyTooLongError,
    /// 400 IllegalLocationConstraintException (CreateBucket for another region).
    #[error("{0}")]
    IllegalLocationConstraint(String),
    /// 404: Get/GetBucketPolicyStatus on a bucket without a policy.
    #[error("The bucket policy does not exist")]
    NoSuchBucketPolicy { bucket: String },
    /// 400: PutBucketPolicy with a document S3 refuses; the message says why.
    #[error("{0}")]
    MalformedPolicy(String),
    /// 404: GetBucketCors on a bucket without CORS rules.
    #[error("The CORS configuration does not exist")]
    NoSuchCORSConfiguration { bucket: String },
    /// 404: GetPublicAccessBlock on a bucket without Block Public Access.
    #[error("The public access block configuration was not found")]
    NoSuchPublicAccessBlockConfiguration { bucket: String },
    /// 404: GetBucketOwnershipControls on a bucket without Object Ownership.
    #[error("The bucket ownership controls were not found")]
    OwnershipControlsNotFoundError { bucket: String },
    /// 400: an ACL (other than bucket-owner-full-control) on a BucketOwnerEnforced bucket.
    #[error("The bucket does not allow ACLs")]
    AccessControlListNotSupported,
    /// 400: CreateBucket with an ACL (other than `private` alone) and BucketOwnerEnforced.
    #[error("Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")]
    InvalidBucketAclWithObjectOwnership,
    /// 400: CreateBucket with a public ACL while Block Public Access's BlockPublicAcls is on.
    #[error("Bucket cannot have public ACLs set with BlockPublicAccess enabled")]
    InvalidBucketAclWithBlockPublicAccessError,
    /// 400: an AccessControlPolicy document that does not follow S3's schema.
    #[error(
        "The XML you provided was not well-formed or did not validate against our published schema"
    )]
    MalformedACLError,
    /// 400: a grant by e-mail address (no account here has one).
    #[error("The e-mail address you provided does not match any account on record.")]
    UnresolvableGrantByEmailAddress,
    /// 400: PutBucketAcl/PutObjectAcl with both ACL headers and a body.
    #[error("This request does not support content")]
    UnexpectedContent,
    /// 404: GetBucketTagging on a bucket without tags.
    #[error("The TagSet does not exist")]
    NoSuchTagSet { bucket: String },
    /// 404: GetBucketLifecycleConfiguration on a bucket without lifecycle rules.
    #[error("The lifecycle configuration does not exist")]
    NoSuchLifecycleConfiguration { bucket: String },
    /// 400: a lifecycle transition to a storage class the gateway does not have (it has only
    /// STANDARD).
    #[error("The storage class you specified is not valid")]
    InvalidStorageClass,
    /// 404: a `versionId` naming no version of the key (every id but `null`, while buckets are
    /// unversioned).
    #[error("The specified version does not exist.")]
    NoSuchVersion { key: String, version_id: String },
    /// 404 (legacy answer of GetBucketEncryption on an unconfigured bucket).
    #[error("The server side encryption configuration was not found")]
    // In AWS's catalogue, answered by the next features (see the enum doc).
    #[allow(dead_code)]
    ServerSideEncryptionConfigurationNotFoundError { bucket: String },
    /// 404: GetObjectLockConfiguration on a bucket without Object Lock.
    #[error("Object Lock configuration does not exist for this bucket")]
    ObjectLockConfigurationNotFoundError { bucket: String },
    /// 404: GetObjectRetention / GetObjectLegalHold of a version that never had one.
    #[error("The specified object does not have a ObjectLock configuration")]
    NoSuchObjectLockConfiguration,
    /// 409: an operation the bucket's state forbids (suspending versioning of an Object Lock
    /// bucket, enabling Object Lock without versioning).
    #[error("{0}")]
    InvalidBucketState(String),

    // ---- request validation ----
    /// 400 with optional `<ArgumentName>`/`<ArgumentValue>`.
    #[error("{msg}")]
    InvalidArgument {
        msg: String,
        name: Option<String>,
        value: Option<String>,
    },
    /// Status 400.
    #[error("{0}")]
    InvalidRequest(String),
    /// 400: a tag set S3 refuses (key or value too long, duplicate keys, `aws:` prefix).
    #[error("{0}")]
    InvalidTag(String),
    /// 400 BadRequest: a CORS preflight without `Origin` or with an unusable
    /// `Access-Control-Request-Method`.
    #[error("{0}")]
    BadRequest(String),
    /// 403 AccessForbidden: a CORS preflight no rule allows (or on a bucket without CORS).
    /// `method` is the requested method, `resource_type` `BUCKET` or `OBJECT`.
    #[error("{msg}")]
    CorsForbidden {
        msg: String,
        method: String,
        resource_type: &'static str,
    },
    /// 400: path or query that is not valid percent-encoded UTF-8.
    #[error("Couldn't parse the specified URI.")]
    InvalidURI,
    /// Status 416. `range` is the header as sent, `size` the object size.
    #[error("The requested range is not satisfiable")]
    InvalidRange { range: String, size: u64 },
    /// 416: `?partNumber=` beyond the object's parts (`requested` > `actual`).
    #[error("The requested partnumber is not satisfiable")]
    InvalidPartNumber { requested: u32, actual: usize },
    /// Status 400.
    #[error("The Content-MD5 you specified was invalid.")]
    InvalidDigest,
    /// Status 400. Content-MD5: "The Content-MD5 you specified did not match what we
    /// received."; flexible checksums: "The CRC32 you specified did not match the calculated
    /// checksum."
    #[error("{msg}")]
    BadDigest { msg: String },
    /// Status 400.
    #[error(
        "The XML you provided was not well-formed or did not validate against our published schema"
    )]
    MalformedXML,
    /// Status 400.
    #[error("Request Body is empty")]
    // In AWS's catalogue, answered by the next features (see the enum doc).
    #[allow(dead_code)]
    MissingRequestBodyError,
    /// Status 400.
    #[error("Your proposed upload is smaller than the minimum allowed object size.")]
    EntityTooSmall,
    /// 400: a POST Object body that is not well-formed `multipart/form-data`.
    #[error("The body of your POST request is not well-formed multipart/form-data.")]
    MalformedPOSTRequest,
    /// 400: a POST Object form without a `file` field.
    #[error("POST requires exactly one file upload per request.")]
    IncorrectNumberOfFilesInPostRequest,
    /// 400: the fields before `file` in a POST Object form are over 20 KB.
    #[error("Your POST request fields preceding the upload file were too large.")]
    MaxPostPreDataLengthExceededError,
    /// 400: a POST policy document that cannot be used (`Invalid Policy: …`).
    #[error("{0}")]
    InvalidPolicyDocument(String),
    /// Status 400.
    #[error("Your proposed upload exceeds the maximum allowed size")]
    EntityTooLarge,
    /// Status 400. AWS's default text is "One or more of the specified parts could not be found.
    /// The part may not have been uploaded, or the specified entity tag may not match the
    /// part's entity tag."
    #[error("{0}")]
    InvalidPart(String),
    /// Status 400.
    #[error("The list of parts was not in ascending order. Parts must be ordered by part number.")]
    InvalidPartOrder,
    /// Status 400.
    #[error("The request body terminated unexpectedly")]
    IncompleteBody,
    /// Status 400.
    #[error(
        "The request contained trailing data that was not well-formed or did not conform to our published schema."
    )]
    MalformedTrailerError,
    /// 400 (signed aws-chunked with a non-final chunk under 8 KiB).
    #[error("Only the last chunk is allowed to have a size less than 8192 bytes")]
    InvalidChunkSizeError,
    /// Status 400. `value` is the algorithm sent; AWS names the argument
    /// `x-amz-server-side-encryption` whichever SSE-C algorithm header carried it.
    #[error("The Encryption request you specified is not valid. Supported value: AES256.")]
    InvalidEncryptionAlgorithmError { value: String },
    /// Status 411.
    #[error("You must provide the Content-Length HTTP header.")]
    MissingContentLength,
    /// Status 400.
    #[error(
        "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed."
    )]
    RequestTimeout,

    // ---- conditions and methods ----
    /// Status 412. `condition` is the failing header, e.g. `If-Match`.
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed { condition: String },
    /// 304, no body. `headers` are the validators and caching headers a 200 would have carried
    /// (ETag, Last-Modified, Cache-Control, Expires): AWS sends them and caches need them
    /// (RFC 9110 §15.4.5).
    #[error("Not Modified")]
    NotModified {
        headers: Vec<(&'static str, String)>,
    },
    /// Status 405. `resource_type` is `OBJECT`, `BUCKET` or `SERVICE`.
    #[error("The specified method is not allowed against this resource.")]
    MethodNotAllowed {
        method: String,
        resource_type: &'static str,
    },
    /// Status 501.
    #[error("{0}")]
    NotImplemented(String),
    /// An error about a delete marker (404 NoSuchKey for a key whose current version is one,
    /// 405 MethodNotAllowed for a read of one by version id): `inner` with the
    /// `x-amz-delete-marker` (and version and Last-Modified) headers AWS adds.
    #[error("{inner}")]
    DeleteMarker {
        inner: Box<S3Error>,
        headers: Vec<(&'static str, String)>,
    },
    /// Status 403.
    #[error("The operation is not valid for the object's storage class")]
    // In AWS's catalogue, answered by the next features (see the enum doc).
    #[allow(dead_code)]
    InvalidObjectState,
    /// 409: a concurrent request changed the resource (e.g. two Completes of one upload).
    #[error(
        "A conflicting conditional operation is currently in progress against this resource. Please try again."
    )]
    // In AWS's catalogue, answered by the next features (see the enum doc).
    #[allow(dead_code)]
    OperationAborted,
    /// 409: a conditional write (`If-None-Match: *`, `If-Match`) lost the race to a concurrent
    /// write of the same key between its check and its commit; the client may retry.
    #[error(
        "The conditional request cannot succeed due to a conflicting operation against this resource."
    )]
    ConditionalRequestConflict,

    // ---- dependencies and server faults ----
    /// A KMS failure surfaced through S3: `code` is `KMS.<ExceptionName>` (e.g.
    /// `KMS.DisabledException`), `status` is 400 for client faults as AWS answers.
    #[error("{msg}")]
    Kms {
        code: String,
        msg: String,
        status: StatusCode,
    },
    /// Status 503.
    #[error("Please reduce your request rate.")]
    // In AWS's catalogue, answered by the next features (see the enum doc).
    #[allow(dead_code)]
    SlowDown,
    /// Status 503. The detail is logged, the client sees a generic message.
    #[error("Service is unable to handle request.")]
    ServiceUnavailable(String),
    /// Status 500. The detail is logged, the client sees a generic message.
    #[error("We encountered an internal error. Please try again.")]
    InternalError(String),
}

impl S3Error {
    /// 400 InvalidArgument without argument name/value.
    pub(crate) fn invalid_argument(msg: impl Into<String>) -> Self {
        S3Error::InvalidArgument {
            msg: msg.into(),
            name: None,
            value: None,
        }
    }

    /// 400 InvalidArgument naming the argument and the value received.
    pub(crate) fn invalid_argument_named(
        msg: impl Into<String>,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        S3Error::InvalidArgument {
            msg: msg.into(),
            name: Some(name.into()),
            value: Some(value.into()),
        }
    }

    /// 400 InvalidPart with AWS's default message.
    pub(crate) fn invalid_part() -> Self {
        S3Error::InvalidPart(
            "One or more of the specified parts could not be found.  The part may not have been \
             uploaded, or the specified entity tag may not match the part's entity tag."
                .to_owned(),
        )
    }

    /// A KMS failure as S3 reports it: `KMS.<exception>` with 400, except access denial which
    /// S3 reports as a plain 403 AccessDenied.
    pub(crate) fn kms(exception: &str, msg: impl Into<String>) -> Self {
        let msg = msg.into();
        match exception {
            "AccessDeniedException" => S3Error::AccessDenied(msg),
            _ => S3Error::Kms {
                code: format!("KMS.{exception}"),
                msg,
                status: StatusCode::BAD_REQUEST,
            },
        }
    }

    /// The HTTP status of this error.
    pub(crate) fn status(&self) -> StatusCode {
        use S3Error::*;
        match self {
            DeleteMarker { inner, .. } => inner.status(),
            AccessDenied(_)
            | RequestExpired { .. }
            | HeadersNotSigned { .. }
            | InvalidAccessKeyId { .. }
            | SignatureDoesNotMatch { .. }
            | RequestTimeTooSkewed { .. }
            | CorsForbidden { .. }
            | InvalidObjectState => StatusCode::FORBIDDEN,
            NoSuchBucket { .. }
            | NoSuchCORSConfiguration { .. }
            | NoSuchBucketPolicy { .. }
            | NoSuchKey { .. }
            | NoSuchUpload { .. }
            | NoSuchTagSet { .. }
            | NoSuchLifecycleConfiguration { .. }
            | NoSuchPublicAccessBlockConfiguration { .. }
            | OwnershipControlsNotFoundError { .. }
            | NoSuchVersion { .. }
            | ServerSideEncryptionConfigurationNotFoundError { .. }
            | ObjectLockConfigurationNotFoundError { .. }
            | NoSuchObjectLockConfiguration => StatusCode::NOT_FOUND,
            BucketAlreadyOwnedByYou { .. }
            | BucketAlreadyExists { .. }
            | BucketNotEmpty { .. }
            | OperationAborted
            | InvalidBucketState(_)
            | ConditionalRequestConflict => StatusCode::CONFLICT,
            InvalidRange { .. } | InvalidPartNumber { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            MissingContentLength => StatusCode::LENGTH_REQUIRED,
            PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            NotModified { .. } => StatusCode::NOT_MODIFIED,
            MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Kms { status, .. } => *status,
            SlowDown | ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            InternalError(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AuthorizationHeaderMalformed { .. }
            | AuthorizationQueryParametersError(_)
            | MissingSecurityHeader { .. }
            | XAmzContentSHA256Mismatch
            | InvalidBucketName { .. }
            | KeyTooLongError
            | IllegalLocationConstraint(_)
            | InvalidArgument { .. }
            | InvalidRequest(_)
            | MalformedPolicy(_)
            | AccessControlListNotSupported
            | InvalidBucketAclWithObjectOwnership
            | InvalidBucketAclWithBlockPublicAccessError
            | MalformedACLError
            | UnresolvableGrantByEmailAddress
            | UnexpectedContent
            | InvalidTag(_)
            | BadRequest(_)
            | InvalidURI
            | InvalidDigest
            | BadDigest { .. }
            | MalformedXML
            | InvalidStorageClass
            | MissingRequestBodyError
            | EntityTooSmall
            | MalformedPOSTRequest
            | IncorrectNumberOfFilesInPostRequest
            | MaxPostPreDataLengthExceededError
            | InvalidPolicyDocument(_)
            | EntityTooLarge
            | InvalidPart(_)
            | InvalidPartOrder
            | IncompleteBody
            | MalformedTrailerError
            | InvalidChunkSizeError
            | InvalidEncryptionAlgorithmError { .. }
            | RequestTimeout => StatusCode::BAD_REQUEST,
        }
    }

    /// The S3 error code (`<Code>`).
    pub(crate) fn code(&self) -> &str {
        use S3Error::*;
        match self {
            DeleteMarker { inner, .. } => inner.code(),
            AccessDenied(_) | RequestExpired { .. } | HeadersNotSigned { .. } => "AccessDenied",
            InvalidAccessKeyId { .. } => "InvalidAccessKeyId",
            SignatureDoesNotMatch { .. } => "SignatureDoesNotMatch",
            RequestTimeTooSkewed { .. } => "RequestTimeTooSkewed",
            AuthorizationHeaderMalformed { .. } => "AuthorizationHeaderMalformed",
            AuthorizationQueryParametersError(_) => "AuthorizationQueryParametersError",
            MissingSecurityHeader { .. } => "MissingSecurityHeader",
            XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
            NoSuchBucket { .. } => "NoSuchBucket",
            NoSuchKey { .. } => "NoSuchKey",
            NoSuchUpload { .. } => "NoSuchUpload",
            BucketAlreadyOwnedByYou { .. } => "BucketAlreadyOwnedByYou",
            BucketAlreadyExists { .. } => "BucketAlreadyExists",
            BucketNotEmpty { .. } => "BucketNotEmpty",
            InvalidBucketName { .. } => "InvalidBucketName",
            KeyTooLongError => "KeyTooLongError",
            IllegalLocationConstraint(_) => "IllegalLocationConstraintException",
            ServerSideEncryptionConfigurationNotFoundError { .. } => {
                "ServerSideEncryptionConfigurationNotFoundError"
            }
            ObjectLockConfigurationNotFoundError { .. } => "ObjectLockConfigurationNotFoundError",
            NoSuchObjectLockConfiguration => "NoSuchObjectLockConfiguration",
            InvalidBucketState(_) => "InvalidBucketState",
            InvalidArgument { .. } => "InvalidArgument",
            InvalidRequest(_) => "InvalidRequest",
            InvalidTag(_) => "InvalidTag",
            NoSuchTagSet { .. } => "NoSuchTagSet",
            NoSuchLifecycleConfiguration { .. } => "NoSuchLifecycleConfiguration",
            InvalidStorageClass => "InvalidStorageClass",
            NoSuchVersion { .. } => "NoSuchVersion",
            ConditionalRequestConflict => "ConditionalRequestConflict",
            BadRequest(_) => "BadRequest",
            CorsForbidden { .. } => "AccessForbidden",
            NoSuchCORSConfiguration { .. } => "NoSuchCORSConfiguration",
            NoSuchBucketPolicy { .. } => "NoSuchBucketPolicy",
            NoSuchPublicAccessBlockConfiguration { .. } => "NoSuchPublicAccessBlockConfiguration",
            OwnershipControlsNotFoundError { .. } => "OwnershipControlsNotFoundError",
            AccessControlListNotSupported => "AccessControlListNotSupported",
            InvalidBucketAclWithObjectOwnership => "InvalidBucketAclWithObjectOwnership",
            InvalidBucketAclWithBlockPublicAccessError => {
                "InvalidBucketAclWithBlockPublicAccessError"
            }
            MalformedACLError => "MalformedACLError",
            UnresolvableGrantByEmailAddress => "UnresolvableGrantByEmailAddress",
            UnexpectedContent => "UnexpectedContent",
            MalformedPolicy(_) => "MalformedPolicy",
            InvalidURI => "InvalidURI",
            InvalidRange { .. } => "InvalidRange",
            InvalidPartNumber { .. } => "InvalidPartNumber",
            InvalidDigest => "InvalidDigest",
            BadDigest { .. } => "BadDigest",
            MalformedXML => "MalformedXML",
            MissingRequestBodyError => "MissingRequestBodyError",
            EntityTooSmall => "EntityTooSmall",
            MalformedPOSTRequest => "MalformedPOSTRequest",
            IncorrectNumberOfFilesInPostRequest => "IncorrectNumberOfFilesInPostRequest",
            MaxPostPreDataLengthExceededError => "MaxPostPreDataLengthExceededError",
            InvalidPolicyDocument(_) => "InvalidPolicyDocument",
            EntityTooLarge => "EntityTooLarge",
            InvalidPart(_) => "InvalidPart",
            InvalidPartOrder => "InvalidPartOrder",
            IncompleteBody => "IncompleteBody",
            MalformedTrailerError => "MalformedTrailerError",
            InvalidChunkSizeError => "InvalidChunkSizeError",
            InvalidEncryptionAlgorithmError { .. } => "InvalidEncryptionAlgorithmError",
            MissingContentLength => "MissingContentLength",
            RequestTimeout => "RequestTimeout",
            PreconditionFailed { .. } => "PreconditionFailed",
            NotModified { .. } => "NotModified",
            MethodNotAllowed { .. } => "MethodNotAllowed",
            NotImplemented(_) => "NotImplemented",
            InvalidObjectState => "InvalidObjectState",
            OperationAborted => "OperationAborted",
            Kms { code, .. } => code,
            SlowDown => "SlowDown",
            ServiceUnavailable(_) => "ServiceUnavailable",
            InternalError(_) => "InternalError",
        }
    }

    /// The message sent to the client (`<Message>`).
    pub(crate) fn message(&self) -> String {
        self.to_string()
    }

    /// Whether a response may carry a body at all (304 never does). `HEAD` is the caller's
    /// concern.
    pub(crate) fn has_body(&self) -> bool {
        !matches!(self, S3Error::NotModified { .. })
    }

    /// Headers the response carries besides the common ones (a 304's validators).
    pub(crate) fn response_headers(&self) -> &[(&'static str, String)] {
        match self {
            S3Error::NotModified { headers } | S3Error::DeleteMarker { headers, .. } => headers,
            _ => &[],
        }
    }

    /// The extra elements AWS puts between `<Message>` and `<Resource>`, in AWS's order.
    fn extra_elements(&self) -> Vec<(&'static str, String)> {
        use S3Error::*;
        let mut out: Vec<(&'static str, String)> = Vec::new();
        match self {
            DeleteMarker { inner, .. } => return inner.extra_elements(),
            RequestExpired {
                expires,
                expires_at,
                server_time,
            } => {
                // SigV2 URLs carry an absolute `Expires`, no lifetime.
                if !expires.is_empty() {
                    out.push(("X-Amz-Expires", expires.clone()));
                }
                out.push(("Expires", expires_at.clone()));
                out.push(("ServerTime", server_time.clone()));
            }
            HeadersNotSigned { headers } => out.push(("HeadersNotSigned", headers.clone())),
            InvalidAccessKeyId { access_key } => out.push(("AWSAccessKeyId", access_key.clone())),
            SignatureDoesNotMatch {
                access_key,
                string_to_sign,
                canonical_request,
            } => {
                out.push(("AWSAccessKeyId", access_key.clone()));
                if !string_to_sign.is_empty() {
                    out.push(("StringToSign", string_to_sign.clone()));
                }
                if !string_to_sign.is_empty() {
                    out.push(("StringToSignBytes", hex_bytes(string_to_sign)));
                }
                if !canonical_request.is_empty() {
                    out.push(("CanonicalRequest", canonical_request.clone()));
                    out.push(("CanonicalRequestBytes", hex_bytes(canonical_request)));
                }
            }
            RequestTimeTooSkewed {
                request_time,
                server_time,
            } => {
                out.push(("RequestTime", request_time.clone()));
                out.push(("ServerTime", server_time.clone()));
                out.push(("MaxAllowedSkewMilliseconds", "900000".to_owned()));
            }
            AuthorizationHeaderMalformed {
                region: Some(region),
                ..
            } => out.push(("Region", region.clone())),
            MissingSecurityHeader { header } => out.push(("MissingHeaderName", header.clone())),
            NoSuchBucket { bucket }
            | BucketAlreadyOwnedByYou { bucket }
            | BucketAlreadyExists { bucket }
            | BucketNotEmpty { bucket }
            | InvalidBucketName { bucket }
            | NoSuchCORSConfiguration { bucket }
            | NoSuchBucketPolicy { bucket }
            | NoSuchTagSet { bucket }
            | NoSuchLifecycleConfiguration { bucket }
            | NoSuchPublicAccessBlockConfiguration { bucket }
            | OwnershipControlsNotFoundError { bucket }
            | ObjectLockConfigurationNotFoundError { bucket }
            | ServerSideEncryptionConfigurationNotFoundError { bucket } => {
                out.push(("BucketName", bucket.clone()))
            }
            NoSuchKey { key } => out.push(("Key", key.clone())),
            NoSuchVersion { key, version_id } => {
                out.push(("Key", key.clone()));
                out.push(("VersionId", version_id.clone()));
            }
            NoSuchUpload { upload_id } => out.push(("UploadId", upload_id.clone())),
            KeyTooLongError => out.push(("MaxSizeAllowed", "1024".to_owned())),
            InvalidArgument { name, value, .. } => {
                if let Some(name) = name {
                    out.push(("ArgumentName", name.clone()));
                }
                if let Some(value) = value {
                    out.push(("ArgumentValue", value.clone()));
                }
            }
            InvalidEncryptionAlgorithmError { value } => {
                out.push(("ArgumentName", "x-amz-server-side-encryption".to_owned()));
                out.push(("ArgumentValue", value.clone()));
            }
            InvalidRange { range, size } => {
                out.push(("RangeRequested", range.clone()));
                out.push(("ActualObjectSize", size.to_string()));
            }
            InvalidPartNumber { requested, actual } => {
                out.push(("PartNumberRequested", requested.to_string()));
                out.push(("ActualPartCount", actual.to_string()));
            }
            PreconditionFailed { condition } => out.push(("Condition", condition.clone())),
            MethodNotAllowed {
                method,
                resource_type,
            }
            | CorsForbidden {
                method,
                resource_type,
                ..
            } => {
                out.push(("Method", method.clone()));
                out.push(("ResourceType", (*resource_type).to_owned()));
            }
            _ => {}
        }
        out
    }

    /// The XML error document. `resource` is the request path (AWS puts the bucket/key path
    /// there), `request_id` goes into both `<RequestId>` and `<HostId>`: the gateway has no
    /// separate host identifier, and clients only log it.
    pub(crate) fn to_xml(&self, resource: &str, request_id: &str) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
        push_elem(&mut out, "Code", self.code());
        push_elem(&mut out, "Message", &self.message());
        for (name, value) in self.extra_elements() {
            push_elem(&mut out, name, &value);
        }
        // AWS's CORS refusals name no resource (Code, Message, Method, ResourceType, ids).
        if !matches!(self, S3Error::CorsForbidden { .. }) {
            push_elem(&mut out, "Resource", resource);
        }
        push_elem(&mut out, "RequestId", request_id);
        push_elem(&mut out, "HostId", request_id);
        out.push_str("</Error>");
        out
    }
}

/// AWS's `StringToSignBytes` form: each byte as two lower-case hex digits, space-separated.
fn hex_bytes(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for (i, b) in s.bytes().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

// ---- errors of the layers below, mapped once ----

use crate::kms::KmsClientError;
use crate::sse::SseError;
use crate::sse::master::MasterError;
use crate::store::StoreError;

impl From<StoreError> for S3Error {
    /// Storage failures: an unreachable backend is 503 (clients retry); anything else about
    /// stored data is the gateway's fault, 500.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => S3Error::InternalError("object data is missing".into()),
            StoreError::Backend(m) => S3Error::ServiceUnavailable(m),
            StoreError::ConditionFailed => S3Error::ConditionalRequestConflict,
            other => S3Error::InternalError(other.to_string()),
        }
    }
}

impl From<KmsClientError> for S3Error {
    /// As S3 surfaces KMS failures: the KMS exception as `KMS.<Exception>` with its status, and
    /// 503 when the KMS cannot be reached.
    fn from(e: KmsClientError) -> Self {
        match e {
            KmsClientError::Unavailable(m) => {
                S3Error::ServiceUnavailable(format!("the KMS is unavailable: {m}"))
            }
            KmsClientError::Kms { type_name, message } => S3Error::kms(&type_name, message),
        }
    }
}

impl From<SseError> for S3Error {
    fn from(e: SseError) -> Self {
        match e {
            SseError::WrongCustomerKey => S3Error::AccessDenied(
                "Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key.".into(),
            ),
            SseError::CustomerKeyRequired => S3Error::InvalidRequest(
                "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.".into(),
            ),
            SseError::CustomerKeyNotApplicable => S3Error::InvalidRequest(
                "The encryption parameters are not applicable to this object.".into(),
            ),
            SseError::PlainCopyMismatch => S3Error::InvalidRequest(
                "Copying between a plaintext comparison bucket and encrypted objects is not supported".into(),
            ),
            SseError::Kms(e) => e.into(),
            SseError::Master(MasterError::Kms(e) | MasterError::NotService(e)) => e.into(),
            SseError::Master(MasterError::Store(StoreError::Backend(m))) => {
                S3Error::ServiceUnavailable(format!("storage backend: {m}"))
            }
            SseError::Store(e) => e.into(),
            // The client sent less than it announced; its own error was reported first.
            SseError::SourceAborted => S3Error::IncompleteBody,
            other @ (SseError::Master(_)
            | SseError::SealedKeyCorrupt
            | SseError::RecordTampered
            | SseError::BadDataKey
            | SseError::Envelope(_)
            | SseError::Tampered(_)
            | SseError::WriteStage(_)
            | SseError::InlineOverflow) => S3Error::InternalError(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> String {
        x.to_owned()
    }

    #[test]
    fn status_and_code_table() {
        let table: Vec<(S3Error, u16, &str)> = vec![
            (
                S3Error::AccessDenied("Access Denied".into()),
                403,
                "AccessDenied",
            ),
            (
                S3Error::RequestExpired {
                    expires: s("60"),
                    expires_at: s("a"),
                    server_time: s("b"),
                },
                403,
                "AccessDenied",
            ),
            (
                S3Error::HeadersNotSigned { headers: s("x") },
                403,
                "AccessDenied",
            ),
            (
                S3Error::InvalidAccessKeyId { access_key: s("A") },
                403,
                "InvalidAccessKeyId",
            ),
            (
                S3Error::SignatureDoesNotMatch {
                    access_key: s("A"),
                    string_to_sign: s(""),
                    canonical_request: s(""),
                },
                403,
                "SignatureDoesNotMatch",
            ),
            (
                S3Error::RequestTimeTooSkewed {
                    request_time: s("a"),
                    server_time: s("b"),
                },
                403,
                "RequestTimeTooSkewed",
            ),
            (
                S3Error::AuthorizationHeaderMalformed {
                    msg: s("m"),
                    region: None,
                },
                400,
                "AuthorizationHeaderMalformed",
            ),
            (
                S3Error::AuthorizationQueryParametersError(s("m")),
                400,
                "AuthorizationQueryParametersError",
            ),
            (
                S3Error::MissingSecurityHeader { header: s("h") },
                400,
                "MissingSecurityHeader",
            ),
            (
                S3Error::XAmzContentSHA256Mismatch,
                400,
                "XAmzContentSHA256Mismatch",
            ),
            (
                S3Error::NoSuchBucket { bucket: s("b") },
                404,
                "NoSuchBucket",
            ),
            (S3Error::NoSuchKey { key: s("k") }, 404, "NoSuchKey"),
            (
                S3Error::NoSuchUpload { upload_id: s("u") },
                404,
                "NoSuchUpload",
            ),
            (
                S3Error::BucketAlreadyOwnedByYou { bucket: s("b") },
                409,
                "BucketAlreadyOwnedByYou",
            ),
            (
                S3Error::BucketAlreadyExists { bucket: s("b") },
                409,
                "BucketAlreadyExists",
            ),
            (
                S3Error::BucketNotEmpty { bucket: s("b") },
                409,
                "BucketNotEmpty",
            ),
            (
                S3Error::InvalidBucketName { bucket: s("B") },
                400,
                "InvalidBucketName",
            ),
            (S3Error::KeyTooLongError, 400, "KeyTooLongError"),
            (
                S3Error::IllegalLocationConstraint(s("m")),
                400,
                "IllegalLocationConstraintException",
            ),
            (
                S3Error::ServerSideEncryptionConfigurationNotFoundError { bucket: s("b") },
                404,
                "ServerSideEncryptionConfigurationNotFoundError",
            ),
            (S3Error::invalid_argument("m"), 400, "InvalidArgument"),
            (S3Error::InvalidRequest(s("m")), 400, "InvalidRequest"),
            (S3Error::BadRequest(s("m")), 400, "BadRequest"),
            (
                S3Error::CorsForbidden {
                    msg: s("m"),
                    method: s("GET"),
                    resource_type: "OBJECT",
                },
                403,
                "AccessForbidden",
            ),
            (
                S3Error::NoSuchCORSConfiguration { bucket: s("b") },
                404,
                "NoSuchCORSConfiguration",
            ),
            (
                S3Error::NoSuchBucketPolicy { bucket: s("b") },
                404,
                "NoSuchBucketPolicy",
            ),
            (
                S3Error::MalformedPolicy(s("Policy has invalid resource")),
                400,
                "MalformedPolicy",
            ),
            (S3Error::InvalidURI, 400, "InvalidURI"),
            (
                S3Error::InvalidRange {
                    range: s("bytes=9-"),
                    size: 3,
                },
                416,
                "InvalidRange",
            ),
            (
                S3Error::InvalidPartNumber {
                    requested: 3,
                    actual: 1,
                },
                416,
                "InvalidPartNumber",
            ),
            (S3Error::InvalidDigest, 400, "InvalidDigest"),
            (S3Error::BadDigest { msg: s("m") }, 400, "BadDigest"),
            (S3Error::MalformedXML, 400, "MalformedXML"),
            (S3Error::InvalidTag(s("t")), 400, "InvalidTag"),
            (
                S3Error::NoSuchTagSet { bucket: s("b") },
                404,
                "NoSuchTagSet",
            ),
            (
                S3Error::NoSuchVersion {
                    key: s("k"),
                    version_id: s("v"),
                },
                404,
                "NoSuchVersion",
            ),
            (
                S3Error::ConditionalRequestConflict,
                409,
                "ConditionalRequestConflict",
            ),
            (
                S3Error::MissingRequestBodyError,
                400,
                "MissingRequestBodyError",
            ),
            (S3Error::EntityTooSmall, 400, "EntityTooSmall"),
            (S3Error::MalformedPOSTRequest, 400, "MalformedPOSTRequest"),
            (
                S3Error::IncorrectNumberOfFilesInPostRequest,
                400,
                "IncorrectNumberOfFilesInPostRequest",
            ),
            (
                S3Error::MaxPostPreDataLengthExceededError,
                400,
                "MaxPostPreDataLengthExceededError",
            ),
            (
                S3Error::InvalidPolicyDocument(s("Invalid Policy: Invalid JSON.")),
                400,
                "InvalidPolicyDocument",
            ),
            (S3Error::EntityTooLarge, 400, "EntityTooLarge"),
            (S3Error::invalid_part(), 400, "InvalidPart"),
            (S3Error::InvalidPartOrder, 400, "InvalidPartOrder"),
            (S3Error::IncompleteBody, 400, "IncompleteBody"),
            (S3Error::MalformedTrailerError, 400, "MalformedTrailerError"),
            (S3Error::InvalidChunkSizeError, 400, "InvalidChunkSizeError"),
            (
                S3Error::InvalidEncryptionAlgorithmError { value: s("v") },
                400,
                "InvalidEncryptionAlgorithmError",
            ),
            (S3Error::MissingContentLength, 411, "MissingContentLength"),
            (S3Error::RequestTimeout, 400, "RequestTimeout"),
            (
                S3Error::PreconditionFailed {
                    condition: s("If-Match"),
                },
                412,
                "PreconditionFailed",
            ),
            (
                S3Error::NotModified {
                    headers: Vec::new(),
                },
                304,
                "NotModified",
            ),
            (
                S3Error::MethodNotAllowed {
                    method: s("PATCH"),
                    resource_type: "OBJECT",
                },
                405,
                "MethodNotAllowed",
            ),
            (S3Error::NotImplemented(s("m")), 501, "NotImplemented"),
            (S3Error::InvalidObjectState, 403, "InvalidObjectState"),
            (S3Error::OperationAborted, 409, "OperationAborted"),
            (
                S3Error::ObjectLockConfigurationNotFoundError { bucket: s("b") },
                404,
                "ObjectLockConfigurationNotFoundError",
            ),
            (
                S3Error::NoSuchObjectLockConfiguration,
                404,
                "NoSuchObjectLockConfiguration",
            ),
            (
                S3Error::InvalidBucketState(s("m")),
                409,
                "InvalidBucketState",
            ),
            (
                S3Error::kms("DisabledException", "arn is disabled."),
                400,
                "KMS.DisabledException",
            ),
            (
                S3Error::kms("AccessDeniedException", "no"),
                403,
                "AccessDenied",
            ),
            (
                S3Error::Kms {
                    code: s("KMS.KMSInternalException"),
                    msg: s("m"),
                    status: StatusCode::SERVICE_UNAVAILABLE,
                },
                503,
                "KMS.KMSInternalException",
            ),
            (S3Error::SlowDown, 503, "SlowDown"),
            (
                S3Error::ServiceUnavailable(s("kms down")),
                503,
                "ServiceUnavailable",
            ),
            (S3Error::InternalError(s("disk")), 500, "InternalError"),
        ];
        for (err, status, code) in table {
            assert_eq!(err.status().as_u16(), status, "{err:?}");
            assert_eq!(err.code(), code, "{err:?}");
            assert!(!err.message().is_empty(), "{err:?}");
        }
    }

    #[test]
    fn no_such_key_xml_escapes_key_and_resource() {
        let err = S3Error::NoSuchKey {
            key: s("a<b>&\"c'\r"),
        };
        assert_eq!(
            err.to_xml("/bkt/a<b>", "REQ1"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
             <Message>The specified key does not exist.</Message>\
             <Key>a&lt;b&gt;&amp;&quot;c&apos;&#13;</Key>\
             <Resource>/bkt/a&lt;b&gt;</Resource><RequestId>REQ1</RequestId>\
             <HostId>REQ1</HostId></Error>"
        );
    }

    #[test]
    fn message_is_escaped() {
        let err = S3Error::InvalidRequest(s("bad <thing> & more"));
        let xml = err.to_xml("/", "r");
        assert!(xml.contains("<Message>bad &lt;thing&gt; &amp; more</Message>"));
    }

    #[test]
    fn invalid_argument_extras() {
        let err = S3Error::invalid_argument_named(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            "0",
        );
        let xml = err.to_xml("/b/k", "r");
        assert!(xml.contains(
            "<Code>InvalidArgument</Code><Message>Part number must be an integer between 1 and \
             10000, inclusive</Message><ArgumentName>partNumber</ArgumentName>\
             <ArgumentValue>0</ArgumentValue><Resource>"
        ));
    }

    #[test]
    fn signature_mismatch_extras_and_bytes() {
        let err = S3Error::SignatureDoesNotMatch {
            access_key: s("AKID"),
            string_to_sign: s("AB\n"),
            canonical_request: s("GET"),
        };
        let xml = err.to_xml("/", "r");
        assert!(xml.contains(
            "<AWSAccessKeyId>AKID</AWSAccessKeyId><StringToSign>AB&#10;</StringToSign>\
             <StringToSignBytes>41 42 0a</StringToSignBytes>\
             <CanonicalRequest>GET</CanonicalRequest>\
             <CanonicalRequestBytes>47 45 54</CanonicalRequestBytes>"
        ));
    }

    #[test]
    fn encryption_algorithm_names_the_sse_header() {
        let err = S3Error::InvalidEncryptionAlgorithmError { value: s("AES128") };
        assert!(err.to_xml("/b/k", "r").contains(
            "<ArgumentName>x-amz-server-side-encryption</ArgumentName>\
             <ArgumentValue>AES128</ArgumentValue>"
        ));
    }

    #[test]
    fn skew_carries_max_allowed() {
        let err = S3Error::RequestTimeTooSkewed {
            request_time: s("20260101T000000Z"),
            server_time: s("2026-01-01T00:20:00Z"),
        };
        assert!(err.to_xml("/", "r").contains(
            "<RequestTime>20260101T000000Z</RequestTime><ServerTime>2026-01-01T00:20:00Z\
             </ServerTime><MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>"
        ));
    }

    #[test]
    fn internal_detail_never_reaches_client() {
        let err = S3Error::InternalError(s("/secret/path failed"));
        let xml = err.to_xml("/", "r");
        assert!(!xml.contains("secret"));
        assert!(format!("{err:?}").contains("secret"));
    }

    #[test]
    fn not_modified_has_no_body() {
        assert!(
            !S3Error::NotModified {
                headers: Vec::new()
            }
            .has_body()
        );
        assert!(S3Error::MalformedXML.has_body());
    }

    #[test]
    fn kms_failures_map_as_s3_surfaces_them() {
        let kms = |t: &str| KmsClientError::Kms {
            type_name: t.into(),
            message: "m".into(),
        };
        let cases = [
            (
                kms("IncorrectKeyException"),
                "KMS.IncorrectKeyException",
                400,
            ),
            (kms("DisabledException"), "KMS.DisabledException", 400),
            (kms("AccessDeniedException"), "AccessDenied", 403),
            (
                KmsClientError::Unavailable("down".into()),
                "ServiceUnavailable",
                503,
            ),
        ];
        for (e, code, status) in cases {
            let s3 = S3Error::from(SseError::Kms(e));
            assert_eq!((s3.code(), s3.status().as_u16()), (code, status));
        }
        let master = S3Error::from(SseError::Master(MasterError::Kms(kms("DisabledException"))));
        assert_eq!(master.code(), "KMS.DisabledException");
    }

    #[test]
    fn sse_failures_map_to_aws_codes() {
        for (e, code, status) in [
            (SseError::WrongCustomerKey, "AccessDenied", 403),
            (SseError::CustomerKeyRequired, "InvalidRequest", 400),
            (SseError::CustomerKeyNotApplicable, "InvalidRequest", 400),
            (SseError::SealedKeyCorrupt, "InternalError", 500),
            (
                SseError::Store(StoreError::Backend("x".into())),
                "ServiceUnavailable",
                503,
            ),
        ] {
            let s3 = S3Error::from(e);
            assert_eq!((s3.code(), s3.status().as_u16()), (code, status));
        }
    }
}
