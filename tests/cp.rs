//! `sealgate cp` at sizes that take parts, through the real gateway: parallel ranged downloads
//! that equal the source, interrupted downloads and uploads that a re-run finishes without
//! moving again what was already done (counted by the gateway's own byte metrics), a changed
//! object that restarts the download, and the progress bar that shows only on a terminal.
mod common;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{ACCESS_KEY, REGION, SECRET_KEY, Server, random};

const MIB: usize = 1 << 20;
/// Stops `sealgate cp` (exit 130, nothing cleaned up) after this many ranges or parts.
const INTERRUPT: &str = "SEALGATE_TEST_CP_INTERRUPT_AFTER";

fn cp_env(server: &Server, args: &[&str], env: &[(&str, &str)]) -> Output {
    std::process::Command::new(common::bin())
        .arg("cp")
        .args(args)
        .env("AWS_ENDPOINT_URL", &server.s3_https)
        .env("AWS_CA_BUNDLE", &server.ca_path)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", REGION)
        .envs(env.iter().copied())
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

fn interrupted(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(130),
        "expected the test interruption: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One counter of the gateway's metrics, e.g. `sealgate_s3_bytes_sent_total` for `GetObject`.
fn metric(server: &Server, name: &str, operation: &str) -> u64 {
    let url = server.metrics_url.clone().expect("metrics URL");
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let series = format!("{name}{{operation=\"{operation}\"}} ");
    raw.lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// The counter once the gateway has stopped moving bytes for a killed client.
fn settled(server: &Server, name: &str, operation: &str) -> u64 {
    let mut last = metric(server, name, operation);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = metric(server, name, operation);
        if now == last {
            return now;
        }
        last = now;
    }
}

/// The ranges the sidecar state of an interrupted download to `target` records as done.
fn recorded_ranges(target: &Path) -> Vec<u64> {
    let state = target.with_file_name(format!(
        ".{}.sealgate-download.state",
        target.file_name().unwrap().to_string_lossy()
    ));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state file")).unwrap();
    json["done"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.parse().unwrap())
        .collect()
}

fn range_len(index: u64, size: usize) -> u64 {
    let start = index as usize * 8 * MIB;
    (8 * MIB).min(size - start) as u64
}

fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect()
}

#[tokio::test]
async fn ranged_downloads_resume_and_restart_when_the_object_changed() {
    let server = Server::start();
    let s3 = server.s3().await;
    s3.create_bucket().bucket("big").send().await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let size = 20 * MIB + 3;
    let source = random(size);
    s3.put_object()
        .bucket("big")
        .key("obj")
        .body(source.clone().into())
        .send()
        .await
        .unwrap();

    // Whole, in parallel ranges: byte-identical, checked against the object's checksum (the
    // SDK sent CRC32), and exactly the object's bytes left the gateway.
    let target = work.path().join("whole.bin");
    let before = metric(&server, "sealgate_s3_bytes_sent_total", "GetObject");
    let said = ok(&cp_env(
        &server,
        &["s3://big/obj", target.to_str().unwrap()],
        &[],
    ));
    assert!(said.contains("in 3 ranges"), "{said}");
    assert!(said.contains("length and CRC32 verified"), "{said}");
    assert!(std::fs::read(&target).unwrap() == source);
    let sent = metric(&server, "sealgate_s3_bytes_sent_total", "GetObject") - before;
    assert_eq!(sent, size as u64);
    assert!(
        leftovers(work.path()).is_empty(),
        "{:?}",
        leftovers(work.path())
    );

    // Interrupted after one range: the re-run fetches only the ranges not recorded.
    let target = work.path().join("resumed.bin");
    interrupted(&cp_env(
        &server,
        &["s3://big/obj", target.to_str().unwrap()],
        &[(INTERRUPT, "1")],
    ));
    assert!(!target.exists());
    let done = recorded_ranges(&target);
    assert_eq!(done.len(), 1, "{done:?}");
    let before = settled(&server, "sealgate_s3_bytes_sent_total", "GetObject");
    let said = ok(&cp_env(
        &server,
        &["s3://big/obj", target.to_str().unwrap()],
        &[],
    ));
    assert!(
        said.contains("(1 resumed from an interrupted download)"),
        "{said}"
    );
    let sent = metric(&server, "sealgate_s3_bytes_sent_total", "GetObject") - before;
    assert_eq!(sent, size as u64 - range_len(done[0], size));
    assert!(std::fs::read(&target).unwrap() == source);
    assert!(
        leftovers(work.path()).is_empty(),
        "{:?}",
        leftovers(work.path())
    );

    // A recorded range whose bytes were damaged on disk is fetched again.
    let target = work.path().join("damaged.bin");
    interrupted(&cp_env(
        &server,
        &["s3://big/obj", target.to_str().unwrap()],
        &[(INTERRUPT, "2")],
    ));
    let done = recorded_ranges(&target);
    assert_eq!(done.len(), 2, "{done:?}");
    let tmp = work.path().join(".damaged.bin.sealgate-download");
    let mut bytes = std::fs::read(&tmp).unwrap();
    let at = done[0] as usize * 8 * MIB + 5;
    bytes[at] ^= 0xff;
    std::fs::write(&tmp, &bytes).unwrap();
    let before = settled(&server, "sealgate_s3_bytes_sent_total", "GetObject");
    let said = ok(&cp_env(
        &server,
        &["s3://big/obj", target.to_str().unwrap()],
        &[],
    ));
    assert!(
        said.contains("(1 resumed from an interrupted download)"),
        "{said}"
    );
    let sent = metric(&server, "sealgate_s3_bytes_sent_total", "GetObject") - before;
    assert_eq!(sent, size as u64 - range_len(done[1], size));
    assert!(std::fs::read(&target).unwrap() == source);

    // The object changes between the runs: the partial file is discarded, all of it is
    // fetched again, and the result is the new object.
    let target = work.path().join("changed.bin");
    interrupted(&cp_env(
        &server,
        &["s3://big/obj", target.to_str().unwrap()],
        &[(INTERRUPT, "1")],
    ));
    let changed = random(size);
    s3.put_object()
        .bucket("big")
        .key("obj")
        .body(changed.clone().into())
        .send()
        .await
        .unwrap();
    let before = settled(&server, "sealgate_s3_bytes_sent_total", "GetObject");
    let said = ok(&cp_env(
        &server,
        &["s3://big/obj", target.to_str().unwrap()],
        &[],
    ));
    assert!(said.contains("restarted: the object changed"), "{said}");
    let sent = metric(&server, "sealgate_s3_bytes_sent_total", "GetObject") - before;
    assert_eq!(sent, size as u64);
    assert!(std::fs::read(&target).unwrap() == changed);
    assert!(
        leftovers(work.path()).is_empty(),
        "{:?}",
        leftovers(work.path())
    );

    // A multipart object with a COMPOSITE checksum is checked part by part.
    use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
    let created = s3
        .create_multipart_upload()
        .bucket("big")
        .key("parts")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap();
    let id = created.upload_id().unwrap();
    let mut completed = Vec::new();
    for (i, chunk) in source.chunks(5 * MIB + 1).enumerate() {
        let n = i as i32 + 1;
        let part = s3
            .upload_part()
            .bucket("big")
            .key("parts")
            .upload_id(id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(chunk.to_vec().into())
            .send()
            .await
            .unwrap();
        completed.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(part.e_tag().unwrap())
                .checksum_crc32(part.checksum_crc32().unwrap())
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket("big")
        .key("parts")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let target = work.path().join("parts.bin");
    let said = ok(&cp_env(
        &server,
        &["s3://big/parts", target.to_str().unwrap()],
        &[],
    ));
    assert!(
        said.contains("length and CRC32 of each of 4 parts verified"),
        "{said}"
    );
    assert!(std::fs::read(&target).unwrap() == source);

    // A small object (one range) and an empty one (none) come down verified too.
    for (key, len) in [("small", 1000), ("empty", 0)] {
        let body = random(len);
        s3.put_object()
            .bucket("big")
            .key(key)
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        let target = work.path().join(key);
        let said = ok(&cp_env(
            &server,
            &[&format!("s3://big/{key}"), target.to_str().unwrap()],
            &[],
        ));
        assert!(said.contains("verified"), "{said}");
        assert_eq!(std::fs::read(&target).unwrap(), body);
    }
}

#[tokio::test]
async fn interrupted_uploads_resume_from_the_listed_parts() {
    let server = Server::start();
    let s3 = server.s3().await;
    s3.create_bucket().bucket("upl").send().await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let size = 20 * MIB + 3;
    let source = random(size);
    let src = work.path().join("src.bin");
    std::fs::write(&src, &source).unwrap();
    let src = src.to_str().unwrap();

    interrupted(&cp_env(
        &server,
        &[src, "s3://upl/obj"],
        &[(INTERRUPT, "1")],
    ));
    // Parts whose bytes were all sent before the kill may still be stored: wait for them.
    settled(&server, "sealgate_s3_bytes_received_total", "UploadPart");
    let uploads = s3
        .list_multipart_uploads()
        .bucket("upl")
        .send()
        .await
        .unwrap();
    assert_eq!(uploads.uploads().len(), 1, "{:?}", uploads.uploads());
    let upload_id = uploads.uploads()[0].upload_id().unwrap().to_owned();
    let parts = s3
        .list_parts()
        .bucket("upl")
        .key("obj")
        .upload_id(&upload_id)
        .send()
        .await
        .unwrap();
    let uploaded: u64 = parts.parts().iter().map(|p| p.size().unwrap() as u64).sum();
    assert!(!parts.parts().is_empty());

    // Another upload of the same key with other bytes is not taken for this file's.
    let other = s3
        .create_multipart_upload()
        .bucket("upl")
        .key("obj")
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc64Nvme)
        .send()
        .await
        .unwrap();
    let other_id = other.upload_id().unwrap().to_owned();
    s3.upload_part()
        .bucket("upl")
        .key("obj")
        .upload_id(&other_id)
        .part_number(1)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc64Nvme)
        .body(random(8 * MIB).into())
        .send()
        .await
        .unwrap();

    let before = settled(&server, "sealgate_s3_bytes_received_total", "UploadPart");
    let said = ok(&cp_env(&server, &[src, "s3://upl/obj"], &[]));
    let resumed = parts.parts().len();
    assert!(
        said.contains(&format!(
            "in 3 parts ({resumed} resumed from an interrupted upload)"
        )),
        "{said}"
    );
    let received = metric(&server, "sealgate_s3_bytes_received_total", "UploadPart") - before;
    assert_eq!(received, size as u64 - uploaded);
    let got = s3
        .get_object()
        .bucket("upl")
        .key("obj")
        .send()
        .await
        .unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == source.as_slice());
    // The whole-object checksum was given and checked at Complete.
    let head = s3
        .head_object()
        .bucket("upl")
        .key("obj")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert!(head.checksum_crc64_nvme().is_some());
    assert_eq!(
        head.checksum_type(),
        Some(&aws_sdk_s3::types::ChecksumType::FullObject)
    );
    // Only the foreign upload is left in progress.
    let uploads = s3
        .list_multipart_uploads()
        .bucket("upl")
        .send()
        .await
        .unwrap();
    let left: Vec<&str> = uploads
        .uploads()
        .iter()
        .filter_map(|u| u.upload_id())
        .collect();
    assert_eq!(left, [other_id.as_str()]);
}

/// On a terminal (a pty from `script`) a progress bar is drawn on stderr; piped, nothing is.
#[tokio::test]
async fn the_progress_bar_shows_only_on_a_terminal() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("`script` (util-linux) is needed to give sealgate cp a terminal");
    }
    let server = Server::start();
    let s3 = server.s3().await;
    s3.create_bucket().bucket("tty").send().await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src.bin");
    std::fs::write(&src, random(17 * MIB)).unwrap();

    let piped = ok(&cp_env(
        &server,
        &[src.to_str().unwrap(), "s3://tty/a"],
        &[],
    ));
    assert!(!piped.contains("MiB of"), "{piped}");
    let command = format!(
        "{} cp {} s3://tty/b",
        common::bin().display(),
        src.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("AWS_ENDPOINT_URL", &server.s3_https)
        .env("AWS_CA_BUNDLE", &server.ca_path)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", REGION)
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(
        screen.contains("upload: ") && screen.contains(" of 17.0 MiB ("),
        "{screen}"
    );
    assert!(screen.contains("in 3 parts"), "{screen}");
}

/// Client-side encrypted files over 8 MiB go up as a multipart upload of the ciphertext (one
/// AES-GCM message with its tag at the end) and come back whole and verified.
#[tokio::test]
async fn cse_ciphertext_over_8_mib_goes_up_in_parts() {
    let server = Server::start();
    let s3 = server.s3().await;
    s3.create_bucket().bucket("cse").send().await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let keyfile = work.path().join("key");
    std::fs::write(&keyfile, random(32)).unwrap();
    let keyfile = keyfile.to_str().unwrap();
    let size = 17 * MIB + 5;
    let source = random(size);
    let src = work.path().join("src.bin");
    std::fs::write(&src, &source).unwrap();

    let said = ok(&cp_env(
        &server,
        &["--cse-c", keyfile, src.to_str().unwrap(), "s3://cse/obj"],
        &[],
    ));
    assert!(
        said.contains("CSE-C") && said.contains("in 3 parts"),
        "{said}"
    );
    let raw = s3
        .get_object()
        .bucket("cse")
        .key("obj")
        .send()
        .await
        .unwrap();
    assert!(raw.e_tag().unwrap().ends_with("-3\""), "{:?}", raw.e_tag());
    assert!(raw.metadata().unwrap().contains_key("x-amz-3"));
    let body = raw.body.collect().await.unwrap().into_bytes();
    assert_eq!(
        body.len(),
        size + 16,
        "one GCM message: the tag once, at the end"
    );
    assert!(!body.windows(64).any(|w| w == &source[..64]));

    let back = work.path().join("back.bin");
    let said = ok(&cp_env(
        &server,
        &["--cse-c", keyfile, "s3://cse/obj", back.to_str().unwrap()],
        &[],
    ));
    assert!(said.contains("CSE-C"), "{said}");
    assert!(std::fs::read(&back).unwrap() == source);
    let uploads = s3
        .list_multipart_uploads()
        .bucket("cse")
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty());
}
