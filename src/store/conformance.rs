//! One behaviour suite every backend must pass: the unit tests run it against the local
//! filesystem and `InMemory`; an S3 backend runs the same [`run_all`] in an integration test.
//!
//! It works in fresh, randomly named buckets (`conf-<random>-…`) and removes them again, so it
//! can run against a shared backend. Failures panic with the name of the check.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::TryStreamExt;

use super::{ListEntry, Store, StoreError, layout};
use crate::meta::{
    BUCKET_FORMAT, BucketRecord, CompletionRecord, META_FORMAT, ObjectMeta, PartLayout, Sealing,
    UPLOAD_FORMAT, UploadRecord,
};

mod conditional;
mod marker_listing;
mod sweep;
mod versions;

/// Runs every check against `store`; panics on the first failure.
pub async fn run_all(store: &Store) {
    let run = &uuid::Uuid::new_v4().simple().to_string()[..12];
    buckets(store, run).await;
    meta_records(store, run).await;
    conditional::conditional_meta(store, run).await;
    tricky_keys(store, run).await;
    listing(store, run).await;
    blobs(store, run).await;
    uploads(store, run).await;
    sweep::sweep(store, run).await;
    versions::versions(store, run).await;
    marker_listing::listing_past_markers(store, run).await;
}

pub fn bucket_record(name: &str) -> BucketRecord {
    BucketRecord {
        format: BUCKET_FORMAT.to_string(),
        name: name.to_string(),
        created_ms: 1_700_000_000_000,
        owner: "arn:aws:iam::000000000000:root".to_string(),
        region: "us-east-1".to_string(),
        encryption: None,
        cors: None,
        policy: None,
        tags: None,
        public_access_block: None,
        object_ownership: None,
        versioning: None,
        acl: None,
        lifecycle: None,
        object_lock: None,
    }
}

pub fn object_meta(generation: &str, size: u64) -> ObjectMeta {
    ObjectMeta {
        format: META_FORMAT.to_string(),
        size,
        etag: format!("{size:032x}"),
        last_modified_ms: 1_700_000_000_000,
        content_headers: BTreeMap::from([("content-type".into(), "text/plain".into())]),
        user_meta: BTreeMap::new(),
        checksum: None,
        segment_size: 65536,
        generation: generation.to_string(),
        parts: vec![part_layout(1, "p1")],
        sealing: Sealing::None,
        tags: BTreeMap::new(),
        acl: None,
        mac: None,
        record_key: None,
        version_id: None,
        lock: Default::default(),
    }
}

pub fn part_layout(n: u32, blob: &str) -> PartLayout {
    PartLayout {
        part_number: n,
        size: 10,
        blob: blob.to_string(),
        key_salt: vec![1; 32],
        nonce_prefix: vec![2; 7],
        etag: format!("etag{n}"),
        checksum: None,
        inline: None,
    }
}

fn upload_record(bucket: &str, id: &str, key: &str, generation: &str) -> UploadRecord {
    UploadRecord {
        format: UPLOAD_FORMAT.to_string(),
        upload_id: id.to_string(),
        bucket: bucket.to_string(),
        key: key.to_string(),
        initiated_ms: 1_700_000_000_000,
        content_headers: BTreeMap::new(),
        user_meta: BTreeMap::new(),
        checksum_algorithm: None,
        checksum_type: None,
        generation: generation.to_string(),
        sealing: Sealing::None,
        record_key: None,
        tags: BTreeMap::new(),
        acl: None,
        lock: Default::default(),
    }
}

async fn fresh_bucket(store: &Store, run: &str, what: &str) -> String {
    let name = format!("conf-{run}-{what}");
    store
        .create_bucket(&bucket_record(&name))
        .await
        .unwrap_or_else(|e| panic!("conformance: create bucket {name}: {e}"));
    name
}

/// Deletes every object, upload and blob of `bucket`, then the bucket.
async fn drop_bucket(store: &Store, bucket: &str) {
    let (objects, _) = store
        .list_objects(bucket, "", "", usize::MAX / 2)
        .await
        .unwrap();
    for (key, _) in objects {
        store.delete_meta(bucket, &key).await.unwrap();
    }
    for up in store.list_uploads(bucket).await.unwrap() {
        store
            .delete_upload(bucket, &up.upload_id, true)
            .await
            .unwrap();
    }
    store.delete_bucket(bucket).await.unwrap();
}

async fn read_all(store: &Store, b: &str, g: &str, blob: &str, r: std::ops::Range<u64>) -> Vec<u8> {
    let stream = store
        .read_blob(b, g, blob, r.clone())
        .await
        .unwrap_or_else(|e| panic!("conformance: read {g}/{blob} {r:?}: {e}"));
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    chunks.concat()
}

async fn buckets(store: &Store, run: &str) {
    let a = format!("conf-{run}-bkt-b");
    let b = format!("conf-{run}-bkt-a");
    store.create_bucket(&bucket_record(&a)).await.unwrap();
    assert_eq!(
        store.create_bucket(&bucket_record(&a)).await,
        Err(StoreError::AlreadyExists),
        "conformance: second create_bucket must be AlreadyExists"
    );
    store.create_bucket(&bucket_record(&b)).await.unwrap();
    assert_eq!(store.get_bucket(&a).await.unwrap(), Some(bucket_record(&a)));
    assert_eq!(
        store.get_bucket(&format!("conf-{run}-none")).await.unwrap(),
        None
    );

    let mut changed = bucket_record(&a);
    changed.encryption = Some(crate::meta::BucketEncryption {
        algorithm: "aws:kms".into(),
        kms_key_id: Some("alias/x".into()),
        bucket_key_enabled: true,
        blocked_types: vec!["SSE-C".into()],
    });
    store.put_bucket(&changed).await.unwrap();
    assert_eq!(
        store.get_bucket(&a).await.unwrap(),
        Some(changed),
        "conformance: put_bucket"
    );

    let names: Vec<String> = store
        .list_buckets()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .filter(|n| n.starts_with(&format!("conf-{run}-bkt-")))
        .collect();
    assert_eq!(
        names,
        [b.clone(), a.clone()],
        "conformance: list_buckets sorted"
    );

    let g = Store::new_generation();
    store.put_meta(&a, "k", &object_meta(&g, 1)).await.unwrap();
    assert_eq!(
        store.delete_bucket(&a).await,
        Err(StoreError::NotEmpty),
        "conformance: NotEmpty (object)"
    );
    store.delete_meta(&a, "k").await.unwrap();
    store
        .create_upload(&upload_record(&a, "up1", "k", &g))
        .await
        .unwrap();
    // An upload in progress does not keep the bucket: it is aborted with it, and a completion
    // record goes too.
    let done = CompletionRecord {
        format: crate::meta::COMPLETION_FORMAT.into(),
        upload_id: "up0".into(),
        bucket: a.clone(),
        key: "k".into(),
        completed_ms: 1,
        generation: g.clone(),
        etag: "e-1".into(),
        checksum: None,
        parts: vec![(1, "e".into())],
        sealing: Sealing::None,
    };
    store.put_completion(&done).await.unwrap();
    assert_eq!(
        store.get_completion(&a, "up0").await.unwrap().as_ref(),
        Some(&done),
        "conformance: completion record round-trips"
    );
    store.delete_bucket(&a).await.unwrap();
    assert_eq!(store.get_upload(&a, "up1").await.unwrap(), None);
    assert_eq!(store.get_completion(&a, "up0").await.unwrap(), None);
    assert!(
        store
            .list_paths(&layout::uploads_dir(&a).unwrap())
            .await
            .unwrap()
            .is_empty(),
        "conformance: delete_bucket removes its uploads"
    );
    store.delete_bucket(&b).await.unwrap();
    assert_eq!(store.get_bucket(&a).await.unwrap(), None);
    assert_eq!(
        store.delete_bucket(&a).await,
        Err(StoreError::NotFound),
        "conformance: delete missing bucket"
    );
    assert!(matches!(
        store.get_bucket("UPPER").await,
        Err(StoreError::InvalidName(_))
    ));
}

async fn meta_records(store: &Store, run: &str) {
    let b = fresh_bucket(store, run, "meta").await;
    let (m1, m2) = (object_meta("gen-1", 1), object_meta("gen-2", 2));
    assert_eq!(store.get_meta(&b, "obj").await.unwrap(), None);
    assert_eq!(
        store.put_meta(&b, "obj", &m1).await.unwrap(),
        None,
        "conformance: first put_meta"
    );
    assert_eq!(store.get_meta(&b, "obj").await.unwrap(), Some(m1.clone()));
    assert_eq!(
        store.put_meta(&b, "obj", &m2).await.unwrap(),
        Some(m1),
        "conformance: put_meta returns the replaced record"
    );
    assert_eq!(store.get_meta(&b, "obj").await.unwrap(), Some(m2.clone()));
    assert_eq!(store.delete_meta(&b, "obj").await.unwrap(), Some(m2));
    assert_eq!(store.get_meta(&b, "obj").await.unwrap(), None);
    assert_eq!(store.delete_meta(&b, "obj").await.unwrap(), None);
    let mut bad = object_meta("g", 1);
    bad.format = "sealgate-meta/999".into();
    assert!(matches!(
        store.put_meta(&b, "obj", &bad).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.get_meta(&b, "").await,
        Err(StoreError::InvalidName(_))
    ));
    drop_bucket(store, &b).await;
}

/// Keys a filesystem cannot hold as-is, all in one bucket at once.
pub fn tricky_key_set() -> Vec<String> {
    let mut keys: Vec<String> = [
        "a",
        "a/b",
        "a/b/",
        "a//b",
        "a/",
        "/",
        "//",
        "/a",
        ".",
        "..",
        "./a",
        "../a",
        "a/./b",
        "a/../b",
        "a-",
        "a#1",
        "a#",
        "x#12/y",
        "%2F",
        "a%",
        "a\u{1}b",
        "a\nb",
        "a\\b",
        "*?<>|\":",
        "~",
        " ",
        "日本語/キー",
        "😀",
        "CON",
        "aux.txt",
        "A",
        "-",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    keys.push("é".repeat(512)); // 1024 bytes of multi-byte UTF-8
    keys.push(format!("{}/", "ü".repeat(511))); // 1023 bytes + trailing slash
    keys.push("z".repeat(255));
    keys.push("z".repeat(256));
    keys.push(format!("{}/{}", "q".repeat(300), "r".repeat(300)));
    keys
}

async fn tricky_keys(store: &Store, run: &str) {
    let b = fresh_bucket(store, run, "keys").await;
    let mut keys = tricky_key_set();
    for (i, k) in keys.iter().enumerate() {
        store
            .put_meta(&b, k, &object_meta(&format!("gen-{i}"), i as u64))
            .await
            .unwrap_or_else(|e| panic!("conformance: put_meta {k:?}: {e}"));
    }
    for (i, k) in keys.iter().enumerate() {
        let got = store.get_meta(&b, k).await.unwrap();
        assert_eq!(
            got.map(|m| m.generation),
            Some(format!("gen-{i}")),
            "conformance: key {k:?} must round-trip"
        );
    }
    keys.sort();
    let (listed, more) = store.list_objects(&b, "", "", 10_000).await.unwrap();
    let listed: Vec<String> = listed.into_iter().map(|(k, _)| k).collect();
    assert!(!more);
    assert_eq!(
        listed, keys,
        "conformance: tricky keys list back in byte order"
    );
    let (under_a, _) = store.list_objects(&b, "a/", "", 100).await.unwrap();
    let under_a: Vec<&str> = under_a.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(under_a, ["a/", "a/../b", "a/./b", "a//b", "a/b", "a/b/"]);
    drop_bucket(store, &b).await;
}

async fn collect_pages(
    store: &Store,
    b: &str,
    prefix: &str,
    start: &str,
    page: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = start.to_string();
    loop {
        let (items, more) = store.list_objects(b, prefix, &cursor, page).await.unwrap();
        assert!(items.len() <= page, "conformance: page larger than limit");
        if let Some((last, _)) = items.last() {
            cursor.clone_from(last);
        }
        out.extend(items.into_iter().map(|(k, _)| k));
        if !more {
            return out;
        }
    }
}

async fn listing(store: &Store, run: &str) {
    let b = fresh_bucket(store, run, "list").await;
    let mut keys = Vec::new();
    for d in ["alpha", "beta", "beta-x", "gamma"] {
        for i in 0..37 {
            keys.push(format!("{d}/{i:03}"));
        }
    }
    keys.push("beta".into());
    for k in &keys {
        store.put_meta(&b, k, &object_meta("g", 3)).await.unwrap();
    }
    keys.sort();
    assert_eq!(
        collect_pages(store, &b, "", "", 10).await,
        keys,
        "conformance: paged full list"
    );
    assert_eq!(collect_pages(store, &b, "", "", 1000).await, keys);
    let beta: Vec<String> = keys
        .iter()
        .filter(|k| k.starts_with("beta/"))
        .cloned()
        .collect();
    assert_eq!(
        collect_pages(store, &b, "beta/", "", 7).await,
        beta,
        "conformance: prefix"
    );
    let after: Vec<String> = keys
        .iter()
        .filter(|k| k.as_str() > "beta/020")
        .cloned()
        .collect();
    assert_eq!(
        collect_pages(store, &b, "", "beta/020", 9).await,
        after,
        "conformance: start_after"
    );
    let both: Vec<String> = beta
        .iter()
        .filter(|k| k.as_str() > "beta/030")
        .cloned()
        .collect();
    assert_eq!(collect_pages(store, &b, "beta/", "beta/030", 4).await, both);
    // start_after before the prefix range, and beyond it.
    assert_eq!(collect_pages(store, &b, "beta/", "a", 50).await, beta);
    assert!(collect_pages(store, &b, "beta/", "c", 50).await.is_empty());
    assert!(collect_pages(store, &b, "delta", "", 5).await.is_empty());

    let (page, more) = store.list_objects(&b, "", "", 5).await.unwrap();
    assert_eq!(page.len(), 5);
    assert!(more, "conformance: more after a full page");
    assert_eq!(
        page[0].1,
        object_meta("g", 3),
        "conformance: listing returns full meta"
    );
    let (page, more) = store
        .list_objects(&b, "gamma/", "gamma/035", 1)
        .await
        .unwrap();
    assert_eq!(
        (page.len(), more),
        (1, false),
        "conformance: exact last page has no more"
    );
    let (page, more) = store.list_objects(&b, "", "", 0).await.unwrap();
    assert!(page.is_empty() && more, "conformance: limit 0");

    delimited(store, &b, &keys).await;

    // The listing follows later writes and deletes.
    store
        .put_meta(&b, "beta/0205", &object_meta("g", 3))
        .await
        .unwrap();
    store.delete_meta(&b, "beta/000").await.unwrap();
    let (page, _) = store.list_objects(&b, "beta/", "", 3).await.unwrap();
    let page: Vec<&str> = page.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(page, ["beta/001", "beta/002", "beta/003"]);
    let (page, _) = store.list_objects(&b, "beta/020", "", 3).await.unwrap();
    let page: Vec<&str> = page.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(page, ["beta/020", "beta/0205"]);
    drop_bucket(store, &b).await;
}

fn names(entries: &[ListEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| match e {
            ListEntry::Object { key, .. } => key.clone(),
            ListEntry::CommonPrefix(p) => format!("{p}*"),
        })
        .collect()
}

async fn delimited_pages(
    store: &Store,
    b: &str,
    prefix: &str,
    delim: &str,
    page: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let listed = store
            .list_page(b, prefix, delim, &cursor, page, false)
            .await
            .unwrap();
        assert!(
            listed.entries.len() <= page,
            "conformance: delimited page larger than limit"
        );
        out.extend(names(&listed.entries));
        match listed.next {
            Some(next) => cursor = next,
            None => return out,
        }
    }
}

/// `keys`: the listing bucket's keys (alpha/, beta, beta/, beta-x/, gamma/ × 37).
async fn delimited(store: &Store, b: &str, keys: &[String]) {
    let root = ["alpha/*", "beta", "beta-x/*", "beta/*", "gamma/*"];
    for page in [1, 2, 1000] {
        assert_eq!(
            delimited_pages(store, b, "", "/", page).await,
            root,
            "conformance: delimiter page {page}"
        );
    }
    let listed = store.list_page(b, "", "/", "", 5, false).await.unwrap();
    let entries = listed.entries;
    assert_eq!(
        (names(&entries).len(), listed.next),
        (5, None),
        "conformance: exact delimited page"
    );
    match &entries[1] {
        ListEntry::Object { key, meta } => assert_eq!((key.as_str(), meta.size), ("beta", 3)),
        other => panic!("conformance: expected object beta, got {other:?}"),
    }
    assert_eq!(
        delimited_pages(store, b, "b", "/", 10).await,
        ["beta", "beta-x/*", "beta/*"]
    );
    let beta: Vec<String> = keys
        .iter()
        .filter(|k| k.starts_with("beta/"))
        .cloned()
        .collect();
    assert_eq!(
        delimited_pages(store, b, "beta/", "/", 10).await,
        beta,
        "conformance: under a prefix"
    );
    let after = store
        .list_page(b, "", "/", "beta/", 10, false)
        .await
        .unwrap();
    assert_eq!(
        names(&after.entries),
        ["gamma/*"],
        "conformance: resume after a common prefix skips it"
    );
    let dashed = delimited_pages(store, b, "", "-", 50).await;
    assert_eq!(dashed.len(), 3 * 37 + 1 + 1);
    assert!(dashed.contains(&"beta-*".to_string()));
    let plain = store
        .list_page(b, "gamma/", "", "", 3, false)
        .await
        .unwrap();
    assert_eq!(
        names(&plain.entries),
        ["gamma/000", "gamma/001", "gamma/002"]
    );
    assert_eq!(plain.next.as_deref(), Some("gamma/002"));
}

async fn blobs(store: &Store, run: &str) {
    let b = fresh_bucket(store, run, "blob").await;
    let g = Store::new_generation();
    // Larger than any write buffer, so the streaming (multipart) path runs too.
    let data: Vec<u8> = (0..9 * 1024 * 1024 + 123)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let mut w = store.blob_writer(&b, &g, "p1").await.unwrap();
    for chunk in data.chunks(300_000) {
        w.write(chunk).await.unwrap();
    }
    assert_eq!(w.finish().await.unwrap(), data.len() as u64);
    let len = data.len() as u64;
    assert_eq!(
        read_all(store, &b, &g, "p1", 0..len).await,
        data,
        "conformance: full read"
    );
    for r in [0..1, 5..70_000, len - 1..len, 1_048_570..3_000_000] {
        let want = &data[r.start as usize..r.end as usize];
        assert_eq!(
            read_all(store, &b, &g, "p1", r.clone()).await,
            want,
            "conformance: range {r:?}"
        );
    }
    assert!(read_all(store, &b, &g, "p1", 10..10).await.is_empty());
    assert!(
        matches!(
            store.read_blob(&b, &g, "p1", len - 1..len + 1).await,
            Err(StoreError::Corrupt(_))
        ),
        "conformance: range past the end is Corrupt"
    );
    assert!(matches!(
        store.read_blob(&b, &g, "p1", len + 5..len + 9).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(
        matches!(
            store.read_blob(&b, &g, "nope", 0..1).await,
            Err(StoreError::NotFound)
        ),
        "conformance: missing blob is NotFound"
    );

    // Small blob, empty blob, copy.
    let mut w = store.blob_writer(&b, &g, "p2").await.unwrap();
    w.write(b"hello ").await.unwrap();
    w.write(b"world").await.unwrap();
    w.finish().await.unwrap();
    let w = store.blob_writer(&b, &g, "empty").await.unwrap();
    assert_eq!(w.finish().await.unwrap(), 0);
    assert!(read_all(store, &b, &g, "empty", 0..0).await.is_empty());
    let g2 = Store::new_generation();
    store
        .copy_blob((&b, &g, "p2"), (&b, &g2, "p1"))
        .await
        .unwrap();
    assert_eq!(
        read_all(store, &b, &g2, "p1", 6..11).await,
        b"world",
        "conformance: copy_blob"
    );

    // Aborted writes leave nothing.
    let mut w = store.blob_writer(&b, &g2, "aborted").await.unwrap();
    w.write(b"x").await.unwrap();
    w.abort().await.unwrap();
    assert!(matches!(
        store.read_blob(&b, &g2, "aborted", 0..1).await,
        Err(StoreError::NotFound)
    ));
    // Also once buffers were shipped (a local writer's queue is busy, a remote upload begun).
    let mut w = store.blob_writer(&b, &g2, "aborted-large").await.unwrap();
    for chunk in data.chunks(1 << 20).take(4) {
        w.write(chunk).await.unwrap();
    }
    w.abort().await.unwrap();
    assert!(
        matches!(
            store.read_blob(&b, &g2, "aborted-large", 0..1).await,
            Err(StoreError::NotFound)
        ),
        "conformance: an aborted large write leaves nothing"
    );

    store.delete_generation(&b, &g).await.unwrap();
    assert!(matches!(
        store.read_blob(&b, &g, "p2", 0..1).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        read_all(store, &b, &g2, "p1", 0..5).await,
        b"hello",
        "copy survives source"
    );
    store.delete_blob(&b, &g2, "p1").await.unwrap();
    store.delete_blob(&b, &g2, "p1").await.unwrap(); // idempotent
    assert!(matches!(
        store.read_blob(&b, &g2, "p1", 0..1).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.blob_writer(&b, "..", "x").await,
        Err(StoreError::InvalidName(_))
    ));
    assert!(matches!(
        store.blob_writer(&b, &g, "x#1").await,
        Err(StoreError::InvalidName(_))
    ));
    drop_bucket(store, &b).await;
}

async fn uploads(store: &Store, run: &str) {
    let b = fresh_bucket(store, run, "mpu").await;
    let (g1, g2) = (Store::new_generation(), Store::new_generation());
    let u1 = upload_record(&b, "upload-1", "z/key", &g1);
    let mut u2 = upload_record(&b, "upload-2", "a/key", &g2);
    u2.initiated_ms += 5;
    store.create_upload(&u1).await.unwrap();
    store.create_upload(&u2).await.unwrap();
    assert_eq!(
        store.create_upload(&u1).await,
        Err(StoreError::AlreadyExists)
    );
    assert_eq!(
        store.get_upload(&b, "upload-1").await.unwrap(),
        Some(u1.clone())
    );
    assert_eq!(store.get_upload(&b, "upload-9").await.unwrap(), None);

    for n in [3, 1, 2] {
        let blob = format!("part-{n}");
        let mut w = store.blob_writer(&b, &g1, &blob).await.unwrap();
        w.write(&[n as u8; 10]).await.unwrap();
        w.finish().await.unwrap();
        assert_eq!(
            store
                .put_part(&b, "upload-1", &part_layout(n, &blob))
                .await
                .unwrap(),
            None
        );
    }
    let replaced = store
        .put_part(&b, "upload-1", &part_layout(2, "part-2b"))
        .await
        .unwrap();
    assert_eq!(
        replaced,
        Some(part_layout(2, "part-2")),
        "conformance: put_part returns replaced"
    );
    let parts = store.list_parts(&b, "upload-1").await.unwrap();
    let numbers: Vec<(u32, &str)> = parts
        .iter()
        .map(|p| (p.part_number, p.blob.as_str()))
        .collect();
    assert_eq!(
        numbers,
        [(1, "part-1"), (2, "part-2b"), (3, "part-3")],
        "conformance: list_parts"
    );
    assert_eq!(
        store.put_part(&b, "upload-9", &part_layout(1, "x")).await,
        Err(StoreError::NotFound),
        "conformance: part of unknown upload"
    );
    assert!(matches!(
        store.put_part(&b, "upload-1", &part_layout(0, "x")).await,
        Err(StoreError::InvalidName(_))
    ));

    let ids: Vec<String> = store
        .list_uploads(&b)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.upload_id)
        .collect();
    assert_eq!(
        ids,
        ["upload-2", "upload-1"],
        "conformance: list_uploads by key"
    );

    // Complete keeps the blobs; abort removes them.
    store.delete_upload(&b, "upload-1", false).await.unwrap();
    assert_eq!(store.get_upload(&b, "upload-1").await.unwrap(), None);
    assert!(store.list_parts(&b, "upload-1").await.unwrap().is_empty());
    assert_eq!(
        read_all(store, &b, &g1, "part-3", 0..10).await,
        vec![3u8; 10]
    );
    assert_eq!(
        store.delete_upload(&b, "upload-1", false).await,
        Err(StoreError::NotFound)
    );

    let mut w = store.blob_writer(&b, &g2, "part-1").await.unwrap();
    w.write(b"abc").await.unwrap();
    w.finish().await.unwrap();
    store
        .put_part(&b, "upload-2", &part_layout(1, "part-1"))
        .await
        .unwrap();
    store.delete_upload(&b, "upload-2", true).await.unwrap();
    assert!(matches!(
        store.read_blob(&b, &g2, "part-1", 0..1).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.list_uploads(&b).await.unwrap().is_empty());
    store.delete_generation(&b, &g1).await.unwrap();
    drop_bucket(store, &b).await;
}
