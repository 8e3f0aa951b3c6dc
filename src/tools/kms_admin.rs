//! `sealgate kms init-shares | unseal | approve`: the KMS's sealed start-up and two-person
//! rule from the command line (docs/KMS.md).
//!
//! `init-shares` works on the data directory (offline); `unseal` and `approve` are signed
//! calls on a running KMS's listener (`Sealgate.Unseal`, `Sealgate.ApproveRequest`), with the
//! endpoint, CA bundle and credentials of the other CLI clients (flags, then `AWS_*`).

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::config::{Config, ServeArgs};
use crate::kms::unseal::{self, ShareParams};
use crate::tools::client::settings::EndpointArgs;

#[derive(clap::Subcommand, Debug)]
pub(crate) enum KmsAdmin {
    /// Put the KMS into sealed mode: encrypt its root key under a key split into N shares
    /// (any M open it), print the shares once, and remove the plaintext root key. From then
    /// on the KMS starts sealed until M shares are presented with `sealgate kms unseal`.
    InitShares(InitSharesArgs),
    /// Present one unseal share to a sealed KMS (read from standard input when not given:
    /// a share on the command line shows in the process list).
    Unseal(UnsealArgs),
    /// Approve another principal's request held by the two-person rule.
    Approve(ApproveArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct InitSharesArgs {
    /// TOML configuration file (for its data_dir).
    #[arg(long, env = "SEALGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory of the KMS (or of the gateway with the embedded KMS).
    #[arg(long, env = "SEALGATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// How many shares to make (N, at most 255).
    #[arg(long)]
    shares: u8,
    /// How many shares open the root key (M, 1..=N).
    #[arg(long)]
    threshold: u8,
}

#[derive(clap::Args, Debug)]
pub(crate) struct UnsealArgs {
    /// The share (`sealgate-share-...`); omit it to read it from standard input.
    share: Option<String>,
    #[command(flatten)]
    endpoint: EndpointArgs,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ApproveArgs {
    /// The approval request id from the ApprovalRequiredException message.
    request_id: String,
    #[command(flatten)]
    endpoint: EndpointArgs,
}

pub(crate) fn main(cmd: KmsAdmin) -> ExitCode {
    let result = match cmd {
        KmsAdmin::InitShares(a) => init_shares(a),
        KmsAdmin::Unseal(a) => unseal_share(a),
        KmsAdmin::Approve(a) => approve(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sealgate kms: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_shares(args: InitSharesArgs) -> Result<(), String> {
    let params = ShareParams::new(args.shares, args.threshold)?;
    let cfg = Config::load(&ServeArgs {
        config: args.config,
        data_dir: args.data_dir,
        ..Default::default()
    })
    .map_err(|e| e.to_string())?;
    let kms_dir = cfg.data_dir.join("kms");
    let shares = unseal::init(&kms_dir, params).map_err(|e| e.to_string())?;
    println!(
        "The KMS in {} is sealed: it starts sealed and needs {} of these {} shares \
         (`sealgate kms unseal`). They are printed only now; give each to its holder.",
        kms_dir.display(),
        params.threshold,
        params.shares
    );
    for (i, share) in shares.iter().enumerate() {
        println!("Share {}: {}", i + 1, share.as_str());
    }
    Ok(())
}

/// One signed call on the KMS listener.
fn call(endpoint: &EndpointArgs, target: &str, body: Value) -> Result<Value, String> {
    let kms = endpoint.kms().map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(kms.call(target, body))
        .map_err(|e| e.to_string())
}

fn unseal_share(args: UnsealArgs) -> Result<(), String> {
    let share = match args.share {
        Some(s) => Zeroizing::new(s),
        None => {
            if std::io::stdin().is_terminal() {
                eprint!("Unseal share: ");
            }
            let mut line = Zeroizing::new(String::new());
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("reading the share: {e}"))?;
            Zeroizing::new(line.trim().to_string())
        }
    };
    let answer = call(
        &args.endpoint,
        "Sealgate.Unseal",
        json!({ "Share": share.as_str() }),
    )?;
    let presented = answer["SharesPresented"].as_u64().unwrap_or(0);
    let required = answer["SharesRequired"].as_u64().unwrap_or(0);
    if answer["Sealed"].as_bool() == Some(true) {
        println!("Sealed: {presented} of {required} shares presented.");
    } else {
        println!("Unsealed.");
    }
    Ok(())
}

fn approve(args: ApproveArgs) -> Result<(), String> {
    let answer = call(
        &args.endpoint,
        "Sealgate.ApproveRequest",
        json!({ "RequestId": args.request_id }),
    )?;
    println!(
        "{}",
        serde_json::to_string_pretty(&answer).unwrap_or_default()
    );
    Ok(())
}
