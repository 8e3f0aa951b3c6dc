//! The S3 front end as an SDK user sees it: buckets, objects with metadata and content headers,
//! ranges, conditional reads, multipart uploads, copies, listings, batch delete, checksums and
//! unusual keys. Every byte read back is compared with what was written.
mod common;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, Delete,
    MetadataDirective, ObjectIdentifier,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Server, failure, md5_hex, random};
use md5::{Digest, Md5};

const MIB: usize = 1024 * 1024;

async fn get_bytes(s3: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {bucket}/{key} should succeed: {e:?}"));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

async fn put(s3: &Client, bucket: &str, key: &str, data: &[u8]) -> String {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {bucket}/{key} should succeed: {e:?}"))
        .e_tag()
        .unwrap_or_default()
        .to_owned()
}

async fn ranged(s3: &Client, bucket: &str, key: &str, range: &str) -> (Vec<u8>, Option<String>) {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .range(range)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {key} Range {range} should succeed: {e:?}"));
    let cr = out.content_range().map(str::to_owned);
    (out.body.collect().await.unwrap().into_bytes().to_vec(), cr)
}

#[tokio::test]
async fn bucket_lifecycle() {
    let server = Server::start();
    let s3 = server.s3().await;
    s3.create_bucket().bucket("api-life").send().await.unwrap();
    s3.create_bucket()
        .bucket("api-life-2")
        .send()
        .await
        .unwrap();

    let listed = s3.list_buckets().send().await.unwrap();
    let names: Vec<&str> = listed.buckets().iter().filter_map(|b| b.name()).collect();
    assert!(
        names.contains(&"api-life") && names.contains(&"api-life-2"),
        "ListBuckets should list both created buckets, got {names:?}"
    );
    assert!(
        listed.buckets().iter().all(|b| b.creation_date().is_some()),
        "every bucket should carry a CreationDate"
    );

    let head = s3.head_bucket().bucket("api-life").send().await.unwrap();
    assert_eq!(
        head.bucket_region(),
        Some("us-east-1"),
        "HeadBucket should report x-amz-bucket-region us-east-1"
    );
    let loc = s3
        .get_bucket_location()
        .bucket("api-life")
        .send()
        .await
        .unwrap();
    assert!(
        loc.location_constraint()
            .is_none_or(|c| c.as_str().is_empty()),
        "us-east-1 buckets have an empty LocationConstraint, got {:?}",
        loc.location_constraint()
    );

    s3.delete_bucket()
        .bucket("api-life-2")
        .send()
        .await
        .unwrap();
    let (status, _) = failure(
        "HeadBucket of a deleted bucket",
        s3.head_bucket().bucket("api-life-2").send().await,
    );
    assert_eq!(status, 404, "HeadBucket after delete should be 404");
    let listed = s3.list_buckets().send().await.unwrap();
    assert!(
        !listed
            .buckets()
            .iter()
            .any(|b| b.name() == Some("api-life-2")),
        "a deleted bucket should no longer be listed"
    );
}

#[tokio::test]
async fn object_metadata_content_headers_and_overrides() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "api-meta";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let data = b"<h1>hello</h1>".to_vec();
    let put_out = s3
        .put_object()
        .bucket(b)
        .key("page.html")
        .body(ByteStream::from(data.clone()))
        .content_type("text/html; charset=utf-8")
        .content_disposition("inline; filename=\"page.html\"")
        .content_language("en-GB")
        .cache_control("max-age=60")
        .content_encoding("identity")
        .metadata("colour", "blue")
        .metadata("owner-id", "42")
        .send()
        .await
        .unwrap();
    assert_eq!(
        put_out.e_tag(),
        Some(format!("\"{}\"", md5_hex(&data)).as_str()),
        "an SSE-S3 single-part ETag is the quoted MD5 of the plaintext"
    );

    let head = s3
        .head_object()
        .bucket(b)
        .key("page.html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.content_length(),
        Some(data.len() as i64),
        "HEAD Content-Length"
    );
    assert_eq!(
        head.content_type(),
        Some("text/html; charset=utf-8"),
        "HEAD Content-Type as stored"
    );
    assert_eq!(
        head.content_disposition(),
        Some("inline; filename=\"page.html\""),
        "HEAD Content-Disposition"
    );
    assert_eq!(
        head.content_language(),
        Some("en-GB"),
        "HEAD Content-Language"
    );
    assert_eq!(
        head.cache_control(),
        Some("max-age=60"),
        "HEAD Cache-Control"
    );
    assert_eq!(
        head.content_encoding(),
        Some("identity"),
        "HEAD Content-Encoding"
    );
    assert_eq!(
        head.e_tag(),
        put_out.e_tag(),
        "HEAD ETag equals the PUT ETag"
    );
    assert!(
        head.last_modified().is_some(),
        "HEAD should carry Last-Modified"
    );
    let meta = head.metadata().cloned().unwrap_or_default();
    assert_eq!(
        meta.get("colour").map(String::as_str),
        Some("blue"),
        "x-amz-meta-colour round-trips"
    );
    assert_eq!(
        meta.get("owner-id").map(String::as_str),
        Some("42"),
        "x-amz-meta-owner-id round-trips"
    );

    let got = s3
        .get_object()
        .bucket(b)
        .key("page.html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.content_type(),
        Some("text/html; charset=utf-8"),
        "GET Content-Type as stored"
    );
    assert_eq!(
        got.metadata()
            .and_then(|m| m.get("colour"))
            .map(String::as_str),
        Some("blue"),
        "GET returns user metadata"
    );
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().to_vec(),
        data,
        "GET bytes"
    );

    let over = s3
        .get_object()
        .bucket(b)
        .key("page.html")
        .response_content_type("application/x-override")
        .response_content_disposition("attachment; filename=\"x.bin\"")
        .response_cache_control("no-store")
        .response_content_language("fr")
        .send()
        .await
        .unwrap();
    assert_eq!(
        over.content_type(),
        Some("application/x-override"),
        "response-content-type overrides the stored type"
    );
    assert_eq!(
        over.content_disposition(),
        Some("attachment; filename=\"x.bin\""),
        "response-content-disposition overrides"
    );
    assert_eq!(
        over.cache_control(),
        Some("no-store"),
        "response-cache-control overrides"
    );
    assert_eq!(
        over.content_language(),
        Some("fr"),
        "response-content-language overrides"
    );
    assert_eq!(
        over.body.collect().await.unwrap().into_bytes().to_vec(),
        data,
        "overridden GET still returns the bytes"
    );
}

#[tokio::test]
async fn ranged_gets_match_local_slices() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "api-range";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let data = random(MIB);
    put(&s3, b, "r", &data).await;
    let n = data.len();
    let cases: Vec<(&str, std::ops::Range<usize>)> = vec![
        ("bytes=0-99", 0..100),
        ("bytes=0-0", 0..1),
        // Spans several 64 KiB segments with unaligned ends.
        ("bytes=65000-300000", 65000..300001),
        ("bytes=65536-131071", 65536..131072),
        ("bytes=-1000", n - 1000..n),
        ("bytes=1000000-", 1_000_000..n),
        // An end past the size is clamped.
        ("bytes=1048500-2000000", 1_048_500..n),
        ("bytes=-5000000", 0..n),
    ];
    for (range, slice) in cases {
        let (got, cr) = ranged(&s3, b, "r", range).await;
        assert_eq!(
            got.len(),
            slice.len(),
            "Range {range}: expected {} bytes",
            slice.len()
        );
        assert!(
            got == data[slice.clone()],
            "Range {range}: bytes differ from the local slice"
        );
        assert_eq!(
            cr,
            Some(format!("bytes {}-{}/{n}", slice.start, slice.end - 1)),
            "Range {range}: Content-Range"
        );
    }
    let (status, code) = failure(
        "Range beyond the end",
        s3.get_object()
            .bucket(b)
            .key("r")
            .range(format!("bytes={n}-"))
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (416, "InvalidRange"),
        "a range starting at the size is 416 InvalidRange"
    );
}

#[tokio::test]
async fn conditional_gets() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "api-cond";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let etag = put(&s3, b, "c", b"conditional").await;
    let ok = s3
        .get_object()
        .bucket(b)
        .key("c")
        .if_match(&etag)
        .send()
        .await;
    assert!(
        ok.is_ok(),
        "If-Match with the current ETag should return 200: {ok:?}"
    );
    let ok = s3
        .get_object()
        .bucket(b)
        .key("c")
        .if_none_match("\"0123\"")
        .send()
        .await;
    assert!(
        ok.is_ok(),
        "If-None-Match with another ETag should return 200"
    );

    let (status, code) = failure(
        "If-Match mismatch",
        s3.get_object()
            .bucket(b)
            .key("c")
            .if_match("\"deadbeef\"")
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (412, "PreconditionFailed"),
        "If-Match with a stale ETag"
    );
    let (status, _) = failure(
        "If-None-Match match",
        s3.get_object()
            .bucket(b)
            .key("c")
            .if_none_match(&etag)
            .send()
            .await,
    );
    assert_eq!(
        status, 304,
        "If-None-Match with the current ETag should be 304 Not Modified"
    );
    let (status, _) = failure(
        "HEAD If-Match mismatch",
        s3.head_object()
            .bucket(b)
            .key("c")
            .if_match("\"deadbeef\"")
            .send()
            .await,
    );
    assert_eq!(status, 412, "HEAD with a stale If-Match should be 412");
    let future = aws_sdk_s3::primitives::DateTime::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            + 3600,
    );
    let (status, _) = failure(
        "If-Modified-Since in the future",
        s3.get_object()
            .bucket(b)
            .key("c")
            .if_modified_since(future)
            .send()
            .await,
    );
    assert_eq!(
        status, 304,
        "If-Modified-Since after Last-Modified should be 304"
    );
}

#[tokio::test]
async fn multipart_upload_lifecycle() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "api-mpu";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let parts = [random(5 * MIB), random(5 * MIB), random(1024)];

    let created = s3
        .create_multipart_upload()
        .bucket(b)
        .key("big")
        .content_type("application/x-big")
        .metadata("origin", "mpu")
        .send()
        .await
        .unwrap();
    let upload_id = created.upload_id().expect("UploadId").to_owned();

    let uploads = s3.list_multipart_uploads().bucket(b).send().await.unwrap();
    assert!(
        uploads
            .uploads()
            .iter()
            .any(|u| u.upload_id() == Some(upload_id.as_str()) && u.key() == Some("big")),
        "ListMultipartUploads should list the open upload"
    );

    let mut completed = Vec::new();
    let mut etag_bytes = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let out = s3
            .upload_part()
            .bucket(b)
            .key("big")
            .upload_id(&upload_id)
            .part_number(n)
            .body(ByteStream::from(p.clone()))
            .send()
            .await
            .unwrap();
        let etag = out.e_tag().unwrap().to_owned();
        assert_eq!(
            etag,
            format!("\"{}\"", md5_hex(p)),
            "SSE-S3 part {n} ETag is the part's MD5"
        );
        etag_bytes.extend_from_slice(&Md5::digest(p));
        completed.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
    }

    let listed = s3
        .list_parts()
        .bucket(b)
        .key("big")
        .upload_id(&upload_id)
        .send()
        .await
        .unwrap();
    let got: Vec<(Option<i32>, Option<i64>)> = listed
        .parts()
        .iter()
        .map(|p| (p.part_number(), p.size()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(1), Some(5 * MIB as i64)),
            (Some(2), Some(5 * MIB as i64)),
            (Some(3), Some(1024))
        ],
        "ListParts lists the three parts with their sizes"
    );

    let done = s3
        .complete_multipart_upload()
        .bucket(b)
        .key("big")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let expected_etag = format!("\"{}-3\"", hex::encode(Md5::digest(&etag_bytes)));
    assert_eq!(
        done.e_tag(),
        Some(expected_etag.as_str()),
        "multipart ETag is md5-of-md5s-3"
    );

    let whole: Vec<u8> = parts.concat();
    let head = s3.head_object().bucket(b).key("big").send().await.unwrap();
    assert_eq!(
        head.content_length(),
        Some(whole.len() as i64),
        "HEAD size of the completed object"
    );
    assert_eq!(
        head.e_tag(),
        Some(expected_etag.as_str()),
        "HEAD ETag of the completed object"
    );
    assert_eq!(
        head.content_type(),
        Some("application/x-big"),
        "Content-Type from CreateMultipartUpload"
    );
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("mpu"),
        "metadata from CreateMultipartUpload"
    );
    assert!(
        get_bytes(&s3, b, "big").await == whole,
        "GET of the completed object returns all parts in order"
    );

    // partNumber GETs return exactly one part.
    for (n, p) in parts.iter().enumerate() {
        let out = s3
            .get_object()
            .bucket(b)
            .key("big")
            .part_number(n as i32 + 1)
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.parts_count(),
            Some(3),
            "partNumber GET reports x-amz-mp-parts-count 3"
        );
        assert_eq!(
            out.content_length(),
            Some(p.len() as i64),
            "partNumber {} length",
            n + 1
        );
        let got = out.body.collect().await.unwrap().into_bytes();
        assert!(
            got[..] == p[..],
            "partNumber {} returns that part's bytes",
            n + 1
        );
    }
    // A range spanning the part boundary.
    let (got, _) = ranged(&s3, b, "big", "bytes=5242000-5243000").await;
    assert!(
        got == whole[5_242_000..5_243_001],
        "a range across parts 1 and 2 matches"
    );

    let uploads = s3.list_multipart_uploads().bucket(b).send().await.unwrap();
    assert!(
        !uploads
            .uploads()
            .iter()
            .any(|u| u.upload_id() == Some(upload_id.as_str())),
        "a completed upload is no longer listed"
    );

    // Abort, then the upload is gone.
    let up2 = s3
        .create_multipart_upload()
        .bucket(b)
        .key("aborted")
        .send()
        .await
        .unwrap();
    let id2 = up2.upload_id().unwrap().to_owned();
    s3.upload_part()
        .bucket(b)
        .key("aborted")
        .upload_id(&id2)
        .part_number(1)
        .body(ByteStream::from(random(1000)))
        .send()
        .await
        .unwrap();
    s3.abort_multipart_upload()
        .bucket(b)
        .key("aborted")
        .upload_id(&id2)
        .send()
        .await
        .unwrap();
    let (status, code) = failure(
        "ListParts after abort",
        s3.list_parts()
            .bucket(b)
            .key("aborted")
            .upload_id(&id2)
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (404, "NoSuchUpload"),
        "ListParts of an aborted upload"
    );
    let (status, code) = failure(
        "UploadPart after abort",
        s3.upload_part()
            .bucket(b)
            .key("aborted")
            .upload_id(&id2)
            .part_number(2)
            .body(ByteStream::from(vec![1u8; 10]))
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (404, "NoSuchUpload"),
        "UploadPart to an aborted upload"
    );
    let (status, _) = failure(
        "HEAD of never-completed key",
        s3.head_object().bucket(b).key("aborted").send().await,
    );
    assert_eq!(status, 404, "an aborted upload leaves no object");
}

#[tokio::test]
async fn upload_part_copy_with_ranges() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "api-upc";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let big = random(6 * MIB);
    let small = random(MIB);
    put(&s3, b, "src-big", &big).await;
    put(&s3, b, "src-small", &small).await;

    let up = s3
        .create_multipart_upload()
        .bucket(b)
        .key("assembled")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_owned();
    let p1 = s3
        .upload_part_copy()
        .bucket(b)
        .key("assembled")
        .upload_id(&id)
        .part_number(1)
        .copy_source(format!("{b}/src-big"))
        .copy_source_range(format!("bytes=100-{}", 100 + 5 * MIB - 1))
        .send()
        .await
        .unwrap();
    let p2 = s3
        .upload_part_copy()
        .bucket(b)
        .key("assembled")
        .upload_id(&id)
        .part_number(2)
        .copy_source(format!("{b}/src-small"))
        .copy_source_range("bytes=70000-200000")
        .send()
        .await
        .unwrap();
    let e1 = p1
        .copy_part_result()
        .and_then(|r| r.e_tag())
        .unwrap()
        .to_owned();
    let e2 = p2
        .copy_part_result()
        .and_then(|r| r.e_tag())
        .unwrap()
        .to_owned();
    let expected: Vec<u8> = [&big[100..100 + 5 * MIB], &small[70000..=200000]].concat();
    assert_eq!(
        e1,
        format!("\"{}\"", md5_hex(&big[100..100 + 5 * MIB])),
        "copied part 1 ETag is the MD5 of the copied range"
    );
    s3.complete_multipart_upload()
        .bucket(b)
        .key("assembled")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(e1).build())
                .parts(CompletedPart::builder().part_number(2).e_tag(e2).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        get_bytes(&s3, b, "assembled").await == expected,
        "object assembled from copied ranges matches the local slices"
    );
}

#[tokio::test]
async fn copy_object_directives() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "api-copy";
    s3.create_bucket().bucket(b).send().await.unwrap();
    s3.create_bucket()
        .bucket("api-copy-dst")
        .send()
        .await
        .unwrap();
    let data = random(200_000);
    s3.put_object()
        .bucket(b)
        .key("src")
        .body(ByteStream::from(data.clone()))
        .content_type("image/png")
        .metadata("a", "1")
        .send()
        .await
        .unwrap();

    // COPY (the default) keeps metadata and content headers, also across buckets.
    let out = s3
        .copy_object()
        .bucket("api-copy-dst")
        .key("copied")
        .copy_source(format!("{b}/src"))
        .metadata_directive(MetadataDirective::Copy)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.copy_object_result().and_then(|r| r.e_tag()),
        Some(format!("\"{}\"", md5_hex(&data)).as_str()),
        "CopyObject ETag of an SSE-S3 copy is the MD5"
    );
    let head = s3
        .head_object()
        .bucket("api-copy-dst")
        .key("copied")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.content_type(),
        Some("image/png"),
        "COPY keeps Content-Type"
    );
    assert_eq!(
        head.metadata().and_then(|m| m.get("a")).map(String::as_str),
        Some("1"),
        "COPY keeps x-amz-meta-a"
    );
    assert!(
        get_bytes(&s3, "api-copy-dst", "copied").await == data,
        "copied bytes equal the source"
    );

    // REPLACE takes the request's metadata only.
    s3.copy_object()
        .bucket(b)
        .key("replaced")
        .copy_source(format!("{b}/src"))
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/plain")
        .metadata("b", "2")
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket(b)
        .key("replaced")
        .send()
        .await
        .unwrap();
    let meta = head.metadata().cloned().unwrap_or_default();
    assert_eq!(
        head.content_type(),
        Some("text/plain"),
        "REPLACE sets the new Content-Type"
    );
    assert_eq!(
        meta.get("b").map(String::as_str),
        Some("2"),
        "REPLACE sets x-amz-meta-b"
    );
    assert!(
        !meta.contains_key("a"),
        "REPLACE drops the source's x-amz-meta-a, got {meta:?}"
    );
    assert!(
        get_bytes(&s3, b, "replaced").await == data,
        "REPLACE copy keeps the bytes"
    );

    // Onto itself without changes is illegal; with REPLACE it is allowed.
    let (status, code) = failure(
        "copy onto itself without changes",
        s3.copy_object()
            .bucket(b)
            .key("src")
            .copy_source(format!("{b}/src"))
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidRequest"),
        "copy onto itself without changes"
    );
    s3.copy_object()
        .bucket(b)
        .key("src")
        .copy_source(format!("{b}/src"))
        .metadata_directive(MetadataDirective::Replace)
        .metadata("a", "updated")
        .send()
        .await
        .expect("copy onto itself with REPLACE metadata should succeed");
    let head = s3.head_object().bucket(b).key("src").send().await.unwrap();
    assert_eq!(
        head.metadata().and_then(|m| m.get("a")).map(String::as_str),
        Some("updated"),
        "in-place REPLACE updates metadata"
    );
    assert!(
        get_bytes(&s3, b, "src").await == data,
        "in-place copy keeps the bytes"
    );
}

#[tokio::test]
async fn list_objects_pagination_prefixes_and_v1() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "api-list";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let mut keys: Vec<String> = (0..250)
        .map(|i| format!("k{:04}", (i * 7919) % 1000))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 250);
    for chunk in keys.chunks(25) {
        futures::future::join_all(chunk.iter().map(|k| put(&s3, b, k, k.as_bytes()))).await;
    }

    // V2: three pages of at most 100 concatenate to the sorted key set.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(b)
            .max_keys(100)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(
            page.contents().len() <= 100,
            "a page holds at most max-keys entries"
        );
        assert_eq!(
            page.key_count(),
            Some(page.contents().len() as i32),
            "KeyCount equals the page's entries"
        );
        seen.extend(page.contents().iter().map(|o| o.key().unwrap().to_owned()));
        if page.is_truncated() == Some(true) {
            token = page.next_continuation_token().map(str::to_owned);
            assert!(
                token.is_some(),
                "a truncated page carries NextContinuationToken"
            );
        } else {
            break;
        }
        assert!(pages < 10, "pagination should finish");
    }
    assert_eq!(pages, 3, "250 keys with max-keys 100 take three pages");
    assert_eq!(seen, keys, "pages concatenate to the sorted key set");

    // start-after
    let after = s3
        .list_objects_v2()
        .bucket(b)
        .start_after(&keys[239])
        .send()
        .await
        .unwrap();
    let got: Vec<&str> = after.contents().iter().filter_map(|o| o.key()).collect();
    let want: Vec<&str> = keys[240..].iter().map(String::as_str).collect();
    assert_eq!(got, want, "start-after returns only the keys after it");

    // V1 with marker
    let v1 = s3
        .list_objects()
        .bucket(b)
        .max_keys(100)
        .send()
        .await
        .unwrap();
    assert_eq!(v1.is_truncated(), Some(true), "V1 first page is truncated");
    assert_eq!(v1.contents().len(), 100, "V1 first page has 100 keys");
    let last = v1.contents().last().unwrap().key().unwrap().to_owned();
    let v1b = s3
        .list_objects()
        .bucket(b)
        .marker(&last)
        .max_keys(1000)
        .send()
        .await
        .unwrap();
    let got: Vec<&str> = v1b.contents().iter().filter_map(|o| o.key()).collect();
    let want: Vec<&str> = keys[100..].iter().map(String::as_str).collect();
    assert_eq!(
        got, want,
        "V1 marker continues after the last key of page one"
    );
    assert_ne!(v1b.is_truncated(), Some(true), "V1 second page is complete");

    // Delimiter and prefix.
    let d = "api-list-tree";
    s3.create_bucket().bucket(d).send().await.unwrap();
    for k in [
        "photos/2024/a.jpg",
        "photos/2024/b.jpg",
        "photos/2025/c.jpg",
        "photos/top.jpg",
        "docs/x.txt",
        "root.txt",
    ] {
        put(&s3, d, k, b"x").await;
    }
    let top = s3
        .list_objects_v2()
        .bucket(d)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = top
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    let files: Vec<&str> = top.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        prefixes,
        vec!["docs/", "photos/"],
        "top-level CommonPrefixes"
    );
    assert_eq!(files, vec!["root.txt"], "top-level Contents");
    let photos = s3
        .list_objects_v2()
        .bucket(d)
        .prefix("photos/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = photos
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    let files: Vec<&str> = photos.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        prefixes,
        vec!["photos/2024/", "photos/2025/"],
        "CommonPrefixes under photos/"
    );
    assert_eq!(files, vec!["photos/top.jpg"], "Contents under photos/");
    let p2024 = s3
        .list_objects_v2()
        .bucket(d)
        .prefix("photos/2024/")
        .send()
        .await
        .unwrap();
    let files: Vec<&str> = p2024.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        files,
        vec!["photos/2024/a.jpg", "photos/2024/b.jpg"],
        "prefix-only listing"
    );
    let v1 = s3
        .list_objects()
        .bucket(d)
        .delimiter("/")
        .prefix("photos/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = v1
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(
        prefixes,
        vec!["photos/2024/", "photos/2025/"],
        "V1 CommonPrefixes under photos/"
    );
    let o = &p2024.contents()[0];
    assert_eq!(o.size(), Some(1), "listing reports Size");
    assert_eq!(
        o.e_tag(),
        Some(format!("\"{}\"", md5_hex(b"x")).as_str()),
        "listing reports the ETag"
    );
}

#[tokio::test]
async fn delete_objects_quiet_and_verbose() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "api-del";
    s3.create_bucket().bucket(b).send().await.unwrap();
    for k in ["d1", "d2", "d3", "d4"] {
        put(&s3, b, k, b"bye").await;
    }
    let ids = |ks: &[&str]| {
        Delete::builder().set_objects(Some(
            ks.iter()
                .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
                .collect(),
        ))
    };
    let verbose = s3
        .delete_objects()
        .bucket(b)
        .delete(ids(&["d1", "d2", "never-existed"]).build().unwrap())
        .send()
        .await
        .unwrap();
    let mut deleted: Vec<&str> = verbose.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort();
    assert_eq!(
        deleted,
        vec!["d1", "d2", "never-existed"],
        "non-quiet DeleteObjects reports every key, including missing ones"
    );
    assert!(
        verbose.errors().is_empty(),
        "no errors expected: {:?}",
        verbose.errors()
    );

    let quiet = s3
        .delete_objects()
        .bucket(b)
        .delete(ids(&["d3"]).quiet(true).build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        quiet.deleted().is_empty(),
        "quiet DeleteObjects reports no successes"
    );
    assert!(
        quiet.errors().is_empty(),
        "quiet DeleteObjects reports no errors"
    );

    let left = s3.list_objects_v2().bucket(b).send().await.unwrap();
    let keys: Vec<&str> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, vec!["d4"], "only the undeleted key remains");

    s3.delete_object().bucket(b).key("d4").send().await.unwrap();
    s3.delete_object()
        .bucket(b)
        .key("d4")
        .send()
        .await
        .expect("deleting a missing key succeeds (204)");
    s3.delete_bucket()
        .bucket(b)
        .send()
        .await
        .expect("an emptied bucket can be deleted");
}

#[tokio::test]
async fn flexible_checksums_round_trip() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "api-sum";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let data = random(300_000);

    let sha = STANDARD.encode(sha2::Sha256::digest(&data));
    let put = s3
        .put_object()
        .bucket(b)
        .key("sha")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.checksum_sha256(),
        Some(sha.as_str()),
        "PutObject echoes the SHA-256 checksum"
    );
    let got = s3
        .get_object()
        .bucket(b)
        .key("sha")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.checksum_sha256(),
        Some(sha.as_str()),
        "GetObject with checksum mode returns the stored SHA-256"
    );
    assert!(
        got.body.collect().await.unwrap().into_bytes()[..] == data[..],
        "SHA-256 object bytes"
    );

    let crc = STANDARD.encode(crc32c::crc32c(&data).to_be_bytes());
    let put = s3
        .put_object()
        .bucket(b)
        .key("crc")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.checksum_crc32_c(),
        Some(crc.as_str()),
        "PutObject echoes the CRC32C checksum"
    );
    let head = s3
        .head_object()
        .bucket(b)
        .key("crc")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.checksum_crc32_c(),
        Some(crc.as_str()),
        "HeadObject with checksum mode returns the stored CRC32C"
    );
    let got = s3
        .get_object()
        .bucket(b)
        .key("crc")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.checksum_crc32_c(),
        Some(crc.as_str()),
        "GetObject with checksum mode returns the stored CRC32C"
    );
    assert!(
        got.body.collect().await.unwrap().into_bytes()[..] == data[..],
        "CRC32C object bytes"
    );
}

#[tokio::test]
async fn unusual_keys_round_trip_and_list() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "api-keys";
    s3.create_bucket().bucket(b).send().await.unwrap();
    // 341 × 3-byte ✓ + 1 = 1024 bytes of UTF-8.
    let long = format!("{}x", "✓".repeat(341));
    assert_eq!(long.len(), 1024);
    let keys: Vec<String> = [
        "a",
        "a/b",
        "a/b/",
        "a//b",
        "..",
        "ünï/✓",
        "with space+plus",
        "pct%2Fliteral",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([long])
    .collect();
    for k in &keys {
        put(&s3, b, k, format!("body of {k}").as_bytes()).await;
    }
    for k in &keys {
        let got = get_bytes(&s3, b, k).await;
        assert_eq!(
            got,
            format!("body of {k}").as_bytes(),
            "key {k:?} returns its own body"
        );
    }
    let listed = s3.list_objects_v2().bucket(b).send().await.unwrap();
    let mut got: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    let mut want = keys.clone();
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "every unusual key appears in the listing exactly once"
    );
    for k in &keys {
        s3.delete_object().bucket(b).key(k).send().await.unwrap();
    }
    let listed = s3.list_objects_v2().bucket(b).send().await.unwrap();
    assert!(
        listed.contents().is_empty(),
        "all unusual keys deleted, left {:?}",
        listed.contents()
    );
}
