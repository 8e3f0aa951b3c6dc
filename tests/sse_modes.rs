//! Every encryption mode on every data path: SSE-S3, SSE-KMS (with and without a bucket key)
//! and SSE-C, for PutObject, multipart, GET/ranged GET/HEAD, CopyObject and UploadPartCopy
//! between modes; bucket default encryption; SSE-C and KMS failure modes; and nothing readable
//! on disk.
mod common;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Server, failure, md5_hex, random};
use md5::{Digest, Md5};

const MIB: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    SseS3,
    Kms,
    KmsBucketKey,
    SseC,
}

const MODES: [Mode; 4] = [Mode::SseS3, Mode::Kms, Mode::KmsBucketKey, Mode::SseC];

/// An SSE-C key as the headers carry it.
#[derive(Clone)]
struct CustomerKey {
    raw: Vec<u8>,
    b64: String,
    md5: String,
}

impl CustomerKey {
    fn random() -> CustomerKey {
        let raw = random(32);
        CustomerKey {
            b64: STANDARD.encode(&raw),
            md5: STANDARD.encode(Md5::digest(&raw)),
            raw,
        }
    }
}

/// The key material a test's modes use.
struct Keys {
    kms_alias: String,
    kms_arn: String,
    kms_key_id: String,
    customer: CustomerKey,
}

async fn setup_keys(server: &Server, alias: &str) -> Keys {
    let kms = server.kms().await;
    let key = kms.create_key().send().await.expect("CreateKey");
    let meta = key.key_metadata().expect("KeyMetadata");
    let (arn, id) = (meta.arn().unwrap().to_owned(), meta.key_id().to_owned());
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(&id)
        .send()
        .await
        .expect("CreateAlias");
    Keys {
        kms_alias: alias.to_owned(),
        kms_arn: arn,
        kms_key_id: id,
        customer: CustomerKey::random(),
    }
}

/// Adds the write-side encryption headers of `$mode` to a PutObject / CopyObject /
/// CreateMultipartUpload builder.
macro_rules! with_sse {
    ($b:expr, $mode:expr, $keys:expr) => {{
        let b = $b;
        match $mode {
            Mode::SseS3 => b.server_side_encryption(ServerSideEncryption::Aes256),
            Mode::Kms => b
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(&$keys.kms_alias),
            Mode::KmsBucketKey => b
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(&$keys.kms_alias)
                .bucket_key_enabled(true),
            Mode::SseC => b
                .sse_customer_algorithm("AES256")
                .sse_customer_key(&$keys.customer.b64)
                .sse_customer_key_md5(&$keys.customer.md5),
        }
    }};
}

/// Adds the SSE-C key (only for SSE-C) to a GET / HEAD / UploadPart / UploadPartCopy builder.
macro_rules! with_customer {
    ($b:expr, $mode:expr, $keys:expr) => {{
        let b = $b;
        if $mode == Mode::SseC {
            b.sse_customer_algorithm("AES256")
                .sse_customer_key(&$keys.customer.b64)
                .sse_customer_key_md5(&$keys.customer.md5)
        } else {
            b
        }
    }};
}

/// Adds the copy-source SSE-C key (only when the source is SSE-C).
macro_rules! with_copy_source_key {
    ($b:expr, $mode:expr, $keys:expr) => {{
        let b = $b;
        if $mode == Mode::SseC {
            b.copy_source_sse_customer_algorithm("AES256")
                .copy_source_sse_customer_key(&$keys.customer.b64)
                .copy_source_sse_customer_key_md5(&$keys.customer.md5)
        } else {
            b
        }
    }};
}

/// The SSE response headers of one response.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    sse: Option<String>,
    kms_key: Option<String>,
    bucket_key: Option<bool>,
    customer_alg: Option<String>,
    customer_md5: Option<String>,
}

macro_rules! seen {
    ($o:expr) => {{
        let o = &$o;
        Seen {
            sse: o.server_side_encryption().map(|s| s.as_str().to_owned()),
            kms_key: o.ssekms_key_id().map(str::to_owned),
            bucket_key: o.bucket_key_enabled(),
            customer_alg: o.sse_customer_algorithm().map(str::to_owned),
            customer_md5: o.sse_customer_key_md5().map(str::to_owned),
        }
    }};
}

/// CompleteMultipartUpload carries no SSE-C headers at all.
macro_rules! seen_complete {
    ($o:expr) => {{
        let o = &$o;
        Seen {
            sse: o.server_side_encryption().map(|s| s.as_str().to_owned()),
            kms_key: o.ssekms_key_id().map(str::to_owned),
            bucket_key: o.bucket_key_enabled(),
            customer_alg: None,
            customer_md5: None,
        }
    }};
}

/// What a response describing an object in `mode` must carry:
/// SSE-KMS names the full key ARN, the bucket-key header only when true, SSE-C echoes the key
/// MD5 and never `x-amz-server-side-encryption`.
fn expected(mode: Mode, keys: &Keys) -> Seen {
    match mode {
        Mode::SseS3 => Seen {
            sse: Some("AES256".into()),
            ..Seen::default()
        },
        Mode::Kms | Mode::KmsBucketKey => Seen {
            sse: Some("aws:kms".into()),
            kms_key: Some(keys.kms_arn.clone()),
            bucket_key: (mode == Mode::KmsBucketKey).then_some(true),
            ..Seen::default()
        },
        Mode::SseC => Seen {
            customer_alg: Some("AES256".into()),
            customer_md5: Some(keys.customer.md5.clone()),
            ..Seen::default()
        },
    }
}

fn expected_complete(mode: Mode, keys: &Keys) -> Seen {
    match mode {
        Mode::SseC => Seen::default(),
        m => expected(m, keys),
    }
}

/// Collects failed checks so one run of a matrix reports every cell that is wrong.
#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    fn expect_eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: T, want: T) {
        if got != want {
            self.0
                .push(format!("{what}: expected {want:?}, got {got:?}"));
        }
    }
    fn ok(&mut self, what: &str, cond: bool) {
        if !cond {
            self.0.push(format!("{what}: expected true"));
        }
    }
    fn bytes(&mut self, what: &str, got: &[u8], want: &[u8]) {
        if got != want {
            self.0.push(format!(
                "{what}: expected {} bytes (md5 {}), got {} bytes (md5 {})",
                want.len(),
                md5_hex(want),
                got.len(),
                md5_hex(got)
            ));
        }
    }
    fn finish(self) {
        assert!(
            self.0.is_empty(),
            "{} check(s) failed:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

async fn body(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

/// PUTs `data` in `mode` (single part) and checks the response headers and ETag rule.
async fn put_in_mode(
    c: &mut Checks,
    s3: &Client,
    bucket: &str,
    key: &str,
    data: &[u8],
    mode: Mode,
    keys: &Keys,
) {
    let put = with_sse!(
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(data.to_vec())),
        mode,
        keys
    )
    .send()
    .await
    .unwrap_or_else(|e| panic!("PUT {key} in {mode:?} should succeed: {e:?}"));
    c.expect_eq(
        &format!("PUT {key} {mode:?} SSE headers"),
        seen!(put),
        expected(mode, keys),
    );
    let etag = put.e_tag().unwrap_or_default().trim_matches('"').to_owned();
    if mode == Mode::SseS3 {
        c.expect_eq(
            &format!("PUT {key} SSE-S3 ETag is the plaintext MD5"),
            etag,
            md5_hex(data),
        );
    } else {
        c.ok(
            &format!("PUT {key} {mode:?} ETag ({etag}) is 32 hex chars and not the plaintext MD5"),
            etag.len() == 32 && etag != md5_hex(data),
        );
    }
}

/// GET (whole and `range`) and HEAD of an object in `mode`, comparing bytes and headers.
async fn read_back(
    c: &mut Checks,
    (s3, bucket): (&Client, &str),
    key: &str,
    data: &[u8],
    mode: Mode,
    keys: &Keys,
    range: Option<(usize, usize)>,
) {
    let got = with_customer!(s3.get_object().bucket(bucket).key(key), mode, keys)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {key} in {mode:?} should succeed: {e:?}"));
    c.expect_eq(
        &format!("GET {key} {mode:?} SSE headers"),
        seen!(got),
        expected(mode, keys),
    );
    c.bytes(&format!("GET {key} {mode:?} bytes"), &body(got).await, data);
    if let Some((a, b)) = range {
        let got = with_customer!(
            s3.get_object()
                .bucket(bucket)
                .key(key)
                .range(format!("bytes={a}-{b}")),
            mode,
            keys
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("ranged GET {key} in {mode:?} should succeed: {e:?}"));
        c.expect_eq(
            &format!("ranged GET {key} {mode:?} Content-Range"),
            got.content_range().map(str::to_owned),
            Some(format!("bytes {a}-{b}/{}", data.len())),
        );
        c.expect_eq(
            &format!("ranged GET {key} {mode:?} SSE headers"),
            seen!(got),
            expected(mode, keys),
        );
        c.bytes(
            &format!("ranged GET {key} {mode:?} bytes"),
            &body(got).await,
            &data[a..=b],
        );
    }
    let head = with_customer!(s3.head_object().bucket(bucket).key(key), mode, keys)
        .send()
        .await
        .unwrap_or_else(|e| panic!("HEAD {key} in {mode:?} should succeed: {e:?}"));
    c.expect_eq(
        &format!("HEAD {key} {mode:?} SSE headers"),
        seen!(head),
        expected(mode, keys),
    );
    c.expect_eq(
        &format!("HEAD {key} {mode:?} Content-Length"),
        head.content_length(),
        Some(data.len() as i64),
    );
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::SseS3 => "s3",
        Mode::Kms => "kms",
        Mode::KmsBucketKey => "kmsbk",
        Mode::SseC => "c",
    }
}

#[tokio::test]
async fn single_part_copy_and_part_copy_matrix() {
    let server = Server::start();
    let s3 = server.s3().await;
    let keys = setup_keys(&server, "alias/sse-matrix").await;
    let b = "sse-matrix";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let mut c = Checks::default();

    let sources: Vec<(usize, Vec<u8>)> = [0, 100, MIB].iter().map(|&n| (n, random(n))).collect();
    for mode in MODES {
        for (n, data) in &sources {
            let key = format!("obj-{}-{n}", mode_name(mode));
            put_in_mode(&mut c, &s3, b, &key, data, mode, &keys).await;
            let range = match n {
                0 => None,
                100 => Some((10, 59)),
                // Spans several 64 KiB segments.
                _ => Some((70_000, 400_001)),
            };
            read_back(&mut c, (&s3, b), &key, data, mode, &keys, range).await;
        }
    }

    // CopyObject from every mode to every mode (1 MiB sources).
    let src_data = &sources[2].1;
    for from in MODES {
        for to in MODES {
            let src = format!("obj-{}-{MIB}", mode_name(from));
            let dst = format!("copy-{}-to-{}", mode_name(from), mode_name(to));
            let req = with_sse!(
                s3.copy_object()
                    .bucket(b)
                    .key(&dst)
                    .copy_source(format!("{b}/{src}")),
                to,
                keys
            );
            let out = with_copy_source_key!(req, from, keys)
                .send()
                .await
                .unwrap_or_else(|e| panic!("CopyObject {from:?} -> {to:?} should succeed: {e:?}"));
            c.expect_eq(
                &format!("CopyObject {from:?}->{to:?} response describes the destination"),
                seen!(out),
                expected(to, &keys),
            );
            read_back(
                &mut c,
                (&s3, b),
                &dst,
                src_data,
                to,
                &keys,
                Some((1, 65_537)),
            )
            .await;
        }
    }

    // UploadPartCopy from each mode into an upload of every other mode (ranged, so the part is
    // re-encrypted under the destination upload's key).
    let (ra, rb) = (1000usize, 700_000usize);
    for from in MODES {
        for to in MODES {
            if from == to {
                continue;
            }
            let src = format!("obj-{}-{MIB}", mode_name(from));
            let dst = format!("upc-{}-to-{}", mode_name(from), mode_name(to));
            let created = with_sse!(s3.create_multipart_upload().bucket(b).key(&dst), to, keys)
                .send()
                .await
                .unwrap_or_else(|e| panic!("CreateMultipartUpload {to:?} should succeed: {e:?}"));
            c.expect_eq(
                &format!("CreateMultipartUpload {to:?} SSE headers"),
                seen!(created),
                expected(to, &keys),
            );
            let id = created.upload_id().unwrap().to_owned();
            let req = with_customer!(
                s3.upload_part_copy()
                    .bucket(b)
                    .key(&dst)
                    .upload_id(&id)
                    .part_number(1)
                    .copy_source(format!("{b}/{src}"))
                    .copy_source_range(format!("bytes={ra}-{rb}")),
                to,
                keys
            );
            let part = with_copy_source_key!(req, from, keys)
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!("UploadPartCopy {from:?} -> {to:?} should succeed: {e:?}")
                });
            c.expect_eq(
                &format!("UploadPartCopy {from:?}->{to:?} response describes the upload"),
                seen!(part),
                expected(to, &keys),
            );
            let etag = part
                .copy_part_result()
                .and_then(|r| r.e_tag())
                .unwrap()
                .to_owned();
            let done = s3
                .complete_multipart_upload()
                .bucket(b)
                .key(&dst)
                .upload_id(&id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
                        .build(),
                )
                .send()
                .await
                .unwrap_or_else(|e| panic!("Complete {from:?} -> {to:?} should succeed: {e:?}"));
            c.expect_eq(
                &format!("CompleteMultipartUpload {to:?} SSE headers"),
                seen_complete!(done),
                expected_complete(to, &keys),
            );
            read_back(
                &mut c,
                (&s3, b),
                &dst,
                &src_data[ra..=rb],
                to,
                &keys,
                Some((0, 99)),
            )
            .await;
        }
    }
    c.finish();
}

#[tokio::test]
async fn multipart_20mib_in_every_mode() {
    let server = Server::start();
    let s3 = server.s3().await;
    let keys = setup_keys(&server, "alias/sse-mpu").await;
    let b = "sse-mpu";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let mut c = Checks::default();
    let parts: Vec<Vec<u8>> = (0..4).map(|_| random(5 * MIB)).collect();
    let whole = parts.concat();

    for mode in MODES {
        let key = format!("mpu-{}", mode_name(mode));
        let created = with_sse!(s3.create_multipart_upload().bucket(b).key(&key), mode, keys)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateMultipartUpload {mode:?}: {e:?}"));
        c.expect_eq(
            &format!("CreateMultipartUpload {mode:?} SSE headers"),
            seen!(created),
            expected(mode, &keys),
        );
        let id = created.upload_id().unwrap().to_owned();
        let mut done_parts = Vec::new();
        let mut etag_bytes = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let n = i as i32 + 1;
            let out = with_customer!(
                s3.upload_part()
                    .bucket(b)
                    .key(&key)
                    .upload_id(&id)
                    .part_number(n)
                    .body(ByteStream::from(p.clone())),
                mode,
                keys
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("UploadPart {n} {mode:?}: {e:?}"));
            c.expect_eq(
                &format!("UploadPart {n} {mode:?} SSE headers"),
                seen!(out),
                expected(mode, &keys),
            );
            let etag = out.e_tag().unwrap().to_owned();
            etag_bytes.extend(hex::decode(etag.trim_matches('"')).expect("hex part ETag"));
            done_parts.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
        }
        let done = s3
            .complete_multipart_upload()
            .bucket(b)
            .key(&key)
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done_parts))
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("Complete {mode:?}: {e:?}"));
        c.expect_eq(
            &format!("Complete {mode:?} SSE headers"),
            seen_complete!(done),
            expected_complete(mode, &keys),
        );
        c.expect_eq(
            &format!("Complete {mode:?} ETag is md5 of part ETags + -4"),
            done.e_tag().map(str::to_owned),
            Some(format!("\"{}-4\"", hex::encode(Md5::digest(&etag_bytes)))),
        );
        // A range across the part 1/2 boundary.
        read_back(
            &mut c,
            (&s3, b),
            &key,
            &whole,
            mode,
            &keys,
            Some((5 * MIB - 1000, 5 * MIB + 70_000)),
        )
        .await;
    }

    // Whole copies of a multipart object into the next mode keep every part readable.
    for (i, from) in MODES.iter().enumerate() {
        let to = MODES[(i + 1) % MODES.len()];
        let dst = format!("mpu-copy-{}-to-{}", mode_name(*from), mode_name(to));
        let req = with_sse!(
            s3.copy_object()
                .bucket(b)
                .key(&dst)
                .copy_source(format!("{b}/mpu-{}", mode_name(*from))),
            to,
            keys
        );
        let out = with_copy_source_key!(req, *from, keys)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CopyObject multipart {from:?} -> {to:?}: {e:?}"));
        c.expect_eq(
            &format!("CopyObject multipart {from:?}->{to:?} SSE headers"),
            seen!(out),
            expected(to, &keys),
        );
        let (a, z) = (15 * MIB - 10, 15 * MIB + 10);
        let got = with_customer!(
            s3.get_object()
                .bucket(b)
                .key(&dst)
                .range(format!("bytes={a}-{z}")),
            to,
            keys
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("ranged GET of multipart copy {from:?}->{to:?}: {e:?}"));
        c.bytes(
            &format!("multipart copy {from:?}->{to:?} bytes across parts 3/4"),
            &body(got).await,
            &whole[a..=z],
        );
    }
    c.finish();
}

#[tokio::test]
async fn copy_to_sse_s3_restores_md5_etag() {
    // AWS: "CopyObject ETag follows the destination's mode (copying to SSE-S3
    // yields the MD5 again [R])".
    let server = Server::start();
    let s3 = server.s3().await;
    let keys = setup_keys(&server, "alias/sse-etag").await;
    let b = "sse-etag";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let data = random(1000);
    let mut c = Checks::default();
    for from in [Mode::Kms, Mode::SseC] {
        let src = format!("src-{}", mode_name(from));
        put_in_mode(&mut c, &s3, b, &src, &data, from, &keys).await;
        let req = s3
            .copy_object()
            .bucket(b)
            .key(format!("to-s3-{}", mode_name(from)))
            .copy_source(format!("{b}/{src}"));
        let out = with_copy_source_key!(req, from, keys).send().await.unwrap();
        c.expect_eq(
            &format!("CopyObject {from:?}->SSE-S3 ETag is the plaintext MD5"),
            out.copy_object_result()
                .and_then(|r| r.e_tag())
                .map(str::to_owned),
            Some(format!("\"{}\"", md5_hex(&data))),
        );
    }
    c.finish();
}

#[tokio::test]
async fn aws_kms_without_key_uses_aws_s3_alias() {
    let server = Server::start();
    let s3 = server.s3().await;
    let kms = server.kms().await;
    let b = "sse-default-key";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let put = s3
        .put_object()
        .bucket(b)
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(ByteStream::from_static(b"default kms key"))
        .send()
        .await
        .expect("PUT with aws:kms and no key id should succeed");
    let described = kms
        .describe_key()
        .key_id("alias/aws/s3")
        .send()
        .await
        .expect("alias/aws/s3 exists after first use");
    let arn = described
        .key_metadata()
        .and_then(|m| m.arn())
        .unwrap()
        .to_owned();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms),
        "SSE header is aws:kms"
    );
    assert_eq!(
        put.ssekms_key_id(),
        Some(arn.as_str()),
        "the object uses alias/aws/s3's key ARN"
    );
    let got = s3.get_object().bucket(b).key("k").send().await.unwrap();
    assert_eq!(
        got.ssekms_key_id(),
        Some(arn.as_str()),
        "GET names alias/aws/s3's key ARN"
    );
    assert_eq!(body(got).await, b"default kms key", "GET bytes");

    // Bucket default aws:kms without KMSMasterKeyID also means alias/aws/s3.
    s3.put_bucket_encryption()
        .bucket(b)
        .server_side_encryption_configuration(sse_config("aws:kms", None, false))
        .send()
        .await
        .unwrap();
    let put = s3
        .put_object()
        .bucket(b)
        .key("k2")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.ssekms_key_id(),
        Some(arn.as_str()),
        "bucket default aws:kms without a key uses alias/aws/s3"
    );
}

fn sse_config(alg: &str, key: Option<&str>, bucket_key: bool) -> ServerSideEncryptionConfiguration {
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(alg))
        .set_kms_master_key_id(key.map(str::to_owned))
        .build()
        .unwrap();
    ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .bucket_key_enabled(bucket_key)
                .build(),
        )
        .build()
        .unwrap()
}

async fn default_rule(s3: &Client, bucket: &str) -> (String, Option<String>, Option<bool>) {
    let out = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .expect("GetBucketEncryption should succeed");
    let rule = &out.server_side_encryption_configuration().unwrap().rules()[0];
    let d = rule.apply_server_side_encryption_by_default().unwrap();
    (
        d.sse_algorithm().as_str().to_owned(),
        d.kms_master_key_id().map(str::to_owned),
        rule.bucket_key_enabled(),
    )
}

#[tokio::test]
async fn bucket_default_encryption() {
    let server = Server::start();
    let s3 = server.s3().await;
    let keys = setup_keys(&server, "alias/bucket-default").await;
    let b = "sse-bucket-default";
    s3.create_bucket().bucket(b).send().await.unwrap();

    let (alg, key, _) = default_rule(&s3, b).await;
    assert_eq!(
        (alg.as_str(), key),
        ("AES256", None),
        "a new bucket's default is AES256"
    );

    s3.put_bucket_encryption()
        .bucket(b)
        .server_side_encryption_configuration(sse_config("aws:kms", Some(&keys.kms_arn), true))
        .send()
        .await
        .expect("PutBucketEncryption aws:kms should succeed");
    let (alg, key, bk) = default_rule(&s3, b).await;
    assert_eq!(
        (alg.as_str(), key.as_deref(), bk),
        ("aws:kms", Some(keys.kms_arn.as_str()), Some(true)),
        "GetBucketEncryption returns the configured rule"
    );

    let data = random(5000);
    let put = s3
        .put_object()
        .bucket(b)
        .key("plain")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    let mut c = Checks::default();
    c.expect_eq(
        "plain PUT under a KMS default",
        seen!(put),
        expected(Mode::KmsBucketKey, &keys),
    );
    read_back(
        &mut c,
        (&s3, b),
        "plain",
        &data,
        Mode::KmsBucketKey,
        &keys,
        Some((0, 10)),
    )
    .await;
    // An explicit request overrides the default.
    let put = s3
        .put_object()
        .bucket(b)
        .key("explicit-s3")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    c.expect_eq(
        "explicit AES256 under a KMS default",
        seen!(put),
        expected(Mode::SseS3, &keys),
    );
    // A multipart upload without headers also follows the default.
    let mpu = s3
        .create_multipart_upload()
        .bucket(b)
        .key("mpu")
        .send()
        .await
        .unwrap();
    c.expect_eq(
        "CreateMultipartUpload under a KMS default",
        seen!(mpu),
        expected(Mode::KmsBucketKey, &keys),
    );
    s3.abort_multipart_upload()
        .bucket(b)
        .key("mpu")
        .upload_id(mpu.upload_id().unwrap())
        .send()
        .await
        .unwrap();

    s3.delete_bucket_encryption()
        .bucket(b)
        .send()
        .await
        .expect("DeleteBucketEncryption");
    let (alg, key, _) = default_rule(&s3, b).await;
    assert_eq!(
        (alg.as_str(), key),
        ("AES256", None),
        "after delete the default is AES256 again"
    );
    let put = s3
        .put_object()
        .bucket(b)
        .key("after-delete")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    c.expect_eq(
        "plain PUT after DeleteBucketEncryption",
        seen!(put),
        expected(Mode::SseS3, &keys),
    );
    // Objects written under the old default stay readable.
    read_back(
        &mut c,
        (&s3, b),
        "plain",
        &data,
        Mode::KmsBucketKey,
        &keys,
        None,
    )
    .await;
    c.finish();
}

#[tokio::test]
async fn sse_c_failure_modes() {
    let server = Server::start();
    let s3 = server.s3().await;
    let keys = setup_keys(&server, "alias/sse-c-errors").await;
    let b = "sse-c-errors";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let mut c = Checks::default();
    put_in_mode(&mut c, &s3, b, "c-obj", b"customer data", Mode::SseC, &keys).await;
    put_in_mode(&mut c, &s3, b, "s3-obj", b"plain data", Mode::SseS3, &keys).await;
    c.finish();
    let other = CustomerKey::random();

    let (status, code) = failure(
        "GET SSE-C object with the wrong key",
        s3.get_object()
            .bucket(b)
            .key("c-obj")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&other.b64)
            .sse_customer_key_md5(&other.md5)
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (403, "AccessDenied"),
        "GET with the wrong SSE-C key"
    );
    let (status, _) = failure(
        "HEAD SSE-C object with the wrong key",
        s3.head_object()
            .bucket(b)
            .key("c-obj")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&other.b64)
            .sse_customer_key_md5(&other.md5)
            .send()
            .await,
    );
    assert_eq!(status, 403, "HEAD with the wrong SSE-C key is 403");
    let (status, code) = failure(
        "GET SSE-C object without a key",
        s3.get_object().bucket(b).key("c-obj").send().await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidRequest"),
        "GET of an SSE-C object without the key"
    );
    let (status, _) = failure(
        "HEAD SSE-C object without a key",
        s3.head_object().bucket(b).key("c-obj").send().await,
    );
    assert_eq!(
        status, 400,
        "HEAD of an SSE-C object without the key is 400"
    );
    let (status, code) = failure(
        "GET SSE-S3 object with an SSE-C key",
        with_customer!(s3.get_object().bucket(b).key("s3-obj"), Mode::SseC, keys)
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidRequest"),
        "SSE-C key on a non-SSE-C object"
    );
    let (status, code) = failure(
        "SSE-C key whose MD5 does not match",
        s3.put_object()
            .bucket(b)
            .key("bad-md5")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&keys.customer.b64)
            .sse_customer_key_md5(&other.md5)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidArgument"),
        "SSE-C key MD5 mismatch"
    );
    let short = STANDARD.encode([7u8; 16]);
    let (status, code) = failure(
        "SSE-C 16-byte key",
        s3.put_object()
            .bucket(b)
            .key("short-key")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&short)
            .sse_customer_key_md5(STANDARD.encode(Md5::digest([7u8; 16])))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidArgument"),
        "SSE-C key of the wrong length"
    );

    // Copy SSE-C -> SSE-C under a new key: only the new key opens the copy.
    let copied = s3
        .copy_object()
        .bucket(b)
        .key("c-rekeyed")
        .copy_source(format!("{b}/c-obj"))
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&keys.customer.b64)
        .copy_source_sse_customer_key_md5(&keys.customer.md5)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&other.b64)
        .sse_customer_key_md5(&other.md5)
        .send()
        .await
        .expect("SSE-C to SSE-C copy with a new key");
    assert_eq!(
        copied.sse_customer_key_md5(),
        Some(other.md5.as_str()),
        "copy echoes the new key's MD5"
    );
    let got = s3
        .get_object()
        .bucket(b)
        .key("c-rekeyed")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&other.b64)
        .sse_customer_key_md5(&other.md5)
        .send()
        .await
        .expect("the new key opens the rekeyed copy");
    assert_eq!(body(got).await, b"customer data", "rekeyed copy bytes");
    let (status, _) = failure(
        "old key on the rekeyed copy",
        with_customer!(s3.get_object().bucket(b).key("c-rekeyed"), Mode::SseC, keys)
            .send()
            .await,
    );
    assert_eq!(
        status, 403,
        "the old SSE-C key no longer opens the rekeyed copy"
    );
    let (status, code) = failure(
        "copy of an SSE-C source without the copy-source key",
        s3.copy_object()
            .bucket(b)
            .key("c-nokey")
            .copy_source(format!("{b}/c-obj"))
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidRequest"),
        "copying an SSE-C source needs its key"
    );
    let (status, code) = failure(
        "UploadPart of an SSE-C upload without the key",
        async {
            let up = with_sse!(
                s3.create_multipart_upload().bucket(b).key("c-mpu"),
                Mode::SseC,
                keys
            )
            .send()
            .await
            .unwrap();
            s3.upload_part()
                .bucket(b)
                .key("c-mpu")
                .upload_id(up.upload_id().unwrap())
                .part_number(1)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
        }
        .await,
    );
    assert_eq!(
        status, 400,
        "UploadPart to an SSE-C upload without the key ({code})"
    );

    // Over plain HTTP SSE-C is refused, while a plain request works there.
    let plain = server.s3_plain();
    plain
        .put_object()
        .bucket(b)
        .key("over-http")
        .body(ByteStream::from_static(b"http ok"))
        .send()
        .await
        .expect("a plain PUT over HTTP works");
    let (status, code) = failure(
        "SSE-C PUT over plain HTTP",
        with_sse!(
            plain
                .put_object()
                .bucket(b)
                .key("c-http")
                .body(ByteStream::from_static(b"x")),
            Mode::SseC,
            keys
        )
        .send()
        .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidRequest"),
        "SSE-C PUT over plain HTTP"
    );
    let (status, code) = failure(
        "SSE-C GET over plain HTTP",
        with_customer!(plain.get_object().bucket(b).key("c-obj"), Mode::SseC, keys)
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidRequest"),
        "SSE-C GET over plain HTTP"
    );
    let log = server.log();
    assert!(
        !log.contains(&keys.customer.b64) && !log.contains(&other.b64),
        "the server log must never contain an SSE-C key"
    );
}

#[tokio::test]
async fn disabled_kms_key_blocks_reads_and_writes() {
    let server = Server::start();
    let s3 = server.s3().await;
    let kms = server.kms().await;
    let keys = setup_keys(&server, "alias/disable-me").await;
    let b = "sse-disabled";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let mut c = Checks::default();
    put_in_mode(&mut c, &s3, b, "k", b"kms data", Mode::Kms, &keys).await;
    c.finish();

    kms.disable_key()
        .key_id(&keys.kms_key_id)
        .send()
        .await
        .expect("DisableKey");
    let (status, code) = failure(
        "GET with a disabled KMS key",
        s3.get_object().bucket(b).key("k").send().await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "KMS.DisabledException"),
        "GET of an object whose KMS key is disabled"
    );
    // HEAD reads no data, so S3 answers it without the KMS; with checksum mode it needs Decrypt.
    let head = s3
        .head_object()
        .bucket(b)
        .key("k")
        .send()
        .await
        .expect("HEAD of an SSE-KMS object whose key is disabled");
    assert_eq!(head.content_length(), Some(8), "HEAD size");
    assert_eq!(
        head.ssekms_key_id(),
        Some(keys.kms_arn.as_str()),
        "HEAD names the key"
    );
    let (status, _) = failure(
        "HEAD with checksum mode and a disabled KMS key",
        s3.head_object()
            .bucket(b)
            .key("k")
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await,
    );
    assert_eq!(status, 400, "HEAD with checksum mode needs the KMS key");
    let (status, code) = failure(
        "PUT with a disabled KMS key",
        with_sse!(
            s3.put_object()
                .bucket(b)
                .key("k2")
                .body(ByteStream::from_static(b"x")),
            Mode::Kms,
            keys
        )
        .send()
        .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "KMS.DisabledException"),
        "PUT under a disabled KMS key"
    );

    kms.enable_key()
        .key_id(&keys.kms_key_id)
        .send()
        .await
        .expect("EnableKey");
    let got = s3
        .get_object()
        .bucket(b)
        .key("k")
        .send()
        .await
        .expect("GET works after EnableKey");
    assert_eq!(body(got).await, b"kms data", "bytes after re-enabling");
    with_sse!(
        s3.put_object()
            .bucket(b)
            .key("k2")
            .body(ByteStream::from_static(b"x")),
        Mode::Kms,
        keys
    )
    .send()
    .await
    .expect("PUT works after EnableKey");
}

#[tokio::test]
async fn kms_encryption_context() {
    let server = Server::start();
    let s3 = server.s3().await;
    let keys = setup_keys(&server, "alias/ctx").await;
    let b = "sse-ctx";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let ctx = STANDARD.encode(br#"{"project":"sealgate","team":"storage"}"#);
    let put = with_sse!(
        s3.put_object()
            .bucket(b)
            .key("with-ctx")
            .body(ByteStream::from_static(b"ctx data")),
        Mode::Kms,
        keys
    )
    .ssekms_encryption_context(&ctx)
    .send()
    .await
    .expect("PUT with an encryption context");
    let echoed = put
        .ssekms_encryption_context()
        .expect("PutObject echoes the encryption context");
    let map: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&STANDARD.decode(echoed).expect("base64 context"))
            .expect("JSON context");
    assert_eq!(
        map.get("project").map(String::as_str),
        Some("sealgate"),
        "context keeps project"
    );
    assert_eq!(
        map.get("team").map(String::as_str),
        Some("storage"),
        "context keeps team"
    );
    assert_eq!(
        map.get("aws:s3:arn").map(String::as_str),
        Some(format!("arn:aws:s3:::{b}/with-ctx").as_str()),
        "context carries aws:s3:arn of the object"
    );
    let got = s3
        .get_object()
        .bucket(b)
        .key("with-ctx")
        .send()
        .await
        .expect("GET of an object with a context");
    assert_eq!(
        body(got).await,
        b"ctx data",
        "bytes of an object with a context"
    );

    for (what, bad) in [
        ("not base64", "%%%not-base64%%%".to_owned()),
        ("not JSON", STANDARD.encode(b"not json")),
        ("not a string map", STANDARD.encode(br#"{"n":1}"#)),
    ] {
        let (status, code) = failure(
            what,
            with_sse!(
                s3.put_object()
                    .bucket(b)
                    .key("bad-ctx")
                    .body(ByteStream::from_static(b"x")),
                Mode::Kms,
                keys
            )
            .ssekms_encryption_context(bad)
            .send()
            .await,
        );
        assert_eq!(
            (status, code.as_str()),
            (400, "InvalidArgument"),
            "malformed encryption context ({what})"
        );
    }
}

#[tokio::test]
async fn no_plaintext_or_customer_key_on_disk() {
    let server = Server::start();
    let s3 = server.s3().await;
    let keys = setup_keys(&server, "alias/at-rest").await;
    let b = "sse-at-rest";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let unit = random(48);
    let marker: Vec<u8> = unit.iter().copied().cycle().take(48 * 2000).collect();
    let mut c = Checks::default();
    for mode in MODES {
        let key = format!("marker-{}", mode_name(mode));
        put_in_mode(&mut c, &s3, b, &key, &marker, mode, &keys).await;
        read_back(&mut c, (&s3, b), &key, &marker, mode, &keys, None).await;
    }
    // A ranged part copy writes re-encrypted data too.
    let up = with_sse!(
        s3.create_multipart_upload().bucket(b).key("marker-upc"),
        Mode::SseC,
        keys
    )
    .send()
    .await
    .unwrap();
    let part = with_customer!(
        s3.upload_part_copy()
            .bucket(b)
            .key("marker-upc")
            .upload_id(up.upload_id().unwrap())
            .part_number(1)
            .copy_source(format!("{b}/marker-s3"))
            .copy_source_range("bytes=0-9999"),
        Mode::SseC,
        keys
    )
    .send()
    .await
    .unwrap();
    s3.complete_multipart_upload()
        .bucket(b)
        .key("marker-upc")
        .upload_id(up.upload_id().unwrap())
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.copy_part_result().unwrap().e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.finish();

    assert_eq!(
        common::find_bytes(&server.data_dir, &unit),
        None,
        "no file under the data dir may contain the plaintext marker"
    );
    assert_eq!(
        common::find_bytes(&server.data_dir, &keys.customer.raw),
        None,
        "no file may contain the raw SSE-C key"
    );
    assert_eq!(
        common::find_bytes(&server.data_dir, keys.customer.b64.as_bytes()),
        None,
        "no file may contain the base64 SSE-C key"
    );
}
