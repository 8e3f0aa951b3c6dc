//! Shared harness for integration tests: starts the real `sealgate` binary on ephemeral ports in
//! a temporary data dir and hands out AWS SDK clients configured for it.
#![allow(dead_code)]

pub mod inspect;
pub mod load;
pub mod pg;
pub mod seal;
pub mod sse;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "SEALGATETESTROOT0001";
pub const SECRET_KEY: &str = "sealgate-test-root-secret-key-0000000001";
pub const REGION: &str = "us-east-1";

/// A running gateway. Killed on drop; its log stays in `data_dir/../server.log`.
pub struct Server {
    child: Child,
    pub dir: tempfile::TempDir,
    pub data_dir: PathBuf,
    pub s3_https: String,
    pub s3_http: Option<String>,
    pub kms_https: String,
    /// `http://127.0.0.1:<port>/metrics` (each test server gets a free port).
    pub metrics_url: Option<String>,
    pub ca_path: PathBuf,
    pub log_path: PathBuf,
    /// The KMS's PostgreSQL URL (`--kms-db`), when it is not on SQLite.
    pub kms_db: Option<String>,
}

/// Options for [`Server::start_with`].
#[derive(Default, Clone)]
pub struct Options {
    /// Extra TOML appended to a generated config file (e.g. `[[users]]` tables).
    pub config_toml: Option<String>,
    /// Start with the KMS test clock (`SEALGATE_TEST_CLOCK=1`).
    pub test_clock: bool,
    /// Reuse this data dir instead of a fresh one (restart tests).
    pub data_dir: Option<PathBuf>,
    /// Run `sealgate kms` instead of `sealgate serve`.
    pub kms_only: bool,
    /// Extra environment variables for the server process.
    pub env: Vec<(String, String)>,
    /// Run the binary through this command, which must exec it (so `pid()` is the server's),
    /// e.g. `["prlimit", "--nofile=1024:1024", "--"]`.
    pub launcher: Vec<String>,
    /// The KMS's `--kms-db`. Unset: SQLite, or with `SEALGATE_TEST_KMS_DB=postgres` a
    /// database of the test PostgreSQL cluster ([`pg`]) for this data dir.
    pub kms_db: Option<String>,
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sealgate"))
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    pub fn start_with(opts: Options) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = opts
            .data_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("data"));
        let log_path = dir.path().join("server.log");
        let mut cmd = match opts.launcher.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        if opts.kms_only {
            cmd.arg("kms").args(["--listen", "127.0.0.1:0"]);
        } else {
            cmd.arg("serve").args([
                "--s3-listen",
                "127.0.0.1:0",
                "--http-listen",
                "127.0.0.1:0",
                "--kms-listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "127.0.0.1:0",
            ]);
        }
        cmd.arg("--data-dir").arg(&data_dir);
        if let Some(toml) = &opts.config_toml {
            let path = dir.path().join("sealgate.toml");
            std::fs::write(&path, toml).unwrap();
            cmd.arg("--config").arg(&path);
        }
        cmd.env("SEALGATE_ROOT_ACCESS_KEY", ACCESS_KEY)
            .env("SEALGATE_ROOT_SECRET_KEY", SECRET_KEY)
            .env("SEALGATE_LOG", "sealgate=debug")
            .env_remove("SEALGATE_CONFIG")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log_path).unwrap());
        if opts.test_clock {
            cmd.env("SEALGATE_TEST_CLOCK", "1");
        }
        let remote_kms = opts
            .config_toml
            .as_deref()
            .is_some_and(|t| t.contains("kms_endpoint"));
        let kms_db = match &opts.kms_db {
            Some(url) => Some(url.clone()),
            None if remote_kms => None,
            None => pg::kms_db_for(&data_dir),
        };
        cmd.env_remove("SEALGATE_KMS_DB");
        if let Some(url) = &kms_db {
            cmd.env("SEALGATE_KMS_DB", url);
        }
        cmd.envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut child = cmd.spawn().expect("start sealgate");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let (mut s3_https, mut s3_http, mut kms_https, mut ca_path) =
            (String::new(), None, String::new(), PathBuf::new());
        let mut metrics_url = None;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "server did not start");
            let Some(Ok(line)) = lines.next() else {
                panic!(
                    "server exited before Ready; log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            };
            let value = |prefix: &str| line.strip_prefix(prefix).map(|v| v.trim().to_owned());
            if let Some(v) = value("S3 API (HTTPS):") {
                s3_https = v;
            } else if let Some(v) = value("S3 API (HTTP):") {
                s3_http = v.split_whitespace().next().map(str::to_owned);
            } else if let Some(v) = value("KMS API (HTTPS):") {
                kms_https = v;
            } else if let Some(v) = value("Metrics:") {
                metrics_url = v.starts_with("http://").then_some(v);
            } else if let Some(v) = value("CA certificate:") {
                ca_path = PathBuf::from(v);
            } else if line.trim() == "Ready." {
                break;
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            dir,
            data_dir,
            s3_https: s3_https.replace("127.0.0.1", "localhost"),
            s3_http,
            kms_https: kms_https.replace("127.0.0.1", "localhost"),
            metrics_url,
            ca_path,
            log_path,
            kms_db,
        }
    }

    /// The server's process id (for /proc measurements in benchmarks).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server (SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// SDK config trusting the generated CA, with the root credentials (or the given ones).
    pub async fn sdk_config(&self, creds: Option<(&str, &str)>) -> aws_config::SdkConfig {
        let (ak, sk) = creds.unwrap_or((ACCESS_KEY, SECRET_KEY));
        let pem = std::fs::read(&self.ca_path).expect("CA certificate");
        let tls = aws_smithy_http_client_tls(&pem);
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                ak, sk, None, None, "test",
            ))
            .http_client(tls)
            .load()
            .await
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        self.s3_as(None).await
    }

    pub async fn s3_as(&self, creds: Option<(&str, &str)>) -> aws_sdk_s3::Client {
        let cfg = self.sdk_config(creds).await;
        let conf = aws_sdk_s3::config::Builder::from(&cfg)
            .endpoint_url(&self.s3_https)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// An S3 client for the plain-HTTP listener (root credentials, path style).
    pub fn s3_plain(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(REGION))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "test",
            ))
            .endpoint_url(self.s3_http.clone().expect("plain HTTP S3 listener"))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub async fn kms(&self) -> aws_sdk_kms::Client {
        self.kms_as(None).await
    }

    pub async fn kms_as(&self, creds: Option<(&str, &str)>) -> aws_sdk_kms::Client {
        let cfg = self.sdk_config(creds).await;
        let conf = aws_sdk_kms::config::Builder::from(&cfg)
            .endpoint_url(&self.kms_https)
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("---- sealgate log ----\n{}", self.log());
        }
    }
}

/// An HTTP client for the SDK that trusts `ca_pem` (the gateway's generated CA).
fn aws_smithy_http_client_tls(
    ca_pem: &[u8],
) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    let trust = TrustStore::empty().with_pem_certificate(ca_pem.to_vec());
    let ctx = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("TLS context");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(ctx)
        .build_https()
}

/// Every file under `dir`, recursively.
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The current meta record file of `bucket/key` (`meta/<bucket>/<hex key>-`, docs/STORAGE.md).
pub fn meta_path(data_dir: &Path, bucket: &str, key: &str) -> PathBuf {
    let suffix = format!("{}-", hex::encode(key.as_bytes()));
    all_files(data_dir)
        .into_iter()
        .find(|p| {
            let s = p.to_string_lossy();
            s.contains(&format!("/meta/{bucket}/")) && s.ends_with(&suffix)
        })
        .unwrap_or_else(|| panic!("no meta record for {key}"))
}

/// True when `needle` occurs in any file under `dir`; returns the first such file.
pub fn find_bytes(dir: &Path, needle: &[u8]) -> Option<PathBuf> {
    all_files(dir).into_iter().find(|p| {
        std::fs::read(p)
            .map(|data| data.windows(needle.len()).any(|w| w == needle))
            .unwrap_or(false)
    })
}

/// `len` random bytes.
pub fn random(len: usize) -> Vec<u8> {
    use rand::RngCore;
    let mut v = vec![0u8; len];
    rand::rng().fill_bytes(&mut v);
    v
}

/// Hex MD5, as S3 puts it in single-part SSE-S3 ETags.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

/// `(HTTP status, S3 error code)` of a failed SDK call; panics if the call succeeded.
pub fn failure<T, E>(
    what: &str,
    r: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> (u16, String)
where
    T: std::fmt::Debug,
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
{
    use aws_sdk_s3::error::ProvideErrorMetadata as _;
    match r {
        Ok(v) => panic!("{what}: expected an error, got success {v:?}"),
        Err(e) => (
            e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0),
            e.code().unwrap_or("").to_owned(),
        ),
    }
}

/// Moves the server's KMS clock forward with the test-only `Sealgate.AdvanceClock` (root only,
/// server started with `test_clock`) and runs due rotations/deletions.
pub async fn advance_clock(kms: &aws_sdk_kms::Client, secs: u64) {
    let body = format!("{{\"Seconds\":{secs}}}");
    kms.generate_random()
        .number_of_bytes(1)
        .customize()
        .mutate_request(move |req| {
            req.headers_mut()
                .insert("x-amz-target", "Sealgate.AdvanceClock");
            req.headers_mut()
                .insert("content-length", body.len().to_string());
            *req.body_mut() = body.clone().into();
        })
        .send()
        .await
        .expect("Sealgate.AdvanceClock");
}

/// Uploads `data` as the parts of upload `upload_id` (`part_size` bytes each, the last shorter)
/// and returns the completed upload to send with CompleteMultipartUpload.
pub async fn upload_parts(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    data: &[u8],
    part_size: usize,
) -> aws_sdk_s3::types::CompletedMultipartUpload {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let mut parts = Vec::new();
    for (i, chunk) in data.chunks(part_size).enumerate() {
        let n = i as i32 + 1;
        let etag = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(n)
            .body(aws_sdk_s3::primitives::ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .unwrap()
            .e_tag()
            .unwrap()
            .to_owned();
        parts.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    CompletedMultipartUpload::builder()
        .set_parts(Some(parts))
        .build()
}

/// A KMS user with every right (identity policy `kms:*`) and one with no identity policy.
pub const ALICE: (&str, &str) = (
    "ALICEACCESSKEY000001",
    "alice-secret-key-000000000000000000000001",
);
pub const BOB: (&str, &str) = (
    "BOBACCESSKEY00000001",
    "bob-secret-key-00000000000000000000000001",
);

/// The config-file users [`ALICE`] (`kms:*`) and [`BOB`] (no identity policy).
/// Puts `bucket`'s versioning state (Enabled or Suspended); panics if refused.
pub async fn set_versioning(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    status: aws_sdk_s3::types::BucketVersioningStatus,
) {
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(status)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutBucketVersioning {bucket}: {e:?}"));
}

/// A gateway whose config has the alice/bob users of [`kms_users_toml`], with the test clock on
/// (`Sealgate.AdvanceClock`) so calendar-driven KMS behaviour can be exercised.
pub fn start_kms_users() -> Server {
    Server::start_with(Options {
        config_toml: Some(kms_users_toml()),
        test_clock: true,
        ..Options::default()
    })
}

/// Encrypts `plaintext` under `key_id` (no context); panics if refused. The ciphertext blob.
pub async fn kms_encrypt(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    plaintext: Vec<u8>,
) -> aws_sdk_kms::primitives::Blob {
    kms.encrypt()
        .key_id(key_id)
        .plaintext(aws_sdk_kms::primitives::Blob::new(plaintext))
        .send()
        .await
        .unwrap_or_else(|e| panic!("Encrypt under {key_id}: {e:?}"))
        .ciphertext_blob()
        .expect("a ciphertext blob")
        .clone()
}

/// The KMS error code and message of a call that must fail.
pub fn kms_failure<T, E>(r: Result<T, E>) -> (String, String)
where
    T: std::fmt::Debug,
    E: aws_sdk_kms::error::ProvideErrorMetadata,
{
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => (
            e.code().unwrap_or("<no code>").to_owned(),
            e.message().unwrap_or_default().to_owned(),
        ),
    }
}

/// The KMS error code of a call that must fail.
pub fn kms_code<T, E>(r: Result<T, E>) -> String
where
    T: std::fmt::Debug,
    E: aws_sdk_kms::error::ProvideErrorMetadata,
{
    kms_failure(r).0
}

pub fn kms_users_toml() -> String {
    format!(
        r#"
[[users]]
name = "alice"
access_key = "{}"
secret_key = "{}"
policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:*","Resource":"*"}}]}}'''

[[users]]
name = "bob"
access_key = "{}"
secret_key = "{}"
"#,
        ALICE.0, ALICE.1, BOB.0, BOB.1
    )
}

/// The text of a `/metrics` page (`http://host:port/metrics`).
pub fn metrics_text(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').expect("URL with a path");
    let mut s = std::net::TcpStream::connect(host).expect("connect to the metrics listener");
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

/// Creates an EXTERNAL key and imports 32 random bytes wrapped with RSAES_OAEP_SHA_256;
/// returns (id, arn, material).
pub async fn imported_key(kms: &aws_sdk_kms::Client) -> (String, String, Vec<u8>) {
    use aws_sdk_kms::types::{KeyState, OriginType};
    let created = kms
        .create_key()
        .origin(OriginType::External)
        .send()
        .await
        .unwrap();
    let md = created.key_metadata().unwrap();
    assert_eq!(md.key_state(), Some(&KeyState::PendingImport));
    assert_eq!(md.origin(), Some(&OriginType::External));
    assert!(!md.enabled());
    let (id, arn) = (md.key_id().to_owned(), md.arn().unwrap().to_owned());
    let material: [u8; 32] = rand::random();
    import_key_material(kms, &id, &material).await;
    (id, arn, material.to_vec())
}

/// GetParametersForImport (RSA_2048, RSAES_OAEP_SHA_256) and ImportKeyMaterial of `material`.
pub async fn import_key_material(kms: &aws_sdk_kms::Client, id: &str, material: &[u8]) {
    use aws_sdk_kms::primitives::Blob;
    use aws_sdk_kms::types::{AlgorithmSpec, ExpirationModelType, WrappingKeySpec};
    use rsa::pkcs8::DecodePublicKey;
    let params = kms
        .get_parameters_for_import()
        .key_id(id)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap();
    assert!(params.key_id().unwrap().ends_with(id));
    let valid_to = params.parameters_valid_to().unwrap().secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (valid_to - (now + 86_400)).abs() < 120,
        "ParametersValidTo is now + 24 h"
    );
    let public = rsa::PublicKey::from_public_key_der(params.public_key().unwrap().as_ref())
        .expect("DER SubjectPublicKeyInfo");
    let wrapped = public.oaep_encrypt::<rsa::sha2::Sha256>(material).unwrap();
    let out = kms
        .import_key_material()
        .key_id(id)
        .import_token(params.import_token().unwrap().clone())
        .encrypted_key_material(Blob::new(wrapped))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap();
    assert!(out.key_id().unwrap().ends_with(id));
}

/// Runs `sealgate kms <args>` (the admin commands) against `server`'s KMS listener, signed
/// with `creds` (root when `None`), feeding `stdin`; returns (success, stdout, stderr).
pub fn kms_cli(
    server: &Server,
    creds: Option<(&str, &str)>,
    args: &[&str],
    stdin: &str,
) -> (bool, String, String) {
    use std::io::Write;
    let (ak, sk) = creds.unwrap_or((ACCESS_KEY, SECRET_KEY));
    let mut child = Command::new(bin())
        .arg("kms")
        .args(args)
        .env("AWS_ENDPOINT_URL_KMS", &server.kms_https)
        .env("AWS_CA_BUNDLE", &server.ca_path)
        .env("AWS_ACCESS_KEY_ID", ak)
        .env("AWS_SECRET_ACCESS_KEY", sk)
        .env("AWS_REGION", REGION)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("SEALGATE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sealgate kms");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Copies the directory `from` to `to` with `cp -a` (modes kept: key files stay 0600), e.g. a
/// stopped KMS node's data dir to start a second node from.
pub fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}

/// CreateKey with defaults on `server`'s KMS; the new key's id.
pub async fn new_key_id(server: &Server) -> String {
    let created = server.kms().await.create_key().send().await.unwrap();
    created.key_metadata().unwrap().key_id().to_owned()
}

/// CreateKey with defaults on `server`'s KMS; the new key's ARN.
pub async fn new_key_arn(server: &Server) -> String {
    let created = server.kms().await.create_key().send().await.unwrap();
    created.key_metadata().unwrap().arn().unwrap().to_owned()
}

/// The fingerprint `sealgate inspect` shows for each version's wrapped object key, computed
/// here from the records on disk (`sha256:` + the first 8 bytes of SHA-256 over the sealed
/// key's ciphertext), by version id (`null` for the null version); delete markers and
/// plaintext objects have none.
pub fn wrapped_key_fingerprints(
    data_dir: &Path,
    bucket: &str,
) -> std::collections::BTreeMap<String, String> {
    use base64::Engine as _;
    use sha2::Digest as _;
    all_files(data_dir)
        .into_iter()
        .filter(|p| {
            let s = p.to_string_lossy();
            s.contains(&format!("/meta/{bucket}/")) || s.contains(&format!("/versions/{bucket}/"))
        })
        .filter_map(|p| {
            let rec: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).ok()?).ok()?;
            let sealed = rec["sealing"]["sealed"]["ciphertext"].as_str()?;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(sealed)
                .unwrap();
            let id = rec["version_id"].as_str().unwrap_or("null").to_owned();
            let digest = sha2::Sha256::digest(&raw);
            Some((id, format!("sha256:{}", hex::encode(&digest[..8]))))
        })
        .collect()
}
