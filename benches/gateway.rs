//! Gateway benchmark: drives a release `sealgate serve` over loopback with the AWS Rust SDK and
//! prints throughput per encryption mode as ratios against the same code path with encryption
//! switched off (a plaintext comparison bucket), all measured side by side in one run.
//!
//! `cargo bench --bench gateway` (set `SEALGATE_BENCH_QUICK=1` for a short run). Figures on a
//! shared machine are noisy: compare the ratios, not the absolute numbers.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use common::{Options, Server};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Plain,
    SseS3,
    SseKms,
    SseKmsBucketKey,
    SseC,
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

struct Bench {
    s3: aws_sdk_s3::Client,
}

impl Bench {
    async fn put(&self, mode: Mode, key: &str, data: Arc<Vec<u8>>) {
        let mut r = self
            .s3
            .put_object()
            .bucket(mode.bucket())
            .key(key)
            .body(ByteStream::from(data.as_ref().clone()));
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
        r.send().await.expect("put");
    }

    async fn get(&self, mode: Mode, key: &str) -> usize {
        let mut r = self.s3.get_object().bucket(mode.bucket()).key(key);
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

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
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

/// Peak server RSS above idle during one big SSE-S3 PUT and GET, and the bytes the server read
/// to answer a 1 MiB range GET from the middle of the big object.
async fn memory_and_range_io(b: &Bench, server: &Server, data: Arc<Vec<u8>>) {
    let pid = server.pid();
    let idle = proc_field(pid, "status", "VmRSS:");
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(idle));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(
                    proc_field(pid, "status", "VmRSS:"),
                    std::sync::atomic::Ordering::Relaxed,
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    b.put(Mode::SseS3, "mem/big", data.clone()).await;
    let after_put = peak.load(std::sync::atomic::Ordering::Relaxed);
    b.get(Mode::SseS3, "mem/big").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();
    let after_get = peak.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "\nserver RSS: idle {:.1} MiB; peak during {} MiB PUT +{:.1} MiB, during GET +{:.1} MiB over idle",
        idle as f64 / 1048576.0,
        data.len() >> 20,
        after_put.saturating_sub(idle) as f64 / 1048576.0,
        after_get.saturating_sub(idle) as f64 / 1048576.0
    );
    let before = proc_field(pid, "io", "rchar:");
    let mid = (data.len() / 2) as u64;
    let out =
        b.s3.get_object()
            .bucket("enc")
            .key("mem/big")
            .range(format!("bytes={}-{}", mid, mid + (1 << 20) - 1))
            .send()
            .await
            .unwrap();
    let got = out.body.collect().await.unwrap().into_bytes();
    assert_eq!(&got[..], &data[mid as usize..mid as usize + (1 << 20)]);
    let read = proc_field(pid, "io", "rchar:") - before;
    println!(
        "1 MiB range GET from a {} MiB object: the server read {:.2} MiB (ciphertext of the covering segments, plus the meta record)",
        data.len() >> 20,
        read as f64 / 1048576.0
    );
}

#[tokio::main]
async fn main() {
    let quick = std::env::var("SEALGATE_BENCH_QUICK").is_ok();
    let server = Server::start_with(Options {
        config_toml: Some("plaintext_buckets = [\"plain\"]\n".into()),
        ..Default::default()
    });
    let b = Bench {
        s3: server.s3().await,
    };
    for bucket in ["plain", "enc"] {
        b.s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
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
    let big = if quick { 32 << 20 } else { 256 << 20 };

    println!(
        "sealgate gateway benchmark ({} rounds, best of each; loopback HTTPS, aws-sdk-s3)",
        rounds
    );
    let one_mib = random(1 << 20);
    let four_kib = random(4096);
    let big_data = random(big);
    // mode -> [put 1MiB MB/s, get 1MiB MB/s, put big MB/s, get big MB/s, 4KiB put ops/s, 4KiB get ops/s, get p50 ms]
    let mut best: Vec<[f64; 7]> = vec![[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, f64::MAX]; modes.len()];
    for round in 0..rounds {
        for (i, &mode) in modes.iter().enumerate() {
            let tag = format!("{}-{round}", mode.name().replace([' ', '+'], "_"));
            let d = run(mib_n, 8, |j| {
                let (b, data, k) = (&b, one_mib.clone(), format!("{tag}/m{j}"));
                async move { b.put(mode, &k, data).await }
            })
            .await;
            best[i][0] = best[i][0].max(mbps(mib_n << 20, d));
            let d = run(mib_n, 8, |j| {
                let (b, k) = (&b, format!("{tag}/m{j}"));
                async move {
                    b.get(mode, &k).await;
                }
            })
            .await;
            best[i][1] = best[i][1].max(mbps(mib_n << 20, d));
            let t = Instant::now();
            b.put(mode, &format!("{tag}/big"), big_data.clone()).await;
            best[i][2] = best[i][2].max(mbps(big, t.elapsed()));
            let t = Instant::now();
            assert_eq!(b.get(mode, &format!("{tag}/big")).await, big);
            best[i][3] = best[i][3].max(mbps(big, t.elapsed()));
            let d = run(small_n, 8, |j| {
                let (b, data, k) = (&b, four_kib.clone(), format!("{tag}/s{j}"));
                async move { b.put(mode, &k, data).await }
            })
            .await;
            best[i][4] = best[i][4].max(small_n as f64 / d.as_secs_f64());
            let d = run(small_n, 8, |j| {
                let (b, k) = (&b, format!("{tag}/s{j}"));
                async move {
                    b.get(mode, &k).await;
                }
            })
            .await;
            best[i][5] = best[i][5].max(small_n as f64 / d.as_secs_f64());
            let mut lat = Vec::new();
            for j in 0..200.min(small_n) {
                let t = Instant::now();
                b.get(mode, &format!("{tag}/s{j}")).await;
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

    memory_and_range_io(&b, &server, big_data.clone()).await;

    // KMS calls per 1,000 SSE-KMS PUTs, with and without bucket keys, from the audit log.
    let audit = server.data_dir.join("kms").join("kms-audit.log");
    let count = |op: &str| {
        std::fs::read_to_string(&audit)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&format!("\"{op}\"")))
            .count()
    };
    for mode in [Mode::SseKms, Mode::SseKmsBucketKey] {
        let before = count("GenerateDataKey");
        run(1000, 8, |j| {
            let (b, data, k) = (&b, four_kib.clone(), format!("kmscount-{:?}/{j}", mode));
            async move { b.put(mode, &k, data).await }
        })
        .await;
        println!(
            "{:<20} GenerateDataKey calls per 1,000 PUTs: {}",
            mode.name(),
            count("GenerateDataKey") - before
        );
    }
}
