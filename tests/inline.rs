//! Small objects inline in their meta record (docs/STORAGE.md "Inline objects"): a single-part
//! object of at most `inline_max_bytes` keeps its sealed bytes in the record, so a PUT writes
//! one file and no data directory. Driven through aws-sdk-s3 against the real binary; the
//! assertions look at what a user (or an operator) can see: bytes, headers, errors, files.
mod common;
mod moto;

use std::path::{Path, PathBuf};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::inspect::{inspect, inspect_json};
use common::sse::{MODES, Mode, customer_key};
use common::{Options, Server, all_files, failure, find_bytes, meta_path, random};
use serde_json::Value;

const BUCKET: &str = "inlined";
const LIMIT: usize = 16 * 1024;

async fn put(s3: &Client, key: &str, mode: Mode, data: &[u8]) {
    mode.put(
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from(data.to_vec())),
    )
    .send()
    .await
    .unwrap_or_else(|e| panic!("PUT {key}: {e:?}"));
}

/// GET of `key` (bytes `range` when given): `Ok(bytes)` or `Err((status, code))`.
async fn get(
    s3: &Client,
    key: &str,
    mode: Mode,
    range: Option<&str>,
) -> Result<Vec<u8>, (u16, String)> {
    let mut g = mode.get(s3.get_object().bucket(BUCKET).key(key));
    if let Some(r) = range {
        g = g.range(r);
    }
    match g.send().await {
        Ok(o) => match o.body.collect().await {
            Ok(b) => Ok(b.into_bytes().to_vec()),
            Err(e) => Err((0, format!("body: {e}"))),
        },
        Err(e) => Err(failure("GET", Err::<(), _>(e))),
    }
}

/// Files under the bucket's data folder (`data/<bucket>/<generation>/<blob>`).
fn blob_files(data_dir: &Path) -> Vec<PathBuf> {
    all_files(data_dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&format!("/data/{BUCKET}/")))
        .collect()
}

fn record(data_dir: &Path, key: &str) -> Value {
    serde_json::from_slice(&std::fs::read(meta_path(data_dir, BUCKET, key)).unwrap()).unwrap()
}

/// The sealed bytes of `key`'s only part, when they are inline.
fn inline_bytes(data_dir: &Path, key: &str) -> Option<Vec<u8>> {
    let r = record(data_dir, key);
    r["parts"][0]["inline"]
        .as_str()
        .map(|b| STANDARD.decode(b).unwrap())
}

async fn started(opts: Options) -> (Server, Client) {
    let server = Server::start_with(opts);
    let s3 = server.s3().await;
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    (server, s3)
}

#[tokio::test]
async fn small_objects_live_in_their_record_in_every_mode() {
    let (server, s3) = started(Options::default()).await;
    for mode in MODES {
        let key = format!("small-{mode:?}");
        let data = random(4096);
        put(&s3, &key, mode, &data).await;

        assert_eq!(get(&s3, &key, mode, None).await.unwrap(), data, "{mode:?}");
        assert_eq!(
            get(&s3, &key, mode, Some("bytes=1000-2999")).await.unwrap(),
            &data[1000..3000],
            "{mode:?} range"
        );
        assert_eq!(
            get(&s3, &key, mode, Some("bytes=-10")).await.unwrap(),
            &data[4086..],
            "{mode:?} suffix range"
        );
        let (k, md5) = customer_key();
        let mut h = s3.head_object().bucket(BUCKET).key(&key);
        if let Mode::SseC = mode {
            h = h
                .sse_customer_algorithm("AES256")
                .sse_customer_key(k)
                .sse_customer_key_md5(md5);
        }
        let head = h.send().await.unwrap();
        assert_eq!(head.content_length(), Some(4096), "{mode:?}");
        if let Mode::SseS3 = mode {
            assert_eq!(
                head.e_tag(),
                Some(format!("\"{}\"", common::md5_hex(&data)).as_str())
            );
        }

        // Sealed exactly as a blob would be: 4096 bytes in one 64 KiB segment + its tag.
        let sealed = inline_bytes(&server.data_dir, &key).expect("part is inline");
        assert_eq!(sealed.len(), 4096 + 16, "{mode:?}");
        assert_eq!(record(&server.data_dir, &key)["parts"][0]["blob"], "");
        assert!(
            find_bytes(&server.data_dir, &data[2000..2032]).is_none(),
            "{mode:?}: plaintext on disk"
        );
    }
    assert_eq!(blob_files(&server.data_dir), Vec::<PathBuf>::new());
    assert!(
        !server.data_dir.join("objects/data").join(BUCKET).exists(),
        "a data directory was created for inline objects"
    );
}

/// One flipped byte of an inline part fails its GET the way a flipped byte of a blob does:
/// an error, never data.
#[tokio::test]
async fn a_tampered_inline_part_fails_like_a_tampered_blob() {
    let (server, s3) = started(Options::default()).await;
    for mode in MODES {
        let small = format!("small-{mode:?}");
        let large = format!("large-{mode:?}");
        put(&s3, &small, mode, &random(4096)).await;
        put(&s3, &large, mode, &random(LIMIT + 1)).await;

        let path = meta_path(&server.data_dir, BUCKET, &small);
        let mut r = record(&server.data_dir, &small);
        let mut sealed = inline_bytes(&server.data_dir, &small).unwrap();
        sealed[100] ^= 0x01;
        r["parts"][0]["inline"] = Value::String(STANDARD.encode(&sealed));
        std::fs::write(&path, serde_json::to_vec(&r).unwrap()).unwrap();

        let blob = blob_files(&server.data_dir)
            .into_iter()
            .find(|p| {
                let g = record(&server.data_dir, &large)["generation"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                p.to_string_lossy().contains(&g)
            })
            .expect("the large object has a blob");
        let mut bytes = std::fs::read(&blob).unwrap();
        bytes[100] ^= 0x01;
        std::fs::write(&blob, bytes).unwrap();

        let inline_err = get(&s3, &small, mode, None).await.unwrap_err();
        let blob_err = get(&s3, &large, mode, None).await.unwrap_err();
        assert_eq!(inline_err, (500, "InternalError".to_owned()), "{mode:?}");
        assert_eq!(inline_err, blob_err, "{mode:?}");
        assert_eq!(
            get(&s3, &small, mode, Some("bytes=0-9")).await.unwrap_err(),
            blob_err,
            "{mode:?} range"
        );
    }
}

#[tokio::test]
async fn the_limit_decides_and_zero_turns_inlining_off() {
    let (server, s3) = started(Options::default()).await;
    let at = random(LIMIT);
    let over = random(LIMIT + 1);
    put(&s3, "at-limit", Mode::SseS3, &at).await;
    assert!(inline_bytes(&server.data_dir, "at-limit").is_some());
    assert_eq!(blob_files(&server.data_dir), Vec::<PathBuf>::new());
    put(&s3, "over-limit", Mode::SseS3, &over).await;
    assert!(inline_bytes(&server.data_dir, "over-limit").is_none());
    let blobs = blob_files(&server.data_dir);
    assert_eq!(blobs.len(), 1);
    assert_eq!(
        std::fs::metadata(&blobs[0]).unwrap().len(),
        (LIMIT + 1 + 16) as u64,
        "one segment of 16385 bytes and its tag"
    );
    assert_eq!(get(&s3, "at-limit", Mode::SseS3, None).await.unwrap(), at);
    assert_eq!(
        get(&s3, "over-limit", Mode::SseS3, None).await.unwrap(),
        over
    );

    let (off, s3_off) = started(Options {
        config_toml: Some("inline_max_bytes = 0\n".into()),
        ..Default::default()
    })
    .await;
    let data = random(4096);
    put(&s3_off, "small", Mode::SseS3, &data).await;
    put(&s3_off, "empty", Mode::SseS3, b"").await;
    assert!(inline_bytes(&off.data_dir, "small").is_none());
    assert!(inline_bytes(&off.data_dir, "empty").is_none());
    assert_eq!(blob_files(&off.data_dir).len(), 2);
    assert_eq!(
        get(&s3_off, "small", Mode::SseS3, None).await.unwrap(),
        data
    );
}

/// Copy, overwrite, delete and multipart around inline objects: nothing is left behind, nothing
/// fails for the blob an inline object does not have, and multipart parts are never inline.
#[tokio::test]
async fn copies_deletes_and_multipart_handle_inline_objects() {
    let (server, s3) = started(Options::default()).await;
    let data = random(3000);
    put(&s3, "src", Mode::SseKms, &data).await;
    put(&s3, "empty", Mode::SseS3, b"").await;
    assert_eq!(inline_bytes(&server.data_dir, "empty").unwrap().len(), 16);
    assert_eq!(get(&s3, "empty", Mode::SseS3, None).await.unwrap(), b"");

    s3.copy_object()
        .bucket(BUCKET)
        .key("copy")
        .copy_source(format!("{BUCKET}/src"))
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(get(&s3, "copy", Mode::SseS3, None).await.unwrap(), data);
    assert!(inline_bytes(&server.data_dir, "copy").is_some());
    // UploadPartCopy of a range of an inline source: a multipart part, stored as a blob.
    let up = s3
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("mpu")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = s3
        .upload_part_copy()
        .bucket(BUCKET)
        .key("mpu")
        .upload_id(id)
        .part_number(1)
        .copy_source(format!("{BUCKET}/src"))
        .copy_source_range("bytes=10-1009")
        .send()
        .await
        .unwrap();
    s3.complete_multipart_upload()
        .bucket(BUCKET)
        .key("mpu")
        .upload_id(id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.copy_part_result().unwrap().e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        get(&s3, "mpu", Mode::SseS3, None).await.unwrap(),
        &data[10..1010]
    );
    assert!(inline_bytes(&server.data_dir, "mpu").is_none());
    assert_eq!(
        blob_files(&server.data_dir).len(),
        1,
        "only the multipart part"
    );

    // Overwrite inline with inline, then delete: no retire marker, no error, record gone.
    put(&s3, "copy", Mode::SseS3, b"newer").await;
    assert_eq!(get(&s3, "copy", Mode::SseS3, None).await.unwrap(), b"newer");
    for key in ["src", "copy", "empty"] {
        s3.delete_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            get(&s3, key, Mode::SseS3, None).await.unwrap_err(),
            (404, "NoSuchKey".to_owned())
        );
    }
    let retired: Vec<PathBuf> = all_files(&server.data_dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/retired/"))
        .collect();
    assert_eq!(
        retired,
        Vec::<PathBuf>::new(),
        "inline versions have no data to retire"
    );
    assert!(!server.log().contains("ERROR"), "{}", server.log());
}

/// A tag change re-signs the record with the inline bytes unchanged; the object still reads.
#[tokio::test]
async fn tag_changes_keep_inline_bytes() {
    let (server, s3) = started(Options::default()).await;
    for mode in MODES {
        let key = format!("tagged-{mode:?}");
        let data = random(5000);
        put(&s3, &key, mode, &data).await;
        let before = inline_bytes(&server.data_dir, &key).unwrap();
        let mac = record(&server.data_dir, &key)["mac"].clone();
        s3.put_object_tagging()
            .bucket(BUCKET)
            .key(&key)
            .tagging(
                aws_sdk_s3::types::Tagging::builder()
                    .tag_set(
                        aws_sdk_s3::types::Tag::builder()
                            .key("stage")
                            .value("prod")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let r = record(&server.data_dir, &key);
        assert_eq!(r["tags"]["stage"], "prod", "{mode:?}");
        assert_ne!(r["mac"], mac, "{mode:?}: re-signed");
        assert_eq!(inline_bytes(&server.data_dir, &key).unwrap(), before);
        assert_eq!(get(&s3, &key, mode, None).await.unwrap(), data, "{mode:?}");
    }
    assert_eq!(blob_files(&server.data_dir), Vec::<PathBuf>::new());
}

/// `sealgate inspect` says where an inline part's bytes are and how many there are.
#[tokio::test]
async fn inspect_reports_inline_parts() {
    let (server, s3) = started(Options::default()).await;
    put(&s3, "small", Mode::SseS3, &random(100)).await;
    let j = inspect_json(&server, &format!("s3://{BUCKET}/small"));
    let part = &j["parts"][0];
    assert_eq!(part["inline"], true, "{j}");
    assert_eq!(part["blob"], "inline");
    assert_eq!(part["blob_size"], 116);
    assert_eq!(part["stored_size"], 116);
    let (code, text, err) = inspect(&server, &format!("s3://{BUCKET}/small"), false);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("inline (in the meta record)"), "{text}");
}

/// Over an S3 backend (moto) an inline object is one backend object, its record: no data key is
/// written for it, it reads back whole and in ranges, and its delete leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_objects_over_an_s3_backend() {
    let Some(moto) = moto::Moto::start() else {
        return;
    };
    let backend = moto.bucket("inline").await;
    let (_gw, s3) = started(Options {
        config_toml: Some(moto.gateway_toml(&backend, Some("gw"))),
        ..Default::default()
    })
    .await;
    let data = random(4096);
    for mode in MODES {
        put(&s3, &format!("k-{mode:?}"), mode, &data).await;
    }
    let keys: Vec<String> = moto
        .dump(&backend)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(
        !keys
            .iter()
            .any(|k| k.starts_with(&format!("gw/data/{BUCKET}/"))),
        "{keys:?}"
    );
    let records = keys
        .iter()
        .filter(|k| k.starts_with(&format!("gw/meta/{BUCKET}/")))
        .count();
    assert_eq!(records, 3, "{keys:?}");
    for mode in MODES {
        let key = format!("k-{mode:?}");
        assert_eq!(get(&s3, &key, mode, None).await.unwrap(), data, "{mode:?}");
        assert_eq!(
            get(&s3, &key, mode, Some("bytes=4000-4095")).await.unwrap(),
            &data[4000..],
            "{mode:?}"
        );
        s3.delete_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .unwrap();
    }
    let left: Vec<String> = moto
        .dump(&backend)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.contains(&format!("/{BUCKET}/")) && !k.starts_with("gw/buckets/"))
        .collect();
    assert_eq!(
        left,
        Vec::<String>::new(),
        "no record, blob or retire marker left"
    );
}

/// A plaintext comparison bucket inlines too (the benchmark compares the same path); its
/// bytes are the plaintext itself, read whole and in ranges.
#[tokio::test]
async fn plaintext_comparison_objects_inline() {
    let (server, s3) = started(Options {
        config_toml: Some(format!("plaintext_buckets = [\"{BUCKET}\"]\n")),
        ..Default::default()
    })
    .await;
    let data = random(3000);
    s3.put_object()
        .bucket(BUCKET)
        .key("plain")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(inline_bytes(&server.data_dir, "plain").unwrap(), data);
    assert_eq!(record(&server.data_dir, "plain")["sealing"]["mode"], "None");
    assert_eq!(get(&s3, "plain", Mode::SseS3, None).await.unwrap(), data);
    assert_eq!(
        get(&s3, "plain", Mode::SseS3, Some("bytes=2990-"))
            .await
            .unwrap(),
        &data[2990..]
    );
    assert_eq!(blob_files(&server.data_dir), Vec::<PathBuf>::new());
}

/// Many PUTs in flight into one bucket — new keys, then every key overwritten at once — all
/// land: each reads back its own bytes, the listing has every key, and no staging file is
/// left. Their records are renamed into one directory, whose fsyncs concurrent PUTs share
/// (docs/STORAGE.md "Durability"); larger objects share their data directory's syncs too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_into_one_bucket_all_land() {
    let (server, s3) = started(Options::default()).await;
    let keys: Vec<String> = (0..48).map(|i| format!("burst/{i:02}")).collect();
    // Every eighth object is too large to inline, so blobs and new generation directories
    // are written beside the records.
    let size = |i: usize| {
        if i.is_multiple_of(8) {
            100 * 1024
        } else {
            4096
        }
    };
    for round in 0..2 {
        let mut puts = tokio::task::JoinSet::new();
        let mut expected = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let data = random(size(i));
            expected.push(data.clone());
            let (s3, key) = (s3.clone(), key.clone());
            puts.spawn(async move { put(&s3, &key, Mode::SseS3, &data).await });
        }
        while let Some(done) = puts.join_next().await {
            done.unwrap();
        }
        for (key, data) in keys.iter().zip(&expected) {
            let got = get(&s3, key, Mode::SseS3, None).await.unwrap();
            assert!(got == *data, "round {round}: {key} read back other bytes");
        }
        let listed = s3
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix("burst/")
            .send()
            .await
            .unwrap();
        let mut names: Vec<_> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        names.sort();
        assert_eq!(names, keys, "round {round}");
    }
    let staging: Vec<_> = all_files(&server.data_dir.join("objects"))
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains('#'))
        })
        .collect();
    assert_eq!(staging, Vec::<PathBuf>::new(), "staging files left");
    assert_eq!(
        blob_files(&server.data_dir).len(),
        6 * 2,
        "one blob per large PUT, old ones retired not deleted"
    );
}
