//! A real S3 server process for proxy-mode tests: moto's server (installed into .venv by
//! `scripts/test`, found through `SEALGATE_MOTO`), started on a free loopback port. Its data
//! lives in the process's memory, so an outage is simulated by pausing it (SIGSTOP/SIGCONT),
//! which keeps the data, rather than by killing it.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Credentials moto accepts (it checks none, but requests must be signed).
pub const ACCESS_KEY: &str = "motoaccesskey";
pub const SECRET_KEY: &str = "motosecretkey";

pub struct Moto {
    child: Child,
    pub endpoint: String,
    paused: bool,
    _log: tempfile::TempDir,
}

/// The moto_server executable: `SEALGATE_MOTO`, else the project's .venv.
fn binary() -> Option<PathBuf> {
    let path = match std::env::var("SEALGATE_MOTO") {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server"),
    };
    path.is_file().then_some(path)
}

impl Moto {
    /// Starts moto, or returns `None` (the caller skips) when it is not installed — except
    /// under CI, where a missing backend is a failure, not a skip.
    pub fn start() -> Option<Moto> {
        let Some(bin) = binary() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "moto_server not found (SEALGATE_MOTO); ./scripts/test installs it into .venv"
            );
            eprintln!("SKIPPED: moto_server not found; run ./scripts/test to install it");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = tempfile::tempdir().unwrap();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log.path().join("moto.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            paused: false,
            _log: log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig} moto");
    }

    /// Freezes the backend: connections are accepted by the kernel but never answered.
    pub fn pause(&mut self) {
        self.signal("-STOP");
        self.paused = true;
    }

    pub fn resume(&mut self) {
        self.signal("-CONT");
        self.paused = false;
    }

    /// An aws-sdk-s3 client talking straight to moto (path style, plain http).
    pub fn client(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "moto",
            ))
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Creates a backend bucket named `<what>-<random>` and returns its name.
    pub async fn bucket(&self, what: &str) -> String {
        let name = format!(
            "{what}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        self.client()
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create backend bucket {name}: {e:?}"));
        name
    }

    /// Every object in `bucket`: `(key, bytes)`.
    pub async fn dump(&self, bucket: &str) -> Vec<(String, Vec<u8>)> {
        let c = self.client();
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = c
                .list_objects_v2()
                .bucket(bucket)
                .set_continuation_token(token)
                .send()
                .await
                .unwrap();
            for o in page.contents() {
                let key = o.key().unwrap().to_owned();
                let body = c
                    .get_object()
                    .bucket(bucket)
                    .key(&key)
                    .send()
                    .await
                    .unwrap()
                    .body
                    .collect()
                    .await
                    .unwrap()
                    .into_bytes()
                    .to_vec();
                out.push((key, body));
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                return out;
            }
        }
    }

    /// `sealgate serve` flags (as TOML) for this backend and `bucket`.
    pub fn gateway_toml(&self, bucket: &str, prefix: Option<&str>) -> String {
        let mut t = format!(
            "backend = \"s3\"\nbackend_endpoint = \"{}\"\nbackend_bucket = \"{bucket}\"\nbackend_region = \"us-east-1\"\nbackend_access_key = \"{ACCESS_KEY}\"\nbackend_secret_key = \"{SECRET_KEY}\"\n",
            self.endpoint
        );
        if let Some(p) = prefix {
            t.push_str(&format!("backend_prefix = \"{p}\"\n"));
        }
        t
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if self.paused {
            self.resume();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
