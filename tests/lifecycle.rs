//! Bucket lifecycle rules against the real binary with the AWS SDK: the configuration round
//! trip and every validation error AWS answers, then the worker under the test clock —
//! current versions expired (deleted, or hidden under a delete marker), noncurrent versions
//! removed keeping NewerNoncurrentVersions, expired object delete markers removed, incomplete
//! uploads aborted, nothing acted on early — with `x-amz-expiration` on PUT and HEAD and the
//! worker's counters on /metrics.
mod common;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator,
    LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectLockLegalHoldStatus, ObjectLockMode,
    Tag, Transition, TransitionStorageClass,
};
use common::{Options, Server, advance_clock, failure, metrics_text};

const DAY: u64 = 86_400;

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

fn prefix(p: &str) -> LifecycleRuleFilter {
    LifecycleRuleFilter::builder().prefix(p).build()
}

fn days(d: i32) -> LifecycleExpiration {
    LifecycleExpiration::builder().days(d).build()
}

/// An enabled rule with `id` and `filter`; the caller adds its actions.
fn rule(
    id: &str,
    filter: LifecycleRuleFilter,
) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(filter)
}

async fn put_rules(
    s3: &Client,
    bucket: &str,
    rules: Vec<LifecycleRule>,
) -> Result<
    aws_sdk_s3::operation::put_bucket_lifecycle_configuration::PutBucketLifecycleConfigurationOutput,
    aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::put_bucket_lifecycle_configuration::PutBucketLifecycleConfigurationError,
    >,
>{
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .set_rules(Some(rules))
                .build()
                .unwrap(),
        )
        .send()
        .await
}

async fn put(s3: &Client, bucket: &str, key: &str, data: &[u8]) -> Option<String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap()
        .expiration()
        .map(str::to_owned)
}

async fn exists(s3: &Client, bucket: &str, key: &str) -> bool {
    s3.head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

async fn versioned(s3: &Client, bucket: &str) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    common::set_versioning(s3, bucket, BucketVersioningStatus::Enabled).await;
}

/// The versions of `key` as ListObjectVersions answers them, newest first: objects and delete
/// markers apart, each as `(version id, is latest)`.
async fn versions(
    s3: &Client,
    bucket: &str,
    key: &str,
) -> (Vec<(String, bool)>, Vec<(String, bool)>) {
    let out = s3
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .unwrap();
    let objects = out
        .versions()
        .iter()
        .map(|v| (v.version_id().unwrap().to_owned(), v.is_latest().unwrap()))
        .collect();
    let markers = out
        .delete_markers()
        .iter()
        .map(|m| (m.version_id().unwrap().to_owned(), m.is_latest().unwrap()))
        .collect();
    (objects, markers)
}

/// The keys of the multipart uploads in progress in `bucket`, sorted.
async fn upload_keys(s3: &Client, bucket: &str) -> Vec<String> {
    let out = s3
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let mut keys: Vec<String> = out
        .uploads()
        .iter()
        .map(|u| u.key().unwrap().to_owned())
        .collect();
    keys.sort();
    keys
}

/// A lifecycle counter (or the duration gauge) from /metrics.
fn metric(server: &Server, name: &str) -> f64 {
    let text = metrics_text(server.metrics_url.as_deref().expect("metrics URL"));
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

/// Moves the clock `secs` forward and waits for the pass that follows.
async fn advance_and_wait(server: &Server, kms: &aws_sdk_kms::Client, secs: u64) {
    let runs = metric(server, "sealgate_lifecycle_runs_total");
    advance_clock(kms, secs).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while metric(server, "sealgate_lifecycle_runs_total") < runs + 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no lifecycle pass after the clock moved; log:\n{}",
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn configuration_round_trip_and_validation_errors() {
    let server = Server::start();
    let s3 = server.s3().await;
    s3.create_bucket().bucket("lc-conf").send().await.unwrap();

    let (status, code) = failure(
        "GET before any rules",
        s3.get_bucket_lifecycle_configuration()
            .bucket("lc-conf")
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (404, "NoSuchLifecycleConfiguration")
    );

    let rules = vec![
        rule("logs", prefix("logs/"))
            .expiration(days(30))
            .build()
            .unwrap(),
        rule(
            "tagged",
            LifecycleRuleFilter::builder()
                .tag(tag("tier", "tmp"))
                .build(),
        )
        .expiration(
            LifecycleExpiration::builder()
                .date(DateTime::from_secs(1_893_456_000)) // 2030-01-01T00:00:00Z
                .build(),
        )
        .build()
        .unwrap(),
        rule(
            "and",
            LifecycleRuleFilter::builder()
                .and(
                    LifecycleRuleAndOperator::builder()
                        .prefix("data/")
                        .tags(tag("a", "1"))
                        .tags(tag("b", "2"))
                        .object_size_greater_than(10)
                        .object_size_less_than(1000)
                        .build(),
                )
                .build(),
        )
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(7)
                .newer_noncurrent_versions(3)
                .build(),
        )
        .build()
        .unwrap(),
        LifecycleRule::builder()
            .id("off")
            .status(ExpirationStatus::Disabled)
            .filter(
                LifecycleRuleFilter::builder()
                    .object_size_greater_than(5)
                    .build(),
            )
            .expiration(
                LifecycleExpiration::builder()
                    .expired_object_delete_marker(true)
                    .build(),
            )
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(2)
                    .build(),
            )
            .build()
            .unwrap(),
    ];
    put_rules(&s3, "lc-conf", rules.clone()).await.unwrap();
    let got = s3
        .get_bucket_lifecycle_configuration()
        .bucket("lc-conf")
        .send()
        .await
        .unwrap();
    assert_eq!(got.rules(), rules.as_slice(), "GET answers what PUT stored");

    // A rule without an ID gets one, as on AWS.
    put_rules(
        &s3,
        "lc-conf",
        vec![
            LifecycleRule::builder()
                .status(ExpirationStatus::Enabled)
                .filter(prefix(""))
                .expiration(days(1))
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    let got = s3
        .get_bucket_lifecycle_configuration()
        .bucket("lc-conf")
        .send()
        .await
        .unwrap();
    assert!(!got.rules()[0].id().unwrap_or("").is_empty(), "{got:?}");

    // Every refusal AWS makes, and none of them changes the stored rules.
    let ok = || rule("r", prefix("")).expiration(days(1));
    let cases: Vec<(&str, Vec<LifecycleRule>, u16, &str)> = vec![
        (
            "Days 0",
            vec![rule("r", prefix("")).expiration(days(0)).build().unwrap()],
            400,
            "InvalidArgument",
        ),
        (
            "Days < 0",
            vec![rule("r", prefix("")).expiration(days(-1)).build().unwrap()],
            400,
            "InvalidArgument",
        ),
        (
            "Date not at midnight",
            vec![
                rule("r", prefix(""))
                    .expiration(
                        LifecycleExpiration::builder()
                            .date(DateTime::from_secs(1_893_456_000 + 3600))
                            .build(),
                    )
                    .build()
                    .unwrap(),
            ],
            400,
            "InvalidArgument",
        ),
        (
            "ExpiredObjectDeleteMarker with Days",
            vec![
                rule("r", prefix(""))
                    .expiration(
                        LifecycleExpiration::builder()
                            .days(1)
                            .expired_object_delete_marker(true)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            ],
            400,
            "InvalidArgument",
        ),
        (
            "duplicate IDs",
            vec![ok().build().unwrap(), ok().build().unwrap()],
            400,
            "InvalidArgument",
        ),
        (
            "1001 rules",
            (0..1001)
                .map(|i| {
                    rule(&format!("r{i}"), prefix(""))
                        .expiration(days(1))
                        .build()
                        .unwrap()
                })
                .collect(),
            400,
            "InvalidArgument",
        ),
        (
            "ID over 255 characters",
            vec![
                rule(&"x".repeat(256), prefix(""))
                    .expiration(days(1))
                    .build()
                    .unwrap(),
            ],
            400,
            "InvalidArgument",
        ),
        (
            "NoncurrentDays 0",
            vec![
                rule("r", prefix(""))
                    .noncurrent_version_expiration(
                        NoncurrentVersionExpiration::builder()
                            .noncurrent_days(0)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            ],
            400,
            "InvalidArgument",
        ),
        (
            "tag filter with AbortIncompleteMultipartUpload",
            vec![
                rule(
                    "r",
                    LifecycleRuleFilter::builder().tag(tag("k", "v")).build(),
                )
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(1)
                        .build(),
                )
                .build()
                .unwrap(),
            ],
            400,
            "InvalidRequest",
        ),
        (
            "no action",
            vec![rule("r", prefix("")).build().unwrap()],
            400,
            "InvalidRequest",
        ),
        (
            "two conditions in one Filter",
            vec![
                rule(
                    "r",
                    LifecycleRuleFilter::builder()
                        .prefix("a")
                        .tag(tag("k", "v"))
                        .build(),
                )
                .expiration(days(1))
                .build()
                .unwrap(),
            ],
            400,
            "MalformedXML",
        ),
        (
            "Transition (no other storage class here)",
            vec![
                rule("r", prefix(""))
                    .transitions(
                        Transition::builder()
                            .days(30)
                            .storage_class(TransitionStorageClass::Glacier)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            ],
            400,
            "InvalidStorageClass",
        ),
    ];
    for (what, rules, want_status, want_code) in cases {
        let (status, code) = failure(what, put_rules(&s3, "lc-conf", rules).await);
        assert_eq!((status, code.as_str()), (want_status, want_code), "{what}");
    }
    let still = s3
        .get_bucket_lifecycle_configuration()
        .bucket("lc-conf")
        .send()
        .await
        .unwrap();
    assert_eq!(still.rules(), got.rules(), "refused PUTs change nothing");

    let (status, code) = failure(
        "no bucket",
        put_rules(&s3, "no-such-bucket", vec![ok().build().unwrap()]).await,
    );
    assert_eq!((status, code.as_str()), (404, "NoSuchBucket"));

    s3.delete_bucket_lifecycle()
        .bucket("lc-conf")
        .send()
        .await
        .unwrap();
    let (status, code) = failure(
        "GET after DELETE",
        s3.get_bucket_lifecycle_configuration()
            .bucket("lc-conf")
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (404, "NoSuchLifecycleConfiguration")
    );
}

#[tokio::test]
async fn worker_applies_rules_under_the_test_clock() {
    let server = Server::start_with(Options {
        test_clock: true,
        ..Options::default()
    });
    let s3 = server.s3().await;
    let kms = server.kms().await;

    // Unversioned: current versions expire by prefix, tag and size; the rest stays.
    s3.create_bucket().bucket("plain").send().await.unwrap();
    put_rules(
        &s3,
        "plain",
        vec![
            rule("expire-logs", prefix("logs/"))
                .expiration(days(1))
                .build()
                .unwrap(),
            rule(
                "tagged",
                LifecycleRuleFilter::builder()
                    .tag(tag("tier", "tmp"))
                    .build(),
            )
            .expiration(days(2))
            .build()
            .unwrap(),
            rule(
                "big",
                LifecycleRuleFilter::builder()
                    .and(
                        LifecycleRuleAndOperator::builder()
                            .prefix("big/")
                            .object_size_greater_than(100)
                            .build(),
                    )
                    .build(),
            )
            .expiration(days(1))
            .build()
            .unwrap(),
        ],
    )
    .await
    .unwrap();
    let header = put(&s3, "plain", "logs/a", b"log line").await;
    let header = header.expect("PUT of an object a rule expires answers x-amz-expiration");
    assert!(
        header.starts_with("expiry-date=\"")
            && header.contains("00:00:00 GMT\"")
            && header.ends_with(", rule-id=\"expire-logs\""),
        "{header}"
    );
    let head = s3
        .head_object()
        .bucket("plain")
        .key("logs/a")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.expiration(),
        Some(header.as_str()),
        "HEAD names the same expiry"
    );
    assert_eq!(put(&s3, "plain", "keep/b", b"kept").await, None);
    // A copy into the rule's prefix is expired by it, and says so.
    let copied = s3
        .copy_object()
        .bucket("plain")
        .key("logs/copy")
        .copy_source("plain/keep/b")
        .send()
        .await
        .unwrap();
    let copy_header = copied.expiration().unwrap_or_default();
    assert!(
        copy_header.ends_with(", rule-id=\"expire-logs\""),
        "CopyObject x-amz-expiration: {copy_header:?}"
    );
    s3.put_object()
        .bucket("plain")
        .key("t/tagged")
        .tagging("tier=tmp")
        .body(ByteStream::from_static(b"t"))
        .send()
        .await
        .unwrap();
    put(&s3, "plain", "t/untagged", b"t").await;
    put(&s3, "plain", "big/large", &[7u8; 200]).await;
    put(&s3, "plain", "big/small", &[7u8; 10]).await;

    // Versioned: expiring the current version leaves a delete marker.
    versioned(&s3, "vers").await;
    put_rules(
        &s3,
        "vers",
        vec![rule("all", prefix("")).expiration(days(1)).build().unwrap()],
    )
    .await
    .unwrap();
    put(&s3, "vers", "k1", b"version one").await;

    // Noncurrent versions: 4 versions, keep the newest noncurrent one.
    versioned(&s3, "ncv").await;
    put_rules(
        &s3,
        "ncv",
        vec![
            rule("ncv", prefix(""))
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .newer_noncurrent_versions(1)
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    for i in 0..4 {
        put(&s3, "ncv", "k", format!("version {i}").as_bytes()).await;
    }
    let (before_nc, _) = versions(&s3, "ncv", "k").await;
    assert_eq!(before_nc.len(), 4);

    // Incomplete uploads under `up/` are aborted.
    s3.create_bucket().bucket("mpu").send().await.unwrap();
    put_rules(
        &s3,
        "mpu",
        vec![
            rule("abort", prefix("up/"))
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(1)
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    let mut upload_ids = Vec::new();
    for key in ["up/x", "other/y"] {
        let id = s3
            .create_multipart_upload()
            .bucket("mpu")
            .key(key)
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_owned();
        s3.upload_part()
            .bucket("mpu")
            .key(key)
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from_static(b"part"))
            .send()
            .await
            .unwrap();
        upload_ids.push(id);
    }

    // Half a day on: nothing is due yet.
    advance_and_wait(&server, &kms, DAY / 2).await;
    for key in [
        "logs/a",
        "logs/copy",
        "keep/b",
        "t/tagged",
        "t/untagged",
        "big/large",
        "big/small",
    ] {
        assert!(exists(&s3, "plain", key).await, "{key} removed early");
    }
    assert_eq!(
        versions(&s3, "ncv", "k").await.0.len(),
        4,
        "noncurrent removed early"
    );
    assert_eq!(upload_keys(&s3, "mpu").await, vec!["other/y", "up/x"]);
    for name in [
        "sealgate_lifecycle_objects_expired_total",
        "sealgate_lifecycle_noncurrent_versions_removed_total",
        "sealgate_lifecycle_delete_markers_removed_total",
        "sealgate_lifecycle_uploads_aborted_total",
    ] {
        assert_eq!(metric(&server, name), 0.0, "{name}");
    }

    // Three more days (plus the round-up to midnight): every action is due.
    advance_and_wait(&server, &kms, 3 * DAY).await;
    for (key, kept) in [
        ("logs/a", false),
        ("logs/copy", false),
        ("keep/b", true),
        ("t/tagged", false),
        ("t/untagged", true),
        ("big/large", false),
        ("big/small", true),
    ] {
        assert_eq!(exists(&s3, "plain", key).await, kept, "{key}");
    }
    let (objects, markers) = versions(&s3, "vers", "k1").await;
    assert!(
        markers.len() == 1 && markers[0].1,
        "a delete marker is current: {markers:?}"
    );
    assert!(
        objects.len() == 1 && !objects[0].1,
        "the expired version is kept as noncurrent: {objects:?}"
    );
    let (status, _) = failure("GET", s3.get_object().bucket("vers").key("k1").send().await);
    assert_eq!(status, 404);

    let (after_nc, _) = versions(&s3, "ncv", "k").await;
    assert_eq!(
        after_nc,
        before_nc[..2],
        "the current version and the newest noncurrent one stay"
    );
    let body = s3
        .get_object()
        .bucket("ncv")
        .key("k")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap();
    assert_eq!(body.into_bytes().as_ref(), b"version 3");
    assert_eq!(upload_keys(&s3, "mpu").await, vec!["other/y"]);
    let (status, code) = failure(
        "ListParts of the aborted upload",
        s3.list_parts()
            .bucket("mpu")
            .key("up/x")
            .upload_id(&upload_ids[0])
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (404, "NoSuchUpload"));

    assert_eq!(
        metric(&server, "sealgate_lifecycle_objects_expired_total"),
        5.0,
        "logs/a, logs/copy, t/tagged, big/large and vers/k1"
    );
    assert_eq!(
        metric(
            &server,
            "sealgate_lifecycle_noncurrent_versions_removed_total"
        ),
        2.0
    );
    assert_eq!(
        metric(&server, "sealgate_lifecycle_uploads_aborted_total"),
        1.0
    );
    assert_eq!(metric(&server, "sealgate_lifecycle_failures_total"), 0.0);
    assert!(metric(&server, "sealgate_lifecycle_last_run_duration_seconds") > 0.0);

    // The expired version's noncurrent life ends too, and then the lone delete marker goes.
    put_rules(
        &s3,
        "vers",
        vec![
            rule("ncv", prefix(""))
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .build(),
                )
                .build()
                .unwrap(),
            rule("markers", prefix(""))
                .expiration(
                    LifecycleExpiration::builder()
                        .expired_object_delete_marker(true)
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    advance_and_wait(&server, &kms, 3 * DAY).await;
    assert_eq!(
        versions(&s3, "vers", "k1").await,
        (vec![], vec![]),
        "nothing left of k1"
    );
    assert_eq!(
        metric(
            &server,
            "sealgate_lifecycle_noncurrent_versions_removed_total"
        ),
        3.0
    );
    assert_eq!(
        metric(&server, "sealgate_lifecycle_delete_markers_removed_total"),
        1.0
    );
    assert!(metric(&server, "sealgate_lifecycle_runs_total") >= 3.0);
}

/// Object Lock outranks every rule: noncurrent versions under a retention or a legal hold stay
/// past their NoncurrentDays; the unprotected noncurrent version beside them goes.
#[tokio::test]
async fn locked_versions_outlive_noncurrent_expiration() {
    let server = Server::start_with(Options {
        test_clock: true,
        ..Options::default()
    });
    let s3 = server.s3().await;
    let kms = server.kms().await;
    s3.create_bucket()
        .bucket("locked")
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    put_rules(
        &s3,
        "locked",
        vec![
            rule("old", prefix(""))
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let put = |body: &'static [u8]| {
        s3.put_object()
            .bucket("locked")
            .key("k")
            .body(ByteStream::from_static(body))
    };
    let id = |out: aws_sdk_s3::operation::put_object::PutObjectOutput| {
        out.version_id().expect("a version id").to_owned()
    };
    let governed = id(put(b"one")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(DateTime::from_secs(now + 30 * DAY as i64))
        .send()
        .await
        .unwrap());
    let held = id(put(b"two")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap());
    let plain = id(put(b"three").send().await.unwrap());
    let current = id(put(b"four").send().await.unwrap());

    let removed = "sealgate_lifecycle_noncurrent_versions_removed_total";
    let before = metric(&server, removed);
    advance_and_wait(&server, &kms, 3 * DAY).await;
    let (objects, _) = versions(&s3, "locked", "k").await;
    let ids: Vec<&str> = objects.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(
        ids,
        [current.as_str(), held.as_str(), governed.as_str()],
        "the unprotected noncurrent version {plain} goes, the protected ones stay"
    );
    assert_eq!(metric(&server, removed), before + 1.0);
}
