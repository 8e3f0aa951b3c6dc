//! The whole fleet of issue 18 as local processes: a real PostgreSQL, two `sealgate kms` nodes
//! on one database (the second started from a copy of the first's data dir: root key and TLS
//! identity), an S3 backend (moto), and two stateless gateways that list both KMS nodes. Four
//! clients PUT through one gateway and GET through the other, every call needing the KMS
//! (SSE-KMS, no bucket keys); one KMS node is killed with SIGKILL a third of the way in. No
//! request may fail, and every object written reads back afterwards through either gateway.
mod common;
mod moto;

use std::path::Path;

use common::{Options, Server, pg};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_kms_nodes_on_postgres_two_gateways_one_node_killed_under_load() {
    let Some(cluster) = pg::cluster() else {
        return;
    };
    let Some(moto) = moto::Moto::start() else {
        return;
    };
    let db = cluster.fresh_db();
    let url = cluster.tls_url(&db);
    let dir = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (dir.path().join("kms-a"), dir.path().join("kms-b"));
    let node = |data_dir: &Path| {
        Server::start_with(Options {
            kms_only: true,
            data_dir: Some(data_dir.to_path_buf()),
            kms_db: Some(url.clone()),
            // The gateways sign with the root credential: the KMS's service identity.
            config_toml: Some(
                "kms_service_principals = [\"arn:aws:iam::000000000000:root\"]\n".into(),
            ),
            ..Default::default()
        })
    };
    let mut a = node(&dir_a);
    a.stop();
    common::copy_dir(&dir_a, &dir_b);
    let mut a = node(&dir_a);
    let b = node(&dir_b);
    // A key made on node B is on node A too: they share the database.
    let key = common::new_key_arn(&b).await;

    let backend = moto.bucket("fleet").await;
    let toml = format!(
        "{}kms_endpoint = \"{},{}\"\nkms_ca_file = \"{}\"\n",
        moto.gateway_toml(&backend, Some("sealgate")),
        a.kms_https,
        b.kms_https,
        a.ca_path.display()
    );
    let gateway = || {
        Server::start_with(Options {
            config_toml: Some(toml.clone()),
            ..Default::default()
        })
    };
    let (g1, g2) = (gateway(), gateway());
    let (s1, s2) = (g1.s3().await, g2.s3().await);
    s1.create_bucket().bucket("fleet").send().await.unwrap();

    const CLIENTS: usize = 4;
    const ROUNDS: usize = 45;
    let kill_at = ROUNDS / 3;
    let report = common::load::sse_kms_pairs(
        &[s1.clone(), s2.clone()],
        "fleet",
        &key,
        CLIENTS,
        ROUNDS,
        kill_at,
        || a.stop(),
    )
    .await;
    assert!(
        report.failures.is_empty(),
        "{} of {} PUT+GET pairs failed: {:?}",
        report.failures.len(),
        report.pairs,
        report.failures
    );
    assert_eq!(report.pairs, CLIENTS * ROUNDS);
    eprintln!(
        "{} SSE-KMS PUT+GET pairs across 2 gateways, KMS node A killed after round {kill_at}: \
         0 failed; slowest pair after the kill {:?}",
        report.pairs, report.slowest_after
    );

    // Nothing lost: every object reads back through either gateway, on node B alone.
    for (i, (name, bytes)) in report.written.iter().enumerate() {
        let via = if i % 2 == 0 { &s1 } else { &s2 };
        let got = via
            .get_object()
            .bucket("fleet")
            .key(name)
            .send()
            .await
            .unwrap();
        assert_eq!(
            &got.body.collect().await.unwrap().into_bytes()[..],
            &bytes[..],
            "{name}"
        );
    }
    // Both nodes served the load before the kill, each in its own audit log.
    for (name, d) in [("A", &dir_a), ("B", &dir_b)] {
        let log = std::fs::read_to_string(d.join("kms").join("kms-audit.log")).unwrap();
        assert!(
            log.matches("\"GenerateDataKey\"").count() >= 5,
            "node {name} served GenerateDataKey calls"
        );
    }
}
