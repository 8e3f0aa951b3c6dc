//! The gateway starts with embedded defaults and answers the AWS SDKs over HTTPS.
mod common;

use common::Server;

#[tokio::test]
async fn sdk_round_trip_over_https() {
    let server = Server::start();
    let s3 = server.s3().await;
    s3.create_bucket().bucket("smoke").send().await.unwrap();
    let put = s3
        .put_object()
        .bucket("smoke")
        .key("hello.txt")
        .body(b"hello sealgate".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
    let got = s3
        .get_object()
        .bucket("smoke")
        .key("hello.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"hello sealgate");
    assert!(common::find_bytes(&server.data_dir, b"hello sealgate").is_none());

    let kms = server.kms().await;
    let key = kms.create_key().send().await.unwrap();
    let arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    let dk = kms
        .generate_data_key()
        .key_id(&arn)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(dk.key_id(), Some(arn.as_str()));
    let back = kms
        .decrypt()
        .ciphertext_blob(dk.ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(back.plaintext(), dk.plaintext());
}
