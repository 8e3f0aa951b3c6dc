//! S3 operations, one file per family. `dispatch` is the only place an [`Endpoint`] turns into
//! a handler call.

pub(crate) mod access;
mod acl;
mod attributes;
pub(crate) mod bucket;
pub(crate) mod common;
mod complete_checksum;
pub(crate) mod conditional;
pub(crate) mod copy;
pub(crate) mod cors;
pub(crate) mod delete;
pub(crate) mod encryption;
pub(crate) mod get;
pub(crate) mod lifecycle;
pub(crate) mod list;
pub(crate) mod multipart;
mod multipart_retry;
pub(crate) mod object_lock;
pub(crate) mod policy;
pub(crate) mod post;
pub(crate) mod put;
pub(crate) mod tagging;
pub(crate) mod versioning;

use http::Response;

use crate::s3::Req;
use crate::s3::error::S3Error;
use crate::s3::router::Endpoint;
use crate::server::Body;

pub(crate) async fn dispatch(req: Req, endpoint: Endpoint) -> Result<Response<Body>, S3Error> {
    use Endpoint::*;
    match endpoint {
        ListBuckets { .. } => bucket::handle_list_buckets(req).await,
        CreateBucket { bucket } => bucket::handle_create_bucket(req, &bucket).await,
        HeadBucket { bucket } => bucket::handle_head_bucket(req, &bucket).await,
        DeleteBucket { bucket } => bucket::handle_delete_bucket(req, &bucket).await,
        GetBucketLocation { bucket } => bucket::handle_get_bucket_location(req, &bucket).await,
        GetBucketEncryption { bucket } => {
            encryption::handle_get_bucket_encryption(req, &bucket).await
        }
        PutBucketEncryption { bucket } => {
            encryption::handle_put_bucket_encryption(req, &bucket).await
        }
        DeleteBucketEncryption { bucket } => {
            encryption::handle_delete_bucket_encryption(req, &bucket).await
        }
        GetBucketCors { bucket } => cors::handle_get_bucket_cors(req, &bucket).await,
        PutBucketCors { bucket } => cors::handle_put_bucket_cors(req, &bucket).await,
        DeleteBucketCors { bucket } => cors::handle_delete_bucket_cors(req, &bucket).await,
        GetBucketPolicy { bucket } => policy::handle_get_bucket_policy(req, &bucket).await,
        PutBucketPolicy { bucket } => policy::handle_put_bucket_policy(req, &bucket).await,
        DeleteBucketPolicy { bucket } => policy::handle_delete_bucket_policy(req, &bucket).await,
        GetBucketPolicyStatus { bucket } => {
            policy::handle_get_bucket_policy_status(req, &bucket).await
        }
        GetPublicAccessBlock { bucket } => {
            access::handle_get_public_access_block(req, &bucket).await
        }
        PutPublicAccessBlock { bucket } => {
            access::handle_put_public_access_block(req, &bucket).await
        }
        DeletePublicAccessBlock { bucket } => {
            access::handle_delete_public_access_block(req, &bucket).await
        }
        GetBucketOwnershipControls { bucket } => {
            access::handle_get_bucket_ownership_controls(req, &bucket).await
        }
        PutBucketOwnershipControls { bucket } => {
            access::handle_put_bucket_ownership_controls(req, &bucket).await
        }
        DeleteBucketOwnershipControls { bucket } => {
            access::handle_delete_bucket_ownership_controls(req, &bucket).await
        }
        GetBucketAcl { bucket } => acl::handle_get_bucket_acl(req, &bucket).await,
        PutBucketAcl { bucket } => acl::handle_put_bucket_acl(req, &bucket).await,
        GetObjectAcl {
            bucket,
            key,
            version_id,
        } => acl::handle_get_object_acl(req, &bucket, &key, version_id.as_deref()).await,
        PutObjectAcl {
            bucket,
            key,
            version_id,
        } => acl::handle_put_object_acl(req, &bucket, &key, version_id.as_deref()).await,
        GetBucketVersioning { bucket } => {
            versioning::handle_get_bucket_versioning(req, &bucket).await
        }
        PutBucketVersioning { bucket } => {
            versioning::handle_put_bucket_versioning(req, &bucket).await
        }
        ListObjectVersions {
            bucket,
            prefix,
            delimiter,
            key_marker,
            version_id_marker,
            max_keys,
            encoding_type_url,
        } => {
            let p = list::VersionParams {
                prefix,
                delimiter,
                key_marker,
                version_id_marker,
                max_keys,
                encoding_type_url,
            };
            list::handle_list_object_versions(req, &bucket, p).await
        }
        GetObjectLockConfiguration { bucket } => {
            object_lock::handle_get_object_lock_configuration(req, &bucket).await
        }
        PutObjectLockConfiguration { bucket } => {
            object_lock::handle_put_object_lock_configuration(req, &bucket).await
        }
        GetObjectRetention {
            bucket,
            key,
            version_id,
        } => {
            let v = version_id.as_deref();
            object_lock::handle_get_object_retention(req, &bucket, &key, v).await
        }
        PutObjectRetention {
            bucket,
            key,
            version_id,
        } => {
            let v = version_id.as_deref();
            object_lock::handle_put_object_retention(req, &bucket, &key, v).await
        }
        GetObjectLegalHold {
            bucket,
            key,
            version_id,
        } => {
            let v = version_id.as_deref();
            object_lock::handle_get_object_legal_hold(req, &bucket, &key, v).await
        }
        PutObjectLegalHold {
            bucket,
            key,
            version_id,
        } => {
            let v = version_id.as_deref();
            object_lock::handle_put_object_legal_hold(req, &bucket, &key, v).await
        }
        GetBucketTagging { bucket } => tagging::handle_get_bucket_tagging(req, &bucket).await,
        PutBucketTagging { bucket } => tagging::handle_put_bucket_tagging(req, &bucket).await,
        DeleteBucketTagging { bucket } => tagging::handle_delete_bucket_tagging(req, &bucket).await,
        GetBucketLifecycleConfiguration { bucket } => {
            lifecycle::handle_get_bucket_lifecycle(req, &bucket).await
        }
        PutBucketLifecycleConfiguration { bucket } => {
            lifecycle::handle_put_bucket_lifecycle(req, &bucket).await
        }
        DeleteBucketLifecycle { bucket } => {
            lifecycle::handle_delete_bucket_lifecycle(req, &bucket).await
        }
        GetObjectTagging {
            bucket,
            key,
            version_id,
        } => tagging::handle_get_object_tagging(req, &bucket, &key, version_id.as_deref()).await,
        PutObjectTagging {
            bucket,
            key,
            version_id,
        } => tagging::handle_put_object_tagging(req, &bucket, &key, version_id.as_deref()).await,
        DeleteObjectTagging {
            bucket,
            key,
            version_id,
        } => tagging::handle_delete_object_tagging(req, &bucket, &key, version_id.as_deref()).await,
        GetObjectAttributes {
            bucket,
            key,
            version_id,
            max_parts,
            part_number_marker,
        } => {
            attributes::handle_get_object_attributes(
                req,
                &bucket,
                &key,
                version_id.as_deref(),
                max_parts,
                part_number_marker,
            )
            .await
        }
        // Answered before authentication in `s3::handle`; never reaches dispatch.
        // Authenticated by its form in `s3::handle`; never reaches dispatch.
        e @ PostObject { .. } => Err(S3Error::InternalError(format!(
            "{} reached dispatch",
            e.name()
        ))),
        Preflight { bucket, key } => {
            cors::handle_preflight(&req.gw, &req.headers, &bucket, key.is_some()).await
        }
        ListObjects {
            bucket,
            prefix,
            delimiter,
            marker,
            max_keys,
            encoding_type_url,
        } => {
            let p = list::ListParams {
                prefix,
                delimiter,
                max_keys,
                encoding_type_url,
                start_after: marker,
                continuation_token: None,
                fetch_owner: true,
            };
            list::handle_list_objects_v1(req, &bucket, p).await
        }
        ListObjectsV2 {
            bucket,
            prefix,
            delimiter,
            max_keys,
            continuation_token,
            start_after,
            encoding_type_url,
            fetch_owner,
        } => {
            let p = list::ListParams {
                prefix,
                delimiter,
                max_keys,
                encoding_type_url,
                start_after,
                continuation_token,
                fetch_owner,
            };
            list::handle_list_objects_v2(req, &bucket, p).await
        }
        ListMultipartUploads { bucket, prefix, .. } => {
            multipart::handle_list_multipart_uploads(req, &bucket, prefix).await
        }
        DeleteObjects { bucket } => delete::handle_delete_objects(req, &bucket).await,
        PutObject { bucket, key } => put::handle_put_object(req, &bucket, &key).await,
        CopyObject {
            bucket,
            key,
            source,
        } => copy::handle_copy_object(req, &bucket, &key, &source).await,
        GetObject {
            bucket,
            key,
            part_number,
            version_id,
            overrides,
        } => {
            let v = version_id.as_deref();
            get::handle_get_object(req, &bucket, &key, v, part_number, &overrides, false).await
        }
        HeadObject {
            bucket,
            key,
            part_number,
            version_id,
            overrides,
        } => {
            let v = version_id.as_deref();
            get::handle_get_object(req, &bucket, &key, v, part_number, &overrides, true).await
        }
        DeleteObject {
            bucket,
            key,
            version_id,
        } => delete::handle_delete_object(req, &bucket, &key, version_id.as_deref()).await,
        CreateMultipartUpload { bucket, key } => {
            multipart::handle_create_multipart_upload(req, &bucket, &key).await
        }
        UploadPart {
            bucket,
            key,
            part_number,
            upload_id,
        } => multipart::handle_upload_part(req, &bucket, &key, &upload_id, part_number).await,
        UploadPartCopy {
            bucket,
            key,
            part_number,
            upload_id,
            source,
        } => {
            multipart::handle_upload_part_copy(req, &bucket, &key, &upload_id, part_number, &source)
                .await
        }
        CompleteMultipartUpload {
            bucket,
            key,
            upload_id,
        } => multipart::handle_complete_multipart_upload(req, &bucket, &key, &upload_id).await,
        AbortMultipartUpload {
            bucket,
            key,
            upload_id,
        } => multipart::handle_abort_multipart_upload(req, &bucket, &key, &upload_id).await,
        ListParts {
            bucket,
            key,
            upload_id,
            max_parts,
            part_number_marker,
        } => {
            multipart::handle_list_parts(
                req,
                &bucket,
                &key,
                &upload_id,
                max_parts,
                part_number_marker,
            )
            .await
        }
        e @ Unsupported { .. } => Err(e.not_implemented()),
    }
}
