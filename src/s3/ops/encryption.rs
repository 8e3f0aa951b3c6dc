//! Get/Put/DeleteBucketEncryption (S3 API Reference: PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption).

use http::{Response, StatusCode};

use super::common;
use crate::meta::BucketEncryption;
use crate::s3::Req;
use crate::s3::error::S3Error;
use crate::s3::xml::{self, BlockedEncryptionType, SseAlgorithm, SseConfiguration};
use crate::server::Body;

pub(crate) async fn handle_get_bucket_encryption(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    // A bucket never configured reports the SSE-S3 default, as AWS has done since 2023.
    let cfg = match rec.encryption {
        None => SseConfiguration::sse_s3_default(),
        Some(e) => SseConfiguration {
            algorithm: SseAlgorithm::parse(&e.algorithm).unwrap_or(SseAlgorithm::Aes256),
            kms_master_key_id: e.kms_key_id,
            bucket_key_enabled: e.bucket_key_enabled,
            blocked_encryption_types: e
                .blocked_types
                .iter()
                .filter_map(|t| BlockedEncryptionType::parse(t))
                .collect(),
        },
    };
    Ok(common::xml(StatusCode::OK, cfg.to_xml()))
}

pub(crate) async fn handle_put_bucket_encryption(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    let mut rec = req.bucket(bucket).await?;
    let body = req.small_body(64 * 1024).await?;
    let cfg = xml::parse_sse_configuration(&body)?;
    match cfg.algorithm {
        SseAlgorithm::Aes256 => {}
        SseAlgorithm::AwsKms => {}
        SseAlgorithm::AwsKmsDsse => {
            return Err(S3Error::NotImplemented(
                "DSSE-KMS (aws:kms:dsse) is not supported".into(),
            ));
        }
    }
    rec.encryption = Some(BucketEncryption {
        algorithm: cfg.algorithm.as_str().to_owned(),
        kms_key_id: cfg.kms_master_key_id,
        bucket_key_enabled: cfg.bucket_key_enabled,
        blocked_types: cfg
            .blocked_encryption_types
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect(),
    });
    req.gw.store.put_bucket(&rec).await?;
    Ok(common::empty(StatusCode::OK))
}

pub(crate) async fn handle_delete_bucket_encryption(
    mut req: Req,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let mut rec = req.bucket(bucket).await?;
    if rec.encryption.take().is_some() {
        req.gw.store.put_bucket(&rec).await?;
    }
    Ok(common::empty(StatusCode::NO_CONTENT))
}
