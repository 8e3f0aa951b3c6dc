//! `RemoteKms` against the real KMS listener, and the in-process `KmsService` through the same
//! `Kms` trait: the same calls must give the same outcomes.
mod common;

use sealgate::kms::remote;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_kms::types::DataKeySpec;
use common::{ACCESS_KEY, Options, REGION, SECRET_KEY, Server};
use remote::RemoteKms;
use sealgate::kms::{Caller, Kms, KmsClientError, KmsConfig, KmsService, Source, api};

/// The keys one scenario needs, on whichever KMS runs it.
struct Keys {
    enabled_arn: String,
    alias: String,
    disabled_arn: String,
    missing_id: String,
}

fn context(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn gateway_source() -> Source {
    Source::S3Gateway {
        bucket: "bucket".into(),
        key: Some("object".into()),
        via: None,
    }
}

fn outcome<T>(r: &Result<T, KmsClientError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.type_name().to_string(),
    }
}

/// Runs the shared calls, asserts what each must give, and returns the outcome names.
async fn scenario(kms: &dyn Kms, caller: &Caller, keys: &Keys) -> Vec<String> {
    let source = gateway_source();
    let ctx = context(&[("aws:s3:arn", "arn:aws:s3:::bucket/object")]);
    let mut outcomes = Vec::new();

    let dk = kms
        .generate_data_key(&keys.alias, &ctx, caller, &source)
        .await
        .expect("GenerateDataKey");
    assert_eq!(dk.key_arn, keys.enabled_arn);
    assert_ne!(*dk.plaintext, [0u8; 32]);

    let opened = kms
        .decrypt(&dk.ciphertext_blob, &ctx, None, caller, &source)
        .await
        .expect("Decrypt");
    assert_eq!(opened.plaintext.as_slice(), dk.plaintext.as_slice());
    assert_eq!(opened.key_arn, keys.enabled_arn);
    outcomes.push("ok".to_string());

    let pinned = kms
        .decrypt(
            &dk.ciphertext_blob,
            &ctx,
            Some(&keys.enabled_arn),
            caller,
            &source,
        )
        .await;
    assert_eq!(outcome(&pinned), "ok");
    outcomes.push(outcome(&pinned));

    let other_key = kms
        .decrypt(
            &dk.ciphertext_blob,
            &ctx,
            Some(&keys.disabled_arn),
            caller,
            &source,
        )
        .await;
    assert_eq!(outcome(&other_key), "IncorrectKeyException");
    outcomes.push(outcome(&other_key));

    for wrong in [
        context(&[("aws:s3:arn", "arn:aws:s3:::bucket/other")]),
        context(&[]),
    ] {
        let r = kms
            .decrypt(&dk.ciphertext_blob, &wrong, None, caller, &source)
            .await;
        assert!(
            matches!(&r, Err(KmsClientError::Kms { type_name, .. }) if type_name == "InvalidCiphertextException"),
            "{r:?}"
        );
        outcomes.push(outcome(&r));
    }

    let mut tampered = dk.ciphertext_blob.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let r = kms.decrypt(&tampered, &ctx, None, caller, &source).await;
    assert_eq!(outcome(&r), "InvalidCiphertextException");
    outcomes.push(outcome(&r));

    let r = kms
        .generate_data_key(&keys.disabled_arn, &ctx, caller, &source)
        .await;
    assert!(
        matches!(&r, Err(KmsClientError::Kms { type_name, .. }) if type_name == "DisabledException"),
        "{r:?}"
    );
    outcomes.push(outcome(&r));

    let r = kms.describe(&keys.missing_id, caller, &source).await;
    assert!(
        matches!(&r, Err(KmsClientError::Kms { type_name, .. }) if type_name == "NotFoundException"),
        "{r:?}"
    );
    outcomes.push(outcome(&r));

    let r = kms
        .generate_data_key("alias/does-not-exist", &ctx, caller, &source)
        .await;
    assert_eq!(outcome(&r), "NotFoundException");
    outcomes.push(outcome(&r));

    let d = kms
        .describe(&keys.disabled_arn, caller, &source)
        .await
        .expect("DescribeKey");
    assert_eq!(d.key_arn, keys.disabled_arn);
    assert_eq!(d.key_state, "Disabled");
    assert!(!d.enabled && !d.aws_managed);

    let d = kms
        .describe(&keys.alias, caller, &source)
        .await
        .expect("DescribeKey");
    assert_eq!(
        (d.key_arn.as_str(), d.enabled),
        (keys.enabled_arn.as_str(), true)
    );
    assert!(keys.enabled_arn.ends_with(&d.key_id));

    let arn = kms
        .resolve_key_arn(&keys.alias, caller, &source)
        .await
        .expect("resolve");
    assert_eq!(arn, keys.enabled_arn);
    outcomes
}

fn root_caller(account: &str) -> Caller {
    Caller {
        arn: format!("arn:aws:iam::{account}:root"),
        account: account.to_string(),
        identity_policy: None,
        network: None,
    }
}

async fn remote_keys(server: &Server) -> Keys {
    let kms = server.kms().await;
    let create = || async {
        kms.create_key()
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .arn
            .unwrap()
    };
    let enabled_arn = create().await;
    let disabled_arn = create().await;
    kms.disable_key()
        .key_id(&disabled_arn)
        .send()
        .await
        .unwrap();
    kms.create_alias()
        .alias_name("alias/remote-test")
        .target_key_id(&enabled_arn)
        .send()
        .await
        .unwrap();
    Keys {
        enabled_arn,
        alias: "alias/remote-test".into(),
        disabled_arn,
        missing_id: uuid::Uuid::new_v4().to_string(),
    }
}

fn local_keys(svc: &KmsService, caller: &Caller) -> Keys {
    let call = |op: &str, body: serde_json::Value| {
        api::dispatch(svc, op, body.to_string().as_bytes(), caller)
            .unwrap_or_else(|e| panic!("{op}: {}", e.message()))
    };
    let create = || {
        call("CreateKey", serde_json::json!({}))["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let enabled_arn = create();
    let disabled_arn = create();
    call("DisableKey", serde_json::json!({ "KeyId": disabled_arn }));
    call(
        "CreateAlias",
        serde_json::json!({ "AliasName": "alias/remote-test", "TargetKeyId": enabled_arn }),
    );
    Keys {
        enabled_arn,
        alias: "alias/remote-test".into(),
        disabled_arn,
        missing_id: uuid::Uuid::new_v4().to_string(),
    }
}

fn remote(server: &Server, secret: &str) -> RemoteKms {
    RemoteKms::new(
        &server.kms_https,
        &server.ca_path,
        ACCESS_KEY,
        secret,
        REGION,
    )
    .expect("RemoteKms")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_and_in_process_kms_agree() {
    let mut server = Server::start_with(Options {
        kms_only: true,
        // The client signs as a gateway, which names the S3 caller to the KMS.
        config_toml: Some("kms_service_principals = [\"arn:aws:iam::000000000000:root\"]\n".into()),
        ..Options::default()
    });
    let keys = remote_keys(&server).await;
    let client = remote(&server, SECRET_KEY);
    let s3_caller = root_caller("000000000000");
    let remote_outcomes = scenario(&client, &s3_caller, &keys).await;

    let dir = tempfile::tempdir().unwrap();
    let svc = KmsService::open(dir.path(), KmsConfig::default()).unwrap();
    let caller = root_caller(svc.account_id());
    let local = local_keys(&svc, &caller);
    let local_outcomes = scenario(&svc, &caller, &local).await;
    assert_eq!(remote_outcomes, local_outcomes);

    // A data key made through the SDK decrypts through RemoteKms, context and all.
    let sdk = server.kms().await;
    let made = sdk
        .generate_data_key()
        .key_id(&keys.enabled_arn)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("purpose", "interop")
        .send()
        .await
        .unwrap();
    let opened = client
        .decrypt(
            made.ciphertext_blob().unwrap().as_ref(),
            &context(&[("purpose", "interop")]),
            None,
            &s3_caller,
            &gateway_source(),
        )
        .await
        .unwrap();
    assert_eq!(
        opened.plaintext.as_slice(),
        made.plaintext().unwrap().as_ref()
    );

    // Signatures are really checked: a wrong secret is the KMS's own refusal, not a 503.
    let forged = remote(&server, "not-the-secret");
    let r = forged
        .describe(&keys.alias, &s3_caller, &gateway_source())
        .await;
    assert!(
        matches!(&r, Err(KmsClientError::Kms { type_name, .. }) if type_name == "InvalidSignatureException"),
        "{r:?}"
    );

    // Once the KMS is gone, the pooled connection is dead and a new one is refused.
    server.stop();
    let r = client
        .generate_data_key(&keys.alias, &BTreeMap::new(), &s3_caller, &gateway_source())
        .await;
    // Unavailable is what the gateway answers 503 for (s3::error's mapping).
    assert!(matches!(&r, Err(KmsClientError::Unavailable(_))), "{r:?}");
}

#[tokio::test]
async fn a_kms_that_never_answers_times_out_as_unavailable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold connections without ever completing TLS.
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            open.push(sock);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let client = RemoteKms::new(
        &format!("https://localhost:{port}"),
        &ca,
        ACCESS_KEY,
        SECRET_KEY,
        REGION,
    )
    .unwrap()
    .with_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let r = client
        .describe("alias/x", &root_caller("1"), &gateway_source())
        .await;
    assert!(
        matches!(&r, Err(KmsClientError::Unavailable(m)) if m.contains("within")),
        "{r:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    held.abort();
}
