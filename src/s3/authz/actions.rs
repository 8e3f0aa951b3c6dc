//! Every [`Endpoint`] → the IAM actions it needs and the resources they apply to (S3 User
//! Guide: "Actions, resources, and condition keys for Amazon S3"). The match is exhaustive, so a
//! new endpoint does not compile until it is given its authorization here.

use crate::s3::router::Endpoint;

/// What one check is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Actions on no bucket (ListAllMyBuckets).
    Service,
    Bucket(String),
    Object {
        bucket: String,
        key: String,
        /// The version a request names (`versionId`): an object ACL is that version's.
        version_id: Option<String>,
    },
}

impl Target {
    pub(crate) fn bucket(&self) -> Option<&str> {
        match self {
            Target::Service => None,
            Target::Bucket(b) | Target::Object { bucket: b, .. } => Some(b),
        }
    }

    /// `arn:aws:s3:::bucket`, `arn:aws:s3:::bucket/key`, or `arn:aws:s3:::*` for the service.
    pub(crate) fn arn(&self) -> String {
        match self {
            Target::Service => "arn:aws:s3:::*".into(),
            Target::Bucket(b) => format!("arn:aws:s3:::{b}"),
            Target::Object { bucket, key, .. } => format!("arn:aws:s3:::{bucket}/{key}"),
        }
    }
}

/// One action on one resource; a request is allowed when every check of it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Check {
    pub(crate) action: &'static str,
    pub(crate) target: Target,
}

impl Check {
    pub(crate) fn bucket(action: &'static str, bucket: &str) -> Check {
        Check {
            action,
            target: Target::Bucket(bucket.to_owned()),
        }
    }

    pub(crate) fn object(action: &'static str, bucket: &str, key: &str) -> Check {
        Check::object_version(action, bucket, key, &None)
    }

    /// A check on version `version_id` of an object (the current one for `None`).
    pub(crate) fn object_version(
        action: &'static str,
        bucket: &str,
        key: &str,
        version_id: &Option<String>,
    ) -> Check {
        Check {
            action,
            target: Target::Object {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                version_id: version_id.clone(),
            },
        }
    }
}

/// The checks made before `ep`'s handler runs. Empty for the two endpoints whose decision is
/// only possible later: DeleteObjects (AWS checks `s3:DeleteObject` per key and reports each
/// refusal as that key's AccessDenied in the result) and a browser POST upload (the
/// credentials are in the form body); their handlers call [`super::check`].
pub(crate) fn checks(ep: &Endpoint) -> Vec<Check> {
    use Endpoint::*;
    let versioned = |v: &Option<String>, plain, version| if v.is_some() { version } else { plain };
    match ep {
        ListBuckets { .. } => vec![Check {
            action: "s3:ListAllMyBuckets",
            target: Target::Service,
        }],
        CreateBucket { bucket } => vec![Check::bucket("s3:CreateBucket", bucket)],
        // HeadBucket asks whether the caller may list it (S3 API Reference: HeadBucket).
        HeadBucket { bucket } => vec![Check::bucket("s3:ListBucket", bucket)],
        DeleteBucket { bucket } => vec![Check::bucket("s3:DeleteBucket", bucket)],
        GetBucketLocation { bucket } => vec![Check::bucket("s3:GetBucketLocation", bucket)],
        GetBucketEncryption { bucket } => {
            vec![Check::bucket("s3:GetEncryptionConfiguration", bucket)]
        }
        PutBucketEncryption { bucket } | DeleteBucketEncryption { bucket } => {
            vec![Check::bucket("s3:PutEncryptionConfiguration", bucket)]
        }
        GetBucketCors { bucket } => vec![Check::bucket("s3:GetBucketCORS", bucket)],
        PutBucketCors { bucket } | DeleteBucketCors { bucket } => {
            vec![Check::bucket("s3:PutBucketCORS", bucket)]
        }
        GetBucketPolicy { bucket } => vec![Check::bucket("s3:GetBucketPolicy", bucket)],
        PutBucketPolicy { bucket } => vec![Check::bucket("s3:PutBucketPolicy", bucket)],
        DeleteBucketPolicy { bucket } => vec![Check::bucket("s3:DeleteBucketPolicy", bucket)],
        GetBucketPolicyStatus { bucket } => {
            vec![Check::bucket("s3:GetBucketPolicyStatus", bucket)]
        }
        GetPublicAccessBlock { bucket } => {
            vec![Check::bucket("s3:GetBucketPublicAccessBlock", bucket)]
        }
        // AWS has no s3:DeleteBucketPublicAccessBlock: removing the block is putting none.
        PutPublicAccessBlock { bucket } | DeletePublicAccessBlock { bucket } => {
            vec![Check::bucket("s3:PutBucketPublicAccessBlock", bucket)]
        }
        GetBucketOwnershipControls { bucket } => {
            vec![Check::bucket("s3:GetBucketOwnershipControls", bucket)]
        }
        PutBucketOwnershipControls { bucket } | DeleteBucketOwnershipControls { bucket } => {
            vec![Check::bucket("s3:PutBucketOwnershipControls", bucket)]
        }
        GetBucketVersioning { bucket } => vec![Check::bucket("s3:GetBucketVersioning", bucket)],
        PutBucketVersioning { bucket } => vec![Check::bucket("s3:PutBucketVersioning", bucket)],
        ListObjectVersions { bucket, .. } => {
            vec![Check::bucket("s3:ListBucketVersions", bucket)]
        }
        GetObjectLockConfiguration { bucket } => {
            vec![Check::bucket("s3:GetBucketObjectLockConfiguration", bucket)]
        }
        PutObjectLockConfiguration { bucket } => {
            vec![Check::bucket("s3:PutBucketObjectLockConfiguration", bucket)]
        }
        // One action whether or not a version is named (AWS has no *VersionRetention); the
        // governance bypass is checked by the handler, only when a change needs it.
        GetObjectRetention {
            bucket,
            key,
            version_id,
        } => vec![Check::object_version(
            "s3:GetObjectRetention",
            bucket,
            key,
            version_id,
        )],
        PutObjectRetention {
            bucket,
            key,
            version_id,
        } => vec![Check::object_version(
            "s3:PutObjectRetention",
            bucket,
            key,
            version_id,
        )],
        GetObjectLegalHold {
            bucket,
            key,
            version_id,
        } => vec![Check::object_version(
            "s3:GetObjectLegalHold",
            bucket,
            key,
            version_id,
        )],
        PutObjectLegalHold {
            bucket,
            key,
            version_id,
        } => vec![Check::object_version(
            "s3:PutObjectLegalHold",
            bucket,
            key,
            version_id,
        )],
        GetBucketTagging { bucket } => vec![Check::bucket("s3:GetBucketTagging", bucket)],
        // AWS has no s3:DeleteBucketTagging: removing tags is putting none.
        PutBucketTagging { bucket } | DeleteBucketTagging { bucket } => {
            vec![Check::bucket("s3:PutBucketTagging", bucket)]
        }
        GetBucketLifecycleConfiguration { bucket } => {
            vec![Check::bucket("s3:GetLifecycleConfiguration", bucket)]
        }
        // AWS has no s3:DeleteLifecycleConfiguration: removing the rules is putting none.
        PutBucketLifecycleConfiguration { bucket } | DeleteBucketLifecycle { bucket } => {
            vec![Check::bucket("s3:PutLifecycleConfiguration", bucket)]
        }
        GetBucketAcl { bucket } => vec![Check::bucket("s3:GetBucketAcl", bucket)],
        PutBucketAcl { bucket } => vec![Check::bucket("s3:PutBucketAcl", bucket)],
        PutObjectAcl {
            bucket,
            key,
            version_id,
        } => vec![Check::object_version(
            versioned(version_id, "s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
            bucket,
            key,
            version_id,
        )],
        GetObjectAcl {
            bucket,
            key,
            version_id,
        } => vec![Check::object_version(
            versioned(version_id, "s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
            bucket,
            key,
            version_id,
        )],
        GetObjectTagging {
            bucket,
            key,
            version_id,
        } => vec![Check::object_version(
            versioned(
                version_id,
                "s3:GetObjectTagging",
                "s3:GetObjectVersionTagging",
            ),
            bucket,
            key,
            version_id,
        )],
        PutObjectTagging {
            bucket,
            key,
            version_id,
        } => vec![Check::object_version(
            versioned(
                version_id,
                "s3:PutObjectTagging",
                "s3:PutObjectVersionTagging",
            ),
            bucket,
            key,
            version_id,
        )],
        DeleteObjectTagging {
            bucket,
            key,
            version_id,
        } => vec![Check::object_version(
            versioned(
                version_id,
                "s3:DeleteObjectTagging",
                "s3:DeleteObjectVersionTagging",
            ),
            bucket,
            key,
            version_id,
        )],
        GetObjectAttributes {
            bucket,
            key,
            version_id,
            ..
        } => vec![Check::object_version(
            versioned(
                version_id,
                "s3:GetObjectAttributes",
                "s3:GetObjectVersionAttributes",
            ),
            bucket,
            key,
            version_id,
        )],
        // Answered before authentication from the bucket's CORS rules alone.
        Preflight { .. } => vec![],
        ListObjects { bucket, .. } | ListObjectsV2 { bucket, .. } => {
            vec![Check::bucket("s3:ListBucket", bucket)]
        }
        ListMultipartUploads { bucket, .. } => {
            vec![Check::bucket("s3:ListBucketMultipartUploads", bucket)]
        }
        DeleteObjects { .. } => vec![],
        // Authenticated inside its form: the handler checks s3:PutObject once it knows the key.
        PostObject { .. } => vec![],
        PutObject { bucket, key }
        | CreateMultipartUpload { bucket, key }
        | UploadPart { bucket, key, .. }
        | CompleteMultipartUpload { bucket, key, .. } => {
            vec![Check::object("s3:PutObject", bucket, key)]
        }
        CopyObject {
            bucket,
            key,
            source,
        }
        | UploadPartCopy {
            bucket,
            key,
            source,
            ..
        } => vec![
            Check::object_version(
                versioned(&source.version_id, "s3:GetObject", "s3:GetObjectVersion"),
                &source.bucket,
                &source.key,
                &source.version_id,
            ),
            Check::object("s3:PutObject", bucket, key),
        ],
        GetObject {
            bucket,
            key,
            version_id,
            ..
        }
        | HeadObject {
            bucket,
            key,
            version_id,
            ..
        } => vec![Check::object_version(
            versioned(version_id, "s3:GetObject", "s3:GetObjectVersion"),
            bucket,
            key,
            version_id,
        )],
        DeleteObject {
            bucket,
            key,
            version_id,
        } => vec![Check::object_version(
            versioned(version_id, "s3:DeleteObject", "s3:DeleteObjectVersion"),
            bucket,
            key,
            version_id,
        )],
        AbortMultipartUpload { bucket, key, .. } => {
            vec![Check::object("s3:AbortMultipartUpload", bucket, key)]
        }
        ListParts { bucket, key, .. } => {
            vec![Check::object("s3:ListMultipartUploadParts", bucket, key)]
        }
        Unsupported {
            bucket,
            key,
            operation,
        } => unsupported(bucket.as_deref(), key.as_deref(), operation),
    }
}

/// Operations the gateway answers 501: authorized all the same, so a caller learns nothing
/// about a bucket it may not touch (not even that the operation is unimplemented).
fn unsupported(bucket: Option<&str>, key: Option<&str>, operation: &str) -> Vec<Check> {
    // A browser POST upload authenticates inside its form; its handler checks.
    if operation == "PostObject" {
        return vec![];
    }
    let action = unsupported_action(operation);
    let target = match (bucket, key) {
        (Some(b), Some(k)) => Target::Object {
            bucket: b.to_owned(),
            key: k.to_owned(),
            version_id: None,
        },
        (Some(b), None) => Target::Bucket(b.to_owned()),
        _ => Target::Service,
    };
    vec![Check { action, target }]
}

/// IAM action of an operation the router knows but the gateway does not implement. Where the
/// IAM name differs from `s3:<Operation>` the table says so; anything else is
/// `s3:<Operation>`-shaped by construction of the router's tables.
fn unsupported_action(operation: &str) -> &'static str {
    match operation {
        "DeleteBucketWebsite" => "s3:DeleteBucketWebsite",
        "GetBucketNotificationConfiguration" => "s3:GetBucketNotification",
        "PutBucketNotificationConfiguration" => "s3:PutBucketNotification",
        "GetBucketReplication" => "s3:GetReplicationConfiguration",
        "PutBucketReplication" | "DeleteBucketReplication" => "s3:PutReplicationConfiguration",
        "GetBucketAccelerateConfiguration" => "s3:GetAccelerateConfiguration",
        "PutBucketAccelerateConfiguration" => "s3:PutAccelerateConfiguration",
        "GetBucketAnalyticsConfiguration" | "ListBucketAnalyticsConfigurations" => {
            "s3:GetAnalyticsConfiguration"
        }
        "PutBucketAnalyticsConfiguration" | "DeleteBucketAnalyticsConfiguration" => {
            "s3:PutAnalyticsConfiguration"
        }
        "GetBucketMetricsConfiguration" | "ListBucketMetricsConfigurations" => {
            "s3:GetMetricsConfiguration"
        }
        "PutBucketMetricsConfiguration" | "DeleteBucketMetricsConfiguration" => {
            "s3:PutMetricsConfiguration"
        }
        "GetBucketInventoryConfiguration" | "ListBucketInventoryConfigurations" => {
            "s3:GetInventoryConfiguration"
        }
        "PutBucketInventoryConfiguration" | "DeleteBucketInventoryConfiguration" => {
            "s3:PutInventoryConfiguration"
        }
        "GetBucketIntelligentTieringConfiguration"
        | "ListBucketIntelligentTieringConfigurations" => "s3:GetIntelligentTieringConfiguration",
        "PutBucketIntelligentTieringConfiguration"
        | "DeleteBucketIntelligentTieringConfiguration" => "s3:PutIntelligentTieringConfiguration",
        "GetBucketMetadataTableConfiguration" => "s3:GetBucketMetadataTableConfiguration",
        "CreateBucketMetadataTableConfiguration" => "s3:CreateBucketMetadataTableConfiguration",
        "DeleteBucketMetadataTableConfiguration" => "s3:DeleteBucketMetadataTableConfiguration",
        "CreateSession" => "s3express:CreateSession",
        "SelectObjectContent" => "s3:GetObject",
        "UpdateObjectEncryption" => "s3:PutObject",
        "GetBucketWebsite" => "s3:GetBucketWebsite",
        "PutBucketWebsite" => "s3:PutBucketWebsite",
        "GetBucketLogging" => "s3:GetBucketLogging",
        "PutBucketLogging" => "s3:PutBucketLogging",
        "GetBucketRequestPayment" => "s3:GetBucketRequestPayment",
        "PutBucketRequestPayment" => "s3:PutBucketRequestPayment",
        "GetObjectTorrent" => "s3:GetObjectTorrent",
        "RestoreObject" => "s3:RestoreObject",
        // Every operation the router names is listed above (a unit test holds it to that);
        // an unknown one must still be refused to anyone without full rights.
        _ => "s3:*",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::router::parse;
    use http::{HeaderMap, Method, Uri};

    fn route(method: &str, uri: &str, headers: &[(&str, &str)]) -> Endpoint {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let uri: Uri = uri.parse().unwrap();
        parse(
            &Method::from_bytes(method.as_bytes()).unwrap(),
            &uri,
            &h,
            &[],
        )
        .unwrap()
    }

    fn summary(ep: &Endpoint) -> Vec<(String, String)> {
        checks(ep)
            .into_iter()
            .map(|c| (c.action.to_owned(), c.target.arn()))
            .collect()
    }

    /// `(method, uri, headers, expected (action, resource) pairs)`.
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [(&'a str, &'a str)],
    );

    #[test]
    fn table() {
        let copy = [("x-amz-copy-source", "/src/a%20b")];
        let copy_v = [("x-amz-copy-source", "/src/a?versionId=v1")];
        let rows: &[Row] = &[
            (
                "GET",
                "/",
                &[],
                &[("s3:ListAllMyBuckets", "arn:aws:s3:::*")],
            ),
            ("PUT", "/b", &[], &[("s3:CreateBucket", "arn:aws:s3:::b")]),
            ("HEAD", "/b", &[], &[("s3:ListBucket", "arn:aws:s3:::b")]),
            (
                "DELETE",
                "/b",
                &[],
                &[("s3:DeleteBucket", "arn:aws:s3:::b")],
            ),
            (
                "GET",
                "/b?location",
                &[],
                &[("s3:GetBucketLocation", "arn:aws:s3:::b")],
            ),
            ("GET", "/b", &[], &[("s3:ListBucket", "arn:aws:s3:::b")]),
            (
                "GET",
                "/b?list-type=2&prefix=p",
                &[],
                &[("s3:ListBucket", "arn:aws:s3:::b")],
            ),
            (
                "GET",
                "/b?uploads",
                &[],
                &[("s3:ListBucketMultipartUploads", "arn:aws:s3:::b")],
            ),
            (
                "GET",
                "/b?encryption",
                &[],
                &[("s3:GetEncryptionConfiguration", "arn:aws:s3:::b")],
            ),
            (
                "PUT",
                "/b?encryption",
                &[],
                &[("s3:PutEncryptionConfiguration", "arn:aws:s3:::b")],
            ),
            (
                "DELETE",
                "/b?encryption",
                &[],
                &[("s3:PutEncryptionConfiguration", "arn:aws:s3:::b")],
            ),
            (
                "GET",
                "/b?cors",
                &[],
                &[("s3:GetBucketCORS", "arn:aws:s3:::b")],
            ),
            (
                "PUT",
                "/b?cors",
                &[],
                &[("s3:PutBucketCORS", "arn:aws:s3:::b")],
            ),
            (
                "DELETE",
                "/b?cors",
                &[],
                &[("s3:PutBucketCORS", "arn:aws:s3:::b")],
            ),
            (
                "GET",
                "/b?lifecycle",
                &[],
                &[("s3:GetLifecycleConfiguration", "arn:aws:s3:::b")],
            ),
            (
                "PUT",
                "/b?lifecycle",
                &[],
                &[("s3:PutLifecycleConfiguration", "arn:aws:s3:::b")],
            ),
            (
                "DELETE",
                "/b?lifecycle",
                &[],
                &[("s3:PutLifecycleConfiguration", "arn:aws:s3:::b")],
            ),
            (
                "GET",
                "/b?policy",
                &[],
                &[("s3:GetBucketPolicy", "arn:aws:s3:::b")],
            ),
            (
                "PUT",
                "/b?policy",
                &[],
                &[("s3:PutBucketPolicy", "arn:aws:s3:::b")],
            ),
            (
                "DELETE",
                "/b?policy",
                &[],
                &[("s3:DeleteBucketPolicy", "arn:aws:s3:::b")],
            ),
            (
                "GET",
                "/b?policyStatus",
                &[],
                &[("s3:GetBucketPolicyStatus", "arn:aws:s3:::b")],
            ),
            (
                "GET",
                "/b?publicAccessBlock",
                &[],
                &[("s3:GetBucketPublicAccessBlock", "arn:aws:s3:::b")],
            ),
            (
                "PUT",
                "/b?publicAccessBlock",
                &[],
                &[("s3:PutBucketPublicAccessBlock", "arn:aws:s3:::b")],
            ),
            (
                "DELETE",
                "/b?publicAccessBlock",
                &[],
                &[("s3:PutBucketPublicAccessBlock", "arn:aws:s3:::b")],
            ),
            (
                "GET",
                "/b?ownershipControls",
                &[],
                &[("s3:GetBucketOwnershipControls", "arn:aws:s3:::b")],
            ),
            (
                "PUT",
                "/b?ownershipControls",
                &[],
                &[("s3:PutBucketOwnershipControls", "arn:aws:s3:::b")],
            ),
            (
                "DELETE",
                "/b?ownershipControls",
                &[],
                &[("s3:PutBucketOwnershipControls", "arn:aws:s3:::b")],
            ),
            ("POST", "/b?delete", &[], &[]),
            ("POST", "/b", &[], &[]),
            ("PUT", "/b/k", &[], &[("s3:PutObject", "arn:aws:s3:::b/k")]),
            ("GET", "/b/k", &[], &[("s3:GetObject", "arn:aws:s3:::b/k")]),
            (
                "GET",
                "/b/k?versionId=v",
                &[],
                &[("s3:GetObjectVersion", "arn:aws:s3:::b/k")],
            ),
            ("HEAD", "/b/k", &[], &[("s3:GetObject", "arn:aws:s3:::b/k")]),
            (
                "DELETE",
                "/b/k",
                &[],
                &[("s3:DeleteObject", "arn:aws:s3:::b/k")],
            ),
            (
                "DELETE",
                "/b/k?versionId=v",
                &[],
                &[("s3:DeleteObjectVersion", "arn:aws:s3:::b/k")],
            ),
            (
                "POST",
                "/b/k?uploads",
                &[],
                &[("s3:PutObject", "arn:aws:s3:::b/k")],
            ),
            (
                "PUT",
                "/b/k?partNumber=1&uploadId=u",
                &[],
                &[("s3:PutObject", "arn:aws:s3:::b/k")],
            ),
            (
                "POST",
                "/b/k?uploadId=u",
                &[],
                &[("s3:PutObject", "arn:aws:s3:::b/k")],
            ),
            (
                "DELETE",
                "/b/k?uploadId=u",
                &[],
                &[("s3:AbortMultipartUpload", "arn:aws:s3:::b/k")],
            ),
            (
                "GET",
                "/b/k?uploadId=u",
                &[],
                &[("s3:ListMultipartUploadParts", "arn:aws:s3:::b/k")],
            ),
            (
                "PUT",
                "/b/k",
                &copy,
                &[
                    ("s3:GetObject", "arn:aws:s3:::src/a b"),
                    ("s3:PutObject", "arn:aws:s3:::b/k"),
                ],
            ),
            (
                "PUT",
                "/b/k",
                &copy_v,
                &[
                    ("s3:GetObjectVersion", "arn:aws:s3:::src/a"),
                    ("s3:PutObject", "arn:aws:s3:::b/k"),
                ],
            ),
            (
                "PUT",
                "/b/k?partNumber=2&uploadId=u",
                &copy,
                &[
                    ("s3:GetObject", "arn:aws:s3:::src/a b"),
                    ("s3:PutObject", "arn:aws:s3:::b/k"),
                ],
            ),
            (
                "GET",
                "/b?acl",
                &[],
                &[("s3:GetBucketAcl", "arn:aws:s3:::b")],
            ),
            (
                "GET",
                "/b/k?acl&versionId=v",
                &[],
                &[("s3:GetObjectVersionAcl", "arn:aws:s3:::b/k")],
            ),
            (
                "DELETE",
                "/b?publicAccessBlock",
                &[],
                &[("s3:PutBucketPublicAccessBlock", "arn:aws:s3:::b")],
            ),
            (
                "GET",
                "/b?versions",
                &[],
                &[("s3:ListBucketVersions", "arn:aws:s3:::b")],
            ),
            (
                "PUT",
                "/b?versioning",
                &[],
                &[("s3:PutBucketVersioning", "arn:aws:s3:::b")],
            ),
            (
                "PUT",
                "/b/k?tagging",
                &[],
                &[("s3:PutObjectTagging", "arn:aws:s3:::b/k")],
            ),
            (
                "PUT",
                "/b?object-lock",
                &[],
                &[("s3:PutBucketObjectLockConfiguration", "arn:aws:s3:::b")],
            ),
            (
                "GET",
                "/b?object-lock",
                &[],
                &[("s3:GetBucketObjectLockConfiguration", "arn:aws:s3:::b")],
            ),
            (
                "PUT",
                "/b/k?retention&versionId=v",
                &[("x-amz-bypass-governance-retention", "true")],
                &[("s3:PutObjectRetention", "arn:aws:s3:::b/k")],
            ),
            (
                "GET",
                "/b/k?retention",
                &[],
                &[("s3:GetObjectRetention", "arn:aws:s3:::b/k")],
            ),
            (
                "PUT",
                "/b/k?legal-hold",
                &[],
                &[("s3:PutObjectLegalHold", "arn:aws:s3:::b/k")],
            ),
            (
                "GET",
                "/b/k?legal-hold&versionId=v",
                &[],
                &[("s3:GetObjectLegalHold", "arn:aws:s3:::b/k")],
            ),
            ("OPTIONS", "/b/k", &[], &[]),
        ];
        for (method, uri, headers, want) in rows {
            let ep = route(method, uri, headers);
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(a, r)| (a.to_string(), r.to_string()))
                .collect();
            assert_eq!(summary(&ep), want, "{method} {uri}");
        }
    }

    /// Every operation the router can name as unsupported has its own IAM action.
    #[test]
    fn every_unsupported_operation_is_mapped() {
        let subresources = crate::s3::router::SUBRESOURCES;
        for method in ["GET", "PUT", "DELETE", "POST"] {
            for sub in subresources {
                for path in ["/b", "/b/k"] {
                    for id in ["", "&id=x"] {
                        let uri = format!("{path}?{sub}{id}");
                        let Ok(ep) = parse(
                            &Method::from_bytes(method.as_bytes()).unwrap(),
                            &uri.parse().unwrap(),
                            &HeaderMap::new(),
                            &[],
                        ) else {
                            continue;
                        };
                        if let Endpoint::Unsupported { operation, .. } = ep {
                            assert_ne!(unsupported_action(operation), "s3:*", "{operation}");
                        }
                    }
                }
            }
        }
    }
}
