//! Client-side encryption through the real gateway: `sealgate cp --cse-kms/--cse-c` as a
//! subprocess, checked against the AWS SDK's view of the object (metadata names and values of
//! the S3 Encryption Client V3 layout, and V2 under `forbid-encrypt-allow-decrypt`), an
//! independent decryption written here from docs/CSE.md (KMS Decrypt via aws-sdk-kms, HKDF-SHA512
//! via hkdf, AES-GCM via aes-gcm), and the data dir (no plaintext).
mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_sdk_kms::primitives::Blob;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{ACCESS_KEY, REGION, SECRET_KEY, Server, find_bytes, random};

/// Runs `sealgate cp ARGS` against `server` with the usual AWS environment.
fn cp(server: &Server, args: &[&str]) -> Output {
    std::process::Command::new(common::bin())
        .arg("cp")
        .args(args)
        .env("AWS_ENDPOINT_URL", &server.s3_https)
        .env("AWS_ENDPOINT_URL_KMS", &server.kms_https)
        .env("AWS_CA_BUNDLE", &server.ca_path)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", REGION)
        .output()
        .expect("run sealgate cp")
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "sealgate cp failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "sealgate cp should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A plaintext that is easy to search for on disk.
fn plaintext() -> Vec<u8> {
    let mut p = b"CSE-PLAINTEXT-MARKER-0123456789abcdef-".repeat(2000);
    p.extend(random(100_000));
    p
}

fn gcm_open(key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(key).ok()?;
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
        .ok()
}

/// V3 content, from docs/CSE.md: HKDF-SHA512(salt = message id, ikm = data key), the commitment
/// checked, then AES-256-GCM under the derived key with twelve 0x01 bytes as IV and 0x0073 as AAD.
fn open_v3(
    data_key: &[u8],
    meta: &std::collections::HashMap<String, String>,
    body: &[u8],
) -> Option<Vec<u8>> {
    let message_id = B64.decode(&meta["x-amz-i"]).ok()?;
    let commitment = B64.decode(&meta["x-amz-d"]).ok()?;
    let hk = hkdf::Hkdf::<sha2::Sha512>::new(Some(&message_id), data_key);
    let mut content_key = [0u8; 32];
    let mut derived = [0u8; 28];
    hk.expand(b"\x00\x73DERIVEKEY", &mut content_key).ok()?;
    hk.expand(b"\x00\x73COMMITKEY", &mut derived).ok()?;
    assert_eq!(derived.as_slice(), commitment.as_slice(), "x-amz-d");
    gcm_open(&content_key, &[1u8; 12], &[0x00, 0x73], body)
}

/// Files in `dir` whose names start with `.`: leftovers of an interrupted download.
fn hidden_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect()
}

#[tokio::test]
async fn cse_kms_and_cse_c_round_trip_through_the_gateway() {
    let server = Server::start();
    let s3 = server.s3().await;
    let kms = server.kms().await;
    s3.create_bucket().bucket("cse").send().await.unwrap();
    let key = kms.create_key().send().await.unwrap();
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    kms.create_alias()
        .alias_name("alias/cse-test")
        .target_key_id(&key_id)
        .send()
        .await
        .unwrap();
    let other_key = kms.create_key().send().await.unwrap();
    let other_id = other_key.key_metadata().unwrap().key_id().to_owned();

    let work = tempfile::tempdir().unwrap();
    let plain = plaintext();
    let src = work.path().join("plain.bin");
    std::fs::write(&src, &plain).unwrap();
    let src_s = src.to_str().unwrap();

    // ---- CSE-KMS in V2 (forbid-encrypt-allow-decrypt): upload with the alias, download with
    // the ARN.
    let said = ok(&cp(
        &server,
        &[
            "--cse-kms",
            "alias/cse-test",
            "--cse-commitment-policy",
            "forbid-encrypt-allow-decrypt",
            src_s,
            "s3://cse/kms.bin",
        ],
    ));
    assert!(
        said.contains("CSE-KMS") && said.contains("format V2"),
        "{said}"
    );

    let raw = s3
        .get_object()
        .bucket("cse")
        .key("kms.bin")
        .send()
        .await
        .unwrap();
    let meta = raw.metadata().cloned().unwrap_or_default();
    let body = raw.body.collect().await.unwrap().into_bytes();
    assert_eq!(body.len(), plain.len() + 16, "GCM tag appended");
    assert!(
        !body.windows(38).any(|w| w == &plain[..38]),
        "the gateway returned plaintext"
    );
    assert_eq!(meta["x-amz-cek-alg"], "AES/GCM/NoPadding");
    assert_eq!(meta["x-amz-wrap-alg"], "kms+context");
    assert_eq!(meta["x-amz-tag-len"], "128");
    assert_eq!(
        meta["x-amz-unencrypted-content-length"],
        plain.len().to_string()
    );
    let matdesc: serde_json::Value = serde_json::from_str(&meta["x-amz-matdesc"]).unwrap();
    assert_eq!(
        matdesc,
        serde_json::json!({"aws:x-amz-cek-alg": "AES/GCM/NoPadding"})
    );
    let iv = B64.decode(&meta["x-amz-iv"]).unwrap();
    assert_eq!(iv.len(), 12);
    // Independent decryption: KMS Decrypt with the stored context, then AES-GCM.
    let blob = B64.decode(&meta["x-amz-key-v2"]).unwrap();
    let dk = kms
        .decrypt()
        .ciphertext_blob(Blob::new(blob))
        .encryption_context("aws:x-amz-cek-alg", "AES/GCM/NoPadding")
        .send()
        .await
        .unwrap();
    assert_eq!(dk.key_id(), Some(key_arn.as_str()));
    let cek = dk.plaintext().unwrap().as_ref().to_vec();
    assert_eq!(
        gcm_open(&cek, &iv, b"", &body).as_deref(),
        Some(plain.as_slice())
    );

    let out = work.path().join("kms.out");
    // The default policy reads only the key-committing V3 format.
    let err = failed(&cp(
        &server,
        &[
            "--cse-kms",
            &key_arn,
            "s3://cse/kms.bin",
            out.to_str().unwrap(),
        ],
    ));
    assert!(err.contains("no key commitment"), "{err}");
    assert!(!out.exists());
    ok(&cp(
        &server,
        &[
            "--cse-kms",
            &key_arn,
            "--cse-commitment-policy",
            "require-encrypt-allow-decrypt",
            "s3://cse/kms.bin",
            out.to_str().unwrap(),
        ],
    ));
    assert_eq!(std::fs::read(&out).unwrap(), plain);

    // ---- CSE-KMS in V3 (the default).
    let said = ok(&cp(
        &server,
        &["--cse-kms", "alias/cse-test", src_s, "s3://cse/kms3.bin"],
    ));
    assert!(said.contains("format V3"), "{said}");
    let raw = s3
        .get_object()
        .bucket("cse")
        .key("kms3.bin")
        .send()
        .await
        .unwrap();
    let meta = raw.metadata().cloned().unwrap_or_default();
    let body = raw.body.collect().await.unwrap().into_bytes();
    assert_eq!(body.len(), plain.len() + 16, "GCM tag appended");
    assert_eq!(meta["x-amz-c"], "115");
    assert_eq!(meta["x-amz-w"], "12");
    assert!(!meta.contains_key("x-amz-key-v2") && !meta.contains_key("x-amz-iv"));
    let context: serde_json::Value = serde_json::from_str(&meta["x-amz-t"]).unwrap();
    assert_eq!(context, serde_json::json!({"aws:x-amz-cek-alg": "115"}));
    let blob = B64.decode(&meta["x-amz-3"]).unwrap();
    let dk = kms
        .decrypt()
        .ciphertext_blob(Blob::new(blob))
        .encryption_context("aws:x-amz-cek-alg", "115")
        .send()
        .await
        .unwrap();
    assert_eq!(dk.key_id(), Some(key_arn.as_str()));
    let data_key = dk.plaintext().unwrap().as_ref().to_vec();
    assert_eq!(
        open_v3(&data_key, &meta, &body).as_deref(),
        Some(plain.as_slice())
    );
    let out3 = work.path().join("kms3.out");
    ok(&cp(
        &server,
        &[
            "--cse-kms",
            &key_id,
            "s3://cse/kms3.bin",
            out3.to_str().unwrap(),
        ],
    ));
    assert_eq!(std::fs::read(&out3).unwrap(), plain);

    // Wrong KMS key: Decrypt refuses, no output file is left.
    let wrong_out = work.path().join("kms-wrong.out");
    let err = failed(&cp(
        &server,
        &[
            "--cse-kms",
            &other_id,
            "s3://cse/kms3.bin",
            wrong_out.to_str().unwrap(),
        ],
    ));
    assert!(err.contains("IncorrectKeyException"), "{err}");
    assert!(!wrong_out.exists());
    // Without a CSE option the object is not silently written as ciphertext, in either format.
    for (object, format) in [("kms3.bin", "format V3"), ("kms.bin", "format V2")] {
        let err = failed(&cp(
            &server,
            &[&format!("s3://cse/{object}"), wrong_out.to_str().unwrap()],
        ));
        assert!(
            err.contains("client-side encrypted") && err.contains(format),
            "{err}"
        );
        assert!(!wrong_out.exists());
    }

    // ---- CSE-C: a hex key file.
    let keyfile = work.path().join("key.hex");
    let user_key = random(32);
    std::fs::write(&keyfile, format!("{}\n", hex::encode(&user_key))).unwrap();
    let keyfile_s = keyfile.to_str().unwrap();
    ok(&cp(
        &server,
        &["--cse-c", keyfile_s, src_s, "s3://cse/c.bin"],
    ));

    let raw = s3
        .get_object()
        .bucket("cse")
        .key("c.bin")
        .send()
        .await
        .unwrap();
    let meta = raw.metadata().cloned().unwrap_or_default();
    let body = raw.body.collect().await.unwrap().into_bytes();
    assert_eq!(meta["x-amz-w"], "02");
    assert_eq!(meta["x-amz-c"], "115");
    assert!(!meta.contains_key("x-amz-m") && !meta.contains_key("x-amz-t"));
    // Independent unwrap: nonce ‖ GCM(user key, aad = "AES/GCM/NoPadding")(data key).
    let wrapped = B64.decode(&meta["x-amz-3"]).unwrap();
    assert_eq!(wrapped.len(), 12 + 32 + 16);
    let data_key = gcm_open(
        &user_key,
        &wrapped[..12],
        b"AES/GCM/NoPadding",
        &wrapped[12..],
    )
    .unwrap();
    assert_eq!(
        open_v3(&data_key, &meta, &body).as_deref(),
        Some(plain.as_slice())
    );

    let out_dir = work.path().join("downloads");
    std::fs::create_dir(&out_dir).unwrap();
    ok(&cp(
        &server,
        &[
            "--cse-c",
            keyfile_s,
            "s3://cse/c.bin",
            out_dir.to_str().unwrap(),
        ],
    ));
    assert_eq!(std::fs::read(out_dir.join("c.bin")).unwrap(), plain);

    // Wrong key file: the CEK does not unwrap; nothing is written, not even a temp file.
    let wrong_key = work.path().join("wrong.key");
    std::fs::write(&wrong_key, random(32)).unwrap();
    let wrong_out = out_dir.join("c-wrong.bin");
    let err = failed(&cp(
        &server,
        &[
            "--cse-c",
            wrong_key.to_str().unwrap(),
            "s3://cse/c.bin",
            wrong_out.to_str().unwrap(),
        ],
    ));
    assert!(err.contains("does not open with this key"), "{err}");
    assert!(!wrong_out.exists());
    assert!(
        hidden_files(&out_dir).is_empty(),
        "{:?}",
        hidden_files(&out_dir)
    );
    // A CSE-KMS object asked for with a key file names the right option.
    let err = failed(&cp(
        &server,
        &[
            "--cse-c",
            keyfile_s,
            "s3://cse/kms.bin",
            wrong_out.to_str().unwrap(),
        ],
    ));
    assert!(err.contains("--cse-kms"), "{err}");

    // ---- The gateway never saw the plaintext: not in any file of its data dir.
    assert_eq!(find_bytes(&server.data_dir, &plain[..38]), None);
    assert_eq!(find_bytes(&server.data_dir, &plain[80_000..80_064]), None);
}

#[tokio::test]
async fn cse_refuses_files_over_the_limit_and_plain_cp_round_trips() {
    let server = Server::start();
    let s3 = server.s3().await;
    s3.create_bucket().bucket("plain").send().await.unwrap();
    let work = tempfile::tempdir().unwrap();
    // A sparse file just over 1 GiB: refused before anything is read or sent.
    let big = work.path().join("big.bin");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len((1 << 30) + 1).unwrap();
    let keyfile = work.path().join("k");
    std::fs::write(&keyfile, random(32)).unwrap();
    let err = failed(&cp(
        &server,
        &[
            "--cse-c",
            keyfile.to_str().unwrap(),
            big.to_str().unwrap(),
            "s3://plain/big",
        ],
    ));
    assert!(err.contains("client-side encryption limit"), "{err}");
    let listed = s3.list_objects_v2().bucket("plain").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));

    // Without CSE, cp is an ordinary upload/download (the gateway's SSE-S3 default applies).
    let src = work.path().join("small.txt");
    std::fs::write(&src, b"hello sealgate").unwrap();
    ok(&cp(&server, &[src.to_str().unwrap(), "s3://plain/dir/"]));
    let got = s3
        .get_object()
        .bucket("plain")
        .key("dir/small.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"hello sealgate"
    );
    let back = work.path().join("back.txt");
    ok(&cp(
        &server,
        &["s3://plain/dir/small.txt", back.to_str().unwrap()],
    ));
    assert_eq!(std::fs::read(&back).unwrap(), b"hello sealgate");
    // Over 8 MiB without CSE: a multipart upload in 8 MiB parts, read one part at a time.
    let big_plain = random((20 << 20) + 3);
    let big_src = work.path().join("big-plain.bin");
    std::fs::write(&big_src, &big_plain).unwrap();
    let said = ok(&cp(
        &server,
        &[big_src.to_str().unwrap(), "s3://plain/big-plain.bin"],
    ));
    assert!(said.contains("in 3 parts"), "{said}");
    let head = s3
        .head_object()
        .bucket("plain")
        .key("big-plain.bin")
        .send()
        .await
        .unwrap();
    assert!(
        head.e_tag().unwrap().ends_with("-3\""),
        "{:?}",
        head.e_tag()
    );
    assert_eq!(head.content_length(), Some(big_plain.len() as i64));
    let got = s3
        .get_object()
        .bucket("plain")
        .key("big-plain.bin")
        .send()
        .await
        .unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == big_plain.as_slice());
    let back_big = work.path().join("big-back.bin");
    ok(&cp(
        &server,
        &["s3://plain/big-plain.bin", back_big.to_str().unwrap()],
    ));
    assert!(std::fs::read(&back_big).unwrap() == big_plain);
    let uploads = s3
        .list_multipart_uploads()
        .bucket("plain")
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());
    // A multipart upload into a missing bucket fails with the gateway's answer.
    let err = failed(&cp(
        &server,
        &[big_src.to_str().unwrap(), "s3://no-such-bucket/x"],
    ));
    assert!(
        err.contains("CreateMultipartUpload") && err.contains("NoSuchBucket"),
        "{err}"
    );

    // A missing object is the gateway's 404 NoSuchKey, and no file appears.
    let missing = work.path().join("missing.txt");
    let err = failed(&cp(
        &server,
        &["s3://plain/nope", missing.to_str().unwrap()],
    ));
    assert!(err.contains("404 NoSuchKey"), "{err}");
    assert!(!missing.exists());
}
