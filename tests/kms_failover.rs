//! Gateways over several KMS nodes (`--kms-endpoint` with a comma-separated list): calls skip a
//! node that is down, operations that change nothing move on to the next node after any
//! failure, others only when their request was never sent, and a gateway under SSE-KMS load
//! rides out a node killed mid-run with no failed request.
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{ACCESS_KEY, Options, REGION, SECRET_KEY, Server};
use sealgate::kms::remote::RemoteKms;
use sealgate::kms::{Caller, Kms, KmsClientError, Source};

fn root() -> Caller {
    Caller {
        arn: "arn:aws:iam::000000000000:root".into(),
        account: "000000000000".into(),
        identity_policy: None,
        network: None,
    }
}

fn source() -> Source {
    Source::S3Gateway {
        bucket: "bucket".into(),
        key: Some("object".into()),
        via: None,
    }
}

fn kms_node(data_dir: &Path) -> Server {
    Server::start_with(Options {
        kms_only: true,
        data_dir: Some(data_dir.to_path_buf()),
        // Gateways sign with the root credential: the KMS's service identity.
        config_toml: Some("kms_service_principals = [\"arn:aws:iam::000000000000:root\"]\n".into()),
        ..Default::default()
    })
}

/// `https://localhost:<port>` where nothing listens any more.
fn closed_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("https://localhost:{}", l.local_addr().unwrap().port())
}

/// An endpoint that accepts connections and never answers (a frozen node).
async fn silent_endpoint() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            open.push(sock);
        }
    });
    (format!("https://localhost:{port}"), held)
}

async fn key_count(server: &Server) -> usize {
    let kms = server.kms().await;
    kms.list_keys().send().await.unwrap().keys().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_skip_dead_nodes_and_only_safe_ones_outlive_a_silent_one() {
    let dir = tempfile::tempdir().unwrap();
    let live = kms_node(&dir.path().join("kms"));
    let key = common::new_key_arn(&live).await;
    let client = |endpoints: String| {
        RemoteKms::new(&endpoints, &live.ca_path, ACCESS_KEY, SECRET_KEY, REGION)
            .unwrap()
            .with_timeout(Duration::from_millis(800))
    };
    let ctx = BTreeMap::new();

    // A node that refuses connections: every call is answered by the live one.
    let dead = closed_endpoint();
    let fleet = client(format!("{dead},{}", live.kms_https));
    for _ in 0..4 {
        let dk = fleet
            .generate_data_key(&key, &ctx, &root(), &source())
            .await
            .expect("GenerateDataKey through the live node");
        assert_eq!(dk.key_arn, key);
    }
    let nodes = fleet.nodes();
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    assert!(!nodes[0].up && nodes[0].failures >= 1, "{nodes:?}");
    assert!(nodes[1].up && nodes[1].requests == 4, "{nodes:?}");
    assert_eq!(nodes[0].failovers, nodes[0].failures, "{nodes:?}");

    // A node that takes the request and never answers: GenerateDataKey and Decrypt (they
    // change nothing) go on to the live node...
    let (silent, held) = silent_endpoint().await;
    let fleet = client(format!("{silent},{}", live.kms_https));
    let dk = fleet
        .generate_data_key(&key, &ctx, &root(), &source())
        .await
        .expect("moved on to the live node");
    let opened = fleet
        .decrypt(&dk.ciphertext_blob, &ctx, None, &root(), &source())
        .await
        .expect("Decrypt");
    assert_eq!(*opened.plaintext, dk.plaintext[..]);
    assert!(!fleet.nodes()[0].up);

    // ...but a CreateKey the silent node may have carried out is not sent again elsewhere.
    let before = key_count(&live).await;
    let fresh = client(format!("{silent},{}", live.kms_https));
    let r = fresh.call("CreateKey", serde_json::json!({})).await;
    assert!(
        matches!(&r, Err(KmsClientError::Unavailable(m)) if m.contains("within")),
        "{r:?}"
    );
    assert_eq!(key_count(&live).await, before, "no second CreateKey");
    // While the silent node backs off, CreateKey goes to the live node.
    fresh
        .call("CreateKey", serde_json::json!({}))
        .await
        .expect("CreateKey on the live node");
    assert_eq!(key_count(&live).await, before + 1);
    held.abort();
}

fn metric_lines(server: &Server, name: &str) -> Vec<String> {
    let text = common::metrics_text(server.metrics_url.as_deref().expect("metrics URL"));
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .map(str::to_owned)
        .collect()
}

/// Two KMS nodes with the same keys (the second starts from a copy of the first's data dir,
/// as a node on a shared database would see them), one gateway listing both, SSE-KMS PUTs
/// and GETs from four clients; one node is killed a third of the way in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_rides_out_a_kms_node_killed_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let (dir_a, dir_b, dir_gw) = (
        dir.path().join("kms-a"),
        dir.path().join("kms-b"),
        dir.path().join("gateway"),
    );
    // First start: node A alone, a gateway that creates its SSE-S3 service key there, and
    // the customer key of the test.
    let mut a = kms_node(&dir_a);
    let gateway_toml = |endpoints: &str, ca: &Path| {
        format!(
            "kms_endpoint = \"{endpoints}\"\nkms_ca_file = \"{}\"\n",
            ca.display()
        )
    };
    let mut first = Server::start_with(Options {
        data_dir: Some(dir_gw.clone()),
        config_toml: Some(gateway_toml(&a.kms_https, &a.ca_path)),
        ..Default::default()
    });
    let key = common::new_key_arn(&a).await;
    first.stop();
    a.stop();
    common::copy_dir(&dir_a, &dir_b);
    let mut a = kms_node(&dir_a);
    let b = kms_node(&dir_b);
    let gateway = Server::start_with(Options {
        data_dir: Some(dir_gw.clone()),
        config_toml: Some(gateway_toml(
            &format!("{},{}", a.kms_https, b.kms_https),
            &a.ca_path,
        )),
        ..Default::default()
    });
    let s3 = gateway.s3().await;
    s3.create_bucket().bucket("fleet").send().await.unwrap();

    const CLIENTS: usize = 4;
    const ROUNDS: usize = 60; // each round: one PUT and one GET per client
    let kill_at = ROUNDS / 3;
    // SIGKILL mid-run, with pooled connections open to the node.
    let report = common::load::sse_kms_pairs(
        std::slice::from_ref(&s3),
        "fleet",
        &key,
        CLIENTS,
        ROUNDS,
        kill_at,
        || a.stop(),
    )
    .await;
    assert_eq!(report.pairs, CLIENTS * ROUNDS);
    assert!(
        report.failures.is_empty(),
        "{} of {} PUT+GET pairs failed: {:?}",
        report.failures.len(),
        report.pairs,
        report.failures
    );
    eprintln!(
        "{} SSE-KMS PUT+GET pairs, node A killed after round {kill_at}: 0 failed; \
         slowest pair after the kill {:?}",
        report.pairs, report.slowest_after
    );

    // The gateway shows A down and B up; both served calls before the kill.
    let host = |s: &Server| s.kms_https.trim_start_matches("https://").to_owned();
    let up = metric_lines(&gateway, "sealgate_kms_node_up");
    assert!(
        up.contains(&format!(
            "sealgate_kms_node_up{{endpoint=\"{}\"}} 0",
            host(&a)
        )) && up.contains(&format!(
            "sealgate_kms_node_up{{endpoint=\"{}\"}} 1",
            host(&b)
        )),
        "{up:?}"
    );
    let audit = |d: &Path| std::fs::read_to_string(d.join("kms").join("kms-audit.log")).unwrap();
    for (name, d) in [("A", &dir_a), ("B", &dir_b)] {
        assert!(
            audit(d).matches("\"GenerateDataKey\"").count() >= 5,
            "node {name} served GenerateDataKey calls"
        );
    }
}
