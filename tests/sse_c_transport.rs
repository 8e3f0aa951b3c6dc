//! Where SSE-C keys may travel: a trusted TLS-terminating proxy may forward SSE-C requests to
//! the plain HTTP listener (opt-in, per peer address), and presigned URLs carry SSE-C with the
//! key headers signed, sent by a plain HTTPS client.
mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use common::{Options, Server, failure};
use md5::{Digest, Md5};

struct CustomerKey {
    b64: String,
    md5: String,
}

fn customer_key() -> CustomerKey {
    let raw = common::random(32);
    CustomerKey {
        b64: STANDARD.encode(&raw),
        md5: STANDARD.encode(Md5::digest(&raw)),
    }
}

/// PUT of an SSE-C object over plain HTTP, with `forwarded` added as a request header.
async fn put_sse_c(
    s3: &Client,
    bucket: &str,
    key: &str,
    data: &[u8],
    ck: &CustomerKey,
    forwarded: Option<(&'static str, &'static str)>,
) -> Result<
    aws_sdk_s3::operation::put_object::PutObjectOutput,
    aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::put_object::PutObjectError,
        aws_sdk_s3::config::http::HttpResponse,
    >,
> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(data.to_vec()))
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .customize()
        .mutate_request(move |req| {
            if let Some((name, value)) = forwarded {
                req.headers_mut().insert(name, value);
            }
        })
        .send()
        .await
}

async fn get_sse_c(
    s3: &Client,
    bucket: &str,
    key: &str,
    ck: &CustomerKey,
    forwarded: Option<(&'static str, &'static str)>,
) -> Result<Vec<u8>, (u16, String)> {
    let r = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .customize()
        .mutate_request(move |req| {
            if let Some((name, value)) = forwarded {
                req.headers_mut().insert(name, value);
            }
        })
        .send()
        .await;
    match r {
        Ok(out) => Ok(out.body.collect().await.unwrap().into_bytes().to_vec()),
        Err(e) => Err(failure("GET", Err::<(), _>(e))),
    }
}

const XFP_HTTPS: Option<(&str, &str)> = Some(("x-forwarded-proto", "https"));

#[tokio::test]
async fn trusted_proxy_may_forward_sse_c_over_plain_http() {
    let server = Server::start_with(Options {
        config_toml: Some("trusted_proxies = [\"127.0.0.1\"]\n".into()),
        ..Default::default()
    });
    let tls = server.s3().await;
    let plain = server.s3_plain();
    let b = "proxied";
    tls.create_bucket().bucket(b).send().await.unwrap();
    let ck = customer_key();
    let data = common::random(100_000);

    let put = put_sse_c(&plain, b, "via-proxy", &data, &ck, XFP_HTTPS)
        .await
        .expect("SSE-C PUT from a trusted proxy with X-Forwarded-Proto: https");
    assert_eq!(put.sse_customer_algorithm(), Some("AES256"));
    assert_eq!(put.sse_customer_key_md5(), Some(ck.md5.as_str()));
    assert_eq!(
        get_sse_c(&plain, b, "via-proxy", &ck, XFP_HTTPS).await,
        Ok(data.clone())
    );
    assert_eq!(
        get_sse_c(
            &plain,
            b,
            "via-proxy",
            &ck,
            Some(("forwarded", "for=192.0.2.1;proto=https"))
        )
        .await,
        Ok(data.clone()),
        "Forwarded: proto=https counts too"
    );
    // The same object over a direct TLS connection.
    assert_eq!(get_sse_c(&tls, b, "via-proxy", &ck, None).await, Ok(data));

    // Without the header, or with proto=http, the plain listener still refuses SSE-C.
    for (what, fwd) in [
        ("no header", None),
        (
            "X-Forwarded-Proto: http",
            Some(("x-forwarded-proto", "http")),
        ),
    ] {
        let (status, code) = failure(what, put_sse_c(&plain, b, "x", b"x", &ck, fwd).await);
        assert_eq!((status, code.as_str()), (400, "InvalidRequest"), "{what}");
        assert_eq!(
            get_sse_c(&plain, b, "via-proxy", &ck, fwd).await,
            Err((400, "InvalidRequest".into())),
            "{what}"
        );
    }
}

#[tokio::test]
async fn forwarded_https_is_ignored_from_untrusted_peers() {
    // Not configured (the default).
    let default = Server::start();
    // Configured (through the environment), but the test's 127.0.0.1 is not in the list.
    let elsewhere = Server::start_with(Options {
        env: vec![(
            "SEALGATE_TRUSTED_PROXIES".into(),
            "10.0.0.0/8,192.0.2.7".into(),
        )],
        ..Default::default()
    });
    let ck = customer_key();
    for (what, server) in [("not configured", &default), ("other peers", &elsewhere)] {
        let tls = server.s3().await;
        tls.create_bucket()
            .bucket("untrusted")
            .send()
            .await
            .unwrap();
        tls.put_object()
            .bucket("untrusted")
            .key("obj")
            .body(ByteStream::from_static(b"secret"))
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&ck.b64)
            .sse_customer_key_md5(&ck.md5)
            .send()
            .await
            .unwrap();
        let plain = server.s3_plain();
        let (status, code) = failure(
            what,
            put_sse_c(&plain, "untrusted", "x", b"x", &ck, XFP_HTTPS).await,
        );
        assert_eq!((status, code.as_str()), (400, "InvalidRequest"), "{what}");
        assert_eq!(
            get_sse_c(&plain, "untrusted", "obj", &ck, XFP_HTTPS).await,
            Err((400, "InvalidRequest".into())),
            "{what}"
        );
    }
}

/// One request over HTTPS trusting only `ca`, as a plain client (not an AWS SDK) sends it.
async fn https(
    ca: &Path,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    use http_body_util::{BodyExt, Full};
    let uri: http::Uri = url.parse().unwrap();
    let host = uri.host().unwrap().to_owned();
    let port = uri.port_u16().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).unwrap();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from(host.clone()).unwrap(),
            tcp,
        )
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method(method)
        .uri(uri.path_and_query().unwrap().as_str())
        .header("host", format!("{host}:{port}"));
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("host") {
            req = req.header(k, v);
        }
    }
    let req = req.body(Full::new(Bytes::from(body))).unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, body)
}

#[tokio::test]
async fn presigned_urls_with_sse_c_headers() {
    let server = Server::start();
    let s3 = server.s3().await;
    let b = "presigned";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let ck = customer_key();
    let data = common::random(50_000);
    let presign = || PresigningConfig::expires_in(Duration::from_secs(600)).unwrap();

    let put = s3
        .put_object()
        .bucket(b)
        .key("obj")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .presigned(presign())
        .await
        .unwrap();
    let signed = put
        .uri()
        .split("X-Amz-SignedHeaders=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        signed.contains("x-amz-server-side-encryption-customer-key"),
        "the SSE-C headers are signed: {signed}"
    );
    let put_headers: Vec<(String, String)> = put
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(
        put_headers
            .iter()
            .any(|(k, _)| k == "x-amz-server-side-encryption-customer-key"),
        "the presigned request carries the key header: {put_headers:?}"
    );
    let (status, body) = https(
        &server.ca_path,
        "PUT",
        put.uri(),
        &put_headers,
        data.clone(),
    )
    .await;
    assert_eq!(
        status,
        200,
        "presigned PUT: {}",
        String::from_utf8_lossy(&body)
    );

    // HEAD through the SDK shows an SSE-C object under that key.
    let head = s3
        .head_object()
        .bucket(b)
        .key("obj")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(head.sse_customer_key_md5(), Some(ck.md5.as_str()));
    assert_eq!(head.content_length(), Some(data.len() as i64));

    let get = s3
        .get_object()
        .bucket(b)
        .key("obj")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .presigned(presign())
        .await
        .unwrap();
    let get_headers: Vec<(String, String)> = get
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let (status, body) = https(&server.ca_path, "GET", get.uri(), &get_headers, Vec::new()).await;
    assert_eq!(status, 200, "presigned GET");
    assert_eq!(body, data);

    // The URL alone, without the signed key headers, opens nothing.
    let (status, body) = https(&server.ca_path, "GET", get.uri(), &[], Vec::new()).await;
    assert!(
        status == 400 || status == 403,
        "presigned GET without the SSE-C headers: {status}"
    );
    assert!(!body.windows(64).any(|w| w == &data[..64]));
    // Another key in the headers does not match the signature either.
    let other = customer_key();
    let swapped: Vec<(String, String)> = get_headers
        .iter()
        .map(|(k, v)| match k.as_str() {
            "x-amz-server-side-encryption-customer-key" => (k.clone(), other.b64.clone()),
            "x-amz-server-side-encryption-customer-key-md5" => (k.clone(), other.md5.clone()),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    let (status, _) = https(&server.ca_path, "GET", get.uri(), &swapped, Vec::new()).await;
    assert_eq!(status, 403, "a different key breaks the signature");
}

/// An SSE-C PUT refused over plain HTTP leaves its body unread; the refusal closes the
/// connection, so nothing sent after that body (here a pipelined request) is ever read as a
/// request of its own.
#[tokio::test]
async fn a_refused_sse_c_put_over_http_closes_the_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = Server::start();
    let s3 = server.s3().await;
    let b = "closing";
    s3.create_bucket().bucket(b).send().await.unwrap();
    let plain = server.s3_plain();
    let ck = customer_key();
    let put = plain
        .put_object()
        .bucket(b)
        .key("obj")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .presigned(PresigningConfig::expires_in(Duration::from_secs(600)).unwrap())
        .await
        .unwrap();
    let uri: http::Uri = put.uri().parse().unwrap();
    let authority = uri.authority().unwrap().to_string();
    let mut request = format!(
        "PUT {} HTTP/1.1\r\nhost: {authority}\r\n",
        uri.path_and_query().unwrap()
    );
    for (k, v) in put
        .headers()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    // Five body bytes, then a whole second request on the same connection.
    request.push_str("content-length: 5\r\n\r\nxxxxx");
    request.push_str(&format!("GET /{b} HTTP/1.1\r\nhost: {authority}\r\n\r\n"));

    let mut tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection after the refusal")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "refused: {answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "the refusal says it closes: {answer}"
    );
    assert_eq!(
        answer.matches("HTTP/1.1 ").count(),
        1,
        "exactly one response: nothing after the refused body was read: {answer}"
    );
    // A new connection is served as usual.
    plain
        .put_object()
        .bucket(b)
        .key("plain")
        .body(ByteStream::from_static(b"plain"))
        .send()
        .await
        .expect("a plain PUT on a new connection");
}
