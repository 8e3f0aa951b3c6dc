//! The KMS on PostgreSQL (`--kms-db postgres://…`) as a fleet: two `sealgate kms` nodes, the
//! second started from a copy of the first's data directory (root key, TLS identity), share
//! one database. A key made on one node works on the other, and calendar work (automatic
//! rotation, the end of a deletion window) happens once across both even when both nodes run
//! it at the same moment. The database is a real PostgreSQL ([`common::pg`]) reached over TLS
//! that verifies the server. Sealed (`sealgate kms init-shares`), each node waits for its own
//! shares: unsealing one leaves the other sealed. The rest of the KMS API suite runs on PostgreSQL with
//! `SEALGATE_TEST_KMS_DB=postgres cargo test --test kms_api` (see scripts/test).
mod common;

use std::path::Path;
use std::process::Command;

use aws_sdk_kms::primitives::Blob;
use common::seal::{init_shares, kms_once, sdk_failure};
use common::{Options, Server, advance_clock, kms_cli, pg};

const DAY: u64 = 86_400;

/// Node 1 on a fresh database, and node 2 from a copy of node 1's data directory (without
/// its audit log: each node keeps its own).
fn two_nodes(cluster: &pg::PgCluster) -> (Server, Server, String) {
    let db = cluster.fresh_db();
    let url = cluster.tls_url(&db);
    let node = |data_dir: Option<std::path::PathBuf>| {
        Server::start_with(Options {
            kms_only: true,
            test_clock: true,
            data_dir,
            kms_db: Some(url.clone()),
            ..Options::default()
        })
    };
    let first = node(None);
    let copy = tempfile::tempdir().unwrap().keep().join("data");
    copy_dir(&first.data_dir, &copy);
    let second = node(Some(copy));
    (first, second, db)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("kms-audit.log") {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// How many audit records of `event` for `key_id` the node's log holds.
fn audited(server: &Server, event: &str, key_id: &str) -> usize {
    let log = std::fs::read_to_string(server.data_dir.join("kms").join("kms-audit.log"))
        .unwrap_or_default();
    log.lines()
        .filter(|l| l.contains(&format!("\"{event}\"")) && l.contains(key_id))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_serve_the_same_keys() {
    let Some(cluster) = pg::cluster() else { return };
    let (first, second, db) = two_nodes(cluster);
    let (k1, k2) = (first.kms().await, second.kms().await);

    let key = k1.create_key().description("shared").send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let blob = k1
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"one key, two nodes".to_vec()))
        .encryption_context("bucket", "b1")
        .send()
        .await
        .unwrap()
        .ciphertext_blob()
        .unwrap()
        .clone();
    let plain = k2
        .decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("bucket", "b1")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.plaintext().unwrap().as_ref(), b"one key, two nodes");
    assert_eq!(plain.key_id(), key.key_metadata().unwrap().arn());

    // An alias made on node 2 names the key on node 1; disabling on node 1 stops node 2.
    k2.create_alias()
        .alias_name("alias/fleet")
        .target_key_id(&key_id)
        .send()
        .await
        .unwrap();
    let described = k1
        .describe_key()
        .key_id("alias/fleet")
        .send()
        .await
        .unwrap();
    assert_eq!(described.key_metadata().unwrap().key_id(), key_id);
    k1.disable_key().key_id(&key_id).send().await.unwrap();
    let err = k2
        .decrypt()
        .ciphertext_blob(blob)
        .encryption_context("bucket", "b1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_kms::error::ProvideErrorMetadata::code(&err),
        Some("DisabledException")
    );

    // Both nodes migrated one schema, to the newest step this build knows (4: the replicas
    // of multi-Region keys): one version row.
    let version = "SELECT MAX(version) FROM kms_schema_version";
    assert_eq!(cluster.scalar(&db, version, &[]), 4);
    let rows = "SELECT COUNT(*) FROM kms_schema_version";
    assert_eq!(cluster.scalar(&db, rows, &[]), 1);
    // Nothing of the key store is on either node's disk.
    for node in [&first, &second] {
        assert!(!node.data_dir.join("kms").join("kms.sqlite3").exists());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_rotation_and_deletion_happen_once_across_nodes() {
    let Some(cluster) = pg::cluster() else { return };
    let (first, second, db) = two_nodes(cluster);
    let (k1, k2) = (first.kms().await, second.kms().await);

    let mut rotating = Vec::new();
    for _ in 0..6 {
        let id = k1
            .create_key()
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .key_id()
            .to_owned();
        k2.enable_key_rotation()
            .key_id(&id)
            .rotation_period_in_days(90)
            .send()
            .await
            .unwrap();
        rotating.push(id);
    }
    let doomed = k2
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    k1.schedule_key_deletion()
        .key_id(&doomed)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();

    // Both nodes' clocks pass the rotation date and the deletion date at once; each then
    // runs its due work, racing the other for every key.
    tokio::join!(advance_clock(&k1, 91 * DAY), advance_clock(&k2, 91 * DAY));

    for id in &rotating {
        let rotations = k2.list_key_rotations().key_id(id).send().await.unwrap();
        assert_eq!(rotations.rotations().len(), 1, "key {id} rotated once");
        let materials = cluster.scalar(
            &db,
            "SELECT COUNT(*) FROM materials WHERE key_id = $1",
            &[id],
        );
        assert_eq!(
            materials, 2,
            "key {id}: the first material and one rotation"
        );
        assert_eq!(
            audited(&first, "RotateKey", id) + audited(&second, "RotateKey", id),
            1,
            "one node audits the rotation of {id}"
        );
    }
    // How often the database made a node run a transaction again (informative: whether the
    // two nodes collided depends on timing; the counts above hold either way).
    let retries: usize = [&first, &second]
        .iter()
        .map(|n| n.log().matches("key store conflict").count())
        .sum();
    eprintln!("transactions retried after a conflict: {retries}");
    for kms in [&k1, &k2] {
        let err = kms.describe_key().key_id(&doomed).send().await.unwrap_err();
        assert_eq!(
            aws_sdk_kms::error::ProvideErrorMetadata::code(&err),
            Some("NotFoundException")
        );
    }
    assert_eq!(
        audited(&first, "DeleteKey", &doomed) + audited(&second, "DeleteKey", &doomed),
        1,
        "one node audits the deletion"
    );
}

/// Two nodes on one database, sealed with the same shares (node 2 started from a copy of node
/// 1's sealed data directory): each refuses every call until its own operators present enough
/// shares; once both are unsealed they serve the same keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_nodes_are_unsealed_one_by_one() {
    let Some(cluster) = pg::cluster() else { return };
    let db = cluster.fresh_db();
    let url = cluster.tls_url(&db);
    let base = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (base.path().join("a"), base.path().join("b"));
    // Sealed from the start: the root key is only ever written encrypted.
    let shares = init_shares(&dir_a, 3, 2);
    copy_dir(&dir_a, &dir_b);
    let node = |data_dir: &Path| {
        Server::start_with(Options {
            kms_only: true,
            data_dir: Some(data_dir.to_path_buf()),
            kms_db: Some(url.clone()),
            ..Options::default()
        })
    };
    let (a, b) = (node(&dir_a), node(&dir_b));
    let (ka, kb) = (kms_once(&a).await, kms_once(&b).await);
    for kms in [&ka, &kb] {
        let (status, code, message) = sdk_failure(kms.list_keys().send().await);
        assert_eq!((status, code.as_str()), (503, "KMSInternalException"));
        assert!(message.contains("0 of 2 shares presented"), "{message}");
        let (status, _, _) = sdk_failure(kms.create_key().send().await);
        assert_eq!(status, 503);
    }

    // Node A's operators present two shares: A serves, B is as sealed as before.
    for (share, want) in [(&shares[0], "Sealed: 1 of 2"), (&shares[1], "Unsealed.")] {
        let (ok, out, err) = kms_cli(&a, None, &["unseal", share], "");
        assert!(ok && out.contains(want), "{out}{err}");
    }
    let key = ka.create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let blob = common::kms_encrypt(&ka, &key_id, b"sealed fleet".to_vec()).await;
    let (status, code, message) =
        sdk_failure(kb.decrypt().ciphertext_blob(blob.clone()).send().await);
    assert_eq!((status, code.as_str()), (503, "KMSInternalException"));
    assert!(message.contains("0 of 2 shares presented"), "{message}");
    // The key is in the shared database, sealed under the root key B cannot open yet.
    let rows = "SELECT COUNT(*) FROM materials WHERE key_id = $1";
    assert_eq!(cluster.scalar(&db, rows, &[&key_id]), 1);

    // Node B, with another pair of the same shares: it decrypts what A encrypted.
    for (share, want) in [(&shares[2], "Sealed: 1 of 2"), (&shares[0], "Unsealed.")] {
        let (ok, out, err) = kms_cli(&b, None, &["unseal", share], "");
        assert!(ok && out.contains(want), "{out}{err}");
    }
    let plain = kb.decrypt().ciphertext_blob(blob).send().await.unwrap();
    assert_eq!(plain.plaintext().unwrap().as_ref(), b"sealed fleet");
    assert_eq!(plain.key_id(), key.key_metadata().unwrap().arn());

    // Each node's audit log holds its own unseal and its sealed-time refusals, nothing else's.
    for (node, refused) in [(&a, "ListKeys"), (&b, "Decrypt")] {
        let log = std::fs::read_to_string(node.data_dir.join("kms").join("kms-audit.log")).unwrap();
        let unseals = log
            .lines()
            .filter(|l| l.contains("\"event\":\"Unseal\""))
            .count();
        assert_eq!(unseals, 2, "{log}");
        assert!(log.contains(&format!("\"event\":\"{refused}\"")), "{log}");
    }
    assert_eq!(audited(&a, "CreateKey", &key_id), 1);
    assert_eq!(audited(&b, "CreateKey", &key_id), 0);
}

/// The server certificate is verified: a KMS given another CA than the one that signed the
/// database's certificate does not start (and says why).
#[test]
fn database_certificate_is_verified() {
    let Some(cluster) = pg::cluster() else { return };
    let db = cluster.fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let other_ca = dir.path().join("other-ca.pem");
    let other = rcgen::CertifiedIssuer::self_signed(
        {
            let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            p
        },
        rcgen::KeyPair::generate().unwrap(),
    )
    .unwrap();
    std::fs::write(&other_ca, other.pem()).unwrap();
    let url = cluster.tls_url(&db).replace(
        &cluster.ca.display().to_string(),
        &other_ca.display().to_string(),
    );
    let out = Command::new(common::bin())
        .args(["kms", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--kms-db")
        .arg(&url)
        .env_remove("SEALGATE_KMS_DB")
        .env_remove("SEALGATE_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started on an unverified database");
    assert!(
        stderr.contains("TLS handshake") && stderr.contains("invalid peer certificate"),
        "{stderr}"
    );
    let tables = cluster.scalar(
        &db,
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'keys'",
        &[],
    );
    assert_eq!(
        tables, 0,
        "nothing was written over the unverified connection"
    );
}

/// Without TLS (`sslmode=disable`, a database on a trusted network) the KMS works the same.
#[tokio::test]
async fn plain_connection_works() {
    let Some(cluster) = pg::cluster() else { return };
    let db = cluster.fresh_db();
    let server = Server::start_with(Options {
        kms_only: true,
        kms_db: Some(cluster.plain_url(&db)),
        ..Options::default()
    });
    let kms = server.kms().await;
    let key = kms.create_key().send().await.unwrap();
    let id = key.key_metadata().unwrap().key_id();
    let stored = cluster.scalar(&db, "SELECT COUNT(*) FROM keys WHERE key_id = $1", &[id]);
    assert_eq!(stored, 1);
}
