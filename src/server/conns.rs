//! The connection cap shared by every listener, and idle-first eviction.
//!
//! Each open connection holds a descriptor, so without a cap a few thousand idle sockets (a
//! flood, or clients that open and never speak) exhaust the open-file limit and the accept loop
//! can take no one until header timeouts free them, 30 s later. With the cap, a listener that
//! has reached it makes room before accepting: it asks the connection that has been idle the
//! longest to close. "Idle" is a connection with no request in flight: between keep-alive
//! requests, in its TLS handshake, or still sending its request head. A connection with a
//! request in flight (from the parsed head until its response body is sent) is never chosen,
//! so no request is cut; when every connection is busy the listener waits for one to finish.
//!
//! The counts are kept here, in [`ConnStats`], and rendered by `metrics`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Counts for `/metrics`: the cap, open connections, evictions and failed accepts.
#[derive(Default, Debug)]
pub(crate) struct ConnStats {
    pub(crate) max: AtomicU64,
    pub(crate) open: AtomicU64,
    pub(crate) evicted: AtomicU64,
    pub(crate) accept_errors: AtomicU64,
}

impl ConnStats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn accept_failed(&self) {
        Self::bump(&self.accept_errors);
    }
}

/// The cap over all listeners of a process.
pub(crate) struct ConnLimit {
    max: usize,
    stats: Arc<ConnStats>,
    state: Mutex<Registry>,
    /// Signalled whenever a connection closes or goes idle: a listener waiting at the cap
    /// re-checks then.
    room: Notify,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    /// Orders idleness: a connection going idle takes the next value, so the smallest key in
    /// `idle` is the connection idle the longest.
    next_seq: u64,
    /// Connections registered plus slots reserved by listeners about to accept.
    taken: usize,
    /// Connections asked to close that have not closed yet.
    closing: usize,
    conns: HashMap<u64, Entry>,
    idle: BTreeMap<u64, u64>,
}

struct Entry {
    in_flight: u32,
    idle_seq: Option<u64>,
    evict: Arc<Notify>,
}

impl Registry {
    fn go_idle(&mut self, id: u64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(e) = self.conns.get_mut(&id) {
            e.idle_seq = Some(seq);
            self.idle.insert(seq, id);
        }
    }

    /// Asks the longest-idle connection to close; false when none is idle.
    fn evict_oldest(&mut self) -> bool {
        let Some((_, id)) = self.idle.pop_first() else {
            return false;
        };
        let Some(e) = self.conns.get_mut(&id) else {
            return false;
        };
        e.idle_seq = None;
        // A stored permit: the connection's task sees it even if it is not waiting right now.
        e.evict.notify_one();
        self.closing += 1;
        true
    }
}

impl ConnLimit {
    pub(crate) fn new(max: usize, stats: Arc<ConnStats>) -> Arc<ConnLimit> {
        let max = max.max(1);
        stats
            .max
            .store(u64::try_from(max).unwrap_or(u64::MAX), Ordering::Relaxed);
        Arc::new(ConnLimit {
            max,
            stats,
            state: Mutex::new(Registry::default()),
            room: Notify::new(),
        })
    }

    pub(crate) fn stats(&self) -> &ConnStats {
        &self.stats
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a connection may be accepted and reserves its place, evicting the
    /// longest-idle connection when the cap is reached.
    pub(crate) async fn reserve(self: &Arc<Self>) -> Slot {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a close between the check and the await wakes us.
            notified.as_mut().enable();
            {
                let mut reg = self.lock();
                if reg.taken < self.max {
                    reg.taken += 1;
                    return Slot {
                        limit: self.clone(),
                        used: false,
                    };
                }
                // Connections already closing will make room; ask one more only if they won't
                // be enough.
                if reg.taken - reg.closing.min(reg.taken) >= self.max && reg.evict_oldest() {
                    ConnStats::bump(&self.stats.evicted);
                }
            }
            notified.await;
        }
    }

    /// Frees one descriptor when `accept` found none: the longest-idle connection closes.
    pub(crate) fn shed_one(&self) {
        let mut reg = self.lock();
        if reg.evict_oldest() {
            ConnStats::bump(&self.stats.evicted);
        }
    }

    fn release(&self, id: Option<u64>) {
        let mut reg = self.lock();
        reg.taken = reg.taken.saturating_sub(1);
        if let Some(id) = id
            && let Some(e) = reg.conns.remove(&id)
        {
            if let Some(seq) = e.idle_seq {
                reg.idle.remove(&seq);
            } else if e.in_flight == 0 {
                // Neither idle nor busy: it was asked to close.
                reg.closing = reg.closing.saturating_sub(1);
            }
            self.stats.open.fetch_sub(1, Ordering::Relaxed);
        }
        drop(reg);
        self.room.notify_waiters();
    }
}

/// A reserved place under the cap; becomes a [`Conn`] when a connection is accepted. Dropped
/// unused (the listener stopped), it gives the place back.
pub(crate) struct Slot {
    limit: Arc<ConnLimit>,
    used: bool,
}

impl Slot {
    /// Registers an accepted connection in this place; it starts idle.
    pub(crate) fn register(mut self) -> Arc<Conn> {
        self.used = true;
        let evict = Arc::new(Notify::new());
        let id = {
            let mut reg = self.limit.lock();
            let id = reg.next_id;
            reg.next_id += 1;
            reg.conns.insert(
                id,
                Entry {
                    in_flight: 0,
                    idle_seq: None,
                    evict: evict.clone(),
                },
            );
            reg.go_idle(id);
            id
        };
        self.limit.stats.open.fetch_add(1, Ordering::Relaxed);
        Arc::new(Conn {
            limit: self.limit.clone(),
            id,
            evict,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.used {
            self.limit.release(None);
        }
    }
}

/// One open connection's place; closing the connection (dropping the last `Arc`) frees it.
pub(crate) struct Conn {
    limit: Arc<ConnLimit>,
    id: u64,
    evict: Arc<Notify>,
}

impl Conn {
    /// Marks a request in flight until the returned guard is dropped (its response sent).
    pub(crate) fn request(self: &Arc<Self>) -> InFlight {
        let mut guard = self.limit.lock();
        let reg = &mut *guard;
        if let Some(e) = reg.conns.get_mut(&self.id) {
            e.in_flight += 1;
            match e.idle_seq.take() {
                Some(seq) => {
                    reg.idle.remove(&seq);
                }
                // Asked to close just before this request arrived: the request finishes
                // first, so the connection no longer counts as about to close.
                None if e.in_flight == 1 => reg.closing = reg.closing.saturating_sub(1),
                None => {}
            }
        }
        InFlight { conn: self.clone() }
    }

    /// True while a request is in flight.
    pub(crate) fn busy(&self) -> bool {
        self.limit
            .lock()
            .conns
            .get(&self.id)
            .is_some_and(|e| e.in_flight > 0)
    }

    /// Resolves when the listener needs this connection's place.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await;
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.limit.release(Some(self.id));
    }
}

/// A request in flight on a connection (see [`Conn::request`]).
pub(crate) struct InFlight {
    conn: Arc<Conn>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let limit = &self.conn.limit;
        let mut reg = limit.lock();
        let idle_now = match reg.conns.get_mut(&self.conn.id) {
            Some(e) => {
                e.in_flight = e.in_flight.saturating_sub(1);
                e.in_flight == 0
            }
            None => false,
        };
        if idle_now {
            reg.go_idle(self.conn.id);
        }
        drop(reg);
        if idle_now {
            limit.room.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max: usize) -> Arc<ConnLimit> {
        ConnLimit::new(max, Arc::new(ConnStats::default()))
    }

    /// `reserve` that must not wait.
    async fn now(limit: &Arc<ConnLimit>) -> Slot {
        tokio::time::timeout(std::time::Duration::from_secs(5), limit.reserve())
            .await
            .expect("a slot without waiting")
    }

    #[tokio::test]
    async fn the_longest_idle_connection_is_asked_to_close() {
        let l = limit(2);
        let a = now(&l).await.register();
        let b = now(&l).await.register();
        // `a` serves a request and goes idle again: now `b` has been idle the longest.
        drop(a.request());
        let third = tokio::spawn({
            let l = l.clone();
            async move { l.reserve().await }
        });
        tokio::time::timeout(std::time::Duration::from_secs(5), b.evicted())
            .await
            .expect("b is asked to close");
        assert_eq!(l.stats().evicted.load(Ordering::Relaxed), 1);
        assert!(!third.is_finished(), "no place until b has closed");
        drop(b);
        let slot = third.await.unwrap();
        assert_eq!(l.stats().open.load(Ordering::Relaxed), 1);
        drop(slot);
        drop(a);
        assert_eq!(l.stats().open.load(Ordering::Relaxed), 0);
        assert_eq!(l.lock().taken, 0);
    }

    #[tokio::test]
    async fn a_connection_with_a_request_in_flight_is_never_chosen() {
        let l = limit(1);
        let a = now(&l).await.register();
        let req = a.request();
        assert!(a.busy());
        let waiting = tokio::spawn({
            let l = l.clone();
            async move { l.reserve().await }
        });
        tokio::task::yield_now().await;
        assert_eq!(l.stats().evicted.load(Ordering::Relaxed), 0);
        assert!(!waiting.is_finished());
        // The request ends: `a` is idle, so the waiting listener evicts it.
        drop(req);
        tokio::time::timeout(std::time::Duration::from_secs(5), a.evicted())
            .await
            .expect("a is asked to close once idle");
        drop(a);
        waiting.await.unwrap();
        assert_eq!(l.stats().evicted.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_request_racing_the_eviction_keeps_the_books_straight() {
        let l = limit(1);
        let a = now(&l).await.register();
        l.shed_one();
        assert_eq!(l.lock().closing, 1);
        // A request arrives before the connection saw the eviction: it finishes first.
        let req = a.request();
        assert!(a.busy());
        assert_eq!(l.lock().closing, 0);
        drop(req);
        drop(a);
        let reg = l.lock();
        assert_eq!((reg.taken, reg.closing, reg.conns.len()), (0, 0, 0));
    }

    #[tokio::test]
    async fn unused_slots_give_their_place_back() {
        let l = limit(1);
        drop(now(&l).await);
        drop(now(&l).await);
        assert_eq!(l.lock().taken, 0);
    }
}
