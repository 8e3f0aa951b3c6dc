//! Bucket versioning against the real binary with the AWS SDK: version ids on every write,
//! reads and deletes by version id in all three SSE modes, delete markers (404 with
//! `x-amz-delete-marker`, 405 by id, undelete), re-keying one version by copy, the `null`
//! version while suspended, ListObjectVersions pages, DeleteObjects with versions, malformed
//! and missing ids — and what is on disk: every version its own record with its own wrapped
//! key, no plaintext.
mod common;

use std::path::PathBuf;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier,
    ServerSideEncryption,
};
use common::sse::Mode;
use common::{Server, all_files, failure, find_bytes, random, set_versioning};
use serde_json::Value;

/// PUT in `mode`; returns the version id answered.
async fn put(s3: &Client, bucket: &str, key: &str, mode: Mode, data: &[u8]) -> Option<String> {
    mode.put(
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(data.to_vec())),
    )
    .send()
    .await
    .unwrap()
    .version_id()
    .map(str::to_owned)
}

/// GET of one version (the current one with `None`): `(version id header, bytes, SSE)`.
async fn get(
    s3: &Client,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    mode: Mode,
) -> (Option<String>, Vec<u8>, Option<ServerSideEncryption>) {
    let g = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_owned));
    let o = mode.get(g).send().await.unwrap();
    let vid = o.version_id().map(str::to_owned);
    let sse = o.server_side_encryption().cloned();
    (
        vid,
        o.body.collect().await.unwrap().into_bytes().to_vec(),
        sse,
    )
}

/// `(key, version id, is latest, is a delete marker)` of every entry, one page of `max_keys`
/// at a time, and the number of pages.
async fn list_all(
    s3: &Client,
    bucket: &str,
    max_keys: i32,
) -> (Vec<(String, String, bool, bool)>, usize) {
    let (mut key_marker, mut vid_marker) = (None::<String>, None::<String>);
    let mut out = Vec::new();
    let mut pages = 0;
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .max_keys(max_keys)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(vid_marker.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        let mut rows: Vec<(String, String, bool, bool, i64)> = Vec::new();
        for v in page.versions() {
            rows.push((
                v.key().unwrap().to_owned(),
                v.version_id().unwrap().to_owned(),
                v.is_latest().unwrap(),
                false,
                v.last_modified().unwrap().to_millis().unwrap(),
            ));
        }
        for m in page.delete_markers() {
            rows.push((
                m.key().unwrap().to_owned(),
                m.version_id().unwrap().to_owned(),
                m.is_latest().unwrap(),
                true,
                m.last_modified().unwrap().to_millis().unwrap(),
            ));
        }
        assert!(rows.len() <= max_keys as usize);
        // The SDK splits versions and markers; within a key, newest first.
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(b.4.cmp(&a.4)));
        out.extend(rows.into_iter().map(|(k, v, l, m, _)| (k, v, l, m)));
        if !page.is_truncated().unwrap_or(false) {
            return (out, pages);
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        vid_marker = page.next_version_id_marker().map(str::to_owned);
        assert!(pages < 100, "listing does not end");
    }
}

fn records_under(data_dir: &std::path::Path, area: &str, bucket: &str) -> Vec<(PathBuf, Value)> {
    all_files(data_dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&format!("/{area}/{bucket}/")))
        .map(|p| {
            let v = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            (p, v)
        })
        .collect()
}

#[tokio::test]
async fn versions_in_every_mode_markers_copies_and_listing() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "versioned";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let v = s3.get_bucket_versioning().bucket(b).send().await.unwrap();
    assert!(v.status().is_none(), "a new bucket never had versioning");

    // An object written before versioning is the null version.
    let d0 = random(3000);
    assert_eq!(put(&s3, b, "k", Mode::SseS3, &d0).await, None);
    set_versioning(&s3, b, BucketVersioningStatus::Enabled).await;
    let v = s3.get_bucket_versioning().bucket(b).send().await.unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));

    // One key, three modes, three versions.
    let (d1, d2, d3) = (random(70_000), random(10), random(200_000));
    let v1 = put(&s3, b, "k", Mode::SseS3, &d1).await.unwrap();
    let v2 = put(&s3, b, "k", Mode::SseKms, &d2).await.unwrap();
    let v3 = put(&s3, b, "k", Mode::SseC, &d3).await.unwrap();
    assert!(v1 != v2 && v2 != v3 && v1.len() == 32, "{v1} {v2} {v3}");
    let versions = [
        ("null", Mode::SseS3, &d0, ServerSideEncryption::Aes256),
        (v1.as_str(), Mode::SseS3, &d1, ServerSideEncryption::Aes256),
        (v2.as_str(), Mode::SseKms, &d2, ServerSideEncryption::AwsKms),
        (v3.as_str(), Mode::SseC, &d3, ServerSideEncryption::Aes256),
    ];
    for (id, mode, data, sse) in &versions {
        let (vid, body, got_sse) = get(&s3, b, "k", Some(id), *mode).await;
        assert_eq!(vid.as_deref(), Some(*id));
        assert_eq!(&body, *data, "version {id}");
        if *mode != Mode::SseC {
            assert_eq!(got_sse.as_ref(), Some(sse), "version {id}");
        }
    }
    let (vid, body, _) = get(&s3, b, "k", None, Mode::SseC).await;
    assert_eq!((vid.as_deref(), body), (Some(v3.as_str()), d3.clone()));
    let head = s3
        .head_object()
        .bucket(b)
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap();
    assert_eq!(head.version_id(), Some(v2.as_str()));
    assert_eq!(head.content_length(), Some(10));
    let attrs = s3
        .get_object_attributes()
        .bucket(b)
        .key("k")
        .version_id(&v2)
        .object_attributes(aws_sdk_s3::types::ObjectAttributes::ObjectSize)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (attrs.object_size(), attrs.version_id()),
        (Some(10), Some(v2.as_str()))
    );

    // Tags of a non-current version live in its own record; the current one keeps its own.
    let tags = aws_sdk_s3::types::Tagging::builder()
        .tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key("old")
                .value("yes")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    s3.put_object_tagging()
        .bucket(b)
        .key("k")
        .version_id(&v1)
        .tagging(tags)
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object_tagging()
        .bucket(b)
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(got.tag_set().len(), 1);
    assert_eq!(got.version_id(), Some(v1.as_str()));
    let current = s3
        .get_object_tagging()
        .bucket(b)
        .key("k")
        .send()
        .await
        .unwrap();
    assert!(current.tag_set().is_empty());
    let (_, body, _) = get(&s3, b, "k", Some(&v1), Mode::SseS3).await;
    assert_eq!(body, d1, "a retagged version still opens");

    // On disk: every version its own record and its own wrapped key; no plaintext anywhere.
    let records: Vec<Value> = records_under(&server.data_dir, "versions", b)
        .into_iter()
        .chain(records_under(&server.data_dir, "meta", b))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(records.len(), 4);
    let sealed: std::collections::HashSet<String> = records
        .iter()
        .map(|r| {
            r["sealing"]["sealed"]["ciphertext"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(sealed.len(), 4, "each version has its own wrapped key");
    for (_, _, data, _) in &versions {
        assert_eq!(
            find_bytes(&server.data_dir, &data[..data.len().min(64)]),
            None
        );
    }
    let kms = records
        .iter()
        .find(|r| r["version_id"] == v2.as_str())
        .unwrap();
    assert_eq!(kms["sealing"]["mode"], "SseKms");

    // Re-key v1 by copying it onto the key with SSE-KMS: a new version, the others unchanged.
    let copied = s3
        .copy_object()
        .bucket(b)
        .key("k")
        .copy_source(format!("{b}/k?versionId={v1}"))
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .send()
        .await
        .unwrap();
    assert_eq!(copied.copy_source_version_id(), Some(v1.as_str()));
    let v4 = copied.version_id().unwrap().to_owned();
    let (_, body, sse) = get(&s3, b, "k", Some(&v4), Mode::SseKms).await;
    assert_eq!(
        (body, sse),
        (d1.clone(), Some(ServerSideEncryption::AwsKms))
    );
    for (id, mode, data, sse) in &versions {
        let (_, body, got_sse) = get(&s3, b, "k", Some(id), *mode).await;
        assert_eq!(&body, *data, "version {id} after the re-key");
        if *mode != Mode::SseC {
            assert_eq!(got_sse.as_ref(), Some(sse));
        }
    }

    // A delete marker hides the key: GET/HEAD 404 with x-amz-delete-marker, by id 405.
    let del = s3.delete_object().bucket(b).key("k").send().await.unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    let marker = del.version_id().unwrap().to_owned();
    let r = s3.get_object().bucket(b).key("k").send().await;
    let e = r.unwrap_err();
    let raw = e.raw_response().unwrap();
    assert_eq!(raw.status().as_u16(), 404);
    assert_eq!(raw.headers().get("x-amz-delete-marker"), Some("true"));
    assert_eq!(raw.headers().get("x-amz-version-id"), Some(marker.as_str()));
    let r = s3.head_object().bucket(b).key("k").send().await;
    assert_eq!(failure("HEAD marker", r).0, 404);
    let r = s3
        .get_object()
        .bucket(b)
        .key("k")
        .version_id(&marker)
        .send()
        .await;
    let e = r.unwrap_err();
    let raw = e.raw_response().unwrap();
    assert_eq!(raw.status().as_u16(), 405);
    assert_eq!(raw.headers().get("x-amz-delete-marker"), Some("true"));
    assert!(raw.headers().get("last-modified").is_some());
    let listed = s3.list_objects_v2().bucket(b).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0), "a deleted key is not listed");

    // ListObjectVersions, one entry per page, visits every version once.
    let (all, pages) = list_all(&s3, b, 1).await;
    let ids: Vec<&str> = all.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(ids, [marker.as_str(), &v4, &v3, &v2, &v1, "null"]);
    assert_eq!(pages, 6);
    assert_eq!(all[0], ("k".into(), marker.clone(), true, true));
    assert!(all[1..].iter().all(|r| !r.2 && !r.3));
    assert_eq!(list_all(&s3, b, 1000).await.0, all);

    // Undelete: removing the marker makes v4 current again.
    let del = s3
        .delete_object()
        .bucket(b)
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    assert_eq!(del.version_id(), Some(marker.as_str()));
    let (vid, body, _) = get(&s3, b, "k", None, Mode::SseKms).await;
    assert_eq!((vid, body), (Some(v4.clone()), d1.clone()));

    // Deleting a version removes it for good.
    s3.delete_object()
        .bucket(b)
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap();
    let r = s3
        .get_object()
        .bucket(b)
        .key("k")
        .version_id(&v2)
        .send()
        .await;
    assert_eq!(failure("deleted version", r), (404, "NoSuchVersion".into()));
    let r = s3
        .get_object()
        .bucket(b)
        .key("k")
        .version_id("v2")
        .send()
        .await;
    assert_eq!(failure("malformed id", r), (400, "InvalidArgument".into()));

    // DeleteObjects with version ids: a marker made, a version removed.
    let out = s3
        .delete_objects()
        .bucket(b)
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key("k").build().unwrap())
                .objects(
                    ObjectIdentifier::builder()
                        .key("k")
                        .version_id(&v1)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    let made = &out.deleted()[0];
    assert_eq!(made.delete_marker(), Some(true));
    let marker2 = made.delete_marker_version_id().unwrap().to_owned();
    assert_eq!(out.deleted()[1].version_id(), Some(v1.as_str()));
    let ids: Vec<String> = list_all(&s3, b, 2)
        .await
        .0
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        ids,
        [marker2.clone(), v4.clone(), v3.clone(), "null".into()]
    );

    // Suspended: writes are the null version, which replaces the null version.
    set_versioning(&s3, b, BucketVersioningStatus::Suspended).await;
    let v = s3.get_bucket_versioning().bucket(b).send().await.unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Suspended));
    assert_eq!(
        put(&s3, b, "k", Mode::SseS3, b"first").await.as_deref(),
        Some("null")
    );
    assert_eq!(
        put(&s3, b, "k", Mode::SseS3, b"second").await.as_deref(),
        Some("null")
    );
    let ids: Vec<String> = list_all(&s3, b, 1000)
        .await
        .0
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(ids, ["null".to_owned(), marker2, v4.clone(), v3.clone()]);
    let (_, body, _) = get(&s3, b, "k", Some("null"), Mode::SseS3).await;
    assert_eq!(body, b"second");

    // Multipart: Complete answers the version id; the key's history stays.
    set_versioning(&s3, b, BucketVersioningStatus::Enabled).await;
    let up = s3
        .create_multipart_upload()
        .bucket(b)
        .key("k")
        .send()
        .await
        .unwrap();
    let part = random(5 * 1024 * 1024 + 7);
    let etag = s3
        .upload_part()
        .bucket(b)
        .key("k")
        .upload_id(up.upload_id().unwrap())
        .part_number(1)
        .body(ByteStream::from(part.clone()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    let done = s3
        .complete_multipart_upload()
        .bucket(b)
        .key("k")
        .upload_id(up.upload_id().unwrap())
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let v5 = done.version_id().unwrap().to_owned();
    let (_, body, _) = get(&s3, b, "k", Some(&v5), Mode::SseS3).await;
    assert_eq!(body, part);
    let (_, body, _) = get(&s3, b, "k", Some(&v3), Mode::SseC).await;
    assert_eq!(body, d3);

    // A bucket with versions is not empty until every version is gone.
    let r = s3.delete_bucket().bucket(b).send().await;
    assert_eq!(failure("DeleteBucket", r), (409, "BucketNotEmpty".into()));
    for (key, id, _, _) in list_all(&s3, b, 1000).await.0 {
        s3.delete_object()
            .bucket(b)
            .key(key)
            .version_id(id)
            .send()
            .await
            .unwrap();
    }
    s3.delete_bucket().bucket(b).send().await.unwrap();
}

/// Prefixes, delimiters and markers of ListObjectVersions over several keys.
#[tokio::test]
async fn list_object_versions_prefixes_and_markers() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "listing";
    s3.create_bucket().bucket(b).send().await.unwrap();
    set_versioning(&s3, b, BucketVersioningStatus::Enabled).await;
    let mut ids = std::collections::BTreeMap::new();
    for key in ["a", "d/1", "d/2", "z"] {
        for n in 0..2 {
            let v = put(&s3, b, key, Mode::SseS3, format!("{key}{n}").as_bytes()).await;
            ids.entry(key)
                .or_insert_with(Vec::new)
                .insert(0, v.unwrap());
        }
    }
    let page = s3
        .list_object_versions()
        .bucket(b)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = page.versions().iter().map(|v| v.key().unwrap()).collect();
    assert_eq!(keys, ["a", "a", "z", "z"]);
    let prefixes: Vec<&str> = page
        .common_prefixes()
        .iter()
        .map(|p| p.prefix().unwrap())
        .collect();
    assert_eq!(prefixes, ["d/"]);
    let page = s3
        .list_object_versions()
        .bucket(b)
        .prefix("d/")
        .key_marker("d/1")
        .version_id_marker(&ids["d/1"][0])
        .send()
        .await
        .unwrap();
    let got: Vec<(&str, &str)> = page
        .versions()
        .iter()
        .map(|v| (v.key().unwrap(), v.version_id().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("d/1", ids["d/1"][1].as_str()),
            ("d/2", ids["d/2"][0].as_str()),
            ("d/2", ids["d/2"][1].as_str())
        ]
    );
    assert_eq!(page.is_truncated(), Some(false));
    let page = s3
        .list_object_versions()
        .bucket(b)
        .max_keys(3)
        .send()
        .await
        .unwrap();
    assert_eq!(page.is_truncated(), Some(true));
    assert_eq!(page.next_key_marker(), Some("d/1"));
    assert_eq!(page.next_version_id_marker(), Some(ids["d/1"][0].as_str()));
    let r = s3
        .list_object_versions()
        .bucket(b)
        .key_marker("a")
        .version_id_marker("bogus")
        .send()
        .await;
    assert_eq!(failure("bad marker", r), (400, "InvalidArgument".into()));
}

/// `x-amz-version-id` of a GET and a HEAD (`None`: no header).
async fn version_headers(s3: &Client, b: &str, key: &str, id: Option<&str>) -> [Option<String>; 2] {
    let g = s3
        .get_object()
        .bucket(b)
        .key(key)
        .set_version_id(id.map(str::to_owned))
        .send()
        .await
        .unwrap();
    let h = s3
        .head_object()
        .bucket(b)
        .key(key)
        .set_version_id(id.map(str::to_owned))
        .send()
        .await
        .unwrap();
    [
        g.version_id().map(str::to_owned),
        h.version_id().map(str::to_owned),
    ]
}

/// The `null` version reads with `x-amz-version-id: null` once the bucket has versioning
/// (current or not, named by id or not), as on AWS; a bucket that never had versioning sends
/// no version header at all.
#[tokio::test]
async fn null_version_reads_carry_its_id() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "nullreads";
    s3.create_bucket().bucket(b).send().await.unwrap();
    put(&s3, b, "old", Mode::SseS3, b"before versioning").await;
    let none = [None, None];
    assert_eq!(version_headers(&s3, b, "old", None).await, none);

    let null = [Some("null".to_owned()), Some("null".to_owned())];
    set_versioning(&s3, b, BucketVersioningStatus::Enabled).await;
    assert_eq!(version_headers(&s3, b, "old", None).await, null);
    assert_eq!(version_headers(&s3, b, "old", Some("null")).await, null);
    // No longer current: by id only.
    let v1 = put(&s3, b, "old", Mode::SseS3, b"v1").await.unwrap();
    assert_eq!(version_headers(&s3, b, "old", Some("null")).await, null);
    let current = [Some(v1.clone()), Some(v1)];
    assert_eq!(version_headers(&s3, b, "old", None).await, current);

    set_versioning(&s3, b, BucketVersioningStatus::Suspended).await;
    put(&s3, b, "new", Mode::SseS3, b"while suspended").await;
    assert_eq!(version_headers(&s3, b, "new", None).await, null);
    assert_eq!(version_headers(&s3, b, "new", Some("null")).await, null);
}

/// Key `i` of the many-markers bucket: 25 folders of 100 keys.
fn folder_key(i: usize) -> String {
    format!("p{:02}/{i:04}", i / 100)
}

/// Every page of a ListObjectsV2 (`v2`) or ListObjects listing of `max_keys`, as
/// `(keys, common prefixes, pages)`; each page within its limit and a truncated one always
/// with a way on.
async fn list_pages(
    s3: &Client,
    b: &str,
    prefix: &str,
    delimiter: Option<&str>,
    max_keys: i32,
    v2: bool,
) -> (Vec<String>, Vec<String>, usize) {
    let (mut keys, mut prefixes) = (Vec::new(), Vec::new());
    let mut cursor: Option<String> = None;
    for pages in 1..=200 {
        let (page_keys, page_prefixes, truncated, next) = if v2 {
            let o = s3
                .list_objects_v2()
                .bucket(b)
                .prefix(prefix)
                .set_delimiter(delimiter.map(str::to_owned))
                .max_keys(max_keys)
                .set_continuation_token(cursor.clone())
                .send()
                .await
                .unwrap();
            let truncated = o.is_truncated() == Some(true);
            let next = o.next_continuation_token().map(str::to_owned);
            (o.contents, o.common_prefixes, truncated, next)
        } else {
            let o = s3
                .list_objects()
                .bucket(b)
                .prefix(prefix)
                .set_delimiter(delimiter.map(str::to_owned))
                .max_keys(max_keys)
                .set_marker(cursor.clone())
                .send()
                .await
                .unwrap();
            let truncated = o.is_truncated() == Some(true);
            // botocore's rule: NextMarker, else the last Key.
            let next = o
                .next_marker()
                .map(str::to_owned)
                .or_else(|| o.contents().last().and_then(|c| c.key()).map(str::to_owned));
            (o.contents, o.common_prefixes, truncated, next)
        };
        let page_keys: Vec<String> = page_keys
            .unwrap_or_default()
            .iter()
            .map(|c| c.key().unwrap().to_owned())
            .collect();
        let page_prefixes: Vec<String> = page_prefixes
            .unwrap_or_default()
            .iter()
            .map(|c| c.prefix().unwrap().to_owned())
            .collect();
        assert!(page_keys.len() + page_prefixes.len() <= max_keys as usize);
        keys.extend(page_keys);
        prefixes.extend(page_prefixes);
        if !truncated {
            return (keys, prefixes, pages);
        }
        let next = next.expect("a truncated page says where to go on");
        // Further on: past the marker, or the common prefix it was beneath.
        assert!(
            cursor
                .as_ref()
                .is_none_or(|c| v2 || next > *c || (next != *c && c.starts_with(&next))),
            "page {pages} does not move on"
        );
        cursor = Some(next);
    }
    panic!("listing of {max_keys} per page does not end");
}

/// ListObjects and ListObjectsV2 in a bucket where nearly every key's current version is a
/// delete marker: pages of 1, 7 and 1000 list each live key once, in order, never a deleted
/// key or a folder holding only deleted keys, and a page passes over a bounded number of
/// deleted keys (a run of 1,400 of them takes more than one page, however large).
#[tokio::test]
async fn listing_past_many_delete_markers() {
    use futures::StreamExt;
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "markers";
    s3.create_bucket().bucket(b).send().await.unwrap();
    set_versioning(&s3, b, BucketVersioningStatus::Enabled).await;
    let n = 2500;
    let is_live = |i: usize| {
        (i.is_multiple_of(150) && !(1000..2400).contains(&i))
            || (300..=305).contains(&i)
            || i == n - 1
    };
    let puts = futures::stream::iter(0..n)
        .map(|i| {
            let s3 = s3.clone();
            async move {
                s3.put_object()
                    .bucket(b)
                    .key(folder_key(i))
                    .body(ByteStream::from(format!("object {i}").into_bytes()))
                    .send()
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>();
    puts.await;
    let deleted: Vec<usize> = (0..n).filter(|i| !is_live(*i)).collect();
    for chunk in deleted.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|i| {
                ObjectIdentifier::builder()
                    .key(folder_key(*i))
                    .build()
                    .unwrap()
            })
            .collect();
        let out = s3
            .delete_objects()
            .bucket(b)
            .delete(
                Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert!(out.errors().is_empty(), "{:?}", out.errors());
    }
    let live: Vec<String> = (0..n).filter(|i| is_live(*i)).map(folder_key).collect();
    assert_eq!(live.len(), 14);
    let folders = [
        "p00/", "p01/", "p03/", "p04/", "p06/", "p07/", "p09/", "p24/",
    ];
    for v2 in [true, false] {
        for max_keys in [1, 7, 1000] {
            let what = format!("v2={v2} max-keys={max_keys}");
            let (keys, prefixes, pages) = list_pages(&s3, b, "", None, max_keys, v2).await;
            assert_eq!(keys, live, "{what}");
            assert!(prefixes.is_empty());
            if max_keys == 1000 {
                assert!(pages > 1, "{what}: one page walked 2,486 deleted keys");
            }
            let (keys, prefixes, _) = list_pages(&s3, b, "", Some("/"), max_keys, v2).await;
            assert!(keys.is_empty(), "{what}");
            assert_eq!(prefixes, folders, "{what}: folders with a live key");
            let (keys, _, _) = list_pages(&s3, b, "p03/", Some("/"), max_keys, v2).await;
            assert_eq!(keys, live[2..8], "{what}: under p03/");
        }
    }
    // Every deleted key still has its version, under its marker.
    let versions = s3
        .list_object_versions()
        .bucket(b)
        .prefix("p11/")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (versions.versions().len(), versions.delete_markers().len()),
        (100, 100)
    );
}
