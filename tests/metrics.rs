//! `/metrics`: known S3 traffic through aws-sdk-s3 (PUTs in every mode, a multipart upload,
//! GETs, a 404, a GET after the KMS key was disabled), then a scrape of the admin listener over
//! plain HTTP, parsed as the Prometheus text format, with the exact counts asserted.
mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Options, Server, failure, random};
use md5::{Digest, Md5};

/// One parsed sample: metric name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition format strictly: every line is `# HELP`, `# TYPE` or a sample
/// `name{label="value",...} number`; anything else fails the test.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut typed = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has name and text");
            assert!(
                valid_name(name) && !help.is_empty(),
                "bad HELP line {line:?}"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has name and kind");
            assert!(valid_name(name), "bad TYPE line {line:?}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "bad TYPE {line:?}"
            );
            typed.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line {line:?}"
        );
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let name = &line[..name_end];
        assert!(valid_name(name), "bad metric name in {line:?}");
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(r) = rest.strip_prefix('{') {
            rest = r;
            loop {
                if let Some(r) = rest.strip_prefix('}') {
                    rest = r;
                    break;
                }
                let eq = rest
                    .find('=')
                    .unwrap_or_else(|| panic!("bad label in {line:?}"));
                let lname = &rest[..eq];
                assert!(valid_name(lname), "bad label name in {line:?}");
                rest = rest[eq + 1..]
                    .strip_prefix('"')
                    .unwrap_or_else(|| panic!("unquoted label value in {line:?}"));
                let mut value = String::new();
                let mut chars = rest.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, c @ ('\\' | '"'))) => value.push(c),
                            other => panic!("bad escape {other:?} in {line:?}"),
                        },
                        Some((i, '"')) => break i,
                        Some((_, c)) => value.push(c),
                        None => panic!("unterminated label value in {line:?}"),
                    }
                };
                labels.insert(lname.to_owned(), value);
                rest = &rest[end + 1..];
                rest = rest.strip_prefix(',').unwrap_or(rest);
            }
        }
        let value_text = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("no space before value in {line:?}"));
        let value: f64 = match value_text {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert!(
            typed.contains_key(family),
            "sample before its TYPE: {line:?}"
        );
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// GET over plain HTTP/1.1 with std only (no client library between us and the bytes).
fn http_get(url: &str) -> (u16, String, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = std::net::TcpStream::connect(host).expect("connect to metrics listener");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP response");
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// The value of the one sample named `name` with exactly these labels (0 when absent).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name && s.labels == want)
        .collect();
    assert!(found.len() <= 1, "duplicate series {name}{want:?}");
    found.first().map_or(0.0, |s| s.value)
}

#[tokio::test]
async fn metrics_count_known_traffic_exactly() {
    let server = Server::start_with(Options {
        config_toml: Some("plaintext_buckets = [\"plain-bucket\"]\n".into()),
        ..Default::default()
    });
    let url = server
        .metrics_url
        .clone()
        .expect("Metrics: line with a URL");
    let s3 = server.s3().await;
    let kms = server.kms().await;

    let key = kms.create_key().send().await.expect("CreateKey");
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    let customer = random(32);
    let (c_b64, c_md5) = (
        STANDARD.encode(&customer),
        STANDARD.encode(Md5::digest(&customer)),
    );

    for b in ["metered", "plain-bucket"] {
        s3.create_bucket()
            .bucket(b)
            .send()
            .await
            .expect("CreateBucket");
    }
    let put = |key: &str, len: usize| {
        s3.put_object()
            .bucket("metered")
            .key(key)
            .body(ByteStream::from(random(len)))
    };
    put("s3", 1000)
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .expect("PUT SSE-S3");
    put("kms", 2000)
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_arn)
        .send()
        .await
        .expect("PUT SSE-KMS");
    put("ssec", 300)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&c_b64)
        .sse_customer_key_md5(&c_md5)
        .send()
        .await
        .expect("PUT SSE-C");
    s3.put_object()
        .bucket("plain-bucket")
        .key("p")
        .body(ByteStream::from(random(50)))
        .send()
        .await
        .expect("PUT plaintext");

    // Multipart SSE-C: Complete echoes no SSE-C header, the mode must still be counted.
    let mpu = s3
        .create_multipart_upload()
        .bucket("metered")
        .key("mpu")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&c_b64)
        .sse_customer_key_md5(&c_md5)
        .send()
        .await
        .expect("CreateMultipartUpload");
    let upload_id = mpu.upload_id().unwrap();
    let part = s3
        .upload_part()
        .bucket("metered")
        .key("mpu")
        .upload_id(upload_id)
        .part_number(1)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&c_b64)
        .sse_customer_key_md5(&c_md5)
        .body(ByteStream::from(random(700)))
        .send()
        .await
        .expect("UploadPart");
    s3.complete_multipart_upload()
        .bucket("metered")
        .key("mpu")
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("CompleteMultipartUpload");

    let get = |bucket: &str, key: &str| s3.get_object().bucket(bucket).key(key);
    for _ in 0..2 {
        let o = get("metered", "s3").send().await.expect("GET SSE-S3");
        assert_eq!(o.body.collect().await.unwrap().into_bytes().len(), 1000);
    }
    let o = get("metered", "kms").send().await.expect("GET SSE-KMS");
    assert_eq!(o.body.collect().await.unwrap().into_bytes().len(), 2000);
    let o = get("metered", "ssec")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&c_b64)
        .sse_customer_key_md5(&c_md5)
        .send()
        .await
        .expect("GET SSE-C");
    assert_eq!(o.body.collect().await.unwrap().into_bytes().len(), 300);
    let o = get("plain-bucket", "p")
        .send()
        .await
        .expect("GET plaintext");
    assert_eq!(o.body.collect().await.unwrap().into_bytes().len(), 50);
    let (status, code) = failure("GET missing", get("metered", "missing").send().await);
    assert_eq!((status, code.as_str()), (404, "NoSuchKey"));

    kms.disable_key()
        .key_id(&key_arn)
        .send()
        .await
        .expect("DisableKey");
    let (status, code) = failure("GET disabled", get("metered", "kms").send().await);
    assert_eq!((status, code.as_str()), (400, "KMS.DisabledException"));

    // The S3 listener does not serve metrics: GET /metrics there is a bucket named "metrics".
    let (status, ctype, body) = http_get(&url);
    assert_eq!(status, 200, "{body}");
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let samples = parse_exposition(&body);

    let req = |op: &str, st: &str| {
        value(
            &samples,
            "sealgate_s3_requests_total",
            &[("operation", op), ("status", st)],
        )
    };
    assert_eq!(req("CreateBucket", "200"), 2.0);
    assert_eq!(req("PutObject", "200"), 4.0);
    assert_eq!(req("CreateMultipartUpload", "200"), 1.0);
    assert_eq!(req("UploadPart", "200"), 1.0);
    assert_eq!(req("CompleteMultipartUpload", "200"), 1.0);
    assert_eq!(req("GetObject", "200"), 5.0);
    assert_eq!(req("GetObject", "404"), 1.0);
    assert_eq!(req("GetObject", "400"), 1.0);
    let total: f64 = samples
        .iter()
        .filter(|s| s.name == "sealgate_s3_requests_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(total, 16.0, "no other S3 request was counted");
    // The scrape itself is an open connection; nothing hit the cap in this light traffic.
    assert!(value(&samples, "sealgate_connections_open", &[]) >= 1.0);
    assert!(value(&samples, "sealgate_connections_max", &[]) >= 16.0);
    assert_eq!(
        value(&samples, "sealgate_connections_evicted_total", &[]),
        0.0
    );
    assert_eq!(value(&samples, "sealgate_accept_errors_total", &[]), 0.0);

    let by_op = |name: &str, op: &str| value(&samples, name, &[("operation", op)]);
    assert_eq!(
        by_op("sealgate_s3_bytes_received_total", "PutObject"),
        (1000 + 2000 + 300 + 50) as f64
    );
    assert_eq!(
        by_op("sealgate_s3_bytes_received_total", "UploadPart"),
        700.0
    );
    assert_eq!(
        by_op("sealgate_s3_bytes_sent_total", "GetObject"),
        (2 * 1000 + 2000 + 300 + 50) as f64
    );

    let mode = |name: &str, m: &str| value(&samples, name, &[("mode", m)]);
    let written = "sealgate_sse_objects_written_total";
    let read = "sealgate_sse_objects_read_total";
    assert_eq!(mode(written, "SSE-S3"), 1.0);
    assert_eq!(mode(written, "SSE-KMS"), 1.0);
    assert_eq!(mode(written, "SSE-C"), 2.0, "PUT and multipart");
    assert_eq!(mode(written, "none"), 1.0);
    assert_eq!(mode(read, "SSE-S3"), 2.0);
    assert_eq!(mode(read, "SSE-KMS"), 1.0);
    assert_eq!(mode(read, "SSE-C"), 1.0);
    assert_eq!(mode(read, "none"), 1.0);

    // Latency histogram: 7 GetObjects, cumulative buckets ending at the count.
    let h = "sealgate_s3_request_duration_seconds";
    assert_eq!(by_op(&format!("{h}_count"), "GetObject"), 7.0);
    assert!(by_op(&format!("{h}_sum"), "GetObject") > 0.0);
    let mut buckets: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| {
            s.name == format!("{h}_bucket")
                && s.labels.get("operation").map(String::as_str) == Some("GetObject")
        })
        .map(|s| {
            let le = &s.labels["le"];
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            (bound, s.value)
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() > 5);
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, 7.0));

    // KMS latency: every call counted in its operation's histogram once, refused ones too (as
    // many as the calls counter holds for the operation over all keys and outcomes).
    let kh = "sealgate_kms_request_duration_seconds";
    let calls = |op: &str| -> f64 {
        samples
            .iter()
            .filter(|s| s.name == "sealgate_kms_requests_total")
            .filter(|s| s.labels.get("operation").map(String::as_str) == Some(op))
            .map(|s| s.value)
            .sum()
    };
    for op in ["GenerateDataKey", "Decrypt"] {
        assert!(calls(op) >= 1.0, "{op}");
        assert_eq!(by_op(&format!("{kh}_count"), op), calls(op), "{op}");
        assert!(by_op(&format!("{kh}_sum"), op) > 0.0, "{op}");
        let inf = value(
            &samples,
            &format!("{kh}_bucket"),
            &[("operation", op), ("le", "+Inf")],
        );
        assert_eq!(inf, calls(op), "{op}");
    }

    // The embedded KMS's audit syncs: every audited call above waited for one (shared within
    // a commit group), and they took time.
    let syncs = value(&samples, "sealgate_kms_audit_syncs_total", &[]);
    assert!(syncs >= 1.0, "{syncs}");
    assert!(value(&samples, "sealgate_kms_audit_sync_seconds_total", &[]) > 0.0);

    // KMS calls for our key: one data key, one Decrypt, one refused Decrypt — and the alarm.
    let kms_call = |op: &str, outcome: &str| {
        value(
            &samples,
            "sealgate_kms_requests_total",
            &[("operation", op), ("key", &key_arn), ("outcome", outcome)],
        )
    };
    assert_eq!(kms_call("GenerateDataKey", "success"), 1.0);
    assert_eq!(kms_call("Decrypt", "success"), 1.0);
    assert_eq!(kms_call("Decrypt", "DisabledException"), 1.0);
    assert_eq!(
        value(
            &samples,
            "sealgate_kms_unusable_key_use_total",
            &[("key", &key_arn), ("state", "Disabled")]
        ),
        1.0
    );
    let alarms: f64 = samples
        .iter()
        .filter(|s| s.name == "sealgate_kms_unusable_key_use_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(alarms, 1.0);

    // Only /metrics is served there.
    let other = url.replace("/metrics", "/other");
    assert_eq!(http_get(&other).0, 404);
}

#[tokio::test]
async fn pending_deletion_key_use_raises_the_alarm() {
    let server = Server::start();
    let url = server.metrics_url.clone().expect("metrics URL");
    let s3 = server.s3().await;
    let kms = server.kms().await;
    let key = kms.create_key().send().await.expect("CreateKey");
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    s3.create_bucket().bucket("doomed").send().await.unwrap();
    s3.put_object()
        .bucket("doomed")
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_arn)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    kms.schedule_key_deletion()
        .key_id(&key_arn)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let (status, code) = failure(
        "GET pending deletion",
        s3.get_object().bucket("doomed").key("k").send().await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "KMS.KMSInvalidStateException")
    );
    let (status, code) = failure(
        "PUT pending deletion",
        s3.put_object()
            .bucket("doomed")
            .key("k2")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&key_arn)
            .body(ByteStream::from_static(b"y"))
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "KMS.KMSInvalidStateException")
    );
    let samples = parse_exposition(&http_get(&url).2);
    assert_eq!(
        value(
            &samples,
            "sealgate_kms_unusable_key_use_total",
            &[("key", &key_arn), ("state", "PendingDeletion")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &samples,
            "sealgate_kms_requests_total",
            &[
                ("operation", "GenerateDataKey"),
                ("key", &key_arn),
                ("outcome", "KMSInvalidStateException")
            ]
        ),
        1.0
    );
}

#[test]
fn metrics_listener_off_and_bad_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["serve", "--metrics-listen", "nonsense", "--data-dir"])
        .arg(dir.path().join("d"))
        .env_remove("SEALGATE_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("metrics_listen"), "{err}");

    // `off`: the gateway starts and says so, and nothing listens for metrics.
    let mut child = std::process::Command::new(common::bin())
        .args(["serve", "--metrics-listen", "off"])
        .args(["--s3-listen", "127.0.0.1:0", "--kms-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path().join("d"))
        .env_remove("SEALGATE_CONFIG")
        .env_remove("SEALGATE_ROOT_ACCESS_KEY")
        .env_remove("SEALGATE_ROOT_SECRET_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lines: Vec<String> = {
        use std::io::BufRead;
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        stdout
            .lines()
            .map_while(Result::ok)
            .take_while(|l| l.trim() != "Ready.")
            .collect()
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        lines.iter().any(|l| l == "Metrics:         off"),
        "{lines:?}"
    );
    // A first start prints the root credential it generated (once).
    assert!(
        lines.iter().any(|l| l.starts_with("Root access key: ")),
        "{lines:?}"
    );
}
