//! Whole-upload checksums on CompleteMultipartUpload, as an aws-sdk-s3 user sends them: a
//! FULL_OBJECT CRC computed directly over the whole plaintext, or a COMPOSITE `<base64>-N`
//! value. Accepted values are stored and returned on HEAD/GET with checksum mode; a wrong one
//! is refused with BadDigest and leaves no object behind.
mod common;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Server, failure, random};
use sha2::Digest as _;

const MIB: usize = 1024 * 1024;

/// Raw big-endian digest of `data`, computed with the crates directly (not the gateway's code).
fn digest(alg: &ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
    match alg {
        ChecksumAlgorithm::Crc32 => crc32fast::hash(data).to_be_bytes().to_vec(),
        ChecksumAlgorithm::Crc32C => crc32c::crc32c(data).to_be_bytes().to_vec(),
        ChecksumAlgorithm::Crc64Nvme => {
            let mut d = crc64fast_nvme::Digest::new();
            d.write(data);
            d.sum64().to_be_bytes().to_vec()
        }
        ChecksumAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
        other => panic!("no test digest for {other:?}"),
    }
}

fn b64(alg: &ChecksumAlgorithm, data: &[u8]) -> String {
    STANDARD.encode(digest(alg, data))
}

/// The value of `alg`'s checksum field, from anything with the SDK's checksum getters.
macro_rules! checksum_of {
    ($out:expr, $alg:expr) => {
        match $alg {
            ChecksumAlgorithm::Crc32 => $out.checksum_crc32(),
            ChecksumAlgorithm::Crc32C => $out.checksum_crc32_c(),
            ChecksumAlgorithm::Crc64Nvme => $out.checksum_crc64_nvme(),
            ChecksumAlgorithm::Sha256 => $out.checksum_sha256(),
            other => panic!("unexpected {other:?}"),
        }
        .map(str::to_owned)
    };
}

/// An open upload of `parts` with per-part checksums of `alg`, ready to complete.
struct Upload {
    id: String,
    parts: Vec<CompletedPart>,
}

async fn upload(
    s3: &Client,
    b: &str,
    key: &str,
    alg: &ChecksumAlgorithm,
    kind: ChecksumType,
    parts: &[&[u8]],
) -> Upload {
    let up = s3
        .create_multipart_upload()
        .bucket(b)
        .key(key)
        .checksum_algorithm(alg.clone())
        .checksum_type(kind)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateMultipartUpload {alg:?}: {e:?}"));
    let id = up.upload_id().unwrap().to_owned();
    let mut done = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let out = s3
            .upload_part()
            .bucket(b)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(alg.clone())
            .body(ByteStream::from(data.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("UploadPart {n} {alg:?}: {e:?}"));
        let sum = checksum_of!(out, alg).expect("UploadPart echoes the part checksum");
        assert_eq!(
            sum,
            b64(alg, data),
            "part {n} checksum is the part's {alg:?}"
        );
        let p = CompletedPart::builder()
            .part_number(n)
            .e_tag(out.e_tag().unwrap());
        let p = match alg {
            ChecksumAlgorithm::Crc32 => p.checksum_crc32(sum),
            ChecksumAlgorithm::Crc32C => p.checksum_crc32_c(sum),
            ChecksumAlgorithm::Crc64Nvme => p.checksum_crc64_nvme(sum),
            ChecksumAlgorithm::Sha256 => p.checksum_sha256(sum),
            other => panic!("unexpected {other:?}"),
        };
        done.push(p.build());
    }
    Upload { id, parts: done }
}

/// Completes `u` claiming `whole` as the object's `alg` checksum of type `kind`.
async fn complete(
    s3: &Client,
    b: &str,
    key: &str,
    u: &Upload,
    alg: &ChecksumAlgorithm,
    kind: ChecksumType,
    whole: &str,
) -> Result<
    aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput,
    aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadError,
        aws_sdk_s3::config::http::HttpResponse,
    >,
> {
    let req = s3
        .complete_multipart_upload()
        .bucket(b)
        .key(key)
        .upload_id(&u.id)
        .checksum_type(kind)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(u.parts.clone()))
                .build(),
        );
    let req = match alg {
        ChecksumAlgorithm::Crc32 => req.checksum_crc32(whole),
        ChecksumAlgorithm::Crc32C => req.checksum_crc32_c(whole),
        ChecksumAlgorithm::Crc64Nvme => req.checksum_crc64_nvme(whole),
        ChecksumAlgorithm::Sha256 => req.checksum_sha256(whole),
        other => panic!("unexpected {other:?}"),
    };
    req.send().await
}

/// HEAD with checksum mode: (`x-amz-checksum-<alg>`, `x-amz-checksum-type`).
async fn head_checksum(
    s3: &Client,
    b: &str,
    key: &str,
    alg: &ChecksumAlgorithm,
) -> (Option<String>, Option<ChecksumType>) {
    let h = s3
        .head_object()
        .bucket(b)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap_or_else(|e| panic!("HEAD {key}: {e:?}"));
    (checksum_of!(h, alg), h.checksum_type().cloned())
}

async fn get_bytes(s3: &Client, b: &str, key: &str) -> Vec<u8> {
    let out = s3
        .get_object()
        .bucket(b)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {key}: {e:?}"));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn full_object_crcs_computed_over_the_whole_plaintext_are_accepted() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "mpck-full";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let (p1, p2, p3) = (random(5 * MIB), random(5 * MIB + 17), random(1234));
    let whole = [p1.as_slice(), &p2, &p3].concat();
    for alg in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Crc64Nvme,
    ] {
        let key = format!("full-{}", alg.as_str());
        let kind = ChecksumType::FullObject;
        let u = upload(&s3, b, &key, &alg, kind.clone(), &[&p1, &p2, &p3]).await;
        let expected = b64(&alg, &whole);
        let done = complete(&s3, b, &key, &u, &alg, kind.clone(), &expected)
            .await
            .unwrap_or_else(|e| panic!("Complete with the direct {alg:?} of the object: {e:?}"));
        assert_eq!(
            checksum_of!(done, &alg).as_deref(),
            Some(expected.as_str()),
            "Complete returns the {alg:?} full-object checksum"
        );
        assert_eq!(done.checksum_type(), Some(&kind), "{alg:?}");
        assert_eq!(
            head_checksum(&s3, b, &key, &alg).await,
            (Some(expected.clone()), Some(kind)),
            "HEAD with checksum mode returns the stored {alg:?} value and FULL_OBJECT"
        );
        assert!(
            get_bytes(&s3, b, &key).await == whole,
            "{alg:?} object reads back byte for byte"
        );
    }
}

#[tokio::test]
async fn composite_values_with_part_count_are_accepted() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "mpck-comp";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let (p1, p2) = (random(5 * MIB), random(4321));
    for alg in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Sha256] {
        let key = format!("comp-{}", alg.as_str());
        let kind = ChecksumType::Composite;
        let u = upload(&s3, b, &key, &alg, kind.clone(), &[&p1, &p2]).await;
        let raws = [digest(&alg, &p1), digest(&alg, &p2)].concat();
        let expected = format!("{}-2", b64(&alg, &raws));
        let done = complete(&s3, b, &key, &u, &alg, kind.clone(), &expected)
            .await
            .unwrap_or_else(|e| panic!("Complete with composite {alg:?} {expected}: {e:?}"));
        assert_eq!(
            checksum_of!(done, &alg).as_deref(),
            Some(expected.as_str()),
            "Complete returns the composite {alg:?}"
        );
        assert_eq!(done.checksum_type(), Some(&kind));
        assert_eq!(
            head_checksum(&s3, b, &key, &alg).await,
            (Some(expected), Some(kind)),
            "HEAD with checksum mode returns the composite {alg:?} and COMPOSITE"
        );
        assert!(get_bytes(&s3, b, &key).await == [p1.as_slice(), &p2].concat());
    }
}

#[tokio::test]
async fn a_wrong_whole_upload_checksum_is_refused_and_changes_nothing() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "mpck-bad";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let (p1, p2) = (random(5 * MIB), random(100));
    let whole = [p1.as_slice(), &p2].concat();
    let cases = [
        // The CRC of other data.
        (
            ChecksumAlgorithm::Crc32,
            ChecksumType::FullObject,
            b64(&ChecksumAlgorithm::Crc32, &p1),
        ),
        (
            ChecksumAlgorithm::Crc64Nvme,
            ChecksumType::FullObject,
            b64(&ChecksumAlgorithm::Crc64Nvme, &p2),
        ),
        // The full-object value where a composite one is due.
        (
            ChecksumAlgorithm::Sha256,
            ChecksumType::Composite,
            format!("{}-2", b64(&ChecksumAlgorithm::Sha256, &whole)),
        ),
    ];
    for (alg, kind, wrong) in cases {
        let key = format!("bad-{}", alg.as_str());
        let u = upload(&s3, b, &key, &alg, kind.clone(), &[&p1, &p2]).await;
        let r = complete(&s3, b, &key, &u, &alg, kind.clone(), &wrong).await;
        assert_eq!(
            failure("Complete with a wrong checksum", r),
            (400, "BadDigest".to_owned()),
            "{alg:?} {wrong}"
        );
        let head = s3.head_object().bucket(b).key(&key).send().await;
        assert_eq!(
            failure("HEAD after a refused Complete", head).0,
            404,
            "no object after a refused {alg:?} Complete"
        );
        let parts = s3
            .list_parts()
            .bucket(b)
            .key(&key)
            .upload_id(&u.id)
            .send()
            .await
            .expect("the upload is still open after a refused Complete");
        assert_eq!(parts.parts().len(), 2);
        // The right value then completes the same upload.
        let right = match kind {
            ChecksumType::Composite => format!(
                "{}-2",
                b64(&alg, &[digest(&alg, &p1), digest(&alg, &p2)].concat())
            ),
            _ => b64(&alg, &whole),
        };
        complete(&s3, b, &key, &u, &alg, kind, &right)
            .await
            .unwrap_or_else(|e| panic!("Complete with the right {alg:?}: {e:?}"));
        assert!(get_bytes(&s3, b, &key).await == whole);
    }
}
