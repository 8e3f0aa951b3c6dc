//! The SQLite key store's memory of query results (docs/PERFORMANCE.md "SSE-KMS small PUTs:
//! where the time went").
//!
//! Every KMS call reads the same few rows (the alias, the key, its material, its grants): on a
//! 4 KiB SSE-KMS PUT those queries were about a fifth of the KMS's CPU. The SQLite database has
//! exactly one user, this process's one connection (`locking_mode=EXCLUSIVE`, every
//! transaction under one mutex), so a result read once stays what the database holds until
//! this connection writes. [`ReadCache::forget_all`] is called on every write, before it runs,
//! so no change to a key, alias, grant or material can be missed, whichever statement makes
//! it. Results read inside a transaction that has written are never remembered (that
//! transaction may still roll back).
//!
//! PostgreSQL is shared by a fleet of gateways, whose writes this process would not see: it has
//! no such cache.

use std::collections::HashMap;

use super::{Row, Value};

/// Results of more rows than this are not kept (listings; the hot queries return one or two).
const MAX_ROWS: usize = 16;
/// Bound on remembered results; when full the cache starts over (queries with ever-changing
/// parameters cannot grow it without limit).
const MAX_ENTRIES: usize = 512;

#[derive(Debug, Default)]
pub(crate) struct ReadCache {
    results: HashMap<String, Vec<Row>>,
}

/// One statement with its parameters. `Value`'s `Debug` quotes and escapes text and prints
/// blobs as byte lists, so two different parameter lists never give the same key.
fn cache_key(sql: &str, params: &[Value]) -> String {
    format!("{sql}\u{0}{params:?}")
}

impl ReadCache {
    pub(crate) fn get(&self, sql: &str, params: &[Value]) -> Option<Vec<Row>> {
        self.results.get(&cache_key(sql, params)).cloned()
    }

    pub(crate) fn remember(&mut self, sql: &str, params: &[Value], rows: &[Row]) {
        if rows.len() > MAX_ROWS {
            return;
        }
        if self.results.len() >= MAX_ENTRIES {
            self.results.clear();
        }
        self.results.insert(cache_key(sql, params), rows.to_vec());
    }

    /// The database is about to change: nothing remembered may be served again.
    pub(crate) fn forget_all(&mut self) {
        self.results.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(s: &str) -> Row {
        Row(vec![Value::Text(s.into())])
    }

    #[test]
    fn remembers_per_statement_and_parameters() {
        let mut c = ReadCache::default();
        c.remember("SELECT a WHERE k = $1", &["x".into()], &[row("1")]);
        assert_eq!(
            c.get("SELECT a WHERE k = $1", &["x".into()]),
            Some(vec![row("1")])
        );
        assert_eq!(c.get("SELECT a WHERE k = $1", &["y".into()]), None);
        assert_eq!(c.get("SELECT b WHERE k = $1", &["x".into()]), None);
        // Text that looks like two parameters is not two parameters.
        c.remember("Q", &["a\", Text(\"b".into()], &[row("one")]);
        assert_eq!(c.get("Q", &["a".into(), "b".into()]), None);
        c.forget_all();
        assert_eq!(c.get("SELECT a WHERE k = $1", &["x".into()]), None);
    }

    #[test]
    fn stays_bounded() {
        let mut c = ReadCache::default();
        let many: Vec<Row> = (0..=MAX_ROWS).map(|i| row(&i.to_string())).collect();
        c.remember("Q", &[], &many);
        assert_eq!(c.get("Q", &[]), None);
        for i in 0..MAX_ENTRIES * 2 {
            c.remember("Q", &[Value::Int(i as i64)], &[row("r")]);
        }
        assert!(c.results.len() <= MAX_ENTRIES);
    }
}
