//! One validated `Config` from a TOML file, `SEALGATE_*` environment variables and flags.
//!
//! Precedence is flag > environment > file > default; clap gives us the first two (every flag
//! has an `env` twin), and the file fills in whatever neither named.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

/// Options of `sealgate serve`. Every flag has a `SEALGATE_*` twin and a TOML key of the same
/// name with `_` for `-`.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "SEALGATE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Data directory: objects (local backend), KMS database, keys, certificate, credentials.
    #[arg(long, env = "SEALGATE_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// HTTPS S3 API address [default: 127.0.0.1:9443].
    #[arg(long, env = "SEALGATE_S3_LISTEN")]
    pub(crate) s3_listen: Option<SocketAddr>,
    /// Plain-HTTP S3 API address (off unless given; SSE-C is refused there).
    #[arg(long, env = "SEALGATE_HTTP_LISTEN")]
    pub(crate) http_listen: Option<SocketAddr>,
    /// HTTPS KMS API address [default: 127.0.0.1:9444].
    #[arg(long, env = "SEALGATE_KMS_LISTEN")]
    pub(crate) kms_listen: Option<SocketAddr>,
    /// Prometheus /metrics address (plain HTTP), or `off` [default: 127.0.0.1:9445].
    #[arg(long, env = "SEALGATE_METRICS_LISTEN")]
    pub(crate) metrics_listen: Option<String>,
    /// Use a remote AWS-KMS-compatible endpoint instead of the embedded KMS; several nodes of
    /// one KMS as a comma-separated list (calls are spread and fail over). The gateway signs
    /// with SEALGATE_KMS_ACCESS_KEY/SEALGATE_KMS_SECRET_KEY, else its root credential.
    #[arg(long, env = "SEALGATE_KMS_ENDPOINT")]
    pub(crate) kms_endpoint: Option<String>,
    /// CA certificate (PEM) that signed the remote KMS's TLS certificate (with --kms-endpoint).
    #[arg(long, env = "SEALGATE_KMS_CA_FILE")]
    pub(crate) kms_ca_file: Option<PathBuf>,
    /// The KMS's key database: `postgres://user[:password]@host[:port]/db[?sslmode=require]`
    /// (several KMS nodes may share it; `sslrootcert=FILE` names the CA to verify the server
    /// with) [default: SQLite in the KMS data directory].
    #[arg(long, env = "SEALGATE_KMS_DB")]
    pub(crate) kms_db: Option<String>,
    /// Storage backend: `local` (alias `fs`, under the data dir), `s3` (any S3-compatible
    /// service), `gcs` or `azure` [default: local]. With a remote backend the gateway keeps no
    /// object state locally, so several gateways may share the backend. Backend credentials:
    /// SEALGATE_BACKEND_ACCESS_KEY/SEALGATE_BACKEND_SECRET_KEY, else the AWS_* variables (s3);
    /// GOOGLE_* (gcs) and AZURE_* (azure) variables as object_store reads them.
    #[arg(long, env = "SEALGATE_BACKEND")]
    pub(crate) backend: Option<String>,
    /// S3 backend endpoint URL (with --backend s3).
    #[arg(long, env = "SEALGATE_BACKEND_ENDPOINT")]
    pub(crate) backend_endpoint: Option<String>,
    /// S3 backend bucket (with --backend s3).
    #[arg(long, env = "SEALGATE_BACKEND_BUCKET")]
    pub(crate) backend_bucket: Option<String>,
    /// S3 backend region (with --backend s3).
    #[arg(long, env = "SEALGATE_BACKEND_REGION")]
    pub(crate) backend_region: Option<String>,
    /// Key prefix inside the backend bucket under which sealgate keeps everything.
    #[arg(long, env = "SEALGATE_BACKEND_PREFIX")]
    pub(crate) backend_prefix: Option<String>,
    /// Seconds one backend response (or body read) may take before the request fails with
    /// 503 [default: 30].
    #[arg(long, env = "SEALGATE_BACKEND_TIMEOUT")]
    pub(crate) backend_timeout: Option<u64>,
    /// Region this gateway answers for [default: us-east-1].
    #[arg(long, env = "SEALGATE_REGION")]
    pub(crate) region: Option<String>,
    /// Account id used in ARNs [default: 000000000000].
    #[arg(long, env = "SEALGATE_ACCOUNT_ID")]
    pub(crate) account_id: Option<String>,
    /// Domain suffixes for virtual-hosted-style requests, comma separated [default: s3.localhost].
    #[arg(long, env = "SEALGATE_VIRTUAL_HOST_SUFFIXES", value_delimiter = ',')]
    pub(crate) virtual_host_suffixes: Option<Vec<String>>,
    /// Skip fsync of data and meta records (faster; a crash may lose acknowledged writes).
    #[arg(long, env = "SEALGATE_NO_FSYNC")]
    pub(crate) no_fsync: bool,
    /// Buckets whose objects are stored WITHOUT encryption when a request names none, comma
    /// separated. For benchmarks and demonstrations only.
    #[arg(long, env = "SEALGATE_PLAINTEXT_BUCKETS", value_delimiter = ',')]
    pub(crate) plaintext_buckets: Option<Vec<String>>,
    /// TLS-terminating proxies (IPs or CIDR blocks, comma separated) whose plain-HTTP requests
    /// with `X-Forwarded-Proto: https` / `Forwarded: proto=https` count as TLS for SSE-C
    /// [default: none].
    #[arg(long, env = "SEALGATE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub(crate) trusted_proxies: Option<Vec<String>>,
    /// PKCS#11 module (shared library) of the HSM behind custom key stores [default: none].
    /// The token PIN is not configured here: it is CreateCustomKeyStore's KeyStorePassword.
    #[arg(long, env = "SEALGATE_HSM_MODULE")]
    pub(crate) hsm_module: Option<PathBuf>,
    /// How long data that lost its object (overwritten, deleted, crash leftovers, staging
    /// files) is kept before the sweep deletes it, so reads that started before finish; a
    /// duration such as `900`, `30s`, `15m`, `2h`, `1d` [default: 15m].
    #[arg(long, env = "SEALGATE_SWEEP_GRACE")]
    pub(crate) sweep_grace: Option<String>,
    /// How often the sweep runs (it also runs on SIGUSR1) [default: 1h].
    #[arg(long, env = "SEALGATE_SWEEP_INTERVAL")]
    pub(crate) sweep_interval: Option<String>,
    /// Multipart uploads with no activity for this long are aborted by the sweep, their parts
    /// deleted [default: 7d].
    #[arg(long, env = "SEALGATE_ABORT_INCOMPLETE_UPLOADS_AFTER")]
    pub(crate) abort_incomplete_uploads_after: Option<String>,
    /// Principal ARNs (comma separated) whose KMS API calls are the gateway service's own:
    /// only they may use the service-owned keys (`alias/sealgate/sse-s3`, `alias/aws/s3`) on
    /// the KMS API. List the credential remote gateways sign with [default: none].
    #[arg(long, env = "SEALGATE_KMS_SERVICE_PRINCIPALS", value_delimiter = ',')]
    pub(crate) kms_service_principals: Option<Vec<String>>,
    /// Further Regions (comma separated) the KMS serves besides `--region`, where replica
    /// keys of multi-Region keys live; a KMS request's Region is its SigV4 credential
    /// scope's [default: none].
    #[arg(long, env = "SEALGATE_KMS_REGIONS", value_delimiter = ',')]
    pub(crate) kms_regions: Option<Vec<String>>,
    /// Most connections open at once over all listeners; at the cap the longest-idle
    /// connection is closed to make room [default: derived from the open-file limit, which is
    /// raised to its hard limit at start: three quarters of it, at most 4096 below it].
    #[arg(long, env = "SEALGATE_MAX_CONNECTIONS")]
    pub(crate) max_connections: Option<usize>,
    /// Single-part objects of at most this many bytes, with their size known up front, keep
    /// their sealed data inside their meta record instead of a blob file (one file, two
    /// fsyncs per PUT); 0 turns it off; at most 1048576 [default: 16384].
    #[arg(long, env = "SEALGATE_INLINE_MAX_BYTES")]
    pub(crate) inline_max_bytes: Option<u64>,
    /// What a new bucket starts with: `aws` (as AWS since April 2023: all four Block Public
    /// Access flags on, Object Ownership BucketOwnerEnforced, ACLs disabled) or `legacy` (no
    /// Block Public Access, ObjectWriter, as older S3 services) [default: aws].
    #[arg(long, env = "SEALGATE_BUCKET_DEFAULTS")]
    pub(crate) bucket_defaults: Option<String>,
}

/// `kms_db`: a PostgreSQL URL, which may hold a password, so its `Debug` shows none of it.
#[derive(Clone)]
pub(crate) struct KmsDbUrl(pub(crate) String);

impl std::fmt::Debug for KmsDbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KmsDbUrl(postgres://…)")
    }
}

/// Where `/metrics` is served unless configured otherwise.
pub(crate) const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9445";

/// The TOML file: the same names as the flags, plus the users table.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    s3_listen: Option<SocketAddr>,
    http_listen: Option<SocketAddr>,
    kms_listen: Option<SocketAddr>,
    metrics_listen: Option<String>,
    kms_endpoint: Option<String>,
    kms_ca_file: Option<PathBuf>,
    kms_db: Option<String>,
    backend: Option<String>,
    backend_endpoint: Option<String>,
    backend_bucket: Option<String>,
    backend_region: Option<String>,
    backend_prefix: Option<String>,
    backend_timeout: Option<u64>,
    backend_access_key: Option<String>,
    backend_secret_key: Option<String>,
    region: Option<String>,
    account_id: Option<String>,
    virtual_host_suffixes: Option<Vec<String>>,
    no_fsync: Option<bool>,
    plaintext_buckets: Option<Vec<String>>,
    trusted_proxies: Option<Vec<String>>,
    hsm_module: Option<PathBuf>,
    sweep_grace: Option<String>,
    sweep_interval: Option<String>,
    abort_incomplete_uploads_after: Option<String>,
    kms_service_principals: Option<Vec<String>>,
    kms_regions: Option<Vec<String>>,
    max_connections: Option<usize>,
    inline_max_bytes: Option<u64>,
    bucket_defaults: Option<String>,
    kms_quorum: Option<QuorumConfig>,
    #[serde(default)]
    users: Vec<UserConfig>,
}

/// `[kms_quorum]`: the two-person rule of the KMS (docs/KMS.md "Two-person rule").
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct QuorumConfig {
    operations: Vec<String>,
    /// Distinct principals other than the requester [default: 1].
    approvals: Option<u32>,
    /// How long a request may wait for its approvals and its execution [default: 24h].
    expires_after: Option<String>,
}

const DEFAULT_QUORUM_EXPIRY: Duration = Duration::from_secs(24 * 3600);

/// `[kms_quorum]` with its defaults applied; `kms::QuorumPolicy::new` validates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KmsQuorum {
    pub(crate) operations: Vec<String>,
    pub(crate) approvals: u32,
    pub(crate) expires_after: Duration,
}

/// A user: an access-key pair with a principal name and an optional IAM identity policy (JSON).
/// `account_id` puts the user in another account than the gateway's (the root user's); with
/// `name = "root"` the user is that account's root user (every right on its own buckets).
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserConfig {
    pub(crate) name: String,
    pub(crate) access_key: String,
    pub(crate) secret_key: String,
    pub(crate) policy: Option<String>,
    #[serde(default)]
    pub(crate) account_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Local,
    /// An S3-compatible service, GCS or Azure (see `store::backend`).
    Remote(crate::store::backend::RemoteBackend),
}

/// The validated configuration the server runs with.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) data_dir: PathBuf,
    pub(crate) s3_listen: SocketAddr,
    pub(crate) http_listen: Option<SocketAddr>,
    pub(crate) kms_listen: SocketAddr,
    /// The /metrics listener; `None` when configured `off`.
    pub(crate) metrics_listen: Option<SocketAddr>,
    /// True when `metrics_listen` is the built-in default (nobody asked for it): a busy
    /// default port then only disables metrics instead of failing the start.
    pub(crate) metrics_listen_is_default: bool,
    pub(crate) kms_endpoint: Option<String>,
    pub(crate) kms_ca_file: Option<PathBuf>,
    /// The embedded (or `sealgate kms`) KMS's PostgreSQL database; `None`: SQLite.
    pub(crate) kms_db: Option<KmsDbUrl>,
    pub(crate) backend: Backend,
    pub(crate) region: String,
    pub(crate) account_id: String,
    pub(crate) virtual_host_suffixes: Vec<String>,
    pub(crate) fsync: bool,
    /// Buckets stored unencrypted when a request names no encryption (comparison only).
    pub(crate) plaintext_buckets: Vec<String>,
    /// Peers whose forwarded-https header counts as TLS for SSE-C (empty: none).
    pub(crate) trusted_proxies: crate::server::proxy::TrustedProxies,
    /// PKCS#11 module of custom key stores (embedded KMS).
    pub(crate) hsm_module: Option<PathBuf>,
    /// What the background sweep reclaims and when.
    pub(crate) sweep: crate::store::SweepPolicy,
    /// Time between two sweeps (never zero).
    pub(crate) sweep_interval: Duration,
    /// Signing principals of the gateway service on the KMS API (remote gateways).
    pub(crate) kms_service_principals: Vec<String>,
    /// Regions the KMS serves besides `region` (multi-Region replica keys).
    pub(crate) kms_regions: Vec<String>,
    /// The connection cap over all listeners; `None`: derived from the open-file limit.
    pub(crate) max_connections: Option<usize>,
    /// Largest single-part object kept inline in its record (0: none).
    pub(crate) inline_max_bytes: u64,
    /// Block Public Access and Object Ownership of new buckets.
    pub(crate) bucket_defaults: BucketDefaults,
    /// The KMS's two-person rule (config file only; the KMS checks the operation names).
    pub(crate) kms_quorum: Option<KmsQuorum>,
    pub(crate) users: Vec<UserConfig>,
}

/// What a new bucket starts with (`--bucket-defaults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum BucketDefaults {
    /// AWS since April 2023: all four Block Public Access flags on, BucketOwnerEnforced.
    #[default]
    Aws,
    /// Older S3 services (and test suites written for them): no Block Public Access,
    /// ObjectWriter (ACLs enabled).
    Legacy,
}

impl BucketDefaults {
    fn parse(value: &str) -> Result<Self, ConfigError> {
        match value.trim() {
            "aws" => Ok(Self::Aws),
            "legacy" => Ok(Self::Legacy),
            other => Err(ConfigError::Invalid(format!(
                "bucket_defaults must be aws or legacy, got {other:?}"
            ))),
        }
    }
}

/// Defaults of the sweep options (see `store::sweep` for what they protect).
pub(crate) const DEFAULT_SWEEP_GRACE: Duration = Duration::from_secs(15 * 60);
pub(crate) const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(3600);
pub(crate) const DEFAULT_ABORT_UPLOADS_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);
/// Single-part objects up to this size are kept inline in their record (docs/STORAGE.md).
pub(crate) const DEFAULT_INLINE_MAX_BYTES: u64 = 16 * 1024;
/// An inline part is sealed in memory and its record is read whole by every HEAD and listing
/// of versions, so the limit stays small.
const MAX_INLINE_MAX_BYTES: u64 = 1024 * 1024;

/// Parses a duration option: a number of seconds, or a number with one of the units `s`,
/// `m`, `h`, `d`.
fn parse_duration(name: &str, value: &str) -> Result<Duration, ConfigError> {
    let v = value.trim();
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let bad = || {
        ConfigError::Invalid(format!(
            "{name} must be a duration such as 30s, 15m, 2h or 7d, got {value:?}"
        ))
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(unit_secs)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

fn duration_option(
    name: &str,
    value: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    value.map_or(Ok(default), |v| parse_duration(name, &v))
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    pub(crate) fn load(args: &ServeArgs) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let backend_kind = args
            .backend
            .clone()
            .or(file.backend)
            .unwrap_or_else(|| "local".into());
        let backend = match backend_kind.as_str() {
            "local" | "fs" => Backend::Local,
            "s3" | "gcs" | "azure" => {
                use crate::store::backend::{DEFAULT_TIMEOUT, RemoteKind};
                let kind = match backend_kind.as_str() {
                    "s3" => RemoteKind::S3,
                    "gcs" => RemoteKind::Gcs,
                    _ => RemoteKind::Azure,
                };
                let bucket = args
                    .backend_bucket
                    .clone()
                    .or(file.backend_bucket)
                    .ok_or_else(|| {
                        ConfigError::Invalid(format!(
                            "--backend {backend_kind} needs --backend-bucket"
                        ))
                    })?;
                let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
                let access_key = env("SEALGATE_BACKEND_ACCESS_KEY").or(file.backend_access_key);
                let secret_key = env("SEALGATE_BACKEND_SECRET_KEY").or(file.backend_secret_key);
                if access_key.is_some() != secret_key.is_some() {
                    return Err(ConfigError::Invalid(
                        "backend access key and secret key must be given together".into(),
                    ));
                }
                let timeout = match args.backend_timeout.or(file.backend_timeout) {
                    Some(0) => {
                        return Err(ConfigError::Invalid(
                            "backend_timeout must be at least 1 second".into(),
                        ));
                    }
                    Some(s) => std::time::Duration::from_secs(s),
                    None => DEFAULT_TIMEOUT,
                };
                Backend::Remote(crate::store::backend::RemoteBackend {
                    kind,
                    bucket,
                    endpoint: args.backend_endpoint.clone().or(file.backend_endpoint),
                    region: args.backend_region.clone().or(file.backend_region),
                    prefix: args.backend_prefix.clone().or(file.backend_prefix),
                    access_key,
                    secret_key,
                    timeout,
                })
            }
            other => {
                return Err(ConfigError::Invalid(format!(
                    "unknown backend {other:?} (expected local, s3, gcs or azure)"
                )));
            }
        };
        let account_id = args
            .account_id
            .clone()
            .or(file.account_id)
            .unwrap_or_else(|| "000000000000".into());
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Invalid(format!(
                "account id must be 12 digits, got {account_id:?}"
            )));
        }
        let metrics_given = args.metrics_listen.clone().or(file.metrics_listen);
        let metrics_listen_is_default = metrics_given.is_none();
        let metrics_listen = match metrics_given.as_deref().map(str::trim) {
            None => Some(DEFAULT_METRICS_LISTEN.parse().expect("valid default")),
            Some(v) if v.eq_ignore_ascii_case("off") => None,
            Some(v) => Some(v.parse().map_err(|_| {
                ConfigError::Invalid(format!(
                    "metrics_listen must be an address (host:port) or off, got {v:?}"
                ))
            })?),
        };
        let sweep = crate::store::SweepPolicy {
            keep_completions: std::time::Duration::from_millis(
                crate::meta::COMPLETION_WINDOW_MS as u64,
            ),
            grace: duration_option(
                "sweep_grace",
                args.sweep_grace.clone().or(file.sweep_grace),
                DEFAULT_SWEEP_GRACE,
            )?,
            abort_uploads_after: duration_option(
                "abort_incomplete_uploads_after",
                args.abort_incomplete_uploads_after
                    .clone()
                    .or(file.abort_incomplete_uploads_after),
                DEFAULT_ABORT_UPLOADS_AFTER,
            )?,
        };
        let sweep_interval = duration_option(
            "sweep_interval",
            args.sweep_interval.clone().or(file.sweep_interval),
            DEFAULT_SWEEP_INTERVAL,
        )?;
        if sweep_interval.is_zero() {
            return Err(ConfigError::Invalid(
                "sweep_interval must be at least 1s".into(),
            ));
        }
        let max_connections = args.max_connections.or(file.max_connections);
        let inline_max_bytes = args
            .inline_max_bytes
            .or(file.inline_max_bytes)
            .unwrap_or(DEFAULT_INLINE_MAX_BYTES);
        if inline_max_bytes > MAX_INLINE_MAX_BYTES {
            return Err(ConfigError::Invalid(format!(
                "inline_max_bytes must be at most {MAX_INLINE_MAX_BYTES}"
            )));
        }
        if max_connections == Some(0) {
            return Err(ConfigError::Invalid(
                "max_connections must be at least 1".into(),
            ));
        }
        let kms_db = args.kms_db.clone().or(file.kms_db).map(KmsDbUrl);
        if let Some(url) = &kms_db {
            // The KMS parses the rest when it connects (`kms::db::KmsDb`).
            if !url.0.starts_with("postgres://") && !url.0.starts_with("postgresql://") {
                return Err(ConfigError::Invalid(
                    "kms_db takes a postgres://user@host:port/database URL (without it the KMS \
                     uses SQLite in its data directory)"
                        .into(),
                ));
            }
            if args.kms_endpoint.is_some() || file.kms_endpoint.is_some() {
                return Err(ConfigError::Invalid(
                    "kms_db configures the embedded KMS; a gateway with kms_endpoint has none"
                        .into(),
                ));
            }
        }
        let cfg = Config {
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("sealgate-data")),
            s3_listen: args
                .s3_listen
                .or(file.s3_listen)
                .unwrap_or_else(|| "127.0.0.1:9443".parse().expect("valid default")),
            http_listen: args.http_listen.or(file.http_listen),
            kms_listen: args
                .kms_listen
                .or(file.kms_listen)
                .unwrap_or_else(|| "127.0.0.1:9444".parse().expect("valid default")),
            metrics_listen,
            metrics_listen_is_default,
            kms_endpoint: args.kms_endpoint.clone().or(file.kms_endpoint),
            kms_ca_file: args.kms_ca_file.clone().or(file.kms_ca_file),
            kms_db,
            backend,
            region: args
                .region
                .clone()
                .or(file.region)
                .unwrap_or_else(|| "us-east-1".into()),
            account_id,
            virtual_host_suffixes: args
                .virtual_host_suffixes
                .clone()
                .or(file.virtual_host_suffixes)
                .unwrap_or_else(|| vec!["s3.localhost".into()]),
            fsync: !(args.no_fsync || file.no_fsync.unwrap_or(false)),
            plaintext_buckets: args
                .plaintext_buckets
                .clone()
                .or(file.plaintext_buckets)
                .unwrap_or_default(),
            trusted_proxies: crate::server::proxy::TrustedProxies::parse(
                &args
                    .trusted_proxies
                    .clone()
                    .or(file.trusted_proxies)
                    .unwrap_or_default(),
            )
            .map_err(ConfigError::Invalid)?,
            hsm_module: args.hsm_module.clone().or(file.hsm_module),
            sweep,
            sweep_interval,
            kms_service_principals: args
                .kms_service_principals
                .clone()
                .or(file.kms_service_principals)
                .unwrap_or_default(),
            kms_regions: args
                .kms_regions
                .clone()
                .or(file.kms_regions)
                .unwrap_or_default(),
            max_connections,
            inline_max_bytes,
            bucket_defaults: match args.bucket_defaults.clone().or(file.bucket_defaults) {
                Some(v) => BucketDefaults::parse(&v)?,
                None => BucketDefaults::Aws,
            },
            kms_quorum: file
                .kms_quorum
                .map(|q| {
                    Ok::<_, ConfigError>(KmsQuorum {
                        operations: q.operations,
                        approvals: q.approvals.unwrap_or(1),
                        expires_after: duration_option(
                            "kms_quorum.expires_after",
                            q.expires_after,
                            DEFAULT_QUORUM_EXPIRY,
                        )?,
                    })
                })
                .transpose()?,
            users: file.users,
        };
        for u in &cfg.users {
            if u.access_key.is_empty() || u.secret_key.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "user {:?} needs access_key and secret_key",
                    u.name
                )));
            }
            if let Some(a) = &u.account_id
                && (a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(ConfigError::Invalid(format!(
                    "user {:?}: account_id must be 12 digits, got {a:?}",
                    u.name
                )));
            }
            if u.name == "root" && u.account_id.as_deref().is_none_or(|a| a == cfg.account_id) {
                return Err(ConfigError::Invalid(
                    "a user named \"root\" must be in another account (account_id): the gateway's account has its root already".into(),
                ));
            }
        }
        Ok(cfg)
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_ones() {
        let cfg = Config::load(&ServeArgs::default()).unwrap();
        assert_eq!(cfg.s3_listen.to_string(), "127.0.0.1:9443");
        assert_eq!(cfg.kms_listen.to_string(), "127.0.0.1:9444");
        assert_eq!(cfg.region, "us-east-1");
        assert_eq!(cfg.account_id, "000000000000");
        assert_eq!(cfg.backend, Backend::Local);
        assert!(cfg.http_listen.is_none());
        assert!(cfg.fsync);
    }

    #[test]
    fn file_values_apply_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "region = \"eu-west-1\"\naccount_id = \"123456789012\"\nkms_service_principals = [\"arn:aws:iam::123456789012:user/gw\"]\n[[users]]\nname = \"alice\"\naccess_key = \"AK\"\nsecret_key = \"SK\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            region: Some("ap-south-1".into()),
            ..Default::default()
        };
        let cfg = Config::load(&args).unwrap();
        assert_eq!(cfg.region, "ap-south-1");
        assert_eq!(cfg.account_id, "123456789012");
        assert_eq!(cfg.users[0].name, "alice");
        assert_eq!(
            cfg.kms_service_principals,
            ["arn:aws:iam::123456789012:user/gw"]
        );

        std::fs::write(&path, "bogus = 1\n").unwrap();
        assert!(matches!(
            Config::load(&args),
            Err(ConfigError::Parse { .. })
        ));
    }

    /// `kms_db` from the file, and what it refuses.
    #[test]
    fn kms_db_postgres_url() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let url = "postgres://kms:secret@db.example:5433/keys?sslmode=require";
        std::fs::write(&path, format!("kms_db = \"{url}\"\n")).unwrap();
        let mut args = ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        };
        let cfg = Config::load(&args).unwrap();
        assert_eq!(cfg.kms_db.as_ref().map(|u| u.0.as_str()), Some(url));
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains("secret"),
            "the password is not shown: {shown}"
        );
        assert!(
            Config::load(&ServeArgs::default())
                .unwrap()
                .kms_db
                .is_none()
        );

        args.kms_db = Some("/var/lib/kms.sqlite3".into());
        assert!(matches!(Config::load(&args), Err(ConfigError::Invalid(_))));
        args.kms_db = None;
        args.kms_endpoint = Some("https://kms.example:9444".into());
        assert!(matches!(Config::load(&args), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn user_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let args = ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        };
        let user = |name: &str, account: &str| {
            format!(
                "[[users]]\nname = \"{name}\"\naccess_key = \"AK{name}\"\nsecret_key = \"SK\"\n{account}"
            )
        };
        std::fs::write(
            &path,
            user("bob", "account_id = \"222222222222\"\n")
                + &user("root", "account_id = \"222222222222\"\n"),
        )
        .unwrap();
        let cfg = Config::load(&args).unwrap();
        assert_eq!(cfg.users[0].account_id.as_deref(), Some("222222222222"));
        for bad in [
            user("bob", "account_id = \"12\"\n"),
            user("root", ""),
            user("root", "account_id = \"000000000000\"\n"),
        ] {
            std::fs::write(&path, &bad).unwrap();
            assert!(
                matches!(Config::load(&args), Err(ConfigError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn metrics_listen_default_off_and_address() {
        let cfg = Config::load(&ServeArgs::default()).unwrap();
        assert_eq!(
            cfg.metrics_listen.map(|a| a.to_string()).as_deref(),
            Some(DEFAULT_METRICS_LISTEN)
        );
        assert!(cfg.metrics_listen_is_default);
        let with = |v: &str| {
            Config::load(&ServeArgs {
                metrics_listen: Some(v.into()),
                ..Default::default()
            })
        };
        let off = with("off").unwrap();
        assert!(off.metrics_listen.is_none() && !off.metrics_listen_is_default);
        assert_eq!(
            with("127.0.0.1:0").unwrap().metrics_listen,
            Some("127.0.0.1:0".parse().unwrap())
        );
        assert!(matches!(with("nowhere"), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn hsm_module_from_file_and_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "hsm_module = \"/opt/hsm/libfile.so\"\n").unwrap();
        let from_file = Config::load(&ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            from_file.hsm_module,
            Some(PathBuf::from("/opt/hsm/libfile.so"))
        );
        let from_flag = Config::load(&ServeArgs {
            config: Some(path),
            hsm_module: Some("/opt/hsm/libflag.so".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            from_flag.hsm_module,
            Some(PathBuf::from("/opt/hsm/libflag.so"))
        );
        assert_eq!(
            Config::load(&ServeArgs::default()).unwrap().hsm_module,
            None
        );
    }

    #[test]
    fn kms_quorum_table_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let load = |toml: &str| {
            let path = dir.path().join("q.toml");
            std::fs::write(&path, toml).unwrap();
            Config::load(&ServeArgs {
                config: Some(path),
                ..Default::default()
            })
        };
        let cfg = load("[kms_quorum]\noperations = [\"ScheduleKeyDeletion\"]\n").unwrap();
        assert_eq!(
            cfg.kms_quorum,
            Some(KmsQuorum {
                operations: vec!["ScheduleKeyDeletion".into()],
                approvals: 1,
                expires_after: Duration::from_secs(86_400),
            })
        );
        let cfg = load(
            "[kms_quorum]\noperations = [\"DisableKey\"]\napprovals = 2\nexpires_after = \"30m\"\n",
        )
        .unwrap()
        .kms_quorum
        .unwrap();
        assert_eq!(
            (cfg.approvals, cfg.expires_after),
            (2, Duration::from_secs(1800))
        );
        assert_eq!(
            Config::load(&ServeArgs::default()).unwrap().kms_quorum,
            None
        );
        assert!(matches!(
            load("[kms_quorum]\noperations = [\"DisableKey\"]\nexpires_after = \"soon\"\n"),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            load("[kms_quorum]\noperation = [\"DisableKey\"]\n"),
            Err(ConfigError::Parse { .. })
        ));
    }

    #[test]
    fn sweep_options_parse_with_units_and_defaults() {
        let cfg = Config::load(&ServeArgs::default()).unwrap();
        assert_eq!(cfg.sweep.grace, Duration::from_secs(900));
        assert_eq!(
            cfg.sweep.abort_uploads_after,
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(cfg.sweep_interval, Duration::from_secs(3600));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "sweep_grace = \"2h\"\nsweep_interval = \"90\"\nabort_incomplete_uploads_after = \"1d\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path),
            sweep_grace: Some("0s".into()),
            ..Default::default()
        };
        let cfg = Config::load(&args).unwrap();
        assert_eq!(cfg.sweep.grace, Duration::ZERO, "the flag wins");
        assert_eq!(cfg.sweep_interval, Duration::from_secs(90));
        assert_eq!(cfg.sweep.abort_uploads_after, Duration::from_secs(86_400));

        for (grace, interval) in [("15x", "1h"), ("m", "1h"), ("-1s", "1h"), ("1s", "0s")] {
            let args = ServeArgs {
                sweep_grace: Some(grace.into()),
                sweep_interval: Some(interval.into()),
                ..Default::default()
            };
            assert!(
                matches!(Config::load(&args), Err(ConfigError::Invalid(_))),
                "{grace} {interval}"
            );
        }
    }

    #[test]
    fn inline_max_bytes_from_file_and_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "inline_max_bytes = 0\n").unwrap();
        let file_args = ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        };
        assert_eq!(Config::load(&file_args).unwrap().inline_max_bytes, 0);
        let flag = ServeArgs {
            inline_max_bytes: Some(4096),
            ..file_args
        };
        assert_eq!(Config::load(&flag).unwrap().inline_max_bytes, 4096);
        assert_eq!(
            Config::load(&ServeArgs::default())
                .unwrap()
                .inline_max_bytes,
            16384
        );
        let huge = ServeArgs {
            inline_max_bytes: Some(MAX_INLINE_MAX_BYTES + 1),
            ..Default::default()
        };
        assert!(matches!(Config::load(&huge), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn max_connections_from_file_and_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "max_connections = 300\n").unwrap();
        let file_args = ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        };
        assert_eq!(Config::load(&file_args).unwrap().max_connections, Some(300));
        let flag = ServeArgs {
            max_connections: Some(50),
            ..file_args
        };
        assert_eq!(Config::load(&flag).unwrap().max_connections, Some(50));
        assert_eq!(
            Config::load(&ServeArgs::default()).unwrap().max_connections,
            None
        );
        let zero = ServeArgs {
            max_connections: Some(0),
            ..Default::default()
        };
        assert!(matches!(Config::load(&zero), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn bucket_defaults_from_file_and_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "bucket_defaults = \"legacy\"\n").unwrap();
        let file_args = ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        };
        let load = |a: &ServeArgs| Config::load(a).map(|c| c.bucket_defaults);
        assert_eq!(load(&file_args).unwrap(), BucketDefaults::Legacy);
        let flag = ServeArgs {
            bucket_defaults: Some("aws".into()),
            ..file_args
        };
        assert_eq!(load(&flag).unwrap(), BucketDefaults::Aws);
        assert_eq!(load(&ServeArgs::default()).unwrap(), BucketDefaults::Aws);
        let bad = ServeArgs {
            bucket_defaults: Some("open".into()),
            ..Default::default()
        };
        assert!(matches!(load(&bad), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn bad_values_are_refused() {
        let args = ServeArgs {
            account_id: Some("12".into()),
            ..Default::default()
        };
        assert!(Config::load(&args).is_err());
        let args = ServeArgs {
            backend: Some("s3".into()),
            ..Default::default()
        };
        assert!(Config::load(&args).is_err());
    }

    #[test]
    fn s3_backend_from_file_and_flags() {
        use crate::store::backend::{RemoteBackend, RemoteKind};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "backend = \"s3\"\nbackend_endpoint = \"http://127.0.0.1:9000\"\nbackend_bucket = \"b1\"\nbackend_prefix = \"gw/\"\nbackend_timeout = 5\nbackend_access_key = \"AK\"\nbackend_secret_key = \"SK\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            backend_bucket: Some("b2".into()),
            ..Default::default()
        };
        let Backend::Remote(b) = Config::load(&args).unwrap().backend else {
            panic!("remote backend expected");
        };
        assert_eq!(
            b,
            RemoteBackend {
                kind: RemoteKind::S3,
                bucket: "b2".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: None,
                prefix: Some("gw/".into()),
                access_key: Some("AK".into()),
                secret_key: Some("SK".into()),
                timeout: std::time::Duration::from_secs(5),
            }
        );
        std::fs::write(
            &path,
            "backend = \"s3\"\nbackend_bucket = \"b\"\nbackend_access_key = \"AK\"\n",
        )
        .unwrap();
        assert!(
            Config::load(&args).is_err(),
            "an access key without its secret is refused"
        );
        let args = ServeArgs {
            backend: Some("ftp".into()),
            ..Default::default()
        };
        assert!(Config::load(&args).is_err());
        let args = ServeArgs {
            backend: Some("fs".into()),
            ..Default::default()
        };
        assert_eq!(Config::load(&args).unwrap().backend, Backend::Local);
    }
}
