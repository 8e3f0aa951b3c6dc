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

/// The gateway names the S3 caller to the remote KMS (a signed forward-access header), so the
/// KMS authorizes and audits that caller, not the gateway: a user allowed `s3:*` but no KMS
/// use is refused SSE-KMS with a key, even for objects another user wrote; `alias/aws/s3` works
/// through S3; and the header is refused from anyone but a configured gateway.
#[tokio::test]
async fn the_remote_kms_authorizes_the_s3_caller() {
    use common::{ALICE, REGION};
    use sealgate::kms::remote::RemoteKms;
    use sealgate::kms::{Caller, Kms, KmsClientError, Source};

    let kms_host = Server::start_with(Options {
        kms_only: true,
        config_toml: Some(format!(
            "kms_service_principals = [\"arn:aws:iam::000000000000:root\"]\n{}",
            common::kms_users_toml()
        )),
        ..Default::default()
    });
    let key = common::new_key_arn(&kms_host).await;
    const CAROL: (&str, &str) = (
        "CAROLACCESSKEY000001",
        "carol-secret-key-0000000000000000000001",
    );
    const DAVE: (&str, &str) = (
        "DAVEACCESSKEY0000001",
        "dave-secret-key-00000000000000000000001",
    );
    let gateway = Server::start_with(Options {
        config_toml: Some(format!(
            r#"kms_endpoint = "{}"
kms_ca_file = "{}"

[[users]]
name = "carol"
access_key = "{}"
secret_key = "{}"
policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"*"}}]}}'''

[[users]]
name = "dave"
access_key = "{}"
secret_key = "{}"
policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"*"}},{{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*","Condition":{{"StringEquals":{{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}}}}}]}}'''
"#,
            kms_host.kms_https,
            kms_host.ca_path.display(),
            CAROL.0,
            CAROL.1,
            DAVE.0,
            DAVE.1
        )),
        ..Default::default()
    });
    let root = gateway.s3().await;
    root.create_bucket().bucket("shared").send().await.unwrap();
    let (carol, dave) = (
        gateway.s3_as(Some(CAROL)).await,
        gateway.s3_as(Some(DAVE)).await,
    );
    let put = |s3: aws_sdk_s3::Client, name: &'static str, key_id: Option<String>| async move {
        let mut req = s3
            .put_object()
            .bucket("shared")
            .key(name)
            .body(format!("body of {name}").into_bytes().into())
            .server_side_encryption(ServerSideEncryption::AwsKms);
        if let Some(k) = key_id {
            req = req.ssekms_key_id(k);
        }
        req.send().await
    };

    // Dave's identity policy allows the key through S3; Carol's allows S3 only.
    put(dave.clone(), "dave", Some(key.clone()))
        .await
        .expect("dave may use the key through S3");
    let got = dave
        .get_object()
        .bucket("shared")
        .key("dave")
        .send()
        .await
        .unwrap();
    assert_eq!(
        &got.body.collect().await.unwrap().into_bytes()[..],
        b"body of dave"
    );
    let refused = put(carol.clone(), "carol", Some(key.clone()))
        .await
        .expect_err("carol may not use the key");
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(403),
        "{:?}",
        refused.code()
    );
    let refused = carol
        .get_object()
        .bucket("shared")
        .key("dave")
        .send()
        .await
        .expect_err("s3:GetObject is not enough to decrypt");
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(403),
        "{:?}",
        refused.code()
    );

    // The KMS recorded Dave, through the gateway.
    let audit =
        std::fs::read_to_string(kms_host.data_dir.join("kms").join("kms-audit.log")).unwrap();
    let dave_arn = "arn:aws:iam::000000000000:user/dave";
    let record = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["principal"] == dave_arn && r["event"] == "GenerateDataKey")
        .expect("a GenerateDataKey record for dave");
    assert_eq!(record["source"]["kind"], "s3-gateway");
    assert_eq!(record["source"]["bucket"], "shared");
    assert_eq!(record["source"]["via"], "arn:aws:iam::000000000000:root");
    assert_eq!(record["outcome"], "success");

    // The AWS-managed default key works through S3 again.
    put(root.clone(), "default-key", None)
        .await
        .expect("SSE-KMS with alias/aws/s3 through a remote KMS");
    let got = root
        .get_object()
        .bucket("shared")
        .key("default-key")
        .send()
        .await
        .unwrap();
    assert!(got.ssekms_key_id().is_some_and(|k| k != key));

    // Naming a caller is for gateways only: Alice (kms:* on the KMS) may not.
    let alice = RemoteKms::new(
        &kms_host.kms_https,
        &kms_host.ca_path,
        ALICE.0,
        ALICE.1,
        REGION,
    )
    .unwrap();
    let someone = Caller {
        arn: "arn:aws:iam::000000000000:root".into(),
        account: "000000000000".into(),
        identity_policy: None,
        network: None,
    };
    let s3_source = Source::S3Gateway {
        bucket: "shared".into(),
        key: None,
        via: None,
    };
    let r = alice
        .generate_data_key(&key, &Default::default(), &someone, &s3_source)
        .await;
    assert!(
        matches!(&r, Err(KmsClientError::Kms { type_name, message })
            if type_name == "AccessDeniedException" && message.contains("not a gateway service principal")),
        "{r:?}"
    );
}

/// `curl` GET of a presigned URL from local address `from`; (status, body).
fn curl_from(from: &str, url: &str, ca: &std::path::Path) -> (u16, String) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "-4", "--interface", from, "--cacert"])
        .arg(ca)
        .args(["-w", "\n%{http_code}", url])
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("curl prints the status last");
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

/// The gateway forwards the S3 client's address and transport with the caller, so a key
/// policy's `aws:SourceIp` and `aws:SecureTransport` judge the S3 client — not the gateway's
/// own connection to the KMS, which is TLS from 127.0.0.1 whoever asks. The same GET of an
/// SSE-KMS object succeeds over HTTPS from 127.0.0.1 and is refused from 127.0.0.2 and over
/// plain HTTP; the KMS audit log names the client's address and the gateway.
#[tokio::test]
async fn key_policies_judge_the_s3_clients_address_and_transport() {
    use aws_sdk_s3::presigning::PresigningConfig;

    let kms_host = Server::start_with(Options {
        kms_only: true,
        config_toml: Some("kms_service_principals = [\"arn:aws:iam::000000000000:root\"]\n".into()),
        ..Default::default()
    });
    let root = "arn:aws:iam::000000000000:root";
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": root},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "from-127.0.0.1-only", "Effect": "Deny", "Principal": "*",
             "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.1/32"}}},
            {"Sid": "tls-only", "Effect": "Deny", "Principal": "*",
             "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
        ]
    });
    let key = kms_host
        .kms()
        .await
        .create_key()
        .policy(policy.to_string())
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
    let s3 = gateway.s3().await;
    s3.create_bucket().bucket("net").send().await.unwrap();
    s3.put_object()
        .bucket("net")
        .key("k")
        .body(b"only for 127.0.0.1 over TLS".to_vec().into())
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&arn)
        .send()
        .await
        .unwrap();

    let presign = |s3: aws_sdk_s3::Client| async move {
        let expiry = PresigningConfig::expires_in(std::time::Duration::from_secs(300)).unwrap();
        let req = s3.get_object().bucket("net").key("k");
        req.presigned(expiry).await.unwrap().uri().to_owned()
    };
    let https_url = presign(s3.clone()).await;
    let http_url = presign(gateway.s3_plain()).await;
    assert!(http_url.starts_with("http://"), "{http_url}");

    let (status, body) = curl_from("127.0.0.1", &https_url, &gateway.ca_path);
    assert_eq!(
        (status, body.as_str()),
        (200, "only for 127.0.0.1 over TLS")
    );
    for (from, url, why) in [
        ("127.0.0.2", &https_url, "another source address"),
        ("127.0.0.1", &http_url, "plain HTTP"),
    ] {
        let (status, body) = curl_from(from, url, &gateway.ca_path);
        assert_eq!(status, 403, "{why}: {body}");
        assert!(body.contains("<Code>AccessDenied</Code>"), "{why}: {body}");
        assert!(!body.contains("only for"), "{why}: {body}");
    }

    // Each Decrypt is recorded with the S3 client's address, the S3 caller and the gateway.
    let audit =
        std::fs::read_to_string(kms_host.data_dir.join("kms").join("kms-audit.log")).unwrap();
    let decrypts: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["event"] == "Decrypt" && r["key_arn"] == arn.as_str())
        .collect();
    let seen: Vec<(&str, &str)> = decrypts
        .iter()
        .map(|r| {
            assert_eq!(r["principal"], root);
            assert_eq!(r["source"]["kind"], "s3-gateway");
            assert_eq!(r["source"]["via"], root, "the gateway is named");
            (
                r["source_ip"].as_str().unwrap_or_default(),
                r["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("127.0.0.1", "success"),
            ("127.0.0.2", "failure"),
            ("127.0.0.1", "failure")
        ],
        "{audit}"
    );
}
