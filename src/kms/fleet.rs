//! [`Fleet`]: the KMS nodes a gateway may call, which of them answer, and in what order to try
//! them. [`super::remote::RemoteKms`] sends each call through it.
//!
//! Decisions:
//! - **Spread**: calls start at the next node in turn (round robin), so every live node gets
//!   a share and a node's failure is noticed by the next call that reaches it.
//! - **Down**: a node that fails at the transport level (connect, TLS, timeout, a 5xx answer)
//!   is marked down and skipped for a back-off that doubles with each consecutive failure
//!   ([`FIRST_BACKOFF`] up to [`MAX_BACKOFF`]); its first success clears it. A node whose
//!   back-off has run out is tried again in its turn: that call is the probe.
//! - **Never none**: when every node is down, calls still try all of them (the least recently
//!   failed first), so a fleet that comes back is used at once.
//! - What is retried where is the caller's decision ([`super::remote`]): idempotent operations
//!   go to the next node after any transport failure, others only when the request was never
//!   sent.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::http_client::HttpEndpoint;

/// Back-off after a node's first consecutive failure.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest back-off: a node that stays down is probed about once a minute.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One KMS node: its connection pool, health and counters.
pub(crate) struct Node {
    pub(crate) conn: HttpEndpoint,
    health: Mutex<Health>,
    stats: NodeStats,
}

#[derive(Default)]
struct Health {
    /// Failures since the last success.
    consecutive: u32,
    /// Skipped until then (`None`: up).
    down_until: Option<Instant>,
}

/// Counters of one node, readable while calls run (for metrics).
#[derive(Default)]
pub struct NodeStats {
    up: AtomicBool,
    requests: AtomicU64,
    failures: AtomicU64,
    failovers: AtomicU64,
}

/// What one node looks like from the gateway, for metrics and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeHealth {
    /// `host:port` of the node.
    pub endpoint: String,
    pub up: bool,
    /// Calls sent to this node (retries included).
    pub requests: u64,
    /// Transport failures (connect, TLS, timeout, 5xx).
    pub failures: u64,
    /// Calls that this node failed and another node then answered.
    pub failovers: u64,
}

/// The nodes of one KMS, in the order they were configured.
pub(crate) struct Fleet {
    nodes: Vec<Node>,
    next: AtomicUsize,
}

impl Fleet {
    pub(crate) fn new(conns: Vec<HttpEndpoint>) -> Fleet {
        let nodes = conns
            .into_iter()
            .map(|conn| {
                let stats = NodeStats::default();
                stats.up.store(true, Ordering::Relaxed);
                Node {
                    conn,
                    health: Mutex::default(),
                    stats,
                }
            })
            .collect();
        Fleet {
            nodes,
            next: AtomicUsize::new(0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes to try for one call, in order: live ones (and those whose back-off ran out)
    /// starting at the next in turn, then the ones still backing off, soonest back first.
    pub(crate) fn order(&self) -> Vec<&Node> {
        self.order_at(Instant::now())
    }

    fn order_at(&self, now: Instant) -> Vec<&Node> {
        let n = self.nodes.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n.max(1);
        let mut live = Vec::with_capacity(n);
        let mut resting = Vec::new();
        for i in 0..n {
            let node = &self.nodes[(start + i) % n];
            match node.health.lock().expect("node health").down_until {
                Some(until) if until > now => resting.push((until, node)),
                _ => live.push(node),
            }
        }
        resting.sort_by_key(|(until, _)| *until);
        live.extend(resting.into_iter().map(|(_, node)| node));
        live
    }

    /// The health of every node, in configured order.
    pub(crate) fn health(&self) -> Vec<NodeHealth> {
        self.nodes
            .iter()
            .map(|node| NodeHealth {
                endpoint: node.conn.authority().to_string(),
                up: node.stats.up.load(Ordering::Relaxed),
                requests: node.stats.requests.load(Ordering::Relaxed),
                failures: node.stats.failures.load(Ordering::Relaxed),
                failovers: node.stats.failovers.load(Ordering::Relaxed),
            })
            .collect()
    }
}

impl Node {
    pub(crate) fn sending(&self) {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// The node answered (any KMS answer, errors included, shows it is alive).
    pub(crate) fn answered(&self) {
        let mut health = self.health.lock().expect("node health");
        *health = Health::default();
        self.stats.up.store(true, Ordering::Relaxed);
    }

    /// The node failed at the transport level: down for a back-off that doubles per
    /// consecutive failure. Returns the back-off, for the log.
    pub(crate) fn failed(&self) -> Duration {
        self.failed_at(Instant::now())
    }

    fn failed_at(&self, now: Instant) -> Duration {
        let mut health = self.health.lock().expect("node health");
        let backoff = FIRST_BACKOFF
            .saturating_mul(1u32 << health.consecutive.min(16))
            .min(MAX_BACKOFF);
        health.consecutive = health.consecutive.saturating_add(1);
        health.down_until = Some(now + backoff);
        self.stats.up.store(false, Ordering::Relaxed);
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
        backoff
    }

    /// Another node answered a call this one failed.
    pub(crate) fn failed_over(&self) {
        self.stats.failovers.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(n: usize) -> Fleet {
        Fleet::new(
            (0..n)
                .map(|i| HttpEndpoint::new(&format!("http://10.0.0.{i}:80"), None, true).unwrap())
                .collect(),
        )
    }

    fn names(order: &[&Node]) -> Vec<String> {
        order
            .iter()
            .map(|n| n.conn.authority().to_string())
            .collect()
    }

    #[test]
    fn calls_start_at_each_node_in_turn() {
        let f = fleet(3);
        let firsts: Vec<String> = (0..6).map(|_| names(&f.order())[0].clone()).collect();
        assert_eq!(
            firsts,
            [
                "10.0.0.0:80",
                "10.0.0.1:80",
                "10.0.0.2:80",
                "10.0.0.0:80",
                "10.0.0.1:80",
                "10.0.0.2:80"
            ]
        );
        assert_eq!(f.order().len(), 3, "every node is in every order");
    }

    #[test]
    fn a_failed_node_goes_last_until_its_backoff_runs_out() {
        let f = fleet(3);
        let now = Instant::now();
        assert_eq!(f.nodes[0].failed_at(now), FIRST_BACKOFF);
        for _ in 0..3 {
            let order = names(&f.order_at(now));
            assert_eq!(order.last().unwrap(), "10.0.0.0:80", "{order:?}");
            assert_eq!(order.len(), 3);
        }
        let later = now + FIRST_BACKOFF + Duration::from_millis(1);
        let probes = (0..3)
            .filter(|_| f.order_at(later)[0].conn.authority() == "10.0.0.0:80")
            .count();
        assert_eq!(probes, 1, "back in the rotation once its back-off ran out");
        let h = &f.health()[0];
        assert!(!h.up && h.failures == 1, "{h:?}");
        f.nodes[0].answered();
        assert!(f.health()[0].up);
    }

    #[test]
    fn backoff_doubles_to_a_ceiling_and_all_down_still_tries_everyone() {
        let f = fleet(2);
        let now = Instant::now();
        let backoffs: Vec<Duration> = (0..10).map(|_| f.nodes[1].failed_at(now)).collect();
        assert_eq!(backoffs[0], FIRST_BACKOFF);
        assert_eq!(backoffs[1], FIRST_BACKOFF * 2);
        assert_eq!(backoffs[2], FIRST_BACKOFF * 4);
        assert_eq!(*backoffs.last().unwrap(), MAX_BACKOFF);
        f.nodes[0].failed_at(now);
        let order = names(&f.order_at(now));
        assert_eq!(
            order,
            ["10.0.0.0:80", "10.0.0.1:80"],
            "all down: the soonest back first, none left out"
        );
    }
}
