//! The Regions of multi-Region keys. A multi-Region key's primary key is its `keys` row (the
//! Region in that row's ARN); each replica key is a `key_replicas` row, keyed by key id and
//! Region, holding what is a replica's own in AWS: ARN, creation date, description, key state,
//! key policy and deletion date. What AWS shares between related multi-Region keys (key spec
//! and usage, origin, key material and its rotation) is read from the primary's row, so the
//! material sealed once serves every Region. A replica's record therefore writes back only its
//! own fields: the shared ones change through the primary key.

use super::{
    DbResult, KEY_COLUMNS, KeyRecord, Row, Tx, Value, get_key, query_all, query_opt, upsert,
};

impl KeyRecord {
    /// The Region in the key's ARN.
    pub fn region(&self) -> &str {
        self.arn.split(':').nth(3).unwrap_or_default()
    }

    /// What this key's tags and grants hang off: each Region's key of a multi-Region key has
    /// its own (as in AWS), so they are filed under the id and the Region.
    pub fn scope(&self) -> String {
        if self.multi_region {
            format!("{}@{}", self.key_id, self.region())
        } else {
            self.key_id.clone()
        }
    }
}

const REPLICA_COLUMNS: &str = "key_id, region, arn, created, description, state, policy, \
     deletion_date";

/// The key columns that are a replica's own.
const OWN: [&str; 6] = [
    "arn",
    "created",
    "description",
    "state",
    "policy",
    "deletion_date",
];

/// `SELECT` of replica keys as [`KeyRecord`] rows: the replica's own columns from
/// `key_replicas r`, the rest from the primary's `keys k`.
fn replica_select(filter: &str) -> String {
    let columns: Vec<String> = KEY_COLUMNS
        .split(',')
        .map(str::trim)
        .map(|c| {
            let table = if OWN.contains(&c) { "r" } else { "k" };
            format!("{table}.{c}")
        })
        .collect();
    format!(
        "SELECT {} FROM keys k JOIN key_replicas r ON r.key_id = k.key_id WHERE {filter} \
         ORDER BY k.key_id, r.region",
        columns.join(", ")
    )
}

fn replica_from_row(r: &Row) -> DbResult<KeyRecord> {
    let mut k = KeyRecord::from_row(r)?;
    k.replica = true;
    Ok(k)
}

/// The key `key_id` as the Region `region` has it: the key whose ARN is in `region`, or the
/// replica there of a multi-Region key.
pub fn get_key_in(c: &dyn Tx, key_id: &str, region: &str) -> DbResult<Option<KeyRecord>> {
    let Some(key) = get_key(c, key_id)? else {
        return Ok(None);
    };
    if key.region() == region {
        return Ok(Some(key));
    }
    if !key.multi_region {
        return Ok(None);
    }
    query_opt(
        c,
        &replica_select("k.key_id = $1 AND r.region = $2"),
        vals![key_id, region],
        replica_from_row,
    )
}

/// Every key of every Region: the `keys` rows, then the replica keys, by key id.
pub fn all_incarnations(c: &dyn Tx) -> DbResult<Vec<KeyRecord>> {
    let mut keys = super::all_keys(c)?;
    keys.extend(query_all(
        c,
        &replica_select("1 = 1"),
        &[],
        replica_from_row,
    )?);
    keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    Ok(keys)
}

/// One replica key of a multi-Region key, as DescribeKey lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaRef {
    pub region: String,
    pub arn: String,
}

/// The replica keys of `key_id`, by Region.
pub fn replica_refs(c: &dyn Tx, key_id: &str) -> DbResult<Vec<ReplicaRef>> {
    query_all(
        c,
        "SELECT region, arn FROM key_replicas WHERE key_id = $1 ORDER BY region",
        vals![key_id],
        |r| {
            Ok(ReplicaRef {
                region: r.text(0)?,
                arn: r.text(1)?,
            })
        },
    )
}

/// Stores a replica key's own fields (a new replica, or a change to one).
pub(super) fn put_replica(c: &dyn Tx, k: &KeyRecord) -> DbResult<()> {
    c.execute(
        &upsert("key_replicas", REPLICA_COLUMNS, &["key_id", "region"]),
        vals![
            &k.key_id,
            k.region(),
            &k.arn,
            k.created,
            &k.description,
            k.state.as_str(),
            &k.policy,
            k.deletion_date,
        ],
    )?;
    Ok(())
}

/// Forgets the replica row of `key_id` in `region` (the replica became the primary key).
pub fn delete_replica_row(c: &dyn Tx, key_id: &str, region: &str) -> DbResult<()> {
    c.execute(
        "DELETE FROM key_replicas WHERE key_id = $1 AND region = $2",
        vals![key_id, region],
    )?;
    Ok(())
}

/// Deletes a replica key whose deletion window has passed, with its tags and grants; the
/// shared material stays with the primary key.
pub fn purge_replica(c: &dyn Tx, k: &KeyRecord) -> DbResult<()> {
    for table in ["grants", "tags"] {
        c.execute(
            &format!("DELETE FROM {table} WHERE key_id = $1"),
            vals![&k.scope()],
        )?;
    }
    delete_replica_row(c, &k.key_id, k.region())
}
