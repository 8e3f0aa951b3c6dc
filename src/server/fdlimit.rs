//! The open-file limit: every connection, store file, KMS database handle and log is one
//! descriptor, so the limit bounds how many clients the gateway can hold at once.
//!
//! Distributions start services with a soft limit of 1024 even when the hard limit allows far
//! more; a gateway left at 1024 stops accepting after about a thousand idle sockets. At start we
//! raise the soft limit to the hard one (no privilege is needed for that) and derive the default
//! connection cap from the result, keeping a share of descriptors for everything else.

/// What the limit was and is after [`raise_nofile`]; `None` is "unlimited".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NofileLimit {
    pub(crate) before: Option<u64>,
    pub(crate) after: Option<u64>,
    pub(crate) hard: Option<u64>,
}

/// Linux refuses a soft limit of "unlimited" for descriptors (it must stay under
/// `fs.nr_open`, 1048576 by default); with an unlimited hard limit this is the target instead.
const UNLIMITED_TARGET: u64 = 1 << 20;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and logs before/after. Failure is not
/// fatal: the gateway then runs with the limit it was given, and says so.
pub(crate) fn raise_nofile() -> NofileLimit {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let old = getrlimit(Resource::Nofile);
    let target = old.maximum.unwrap_or(UNLIMITED_TARGET);
    let mut limit = NofileLimit {
        before: old.current,
        after: old.current,
        hard: old.maximum,
    };
    if old.current.is_some_and(|soft| soft < target) {
        let new = Rlimit {
            current: Some(target),
            maximum: old.maximum,
        };
        match setrlimit(Resource::Nofile, new) {
            Ok(()) => limit.after = getrlimit(Resource::Nofile).current,
            Err(e) => tracing::warn!(
                soft = ?old.current,
                hard = ?old.maximum,
                error = %e,
                "cannot raise the open-file limit; connections are capped by the current one"
            ),
        }
    }
    tracing::info!(
        before = ?limit.before,
        after = ?limit.after,
        hard = ?limit.hard,
        "open-file limit (RLIMIT_NOFILE soft)"
    );
    limit
}

/// Descriptors kept back from connections: store files (a multipart completion opens each
/// part), the KMS database, certificates, logs. A quarter of the limit, at least 64, and no
/// more than 4096 once the limit is large.
fn reserve(limit: u64) -> u64 {
    (limit / 4).clamp(64, 4096)
}

/// The fewest connections a default cap allows, however low the descriptor limit.
const MIN_DEFAULT: u64 = 16;

/// The default connection cap for a descriptor limit (`None`: unlimited).
pub(crate) fn default_max_connections(limit: Option<u64>) -> usize {
    let limit = limit.unwrap_or(UNLIMITED_TARGET);
    let cap = limit.saturating_sub(reserve(limit)).max(MIN_DEFAULT);
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// True for the accept errors that mean "out of descriptors" (this process or the system):
/// the connection waits in the backlog, and retrying at once would only spin.
pub(crate) fn is_fd_exhaustion(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    matches!(Errno::from_io_error(e), Some(Errno::MFILE | Errno::NFILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cap_keeps_headroom() {
        assert_eq!(default_max_connections(Some(1024)), 768);
        assert_eq!(default_max_connections(Some(200)), 136);
        assert_eq!(default_max_connections(Some(20_000)), 15_904);
        assert_eq!(default_max_connections(Some(1 << 20)), (1 << 20) - 4096);
        assert_eq!(default_max_connections(None), (1 << 20) - 4096);
        assert_eq!(default_max_connections(Some(10)), 16);
    }

    #[test]
    fn fd_exhaustion_is_recognised() {
        assert!(is_fd_exhaustion(&std::io::Error::from_raw_os_error(
            rustix::io::Errno::MFILE.raw_os_error()
        )));
        assert!(is_fd_exhaustion(&std::io::Error::from_raw_os_error(
            rustix::io::Errno::NFILE.raw_os_error()
        )));
        assert!(!is_fd_exhaustion(&std::io::Error::from(
            std::io::ErrorKind::ConnectionAborted
        )));
    }
}
