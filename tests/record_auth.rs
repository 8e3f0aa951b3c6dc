//! Whole-object authentication (docs/FORMAT.md §6): whoever can write the backend but holds no
//! object key edits a meta record on disk — swaps, drops or repeats parts, changes a header,
//! moves the record under another name — and the next reader gets an error, never data. Run in
//! every SSE mode, against the real binary, by editing the record files a local store keeps.
mod common;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Server, failure, meta_path, random};
use md5::{Digest, Md5};
use serde_json::Value;

const BUCKET: &str = "authrec";
const MIB: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug)]
enum Mode {
    SseS3,
    SseKms,
    SseC,
}

struct CustomerKey {
    b64: String,
    md5: String,
}

fn customer_key() -> CustomerKey {
    let raw = [0x42u8; 32];
    CustomerKey {
        b64: STANDARD.encode(raw),
        md5: STANDARD.encode(Md5::digest(raw)),
    }
}

/// Uploads `data` as a 3-part multipart object in `mode`.
async fn put_multipart(s3: &Client, key: &str, mode: Mode, data: &[u8]) {
    let ck = customer_key();
    let mut create = s3.create_multipart_upload().bucket(BUCKET).key(key);
    create = match mode {
        Mode::SseS3 => create.server_side_encryption(ServerSideEncryption::Aes256),
        Mode::SseKms => create.server_side_encryption(ServerSideEncryption::AwsKms),
        Mode::SseC => create
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&ck.b64)
            .sse_customer_key_md5(&ck.md5),
    };
    let id = create.send().await.unwrap().upload_id().unwrap().to_owned();
    let mut parts = Vec::new();
    for (i, chunk) in data.chunks(5 * MIB).enumerate() {
        let n = i as i32 + 1;
        let mut up = s3
            .upload_part()
            .bucket(BUCKET)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(chunk.to_vec()));
        if let Mode::SseC = mode {
            up = up
                .sse_customer_algorithm("AES256")
                .sse_customer_key(&ck.b64)
                .sse_customer_key_md5(&ck.md5);
        }
        let etag = up.send().await.unwrap().e_tag().unwrap().to_owned();
        parts.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    // Complete without the SSE-C key, as AWS allows: the record is still authenticated.
    s3.complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// GET of `key`: `Ok(bytes)` or `Err((status, code))`.
async fn get(s3: &Client, key: &str, mode: Mode) -> Result<Vec<u8>, (u16, String)> {
    let ck = customer_key();
    let mut g = s3.get_object().bucket(BUCKET).key(key);
    if let Mode::SseC = mode {
        g = g
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&ck.b64)
            .sse_customer_key_md5(&ck.md5);
    }
    match g.send().await {
        Ok(o) => match o.body.collect().await {
            Ok(b) => Ok(b.into_bytes().to_vec()),
            Err(e) => Err((0, format!("body: {e}"))),
        },
        Err(e) => Err(failure("GET", Err::<(), _>(e))),
    }
}

type Edit = (&'static str, fn(&mut Value));

fn edits() -> Vec<Edit> {
    vec![
        ("swap two parts", |m| {
            m["parts"].as_array_mut().unwrap().swap(0, 1);
        }),
        ("swap two parts' blobs, numbers in order", |m| {
            let parts = m["parts"].as_array_mut().unwrap();
            let (a, b) = (parts[0].clone(), parts[1].clone());
            for (i, src) in [(0, b), (1, a)] {
                for f in [
                    "blob",
                    "key_salt",
                    "nonce_prefix",
                    "size",
                    "etag",
                    "checksum",
                ] {
                    parts[i][f] = src[f].clone();
                }
            }
        }),
        ("drop the last part and fix the size", |m| {
            let last = m["parts"].as_array_mut().unwrap().pop().unwrap();
            let size = m["size"].as_u64().unwrap() - last["size"].as_u64().unwrap();
            m["size"] = size.into();
        }),
        ("repeat a part and fix the size", |m| {
            let parts = m["parts"].as_array_mut().unwrap();
            parts[2] = parts[0].clone();
            parts[2]["part_number"] = 3.into();
            let size: u64 = parts.iter().map(|p| p["size"].as_u64().unwrap()).sum();
            m["size"] = size.into();
        }),
        ("change Content-Type", |m| {
            m["content_headers"]["content-type"] = "text/html".into();
        }),
        ("add user metadata", |m| {
            m["user_meta"]["role"] = "admin".into();
        }),
        ("change the ETag", |m| {
            m["etag"] = "00000000000000000000000000000000-3".into();
        }),
        ("downgrade to format 1 without a MAC", |m| {
            m["format"] = "sealgate-meta/1".into();
            m.as_object_mut().unwrap().remove("mac");
        }),
    ]
}

#[tokio::test]
async fn edited_meta_records_are_refused_in_every_mode() {
    let server = Server::start();
    let s3 = server.s3().await;
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let data = random(10 * MIB + 12345);
    for mode in [Mode::SseS3, Mode::SseKms, Mode::SseC] {
        let key = format!("{mode:?}/object");
        put_multipart(&s3, &key, mode, &data).await;
        assert!(get(&s3, &key, mode).await.unwrap() == data, "{mode:?}");
        let path = meta_path(&server.data_dir, BUCKET, &key);
        let original = std::fs::read(&path).unwrap();
        let record: Value = serde_json::from_slice(&original).unwrap();
        assert_eq!(record["format"], "sealgate-meta/2", "{mode:?}");
        assert!(record["mac"].is_string(), "{mode:?}: no MAC in {record}");
        for (what, edit) in edits() {
            let mut m = record.clone();
            edit(&mut m);
            std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
            let got = get(&s3, &key, mode).await.map(|b| b.len());
            assert_eq!(
                got.as_ref().map_err(|e| e.0),
                Err(500),
                "{mode:?}: {what}: an edited record must not be served (got {got:?}, body length shown)"
            );
            std::fs::write(&path, &original).unwrap();
        }
        // Restored, the object reads again: the refusals came from the edits.
        assert!(get(&s3, &key, mode).await.unwrap() == data, "{mode:?}");

        // A record moved under another name does not open either.
        let moved_key = format!("{mode:?}/moved");
        let single = b"hello".to_vec();
        let mut put = s3
            .put_object()
            .bucket(BUCKET)
            .key(&moved_key)
            .body(ByteStream::from(single));
        if let Mode::SseC = mode {
            let ck = customer_key();
            put = put
                .sse_customer_algorithm("AES256")
                .sse_customer_key(&ck.b64)
                .sse_customer_key_md5(&ck.md5);
        } else if let Mode::SseKms = mode {
            put = put.server_side_encryption(ServerSideEncryption::AwsKms);
        }
        put.send().await.unwrap();
        let moved_path = meta_path(&server.data_dir, BUCKET, &moved_key);
        let moved_original = std::fs::read(&moved_path).unwrap();
        std::fs::write(&moved_path, &original).unwrap();
        let got = get(&s3, &moved_key, mode).await.map(|b| b.len());
        assert!(
            got.is_err(),
            "{mode:?}: a moved record was served ({got:?})"
        );
        std::fs::write(&moved_path, moved_original).unwrap();
    }

    // HEAD of an SSE-S3 object authenticates too (opening its key costs no KMS call).
    let key = "SseS3/object";
    let path = meta_path(&server.data_dir, BUCKET, key);
    let original = std::fs::read(&path).unwrap();
    let mut m: Value = serde_json::from_slice(&original).unwrap();
    m["content_headers"]["content-type"] = "text/html".into();
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    let (status, _) = failure(
        "HEAD of an edited record",
        s3.head_object().bucket(BUCKET).key(key).send().await,
    );
    assert_eq!(status, 500);
    std::fs::write(&path, &original).unwrap();
    s3.head_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
}
