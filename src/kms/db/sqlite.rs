//! The SQLite backend of the key store: one connection, WAL, `synchronous=FULL`, every
//! transaction IMMEDIATE (so transactions run one at a time, as the KMS assumes). Query results
//! are remembered until the next write ([`ReadCache`]); a transaction whose reads are all
//! remembered never opens a SQLite transaction at all.

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::sync::Mutex;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql, params_from_iter};

use super::read_cache::ReadCache;
use super::{DbResult, Row, Tx, Value};
use crate::kms::error::KmsError;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS keys (
    key_id TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    created REAL NOT NULL,
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    origin TEXT NOT NULL,
    aws_managed INTEGER NOT NULL,
    policy TEXT NOT NULL,
    rotation_enabled INTEGER NOT NULL,
    rotation_period_days INTEGER NOT NULL,
    next_rotation REAL,
    deletion_date REAL,
    on_demand_rotations INTEGER NOT NULL,
    current_material TEXT,
    expiration_model TEXT,
    valid_to REAL,
    key_spec TEXT NOT NULL DEFAULT 'SYMMETRIC_DEFAULT',
    key_usage TEXT,
    multi_region INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS key_replicas (
    key_id TEXT NOT NULL REFERENCES keys(key_id) DEFERRABLE INITIALLY DEFERRED,
    region TEXT NOT NULL,
    arn TEXT NOT NULL,
    created REAL NOT NULL,
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    policy TEXT NOT NULL,
    deletion_date REAL,
    PRIMARY KEY (key_id, region)
);
CREATE TABLE IF NOT EXISTS materials (
    key_id TEXT NOT NULL REFERENCES keys(key_id) DEFERRABLE INITIALLY DEFERRED,
    material_id TEXT NOT NULL,
    sealed BLOB,
    created REAL NOT NULL,
    rotation_type TEXT,
    imported INTEGER NOT NULL,
    fingerprint TEXT,
    PRIMARY KEY (key_id, material_id)
);
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS grants (
    grant_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    retiring_principal TEXT,
    created REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    key_id TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (key_id, tag_key)
);
CREATE TABLE IF NOT EXISTS import_params (
    token_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    sealed_private_key BLOB NOT NULL,
    valid_to REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS custom_key_stores (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    store_type TEXT NOT NULL,
    cluster_id TEXT NOT NULL,
    trust_anchor TEXT,
    sealed_pin BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS hsm_keys (
    key_id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS approval_requests (
    id TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    requester TEXT NOT NULL,
    digest TEXT NOT NULL,
    resource TEXT,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    required INTEGER NOT NULL,
    approvers TEXT NOT NULL,
    status TEXT NOT NULL
);
"#;

#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Conn>,
}

#[derive(Debug)]
struct Conn {
    conn: Connection,
    reads: ReadCache,
}

impl SqliteStore {
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        // Created 0600 here, SQLite gives its -wal and -shm files the same mode.
        crate::fsutil::create_private_file(path).map_err(|e| {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!("{}: {e}", path.display())),
            )
        })?;
        let conn = Connection::open(path)?;
        // The KMS is the database's only user (one connection). Exclusive locking keeps the
        // WAL index in memory instead of a `-shm` file, which SQLite would have to create and
        // extend before the first read: on a full disk that failed, and the KMS (and with it
        // the gateway) could not start to serve reads and deletes.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        add_column(
            &conn,
            "key_spec",
            "TEXT NOT NULL DEFAULT 'SYMMETRIC_DEFAULT'",
        )?;
        add_column(&conn, "key_usage", "TEXT")?;
        add_column(&conn, "multi_region", "INTEGER NOT NULL DEFAULT 0")?;
        Ok(Self {
            conn: Mutex::new(Conn {
                conn,
                reads: ReadCache::default(),
            }),
        })
    }

    /// Runs `f` once in one IMMEDIATE transaction; commits on `Ok`, rolls back on `Err`. The
    /// transaction begins at the first statement the cache cannot answer: until then `f` has
    /// only read what the database held when it last changed, under the same lock.
    pub fn with_tx<T>(
        &self,
        mut f: impl FnMut(&dyn Tx) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let Conn { conn, reads } = &mut *guard;
        let tx = LazyTx {
            conn,
            reads: RefCell::new(reads),
            began: Cell::new(false),
            wrote: Cell::new(false),
        };
        let out = f(&tx);
        tx.finish(out.is_ok())?;
        out
    }
}

/// One transaction of [`SqliteStore::with_tx`]: reads the cache answers cost no SQLite work;
/// the first other statement begins the IMMEDIATE transaction; a write makes the cache forget
/// everything first. Dropped without [`LazyTx::finish`] (a panic in `f`), it rolls back.
struct LazyTx<'a> {
    conn: &'a Connection,
    reads: RefCell<&'a mut ReadCache>,
    began: Cell<bool>,
    wrote: Cell<bool>,
}

impl LazyTx<'_> {
    fn begin(&self) -> DbResult<()> {
        if !self.began.get() {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.began.set(true);
        }
        Ok(())
    }

    /// Commits (`ok`) or rolls back whatever began. A failed commit is rolled back and its
    /// error returned; a failed call keeps its own error.
    fn finish(self, ok: bool) -> DbResult<()> {
        if !self.began.replace(false) {
            return Ok(());
        }
        if ok && let Err(e) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        if !ok {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        Ok(())
    }
}

impl Drop for LazyTx<'_> {
    fn drop(&mut self) {
        if self.began.get() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if self.wrote.get() {
            // Forgotten at the write already; again in case a read after it was remembered
            // by a path this type does not foresee.
            self.reads.borrow_mut().forget_all();
        }
    }
}

impl Tx for LazyTx<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> DbResult<u64> {
        self.reads.borrow_mut().forget_all();
        self.wrote.set(true);
        self.begin()?;
        Tx::execute(self.conn, sql, params)
    }

    fn query(&self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        // After a write this transaction sees rows that may yet be rolled back: not cached.
        let cacheable = !self.wrote.get();
        if cacheable && let Some(rows) = self.reads.borrow().get(sql, params) {
            return Ok(rows);
        }
        self.begin()?;
        let rows = Tx::query(self.conn, sql, params)?;
        if cacheable {
            self.reads.borrow_mut().remember(sql, params, &rows);
        }
        Ok(rows)
    }

    fn insertion_order(&self) -> &'static str {
        "rowid"
    }
}

/// Databases from before key specs lack `key_spec` (every key in them is symmetric), those
/// from before asymmetric keys lack `key_usage` (NULL: the spec's one usage), and those from
/// before multi-Region keys lack `multi_region` (0: single-Region).
fn add_column(conn: &Connection, name: &str, decl: &str) -> rusqlite::Result<()> {
    let has: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('keys') WHERE name = ?1",
        [name],
        |r| r.get(0),
    )?;
    if has == 0 {
        conn.execute_batch(&format!("ALTER TABLE keys ADD COLUMN {name} {decl}"))?;
    }
    Ok(())
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Real(v) => ValueRef::Real(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

/// The shared SQL's `$n` placeholders as SQLite's numbered `?n` (SQLite would read `$1` as a
/// named parameter, numbered by first appearance rather than by its digits).
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

impl Tx for Connection {
    fn execute(&self, sql: &str, params: &[Value]) -> DbResult<u64> {
        let mut st = self.prepare_cached(&sqlite_sql(sql))?;
        Ok(st.execute(params_from_iter(params))? as u64)
    }

    fn query(&self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        let mut st = self.prepare_cached(&sqlite_sql(sql))?;
        let columns = st.column_count();
        let rows = st.query_map(params_from_iter(params), |r| {
            (0..columns)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(v) => Value::Int(v),
                        ValueRef::Real(v) => Value::Real(v),
                        ValueRef::Text(t) => Value::Text(
                            std::str::from_utf8(t)
                                .map_err(|e| {
                                    rusqlite::Error::FromSqlConversionFailure(
                                        i,
                                        rusqlite::types::Type::Text,
                                        Box::new(e),
                                    )
                                })?
                                .to_string(),
                        ),
                        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                    })
                })
                .collect::<rusqlite::Result<Vec<Value>>>()
                .map(Row)
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<Row>>>()?)
    }

    fn insertion_order(&self) -> &'static str {
        "rowid"
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;

    fn key(id: &str) -> KeyRecord {
        KeyRecord {
            key_id: id.into(),
            arn: format!("arn:aws:kms:us-east-1:000000000000:key/{id}"),
            created: 1.0,
            description: String::new(),
            state: KeyState::Enabled,
            origin: Origin::AwsKms,
            aws_managed: false,
            service_only: false,
            policy: "{}".into(),
            rotation_enabled: false,
            rotation_period_days: 365,
            next_rotation: None,
            deletion_date: None,
            on_demand_rotations: 0,
            current_material: None,
            expiration_model: None,
            valid_to: None,
            key_spec: KeySpec::SymmetricDefault,
            key_usage: KeyUsage::EncryptDecrypt,
            multi_region: false,
            replica: false,
        }
    }

    #[test]
    fn failed_transaction_keeps_existing_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_FILE_NAME);
        let store = SqliteStore::open(&path).unwrap();
        store.with_tx(|tx| Ok(put_key(tx, &key("a"))?)).unwrap();
        let err = store.with_tx(|tx| {
            put_key(tx, &key("b"))?;
            purge_key(tx, &key("a"))?;
            Err::<(), _>(KmsError::internal("simulated crash"))
        });
        assert!(err.is_err());
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        store
            .with_tx(|tx| {
                assert_eq!(get_key(tx, "a")?, Some(key("a")));
                assert_eq!(get_key(tx, "b")?, None);
                Ok(())
            })
            .unwrap();
    }

    /// Remembered reads never outlive a change, nor show one that was rolled back: within one
    /// open store, every read after a write (committed or not) sees what the database holds.
    #[test]
    fn remembered_reads_follow_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(DEFAULT_FILE_NAME)).unwrap();
        let read = |id: &str| store.with_tx(|tx| Ok(get_key(tx, id)?)).unwrap();
        store.with_tx(|tx| Ok(put_key(tx, &key("a"))?)).unwrap();
        assert_eq!(read("a"), Some(key("a")));
        assert_eq!(read("b"), None);

        let mut disabled = key("a");
        disabled.state = KeyState::Disabled;
        store.with_tx(|tx| Ok(put_key(tx, &disabled)?)).unwrap();
        store.with_tx(|tx| Ok(put_key(tx, &key("b"))?)).unwrap();
        assert_eq!(read("a"), Some(disabled.clone()));
        assert_eq!(read("b"), Some(key("b")));

        // Read inside a transaction after its own write, then rolled back: not remembered.
        let err = store.with_tx(|tx| {
            purge_key(tx, &key("b"))?;
            assert_eq!(get_key(tx, "b")?, None);
            put_key(tx, &key("a"))?;
            assert_eq!(get_key(tx, "a")?, Some(key("a")));
            Err::<(), _>(KmsError::internal("simulated failure"))
        });
        assert!(err.is_err());
        assert_eq!(read("a"), Some(disabled));
        assert_eq!(read("b"), Some(key("b")));
    }

    /// A key store written before key specs opens with every key SYMMETRIC_DEFAULT; one
    /// written before key usages were stored reads each spec's one usage of that time.
    #[test]
    fn old_store_gains_key_spec_and_usage_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_FILE_NAME);
        {
            let conn = Connection::open(&path).unwrap();
            let old_schema = SCHEMA.replace(
                ",\n    key_spec TEXT NOT NULL DEFAULT 'SYMMETRIC_DEFAULT',\n    key_usage TEXT",
                "",
            );
            assert_ne!(old_schema, SCHEMA, "the old schema lacks the column");
            conn.execute_batch(&old_schema).unwrap();
            conn.execute(
                "INSERT INTO keys (key_id, arn, created, description, state, origin, \
                 aws_managed, policy, rotation_enabled, rotation_period_days, \
                 on_demand_rotations) VALUES ('a', 'arn:aws:kms:us-east-1:000000000000:key/a', \
                 1.0, '', 'Enabled', 'AWS_KMS', 0, '{}', 0, 365, 0)",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        store
            .with_tx(|tx| {
                assert_eq!(get_key(tx, "a")?, Some(key("a")));
                let mut hmac = key("b");
                hmac.key_spec = KeySpec::Hmac384;
                put_key(tx, &hmac)?;
                assert_eq!(get_key(tx, "b")?.unwrap().key_spec, KeySpec::Hmac384);
                tx.execute(
                    "UPDATE keys SET key_spec = 'ECC_NIST_P256', key_usage = NULL \
                     WHERE key_id = 'b'",
                    &[],
                )?;
                assert_eq!(get_key(tx, "b")?.unwrap().key_usage, KeyUsage::SignVerify);
                Ok(())
            })
            .unwrap();
        drop(store);
        // Reopening does not try to add the column again.
        SqliteStore::open(&path).unwrap();
    }
}
