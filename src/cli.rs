//! The `sealgate` command line (ARCHITECTURE.md §9).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ServeArgs};

#[derive(Parser, Debug)]
#[command(
    name = "sealgate",
    version,
    about = "S3-compatible gateway that encrypts everything it stores"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the S3 gateway (HTTPS), with the embedded KMS unless --kms-endpoint is given.
    Serve(Box<ServeArgs>),
    /// Run the KMS alone (AWS KMS JSON API over HTTPS), for gateways that share one KMS; or
    /// `kms init-shares | unseal | approve` (sealed start-up, two-person rule).
    Kms(KmsArgs),
    /// Print the KMS audit log filtered (by key, principal, event, time), or `audit verify` it.
    Audit(crate::tools::audit::AuditArgs),
    /// Copy a file to or from the gateway, with optional client-side encryption
    /// (--cse-kms KEY or --cse-c KEYFILE, AWS S3 Encryption Client format V3, or V2 on request).
    Cp(Box<crate::tools::cp::CpArgs>),
    /// Show SSE-S3, SSE-KMS, SSE-C, CSE-KMS and CSE-C side by side on real data
    /// (--format text|json|html).
    Demo(Box<crate::tools::demo::DemoArgs>),
    /// Show a stored object's envelope (mode, key ids, context, parts, sizes; never key
    /// material): `inspect s3://bucket/key` or a meta record or blob file in the data dir.
    Inspect(crate::tools::inspect::InspectArgs),
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
struct KmsArgs {
    #[command(subcommand)]
    admin: Option<crate::tools::kms_admin::KmsAdmin>,
    /// TOML configuration file (same format as `serve`).
    #[arg(long, env = "SEALGATE_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Data directory: key database, root key, certificate, credentials.
    #[arg(long, env = "SEALGATE_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// HTTPS KMS API address [default: 127.0.0.1:9444].
    #[arg(long, env = "SEALGATE_KMS_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// Region used in key ARNs [default: us-east-1].
    #[arg(long, env = "SEALGATE_REGION")]
    region: Option<String>,
    /// Account id used in key ARNs [default: 000000000000].
    #[arg(long, env = "SEALGATE_ACCOUNT_ID")]
    account_id: Option<String>,
    /// Principal ARNs (comma separated) the gateways sign with: the only callers that may use
    /// the service-owned keys (`alias/sealgate/sse-s3`, `alias/aws/s3`) [default: none].
    #[arg(long, env = "SEALGATE_KMS_SERVICE_PRINCIPALS", value_delimiter = ',')]
    service_principals: Option<Vec<String>>,
    /// Further Regions (comma separated) this KMS serves besides `--region`, where replica
    /// keys of multi-Region keys live [default: none].
    #[arg(long, env = "SEALGATE_KMS_REGIONS", value_delimiter = ',')]
    regions: Option<Vec<String>>,
    /// The key database: `postgres://user[:password]@host[:port]/db[?sslmode=require]`, which
    /// several KMS nodes started from copies of one data directory may share
    /// [default: SQLite in the data directory].
    #[arg(long, env = "SEALGATE_KMS_DB")]
    kms_db: Option<String>,
    /// Most connections open at once; the longest-idle one is closed to make room
    /// [default: derived from the open-file limit].
    #[arg(long, env = "SEALGATE_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEALGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let (args, kms_only) = match cli.command {
        Command::Serve(args) => (*args, false),
        Command::Audit(a) => return crate::tools::audit::run(a),
        Command::Cp(a) => return crate::tools::cp::main(*a),
        Command::Demo(a) => return crate::tools::demo::main(*a),
        Command::Inspect(a) => return crate::tools::inspect::main(a),
        Command::Kms(KmsArgs {
            admin: Some(admin), ..
        }) => return crate::tools::kms_admin::main(admin),
        Command::Kms(k) => (
            ServeArgs {
                config: k.config,
                data_dir: k.data_dir,
                kms_listen: k.listen,
                region: k.region,
                account_id: k.account_id,
                kms_service_principals: k.service_principals,
                kms_regions: k.regions,
                kms_db: k.kms_db,
                max_connections: k.max_connections,
                ..Default::default()
            },
            true,
        ),
    };
    let cfg = match Config::load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sealgate: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sealgate: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = if kms_only {
        rt.block_on(crate::serve::run_kms(cfg))
    } else {
        rt.block_on(crate::serve::run(cfg))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sealgate: {e}");
            ExitCode::FAILURE
        }
    }
}
