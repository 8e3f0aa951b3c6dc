//! Scale-out topology with local processes (the same one `docker/docker-compose.yml` runs):
//! one S3 backend (moto), one `sealgate kms`, and two `sealgate serve` gateways on different
//! ports sharing backend bucket, remote KMS and root credentials. What one gateway writes the
//! other reads, lists, copies and deletes; a multipart upload takes parts through both; the
//! backend holds no plaintext and no SSE-C key.
mod common;
mod moto;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Options, Server, failure, random};
use md5::Digest as _;

struct Topology {
    moto: moto::Moto,
    backend_bucket: String,
    _kms: Server,
    kms_key_arn: String,
    a: Server,
    b: Server,
}

async fn topology() -> Option<Topology> {
    let moto = moto::Moto::start()?;
    let backend_bucket = moto.bucket("fleet").await;
    let kms = Server::start_with(Options {
        kms_only: true,
        // The gateways sign with the root credential: the KMS's service identity.
        config_toml: Some("kms_service_principals = [\"arn:aws:iam::000000000000:root\"]\n".into()),
        ..Default::default()
    });
    let key = kms.kms().await.create_key().send().await.unwrap();
    let kms_key_arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    let toml = format!(
        "{}kms_endpoint = \"{}\"\nkms_ca_file = \"{}\"\n",
        moto.gateway_toml(&backend_bucket, Some("sealgate")),
        kms.kms_https,
        kms.ca_path.display()
    );
    let gateway = || {
        Server::start_with(Options {
            config_toml: Some(toml.clone()),
            ..Default::default()
        })
    };
    let (a, b) = (gateway(), gateway());
    assert_ne!(a.s3_https, b.s3_https);
    Some(Topology {
        moto,
        backend_bucket,
        _kms: kms,
        kms_key_arn,
        a,
        b,
    })
}

struct CustomerKey {
    raw: Vec<u8>,
    b64: String,
    md5: String,
}

fn customer_key() -> CustomerKey {
    let raw = random(32);
    CustomerKey {
        b64: STANDARD.encode(&raw),
        md5: STANDARD.encode(md5::Md5::digest(&raw)),
        raw,
    }
}

async fn body(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

/// Plaintext that is easy to find in a dump: a marker repeated, plus random bytes.
fn marked(marker: &str, random_len: usize) -> Vec<u8> {
    let mut v = marker.repeat(64).into_bytes();
    v.extend(random(random_len));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_backend_and_kms() {
    let Some(t) = topology().await else {
        return;
    };
    let (a, b) = (t.a.s3().await, t.b.s3().await);
    let arn = t.kms_key_arn.as_str();

    a.create_bucket().bucket("fleet").send().await.unwrap();
    let listed = b.list_buckets().send().await.unwrap();
    assert!(
        listed.buckets().iter().any(|x| x.name() == Some("fleet")),
        "a bucket created through A is listed by B"
    );
    // Both gateways answer for us-east-1, where creating a bucket you own again succeeds.
    b.create_bucket().bucket("fleet").send().await.unwrap();

    // SSE-KMS: written through A; read, listed, copied and deleted through B.
    let kms_data = marked("SEALGATE-PLAINTEXT-KMS-", 100_000);
    let put = a
        .put_object()
        .bucket("fleet")
        .key("docs/kms.bin")
        .body(ByteStream::from(kms_data.clone()))
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(arn)
        .send()
        .await
        .unwrap();
    let got = b
        .get_object()
        .bucket("fleet")
        .key("docs/kms.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(got.ssekms_key_id(), Some(arn));
    assert_eq!(got.e_tag(), put.e_tag());
    assert_eq!(body(got).await, kms_data, "SSE-KMS object read through B");
    let ranged = b
        .get_object()
        .bucket("fleet")
        .key("docs/kms.bin")
        .range("bytes=70000-70099")
        .send()
        .await
        .unwrap();
    assert_eq!(body(ranged).await, &kms_data[70_000..70_100]);

    b.copy_object()
        .bucket("fleet")
        .key("docs/kms-copy.bin")
        .copy_source("fleet/docs/kms.bin")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(arn)
        .send()
        .await
        .unwrap();
    let copy = a
        .get_object()
        .bucket("fleet")
        .key("docs/kms-copy.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(body(copy).await, kms_data, "copy made by B read through A");

    // SSE-C: the customer's key is sent to whichever gateway serves the request.
    let ck = customer_key();
    let ssec_data = marked("SEALGATE-PLAINTEXT-SSEC-", 50_000);
    b.put_object()
        .bucket("fleet")
        .key("docs/ssec.bin")
        .body(ByteStream::from(ssec_data.clone()))
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .send()
        .await
        .unwrap();
    let got = a
        .get_object()
        .bucket("fleet")
        .key("docs/ssec.bin")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(body(got).await, ssec_data, "SSE-C object read through A");
    let (status, _) = failure(
        "SSE-C GET without the key",
        a.get_object()
            .bucket("fleet")
            .key("docs/ssec.bin")
            .send()
            .await,
    );
    assert_eq!(status, 400);
    let wrong = customer_key();
    let (status, _) = failure(
        "SSE-C GET with another key",
        a.get_object()
            .bucket("fleet")
            .key("docs/ssec.bin")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&wrong.b64)
            .sse_customer_key_md5(&wrong.md5)
            .send()
            .await,
    );
    assert_eq!(status, 403);

    // Multipart: parts through both gateways, completed through B, read through A.
    let part1 = marked("SEALGATE-PLAINTEXT-PART1-", 5 * 1024 * 1024);
    let part2 = marked("SEALGATE-PLAINTEXT-PART2-", 5 * 1024 * 1024);
    let part3 = marked("SEALGATE-PLAINTEXT-PART3-", 1000);
    let up = a
        .create_multipart_upload()
        .bucket("fleet")
        .key("big/multi.bin")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(arn)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, (client, data)) in [(&a, &part1), (&b, &part2), (&a, &part3)]
        .into_iter()
        .enumerate()
    {
        let n = n as i32 + 1;
        let p = client
            .upload_part()
            .bucket("fleet")
            .key("big/multi.bin")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(p.e_tag().unwrap())
                .build(),
        );
    }
    let listed_parts = b
        .list_parts()
        .bucket("fleet")
        .key("big/multi.bin")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed_parts.parts().len(),
        3,
        "B lists parts uploaded via A and B"
    );
    let uploads = a
        .list_multipart_uploads()
        .bucket("fleet")
        .send()
        .await
        .unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    let complete = |client: &aws_sdk_s3::Client| {
        client
            .complete_multipart_upload()
            .bucket("fleet")
            .key("big/multi.bin")
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts.clone()))
                    .build(),
            )
            .send()
    };
    let first = complete(&b).await.unwrap();
    // A retried Complete (the first response lost) on the other gateway answers the same.
    let retried = complete(&a).await.expect("Complete retried through A");
    assert_eq!(retried.e_tag(), first.e_tag(), "retried Complete ETag");
    assert_eq!(retried.location(), first.location());
    let whole = [part1.as_slice(), &part2, &part3].concat();
    let got = a
        .get_object()
        .bucket("fleet")
        .key("big/multi.bin")
        .send()
        .await
        .unwrap();
    assert!(got.e_tag().unwrap().ends_with("-3\""), "{:?}", got.e_tag());
    assert_eq!(body(got).await, whole, "multipart object read through A");
    let boundary = part1.len();
    let ranged = b
        .get_object()
        .bucket("fleet")
        .key("big/multi.bin")
        .range(format!("bytes={}-{}", boundary - 10, boundary + 9))
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(ranged).await,
        &whole[boundary - 10..boundary + 10],
        "range across the part boundary through B"
    );

    // Listing through either gateway: paginated, plaintext sizes and ETags.
    for client in [&a, &b] {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = client
                .list_objects_v2()
                .bucket("fleet")
                .max_keys(2)
                .set_continuation_token(token)
                .send()
                .await
                .unwrap();
            for o in page.contents() {
                keys.push((o.key().unwrap().to_owned(), o.size().unwrap()));
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        assert_eq!(
            keys,
            [
                ("big/multi.bin".to_owned(), whole.len() as i64),
                ("docs/kms-copy.bin".to_owned(), kms_data.len() as i64),
                ("docs/kms.bin".to_owned(), kms_data.len() as i64),
                ("docs/ssec.bin".to_owned(), ssec_data.len() as i64),
            ]
        );
    }

    // The backend holds only ciphertext and envelope records.
    let dump = t.moto.dump(&t.backend_bucket).await;
    assert!(
        dump.iter().all(|(k, _)| k.starts_with("sealgate/")),
        "everything under the configured prefix"
    );
    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("SSE-KMS plaintext", b"SEALGATE-PLAINTEXT-KMS-".to_vec()),
        ("SSE-C plaintext", b"SEALGATE-PLAINTEXT-SSEC-".to_vec()),
        ("multipart plaintext", b"SEALGATE-PLAINTEXT-PART".to_vec()),
        ("random plaintext", kms_data[kms_data.len() - 64..].to_vec()),
        ("SSE-C key", ck.raw.clone()),
        ("SSE-C key (base64)", ck.b64.clone().into_bytes()),
    ];
    assert!(dump.len() > 5, "backend objects: {}", dump.len());
    for (what, needle) in &needles {
        for (key, data) in &dump {
            assert!(
                !data.windows(needle.len()).any(|w| w == needle.as_slice()),
                "{what} found in backend object {key}"
            );
        }
    }

    // Deletes through B are seen by A at once (no local index or cache).
    for key in [
        "docs/kms.bin",
        "docs/kms-copy.bin",
        "docs/ssec.bin",
        "big/multi.bin",
    ] {
        b.delete_object()
            .bucket("fleet")
            .key(key)
            .send()
            .await
            .unwrap();
        let (status, code) = failure(
            "GET through A after delete through B",
            a.get_object().bucket("fleet").key(key).send().await,
        );
        assert_eq!((status, code.as_str()), (404, "NoSuchKey"), "{key}");
    }
    let left = a.list_objects_v2().bucket("fleet").send().await.unwrap();
    assert_eq!(left.key_count(), Some(0));
    b.delete_bucket().bucket("fleet").send().await.unwrap();
    let (status, _) = failure(
        "HEAD bucket through A after delete through B",
        a.head_bucket().bucket("fleet").send().await,
    );
    assert_eq!(status, 404);
    let data_left: Vec<String> = t
        .moto
        .dump(&t.backend_bucket)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("sealgate/data/") || k.starts_with("sealgate/meta/"))
        .collect();
    assert!(
        data_left.is_empty(),
        "deleted objects leave no blobs: {data_left:?}"
    );
}

/// SSE-S3 (the default mode) across gateways: the master key ring lives wrapped in the shared
/// backend, so an object sealed by one gateway opens on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_s3_objects_open_on_the_other_gateway() {
    let Some(t) = topology().await else {
        return;
    };
    let (a, b) = (t.a.s3().await, t.b.s3().await);
    a.create_bucket().bucket("defaults").send().await.unwrap();
    let data = marked("SEALGATE-PLAINTEXT-SSES3-", 20_000);
    let put = a
        .put_object()
        .bucket("defaults")
        .key("k")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    let got = b
        .get_object()
        .bucket("defaults")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(got).await,
        data,
        "SSE-S3 object written by A read through B"
    );
    b.put_object()
        .bucket("defaults")
        .key("k2")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    let got = a
        .get_object()
        .bucket("defaults")
        .key("k2")
        .send()
        .await
        .unwrap();
    assert_eq!(body(got).await, data, "and the other way round");
    for (key, bytes) in t.moto.dump(&t.backend_bucket).await {
        assert!(
            !bytes.windows(24).any(|w| w == b"SEALGATE-PLAINTEXT-SSES3"),
            "plaintext in backend object {key}"
        );
    }
}
