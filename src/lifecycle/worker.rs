//! The lifecycle worker: a background task that makes a [`run`](super::run) pass once an hour
//! and, under the test clock, right after every `Sealgate.AdvanceClock`, and counts what each
//! pass did in the metrics.
//!
//! Why hourly: rules count in whole days ending at midnight UTC, so an hourly pass acts within
//! an hour of an action falling due, and a pass over buckets with nothing due costs a listing.
//! As with the sweep, the first periodic pass comes one period after the start. Why a pass
//! after every clock move: tests move days forward in one call and then wait for
//! `sealgate_lifecycle_runs_total` to grow, instead of waiting for a timer.

use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use tokio::sync::watch;

use super::run::{RunReport, run};
use crate::gateway::Gateway;
use crate::kms::Clock;
use crate::metrics::Metrics;

/// Time between two periodic passes.
const PERIOD: Duration = Duration::from_secs(3600);

/// Starts the worker. `moves` (the test clock's) wakes it besides the period.
pub(crate) fn spawn(
    gw: Arc<Gateway>,
    clock: Arc<dyn Clock>,
    mut moves: Option<watch::Receiver<u64>>,
) {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + PERIOD;
        let mut tick = tokio::time::interval_at(start, PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = clock_moved(&mut moves) => tracing::info!("lifecycle pass after a test clock move"),
            }
            run_once(&gw, clock.as_ref()).await;
        }
    });
}

/// Resolves when the test clock moves; never without one.
async fn clock_moved(moves: &mut Option<watch::Receiver<u64>>) {
    if let Some(rx) = moves
        && rx.changed().await.is_ok()
    {
        return;
    }
    std::future::pending().await
}

async fn run_once(gw: &Gateway, clock: &dyn Clock) {
    let metrics = &gw.metrics;
    let now_ms = clock
        .now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let started = Instant::now();
    let result = run(&gw.store, &gw.crypto, now_ms).await;
    let m = &metrics.lifecycle;
    m.last_run_seconds
        .with([])
        .set(started.elapsed().as_secs_f64());
    match result {
        Ok(r) => {
            tracing::info!(
                expired = r.expired,
                noncurrent_removed = r.noncurrent_removed,
                markers_removed = r.markers_removed,
                uploads_aborted = r.uploads_aborted,
                failed_buckets = r.failed_buckets,
                "lifecycle pass finished"
            );
            record(metrics, &r);
        }
        Err(e) => {
            tracing::warn!(error = %e, "lifecycle pass failed");
            m.failures.with([]).inc();
        }
    }
    m.runs.with([]).inc();
}

fn record(metrics: &Metrics, r: &RunReport) {
    let m = &metrics.lifecycle;
    m.expired.with([]).add(r.expired);
    m.noncurrent_removed.with([]).add(r.noncurrent_removed);
    m.markers_removed.with([]).add(r.markers_removed);
    m.uploads_aborted.with([]).add(r.uploads_aborted);
    m.failures.with([]).add(r.failed_buckets);
}
