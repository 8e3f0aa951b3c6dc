//! Many streams at once: 8 parallel 64 MiB SSE-S3 GETs and 64 parallel 4 KiB GET clients.
//! Aggregate throughput, the server's CPU utilisation (of all cores), and whether any stream
//! starves (p99 / p50 of per-request times), and how many cores the rest of the machine kept
//! busy meanwhile.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;

use super::measure::{CpuMark, Report, machine_busy_seconds, mbps, percentile};
use super::{Bench, Mode, Transport};

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

/// Runs `n` requests of `bytes` each, all at once; returns (wall seconds, per-request seconds,
/// server CPU seconds, CPU seconds of the rest of the machine: other processes, steal).
async fn burst(b: &Bench, pid: u32, keys: &[String], bytes: usize) -> (f64, Vec<f64>, f64, f64) {
    let (t, c, own) = (Instant::now(), CpuMark::now(pid), CpuMark::client());
    let busy = machine_busy_seconds();
    let times: Vec<f64> = futures::stream::iter(keys)
        .map(|k| async move {
            let t = Instant::now();
            assert_eq!(b.get(Mode::SseS3, Transport::Https, k).await, bytes);
            t.elapsed().as_secs_f64()
        })
        .buffer_unordered(keys.len())
        .collect()
        .await;
    let (server, client) = (c.elapsed(), own.elapsed());
    let others = machine_busy_seconds() - busy - server - client;
    (t.elapsed().as_secs_f64(), times, server, others.max(0.0))
}

async fn phase(
    b: &Bench,
    pid: u32,
    label: &str,
    streams: usize,
    data: Arc<Vec<u8>>,
    rounds: usize,
    report: &mut Report,
) {
    let keys: Vec<String> = (0..streams).map(|i| format!("conc/{label}/{i}")).collect();
    for k in &keys {
        b.put(Mode::SseS3, Transport::Https, k, data.clone()).await;
    }
    // The first burst also opens the client's connections (a TLS handshake each, 63 of them
    // for 64 clients): its requests wait on handshakes, not on the server's fairness, and they
    // alone filled the top percent of 30 rounds. Reported apart; the rounds measure clients
    // that already hold a connection, as long-lived clients do.
    let (_, first, _, _) = burst(b, pid, &keys, data.len()).await;
    let (first_p50, first_p99) = (percentile(&first, 50.0), percentile(&first, 99.0));
    println!(
        "{label:<22} first burst (opens the connections): p50 {:>8.2} ms  p99 {:>8.2} ms  p99/p50 {:.2}",
        first_p50 * 1000.0,
        first_p99 * 1000.0,
        first_p99 / first_p50
    );
    report.add(
        "concurrency",
        label,
        "first_burst_p50",
        first_p50 * 1000.0,
        "ms",
    );
    report.add(
        "concurrency",
        label,
        "first_burst_p99",
        first_p99 * 1000.0,
        "ms",
    );
    let (mut walls, mut times, mut cpu, mut others) = (0.0, Vec::new(), 0.0, 0.0);
    for _ in 0..rounds {
        let (w, t, c, o) = burst(b, pid, &keys, data.len()).await;
        walls += w;
        times.extend(t);
        cpu += c;
        others += o;
    }
    let others = others / walls;
    let aggregate = mbps(
        data.len() * streams * rounds,
        std::time::Duration::from_secs_f64(walls),
    );
    let ops = (streams * rounds) as f64 / walls;
    let utilisation = cpu / walls / cores();
    let (p50, p99) = (percentile(&times, 50.0), percentile(&times, 99.0));
    println!(
        "{label:<22} {aggregate:>9.0} MB/s {ops:>9.0} req/s   server CPU {:>4.0}% of {} cores   p50 {:>8.2} ms  p99 {:>8.2} ms  p99/p50 {:.2}  others {others:.2} cores",
        utilisation * 100.0,
        cores(),
        p50 * 1000.0,
        p99 * 1000.0,
        p99 / p50
    );
    report.add("concurrency", label, "throughput", aggregate, "MB/s");
    report.add("concurrency", label, "requests", ops, "req/s");
    report.add(
        "concurrency",
        label,
        "server_cpu_utilisation",
        utilisation,
        "fraction",
    );
    report.add("concurrency", label, "others_cores", others, "cores");
    report.add("concurrency", label, "p50", p50 * 1000.0, "ms");
    report.add("concurrency", label, "p99", p99 * 1000.0, "ms");
    report.add("concurrency", label, "p99_over_p50", p99 / p50, "ratio");
}

pub async fn run(b: &Bench, pid: u32, big: usize, rounds: usize, report: &mut Report) {
    println!("\nconcurrency (SSE-S3 GET, HTTPS, {rounds} rounds):");
    phase(
        b,
        pid,
        &format!("8 x {} MiB GET", big >> 20),
        8,
        super::random(big),
        rounds,
        report,
    )
    .await;
    phase(
        b,
        pid,
        "64 x 4 KiB GET",
        64,
        super::random(4096),
        rounds * 10,
        report,
    )
    .await;
}
