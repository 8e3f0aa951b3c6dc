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
