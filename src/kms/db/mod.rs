//! The durable key store, on one of two databases behind one seam:
//! - SQLite ([`sqlite`], rusqlite bundled) in WAL mode with `synchronous=FULL`, the embedded
//!   default: `<data dir>/kms/kms.sqlite3`;
//! - PostgreSQL ([`postgres`], `--kms-db postgres://…`), which several `sealgate kms` nodes
//!   can share.
//!
//! The KMS sees only [`Store::with_tx`] and the query functions below, which take a
//! [`Tx`]: every service operation runs inside one transaction with the isolation of a
//! serial execution (SQLite: one IMMEDIATE transaction at a time; PostgreSQL: SERIALIZABLE,
//! retried on a serialization conflict). A crash mid-CreateKey or mid-rotation leaves either
//! the old rows or the new ones, and two nodes that race to rotate or expire one key cannot
//! both commit. The SQL is written once here, in the subset both databases speak (`$n`
//! placeholders, `INSERT … ON CONFLICT … DO UPDATE`); each backend binds and reads the few
//! [`Value`] types the schema uses. Key material is stored only sealed under the root key
//! (see `rootkey.rs`); this module never sees plaintext key material.

pub(crate) mod postgres;
mod read_cache;
pub(crate) mod sqlite;

use std::path::Path;

use super::error::KmsError;
use super::key_spec::{KeySpec, KeyUsage};

pub use postgres::PgUrl;

pub const DEFAULT_FILE_NAME: &str = "kms.sqlite3";

/// Where the key store lives (`--kms-db`).
#[derive(Debug, Clone, Default)]
pub enum KmsDb {
    /// The SQLite file [`DEFAULT_FILE_NAME`] in the KMS data directory.
    #[default]
    Sqlite,
    /// A PostgreSQL database, which several KMS nodes may share.
    Postgres(Box<PgUrl>),
}

impl KmsDb {
    /// Parses the `--kms-db` value: a `postgres://` (or `postgresql://`) URL.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(KmsDb::Postgres(Box::new(PgUrl::parse(s)?)));
        }
        Err("--kms-db takes a postgres://user@host:port/database URL \
             (without it the KMS uses SQLite in its data directory)"
            .into())
    }
}

/// A failure of the database itself (as opposed to a KMS answer).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {}", error_chain(.0))]
    Postgres(#[from] ::postgres::Error),
    /// A stored value this build cannot read (an unknown state name, a wrong column type).
    #[error("unreadable stored value: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Setup(String),
}

pub type DbResult<T> = Result<T, DbError>;

/// An error with its causes (rust-postgres keeps the reason, e.g. the certificate check that
/// failed, in the source).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// One SQL value, as both backends bind and return it. Booleans are integers 0/1 (SQLite has
/// no boolean type, and the PostgreSQL schema keeps the same columns).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}

impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        v.map_or(Value::Null, Value::from)
    }
}

impl From<&Option<String>> for Value {
    fn from(v: &Option<String>) -> Self {
        v.as_deref().into()
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}

impl From<Option<f64>> for Value {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Value::Null, Value::Real)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(v.into())
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Blob(v.to_vec())
    }
}

impl From<&Option<Vec<u8>>> for Value {
    fn from(v: &Option<Vec<u8>>) -> Self {
        v.as_deref().map_or(Value::Null, Value::from)
    }
}

/// `vals![a, b]` is `&[Value::from(a), Value::from(b)]`.
macro_rules! vals {
    ($($v:expr),* $(,)?) => { &[$(Value::from($v)),*] };
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> DbResult<&Value> {
        self.0
            .get(i)
            .ok_or_else(|| DbError::Corrupt(format!("no column {i}")))
    }

    fn wrong(&self, i: usize, want: &str) -> DbError {
        DbError::Corrupt(format!("column {i} is not {want}: {:?}", self.0.get(i)))
    }

    fn opt_text(&self, i: usize) -> DbResult<Option<String>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            _ => Err(self.wrong(i, "text")),
        }
    }

    fn text(&self, i: usize) -> DbResult<String> {
        self.opt_text(i)?.ok_or_else(|| self.wrong(i, "text"))
    }

    fn opt_real(&self, i: usize) -> DbResult<Option<f64>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Real(v) => Ok(Some(*v)),
            // SQLite stores a whole REAL it was given as an integer only if told to; accept it.
            Value::Int(v) => Ok(Some(*v as f64)),
            _ => Err(self.wrong(i, "a number")),
        }
    }

    fn real(&self, i: usize) -> DbResult<f64> {
        self.opt_real(i)?.ok_or_else(|| self.wrong(i, "a number"))
    }

    fn int(&self, i: usize) -> DbResult<i64> {
        match self.at(i)? {
            Value::Int(v) => Ok(*v),
            _ => Err(self.wrong(i, "an integer")),
        }
    }

    fn u32(&self, i: usize) -> DbResult<u32> {
        u32::try_from(self.int(i)?).map_err(|_| self.wrong(i, "a u32"))
    }

    fn bool(&self, i: usize) -> DbResult<bool> {
        Ok(self.int(i)? != 0)
    }

    fn opt_blob(&self, i: usize) -> DbResult<Option<Vec<u8>>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Blob(b) => Ok(Some(b.clone())),
            _ => Err(self.wrong(i, "bytes")),
        }
    }

    fn blob(&self, i: usize) -> DbResult<Vec<u8>> {
        self.opt_blob(i)?.ok_or_else(|| self.wrong(i, "bytes"))
    }
}

/// One open transaction, on whichever database. Statements are written with `$1…$n`
/// placeholders, each first used in order.
pub trait Tx {
    /// Runs one statement; the number of rows it changed.
    fn execute(&self, sql: &str, params: &[Value]) -> DbResult<u64>;
    fn query(&self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>>;
    /// The column that orders rows of one table by insertion (SQLite's `rowid`, a sequence
    /// column in PostgreSQL), to break ties between equal timestamps.
    fn insertion_order(&self) -> &'static str;
}

fn query_opt<T>(
    c: &dyn Tx,
    sql: &str,
    params: &[Value],
    from_row: impl Fn(&Row) -> DbResult<T>,
) -> DbResult<Option<T>> {
    c.query(sql, params)?.first().map(from_row).transpose()
}

fn query_all<T>(
    c: &dyn Tx,
    sql: &str,
    params: &[Value],
    from_row: impl Fn(&Row) -> DbResult<T>,
) -> DbResult<Vec<T>> {
    c.query(sql, params)?.iter().map(from_row).collect()
}

/// The key store the KMS runs on.
#[derive(Debug)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(Box<postgres::PgStore>),
}

impl Store {
    /// Opens (creating or migrating the schema of) the store `db` names; SQLite lives in
    /// `data_dir`.
    pub fn open(db: &KmsDb, data_dir: &Path) -> DbResult<Self> {
        Ok(match db {
            KmsDb::Sqlite => Store::Sqlite(sqlite::SqliteStore::open(
                &data_dir.join(DEFAULT_FILE_NAME),
            )?),
            KmsDb::Postgres(url) => Store::Postgres(Box::new(postgres::PgStore::open(url)?)),
        })
    }

    /// Runs `f` in one transaction; commits on `Ok`, rolls back on `Err`. On PostgreSQL `f`
    /// runs again (in a fresh transaction) when the database aborted it for a conflict with
    /// another node's transaction, so `f` must have no effect outside the store that a
    /// repeat would double.
    pub fn with_tx<T>(&self, f: impl FnMut(&dyn Tx) -> Result<T, KmsError>) -> Result<T, KmsError> {
        match self {
            Store::Sqlite(s) => s.with_tx(f),
            Store::Postgres(p) => p.with_tx(f),
        }
    }
}

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

    fn parse(s: &str) -> DbResult<Self> {
        Ok(match s {
            "Enabled" => KeyState::Enabled,
            "Disabled" => KeyState::Disabled,
            "PendingDeletion" => KeyState::PendingDeletion,
            "PendingImport" => KeyState::PendingImport,
            other => return Err(DbError::Corrupt(format!("unknown key state {other}"))),
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

    fn parse(s: &str) -> DbResult<Self> {
        match s {
            "AWS_KMS" => Ok(Origin::AwsKms),
            "EXTERNAL" => Ok(Origin::External),
            "AWS_CLOUDHSM" => Ok(Origin::AwsCloudHsm),
            other => Err(DbError::Corrupt(format!("unknown origin {other}"))),
        }
    }
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
    pub key_usage: KeyUsage,
    /// A multi-Region key (`mrk-` id): its primary and replica keys share spec, material and
    /// rotation (see `replicas`).
    pub multi_region: bool,
    /// This record is a replica key's: its Region's own fields (ARN, creation date,
    /// description, state, policy, deletion date) live in `key_replicas`, the shared ones in
    /// the primary's `keys` row.
    pub replica: bool,
}

impl KeyRecord {
    fn from_row(r: &Row) -> DbResult<Self> {
        let spec = r.text(16)?;
        let key_spec = KeySpec::parse(&spec)
            .ok_or_else(|| DbError::Corrupt(format!("unknown key spec {spec}")))?;
        // NULL in stores from before RSA and KEY_AGREEMENT keys: each spec had one usage.
        let key_usage = match r.opt_text(17)? {
            Some(u) => KeyUsage::parse(&u)
                .ok_or_else(|| DbError::Corrupt(format!("unknown key usage {u}")))?,
            None => key_spec.default_usage(),
        };
        Ok(Self {
            key_id: r.text(0)?,
            arn: r.text(1)?,
            created: r.real(2)?,
            description: r.text(3)?,
            state: KeyState::parse(&r.text(4)?)?,
            origin: Origin::parse(&r.text(5)?)?,
            aws_managed: r.int(6)? != 0,
            service_only: r.int(6)? == MANAGER_SERVICE,
            policy: r.text(7)?,
            rotation_enabled: r.bool(8)?,
            rotation_period_days: r.u32(9)?,
            next_rotation: r.opt_real(10)?,
            deletion_date: r.opt_real(11)?,
            on_demand_rotations: r.u32(12)?,
            current_material: r.opt_text(13)?,
            expiration_model: r.opt_text(14)?,
            valid_to: r.opt_real(15)?,
            key_spec,
            key_usage,
            multi_region: r.bool(18)?,
            replica: false,
        })
    }

    /// An operation of another key usage: InvalidKeyUsageException, in AWS's wording.
    pub(crate) fn wrong_usage(&self, op: &str) -> KmsError {
        KmsError::new(
            super::error::ErrorKind::InvalidKeyUsage,
            format!(
                "{} key usage is {} which is not valid for {op}.",
                self.arn,
                self.key_usage.as_str()
            ),
        )
    }
}

/// The `aws_managed` column value of a service-owned key (0 customer, 1 AWS-managed).
const MANAGER_SERVICE: i64 = 2;

const KEY_COLUMNS: &str = "key_id, arn, created, description, state, origin, aws_managed, policy, \
     rotation_enabled, rotation_period_days, next_rotation, deletion_date, on_demand_rotations, \
     current_material, expiration_model, valid_to, key_spec, key_usage, multi_region";

/// `INSERT … ON CONFLICT (<key>) DO UPDATE SET <every other column>`: an upsert both
/// databases run, which (unlike SQLite's `INSERT OR REPLACE`) keeps the row's identity.
fn upsert(table: &str, columns: &str, conflict: &[&str]) -> String {
    let names: Vec<&str> = columns.split(',').map(str::trim).collect();
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let updates: Vec<String> = names
        .iter()
        .filter(|n| !conflict.contains(n))
        .map(|n| format!("{n} = excluded.{n}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        names.join(", "),
        placeholders.join(", "),
        conflict.join(", "),
        updates.join(", ")
    )
}

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
    fn from_row(r: &Row) -> DbResult<Self> {
        Ok(Self {
            key_id: r.text(0)?,
            material_id: r.text(1)?,
            sealed: r.opt_blob(2)?,
            created: r.real(3)?,
            rotation_type: r.opt_text(4)?,
            imported: r.bool(5)?,
            fingerprint: r.opt_text(6)?,
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

// ---- keys -------------------------------------------------------------------------------

pub fn get_key(c: &dyn Tx, key_id: &str) -> DbResult<Option<KeyRecord>> {
    query_opt(
        c,
        &format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id = $1"),
        vals![key_id],
        KeyRecord::from_row,
    )
}

pub fn all_keys(c: &dyn Tx) -> DbResult<Vec<KeyRecord>> {
    query_all(
        c,
        &format!("SELECT {KEY_COLUMNS} FROM keys ORDER BY key_id"),
        &[],
        KeyRecord::from_row,
    )
}

/// Stores a key: a replica's Region fields in `key_replicas` and the fields it shares in the
/// primary's row, any other key in its own row.
pub fn put_key(c: &dyn Tx, k: &KeyRecord) -> DbResult<()> {
    if k.replica {
        return replicas::put_replica(c, k);
    }
    let manager = match (k.service_only, k.aws_managed) {
        (true, _) => MANAGER_SERVICE,
        (false, managed) => i64::from(managed),
    };
    c.execute(
        &upsert("keys", KEY_COLUMNS, &["key_id"]),
        vals![
            &k.key_id,
            &k.arn,
            k.created,
            &k.description,
            k.state.as_str(),
            k.origin.as_str(),
            manager,
            &k.policy,
            k.rotation_enabled,
            k.rotation_period_days,
            k.next_rotation,
            k.deletion_date,
            k.on_demand_rotations,
            &k.current_material,
            &k.expiration_model,
            k.valid_to,
            k.key_spec.as_str(),
            k.key_usage.as_str(),
            k.multi_region,
        ],
    )?;
    Ok(())
}

/// Removes a key and everything hanging off it (material, aliases, grants, tags, import
/// parameters). Used when a deletion window has passed; a multi-Region primary key is deleted
/// only once it has no replicas left.
pub fn purge_key(c: &dyn Tx, k: &KeyRecord) -> DbResult<()> {
    for table in ["grants", "tags"] {
        c.execute(
            &format!("DELETE FROM {table} WHERE key_id = $1"),
            vals![&k.scope()],
        )?;
    }
    for table in [
        "materials",
        "aliases",
        "import_params",
        "hsm_keys",
        "key_replicas",
    ] {
        c.execute(
            &format!("DELETE FROM {table} WHERE key_id = $1"),
            vals![&k.key_id],
        )?;
    }
    c.execute("DELETE FROM keys WHERE key_id = $1", vals![&k.key_id])?;
    Ok(())
}

// ---- material ---------------------------------------------------------------------------

const MATERIAL_COLUMNS: &str =
    "key_id, material_id, sealed, created, rotation_type, imported, fingerprint";

pub fn put_material(c: &dyn Tx, m: &MaterialRow) -> DbResult<()> {
    c.execute(
        &upsert("materials", MATERIAL_COLUMNS, &["key_id", "material_id"]),
        vals![
            &m.key_id,
            &m.material_id,
            &m.sealed,
            m.created,
            &m.rotation_type,
            m.imported,
            &m.fingerprint
        ],
    )?;
    Ok(())
}

pub fn get_material(c: &dyn Tx, key_id: &str, material_id: &str) -> DbResult<Option<MaterialRow>> {
    query_opt(
        c,
        &format!("SELECT {MATERIAL_COLUMNS} FROM materials WHERE key_id = $1 AND material_id = $2"),
        vals![key_id, material_id],
        MaterialRow::from_row,
    )
}

/// Oldest first.
pub fn list_materials(c: &dyn Tx, key_id: &str) -> DbResult<Vec<MaterialRow>> {
    query_all(
        c,
        &format!(
            "SELECT {MATERIAL_COLUMNS} FROM materials WHERE key_id = $1 ORDER BY created, {}",
            c.insertion_order()
        ),
        vals![key_id],
        MaterialRow::from_row,
    )
}

// ---- aliases ----------------------------------------------------------------------------

fn alias_from_row(r: &Row) -> DbResult<AliasRow> {
    Ok(AliasRow {
        name: r.text(0)?,
        key_id: r.text(1)?,
        created: r.real(2)?,
        updated: r.real(3)?,
    })
}

pub fn get_alias(c: &dyn Tx, name: &str) -> DbResult<Option<AliasRow>> {
    query_opt(
        c,
        "SELECT name, key_id, created, updated FROM aliases WHERE name = $1",
        vals![name],
        alias_from_row,
    )
}

pub fn put_alias(c: &dyn Tx, a: &AliasRow) -> DbResult<()> {
    c.execute(
        &upsert("aliases", "name, key_id, created, updated", &["name"]),
        vals![&a.name, &a.key_id, a.created, a.updated],
    )?;
    Ok(())
}

pub fn delete_alias(c: &dyn Tx, name: &str) -> DbResult<bool> {
    Ok(c.execute("DELETE FROM aliases WHERE name = $1", vals![name])? > 0)
}

/// Sorted by name; optionally only the aliases of one key.
pub fn list_aliases(c: &dyn Tx, key_id: Option<&str>) -> DbResult<Vec<AliasRow>> {
    query_all(
        c,
        "SELECT name, key_id, created, updated FROM aliases \
         WHERE CAST($1 AS TEXT) IS NULL OR key_id = $1 ORDER BY name",
        vals![key_id],
        alias_from_row,
    )
}

// ---- grants (body is the JSON of `grants::GrantRecord`) -----------------------------------

pub fn put_grant(
    c: &dyn Tx,
    grant_id: &str,
    key_id: &str,
    retiring: Option<&str>,
    created: f64,
    body: &str,
) -> DbResult<()> {
    c.execute(
        &upsert(
            "grants",
            "grant_id, key_id, retiring_principal, created, body",
            &["grant_id"],
        ),
        vals![grant_id, key_id, retiring, created, body],
    )?;
    Ok(())
}

fn bodies(c: &dyn Tx, sql: &str, param: &str) -> DbResult<Vec<String>> {
    query_all(c, sql, vals![param], |r| r.text(0))
}

pub fn grant_bodies_for_key(c: &dyn Tx, key_id: &str) -> DbResult<Vec<String>> {
    bodies(
        c,
        "SELECT body FROM grants WHERE key_id = $1 ORDER BY created, grant_id",
        key_id,
    )
}

pub fn grant_bodies_for_retiring(c: &dyn Tx, principal: &str) -> DbResult<Vec<String>> {
    bodies(
        c,
        "SELECT body FROM grants WHERE retiring_principal = $1 ORDER BY created, grant_id",
        principal,
    )
}

pub fn grant_body(c: &dyn Tx, grant_id: &str) -> DbResult<Option<String>> {
    Ok(
        bodies(c, "SELECT body FROM grants WHERE grant_id = $1", grant_id)?
            .into_iter()
            .next(),
    )
}

pub fn delete_grant(c: &dyn Tx, grant_id: &str) -> DbResult<bool> {
    Ok(c.execute("DELETE FROM grants WHERE grant_id = $1", vals![grant_id])? > 0)
}

// ---- tags -------------------------------------------------------------------------------

pub fn tags(c: &dyn Tx, key_id: &str) -> DbResult<Vec<(String, String)>> {
    query_all(
        c,
        "SELECT tag_key, tag_value FROM tags WHERE key_id = $1 ORDER BY tag_key",
        vals![key_id],
        |r| Ok((r.text(0)?, r.text(1)?)),
    )
}

pub fn put_tag(c: &dyn Tx, key_id: &str, k: &str, v: &str) -> DbResult<()> {
    c.execute(
        &upsert("tags", "key_id, tag_key, tag_value", &["key_id", "tag_key"]),
        vals![key_id, k, v],
    )?;
    Ok(())
}

pub fn delete_tag(c: &dyn Tx, key_id: &str, k: &str) -> DbResult<()> {
    c.execute(
        "DELETE FROM tags WHERE key_id = $1 AND tag_key = $2",
        vals![key_id, k],
    )?;
    Ok(())
}

// ---- import parameters ------------------------------------------------------------------

pub fn put_import_params(c: &dyn Tx, p: &ImportParamsRow) -> DbResult<()> {
    c.execute(
        "INSERT INTO import_params (token_id, key_id, algorithm, sealed_private_key, valid_to) \
         VALUES ($1, $2, $3, $4, $5)",
        vals![
            &p.token_id,
            &p.key_id,
            &p.algorithm,
            p.sealed_private_key.as_slice(),
            p.valid_to
        ],
    )?;
    Ok(())
}

pub fn get_import_params(c: &dyn Tx, token_id: &str) -> DbResult<Option<ImportParamsRow>> {
    query_opt(
        c,
        "SELECT token_id, key_id, algorithm, sealed_private_key, valid_to FROM import_params \
         WHERE token_id = $1",
        vals![token_id],
        |r| {
            Ok(ImportParamsRow {
                token_id: r.text(0)?,
                key_id: r.text(1)?,
                algorithm: r.text(2)?,
                sealed_private_key: r.blob(3)?,
                valid_to: r.real(4)?,
            })
        },
    )
}

pub fn delete_expired_import_params(c: &dyn Tx, now: f64) -> DbResult<u64> {
    c.execute("DELETE FROM import_params WHERE valid_to <= $1", vals![now])
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

fn store_from_row(r: &Row) -> DbResult<KeyStoreRow> {
    Ok(KeyStoreRow {
        id: r.text(0)?,
        name: r.text(1)?,
        store_type: r.text(2)?,
        cluster_id: r.text(3)?,
        trust_anchor: r.opt_text(4)?,
        sealed_pin: r.blob(5)?,
        created: r.real(6)?,
    })
}

pub fn put_key_store(c: &dyn Tx, s: &KeyStoreRow) -> DbResult<()> {
    c.execute(
        &upsert("custom_key_stores", STORE_COLUMNS, &["id"]),
        vals![
            &s.id,
            &s.name,
            &s.store_type,
            &s.cluster_id,
            &s.trust_anchor,
            s.sealed_pin.as_slice(),
            s.created
        ],
    )?;
    Ok(())
}

/// Sorted by creation.
pub fn all_key_stores(c: &dyn Tx) -> DbResult<Vec<KeyStoreRow>> {
    query_all(
        c,
        &format!("SELECT {STORE_COLUMNS} FROM custom_key_stores ORDER BY created, id"),
        &[],
        store_from_row,
    )
}

pub fn delete_key_store(c: &dyn Tx, id: &str) -> DbResult<bool> {
    Ok(c.execute("DELETE FROM custom_key_stores WHERE id = $1", vals![id])? > 0)
}

/// Marks `key_id` as backed by the HSM of custom key store `store_id`.
pub fn put_hsm_key(c: &dyn Tx, key_id: &str, store_id: &str) -> DbResult<()> {
    c.execute(
        &upsert("hsm_keys", "key_id, store_id", &["key_id"]),
        vals![key_id, store_id],
    )?;
    Ok(())
}

pub fn hsm_key_store(c: &dyn Tx, key_id: &str) -> DbResult<Option<String>> {
    query_opt(
        c,
        "SELECT store_id FROM hsm_keys WHERE key_id = $1",
        vals![key_id],
        |r| r.text(0),
    )
}

pub fn hsm_key_count(c: &dyn Tx, store_id: &str) -> DbResult<i64> {
    query_opt(
        c,
        "SELECT COUNT(*) FROM hsm_keys WHERE store_id = $1",
        vals![store_id],
        |r| r.int(0),
    )
    .map(|n| n.unwrap_or(0))
}

// ---- approval requests (two-person rule) -------------------------------------------------

mod approvals;
pub use approvals::{ApprovalRow, get_approval, open_approval, put_approval};

// ---- the Regions of multi-Region keys ----------------------------------------------------

mod replicas;
pub use replicas::{
    ReplicaRef, all_incarnations, delete_replica_row, get_key_in, purge_replica, replica_refs,
};
