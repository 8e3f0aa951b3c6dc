//! `sealgate inspect`: objects in every mode are written through aws-sdk-s3, then the real
//! binary inspects them (s3:// form, meta record path, blob path; text and JSON). The fields
//! must match what was written, and no key material may appear: not the SSE-C key (raw, hex
//! or base64), not the KMS data keys (fetched here with KMS Decrypt), not the plaintext.
mod common;

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::inspect::{inspect, inspect_json, inspect_with};
use common::{Server, all_files, random};
use md5::{Digest, Md5};
use serde_json::Value;

const BUCKET: &str = "inspected";
const MIB: usize = 1024 * 1024;

/// Fails if `secret` appears in `text` raw (as UTF-8), hex (either case) or base64.
fn assert_absent(text: &str, secret: &[u8], what: &str) {
    let forms = [
        hex::encode(secret),
        hex::encode_upper(secret),
        STANDARD.encode(secret),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
    ];
    for f in forms {
        assert!(!text.contains(&f), "{what} appears in the output:\n{text}");
    }
    if let Ok(s) = std::str::from_utf8(secret) {
        assert!(!text.contains(s), "{what} appears in the output:\n{text}");
    }
}

/// The meta record file of `key` (found by its `sealgate-meta/1` JSON naming this key's parts).
fn meta_record_of(data_dir: &Path, key: &str) -> std::path::PathBuf {
    let hex_key = hex::encode(key.as_bytes());
    all_files(data_dir)
        .into_iter()
        .find(|p| {
            let s = p.to_string_lossy();
            s.contains(&format!("/meta/{BUCKET}/")) && s.ends_with(&format!("{hex_key}-"))
        })
        .unwrap_or_else(|| panic!("no meta record for {key}"))
}

/// The plaintext KMS data key of an SSE-KMS object, via KMS Decrypt of its stored blob.
async fn data_key_of(server: &Server, key: &str) -> Vec<u8> {
    let rec: Value =
        serde_json::from_slice(&std::fs::read(meta_record_of(&server.data_dir, key)).unwrap())
            .unwrap();
    let sealing = &rec["sealing"];
    let blob = STANDARD
        .decode(sealing["kms_blob"].as_str().expect("kms_blob"))
        .unwrap();
    let mut req = server
        .kms()
        .await
        .decrypt()
        .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(blob));
    for (k, v) in sealing["context"].as_object().unwrap() {
        req = req.encryption_context(k, v.as_str().unwrap());
    }
    let dk = req
        .send()
        .await
        .expect("KMS Decrypt of the stored data key");
    let plain = dk.plaintext().unwrap().as_ref().to_vec();
    assert_eq!(plain.len(), 32);
    plain
}

#[tokio::test]
async fn inspect_shows_every_mode_and_no_key_material() {
    let server = Server::start();
    let s3 = server.s3().await;
    let kms = server.kms().await;
    let key = kms.create_key().send().await.expect("CreateKey");
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();

    let secret_text = b"TOP-SECRET-PLAINTEXT-that-must-never-be-printed-by-inspect".repeat(100);
    let customer = random(32);
    let (c_b64, c_md5) = (
        STANDARD.encode(&customer),
        STANDARD.encode(Md5::digest(&customer)),
    );
    let put = |k: &str, body: Vec<u8>| {
        s3.put_object()
            .bucket(BUCKET)
            .key(k)
            .body(ByteStream::from(body))
    };
    put("s3-obj", secret_text.clone())
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    let context = STANDARD.encode(r#"{"team":"blue"}"#);
    put("dir/kms-obj", secret_text.clone())
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_arn)
        .ssekms_encryption_context(&context)
        .send()
        .await
        .unwrap();
    put("bk-obj", secret_text.clone())
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_arn)
        .bucket_key_enabled(true)
        .send()
        .await
        .unwrap();
    put("ssec-obj", secret_text.clone())
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&c_b64)
        .sse_customer_key_md5(&c_md5)
        .send()
        .await
        .unwrap();

    // Multipart (SSE-KMS with our key, so the test may Decrypt its data key), parts of 5 MiB
    // and 100 KiB.
    let (p1, p2) = (random(5 * MIB), random(100 * 1024));
    let mpu = s3
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("mp-obj")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_arn)
        .send()
        .await
        .unwrap();
    let uid = mpu.upload_id().unwrap();
    let mut done = Vec::new();
    for (n, data) in [(1, &p1), (2, &p2)] {
        let r = s3
            .upload_part()
            .bucket(BUCKET)
            .key("mp-obj")
            .upload_id(uid)
            .part_number(n)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(r.e_tag().unwrap())
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket(BUCKET)
        .key("mp-obj")
        .upload_id(uid)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();

    let len = secret_text.len() as u64;
    let stored_single = len + 16; // one 64 KiB segment holds 5.9 KB

    // SSE-S3
    let j = inspect_json(&server, &format!("s3://{BUCKET}/s3-obj"));
    assert_eq!(j["mode"], "SSE-S3");
    assert_eq!(
        j["version_id"], "null",
        "an unversioned bucket's object is the null version"
    );
    assert!(j["key"]["sse_s3_master_version"].is_u64(), "{j}");
    assert!(j["key"].get("kms_key_arn").is_none());
    assert_eq!(j["plaintext_size"], len);
    assert_eq!(j["stored_size"], stored_single);
    assert_eq!(j["parts"].as_array().unwrap().len(), 1);
    assert_eq!(j["parts"][0]["blob_size"], stored_single);
    assert_eq!(j["envelope"]["segment_size"], 65536);
    assert_eq!(
        j["etag"].as_str().unwrap(),
        format!("\"{}\"", common::md5_hex(&secret_text))
    );

    // SSE-KMS with an encryption context
    let j = inspect_json(&server, &format!("s3://{BUCKET}/dir/kms-obj"));
    assert_eq!(j["mode"], "SSE-KMS");
    assert_eq!(j["key"]["kms_key_arn"], key_arn.as_str());
    assert_eq!(
        j["key"]["kms_key_id"].as_str().unwrap(),
        key_arn.rsplit('/').next().unwrap()
    );
    assert_eq!(
        j["key"]["kms_key_material_id"].as_str().unwrap().len(),
        64,
        "{j}"
    );
    assert_eq!(j["key"]["encryption_context"]["team"], "blue");
    assert_eq!(
        j["key"]["encryption_context"]["aws:s3:arn"],
        format!("arn:aws:s3:::{BUCKET}/dir/kms-obj")
    );
    assert_eq!(j["key"]["bucket_key"], false);
    assert!(
        j["key"]["wrapped_data_key"]
            .as_str()
            .unwrap()
            .contains("bytes")
    );
    assert_eq!(j["object"], format!("s3://{BUCKET}/dir/kms-obj"));

    // SSE-KMS with a bucket key: the context names the bucket
    let j = inspect_json(&server, &format!("s3://{BUCKET}/bk-obj"));
    assert_eq!(j["key"]["bucket_key"], true);
    assert_eq!(
        j["key"]["encryption_context"]["aws:s3:arn"],
        format!("arn:aws:s3:::{BUCKET}")
    );

    // SSE-C: the key's MD5 only
    let j = inspect_json(&server, &format!("s3://{BUCKET}/ssec-obj"));
    assert_eq!(j["mode"], "SSE-C");
    assert_eq!(j["key"]["sse_c_key_md5"], c_md5.as_str());

    // Multipart: two parts, sizes, segments, blobs
    let j = inspect_json(&server, &format!("s3://{BUCKET}/mp-obj"));
    assert_eq!(j["mode"], "SSE-KMS");
    assert_eq!(j["key"]["kms_key_arn"], key_arn.as_str());
    let parts = j["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["plaintext_size"], 5 * MIB as u64);
    assert_eq!(parts[0]["segments"], 80);
    assert_eq!(parts[0]["stored_size"], 5 * MIB as u64 + 80 * 16);
    assert_eq!(parts[0]["blob_size"], parts[0]["stored_size"]);
    assert_eq!(parts[1]["plaintext_size"], 100 * 1024);
    assert_eq!(parts[1]["segments"], 2);
    assert_ne!(parts[0]["blob"], parts[1]["blob"]);
    assert_ne!(parts[0]["nonce_prefix"], parts[1]["nonce_prefix"]);
    assert_eq!(j["plaintext_size"], (5 * MIB + 100 * 1024) as u64);
    assert!(j["etag"].as_str().unwrap().ends_with("-2\""), "{j}");

    // Text form: the same facts for people.
    let (code, text, err) = inspect(&server, &format!("s3://{BUCKET}/dir/kms-obj"), false);
    assert_eq!(code, 0, "{err}");
    for needle in [
        "mode                 SSE-KMS",
        &format!("KMS key ARN          {key_arn}"),
        "\"team\":\"blue\"",
        "bucket key           disabled",
        "segment size         65536 bytes",
        &format!("plaintext size       {len} bytes"),
        "parts (1):",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }

    // Path forms: the meta record file and a blob file.
    let record = meta_record_of(&server.data_dir, "ssec-obj");
    let j = inspect_json(&server, record.to_str().unwrap());
    assert_eq!(j["object"], format!("s3://{BUCKET}/ssec-obj"));
    assert_eq!(j["mode"], "SSE-C");
    let mp = inspect_json(&server, &format!("s3://{BUCKET}/mp-obj"));
    let blob_file = all_files(&server.data_dir)
        .into_iter()
        .find(|p| {
            p.to_string_lossy()
                .contains(mp["generation"].as_str().unwrap())
                && p.file_name().unwrap() == mp["parts"][1]["blob"].as_str().unwrap()
        })
        .expect("blob of part 2");
    let j = inspect_json(&server, blob_file.to_str().unwrap());
    assert_eq!(j["object"], format!("s3://{BUCKET}/mp-obj"));
    assert_eq!(j["blob"]["blob"], mp["parts"][1]["blob"]);
    assert_eq!(j["blob"]["size"], mp["parts"][1]["stored_size"]);

    // Missing objects and foreign paths are clear errors.
    let (code, _, err) = inspect(&server, &format!("s3://{BUCKET}/nope"), false);
    assert_eq!(code, 1);
    assert!(err.contains("no object"), "{err}");
    let (code, _, err) = inspect(&server, "/etc/hostname", false);
    assert_eq!(code, 2, "{err}");

    // No key material anywhere in any output.
    let mut all_output = String::new();
    for k in ["s3-obj", "dir/kms-obj", "bk-obj", "ssec-obj", "mp-obj"] {
        for json in [false, true] {
            let (code, out, err) = inspect(&server, &format!("s3://{BUCKET}/{k}"), json);
            assert_eq!(code, 0, "{err}");
            all_output.push_str(&out);
            all_output.push_str(&err);
        }
    }
    all_output.push_str(&inspect(&server, record.to_str().unwrap(), false).1);
    all_output.push_str(&inspect(&server, blob_file.to_str().unwrap(), false).1);
    assert_absent(&all_output, &customer, "the SSE-C key");
    assert_absent(&all_output, c_b64.as_bytes(), "the SSE-C key's base64");
    assert_absent(&all_output, &secret_text[..40], "the plaintext");
    assert_absent(&all_output, &p2[..32], "multipart plaintext");
    for k in ["dir/kms-obj", "bk-obj", "mp-obj"] {
        let dk = data_key_of(&server, k).await;
        assert_absent(&all_output, &dk, &format!("the data key of {k}"));
    }
    // Nor the wrapped data key or the sealed object key in full.
    for k in ["dir/kms-obj", "s3-obj", "ssec-obj"] {
        let rec: Value =
            serde_json::from_slice(&std::fs::read(meta_record_of(&server.data_dir, k)).unwrap())
                .unwrap();
        let sealing = &rec["sealing"];
        for field in [&sealing["kms_blob"], &sealing["sealed"]["ciphertext"]] {
            if let Some(b64) = field.as_str() {
                assert!(!all_output.contains(b64), "a wrapped key of {k} is printed");
                assert_absent(&all_output, &STANDARD.decode(b64).unwrap(), "a wrapped key");
            }
        }
    }
}

/// Versions: inspect lists every version of a key (id, latest, marker, mode, wrapped-key
/// fingerprint, size, time) and reports on one with `--version-id`; the fingerprints are those
/// of the records on disk, and differ between versions.
#[tokio::test]
async fn inspect_lists_versions_and_picks_one() {
    use aws_sdk_s3::types::BucketVersioningStatus;
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "inspect-versions";
    s3.create_bucket().bucket(b).send().await.unwrap();
    common::set_versioning(&s3, b, BucketVersioningStatus::Enabled).await;
    let (d1, d2) = (random(3000), random(70_000));
    let mut ids = Vec::new();
    for (data, sse) in [
        (&d1, ServerSideEncryption::Aes256),
        (&d2, ServerSideEncryption::AwsKms),
    ] {
        let put = s3
            .put_object()
            .bucket(b)
            .key("doc")
            .server_side_encryption(sse)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        ids.push(put.version_id().unwrap().to_owned());
    }
    let marker = s3
        .delete_object()
        .bucket(b)
        .key("doc")
        .send()
        .await
        .unwrap();
    let marker = marker.version_id().unwrap().to_owned();
    let on_disk = common::wrapped_key_fingerprints(&server.data_dir, b);
    let (f1, f2) = (&on_disk[&ids[0]], &on_disk[&ids[1]]);
    assert_ne!(f1, f2, "each version has its own wrapped key");

    // The current version is a delete marker: nothing to report on, but the versions show.
    let target = format!("s3://{b}/doc");
    let (code, _, err) = inspect(&server, &target, false);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("delete marker") && err.contains("versions (3)"),
        "{err}"
    );
    assert!(
        err.contains(f1.as_str()) && err.contains(f2.as_str()),
        "{err}"
    );

    for (id, mode, fp, size) in [
        (&ids[0], "SSE-S3", f1, 3000),
        (&ids[1], "SSE-KMS", f2, 70_000),
    ] {
        let (code, out, err) = inspect_with(&server, &target, true, &["--version-id", id]);
        assert_eq!(code, 0, "{err}");
        let j: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(j["version_id"], id.as_str());
        assert_eq!(j["mode"], mode);
        assert_eq!(j["wrapped_key_fingerprint"], fp.as_str());
        assert_eq!(j["plaintext_size"], size);
        assert!(j["meta_record"].as_str().unwrap().contains("/versions/"));
        let rows: Vec<(&str, bool, bool, Value, Value, Value)> = j["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["version_id"].as_str().unwrap(),
                    r["is_latest"].as_bool().unwrap(),
                    r["delete_marker"].as_bool().unwrap(),
                    r["mode"].clone(),
                    r["wrapped_key_fingerprint"].clone(),
                    r["size"].clone(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    marker.as_str(),
                    true,
                    true,
                    Value::Null,
                    Value::Null,
                    Value::Null
                ),
                (
                    ids[1].as_str(),
                    false,
                    false,
                    "SSE-KMS".into(),
                    f2.as_str().into(),
                    70_000.into()
                ),
                (
                    ids[0].as_str(),
                    false,
                    false,
                    "SSE-S3".into(),
                    f1.as_str().into(),
                    3000.into()
                ),
            ]
        );
        assert!(
            j["versions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["last_modified"].is_string())
        );
        assert_absent(&out, &d1[..32], "the plaintext of version 1");
        assert_absent(&out, &d2[..32], "the plaintext of version 2");
    }
    let (code, out, _) = inspect_with(&server, &target, false, &["--version-id", &ids[0]]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("wrapped key ") && l.ends_with(f1.as_str())),
        "{out}"
    );
    assert!(out.contains("versions (3):"), "{out}");
    let (code, _, err) = inspect_with(&server, &target, false, &["--version-id", &marker]);
    assert_eq!(code, 1);
    assert!(err.contains("is a delete marker"), "{err}");
    let (code, _, err) = inspect_with(&server, &target, false, &["--version-id", "null"]);
    assert_eq!(code, 1);
    assert!(err.contains("no object"), "{err}");
}
