//! Time source for everything in the KMS that depends on the calendar: automatic rotation,
//! deletion windows, import-token and imported-material expiry. Tests (and, later, an admin
//! hook on the listener) drive a [`TestClock`] instead of waiting days. The gateway's lifecycle
//! worker reads the same clock and runs again whenever a test moves it ([`TestClock::moves`]).

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct TestClock {
    now: Mutex<SystemTime>,
    /// Bumped on every move, so background work that depends on the date can react.
    moved: tokio::sync::watch::Sender<u64>,
}

impl TestClock {
    pub fn new(start: SystemTime) -> Self {
        Self {
            now: Mutex::new(start),
            moved: tokio::sync::watch::Sender::new(0),
        }
    }

    /// A receiver that sees a change after every [`advance`](Self::advance) or
    /// [`set`](Self::set).
    pub fn moves(&self) -> tokio::sync::watch::Receiver<u64> {
        self.moved.subscribe()
    }

    /// Starts at the current wall-clock time.
    pub fn starting_now() -> Self {
        Self::new(SystemTime::now())
    }

    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) += by;
        self.moved.send_modify(|n| *n += 1);
    }

    pub fn set(&self, to: SystemTime) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
        self.moved.send_modify(|n| *n += 1);
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Seconds since the Unix epoch, the unit KMS uses on the wire and we use in the database.
pub fn epoch_secs(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

pub const DAY_SECS: f64 = 86_400.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_advances_only_when_told() {
        let start = UNIX_EPOCH + Duration::from_secs(1_000);
        let c = TestClock::new(start);
        assert_eq!(c.now(), start);
        c.advance(Duration::from_secs(86_400));
        assert_eq!(epoch_secs(c.now()), 1_000.0 + DAY_SECS);
    }
}
