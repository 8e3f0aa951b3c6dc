//! Large single streams: PUT and GET of one big object per mode against the ideal gateway,
//! measured side by side in interleaved rounds; the figures are medians of per-round ratios.
//! Also the server's and the client's CPU per GB, the two-core bound they imply, the GET
//! server floor (super::floor), and the bytes a range GET reads.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::floor::{GetFloor, get_floor};
use super::ideal::Ideal;
use sha2::{Digest, Sha256};

use super::measure::{Cost, CpuMark, Report, cost, machine_busy_seconds, mbps, median, s_per_gb};
use super::put_floor::{PutFloor, put_floor};
use super::{Bench, Mode, Transport};

/// The targets (docs/PERFORMANCE.md, "The targets").
const GET_X_IDEAL: f64 = 0.6;
const PUT_SSE_S3_X_IDEAL: f64 = 0.85;
const PUT_NO_MD5_X_SSE_S3: f64 = 1.5;
const GET_X_CIPHER_CPU: f64 = 1.5;

/// What one stream measurement gave.
#[derive(Clone, Copy, Default)]
struct Sample {
    mbps: f64,
    cpu_per_gb: f64,
    /// This process's CPU per GB over the same request: the client (AWS SDK, its TLS, the
    /// kernel's work in its threads).
    client_per_gb: f64,
    /// Cores the rest of the machine kept busy meanwhile (other processes, steal): busy CPU
    /// from /proc/stat minus the server's and the client's, over the wall time.
    others: f64,
}

impl Sample {
    /// Server and client CPU per GB together: what one GB costs the machine.
    fn both(&self) -> f64 {
        self.cpu_per_gb + self.client_per_gb
    }
}

async fn timed<F: std::future::Future<Output = ()>>(pid: u32, bytes: usize, f: F) -> Sample {
    let (t, server, client) = (Instant::now(), CpuMark::now(pid), CpuMark::client());
    let busy = machine_busy_seconds();
    f.await;
    let (wall, server, client) = (t.elapsed(), server.elapsed(), client.elapsed());
    let others = (machine_busy_seconds() - busy - server - client) / wall.as_secs_f64();
    Sample {
        mbps: mbps(bytes, wall),
        cpu_per_gb: s_per_gb(server, bytes),
        client_per_gb: s_per_gb(client, bytes),
        others: others.max(0.0),
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
/// PUT rows with a signed payload (the Rust SDK's default) and the same modes unsigned (the
/// aws CLI's and boto3's default over HTTPS). SSE-S3 comes first in each group: the SSE-KMS
/// and SSE-C rows are compared with the SSE-S3 row signed the same way.
const PUT_ROWS: [(Mode, Transport); 6] = [
    (Mode::SseS3, Transport::Https),
    (Mode::SseKms, Transport::Https),
    (Mode::SseC, Transport::Https),
    (Mode::Plain, Transport::Https),
    (Mode::SseS3, Transport::HttpsUnsigned),
    (Mode::SseKms, Transport::HttpsUnsigned),
];

fn row_name(mode: Mode, transport: Transport) -> String {
    match transport {
        Transport::Https => mode.name().to_owned(),
        Transport::HttpsUnsigned => format!("{}, unsigned payload", mode.name()),
        Transport::Http => format!("{} (plain HTTP)", mode.name()),
    }
}

pub(super) fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

/// MB/s that `s_per_gb` of CPU allows when every core does nothing else.
fn bound(s_per_gb: f64) -> f64 {
    cores() / s_per_gb * 1000.0
}

/// MB/s when the client first spends `serial_per_gb` of CPU alone (the SDK hashing a body it
/// signs: the server has nothing to do until the first byte arrives) and then `s_per_gb` in all
/// (that included) is shared by every core.
fn serial_bound(serial_per_gb: f64, s_per_gb: f64) -> f64 {
    1000.0 / (serial_per_gb + (s_per_gb - serial_per_gb).max(0.0) / cores())
}

/// MB/s that the sample's CPU per GB allows on the cores the rest of the machine left free.
fn free_bound(s: &Sample) -> f64 {
    (cores() - s.others).max(0.0) / s.both() * 1000.0
}

/// Whether this run's throughput was what the cores the rest of the machine left free allow
/// (within 15%): then the shared machine, not the gateway, set this run's figure.
fn this_run(mbps: f64, free: f64) -> &'static str {
    if mbps >= 0.85 * free {
        "; this run: at the free cores' bound"
    } else {
        ""
    }
}

/// Which limit a row's target meets: the two cores even for a gateway at the floor, the two
/// cores for this gateway, or neither (then something else — the code, the pipeline — is).
fn verdict(floor_bound: f64, two_core: f64, target: f64) -> &'static str {
    if floor_bound < target {
        "2 cores, even at the floor"
    } else if two_core < target {
        "2 cores"
    } else {
        "NOT the cores"
    }
}

/// Prints and reports the median CPU per GB of each part of a floor (`op` GET or PUT), given
/// its parts as measured in each round.
fn print_floor(op: &str, rounds: &[Vec<(&str, Cost)>], size: usize, report: &mut Report) {
    println!(
        "\n{op} server floor per GB (this process, one thread's CPU clock, {} MiB):",
        size >> 20
    );
    for (p, (name, _)) in rounds[0].iter().enumerate() {
        let cpu = med(rounds, |parts| s_per_gb(parts[p].1.cpu, size));
        println!("  {name:<30} {cpu:>6.3} s/GB");
        let subject = format!("{op} floor {name}");
        report.add("stream", &subject, "cpu_per_gb", cpu, "s/GB");
    }
}

/// Reports one row's figures: (metric, value, unit) each.
fn report_row(report: &mut Report, subject: &str, figures: &[(&str, f64, &str)]) {
    for &(metric, value, unit) in figures {
        report.add("stream", subject, metric, value, unit);
    }
}

/// Medians over rounds of one field.
fn med<T>(v: &[T], f: impl Fn(&T) -> f64) -> f64 {
    median(&v.iter().map(f).collect::<Vec<_>>())
}

/// `dir`: a directory on the disk of the gateway's data dir (for the GET floor's file).
pub async fn run(
    b: &Bench,
    pid: u32,
    dir: &Path,
    data: Arc<Vec<u8>>,
    rounds: usize,
    report: &mut Report,
) {
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
    let mut floors: Vec<GetFloor> = Vec::new();
    let mut put_floors: Vec<PutFloor> = Vec::new();
    // The SDK signs an in-memory body: it hashes all of it (SHA-256) before the first byte
    // leaves, while the server can only wait. Measured with the same crate, per round.
    let mut presend: Vec<Cost> = Vec::new();
    for _ in 0..rounds {
        let open = ideal.open();
        ideal_open.push(open);
        floors.push(get_floor(dir, &data, open));
        for (i, &(mode, transport)) in GET_ROWS.iter().enumerate() {
            let s = timed(pid, size, async {
                assert_eq!(b.get(mode, transport, &key(mode)).await, size);
            })
            .await;
            get[i].push((s, s.mbps / (size as f64 / open.wall / 1e6)));
        }
        put_floors.push(put_floor(dir, &data));
        presend.push(cost(|| {
            std::hint::black_box(Sha256::digest(&data[..]));
        }));
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

    let cost_mbps = |c: &[Cost]| med(c, |c| size as f64 / c.wall / 1e6);
    let cost_cpu = |c: &[Cost]| med(c, |c| s_per_gb(c.cpu, size));
    let open_cpu = cost_cpu(&ideal_open);
    let floor_cpu = med(&floors, |f| s_per_gb(f.cpu(), size));
    println!(
        "\n{} MiB single stream, {rounds} interleaved rounds, medians (ratios are medians of \
         per-round ratios). CPU per GB: server = the gateway's threads, client = this process's (schedstat); \
         2-core bound = {} cores / (server + client CPU per GB)",
        size >> 20,
        cores()
    );
    let print_ideal = |op: &str, name: &str, c: &[Cost], report: &mut Report| {
        let (m, cpu) = (cost_mbps(c), cost_cpu(c));
        println!(
            "{op:<4} {name:<27} {m:>7.0} {:>7.2} {cpu:>7.2} {:>7} {:>6} {:>7} {:>8}",
            1.0, "-", "-", "-", "-"
        );
        report.add("stream", &format!("{op} {name}"), "throughput", m, "MB/s");
        report.add("stream", &format!("{op} {name}"), "cpu_per_gb", cpu, "s/GB");
    };

    // GET: the target is 0.6x the ideal's MB/s; the floor is what an HTTPS GET of a local
    // object costs the server whatever its code.
    let get_target = GET_X_IDEAL * cost_mbps(&ideal_open);
    let parts: Vec<Vec<(&str, Cost)>> = floors.iter().map(|f| f.parts().to_vec()).collect();
    print_floor("GET", &parts, size, report);
    println!(
        "  {:<30} {floor_cpu:>6.3} s/GB  (the cipher alone, 'x cipher' below: {open_cpu:.3} s/GB)",
        "sum: the GET server floor"
    );
    report.add("stream", "GET floor sum", "cpu_per_gb", floor_cpu, "s/GB");
    println!(
        "{:<4} {:<27} {:>7} {:>7} {:>7} {:>7} {:>6} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}  limit",
        "op",
        "subject",
        "MB/s",
        "x ideal",
        "server",
        "client",
        "others",
        "free",
        "2-core",
        "floor+cl",
        "target",
        "x cipher",
        "x floor"
    );
    println!(
        "{:<4} {:<27} {:>7} {:>7} {:>7} {:>7} {:>6} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "", "", "", "", "s/GB", "s/GB", "cores", "MB/s", "MB/s", "MB/s", "MB/s", "<= 1.5", ""
    );
    print_ideal("GET", "ideal (AES-GCM open)", &ideal_open, report);
    for (i, &(mode, transport)) in GET_ROWS.iter().enumerate() {
        let name = row_name(mode, transport);
        let m = med(&get[i], |(s, _)| s.mbps);
        let ratio = med(&get[i], |(_, r)| *r);
        let cpu = med(&get[i], |(s, _)| s.cpu_per_gb);
        let client = med(&get[i], |(s, _)| s.client_per_gb);
        let two_core = med(&get[i], |(s, _)| bound(s.both()));
        let floor_bound = med(&get[i], |(s, _)| bound(s.client_per_gb + floor_cpu));
        let others = med(&get[i], |(s, _)| s.others);
        let free = med(&get[i], |(s, _)| free_bound(s));
        println!(
            "{:<4} {name:<27} {m:>7.0} {ratio:>7.2} {cpu:>7.2} {client:>7.2} {others:>6.2} \
             {free:>7.0} {two_core:>8.0} {floor_bound:>8.0} {get_target:>8.0} {:>8.2} {:>8.2}  {}{}",
            "GET",
            cpu / open_cpu,
            cpu / floor_cpu,
            verdict(floor_bound, two_core, get_target),
            this_run(m, free),
        );
        let subject = format!("GET {name}");
        report_row(
            report,
            &subject,
            &[
                ("throughput", m, "MB/s"),
                ("x_ideal", ratio, "ratio"),
                ("cpu_per_gb", cpu, "s/GB"),
                ("client_cpu_per_gb", client, "s/GB"),
                ("two_core_bound", two_core, "MB/s"),
                ("floor_client_bound", floor_bound, "MB/s"),
                ("target", get_target, "MB/s"),
                ("x_cipher_cpu", cpu / open_cpu, "ratio"),
                ("x_floor_cpu", cpu / floor_cpu, "ratio"),
            ],
        );
    }
    println!(
        "     (others = cores the rest of the machine kept busy meanwhile; free = the bound on the \
         cores it left; target: {GET_X_IDEAL}x the ideal's MB/s; x cipher = server CPU / the ideal's open \
         (target <= {GET_X_CIPHER_CPU}); x floor = server CPU / the floor's sum; floor+cl = the \
         2-core bound of a gateway at the floor with this client)"
    );

    // PUT: SSE-S3 (and plaintext) against 0.85x the ideal with MD5; SSE-KMS and SSE-C against
    // 1.5x SSE-S3's MB/s, whose CPU-bound form is the ratio of the two rows' CPU per GB. The
    // floor: receiving and storing the body (put_floor) plus the ideal's MD5 and seal.
    let parts: Vec<Vec<(&str, Cost)>> = put_floors.iter().map(|f| f.parts().to_vec()).collect();
    print_floor("PUT", &parts, size, report);
    let receive_cpu = med(&put_floors, |f| s_per_gb(f.cpu(), size));
    let (md5_seal_cpu, seal_cpu) = (cost_cpu(&ideal_seal_md5), cost_cpu(&ideal_seal));
    let put_floor_cpu = |mode: Mode| {
        receive_cpu
            + if matches!(mode, Mode::SseS3 | Mode::Plain) {
                md5_seal_cpu
            } else {
                seal_cpu
            }
    };
    println!(
        "  {:<30} {:>6.3} s/GB  (+ the ideal's MD5 and seal: {:.3} s/GB; its seal alone: {:.3})",
        "sum: receive and store",
        receive_cpu,
        receive_cpu + md5_seal_cpu,
        receive_cpu + seal_cpu
    );
    report.add("stream", "PUT floor sum", "cpu_per_gb", receive_cpu, "s/GB");
    let disk = med(&put_floors, |f| f.disk_s_per_gb(size));
    println!(
        "  {:<30} {:>6.0} MB/s  (the write above, by the clock: no PUT to this disk is faster)",
        "the disk, written so",
        1000.0 / disk
    );
    report.add(
        "stream",
        "PUT floor disk write",
        "throughput",
        1000.0 / disk,
        "MB/s",
    );
    println!(
        "{:<4} {:<27} {:>7} {:>7} {:>7} {:>7} {:>6} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  limit",
        "op",
        "subject",
        "MB/s",
        "x ideal",
        "server",
        "client",
        "others",
        "free",
        "2-core",
        "floor+cl",
        "target",
        "x SSE-S3",
        "bound x",
        "x floor"
    );
    print_ideal("PUT", "ideal (MD5 + AES-GCM seal)", &ideal_seal_md5, report);
    print_ideal("PUT", "ideal (AES-GCM seal)", &ideal_seal, report);
    let no_presend = vec![Cost::default(); presend.len()];
    for (i, &(mode, transport)) in PUT_ROWS.iter().enumerate() {
        let name = row_name(mode, transport);
        // The SSE-S3 row signed the same way, and the client's hashing before it sends (that
        // round's) when it signs the payload.
        let s3_row = PUT_ROWS
            .iter()
            .position(|&r| r == (Mode::SseS3, transport))
            .expect("every PUT group has an SSE-S3 row");
        let s3_put: Vec<Sample> = put[s3_row].iter().map(|(s, _)| *s).collect();
        let presend = if transport == Transport::HttpsUnsigned {
            &no_presend
        } else {
            &presend
        };
        let serial = |p: &Cost| s_per_gb(p.cpu, size);
        let rounds: Vec<(&Sample, &Sample, &Cost)> = put[i]
            .iter()
            .zip(&s3_put)
            .zip(presend)
            .map(|(((s, _), s3), p)| (s, s3, p))
            .collect();
        let m = med(&put[i], |(s, _)| s.mbps);
        let ratio = med(&put[i], |(_, r)| *r);
        let cpu = med(&put[i], |(s, _)| s.cpu_per_gb);
        let client = med(&put[i], |(s, _)| s.client_per_gb);
        let two_core = med(&rounds, |(s, _, p)| serial_bound(serial(p), s.both()));
        let vs_s3 = med(&rounds, |(s, s3, _)| s.mbps / s3.mbps);
        // The same ratio over the time the server could work: each PUT's wall time less the
        // client's hashing before it sent.
        let wall = |s: &Sample| size as f64 / (s.mbps * 1e6);
        let net_vs_s3 = med(&rounds, |(s, s3, p)| {
            (wall(s3) - p.wall) / (wall(s) - p.wall)
        });
        // What the ratio to SSE-S3 would be if both PUTs were bound by the two cores.
        let bound_vs_s3 = med(&rounds, |(s, s3, p)| {
            serial_bound(serial(p), s.both()) / serial_bound(serial(p), s3.both())
        });
        let target = if matches!(mode, Mode::SseS3 | Mode::Plain) {
            PUT_SSE_S3_X_IDEAL * cost_mbps(&ideal_seal_md5)
        } else {
            PUT_NO_MD5_X_SSE_S3 * med(&s3_put, |s| s.mbps)
        };
        let others = med(&put[i], |(s, _)| s.others);
        let free = med(&put[i], |(s, _)| free_bound(s));
        let floor_cpu = put_floor_cpu(mode);
        let floor_bound = med(&rounds, |(s, _, p)| {
            serial_bound(serial(p), s.client_per_gb + floor_cpu)
        });
        // The disk's bound for this row: its write, after the client's hashing if it signs.
        let disk_bound = med(&rounds, |(_, _, p)| 1000.0 / (serial(p) + disk));
        // SSE-KMS and SSE-C: the target is a ratio to SSE-S3; the most the two cores give it
        // is the ratio of the two rows' CPU per GB.
        let md5 = matches!(mode, Mode::SseS3 | Mode::Plain);
        let met = if md5 {
            m >= target
        } else {
            vs_s3 >= PUT_NO_MD5_X_SSE_S3
        };
        let limit = match mode {
            _ if met => "met",
            _ if md5 => verdict(floor_bound, two_core, target),
            _ if bound_vs_s3 < PUT_NO_MD5_X_SSE_S3 => "CPU per GB ratio",
            _ if disk_bound < target => "the disk's write bandwidth",
            _ if net_vs_s3 >= PUT_NO_MD5_X_SSE_S3 => "the client's pre-send SHA-256",
            _ => "NOT the CPU per GB ratio",
        };
        println!(
            "{:<4} {name:<27} {m:>7.0} {ratio:>7.2} {cpu:>7.2} {client:>7.2} {others:>6.2} \
             {free:>7.0} {two_core:>8.0} {floor_bound:>8.0} {target:>8.0} {vs_s3:>8.2} \
             {bound_vs_s3:>8.2} {:>8.2}  {limit}{}",
            "PUT",
            cpu / floor_cpu,
            this_run(m, free),
        );
        let subject = format!("PUT {name}");
        report_row(
            report,
            &subject,
            &[
                ("throughput", m, "MB/s"),
                ("x_ideal", ratio, "ratio"),
                ("cpu_per_gb", cpu, "s/GB"),
                ("client_cpu_per_gb", client, "s/GB"),
                ("two_core_bound", two_core, "MB/s"),
                ("target", target, "MB/s"),
                ("floor_client_bound", floor_bound, "MB/s"),
                ("disk_bound", disk_bound, "MB/s"),
                ("x_floor_cpu", cpu / floor_cpu, "ratio"),
                ("others_cores", others, "cores"),
                ("free_core_bound", free, "MB/s"),
                ("x_sse_s3_put", vs_s3, "ratio"),
                ("cpu_bound_x_sse_s3_put", bound_vs_s3, "ratio"),
                ("x_sse_s3_put_net_of_presend", net_vs_s3, "ratio"),
            ],
        );
        if !matches!(mode, Mode::SseS3 | Mode::Plain) && transport != Transport::HttpsUnsigned {
            println!("     {name}: {net_vs_s3:.2}x SSE-S3 net of the client's pre-send hashing");
        }
    }
    let presend_wall = med(&presend, |c| c.wall);
    println!(
        "     the client's SHA-256 of the body before it sends: {:.3} s per {} MiB ({:.0} MB/s)",
        presend_wall,
        size >> 20,
        size as f64 / presend_wall / 1e6
    );
    report.add(
        "stream",
        "PUT client pre-send SHA-256",
        "wall",
        presend_wall,
        "s",
    );
    println!(
        "     (target: SSE-S3 and plaintext {PUT_SSE_S3_X_IDEAL}x the ideal with MD5; SSE-KMS and \
         SSE-C {PUT_NO_MD5_X_SSE_S3}x the MB/s of SSE-S3 signed the same way; bound x = this row's \
         2-core bound / that SSE-S3 row's: the ratio if both were bound by the cores; x floor = server \
         CPU / the PUT floor with this row's MD5 and seal; floor+cl = the 2-core bound of a \
         gateway at that floor with this client; for a row that signs its payload the 2-core bounds \
         put the client's pre-send SHA-256 first, alone, and share the rest of the CPU)"
    );
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
