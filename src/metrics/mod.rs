//! Prometheus metrics: a small registry of atomic counters and histograms, rendered by hand in
//! the text exposition format (version 0.0.4) and served on the admin listener (`http.rs`).
//!
//! The S3 listener cannot serve `/metrics` itself: `GET /metrics` there is ListObjects of a
//! bucket named "metrics". What is measured, and where:
//! - S3 requests by operation and status, their latency, payload bytes and SSE modes: one
//!   [`s3::Probe`] per request in `s3::handle`, finished once the response is known; handlers
//!   record the SSE mode they wrote or read as an [`s3::SseFact`] in the response;
//! - KMS calls the gateway makes, their latency, and attempts to use unusable keys:
//!   [`kms::MeteredKms`] wraps the gateway's `Kms` trait object, embedded or remote;
//! - the storage sweep (runs, what it reclaimed): [`Metrics::record_sweep`], called by the
//!   sweeper after each run;
//! - the lifecycle worker (passes, what they removed, the last pass's duration):
//!   [`Metrics::lifecycle`], counted by the worker after each pass;
//! - connections (open, cap, evicted, failed accepts): the listeners count them in the
//!   [`ConnStats`](crate::server::ConnStats) held here, `conn.rs` renders them.
//!
//! Label values come from closed sets (operation names, status codes, SSE modes, KMS error
//! types) except KMS key ids, which a client can choose; every family therefore caps its number
//! of series and folds the excess into one `_other` series, so no caller can grow memory
//! without bound.

mod conn;
pub(crate) mod http;
pub(crate) mod kms;
mod lifecycle;
pub(crate) mod s3;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Most series one family keeps before folding new label sets into `_other`.
const MAX_SERIES: usize = 2000;
/// The label value that stands for every label set beyond [`MAX_SERIES`].
const OVERFLOW: &str = "_other";

/// Upper bounds (seconds) of the latency histogram buckets; `+Inf` is implied.
pub(crate) const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The SSE modes objects are counted by (`none` is a plaintext comparison bucket).
pub(crate) const SSE_MODES: [&str; 4] = ["SSE-S3", "SSE-KMS", "SSE-C", "none"];

/// A monotonically increasing count.
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn inc(&self) {
        self.add(1);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (an `f64` kept as its bits).
#[derive(Default)]
pub(crate) struct Gauge(AtomicU64);

impl Gauge {
    pub(crate) fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// A latency histogram with [`LATENCY_BUCKETS`]. Counts are per bucket (not cumulative) and
/// made cumulative when rendered; the sum is kept in nanoseconds so it stays an integer atomic.
pub(crate) struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub(crate) fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// One metric family: series keyed by their label values (`N` labels, names fixed).
pub(crate) struct Family<const N: usize, V> {
    name: &'static str,
    help: &'static str,
    labels: [&'static str; N],
    series: RwLock<BTreeMap<[String; N], Arc<V>>>,
}

impl<const N: usize, V: Default> Family<N, V> {
    fn new(name: &'static str, help: &'static str, labels: [&'static str; N]) -> Self {
        Family {
            name,
            help,
            labels,
            series: RwLock::new(BTreeMap::new()),
        }
    }

    /// The series for `values`, created on first use.
    pub(crate) fn with(&self, values: [&str; N]) -> Arc<V> {
        let key: [String; N] = values.map(str::to_owned);
        if let Some(v) = self.series.read().expect("metrics lock").get(&key) {
            return v.clone();
        }
        let mut map = self.series.write().expect("metrics lock");
        let key = if map.len() >= MAX_SERIES && !map.contains_key(&key) {
            std::array::from_fn(|_| OVERFLOW.to_owned())
        } else {
            key
        };
        map.entry(key).or_default().clone()
    }

    fn snapshot(&self) -> Vec<([String; N], Arc<V>)> {
        self.series
            .read()
            .expect("metrics lock")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn header(&self, out: &mut String, kind: &str) {
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {kind}", self.name);
    }

    fn label_text(&self, values: &[String; N], extra: Option<(&str, &str)>) -> String {
        let mut parts: Vec<String> = self
            .labels
            .iter()
            .zip(values)
            .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
            .collect();
        if let Some((k, v)) = extra {
            parts.push(format!("{k}=\"{v}\""));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", parts.join(","))
        }
    }
}

impl<const N: usize> Family<N, Counter> {
    fn render(&self, out: &mut String) {
        self.header(out, "counter");
        for (values, c) in self.snapshot() {
            let _ = writeln!(
                out,
                "{}{} {}",
                self.name,
                self.label_text(&values, None),
                c.get()
            );
        }
    }
}

impl<const N: usize> Family<N, Gauge> {
    fn render(&self, out: &mut String) {
        self.header(out, "gauge");
        for (values, g) in self.snapshot() {
            let _ = writeln!(
                out,
                "{}{} {}",
                self.name,
                self.label_text(&values, None),
                g.get()
            );
        }
    }
}

impl<const N: usize> Family<N, Histogram> {
    fn render(&self, out: &mut String) {
        self.header(out, "histogram");
        for (values, h) in self.snapshot() {
            // Read the count first: buckets observed after it only make `+Inf` lag, never lead.
            let count = h.count.load(Ordering::Relaxed);
            let mut cumulative = 0;
            for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i].load(Ordering::Relaxed);
                let le = format!("{bound}");
                let _ = writeln!(
                    out,
                    "{}_bucket{} {}",
                    self.name,
                    self.label_text(&values, Some(("le", &le))),
                    cumulative.min(count)
                );
            }
            let _ = writeln!(
                out,
                "{}_bucket{} {count}",
                self.name,
                self.label_text(&values, Some(("le", "+Inf")))
            );
            let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "{}_sum{} {sum}",
                self.name,
                self.label_text(&values, None)
            );
            let _ = writeln!(
                out,
                "{}_count{} {count}",
                self.name,
                self.label_text(&values, None)
            );
        }
    }
}

/// Label values escape `\`, `"` and newlines (exposition format rules).
fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Every metric the gateway exports.
pub(crate) struct Metrics {
    pub(crate) s3_requests: Family<2, Counter>,
    pub(crate) s3_duration: Family<1, Histogram>,
    pub(crate) s3_sigv2: Family<1, Counter>,
    pub(crate) s3_access_denied: Family<1, Counter>,
    pub(crate) s3_bytes_received: Family<1, Counter>,
    pub(crate) s3_bytes_sent: Family<1, Counter>,
    pub(crate) sse_written: Family<1, Counter>,
    pub(crate) sse_read: Family<1, Counter>,
    pub(crate) kms_calls: Family<3, Counter>,
    pub(crate) kms_duration: Family<1, Histogram>,
    pub(crate) kms_unusable_key_use: Family<2, Counter>,
    pub(crate) sweep_runs: Family<0, Counter>,
    pub(crate) sweep_failures: Family<0, Counter>,
    pub(crate) sweep_generations: Family<0, Counter>,
    pub(crate) sweep_staging_files: Family<0, Counter>,
    pub(crate) sweep_uploads: Family<0, Counter>,
    pub(crate) sweep_bytes: Family<0, Counter>,
    pub(crate) lifecycle: lifecycle::LifecycleMetrics,
    /// Shared with the listeners, which update it.
    pub(crate) connections: Arc<crate::server::ConnStats>,
    /// The gateway's KMS client (not the metered wrapper, which holds these metrics), asked
    /// for its nodes' health at each scrape.
    kms: std::sync::OnceLock<Arc<dyn crate::kms::Kms>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let m = Metrics {
            s3_requests: Family::new(
                "sealgate_s3_requests_total",
                "S3 requests answered, by operation and HTTP status.",
                ["operation", "status"],
            ),
            s3_duration: Family::new(
                "sealgate_s3_request_duration_seconds",
                "Time from receiving an S3 request to sending its response headers, by operation.",
                ["operation"],
            ),
            s3_sigv2: Family::new(
                "sealgate_s3_sigv2_requests_total",
                "S3 requests authenticated with Signature Version 2, by form (header, query, or post for a browser form upload): clients to move to SigV4.",
                ["form"],
            ),
            s3_access_denied: Family::new(
                "sealgate_s3_access_denied_total",
                "S3 requests (or DeleteObjects keys) refused by authorization, by IAM action.",
                ["action"],
            ),
            s3_bytes_received: Family::new(
                "sealgate_s3_bytes_received_total",
                "Object payload bytes accepted by successful PutObject and UploadPart requests.",
                ["operation"],
            ),
            s3_bytes_sent: Family::new(
                "sealgate_s3_bytes_sent_total",
                "Object payload bytes sent in successful GetObject responses.",
                ["operation"],
            ),
            sse_written: Family::new(
                "sealgate_sse_objects_written_total",
                "Objects written (PutObject, CopyObject, CompleteMultipartUpload), by server-side encryption mode.",
                ["mode"],
            ),
            sse_read: Family::new(
                "sealgate_sse_objects_read_total",
                "Objects read (successful GetObject), by server-side encryption mode.",
                ["mode"],
            ),
            kms_calls: Family::new(
                "sealgate_kms_requests_total",
                "KMS calls made by the gateway, by operation, key and outcome (success or the KMS error type).",
                ["operation", "key", "outcome"],
            ),
            kms_duration: Family::new(
                "sealgate_kms_request_duration_seconds",
                "Time the gateway waited for its KMS calls (embedded or remote; an embedded call includes its audit record's durable write), by operation.",
                ["operation"],
            ),
            kms_unusable_key_use: Family::new(
                "sealgate_kms_unusable_key_use_total",
                "Attempts to use a KMS key that is disabled, pending deletion or pending import (alarm on any increase).",
                ["key", "state"],
            ),
            sweep_runs: Family::new(
                "sealgate_sweep_runs_total",
                "Storage sweeps completed (periodic and SIGUSR1-triggered).",
                [],
            ),
            sweep_failures: Family::new(
                "sealgate_sweep_failures_total",
                "Sweeps of one bucket (or of the whole store) that failed and are retried at the next run.",
                [],
            ),
            sweep_generations: Family::new(
                "sealgate_sweep_generations_reclaimed_total",
                "Unreferenced data generations deleted after the grace period (overwritten, deleted, crash leftovers, aborted uploads).",
                [],
            ),
            sweep_staging_files: Family::new(
                "sealgate_sweep_staging_files_reclaimed_total",
                "Abandoned staging files of interrupted writes deleted (local backend).",
                [],
            ),
            sweep_uploads: Family::new(
                "sealgate_sweep_uploads_aborted_total",
                "Multipart uploads aborted for being idle longer than abort_incomplete_uploads_after.",
                [],
            ),
            sweep_bytes: Family::new(
                "sealgate_sweep_bytes_reclaimed_total",
                "Bytes of blobs and staging files the sweep deleted.",
                [],
            ),
            lifecycle: lifecycle::LifecycleMetrics::new(),
            connections: Arc::default(),
            kms: std::sync::OnceLock::new(),
        };
        for f in [
            &m.sweep_runs,
            &m.sweep_failures,
            &m.sweep_generations,
            &m.sweep_staging_files,
            &m.sweep_uploads,
            &m.sweep_bytes,
        ] {
            f.with([]);
        }
        // Known-in-advance series start at 0, so a rate() has a baseline from the first scrape.
        for form in ["header", "query", "post"] {
            m.s3_sigv2.with([form]);
        }
        for mode in SSE_MODES {
            m.sse_written.with([mode]);
            m.sse_read.with([mode]);
        }
        m
    }

    /// The text exposition of every family.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        self.s3_requests.render(&mut out);
        self.s3_duration.render(&mut out);
        self.s3_sigv2.render(&mut out);
        self.s3_access_denied.render(&mut out);
        self.s3_bytes_received.render(&mut out);
        self.s3_bytes_sent.render(&mut out);
        self.sse_written.render(&mut out);
        self.sse_read.render(&mut out);
        self.kms_calls.render(&mut out);
        self.kms_duration.render(&mut out);
        self.kms_unusable_key_use.render(&mut out);
        for f in [
            &self.sweep_runs,
            &self.sweep_failures,
            &self.sweep_generations,
            &self.sweep_staging_files,
            &self.sweep_uploads,
            &self.sweep_bytes,
        ] {
            f.render(&mut out);
        }
        self.lifecycle.render(&mut out);
        conn::render(&self.connections, &mut out);
        if let Some(kms) = self.kms.get() {
            kms::render_nodes(&kms.nodes(), &mut out);
            kms::render_locked_key_warnings(&kms.locked_key_warnings(), &mut out);
            kms::render_audit_syncs(kms.audit_syncs(), &mut out);
        }
        out
    }

    /// Reports the health of `kms`'s nodes (a remote KMS fleet) at every scrape.
    pub(crate) fn watch_kms_nodes(&self, kms: Arc<dyn crate::kms::Kms>) {
        let _ = self.kms.set(kms);
    }

    /// Counts one finished sweep and what it reclaimed.
    pub(crate) fn record_sweep(&self, r: &crate::store::SweepReport) {
        self.sweep_generations.with([]).add(r.generations);
        self.sweep_staging_files.with([]).add(r.staging_files);
        self.sweep_uploads.with([]).add(r.uploads);
        self.sweep_bytes.with([]).add(r.bytes);
        self.sweep_failures.with([]).add(r.failed_buckets);
        self.sweep_runs.with([]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_escaped_labels() {
        let m = Metrics::new();
        m.s3_requests.with(["GetObject", "200"]).add(3);
        m.kms_calls.with(["Decrypt", "a\"b\\c\nd", "success"]).inc();
        let text = m.render();
        assert!(
            text.contains("sealgate_s3_requests_total{operation=\"GetObject\",status=\"200\"} 3\n")
        );
        assert!(text.contains("key=\"a\\\"b\\\\c\\nd\""));
        assert!(text.contains("sealgate_sse_objects_written_total{mode=\"SSE-C\"} 0\n"));
        assert!(text.contains("# TYPE sealgate_s3_requests_total counter\n"));
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::new();
        let h = m.s3_duration.with(["PutObject"]);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(30));
        h.observe(Duration::from_secs(20));
        let text = m.render();
        let line = |le: &str| {
            let prefix = format!(
                "sealgate_s3_request_duration_seconds_bucket{{operation=\"PutObject\",le=\"{le}\"}} "
            );
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("no bucket {le} in\n{text}"))
                .to_owned()
        };
        assert_eq!(line("0.001"), "1");
        assert_eq!(line("0.025"), "1");
        assert_eq!(line("0.05"), "2");
        assert_eq!(line("10"), "2");
        assert_eq!(line("+Inf"), "3");
        assert!(
            text.contains(
                "sealgate_s3_request_duration_seconds_count{operation=\"PutObject\"} 3\n"
            )
        );
    }

    #[test]
    fn sweep_counters_render_without_labels() {
        let m = Metrics::new();
        assert!(m.render().contains("sealgate_sweep_runs_total 0\n"));
        m.record_sweep(&crate::store::SweepReport {
            generations: 2,
            staging_files: 1,
            uploads: 1,
            bytes: 300,
            failed_buckets: 0,
        });
        let text = m.render();
        for line in [
            "sealgate_sweep_runs_total 1\n",
            "sealgate_sweep_generations_reclaimed_total 2\n",
            "sealgate_sweep_staging_files_reclaimed_total 1\n",
            "sealgate_sweep_uploads_aborted_total 1\n",
            "sealgate_sweep_bytes_reclaimed_total 300\n",
            "sealgate_sweep_failures_total 0\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }

    #[test]
    fn series_are_capped() {
        let f: Family<1, Counter> = Family::new("x_total", "x", ["key"]);
        for i in 0..MAX_SERIES + 10 {
            f.with([&i.to_string()]).inc();
        }
        assert_eq!(f.snapshot().len(), MAX_SERIES + 1);
        assert_eq!(f.with([OVERFLOW]).get(), 10);
    }
}
