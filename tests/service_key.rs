//! The keys behind SSE-S3 (`alias/sealgate/sse-s3`) and the default SSE-KMS key
//! (`alias/aws/s3`) belong to the service: DescribeKey shows `KeyManager: AWS`; a principal
//! allowed `kms:*` on `*` (and the account root) gets AWS's AccessDeniedException for managing
//! them and for using them directly — including Decrypt of the wrapped SSE-S3 master key read
//! off disk; the reserved alias prefixes are refused; SSE-S3 and default SSE-KMS keep working
//! through S3, across restarts; and a data dir whose service key an earlier build made as a
//! customer-managed key (and someone then disabled) is converted at start, keeping its ARN so
//! stored objects stay readable, with an audit record of the conversion.
mod common;

use std::path::Path;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_s3::types::ServerSideEncryption;
use base64::Engine as _;
use common::{Options, Server};

const SERVICE_ALIAS: &str = "alias/sealgate/sse-s3";
const AWS_S3_ALIAS: &str = "alias/aws/s3";
const ALICE: (&str, &str) = (
    "ALICEACCESSKEY000001",
    "alice-secret-key-0000000000000000000001",
);

fn alice_toml() -> String {
    format!(
        r#"
[[users]]
name = "alice"
access_key = "{}"
secret_key = "{}"
policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:*","Resource":"*"}}]}}'''
"#,
        ALICE.0, ALICE.1
    )
}

/// The KMS error code of a call that must fail.
fn code<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    what: &str,
    r: Result<T, E>,
) -> String {
    match r {
        Ok(v) => panic!("{what}: expected an error, got {v:?}"),
        Err(e) => e.code().unwrap_or("").to_owned(),
    }
}

/// The wrapped SSE-S3 master key version 1 as the gateway stored it: (key ARN, KMS blob).
fn stored_v1(data_dir: &Path) -> (String, Vec<u8>) {
    let raw = std::fs::read(data_dir.join("objects/system/sse-s3/v1")).expect("v1 record");
    let record: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let blob = base64::engine::general_purpose::STANDARD
        .decode(record["blob"].as_str().unwrap())
        .unwrap();
    (record["key_arn"].as_str().unwrap().to_owned(), blob)
}

fn audit_records(data_dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(data_dir.join("kms/kms-audit.log"))
        .expect("audit log")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

async fn put(s3: &aws_sdk_s3::Client, key: &str, data: &[u8], kms_default: bool) {
    let mut req = s3
        .put_object()
        .bucket("svc")
        .key(key)
        .body(data.to_vec().into());
    if kms_default {
        req = req.server_side_encryption(ServerSideEncryption::AwsKms);
    }
    let out = req.send().await.unwrap();
    let want = if kms_default {
        ServerSideEncryption::AwsKms
    } else {
        ServerSideEncryption::Aes256
    };
    assert_eq!(out.server_side_encryption(), Some(&want));
}

async fn get(s3: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    let out = s3.get_object().bucket("svc").key(key).send().await;
    let out = out.unwrap_or_else(|e| panic!("GET {key}: {e:?}"));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

/// Every management operation on `key` (id or alias) is AWS's AccessDeniedException for
/// `kms`, whatever that principal's own policy says.
async fn management_refused(kms: &aws_sdk_kms::Client, key: &str) {
    let id = kms
        .describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    let denied = "AccessDeniedException";
    let r = kms.disable_key().key_id(&id).send().await;
    assert_eq!(code("DisableKey", r), denied, "DisableKey {key}");
    let r = kms
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await;
    assert_eq!(code("ScheduleKeyDeletion", r), denied, "{key}");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}"#;
    let r = kms
        .put_key_policy()
        .key_id(&id)
        .policy_name("default")
        .policy(policy)
        .send()
        .await;
    assert_eq!(code("PutKeyPolicy", r), denied, "{key}");
    let r = kms.disable_key_rotation().key_id(&id).send().await;
    assert_eq!(code("DisableKeyRotation", r), denied, "{key}");
    let r = kms
        .update_key_description()
        .key_id(&id)
        .description("mine now")
        .send()
        .await;
    assert_eq!(code("UpdateKeyDescription", r), denied, "{key}");
    let tag = aws_sdk_kms::types::Tag::builder()
        .tag_key("owner")
        .tag_value("me")
        .build()
        .unwrap();
    let r = kms.tag_resource().key_id(&id).tags(tag).send().await;
    assert_eq!(code("TagResource", r), denied, "{key}");
}

#[tokio::test]
async fn service_keys_refuse_every_principal_and_keep_serving_s3() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let opts = Options {
        data_dir: Some(data_dir.clone()),
        config_toml: Some(alice_toml()),
        ..Default::default()
    };
    let mut server = Server::start_with(opts.clone());
    let s3 = server.s3().await;
    s3.create_bucket().bucket("svc").send().await.unwrap();
    let sse_s3 = common::random(300_000);
    let sse_kms = common::random(70_000);
    put(&s3, "s3", &sse_s3, false).await;
    put(&s3, "kms", &sse_kms, true).await;

    let alice = server.kms_as(Some(ALICE)).await;
    let root = server.kms().await;
    let (ring_arn, blob) = stored_v1(&data_dir);
    for alias in [SERVICE_ALIAS, AWS_S3_ALIAS] {
        let meta = alice.describe_key().key_id(alias).send().await.unwrap();
        let meta = meta.key_metadata().unwrap();
        assert_eq!(
            meta.key_manager(),
            Some(&aws_sdk_kms::types::KeyManagerType::Aws),
            "{alias}"
        );
        assert_eq!(
            meta.key_state(),
            Some(&aws_sdk_kms::types::KeyState::Enabled)
        );
        if alias == SERVICE_ALIAS {
            assert_eq!(meta.arn(), Some(ring_arn.as_str()));
        }
        // Its policy reads as AWS's fixed one: the account may only read it.
        let policy = alice
            .get_key_policy()
            .key_id(meta.key_id())
            .policy_name("default")
            .send()
            .await;
        let policy = policy.unwrap_or_else(|e| panic!("GetKeyPolicy {alias}: {e:?}"));
        let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        assert!(
            statements.iter().all(|s| s["Action"] != "kms:*"),
            "{policy}"
        );
        assert!(
            statements
                .iter()
                .any(|s| s["Action"]
                    == serde_json::json!(["kms:Describe*", "kms:Get*", "kms:List*"])),
            "{policy}"
        );
        management_refused(&alice, alias).await;
        management_refused(&root, alias).await;
    }
    // The message is AWS's.
    let err = alice
        .disable_key()
        .key_id(&ring_arn)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.message()
            .unwrap_or("")
            .ends_with("because no resource-based policy allows the kms:DisableKey action"),
        "{err:?}"
    );

    // Direct cryptographic use: the wrapped master key read off disk, with the right context,
    // does not decrypt for anyone; nor can the keys encrypt or make data keys.
    let ctx = [
        ("sealgate:purpose", "sse-s3-master-key"),
        ("sealgate:version", "1"),
    ];
    for kms in [&alice, &root] {
        let mut req = kms.decrypt().ciphertext_blob(Blob::new(blob.clone()));
        for (k, v) in ctx {
            req = req.encryption_context(k, v);
        }
        assert_eq!(code("Decrypt", req.send().await), "AccessDeniedException");
        let mine = kms.create_key().send().await.unwrap();
        let mine = mine.key_metadata().unwrap().key_id().to_owned();
        let mut req = kms
            .re_encrypt()
            .ciphertext_blob(Blob::new(blob.clone()))
            .destination_key_id(&mine);
        for (k, v) in ctx {
            req = req.source_encryption_context(k, v);
        }
        assert_eq!(code("ReEncrypt", req.send().await), "AccessDeniedException");
        for alias in [SERVICE_ALIAS, AWS_S3_ALIAS] {
            let r = kms
                .encrypt()
                .key_id(alias)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await;
            assert_eq!(code("Encrypt", r), "AccessDeniedException", "{alias}");
            let r = kms
                .generate_data_key()
                .key_id(alias)
                .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
                .send()
                .await;
            assert_eq!(
                code("GenerateDataKey", r),
                "AccessDeniedException",
                "{alias}"
            );
        }
    }

    // Reserved alias prefixes.
    let mine = alice.create_key().send().await.unwrap();
    let mine = mine.key_metadata().unwrap().key_id().to_owned();
    for name in ["alias/aws/x", "alias/sealgate/x"] {
        let r = alice
            .create_alias()
            .alias_name(name)
            .target_key_id(&mine)
            .send()
            .await;
        assert_eq!(code("CreateAlias", r), "NotAuthorizedException", "{name}");
    }
    let r = alice
        .update_alias()
        .alias_name(SERVICE_ALIAS)
        .target_key_id(&mine)
        .send()
        .await;
    assert_eq!(code("UpdateAlias", r), "NotAuthorizedException");
    let r = alice.delete_alias().alias_name(SERVICE_ALIAS).send().await;
    assert_eq!(code("DeleteAlias", r), "NotAuthorizedException");

    // S3 requests may use alias/aws/s3 but never name the gateway's own key.
    let r = s3
        .put_object()
        .bucket("svc")
        .key("steal")
        .body(b"x".to_vec().into())
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(SERVICE_ALIAS)
        .send()
        .await;
    let (status, s3_code) = common::failure("PUT under the service key", r);
    assert_eq!((status, s3_code.as_str()), (403, "AccessDenied"));

    // Nothing above changed the keys; S3 still serves both, also after a restart.
    assert_eq!(get(&s3, "s3").await, sse_s3);
    assert_eq!(get(&s3, "kms").await, sse_kms);
    server.stop();
    let server = Server::start_with(opts);
    let s3 = server.s3().await;
    assert_eq!(get(&s3, "s3").await, sse_s3);
    assert_eq!(get(&s3, "kms").await, sse_kms);
    let more = common::random(5000);
    put(&s3, "s3-after", &more, false).await;
    put(&s3, "kms-after", &more, true).await;
    assert_eq!(get(&s3, "s3-after").await, more);
    assert_eq!(get(&s3, "kms-after").await, more);
    assert_eq!(stored_v1(&data_dir).0, ring_arn, "the same service key");

    // The ring's calls are audited as the service's own.
    let records = audit_records(&data_dir);
    assert!(records.iter().any(|r| r["event"] == "Decrypt"
        && r["outcome"] == "success"
        && r["key_arn"] == ring_arn.as_str()
        && r["source"]["kind"] == "service"
        && r["source"]["resource"] == "system/sse-s3/v1"));
}

/// What an earlier build left behind: the gateway had made its service key with CreateKey and
/// CreateAlias (a customer-managed key with the default policy), and a principal then
/// disabled it — every SSE-S3 object offline at the next restart.
fn make_customer_managed_and_disabled(data_dir: &Path, key_arn: &str) {
    let db = rusqlite::Connection::open(data_dir.join("kms/kms.sqlite3")).unwrap();
    let changed = db
        .execute(
            "UPDATE keys SET aws_managed = 0, state = 'Disabled', \
             description = 'created by an earlier build' WHERE arn = ?1",
            [key_arn],
        )
        .unwrap();
    assert_eq!(changed, 1);
}

#[tokio::test]
async fn an_earlier_builds_customer_managed_service_key_is_converted() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let opts = Options {
        data_dir: Some(data_dir.clone()),
        config_toml: Some(alice_toml()),
        ..Default::default()
    };
    let mut server = Server::start_with(opts.clone());
    let s3 = server.s3().await;
    s3.create_bucket().bucket("svc").send().await.unwrap();
    let data = common::random(100_000);
    put(&s3, "old", &data, false).await;
    server.stop();
    let (ring_arn, _) = stored_v1(&data_dir);
    make_customer_managed_and_disabled(&data_dir, &ring_arn);

    let server = Server::start_with(opts);
    let s3 = server.s3().await;
    assert_eq!(get(&s3, "old").await, data, "the old object reads");
    let alice = server.kms_as(Some(ALICE)).await;
    let meta = alice
        .describe_key()
        .key_id(SERVICE_ALIAS)
        .send()
        .await
        .unwrap();
    let meta = meta.key_metadata().unwrap();
    assert_eq!(meta.arn(), Some(ring_arn.as_str()), "same key, same ARN");
    assert_eq!(
        meta.key_manager(),
        Some(&aws_sdk_kms::types::KeyManagerType::Aws)
    );
    assert_eq!(
        meta.key_state(),
        Some(&aws_sdk_kms::types::KeyState::Enabled)
    );
    management_refused(&alice, SERVICE_ALIAS).await;
    let more = common::random(1000);
    put(&s3, "new", &more, false).await;
    assert_eq!(get(&s3, "new").await, more);

    let records = audit_records(&data_dir);
    let converted: Vec<_> = records
        .iter()
        .filter(|r| r["event"] == "ConvertToServiceKey")
        .collect();
    assert_eq!(converted.len(), 1, "one conversion, audited");
    assert_eq!(converted[0]["key_arn"], ring_arn.as_str());
    assert_eq!(converted[0]["outcome"], "success");
    assert_eq!(converted[0]["source"]["kind"], "internal");
    assert_eq!(converted[0]["unusable_key_state"], "Disabled");
}

#[tokio::test]
async fn a_remote_kms_that_does_not_know_the_gateway_refuses_it_the_service_key() {
    // No kms_service_principals: the gateway's signing principal (the root credential) is an
    // ordinary principal there, which may not create or use alias/sealgate/sse-s3.
    let kms_host = Server::start_with(Options {
        kms_only: true,
        ..Default::default()
    });
    let gateway_opts = Options {
        config_toml: Some(format!(
            "kms_endpoint = \"{}\"\nkms_ca_file = \"{}\"\n",
            kms_host.kms_https,
            kms_host.ca_path.display()
        )),
        ..Default::default()
    };
    let started = std::panic::catch_unwind(|| Server::start_with(gateway_opts));
    let Err(panic) = started else {
        panic!("the gateway started without the service key");
    };
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("kms_service_principals"),
        "the start error names the option: {message}"
    );
    // The key the gateway made while trying is retired, and no alias points at one.
    let kms = kms_host.kms().await;
    let r = kms.describe_key().key_id(SERVICE_ALIAS).send().await;
    assert_eq!(code("DescribeKey", r), "NotFoundException");
    let keys = kms.list_keys().send().await.unwrap();
    for k in keys.keys() {
        let meta = kms
            .describe_key()
            .key_id(k.key_id().unwrap())
            .send()
            .await
            .unwrap();
        let meta = meta.key_metadata().unwrap();
        assert_eq!(
            meta.key_state(),
            Some(&aws_sdk_kms::types::KeyState::PendingDeletion),
            "{meta:?}"
        );
    }
}
