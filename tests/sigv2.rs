//! SigV2 against the real binary: requests signed by hand (header form and presigned query
//! form) and sent by a plain HTTP client, with AWS's answers for the ways they go wrong.
mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use common::{ACCESS_KEY, SECRET_KEY, Server};
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;

/// The parts of a SigV2 string to sign, spelled out as the AWS documentation lists them.
#[derive(Default)]
struct ToSign<'a> {
    content_md5: &'a str,
    content_type: &'a str,
    /// The `Date` header, empty when `x-amz-date` is sent, or `Expires` for a URL.
    date: &'a str,
    /// Lower-case `x-amz-*` headers, already sorted.
    amz: &'a [(&'a str, &'a str)],
    /// CanonicalizedResource: `/bucket/key` plus signed sub-resources.
    resource: &'a str,
}

fn sign(secret: &str, method: &str, t: &ToSign) -> String {
    let mut s = format!(
        "{method}\n{}\n{}\n{}\n",
        t.content_md5, t.content_type, t.date
    );
    for (k, v) in t.amz {
        s.push_str(&format!("{k}:{v}\n"));
    }
    s.push_str(t.resource);
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(s.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

fn http_date(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    t.format(time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    ))
    .unwrap()
}

fn q(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

struct Resp {
    status: u16,
    body: Vec<u8>,
}

impl Resp {
    fn code(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.split_once("<Code>")
            .and_then(|(_, r)| r.split_once("</Code>"))
            .map(|(c, _)| c.to_owned())
            .unwrap_or_else(|| text.into_owned())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A GET over plain HTTP with no headers of its own: how a presigned URL is fetched.
async fn get_plain(base: &str, path_and_query: &str) -> Resp {
    send(base, None, "GET", path_and_query, &[], vec![]).await
}

/// One HTTP/1.1 request to `base` (`http://` or, trusting `ca`, `https://`), as a plain client
/// sends it: exactly these headers, with `host` overridable.
async fn send(
    base: &str,
    ca: Option<&Path>,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Resp {
    use http_body_util::{BodyExt, Full};
    let uri: http::Uri = base.parse().unwrap();
    let host = uri.host().unwrap().to_owned();
    let port = uri.port_u16().unwrap();
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .unwrap();
    let mut req = http::Request::builder().method(method).uri(path_and_query);
    if !headers.iter().any(|(k, _)| *k == "host") {
        req = req.header("host", format!("{host}:{port}"));
    }
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let req = req.body(Full::new(Bytes::from(body))).unwrap();
    let resp = match ca {
        None => {
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            sender.send_request(req).await.unwrap()
        }
        Some(ca) => {
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
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(rustls::pki_types::ServerName::try_from(host).unwrap(), tcp)
                .await
                .unwrap();
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            sender.send_request(req).await.unwrap()
        }
    };
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Resp { status, body }
}

fn auth(access_key: &str, signature: &str) -> (&'static str, String) {
    ("authorization", format!("AWS {access_key}:{signature}"))
}

/// A header-form request dated now, signed for `resource`.
async fn signed(
    server: &Server,
    method: &str,
    path_and_query: &str,
    resource: &str,
    extra: &[(&str, String)],
    body: Vec<u8>,
) -> Resp {
    let date = http_date(SystemTime::now());
    let content_type = extra
        .iter()
        .find(|(k, _)| *k == "content-type")
        .map_or("", |(_, v)| v.as_str());
    let content_md5 = extra
        .iter()
        .find(|(k, _)| *k == "content-md5")
        .map_or("", |(_, v)| v.as_str());
    let amz: Vec<(&str, &str)> = extra
        .iter()
        .filter(|(k, _)| k.starts_with("x-amz-"))
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let sig = sign(
        SECRET_KEY,
        method,
        &ToSign {
            content_md5,
            content_type,
            date: &date,
            amz: &amz,
            resource,
        },
    );
    let mut headers = vec![("date", date), auth(ACCESS_KEY, &sig)];
    headers.extend(extra.iter().cloned());
    let base = server.s3_http.clone().unwrap();
    send(&base, None, method, path_and_query, &headers, body).await
}

/// `?AWSAccessKeyId=..&Expires=..&Signature=..` for `resource`, valid until `expires`.
fn presign(method: &str, path: &str, resource: &str, expires: u64, content_type: &str) -> String {
    let expires = expires.to_string();
    let sig = sign(
        SECRET_KEY,
        method,
        &ToSign {
            content_type,
            date: &expires,
            resource,
            ..ToSign::default()
        },
    );
    format!(
        "{path}?AWSAccessKeyId={ACCESS_KEY}&Expires={expires}&Signature={}",
        q(&sig)
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn metric(text: &str, form: &str) -> u64 {
    let series = format!("sealgate_s3_sigv2_requests_total{{form=\"{form}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no {series} in metrics"))
        .trim()
        .parse()
        .unwrap()
}

async fn metrics_text(server: &Server) -> String {
    let url = server.metrics_url.clone().unwrap();
    send(&url, None, "GET", "/metrics", &[], vec![])
        .await
        .text()
}

#[tokio::test]
async fn header_form_put_get_list_and_sub_resources() {
    let server = Server::start();
    let r = signed(&server, "PUT", "/v2bucket", "/v2bucket/", &[], vec![]).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // PUT with Content-MD5, Content-Type and x-amz-* headers, all signed.
    let body = common::random(100_000);
    let md5 = STANDARD.encode(Md5::digest(&body));
    let r = signed(
        &server,
        "PUT",
        "/v2bucket/dir/a%20b.bin",
        "/v2bucket/dir/a%20b.bin",
        &[
            ("content-md5", md5.clone()),
            ("content-type", "application/x-test".into()),
            ("x-amz-meta-color", "blue".into()),
            ("x-amz-server-side-encryption", "AES256".into()),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let r = signed(
        &server,
        "GET",
        "/v2bucket/dir/a%20b.bin",
        "/v2bucket/dir/a%20b.bin",
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, body);

    // The SDK agrees it is the same object (SigV4 after SigV2).
    let sdk = server.s3().await;
    let got = sdk
        .get_object()
        .bucket("v2bucket")
        .key("dir/a b.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/x-test"));
    assert_eq!(
        got.metadata().unwrap().get("color").map(String::as_str),
        Some("blue")
    );

    // Query parameters that are not sub-resources are not signed.
    let r = signed(
        &server,
        "GET",
        "/v2bucket?prefix=dir%2F&max-keys=5",
        "/v2bucket/",
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("<Key>dir/a b.bin</Key>"), "{}", r.text());

    // A sub-resource is signed: ?uploads (create, then list), ?location.
    let r = signed(
        &server,
        "POST",
        "/v2bucket/mp?uploads",
        "/v2bucket/mp?uploads",
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    let upload_id = text
        .split_once("<UploadId>")
        .and_then(|(_, r)| r.split_once("</UploadId>"))
        .unwrap()
        .0
        .to_owned();
    let r = signed(
        &server,
        "GET",
        "/v2bucket?uploads",
        "/v2bucket/?uploads",
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(&upload_id));
    // ... and leaving it out of the resource is a different signature.
    let r = signed(
        &server,
        "GET",
        "/v2bucket?uploads",
        "/v2bucket/",
        &[],
        vec![],
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "SignatureDoesNotMatch".into()),
        "{}",
        r.text()
    );
    let r = signed(
        &server,
        "GET",
        "/v2bucket?location",
        "/v2bucket/?location",
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("LocationConstraint"));

    // x-amz-date replaces Date (the Date line is empty and x-amz-date is signed).
    let now = http_date(SystemTime::now());
    let sig = sign(
        SECRET_KEY,
        "GET",
        &ToSign {
            amz: &[("x-amz-date", &now)],
            resource: "/v2bucket/dir/a%20b.bin",
            ..ToSign::default()
        },
    );
    let r = send(
        server.s3_http.as_ref().unwrap(),
        None,
        "GET",
        "/v2bucket/dir/a%20b.bin",
        &[
            ("x-amz-date", now.clone()),
            ("date", "Mon, 01 Jan 2001 00:00:00 GMT".into()),
            auth(ACCESS_KEY, &sig),
        ],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Virtual-host style: the bucket from Host joins the signed resource.
    let port = server
        .s3_http
        .as_ref()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let date = http_date(SystemTime::now());
    let sig = sign(
        SECRET_KEY,
        "GET",
        &ToSign {
            date: &date,
            resource: "/v2bucket/dir/a%20b.bin",
            ..ToSign::default()
        },
    );
    let r = send(
        server.s3_http.as_ref().unwrap(),
        None,
        "GET",
        "/dir/a%20b.bin",
        &[
            ("host", format!("v2bucket.s3.localhost:{port}")),
            ("date", date),
            auth(ACCESS_KEY, &sig),
        ],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, body);

    let m = metrics_text(&server).await;
    assert_eq!(metric(&m, "header"), 9);
    assert_eq!(metric(&m, "query"), 0);
}

#[tokio::test]
async fn header_form_failures() {
    let server = Server::start();
    let sdk = server.s3().await;
    sdk.create_bucket().bucket("bkt").send().await.unwrap();
    let base = server.s3_http.clone().unwrap();

    // A signature over another path, a changed method, a wrong secret.
    let date = http_date(SystemTime::now());
    let ts = |resource| ToSign {
        date: &date,
        resource,
        ..ToSign::default()
    };
    let sig = sign(SECRET_KEY, "GET", &ts("/bkt/other"));
    let r = send(
        &base,
        None,
        "GET",
        "/bkt/k",
        &[("date", date.clone()), auth(ACCESS_KEY, &sig)],
        vec![],
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch".into()));
    // AWS shows the string to sign it computed, and the access key.
    assert!(
        r.text().contains(&format!(
            "<StringToSign>GET&#10;&#10;&#10;{date}&#10;/bkt/k</StringToSign>"
        )),
        "{}",
        r.text()
    );
    assert!(
        r.text()
            .contains(&format!("<AWSAccessKeyId>{ACCESS_KEY}</AWSAccessKeyId>"))
    );
    let sig = sign(SECRET_KEY, "GET", &ts("/bkt/k"));
    let r = send(
        &base,
        None,
        "DELETE",
        "/bkt/k",
        &[("date", date.clone()), auth(ACCESS_KEY, &sig)],
        vec![],
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch".into()));
    let sig = sign("wrong-secret", "GET", &ts("/bkt/k"));
    let r = send(
        &base,
        None,
        "GET",
        "/bkt/k",
        &[("date", date.clone()), auth(ACCESS_KEY, &sig)],
        vec![],
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch".into()));

    // An unsigned x-amz-* header added to a signed request breaks the signature.
    let sig = sign(SECRET_KEY, "GET", &ts("/bkt/"));
    let r = send(
        &base,
        None,
        "GET",
        "/bkt",
        &[
            ("date", date.clone()),
            ("x-amz-meta-extra", "1".into()),
            auth(ACCESS_KEY, &sig),
        ],
        vec![],
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch".into()));
    let r = send(
        &base,
        None,
        "GET",
        "/bkt",
        &[("date", date.clone()), auth(ACCESS_KEY, &sig)],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Unknown access key.
    let r = send(
        &base,
        None,
        "GET",
        "/bkt",
        &[("date", date.clone()), auth("AKIDNOTKNOWN00000000", &sig)],
        vec![],
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "InvalidAccessKeyId".into()));

    // A date 20 minutes old, or none at all.
    let old = http_date(SystemTime::now() - Duration::from_secs(20 * 60));
    let sig = sign(
        SECRET_KEY,
        "GET",
        &ToSign {
            date: &old,
            resource: "/bkt/",
            ..ToSign::default()
        },
    );
    let r = send(
        &base,
        None,
        "GET",
        "/bkt",
        &[("date", old.clone()), auth(ACCESS_KEY, &sig)],
        vec![],
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "RequestTimeTooSkewed".into()));
    assert!(
        r.text()
            .contains(&format!("<RequestTime>{old}</RequestTime>")),
        "{}",
        r.text()
    );
    let r = send(
        &base,
        None,
        "GET",
        "/bkt",
        &[auth(ACCESS_KEY, &sig)],
        vec![],
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied".into()));

    // Malformed header, and two signatures on one request.
    let r = send(
        &base,
        None,
        "GET",
        "/bkt",
        &[
            ("date", date.clone()),
            ("authorization", format!("AWS {ACCESS_KEY}")),
        ],
        vec![],
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "InvalidArgument".into()));
    let r = send(
        &base,
        None,
        "GET",
        &format!("/bkt?AWSAccessKeyId={ACCESS_KEY}&Expires=9999999999&Signature=x"),
        &[("date", date.clone()), auth(ACCESS_KEY, &sig)],
        vec![],
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "InvalidArgument".into()));

    // Nothing was written by any of these.
    let listed = sdk.list_objects_v2().bucket("bkt").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));
    // The KMS stays SigV4-only: a SigV2 header gets the KMS's signature error.
    let r = send(
        &server.kms_https,
        Some(&server.ca_path),
        "POST",
        "/",
        &[
            ("date", date.clone()),
            ("x-amz-target", "TrentService.ListKeys".into()),
            ("content-type", "application/x-amz-json-1.1".into()),
            auth(ACCESS_KEY, &sig),
        ],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("IncompleteSignatureException"),
        "{}",
        r.text()
    );

    let m = metrics_text(&server).await;
    assert_eq!(metric(&m, "header"), 1);
}

#[tokio::test]
async fn presigned_query_form() {
    let server = Server::start();
    let sdk = server.s3().await;
    sdk.create_bucket().bucket("bkt").send().await.unwrap();
    let base = server.s3_http.clone().unwrap();
    let later = unix_now() + 600;

    // Presigned PUT, then GET, with a client that knows nothing about AWS.
    let body = common::random(70_000);
    let url = presign("PUT", "/bkt/obj", "/bkt/obj", later, "text/plain");
    let r = send(
        &base,
        None,
        "PUT",
        &url,
        &[("content-type", "text/plain".into())],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let url = presign("GET", "/bkt/obj", "/bkt/obj", later, "");
    let r = get_plain(&base, &url).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, body);

    // A response override is a signed sub-resource.
    let url = presign(
        "GET",
        "/bkt/obj",
        "/bkt/obj?response-content-type=application/json",
        later,
        "",
    );
    let r = get_plain(
        &base,
        &format!("{url}&response-content-type=application%2Fjson"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = get_plain(&base, &format!("{url}&response-content-type=text%2Fhtml")).await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch".into()));

    // Used for another key, another method, or with a changed signature.
    let url = presign("GET", "/bkt/obj", "/bkt/obj", later, "");
    let r = get_plain(&base, &url.replace("/bkt/obj", "/bkt/ob")).await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch".into()));
    let r = send(&base, None, "DELETE", &url, &[], vec![]).await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch".into()));
    let tampered = url.replace("&Signature=", "&Signature=A");
    let r = get_plain(&base, &tampered).await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch".into()));
    // A later Expires is part of what was signed.
    let stretched = url.replace(&later.to_string(), &(later + 1).to_string());
    let r = get_plain(&base, &stretched).await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch".into()));

    // Expired.
    let url = presign("GET", "/bkt/obj", "/bkt/obj", unix_now() - 5, "");
    let r = get_plain(&base, &url).await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied".into()));
    assert!(r.text().contains("Request has expired"), "{}", r.text());
    assert!(!r.text().contains("X-Amz-Expires"), "{}", r.text());

    // Unknown key; missing Expires; both SigV2 and SigV4 parameters.
    let url = presign("GET", "/bkt/obj", "/bkt/obj", later, "")
        .replace(ACCESS_KEY, "AKIDNOTKNOWN00000000");
    let r = get_plain(&base, &url).await;
    assert_eq!((r.status, r.code()), (403, "InvalidAccessKeyId".into()));
    let r = get_plain(
        &base,
        &format!("/bkt/obj?AWSAccessKeyId={ACCESS_KEY}&Signature=x"),
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied".into()));
    let url = presign("GET", "/bkt/obj", "/bkt/obj", later, "");
    let r = get_plain(&base, &format!("{url}&X-Amz-Algorithm=AWS4-HMAC-SHA256")).await;
    assert_eq!((r.status, r.code()), (400, "InvalidArgument".into()));

    let m = metrics_text(&server).await;
    assert_eq!(metric(&m, "query"), 3);
    assert_eq!(metric(&m, "header"), 0);
}

#[tokio::test]
async fn sse_c_with_the_customer_key_headers_signed() {
    let server = Server::start();
    let sdk = server.s3().await;
    sdk.create_bucket().bucket("bkt").send().await.unwrap();
    let raw = common::random(32);
    let key = STANDARD.encode(&raw);
    let key_md5 = STANDARD.encode(Md5::digest(&raw));
    let body = common::random(20_000);
    let ssec = [
        (
            "x-amz-server-side-encryption-customer-algorithm",
            "AES256".to_owned(),
        ),
        ("x-amz-server-side-encryption-customer-key", key.clone()),
        ("x-amz-server-side-encryption-customer-key-md5", key_md5),
    ];
    let amz: Vec<(&str, &str)> = ssec.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let req = |method: &'static str, body: Vec<u8>, amz: Vec<(&'static str, String)>| {
        let server = &server;
        async move {
            let date = http_date(SystemTime::now());
            let signed: Vec<(&str, &str)> = amz.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let sig = sign(
                SECRET_KEY,
                method,
                &ToSign {
                    date: &date,
                    amz: &signed,
                    resource: "/bkt/secret",
                    ..ToSign::default()
                },
            );
            let mut headers = vec![("date", date), auth(ACCESS_KEY, &sig)];
            headers.extend(amz.iter().cloned());
            send(
                &server.s3_https,
                Some(&server.ca_path),
                method,
                "/bkt/secret",
                &headers,
                body,
            )
            .await
        }
    };
    let r = req("PUT", body.clone(), ssec.to_vec()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = req("GET", vec![], ssec.to_vec()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, body);
    // Without the key the object stays closed.
    let r = req("GET", vec![], vec![]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    // The key headers are part of the signature: signing without them fails.
    let date = http_date(SystemTime::now());
    let sig = sign(
        SECRET_KEY,
        "GET",
        &ToSign {
            date: &date,
            amz: &amz[..1],
            resource: "/bkt/secret",
            ..ToSign::default()
        },
    );
    let mut headers = vec![("date", date), auth(ACCESS_KEY, &sig)];
    headers.extend(ssec.iter().cloned());
    let r = send(
        &server.s3_https,
        Some(&server.ca_path),
        "GET",
        "/bkt/secret",
        &headers,
        vec![],
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch".into()));
}

/// A presigned URL's `x-amz-*` parameters are signed as headers and act as headers, as on S3:
/// the object is stored with the SSE mode, metadata and tags the URL names, though the client
/// that uses it sends none of them.
#[tokio::test]
async fn presigned_amz_parameters_apply_as_headers() {
    let server = Server::start();
    let sdk = server.s3().await;
    sdk.create_bucket().bucket("bkt").send().await.unwrap();
    let base = server.s3_http.clone().unwrap();
    let expires = (unix_now() + 600).to_string();
    let amz = [
        ("x-amz-meta-color", "blue"),
        ("x-amz-server-side-encryption", "aws:kms"),
        ("x-amz-tagging", "team=blue"),
    ];
    let sig = sign(
        SECRET_KEY,
        "PUT",
        &ToSign {
            date: &expires,
            amz: &amz,
            resource: "/bkt/tagged",
            ..ToSign::default()
        },
    );
    let params: String = amz.iter().map(|(k, v)| format!("&{k}={}", q(v))).collect();
    let url = format!(
        "/bkt/tagged?AWSAccessKeyId={ACCESS_KEY}&Expires={expires}&Signature={}{params}",
        q(&sig)
    );
    // A parameter changed after signing no longer matches.
    let tampered = url.replace("color=blue", "color=red");
    let r = send(&base, None, "PUT", &tampered, &[], b"x".to_vec()).await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch".into()));
    assert!(
        sdk.head_object()
            .bucket("bkt")
            .key("tagged")
            .send()
            .await
            .is_err()
    );

    let body = common::random(10_000);
    let r = send(&base, None, "PUT", &url, &[], body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let head = sdk
        .head_object()
        .bucket("bkt")
        .key("tagged")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption(),
        Some(&aws_sdk_s3::types::ServerSideEncryption::AwsKms)
    );
    assert_eq!(
        head.metadata().unwrap().get("color").map(String::as_str),
        Some("blue")
    );
    let tags = sdk
        .get_object_tagging()
        .bucket("bkt")
        .key("tagged")
        .send()
        .await
        .unwrap();
    let tags: Vec<(&str, &str)> = tags
        .tag_set()
        .iter()
        .map(|t| (t.key(), t.value()))
        .collect();
    assert_eq!(tags, [("team", "blue")]);
    let got = sdk
        .get_object()
        .bucket("bkt")
        .key("tagged")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        body
    );

    // A header sent as well wins over the parameter, in the signature as in effect.
    let amz = [("x-amz-meta-color", "green")];
    let sig = sign(
        SECRET_KEY,
        "PUT",
        &ToSign {
            date: &expires,
            amz: &amz,
            resource: "/bkt/both",
            ..ToSign::default()
        },
    );
    let url = format!(
        "/bkt/both?AWSAccessKeyId={ACCESS_KEY}&Expires={expires}&Signature={}&x-amz-meta-color=red",
        q(&sig)
    );
    let headers = [("x-amz-meta-color", "green".to_owned())];
    let r = send(&base, None, "PUT", &url, &headers, b"y".to_vec()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let head = sdk
        .head_object()
        .bucket("bkt")
        .key("both")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.metadata().unwrap().get("color").map(String::as_str),
        Some("green")
    );
}
