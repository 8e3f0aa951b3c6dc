//! The SSE-S3 master key ring roots in the KMS: its versions are stored only wrapped by the
//! service key `alias/sealgate/sse-s3`, as system records in the object store that no listing
//! shows; the KMS audit log records the gateway's use of that key; a pre-KMS local ring is
//! migrated and its plaintext files removed; SSE-S3 objects read after a restart, with the
//! embedded KMS and with a remote one.
mod common;

use std::path::Path;

use aws_sdk_s3::types::ServerSideEncryption;
use common::{Options, Server};

const SERVICE_ALIAS: &str = "alias/sealgate/sse-s3";

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, data: &[u8]) {
    let out = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(data.to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    s3.get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes()
        .to_vec()
}

/// The audit records (JSON lines) of `log`.
fn audit_records(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .expect("KMS audit log")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Records of `event` whose encryption context names the SSE-S3 master purpose.
fn master_uses<'a>(records: &'a [serde_json::Value], event: &str) -> Vec<&'a serde_json::Value> {
    records
        .iter()
        .filter(|r| {
            r["event"] == event
                && r["outcome"] == "success"
                && r["encryption_context"]["sealgate:purpose"] == "sse-s3-master-key"
        })
        .collect()
}

/// The wrapped record of version 1 in the local store, as JSON.
fn stored_v1(data_dir: &Path) -> serde_json::Value {
    let path = data_dir.join("objects/system/sse-s3/v1");
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&raw).expect("wrapped record is JSON")
}

#[tokio::test]
async fn master_ring_is_wrapped_by_the_kms_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let opts = Options {
        data_dir: Some(data_dir.clone()),
        ..Default::default()
    };
    let mut server = Server::start_with(opts.clone());
    let s3 = server.s3().await;
    // A bucket named like the system area must not collide with it.
    s3.create_bucket().bucket("system").send().await.unwrap();
    s3.create_bucket().bucket("data").send().await.unwrap();
    let small = common::random(1000);
    let big = common::random(3 * 1024 * 1024 + 17);
    put(&s3, "data", "small", &small).await;
    put(&s3, "data", "big", &big).await;

    // No plaintext ring on local disk: no keys/sse-s3, and no 32-byte `.key` file anywhere
    // except the KMS's own root key.
    assert!(!data_dir.join("keys").join("sse-s3").exists());
    for f in common::all_files(&data_dir) {
        let len = std::fs::metadata(&f).unwrap().len();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !(len == 32 && name.ends_with(".key") && name != "kms-root.key"),
            "raw key file {}",
            f.display()
        );
    }
    let record = stored_v1(&data_dir);
    assert_eq!(record["version"], 1);
    let key_arn = record["key_arn"].as_str().unwrap().to_owned();
    assert!(key_arn.starts_with("arn:aws:kms:"), "{record}");
    assert!(record["blob"].as_str().unwrap().len() > 40);

    // The service key: service-owned (KeyManager AWS), enabled, automatic rotation on.
    let kms = server.kms().await;
    let meta = kms
        .describe_key()
        .key_id(SERVICE_ALIAS)
        .send()
        .await
        .unwrap();
    let meta = meta.key_metadata().unwrap();
    assert_eq!(meta.arn(), Some(key_arn.as_str()));
    assert_eq!(
        meta.key_manager(),
        Some(&aws_sdk_kms::types::KeyManagerType::Aws)
    );
    let rotation = kms
        .get_key_rotation_status()
        .key_id(meta.key_id())
        .send()
        .await
        .unwrap();
    assert!(rotation.key_rotation_enabled());

    // Listings never show the system records.
    let buckets = s3.list_buckets().send().await.unwrap();
    let mut names: Vec<_> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    names.sort();
    assert_eq!(names, ["data", "system"]);
    let listed = s3.list_objects_v2().bucket("system").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));
    let listed = s3.list_objects_v2().bucket("data").send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["big", "small"]);

    // The audit log shows the gateway creating v1 under the service key.
    let audit_path = data_dir.join("kms").join("kms-audit.log");
    let records = audit_records(&audit_path);
    let generated = master_uses(&records, "GenerateDataKey");
    assert_eq!(generated.len(), 1, "one GenerateDataKey for v1");
    assert_eq!(generated[0]["key_arn"], key_arn.as_str());
    assert_eq!(generated[0]["encryption_context"]["sealgate:version"], "1");
    assert_eq!(generated[0]["source"]["kind"], "service");
    assert_eq!(generated[0]["source"]["resource"], "system/sse-s3/v1");
    assert!(
        records
            .iter()
            .any(|r| r["event"] == "CreateKey" && r["outcome"] == "success"),
        "the service key creation is audited"
    );
    // Per-object SSE-S3 work costs no KMS call: only the ring's own calls mention it.
    let before_restart = records.len();

    server.stop();
    let server = Server::start_with(opts);
    let s3 = server.s3().await;
    assert_eq!(get(&s3, "data", "small").await, small);
    assert_eq!(get(&s3, "data", "big").await, big);
    let records = audit_records(&audit_path);
    let decrypts = master_uses(&records[before_restart..], "Decrypt");
    assert_eq!(decrypts.len(), 1, "the restart unwraps v1 once");
    assert_eq!(decrypts[0]["key_arn"], key_arn.as_str());
    assert_eq!(
        master_uses(&records[before_restart..], "GenerateDataKey").len(),
        0,
        "no new version on restart"
    );
    // GETs of SSE-S3 objects made no KMS calls at all.
    let calls_after_start = records[before_restart..]
        .iter()
        .filter(|r| r["encryption_context"]["sealgate:purpose"] != "sse-s3-master-key")
        .filter(|r| r["event"] == "Decrypt" || r["event"] == "GenerateDataKey")
        .count();
    assert_eq!(calls_after_start, 0);
}

#[tokio::test]
async fn a_local_ring_is_migrated_under_the_kms() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let legacy = data_dir.join("keys").join("sse-s3");
    std::fs::create_dir_all(&legacy).unwrap();
    let v1 = common::random(32);
    let v2 = common::random(32);
    std::fs::write(legacy.join("v1.key"), &v1).unwrap();
    std::fs::write(legacy.join("v2.key"), &v2).unwrap();
    let opts = Options {
        data_dir: Some(data_dir.clone()),
        ..Default::default()
    };
    let mut server = Server::start_with(opts.clone());
    assert!(!legacy.exists(), "the plaintext ring is removed");
    assert!(
        common::find_bytes(&data_dir, &v1).is_none(),
        "v1 is on disk in the clear"
    );
    assert!(
        common::find_bytes(&data_dir, &v2).is_none(),
        "v2 is on disk in the clear"
    );
    assert_eq!(stored_v1(&data_dir)["version"], 1);
    assert!(data_dir.join("objects/system/sse-s3/v2").exists());
    let records = audit_records(&data_dir.join("kms").join("kms-audit.log"));
    let wrapped = master_uses(&records, "Encrypt");
    assert_eq!(wrapped.len(), 2, "both versions wrapped with Encrypt");

    let s3 = server.s3().await;
    s3.create_bucket().bucket("mig").send().await.unwrap();
    let data = common::random(70_000);
    put(&s3, "mig", "k", &data).await;
    server.stop();
    let server = Server::start_with(opts);
    let s3 = server.s3().await;
    assert_eq!(get(&s3, "mig", "k").await, data);
}

#[tokio::test]
async fn master_ring_with_a_remote_kms() {
    let kms_host = Server::start_with(Options {
        kms_only: true,
        // The gateways sign with the root credential: the KMS's service identity.
        config_toml: Some("kms_service_principals = [\"arn:aws:iam::000000000000:root\"]\n".into()),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let opts = Options {
        data_dir: Some(data_dir.clone()),
        config_toml: Some(format!(
            "kms_endpoint = \"{}\"\nkms_ca_file = \"{}\"\n",
            kms_host.kms_https,
            kms_host.ca_path.display()
        )),
        ..Default::default()
    };
    let mut gateway = Server::start_with(opts.clone());
    let s3 = gateway.s3().await;
    s3.create_bucket().bucket("rem").send().await.unwrap();
    let data = common::random(200_000);
    put(&s3, "rem", "k", &data).await;

    // The service key lives in the remote KMS, created there on the first use by the
    // gateway's principal (listed as the KMS's service identity).
    let kms = kms_host.kms().await;
    let meta = kms
        .describe_key()
        .key_id(SERVICE_ALIAS)
        .send()
        .await
        .unwrap();
    let arn = meta.key_metadata().unwrap().arn().unwrap().to_owned();
    assert_eq!(stored_v1(&data_dir)["key_arn"], arn.as_str());
    let audit_path = kms_host.data_dir.join("kms").join("kms-audit.log");
    let records = audit_records(&audit_path);
    assert!(
        records.iter().any(|r| r["event"] == "CreateKey"
            && r["outcome"] == "success"
            && r["key_arn"] == arn.as_str()
            && r["source"]["kind"] == "service"),
        "the service key's creation in the remote audit log"
    );
    assert_eq!(
        meta.key_metadata().unwrap().key_manager(),
        Some(&aws_sdk_kms::types::KeyManagerType::Aws)
    );
    assert_eq!(master_uses(&records, "GenerateDataKey").len(), 1);

    gateway.stop();
    let gateway = Server::start_with(opts);
    let s3 = gateway.s3().await;
    assert_eq!(get(&s3, "rem", "k").await, data);
    let records = audit_records(&audit_path);
    let decrypts = master_uses(&records, "Decrypt");
    assert_eq!(
        decrypts.len(),
        1,
        "the restarted gateway unwrapped v1 remotely"
    );
    assert_eq!(decrypts[0]["key_arn"], arn.as_str());
}
