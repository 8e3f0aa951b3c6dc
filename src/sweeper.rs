//! The background sweep: runs [`Store::sweep`] every `sweep_interval` and whenever the process
//! receives SIGUSR1 (operators and tests trigger it that way), and counts what each run
//! reclaimed in the metrics.
//!
//! The first periodic run comes one interval after the start, not at once: a freshly started
//! gateway has nothing new to reclaim, and a run started before a SIGUSR1 would make "the
//! sweep after my signal" ambiguous for whoever sent it.

use std::sync::Arc;
use std::time::Duration;

use crate::metrics::Metrics;
use crate::store::{Store, SweepPolicy};

/// What wakes the sweeper besides its interval.
pub(crate) struct Trigger {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Trigger {
    /// Installs the SIGUSR1 handler. Call before announcing readiness: until a handler is
    /// installed, SIGUSR1 terminates the process.
    pub(crate) fn install() -> std::io::Result<Trigger> {
        Ok(Trigger {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())?,
        })
    }

    async fn fired(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    }
}

/// Starts the sweeper task.
pub(crate) fn spawn(
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    policy: SweepPolicy,
    interval: Duration,
    mut trigger: Trigger,
) {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + interval;
        let mut tick = tokio::time::interval_at(start, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = trigger.fired() => tracing::info!("sweep requested by SIGUSR1"),
            }
            run_once(&store, &metrics, &policy).await;
        }
    });
}

async fn run_once(store: &Store, metrics: &Metrics, policy: &SweepPolicy) {
    match store.sweep(policy).await {
        Ok(report) => {
            tracing::info!(
                generations = report.generations,
                staging_files = report.staging_files,
                uploads = report.uploads,
                bytes = report.bytes,
                failed_buckets = report.failed_buckets,
                "sweep finished"
            );
            metrics.record_sweep(&report);
        }
        Err(e) => {
            tracing::warn!(error = %e, "sweep failed");
            metrics.sweep_failures.with([]).inc();
            metrics.sweep_runs.with([]).inc();
        }
    }
}
