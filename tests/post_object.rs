//! POST Object (browser form uploads) against the real binary: `multipart/form-data` bodies
//! sent over HTTPS and plain HTTP with reqwest, signed with SigV4 and SigV2 policies; each
//! policy failure, `${filename}`, the success statuses and the redirect, the three SSE modes as
//! form fields, checksum fields, and the object read back with the SDK.
//!
//! The bodies are built here byte by byte (rather than by a form library) so the odd cases —
//! fields after the file, a body cut short, a stream split every few bytes across boundaries —
//! are exactly what is sent; tests/e2e/test_post_object.py covers the real form encoders
//! (`requests`, Chromium).
mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{ACCESS_KEY, REGION, SECRET_KEY, Server};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const BOUNDARY: &str = "----sealgateFormBoundary7MA4YWxkTrZu0gW";

fn http(server: &Server) -> reqwest::Client {
    let pem = std::fs::read(&server.ca_path).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A form: fields before the file, the file, fields after it.
#[derive(Clone, Default)]
struct Form {
    fields: Vec<(String, String)>,
    file: Option<(String, Vec<u8>)>,
    after: Vec<(String, String)>,
}

impl Form {
    fn field(mut self, name: &str, value: &str) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    fn file(mut self, name: &str, data: &[u8]) -> Self {
        self.file = Some((name.into(), data.to_vec()));
        self
    }

    fn body(&self) -> Vec<u8> {
        let mut b = Vec::new();
        let text = |b: &mut Vec<u8>, name: &str, value: &str| {
            b.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        };
        for (n, v) in &self.fields {
            text(&mut b, n, v);
        }
        if let Some((name, data)) = &self.file {
            b.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            b.extend_from_slice(data);
            b.extend_from_slice(b"\r\n");
        }
        for (n, v) in &self.after {
            text(&mut b, n, v);
        }
        b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        b
    }
}

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn now_parts() -> (String, String) {
    let now = time::OffsetDateTime::now_utc();
    let date = format!("{:04}{:02}{:02}", now.year(), now.month() as u8, now.day());
    let amz = format!(
        "{date}T{:02}{:02}{:02}Z",
        now.hour(),
        now.minute(),
        now.second()
    );
    (date, amz)
}

fn expiration(secs_from_now: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs_from_now);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A SigV4-signed form: the policy gets the credential, algorithm and date conditions (as
/// boto3's `generate_presigned_post` writes them) plus `conditions`.
fn signed_v4(bucket: &str, conditions: Vec<serde_json::Value>, expires_in: i64) -> Form {
    signed_v4_as(bucket, conditions, expires_in, ACCESS_KEY, SECRET_KEY)
}

fn signed_v4_as(
    bucket: &str,
    mut conditions: Vec<serde_json::Value>,
    expires_in: i64,
    ak: &str,
    sk: &str,
) -> Form {
    let (date, amz) = now_parts();
    let credential = format!("{ak}/{date}/{REGION}/s3/aws4_request");
    conditions.push(serde_json::json!({ "bucket": bucket }));
    conditions.push(serde_json::json!({ "x-amz-algorithm": "AWS4-HMAC-SHA256" }));
    conditions.push(serde_json::json!({ "x-amz-credential": credential }));
    conditions.push(serde_json::json!({ "x-amz-date": amz }));
    let policy =
        serde_json::json!({ "expiration": expiration(expires_in), "conditions": conditions });
    let policy = STANDARD.encode(policy.to_string());
    let mut key = hmac256(format!("AWS4{sk}").as_bytes(), date.as_bytes());
    for part in [REGION, "s3", "aws4_request"] {
        key = hmac256(&key, part.as_bytes());
    }
    let signature = hex::encode(hmac256(&key, policy.as_bytes()));
    Form::default()
        .field("x-amz-algorithm", "AWS4-HMAC-SHA256")
        .field("x-amz-credential", &credential)
        .field("x-amz-date", &amz)
        .field("policy", &policy)
        .field("x-amz-signature", &signature)
}

/// A SigV2-signed form (`AWSAccessKeyId`, `signature` = base64 HMAC-SHA1 of the policy).
fn signed_v2(bucket: &str, mut conditions: Vec<serde_json::Value>) -> Form {
    conditions.push(serde_json::json!({ "bucket": bucket }));
    let policy = serde_json::json!({ "expiration": expiration(600), "conditions": conditions });
    let policy = STANDARD.encode(policy.to_string());
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(SECRET_KEY.as_bytes()).unwrap();
    m.update(policy.as_bytes());
    let signature = STANDARD.encode(m.finalize().into_bytes());
    Form::default()
        .field("AWSAccessKeyId", ACCESS_KEY)
        .field("policy", &policy)
        .field("signature", &signature)
}

fn key_starts_with(prefix: &str) -> serde_json::Value {
    serde_json::json!(["starts-with", "$key", prefix])
}

async fn post_to(client: &reqwest::Client, url: &str, form: &Form) -> reqwest::Response {
    client
        .post(url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(form.body())
        .send()
        .await
        .unwrap()
}

async fn post(server: &Server, bucket: &str, form: &Form) -> reqwest::Response {
    post_to(
        &http(server),
        &format!("{}/{bucket}", server.s3_https),
        form,
    )
    .await
}

/// The S3 error code and message of an XML error body.
async fn error_of(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    let tag = |t: &str| {
        body.split(&format!("<{t}>"))
            .nth(1)
            .and_then(|r| r.split(&format!("</{t}>")).next())
            .unwrap_or_default()
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    (status, tag("Code"), tag("Message"))
}

async fn setup(server: &Server, bucket: &str) -> aws_sdk_s3::Client {
    let s3 = server.s3().await;
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3
}

async fn exists(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> bool {
    s3.head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

/// A form no longer than `inline_max_bytes` (default 16 KiB) bounds its file, which is kept in
/// its meta record (docs/STORAGE.md "Inline objects"); a longer form's file gets a blob.
#[tokio::test]
async fn small_form_uploads_are_inline() {
    let server = Server::start();
    let s3 = setup(&server, "smallforms").await;
    let data_dir = server.data_dir.join("objects/data/smallforms");
    for (key, len, inline) in [("small", 2000, true), ("near-limit", 16_000, false)] {
        let data = common::random(len);
        let form = signed_v4("smallforms", vec![key_starts_with("")], 600)
            .field("key", key)
            .file("f.bin", &data);
        assert_eq!(form.body().len() <= 16 * 1024, inline, "{key}");
        assert_eq!(post(&server, "smallforms", &form).await.status(), 204);
        let got = s3
            .get_object()
            .bucket("smallforms")
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            &got.body.collect().await.unwrap().into_bytes()[..],
            &data[..]
        );
        assert_eq!(data_dir.exists(), !inline, "{key}: data directory");
        assert!(common::find_bytes(&server.data_dir, &data[500..564]).is_none());
    }
}

#[tokio::test]
async fn sigv4_form_upload_stores_the_file_with_its_fields() {
    let server = Server::start();
    let s3 = setup(&server, "forms").await;
    let data = common::random(300_000);
    let form = signed_v4(
        "forms",
        vec![
            key_starts_with("uploads/"),
            serde_json::json!(["starts-with", "$Content-Type", "image/"]),
            serde_json::json!({ "x-amz-meta-color": "blue" }),
            serde_json::json!(["eq", "$Cache-Control", "max-age=60"]),
        ],
        600,
    )
    .field("key", "uploads/photo.png")
    .field("Content-Type", "image/png")
    .field("x-amz-meta-color", "blue")
    .field("Cache-Control", "max-age=60")
    .file("photo.png", &data);
    let resp = post(&server, "forms", &form).await;
    assert_eq!(resp.status(), 204);
    let etag = format!("\"{}\"", common::md5_hex(&data));
    assert_eq!(resp.headers()["etag"], etag.as_str());
    assert_eq!(resp.headers()["x-amz-server-side-encryption"], "AES256");
    assert_eq!(
        resp.headers()["location"],
        format!("{}/forms/uploads/photo.png", server.s3_https).as_str()
    );
    let got = s3
        .get_object()
        .bucket("forms")
        .key("uploads/photo.png")
        .send()
        .await
        .unwrap();
    assert_eq!(got.e_tag(), Some(etag.as_str()));
    assert_eq!(got.content_type(), Some("image/png"));
    assert_eq!(got.cache_control(), Some("max-age=60"));
    assert_eq!(
        got.metadata().unwrap().get("color").map(String::as_str),
        Some("blue")
    );
    assert_eq!(
        got.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], &data[..]);
    // Encrypted at rest: the plaintext is nowhere in the data dir.
    assert!(common::find_bytes(&server.data_dir, &data[1000..1064]).is_none());
}

#[tokio::test]
async fn sigv2_form_upload_and_filename_substitution() {
    let server = Server::start();
    let s3 = setup(&server, "v2forms").await;
    let form = signed_v2("v2forms", vec![key_starts_with("in/")])
        .field("key", "in/${filename}")
        .file("C:\\Users\\me\\report.txt", b"sigv2 form body");
    let resp = post(&server, "v2forms", &form).await;
    assert_eq!(resp.status(), 204, "{:?}", error_of(resp).await);
    let got = s3
        .get_object()
        .bucket("v2forms")
        .key("in/report.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        &got.body.collect().await.unwrap().into_bytes()[..],
        b"sigv2 form body"
    );
    let metrics = reqwest::get(server.metrics_url.clone().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sealgate_s3_sigv2_requests_total{form=\"post\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sealgate_sse_objects_written_total{mode=\"SSE-S3\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn success_statuses_and_redirect() {
    let server = Server::start();
    setup(&server, "answers").await;
    let base = |status_or_redirect: (&str, &str)| {
        signed_v4(
            "answers",
            vec![
                key_starts_with(""),
                serde_json::json!(["starts-with", format!("${}", status_or_redirect.0), ""]),
            ],
            600,
        )
        .field(status_or_redirect.0, status_or_redirect.1)
        .file("a.txt", b"hello")
    };
    let resp = post(
        &server,
        "answers",
        &base(("success_action_status", "201")).field("key", "dir/a b.txt"),
    )
    .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["content-type"], "application/xml");
    let body = resp.text().await.unwrap();
    let location = format!("{}/answers/dir/a%20b.txt", server.s3_https);
    assert_eq!(
        body,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><PostResponse><Location>{location}</Location><Bucket>answers</Bucket><Key>dir/a b.txt</Key><ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag></PostResponse>"
        )
    );
    let resp = post(
        &server,
        "answers",
        &base(("success_action_status", "200")).field("key", "k200"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), Some(0));
    let resp = post(
        &server,
        "answers",
        &base(("success_action_status", "302")).field("key", "k302"),
    )
    .await;
    assert_eq!(resp.status(), 204);
    let resp = post(
        &server,
        "answers",
        &base((
            "success_action_redirect",
            "https://app.example.test/done?from=form",
        ))
        .field("key", "uploads/x+y.txt"),
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        "https://app.example.test/done?from=form&bucket=answers&key=uploads%2Fx%2By.txt&etag=%225d41402abc4b2a76b9719d911017c592%22"
    );
}

#[tokio::test]
async fn policy_and_signature_failures_change_nothing() {
    let server = Server::start();
    let s3 = setup(&server, "strict").await;
    let ok_conditions = || vec![key_starts_with("user/")];
    let cases: Vec<(&str, Form, u16, &str, &str)> = vec![
        (
            "expired policy",
            signed_v4("strict", ok_conditions(), -5).field("key", "user/a"),
            403,
            "AccessDenied",
            "Invalid according to Policy: Policy expired.",
        ),
        (
            "key outside the prefix",
            signed_v4("strict", ok_conditions(), 600).field("key", "admin/a"),
            403,
            "AccessDenied",
            r#"Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/"]"#,
        ),
        (
            "policy for another bucket",
            signed_v4("other", ok_conditions(), 600).field("key", "user/a"),
            403,
            "AccessDenied",
            r#"Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "other"]"#,
        ),
        (
            "field the policy does not cover",
            signed_v4("strict", ok_conditions(), 600)
                .field("key", "user/a")
                .field("x-amz-meta-extra", "1"),
            403,
            "AccessDenied",
            "Invalid according to Policy: Extra input fields: x-amz-meta-extra",
        ),
        (
            "eq condition not met",
            signed_v4(
                "strict",
                vec![
                    key_starts_with("user/"),
                    serde_json::json!(["eq", "$x-amz-meta-tag", "a"]),
                ],
                600,
            )
            .field("key", "user/a")
            .field("x-amz-meta-tag", "b"),
            403,
            "AccessDenied",
            r#"Invalid according to Policy: Policy Condition failed: ["eq", "$x-amz-meta-tag", "a"]"#,
        ),
        (
            "file over content-length-range",
            signed_v4(
                "strict",
                vec![
                    key_starts_with("user/"),
                    serde_json::json!(["content-length-range", 1, 4]),
                ],
                600,
            )
            .field("key", "user/a"),
            400,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
        ),
        (
            "file under content-length-range",
            signed_v4(
                "strict",
                vec![
                    key_starts_with("user/"),
                    serde_json::json!(["content-length-range", 100, 1000]),
                ],
                600,
            )
            .field("key", "user/a"),
            400,
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed object size.",
        ),
        (
            "wrong secret",
            signed_v4_as("strict", ok_conditions(), 600, ACCESS_KEY, "not-the-secret")
                .field("key", "user/a"),
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        ),
        (
            "unknown access key",
            signed_v4_as(
                "strict",
                ok_conditions(),
                600,
                "AKIDUNKNOWN0000",
                SECRET_KEY,
            )
            .field("key", "user/a"),
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        (
            "anonymous form",
            Form::default().field("key", "user/a"),
            403,
            "AccessDenied",
            "Access Denied",
        ),
        (
            "policy without a signature",
            Form::default()
                .field("key", "user/a")
                .field("policy", "e30="),
            400,
            "InvalidArgument",
            "Bucket POST must contain a field named 'AWSAccessKeyId'.  If it is specified, please check the order of the fields.",
        ),
        (
            "no key field",
            signed_v4("strict", ok_conditions(), 600),
            400,
            "InvalidArgument",
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
        ),
    ];
    for (what, form, status, code, message) in cases {
        let resp = post(&server, "strict", &form.file("f.txt", b"hello")).await;
        assert_eq!(
            error_of(resp).await,
            (status, code.to_owned(), message.to_owned()),
            "{what}"
        );
    }
    // A tampered policy: the signature was made for another document.
    let mut tampered = signed_v4("strict", ok_conditions(), 600).field("key", "admin/a");
    let forged = serde_json::json!({ "expiration": expiration(600), "conditions": [
        {"bucket": "strict"}, ["starts-with", "$key", ""], ["starts-with", "$x-amz-algorithm", ""],
        ["starts-with", "$x-amz-credential", ""], ["starts-with", "$x-amz-date", ""]] });
    for f in tampered.fields.iter_mut().filter(|(n, _)| n == "policy") {
        f.1 = STANDARD.encode(forged.to_string());
    }
    let resp = post(&server, "strict", &tampered.file("f.txt", b"hello")).await;
    assert_eq!(error_of(resp).await.1, "SignatureDoesNotMatch");
    // An invalid policy document, correctly signed.
    let mut bad_doc = signed_v4("strict", ok_conditions(), 600).field("key", "user/a");
    let doc = STANDARD.encode(r#"{"conditions": []}"#);
    let (date, _) = now_parts();
    let mut key = hmac256(format!("AWS4{SECRET_KEY}").as_bytes(), date.as_bytes());
    for part in [REGION, "s3", "aws4_request"] {
        key = hmac256(&key, part.as_bytes());
    }
    let sig = hex::encode(hmac256(&key, doc.as_bytes()));
    for f in bad_doc.fields.iter_mut() {
        match f.0.as_str() {
            "policy" => f.1 = doc.clone(),
            "x-amz-signature" => f.1 = sig.clone(),
            _ => {}
        }
    }
    let resp = post(&server, "strict", &bad_doc.file("f.txt", b"hello")).await;
    assert_eq!(
        error_of(resp).await,
        (
            400,
            "InvalidPolicyDocument".into(),
            "Invalid Policy: Policy missing expiration.".into()
        )
    );
    let listed = s3.list_objects_v2().bucket("strict").send().await.unwrap();
    assert_eq!(
        listed.key_count(),
        Some(0),
        "a refused POST wrote something"
    );
}

#[tokio::test]
async fn malformed_forms() {
    let server = Server::start();
    let s3 = setup(&server, "shapes").await;
    let client = http(&server);
    let url = format!("{}/shapes", server.s3_https);
    let form = || signed_v4("shapes", vec![key_starts_with("")], 600).field("key", "k");

    // Not a form at all: 412 naming the condition, as AWS answers.
    let resp = client
        .post(&url)
        .header("content-type", "application/octet-stream")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 412);
    let body = resp.text().await.unwrap();
    assert!(body.contains("<Code>PreconditionFailed</Code>"), "{body}");
    assert!(
        body.contains(
            "<Condition>Bucket POST must be of the enclosure-type multipart/form-data</Condition>"
        ),
        "{body}"
    );

    // No file part.
    let resp = post(&server, "shapes", &form()).await;
    assert_eq!(
        error_of(resp).await,
        (
            400,
            "IncorrectNumberOfFilesInPostRequest".into(),
            "POST requires exactly one file upload per request.".into()
        )
    );

    // A body cut short in the middle of the file.
    let full = form().file("f", &common::random(50_000)).body();
    let resp = client
        .post(&url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(full[..full.len() - 2000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await.1, "MalformedPOSTRequest");

    // A part without a field name.
    let nameless =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{BOUNDARY}--\r\n");
    let resp = client
        .post(&url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(nameless)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await.1, "MalformedPOSTRequest");

    // Fields before the file over 20 KB.
    let resp = post(
        &server,
        "shapes",
        &form()
            .field("x-ignore-pad", &"p".repeat(21 * 1024))
            .file("f", b"x"),
    )
    .await;
    assert_eq!(
        error_of(resp).await,
        (
            400,
            "MaxPostPreDataLengthExceededError".into(),
            "Your POST request fields preceding the upload file were too large.".into()
        )
    );

    // The bucket must exist.
    let resp = post(
        &server,
        "missing-bucket",
        &signed_v4("missing-bucket", vec![key_starts_with("")], 600)
            .field("key", "k")
            .file("f", b"x"),
    )
    .await;
    assert_eq!(error_of(resp).await.1, "NoSuchBucket");
    assert!(!exists(&s3, "shapes", "k").await);

    // Fields after the file are ignored (AWS reads only what precedes it), even uncovered ones.
    let mut f = form().file("f", b"kept");
    f.after.push(("x-amz-meta-late".into(), "ignored".into()));
    f.after.push(("key".into(), "other".into()));
    let resp = post(&server, "shapes", &f).await;
    assert_eq!(resp.status(), 204);
    let got = s3
        .get_object()
        .bucket("shapes")
        .key("k")
        .send()
        .await
        .unwrap();
    assert!(got.metadata().is_none_or(|m| m.is_empty()));
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"kept");
    assert!(!exists(&s3, "shapes", "other").await);
}

/// The body arrives in pieces of a few bytes (chunked transfer), so boundaries, part headers
/// and field values are split across reads; the file is large enough to take many reads.
#[tokio::test]
async fn body_split_across_tiny_chunks() {
    let server = Server::start();
    let s3 = setup(&server, "pieces").await;
    let data = common::random(2 * 1024 * 1024 + 17);
    let form = signed_v4(
        "pieces",
        vec![
            key_starts_with(""),
            serde_json::json!({"x-amz-meta-a": "b"}),
        ],
        600,
    )
    .field("key", "big.bin")
    .field("x-amz-meta-a", "b")
    .file("big.bin", &data);
    let body = form.body();
    // 1..=7-byte pieces for the first 64 KiB, then 8191-byte pieces.
    let mut pieces: Vec<Result<bytes::Bytes, std::io::Error>> = Vec::new();
    let mut at = 0;
    let mut n = 1;
    while at < body.len() {
        let size = if at < 65536 { n % 7 + 1 } else { 8191 };
        let end = (at + size).min(body.len());
        pieces.push(Ok(bytes::Bytes::copy_from_slice(&body[at..end])));
        at = end;
        n += 1;
    }
    let resp = http(&server)
        .post(format!("{}/pieces", server.s3_https))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(reqwest::Body::wrap_stream(futures::stream::iter(pieces)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204, "{:?}", error_of(resp).await);
    let got = s3
        .get_object()
        .bucket("pieces")
        .key("big.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.metadata().unwrap().get("a").map(String::as_str),
        Some("b")
    );
    let back = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(back.len(), data.len());
    assert!(back[..] == data[..], "bytes differ");
}

#[tokio::test]
async fn sse_kms_and_sse_c_fields() {
    let server = Server::start();
    let s3 = setup(&server, "sealed").await;
    let kms = server.kms().await;
    let key_arn = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    kms.create_alias()
        .alias_name("alias/forms")
        .target_key_id(&key_arn)
        .send()
        .await
        .unwrap();

    let form = signed_v4(
        "sealed",
        vec![
            key_starts_with(""),
            serde_json::json!({"x-amz-server-side-encryption": "aws:kms"}),
            serde_json::json!({"x-amz-server-side-encryption-aws-kms-key-id": "alias/forms"}),
        ],
        600,
    )
    .field("key", "kms.txt")
    .field("x-amz-server-side-encryption", "aws:kms")
    .field("x-amz-server-side-encryption-aws-kms-key-id", "alias/forms")
    .file("kms.txt", b"under a KMS key");
    let resp = post(&server, "sealed", &form).await;
    assert_eq!(resp.status(), 204, "{:?}", error_of(resp).await);
    assert_eq!(resp.headers()["x-amz-server-side-encryption"], "aws:kms");
    assert_eq!(
        resp.headers()["x-amz-server-side-encryption-aws-kms-key-id"],
        key_arn.as_str()
    );
    let got = s3
        .get_object()
        .bucket("sealed")
        .key("kms.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.server_side_encryption().map(|s| s.as_str()),
        Some("aws:kms")
    );
    assert_eq!(got.ssekms_key_id(), Some(key_arn.as_str()));
    assert_eq!(
        &got.body.collect().await.unwrap().into_bytes()[..],
        b"under a KMS key"
    );

    // SSE-C over HTTPS: the object needs the key to be read.
    let raw_key = [7u8; 32];
    let b64_key = STANDARD.encode(raw_key);
    let key_md5 = STANDARD.encode(md5_raw(&raw_key));
    let sse_c = |form: Form| {
        form.field("key", "c.txt")
            .field("x-amz-server-side-encryption-customer-algorithm", "AES256")
            .field("x-amz-server-side-encryption-customer-key", &b64_key)
            .field("x-amz-server-side-encryption-customer-key-MD5", &key_md5)
            .file("c.txt", b"customer keyed")
    };
    let conditions = || {
        vec![
            key_starts_with(""),
            serde_json::json!([
                "starts-with",
                "$x-amz-server-side-encryption-customer-algorithm",
                ""
            ]),
            serde_json::json!([
                "starts-with",
                "$x-amz-server-side-encryption-customer-key",
                ""
            ]),
            serde_json::json!([
                "starts-with",
                "$x-amz-server-side-encryption-customer-key-MD5",
                ""
            ]),
        ]
    };
    let resp = post(
        &server,
        "sealed",
        &sse_c(signed_v4("sealed", conditions(), 600)),
    )
    .await;
    assert_eq!(resp.status(), 204, "{:?}", error_of(resp).await);
    assert_eq!(
        resp.headers()["x-amz-server-side-encryption-customer-key-md5"],
        key_md5.as_str()
    );
    assert!(!resp.headers().contains_key("x-amz-server-side-encryption"));
    let err = s3
        .get_object()
        .bucket("sealed")
        .key("c.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidRequest"));
    let got = s3
        .get_object()
        .bucket("sealed")
        .key("c.txt")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&b64_key)
        .sse_customer_key_md5(&key_md5)
        .send()
        .await
        .unwrap();
    assert_eq!(
        &got.body.collect().await.unwrap().into_bytes()[..],
        b"customer keyed"
    );

    // SSE-C over plain HTTP is refused and stores nothing.
    let plain = format!("{}/sealed", server.s3_http.clone().unwrap());
    let form = sse_c(signed_v4("sealed", conditions(), 600));
    let mut form = form;
    for f in form.fields.iter_mut().filter(|(n, _)| n == "key") {
        f.1 = "c-plain.txt".into();
    }
    let resp = post_to(&http(&server), &plain, &form).await;
    let (status, code, _) = error_of(resp).await;
    assert_eq!((status, code.as_str()), (400, "InvalidRequest"));
    assert!(!exists(&s3, "sealed", "c-plain.txt").await);
}

fn md5_raw(data: &[u8]) -> Vec<u8> {
    use md5::Digest as _;
    md5::Md5::digest(data).to_vec()
}

#[tokio::test]
async fn checksum_fields_are_verified_and_stored() {
    let server = Server::start();
    let s3 = setup(&server, "sums").await;
    let crc = STANDARD.encode(crc32fast::hash(b"checked").to_be_bytes());
    let conditions = || {
        vec![
            key_starts_with(""),
            serde_json::json!(["starts-with", "$x-amz-checksum-algorithm", ""]),
            serde_json::json!(["starts-with", "$x-amz-checksum-crc32", ""]),
        ]
    };
    let form = signed_v4("sums", conditions(), 600)
        .field("key", "ok")
        .field("x-amz-checksum-algorithm", "CRC32")
        .field("x-amz-checksum-crc32", &crc)
        .file("f", b"checked");
    let resp = post(&server, "sums", &form).await;
    assert_eq!(resp.status(), 204, "{:?}", error_of(resp).await);
    assert_eq!(resp.headers()["x-amz-checksum-crc32"], crc.as_str());
    let head = s3
        .head_object()
        .bucket("sums")
        .key("ok")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc32(), Some(crc.as_str()));

    let form = signed_v4("sums", conditions(), 600)
        .field("key", "bad")
        .field("x-amz-checksum-algorithm", "CRC32")
        .field("x-amz-checksum-crc32", &crc)
        .file("f", b"not what was summed");
    let resp = post(&server, "sums", &form).await;
    assert_eq!(
        error_of(resp).await,
        (
            400,
            "BadDigest".into(),
            "The CRC32 you specified did not match the calculated checksum.".into()
        )
    );
    assert!(!exists(&s3, "sums", "bad").await);
}

#[tokio::test]
async fn cors_headers_and_virtual_host_addressing() {
    let server = Server::start();
    let s3 = setup(&server, "webapp").await;
    s3.put_bucket_cors()
        .bucket("webapp")
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(
                    CorsRule::builder()
                        .allowed_origins("https://app.example.test")
                        .allowed_methods("POST")
                        .expose_headers("ETag")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let form = signed_v4("webapp", vec![key_starts_with("")], 600)
        .field("key", "from-browser")
        .file("f", b"cross-origin");
    // Virtual-host style on the plain-HTTP listener (`webapp.s3.localhost`).
    let http_url = server.s3_http.clone().unwrap();
    let port = http_url.rsplit(':').next().unwrap();
    let resp = http(&server)
        .post(format!("{http_url}/"))
        .header("host", format!("webapp.s3.localhost:{port}"))
        .header("origin", "https://app.example.test")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(form.body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204, "{:?}", error_of(resp).await);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example.test"
    );
    assert_eq!(resp.headers()["access-control-expose-headers"], "ETag");
    assert_eq!(
        resp.headers()["location"],
        format!("http://webapp.s3.localhost:{port}/from-browser").as_str()
    );
    let got = s3
        .get_object()
        .bucket("webapp")
        .key("from-browser")
        .send()
        .await
        .unwrap();
    assert_eq!(
        &got.body.collect().await.unwrap().into_bytes()[..],
        b"cross-origin"
    );
    // An error answer carries the CORS headers too, so the page can read it.
    let resp = http(&server)
        .post(format!("{}/webapp", server.s3_https))
        .header("origin", "https://app.example.test")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Form::default().field("key", "x").file("f", b"x").body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example.test"
    );
}

/// The form goes through the same S3 authorization as a PUT: a bucket policy's encryption
/// condition sees the form's SSE field, a policy granting everyone lets an unsigned form in,
/// and the `tagging` field (an XML TagSet, as AWS takes it) tags the object.
#[tokio::test]
async fn forms_are_authorized_like_puts_and_carry_tags() {
    let server = Server::start();
    let s3 = setup(&server, "gated").await;
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "NeedSse", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
             "Resource": "arn:aws:s3:::gated/*",
             "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}},
            {"Sid": "DropBox", "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
             "Resource": "arn:aws:s3:::gated/inbox/*"}
        ]
    });
    // The drop box is public: lift the new bucket's Block Public Access first, as on AWS.
    s3.delete_public_access_block()
        .bucket("gated")
        .send()
        .await
        .unwrap();
    s3.put_bucket_policy()
        .bucket("gated")
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();

    // Signed by the root, but without the SSE field the bucket policy demands: refused.
    let plain = signed_v4("gated", vec![key_starts_with("")], 600)
        .field("key", "a.txt")
        .file("a.txt", b"hello");
    let (status, code, _) = error_of(post(&server, "gated", &plain).await).await;
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    assert!(!exists(&s3, "gated", "a.txt").await);

    // The same form with the SSE-KMS field and a tag set passes and stores both.
    let tagging =
        "<Tagging><TagSet><Tag><Key>team</Key><Value>blue</Value></Tag></TagSet></Tagging>";
    let kms = signed_v4(
        "gated",
        vec![
            key_starts_with(""),
            serde_json::json!({ "x-amz-server-side-encryption": "aws:kms" }),
            serde_json::json!({ "tagging": tagging }),
        ],
        600,
    )
    .field("key", "a.txt")
    .field("x-amz-server-side-encryption", "aws:kms")
    .field("tagging", tagging)
    .file("a.txt", b"hello");
    let resp = post(&server, "gated", &kms).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["x-amz-server-side-encryption"], "aws:kms");
    let tags = s3
        .get_object_tagging()
        .bucket("gated")
        .key("a.txt")
        .send()
        .await
        .unwrap();
    let got: Vec<(&str, &str)> = tags
        .tag_set()
        .iter()
        .map(|t| (t.key(), t.value()))
        .collect();
    assert_eq!(got, vec![("team", "blue")]);

    // Unsigned forms: allowed into the drop box only (with the SSE field the Deny asks for).
    let anon = |key: &str, sse: &str| {
        Form::default()
            .field("key", key)
            .field("x-amz-server-side-encryption", sse)
            .file("n.txt", b"anonymous note")
    };
    let resp = post(&server, "gated", &anon("inbox/n.txt", "AES256")).await;
    assert_eq!(resp.status(), 204);
    let (status, code, _) =
        error_of(post(&server, "gated", &anon("private/n.txt", "AES256")).await).await;
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    assert!(!exists(&s3, "gated", "private/n.txt").await);
    // As on AWS, the KMS serves no anonymous caller: an unsigned SSE-KMS upload is refused even
    // where S3 lets it in.
    let (status, code, msg) =
        error_of(post(&server, "gated", &anon("inbox/k.txt", "aws:kms")).await).await;
    assert_eq!((status, code.as_str()), (403, "AccessDenied"), "{msg}");
    assert!(!exists(&s3, "gated", "inbox/k.txt").await);
    let body = s3
        .get_object()
        .bucket("gated")
        .key("inbox/n.txt")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], b"anonymous note");

    // A malformed tag set is refused before anything is written.
    let bad = signed_v4(
        "gated",
        vec![
            key_starts_with(""),
            serde_json::json!({ "x-amz-server-side-encryption": "aws:kms" }),
            serde_json::json!({ "tagging": "<Tagging>" }),
        ],
        600,
    )
    .field("key", "b.txt")
    .field("x-amz-server-side-encryption", "aws:kms")
    .field("tagging", "<Tagging>")
    .file("b.txt", b"x");
    let (status, code, _) = error_of(post(&server, "gated", &bad).await).await;
    assert_eq!((status, code.as_str()), (400, "MalformedXML"));
    assert!(!exists(&s3, "gated", "b.txt").await);
}
