//! What the lifecycle worker did (`crate::lifecycle::worker` records each pass).

use super::{Counter, Family, Gauge};

pub(crate) struct LifecycleMetrics {
    pub(crate) runs: Family<0, Counter>,
    pub(crate) failures: Family<0, Counter>,
    pub(crate) expired: Family<0, Counter>,
    pub(crate) noncurrent_removed: Family<0, Counter>,
    pub(crate) markers_removed: Family<0, Counter>,
    pub(crate) uploads_aborted: Family<0, Counter>,
    pub(crate) last_run_seconds: Family<0, Gauge>,
}

impl LifecycleMetrics {
    pub(super) fn new() -> Self {
        let m = LifecycleMetrics {
            runs: Family::new(
                "sealgate_lifecycle_runs_total",
                "Lifecycle passes completed (hourly, and after every test clock move).",
                [],
            ),
            failures: Family::new(
                "sealgate_lifecycle_failures_total",
                "Lifecycle passes of one bucket (or of the whole store) that failed and are retried at the next pass.",
                [],
            ),
            expired: Family::new(
                "sealgate_lifecycle_objects_expired_total",
                "Current object versions expired by an Expiration rule (deleted, or hidden under a delete marker).",
                [],
            ),
            noncurrent_removed: Family::new(
                "sealgate_lifecycle_noncurrent_versions_removed_total",
                "Noncurrent versions removed by a NoncurrentVersionExpiration rule.",
                [],
            ),
            markers_removed: Family::new(
                "sealgate_lifecycle_delete_markers_removed_total",
                "Expired object delete markers removed (ExpiredObjectDeleteMarker).",
                [],
            ),
            uploads_aborted: Family::new(
                "sealgate_lifecycle_uploads_aborted_total",
                "Incomplete multipart uploads aborted by an AbortIncompleteMultipartUpload rule.",
                [],
            ),
            last_run_seconds: Family::new(
                "sealgate_lifecycle_last_run_duration_seconds",
                "How long the last lifecycle pass took.",
                [],
            ),
        };
        for f in m.counters() {
            f.with([]);
        }
        m.last_run_seconds.with([]);
        m
    }

    fn counters(&self) -> [&Family<0, Counter>; 6] {
        [
            &self.runs,
            &self.failures,
            &self.expired,
            &self.noncurrent_removed,
            &self.markers_removed,
            &self.uploads_aborted,
        ]
    }

    pub(super) fn render(&self, out: &mut String) {
        for f in self.counters() {
            f.render(out);
        }
        self.last_run_seconds.render(out);
    }
}
