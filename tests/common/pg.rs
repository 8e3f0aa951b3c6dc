//! A real PostgreSQL server for the KMS store tests: Debian's `postgresql` binaries
//! (`SEALGATE_PG_BIN`, default /usr/lib/postgresql/15/bin), one cluster per test process on a
//! temporary directory and a free loopback port, run as the `postgres` user when the tests
//! run as root (initdb refuses root). TLS is on, with a certificate from a CA made here, so
//! every KMS that uses it connects with `sslmode=require` and verifies the server.
//!
//! The server stops when the test process is gone: a watcher shell polls the process and
//! stops PostgreSQL (statics are never dropped, so no `Drop` would do it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct PgCluster {
    /// Cluster data, socket, log and certificates (owned by the server's user).
    pub dir: PathBuf,
    pub port: u16,
    /// The CA certificate that signed the server's (PEM).
    pub ca: PathBuf,
    /// The watcher shell (PostgreSQL's parent), which reaps it when this process is gone.
    _watcher: std::process::Child,
}

/// The binaries directory, when PostgreSQL is installed.
fn bin_dir() -> Option<PathBuf> {
    let dir = match std::env::var("SEALGATE_PG_BIN") {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/usr/lib/postgresql/15/bin"),
    };
    dir.join("postgres").is_file().then_some(dir)
}

/// The process's cluster, started on first use; `None` (the caller skips) when PostgreSQL is
/// not installed — except under CI, where that is a failure, not a skip.
pub fn cluster() -> Option<&'static PgCluster> {
    static CLUSTER: OnceLock<Option<PgCluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            let Some(bin) = bin_dir() else {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "PostgreSQL not found (SEALGATE_PG_BIN); ./scripts/test installs it"
                );
                eprintln!("SKIPPED: PostgreSQL not found; run ./scripts/test to install it");
                return None;
            };
            Some(off_runtime(|| PgCluster::start(&bin)))
        })
        .as_ref()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…`, as the `postgres` user when we are root.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1/localhost signed by it, as PEM
/// (CA certificate, server certificate, server key).
fn certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

impl PgCluster {
    fn start(bin: &Path) -> PgCluster {
        // Not a TempDir: the cluster outlives every test, and the watcher removes it.
        let dir = std::env::temp_dir().join(format!(
            "sealgate-pg-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let data = dir.join("data");
        let (ca_pem, cert_pem, key_pem) = certificates();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, ca_pem).unwrap();
        if is_root() {
            run(
                Command::new("chown").arg("postgres:postgres").arg(&dir),
                "chown the cluster dir",
            );
        }
        run(
            as_server_user(&bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]),
            "initdb",
        );
        for (name, pem) in [("server.crt", cert_pem), ("server.key", key_pem)] {
            let path = data.join(name);
            std::fs::write(&path, pem).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            if is_root() {
                run(
                    Command::new("chown").arg("postgres:postgres").arg(&path),
                    "chown the server certificate",
                );
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let postgres = bin.join("postgres");
        let script = format!(
            "'{postgres}' -D '{data}' -p {port} -k '{dir}' -c listen_addresses=127.0.0.1 \
             -c ssl=on -c fsync=off -c max_connections=300 >'{dir}/postgres.log' 2>&1 & pg=$!; \
             while [ -d /proc/{me} ] && kill -0 $pg 2>/dev/null; do sleep 1; done; \
             kill -INT $pg 2>/dev/null; wait $pg; rm -rf '{dir}'",
            postgres = postgres.display(),
            data = data.display(),
            dir = dir.display(),
            me = std::process::id(),
        );
        let watcher = as_server_user(Path::new("sh"))
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres");
        let cluster = PgCluster {
            dir,
            port,
            ca,
            _watcher: watcher,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match postgres::Client::connect(&cluster.plain_url("postgres"), postgres::NoTls) {
                Ok(_) => break,
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "PostgreSQL did not start: {e}; log:\n{}",
                        std::fs::read_to_string(cluster.dir.join("postgres.log"))
                            .unwrap_or_default()
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        cluster
    }

    /// A URL without TLS (test set-up, and the test that the KMS works without TLS).
    pub fn plain_url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// The URL a KMS gets: TLS required, the server verified against the test CA.
    pub fn tls_url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{db}?sslmode=require&sslrootcert={}",
            self.port,
            self.ca.display()
        )
    }

    /// Creates database `db` unless it exists (a restarted server keeps its database).
    pub fn create_db(&self, db: &str) {
        off_runtime(|| {
            let mut c = self.client("postgres");
            if let Err(e) = c.batch_execute(&format!("CREATE DATABASE \"{db}\"")) {
                assert_eq!(
                    e.code(),
                    Some(&postgres::error::SqlState::DUPLICATE_DATABASE),
                    "CREATE DATABASE {db}: {e}"
                );
            }
        })
    }

    /// The one integer `sql` (with text parameters) answers in database `db`, e.g. a count.
    pub fn scalar(&self, db: &str, sql: &str, params: &[&str]) -> i64 {
        off_runtime(|| {
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = params
                .iter()
                .map(|p| p as &(dyn postgres::types::ToSql + Sync))
                .collect();
            self.client(db)
                .query_one(sql, &params)
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .get(0)
        })
    }

    /// A fresh database with a unique name.
    pub fn fresh_db(&self) -> String {
        let db = format!("kms_{}", rand_suffix());
        self.create_db(&db);
        db
    }

    /// A client of database `db`; the synchronous client must be used off the async test's
    /// runtime ([`off_runtime`]).
    fn client(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.plain_url(db), postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to {db}: {e}"))
    }
}

/// Runs `f` on a thread of its own: the synchronous `postgres` client drives a runtime of
/// its own, which tokio refuses inside an async test.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("database helper panicked"))
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{:x}{:x}", nanos, N.fetch_add(1, Ordering::Relaxed))
}

/// The database a test server's KMS uses when the suite runs on PostgreSQL
/// (`SEALGATE_TEST_KMS_DB=postgres`): one per data directory, so a restarted server finds
/// its keys again. `None`: the suite runs on SQLite (or PostgreSQL is missing, outside CI).
pub fn kms_db_for(data_dir: &Path) -> Option<String> {
    if std::env::var("SEALGATE_TEST_KMS_DB").as_deref() != Ok("postgres") {
        return None;
    }
    let cluster = cluster()?;
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut h);
    let db = format!("kms_{:016x}", h.finish());
    cluster.create_db(&db);
    Some(cluster.tls_url(&db))
}
