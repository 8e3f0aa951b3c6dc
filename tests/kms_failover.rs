//! Gateways over several KMS nodes (`--kms-endpoint` with a comma-separated list): calls skip a
//! node that is down, operations that change nothing move on to the next node after any
//! failure, others only when their request was never sent, and a gateway under SSE-KMS load
//! rides out a node killed mid-run with no failed request.
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use common::{ACCESS_KEY, Options, REGION, SECRET_KEY, Server};
use sealgate::kms::remote::RemoteKms;
use sealgate::kms::{Caller, Kms, KmsClientError, Source};

fn root() -> Caller {
    Caller {
        arn: "arn:aws:iam::000000000000:root".into(),
        account: "000000000000".into(),
        identity_policy: None,
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
    let key = live
        .kms()
        .await
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
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

fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
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
    let key = a
        .kms()
        .await
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    first.stop();
    a.stop();
    copy_dir(&dir_a, &dir_b);
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
    let (tx, mut rx) =
        tokio::sync::mpsc::unbounded_channel::<(usize, Duration, Result<(), String>)>();
    let (round_tx, round_rx) = tokio::sync::watch::channel(0usize);
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (s3, key, tx, mut round_rx) = (s3.clone(), key.clone(), tx.clone(), round_rx.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                while *round_rx.borrow() < round {
                    round_rx.changed().await.unwrap();
                }
                let name = format!("c{c}/r{round}");
                let body = common::random(1000 + c * 7 + round);
                let started = Instant::now();
                let put = s3
                    .put_object()
                    .bucket("fleet")
                    .key(&name)
                    .server_side_encryption(ServerSideEncryption::AwsKms)
                    .ssekms_key_id(&key)
                    .body(ByteStream::from(body.clone()))
                    .send()
                    .await;
                let outcome = match put {
                    Err(e) => Err(format!("PUT {name}: {e:?}")),
                    Ok(_) => match s3.get_object().bucket("fleet").key(&name).send().await {
                        Err(e) => Err(format!("GET {name}: {e:?}")),
                        Ok(got) => {
                            let bytes = got.body.collect().await.unwrap().into_bytes();
                            if bytes[..] == body[..] {
                                Ok(())
                            } else {
                                Err(format!("GET {name}: other bytes"))
                            }
                        }
                    },
                };
                tx.send((round, started.elapsed(), outcome)).unwrap();
            }
        }));
    }
    drop(tx);
    let mut failures = Vec::new();
    let (mut done, mut slowest_after_kill) = (0usize, Duration::ZERO);
    let mut per_round = vec![0usize; ROUNDS];
    while let Some((round, took, outcome)) = rx.recv().await {
        done += 1;
        if let Err(e) = outcome {
            failures.push(e);
        }
        if round >= kill_at {
            slowest_after_kill = slowest_after_kill.max(took);
        }
        per_round[round] += 1;
        if per_round[round] == CLIENTS {
            if round + 1 == kill_at {
                a.stop(); // SIGKILL, mid-run, with pooled connections open to it
            }
            round_tx.send(round + 1).unwrap();
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(done, CLIENTS * ROUNDS);
    assert!(
        failures.is_empty(),
        "{} of {} PUT+GET pairs failed: {failures:?}",
        failures.len(),
        done
    );
    eprintln!(
        "{done} SSE-KMS PUT+GET pairs, node A killed after round {kill_at}: 0 failed; \
         slowest pair after the kill {slowest_after_kill:?}"
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
