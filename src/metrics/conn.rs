//! Connection metrics, read from the listeners' shared [`ConnStats`]: the cap, how many
//! connections are open, how many idle ones were closed to make room, and failed accepts.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::server::ConnStats;

/// Appends the connection families to `out`.
pub(super) fn render(stats: &ConnStats, out: &mut String) {
    let families: [(&str, &str, &str, u64); 4] = [
        (
            "sealgate_connections_max",
            "gauge",
            "Connection cap over all listeners (--max-connections, else derived from the open-file limit).",
            stats.max.load(Ordering::Relaxed),
        ),
        (
            "sealgate_connections_open",
            "gauge",
            "Connections open now, over all listeners (S3 HTTPS and HTTP, KMS, metrics).",
            stats.open.load(Ordering::Relaxed),
        ),
        (
            "sealgate_connections_evicted_total",
            "counter",
            "Idle connections closed to make room for a new one at the cap (a rising rate means a flood or too low a cap).",
            stats.evicted.load(Ordering::Relaxed),
        ),
        (
            "sealgate_accept_errors_total",
            "counter",
            "Failed accepts (EMFILE/ENFILE: out of descriptors); each is followed by a 10-100 ms pause.",
            stats.accept_errors.load(Ordering::Relaxed),
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_gauges_and_counters() {
        let stats = ConnStats::default();
        stats.max.store(768, Ordering::Relaxed);
        stats.open.store(5, Ordering::Relaxed);
        stats.evicted.store(2, Ordering::Relaxed);
        stats.accept_failed();
        let mut out = String::new();
        render(&stats, &mut out);
        for line in [
            "# TYPE sealgate_connections_max gauge\nsealgate_connections_max 768\n",
            "# TYPE sealgate_connections_open gauge\nsealgate_connections_open 5\n",
            "# TYPE sealgate_connections_evicted_total counter\nsealgate_connections_evicted_total 2\n",
            "# TYPE sealgate_accept_errors_total counter\nsealgate_accept_errors_total 1\n",
        ] {
            assert!(out.contains(line), "{line} in\n{out}");
        }
    }
}
