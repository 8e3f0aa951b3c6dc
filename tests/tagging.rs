//! Object and bucket tagging, GetBucketVersioning of an unversioned bucket and GetObjectAttributes against the real
//! binary with the AWS SDK: tags set by `x-amz-tagging` (PutObject, CreateMultipartUpload,
//! CopyObject with its tagging directive) and by Put/DeleteObjectTagging in every SSE mode,
//! `x-amz-tagging-count`, AWS's limits and errors — and what is on disk: the tags are in the
//! meta record, covered by its MAC, and changing them rewrites no data.
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, ObjectAttributes,
    Tag, Tagging, TaggingDirective,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::inspect::inspect_json;
use common::sse::{MODES, Mode, customer_key};
use common::{Server, all_files, failure, meta_path, random};
use md5::{Digest, Md5};
use serde_json::Value;

const MIB: usize = 1024 * 1024;

/// A named edit of a meta record on disk.
type Edit = (&'static str, fn(&mut Value));
/// A refused tag set: (what, pairs, status, code).
type Row = (&'static str, Vec<(String, String)>, u16, &'static str);

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    let mut t = Tagging::builder();
    for (k, v) in pairs {
        t = t.tag_set(Tag::builder().key(*k).value(*v).build().unwrap());
    }
    t.build().unwrap()
}

fn as_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn put(s3: &Client, bucket: &str, key: &str, mode: Mode, data: &[u8], tags: Option<&str>) {
    mode.put(
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(data.to_vec()))
            .set_tagging(tags.map(str::to_owned)),
    )
    .send()
    .await
    .unwrap();
}

/// `(tag count header, bytes)` of a GET.
async fn get(s3: &Client, bucket: &str, key: &str, mode: Mode) -> (Option<i32>, Vec<u8>) {
    let o = mode
        .get(s3.get_object().bucket(bucket).key(key))
        .send()
        .await
        .unwrap();
    let count = o.tag_count();
    (count, o.body.collect().await.unwrap().into_bytes().to_vec())
}

async fn head_count(s3: &Client, bucket: &str, key: &str, mode: Mode) -> Option<i32> {
    mode.head(s3.head_object().bucket(bucket).key(key))
        .send()
        .await
        .unwrap()
        .tag_count()
}

async fn get_tags(s3: &Client, bucket: &str, key: &str) -> BTreeMap<String, String> {
    let out = s3
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    as_map(out.tag_set())
}

fn read_record(server: &Server, bucket: &str, key: &str) -> Value {
    serde_json::from_slice(&std::fs::read(meta_path(&server.data_dir, bucket, key)).unwrap())
        .unwrap()
}

fn write_record(server: &Server, bucket: &str, key: &str, v: &Value) {
    std::fs::write(
        meta_path(&server.data_dir, bucket, key),
        serde_json::to_vec(v).unwrap(),
    )
    .unwrap();
}

/// Every data blob of `bucket` with its bytes (`data/<bucket>/<generation>/<blob>`).
fn blobs(server: &Server, bucket: &str) -> BTreeMap<PathBuf, Vec<u8>> {
    all_files(&server.data_dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&format!("/data/{bucket}/")))
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

#[tokio::test]
async fn object_tags_in_every_mode_change_only_the_record() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "tags";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let data = random(200_000);
    for mode in MODES {
        let key = format!("obj-{mode:?}");
        put(&s3, b, &key, mode, &data, Some("project=blue&team=a%20b+c")).await;
        assert_eq!(
            get_tags(&s3, b, &key).await,
            map(&[("project", "blue"), ("team", "a b c")]),
            "{mode:?}"
        );
        assert_eq!(head_count(&s3, b, &key, mode).await, Some(2), "{mode:?}");
        assert_eq!(get(&s3, b, &key, mode).await, (Some(2), data.clone()));

        // On disk: the tags in the clear in the record, next to a sealed record key.
        let rec = read_record(&server, b, &key);
        assert_eq!(rec["format"], "sealgate-meta/2");
        assert_eq!(rec["tags"]["project"], "blue", "{mode:?}: {rec}");
        assert_eq!(rec["tags"]["team"], "a b c");
        assert!(
            rec["record_key"]["sealed"]["ciphertext"].is_string(),
            "{rec}"
        );
        let generation = rec["generation"].clone();

        // PutObjectTagging needs no SSE-C key (as on AWS) and rewrites only the record.
        let before = blobs(&server, b);
        s3.put_object_tagging()
            .bucket(b)
            .key(&key)
            .tagging(tagging(&[("stage", "prod"), ("empty", "")]))
            .send()
            .await
            .unwrap();
        assert_eq!(
            get_tags(&s3, b, &key).await,
            map(&[("empty", ""), ("stage", "prod")])
        );
        assert_eq!(blobs(&server, b), before, "{mode:?}: data was rewritten");
        let rec = read_record(&server, b, &key);
        assert_eq!(rec["generation"], generation);
        assert_eq!(rec["tags"]["stage"], "prod");
        assert!(rec["tags"].get("project").is_none());
        // The re-signed record still opens and the data reads back.
        assert_eq!(get(&s3, b, &key, mode).await, (Some(2), data.clone()));

        let del = s3
            .delete_object_tagging()
            .bucket(b)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert!(del.version_id().is_none());
        assert!(get_tags(&s3, b, &key).await.is_empty());
        assert_eq!(head_count(&s3, b, &key, mode).await, None);
        assert_eq!(get(&s3, b, &key, mode).await, (None, data.clone()));
        assert!(read_record(&server, b, &key).get("tags").is_none());
    }
}

#[tokio::test]
async fn tags_on_disk_are_authenticated() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "tagauth";
    s3.create_bucket().bucket(b).send().await.unwrap();
    for mode in [Mode::SseS3, Mode::SseC] {
        let key = format!("k-{mode:?}");
        put(&s3, b, &key, mode, b"tagged data", Some("class=secret")).await;
        let good = read_record(&server, b, &key);
        let edits: [Edit; 3] = [
            ("value changed", |r| r["tags"]["class"] = "public".into()),
            ("tags dropped", |r| {
                r.as_object_mut().unwrap().remove("tags");
            }),
            ("tag added", |r| r["tags"]["extra"] = "1".into()),
        ];
        for (what, edit) in edits {
            let mut r = good.clone();
            edit(&mut r);
            write_record(&server, b, &key, &r);
            // GET and GetObjectTagging refuse the record; PutObjectTagging does not re-sign it.
            let (k, md5) = customer_key();
            let mut g = s3.get_object().bucket(b).key(&key);
            if mode == Mode::SseC {
                g = g
                    .sse_customer_algorithm("AES256")
                    .sse_customer_key(k)
                    .sse_customer_key_md5(md5);
            }
            assert_eq!(
                failure("GET", g.send().await),
                (500, "InternalError".into()),
                "{mode:?} {what}"
            );
            let t = s3.get_object_tagging().bucket(b).key(&key).send().await;
            assert_eq!(
                failure("GetObjectTagging", t),
                (500, "InternalError".into())
            );
            let p = s3
                .put_object_tagging()
                .bucket(b)
                .key(&key)
                .tagging(tagging(&[("class", "public")]))
                .send()
                .await;
            assert_eq!(
                failure("PutObjectTagging", p),
                (500, "InternalError".into())
            );
        }
        write_record(&server, b, &key, &good);
        assert_eq!(get(&s3, b, &key, mode).await.1, b"tagged data");
    }
}

/// A record written before tagging (no `record_key`, no `tags`) stays readable, and its first
/// tag change derives the record key from the object key; for SSE-C that needs the key.
#[tokio::test]
async fn records_from_before_tagging_stay_usable() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "oldrec";
    s3.create_bucket().bucket(b).send().await.unwrap();
    for mode in MODES {
        let key = format!("old-{mode:?}");
        put(&s3, b, &key, mode, b"old object", None).await;
        let mut r = read_record(&server, b, &key);
        assert!(r.get("tags").is_none());
        r.as_object_mut().unwrap().remove("record_key");
        write_record(&server, b, &key, &r);
        assert_eq!(
            get(&s3, b, &key, mode).await,
            (None, b"old object".to_vec())
        );
        assert!(get_tags(&s3, b, &key).await.is_empty());
        let t = tagging(&[("migrated", "yes")]);
        if mode == Mode::SseC {
            let p = s3
                .put_object_tagging()
                .bucket(b)
                .key(&key)
                .tagging(t.clone())
                .send()
                .await;
            assert_eq!(
                failure("PutObjectTagging", p),
                (400, "InvalidRequest".into())
            );
            // With the customer key it can re-authenticate the record.
            let (k, md5) = customer_key();
            s3.put_object_tagging()
                .bucket(b)
                .key(&key)
                .tagging(t)
                .customize()
                .mutate_request(move |req| {
                    let h = req.headers_mut();
                    h.insert("x-amz-server-side-encryption-customer-algorithm", "AES256");
                    h.insert("x-amz-server-side-encryption-customer-key", k.clone());
                    h.insert("x-amz-server-side-encryption-customer-key-md5", md5.clone());
                })
                .send()
                .await
                .unwrap();
        } else {
            s3.put_object_tagging()
                .bucket(b)
                .key(&key)
                .tagging(t)
                .send()
                .await
                .unwrap();
        }
        assert_eq!(get_tags(&s3, b, &key).await, map(&[("migrated", "yes")]));
        assert!(read_record(&server, b, &key)["record_key"].is_object());
        assert_eq!(
            get(&s3, b, &key, mode).await,
            (Some(1), b"old object".to_vec())
        );
    }
}

#[tokio::test]
async fn tag_limits_and_errors() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "taglimits";
    s3.create_bucket().bucket(b).send().await.unwrap();
    put(&s3, b, "k", Mode::SseS3, b"x", None).await;
    let put_tags = |pairs: Vec<(String, String)>| {
        let s3 = s3.clone();
        async move {
            let mut t = Tagging::builder();
            for (k, v) in pairs {
                t = t.tag_set(Tag::builder().key(k).value(v).build().unwrap());
            }
            s3.put_object_tagging()
                .bucket(b)
                .key("k")
                .tagging(t.build().unwrap())
                .send()
                .await
        }
    };
    let s = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let ten: Vec<_> = (0..10).map(|i| s(&format!("k{i}"), "v")).collect();
    put_tags(ten.clone()).await.unwrap();
    let mut eleven = ten.clone();
    eleven.push(s("k10", "v"));
    let rows: Vec<Row> = vec![
        ("11 tags", eleven, 400, "BadRequest"),
        (
            "key of 129",
            vec![s(&"k".repeat(129), "v")],
            400,
            "InvalidTag",
        ),
        (
            "value of 257",
            vec![s("k", &"v".repeat(257))],
            400,
            "InvalidTag",
        ),
        (
            "aws: prefix",
            vec![s("aws:createdBy", "me")],
            400,
            "InvalidTag",
        ),
        (
            "duplicate keys",
            vec![s("a", "1"), s("a", "2")],
            400,
            "InvalidTag",
        ),
    ];
    for (what, pairs, status, code) in rows {
        assert_eq!(
            failure(what, put_tags(pairs).await),
            (status, code.to_owned()),
            "{what}"
        );
    }
    // The refused sets changed nothing.
    assert_eq!(get_tags(&s3, b, "k").await.len(), 10);
    put_tags(vec![s(&"k".repeat(128), &"v".repeat(256))])
        .await
        .unwrap();

    // The header's own errors on PutObject, which then stores nothing.
    for (header, code) in [
        ("a=1&a=2", "InvalidArgument"),
        ("aws:x=1", "InvalidTag"),
        ("a=%ff", "InvalidArgument"),
    ] {
        let r = s3
            .put_object()
            .bucket(b)
            .key("bad-header")
            .tagging(header)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
        assert_eq!(failure(header, r).1, code, "{header}");
    }
    let r = s3.head_object().bucket(b).key("bad-header").send().await;
    assert_eq!(failure("HEAD", r).0, 404);

    // Versions: only `null` exists in an unversioned bucket.
    let ok = s3
        .get_object_tagging()
        .bucket(b)
        .key("k")
        .version_id("null")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.tag_set().len(), 1);
    let r = s3
        .put_object_tagging()
        .bucket(b)
        .key("k")
        .version_id("fffe6a1b2c3d4e5fAbCdEfGhIjKlMnOp")
        .tagging(tagging(&[("a", "b")]))
        .send()
        .await;
    assert_eq!(failure("versionId", r), (404, "NoSuchVersion".into()));
    let r = s3
        .put_object_tagging()
        .bucket(b)
        .key("k")
        .version_id("3HL4kqtJlcpXroDTDmjVBH40Nrjfkd")
        .tagging(tagging(&[("a", "b")]))
        .send()
        .await;
    assert_eq!(
        failure("malformed versionId", r),
        (400, "InvalidArgument".into())
    );
    let r = s3
        .get_object_tagging()
        .bucket(b)
        .key("missing")
        .send()
        .await;
    assert_eq!(failure("missing", r), (404, "NoSuchKey".into()));
}

#[tokio::test]
async fn tags_through_multipart_and_copy() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "tagcopy";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let data = random(6 * MIB);
    let id = s3
        .create_multipart_upload()
        .bucket(b)
        .key("mpu")
        .tagging("from=create&n=1")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let upload = common::upload_parts(&s3, b, "mpu", &id, &data, 5 * MIB).await;
    s3.complete_multipart_upload()
        .bucket(b)
        .key("mpu")
        .upload_id(&id)
        .multipart_upload(upload)
        .send()
        .await
        .unwrap();
    assert_eq!(
        get_tags(&s3, b, "mpu").await,
        map(&[("from", "create"), ("n", "1")])
    );
    assert_eq!(head_count(&s3, b, "mpu", Mode::SseS3).await, Some(2));

    // COPY (the default) carries the source's tags; REPLACE takes the request's, or none.
    s3.copy_object()
        .bucket(b)
        .key("copied")
        .copy_source(format!("{b}/mpu"))
        .send()
        .await
        .unwrap();
    assert_eq!(get_tags(&s3, b, "copied").await.len(), 2);
    s3.copy_object()
        .bucket(b)
        .key("replaced")
        .copy_source(format!("{b}/mpu"))
        .tagging_directive(TaggingDirective::Replace)
        .tagging("new=tag")
        .send()
        .await
        .unwrap();
    assert_eq!(get_tags(&s3, b, "replaced").await, map(&[("new", "tag")]));
    s3.copy_object()
        .bucket(b)
        .key("untagged")
        .copy_source(format!("{b}/mpu"))
        .tagging_directive(TaggingDirective::Replace)
        .send()
        .await
        .unwrap();
    assert!(get_tags(&s3, b, "untagged").await.is_empty());
    let (_, got) = get(&s3, b, "replaced", Mode::SseS3).await;
    assert_eq!(got, data);

    // `sealgate inspect` shows the tags it finds in the record.
    let report = inspect_json(&server, &format!("s3://{b}/mpu"));
    assert_eq!(report["tags"]["from"], "create", "{report}");
    assert_eq!(report["tags"]["n"], "1");
}

#[tokio::test]
async fn bucket_tagging_and_versioning() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "btags";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let r = s3.get_bucket_tagging().bucket(b).send().await;
    assert_eq!(failure("fresh", r), (404, "NoSuchTagSet".into()));
    s3.put_bucket_tagging()
        .bucket(b)
        .tagging(tagging(&[("cost-center", "42"), ("owner", "ops")]))
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_tagging().bucket(b).send().await.unwrap();
    assert_eq!(
        as_map(got.tag_set()),
        map(&[("cost-center", "42"), ("owner", "ops")])
    );
    let fifty_one: Vec<Tag> = (0..51)
        .map(|i| {
            Tag::builder()
                .key(format!("k{i}"))
                .value("v")
                .build()
                .unwrap()
        })
        .collect();
    let r = s3
        .put_bucket_tagging()
        .bucket(b)
        .tagging(
            Tagging::builder()
                .set_tag_set(Some(fifty_one))
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_eq!(failure("51 tags", r), (400, "BadRequest".into()));
    let r = s3
        .put_bucket_tagging()
        .bucket(b)
        .tagging(tagging(&[("aws:x", "1")]))
        .send()
        .await;
    assert_eq!(failure("aws:", r), (400, "InvalidTag".into()));
    assert_eq!(
        s3.get_bucket_tagging()
            .bucket(b)
            .send()
            .await
            .unwrap()
            .tag_set()
            .len(),
        2
    );
    s3.delete_bucket_tagging().bucket(b).send().await.unwrap();
    let r = s3.get_bucket_tagging().bucket(b).send().await;
    assert_eq!(failure("deleted", r), (404, "NoSuchTagSet".into()));
    let r = s3
        .get_bucket_tagging()
        .bucket("no-such-bucket")
        .send()
        .await;
    assert_eq!(failure("no bucket", r), (404, "NoSuchBucket".into()));

    // Versioning: a bucket that never had it answers the empty configuration (tests/versioning.rs
    // covers the rest).
    let v = s3.get_bucket_versioning().bucket(b).send().await.unwrap();
    assert!(v.status().is_none() && v.mfa_delete().is_none());
    let r = s3
        .get_bucket_versioning()
        .bucket("no-such-bucket")
        .send()
        .await;
    assert_eq!(failure("no bucket", r), (404, "NoSuchBucket".into()));
}

/// A tag change racing overwrites never brings an overwritten object back: after every round
/// the key holds the last PUT's data, and its record verifies.
#[tokio::test]
async fn tag_changes_racing_overwrites_never_resurrect() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "tagrace";
    s3.create_bucket().bucket(b).send().await.unwrap();
    put(&s3, b, "k", Mode::SseS3, b"round 0", None).await;
    for round in 1..=20 {
        let body = format!("round {round}");
        let tagger = {
            let s3 = s3.clone();
            tokio::spawn(async move {
                s3.put_object_tagging()
                    .bucket(b)
                    .key("k")
                    .tagging(tagging(&[("round", "x")]))
                    .send()
                    .await
            })
        };
        let writer = {
            let s3 = s3.clone();
            let body = body.clone();
            tokio::spawn(async move {
                s3.put_object()
                    .bucket(b)
                    .key("k")
                    .body(ByteStream::from(body.into_bytes()))
                    .send()
                    .await
            })
        };
        writer.await.unwrap().unwrap();
        tagger.await.unwrap().unwrap();
        let (_, got) = get(&s3, b, "k", Mode::SseS3).await;
        assert_eq!(got, body.as_bytes(), "round {round}");
    }
}

#[tokio::test]
async fn get_object_attributes() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "attrs";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let all = [
        ObjectAttributes::Etag,
        ObjectAttributes::Checksum,
        ObjectAttributes::ObjectParts,
        ObjectAttributes::StorageClass,
        ObjectAttributes::ObjectSize,
    ];

    // A single PUT: no parts.
    let put_out = s3
        .put_object()
        .bucket(b)
        .key("single")
        .body(ByteStream::from_static(b"hello attributes"))
        .send()
        .await
        .unwrap();
    let a = s3
        .get_object_attributes()
        .bucket(b)
        .key("single")
        .set_object_attributes(Some(all.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        a.e_tag().unwrap(),
        put_out.e_tag().unwrap().trim_matches('"'),
        "unquoted"
    );
    assert_eq!(a.object_size(), Some(16));
    assert_eq!(a.storage_class().unwrap().as_str(), "STANDARD");
    assert!(a.object_parts().is_none());
    // Whichever algorithm the SDK sent (or the CRC64NVME default) is what comes back.
    let c = a.checksum().unwrap();
    assert!(c.checksum_crc32().is_some() || c.checksum_crc64_nvme().is_some());
    assert_eq!(c.checksum_crc32(), put_out.checksum_crc32());
    assert_eq!(c.checksum_crc64_nvme(), put_out.checksum_crc64_nvme());
    assert_eq!(c.checksum_type().map(|t| t.as_str()), Some("FULL_OBJECT"));
    assert!(a.last_modified().is_some());
    let only = s3
        .get_object_attributes()
        .bucket(b)
        .key("single")
        .object_attributes(ObjectAttributes::ObjectSize)
        .send()
        .await
        .unwrap();
    assert!(only.e_tag().is_none() && only.checksum().is_none());
    assert_eq!(only.object_size(), Some(16));

    // A 3-part upload with SHA256 composite checksums, paged two parts at a time.
    let data = random(11 * MIB);
    let id = s3
        .create_multipart_upload()
        .bucket(b)
        .key("multi")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let mut parts = Vec::new();
    let mut part_sums = Vec::new();
    for (i, chunk) in data.chunks(5 * MIB).enumerate() {
        let n = i as i32 + 1;
        let up = s3
            .upload_part()
            .bucket(b)
            .key("multi")
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        let sum = up.checksum_sha256().unwrap().to_owned();
        part_sums.push(sum.clone());
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(up.e_tag().unwrap())
                .checksum_sha256(sum)
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket(b)
        .key("multi")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let page = |marker: Option<i32>| {
        s3.get_object_attributes()
            .bucket(b)
            .key("multi")
            .object_attributes(ObjectAttributes::ObjectParts)
            .max_parts(2)
            .set_part_number_marker(marker.map(|m| m.to_string()))
            .send()
    };
    let first = page(None).await.unwrap();
    let p = first.object_parts().unwrap();
    assert_eq!(p.total_parts_count(), Some(3));
    assert_eq!(p.is_truncated(), Some(true));
    assert_eq!(p.max_parts(), Some(2));
    assert_eq!(p.next_part_number_marker(), Some("2"));
    let got: Vec<(Option<i32>, Option<i64>, Option<&str>)> = p
        .parts()
        .iter()
        .map(|x| (x.part_number(), x.size(), x.checksum_sha256()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(1), Some(5 * MIB as i64), Some(part_sums[0].as_str())),
            (Some(2), Some(5 * MIB as i64), Some(part_sums[1].as_str())),
        ]
    );
    let second = page(Some(2)).await.unwrap();
    let p = second.object_parts().unwrap();
    assert_eq!(p.is_truncated(), Some(false));
    assert_eq!(p.parts().len(), 1);
    assert_eq!(p.parts()[0].part_number(), Some(3));
    assert_eq!(p.parts()[0].size(), Some(MIB as i64));

    // GET partNumber with checksum mode sends the part's checksum value, no internal prefix.
    let part2 = s3
        .get_object()
        .bucket(b)
        .key("multi")
        .part_number(2)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(part2.checksum_sha256(), Some(part_sums[1].as_str()));

    // SSE-C: the key is required as for GET.
    put(&s3, b, "sse-c", Mode::SseC, b"secret", None).await;
    let r = s3
        .get_object_attributes()
        .bucket(b)
        .key("sse-c")
        .object_attributes(ObjectAttributes::ObjectSize)
        .send()
        .await;
    assert_eq!(failure("no key", r), (400, "InvalidRequest".into()));
    let (k, md5) = customer_key();
    let ok = s3
        .get_object_attributes()
        .bucket(b)
        .key("sse-c")
        .object_attributes(ObjectAttributes::ObjectSize)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.object_size(), Some(6));
    let other = STANDARD.encode([0x11u8; 32]);
    let other_md5 = STANDARD.encode(Md5::digest([0x11u8; 32]));
    let r = s3
        .get_object_attributes()
        .bucket(b)
        .key("sse-c")
        .object_attributes(ObjectAttributes::ObjectSize)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(other)
        .sse_customer_key_md5(other_md5)
        .send()
        .await;
    assert_eq!(failure("wrong key", r), (403, "AccessDenied".into()));

    let r = s3
        .get_object_attributes()
        .bucket(b)
        .key("missing")
        .object_attributes(ObjectAttributes::Etag)
        .send()
        .await;
    assert_eq!(failure("missing", r), (404, "NoSuchKey".into()));
}
