//! Shared by `read_races.rs` and `sweep.rs`: reading the gateway's counters and running one
//! sweep on demand (SIGUSR1, then wait until `sealgate_sweep_runs_total` moves).
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use crate::common::Server;

/// The body of `GET /metrics` (plain HTTP/1.1 with std only).
pub fn metrics_text(server: &Server) -> String {
    let url = server.metrics_url.as_deref().expect("metrics listener");
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = std::net::TcpStream::connect(host).expect("connect to metrics listener");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split_once("\r\n\r\n")
        .expect("HTTP response")
        .1
        .to_owned()
}

/// The value of the unlabelled counter `name`.
pub fn counter(server: &Server, name: &str) -> u64 {
    let text = metrics_text(server);
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Sends SIGUSR1 and waits until the sweep it triggers has finished.
pub fn sweep(server: &Server) {
    let before = counter(server, "sealgate_sweep_runs_total");
    let status = std::process::Command::new("kill")
        .args(["-USR1", &server.pid().to_string()])
        .status()
        .expect("kill -USR1");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(120);
    while counter(server, "sealgate_sweep_runs_total") <= before {
        assert!(Instant::now() < deadline, "the sweep did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The reclaim counters, in the order generations, staging files, uploads, bytes.
pub fn reclaimed(server: &Server) -> (u64, u64, u64, u64) {
    (
        counter(server, "sealgate_sweep_generations_reclaimed_total"),
        counter(server, "sealgate_sweep_staging_files_reclaimed_total"),
        counter(server, "sealgate_sweep_uploads_aborted_total"),
        counter(server, "sealgate_sweep_bytes_reclaimed_total"),
    )
}
