//! Gateway benchmark: drives a release `sealgate serve` over loopback with the AWS Rust SDK and
//! measures, side by side in one run, each encryption mode against the same code path with
//! encryption off (a plaintext comparison bucket) and against the ideal gateway (only the
//! cipher and MD5 work, in this process, with the server's crates).
//!
//! `cargo bench --bench gateway`. Environment:
//! - `SEALGATE_BENCH_QUICK=1`: smaller objects and fewer rounds.
//! - `SEALGATE_BENCH_ONLY=stream,concurrency`: only these phases, of `table` (the per-mode
//!   table against plaintext), `stream` (big PUT/GET per mode against the ideal gateway, server
//!   and client CPU per GB, the 2-core and free-core bounds, the GET server floor, range-read
//!   bytes), `concurrency` (8 parallel big GETs, 64 parallel 4 KiB GETs), `small` (4 KiB PUTs
//!   with and without fsync, beside the filesystem's floor), `peer` (against s3s-fs, plain HTTP; set
//!   `SEALGATE_BENCH_PEER=1` once to install it), `memory` (RSS over idle while a 5 GiB object
//!   streams up and down, 1 GiB quick, and under 100 slow clients), `kms` (KMS calls and server CPU
//!   per 1,000 64 KiB PUTs and GETs per mode),
//!   `rekey` (re-key by copy against a full rewrite). Default: all.
//! - `SEALGATE_BENCH_KEEP=1`: leave the servers' files when the run ends, and print where; the
//!   next run may then start at once (removing many files makes the next run that creates
//!   files wait: `gateway/deletions.rs`).
//!
//! The results are printed and written to `$CARGO_TARGET_DIR/bench-gateway.json`. Figures on a
//! shared machine are noisy: compare the ratios, not the absolute numbers (docs/PERFORMANCE.md).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "gateway/concurrency.rs"]
mod concurrency;
#[path = "gateway/deletions.rs"]
mod deletions;
#[path = "gateway/floor.rs"]
mod floor;
#[path = "gateway/ideal.rs"]
mod ideal;
#[path = "gateway/measure.rs"]
mod measure;
#[path = "gateway/memory.rs"]
mod memory;
#[path = "gateway/peer.rs"]
mod peer;
#[path = "gateway/put_floor.rs"]
mod put_floor;
#[path = "gateway/small.rs"]
mod small;
#[path = "gateway/stream.rs"]
mod stream;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use common::{Options, Server};
use measure::{Report, mbps};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Plain,
    SseS3,
    SseKms,
    SseKmsBucketKey,
    SseC,
}

/// Which listener a request goes to, and how the client signs a PUT's body.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Transport {
    /// The SDK's default for an in-memory body: the payload's SHA-256 is signed, so the client
    /// hashes the whole body before it sends and the server hashes it again to check.
    Https,
    /// `UNSIGNED-PAYLOAD` over HTTPS, as the aws CLI and boto3 send a PUT over HTTPS: neither
    /// side computes the body's SHA-256.
    HttpsUnsigned,
    /// The plain-HTTP listener: the same work minus TLS (SSE-C refuses it).
    Http,
}

const SSE_C_KEY: &str = "MTIzNDU2Nzg5MGFiY2RlZjEyMzQ1Njc4OTBhYmNkZWY=";
const SSE_C_MD5: &str = "JMwgiexXqwuPqIPjYFmIZQ==";

impl Mode {
    fn bucket(self) -> &'static str {
        if self == Mode::Plain { "plain" } else { "enc" }
    }
    fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plaintext",
            Mode::SseS3 => "SSE-S3",
            Mode::SseKms => "SSE-KMS",
            Mode::SseKmsBucketKey => "SSE-KMS+bucket key",
            Mode::SseC => "SSE-C",
        }
    }
}

/// A body shared with the request rather than copied into it.
struct Shared(Arc<Vec<u8>>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

struct Bench {
    s3: aws_sdk_s3::Client,
    s3_http: aws_sdk_s3::Client,
}

impl Bench {
    async fn new(server: &Server) -> Bench {
        let b = Bench {
            s3: server.s3().await,
            s3_http: server.s3_plain(),
        };
        for bucket in ["plain", "enc"] {
            b.s3.create_bucket().bucket(bucket).send().await.unwrap();
        }
        b
    }

    fn client(&self, transport: Transport) -> &aws_sdk_s3::Client {
        match transport {
            Transport::Https | Transport::HttpsUnsigned => &self.s3,
            Transport::Http => &self.s3_http,
        }
    }

    async fn put(&self, mode: Mode, transport: Transport, key: &str, data: Arc<Vec<u8>>) {
        let mut r = self
            .client(transport)
            .put_object()
            .bucket(mode.bucket())
            .key(key)
            // Shared, not copied: a copy of the body would be the benchmark's CPU, not the
            // client's (the `stream` phase counts the client's CPU per GB).
            .body(ByteStream::from(bytes::Bytes::from_owner(Shared(data))));
        r = match mode {
            Mode::Plain => r,
            Mode::SseS3 => r.server_side_encryption(ServerSideEncryption::Aes256),
            Mode::SseKms => r.server_side_encryption(ServerSideEncryption::AwsKms),
            Mode::SseKmsBucketKey => r
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .bucket_key_enabled(true),
            Mode::SseC => r
                .sse_customer_algorithm("AES256")
                .sse_customer_key(SSE_C_KEY)
                .sse_customer_key_md5(SSE_C_MD5),
        };
        if transport == Transport::HttpsUnsigned {
            r.customize()
                .disable_payload_signing()
                .send()
                .await
                .expect("put");
        } else {
            r.send().await.expect("put");
        }
    }

    async fn get(&self, mode: Mode, transport: Transport, key: &str) -> usize {
        let mut r = self
            .client(transport)
            .get_object()
            .bucket(mode.bucket())
            .key(key);
        if mode == Mode::SseC {
            r = r
                .sse_customer_algorithm("AES256")
                .sse_customer_key(SSE_C_KEY)
                .sse_customer_key_md5(SSE_C_MD5);
        }
        let out = r.send().await.expect("get");
        out.body.collect().await.expect("body").into_bytes().len()
    }
}

/// Runs `n` operations with `concurrency` in flight; returns the elapsed time.
async fn run<F, Fut>(n: usize, concurrency: usize, f: F) -> Duration
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::StreamExt;
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(&f)
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
    start.elapsed()
}

fn random(len: usize) -> Arc<Vec<u8>> {
    use rand::RngCore;
    let mut v = vec![0u8; len];
    rand::rng().fill_bytes(&mut v);
    Arc::new(v)
}

/// A field of /proc/<pid>/status or /proc/<pid>/io, in bytes.
fn proc_field(pid: u32, file: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|v| if file == "status" { v * 1024 } else { v })
        .unwrap_or(0)
}

/// Per mode: 1 MiB objects 8 at a time, one big object, 4 KiB objects; best of `rounds`,
/// printed as ratios against plaintext.
async fn table(b: &Bench, quick: bool, big_data: &Arc<Vec<u8>>) {
    let modes = [
        Mode::Plain,
        Mode::SseS3,
        Mode::SseKms,
        Mode::SseKmsBucketKey,
        Mode::SseC,
    ];
    let rounds = if quick { 1 } else { 3 };
    let small_n = if quick { 200 } else { 1000 };
    let mib_n = if quick { 16 } else { 64 };

    println!(
        "\nper-mode table ({} rounds, best of each; loopback HTTPS, aws-sdk-s3)",
        rounds
    );
    let one_mib = random(1 << 20);
    let four_kib = random(4096);
    let big = big_data.len();
    // mode -> [put 1MiB MB/s, get 1MiB MB/s, put big MB/s, get big MB/s, 4KiB put ops/s, 4KiB get ops/s, get p50 ms]
    let mut best: Vec<[f64; 7]> = vec![[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, f64::MAX]; modes.len()];
    for round in 0..rounds {
        for (i, &mode) in modes.iter().enumerate() {
            let tag = format!("{}-{round}", mode.name().replace([' ', '+'], "_"));
            let d = run(mib_n, 8, |j| {
                let (b, data, k) = (&b, one_mib.clone(), format!("{tag}/m{j}"));
                async move { b.put(mode, Transport::Https, &k, data).await }
            })
            .await;
            best[i][0] = best[i][0].max(mbps(mib_n << 20, d));
            let d = run(mib_n, 8, |j| {
                let (b, k) = (&b, format!("{tag}/m{j}"));
                async move {
                    b.get(mode, Transport::Https, &k).await;
                }
            })
            .await;
            best[i][1] = best[i][1].max(mbps(mib_n << 20, d));
            let t = Instant::now();
            b.put(
                mode,
                Transport::Https,
                &format!("{tag}/big"),
                big_data.clone(),
            )
            .await;
            best[i][2] = best[i][2].max(mbps(big, t.elapsed()));
            let t = Instant::now();
            assert_eq!(
                b.get(mode, Transport::Https, &format!("{tag}/big")).await,
                big
            );
            best[i][3] = best[i][3].max(mbps(big, t.elapsed()));
            let d = run(small_n, 8, |j| {
                let (b, data, k) = (&b, four_kib.clone(), format!("{tag}/s{j}"));
                async move { b.put(mode, Transport::Https, &k, data).await }
            })
            .await;
            best[i][4] = best[i][4].max(small_n as f64 / d.as_secs_f64());
            let d = run(small_n, 8, |j| {
                let (b, k) = (&b, format!("{tag}/s{j}"));
                async move {
                    b.get(mode, Transport::Https, &k).await;
                }
            })
            .await;
            best[i][5] = best[i][5].max(small_n as f64 / d.as_secs_f64());
            let mut lat = Vec::new();
            for j in 0..200.min(small_n) {
                let t = Instant::now();
                b.get(mode, Transport::Https, &format!("{tag}/s{j}")).await;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
            best[i][6] = best[i][6].min(lat[lat.len() / 2]);
            let _ =
                b.s3.delete_object()
                    .bucket(mode.bucket())
                    .key(format!("{tag}/big"))
                    .send()
                    .await;
        }
    }
    println!(
        "{:<20} {:>13} {:>13} {:>13} {:>13} {:>11} {:>11} {:>9}",
        "mode",
        "PUT 1MiB x8",
        "GET 1MiB x8",
        format!("PUT {}MiB", big >> 20),
        format!("GET {}MiB", big >> 20),
        "PUT 4KiB/s",
        "GET 4KiB/s",
        "GET p50"
    );
    for (i, mode) in modes.iter().enumerate() {
        let r = best[i];
        println!(
            "{:<20} {:>8.1} MB/s {:>8.1} MB/s {:>8.1} MB/s {:>8.1} MB/s {:>11.0} {:>11.0} {:>6.2} ms",
            mode.name(),
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6]
        );
    }
    println!("\nratios against plaintext (same run, same code path with encryption off):");
    for (i, mode) in modes.iter().enumerate().skip(1) {
        let r = best[i];
        let p = best[0];
        println!(
            "{:<20} PUT 1MiB {:.2}x  GET 1MiB {:.2}x  PUT big {:.2}x  GET big {:.2}x  PUT 4KiB {:.2}x  GET 4KiB {:.2}x",
            mode.name(),
            r[0] / p[0],
            r[1] / p[1],
            r[2] / p[2],
            r[3] / p[3],
            r[4] / p[4],
            r[5] / p[5]
        );
    }
    println!("\nratios of SSE-KMS against SSE-S3:");
    for i in [2usize, 3] {
        let (r, s) = (best[i], best[1]);
        println!(
            "{:<20} PUT 1MiB {:.2}x  GET 1MiB {:.2}x  PUT big {:.2}x  GET big {:.2}x  PUT 4KiB {:.2}x  GET 4KiB {:.2}x",
            modes[i].name(),
            r[0] / s[0],
            r[1] / s[1],
            r[2] / s[2],
            r[3] / s[3],
            r[4] / s[4],
            r[5] / s[5]
        );
    }
}

fn start_server(no_fsync: bool) -> Server {
    start_server_in(no_fsync, None)
}

/// A gateway whose KMS directory (its audit log, SQLite database and root key) is on tmpfs,
/// where a sync costs nothing: the control that shows what the audit's disk syncs cost a KMS
/// call (super::small). The store stays on the disk.
struct AuditInRam {
    server: Server,
    /// The data dir holding the `kms` link, and the tmpfs directory it points to: both live
    /// as long as the server.
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// `None` without a writable /dev/shm.
fn start_server_with_audit_in_ram(no_fsync: bool) -> Option<AuditInRam> {
    let ram = tempfile::tempdir_in("/dev/shm").ok()?;
    let base = tempfile::tempdir().expect("temp dir");
    let data = base.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    std::os::unix::fs::symlink(ram.path(), data.join("kms")).expect("kms link");
    Some(AuditInRam {
        server: start_server_in(no_fsync, Some(data)),
        _dirs: (base, ram),
    })
}

fn start_server_in(no_fsync: bool, data_dir: Option<std::path::PathBuf>) -> Server {
    let mut toml = "plaintext_buckets = [\"plain\"]\n".to_owned();
    if no_fsync {
        toml.push_str("no_fsync = true\n");
    }
    // `SEALGATE_BENCH_BIN`: measure another build of the gateway (e.g. the commit before a
    // change) with this benchmark; the harness's own binary otherwise.
    let launcher = match std::env::var("SEALGATE_BENCH_BIN") {
        Ok(bin) => vec![
            "sh".into(),
            "-c".into(),
            format!("shift; exec '{bin}' \"$@\""),
            "sh".into(),
        ],
        Err(_) => Vec::new(),
    };
    Server::start_with(Options {
        config_toml: Some(toml),
        launcher,
        data_dir,
        ..Default::default()
    })
}

#[tokio::main]
async fn main() {
    let quick = std::env::var("SEALGATE_BENCH_QUICK").is_ok();
    let load_before = measure::load_average();
    let only: Option<Vec<String>> = std::env::var("SEALGATE_BENCH_ONLY")
        .ok()
        .map(|v| v.split(',').map(|p| p.trim().to_owned()).collect());
    let wants = |phase: &str| only.as_ref().is_none_or(|o| o.iter().any(|p| p == phase));
    // Before any server starts: their files too would land beside the freed inodes.
    if ["small", "peer", "kms"].into_iter().any(wants) {
        deletions::wait_for_inode_reuse().await;
    }
    let server = start_server(false);
    let pid = server.pid();
    let b = Bench::new(&server).await;
    let mut report = Report::default();
    let big = if quick { 64 << 20 } else { 256 << 20 };
    let big_data = random(big);
    println!(
        "sealgate gateway benchmark (loopback, aws-sdk-s3; {} cores){}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        if quick { ", quick" } else { "" }
    );
    if wants("stream") {
        stream::run(&b, pid, server.dir.path(), big_data.clone(), 3, &mut report).await;
    }
    if wants("concurrency") {
        let size = if quick { 16 << 20 } else { 64 << 20 };
        concurrency::run(&b, pid, size, if quick { 1 } else { 3 }, &mut report).await;
    }
    // Servers (and s3s-fs) whose data dirs are removed only when the run is over: deleting tens
    // of thousands of small objects takes minutes on a disk mounted with `discard`, and the
    // inodes they free make every new file dearer for up to six minutes after (deletions.rs).
    let mut finished = Vec::new();
    let mut finished_in_ram = Vec::new();
    let mut finished_peer = None;
    if wants("small") {
        let unsynced = start_server(true);
        let b2 = Bench::new(&unsynced).await;
        // Each gateway's control: the same fsync policy, the KMS's audit log in RAM.
        let controls = [
            start_server_with_audit_in_ram(false),
            start_server_with_audit_in_ram(true),
        ];
        let mut control_benches = Vec::new();
        for c in controls.iter().flatten() {
            control_benches.push(Bench::new(&c.server).await);
        }
        let mut gateways = vec![
            small::Gateway {
                label: "fsync".into(),
                bench: &b,
                pid,
                metrics: server.metrics_url.clone(),
                fsync: true,
                control_of: None,
            },
            small::Gateway {
                label: "no-fsync".into(),
                bench: &b2,
                pid: unsynced.pid(),
                metrics: unsynced.metrics_url.clone(),
                fsync: false,
                control_of: None,
            },
        ];
        for ((of, c), bench) in controls
            .iter()
            .enumerate()
            .filter_map(|(of, c)| Some((of, c.as_ref()?)))
            .zip(&control_benches)
        {
            gateways.push(small::Gateway {
                label: format!("{} audit in RAM", gateways[of].label),
                bench,
                pid: c.server.pid(),
                metrics: c.server.metrics_url.clone(),
                fsync: gateways[of].fsync,
                control_of: Some(of),
            });
        }
        if gateways.len() == 2 {
            println!(
                "\n(no writable /dev/shm: the small phase runs without its audit-in-RAM controls)"
            );
        }
        let (n, rounds) = if quick { (200, 3) } else { (1000, 5) };
        small::run(&gateways, server.dir.path(), n, rounds, &mut report).await;
        finished.push(unsynced);
        finished_in_ram.extend(controls.into_iter().flatten());
    }
    if wants("table") {
        table(&b, quick, &big_data).await;
    }
    if wants("peer") {
        let unsynced = start_server(true);
        let plain = |s: &Server| {
            let endpoint = s.s3_http.as_deref().expect("plain HTTP S3 listener");
            peer::http_client(endpoint, common::ACCESS_KEY, common::SECRET_KEY)
        };
        let gateways = vec![
            peer::Target {
                label: "sealgate SSE-S3, fsync",
                client: plain(&server),
                pid,
            },
            peer::Target {
                label: "sealgate SSE-S3, no-fsync",
                client: plain(&unsynced),
                pid: unsynced.pid(),
            },
        ];
        let n = if quick { 200 } else { 1000 };
        finished_peer = peer::run(gateways, server.dir.path(), n, big, 3, &mut report).await;
        finished.push(unsynced);
    }
    if wants("memory") {
        let size = if quick { 1 << 30 } else { 5 << 30 };
        memory::run(&b, pid, server.dir.path(), size, &mut report).await;
    }
    if wants("kms") {
        kms_calls_per_1000_requests(&b, &server, random(64 << 10), &mut report).await;
    }
    if wants("rekey") {
        rekey_by_copy(&b, &server).await;
    }
    let load_after = measure::load_average();
    println!("\nload average (1 min): {load_before:.2} at the start, {load_after:.2} at the end");
    report.write(serde_json::json!({
        "quick": quick,
        "load_average_start": load_before,
        "load_average_end": load_after,
        "harness_profile": if cfg!(debug_assertions) { "dev" } else { "release" },
        "gateway_bin": std::env::var("SEALGATE_BENCH_BIN").ok(),
        "big_object_mib": big >> 20,
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "phases": only,
    }));
    if std::env::var_os("SEALGATE_BENCH_KEEP").is_some() {
        let mut kept: Vec<_> = finished
            .into_iter()
            .chain([server])
            .map(keep_files)
            .collect();
        for r in finished_in_ram {
            kept.push(keep_files(r.server));
            kept.push(r._dirs.0.keep());
        }
        kept.extend(finished_peer.map(peer::Peer::stop_keeping_root));
        println!(
            "\nkept (SEALGATE_BENCH_KEEP; removing them makes the next run wait, deletions.rs):"
        );
        for dir in kept {
            println!("  {}", dir.display());
        }
    } else {
        drop((finished, finished_in_ram, finished_peer, server));
        deletions::note_removed();
    }
}

/// Stops `server` and leaves its files; returns their directory.
fn keep_files(mut server: Server) -> std::path::PathBuf {
    server.stop();
    let dir = server.dir.path().to_owned();
    // Its drop would remove the directory.
    std::mem::forget(server);
    dir
}

/// KMS calls and server CPU per request for small objects: per mode (SSE-S3 for reference,
/// SSE-KMS, SSE-KMS with bucket keys), 1,000 PUTs then 1,000 GETs of `data`, 8 in flight, into
/// a bucket of its own that nothing used before (so the bucket-key cache starts empty).
/// GenerateDataKey and Decrypt calls are counted in the KMS audit log; server CPU (the gateway
/// with its embedded KMS) from /proc. docs/SCALING.md sizes a fleet from these.
async fn kms_calls_per_1000_requests(
    b: &Bench,
    server: &Server,
    data: Arc<Vec<u8>>,
    report: &mut Report,
) {
    const N: usize = 1000;
    let audit = server.data_dir.join("kms").join("kms-audit.log");
    // Calls made for S3 requests (source s3-gateway) of one operation, or of any ("").
    let count = |op: &str| {
        std::fs::read_to_string(&audit)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"kind\":\"s3-gateway\""))
            .filter(|l| op.is_empty() || l.contains(&format!("\"event\":\"{op}\"")))
            .count()
    };
    let pid = server.pid();
    println!(
        "\n{} KiB objects, {N} PUTs then {N} GETs, 8 in flight, fresh bucket per mode:",
        data.len() >> 10
    );
    for (mode, bucket) in [
        (Mode::SseS3, "kms-count-sse-s3"),
        (Mode::SseKms, "kms-count-object-keys"),
        (Mode::SseKmsBucketKey, "kms-count-bucket-keys"),
    ] {
        b.s3.create_bucket().bucket(bucket).send().await.unwrap();
        let (gdk, all, cpu) = (
            count("GenerateDataKey"),
            count(""),
            measure::cpu_seconds(pid),
        );
        let put_time = run(N, 8, |j| {
            let (data, k) = (data.clone(), format!("{j}"));
            async move {
                let r = b.s3.put_object().bucket(bucket).key(k);
                let r = r.body(ByteStream::from(data.as_ref().clone()));
                let r = match mode {
                    Mode::SseS3 => r.server_side_encryption(ServerSideEncryption::Aes256),
                    _ => r
                        .server_side_encryption(ServerSideEncryption::AwsKms)
                        .bucket_key_enabled(mode == Mode::SseKmsBucketKey),
                };
                r.send().await.expect("put");
            }
        })
        .await;
        let put_cpu = (measure::cpu_seconds(pid) - cpu) / N as f64;
        let (gdk, put_calls) = (count("GenerateDataKey") - gdk, count("") - all);
        let (dec, all, cpu) = (count("Decrypt"), count(""), measure::cpu_seconds(pid));
        let len = data.len();
        let get_time = run(N, 8, |j| {
            let k = format!("{j}");
            async move {
                let got = b.s3.get_object().bucket(bucket).key(k).send().await;
                let body = got.expect("get").body.collect().await.expect("body");
                assert_eq!(body.into_bytes().len(), len);
            }
        })
        .await;
        let get_cpu = (measure::cpu_seconds(pid) - cpu) / N as f64;
        let (dec, get_calls) = (count("Decrypt") - dec, count("") - all);
        println!(
            "  {:<20} PUT: {:>5} GenerateDataKey ({} KMS calls) per 1,000, {:>6.0}/s, server \
             CPU {:.3} ms/PUT; GET: {:>5} Decrypt ({} KMS calls) per 1,000, {:>6.0}/s, server \
             CPU {:.3} ms/GET",
            mode.name(),
            gdk,
            put_calls,
            N as f64 / put_time.as_secs_f64(),
            put_cpu * 1000.0,
            dec,
            get_calls,
            N as f64 / get_time.as_secs_f64(),
            get_cpu * 1000.0,
        );
        let m = mode.name();
        report.add(
            "kms",
            m,
            "GenerateDataKey per 1000 PUTs",
            gdk as f64,
            "calls",
        );
        report.add("kms", m, "Decrypt per 1000 GETs", dec as f64, "calls");
        report.add(
            "kms",
            m,
            "KMS calls per 1000 PUTs",
            put_calls as f64,
            "calls",
        );
        report.add(
            "kms",
            m,
            "KMS calls per 1000 GETs",
            get_calls as f64,
            "calls",
        );
        report.add("kms", m, "server CPU per PUT", put_cpu * 1000.0, "ms");
        report.add("kms", m, "server CPU per GET", get_cpu * 1000.0, "ms");
        report.add(
            "kms",
            m,
            "PUT rate",
            N as f64 / put_time.as_secs_f64(),
            "req/s",
        );
        report.add(
            "kms",
            m,
            "GET rate",
            N as f64 / get_time.as_secs_f64(),
            "req/s",
        );
    }
}

const KEY_B: &str = "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY=";

/// Re-keying a 1 GiB object by copying it onto itself (the object key is resealed, the
/// ciphertext kept: SSE-S3 → SSE-KMS, SSE-C key A → key B) against a copy that must rewrite
/// the data (UploadPartCopy of the whole object in ranges, which decrypts and re-encrypts).
async fn rekey_by_copy(b: &Bench, server: &Server) {
    use base64::Engine as _;
    use md5::Digest as _;
    const GIB: u64 = 1 << 30;
    const PART: u64 = 64 << 20;
    let bucket = "rekey";
    b.s3.create_bucket().bucket(bucket).send().await.unwrap();
    let file = server.dir.path().join("rekey-1gib.bin");
    {
        use std::io::Write as _;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        let chunk = random(8 << 20);
        for _ in 0..(GIB / (8 << 20)) {
            f.write_all(&chunk).unwrap();
        }
    }
    let key_b_md5 = {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(KEY_B)
            .unwrap();
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&raw))
    };
    let t = Instant::now();
    b.s3.put_object()
        .bucket(bucket)
        .key("big")
        .body(ByteStream::from_path(&file).await.unwrap())
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .expect("put 1 GiB");
    let put_time = t.elapsed();
    let _ = std::fs::remove_file(&file);
    let src = format!("{bucket}/big");

    // SSE-S3 -> SSE-KMS in place.
    let t = Instant::now();
    let out =
        b.s3.copy_object()
            .bucket(bucket)
            .key("big")
            .copy_source(&src)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .send()
            .await
            .expect("re-key SSE-S3 -> SSE-KMS");
    let s3_to_kms = t.elapsed();
    assert_eq!(
        out.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    // SSE-KMS -> SSE-C key A, then key A -> key B (both in place).
    b.s3.copy_object()
        .bucket(bucket)
        .key("big")
        .copy_source(&src)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(SSE_C_KEY)
        .sse_customer_key_md5(SSE_C_MD5)
        .send()
        .await
        .expect("re-key SSE-KMS -> SSE-C");
    let t = Instant::now();
    b.s3.copy_object()
        .bucket(bucket)
        .key("big")
        .copy_source(&src)
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(SSE_C_KEY)
        .copy_source_sse_customer_key_md5(SSE_C_MD5)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(KEY_B)
        .sse_customer_key_md5(&key_b_md5)
        .send()
        .await
        .expect("re-key SSE-C A -> B");
    let c_a_to_b = t.elapsed();

    // Full rewrite: the whole object through UploadPartCopy ranges (decrypt + re-encrypt),
    // from the SSE-C (key B) object into a new SSE-KMS object.
    let t = Instant::now();
    let upload =
        b.s3.create_multipart_upload()
            .bucket(bucket)
            .key("rewritten")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .send()
            .await
            .unwrap();
    let upload_id = upload.upload_id().unwrap().to_owned();
    let parts = (GIB / PART) as usize;
    let mut done: Vec<(i32, String)> = Vec::new();
    use futures::StreamExt;
    let results: Vec<(i32, String)> = futures::stream::iter(0..parts)
        .map(|i| {
            let (src, upload_id, key_b_md5) = (src.clone(), upload_id.clone(), key_b_md5.clone());
            async move {
                let first = i as u64 * PART;
                let out =
                    b.s3.upload_part_copy()
                        .bucket(bucket)
                        .key("rewritten")
                        .upload_id(upload_id)
                        .part_number(i as i32 + 1)
                        .copy_source(src)
                        .copy_source_range(format!("bytes={first}-{}", first + PART - 1))
                        .copy_source_sse_customer_algorithm("AES256")
                        .copy_source_sse_customer_key(KEY_B)
                        .copy_source_sse_customer_key_md5(key_b_md5)
                        .send()
                        .await
                        .expect("upload part copy");
                (
                    i as i32 + 1,
                    out.copy_part_result().unwrap().e_tag().unwrap().to_owned(),
                )
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    done.extend(results);
    done.sort();
    let completed = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .set_parts(Some(
            done.iter()
                .map(|(n, e)| {
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(*n)
                        .e_tag(e)
                        .build()
                })
                .collect(),
        ))
        .build();
    b.s3.complete_multipart_upload()
        .bucket(bucket)
        .key("rewritten")
        .upload_id(&upload_id)
        .multipart_upload(completed)
        .send()
        .await
        .expect("complete");
    let rewrite = t.elapsed();
    let head =
        b.s3.head_object()
            .bucket(bucket)
            .key("rewritten")
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_length(), Some(GIB as i64));

    println!("\nre-key a 1 GiB object by copy (reseal the object key, keep the ciphertext):");
    println!(
        "  initial PUT 1 GiB (SSE-S3)            {:>9.3} s",
        put_time.as_secs_f64()
    );
    println!(
        "  copy onto itself SSE-S3 -> SSE-KMS    {:>9.3} s",
        s3_to_kms.as_secs_f64()
    );
    println!(
        "  copy onto itself SSE-C key A -> B     {:>9.3} s",
        c_a_to_b.as_secs_f64()
    );
    println!(
        "  full rewrite (UploadPartCopy x{parts}, decrypt + re-encrypt) {:>9.3} s",
        rewrite.as_secs_f64()
    );
    println!(
        "  ratio full rewrite / re-key: SSE-S3->KMS {:.0}x, SSE-C A->B {:.0}x",
        rewrite.as_secs_f64() / s3_to_kms.as_secs_f64(),
        rewrite.as_secs_f64() / c_a_to_b.as_secs_f64()
    );
}
