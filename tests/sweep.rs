//! The storage sweep against the real binary, triggered by SIGUSR1: crash leftovers (orphan
//! generations and staging files, written straight into the data dir or backend as a crash
//! would leave them), generations replaced by overwrites and deletes, and idle multipart
//! uploads are reclaimed once older than the configured ages, and the metrics count them.
mod common;
mod moto;
mod sweep_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::ByteStream;
use common::{Options, Server, failure, random};
use sweep_support::{reclaimed, sweep};

fn server_with(env: &[(&str, &str)]) -> Server {
    Server::start_with(Options {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    })
}

fn objects(server: &Server) -> PathBuf {
    server.data_dir.join("objects")
}

/// The generation directories of `bucket` on disk.
fn generations(server: &Server, bucket: &str) -> Vec<String> {
    let dir = objects(server).join("data").join(bucket);
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn dir_bytes(dir: &Path) -> u64 {
    common::all_files(dir)
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

/// Writes a file as a crash would leave it, optionally with an old modification time.
fn crash_file(path: &Path, len: usize, age: Option<Duration>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, random(len)).unwrap();
    if let Some(age) = age {
        backdate(path, age);
    }
}

fn backdate(path: &Path, age: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap();
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let r = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    r.body.collect().await.unwrap().into_bytes().to_vec()
}

const HOUR: Duration = Duration::from_secs(3600);

/// Grace 0: crash leftovers, staging files and the generations an overwrite and a delete
/// replaced all go at the first sweep; live objects stay whole; metrics count bytes exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_zero_reclaims_everything_unreferenced() {
    let server = server_with(&[("SEALGATE_SWEEP_GRACE", "0s")]);
    let s3 = server.s3().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let keep = random(100_000);
    put(&s3, "bkt", "keep", keep.clone()).await;
    let before = generations(&server, "bkt");
    put(&s3, "bkt", "over", random(200_000)).await;
    let v1_generation: Vec<String> = generations(&server, "bkt")
        .into_iter()
        .filter(|g| !before.contains(g))
        .collect();
    assert_eq!(v1_generation.len(), 1);
    let v1_dir = objects(&server).join("data/bkt").join(&v1_generation[0]);
    let v1_bytes = dir_bytes(&v1_dir);
    let v2 = random(50_000);
    put(&s3, "bkt", "over", v2.clone()).await;
    assert!(
        v1_dir.exists(),
        "an overwrite retires the old generation instead of deleting it"
    );

    let data = objects(&server).join("data/bkt");
    crash_file(&data.join("11111111-crash-one/p1"), 1000, None);
    crash_file(&data.join("22222222-crash-two/a"), 500, None);
    crash_file(&data.join("22222222-crash-two/b"), 700, None);
    crash_file(&data.join("33333333-in-flight/blob#7"), 300, None);
    crash_file(&objects(&server).join("meta/bkt/6b6b-#3"), 40, None);

    sweep(&server);
    assert_eq!(
        reclaimed(&server),
        (3, 2, 0, 1000 + 500 + 700 + v1_bytes + 300 + 40)
    );
    assert!(!v1_dir.exists());
    let names = generations(&server, "bkt");
    assert_eq!(names.len(), 2, "the two live generations remain: {names:?}");
    let staging: Vec<PathBuf> = common::all_files(&objects(&server))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains('#'))
        .collect();
    assert!(staging.is_empty(), "{staging:?}");
    assert!(get(&s3, "bkt", "keep").await == keep);
    assert!(get(&s3, "bkt", "over").await == v2);

    // A delete retires too: the data stays until the next sweep.
    s3.delete_object()
        .bucket("bkt")
        .key("keep")
        .send()
        .await
        .unwrap();
    assert_eq!(generations(&server, "bkt").len(), 2);
    let (status, code) = failure(
        "GET after delete",
        s3.get_object().bucket("bkt").key("keep").send().await,
    );
    assert_eq!((status, code.as_str()), (404, "NoSuchKey"));
    sweep(&server);
    assert_eq!(reclaimed(&server).0, 4);
    assert_eq!(generations(&server, "bkt").len(), 1);
    assert!(get(&s3, "bkt", "over").await == v2);
}

/// Grace 1h: young leftovers and a freshly replaced generation stay; an old staging file goes;
/// an old orphan generation is only marked (its grace starts when a sweep first finds it
/// unreferenced, since it may have lost its record a moment ago).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn young_garbage_stays_within_the_grace() {
    let server = server_with(&[("SEALGATE_SWEEP_GRACE", "1h")]);
    let s3 = server.s3().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    // Over the inline limit (16 KiB), so each version has a generation on disk.
    put(&s3, "bkt", "over", random(20_000)).await;
    let v1 = generations(&server, "bkt");
    assert_eq!(v1.len(), 1);
    put(&s3, "bkt", "over", random(20_000)).await;

    let data = objects(&server).join("data/bkt");
    crash_file(&data.join("11111111-young/p1"), 1000, None);
    crash_file(&data.join("22222222-old/p1"), 1000, Some(2 * HOUR));
    crash_file(&data.join("33333333-young/p1#1"), 300, None);
    crash_file(&data.join("44444444-old/p1#2"), 333, Some(2 * HOUR));

    sweep(&server);
    assert_eq!(reclaimed(&server), (0, 1, 0, 333));
    let names = generations(&server, "bkt");
    for g in
        v1.iter()
            .map(String::as_str)
            .chain(["11111111-young", "22222222-old", "33333333-young"])
    {
        assert!(names.iter().any(|n| n == g), "{g} stays: {names:?}");
    }
    assert!(data.join("33333333-young/p1#1").exists());
    assert!(!data.join("44444444-old").exists());
}

/// An upload idle longer than `--abort-incomplete-uploads-after` is aborted, parts and all;
/// a recent one stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_multipart_uploads_are_aborted() {
    let server = server_with(&[
        ("SEALGATE_SWEEP_GRACE", "0s"),
        ("SEALGATE_ABORT_INCOMPLETE_UPLOADS_AFTER", "1d"),
    ]);
    let s3 = server.s3().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let mut ids = Vec::new();
    for key in ["idle", "recent"] {
        let up = s3
            .create_multipart_upload()
            .bucket("bkt")
            .key(key)
            .send()
            .await
            .unwrap();
        let id = up.upload_id().unwrap().to_owned();
        s3.upload_part()
            .bucket("bkt")
            .key(key)
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from(random(70_000)))
            .send()
            .await
            .unwrap();
        ids.push(id);
    }
    // Age the idle upload by two days, as if its client had vanished then.
    let upload_dir = objects(&server).join("uploads/bkt").join(&ids[0]);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(upload_dir.join("record")).unwrap()).unwrap();
    let idle_generation = record["generation"].as_str().unwrap().to_owned();
    let idle_data = objects(&server).join("data/bkt").join(&idle_generation);
    let idle_bytes = dir_bytes(&idle_data);
    assert!(idle_bytes > 70_000);
    for f in common::all_files(&upload_dir)
        .into_iter()
        .chain(common::all_files(&idle_data))
    {
        backdate(&f, 48 * HOUR);
    }

    sweep(&server);
    assert_eq!(reclaimed(&server), (1, 0, 1, idle_bytes));
    let listed = s3
        .list_multipart_uploads()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    let left: Vec<&str> = listed
        .uploads()
        .iter()
        .filter_map(|u| u.upload_id())
        .collect();
    assert_eq!(left, [ids[1].as_str()]);
    assert!(!idle_data.exists(), "the idle upload's parts are gone");
    assert!(!upload_dir.exists());
    let (status, code) = failure(
        "UploadPart to the aborted upload",
        s3.upload_part()
            .bucket("bkt")
            .key("idle")
            .upload_id(&ids[0])
            .part_number(2)
            .body(ByteStream::from(random(10)))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (404, "NoSuchUpload"));
}

/// The same on an S3 backend: orphan blobs put straight into the backend bucket and the
/// generation an overwrite replaced are reclaimed, counted to the byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_backend_orphans_are_reclaimed() {
    let Some(moto) = moto::Moto::start() else {
        return;
    };
    let backend = moto.bucket("sweep").await;
    let server = Server::start_with(Options {
        config_toml: Some(moto.gateway_toml(&backend, Some("gw"))),
        env: vec![("SEALGATE_SWEEP_GRACE".into(), "0s".into())],
        ..Default::default()
    });
    let s3 = server.s3().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    put(&s3, "bkt", "over", random(30_000)).await;
    let blobs = |dump: Vec<(String, Vec<u8>)>| -> Vec<(String, usize)> {
        dump.into_iter()
            .filter(|(k, _)| k.starts_with("gw/data/bkt/"))
            .map(|(k, v)| (k, v.len()))
            .collect()
    };
    let v1 = blobs(moto.dump(&backend).await);
    assert_eq!(v1.len(), 1);
    let v2 = random(20_000);
    put(&s3, "bkt", "over", v2.clone()).await;
    let backend_s3 = moto.client();
    for (key, len) in [
        ("gw/data/bkt/orphan-1/p1", 1234),
        ("gw/data/bkt/orphan-2/p1", 99),
    ] {
        backend_s3
            .put_object()
            .bucket(&backend)
            .key(key)
            .body(ByteStream::from(random(len)))
            .send()
            .await
            .unwrap();
    }
    sweep(&server);
    assert_eq!(reclaimed(&server), (3, 0, 0, 1234 + 99 + v1[0].1 as u64));
    let left = blobs(moto.dump(&backend).await);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(!left.iter().any(|(k, _)| k == &v1[0].0));
    assert!(get(&s3, "bkt", "over").await == v2);
}
