//! The serving loop: from a validated `Config` to running listeners (S3, KMS, metrics), the
//! background work (KMS rotations and deletions, the storage sweep, lifecycle rules), and
//! shutdown on a signal.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::gateway::{Gateway, StartError};
use crate::identity::Identities;
use crate::kms::http::KmsHttp;
use crate::kms::{Clock, KmsConfig, KmsService, QuorumPolicy, SystemClock, TestClock};
use crate::server::{self, ConnLimit, ConnStats, Limits, fdlimit, tls};

/// Opens the embedded KMS in `<data dir>/kms`, on a blocking thread: its key store may be a
/// PostgreSQL database, whose synchronous client must not run on an async worker.
async fn open_kms(cfg: &Config) -> Result<(KmsService, Option<Arc<TestClock>>), StartError> {
    let cfg = cfg.clone();
    tokio::task::spawn_blocking(move || open_kms_blocking(&cfg))
        .await
        .map_err(|e| StartError::Unsupported(format!("KMS start-up task failed: {e}")))?
}

/// With `SEALGATE_TEST_CLOCK=1` the KMS clock is a test clock that `Sealgate.AdvanceClock`
/// moves (tests of rotation and deletion windows).
fn open_kms_blocking(cfg: &Config) -> Result<(KmsService, Option<Arc<TestClock>>), StartError> {
    let test_clock = (std::env::var("SEALGATE_TEST_CLOCK").as_deref() == Ok("1"))
        .then(|| Arc::new(TestClock::starting_now()));
    let clock: Arc<dyn Clock> = match &test_clock {
        Some(c) => c.clone(),
        None => Arc::new(SystemClock),
    };
    let svc = KmsService::open(
        &cfg.data_dir.join("kms"),
        KmsConfig {
            region: cfg.region.clone(),
            replica_regions: cfg.kms_regions.clone(),
            account_id: cfg.account_id.clone(),
            clock,
            root_key_path: None,
            // `sealgate kms` builds its args without clap's env twins: KmsConfig's default
            // reads SEALGATE_HSM_MODULE then.
            hsm_module: cfg
                .hsm_module
                .clone()
                .or_else(|| KmsConfig::default().hsm_module),
            service_principals: cfg.kms_service_principals.clone(),
            db: match &cfg.kms_db {
                Some(url) => crate::kms::KmsDb::parse(&url.0).map_err(StartError::Unsupported)?,
                None => crate::kms::KmsDb::Sqlite,
            },
            quorum: cfg
                .kms_quorum
                .as_ref()
                .map(|q| QuorumPolicy::new(&q.operations, q.approvals, q.expires_after))
                .transpose()
                .map_err(StartError::Config)?,
            ..KmsConfig::default()
        },
    )?;
    Ok((svc, test_clock))
}

/// The client for a KMS on another host, signing as the configured KMS credential or root.
fn remote_kms(
    cfg: &Config,
    endpoint: &str,
    ids: &Identities,
) -> Result<crate::kms::remote::RemoteKms, StartError> {
    let ca = cfg.kms_ca_file.as_ref().ok_or_else(|| {
        StartError::Unsupported(
            "--kms-endpoint needs --kms-ca-file (the remote KMS's CA certificate)".into(),
        )
    })?;
    let (ak, sk) = match (
        std::env::var("SEALGATE_KMS_ACCESS_KEY"),
        std::env::var("SEALGATE_KMS_SECRET_KEY"),
    ) {
        (Ok(a), Ok(s)) if !a.is_empty() && !s.is_empty() => (a, zeroize::Zeroizing::new(s)),
        _ => {
            let root = ids.root().ok_or_else(|| {
                StartError::Unsupported("no credential to sign KMS requests with".into())
            })?;
            (root.access_key.clone(), root.secret_key.clone())
        }
    };
    crate::kms::remote::RemoteKms::new(endpoint, ca, &ak, &sk, &cfg.region)
        .map_err(|e| StartError::Unsupported(format!("--kms-endpoint: {e}")))
}

/// Binds `addr` and serves `service` on it (TLS when `tls` is given); returns the bound address.
async fn listen(
    addr: std::net::SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    service: Arc<dyn server::Service>,
    conns: &Arc<ConnLimit>,
    stop: &watch::Receiver<bool>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<std::net::SocketAddr, StartError> {
    let socket = TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Listen(addr, e))?;
    let bound = socket
        .local_addr()
        .map_err(|e| StartError::Listen(addr, e))?;
    tasks.push(tokio::spawn(server::serve(
        server::Listener {
            socket,
            tls: tls.map(TlsAcceptor::from),
            service,
            limits: Limits::default(),
            conns: conns.clone(),
        },
        stop.clone(),
    )));
    Ok(bound)
}

/// Creates the data dir 0700 and makes everything already in it owner-only (earlier builds
/// and a permissive umask left files 0644 and directories 0755; docs/STORAGE.md).
fn prepare_data_dir(cfg: &Config) -> Result<(), StartError> {
    let dd = |e| StartError::DataDir(cfg.data_dir.display().to_string(), e);
    crate::fsutil::create_private_dir_all(&cfg.data_dir).map_err(dd)?;
    // A root key readable by others may be compromised: the KMS refuses to start with it
    // rather than have it quietly fixed here.
    let root_key = cfg
        .data_dir
        .join("kms")
        .join(crate::kms::rootkey::DEFAULT_FILE_NAME);
    let changed = crate::fsutil::tighten_tree(&cfg.data_dir, &[root_key.as_path()]).map_err(dd)?;
    if changed > 0 {
        tracing::warn!(
            entries = changed,
            data_dir = %cfg.data_dir.display(),
            "tightened files and directories in the data dir to owner-only (0600/0700)"
        );
    }
    Ok(())
}

/// Raises the open-file limit and sets the connection cap every listener of this process
/// shares: the configured one, else one derived from the limit.
fn connection_limit(cfg: &Config, stats: Arc<ConnStats>) -> Arc<ConnLimit> {
    let fds = fdlimit::raise_nofile();
    let derived = fdlimit::default_max_connections(fds.after);
    let max = match cfg.max_connections {
        Some(n) => {
            if n > derived {
                tracing::warn!(
                    max_connections = n,
                    open_file_limit = ?fds.after,
                    "max_connections leaves few descriptors for store files; \
                     accept may fail with EMFILE under load"
                );
            }
            n
        }
        None => derived,
    };
    tracing::info!(max_connections = max, "connection cap (all listeners)");
    ConnLimit::new(max, stats)
}

/// Runs `sealgate kms`: the KMS alone, for a gateway fleet sharing one KMS.
pub(crate) async fn run_kms(cfg: Config) -> Result<(), StartError> {
    prepare_data_dir(&cfg)?;
    let (ids, generated) = Identities::load(&cfg)
        .map_err(|e| StartError::DataDir(cfg.data_dir.display().to_string(), e))?;
    let tls_paths = tls::TlsPaths::in_dir(&cfg.data_dir.join("tls"));
    let tls_config = tls::load_or_generate(&tls_paths)?;
    let (kms, test_clock) = open_kms(&cfg).await?;
    crate::kms::http::spawn_due_work(kms.clone());
    crate::kms::http::spawn_audit_flush(kms.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let status = kms.clone();
    let service = Arc::new(KmsHttp::new(kms, ids, test_clock));
    // No /metrics here: the counts are kept but not served.
    let conns = connection_limit(&cfg, Arc::new(ConnStats::default()));
    let addr = listen(
        cfg.kms_listen,
        Some(tls_config),
        service,
        &conns,
        &stop_rx,
        &mut tasks,
    )
    .await?;
    println!("KMS API (HTTPS): https://{addr}");
    print_sealed(&status);
    print_common(&cfg, &tls_paths, generated);
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

/// Says so when the KMS started sealed (tests and operators wait for this line).
fn print_sealed(kms: &KmsService) {
    if let Some((presented, threshold)) = kms.sealed() {
        println!(
            "KMS sealed:      {presented} of {threshold} shares presented (`sealgate kms unseal`)"
        );
    }
}

fn print_common(
    cfg: &Config,
    tls_paths: &tls::TlsPaths,
    generated: Option<crate::identity::GeneratedRoot>,
) {
    let ca = std::path::absolute(&tls_paths.ca).unwrap_or_else(|_| tls_paths.ca.clone());
    println!("CA certificate:  {}", ca.display());
    println!("Region:          {}", cfg.region);
    if let Some(root) = generated {
        println!("Root access key: {}", root.access_key);
        println!("Root secret key: {}", root.secret_key.as_str());
        println!(
            "(generated once and kept in {}; set SEALGATE_ROOT_ACCESS_KEY/SEALGATE_ROOT_SECRET_KEY to choose your own)",
            cfg.data_dir.join("root-credentials.json").display()
        );
    }
    println!("Ready.");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}

/// Runs `sealgate serve` until SIGINT/SIGTERM.
pub(crate) async fn run(cfg: Config) -> Result<(), StartError> {
    prepare_data_dir(&cfg)?;
    let tls_paths = tls::TlsPaths::in_dir(&cfg.data_dir.join("tls"));
    let (kms, test_clock) = match &cfg.kms_endpoint {
        Some(_) => (None, None),
        None => {
            let (k, c) = open_kms(&cfg).await?;
            (Some(k), c)
        }
    };
    // The first load generates (and persists) the root credential on a first start; keep it
    // to print, since `Gateway::open` below then finds it already on disk.
    let (ids, generated_here) = Identities::load(&cfg)
        .map_err(|e| StartError::DataDir(cfg.data_dir.display().to_string(), e))?;
    let kms_client: Arc<dyn crate::kms::Kms> = match (&cfg.kms_endpoint, &kms) {
        (Some(endpoint), _) => Arc::new(remote_kms(&cfg, endpoint, &ids)?),
        (None, Some(k)) => Arc::new(k.clone()),
        (None, None) => unreachable!("the embedded KMS opens when no endpoint is given"),
    };
    let (gw, generated) = Gateway::open(cfg, kms_client)?;
    let generated = generated.or(generated_here);
    // Loading the ring audits its KMS calls. On a full disk those records wait in memory
    // (written as soon as there is space) so the gateway still starts and serves reads and
    // deletes, which free space.
    // A sealed embedded KMS cannot unwrap the ring yet: it loads on first use after the
    // unseal, and until then requests that need the KMS answer 503.
    if kms.as_ref().is_none_or(|k| k.sealed().is_none()) {
        if let Some(k) = &kms {
            k.defer_audit_when_full(true);
        }
        let loaded = gw.crypto.master().load().await;
        if let Some(k) = &kms {
            k.defer_audit_when_full(false);
        }
        loaded?;
    }
    let tls_config = tls::load_or_generate(&tls_paths)?;
    if let Some(k) = &kms {
        crate::kms::http::spawn_due_work(k.clone());
        crate::kms::http::spawn_audit_flush(k.clone());
    }
    let gw = Arc::new(gw);
    let trigger = crate::sweeper::Trigger::install()
        .map_err(|e| StartError::Unsupported(format!("SIGUSR1 handler: {e}")))?;
    crate::sweeper::spawn(
        gw.store.clone(),
        gw.metrics.clone(),
        gw.cfg.sweep,
        gw.cfg.sweep_interval,
        trigger,
    );
    // The lifecycle worker reads the KMS's clock, so a test clock moves both.
    let clock: Arc<dyn Clock> = match &test_clock {
        Some(c) => c.clone(),
        None => Arc::new(SystemClock),
    };
    crate::lifecycle::worker::spawn(gw.clone(), clock, test_clock.as_ref().map(|c| c.moves()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();

    let conns = connection_limit(&gw.cfg, gw.metrics.connections.clone());
    let s3: Arc<dyn server::Service> = Arc::new(crate::s3::S3Service::new(gw.clone()));
    let addr = listen(
        gw.cfg.s3_listen,
        Some(tls_config.clone()),
        s3.clone(),
        &conns,
        &stop_rx,
        &mut tasks,
    )
    .await?;
    println!("S3 API (HTTPS):  https://{addr}");
    if let Some(http) = gw.cfg.http_listen {
        let addr = listen(http, None, s3.clone(), &conns, &stop_rx, &mut tasks).await?;
        println!("S3 API (HTTP):   http://{addr}   (SSE-C is refused here)");
    }
    match kms {
        Some(kms) => {
            let kms_for_status = kms.clone();
            let kms_http = Arc::new(KmsHttp::new(kms, gw.ids.clone(), test_clock));
            let addr = listen(
                gw.cfg.kms_listen,
                Some(tls_config),
                kms_http,
                &conns,
                &stop_rx,
                &mut tasks,
            )
            .await?;
            println!("KMS API (HTTPS): https://{addr}");
            print_sealed(&kms_for_status);
        }
        None => println!(
            "KMS (remote):    {}",
            gw.cfg.kms_endpoint.as_deref().unwrap_or_default()
        ),
    }
    start_metrics(&gw, &conns, &stop_rx, &mut tasks).await?;
    print_common(&gw.cfg, &tls_paths, generated);

    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

/// Serves `/metrics` on the admin listener. Only an address someone asked for must bind: when
/// the default port is taken (another gateway on this host), metrics are off for this one.
async fn start_metrics(
    gw: &Arc<Gateway>,
    conns: &Arc<ConnLimit>,
    stop: &watch::Receiver<bool>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<(), StartError> {
    let Some(addr) = gw.cfg.metrics_listen else {
        println!("Metrics:         off");
        return Ok(());
    };
    let service = Arc::new(crate::metrics::http::MetricsHttp::new(gw.metrics.clone()));
    match listen(addr, None, service, conns, stop, tasks).await {
        Ok(bound) => println!("Metrics:         http://{bound}/metrics"),
        Err(e) if gw.cfg.metrics_listen_is_default => {
            tracing::warn!(error = %e, "metrics disabled: the default address is in use");
            println!("Metrics:         off ({addr} is in use; set --metrics-listen)");
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
