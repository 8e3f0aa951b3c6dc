//! The demo's own gateway: this same binary run as `sealgate serve` in a work directory, on
//! free loopback ports, with the KMS test clock (`SEALGATE_TEST_CLOCK=1`) so deletion windows
//! can be made to pass, and a plain-HTTP listener for the "read over plain HTTP" event.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::RngCore;
use zeroize::Zeroizing;

/// A running child gateway; killed (and waited for) on drop.
pub(crate) struct Embedded {
    child: Child,
    pub(crate) data_dir: PathBuf,
    pub(crate) s3_https: String,
    pub(crate) s3_http: Option<String>,
    pub(crate) kms_https: String,
    pub(crate) ca_path: PathBuf,
    pub(crate) access_key: String,
    pub(crate) secret_key: Zeroizing<String>,
}

impl Drop for Embedded {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl Embedded {
    /// Starts `sealgate serve` with its data dir in `work/data` and its log in
    /// `work/server.log`; returns once it prints `Ready.`.
    pub(crate) fn start(work: &Path) -> Result<Embedded, String> {
        let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
        let data_dir = work.join("data");
        let log_path = work.join("server.log");
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let access_key = format!("DEMO{}", random_hex(8).to_uppercase());
        let secret_key = Zeroizing::new(random_hex(20));
        let mut child = Command::new(exe)
            .arg("serve")
            .args(["--s3-listen", "127.0.0.1:0"])
            .args(["--http-listen", "127.0.0.1:0"])
            .args(["--kms-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("SEALGATE_TEST_CLOCK", "1")
            .env("SEALGATE_ROOT_ACCESS_KEY", &access_key)
            .env("SEALGATE_ROOT_SECRET_KEY", secret_key.as_str())
            .env("SEALGATE_LOG", "warn")
            .env_remove("SEALGATE_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting the gateway: {e}"))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err("gateway stdout unavailable".into());
        };
        let mut gw = Embedded {
            child,
            data_dir,
            s3_https: String::new(),
            s3_http: None,
            kms_https: String::new(),
            ca_path: PathBuf::new(),
            access_key,
            secret_key,
        };
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if Instant::now() > deadline {
                return Err("the gateway did not start within 60 s".into());
            }
            let Some(Ok(line)) = lines.next() else {
                return Err(format!(
                    "the gateway exited before it was ready; see {}",
                    log_path.display()
                ));
            };
            let value = |prefix: &str| line.strip_prefix(prefix).map(|v| v.trim().to_owned());
            if let Some(v) = value("S3 API (HTTPS):") {
                gw.s3_https = v.replace("127.0.0.1", "localhost");
            } else if let Some(v) = value("S3 API (HTTP):") {
                gw.s3_http = v.split_whitespace().next().map(str::to_owned);
            } else if let Some(v) = value("KMS API (HTTPS):") {
                gw.kms_https = v.replace("127.0.0.1", "localhost");
            } else if let Some(v) = value("CA certificate:") {
                gw.ca_path = PathBuf::from(v);
            } else if line.trim() == "Ready." {
                break;
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(gw)
    }
}
