//! `sealgate audit`: print the KMS audit log filtered by key, principal, event and time, and
//! `sealgate audit verify`: prove the log is complete and unmodified (docs/AUDIT.md).
//!
//! Both read the files directly, so they work whether or not a server is running. Verify needs
//! the KMS root key (it recomputes the digest signatures), so run it as the service user.
//!
//! Several KMS nodes each keep their own chain. Given several `--data-dir`s, verify checks each
//! chain on its own (one verdict per node; the exit status is the worst), and the listing
//! merges the nodes' records by time with a NODE column (a `node` member in JSON).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;

use crate::kms::audit::DEFAULT_FILE_NAME;
use crate::kms::audit_chain::{self, SoftwareSigner};
use crate::kms::rootkey::{self, RootKey};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    #[command(flatten)]
    filter: FilterArgs,
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Verify the hash chain, the signed digests and the head; report the first bad record.
    Verify(VerifyArgs),
}

#[derive(Args, Debug)]
struct DataDirArg {
    /// Data directory of the gateway or KMS (the log is in <data-dir>/kms). Repeat it (or
    /// separate with commas) for the nodes of a KMS fleet.
    #[arg(
        long,
        env = "SEALGATE_DATA_DIR",
        default_value = "sealgate-data",
        value_delimiter = ','
    )]
    data_dir: Vec<PathBuf>,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    #[command(flatten)]
    dir: DataDirArg,
    /// Start at this record (older records may have been archived); its `prev` is trusted.
    #[arg(long)]
    from: Option<u64>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Format {
    Json,
    Table,
}

#[derive(Args, Debug)]
struct FilterArgs {
    #[command(flatten)]
    dir: DataDirArg,
    /// Key id or key ARN.
    #[arg(long)]
    key: Option<String>,
    /// Principal ARN (or its trailing part, e.g. `user/alice`).
    #[arg(long)]
    principal: Option<String>,
    /// Event (KMS operation) name, e.g. Encrypt; may be repeated.
    #[arg(long)]
    event: Vec<String>,
    /// Only records at or after this time (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Only records before this time (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    /// Include the signed digest records.
    #[arg(long)]
    digests: bool,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

pub(crate) fn run(args: AuditArgs) -> ExitCode {
    match args.command {
        Some(AuditCommand::Verify(v)) => verify(&v),
        None => match print(&args.filter) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sealgate audit: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// The directory holding `kms-audit.log`: `<data-dir>/kms`, or the data dir itself.
fn log_dir(data_dir: &Path) -> PathBuf {
    let kms = data_dir.join("kms");
    if kms.join(DEFAULT_FILE_NAME).exists() || kms.join(rootkey::DEFAULT_FILE_NAME).exists() {
        kms
    } else {
        data_dir.to_path_buf()
    }
}

fn verify(args: &VerifyArgs) -> ExitCode {
    let several = args.dir.data_dir.len() > 1;
    let mut worst = ExitCode::SUCCESS;
    for data_dir in &args.dir.data_dir {
        let node = if several {
            format!("{}: ", data_dir.display())
        } else {
            String::new()
        };
        let code = verify_one(&log_dir(data_dir), args.from, &node);
        // Unreadable (2) outranks tampered (1), which outranks OK.
        if code == ExitCode::from(2) || (code != ExitCode::SUCCESS && worst == ExitCode::SUCCESS) {
            worst = code;
        }
    }
    worst
}

/// Verifies one node's chain in `dir`, each line prefixed with `node`.
fn verify_one(dir: &Path, from: Option<u64>, node: &str) -> ExitCode {
    let root = match RootKey::load(&dir.join(rootkey::DEFAULT_FILE_NAME)) {
        Ok(r) => r,
        Err(_) if crate::kms::unseal::sealed_path(dir).exists() => {
            eprintln!(
                "sealgate audit verify: the KMS is in sealed mode: the digest key derives from \
                 the root key, which only the unsealed KMS holds; verify is not supported there yet"
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("sealgate audit verify: {node}{e}");
            return ExitCode::from(2);
        }
    };
    let signer = SoftwareSigner::from_root(&root);
    match audit_chain::verify(dir, DEFAULT_FILE_NAME, &signer, from) {
        Ok(r) => {
            let range = match (r.first_seq, r.last_seq) {
                (Some(a), Some(b)) => format!("seq {a}..={b}"),
                _ => "no records".to_string(),
            };
            println!(
                "{node}OK: {} records and {} signed digests ({range}) in {} file(s); chain head {}",
                r.records,
                r.digests,
                r.files,
                r.head_hash.as_deref().unwrap_or(audit_chain::GENESIS)
            );
            // A repaired torn tail is not tampering, but an operator should know a crash
            // cut a record short.
            for (seq, note) in &r.repairs {
                println!("{node}REPAIRED: seq {seq}: torn tail left by a crash: {note}");
            }
            ExitCode::SUCCESS
        }
        Err(f) => {
            println!("{node}TAMPERED: {f}");
            ExitCode::FAILURE
        }
    }
}

struct Filter {
    key: Option<String>,
    principal: Option<String>,
    events: Vec<String>,
    since: Option<f64>,
    until: Option<f64>,
    digests: bool,
}

fn parse_time(s: &str, flag: &str) -> Result<f64, String> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{flag} {s:?} is not an RFC 3339 time: {e}"))?;
    Ok(t.unix_timestamp_nanos() as f64 / 1e9)
}

impl Filter {
    fn from_args(a: &FilterArgs) -> Result<Filter, String> {
        Ok(Filter {
            key: a.key.clone(),
            principal: a.principal.clone(),
            events: a.event.clone(),
            since: a
                .since
                .as_deref()
                .map(|s| parse_time(s, "--since"))
                .transpose()?,
            until: a
                .until
                .as_deref()
                .map(|s| parse_time(s, "--until"))
                .transpose()?,
            digests: a.digests,
        })
    }

    fn matches(&self, r: &Value) -> bool {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
        let event = s("event");
        if event == audit_chain::DIGEST_EVENT && !self.digests {
            return false;
        }
        if !self.events.is_empty() && !self.events.iter().any(|e| e == event) {
            return false;
        }
        if let Some(k) = &self.key {
            let arn = s("key_arn");
            let matches = arn == k || arn.rsplit_once("key/").is_some_and(|(_, id)| id == k);
            if !matches {
                return false;
            }
        }
        if let Some(p) = &self.principal {
            let arn = s("principal");
            if arn != p && !arn.ends_with(&format!(":{p}")) {
                return false;
            }
        }
        let epoch = r.get("epoch").and_then(Value::as_f64).unwrap_or(0.0);
        if self.since.is_some_and(|t| epoch < t) || self.until.is_some_and(|t| epoch >= t) {
            return false;
        }
        true
    }
}

fn print(args: &FilterArgs) -> Result<(), String> {
    let filter = Filter::from_args(args)?;
    let several = args.dir.data_dir.len() > 1;
    // (epoch, node, line): one node's records in file order, several nodes' merged by time.
    let mut records: Vec<(f64, String, Value, String)> = Vec::new();
    for data_dir in &args.dir.data_dir {
        let dir = log_dir(data_dir);
        let files = audit_chain::log_files(&dir, DEFAULT_FILE_NAME)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        if files.is_empty() {
            return Err(format!("no audit log in {}", dir.display()));
        }
        let node = data_dir.display().to_string();
        for file in files {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            for line in text.lines() {
                let Ok(r) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                if filter.matches(&r) {
                    let epoch = r.get("epoch").and_then(Value::as_f64).unwrap_or(0.0);
                    records.push((epoch, node.clone(), r, line.to_owned()));
                }
            }
        }
    }
    if several {
        records.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let mut out = std::io::stdout().lock();
    use std::io::Write as _;
    if args.format == Format::Table {
        let node = if several { "NODE " } else { "" };
        let _ = writeln!(
            out,
            "{node}{:<8} {:<31} {:<32} {:<8} {:<36} {:<40} ERROR",
            "SEQ", "TIME", "EVENT", "OUTCOME", "KEY", "PRINCIPAL"
        );
    }
    for (_, node, mut r, line) in records {
        let res = match (args.format, several) {
            (Format::Json, false) => writeln!(out, "{line}"),
            (Format::Json, true) => {
                r["node"] = Value::String(node);
                writeln!(out, "{r}")
            }
            (Format::Table, false) => writeln!(out, "{}", table_row(&r)),
            (Format::Table, true) => writeln!(out, "{node} {}", table_row(&r)),
        };
        if res.is_err() {
            // Closed pipe (e.g. `| head`): stop quietly.
            return Ok(());
        }
    }
    Ok(())
}

fn table_row(r: &Value) -> String {
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    let key = s("key_arn");
    let key = key
        .rsplit_once("key/")
        .map(|(_, id)| id.to_string())
        .unwrap_or(key);
    let outcome = if r.get("event").and_then(Value::as_str) == Some(audit_chain::DIGEST_EVENT) {
        "signed".to_string()
    } else {
        s("outcome")
    };
    format!(
        "{:<8} {:<31} {:<32} {:<8} {:<36} {:<40} {}",
        r.get("seq")
            .and_then(Value::as_u64)
            .map(|n| n.to_string())
            .unwrap_or_default(),
        s("time"),
        s("event"),
        outcome,
        key,
        s("principal"),
        r.get("error_code").and_then(Value::as_str).unwrap_or("")
    )
}
