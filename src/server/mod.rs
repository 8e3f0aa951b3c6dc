//! Listeners: TCP accept, TLS (per connection), HTTP/1.1, limits and graceful shutdown.
//! Connections are capped across all listeners, idle ones evicted first (`conns`); the cap's
//! default follows the open-file limit (`fdlimit`).
//!
//! Whether a request arrived over TLS is a property of its connection and travels with the
//! request as [`ConnInfo`]; SSE-C decides from it, never from a global flag.

mod connection;
pub(crate) mod conns;
pub(crate) mod fdlimit;
pub(crate) mod proxy;
pub(crate) mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

pub(crate) use conns::{ConnLimit, ConnStats};

/// Response body of every handler.
pub(crate) type Body = BoxBody<Bytes, std::io::Error>;

/// Facts about the connection a request came in on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnInfo {
    pub(crate) tls: bool,
    pub(crate) peer: SocketAddr,
    /// The negotiated TLS version (`"1.2"`, `"1.3"`), once the handshake is done.
    pub(crate) tls_version: Option<&'static str>,
}

/// A request handler for one listener.
pub(crate) trait Service: Send + Sync + 'static {
    fn call(
        self: Arc<Self>,
        req: Request<Incoming>,
        conn: ConnInfo,
    ) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>>;
}

/// Limits that protect the listener from slow or greedy clients.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Time allowed to receive the request line and headers.
    pub(crate) header_timeout: Duration,
    /// Largest request head (request line + headers).
    pub(crate) max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
        }
    }
}

/// Pause after a failed accept. Out of descriptors, the pending connection stays in the
/// backlog and accept fails again at once: without a pause the loop would spin.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(100);

/// How long open requests may run after shutdown is signalled.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// One listener: what it serves and under which limits.
pub(crate) struct Listener {
    pub(crate) socket: TcpListener,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) service: Arc<dyn Service>,
    pub(crate) limits: Limits,
    /// The cap shared with the process's other listeners.
    pub(crate) conns: Arc<ConnLimit>,
}

/// Accepts connections until `shutdown` flips to true, then lets open requests finish (bounded).
pub(crate) async fn serve(l: Listener, mut shutdown: watch::Receiver<bool>) {
    let mut tasks = tokio::task::JoinSet::new();
    let mut backoff = ACCEPT_BACKOFF_MIN;
    let mut slot = None;
    loop {
        // Reap finished connections so the set stays as small as the open ones.
        while tasks.try_join_next().is_some() {}
        let reserved = match slot.take() {
            Some(s) => s,
            None => tokio::select! {
                s = l.conns.reserve() => s,
                _ = shutdown.changed() => break,
            },
        };
        let (stream, peer) = tokio::select! {
            r = l.socket.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    l.conns.stats().accept_failed();
                    if fdlimit::is_fd_exhaustion(&e) {
                        // Another descriptor user (store files, the KMS) took what the cap
                        // left over: give one back so the waiting client gets in.
                        l.conns.shed_one();
                    }
                    tracing::warn!(error = %e, pause_ms = backoff.as_millis(), "accept failed");
                    slot = Some(reserved);
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {},
                        _ = shutdown.changed() => break,
                    }
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        backoff = ACCEPT_BACKOFF_MIN;
        let conn = reserved.register();
        // Small requests and responses must not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let info = ConnInfo {
            tls: l.tls.is_some(),
            peer,
            tls_version: None,
        };
        tasks.spawn(connection::run(
            stream,
            l.tls.clone(),
            l.service.clone(),
            l.limits,
            info,
            conn,
            shutdown.clone(),
        ));
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!("open connections did not finish within 10 s of shutdown");
    }
}

/// Builds a response body from bytes.
pub(crate) fn full(data: impl Into<Bytes>) -> Body {
    use http_body_util::BodyExt;
    http_body_util::Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// An empty response body.
pub(crate) fn empty() -> Body {
    full(Bytes::new())
}
