//! A gateway using a KMS on another host (`--kms-endpoint`): SSE-KMS works end to end through
//! the remote KMS, its audit log records the gateway's calls, and a KMS that goes away turns
//! reads of SSE-KMS objects into 503 while SSE-S3 objects stay readable.
mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::ServerSideEncryption;
use common::{Options, Server};

#[tokio::test]
async fn sse_kms_through_a_remote_kms() {
    let mut kms_host = Server::start_with(Options {
        kms_only: true,
        // The gateways sign with the root credential: the KMS's service identity.
        config_toml: Some("kms_service_principals = [\"arn:aws:iam::000000000000:root\"]\n".into()),
        ..Default::default()
    });
    let key = kms_host
        .kms()
        .await
        .create_key()
        .description("remote")
        .send()
        .await
        .unwrap();
    let arn = key.key_metadata().unwrap().arn().unwrap().to_owned();

    let gateway = Server::start_with(Options {
        config_toml: Some(format!(
            "kms_endpoint = \"{}\"\nkms_ca_file = \"{}\"\n",
            kms_host.kms_https,
            kms_host.ca_path.display()
        )),
        ..Default::default()
    });
    assert!(gateway.kms_https.is_empty(), "no embedded KMS listener");
    let s3 = gateway.s3().await;
    s3.create_bucket().bucket("remote").send().await.unwrap();
    let put = s3
        .put_object()
        .bucket("remote")
        .key("k")
        .body(b"remote kms data".to_vec().into())
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(put.ssekms_key_id(), Some(arn.as_str()));
    s3.put_object()
        .bucket("remote")
        .key("s3")
        .body(b"sse-s3 data".to_vec().into())
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("remote")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(got.ssekms_key_id(), Some(arn.as_str()));
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"remote kms data");

    let audit = std::fs::read_to_string(kms_host.data_dir.join("kms").join("kms-audit.log"))
        .expect("remote KMS audit log");
    assert!(
        audit.contains("\"GenerateDataKey\"") && audit.contains("\"Decrypt\""),
        "the remote KMS recorded the gateway's calls: {audit}"
    );

    kms_host.stop();
    let err = s3
        .get_object()
        .bucket("remote")
        .key("k")
        .send()
        .await
        .expect_err("the KMS is gone");
    assert_eq!(
        err.raw_response().map(|r| r.status().as_u16()),
        Some(503),
        "KMS unreachable is 503: {:?}",
        err.code()
    );
    let still = s3
        .get_object()
        .bucket("remote")
        .key("s3")
        .send()
        .await
        .unwrap();
    let body = still.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"sse-s3 data", "SSE-S3 does not need the KMS");
}
