//! Against an unencrypted peer: s3s-fs (a Rust S3 server on the local filesystem that neither
//! encrypts nor fsyncs) started by the bench on the same disk, beside sealgate with fsync on and
//! with `no_fsync = true`. All three over plain HTTP (s3s-fs has no TLS), the same SDK client
//! configuration and the same requests (no SSE headers: sealgate encrypts with SSE-S3 by
//! default), interleaved rounds; the ratios are medians of per-round ratios to s3s-fs. Beside
//! them, each round, the fsync floors (`FLOORS`): how many new 4 KiB files per second the same
//! disk makes durable at 8 in flight, with a directory fsync each and with the data fsync only
//! — a server that fsyncs every PUT cannot beat them, whatever its code — and from them the
//! **fsync ceiling**: the no-fsync gateway's PUT/s with the disk's sync latency added to each
//! PUT (a PUT is answered only after its file's fsync; at 8 in flight the latency is not
//! hidden), i.e. the most this gateway could do with fsync if syncing cost it nothing else.
//!
//! s3s-fs 0.17 needs rustc 1.96; 0.14.1 builds on 1.95. It is installed once into
//! `$CARGO_TARGET_DIR/s3s-fs` when `SEALGATE_BENCH_PEER=1` (about 5 minutes) and used whenever it
//! is there; without it the phase prints why and is skipped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

use super::floor::{NewFile, fsync_latency, small_put_floor};
use super::measure::{Report, cpu_seconds, mbps, median};

const PEER_VERSION: &str = "0.14.1";
const ACCESS_KEY: &str = "SEALGATEBENCHPEER001";
const SECRET_KEY: &str = "sealgate-bench-peer-secret-key-000000001";
const BUCKET: &str = "peer";

/// The s3s-fs binary, installed if asked; `Err` says why there is none.
fn binary() -> Result<PathBuf, String> {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let root = std::path::Path::new(&target).join("s3s-fs");
    let bin = root.join("bin").join("s3s-fs");
    if bin.exists() {
        return Ok(bin);
    }
    if std::env::var("SEALGATE_BENCH_PEER").as_deref() != Ok("1") {
        return Err(format!(
            "{} is not installed; SEALGATE_BENCH_PEER=1 installs s3s-fs {PEER_VERSION} there \
             (cargo install, about 5 minutes)",
            bin.display()
        ));
    }
    println!("\ninstalling s3s-fs {PEER_VERSION} into {}", root.display());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Its own build dir: the bench's target dir is locked by the cargo that runs us.
    let build = root.join("build");
    let status = Command::new(cargo)
        .args(["install", "s3s-fs", "--version", PEER_VERSION])
        .args(["--features", "binary", "--locked", "--root"])
        .arg(&root)
        .arg("--target-dir")
        .arg(&build)
        .status();
    let _ = std::fs::remove_dir_all(&build);
    match status {
        Ok(s) if s.success() && bin.exists() => Ok(bin),
        Ok(s) => Err(format!("cargo install s3s-fs failed ({s})")),
        Err(e) => Err(format!("cargo install s3s-fs could not run: {e}")),
    }
}

/// A running s3s-fs, killed on drop (its temporary root goes with it).
pub struct Peer {
    child: Child,
    _root: tempfile::TempDir,
    endpoint: String,
}

impl Peer {
    fn start(bin: &std::path::Path) -> Result<Peer, String> {
        let root = tempfile::tempdir_in(std::env::temp_dir()).map_err(|e| e.to_string())?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("s3s-fs did not start: {e}"))?;
        let mut peer = Peer {
            child,
            _root: root,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || peer.child.try_wait().ok().flatten().is_some() {
                return Err("s3s-fs did not listen within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(peer)
    }

    /// Stops s3s-fs and leaves its root; returns it (`SEALGATE_BENCH_KEEP`).
    pub fn stop_keeping_root(mut self) -> std::path::PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let root = self._root.path().to_owned();
        // Its drop would remove the root.
        std::mem::forget(self);
        root
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain-HTTP client; the same configuration for every server (checksums only when an
/// operation requires them: s3s-fs 0.14 predates the SDK's default CRC trailers).
pub fn http_client(endpoint: &str, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation};
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(Region::new(super::common::REGION))
        .credentials_provider(Credentials::new(
            access_key, secret_key, None, None, "bench",
        ))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// One server under test.
pub struct Target {
    pub label: &'static str,
    pub client: aws_sdk_s3::Client,
    pub pid: u32,
}

/// One figure of a [`Round`].
type Metric = fn(&Round) -> f64;

/// What one round measured on one server.
#[derive(Clone, Copy)]
struct Round {
    small_ops: f64,
    small_cpu_ms: f64,
    put_mbps: f64,
    get_mbps: f64,
}

async fn put(c: &aws_sdk_s3::Client, key: &str, data: &Arc<Vec<u8>>) {
    c.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(data.as_ref().clone()))
        .send()
        .await
        .expect("put");
}

async fn round(
    t: &Target,
    round: usize,
    n: usize,
    small: &Arc<Vec<u8>>,
    big: &Arc<Vec<u8>>,
) -> Round {
    let (start, cpu) = (Instant::now(), cpu_seconds(t.pid));
    super::run(n, IN_FLIGHT, |j| {
        let k = format!("small/{round}/{j}");
        async move { put(&t.client, &k, small).await }
    })
    .await;
    let wall = start.elapsed().as_secs_f64();
    let small_cpu_ms = (cpu_seconds(t.pid) - cpu) * 1000.0 / n as f64;
    let start = Instant::now();
    put(&t.client, "big", big).await;
    let put_mbps = mbps(big.len(), start.elapsed());
    let start = Instant::now();
    let out = t.client.get_object().bucket(BUCKET).key("big").send().await;
    let body = out.expect("get").body.collect().await.expect("body");
    assert_eq!(body.into_bytes().len(), big.len());
    let get_mbps = mbps(big.len(), start.elapsed());
    Round {
        small_ops: n as f64 / wall,
        small_cpu_ms,
        put_mbps,
        get_mbps,
    }
}

/// `gateways`: sealgate's plain-HTTP targets (fsync, no-fsync). Skips with a printed reason
/// when s3s-fs is not available; never fails the bench for it.
/// The fsync floors printed beside s3s-fs: new 4 KiB files made durable on the same disk by
/// 8 threads at once, as ops/s — the most PUT/s any store that syncs each PUT could reach here.
const FLOORS: [(&str, NewFile); 2] = [
    ("floor: file+dir fsync", NewFile::One),
    ("floor: file fsync only", NewFile::OneSharedDir),
];

/// PUTs (and floor threads) in flight.
const IN_FLIGHT: usize = 8;

/// `dir`: a directory on the disk of the servers' data, for the fsync floors; the caller
/// removes it when the run is over. Returns s3s-fs, for the caller to stop when the run is
/// over (its root goes with it; super::deletions).
pub async fn run(
    gateways: Vec<Target>,
    dir: &std::path::Path,
    n: usize,
    big: usize,
    rounds: usize,
    report: &mut Report,
) -> Option<Peer> {
    let peer = match binary().and_then(|bin| Peer::start(&bin)) {
        Ok(p) => p,
        Err(why) => {
            println!("\npeer rows skipped: {why}");
            return None;
        }
    };
    let mut targets = gateways;
    targets.push(Target {
        label: "s3s-fs (no fsync)",
        client: http_client(&peer.endpoint, ACCESS_KEY, SECRET_KEY),
        pid: peer.child.id(),
    });
    for t in &targets {
        t.client
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect("create bucket");
    }
    let (small, big_data) = (super::random(4096), super::random(big));
    let mut samples: Vec<Vec<Round>> = vec![Vec::new(); targets.len()];
    // [floor] -> per-round ops/s.
    let mut floors = vec![Vec::new(); FLOORS.len()];
    // Per round: the mean ms one file's data fsync takes at 8 in flight.
    let mut sync_ms = Vec::new();
    let floor_dir = dir.join("peer-fsync-floors");
    for r in 0..rounds {
        for (i, t) in targets.iter().enumerate() {
            samples[i].push(round(t, r, n, &small, &big_data).await);
        }
        for (f, &(_, how)) in FLOORS.iter().enumerate() {
            let root = floor_dir.join(format!("{f}-{r}"));
            let m = tokio::task::spawn_blocking(move || {
                small_put_floor(&root, how, true, n, IN_FLIGHT)
            });
            floors[f].push(1000.0 / m.await.expect("floor thread").0);
        }
        let root = floor_dir.join(format!("latency-{r}"));
        let m = tokio::task::spawn_blocking(move || fsync_latency(&root, n, IN_FLIGHT));
        sync_ms.push(m.await.expect("floor thread"));
    }
    let peer_rounds = samples.last().unwrap().clone();
    println!(
        "\nagainst s3s-fs {PEER_VERSION} (unencrypted, no fsync), all over plain HTTP, {rounds} \
         interleaved rounds, medians (x s3s-fs: medians of per-round ratios)"
    );
    println!(
        "{:<22} {:>10} {:>11} {:>9} {:>12} {:>9} {:>12} {:>9}",
        "server",
        "4KiB PUT/s",
        "CPU ms/PUT",
        "x s3s-fs",
        format!("PUT {}MiB", big >> 20),
        "x s3s-fs",
        format!("GET {}MiB", big >> 20),
        "x s3s-fs"
    );
    for (t, s) in targets.iter().zip(&samples) {
        let med = |f: Metric| median(&s.iter().map(f).collect::<Vec<_>>());
        let ratio = |f: Metric| {
            median(
                &s.iter()
                    .zip(&peer_rounds)
                    .map(|(a, p)| f(a) / f(p))
                    .collect::<Vec<_>>(),
            )
        };
        let rows: [(&str, Metric, &str); 3] = [
            ("4 KiB PUT", |r| r.small_ops, "ops/s"),
            ("big PUT", |r| r.put_mbps, "MB/s"),
            ("big GET", |r| r.get_mbps, "MB/s"),
        ];
        let cpu = med(|r| r.small_cpu_ms);
        println!(
            "{:<22} {:>10.0} {cpu:>11.3} {:>9.2} {:>7.0} MB/s {:>9.2} {:>7.0} MB/s {:>9.2}",
            t.label,
            med(rows[0].1),
            ratio(rows[0].1),
            med(rows[1].1),
            ratio(rows[1].1),
            med(rows[2].1),
            ratio(rows[2].1),
        );
        report.add("peer", t.label, "4 KiB PUT cpu", cpu, "ms");
        for (name, f, unit) in rows {
            report.add("peer", t.label, name, med(f), unit);
            report.add(
                "peer",
                t.label,
                &format!("{name} x s3s-fs"),
                ratio(f),
                "ratio",
            );
        }
    }
    let peer_ops: Vec<f64> = peer_rounds.iter().map(|r| r.small_ops).collect();
    for ((name, _), ops) in FLOORS.iter().zip(&floors) {
        let vs = median(
            &ops.iter()
                .zip(&peer_ops)
                .map(|(a, p)| a / p)
                .collect::<Vec<_>>(),
        );
        println!("{name:<22} {:>10.0} {:>11} {vs:>9.2}", median(ops), "-");
        report.add("peer", name, "4 KiB PUT", median(ops), "ops/s");
        report.add("peer", name, "4 KiB PUT x s3s-fs", vs, "ratio");
    }
    // The fsync ceiling, per round: 8 PUTs in flight, each taking what it took without fsync
    // plus one file's fsync.
    let Some(unsynced) = targets.iter().position(|t| t.label.contains("no-fsync")) else {
        return Some(peer);
    };
    let ceiling: Vec<f64> = (0..rounds)
        .map(|r| {
            let put_s = IN_FLIGHT as f64 / samples[unsynced][r].small_ops;
            IN_FLIGHT as f64 / (put_s + sync_ms[r] / 1000.0)
        })
        .collect();
    let vs = median(
        &ceiling
            .iter()
            .zip(&peer_ops)
            .map(|(a, p)| a / p)
            .collect::<Vec<_>>(),
    );
    println!(
        "{:<22} {:>10.0} {:>11} {vs:>9.2}   (no-fsync gateway + {:.2} ms: one file fsync, mean)",
        "fsync ceiling",
        median(&ceiling),
        "-",
        median(&sync_ms)
    );
    report.add(
        "peer",
        "fsync ceiling",
        "4 KiB PUT",
        median(&ceiling),
        "ops/s",
    );
    report.add("peer", "fsync ceiling", "4 KiB PUT x s3s-fs", vs, "ratio");
    // The target: sealgate with fsync (the default) at least s3s-fs's 4 KiB PUT/s.
    if let Some(synced) = targets.iter().position(|t| t.label.ends_with(", fsync")) {
        let got = median(
            &samples[synced]
                .iter()
                .zip(&peer_rounds)
                .map(|(a, p)| a.small_ops / p.small_ops)
                .collect::<Vec<_>>(),
        );
        let verdict = if got >= 1.0 {
            "met"
        } else if vs < 1.0 {
            "the disk's fsync latency (the fsync ceiling is below s3s-fs)"
        } else {
            "NOT met (under the fsync ceiling: the gateway's own cost with fsync)"
        };
        println!(
            "target: 4 KiB PUT with fsync >= 1.0x s3s-fs: {got:.2}x, fsync ceiling {vs:.2}x \
             (the gateway at {:.2} of it): {verdict}",
            got / vs
        );
    }
    report.add(
        "peer",
        "fsync ceiling",
        "fsync latency per PUT",
        median(&sync_ms),
        "ms",
    );
    Some(peer)
}
