//! Sealed start-up (docs/KMS.md "Sealed start-up"): `sealgate kms init-shares` leaves no
//! plaintext root key in the data directory, a KMS started on it (or on a copy of it) answers
//! every call 503 KMSInternalException until enough shares come in through `sealgate kms
//! unseal`, and the embedded gateway answers 503 for what needs the KMS meanwhile.
mod common;

use aws_sdk_kms::error::ProvideErrorMetadata;
use base64::Engine as _;
use common::seal::{init_shares, kms_once, sdk_failure};
use common::{BOB, Options, Server, copy_dir, find_bytes, imported_key, kms_cli, kms_users_toml};

/// Every spelling of `secret` that could sit in a file: raw, hex, base64.
fn spellings(secret: &[u8]) -> Vec<Vec<u8>> {
    vec![
        secret.to_vec(),
        hex::encode(secret).into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(secret)
            .into_bytes(),
    ]
}

#[tokio::test]
async fn a_copy_without_the_shares_decrypts_nothing_until_unsealed() {
    let opts = Options {
        kms_only: true,
        config_toml: Some(kms_users_toml()),
        ..Options::default()
    };
    // A KMS in ordinary (unsealed) mode holds a key and imported material we know.
    let mut first = Server::start_with(opts.clone());
    let kms = first.kms().await;
    let key = kms.create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let blob = common::kms_encrypt(&kms, &key_id, b"written before sealing".to_vec()).await;
    let (ext_id, _, material) = imported_key(&kms).await;
    let ext_blob = common::kms_encrypt(&kms, &ext_id, b"under imported material".to_vec()).await;
    first.stop();

    let root_file = first.data_dir.join("kms").join("kms-root.key");
    let root_key = std::fs::read(&root_file).unwrap();
    assert_eq!(root_key.len(), 32);
    let shares = init_shares(&first.data_dir, 3, 2);
    assert!(!root_file.exists(), "the plaintext root key is destroyed");

    // The copy an intruder walks away with: no root key, no backing key, in any spelling.
    let copy = first.dir.path().join("stolen");
    copy_dir(&first.data_dir, &copy);
    for (what, secret) in [("root key", &root_key), ("imported material", &material)] {
        for s in spellings(secret) {
            assert_eq!(find_bytes(&copy, &s), None, "{what} found in the copy");
        }
    }

    // A KMS on the copy starts sealed: every call is 503 KMSInternalException. On PostgreSQL
    // the copy is a second node of the same database: the data dir is what it brings.
    let server = Server::start_with(Options {
        data_dir: Some(copy.clone()),
        kms_db: first.kms_db.clone(),
        ..opts.clone()
    });
    let kms = kms_once(&server).await;
    let (status, code, message) =
        sdk_failure(kms.decrypt().ciphertext_blob(blob.clone()).send().await);
    assert_eq!((status, code.as_str()), (503, "KMSInternalException"));
    assert!(
        message.contains("the KMS is sealed: 0 of 2 shares presented"),
        "{message}"
    );
    let (status, code, _) = sdk_failure(kms.list_keys().send().await);
    assert_eq!((status, code.as_str()), (503, "KMSInternalException"));
    let (status, _, _) = sdk_failure(kms.create_key().send().await);
    assert_eq!(status, 503);

    // Unsealing is authorized: bob (no identity policy) may not present a share.
    let (ok, _, err) = kms_cli(&server, Some(BOB), &["unseal", &shares[0]], "");
    assert!(!ok && err.contains("AccessDeniedException"), "{err}");

    // One share (on the command line) of two: still sealed.
    let (ok, out, err) = kms_cli(&server, None, &["unseal", &shares[2]], "");
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "Sealed: 1 of 2 shares presented.");
    let (status, _, message) =
        sdk_failure(kms.decrypt().ciphertext_blob(blob.clone()).send().await);
    assert_eq!(status, 503);
    assert!(message.contains("1 of 2 shares presented"), "{message}");
    // The same share again counts once.
    let (ok, _, err) = kms_cli(&server, None, &["unseal", &shares[2]], "");
    assert!(!ok && err.contains("presented already"), "{err}");

    // The second share, read from standard input: unsealed, earlier ciphertexts decrypt.
    let (ok, out, err) = kms_cli(&server, None, &["unseal"], &format!("{}\n", shares[0]));
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "Unsealed.");
    for (b, want) in [
        (&blob, &b"written before sealing"[..]),
        (&ext_blob, &b"under imported material"[..]),
    ] {
        let dec = kms
            .decrypt()
            .ciphertext_blob(b.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(dec.plaintext().unwrap().as_ref(), want);
    }

    // Every unseal attempt is in the audit log; no share is.
    let audit = std::fs::read_to_string(copy.join("kms").join("kms-audit.log")).unwrap();
    let unseals: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("\"event\":\"Unseal\""))
        .collect();
    assert_eq!(unseals.len(), 4, "{audit}");
    assert!(unseals[0].contains("user/bob") && unseals[0].contains("\"failure\""));
    assert!(
        audit.contains("\"event\":\"Decrypt\""),
        "sealed-time calls recorded"
    );
    for share in &shares {
        let body = share.strip_prefix("sealgate-share-").unwrap();
        assert!(
            !audit.contains(&body[20..60]),
            "a share reached the audit log"
        );
        assert!(
            !server.log().contains(&body[20..60]),
            "a share reached the server log"
        );
    }
}

#[tokio::test]
async fn embedded_gateway_answers_503_while_its_kms_is_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // Sealed from the first start: the root key is created encrypted and never written plain.
    let shares = init_shares(&data_dir, 1, 1);
    assert!(!data_dir.join("kms").join("kms-root.key").exists());
    let server = Server::start_with(Options {
        data_dir: Some(data_dir.clone()),
        ..Options::default()
    });
    let cfg = server.sdk_config(None).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cfg)
            .endpoint_url(&server.s3_https)
            .force_path_style(true)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .build(),
    );
    // Bucket operations need no key; storing an (SSE-S3) object does.
    s3.create_bucket().bucket("sealed").send().await.unwrap();
    let put = s3
        .put_object()
        .bucket("sealed")
        .key("k")
        .body(b"hello".to_vec().into())
        .send()
        .await;
    let err = put.expect_err("the KMS is sealed");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    assert_eq!(err.code(), Some("ServiceUnavailable"));
    assert!(
        s3.list_objects_v2()
            .bucket("sealed")
            .send()
            .await
            .unwrap()
            .contents()
            .is_empty(),
        "a refused PUT stores nothing"
    );

    let (ok, out, err) = kms_cli(&server, None, &["unseal"], &shares[0]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "Unsealed.");
    s3.put_object()
        .bucket("sealed")
        .key("k")
        .body(b"hello".to_vec().into())
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("sealed")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"hello"
    );
}
