//! Readers racing writers, through aws-sdk-s3 against the real binary: a GET returns the
//! complete old object or the complete new one, never an error or a mix, however many
//! overwrites or deletes happen while it streams (the replaced generation is only retired;
//! the sweep deletes it after the grace period). A GET that outlives the grace fails loudly
//! instead of returning a short body.
mod common;
mod moto;
mod sweep_support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use common::{Options, Server, md5_hex, random};

const MIB: usize = 1024 * 1024;

/// Writes `body` as one PutObject, or as a multipart upload with parts of `part` bytes.
async fn write(s3: &Client, bucket: &str, key: &str, body: &[u8], part: Option<usize>) {
    let Some(part) = part else {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .unwrap();
        return;
    };
    let up = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut done = Vec::new();
    for (i, chunk) in body.chunks(part).enumerate() {
        let n = i as i32 + 1;
        let r = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(chunk.to_vec()))
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
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// A 15 MiB object in four parts: its last parts are read long after the GET started, once
/// the bytes of the first ones have filled the channel and socket buffers.
fn big_multipart() -> (Vec<u8>, Option<usize>) {
    (random(15 * MIB + 1024), Some(5 * MIB))
}

/// Starts a GET and reads its first chunk; returns the response body to finish later.
async fn start_get(s3: &Client, bucket: &str, key: &str) -> (Vec<u8>, ByteStream) {
    let mut resp = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let first = resp.body.next().await.expect("a first chunk").unwrap();
    (first.to_vec(), resp.body)
}

async fn finish_get(mut got: Vec<u8>, body: ByteStream) -> Result<Vec<u8>, String> {
    let rest = body.collect().await.map_err(|e| e.to_string())?;
    got.extend_from_slice(&rest.into_bytes());
    Ok(got)
}

/// 100 overwrites of one key (every 20th a multipart object) while readers GET it in a loop
/// and one reader holds a GET of the first version open across ten of the overwrites.
async fn race(server: &Server) {
    let s3 = server.s3().await;
    let bucket = "race";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let (v0, v0_part) = big_multipart();
    write(&s3, bucket, "k", &v0, v0_part).await;
    let known = Arc::new(Mutex::new(HashSet::from([md5_hex(&v0)])));
    let written = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));

    // The slow reader starts before the first overwrite.
    let (first, body) = start_get(&s3, bucket, "k").await;

    let writer = {
        let (s3, known, written) = (s3.clone(), known.clone(), written.clone());
        tokio::spawn(async move {
            for i in 1..=100usize {
                let (body, part) = if i % 20 == 0 {
                    (random(5 * MIB + 4096 + i), Some(5 * MIB))
                } else {
                    (random(100_000 + i * 97), None)
                };
                // Known before any reader can see it.
                known.lock().unwrap().insert(md5_hex(&body));
                write(&s3, bucket, "k", &body, part).await;
                written.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (s3, known, done) = (s3.clone(), known.clone(), done.clone());
            tokio::spawn(async move {
                let mut gets = 0usize;
                while !done.load(Ordering::SeqCst) {
                    let resp = s3.get_object().bucket(bucket).key("k").send().await;
                    let resp = resp.unwrap_or_else(|e| panic!("GET failed: {e:?}"));
                    let body = resp.body.collect().await.expect("complete body");
                    let md5 = md5_hex(&body.into_bytes());
                    assert!(
                        known.lock().unwrap().contains(&md5),
                        "GET returned bytes that were never written"
                    );
                    gets += 1;
                }
                gets
            })
        })
        .collect();

    while written.load(Ordering::SeqCst) < 10 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let slow = finish_get(first, body)
        .await
        .expect("the GET opened before the overwrites completes");
    assert_eq!(slow.len(), v0.len());
    assert!(slow == v0, "the slow GET returned the whole first version");

    writer.await.unwrap();
    done.store(true, Ordering::SeqCst);
    let mut gets = 0;
    for r in readers {
        gets += r.await.unwrap();
    }
    assert!(gets > 0, "the readers ran");
    eprintln!("{gets} GETs raced 100 overwrites");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gets_racing_overwrites_return_whole_objects_local() {
    let server = Server::start();
    race(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gets_racing_overwrites_return_whole_objects_s3_backend() {
    let Some(moto) = moto::Moto::start() else {
        return;
    };
    let bucket = moto.bucket("races").await;
    let server = Server::start_with(Options {
        config_toml: Some(moto.gateway_toml(&bucket, None)),
        ..Default::default()
    });
    race(&server).await;
}

/// DeleteObject while a GET streams: the GET completes with the whole object (even after a
/// sweep, within the grace period), later GETs answer NoSuchKey as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_during_streaming_get_lets_it_finish() {
    let server = Server::start();
    let s3 = server.s3().await;
    s3.create_bucket().bucket("del").send().await.unwrap();
    let (body, part) = big_multipart();
    write(&s3, "del", "k", &body, part).await;

    let (first, rest) = start_get(&s3, "del", "k").await;
    s3.delete_object()
        .bucket("del")
        .key("k")
        .send()
        .await
        .unwrap();
    tokio::task::block_in_place(|| sweep_support::sweep(&server));
    let (status, code) = common::failure(
        "GET after delete",
        s3.get_object().bucket("del").key("k").send().await,
    );
    assert_eq!((status, code.as_str()), (404, "NoSuchKey"));
    let got = finish_get(first, rest).await.expect("the GET completes");
    assert!(got == body, "the GET returned the whole deleted object");
}

/// With a grace of 0 the sweep deletes the replaced generation while a GET still streams it:
/// the GET must fail (the connection is aborted), never end early with success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_outliving_the_grace_fails_instead_of_truncating() {
    let server = Server::start_with(Options {
        env: vec![("SEALGATE_SWEEP_GRACE".into(), "0s".into())],
        ..Default::default()
    });
    let s3 = server.s3().await;
    s3.create_bucket().bucket("late").send().await.unwrap();
    let (body, part) = big_multipart();
    write(&s3, "late", "k", &body, part).await;

    let (first, rest) = start_get(&s3, "late", "k").await;
    write(&s3, "late", "k", b"new", None).await;
    tokio::task::block_in_place(|| sweep_support::sweep(&server));
    assert_eq!(
        sweep_support::reclaimed(&server).0,
        1,
        "the old generation is gone"
    );
    match finish_get(first, rest).await {
        Err(_) => {}
        Ok(got) => panic!(
            "a GET whose data was deleted under it succeeded with {} of {} bytes",
            got.len(),
            body.len()
        ),
    }
}
