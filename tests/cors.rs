//! Bucket CORS against the real binary: Put/Get/DeleteBucketCors through the SDK, and what a
//! browser sees over plain HTTP — `OPTIONS` preflights (unauthenticated) and the CORS headers
//! on actual requests (presigned GET/PUT with an `Origin`).
mod common;

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use common::Server;

const APP: &str = "https://app.example.test";

fn http(server: &Server) -> reqwest::Client {
    let pem = std::fs::read(&server.ca_path).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

fn rules() -> CorsConfiguration {
    CorsConfiguration::builder()
        .cors_rules(
            CorsRule::builder()
                .id("app")
                .allowed_origins("https://*.example.test")
                .allowed_methods("GET")
                .allowed_methods("PUT")
                .allowed_headers("content-type")
                .allowed_headers("x-amz-*")
                .expose_headers("ETag")
                .max_age_seconds(600)
                .build()
                .unwrap(),
        )
        .cors_rules(
            CorsRule::builder()
                .allowed_origins("*")
                .allowed_methods("HEAD")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

async fn setup(server: &Server, bucket: &str, with_rules: bool) -> aws_sdk_s3::Client {
    let s3 = server.s3().await;
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3.put_object()
        .bucket(bucket)
        .key("k")
        .body(ByteStream::from_static(b"hello cors"))
        .send()
        .await
        .unwrap();
    if with_rules {
        s3.put_bucket_cors()
            .bucket(bucket)
            .cors_configuration(rules())
            .send()
            .await
            .unwrap();
    }
    s3
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn preflight(
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = http(server).request(
        reqwest::Method::OPTIONS,
        format!("{}/{path}", server.s3_https),
    );
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let h = resp.headers().clone();
    (status, h, resp.text().await.unwrap())
}

#[tokio::test]
async fn put_get_delete_bucket_cors() {
    let server = Server::start();
    let s3 = setup(&server, "corsbucket", false).await;

    let err = s3
        .get_bucket_cors()
        .bucket("corsbucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
    assert_eq!(err.code(), Some("NoSuchCORSConfiguration"));

    s3.put_bucket_cors()
        .bucket("corsbucket")
        .cors_configuration(rules())
        .send()
        .await
        .unwrap();
    let got = s3
        .get_bucket_cors()
        .bucket("corsbucket")
        .send()
        .await
        .unwrap();
    let r = got.cors_rules();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].id(), Some("app"));
    assert_eq!(r[0].allowed_origins(), ["https://*.example.test"]);
    assert_eq!(r[0].allowed_methods(), ["GET", "PUT"]);
    assert_eq!(r[0].allowed_headers(), ["content-type", "x-amz-*"]);
    assert_eq!(r[0].expose_headers(), ["ETag"]);
    assert_eq!(r[0].max_age_seconds(), Some(600));
    assert_eq!(r[1].allowed_origins(), ["*"]);
    assert_eq!(r[1].allowed_methods(), ["HEAD"]);

    // The bucket itself is untouched by `DELETE ?cors`.
    s3.delete_bucket_cors()
        .bucket("corsbucket")
        .send()
        .await
        .unwrap();
    let err = s3
        .get_bucket_cors()
        .bucket("corsbucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchCORSConfiguration"));
    let obj = s3
        .get_object()
        .bucket("corsbucket")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        &obj.body.collect().await.unwrap().into_bytes()[..],
        b"hello cors"
    );

    let err = s3
        .get_bucket_cors()
        .bucket("nosuchbucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchBucket"));
}

#[tokio::test]
async fn put_bucket_cors_validation() {
    let server = Server::start();
    let s3 = setup(&server, "corsvalid", false).await;
    let one = |rule: CorsRule| {
        CorsConfiguration::builder()
            .cors_rules(rule)
            .build()
            .unwrap()
    };
    let put = |cfg: CorsConfiguration| {
        let s3 = s3.clone();
        async move {
            let e = s3
                .put_bucket_cors()
                .bucket("corsvalid")
                .cors_configuration(cfg)
                .send()
                .await
                .unwrap_err();
            (
                e.raw_response().unwrap().status().as_u16(),
                e.code().unwrap_or("").to_owned(),
                e.message().unwrap_or("").to_owned(),
            )
        }
    };
    let rule = || {
        CorsRule::builder()
            .allowed_origins("*")
            .allowed_methods("GET")
    };

    let (status, code, msg) = put(one(CorsRule::builder()
        .allowed_origins("*")
        .allowed_methods("PATCH")
        .build()
        .unwrap()))
    .await;
    assert_eq!((status, code.as_str()), (400, "InvalidRequest"));
    assert!(msg.contains("Unsupported method is PATCH"), "{msg}");

    let (status, code, msg) = put(one(CorsRule::builder()
        .allowed_origins("https://*.*.example.test")
        .allowed_methods("GET")
        .build()
        .unwrap()))
    .await;
    assert_eq!((status, code.as_str()), (400, "InvalidRequest"));
    assert!(msg.contains("can not have more than one wildcard"), "{msg}");

    let (status, code, _) = put(one(rule().allowed_headers("x-*-*").build().unwrap())).await;
    assert_eq!((status, code.as_str()), (400, "InvalidRequest"));

    let mut many = CorsConfiguration::builder();
    for _ in 0..101 {
        many = many.cors_rules(rule().build().unwrap());
    }
    let (status, code, _) = put(many.build().unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "MalformedXML"));

    // A hundred rules is the limit, not past it.
    let mut hundred = CorsConfiguration::builder();
    for _ in 0..100 {
        hundred = hundred.cors_rules(rule().build().unwrap());
    }
    s3.put_bucket_cors()
        .bucket("corsvalid")
        .cors_configuration(hundred.build().unwrap())
        .send()
        .await
        .unwrap();

    // Malformed bodies and a missing integrity header: the SDK request with its body and
    // integrity headers replaced before signing.
    let body = "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod>\
                <AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>";
    let md5 = |b: &[u8]| {
        use base64::Engine as _;
        use md5::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(b))
    };
    let raw = |body: &'static str, content_md5: Option<String>| {
        let s3 = s3.clone();
        async move {
            s3.put_bucket_cors()
                .bucket("corsvalid")
                .cors_configuration(one(rule().build().unwrap()))
                .customize()
                .mutate_request(move |req| {
                    let names: Vec<String> = req
                        .headers()
                        .iter()
                        .map(|(k, _)| k.to_owned())
                        .filter(|k| {
                            k.starts_with("x-amz-checksum-")
                                || k.contains("sdk-checksum")
                                || k == "content-md5"
                        })
                        .collect();
                    for n in names {
                        req.headers_mut().remove(n);
                    }
                    if let Some(m) = &content_md5 {
                        req.headers_mut().insert("content-md5", m.clone());
                    }
                    req.headers_mut()
                        .insert("content-length", body.len().to_string());
                    *req.body_mut() = aws_sdk_s3::primitives::SdkBody::from(body);
                })
                .send()
                .await
        }
    };
    let e = raw(body, None).await.unwrap_err();
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 400);
    assert_eq!(e.code(), Some("InvalidRequest"));
    assert!(e.message().unwrap_or("").contains("Content-MD5"), "{e:?}");

    let bad = "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod>";
    let e = raw(bad, Some(md5(bad.as_bytes()))).await.unwrap_err();
    assert_eq!(e.code(), Some("MalformedXML"));

    let e = raw(body, Some(md5(b"something else"))).await.unwrap_err();
    assert_eq!(e.code(), Some("BadDigest"));

    raw(body, Some(md5(body.as_bytes()))).await.unwrap();
    let got = s3
        .get_bucket_cors()
        .bucket("corsvalid")
        .send()
        .await
        .unwrap();
    assert_eq!(got.cors_rules().len(), 1);
}

#[tokio::test]
async fn preflight_answers_from_the_first_matching_rule() {
    let server = Server::start();
    setup(&server, "corspre", true).await;

    let (status, h, _) = preflight(
        &server,
        "corspre/k",
        &[
            ("origin", APP),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "Content-Type, X-Amz-Date"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(h["access-control-allow-origin"], APP);
    assert_eq!(h["access-control-allow-methods"], "GET, PUT");
    // Requested headers come back lowercase, as S3 answers them.
    assert_eq!(
        h["access-control-allow-headers"],
        "content-type, x-amz-date"
    );
    assert_eq!(h["access-control-max-age"], "600");
    assert_eq!(h["access-control-expose-headers"], "ETag");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(
        h["vary"],
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
    );

    // The `*` rule answers `*` and grants no credentials.
    let (status, h, _) = preflight(
        &server,
        "corspre",
        &[
            ("origin", "https://other.test"),
            ("access-control-request-method", "HEAD"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(h.get("access-control-allow-credentials").is_none());
}

#[tokio::test]
async fn preflight_refusals() {
    let server = Server::start();
    setup(&server, "corsno", true).await;
    setup(&server, "corsnone", false).await;

    let refused = |status: u16, body: &str, code: &str, msg: &str| {
        assert_eq!(
            status,
            if code == "BadRequest" { 400 } else { 403 },
            "{body}"
        );
        assert!(body.contains(&format!("<Code>{code}</Code>")), "{body}");
        assert!(body.contains(msg), "{body}");
    };
    // Origin not allowed.
    let (status, h, body) = preflight(
        &server,
        "corsno/k",
        &[
            ("origin", "https://evil.test"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    refused(
        status,
        &body,
        "AccessForbidden",
        "CORSResponse: This CORS request is not allowed.",
    );
    assert!(h.get("access-control-allow-origin").is_none());
    assert!(body.contains("<Method>GET</Method>"), "{body}");
    assert!(
        body.contains("<ResourceType>OBJECT</ResourceType>"),
        "{body}"
    );
    assert!(!body.contains("<Resource>"), "{body}");
    // Origin allowed, header not.
    let (status, _, body) = preflight(
        &server,
        "corsno/k",
        &[
            ("origin", APP),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "x-custom"),
        ],
    )
    .await;
    refused(status, &body, "AccessForbidden", "not allowed");
    // Method not allowed by any rule.
    let (status, _, body) = preflight(
        &server,
        "corsno/k",
        &[("origin", APP), ("access-control-request-method", "DELETE")],
    )
    .await;
    refused(status, &body, "AccessForbidden", "not allowed");
    // Missing headers.
    let (status, _, body) = preflight(
        &server,
        "corsno/k",
        &[("access-control-request-method", "GET")],
    )
    .await;
    refused(
        status,
        &body,
        "BadRequest",
        "Insufficient information. Origin request header needed.",
    );
    let (status, _, body) = preflight(&server, "corsno/k", &[("origin", APP)]).await;
    refused(
        status,
        &body,
        "BadRequest",
        "Invalid Access-Control-Request-Method: null",
    );
    // No configuration: refused before the method is looked at, as a bucket-level refusal.
    let (status, _, body) = preflight(
        &server,
        "corsnone/k",
        &[("origin", APP), ("access-control-request-method", "GET")],
    )
    .await;
    refused(
        status,
        &body,
        "AccessForbidden",
        "CORSResponse: CORS is not enabled for this bucket.",
    );
    assert!(body.contains("<Method>GET</Method>"), "{body}");
    assert!(
        body.contains("<ResourceType>BUCKET</ResourceType>"),
        "{body}"
    );
    let (status, _, body) = preflight(&server, "corsnone/k", &[("origin", APP)]).await;
    refused(status, &body, "AccessForbidden", "CORS is not enabled");
    assert!(body.contains("<Method>OPTIONS</Method>"), "{body}");
    // No bucket.
    let (status, _, body) = preflight(&server, "corsmissing/k", &[("origin", APP)]).await;
    refused(
        status,
        &body,
        "AccessForbidden",
        "CORSResponse: Bucket not found",
    );
}

#[tokio::test]
async fn actual_requests_carry_cors_headers() {
    let server = Server::start();
    let s3 = setup(&server, "corsget", true).await;
    let client = http(&server);
    let presign = || PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();

    let url = s3
        .get_object()
        .bucket("corsget")
        .key("k")
        .presigned(presign())
        .await
        .unwrap();
    let resp = client
        .get(url.uri())
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(APP));
    assert_eq!(header(&resp, "access-control-expose-headers"), Some("ETag"));
    assert_eq!(
        header(&resp, "access-control-allow-credentials"),
        Some("true")
    );
    assert!(header(&resp, "vary").unwrap().starts_with("Origin"));
    assert_eq!(&resp.bytes().await.unwrap()[..], b"hello cors");

    // Another origin is served, without CORS grants.
    let resp = client
        .get(url.uri())
        .header("origin", "https://evil.test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(header(&resp, "access-control-allow-origin").is_none());
    assert!(header(&resp, "vary").is_none());
    assert_eq!(&resp.bytes().await.unwrap()[..], b"hello cors");

    // An Access-Control-Request-Method on an actual request is what S3 matches.
    let resp = client
        .get(url.uri())
        .header("origin", APP)
        .header("access-control-request-method", "DELETE")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(header(&resp, "access-control-allow-origin").is_none());

    // Without Origin there is nothing CORS about the answer.
    let resp = client.get(url.uri()).send().await.unwrap();
    assert!(header(&resp, "access-control-allow-origin").is_none());

    // A PUT from the app origin, and an error answer (missing key) carry the grants too.
    let put = s3
        .put_object()
        .bucket("corsget")
        .key("up")
        .presigned(presign())
        .await
        .unwrap();
    let resp = client
        .put(put.uri())
        .header("origin", APP)
        .body("uploaded")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(APP));
    let got = s3
        .get_object()
        .bucket("corsget")
        .key("up")
        .send()
        .await
        .unwrap();
    assert_eq!(
        &got.body.collect().await.unwrap().into_bytes()[..],
        b"uploaded"
    );

    let missing = s3
        .get_object()
        .bucket("corsget")
        .key("missing")
        .presigned(presign())
        .await
        .unwrap();
    let resp = client
        .get(missing.uri())
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(APP));

    // HEAD is allowed only by the `*` rule: `*` comes back.
    let head = s3
        .head_object()
        .bucket("corsget")
        .key("k")
        .presigned(presign())
        .await
        .unwrap();
    let resp = client
        .head(head.uri())
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some("*"));
}
