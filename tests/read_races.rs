//! Readers racing writers, through aws-sdk-s3 against the real binary: a GET returns the
//! complete old object or the complete new one, never an error or a mix, however many
//! overwrites or deletes happen while it streams (the replaced generation is only retired;
//! the sweep deletes it after the grace period). A GET that outlives the grace fails loudly
//! instead of returning a short body. And a reader that stops reading: what the server holds
//! for it stays within a few segments.
mod common;
mod moto;
mod sweep_support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
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

/// `(rchar, wchar)` of a process: every byte it has read and written through system calls
/// (files and sockets alike), from /proc/PID/io.
fn io_counters(pid: u32) -> (u64, u64) {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    let field = |name: &str| -> u64 {
        io.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/io"))
    };
    (field("rchar:"), field("wchar:"))
}

/// Clients that read the first 64 KiB of a 16 MiB SSE-S3 GET and then stop reading: once
/// their sockets are full, what the server has read from the blob beyond what it has written
/// to the sockets (what it holds for them) stays within a few sealed segments per client: five
/// in the channel and the one the connection is writing. The old reader held 448-576 KiB per
/// client (read four 64 KiB pieces ahead and a 256 KiB read blocked behind them, every piece
/// pinning the whole read it came from).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_readers_hold_only_a_few_segments() {
    use std::io::{Read as _, Write as _};
    const SIZE: usize = 16 * MIB;
    const CLIENTS: u64 = 8;
    // Six sealed 64 KiB segments, and half of one for the request and the meta record.
    const MOST_HELD_EACH: u64 = 6 * (64 * 1024 + 16) + 32 * 1024;
    let server = Server::start();
    let s3 = server.s3_plain();
    s3.create_bucket().bucket("stall").send().await.unwrap();
    s3.put_object()
        .bucket("stall")
        .key("k")
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .body(ByteStream::from(random(SIZE)))
        .send()
        .await
        .unwrap();
    let url = s3
        .get_object()
        .bucket("stall")
        .key("k")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let uri: http::Uri = url.uri().parse().unwrap();
    let authority = uri.authority().unwrap().as_str().to_owned();
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {authority}\r\n\r\n",
        uri.path_and_query().unwrap()
    );
    let pid = server.pid();

    tokio::task::block_in_place(|| {
        let before = io_counters(pid);
        let mut clients = Vec::new();
        for _ in 0..CLIENTS {
            let mut conn = std::net::TcpStream::connect(&authority).unwrap();
            conn.write_all(request.as_bytes()).unwrap();
            let mut head = vec![0u8; 64 * 1024];
            conn.read_exact(&mut head).unwrap();
            assert!(
                head.starts_with(b"HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&head[..200])
            );
            clients.push(conn);
        }
        // The server writes until the kernel's socket buffers are full, then waits.
        let mut last = io_counters(pid);
        let mut quiet = 0;
        while quiet < 5 {
            std::thread::sleep(Duration::from_millis(200));
            let now = io_counters(pid);
            quiet = if now == last { quiet + 1 } else { 0 };
            last = now;
        }
        let (read, sent) = (last.0 - before.0, last.1 - before.1);
        assert!(
            sent < CLIENTS * SIZE as u64 / 2,
            "the server stalled behind its clients (sent {sent} bytes)"
        );
        let held = read.saturating_sub(sent) / CLIENTS;
        assert!(
            held <= MOST_HELD_EACH,
            "read {read} bytes, sent {sent}: {} KiB held per stalled client",
            held / 1024
        );
    });
}
