//! KMS benchmark: GenerateDataKey and Decrypt through the gateway's `Kms` trait, in-process
//! (`KmsService`) and over HTTPS (`RemoteKms` against a started `sealgate kms`), at concurrency
//! 1 and 8. Prints throughput and p50/p99 latency, then the HTTPS/in-process ratios.
//!
//! `cargo bench --bench kms`. Operation counts: `SEALGATE_BENCH_KMS_LOCAL_N` (default 2000)
//! and `SEALGATE_BENCH_KMS_HTTPS_N` (default 500). On a shared machine compare the ratios, not
//! the absolute numbers.

#[path = "../tests/common/mod.rs"]
mod common;

use sealgate::kms::remote;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{ACCESS_KEY, Options, REGION, SECRET_KEY, Server};
use remote::RemoteKms;
use sealgate::kms::{Caller, Kms, KmsConfig, KmsService, Source, api};

#[derive(Clone, Copy, PartialEq)]
enum Op {
    GenerateDataKey,
    Decrypt,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::GenerateDataKey => "GenerateDataKey",
            Op::Decrypt => "Decrypt",
        }
    }
}

struct Row {
    backend: &'static str,
    op: Op,
    concurrency: usize,
    n: usize,
    ops_per_sec: f64,
    p50: Duration,
    p99: Duration,
}

/// What every call needs: the key, a context, a blob to decrypt, an identity and a source.
struct Workload {
    key_id: String,
    context: BTreeMap<String, String>,
    blob: Vec<u8>,
    caller: Caller,
    source: Source,
}

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn one(kms: &dyn Kms, w: &Workload, op: Op) {
    match op {
        Op::GenerateDataKey => {
            kms.generate_data_key(&w.key_id, &w.context, &w.caller, &w.source)
                .await
                .expect("GenerateDataKey");
        }
        Op::Decrypt => {
            kms.decrypt(&w.blob, &w.context, None, &w.caller, &w.source)
                .await
                .expect("Decrypt");
        }
    }
}

async fn measure(
    backend: &'static str,
    kms: Arc<dyn Kms>,
    w: Arc<Workload>,
    op: Op,
    n: usize,
    concurrency: usize,
) -> Row {
    // Warm-up: connections, SQLite page cache.
    for _ in 0..concurrency.max(4) {
        one(kms.as_ref(), &w, op).await;
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (kms, w, next) = (kms.clone(), w.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let t = Instant::now();
                    one(kms.as_ref(), &w, op).await;
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(n);
    for worker in workers {
        latencies.extend(worker.await.expect("worker"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    Row {
        backend,
        op,
        concurrency,
        n,
        ops_per_sec: n as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

async fn workload(kms: &dyn Kms, key_id: String, caller: Caller) -> Workload {
    let context: BTreeMap<String, String> = [(
        "aws:s3:arn".to_string(),
        "arn:aws:s3:::bench/object".to_string(),
    )]
    .into();
    let source = Source::S3Gateway {
        bucket: "bench".into(),
        key: Some("object".into()),
        via: None,
    };
    let blob = kms
        .generate_data_key(&key_id, &context, &caller, &source)
        .await
        .expect("first data key")
        .ciphertext_blob;
    Workload {
        key_id,
        context,
        blob,
        caller,
        source,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let local_n = env_n("SEALGATE_BENCH_KMS_LOCAL_N", 2000);
    let https_n = env_n("SEALGATE_BENCH_KMS_HTTPS_N", 500);
    let mut rows = Vec::new();

    // In-process: the KmsService the gateway embeds, through the trait.
    let dir = tempfile::tempdir().expect("temp dir");
    let svc = KmsService::open(dir.path(), KmsConfig::default()).expect("KMS");
    let root = Caller {
        arn: format!("arn:aws:iam::{}:root", svc.account_id()),
        account: svc.account_id().to_string(),
        identity_policy: None,
        network: None,
    };
    let created = api::dispatch(&svc, "CreateKey", b"{}", &root).expect("CreateKey");
    let key_arn = created["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    let local: Arc<dyn Kms> = Arc::new(svc);
    let w = Arc::new(workload(local.as_ref(), key_arn, root.clone()).await);
    for op in [Op::GenerateDataKey, Op::Decrypt] {
        for c in [1, 8] {
            rows.push(measure("in-process", local.clone(), w.clone(), op, local_n, c).await);
        }
    }

    // Over HTTPS: RemoteKms against a separate `sealgate kms` process.
    let server = Server::start_with(Options {
        kms_only: true,
        ..Options::default()
    });
    let sdk = server.kms().await;
    let key_arn = sdk
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .and_then(|m| m.arn)
        .expect("key ARN");
    let remote: Arc<dyn Kms> = Arc::new(
        RemoteKms::new(
            &server.kms_https,
            &server.ca_path,
            ACCESS_KEY,
            SECRET_KEY,
            REGION,
        )
        .expect("RemoteKms"),
    );
    let w = Arc::new(workload(remote.as_ref(), key_arn, root).await);
    for op in [Op::GenerateDataKey, Op::Decrypt] {
        for c in [1, 8] {
            rows.push(measure("HTTPS RemoteKms", remote.clone(), w.clone(), op, https_n, c).await);
        }
    }
    drop(server);

    println!(
        "{:<16} {:<16} {:>4} {:>6} {:>10} {:>9} {:>9}",
        "backend", "operation", "conc", "n", "ops/s", "p50 ms", "p99 ms"
    );
    for r in &rows {
        println!(
            "{:<16} {:<16} {:>4} {:>6} {:>10.0} {:>9} {:>9}",
            r.backend,
            r.op.name(),
            r.concurrency,
            r.n,
            r.ops_per_sec,
            ms(r.p50),
            ms(r.p99)
        );
    }
    println!();
    println!("HTTPS / in-process:");
    for r in rows.iter().filter(|r| r.backend != "in-process") {
        let Some(base) = rows
            .iter()
            .find(|b| b.backend == "in-process" && b.op == r.op && b.concurrency == r.concurrency)
        else {
            continue;
        };
        println!(
            "  {:<16} conc {:>2}: throughput x{:.2}, p50 latency x{:.1}",
            r.op.name(),
            r.concurrency,
            r.ops_per_sec / base.ops_per_sec,
            r.p50.as_secs_f64() / base.p50.as_secs_f64()
        );
    }
}
