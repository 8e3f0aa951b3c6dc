//! The durable key store: SQLite (rusqlite, bundled) in WAL mode with `synchronous=FULL`.
//!
//! Every service operation runs inside one IMMEDIATE transaction ([`Store::with_tx`]), so a
//! crash mid-CreateKey or mid-rotation leaves either the old rows or the new ones: an existing
//! key and its material are never lost. Key material is stored only sealed under the root key
//! (see `rootkey.rs`); this module never sees plaintext key material.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::error::KmsError;
use super::key_spec::KeySpec;

pub const DEFAULT_FILE_NAME: &str = "kms.sqlite3";

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
    key_spec TEXT NOT NULL DEFAULT 'SYMMETRIC_DEFAULT'
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    PendingImport,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
        }
    }

    fn parse(s: &str) -> rusqlite::Result<Self> {
        Ok(match s {
            "Enabled" => KeyState::Enabled,
            "Disabled" => KeyState::Disabled,
            "PendingDeletion" => KeyState::PendingDeletion,
            "PendingImport" => KeyState::PendingImport,
            other => return Err(bad_column(format!("unknown key state {other}"))),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    AwsKms,
    External,
    /// Material generated in and used by a PKCS#11 token (custom key store, see `hsm_keys`).
    AwsCloudHsm,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::AwsKms => "AWS_KMS",
            Origin::External => "EXTERNAL",
            Origin::AwsCloudHsm => "AWS_CLOUDHSM",
        }
    }

    fn parse(s: &str) -> rusqlite::Result<Self> {
        match s {
            "AWS_KMS" => Ok(Origin::AwsKms),
            "EXTERNAL" => Ok(Origin::External),
            "AWS_CLOUDHSM" => Ok(Origin::AwsCloudHsm),
            other => Err(bad_column(format!("unknown origin {other}"))),
        }
    }
}

fn bad_column(msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, msg.into())
}

/// One KMS key (its metadata; material lives in [`MaterialRow`]s).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub key_id: String,
    pub arn: String,
    pub created: f64,
    pub description: String,
    pub state: KeyState,
    pub origin: Origin,
    /// `KeyManager: AWS`: no principal may manage the key or use it directly.
    pub aws_managed: bool,
    /// A service key of the gateway itself (`alias/sealgate/...`): usable only by a service
    /// caller, never through S3 requests. Implies `aws_managed`. Stored as `aws_managed = 2`,
    /// so the column stays readable by earlier builds (any non-zero value is AWS-managed).
    pub service_only: bool,
    pub policy: String,
    pub rotation_enabled: bool,
    pub rotation_period_days: u32,
    pub next_rotation: Option<f64>,
    pub deletion_date: Option<f64>,
    pub on_demand_rotations: u32,
    pub current_material: Option<String>,
    /// Imported material only: KEY_MATERIAL_EXPIRES | KEY_MATERIAL_DOES_NOT_EXPIRE.
    pub expiration_model: Option<String>,
    pub valid_to: Option<f64>,
    pub key_spec: KeySpec,
}

impl KeyRecord {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            key_id: r.get(0)?,
            arn: r.get(1)?,
            created: r.get(2)?,
            description: r.get(3)?,
            state: KeyState::parse(&r.get::<_, String>(4)?)?,
            origin: Origin::parse(&r.get::<_, String>(5)?)?,
            aws_managed: r.get::<_, i64>(6)? != 0,
            service_only: r.get::<_, i64>(6)? == MANAGER_SERVICE,
            policy: r.get(7)?,
            rotation_enabled: r.get(8)?,
            rotation_period_days: r.get(9)?,
            next_rotation: r.get(10)?,
            deletion_date: r.get(11)?,
            on_demand_rotations: r.get(12)?,
            current_material: r.get(13)?,
            expiration_model: r.get(14)?,
            valid_to: r.get(15)?,
            key_spec: {
                let s: String = r.get(16)?;
                KeySpec::parse(&s).ok_or_else(|| bad_column(format!("unknown key spec {s}")))?
            },
        })
    }
}

/// The `aws_managed` column value of a service-owned key (0 customer, 1 AWS-managed).
const MANAGER_SERVICE: i64 = 2;

const KEY_COLUMNS: &str = "key_id, arn, created, description, state, origin, aws_managed, policy, \
     rotation_enabled, rotation_period_days, next_rotation, deletion_date, on_demand_rotations, \
     current_material, expiration_model, valid_to, key_spec";

/// One version of a key's backing material. `sealed` is `None` once imported material has been
/// deleted or expired; the fingerprint stays so a reimport can be checked for sameness.
#[derive(Debug, Clone, PartialEq)]
pub struct MaterialRow {
    pub key_id: String,
    pub material_id: String,
    pub sealed: Option<Vec<u8>>,
    pub created: f64,
    /// None for the first material; AUTOMATIC or ON_DEMAND for rotations.
    pub rotation_type: Option<String>,
    pub imported: bool,
    pub fingerprint: Option<String>,
}

impl MaterialRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            key_id: r.get(0)?,
            material_id: r.get(1)?,
            sealed: r.get(2)?,
            created: r.get(3)?,
            rotation_type: r.get(4)?,
            imported: r.get(5)?,
            fingerprint: r.get(6)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AliasRow {
    pub name: String,
    pub key_id: String,
    pub created: f64,
    pub updated: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImportParamsRow {
    pub token_id: String,
    pub key_id: String,
    pub algorithm: String,
    pub sealed_private_key: Vec<u8>,
    pub valid_to: f64,
}

#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
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
        add_key_spec_column(&conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Runs `f` in one IMMEDIATE transaction; commits on `Ok`, rolls back on `Err`.
    pub fn with_tx<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Databases from before key specs lack the column; every key in them is symmetric.
fn add_key_spec_column(conn: &Connection) -> rusqlite::Result<()> {
    let has: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('keys') WHERE name = 'key_spec'",
        [],
        |r| r.get(0),
    )?;
    if has == 0 {
        conn.execute_batch(
            "ALTER TABLE keys ADD COLUMN key_spec TEXT NOT NULL DEFAULT 'SYMMETRIC_DEFAULT'",
        )?;
    }
    Ok(())
}

// ---- keys -------------------------------------------------------------------------------

pub fn get_key(c: &Connection, key_id: &str) -> rusqlite::Result<Option<KeyRecord>> {
    c.query_row(
        &format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id = ?1"),
        [key_id],
        KeyRecord::from_row,
    )
    .optional()
}

pub fn all_keys(c: &Connection) -> rusqlite::Result<Vec<KeyRecord>> {
    let mut st = c.prepare(&format!("SELECT {KEY_COLUMNS} FROM keys ORDER BY key_id"))?;
    st.query_map([], KeyRecord::from_row)?.collect()
}

pub fn put_key(c: &Connection, k: &KeyRecord) -> rusqlite::Result<()> {
    c.execute(
        &format!(
            "INSERT OR REPLACE INTO keys ({KEY_COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
        ),
        params![
            k.key_id,
            k.arn,
            k.created,
            k.description,
            k.state.as_str(),
            k.origin.as_str(),
            match (k.service_only, k.aws_managed) {
                (true, _) => MANAGER_SERVICE,
                (false, managed) => i64::from(managed),
            },
            k.policy,
            k.rotation_enabled,
            k.rotation_period_days,
            k.next_rotation,
            k.deletion_date,
            k.on_demand_rotations,
            k.current_material,
            k.expiration_model,
            k.valid_to,
            k.key_spec.as_str(),
        ],
    )?;
    Ok(())
}

/// Removes a key and everything hanging off it (material, aliases, grants, tags, import
/// parameters). Used when a deletion window has passed.
pub fn purge_key(c: &Connection, key_id: &str) -> rusqlite::Result<()> {
    for table in [
        "materials",
        "aliases",
        "grants",
        "tags",
        "import_params",
        "hsm_keys",
    ] {
        c.execute(&format!("DELETE FROM {table} WHERE key_id = ?1"), [key_id])?;
    }
    c.execute("DELETE FROM keys WHERE key_id = ?1", [key_id])?;
    Ok(())
}

// ---- material ---------------------------------------------------------------------------

const MATERIAL_COLUMNS: &str =
    "key_id, material_id, sealed, created, rotation_type, imported, fingerprint";

pub fn put_material(c: &Connection, m: &MaterialRow) -> rusqlite::Result<()> {
    c.execute(
        &format!(
            "INSERT OR REPLACE INTO materials ({MATERIAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ),
        params![
            m.key_id,
            m.material_id,
            m.sealed,
            m.created,
            m.rotation_type,
            m.imported,
            m.fingerprint
        ],
    )?;
    Ok(())
}

pub fn get_material(
    c: &Connection,
    key_id: &str,
    material_id: &str,
) -> rusqlite::Result<Option<MaterialRow>> {
    c.query_row(
        &format!("SELECT {MATERIAL_COLUMNS} FROM materials WHERE key_id = ?1 AND material_id = ?2"),
        [key_id, material_id],
        MaterialRow::from_row,
    )
    .optional()
}

/// Oldest first.
pub fn list_materials(c: &Connection, key_id: &str) -> rusqlite::Result<Vec<MaterialRow>> {
    let mut st = c.prepare(&format!(
        "SELECT {MATERIAL_COLUMNS} FROM materials WHERE key_id = ?1 ORDER BY created, rowid"
    ))?;
    st.query_map([key_id], MaterialRow::from_row)?.collect()
}

// ---- aliases ----------------------------------------------------------------------------

fn alias_from_row(r: &Row<'_>) -> rusqlite::Result<AliasRow> {
    Ok(AliasRow {
        name: r.get(0)?,
        key_id: r.get(1)?,
        created: r.get(2)?,
        updated: r.get(3)?,
    })
}

pub fn get_alias(c: &Connection, name: &str) -> rusqlite::Result<Option<AliasRow>> {
    c.query_row(
        "SELECT name, key_id, created, updated FROM aliases WHERE name = ?1",
        [name],
        alias_from_row,
    )
    .optional()
}

pub fn put_alias(c: &Connection, a: &AliasRow) -> rusqlite::Result<()> {
    c.execute(
        "INSERT OR REPLACE INTO aliases (name, key_id, created, updated) VALUES (?1, ?2, ?3, ?4)",
        params![a.name, a.key_id, a.created, a.updated],
    )?;
    Ok(())
}

pub fn delete_alias(c: &Connection, name: &str) -> rusqlite::Result<bool> {
    Ok(c.execute("DELETE FROM aliases WHERE name = ?1", [name])? > 0)
}

/// Sorted by name; optionally only the aliases of one key.
pub fn list_aliases(c: &Connection, key_id: Option<&str>) -> rusqlite::Result<Vec<AliasRow>> {
    let mut st = c.prepare(
        "SELECT name, key_id, created, updated FROM aliases \
         WHERE ?1 IS NULL OR key_id = ?1 ORDER BY name",
    )?;
    st.query_map([key_id], alias_from_row)?.collect()
}

// ---- grants (body is the JSON of `grants::GrantRecord`) -----------------------------------

pub fn put_grant(
    c: &Connection,
    grant_id: &str,
    key_id: &str,
    retiring: Option<&str>,
    created: f64,
    body: &str,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT OR REPLACE INTO grants (grant_id, key_id, retiring_principal, created, body) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![grant_id, key_id, retiring, created, body],
    )?;
    Ok(())
}

pub fn grant_bodies_for_key(c: &Connection, key_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut st =
        c.prepare("SELECT body FROM grants WHERE key_id = ?1 ORDER BY created, grant_id")?;
    st.query_map([key_id], |r| r.get(0))?.collect()
}

pub fn grant_bodies_for_retiring(c: &Connection, principal: &str) -> rusqlite::Result<Vec<String>> {
    let mut st = c.prepare(
        "SELECT body FROM grants WHERE retiring_principal = ?1 ORDER BY created, grant_id",
    )?;
    st.query_map([principal], |r| r.get(0))?.collect()
}

pub fn grant_body(c: &Connection, grant_id: &str) -> rusqlite::Result<Option<String>> {
    c.query_row(
        "SELECT body FROM grants WHERE grant_id = ?1",
        [grant_id],
        |r| r.get(0),
    )
    .optional()
}

pub fn delete_grant(c: &Connection, grant_id: &str) -> rusqlite::Result<bool> {
    Ok(c.execute("DELETE FROM grants WHERE grant_id = ?1", [grant_id])? > 0)
}

// ---- tags -------------------------------------------------------------------------------

pub fn tags(c: &Connection, key_id: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut st =
        c.prepare("SELECT tag_key, tag_value FROM tags WHERE key_id = ?1 ORDER BY tag_key")?;
    st.query_map([key_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

pub fn put_tag(c: &Connection, key_id: &str, k: &str, v: &str) -> rusqlite::Result<()> {
    c.execute(
        "INSERT OR REPLACE INTO tags (key_id, tag_key, tag_value) VALUES (?1, ?2, ?3)",
        [key_id, k, v],
    )?;
    Ok(())
}

pub fn delete_tag(c: &Connection, key_id: &str, k: &str) -> rusqlite::Result<()> {
    c.execute(
        "DELETE FROM tags WHERE key_id = ?1 AND tag_key = ?2",
        [key_id, k],
    )?;
    Ok(())
}

// ---- import parameters ------------------------------------------------------------------

pub fn put_import_params(c: &Connection, p: &ImportParamsRow) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO import_params (token_id, key_id, algorithm, sealed_private_key, valid_to) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            p.token_id,
            p.key_id,
            p.algorithm,
            p.sealed_private_key,
            p.valid_to
        ],
    )?;
    Ok(())
}

pub fn get_import_params(
    c: &Connection,
    token_id: &str,
) -> rusqlite::Result<Option<ImportParamsRow>> {
    c.query_row(
        "SELECT token_id, key_id, algorithm, sealed_private_key, valid_to FROM import_params \
         WHERE token_id = ?1",
        [token_id],
        |r| {
            Ok(ImportParamsRow {
                token_id: r.get(0)?,
                key_id: r.get(1)?,
                algorithm: r.get(2)?,
                sealed_private_key: r.get(3)?,
                valid_to: r.get(4)?,
            })
        },
    )
    .optional()
}

pub fn delete_expired_import_params(c: &Connection, now: f64) -> rusqlite::Result<usize> {
    c.execute("DELETE FROM import_params WHERE valid_to <= ?1", [now])
}

// ---- custom key stores ------------------------------------------------------------------

/// One custom key store. `sealed_pin` is the token user's PIN sealed under the root key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyStoreRow {
    pub id: String,
    pub name: String,
    pub store_type: String,
    /// The PKCS#11 token label (AWS's CloudHsmClusterId).
    pub cluster_id: String,
    pub trust_anchor: Option<String>,
    pub sealed_pin: Vec<u8>,
    pub created: f64,
}

const STORE_COLUMNS: &str = "id, name, store_type, cluster_id, trust_anchor, sealed_pin, created";

fn store_from_row(r: &Row<'_>) -> rusqlite::Result<KeyStoreRow> {
    Ok(KeyStoreRow {
        id: r.get(0)?,
        name: r.get(1)?,
        store_type: r.get(2)?,
        cluster_id: r.get(3)?,
        trust_anchor: r.get(4)?,
        sealed_pin: r.get(5)?,
        created: r.get(6)?,
    })
}

pub fn put_key_store(c: &Connection, s: &KeyStoreRow) -> rusqlite::Result<()> {
    c.execute(
        &format!(
            "INSERT OR REPLACE INTO custom_key_stores ({STORE_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ),
        params![
            s.id,
            s.name,
            s.store_type,
            s.cluster_id,
            s.trust_anchor,
            s.sealed_pin,
            s.created
        ],
    )?;
    Ok(())
}

/// Sorted by creation.
pub fn all_key_stores(c: &Connection) -> rusqlite::Result<Vec<KeyStoreRow>> {
    let mut st = c.prepare(&format!(
        "SELECT {STORE_COLUMNS} FROM custom_key_stores ORDER BY created, id"
    ))?;
    st.query_map([], store_from_row)?.collect()
}

pub fn delete_key_store(c: &Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(c.execute("DELETE FROM custom_key_stores WHERE id = ?1", [id])? > 0)
}

/// Marks `key_id` as backed by the HSM of custom key store `store_id`.
pub fn put_hsm_key(c: &Connection, key_id: &str, store_id: &str) -> rusqlite::Result<()> {
    c.execute(
        "INSERT OR REPLACE INTO hsm_keys (key_id, store_id) VALUES (?1, ?2)",
        [key_id, store_id],
    )?;
    Ok(())
}

pub fn hsm_key_store(c: &Connection, key_id: &str) -> rusqlite::Result<Option<String>> {
    c.query_row(
        "SELECT store_id FROM hsm_keys WHERE key_id = ?1",
        [key_id],
        |r| r.get(0),
    )
    .optional()
}

pub fn hsm_key_count(c: &Connection, store_id: &str) -> rusqlite::Result<i64> {
    c.query_row(
        "SELECT COUNT(*) FROM hsm_keys WHERE store_id = ?1",
        [store_id],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
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
        }
    }

    #[test]
    fn failed_transaction_keeps_existing_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_FILE_NAME);
        let store = Store::open(&path).unwrap();
        store.with_tx(|tx| Ok(put_key(tx, &key("a"))?)).unwrap();
        let err = store.with_tx(|tx| {
            put_key(tx, &key("b"))?;
            purge_key(tx, "a")?;
            Err::<(), _>(KmsError::internal("simulated crash"))
        });
        assert!(err.is_err());
        drop(store);
        let store = Store::open(&path).unwrap();
        store
            .with_tx(|tx| {
                assert_eq!(get_key(tx, "a")?, Some(key("a")));
                assert_eq!(get_key(tx, "b")?, None);
                Ok(())
            })
            .unwrap();
    }

    /// A key store written before key specs opens with every key SYMMETRIC_DEFAULT.
    #[test]
    fn old_store_gains_key_spec_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_FILE_NAME);
        {
            let conn = Connection::open(&path).unwrap();
            let old_schema = SCHEMA.replace(
                ",\n    key_spec TEXT NOT NULL DEFAULT 'SYMMETRIC_DEFAULT'",
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
        let store = Store::open(&path).unwrap();
        store
            .with_tx(|tx| {
                assert_eq!(get_key(tx, "a")?, Some(key("a")));
                let mut hmac = key("b");
                hmac.key_spec = KeySpec::Hmac384;
                put_key(tx, &hmac)?;
                assert_eq!(get_key(tx, "b")?.unwrap().key_spec, KeySpec::Hmac384);
                Ok(())
            })
            .unwrap();
        drop(store);
        // Reopening does not try to add the column again.
        Store::open(&path).unwrap();
    }
}
