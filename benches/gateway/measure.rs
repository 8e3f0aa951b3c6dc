//! What the phases measure with: CPU time from /proc (per process in 10 ms ticks, per thread
//! to the nanosecond), medians and percentiles, and the
//! report that is printed and written as JSON so runs can be compared across commits.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// CPU seconds (user + system) the process `pid` has used so far, from /proc/<pid>/stat.
/// The kernel reports them in USER_HZ ticks, which Linux fixes at 100 for user space.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// CPU seconds one thread has used, to the nanosecond: the first field of its schedstat (the
/// scheduler's run time, user + system). `NaN` if the thread is gone.
fn schedstat_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let ns = stat
        .split_whitespace()
        .next()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    ns / 1e9
}

/// The CPU clocks of every thread of a process at one moment, to the nanosecond, for requests
/// too short for /proc/<pid>/stat's 10 ms ticks (a 64 MiB GET is a few of them).
pub struct CpuMark {
    pid: u32,
    threads: HashMap<u32, f64>,
}

fn threads_of(pid: u32) -> HashMap<u32, f64> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return HashMap::new();
    };
    tasks
        .filter_map(|t| t.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .map(|tid| {
            let cpu = schedstat_seconds(&format!("/proc/{pid}/task/{tid}/schedstat"));
            (tid, cpu)
        })
        .filter(|(_, cpu)| cpu.is_finite())
        .collect()
}

impl CpuMark {
    pub fn now(pid: u32) -> CpuMark {
        CpuMark {
            pid,
            threads: threads_of(pid),
        }
    }

    /// The benchmark's own process: the client's side of every request (the AWS SDK, its TLS,
    /// the kernel's work in its threads).
    pub fn client() -> CpuMark {
        CpuMark::now(std::process::id())
    }

    /// CPU seconds the process used since the mark: per thread alive now, its clock minus its
    /// clock at the mark (a thread born since counts whole). A thread that ended since loses
    /// what it used after the mark; the pools' threads live on while a request runs.
    pub fn elapsed(&self) -> f64 {
        threads_of(self.pid)
            .iter()
            .map(|(tid, now)| now - self.threads.get(tid).copied().unwrap_or(0.0))
            .sum()
    }
}

/// The machine's busy CPU seconds so far, all cores (/proc/stat's first line: user, nice,
/// system, irq, softirq and steal — time a core was not free to run us), in 10 ms ticks.
pub fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or("");
    let f: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&i| f.get(i).copied().unwrap_or(0.0))
        .sum::<f64>()
        / 100.0
}

/// The load average over the last minute (/proc/loadavg), for the report.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// CPU seconds (user + system) the calling thread has used, to the nanosecond (so a helper
/// thread — the socket drain of the floor — is not counted). The in-process ideal gateway and
/// the floors run on one thread and are too short for 10 ms ticks.
pub fn thread_cpu_seconds() -> f64 {
    schedstat_seconds("/proc/thread-self/schedstat")
}

/// One measurement on one thread: wall seconds and CPU seconds of the work.
#[derive(Clone, Copy, Default)]
pub struct Cost {
    pub wall: f64,
    pub cpu: f64,
}

/// Wall and CPU time of `f` on the calling thread.
pub fn cost(f: impl FnOnce()) -> Cost {
    let (t, c) = (Instant::now(), thread_cpu_seconds());
    f();
    Cost {
        wall: t.elapsed().as_secs_f64(),
        cpu: thread_cpu_seconds() - c,
    }
}

pub fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

/// Seconds of CPU per GB (10^9 bytes).
pub fn s_per_gb(cpu_seconds: f64, bytes: usize) -> f64 {
    cpu_seconds / (bytes as f64 / 1e9)
}

pub fn median(v: &[f64]) -> f64 {
    percentile(v, 50.0)
}

/// Nearest-rank percentile.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

/// Rows of the run: printed as they come and written as one JSON document at the end.
#[derive(Default)]
pub struct Report {
    rows: Vec<serde_json::Value>,
}

impl Report {
    /// Records `value` (`unit`) of `metric` for `subject` in `phase`.
    pub fn add(&mut self, phase: &str, subject: &str, metric: &str, value: f64, unit: &str) {
        self.rows.push(serde_json::json!({
            "phase": phase,
            "subject": subject,
            "metric": metric,
            "value": if value.is_finite() { serde_json::json!((value * 1000.0).round() / 1000.0) } else { serde_json::Value::Null },
            "unit": unit,
        }));
    }

    /// Writes the report to `$CARGO_TARGET_DIR/bench-gateway.json` (`target/` by default).
    pub fn write(&self, context: serde_json::Value) {
        let path = target_dir().join("bench-gateway.json");
        let doc = serde_json::json!({ "context": context, "rows": self.rows });
        match std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()) {
            Ok(()) => println!("\nreport written to {}", path.display()),
            Err(e) => println!("\nreport not written to {}: {e}", path.display()),
        }
    }
}

/// `$CARGO_TARGET_DIR` (`target/` by default): where the bench leaves what outlives a run.
pub fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), Into::into)
}
