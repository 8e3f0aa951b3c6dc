//! Connection floods against the real binary with a lowered open-file limit: idle sockets must
//! not lock real clients out (the longest-idle connection is closed to make room), the soft
//! limit is raised to the hard one at start, `max_connections` bounds the sockets the gateway
//! holds, and a response being streamed is never cut to make room.
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use common::{Options, Server, random};

/// Raises this test process's own descriptor limit: it holds the flood's client sockets.
fn raise_own_nofile(want: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let cur = getrlimit(Resource::Nofile);
    let target = cur.maximum.map_or(want, |hard| hard.min(want));
    if cur.current.is_some_and(|soft| soft < target) {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(target),
                maximum: cur.maximum,
            },
        )
        .expect("raise the test's open-file limit");
    }
}

/// Our own hard descriptor limit (`None`: unlimited).
fn own_hard_nofile() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum
}

fn nofile_launcher(soft: u64, hard: u64) -> Vec<String> {
    vec![
        "prlimit".into(),
        format!("--nofile={soft}:{hard}"),
        "--".into(),
    ]
}

/// `host:port` of an `https://localhost:port` or `http://127.0.0.1:port/...` URL.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let hp = rest.split('/').next().unwrap();
    hp.replace("localhost", "127.0.0.1")
}

/// Opens `n` TCP connections to `addr` that never send a byte.
fn idle_sockets(addr: &str, n: usize) -> Vec<TcpStream> {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    (0..n)
        .map(|i| {
            TcpStream::connect_timeout(&addr, Duration::from_secs(20))
                .unwrap_or_else(|e| panic!("idle connection {i} to {addr}: {e}"))
        })
        .collect()
}

/// The value of an unlabelled sample from `/metrics` (fetched with std only).
fn metric(server: &Server, name: &str) -> u64 {
    let url = server.metrics_url.as_deref().expect("metrics URL");
    let host = host_port(url);
    let raw = metrics_text(&host);
    let prefix = format!("{name} ");
    raw.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in\n{raw}"))
        .trim()
        .parse()
        .unwrap()
}

/// The `/metrics` page. The metrics listener counts toward the connection cap these tests
/// flood, so its connection may itself be the one closed to make room: then it asks again.
fn metrics_text(host: &str) -> String {
    let mut last = None;
    for _ in 0..40 {
        let attempt = TcpStream::connect(host).and_then(|mut s| {
            write!(
                s,
                "GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            )?;
            let mut raw = String::new();
            s.read_to_string(&mut raw)?;
            Ok(raw)
        });
        match attempt {
            Ok(raw) if raw.starts_with("HTTP/1.1 200") => return raw,
            Ok(raw) => last = Some(format!("answered {:?}", raw.lines().next())),
            Err(e) => last = Some(e.to_string()),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("/metrics at {host}: {}", last.unwrap_or_default())
}

/// Polls `/metrics` until `name` reaches `at_least`; fails the test after a minute.
fn wait_for_metric(server: &Server, name: &str, at_least: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = metric(server, name);
        if v >= at_least {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{name} stayed at {v}, expected at least {at_least}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sockets (listening and connected) in the server's descriptor table.
fn socket_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("server fd table")
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

/// `(soft, hard)` "Max open files" of a process, from /proc/PID/limits.
fn proc_nofile(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files line");
    let fields: Vec<&str> = line["Max open files".len()..].split_whitespace().collect();
    (fields[0].to_owned(), fields[1].to_owned())
}

/// True when the peer closed `s` (EOF or reset) within the read timeout.
fn closed_by_server(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 1];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
        ),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_flood_over_the_fd_limit_does_not_lock_out_clients() {
    raise_own_nofile(8192);
    // Soft = hard = 1024: the gateway cannot raise it, so its cap is derived from 1024.
    let server = Server::start_with(Options {
        launcher: nofile_launcher(1024, 1024),
        ..Default::default()
    });
    assert_eq!(
        proc_nofile(server.pid()),
        ("1024".to_owned(), "1024".to_owned())
    );
    let max = metric(&server, "sealgate_connections_max");
    assert_eq!(max, 768, "three quarters of 1024 descriptors");

    // 1,500 idle connections, more than the gateway has descriptors: 1,000 on S3 (HTTPS), 500 on
    // the KMS port; none sends a byte.
    let s3_addr = host_port(&server.s3_https);
    let kms_addr = host_port(&server.kms_https);
    let mut flood = idle_sockets(&s3_addr, 1000);
    flood.extend(idle_sockets(&kms_addr, 500));
    // Each connection beyond the cap evicted an idle one.
    let evicted = wait_for_metric(&server, "sealgate_connections_evicted_total", 1500 - max);
    assert!(metric(&server, "sealgate_connections_open") <= max);
    // The first flood connection was the longest idle: the gateway closed it.
    assert!(
        closed_by_server(&mut flood[0]),
        "the oldest idle connection is closed"
    );

    // With every flood socket still open on our side, real clients are served.
    let s3 = server.s3().await;
    s3.create_bucket().bucket("flood").send().await.unwrap();
    let data = random(256 * 1024);
    s3.put_object()
        .bucket("flood")
        .key("k")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .expect("PUT during the flood");
    let got = s3
        .get_object()
        .bucket("flood")
        .key("k")
        .send()
        .await
        .expect("GET during the flood")
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(got.as_ref(), data.as_slice());
    let kms = server.kms().await;
    let key = kms
        .create_key()
        .send()
        .await
        .expect("KMS CreateKey during the flood");
    let key_id = key.key_metadata().unwrap().key_id();
    let data_key = kms
        .generate_data_key()
        .key_id(key_id)
        .number_of_bytes(32)
        .send()
        .await
        .expect("KMS GenerateDataKey during the flood");
    assert_eq!(data_key.plaintext().unwrap().as_ref().len(), 32);

    assert!(metric(&server, "sealgate_connections_evicted_total") >= evicted);
    assert!(metric(&server, "sealgate_connections_open") <= max);
    assert!(
        std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
            .unwrap()
            .count()
            < 1024
    );
    drop(flood);
}

#[test]
fn soft_nofile_limit_is_raised_to_the_hard_limit() {
    let hard = own_hard_nofile().map_or(4096, |h| h.min(4096));
    let server = Server::start_with(Options {
        launcher: nofile_launcher(1024, hard),
        ..Default::default()
    });
    assert_eq!(
        proc_nofile(server.pid()),
        (hard.to_string(), hard.to_string()),
        "the soft limit is raised to the hard one"
    );
    let log = server.log();
    assert!(
        log.lines().any(|l| l.contains("open-file limit")
            && l.contains("before=Some(1024)")
            && l.contains(&format!("after=Some({hard})"))),
        "before/after logged:\n{log}"
    );
    let reserve = (hard / 4).clamp(64, 4096);
    assert_eq!(metric(&server, "sealgate_connections_max"), hard - reserve);
}

#[tokio::test(flavor = "multi_thread")]
async fn max_connections_bounds_the_sockets_held_and_clients_are_served() {
    let server = Server::start_with(Options {
        env: vec![("SEALGATE_MAX_CONNECTIONS".into(), "50".into())],
        ..Default::default()
    });
    assert_eq!(metric(&server, "sealgate_connections_max"), 50);
    let pid = server.pid();
    // Listening sockets and the runtime's own (signal) sockets, before any client.
    let baseline = socket_count(pid);

    let flood = idle_sockets(&host_port(&server.s3_https), 200);
    // Sample the gateway's sockets while it works through the flood.
    let mut most = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        most = most.max(socket_count(pid));
        if metric(&server, "sealgate_connections_evicted_total") >= 150 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the flood was not worked through"
        );
    }
    most = most.max(socket_count(pid));
    assert!(
        most <= baseline + 50,
        "at most 50 connections: {most} sockets, {baseline} before the flood"
    );

    let s3 = server.s3().await;
    s3.create_bucket().bucket("capped").send().await.unwrap();
    s3.put_object()
        .bucket("capped")
        .key("k")
        .body(ByteStream::from_static(b"served under the cap"))
        .send()
        .await
        .expect("PUT at the cap");
    let got = s3
        .get_object()
        .bucket("capped")
        .key("k")
        .send()
        .await
        .expect("GET at the cap")
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(got.as_ref(), b"served under the cap");
    assert!(socket_count(pid) <= baseline + 50);
    assert!(metric(&server, "sealgate_connections_open") <= 50);
    drop(flood);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_in_flight_is_not_cut_to_make_room() {
    let server = Server::start_with(Options {
        config_toml: Some("max_connections = 20\n".into()),
        ..Default::default()
    });
    assert_eq!(metric(&server, "sealgate_connections_max"), 20);
    let s3 = server.s3().await;
    s3.create_bucket().bucket("inflight").send().await.unwrap();
    // Large enough that most of it is still unsent while we hold the stream.
    let data = random(32 * 1024 * 1024);
    s3.put_object()
        .bucket("inflight")
        .key("big")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    let mut body = s3
        .get_object()
        .bucket("inflight")
        .key("big")
        .send()
        .await
        .unwrap()
        .body;
    let mut got = Vec::with_capacity(data.len());
    got.extend_from_slice(&body.next().await.expect("first chunk").unwrap());

    // A flood past the cap while the response is mid-stream: idle connections go, it stays.
    let before = metric(&server, "sealgate_connections_evicted_total");
    let flood = idle_sockets(&host_port(&server.s3_https), 100);
    wait_for_metric(&server, "sealgate_connections_evicted_total", before + 80);
    while let Some(chunk) = body.next().await {
        got.extend_from_slice(&chunk.expect("the in-flight GET is not cut"));
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the streamed body is intact");
    drop(flood);
}
