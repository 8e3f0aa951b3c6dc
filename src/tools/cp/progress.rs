//! Progress of a transfer in parts: a one-line bar on the terminal, redrawn at most ten times a
//! second, and nothing at all when stdout or stderr is not a terminal (scripts, pipes, CI
//! logs), as the aws CLI does. The bar goes to stderr so stdout keeps only the result line.
//!
//! It is also where a test can interrupt a transfer as a kill would: with
//! `SEALGATE_TEST_CP_INTERRUPT_AFTER=N` the process exits (status 130, no cleanup, uploads and
//! temporary files left as they are) once N parts or ranges have completed and been recorded.

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

const REDRAW_EVERY: Duration = Duration::from_millis(100);
const INTERRUPT_VAR: &str = "SEALGATE_TEST_CP_INTERRUPT_AFTER";

pub(super) struct Progress {
    label: &'static str,
    total: u64,
    done: u64,
    /// Bytes already there when the transfer started (a resumed one), not counted in the rate.
    resumed: u64,
    started: Instant,
    drawn: Option<Instant>,
    visible: bool,
    /// Parts or ranges completed in this run.
    units: usize,
    interrupt_after: Option<usize>,
}

impl Progress {
    /// A transfer of `total` bytes of which `resumed` are already done.
    pub(super) fn new(label: &'static str, total: u64, resumed: u64) -> Progress {
        Progress {
            label,
            total,
            done: resumed,
            resumed,
            started: Instant::now(),
            drawn: None,
            visible: std::io::stdout().is_terminal() && std::io::stderr().is_terminal(),
            units: 0,
            interrupt_after: std::env::var(INTERRUPT_VAR)
                .ok()
                .and_then(|v| v.parse().ok()),
        }
    }

    /// One part or range of `bytes` is complete (and recorded, so a re-run resumes after it).
    pub(super) fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        self.units += 1;
        if self.interrupt_after == Some(self.units) {
            std::process::exit(130);
        }
        let now = Instant::now();
        if self.visible && self.drawn.is_none_or(|t| now - t >= REDRAW_EVERY) {
            self.drawn = Some(now);
            let line = self.line(now - self.started);
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{line}\x1b[K");
            let _ = err.flush();
        }
    }

    /// Clears the bar before the result line is printed.
    pub(super) fn finish(&mut self) {
        if self.visible && self.drawn.is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }

    fn line(&self, elapsed: Duration) -> String {
        let pct = (self.done * 100).checked_div(self.total).unwrap_or(100);
        let secs = elapsed.as_secs_f64().max(0.001);
        let rate = (self.done - self.resumed) as f64 / secs;
        format!(
            "{}: {} of {} ({pct}%), {}/s",
            self.label,
            human(self.done as f64),
            human(self.total as f64),
            human(rate)
        )
    }
}

/// `1.5 MiB`, `512 B`.
fn human(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_done_total_share_and_rate() {
        let mut p = Progress::new("download", 20 << 20, 8 << 20);
        p.visible = false;
        p.advance(2 << 20);
        assert_eq!(
            p.line(Duration::from_secs(2)),
            "download: 10.0 MiB of 20.0 MiB (50%), 1.0 MiB/s"
        );
        assert_eq!(human(512.0), "512 B");
        assert_eq!(
            Progress::new("upload", 0, 0).line(Duration::ZERO),
            "upload: 0 B of 0 B (100%), 0 B/s"
        );
    }
}
