//! A full disk and a crash mid-record: the real binary runs with its data dir on a small tmpfs
//! (mounted by the test, which needs root; skipped with a printed reason otherwise, but a
//! failure under `CI=true`), a filler file takes every free byte, and real clients
//! (aws-sdk-s3, aws-sdk-kms, the `sealgate audit verify` CLI) check what a user sees.
mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_s3::primitives::ByteStream;
use common::{Options, Server};
use sha2::Digest;

/// A tmpfs mounted on a temporary directory; unmounted on drop.
struct Tmpfs {
    _dir: tempfile::TempDir,
    mnt: PathBuf,
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
    }
}

/// Mounts a 16 MiB tmpfs, or says why it cannot (then the test is skipped, except in CI).
fn mount_tmpfs() -> Option<Tmpfs> {
    let why = match Command::new("id").arg("-u").output() {
        Ok(o) if String::from_utf8_lossy(&o.stdout).trim() == "0" => {
            let dir = tempfile::tempdir().expect("temp dir");
            let mnt = dir.path().join("mnt");
            std::fs::create_dir(&mnt).unwrap();
            let out = Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
                .arg(&mnt)
                .output();
            match out {
                Ok(o) if o.status.success() => return Some(Tmpfs { _dir: dir, mnt }),
                Ok(o) => format!("mount failed: {}", String::from_utf8_lossy(&o.stderr)),
                Err(e) => format!("cannot run mount: {e}"),
            }
        }
        _ => "not running as root (mounting a tmpfs needs it)".to_string(),
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "full-disk test cannot run under CI=true: {why}"
    );
    eprintln!("SKIPPED: {why}");
    None
}

/// Free bytes on the filesystem holding `dir` (`stat -f`).
fn free_bytes(dir: &Path) -> u64 {
    let out = Command::new("stat")
        .args(["-f", "-c", "%a %S"])
        .arg(dir)
        .output()
        .expect("stat -f");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|n| n.parse::<u64>().unwrap());
    it.next().unwrap() * it.next().unwrap()
}

/// Fills the filesystem of `dir` with `dir/filler` until not one more byte fits.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    for chunk in [1 << 20, 4096, 1] {
        let buf = vec![0xa5u8; chunk];
        while f.write_all(&buf).is_ok() {}
    }
    let _ = f.sync_all();
    assert_eq!(free_bytes(dir), 0, "the filesystem is full");
    path
}

/// Runs `sealgate audit verify` on `data_dir`: (exit code, stdout + stderr).
fn verify(data_dir: &Path) -> (i32, String) {
    let out = Command::new(common::bin())
        .args(["audit", "verify", "--data-dir"])
        .arg(data_dir)
        .env_remove("SEALGATE_DATA_DIR")
        .output()
        .expect("run sealgate audit verify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn start(data_dir: &Path) -> Server {
    Server::start_with(Options {
        data_dir: Some(data_dir.to_path_buf()),
        ..Options::default()
    })
}

fn audit_log(data_dir: &Path) -> PathBuf {
    data_dir.join("kms").join("kms-audit.log")
}

/// `(HTTP status, error code)` of a failed KMS call.
fn kms_failure<T: std::fmt::Debug, E>(
    what: &str,
    r: Result<T, aws_sdk_kms::error::SdkError<E, aws_sdk_kms::config::http::HttpResponse>>,
) -> (u16, String)
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Debug,
{
    use aws_sdk_kms::error::ProvideErrorMetadata as _;
    match r {
        Ok(v) => panic!("{what}: expected an error, got {v:?}"),
        Err(e) => (
            e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0),
            e.code().unwrap_or("").to_owned(),
        ),
    }
}

async fn put(s3: &aws_sdk_s3::Client, key: &str, body: &[u8]) {
    s3.put_object()
        .bucket("bkt")
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {key}: {e:?}"));
}

async fn get(s3: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    s3.get_object()
        .bucket("bkt")
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {key}: {e:?}"))
        .body
        .collect()
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn a_full_disk_fails_writes_cleanly_and_keeps_the_audit_chain() {
    let Some(fs) = mount_tmpfs() else { return };
    let data_dir = fs.mnt.join("data");
    let server = start(&data_dir);
    let s3 = server.s3().await;
    let kms = server.kms().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let kept = common::random(100_000);
    put(&s3, "kept", &kept).await;
    let key = common::new_key_id(&server).await;
    let filler = fill(&fs.mnt);

    // Writes fail with the gateway's storage-outage error; reads still work.
    let (status, code) = common::failure(
        "PUT on a full disk",
        s3.put_object()
            .bucket("bkt")
            .key("new")
            .body(ByteStream::from(common::random(200_000)))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (503, "ServiceUnavailable"));
    assert_eq!(get(&s3, "kept").await, kept);

    // KMS calls that must write an audit record fail cleanly once the record no longer fits
    // (the first few may still fit in the unused end of the log's last page).
    let encrypt = || async {
        kms.encrypt()
            .key_id(&key)
            .plaintext(Blob::new(b"secret".to_vec()))
            .send()
            .await
    };
    let mut fitted = 0;
    while encrypt().await.is_ok() {
        fitted += 1;
        assert!(fitted < 100, "Encrypt never failed on a full disk");
    }
    let log_full = std::fs::read(audit_log(&data_dir)).unwrap();
    let head_full = std::fs::read(data_dir.join("kms").join("kms-audit.head")).unwrap();
    for _ in 0..3 {
        let (status, code) = kms_failure("Encrypt on a full disk", encrypt().await);
        assert_eq!((status, code.as_str()), (500, "KMSInternalException"));
    }
    // Concurrent calls whose records share one group commit all fail, none half-audited.
    let group = (0..8).map(|_| encrypt());
    for r in futures::future::join_all(group).await {
        let (status, code) = kms_failure("concurrent Encrypt on a full disk", r);
        assert_eq!((status, code.as_str()), (500, "KMSInternalException"));
    }
    let (status, code) = kms_failure("CreateKey on a full disk", kms.create_key().send().await);
    assert_eq!((status, code.as_str()), (500, "KMSInternalException"));

    // The failed appends (some written in part before the disk ran out) were cut back.
    assert!(log_full.ends_with(b"\n"), "the log ends with a whole line");
    assert_eq!(
        std::fs::read(audit_log(&data_dir)).unwrap(),
        log_full,
        "unacknowledged calls left no bytes in the log"
    );
    assert_eq!(
        std::fs::read(data_dir.join("kms").join("kms-audit.head")).unwrap(),
        head_full
    );
    let (code, out) = verify(&data_dir);
    assert_eq!(code, 0, "verifies while the disk is still full: {out}");

    std::fs::remove_file(&filler).unwrap();
    put(&s3, "after", b"space is back").await;
    let ct = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"secret".to_vec()))
        .send()
        .await
        .expect("Encrypt once space is back")
        .ciphertext_blob
        .unwrap();
    let pt = kms.decrypt().ciphertext_blob(ct).send().await.unwrap();
    assert_eq!(pt.plaintext.unwrap().as_ref(), b"secret");

    let (code, out) = verify(&data_dir);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("OK: "), "{out}");
    assert!(!out.contains("REPAIRED"), "{out}");
}

#[tokio::test]
async fn the_gateway_starts_at_zero_free_bytes_and_serves_reads_and_deletes() {
    let Some(fs) = mount_tmpfs() else { return };
    let data_dir = fs.mnt.join("data");
    let mut server = start(&data_dir);
    let s3 = server.s3().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let a = common::random(300_000);
    put(&s3, "a", &a).await;
    put(&s3, "b", b"to be deleted").await;
    put(&s3, "c", b"also deleted").await;
    // As an operator would: SIGTERM, so SQLite closes cleanly and removes its -wal/-shm files
    // (which then cannot be recreated at 0 bytes free).
    stop_gracefully(&mut server);

    let filler = fill(&fs.mnt);
    let mut server = start(&data_dir);
    assert_eq!(free_bytes(&fs.mnt), 0, "still full after the start");
    let s3 = server.s3().await;
    assert_eq!(get(&s3, "a").await, a);
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("a")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(a.len() as i64));
    assert_eq!(list(&s3).await, ["a", "b", "c"]);
    s3.delete_object()
        .bucket("bkt")
        .key("b")
        .send()
        .await
        .unwrap();
    let (status, code) = common::failure(
        "GET of the deleted object",
        s3.get_object().bucket("bkt").key("b").send().await,
    );
    assert_eq!((status, code.as_str()), (404, "NoSuchKey"));
    let (status, code) = common::failure(
        "PUT on a full disk",
        s3.put_object()
            .bucket("bkt")
            .key("d")
            .body(ByteStream::from(common::random(100_000)))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (503, "ServiceUnavailable"));

    // Use up the unused end of the audit log's last page with small records (GenerateRandom),
    // until one no longer fits: then the next start's records (larger) cannot be written.
    let kms = server.kms().await;
    let mut fitted = 0;
    while kms
        .generate_random()
        .number_of_bytes(1)
        .send()
        .await
        .is_ok()
    {
        fitted += 1;
        assert!(fitted < 100, "GenerateRandom never failed on a full disk");
    }
    stop_gracefully(&mut server);
    let decrypts_before = count_events(&data_dir, "Decrypt");

    let server = start(&data_dir);
    assert!(
        server.log().contains("audit record deferred"),
        "{}",
        server.log()
    );
    let s3 = server.s3().await;
    assert_eq!(get(&s3, "a").await, a);
    s3.delete_object()
        .bucket("bkt")
        .key("c")
        .send()
        .await
        .unwrap();
    assert_eq!(list(&s3).await, ["a"]);

    // The start-up's audit record (unwrapping the SSE-S3 ring) waited in memory; once there is
    // space it is written, in the chain, without another request.
    assert_eq!(count_events(&data_dir, "Decrypt"), decrypts_before);
    std::fs::remove_file(&filler).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while count_events(&data_dir, "Decrypt") == decrypts_before {
        assert!(
            std::time::Instant::now() < deadline,
            "deferred audit records were never written; log:\n{}",
            server.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(count_events(&data_dir, "Decrypt"), decrypts_before + 1);
    let (code, out) = verify(&data_dir);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("OK: "), "{out}");
    put(&s3, "d", b"space is back").await;
}

async fn list(s3: &aws_sdk_s3::Client) -> Vec<String> {
    s3.list_objects_v2()
        .bucket("bkt")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// SIGTERM, then waits until the process has exited (a zombie until `stop` reaps it).
fn stop_gracefully(server: &mut Server) {
    let pid = server.pid().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The state is the field after the parenthesised command name.
        let state = stat.rsplit(") ").next().and_then(|r| r.chars().next());
        if matches!(state, Some('Z') | None) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gateway did not exit on SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    server.stop();
}

fn count_events(data_dir: &Path, event: &str) -> usize {
    let needle = format!("\"event\":\"{event}\"");
    std::fs::read_to_string(audit_log(data_dir))
        .unwrap()
        .lines()
        .filter(|l| l.contains(&needle))
        .count()
}

/// KMS traffic that writes a few audit records.
async fn kms_traffic(server: &Server) {
    let kms = server.kms().await;
    let key = common::new_key_id(server).await;
    for _ in 0..3 {
        kms.encrypt()
            .key_id(&key)
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
            .await
            .unwrap();
    }
}

/// Appends the first half of the log's last line, without its newline (a crash mid-write).
fn tear(data_dir: &Path) -> Vec<u8> {
    let log = audit_log(data_dir);
    let text = std::fs::read_to_string(&log).unwrap();
    let last = text.lines().last().unwrap();
    let half = last.as_bytes()[..last.len() / 2].to_vec();
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(&half).unwrap();
    half
}

#[tokio::test]
async fn a_torn_tail_is_repaired_at_start_and_reported() {
    let mut server = Server::start();
    let data_dir = server.data_dir.clone();
    kms_traffic(&server).await;
    server.stop();
    let torn = tear(&data_dir);
    let (code, out) = verify(&data_dir);
    assert_eq!(code, 1, "before the restart the torn line shows: {out}");
    assert!(out.contains("incomplete last line"), "{out}");

    let mut server = start(&data_dir);
    kms_traffic(&server).await;
    server.stop();
    let (code, out) = verify(&data_dir);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("OK: "), "{out}");
    let sha = hex::encode(sha2::Sha256::digest(&torn));
    assert!(
        out.contains("REPAIRED: ")
            && out.contains(&format!("{} bytes cut", torn.len()))
            && out.contains(&sha),
        "names the bytes removed: {out}"
    );
    let text = std::fs::read_to_string(audit_log(&data_dir)).unwrap();
    assert_eq!(
        text.matches("\"event\":\"AuditTornTailRepaired\"").count(),
        1
    );
    assert!(!text.contains(&format!("{}{{", String::from_utf8_lossy(&torn))));
}

#[tokio::test]
async fn the_repair_does_not_hide_tampering() {
    // An edit in the middle of the log, then a crash mid-record: the tail is repaired, the
    // edit is still reported.
    let mut server = Server::start();
    let data_dir = server.data_dir.clone();
    kms_traffic(&server).await;
    server.stop();
    let log = audit_log(&data_dir);
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let target = lines
        .iter()
        .position(|l| l.contains("\"event\":\"Encrypt\""))
        .unwrap();
    lines[target] = lines[target].replace("\"success\"", "\"failure\"");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    tear(&data_dir);
    let server2 = start(&data_dir);
    drop(server2);
    let (code, out) = verify(&data_dir);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("kms-audit.log:{}: seq {target}", target + 1))
            && out.contains("modified"),
        "{out}"
    );

    // The last, acknowledged record cut short (the signed head names it): not a crash
    // artefact, so it is not removed, and verify reports it.
    let mut server = Server::start();
    let data_dir = server.data_dir.clone();
    kms_traffic(&server).await;
    server.stop();
    let log = audit_log(&data_dir);
    let full = std::fs::read(&log).unwrap();
    std::fs::write(&log, &full[..full.len() - 20]).unwrap();
    let server2 = start(&data_dir);
    drop(server2);
    let after = std::fs::read(&log).unwrap();
    assert!(
        after.starts_with(&full[..full.len() - 20]),
        "the cut record stays as evidence"
    );
    let (code, out) = verify(&data_dir);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("TAMPERED: "), "{out}");
    assert!(!out.contains("REPAIRED"), "{out}");
}
