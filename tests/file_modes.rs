//! Everything the gateway and its KMS write under the data dir is owner-only — files 0600,
//! directories 0700 — whatever the umask, and a data dir left wider by an earlier build is
//! tightened at start. The real binary runs under umask 022 and real clients drive it.
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Options, Server};
use md5::Digest;

/// `(path, permission bits)` of one entry.
type Entry = (PathBuf, u32);

/// Every entry under `root` (and `root`), split into files and directories.
fn walk(root: &Path) -> (Vec<Entry>, Vec<Entry>) {
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mode = std::fs::symlink_metadata(&d).unwrap().permissions().mode() & 0o7777;
        dirs.push((d.clone(), mode));
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                files.push((e.path(), meta.permissions().mode() & 0o7777));
            }
        }
    }
    (files, dirs)
}

fn assert_owner_only(root: &Path) {
    let (files, dirs) = walk(root);
    let wide = |entries: &[Entry], want: u32| -> Vec<String> {
        entries
            .iter()
            .filter(|(_, m)| *m != want)
            .map(|(p, m)| format!("{} {m:o}", p.display()))
            .collect()
    };
    let (wide_files, wide_dirs) = (wide(&files, 0o600), wide(&dirs, 0o700));
    assert!(
        wide_files.is_empty() && wide_dirs.is_empty(),
        "files not 0600: {wide_files:?}\ndirectories not 0700: {wide_dirs:?}"
    );
    let names: Vec<String> = files
        .iter()
        .map(|(p, _)| p.strip_prefix(root).unwrap().display().to_string())
        .collect();
    for expected in [
        "kms/kms.sqlite3",
        "kms/kms-root.key",
        "kms/kms-audit.log",
        "kms/kms-audit.head",
        "tls/key.pem",
        "objects/system/sse-s3/v1",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    assert!(
        names.iter().any(|n| n.starts_with("objects/meta/")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("objects/data/")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("objects/uploads/")),
        "{names:?}"
    );
}

fn start(data_dir: Option<PathBuf>) -> Server {
    Server::start_with(Options {
        data_dir,
        launcher: ["sh", "-c", "umask 022 && exec \"$0\" \"$@\""]
            .map(String::from)
            .to_vec(),
        ..Options::default()
    })
}

/// PUTs in the three SSE modes, a completed and an open multipart upload, KMS keys.
async fn traffic(server: &Server) {
    let s3 = server.s3().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let key_id = common::new_key_id(server).await;
    s3.put_object()
        .bucket("bkt")
        .key("s3")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from(common::random(10_000)))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("bkt")
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_id)
        .body(ByteStream::from(common::random(10_000)))
        .send()
        .await
        .unwrap();
    let raw = common::random(32);
    s3.put_object()
        .bucket("bkt")
        .key("dir/ssec")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(STANDARD.encode(&raw))
        .sse_customer_key_md5(STANDARD.encode(md5::Md5::digest(&raw)))
        .body(ByteStream::from(common::random(10_000)))
        .send()
        .await
        .unwrap();
    for (key, complete) in [("mpu", true), ("open-mpu", false)] {
        let id = s3
            .create_multipart_upload()
            .bucket("bkt")
            .key(key)
            .send()
            .await
            .unwrap()
            .upload_id
            .unwrap();
        let mut parts = Vec::new();
        for (n, len) in [(1, 5 << 20), (2, 1000)] {
            let out = s3
                .upload_part()
                .bucket("bkt")
                .key(key)
                .upload_id(&id)
                .part_number(n)
                .body(ByteStream::from(common::random(len)))
                .send()
                .await
                .unwrap();
            parts.push(
                CompletedPart::builder()
                    .part_number(n)
                    .e_tag(out.e_tag.unwrap())
                    .build(),
            );
        }
        if complete {
            s3.complete_multipart_upload()
                .bucket("bkt")
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
    }
}

#[tokio::test]
async fn everything_written_is_owner_only_under_umask_022() {
    let server = start(None);
    traffic(&server).await;
    assert_owner_only(&server.data_dir);
}

#[tokio::test]
async fn a_data_dir_with_wider_modes_is_tightened_at_start() {
    let mut server = start(None);
    let data_dir = server.data_dir.clone();
    traffic(&server).await;
    server.stop();
    // As an earlier build under umask 022 left it: files 0644, directories 0755, plus
    // entries sealgate did not write.
    std::fs::create_dir(data_dir.join("extra")).unwrap();
    std::fs::write(data_dir.join("extra/notes.txt"), b"x").unwrap();
    let (files, dirs) = walk(&data_dir);
    // (Except the KMS root key: the KMS refuses to start with a root key others could read,
    // as a possible compromise, rather than have it fixed quietly.)
    let files: Vec<_> = files
        .into_iter()
        .filter(|(p, _)| !p.ends_with("kms/kms-root.key"))
        .collect();
    for (p, _) in &files {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    for (p, _) in &dirs {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let changed = files.len() + dirs.len();

    let server = start(Some(data_dir.clone()));
    assert_owner_only(&data_dir);
    let log = server.log();
    assert!(
        log.contains("tightened files and directories")
            && log.contains(&format!("entries={changed}")),
        "logs how many entries it tightened ({changed}):\n{log}"
    );
    // And it still serves what it had.
    let s3 = server.s3().await;
    let got = s3
        .get_object()
        .bucket("bkt")
        .key("mpu")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_length(), Some((5 << 20) + 1000));
}
