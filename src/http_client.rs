//! [`HttpEndpoint`]: one outbound HTTP/1.1 endpoint (HTTPS, or plain HTTP where the caller
//! allows it) reached with reqwest. Shared by the remote KMS client
//! ([`crate::kms::remote::RemoteKms`]) and the command line's S3 client
//! (`tools::client::s3::S3Client`); it depends on no other part of sealgate.
//!
//! Transport decisions:
//! - reqwest over rustls, the client object_store already builds for the storage backends.
//! - Trust is the platform's roots (rustls-platform-verifier) plus the CA certificate(s) of the
//!   given PEM file: a sealgate CA from its data dir and a publicly trusted endpoint (AWS KMS)
//!   both verify.
//! - HTTP/1.1 only and no proxy: requests go straight to the endpoint. Up to 32 idle
//!   keep-alive connections are kept; a request whose pooled connection the server had closed
//!   is retried by reqwest on a fresh one. Callers only send requests that tolerate a repeat
//!   (KMS calls, and whole-object S3 PUT/GET/HEAD/DELETE, which are idempotent).
//! - The request path is sent as reqwest's URL parser normalises it: a `.` or `..` path
//!   segment is resolved away, so callers must not send one (see `S3Client`).
//! - Answer bodies are read whole, up to a bound the caller gives.

use std::path::Path;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, Uri};

/// Idle keep-alive connections kept for reuse.
const MAX_IDLE: usize = 32;
/// Bound on setting up a connection (TCP and TLS handshake). A frozen server still completes
/// TCP handshakes from its listen backlog, so without this a client would wait for the whole
/// request timeout before knowing the request was never sent.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub(crate) enum EndpointError {
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
    Tls(String),
    #[error("{0} is an https endpoint: give the CA certificate to trust (AWS_CA_BUNDLE)")]
    NoCa(String),
}

/// A failed exchange: nothing usable came back (connect, TLS, I/O, body too large).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct TransportError {
    pub(crate) message: String,
    /// The connection could not be set up (refused, unreachable, TLS handshake), so the
    /// request never reached the server: safe to send elsewhere whatever it was.
    pub(crate) not_sent: bool,
}

impl TransportError {
    fn after_sending(message: String) -> TransportError {
        TransportError {
            message,
            not_sent: false,
        }
    }
}

/// One endpoint, `http(s)://host[:port]`. Cheap to share behind an `Arc`.
pub(crate) struct HttpEndpoint {
    /// `scheme://host[:port]`, to which request paths are appended.
    base: String,
    /// `host[:port]`, as the `Host` header.
    authority: String,
    https: bool,
    client: reqwest::Client,
}

impl std::fmt::Debug for HttpEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpEndpoint")
            .field("authority", &self.authority)
            .field("tls", &self.https)
            .finish()
    }
}

impl HttpEndpoint {
    /// `endpoint` is `https://host[:port][/]` (then `ca_pem` must name the CA file to trust
    /// besides the platform's roots) or, when `allow_plain` is set, `http://host[:port][/]`.
    pub(crate) fn new(
        endpoint: &str,
        ca_pem: Option<&Path>,
        allow_plain: bool,
    ) -> Result<HttpEndpoint, EndpointError> {
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
        let authority = uri
            .authority()
            .ok_or_else(bad_endpoint)?
            .as_str()
            .to_string();
        let base = format!("{}://{authority}", if https { "https" } else { "http" });
        reqwest::Url::parse(&base).map_err(|_| bad_endpoint())?;
        let mut builder = reqwest::Client::builder()
            .http1_only()
            .no_proxy()
            .pool_max_idle_per_host(MAX_IDLE)
            .connect_timeout(CONNECT_TIMEOUT);
        if https {
            let ca = ca_pem.ok_or_else(|| EndpointError::NoCa(endpoint.to_string()))?;
            builder = builder.tls_certs_merge(load_certificates(ca)?);
        }
        let client = builder
            .build()
            .map_err(|e| EndpointError::Tls(error_chain(&e)))?;
        Ok(HttpEndpoint {
            base,
            authority,
            https,
            client,
        })
    }

    /// `host[:port]`, for the `Host` header.
    pub(crate) fn authority(&self) -> &str {
        &self.authority
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.https
    }

    /// Sends `method path` with exactly `headers` (the caller's `Host` included) and `body`
    /// (none: no body at all), and collects an answer body of at most `max_body` bytes.
    pub(crate) async fn exchange(
        &self,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        max_body: usize,
    ) -> Result<Response<Bytes>, TransportError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.client.request(method, url).headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        let mut resp = request.send().await.map_err(|e| TransportError {
            message: format!("request failed: {}", error_chain(&e)),
            not_sent: e.is_connect(),
        })?;
        let mut collected = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| {
            TransportError::after_sending(format!("reading the answer: {}", error_chain(&e)))
        })? {
            if collected.len() + chunk.len() > max_body {
                return Err(TransportError::after_sending(
                    "reading the answer: length limit exceeded".into(),
                ));
            }
            collected.extend_from_slice(&chunk);
        }
        let mut answer = Response::new(Bytes::from(collected));
        *answer.status_mut() = resp.status();
        *answer.headers_mut() = std::mem::take(resp.headers_mut());
        Ok(answer)
    }
}

/// reqwest's message and its causes (reqwest's own message names only the URL).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn load_certificates(path: &Path) -> Result<Vec<reqwest::Certificate>, EndpointError> {
    let shown = path.display().to_string();
    let ca_file = |source| EndpointError::CaFile {
        path: shown.clone(),
        source,
    };
    let pem = std::fs::read(path).map_err(ca_file)?;
    let mut certs = Vec::new();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let der = cert.map_err(ca_file)?;
        certs.push(
            reqwest::Certificate::from_der(&der)
                .map_err(|e| EndpointError::Tls(error_chain(&e)))?,
        );
    }
    if certs.is_empty() {
        return Err(EndpointError::NoCertificate(shown));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked() {
        for bad in ["kms:443", "https://h/path", "https://h/?q=1", "ftp://h"] {
            assert!(
                matches!(
                    HttpEndpoint::new(bad, None, true),
                    Err(EndpointError::Endpoint(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            HttpEndpoint::new("http://h:80", None, false),
            Err(EndpointError::Endpoint(_))
        ));
        assert!(matches!(
            HttpEndpoint::new("https://h:443", None, true),
            Err(EndpointError::NoCa(_))
        ));
        let plain = HttpEndpoint::new("http://127.0.0.1:8080/", None, true).unwrap();
        assert_eq!(plain.authority(), "127.0.0.1:8080");
        assert!(!plain.is_tls());
    }

    #[test]
    fn the_url_parser_resolves_dot_segments() {
        // Why `S3Client` refuses such keys: even percent-encoded, they would address another.
        for path in ["/b/a/../c", "/b/a/%2e%2E/c", "/b/a/./../c"] {
            let url = reqwest::Url::parse(&format!("http://h{path}")).unwrap();
            assert_eq!(url.path(), "/b/c", "{path}");
        }
    }
}
