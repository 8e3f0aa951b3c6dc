//! `sealgate demo`: shows the five S3 encryption methods (SSE-S3, SSE-KMS, SSE-C, CSE-KMS,
//! CSE-C) side by side on real data. It uploads one file with each method, reads back what the
//! gateway stored and what the KMS audit log recorded, then runs events (KMS key disabled,
//! rotated, deleted; customer key lost; plain HTTP) and prints a table of what happened, as
//! text, JSON or one self-contained HTML page. Last, an asymmetric story ([`signing`]): a
//! KMS-held ECC key signs, and the signature is verified offline with its public key.
//!
//! By default it starts its own gateway ([`embedded`]) in a temporary directory (kept with
//! `--keep-dir`); with `--endpoint-url` it uses a running gateway instead, and sees the store
//! and audit log only when given that gateway's `--data-dir`.
//!
//! Modules: [`embedded`] starts the gateway, [`run`] acts and records outcomes, [`observe`]
//! reads the store and audit log, [`render`] prints; [`versioned`] is the versioned overwrite
//! (two versions of one key, each with its own data key), [`signing`] the asymmetric story.

pub(crate) mod embedded;
pub(crate) mod observe;
pub(crate) mod render;
pub(crate) mod run;
pub(crate) mod signing;
pub(crate) mod versioned;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::kms::remote::RemoteKms;
use crate::tools::client::s3::S3Client;
use crate::tools::client::settings::{EndpointArgs, MAX_BODY, credentials_from_env};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
    Html,
}

#[derive(clap::Args, Debug, Clone)]
pub(crate) struct DemoArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    /// The file to upload [default: 100 KiB of generated text].
    #[arg(long)]
    pub(crate) file: Option<PathBuf>,
    /// Run the embedded gateway in this directory and keep it afterwards (data in DIR/data).
    #[arg(long, value_name = "DIR")]
    pub(crate) keep_dir: Option<PathBuf>,
    /// Use a running gateway at this S3 endpoint instead of starting one (credentials from
    /// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; needs --kms-endpoint and --ca-bundle too).
    #[command(flatten)]
    pub(crate) endpoint: EndpointArgs,
    /// With --endpoint-url: the gateway's plain-HTTP endpoint, for the plain-HTTP event.
    #[arg(long)]
    pub(crate) http_endpoint_url: Option<String>,
    /// With --endpoint-url: the gateway's data dir (local backend), to read stored bytes and
    /// the KMS audit log.
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
}

/// The embedded gateway's work directory, removed on drop (after the gateway has stopped:
/// it is declared before the gateway, so it drops after it).
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> Result<TempDir, String> {
        let dir =
            std::env::temp_dir().join(format!("sealgate-demo-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A generated, recognisable plaintext (so "contains plaintext" checks are meaningful).
fn sample_plaintext() -> Vec<u8> {
    let mut out = Vec::with_capacity(100 * 1024);
    let mut i = 0u32;
    while out.len() < 100 * 1024 {
        out.extend_from_slice(
            format!("sealgate demo plaintext, line {i:05}: the quick brown fox jumps over the lazy dog\n")
                .as_bytes(),
        );
        i += 1;
    }
    out.truncate(100 * 1024);
    out
}

async fn run(args: &DemoArgs) -> Result<run::Report, String> {
    let plaintext = match &args.file {
        Some(p) => std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?,
        None => sample_plaintext(),
    };
    if plaintext.len() as u64 > crate::tools::cse::MAX_PLAINTEXT {
        return Err(format!(
            "{} bytes is more than the demo's limit of {} bytes",
            plaintext.len(),
            crate::tools::cse::MAX_PLAINTEXT
        ));
    }
    // The embedded gateway lives until the report is built.
    let mut _work: Option<TempDir> = None;
    let mut _gateway: Option<embedded::Embedded> = None;
    let (demo, _) = if let Some(endpoint) = &args.endpoint.s3_endpoint() {
        let s3 = args.endpoint.s3().map_err(|e| e.to_string())?;
        let kms = args.endpoint.kms().map_err(|e| e.to_string())?;
        let (ak, sk) = credentials_from_env().map_err(|e| e.to_string())?;
        let http = match &args.http_endpoint_url {
            Some(url) => Some(
                S3Client::new(url, None, &ak, &sk, &args.endpoint.region, MAX_BODY)
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        let info = run::GatewayInfo {
            embedded: false,
            s3_endpoint: endpoint.clone(),
            http_endpoint: args.http_endpoint_url.clone(),
            kms_endpoint: args.endpoint.kms_endpoint().unwrap_or_default(),
            data_dir: args.data_dir.as_ref().map(|d| d.display().to_string()),
            audit_log: args.data_dir.as_ref().map(|d| {
                d.join("kms")
                    .join(crate::kms::audit::DEFAULT_FILE_NAME)
                    .display()
                    .to_string()
            }),
            test_clock: false,
        };
        (
            run::Demo::new(s3, http, kms, args.data_dir.clone(), plaintext, info),
            (),
        )
    } else {
        let work = match &args.keep_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                std::path::absolute(dir).map_err(|e| e.to_string())?
            }
            None => {
                let t = TempDir::create()?;
                let p = t.0.clone();
                _work = Some(t);
                p
            }
        };
        let gw = embedded::Embedded::start(&work)?;
        let region = &args.endpoint.region;
        let s3 = S3Client::new(
            &gw.s3_https,
            Some(&gw.ca_path),
            &gw.access_key,
            &gw.secret_key,
            region,
            MAX_BODY,
        )
        .map_err(|e| e.to_string())?;
        let http = match &gw.s3_http {
            Some(url) => Some(
                S3Client::new(url, None, &gw.access_key, &gw.secret_key, region, MAX_BODY)
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        let kms = RemoteKms::new(
            &gw.kms_https,
            &gw.ca_path,
            &gw.access_key,
            &gw.secret_key,
            region,
        )
        .map_err(|e| e.to_string())?;
        let info = run::GatewayInfo {
            embedded: true,
            s3_endpoint: gw.s3_https.clone(),
            http_endpoint: gw.s3_http.clone(),
            kms_endpoint: gw.kms_https.clone(),
            data_dir: Some(gw.data_dir.display().to_string()),
            audit_log: Some(
                gw.data_dir
                    .join("kms")
                    .join(crate::kms::audit::DEFAULT_FILE_NAME)
                    .display()
                    .to_string(),
            ),
            test_clock: false,
        };
        let demo = run::Demo::new(s3, http, kms, Some(gw.data_dir.clone()), plaintext, info);
        _gateway = Some(gw);
        (demo, ())
    };
    demo.run().await
}

/// `sealgate demo`: the report on stdout; errors on stderr with exit status 1.
pub(crate) fn main(args: DemoArgs) -> ExitCode {
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sealgate demo: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(&args)) {
        Ok(report) => {
            let out = match args.format {
                Format::Text => render::text(&report),
                Format::Json => render::json(&report),
                Format::Html => render::html(&report),
            };
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sealgate demo: {e}");
            ExitCode::FAILURE
        }
    }
}
