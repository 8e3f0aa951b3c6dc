//! Small objects: 4 KiB PUTs at 8 in flight per mode, with the default fsync policy and on a
//! second gateway started with `no_fsync` (reported apart, so that comparisons with servers
//! that never fsync are fair). Throughput and the server's CPU per PUT, interleaved rounds.

use std::sync::Arc;
use std::time::Instant;

use super::measure::{Report, cpu_seconds, median};
use super::{Bench, Mode, Transport};

const MODES: [Mode; 3] = [Mode::SseS3, Mode::SseKms, Mode::SseKmsBucketKey];

/// `n` PUTs of `data`, 8 in flight: (ops/s, server CPU ms per PUT).
async fn puts(
    b: &Bench,
    pid: u32,
    mode: Mode,
    tag: &str,
    n: usize,
    data: &Arc<Vec<u8>>,
) -> (f64, f64) {
    let (t, c) = (Instant::now(), cpu_seconds(pid));
    super::run(n, 8, |j| {
        let (data, k) = (data.clone(), format!("small/{tag}/{j}"));
        async move { b.put(mode, Transport::Https, &k, data).await }
    })
    .await;
    let wall = t.elapsed().as_secs_f64();
    (n as f64 / wall, (cpu_seconds(pid) - c) * 1000.0 / n as f64)
}

/// `gateways`: (label, client, server pid).
pub async fn run(gateways: &[(&str, &Bench, u32)], n: usize, rounds: usize, report: &mut Report) {
    let data = super::random(4096);
    // [gateway][mode] -> per-round (ops/s, CPU ms).
    let mut samples = vec![vec![Vec::new(); MODES.len()]; gateways.len()];
    for round in 0..rounds {
        for (g, (_, b, pid)) in gateways.iter().enumerate() {
            for (m, &mode) in MODES.iter().enumerate() {
                let tag = format!("{}-{round}", mode.name().replace([' ', '+'], "_"));
                samples[g][m].push(puts(b, *pid, mode, &tag, n, &data).await);
            }
        }
    }
    println!("\n4 KiB PUT, 8 in flight, {n} per round, {rounds} interleaved rounds, medians:");
    for (g, (label, _, _)) in gateways.iter().enumerate() {
        let s3: Vec<f64> = samples[g][0].iter().map(|s| s.0).collect();
        for (m, mode) in MODES.iter().enumerate() {
            let ops = median(&samples[g][m].iter().map(|s| s.0).collect::<Vec<_>>());
            let cpu = median(&samples[g][m].iter().map(|s| s.1).collect::<Vec<_>>());
            let vs_s3 = median(
                &samples[g][m]
                    .iter()
                    .zip(&s3)
                    .map(|(s, b)| s.0 / b)
                    .collect::<Vec<_>>(),
            );
            let subject = format!("{label} {}", mode.name());
            println!(
                "{subject:<34} {ops:>8.0} PUT/s   server CPU {cpu:>6.3} ms/PUT   x SSE-S3 {vs_s3:.2}"
            );
            report.add("small", &subject, "put_rate", ops, "ops/s");
            report.add("small", &subject, "cpu_per_put", cpu, "ms");
            report.add("small", &subject, "x_sse_s3", vs_s3, "ratio");
        }
    }
}
