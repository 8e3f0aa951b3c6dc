//! One accepted connection: TLS handshake, HTTP/1.1, and the three ways it ends early —
//! the header-read timeout, eviction by the connection cap, and shutdown.

use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::conns::{Conn, InFlight};
use super::{Body, ConnInfo, Limits, Service};

type BoxError = Box<dyn StdError + Send + Sync>;

/// Serves one connection until the client leaves, a limit ends it, or shutdown completes.
pub(super) async fn run(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    service: Arc<dyn Service>,
    limits: Limits,
    info: ConnInfo,
    conn: Arc<Conn>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Built once the connection's facts are known (after a TLS handshake).
    let service_for = |info: ConnInfo| {
        let conn = conn.clone();
        let service = service.clone();
        hyper::service::service_fn(move |req| {
            let service = service.clone();
            // Taken when hyper hands over a parsed head, released once the response body has
            // been sent (or dropped): the span in which eviction must not close the connection.
            let in_flight = conn.request();
            async move {
                let resp = service.call(req, info).await;
                Ok::<_, std::convert::Infallible>(resp.map(|body| Tracked {
                    body,
                    _in_flight: in_flight,
                }))
            }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    let result = match tls {
        Some(acceptor) => {
            // The handshake is idle time too: eviction and shutdown end it at once.
            let handshake = tokio::select! {
                r = tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)) => r,
                _ = conn.evicted() => return,
                _ = shutdown.wait_for(|stop| *stop) => return,
            };
            match handshake {
                Ok(Ok(stream)) => {
                    let tls_version = match stream.get_ref().1.protocol_version() {
                        Some(rustls::ProtocolVersion::TLSv1_3) => Some("1.3"),
                        Some(rustls::ProtocolVersion::TLSv1_2) => Some("1.2"),
                        _ => None,
                    };
                    let svc = service_for(ConnInfo {
                        tls_version,
                        ..info
                    });
                    let http = builder.serve_connection(TokioIo::new(stream), svc);
                    drive(http, &conn, &mut shutdown).await
                }
                Ok(Err(e)) => {
                    tracing::debug!(peer = %info.peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            }
        }
        None => {
            let http = builder.serve_connection(TokioIo::new(stream), service_for(info));
            drive(http, &conn, &mut shutdown).await
        }
    };
    if let Err(e) = result {
        tracing::debug!(peer = %info.peer, error = %e, "connection ended with an error");
    }
}

/// Runs the HTTP connection. Evicted while idle it is dropped (closed) at once; evicted with a
/// request in flight, or at shutdown, it finishes that request and then closes.
async fn drive<I, S, B>(
    http: http1::Connection<I, S>,
    conn: &Conn,
    shutdown: &mut watch::Receiver<bool>,
) -> hyper::Result<()>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    B: HttpBody + 'static,
    B::Error: Into<BoxError>,
{
    let mut http = std::pin::pin!(http);
    tokio::select! {
        r = http.as_mut() => return r,
        _ = conn.evicted() => {
            // Not polled here, so hyper cannot start a request between the check and the drop.
            if !conn.busy() {
                tracing::debug!("idle connection evicted to make room");
                return Ok(());
            }
        }
        _ = shutdown.wait_for(|stop| *stop) => {}
    }
    http.as_mut().graceful_shutdown();
    http.await
}

/// A response body that keeps its request counted as in flight until it is fully sent.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
