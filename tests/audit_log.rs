//! The tamper-evident KMS audit log: a real server writes it through real KMS calls
//! (aws-sdk-kms); `sealgate audit verify` and `sealgate audit` run as processes on it.
//!
//! Each tamper case works on its own copy of the server's `kms` directory, changes the log the
//! way an attacker without the KMS root key could, and checks that verify exits non-zero and
//! names the right file, line and record.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_kms::primitives::Blob;
use common::{Options, Server};
use sha2::Digest;

const ALICE: (&str, &str) = (
    "ALICEACCESSKEY000001",
    "alice-secret-key-000000000000000000000001",
);

fn users_toml() -> String {
    format!(
        r#"
[[users]]
name = "alice"
access_key = "{}"
secret_key = "{}"
policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:*","Resource":"*"}}]}}'''
"#,
        ALICE.0, ALICE.1
    )
}

fn start(env: &[(&str, &str)], data_dir: Option<PathBuf>) -> Server {
    Server::start_with(Options {
        config_toml: Some(users_toml()),
        data_dir,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Options::default()
    })
}

/// Runs `sealgate audit <args>`; returns (exit code, stdout + stderr).
fn audit(args: &[&str]) -> (i32, String) {
    let out = Command::new(common::bin())
        .arg("audit")
        .args(args)
        .env_remove("SEALGATE_DATA_DIR")
        .output()
        .expect("run sealgate audit");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn verify(data_dir: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["verify", "--data-dir", data_dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    audit(&args)
}

/// Some KMS traffic: a key, encrypts, decrypts, a data key and a failing call.
async fn traffic(server: &Server, encrypts: usize) -> String {
    let kms = server.kms().await;
    let key = common::new_key_id(server).await;
    for i in 0..encrypts {
        let blob = kms
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new(format!("secret {i}")))
            .send()
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap();
        kms.decrypt().ciphertext_blob(blob).send().await.unwrap();
    }
    kms.generate_data_key()
        .key_id(&key)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    assert!(
        kms.describe_key()
            .key_id("alias/nope")
            .send()
            .await
            .is_err()
    );
    key
}

/// A copy of the server's `kms` dir (log files, head, root key) in a fresh data dir.
fn copy_kms(server: &Server) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("kms");
    std::fs::create_dir_all(&dst).unwrap();
    for entry in std::fs::read_dir(server.data_dir.join("kms")).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if name.starts_with("kms-audit") || name == "kms-root.key" {
            std::fs::copy(&p, dst.join(&name)).unwrap();
        }
    }
    (tmp, dst)
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap()
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// Concurrent KMS calls share audit syncs (group commit, docs/AUDIT.md): the log they leave
/// still verifies, holds every call exactly once, and its `seq` has no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_leave_a_complete_gapless_chain() {
    const CLIENTS: usize = 8;
    const EACH: usize = 25;
    let server = start(&[("SEALGATE_AUDIT_DIGEST_EVERY", "16")], None);
    let kms = server.kms().await;
    let key = common::new_key_id(&server).await;
    let calls = (0..CLIENTS).map(|c| {
        let (kms, key) = (kms.clone(), key.clone());
        tokio::spawn(async move {
            for i in 0..EACH {
                kms.encrypt()
                    .key_id(&key)
                    .plaintext(Blob::new(b"secret".to_vec()))
                    .encryption_context("call", format!("{c}-{i}"))
                    .send()
                    .await
                    .unwrap();
            }
        })
    });
    for call in futures::future::join_all(calls).await {
        call.unwrap();
    }

    let (code, out) = verify(&server.data_dir, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("OK: "), "{out}");
    let lines: Vec<serde_json::Value> =
        read_lines(&server.data_dir.join("kms").join("kms-audit.log"))
            .iter()
            .map(|l| json(l))
            .collect();
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..lines.len() as u64).collect::<Vec<_>>(), "no gap");
    let mut calls: Vec<String> = lines
        .iter()
        .filter(|l| l["event"] == "Encrypt")
        .map(|l| l["encryption_context"]["call"].as_str().unwrap().to_owned())
        .collect();
    calls.sort_unstable();
    let mut want: Vec<String> = (0..CLIENTS)
        .flat_map(|c| (0..EACH).map(move |i| format!("{c}-{i}")))
        .collect();
    want.sort_unstable();
    assert_eq!(calls, want, "every call audited exactly once");
}

#[tokio::test]
async fn every_tamper_case_is_detected_and_located() {
    let mut server = start(&[("SEALGATE_AUDIT_DIGEST_EVERY", "8")], None);
    traffic(&server, 6).await;
    server.stop();

    let log = server.data_dir.join("kms").join("kms-audit.log");
    let lines = read_lines(&log);
    assert!(lines.len() >= 17, "{} lines", lines.len());
    for (i, l) in lines.iter().enumerate() {
        let v = json(l);
        assert_eq!(v["seq"], i as u64, "line {i}");
        let expected_prev = if i == 0 {
            "0".repeat(64)
        } else {
            sha256_hex(lines[i - 1].as_bytes())
        };
        assert_eq!(v["prev"], expected_prev.as_str(), "line {i}");
    }
    let digests: Vec<usize> = (0..lines.len())
        .filter(|&i| json(&lines[i])["event"] == "AuditDigest")
        .collect();
    assert!(digests.len() >= 2, "digests at {digests:?}");
    assert_eq!(json(&lines[digests[0]])["records"], 8);
    assert_eq!(json(&lines[digests[0]])["last_seq"], digests[0] as u64 - 1);

    // Untampered: verifies.
    let (code, out) = verify(&server.data_dir, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("OK: "), "{out}");
    assert!(
        out.contains(&format!("{} signed digests", digests.len())),
        "{out}"
    );

    // The record to tamper with: the first Encrypt; `d` the first digest sealing it.
    let target = (0..lines.len())
        .find(|&i| json(&lines[i])["event"] == "Encrypt")
        .unwrap();
    let d = *digests.iter().find(|&&d| d > target + 1).unwrap();
    let loc = |line_index: usize| format!("kms-audit.log:{}: seq {}", line_index + 1, line_index);

    // 1. Edit a field of one record.
    let (_t, dir) = copy_kms(&server);
    let mut edited = lines.clone();
    edited[target] = edited[target].replace("\"success\"", "\"failure\"");
    assert_ne!(edited[target], lines[target]);
    write_lines(&dir.join("kms-audit.log"), &edited);
    let (code, out) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&loc(target)), "{out}");
    assert!(out.contains("modified"), "{out}");

    // 2. Delete one record: the next line is where the gap shows.
    let (_t, dir) = copy_kms(&server);
    let mut deleted = lines.clone();
    deleted.remove(target);
    write_lines(&dir.join("kms-audit.log"), &deleted);
    let (code, out) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("expected record seq {target}")),
        "{out}"
    );
    assert!(out.contains("deleted"), "{out}");
    assert!(
        out.contains(&format!("kms-audit.log:{}:", target + 1)),
        "{out}"
    );

    // 3. Swap two records.
    let (_t, dir) = copy_kms(&server);
    let mut swapped = lines.clone();
    swapped.swap(target, target + 1);
    write_lines(&dir.join("kms-audit.log"), &swapped);
    let (code, out) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("expected record seq {target}")),
        "{out}"
    );
    assert!(out.contains("reordered"), "{out}");

    // 4. Truncate: drop the last two records (the head still names the real end).
    let (_t, dir) = copy_kms(&server);
    write_lines(&dir.join("kms-audit.log"), &lines[..lines.len() - 2]);
    let (code, out) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("truncated"), "{out}");
    assert!(
        out.contains(&format!("seq {}", lines.len() - 1)),
        "names the missing last record: {out}"
    );

    // 4b. Truncate mid-record.
    let (_t, dir) = copy_kms(&server);
    let full = std::fs::read(&log).unwrap();
    std::fs::write(dir.join("kms-audit.log"), &full[..full.len() - 20]).unwrap();
    let (code, out) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("kms-audit.log:{}:", lines.len())),
        "{out}"
    );
    assert!(out.contains("incomplete last line"), "{out}");

    // 5. Forge a digest's signature.
    let (_t, dir) = copy_kms(&server);
    let mut forged = lines.clone();
    let mut v = json(&forged[d]);
    v["signature"] = serde_json::json!("ab".repeat(32));
    forged[d] = serde_json::to_string(&v).unwrap();
    write_lines(&dir.join("kms-audit.log"), &forged);
    let (code, out) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&loc(d)), "{out}");
    assert!(out.contains("digest signature is invalid"), "{out}");

    // 6. Edit a record and recompute the whole chain after it (what an attacker without the
    //    signing key can do): the next digest's signature no longer matches.
    let (_t, dir) = copy_kms(&server);
    let mut rechained: Vec<String> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let mut v = json(l);
        if i == target {
            v["outcome"] = serde_json::json!("failure");
        }
        if i > 0 {
            v["prev"] = serde_json::json!(sha256_hex(rechained[i - 1].as_bytes()));
        }
        // serde_json (preserve_order off) sorts keys; rewrite in the server's field order is
        // not needed: the chain is over whatever bytes are in the file.
        rechained.push(serde_json::to_string(&v).unwrap());
    }
    write_lines(&dir.join("kms-audit.log"), &rechained);
    let (code, out) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&loc(d)), "{out}");
    assert!(out.contains("digest signature is invalid"), "{out}");

    // 7. Older records archived away: refused from seq 0, accepted with --from.
    let (_t, dir) = copy_kms(&server);
    write_lines(&dir.join("kms-audit.log"), &lines[3..]);
    let (code, out) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not start at seq 0"), "{out}");
    let (code, out) = verify(dir.parent().unwrap(), &["--from", "3"]);
    assert_eq!(code, 0, "{out}");

    // 8. A forged head (signature of someone without the key).
    let (_t, dir) = copy_kms(&server);
    let head = std::fs::read_to_string(dir.join("kms-audit.head")).unwrap();
    let mut h = json(head.trim());
    h["signature"] = serde_json::json!("00".repeat(32));
    std::fs::write(
        dir.join("kms-audit.head"),
        serde_json::to_string(&h).unwrap(),
    )
    .unwrap();
    let (code, out) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("kms-audit.head"), "{out}");
}

#[tokio::test]
async fn rotation_and_restart_keep_the_chain() {
    let env = [
        ("SEALGATE_AUDIT_DIGEST_EVERY", "4"),
        ("SEALGATE_AUDIT_MAX_BYTES", "3000"),
    ];
    let mut server = start(&env, None);
    traffic(&server, 12).await;
    server.stop();
    let kms_dir = server.data_dir.join("kms");
    assert!(kms_dir.join("kms-audit.log.1").exists());
    assert!(kms_dir.join("kms-audit.log.2").exists());
    let (code, out) = verify(&server.data_dir, &[]);
    assert_eq!(code, 0, "{out}");

    // The chain crosses the file boundary: the current file's first prev is the hash of the
    // last line of .1, and each rotated file ends with a digest.
    let older = read_lines(&kms_dir.join("kms-audit.log.1"));
    assert_eq!(json(older.last().unwrap())["event"], "AuditDigest");
    let current = read_lines(&kms_dir.join("kms-audit.log"));
    if let Some(first) = current.first() {
        assert_eq!(
            json(first)["prev"],
            sha256_hex(older.last().unwrap().as_bytes()).as_str()
        );
        assert_eq!(
            json(first)["seq"].as_u64().unwrap(),
            json(older.last().unwrap())["seq"].as_u64().unwrap() + 1
        );
    }
    let last_seq = audit(&[
        "--data-dir",
        server.data_dir.to_str().unwrap(),
        "--format",
        "json",
        "--digests",
    ])
    .1
    .lines()
    .map(|l| json(l)["seq"].as_u64().unwrap())
    .max()
    .unwrap();

    // Restart on the same data dir: the chain continues where it stopped.
    let server2 = start(&env, Some(server.data_dir.clone()));
    let kms = server2.kms().await;
    kms.list_keys().send().await.unwrap();
    let (code, out) = verify(&server2.data_dir, &[]);
    assert_eq!(code, 0, "{out}");
    let all = audit(&[
        "--data-dir",
        server2.data_dir.to_str().unwrap(),
        "--format",
        "json",
        "--event",
        "ListKeys",
    ])
    .1;
    let listed: Vec<u64> = all
        .lines()
        .map(|l| json(l)["seq"].as_u64().unwrap())
        .collect();
    // (Startup itself may first audit a lookup of the SSE-S3 service key.)
    assert_eq!(listed.len(), 1, "{all}");
    assert!(listed[0] > last_seq && listed[0] <= last_seq + 4, "{all}");

    // Deleting a whole rotated file (one in the middle) is a gap in the sequence.
    let (_t, dir) = copy_kms(&server2);
    assert!(dir.join("kms-audit.log.3").exists());
    std::fs::remove_file(dir.join("kms-audit.log.2")).unwrap();
    let (code, out) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("deleted"), "{out}");
}

#[tokio::test]
async fn audit_filters_print_the_right_records() {
    let server = start(&[], None);
    let began = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let root = server.kms().await;
    let alice = server.kms_as(Some(ALICE)).await;
    let key_a = root
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let key_b = alice
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    for _ in 0..2 {
        root.encrypt()
            .key_id(&key_a)
            .plaintext(Blob::new("a"))
            .send()
            .await
            .unwrap();
    }
    alice
        .encrypt()
        .key_id(&key_b)
        .plaintext(Blob::new("b"))
        .send()
        .await
        .unwrap();
    let dd = server.data_dir.to_str().unwrap().to_string();
    let run = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["--data-dir", dd.as_str(), "--format", "json"];
        args.extend_from_slice(extra);
        let (code, out) = audit(&args);
        assert_eq!(code, 0, "{out}");
        out.lines().map(json).collect()
    };

    let a = run(&["--key", &key_a]);
    assert_eq!(a.len(), 3, "{a:?}"); // CreateKey + 2 Encrypt
    assert!(
        a.iter()
            .all(|r| r["key_arn"].as_str().unwrap().ends_with(&key_a))
    );
    let enc_b = run(&["--key", &key_b, "--event", "Encrypt"]);
    assert_eq!(enc_b.len(), 1, "{enc_b:?}");
    let alice_recs = run(&["--principal", "user/alice"]);
    assert_eq!(alice_recs.len(), 2, "{alice_recs:?}");
    assert!(
        alice_recs
            .iter()
            .all(|r| r["principal"].as_str().unwrap().ends_with(":user/alice"))
    );
    // Startup may create the SSE-S3 service key (another CreateKey) before `began`.
    let creates = run(&["--event", "CreateKey", "--since", &began]);
    assert_eq!(creates.len(), 2, "{creates:#?}");
    assert!(run(&["--since", "2999-01-01T00:00:00Z"]).is_empty());
    assert_eq!(run(&["--until", "2000-01-01T00:00:00Z"]).len(), 0);
    assert_eq!(run(&["--since", &began]).len(), 5);
    assert!(
        run(&["--until", &began])
            .iter()
            .all(|r| r["event"] != "Encrypt")
    );

    let (code, table) = audit(&["--data-dir", &dd, "--key", &key_b]);
    assert_eq!(code, 0, "{table}");
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows[0].starts_with("SEQ"), "{table}");
    assert_eq!(rows.len(), 3, "{table}");
    assert!(
        rows[1].contains("CreateKey") && rows[1].contains(&key_b),
        "{table}"
    );
    assert!(
        rows[2].contains("Encrypt") && rows[2].contains("user/alice"),
        "{table}"
    );

    let (code, out) = audit(&["--data-dir", &dd, "--since", "yesterday"]);
    assert_eq!(code, 2, "{out}");
}

/// Two KMS nodes (the second started from a copy of the first's data dir) keep a chain each:
/// `audit verify` with both data dirs checks each on its own and names the node that was
/// tampered with; `audit` with both merges their records by time with a NODE column.
#[tokio::test]
async fn several_nodes_verify_apart_and_list_merged() {
    let dir = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (dir.path().join("node-a"), dir.path().join("node-b"));
    let mut a = start(&[], Some(dir_a.clone()));
    traffic(&a, 1).await;
    a.stop();
    let status = Command::new("cp")
        .arg("-a")
        .arg(&dir_a)
        .arg(&dir_b)
        .status()
        .unwrap();
    assert!(status.success());
    let a = start(&[], Some(dir_a.clone()));
    let b = start(&[], Some(dir_b.clone()));
    // Alternate between the nodes, so a merged listing interleaves them.
    assert_ne!(a.kms_https, b.kms_https);
    for server in [&a, &b, &a] {
        server
            .kms()
            .await
            .generate_random()
            .number_of_bytes(8)
            .send()
            .await
            .unwrap();
    }
    let (da, db) = (dir_a.to_str().unwrap(), dir_b.to_str().unwrap());

    let (code, out) = audit(&["verify", "--data-dir", da, "--data-dir", db]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("{da}: OK:")) && out.contains(&format!("{db}: OK:")),
        "{out}"
    );

    let (code, out) = audit(&[
        "--data-dir",
        &format!("{da},{db}"),
        "--event",
        "GenerateRandom",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}");
    let nodes: Vec<String> = out
        .lines()
        .map(|l| json(l)["node"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(nodes, [da, db, da], "merged by time: {out}");
    let (code, out) = audit(&[
        "--data-dir",
        da,
        "--data-dir",
        db,
        "--event",
        "GenerateRandom",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.lines().next().unwrap().starts_with("NODE "), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with(db)).count(),
        1,
        "{out}"
    );

    // Tamper with node B's last record: verify names B and fails; A stays OK.
    drop((a, b));
    let log_b = dir_b.join("kms").join("kms-audit.log");
    let mut lines = read_lines(&log_b);
    let last = lines
        .iter()
        .rposition(|l| l.contains("\"GenerateRandom\""))
        .unwrap();
    lines[last] = lines[last].replace("GenerateRandom", "GenerateRandoM");
    write_lines(&log_b, &lines);
    let (code, out) = audit(&["verify", "--data-dir", da, "--data-dir", db]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("{da}: OK:")) && out.contains(&format!("{db}: TAMPERED:")),
        "{out}"
    );
}
