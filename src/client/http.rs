//! [`HttpConnection`]: one HTTP/1.1 endpoint (HTTPS trusting only a given CA file, or plain
//! HTTP), with a small pool of idle keep-alive connections. Shared by the remote KMS client
//! ([`crate::kms::remote::RemoteKms`]) and the CLI's S3 client ([`super::s3::S3Client`]).
//!
//! Transport decisions:
//! - hyper's HTTP/1.1 connection API over tokio-rustls. hyper-util's legacy client was not
//!   usable: its connector must implement `tower_service::Service`, a crate we do not depend on.
//! - Trust is only the CA certificate(s) in the given PEM file; platform or webpki roots are
//!   not available (no such crate among our dependencies).
//! - A pooled connection the server closed while idle fails before any answer; the request is
//!   then retried once on a fresh connection. Callers only send requests that tolerate a repeat
//!   (KMS calls, and whole-object S3 PUT/GET/HEAD/DELETE, which are idempotent).

use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

/// Idle keep-alive connections kept for reuse.
const MAX_IDLE: usize = 32;

type Sender = SendRequest<Full<Bytes>>;

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("endpoint {0:?}: expected http(s)://host[:port][/]")]
    Endpoint(String),
    #[error("CA file {path}: {source}")]
    CaFile {
        path: String,
        source: std::io::Error,
    },
    #[error("CA file {0}: no usable certificate")]
    NoCertificate(String),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("{0} is an https endpoint: give the CA certificate to trust (AWS_CA_BUNDLE)")]
    NoCa(String),
}

/// A failed exchange: nothing usable came back (connect, TLS, I/O, body too large).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// One endpoint, `http(s)://host[:port]`. Cheap to share behind an `Arc`.
pub struct HttpConnection {
    /// `host[:port]`, as the `Host` header.
    authority: String,
    host: String,
    port: u16,
    /// `None` for plain HTTP.
    tls: Option<(TlsConnector, ServerName<'static>)>,
    idle: Mutex<Vec<Sender>>,
}

impl std::fmt::Debug for HttpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConnection")
            .field("authority", &self.authority)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl HttpConnection {
    /// `endpoint` is `https://host[:port][/]` (then `ca_pem` must name the CA file to trust)
    /// or, when `allow_plain` is set, `http://host[:port][/]`.
    pub fn new(
        endpoint: &str,
        ca_pem: Option<&Path>,
        allow_plain: bool,
    ) -> Result<HttpConnection, EndpointError> {
        let bad_endpoint = || EndpointError::Endpoint(endpoint.to_string());
        let uri: Uri = endpoint.parse().map_err(|_| bad_endpoint())?;
        let path_ok = matches!(uri.path(), "" | "/") && uri.query().is_none();
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if allow_plain => false,
            _ => return Err(bad_endpoint()),
        };
        if !path_ok {
            return Err(bad_endpoint());
        }
        let authority = uri.authority().ok_or_else(bad_endpoint)?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let tls = if https {
            let server_name = ServerName::try_from(host.to_string()).map_err(|_| bad_endpoint())?;
            let ca = ca_pem.ok_or_else(|| EndpointError::NoCa(endpoint.to_string()))?;
            let roots = load_roots(ca)?;
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some((TlsConnector::from(Arc::new(config)), server_name))
        } else {
            None
        };
        Ok(HttpConnection {
            authority: authority.as_str().to_string(),
            host: host.to_string(),
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
            tls,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// `host[:port]`, for the `Host` header.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Sends the request built by `request` (called again for the one retry) and collects an
    /// answer body of at most `max_body` bytes.
    pub async fn exchange(
        &self,
        request: impl Fn() -> Request<Full<Bytes>>,
        max_body: usize,
    ) -> Result<Response<Bytes>, TransportError> {
        let (sender, resp) = match self.take_idle().await {
            Some(mut sender) => match sender.send_request(request()).await {
                Ok(resp) => (sender, resp),
                Err(_) => self.send_fresh(request()).await?,
            },
            None => self.send_fresh(request()).await?,
        };
        let (parts, body) = resp.into_parts();
        let bytes = Limited::new(body, max_body)
            .collect()
            .await
            .map_err(|e| TransportError(format!("reading the answer: {e}")))?
            .to_bytes();
        self.put_idle(sender);
        Ok(Response::from_parts(parts, bytes))
    }

    async fn send_fresh(
        &self,
        req: Request<Full<Bytes>>,
    ) -> Result<(Sender, Response<hyper::body::Incoming>), TransportError> {
        let mut sender = self.connect().await?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| TransportError(format!("request failed: {e}")))?;
        Ok((sender, resp))
    }

    async fn connect(&self) -> Result<Sender, TransportError> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| TransportError(format!("connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            Some((connector, server_name)) => {
                let tls = connector
                    .connect(server_name.clone(), tcp)
                    .await
                    .map_err(|e| TransportError(format!("TLS: {e}")))?;
                handshake(TokioIo::new(tls)).await
            }
            None => handshake(TokioIo::new(tcp)).await,
        }
    }

    /// A pooled connection that is (or, having just finished an exchange, becomes) ready.
    async fn take_idle(&self) -> Option<Sender> {
        loop {
            let mut sender = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    fn put_idle(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }
}

async fn handshake<T>(io: TokioIo<T>) -> Result<Sender, TransportError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| TransportError(format!("HTTP handshake: {e}")))?;
    // The connection task ends when the server closes it or the sender is dropped.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn load_roots(path: &Path) -> Result<rustls::RootCertStore, EndpointError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|source| EndpointError::CaFile {
        path: shown.clone(),
        source,
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|source| EndpointError::CaFile {
            path: shown.clone(),
            source,
        })?;
        roots.add(cert)?;
    }
    if roots.is_empty() {
        return Err(EndpointError::NoCertificate(shown));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked() {
        for bad in ["kms:443", "https://h/path", "https://h/?q=1", "ftp://h"] {
            assert!(
                matches!(
                    HttpConnection::new(bad, None, true),
                    Err(EndpointError::Endpoint(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            HttpConnection::new("http://h:80", None, false),
            Err(EndpointError::Endpoint(_))
        ));
        assert!(matches!(
            HttpConnection::new("https://h:443", None, true),
            Err(EndpointError::NoCa(_))
        ));
        let plain = HttpConnection::new("http://127.0.0.1:8080/", None, true).unwrap();
        assert_eq!(plain.authority(), "127.0.0.1:8080");
        assert!(!plain.is_tls());
    }
}
