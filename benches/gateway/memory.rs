//! Memory: the server's RSS (VmRSS in /proc/<pid>/status, sampled every 50 ms) above its idle
//! level while one large object streams up and down (5 GiB, 1 GiB quick; targets idle + 16 MiB)
//! and while 100 clients GET at 64 KiB/s each (target idle + 64 MiB).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use super::measure::Report;
use super::{Bench, proc_field};

fn rss(pid: u32) -> u64 {
    proc_field(pid, "status", "VmRSS:")
}

fn mib(v: u64) -> f64 {
    v as f64 / 1048576.0
}

/// The peak RSS of `pid` from its creation until `stop`.
struct Sampler {
    peak: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let peak = Arc::new(AtomicU64::new(rss(pid)));
        let done = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peak, done) = (peak.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(rss(pid), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        Sampler { peak, done, thread }
    }

    fn stop(self) -> u64 {
        self.done.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        self.peak.load(Ordering::Relaxed)
    }
}

/// Prints and records one phase's peak over idle against its target.
fn record(report: &mut Report, subject: &str, idle: u64, peak: u64, target_mib: f64) {
    let over = mib(peak.saturating_sub(idle));
    println!(
        "  {subject:<40} idle {:>6.1} MiB  peak {:>6.1} MiB  +{over:>5.1} MiB (target +{target_mib:.0})",
        mib(idle),
        mib(peak)
    );
    report.add("memory", subject, "idle_rss", mib(idle), "MiB");
    report.add("memory", subject, "peak_rss_over_idle", over, "MiB");
}

/// One `size`-byte SSE-S3 object streamed up from a file and down into nothing (neither end
/// holds it in memory); the file and the object are deleted afterwards (the disk is small).
async fn big_stream(b: &Bench, pid: u32, dir: &std::path::Path, size: u64, report: &mut Report) {
    let file = dir.join("memory-big.bin");
    {
        use std::io::Write as _;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        let chunk = super::random(8 << 20);
        for _ in 0..size / (8 << 20) {
            f.write_all(&chunk).unwrap();
        }
    }
    let label = format!("{} MiB", size >> 20);
    let idle = rss(pid);
    let sampler = Sampler::start(pid);
    b.s3.put_object()
        .bucket("enc")
        .key("memory/big")
        .body(ByteStream::from_path(&file).await.unwrap())
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .expect("big PUT");
    let put_peak = sampler.stop();
    let _ = std::fs::remove_file(&file);
    record(report, &format!("PUT {label} SSE-S3"), idle, put_peak, 16.0);

    let idle = rss(pid);
    let sampler = Sampler::start(pid);
    let mut body =
        b.s3.get_object()
            .bucket("enc")
            .key("memory/big")
            .send()
            .await
            .expect("big GET")
            .body;
    let mut got = 0u64;
    while let Some(chunk) = body.next().await {
        got += chunk.expect("body").len() as u64;
    }
    let get_peak = sampler.stop();
    assert_eq!(got, size);
    record(report, &format!("GET {label} SSE-S3"), idle, get_peak, 16.0);
    b.s3.delete_object()
        .bucket("enc")
        .key("memory/big")
        .send()
        .await
        .expect("delete the big object");
}

/// 100 GETs of one 8 MiB object at once, each reading 64 KiB/s for 4 s and then hanging up.
async fn slow_clients(b: &Bench, pid: u32, report: &mut Report) {
    const CLIENTS: usize = 100;
    const RATE: f64 = 64.0 * 1024.0;
    const FOR: Duration = Duration::from_secs(4);
    b.put(
        super::Mode::SseS3,
        super::Transport::Https,
        "memory/slow",
        super::random(8 << 20),
    )
    .await;
    let idle = rss(pid);
    let sampler = Sampler::start(pid);
    use futures::StreamExt;
    let read: Vec<u64> = futures::stream::iter(0..CLIENTS)
        .map(|_| async {
            let out =
                b.s3.get_object()
                    .bucket("enc")
                    .key("memory/slow")
                    .send()
                    .await;
            let mut body = out.expect("slow GET").body;
            let (start, mut got) = (Instant::now(), 0u64);
            while start.elapsed() < FOR {
                match body.next().await {
                    Some(chunk) => got += chunk.expect("body").len() as u64,
                    None => break,
                }
                // Sleep until the bytes read so far are due at RATE.
                let due = Duration::from_secs_f64(got as f64 / RATE);
                tokio::time::sleep(due.saturating_sub(start.elapsed())).await;
            }
            got
        })
        .buffer_unordered(CLIENTS)
        .collect()
        .await;
    let peak = sampler.stop();
    let mean = read.iter().sum::<u64>() as f64 / CLIENTS as f64;
    println!(
        "  ({CLIENTS} clients read {:.0} KiB each on average in {} s)",
        mean / 1024.0,
        FOR.as_secs()
    );
    record(
        report,
        &format!("{CLIENTS} slow GET clients (64 KiB/s)"),
        idle,
        peak,
        64.0,
    );
}

pub async fn run(b: &Bench, pid: u32, dir: &std::path::Path, big: u64, report: &mut Report) {
    println!("\nserver RSS (VmRSS every 50 ms), peak over the idle level just before:");
    big_stream(b, pid, dir, big, report).await;
    slow_clients(b, pid, report).await;
}
