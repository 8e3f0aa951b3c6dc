//! Conformance of ListObjects pages in a bucket where most keys' current version is a delete
//! marker ([`Store::list_page_with`]): every live key exactly once and in order, no deleted
//! key, no common prefix with only deleted keys beneath it, and pages that end early once
//! they have passed over their budget of deleted keys — short or empty, but always resuming
//! further on, so a listing ends in a bounded number of pages.

use super::super::listing::PageQuery;
use super::super::{Expect, ListEntry, Store, VersionRow, Versioning, new_version_id};
use super::{fresh_bucket, object_meta};

const KEYS: usize = 60;
/// Live keys; every other key is deleted (its current version a marker). Keys 15..=44 make a
/// run of 30 deleted keys, well over [`BUDGET`]; `m2/` and `m3/` hold only deleted keys.
const LIVE: [usize; 5] = [0, 13, 14, 45, 59];
/// Deleted keys one page may pass over.
const BUDGET: usize = 5;

fn key(i: usize) -> String {
    format!("m{}/{i:03}", i / 10)
}

/// Every entry of a listing, one page of `limit` at a time, as names (`p/*` for a common
/// prefix), checking each page's size and progress.
async fn pages(store: &Store, q: &PageQuery<'_>, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    // Live entries in pages of `limit`, plus one page per budget of deleted keys, plus a
    // possibly empty last page.
    let bound = KEYS.div_ceil(limit) + KEYS.div_ceil(BUDGET) + 1;
    for _ in 0..bound {
        let page = store.list_page_with(q, &cursor, limit).await.unwrap();
        assert!(
            page.entries.len() <= limit,
            "conformance: page over its limit"
        );
        out.extend(page.entries.iter().map(|e| match e {
            ListEntry::Object { key, .. } => key.clone(),
            ListEntry::CommonPrefix(p) => format!("{p}*"),
        }));
        match page.next {
            Some(next) => {
                // Further on: past the cursor, or the common prefix the cursor was beneath
                // (a resume after a common prefix skips all of it).
                assert!(
                    next > cursor || (next != cursor && cursor.starts_with(&next)),
                    "conformance: a page resumes further on"
                );
                cursor = next;
            }
            None => return out,
        }
    }
    panic!("conformance: listing past delete markers does not end in {bound} pages");
}

pub(super) async fn listing_past_markers(store: &Store, run: &str) {
    let b = fresh_bucket(store, run, "markers").await;
    let on = Versioning::Enabled;
    for i in 0..KEYS {
        let mut m = object_meta("g", 10);
        m.version_id = Some(new_version_id());
        store.commit_object(&b, &key(i), &m, on).await.unwrap();
        if !LIVE.contains(&i) {
            store
                .delete_object_if(&b, &key(i), on, &Expect::Any)
                .await
                .unwrap();
        }
    }
    let live: Vec<String> = LIVE.iter().map(|i| key(*i)).collect();
    let flat = PageQuery {
        bucket: &b,
        prefix: "",
        delimiter: "",
        markers: true,
        max_hidden: BUDGET,
    };
    let grouped = PageQuery {
        delimiter: "/",
        ..flat
    };
    for limit in [1, 2, 7, 1000] {
        assert_eq!(
            pages(store, &flat, limit).await,
            live,
            "conformance: live keys past markers, pages of {limit}"
        );
        assert_eq!(
            pages(store, &grouped, limit).await,
            ["m0/*", "m1/*", "m4/*", "m5/*"],
            "conformance: prefixes with a live key, pages of {limit}"
        );
    }
    let under = PageQuery {
        prefix: "m1/",
        ..grouped
    };
    assert_eq!(pages(store, &under, 1).await, ["m1/013", "m1/014"]);
    // The budget really bounds a page: 30 deleted keys in a row end it early.
    let first = store.list_page_with(&flat, "m1/014", 1000).await.unwrap();
    assert!(
        first.entries.is_empty() && first.next.is_some(),
        "conformance: a page ends after its budget of deleted keys"
    );

    // Empty the bucket version by version.
    let all = store
        .list_versions(&b, "", "", "", None, 1000)
        .await
        .unwrap();
    for row in all.rows {
        if let VersionRow::Version { key, version, .. } = row {
            let id = version.version_id().unwrap_or("null").to_owned();
            store.remove_version(&b, &key, &id).await.unwrap();
        }
    }
    store.delete_bucket(&b).await.unwrap();
}
