//! SSE-KMS objects through the life of their KMS key, seen through S3: pending deletion refuses
//! reads, cancelling (then enabling) restores them, a deletion window that passes (on the KMS
//! test clock) makes them unreadable for good while their ciphertext stays on disk; and a key
//! rotated on demand still opens old objects while new ones are sealed under the new backing
//! material.
mod common;

use std::path::Path;

use aws_sdk_kms::Client as Kms;
use aws_sdk_s3::Client as S3;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Options, Server, advance_clock, failure};

const DAY: u64 = 24 * 3600;

async fn put_kms(s3: &S3, bucket: &str, key: &str, data: &[u8], kms_key: &str) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(data.to_vec()))
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(kms_key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {bucket}/{key}: {e:?}"));
}

async fn get(s3: &S3, bucket: &str, key: &str) -> Vec<u8> {
    s3.get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {bucket}/{key}: {e:?}"))
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes()
        .to_vec()
}

/// Every file under the bucket's ciphertext folder in the local store.
fn data_files(data_dir: &Path, bucket: &str) -> Vec<std::path::PathBuf> {
    common::all_files(&data_dir.join("objects").join("data").join(bucket))
}

/// The KMS blobs of the SSE-KMS objects of `bucket`, from their meta records on disk.
fn stored_blobs(data_dir: &Path, bucket: &str) -> Vec<Vec<u8>> {
    fn find(v: &serde_json::Value, out: &mut Vec<Vec<u8>>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    if k == "kms_blob" {
                        out.push(STANDARD.decode(v.as_str().unwrap()).unwrap());
                    } else {
                        find(v, out);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| find(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for f in common::all_files(&data_dir.join("objects").join("meta").join(bucket)) {
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        find(&json, &mut out);
    }
    out
}

/// The key material id a blob names (bytes 21..53 of the format in docs/KMS.md), as hex.
fn material_of(blob: &[u8]) -> String {
    assert_eq!(&blob[..4], b"SGKM");
    hex::encode(&blob[21..53])
}

async fn new_key(kms: &Kms) -> (String, String) {
    let meta = kms.create_key().send().await.unwrap();
    let meta = meta.key_metadata().unwrap();
    (meta.key_id().to_owned(), meta.arn().unwrap().to_owned())
}

#[tokio::test]
async fn deletion_window_through_s3() {
    let server = Server::start_with(Options {
        test_clock: true,
        ..Default::default()
    });
    let s3 = server.s3().await;
    let kms = server.kms().await;
    let (key_id, arn) = new_key(&kms).await;
    let b = "kms-deletion";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let data = common::random(300_000);
    put_kms(&s3, b, "doomed", &data, &arn).await;
    assert_eq!(get(&s3, b, "doomed").await, data);

    // Pending deletion: reads and writes refused with the KMS state error.
    kms.schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let (status, code) = failure(
        "GET while pending deletion",
        s3.get_object().bucket(b).key("doomed").send().await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "KMS.KMSInvalidStateException")
    );
    let (status, code) = failure(
        "PUT while pending deletion",
        s3.put_object()
            .bucket(b)
            .key("new")
            .body(ByteStream::from_static(b"x"))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&arn)
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "KMS.KMSInvalidStateException")
    );

    // Cancel: the key is Disabled (as in AWS) until enabled, then the object reads again.
    kms.cancel_key_deletion()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    let (status, code) = failure(
        "GET after cancel (key disabled)",
        s3.get_object().bucket(b).key("doomed").send().await,
    );
    assert_eq!((status, code.as_str()), (400, "KMS.DisabledException"));
    kms.enable_key().key_id(&key_id).send().await.unwrap();
    assert_eq!(get(&s3, b, "doomed").await, data);

    // Schedule again and let the window pass: the key is gone and so is the object, for good.
    kms.schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    advance_clock(&kms, 6 * DAY).await;
    let (_, code) = failure(
        "GET one day before the window ends",
        s3.get_object().bucket(b).key("doomed").send().await,
    );
    assert_eq!(code, "KMS.KMSInvalidStateException");
    advance_clock(&kms, 2 * DAY).await;
    let describe = kms.describe_key().key_id(&key_id).send().await;
    assert!(describe.is_err(), "the key is deleted: {describe:?}");
    for attempt in 0..2 {
        let (status, code) = failure(
            "GET after the deletion window",
            s3.get_object().bucket(b).key("doomed").send().await,
        );
        assert_eq!(
            (status, code.as_str()),
            (400, "KMS.NotFoundException"),
            "attempt {attempt}"
        );
        // HEAD reads no data and S3 asks the KMS nothing for it, unless checksums are asked for.
        s3.head_object()
            .bucket(b)
            .key("doomed")
            .send()
            .await
            .expect("HEAD needs no KMS call");
        let (status, code) = failure(
            "HEAD with checksum mode after the deletion window",
            s3.head_object()
                .bucket(b)
                .key("doomed")
                .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
                .send()
                .await,
        );
        assert_eq!(status, 400, "HEAD {code}");
    }
    // Writes under the deleted key fail too.
    let (status, code) = failure(
        "PUT under the deleted key",
        s3.put_object()
            .bucket(b)
            .key("new")
            .body(ByteStream::from_static(b"x"))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&arn)
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "KMS.NotFoundException"));

    // The object is still listed and its ciphertext is still on disk, just unreadable.
    let listed = s3.list_objects_v2().bucket(b).send().await.unwrap();
    assert_eq!(listed.contents().len(), 1);
    let files = data_files(&server.data_dir, b);
    let stored: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert!(
        stored >= data.len() as u64,
        "ciphertext ({stored} bytes in {} files) still on disk",
        files.len()
    );
    assert!(
        common::find_bytes(&server.data_dir, &data[1000..1064]).is_none(),
        "no plaintext on disk"
    );
}

#[tokio::test]
async fn rotation_through_s3() {
    let server = Server::start_with(Options {
        test_clock: true,
        ..Default::default()
    });
    let s3 = server.s3().await;
    let kms = server.kms().await;
    let (key_id, arn) = new_key(&kms).await;
    for b in ["rot-old", "rot-new", "rot-auto"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    let material = async |kms: &Kms| {
        kms.describe_key()
            .key_id(&key_id)
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .current_key_material_id()
            .unwrap()
            .to_owned()
    };
    let m1 = material(&kms).await;
    let old = common::random(5000);
    put_kms(&s3, "rot-old", "obj", &old, &arn).await;

    kms.rotate_key_on_demand()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    let m2 = material(&kms).await;
    assert_ne!(m1, m2, "on-demand rotation changes the current material");
    assert_eq!(
        get(&s3, "rot-old", "obj").await,
        old,
        "old object after rotation"
    );
    let new = common::random(5000);
    put_kms(&s3, "rot-new", "obj", &new, &arn).await;
    assert_eq!(get(&s3, "rot-new", "obj").await, new);

    // Automatic rotation (a year on the test clock) as well.
    kms.enable_key_rotation()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    advance_clock(&kms, 366 * DAY).await;
    let m3 = material(&kms).await;
    assert!(m3 != m2 && m3 != m1, "automatic rotation made new material");
    let auto = common::random(5000);
    put_kms(&s3, "rot-auto", "obj", &auto, &arn).await;
    for (b, want) in [("rot-old", &old), ("rot-new", &new), ("rot-auto", &auto)] {
        assert_eq!(&get(&s3, b, "obj").await, want, "{b} after all rotations");
    }

    // Each object's stored data key names the backing material current when it was written.
    for (b, m) in [("rot-old", &m1), ("rot-new", &m2), ("rot-auto", &m3)] {
        let blobs = stored_blobs(&server.data_dir, b);
        assert_eq!(blobs.len(), 1, "{b}");
        assert_eq!(&material_of(&blobs[0]), m, "{b}");
    }
}
