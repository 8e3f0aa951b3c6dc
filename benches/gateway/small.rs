//! Small objects: 4 KiB PUTs at 8 in flight per mode, with the default fsync policy and on a
//! second gateway started with `no_fsync` (reported apart, so that comparisons with servers
//! that never fsync are fair). Throughput and the server's CPU per PUT, interleaved rounds.
//! Beside them, the filesystem's own floor (super::floor): what creating the files of a PUT
//! costs on the same disk, with and without the fsyncs.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::floor::{NewFile, small_put_floor};
use super::measure::{CpuMark, Report, median, percentile};
use super::{Bench, Mode, Transport};

const MODES: [Mode; 3] = [Mode::SseS3, Mode::SseKms, Mode::SseKmsBucketKey];

/// PUTs in flight, for the gateways and the floor alike.
const IN_FLIGHT: usize = 8;

/// `n` PUTs of `data`, [`IN_FLIGHT`] at a time: (ops/s, server CPU ms per PUT).
async fn puts(
    b: &Bench,
    pid: u32,
    mode: Mode,
    tag: &str,
    n: usize,
    data: &Arc<Vec<u8>>,
) -> (f64, f64) {
    let (t, c) = (Instant::now(), CpuMark::now(pid));
    super::run(n, IN_FLIGHT, |j| {
        let (data, k) = (data.clone(), format!("small/{tag}/{j}"));
        async move { b.put(mode, Transport::Https, &k, data).await }
    })
    .await;
    let wall = t.elapsed().as_secs_f64();
    (n as f64 / wall, c.elapsed() * 1000.0 / n as f64)
}

/// The target for the server's CPU per 4 KiB PUT (docs/PERFORMANCE.md).
const TARGET_CPU_MS: f64 = 0.5;

/// The floors, in the order printed: (name, how, fsync).
const FLOORS: [(&str, NewFile, bool); 4] = [
    ("one new file, fsync", NewFile::One, true),
    ("one new file, no fsync", NewFile::One, false),
    ("store's PUT of a new key, fsync", NewFile::StorePut, true),
    (
        "store's PUT of a new key, no fsync",
        NewFile::StorePut,
        false,
    ),
];

/// `gateways`: (label, client, server pid); the first has fsync on, the second off. `dir`: a
/// directory on the disk of the gateways' data dirs, for the filesystem floor.
pub async fn run(
    gateways: &[(&str, &Bench, u32)],
    dir: &Path,
    n: usize,
    rounds: usize,
    report: &mut Report,
) {
    let data = super::random(4096);
    // [gateway][mode] -> per-round (ops/s, CPU ms).
    let mut samples = vec![vec![Vec::new(); MODES.len()]; gateways.len()];
    // [floor] -> per-round (wall ms, CPU ms) per operation.
    let mut floors = vec![Vec::new(); FLOORS.len()];
    let floor_dir = dir.join("small-put-floors");
    for round in 0..rounds {
        for (f, &(_, how, fsync)) in FLOORS.iter().enumerate() {
            // On threads of their own, so that their CPU clocks count the floor's work only.
            let root = floor_dir.join(format!("{f}-{round}"));
            let m = tokio::task::spawn_blocking(move || {
                small_put_floor(&root, how, fsync, n, IN_FLIGHT)
            });
            floors[f].push(m.await.expect("floor thread"));
        }
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
    println!(
        "\nsmall-PUT filesystem floor: {n} new 4 KiB files per round on the gateways' disk, \
         {IN_FLIGHT} threads at once (their CPU clocks), medians of {rounds} rounds, per operation:"
    );
    for (f, (name, _, _)) in FLOORS.iter().enumerate() {
        let wall = median(&floors[f].iter().map(|s| s.0).collect::<Vec<_>>());
        let cpus: Vec<f64> = floors[f].iter().map(|s| s.1).collect();
        let cpu = median(&cpus);
        // The spread over rounds: the filesystem's cost moves with the disk's other users.
        let (lo, hi) = (percentile(&cpus, 0.0), percentile(&cpus, 100.0));
        println!("  {name:<36} {wall:>7.3} ms wall   CPU {cpu:>6.3} ms (rounds {lo:.3}-{hi:.3})");
        report.add("small", &format!("floor {name}"), "wall_per_op", wall, "ms");
        report.add("small", &format!("floor {name}"), "cpu_per_op", cpu, "ms");
    }
    let _ = std::fs::remove_dir_all(&floor_dir);
    let cpu_of = |g: usize| median(&samples[g][0].iter().map(|s| s.1).collect::<Vec<_>>());
    let floor_cpu = |f: usize| median(&floors[f].iter().map(|s| s.1).collect::<Vec<_>>());
    for (g, (label, _, _)) in gateways.iter().enumerate() {
        // Gateway 0 syncs, gateway 1 does not: floors 0/2 and 1/3.
        let (one, store) = (floor_cpu(g), floor_cpu(2 + g));
        println!(
            "  gateway {label} SSE-S3: {:.3} ms CPU per PUT (target <= {TARGET_CPU_MS}); the \
             store's files alone {store:.3} ms, one file {one:.3} ms; the rest {:.3} ms",
            cpu_of(g),
            cpu_of(g) - store
        );
        report.add(
            "small",
            &format!("{label} SSE-S3"),
            "cpu_per_put_over_store_floor",
            cpu_of(g) - store,
            "ms",
        );
    }
}
