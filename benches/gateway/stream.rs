//! Large single streams: PUT and GET of one big object per mode against the ideal gateway,
//! measured side by side in interleaved rounds; the figures are medians of per-round ratios.
//! Also the server's CPU per GB and the bytes a range GET reads.

use std::sync::Arc;
use std::time::Instant;

use super::ideal::Ideal;
use super::measure::{Report, cpu_seconds, mbps, median, s_per_gb};
use super::{Bench, Mode, Transport};

/// What one stream measurement gave.
#[derive(Clone, Copy, Default)]
struct Sample {
    mbps: f64,
    cpu_per_gb: f64,
}

async fn timed<F: std::future::Future<Output = ()>>(pid: u32, bytes: usize, f: F) -> Sample {
    let (t, c) = (Instant::now(), cpu_seconds(pid));
    f.await;
    Sample {
        mbps: mbps(bytes, t.elapsed()),
        cpu_per_gb: s_per_gb(cpu_seconds(pid) - c, bytes),
    }
}

/// The rows: which mode over which transport.
const GET_ROWS: [(Mode, Transport); 5] = [
    (Mode::SseS3, Transport::Https),
    (Mode::SseKms, Transport::Https),
    (Mode::SseC, Transport::Https),
    (Mode::Plain, Transport::Https),
    (Mode::SseS3, Transport::Http),
];
const PUT_ROWS: [(Mode, Transport); 4] = [
    (Mode::SseS3, Transport::Https),
    (Mode::SseKms, Transport::Https),
    (Mode::SseC, Transport::Https),
    (Mode::Plain, Transport::Https),
];

fn row_name(mode: Mode, transport: Transport) -> String {
    match transport {
        Transport::Https => mode.name().to_owned(),
        Transport::Http => format!("{} (plain HTTP)", mode.name()),
    }
}

pub async fn run(b: &Bench, pid: u32, data: Arc<Vec<u8>>, rounds: usize, report: &mut Report) {
    let size = data.len();
    let mut ideal = Ideal::new(&data);
    // One object per mode: SSE-S3, SSE-KMS and SSE-C objects share the encrypted bucket.
    let key = |mode: Mode| format!("stream/get-{}", mode.name());
    for (mode, _) in GET_ROWS {
        b.put(mode, Transport::Https, &key(mode), data.clone())
            .await;
    }
    // Per row, per round: the sample and its ratio to the ideal of the same round.
    let mut get: Vec<Vec<(Sample, f64)>> = vec![Vec::new(); GET_ROWS.len()];
    let mut put: Vec<Vec<(Sample, f64)>> = vec![Vec::new(); PUT_ROWS.len()];
    let (mut ideal_open, mut ideal_seal_md5, mut ideal_seal) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        let open = ideal.open();
        ideal_open.push(open);
        for (i, &(mode, transport)) in GET_ROWS.iter().enumerate() {
            let s = timed(pid, size, async {
                assert_eq!(b.get(mode, transport, &key(mode)).await, size);
            })
            .await;
            get[i].push((s, s.mbps / (size as f64 / open.wall / 1e6)));
        }
        let with_md5 = ideal.seal(&data, true);
        let without = ideal.seal(&data, false);
        ideal_seal_md5.push(with_md5);
        ideal_seal.push(without);
        for (i, &(mode, transport)) in PUT_ROWS.iter().enumerate() {
            let s = timed(
                pid,
                size,
                b.put(mode, transport, "stream/put", data.clone()),
            )
            .await;
            // SSE-S3 and plaintext objects need the MD5 for their ETag; the others do not.
            let reference = if matches!(mode, Mode::SseS3 | Mode::Plain) {
                with_md5
            } else {
                without
            };
            put[i].push((s, s.mbps / (size as f64 / reference.wall / 1e6)));
        }
    }

    let cost_mbps = |c: &[super::ideal::Cost]| {
        median(
            &c.iter()
                .map(|c| size as f64 / c.wall / 1e6)
                .collect::<Vec<_>>(),
        )
    };
    let cost_cpu = |c: &[super::ideal::Cost]| {
        median(&c.iter().map(|c| s_per_gb(c.cpu, size)).collect::<Vec<_>>())
    };
    let open_cpu = cost_cpu(&ideal_open);
    println!(
        "\n{} MiB single stream, {rounds} interleaved rounds, medians (ratios are medians of per-round ratios)",
        size >> 20
    );
    println!(
        "{:<4} {:<26} {:>9} {:>9} {:>13} {:>12}",
        "op", "subject", "MB/s", "x ideal", "CPU s/GB", "x cipher"
    );
    let print_ideal = |op: &str, name: &str, c: &[super::ideal::Cost], report: &mut Report| {
        let (m, cpu) = (cost_mbps(c), cost_cpu(c));
        println!(
            "{op:<4} {name:<26} {m:>9.0} {:>9.2} {cpu:>13.2} {:>12.2}",
            1.0, 1.0
        );
        report.add("stream", &format!("{op} {name}"), "throughput", m, "MB/s");
        report.add("stream", &format!("{op} {name}"), "cpu_per_gb", cpu, "s/GB");
    };
    print_ideal("GET", "ideal (AES-GCM open)", &ideal_open, report);
    let mut s3_get = f64::NAN;
    for (i, &(mode, transport)) in GET_ROWS.iter().enumerate() {
        let name = row_name(mode, transport);
        let m = median(&get[i].iter().map(|(s, _)| s.mbps).collect::<Vec<_>>());
        let ratio = median(&get[i].iter().map(|(_, r)| *r).collect::<Vec<_>>());
        let cpu = median(&get[i].iter().map(|(s, _)| s.cpu_per_gb).collect::<Vec<_>>());
        if i == 0 {
            s3_get = m;
        }
        println!(
            "{:<4} {name:<26} {m:>9.0} {ratio:>9.2} {cpu:>13.2} {:>12.2}",
            "GET",
            cpu / open_cpu
        );
        let subject = format!("GET {name}");
        report.add("stream", &subject, "throughput", m, "MB/s");
        report.add("stream", &subject, "x_ideal", ratio, "ratio");
        report.add("stream", &subject, "cpu_per_gb", cpu, "s/GB");
        report.add("stream", &subject, "x_cipher_cpu", cpu / open_cpu, "ratio");
    }
    print_ideal("PUT", "ideal (MD5 + AES-GCM seal)", &ideal_seal_md5, report);
    print_ideal("PUT", "ideal (AES-GCM seal)", &ideal_seal, report);
    let s3_put: Vec<f64> = put[0].iter().map(|(s, _)| s.mbps).collect();
    for (i, &(mode, transport)) in PUT_ROWS.iter().enumerate() {
        let name = row_name(mode, transport);
        let m = median(&put[i].iter().map(|(s, _)| s.mbps).collect::<Vec<_>>());
        let ratio = median(&put[i].iter().map(|(_, r)| *r).collect::<Vec<_>>());
        let cpu = median(&put[i].iter().map(|(s, _)| s.cpu_per_gb).collect::<Vec<_>>());
        let vs_s3 = median(
            &put[i]
                .iter()
                .zip(&s3_put)
                .map(|((s, _), s3)| s.mbps / s3)
                .collect::<Vec<_>>(),
        );
        println!(
            "{:<4} {name:<26} {m:>9.0} {ratio:>9.2} {cpu:>13.2} {:>12}   x SSE-S3 PUT {vs_s3:.2}",
            "PUT", ""
        );
        let subject = format!("PUT {name}");
        report.add("stream", &subject, "throughput", m, "MB/s");
        report.add("stream", &subject, "x_ideal", ratio, "ratio");
        report.add("stream", &subject, "cpu_per_gb", cpu, "s/GB");
        report.add("stream", &subject, "x_sse_s3_put", vs_s3, "ratio");
    }
    let _ = s3_get;
    range_reads(b, pid, &data, report).await;
}

/// Bytes the server reads from disk for a 1 MiB range GET in the middle of the big SSE-S3
/// object: the ciphertext of the covering segments (plus the meta record), never the object.
async fn range_reads(b: &Bench, pid: u32, data: &[u8], report: &mut Report) {
    let before = super::proc_field(pid, "io", "rchar:");
    let mid = (data.len() / 2) as u64;
    let out =
        b.s3.get_object()
            .bucket(Mode::SseS3.bucket())
            .key(format!("stream/get-{}", Mode::SseS3.name()))
            .range(format!("bytes={}-{}", mid, mid + (1 << 20) - 1))
            .send()
            .await
            .unwrap();
    let got = out.body.collect().await.unwrap().into_bytes();
    assert_eq!(&got[..], &data[mid as usize..mid as usize + (1 << 20)]);
    let read = (super::proc_field(pid, "io", "rchar:") - before) as f64 / 1048576.0;
    println!(
        "1 MiB range GET from the {} MiB object: the server read {read:.2} MiB",
        data.len() >> 20
    );
    report.add("stream", "GET 1 MiB range", "bytes_read", read, "MiB");
}
