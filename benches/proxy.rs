//! Proxy-mode benchmark: PUT/GET MB/s through a `sealgate serve --backend s3` gateway over a
//! moto S3 server, against the same aws-sdk-s3 client talking straight to that moto server,
//! printed as ratios (gateway / direct). The gateway is measured on its plain-HTTP listener so
//! both paths use the same transport; a plaintext comparison bucket separates the cost of
//! proxying from the cost of encryption.
//!
//! `cargo bench --bench proxy` (needs moto: `./scripts/test` installs it into .venv, or set
//! SEALGATE_MOTO). `SEALGATE_BENCH_QUICK=1` for a short run. moto is a Python server and is
//! the bottleneck of both paths, so the ratio says what the gateway adds on top of a slow
//! backend, not what it costs in front of a fast one.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/moto/mod.rs"]
mod moto;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use common::{Options, Server};

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

/// One way of reaching a bucket: a client and a bucket name.
struct Target {
    name: &'static str,
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl Target {
    async fn put(&self, key: &str, data: Arc<Vec<u8>>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(data.as_ref().clone()))
            .send()
            .await
            .expect("put");
    }

    async fn get(&self, key: &str) -> usize {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .expect("get");
        out.body.collect().await.expect("body").into_bytes().len()
    }
}

/// An SDK client for the gateway's plain-HTTP listener (same transport as moto's).
async fn gateway_http_client(server: &Server) -> aws_sdk_s3::Client {
    let cfg = server.sdk_config(None).await;
    let conf = aws_sdk_s3::config::Builder::from(&cfg)
        .endpoint_url(server.s3_http.as_deref().expect("HTTP listener"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[tokio::main]
async fn main() {
    let quick = std::env::var("SEALGATE_BENCH_QUICK").is_ok();
    let moto = moto::Moto::start().expect("moto_server (SEALGATE_MOTO or .venv/bin/moto_server)");
    let direct_bucket = moto.bucket("direct").await;
    let backend_bucket = moto.bucket("backend").await;
    let server = Server::start_with(Options {
        config_toml: Some(format!(
            "{}plaintext_buckets = [\"plain\"]\nno_fsync = true\n",
            moto.gateway_toml(&backend_bucket, None)
        )),
        ..Default::default()
    });
    let gw = gateway_http_client(&server).await;
    for b in ["plain", "enc"] {
        gw.create_bucket().bucket(b).send().await.unwrap();
    }
    let targets = [
        Target {
            name: "direct to moto",
            s3: moto.client(),
            bucket: direct_bucket,
        },
        Target {
            name: "gateway, plaintext",
            s3: gw.clone(),
            bucket: "plain".into(),
        },
        Target {
            name: "gateway, SSE-S3",
            s3: gw.clone(),
            bucket: "enc".into(),
        },
    ];

    let rounds = if quick { 1 } else { 2 };
    let n = if quick { 16 } else { 48 };
    let big = if quick { 16 << 20 } else { 64 << 20 };
    let one_mib = Arc::new(common::random(1 << 20));
    let big_data = Arc::new(common::random(big));
    println!(
        "sealgate proxy benchmark: {n} x 1 MiB (4 in flight) and 1 x {} MiB, best of {rounds}; \
         loopback HTTP, aws-sdk-s3, backend moto",
        big >> 20
    );
    // target -> [put 1MiB, get 1MiB, put big, get big] MB/s
    let mut best = vec![[0.0f64; 4]; targets.len()];
    for round in 0..rounds {
        for (i, t) in targets.iter().enumerate() {
            let d = run(n, 4, |j| {
                let (t, data) = (t, one_mib.clone());
                async move { t.put(&format!("r{round}/m{j}"), data).await }
            })
            .await;
            best[i][0] = best[i][0].max(mbps(n << 20, d));
            let d = run(n, 4, |j| async move {
                assert_eq!(t.get(&format!("r{round}/m{j}")).await, 1 << 20);
            })
            .await;
            best[i][1] = best[i][1].max(mbps(n << 20, d));
            let start = Instant::now();
            t.put(&format!("r{round}/big"), big_data.clone()).await;
            best[i][2] = best[i][2].max(mbps(big, start.elapsed()));
            let start = Instant::now();
            assert_eq!(t.get(&format!("r{round}/big")).await, big);
            best[i][3] = best[i][3].max(mbps(big, start.elapsed()));
        }
    }

    println!(
        "\n{:<20} {:>12} {:>12} {:>12} {:>12}",
        "MB/s", "PUT 1MiB", "GET 1MiB", "PUT big", "GET big"
    );
    for (t, b) in targets.iter().zip(&best) {
        println!(
            "{:<20} {:>12.1} {:>12.1} {:>12.1} {:>12.1}",
            t.name, b[0], b[1], b[2], b[3]
        );
    }
    println!("\nratio to direct      PUT 1MiB     GET 1MiB      PUT big      GET big");
    for (t, b) in targets.iter().zip(&best).skip(1) {
        println!(
            "{:<20} {:>12.2} {:>12.2} {:>12.2} {:>12.2}",
            t.name,
            b[0] / best[0][0],
            b[1] / best[0][1],
            b[2] / best[0][2],
            b[3] / best[0][3]
        );
    }
}
