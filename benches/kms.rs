//! KMS benchmark: GenerateDataKey and Decrypt through the gateway's `Kms` trait, in-process
//! (`KmsService`) and over HTTPS (`RemoteKms` against a started `sealgate kms`), each on the
//! SQLite key store and on PostgreSQL (the fleet's shared store), at concurrency 1 and 8.
//! Prints throughput, p50/p99 latency and CPU per call, from /proc/<pid>/stat: of this process
//! (in-process: the KMS itself; over HTTPS: the `RemoteKms` client, i.e. what a gateway spends
//! per remote call), of the `sealgate kms` process (over HTTPS), and of PostgreSQL (its
//! postmaster and backends) — then the HTTPS/in-process ratios. CPU per call is what a fleet
//! is sized from (docs/SCALING.md): it holds up on a loaded machine where rates do not.
//!
//! `cargo bench --bench kms`. Operation counts: `SEALGATE_BENCH_KMS_LOCAL_N` (default 2000)
//! and `SEALGATE_BENCH_KMS_HTTPS_N` (default 500). PostgreSQL rows need Debian's `postgresql`
//! (`SEALGATE_PG_BIN`, as the tests; the rows are skipped without it). On a shared machine
//! compare the ratios and CPU figures, not the absolute rates.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "gateway/measure.rs"]
#[allow(dead_code)]
mod measure;

use sealgate::kms::remote;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{ACCESS_KEY, Options, REGION, SECRET_KEY, Server, pg};
use measure::cpu_seconds;
use remote::RemoteKms;
use sealgate::kms::{Caller, Kms, KmsConfig, KmsDb, KmsService, Source, api};

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
    /// CPU seconds per call: this process, the `sealgate kms` process, PostgreSQL.
    cpu: Cpu,
}

/// CPU seconds (user + system) of the processes a call involves.
#[derive(Clone, Copy, Default)]
struct Cpu {
    /// This process: the KMS in-process, the `RemoteKms` client over HTTPS.
    here: f64,
    /// The `sealgate kms` process (over HTTPS).
    server: f64,
    /// PostgreSQL's postmaster and backends.
    db: f64,
}

/// Where CPU time is read: the KMS server process and the database server, if any.
#[derive(Clone, Copy, Default)]
struct CpuProbe {
    server: Option<u32>,
    db: Option<u32>,
}

impl CpuProbe {
    fn read(self) -> Cpu {
        Cpu {
            here: cpu_seconds(std::process::id()),
            server: self.server.map_or(0.0, cpu_seconds),
            db: self.db.map_or(0.0, tree_cpu_seconds),
        }
    }
}

/// CPU seconds of process `root` and its children (PostgreSQL's postmaster and its backends,
/// which live as long as the KMS's connection does).
fn tree_cpu_seconds(root: u32) -> f64 {
    let children: f64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            rest.split_whitespace().nth(1) == Some(&root.to_string())
        })
        .map(cpu_seconds)
        .sum();
    cpu_seconds(root) + children
}

/// The postmaster of the test cluster (first line of `postmaster.pid`).
fn postmaster_pid(cluster: &pg::PgCluster) -> u32 {
    let pidfile = cluster.dir.join("data").join("postmaster.pid");
    std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|s| s.lines().next()?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {}", pidfile.display()))
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
    probe: CpuProbe,
) -> Row {
    // Warm-up: connections, SQLite page cache.
    for _ in 0..concurrency.max(4) {
        one(kms.as_ref(), &w, op).await;
    }
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = probe.read();
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
    let cpu_after = probe.read();
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
        cpu: Cpu {
            here: (cpu_after.here - cpu_before.here) / n as f64,
            server: (cpu_after.server - cpu_before.server) / n as f64,
            db: (cpu_after.db - cpu_before.db) / n as f64,
        },
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

/// GenerateDataKey and Decrypt at concurrency 1 and 8 against `kms`.
async fn measure_all(
    rows: &mut Vec<Row>,
    backend: &'static str,
    kms: Arc<dyn Kms>,
    w: Workload,
    n: usize,
    probe: CpuProbe,
) {
    let w = Arc::new(w);
    for op in [Op::GenerateDataKey, Op::Decrypt] {
        for c in [1, 8] {
            rows.push(measure(backend, kms.clone(), w.clone(), op, n, c, probe).await);
        }
    }
}

/// The embedded KMS on `db`, with a key made by the account root, through the trait.
async fn in_process(
    rows: &mut Vec<Row>,
    backend: &'static str,
    db: KmsDb,
    n: usize,
    probe: CpuProbe,
) {
    // Opened and given a key off the async runtime: PostgreSQL's client is synchronous.
    let (dir, svc, root, key_arn) = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = KmsConfig {
            db,
            ..KmsConfig::default()
        };
        let svc = KmsService::open(dir.path(), cfg).expect("KMS");
        let root = root_caller(svc.account_id());
        let created = api::dispatch(&svc, "CreateKey", b"{}", &root).expect("CreateKey");
        let key_arn = created["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
        (dir, svc, root, key_arn)
    })
    .await
    .expect("open the KMS");
    let local: Arc<dyn Kms> = Arc::new(svc);
    let w = workload(local.as_ref(), key_arn, root).await;
    measure_all(rows, backend, local, w, n, probe).await;
    drop(dir);
}

/// A `sealgate kms` process (on `kms_db`, or SQLite) called with `RemoteKms` over HTTPS.
async fn over_https(
    rows: &mut Vec<Row>,
    backend: &'static str,
    kms_db: Option<String>,
    n: usize,
    db_pid: Option<u32>,
) {
    let server = Server::start_with(Options {
        kms_only: true,
        kms_db,
        // RemoteKms signs as the root, named as a gateway so it may name the S3 caller (the
        // signed forward-access header), as a remote gateway does.
        config_toml: Some("kms_service_principals = [\"arn:aws:iam::000000000000:root\"]\n".into()),
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
    let w = workload(remote.as_ref(), key_arn, root_caller("000000000000")).await;
    let probe = CpuProbe {
        server: Some(server.pid()),
        db: db_pid,
    };
    measure_all(rows, backend, remote, w, n, probe).await;
}

fn root_caller(account: &str) -> Caller {
    Caller {
        arn: format!("arn:aws:iam::{account}:root"),
        account: account.to_string(),
        identity_policy: None,
        network: None,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let local_n = env_n("SEALGATE_BENCH_KMS_LOCAL_N", 2000);
    let https_n = env_n("SEALGATE_BENCH_KMS_HTTPS_N", 500);
    let mut rows = Vec::new();
    let me = CpuProbe::default();
    // The PostgreSQL rows, when PostgreSQL is installed: one database per KMS.
    let postgres = pg::cluster().map(|c| (c, postmaster_pid(c)));

    in_process(&mut rows, "in-process SQLite", KmsDb::Sqlite, local_n, me).await;
    if let Some((cluster, pm)) = postgres {
        let url = cluster.tls_url(&cluster.fresh_db());
        let db = KmsDb::parse(&url).expect("PostgreSQL URL");
        let probe = CpuProbe { db: Some(pm), ..me };
        in_process(&mut rows, "in-process PG", db, local_n, probe).await;
    }
    over_https(&mut rows, "HTTPS SQLite", None, https_n, None).await;
    if let Some((cluster, pm)) = postgres {
        let url = cluster.tls_url(&cluster.fresh_db());
        over_https(&mut rows, "HTTPS PG", Some(url), https_n, Some(pm)).await;
    }

    println!(
        "{:<18} {:<16} {:>4} {:>6} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9}",
        "backend",
        "operation",
        "conc",
        "n",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "here ms",
        "kms ms",
        "pg ms"
    );
    for r in &rows {
        println!(
            "{:<18} {:<16} {:>4} {:>6} {:>8.0} {:>8} {:>8} {:>9.3} {:>9.3} {:>9.3}",
            r.backend,
            r.op.name(),
            r.concurrency,
            r.n,
            r.ops_per_sec,
            ms(r.p50),
            ms(r.p99),
            r.cpu.here * 1000.0,
            r.cpu.server * 1000.0,
            r.cpu.db * 1000.0,
        );
    }
    println!(
        "CPU per call (user + system, /proc, 10 ms ticks): here = this process (the KMS \
         in-process, the RemoteKms client over HTTPS), kms = the sealgate kms process, pg = \
         PostgreSQL"
    );
    println!();
    println!("HTTPS / in-process (same store):");
    for r in rows.iter().filter(|r| r.backend.starts_with("HTTPS")) {
        let store = r.backend.trim_start_matches("HTTPS ");
        let Some(base) = rows.iter().find(|b| {
            b.backend == format!("in-process {store}")
                && b.op == r.op
                && b.concurrency == r.concurrency
        }) else {
            continue;
        };
        println!(
            "  {:<6} {:<16} conc {:>2}: throughput x{:.2}, p50 latency x{:.1}",
            store,
            r.op.name(),
            r.concurrency,
            r.ops_per_sec / base.ops_per_sec,
            r.p50.as_secs_f64() / base.p50.as_secs_f64()
        );
    }
}
