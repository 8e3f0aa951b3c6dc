//! Conformance of object versions (`versions.rs`): which write keeps which version, delete
//! markers, removing versions for good, ListObjectVersions pages, and the sweep leaving
//! non-current versions' data alone, on every backend.

use std::time::Duration;

use super::super::{Expect, Store, VersionRow, Versioning, new_version_id};
use super::sweep::{policy, write_blob};
use super::{fresh_bucket, object_meta, read_all};
use crate::meta::{ObjectMeta, Version};

fn versioned(generation: &str, id: Option<String>) -> ObjectMeta {
    let mut m = object_meta(generation, 10);
    m.version_id = id;
    m
}

/// `(key, version id or "null", is latest, is a delete marker)` of every row of every page of
/// `limit` rows.
async fn all_versions(store: &Store, b: &str, limit: usize) -> Vec<(String, String, bool, bool)> {
    let (mut key, mut vid) = (String::new(), None::<String>);
    let mut out = Vec::new();
    for _ in 0..100 {
        let page = store
            .list_versions(b, "", "", &key, vid.as_deref(), limit)
            .await
            .unwrap();
        assert!(page.rows.len() <= limit, "conformance: page over its limit");
        for r in &page.rows {
            if let VersionRow::Version {
                key,
                version,
                is_latest,
            } = r
            {
                out.push((
                    key.clone(),
                    version.version_id().unwrap_or("null").to_owned(),
                    *is_latest,
                    matches!(version, Version::Marker(_)),
                ));
            }
        }
        match page.next {
            Some((k, v)) => (key, vid) = (k, v),
            None => return out,
        }
    }
    panic!("conformance: version listing does not end");
}

pub(super) async fn versions(store: &Store, run: &str) {
    let b = fresh_bucket(store, run, "versions").await;
    let on = Versioning::Enabled;
    // Today's object is the null version.
    let (g0, g1, g2, g3, g4) = ("gen-0", "gen-1", "gen-2", "gen-3", "gen-4");
    for g in [g0, g1, g2] {
        write_blob(store, &b, g).await;
    }
    store
        .commit_object(&b, "k", &versioned(g0, None), Versioning::Off)
        .await
        .unwrap();
    let (v1, v2) = (new_version_id(), new_version_id());
    store
        .commit_object(&b, "k", &versioned(g1, Some(v1.clone())), on)
        .await
        .unwrap();
    store
        .commit_object(&b, "k", &versioned(g2, Some(v2.clone())), on)
        .await
        .unwrap();
    let cur = store.get_meta(&b, "k").await.unwrap().unwrap();
    assert_eq!(cur.version_id.as_deref(), Some(v2.as_str()));
    for (id, g) in [("null", g0), (v1.as_str(), g1), (v2.as_str(), g2)] {
        let v = store.get_version(&b, "k", id).await.unwrap();
        assert_eq!(
            v.as_ref().and_then(Version::generation),
            Some(g),
            "conformance: version {id} readable by id"
        );
    }
    assert_eq!(
        store.get_version(&b, "k", &new_version_id()).await,
        Ok(None)
    );
    let listed = all_versions(store, &b, 1000).await;
    let expect = |rows: &[(&str, bool, bool)]| -> Vec<(String, String, bool, bool)> {
        rows.iter()
            .map(|(id, latest, marker)| ("k".to_owned(), id.to_string(), *latest, *marker))
            .collect()
    };
    assert_eq!(
        listed,
        expect(&[
            (&v2, true, false),
            (&v1, false, false),
            ("null", false, false)
        ]),
        "conformance: versions newest first"
    );

    // The sweep keeps every version's data.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let week = Duration::from_secs(7 * 24 * 3600);
    let report = store
        .sweep_bucket(&b, &policy(Duration::ZERO, week))
        .await
        .unwrap();
    assert_eq!(
        report.generations, 0,
        "conformance: no version's data is swept"
    );
    for g in [g0, g1, g2] {
        assert_eq!(
            read_all(store, &b, g, "p1", 0..3).await,
            b"cip",
            "conformance: the sweep left {g}"
        );
    }

    // A delete marker hides the key; removing it brings the key back.
    let marker = store
        .delete_object_if(&b, "k", on, &Expect::Any)
        .await
        .unwrap()
        .unwrap();
    let m = marker.version_id.clone().unwrap();
    assert_eq!(store.get_meta(&b, "k").await.unwrap(), None);
    let (objects, _) = store.list_objects(&b, "", "", 10).await.unwrap();
    assert!(
        objects.is_empty(),
        "conformance: a deleted key is not listed"
    );
    assert_eq!(
        all_versions(store, &b, 1).await,
        expect(&[
            (&m, true, true),
            (&v2, false, false),
            (&v1, false, false),
            ("null", false, false)
        ]),
        "conformance: pages of one row visit every version once"
    );
    let removed = store.remove_version(&b, "k", &m).await.unwrap();
    assert!(matches!(removed, Some(Version::Marker(_))));
    assert_eq!(
        store.get_meta(&b, "k").await.unwrap().map(|m| m.generation),
        Some(g2.to_owned()),
        "conformance: removing the marker undeletes"
    );
    // Removing the current version promotes the next one; a non-current one just goes.
    store.remove_version(&b, "k", &v2).await.unwrap();
    assert_eq!(
        store.get_meta(&b, "k").await.unwrap().map(|m| m.generation),
        Some(g1.to_owned())
    );
    store.remove_version(&b, "k", "null").await.unwrap();
    assert_eq!(store.remove_version(&b, "k", "null").await, Ok(None));
    assert_eq!(
        all_versions(store, &b, 10).await,
        expect(&[(&v1, true, false)])
    );

    // Suspended: the null version replaces the null version, wherever it is.
    let sus = Versioning::Suspended;
    for g in [g3, g4] {
        write_blob(store, &b, g).await;
    }
    store
        .commit_object(&b, "k", &versioned(g3, None), sus)
        .await
        .unwrap();
    store
        .commit_object(&b, "k", &versioned(g4, None), sus)
        .await
        .unwrap();
    assert_eq!(
        all_versions(store, &b, 10).await,
        expect(&[("null", true, false), (&v1, false, false)]),
        "conformance: one null version"
    );
    let marker = store
        .delete_object_if(&b, "k", sus, &Expect::Any)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(marker.version_id, None);
    assert_eq!(
        all_versions(store, &b, 10).await,
        expect(&[("null", true, true), (&v1, false, false)]),
        "conformance: a suspended delete replaces the null version with a null marker"
    );
    // g3 and g4 are unreferenced now, v1's data stays.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let report = store
        .sweep_bucket(&b, &policy(Duration::ZERO, week))
        .await
        .unwrap();
    assert_eq!(
        report.generations, 4,
        "conformance: g0, g2, g3, g4 reclaimed"
    );
    assert_eq!(read_all(store, &b, g1, "p1", 0..3).await, b"cip");

    // A second key and a common prefix page like objects do.
    store
        .commit_object(&b, "d/x", &versioned(g1, Some(new_version_id())), on)
        .await
        .unwrap();
    let page = store
        .list_versions(&b, "", "/", "", None, 10)
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 3, "conformance: d/ and two versions of k");
    assert_eq!(page.rows[0], VersionRow::CommonPrefix("d/".into()));

    // Empty the bucket version by version.
    for (key, id, _, _) in all_versions(store, &b, 1000).await {
        store.remove_version(&b, &key, &id).await.unwrap();
    }
    store.delete_bucket(&b).await.unwrap();
}
