//! S3 Object Lock against the real binary with the AWS SDK: buckets created with Object Lock
//! (versioning on for good), the configuration and its default retention, retention and legal
//! hold per version, the lock headers on PUT/Copy/multipart and on GET/HEAD, every refusal AWS
//! makes (a locked version's removal, a COMPLIANCE retention shortened, a GOVERNANCE one
//! without the bypass or its permission, lock headers on a bucket without Object Lock, bad
//! modes and dates, a lock PUT without an integrity check), the record MAC over the lock
//! fields (an edit on disk never unlocks a version) and the KMS warning when the key of a
//! locked SSE-KMS version is scheduled for deletion or disabled.
mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, DefaultRetention, Delete,
    ObjectIdentifier, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold,
    ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode,
    ObjectLockRule, ServerSideEncryption, VersioningConfiguration,
};
use common::{Server, failure, meta_path, metrics_text};
use serde_json::Value;

/// An IAM user of the root's account allowed every S3 action but the governance bypass (and
/// Object Lock configuration on buckets named `gov-*`).
const GOV: (&str, &str) = (
    "GOVACCESSKEY00000001",
    "gov-secret-key-00000000000000000000000001",
);

fn start() -> Server {
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"s3:*","Resource":"*"},
        {"Effect":"Deny","Action":"s3:BypassGovernanceRetention","Resource":"*"},
        {"Effect":"Deny","Action":"s3:PutBucketObjectLockConfiguration","Resource":"arn:aws:s3:::gov-*"}]}"#;
    Server::start_with(common::Options {
        config_toml: Some(format!(
            "\n[[users]]\nname = \"gov\"\naccess_key = \"{}\"\nsecret_key = \"{}\"\npolicy = '''{policy}'''\n",
            GOV.0, GOV.1
        )),
        ..Default::default()
    })
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn retention(mode: ObjectLockRetentionMode, until: i64) -> ObjectLockRetention {
    ObjectLockRetention::builder()
        .mode(mode)
        .retain_until_date(DateTime::from_secs(until))
        .build()
}

fn hold(on: bool) -> ObjectLockLegalHold {
    let status = if on {
        ObjectLockLegalHoldStatus::On
    } else {
        ObjectLockLegalHoldStatus::Off
    };
    ObjectLockLegalHold::builder().status(status).build()
}

async fn create_locked(s3: &Client, bucket: &str) {
    s3.create_bucket()
        .bucket(bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
}

/// PUT `data` (SSE-S3 unless `kms_key`), locked COMPLIANCE until `until` when given; the
/// version id.
async fn put(
    s3: &Client,
    bucket: &str,
    key: &str,
    until: Option<(ObjectLockMode, i64)>,
    kms_key: Option<&str>,
) -> String {
    let mut p = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(key.as_bytes().to_vec()));
    if let Some((mode, t)) = until {
        p = p
            .object_lock_mode(mode)
            .object_lock_retain_until_date(DateTime::from_secs(t));
    }
    p = match kms_key {
        Some(k) => p
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(k),
        None => p.server_side_encryption(ServerSideEncryption::Aes256),
    };
    let out = p
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    out.version_id().expect("a version id").to_owned()
}

async fn delete_version(
    s3: &Client,
    bucket: &str,
    key: &str,
    version: &str,
    bypass: bool,
) -> Result<(), (u16, String)> {
    let mut d = s3
        .delete_object()
        .bucket(bucket)
        .key(key)
        .version_id(version);
    if bypass {
        d = d.bypass_governance_retention(true);
    }
    match d.send().await {
        Ok(_) => Ok(()),
        r => Err(failure("delete version", r)),
    }
}

async fn body(s3: &Client, bucket: &str, key: &str, version: &str) -> Vec<u8> {
    s3.get_object()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key}@{version}: {e:?}"))
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes()
        .to_vec()
}

fn denied() -> Result<(), (u16, String)> {
    Err((403, "AccessDenied".into()))
}

#[tokio::test]
async fn configuration_retention_legal_hold_and_refusals() {
    let server = start();
    let s3 = server.s3().await;
    let gov = server.s3_as(Some(GOV)).await;
    let now = now_secs();

    // ---- a bucket without Object Lock ----
    s3.create_bucket().bucket("plain").send().await.unwrap();
    assert_eq!(
        failure(
            "config of a plain bucket",
            s3.get_object_lock_configuration()
                .bucket("plain")
                .send()
                .await
        ),
        (404, "ObjectLockConfigurationNotFoundError".into())
    );
    let r = s3
        .put_object()
        .bucket("plain")
        .key("k")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(
        failure("lock header on a plain bucket", r),
        (400, "InvalidRequest".into())
    );
    s3.put_object()
        .bucket("plain")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        failure(
            "legal hold on a plain bucket",
            s3.put_object_legal_hold()
                .bucket("plain")
                .key("k")
                .legal_hold(hold(true))
                .send()
                .await
        ),
        (400, "InvalidRequest".into())
    );
    // Enabling Object Lock on an existing bucket needs versioning Enabled first (AWS, 2023).
    let config = |rule: Option<ObjectLockRule>| {
        ObjectLockConfiguration::builder()
            .object_lock_enabled(ObjectLockEnabled::Enabled)
            .set_rule(rule)
            .build()
    };
    assert_eq!(
        failure(
            "lock without versioning",
            s3.put_object_lock_configuration()
                .bucket("plain")
                .object_lock_configuration(config(None))
                .send()
                .await
        ),
        (409, "InvalidBucketState".into())
    );
    common::set_versioning(&s3, "plain", BucketVersioningStatus::Enabled).await;
    s3.put_object_lock_configuration()
        .bucket("plain")
        .object_lock_configuration(config(None))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object_lock_configuration()
        .bucket("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.object_lock_configuration()
            .unwrap()
            .object_lock_enabled(),
        Some(&ObjectLockEnabled::Enabled)
    );

    // ---- CreateBucket with Object Lock also needs s3:PutBucketObjectLockConfiguration ----
    let r = gov
        .create_bucket()
        .bucket("gov-locked")
        .object_lock_enabled_for_bucket(true)
        .send()
        .await;
    assert_eq!(
        failure("lock bucket without the right", r),
        (403, "AccessDenied".into())
    );
    assert_eq!(
        failure(
            "the refused bucket was not created",
            s3.head_bucket().bucket("gov-locked").send().await
        )
        .0,
        404
    );
    gov.create_bucket()
        .bucket("gov-plain")
        .send()
        .await
        .unwrap();

    // ---- a bucket created with Object Lock: versioning Enabled, never Suspended ----
    let b = "locked";
    create_locked(&s3, b).await;
    let v = s3.get_bucket_versioning().bucket(b).send().await.unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));
    let suspend = s3
        .put_bucket_versioning()
        .bucket(b)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await;
    assert_eq!(
        failure("suspend a lock bucket", suspend),
        (409, "InvalidBucketState".into())
    );
    let c = s3
        .get_object_lock_configuration()
        .bucket(b)
        .send()
        .await
        .unwrap();
    let c = c.object_lock_configuration().unwrap();
    assert_eq!(c.object_lock_enabled(), Some(&ObjectLockEnabled::Enabled));
    assert!(c.rule().is_none(), "no default retention yet");

    // ---- COMPLIANCE: never removed, shortened or weakened; only extended ----
    let until = now + 3600;
    let vc = put(&s3, b, "c", Some((ObjectLockMode::Compliance, until)), None).await;
    let head = s3
        .head_object()
        .bucket(b)
        .key("c")
        .version_id(&vc)
        .send()
        .await
        .unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    assert_eq!(
        head.object_lock_retain_until_date().map(|d| d.secs()),
        Some(until)
    );
    assert!(head.object_lock_legal_hold_status().is_none());
    let r = s3
        .get_object_retention()
        .bucket(b)
        .key("c")
        .version_id(&vc)
        .send()
        .await
        .unwrap();
    let r = r.retention().unwrap();
    assert_eq!(r.mode(), Some(&ObjectLockRetentionMode::Compliance));
    assert_eq!(r.retain_until_date().map(|d| d.secs()), Some(until));
    assert_eq!(delete_version(&s3, b, "c", &vc, false).await, denied());
    assert_eq!(delete_version(&s3, b, "c", &vc, true).await, denied());
    for (what, change) in [
        (
            "shortened",
            retention(ObjectLockRetentionMode::Compliance, until - 60),
        ),
        (
            "weakened",
            retention(ObjectLockRetentionMode::Governance, until + 60),
        ),
        ("removed", ObjectLockRetention::builder().build()),
    ] {
        let r = s3
            .put_object_retention()
            .bucket(b)
            .key("c")
            .version_id(&vc)
            .retention(change)
            .bypass_governance_retention(true)
            .send()
            .await;
        assert_eq!(
            failure(what, r),
            (403, "AccessDenied".into()),
            "COMPLIANCE {what}"
        );
    }
    let later = until + 7200;
    s3.put_object_retention()
        .bucket(b)
        .key("c")
        .version_id(&vc)
        .retention(retention(ObjectLockRetentionMode::Compliance, later))
        .send()
        .await
        .unwrap();
    let r = s3
        .get_object_retention()
        .bucket(b)
        .key("c")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.retention().unwrap().retain_until_date().map(|d| d.secs()),
        Some(later),
        "extended"
    );
    // A DELETE without a version id only adds a delete marker; the version stays readable.
    let dm = s3.delete_object().bucket(b).key("c").send().await.unwrap();
    assert_eq!(dm.delete_marker(), Some(true));
    assert_eq!(body(&s3, b, "c", &vc).await, b"c");
    // The marker itself is no locked version: it may go.
    delete_version(&s3, b, "c", dm.version_id().unwrap(), false)
        .await
        .unwrap();

    // ---- default retention: GOVERNANCE for 1 day on every new version ----
    let rule = ObjectLockRule::builder()
        .default_retention(
            DefaultRetention::builder()
                .mode(ObjectLockRetentionMode::Governance)
                .days(1)
                .build(),
        )
        .build();
    s3.put_object_lock_configuration()
        .bucket(b)
        .object_lock_configuration(config(Some(rule)))
        .send()
        .await
        .unwrap();
    let c = s3
        .get_object_lock_configuration()
        .bucket(b)
        .send()
        .await
        .unwrap();
    let d = c
        .object_lock_configuration()
        .unwrap()
        .rule()
        .unwrap()
        .default_retention()
        .unwrap();
    assert_eq!(d.mode(), Some(&ObjectLockRetentionMode::Governance));
    assert_eq!(d.days(), Some(1));
    assert_eq!(d.years(), None);
    let bad = ObjectLockRule::builder()
        .default_retention(
            DefaultRetention::builder()
                .mode(ObjectLockRetentionMode::Governance)
                .days(0)
                .build(),
        )
        .build();
    assert_eq!(
        failure(
            "zero days",
            s3.put_object_lock_configuration()
                .bucket(b)
                .object_lock_configuration(config(Some(bad)))
                .send()
                .await
        ),
        (400, "InvalidArgument".into())
    );
    let vg = put(&s3, b, "g", None, None).await;
    let head = s3.head_object().bucket(b).key("g").send().await.unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
    let day_later = head.object_lock_retain_until_date().unwrap().secs();
    assert!(
        (now + 86_400 - 5..=now_secs() + 86_400 + 5).contains(&day_later),
        "default retention ends a day after the write ({day_later}, now {now})"
    );

    // ---- GOVERNANCE: the bypass needs the header and s3:BypassGovernanceRetention ----
    assert_eq!(delete_version(&s3, b, "g", &vg, false).await, denied());
    assert_eq!(delete_version(&gov, b, "g", &vg, true).await, denied());
    let shorter = retention(ObjectLockRetentionMode::Governance, now + 600);
    for (who, client, bypass) in [("root without bypass", &s3, false), ("gov", &gov, true)] {
        let r = client
            .put_object_retention()
            .bucket(b)
            .key("g")
            .retention(shorter.clone())
            .bypass_governance_retention(bypass)
            .send()
            .await;
        assert_eq!(failure(who, r), (403, "AccessDenied".into()), "{who}");
    }
    // Extending needs no bypass, from anyone allowed s3:PutObjectRetention.
    gov.put_object_retention()
        .bucket(b)
        .key("g")
        .retention(retention(
            ObjectLockRetentionMode::Governance,
            now + 2 * 86_400,
        ))
        .send()
        .await
        .unwrap();
    s3.put_object_retention()
        .bucket(b)
        .key("g")
        .retention(shorter)
        .bypass_governance_retention(true)
        .send()
        .await
        .unwrap();
    let r = s3
        .get_object_retention()
        .bucket(b)
        .key("g")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.retention().unwrap().retain_until_date().map(|d| d.secs()),
        Some(now + 600)
    );
    delete_version(&s3, b, "g", &vg, true).await.unwrap();
    assert_eq!(
        failure(
            "removed version",
            s3.get_object()
                .bucket(b)
                .key("g")
                .version_id(&vg)
                .send()
                .await
        ),
        (404, "NoSuchVersion".into())
    );

    // ---- legal hold: blocks removal whatever the retention and the bypass ----
    let h = "held";
    create_locked(&s3, h).await;
    let vh = put(&s3, h, "k", None, None).await;
    assert_eq!(
        failure(
            "no legal hold yet",
            s3.get_object_legal_hold().bucket(h).key("k").send().await
        ),
        (404, "NoSuchObjectLockConfiguration".into())
    );
    assert_eq!(
        failure(
            "no retention",
            s3.get_object_retention().bucket(h).key("k").send().await
        ),
        (404, "NoSuchObjectLockConfiguration".into())
    );
    s3.put_object_legal_hold()
        .bucket(h)
        .key("k")
        .version_id(&vh)
        .legal_hold(hold(true))
        .send()
        .await
        .unwrap();
    let lh = s3
        .get_object_legal_hold()
        .bucket(h)
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        lh.legal_hold().unwrap().status(),
        Some(&ObjectLockLegalHoldStatus::On)
    );
    let head = s3.head_object().bucket(h).key("k").send().await.unwrap();
    assert_eq!(
        head.object_lock_legal_hold_status(),
        Some(&ObjectLockLegalHoldStatus::On)
    );
    assert_eq!(delete_version(&s3, h, "k", &vh, true).await, denied());
    // DeleteObjects reports the locked entry as its AccessDenied and removes the other.
    let vfree = put(&s3, h, "free", None, None).await;
    let entry = |k: &str, v: &str| {
        ObjectIdentifier::builder()
            .key(k)
            .version_id(v)
            .build()
            .unwrap()
    };
    let out = s3
        .delete_objects()
        .bucket(h)
        .delete(
            Delete::builder()
                .objects(entry("k", &vh))
                .objects(entry("free", &vfree))
                .build()
                .unwrap(),
        )
        .bypass_governance_retention(true)
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 1);
    assert_eq!(out.deleted()[0].key(), Some("free"));
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].key(), Some("k"));
    assert_eq!(out.errors()[0].code(), Some("AccessDenied"));
    s3.put_object_legal_hold()
        .bucket(h)
        .key("k")
        .version_id(&vh)
        .legal_hold(hold(false))
        .send()
        .await
        .unwrap();
    let lh = s3
        .get_object_legal_hold()
        .bucket(h)
        .key("k")
        .version_id(&vh)
        .send()
        .await
        .unwrap();
    assert_eq!(
        lh.legal_hold().unwrap().status(),
        Some(&ObjectLockLegalHoldStatus::Off)
    );
    delete_version(&s3, h, "k", &vh, false).await.unwrap();

    // ---- lock headers: validated as AWS, on PUT, copy and multipart ----
    let bad_put = |mode: Option<ObjectLockMode>, until: Option<i64>| {
        s3.put_object()
            .bucket(h)
            .key("bad")
            .set_object_lock_mode(mode)
            .set_object_lock_retain_until_date(until.map(DateTime::from_secs))
            .body(ByteStream::from_static(b"x"))
            .send()
    };
    for (what, r) in [
        (
            "mode without date",
            bad_put(Some(ObjectLockMode::Compliance), None).await,
        ),
        ("date without mode", bad_put(None, Some(now + 60)).await),
        (
            "date in the past",
            bad_put(Some(ObjectLockMode::Governance), Some(now - 60)).await,
        ),
        (
            "unknown mode",
            bad_put(Some(ObjectLockMode::from("STRICT")), Some(now + 60)).await,
        ),
    ] {
        assert_eq!(failure(what, r), (400, "InvalidArgument".into()), "{what}");
    }
    // A PUT with lock headers needs Content-MD5 or a checksum: a client that sends neither.
    let bare = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&server.sdk_config(None).await)
            .endpoint_url(&server.s3_https)
            .force_path_style(true)
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .build(),
    );
    let r = bare
        .put_object()
        .bucket(h)
        .key("no-md5")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(
        failure("lock PUT without checksum", r),
        (400, "InvalidRequest".into())
    );
    put(&s3, h, "src", None, None).await;
    let copied = s3
        .copy_object()
        .bucket(h)
        .key("copy")
        .copy_source(format!("{h}/src"))
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(DateTime::from_secs(now + 900))
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap();
    let head = s3.head_object().bucket(h).key("copy").send().await.unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
    assert_eq!(
        head.object_lock_retain_until_date().map(|d| d.secs()),
        Some(now + 900)
    );
    assert_eq!(
        head.object_lock_legal_hold_status(),
        Some(&ObjectLockLegalHoldStatus::On)
    );
    assert_eq!(
        delete_version(&s3, h, "copy", copied.version_id().unwrap(), true).await,
        denied()
    );
    let up = s3
        .create_multipart_upload()
        .bucket(h)
        .key("mp")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(DateTime::from_secs(now + 1200))
        .send()
        .await
        .unwrap();
    let part = s3
        .upload_part()
        .bucket(h)
        .key("mp")
        .upload_id(up.upload_id().unwrap())
        .part_number(1)
        .body(ByteStream::from_static(b"multipart"))
        .send()
        .await
        .unwrap();
    let done = s3
        .complete_multipart_upload()
        .bucket(h)
        .key("mp")
        .upload_id(up.upload_id().unwrap())
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let r = s3
        .get_object_retention()
        .bucket(h)
        .key("mp")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.retention().unwrap().mode(),
        Some(&ObjectLockRetentionMode::Compliance)
    );
    assert_eq!(
        delete_version(&s3, h, "mp", done.version_id().unwrap(), true).await,
        denied()
    );
    // The lock headers of GET/HEAD need s3:GetObjectRetention / s3:GetObjectLegalHold.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":["s3:GetObjectRetention","s3:GetObjectLegalHold"],"Resource":"arn:aws:s3:::{h}/*"}}]}}"#
    );
    s3.put_bucket_policy()
        .bucket(h)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let head = gov
        .head_object()
        .bucket(h)
        .key("copy")
        .send()
        .await
        .unwrap();
    assert!(head.object_lock_mode().is_none());
    assert!(head.object_lock_retain_until_date().is_none());
    assert!(head.object_lock_legal_hold_status().is_none());
}

/// An edit of a meta record's JSON, as a backend writer could make it.
type RecordEdit = fn(&mut Value);

#[tokio::test]
async fn record_mac_covers_the_lock() {
    let server = start();
    let s3 = server.s3().await;
    let kms_key = common::new_key_arn(&server).await;
    let b = "tamper";
    create_locked(&s3, b).await;
    let until = now_secs() + 3600;
    for (key, kms) in [("s3", None), ("kms", Some(kms_key.as_str()))] {
        let v = put(&s3, b, key, Some((ObjectLockMode::Compliance, until)), kms).await;
        let path = meta_path(&server.data_dir, b, key);
        let original = std::fs::read(&path).unwrap();
        let record: Value = serde_json::from_slice(&original).unwrap();
        assert_eq!(
            record["lock"]["retention"]["mode"], "COMPLIANCE",
            "{record}"
        );
        let edits: Vec<(&str, RecordEdit)> = vec![
            ("lock dropped", |m| {
                m.as_object_mut().unwrap().remove("lock");
            }),
            ("retention shortened", |m| {
                let t = m["lock"]["retention"]["retain_until_ms"].as_i64().unwrap();
                m["lock"]["retention"]["retain_until_ms"] = (t - 3_000_000).into();
            }),
            ("mode weakened", |m| {
                m["lock"]["retention"]["mode"] = "GOVERNANCE".into();
            }),
            ("downgraded to an unauthenticated record", |m| {
                m["format"] = "sealgate-meta/1".into();
                m.as_object_mut().unwrap().remove("mac");
                m.as_object_mut().unwrap().remove("lock");
            }),
        ];
        for (what, edit) in edits {
            let mut m = record.clone();
            edit(&mut m);
            std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
            let r = delete_version(&s3, b, key, &v, true).await;
            assert!(
                r.is_err(),
                "{key}: {what}: an edited record unlocked the version"
            );
            // The edit changed nothing the gateway honours: the untouched record still locks.
            std::fs::write(&path, &original).unwrap();
            assert_eq!(body(&s3, b, key, &v).await, key.as_bytes(), "{key}: {what}");
        }
        assert_eq!(delete_version(&s3, b, key, &v, true).await, denied());
    }
    // A record whose lock was edited reads as tampered.
    let path = meta_path(&server.data_dir, b, "s3");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["lock"]["retention"]["mode"] = "GOVERNANCE".into();
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    let r = s3.get_object().bucket(b).key("s3").send().await;
    assert_eq!(failure("tampered read", r).0, 500);
}

#[tokio::test]
async fn kms_key_of_a_locked_version_warns_when_deleted_or_disabled() {
    let server = start();
    let s3 = server.s3().await;
    let kms = server.kms().await;
    let locked_key = common::new_key_arn(&server).await;
    let plain_key = common::new_key_arn(&server).await;
    let b = "kmslock";
    create_locked(&s3, b).await;
    put(
        &s3,
        b,
        "locked",
        Some((ObjectLockMode::Compliance, now_secs() + 3600)),
        Some(&locked_key),
    )
    .await;
    put(&s3, b, "unlocked", None, Some(&plain_key)).await;

    let tags = kms
        .list_resource_tags()
        .key_id(&locked_key)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.tag_key() == "sealgate:object-lock"),
        "the key of a locked version is marked: {tags:?}"
    );
    let tags = kms
        .list_resource_tags()
        .key_id(&plain_key)
        .send()
        .await
        .unwrap();
    assert!(tags.tags().is_empty(), "{tags:?}");

    let metrics = server.metrics_url.clone().unwrap();
    let series = |op: &str| {
        let name = format!("sealgate_kms_locked_key_deletions_total{{operation=\"{op}\"}} ");
        metrics_text(&metrics)
            .lines()
            .find_map(|l| {
                l.strip_prefix(&name)
                    .map(|v| v.trim().parse::<u64>().unwrap())
            })
            .unwrap_or_else(|| panic!("no series {name}"))
    };
    assert_eq!(series("ScheduleKeyDeletion"), 0);
    assert_eq!(series("DisableKey"), 0);
    // AWS semantics stay: both succeed; the operator is told.
    kms.disable_key().key_id(&plain_key).send().await.unwrap();
    kms.schedule_key_deletion()
        .key_id(&plain_key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(series("DisableKey"), 0);
    assert_eq!(series("ScheduleKeyDeletion"), 0);
    kms.disable_key().key_id(&locked_key).send().await.unwrap();
    assert_eq!(series("DisableKey"), 1);
    let scheduled = kms
        .schedule_key_deletion()
        .key_id(&locked_key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(
        scheduled.key_state().map(|s| s.as_str()),
        Some("PendingDeletion")
    );
    assert_eq!(series("ScheduleKeyDeletion"), 1);

    let log = std::fs::read_to_string(server.data_dir.join("kms").join("kms-audit.log")).unwrap();
    let warned: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["warning"].is_string())
        .collect();
    let events: Vec<&str> = warned
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["DisableKey", "ScheduleKeyDeletion"], "{warned:?}");
    for r in &warned {
        assert_eq!(r["key_arn"], locked_key.as_str());
        assert!(
            r["warning"].as_str().unwrap().contains("Object Lock"),
            "{r}"
        );
    }
}
