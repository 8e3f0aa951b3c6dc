//! The PostgreSQL backend of the key store, which several `sealgate kms` nodes can share.
//!
//! - Client: rust-postgres's synchronous `postgres` crate. The KMS calls its store from
//!   blocking threads only (the KMS listener and the in-process client run every call in
//!   `spawn_blocking`), exactly where SQLite is called; the crate drives its own small
//!   runtime, so the server's async workers never wait on the database.
//! - One connection per node, behind a mutex (as SQLite's), opened again when it was lost.
//!   Prepared statements are cached per connection.
//! - Every transaction is SERIALIZABLE: the database aborts one of two transactions that
//!   would not have given the same result run one after the other (two nodes rotating or
//!   expiring one key, two CreateAlias of one name, a tag count check racing a TagResource).
//!   The aborted one (SQLSTATE 40001, or 40P01 for a deadlock) runs again from the start,
//!   up to [`MAX_ATTEMPTS`] times, and then sees the other's commit.
//! - TLS through rustls (`tokio-postgres-rustls`): `sslmode=require` insists on it,
//!   `prefer` (the default) uses it when the server offers it, `disable` never. The server
//!   certificate is always verified: against `sslrootcert=<PEM file>` from the URL when
//!   given, else against the platform's roots.
//! - The schema is versioned (`kms_schema_version`); [`migrate`] applies the missing steps in
//!   one transaction under an advisory lock, so nodes starting together migrate once.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::postgres::error::SqlState;
use ::postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use ::postgres::{Client, IsolationLevel, Statement};
use bytes::BytesMut;

use super::{DbError, DbResult, Row, Tx, Value};
use crate::kms::error::KmsError;

/// Tries of one transaction aborted by serialization conflicts before the conflict is the
/// caller's error (KMSInternalException).
pub(crate) const MAX_ATTEMPTS: u32 = 10;

/// The advisory lock key schema migrations hold ("SEALGATE" in ASCII).
const MIGRATION_LOCK: i64 = 0x5345_414c_4741_5445;

/// Schema steps, applied in order; the database records how many it has. Never edit a step
/// that has shipped: add one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE keys (
    key_id TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    origin TEXT NOT NULL,
    aws_managed BIGINT NOT NULL,
    policy TEXT NOT NULL,
    rotation_enabled BIGINT NOT NULL,
    rotation_period_days BIGINT NOT NULL,
    next_rotation DOUBLE PRECISION,
    deletion_date DOUBLE PRECISION,
    on_demand_rotations BIGINT NOT NULL,
    current_material TEXT,
    expiration_model TEXT,
    valid_to DOUBLE PRECISION,
    key_spec TEXT NOT NULL DEFAULT 'SYMMETRIC_DEFAULT'
);
CREATE TABLE materials (
    seq BIGSERIAL NOT NULL,
    key_id TEXT NOT NULL REFERENCES keys(key_id) DEFERRABLE INITIALLY DEFERRED,
    material_id TEXT NOT NULL,
    sealed BYTEA,
    created DOUBLE PRECISION NOT NULL,
    rotation_type TEXT,
    imported BIGINT NOT NULL,
    fingerprint TEXT,
    PRIMARY KEY (key_id, material_id)
);
CREATE TABLE aliases (
    name TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    updated DOUBLE PRECISION NOT NULL
);
CREATE INDEX aliases_key ON aliases (key_id);
CREATE TABLE grants (
    grant_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    retiring_principal TEXT,
    created DOUBLE PRECISION NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX grants_key ON grants (key_id);
CREATE INDEX grants_retiring ON grants (retiring_principal);
CREATE TABLE tags (
    key_id TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (key_id, tag_key)
);
CREATE TABLE import_params (
    token_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    sealed_private_key BYTEA NOT NULL,
    valid_to DOUBLE PRECISION NOT NULL
);
CREATE TABLE custom_key_stores (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    store_type TEXT NOT NULL,
    cluster_id TEXT NOT NULL,
    trust_anchor TEXT,
    sealed_pin BYTEA NOT NULL,
    created DOUBLE PRECISION NOT NULL
);
CREATE TABLE hsm_keys (
    key_id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL
);
"#,
    // 2: key usages, stored since RSA and KEY_AGREEMENT keys (NULL: the spec's one usage).
    "ALTER TABLE keys ADD COLUMN key_usage TEXT",
    // 3: approval requests of the two-person rule (`quorum.rs`); approvers is a JSON array.
    r#"
CREATE TABLE approval_requests (
    id TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    requester TEXT NOT NULL,
    digest TEXT NOT NULL,
    resource TEXT,
    created DOUBLE PRECISION NOT NULL,
    expires DOUBLE PRECISION NOT NULL,
    required BIGINT NOT NULL,
    approvers TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX approval_requests_by_requester ON approval_requests (requester, digest);
"#,
    // 4: multi-Region keys: the flag, and each replica key's own fields (`replicas.rs`).
    r#"
ALTER TABLE keys ADD COLUMN multi_region BIGINT NOT NULL DEFAULT 0;
CREATE TABLE key_replicas (
    key_id TEXT NOT NULL REFERENCES keys(key_id) DEFERRABLE INITIALLY DEFERRED,
    region TEXT NOT NULL,
    arn TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    policy TEXT NOT NULL,
    deletion_date DOUBLE PRECISION,
    PRIMARY KEY (key_id, region)
);
"#,
];

/// A `postgres://` URL as `--kms-db` gives it. Its `Debug` leaves out the password.
#[derive(Clone)]
pub struct PgUrl {
    config: ::postgres::Config,
    /// `sslrootcert=`: the CA certificate(s) to verify the server with (PEM).
    root_cert: Option<PathBuf>,
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgUrl")
            .field("user", &self.config.get_user())
            .field("hosts", &self.config.get_hosts())
            .field("ports", &self.config.get_ports())
            .field("dbname", &self.config.get_dbname())
            .field("ssl_mode", &self.config.get_ssl_mode())
            .field("root_cert", &self.root_cert)
            .finish()
    }
}

impl PgUrl {
    /// Parses a libpq-style URL. `sslrootcert` is taken out here (rust-postgres does not read
    /// it); every other parameter is rust-postgres's.
    pub fn parse(url: &str) -> Result<Self, String> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        let mut root_cert = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslrootcert", v)) => {
                    let path = percent_encoding::percent_decode_str(v)
                        .decode_utf8()
                        .map_err(|_| "--kms-db: sslrootcert is not UTF-8".to_string())?;
                    root_cert = Some(PathBuf::from(path.into_owned()));
                }
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config: ::postgres::Config = rest
            .parse()
            .map_err(|e| format!("--kms-db: not a PostgreSQL URL: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        Ok(Self { config, root_cert })
    }

    fn connect(&self) -> DbResult<Client> {
        let tls =
            tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(self.root_cert.as_deref())?);
        Ok(self.config.connect(tls)?)
    }
}

/// The rustls client configuration: ring, TLS 1.2/1.3, the server verified against
/// `root_cert` or the platform's roots.
fn tls_config(root_cert: Option<&Path>) -> DbResult<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let setup = |e: &dyn std::fmt::Display| {
                DbError::Setup(format!("--kms-db sslrootcert {}: {e}", path.display()))
            };
            let pem = std::fs::read(path).map_err(|e| setup(&e))?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                roots
                    .add(cert.map_err(|e| setup(&e))?)
                    .map_err(|e| setup(&e))?;
            }
            if roots.is_empty() {
                return Err(setup(&"no certificate"));
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A platform root rustls cannot parse is one root fewer, not a failure.
                let _ = roots.add(cert);
            }
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| DbError::Setup(format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// Brings the database's schema to this build's version, once per database.
fn migrate(client: &mut Client) -> DbResult<()> {
    let mut tx = client.transaction()?;
    // Held until commit: a second node starting at the same time waits, then finds the
    // schema current.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS kms_schema_version (version BIGINT NOT NULL)")?;
    let version: i64 = tx
        .query_opt("SELECT version FROM kms_schema_version", &[])?
        .map_or(0, |r| r.get(0));
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(DbError::Setup(format!(
            "the KMS database has schema version {version}; this build knows up to {known}: \
             upgrade sealgate"
        )));
    }
    for step in &MIGRATIONS[version as usize..] {
        tx.batch_execute(step)?;
    }
    if version < known {
        tx.execute("DELETE FROM kms_schema_version", &[])?;
        tx.execute("INSERT INTO kms_schema_version VALUES ($1)", &[&known])?;
        tracing::info!(from = version, to = known, "KMS database schema migrated");
    }
    tx.commit()?;
    Ok(())
}

struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

pub struct PgStore {
    url: PgUrl,
    /// `None` after the connection was found closed and could not be opened again.
    conn: Mutex<Option<PgConn>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("url", &self.url).finish()
    }
}

/// What one try of a transaction gave.
enum Attempt<T> {
    Done(Result<T, KmsError>),
    /// Aborted for a conflict with a concurrent transaction: worth running again.
    Conflict(KmsError),
}

impl PgStore {
    pub fn open(url: &PgUrl) -> DbResult<Self> {
        let mut client = url.connect()?;
        migrate(&mut client)?;
        Ok(Self {
            url: url.clone(),
            conn: Mutex::new(Some(PgConn {
                client,
                statements: HashMap::new(),
            })),
        })
    }

    /// Runs `f` in one SERIALIZABLE transaction, again while the database aborts it for a
    /// conflict (see the module doc).
    pub fn with_tx<T>(
        &self,
        mut f: impl FnMut(&dyn Tx) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut attempt = 0;
        loop {
            attempt += 1;
            if slot.as_ref().is_none_or(|c| c.client.is_closed()) {
                *slot = None;
                *slot = Some(PgConn {
                    client: self.url.connect()?,
                    statements: HashMap::new(),
                });
            }
            let conn = slot.as_mut().expect("connected above");
            match try_once(conn, &mut f) {
                Attempt::Done(out) => return out,
                Attempt::Conflict(e) if attempt >= MAX_ATTEMPTS => return Err(e),
                Attempt::Conflict(e) => {
                    tracing::debug!(attempt, error = %e, "key store conflict, running the transaction again");
                    // Spread the retries of nodes that keep colliding.
                    let jitter = rand::random_range(1..=5 * u64::from(attempt));
                    std::thread::sleep(Duration::from_millis(jitter));
                }
            }
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        let conn = self
            .conn
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(conn) = conn {
            // rust-postgres closes its connection by blocking on its own runtime, which tokio
            // forbids on an async worker (the KMS may be dropped on one at shutdown).
            let _ = std::thread::spawn(move || drop(conn)).join();
        }
    }
}

fn try_once<T>(
    conn: &mut PgConn,
    f: &mut impl FnMut(&dyn Tx) -> Result<T, KmsError>,
) -> Attempt<T> {
    let PgConn { client, statements } = conn;
    let tx = match client
        .build_transaction()
        .isolation_level(IsolationLevel::Serializable)
        .start()
    {
        Ok(tx) => tx,
        Err(e) => return Attempt::Done(Err(DbError::from(e).into())),
    };
    let ptx = PgTx {
        tx: RefCell::new(tx),
        statements: RefCell::new(statements),
        failed: Cell::new(false),
        conflict: Cell::new(false),
    };
    let out = f(&ptx);
    let (failed, conflict) = (ptx.failed.get(), ptx.conflict.get());
    let tx = ptx.tx.into_inner();
    match out {
        // A statement failed but `f` carried on: PostgreSQL has aborted the transaction, and
        // its COMMIT would quietly roll back. Never report that as done.
        Ok(_) if conflict => Attempt::Conflict(KmsError::internal(
            "key store: transaction aborted by a concurrent one",
        )),
        Ok(_) if failed => Attempt::Done(Err(KmsError::internal(
            "key store: a statement failed inside the transaction",
        ))),
        Ok(v) => match tx.commit() {
            Ok(()) => Attempt::Done(Ok(v)),
            Err(e) if is_conflict(&e) => Attempt::Conflict(DbError::from(e).into()),
            Err(e) => Attempt::Done(Err(DbError::from(e).into())),
        },
        // Dropping `tx` rolls it back.
        Err(e) if conflict => Attempt::Conflict(e),
        Err(e) => Attempt::Done(Err(e)),
    }
}

fn is_conflict(e: &::postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// One open transaction. The KMS's query functions take `&dyn Tx`, rust-postgres wants
/// `&mut`: the cells bridge the two (one thread, one statement at a time).
struct PgTx<'a> {
    tx: RefCell<::postgres::Transaction<'a>>,
    statements: RefCell<&'a mut HashMap<String, Statement>>,
    /// Set when any statement failed (the transaction is then aborted).
    failed: Cell<bool>,
    /// Set when a statement failed for a serialization conflict (the transaction is then
    /// aborted, whatever `f` makes of the error).
    conflict: Cell<bool>,
}

impl PgTx<'_> {
    fn note(&self, e: ::postgres::Error) -> DbError {
        self.failed.set(true);
        if is_conflict(&e) {
            self.conflict.set(true);
        }
        DbError::from(e)
    }

    fn statement(&self, sql: &str) -> DbResult<Statement> {
        if let Some(st) = self.statements.borrow().get(sql) {
            return Ok(st.clone());
        }
        let st = self
            .tx
            .borrow_mut()
            .prepare(sql)
            .map_err(|e| self.note(e))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

impl Tx for PgTx<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> DbResult<u64> {
        let st = self.statement(sql)?;
        self.tx
            .borrow_mut()
            .execute(&st, &refs(params))
            .map_err(|e| self.note(e))
    }

    fn query(&self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        let st = self.statement(sql)?;
        let rows = self
            .tx
            .borrow_mut()
            .query(&st, &refs(params))
            .map_err(|e| self.note(e))?;
        rows.iter().map(read_row).collect()
    }

    fn insertion_order(&self) -> &'static str {
        "seq"
    }
}

fn read_row(row: &::postgres::Row) -> DbResult<Row> {
    let value = |i: usize| -> Result<Value, ::postgres::Error> {
        let ty = row.columns()[i].type_();
        Ok(match *ty {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(Value::Real),
            Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
            _ => row.try_get::<_, Option<String>>(i)?.map(Value::Text),
        }
        .unwrap_or(Value::Null))
    };
    (0..row.len())
        .map(|i| value(i).map_err(DbError::from))
        .collect::<DbResult<Vec<Value>>>()
        .map(Row)
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Real(v) => v.to_sql(ty, out),
            Value::Text(v) => v.to_sql(ty, out),
            Value::Blob(v) => v.to_sql(ty, out),
        }
    }

    /// A NULL binds to a parameter of any type; a value is checked by its own `ToSql`.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::db::KmsDb;

    #[test]
    fn url_takes_sslrootcert_and_hides_the_password() {
        let url = PgUrl::parse(
            "postgres://kms:s3cret@db.example:5433/keys?sslmode=require&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(url.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(
            url.config.get_ssl_mode(),
            ::postgres::config::SslMode::Require
        );
        assert_eq!(url.config.get_dbname(), Some("keys"));
        assert_eq!(url.config.get_ports(), [5433]);
        let shown = format!("{url:?}");
        assert!(shown.contains("db.example"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");

        assert!(PgUrl::parse("postgres://db.example/keys?sslmode=sometimes").is_err());
        assert!(KmsDb::parse("/var/lib/kms.sqlite3").is_err());
        assert!(matches!(
            KmsDb::parse("postgresql://db.example/keys"),
            Ok(KmsDb::Postgres(_))
        ));
    }
}
