//! SDK retry paths of multipart uploads against the real binary: a Complete retried after it
//! succeeded answers the same result, a part uploaded twice keeps its ETag in every encryption
//! mode, and DeleteBucket aborts the uploads in progress (but still refuses a bucket with
//! objects).
mod common;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Server, all_files, failure, md5_hex, random};
use md5::{Digest, Md5};

const MIB: usize = 1024 * 1024;

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build())
                .collect(),
        ))
        .build()
}

async fn read(s3: &Client, b: &str, k: &str, sse_c: Option<&(String, String)>) -> Vec<u8> {
    let mut get = s3.get_object().bucket(b).key(k);
    if let Some((key, md5)) = sse_c {
        get = get
            .sse_customer_algorithm("AES256")
            .sse_customer_key(key)
            .sse_customer_key_md5(md5);
    }
    let out = get.send().await.expect("GetObject");
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

async fn upload_part(s3: &Client, b: &str, k: &str, id: &str, n: i32, data: &[u8]) -> String {
    s3.upload_part()
        .bucket(b)
        .key(k)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .expect("UploadPart")
        .e_tag()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_retried_after_success_answers_the_same() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "retry-complete";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let (p1, p2) = (random(5 * MIB), random(1000));
    let id = s3
        .create_multipart_upload()
        .bucket(b)
        .key("obj")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let e1 = upload_part(&s3, b, "obj", &id, 1, &p1).await;
    let e2 = upload_part(&s3, b, "obj", &id, 2, &p2).await;
    let complete = || {
        s3.complete_multipart_upload()
            .bucket(b)
            .key("obj")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
            .send()
    };
    let first = complete().await.expect("first Complete");
    let again = complete().await.expect("retried Complete");
    assert_eq!(again.e_tag(), first.e_tag());
    assert!(
        first.e_tag().unwrap().ends_with("-2\""),
        "{:?}",
        first.e_tag()
    );
    assert_eq!(again.location(), first.location());
    assert_eq!(again.bucket(), Some(b));
    assert_eq!(again.key(), Some("obj"));
    assert_eq!(again.checksum_crc64_nvme(), first.checksum_crc64_nvme());
    assert_eq!(
        again.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(read(&s3, b, "obj", None).await, [p1, p2].concat());

    // Another part list after completion: the parts it names are gone.
    let (status, code) = failure(
        "Complete with a different part list",
        s3.complete_multipart_upload()
            .bucket(b)
            .key("obj")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, &e1)]))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "InvalidPart"));
    // Under another key the upload id means nothing.
    let (status, code) = failure(
        "Complete under another key",
        s3.complete_multipart_upload()
            .bucket(b)
            .key("other")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (404, "NoSuchUpload"));
    // Once the key is overwritten there is no result to repeat.
    s3.put_object()
        .bucket(b)
        .key("obj")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap();
    let (status, code) = failure("Complete after an overwrite", complete().await);
    assert_eq!((status, code.as_str()), (404, "NoSuchUpload"));
    assert_eq!(read(&s3, b, "obj", None).await, b"new");
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    SseS3,
    Kms,
    SseC,
}

/// UploadPart of part 2 twice with the same bytes (a retried request) answers the same ETag,
/// and a Complete naming the first response's ETag succeeds, in every mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuploaded_part_keeps_its_etag_in_every_mode() {
    let server = Server::start();
    let s3 = server.s3().await;
    let kms = server.kms().await;
    let kms_key = kms.create_key().send().await.unwrap();
    let kms_id = kms_key.key_metadata().unwrap().key_id().to_owned();
    let raw = random(32);
    let customer = (STANDARD.encode(&raw), STANDARD.encode(Md5::digest(&raw)));
    let b = "retry-parts";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let (p1, p2) = (random(5 * MIB), random(4096));

    for mode in [Mode::SseS3, Mode::Kms, Mode::SseC] {
        let mut second_upload_etags = Vec::new();
        // Two uploads of the same bytes: within one the ETag is stable, across two it must
        // reveal nothing where it is opaque.
        for round in 0..2 {
            let key = format!("obj-{mode:?}-{round}");
            let create = s3.create_multipart_upload().bucket(b).key(&key);
            let create = match mode {
                Mode::SseS3 => create.server_side_encryption(ServerSideEncryption::Aes256),
                Mode::Kms => create
                    .server_side_encryption(ServerSideEncryption::AwsKms)
                    .ssekms_key_id(&kms_id),
                Mode::SseC => create
                    .sse_customer_algorithm("AES256")
                    .sse_customer_key(&customer.0)
                    .sse_customer_key_md5(&customer.1),
            };
            let id = create.send().await.unwrap().upload_id().unwrap().to_owned();
            let part = |n: i32, data: &[u8]| {
                let mut up = s3
                    .upload_part()
                    .bucket(b)
                    .key(&key)
                    .upload_id(&id)
                    .part_number(n)
                    .body(ByteStream::from(data.to_vec()));
                if let Mode::SseC = mode {
                    up = up
                        .sse_customer_algorithm("AES256")
                        .sse_customer_key(&customer.0)
                        .sse_customer_key_md5(&customer.1);
                }
                up.send()
            };
            let e1 = part(1, &p1).await.unwrap().e_tag().unwrap().to_owned();
            let first = part(2, &p2).await.unwrap().e_tag().unwrap().to_owned();
            let retried = part(2, &p2).await.unwrap().e_tag().unwrap().to_owned();
            assert_eq!(first, retried, "{mode:?}: part 2 uploaded twice");
            let plain_md5 = format!("\"{}\"", md5_hex(&p2));
            match mode {
                Mode::SseS3 => assert_eq!(first, plain_md5, "SSE-S3 part ETag is the MD5"),
                _ => assert_ne!(first, plain_md5, "{mode:?}: part ETag reveals the MD5"),
            }
            second_upload_etags.push(first.clone());
            let complete = || {
                let c = s3
                    .complete_multipart_upload()
                    .bucket(b)
                    .key(&key)
                    .upload_id(&id)
                    .multipart_upload(completed(&[(1, &e1), (2, &first)]));
                match mode {
                    Mode::SseC => c
                        .sse_customer_algorithm("AES256")
                        .sse_customer_key(&customer.0)
                        .sse_customer_key_md5(&customer.1),
                    _ => c,
                }
                .send()
            };
            let done = complete()
                .await
                .unwrap_or_else(|e| panic!("{mode:?}: Complete with the first ETag: {e:?}"));
            let again = complete()
                .await
                .unwrap_or_else(|e| panic!("{mode:?}: retried Complete: {e:?}"));
            assert_eq!(
                again.e_tag(),
                done.e_tag(),
                "{mode:?}: retried Complete ETag"
            );
            assert_eq!(
                again.server_side_encryption(),
                done.server_side_encryption(),
                "{mode:?}: retried Complete SSE header"
            );
            let sse_c = matches!(mode, Mode::SseC).then_some(&customer);
            assert_eq!(
                read(&s3, b, &key, sse_c).await,
                [p1.clone(), p2.clone()].concat(),
                "{mode:?}: object bytes"
            );
        }
        match mode {
            Mode::SseS3 => assert_eq!(second_upload_etags[0], second_upload_etags[1]),
            _ => assert_ne!(
                second_upload_etags[0], second_upload_etags[1],
                "{mode:?}: equal parts of two uploads share an ETag"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_bucket_aborts_uploads_but_not_objects() {
    let server = Server::start();
    let s3 = server.s3().await;
    let objects = server.data_dir.join("objects");
    let b = "retry-delete";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let id = s3
        .create_multipart_upload()
        .bucket(b)
        .key("pending")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    upload_part(&s3, b, "pending", &id, 1, &random(1000)).await;
    let files = |area: &str| all_files(&objects.join(area).join(b));
    assert!(!files("uploads").is_empty(), "upload records on disk");
    assert!(!files("data").is_empty(), "part blob on disk");

    let deleted = s3.delete_bucket().bucket(b).send().await;
    assert!(deleted.is_ok(), "DeleteBucket with an upload: {deleted:?}");
    let (status, _) = failure("HeadBucket", s3.head_bucket().bucket(b).send().await);
    assert_eq!(status, 404);
    assert_eq!(files("uploads"), Vec::<std::path::PathBuf>::new());
    assert_eq!(files("data"), Vec::<std::path::PathBuf>::new());

    // A bucket with an object still refuses.
    let b = "retry-delete-full";
    s3.create_bucket().bucket(b).send().await.unwrap();
    s3.put_object()
        .bucket(b)
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let (status, code) = failure("DeleteBucket", s3.delete_bucket().bucket(b).send().await);
    assert_eq!((status, code.as_str()), (409, "BucketNotEmpty"));
    assert_eq!(read(&s3, b, "k", None).await, b"x");
}
