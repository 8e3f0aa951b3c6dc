//! Conformance of the sweep: data no record names is removed only after its grace period,
//! stale uploads are aborted and old completion records expire, on every backend.

use std::time::Duration;

use super::super::{Expect, Store, StoreError, SweepPolicy, SweepReport, Versioning};
use super::{drop_bucket, fresh_bucket, object_meta, read_all, upload_record};
use crate::meta::{CompletionRecord, Sealing};

pub(super) async fn write_blob(store: &Store, b: &str, g: &str) {
    let mut w = store.blob_writer(b, g, "p1").await.unwrap();
    w.write(b"ciphertext").await.unwrap();
    w.finish().await.unwrap();
}

pub(super) fn policy(grace: Duration, abort_uploads_after: Duration) -> SweepPolicy {
    SweepPolicy {
        grace,
        abort_uploads_after,
        keep_completions: abort_uploads_after,
    }
}

pub(super) async fn sweep(store: &Store, run: &str) {
    let b = fresh_bucket(store, run, "sweep").await;
    let (live, pending, orphan) = (
        Store::new_generation(),
        Store::new_generation(),
        Store::new_generation(),
    );
    for g in [&live, &pending, &orphan] {
        write_blob(store, &b, g).await;
    }
    store
        .put_meta(&b, "obj", &object_meta(&live, 10))
        .await
        .unwrap();
    store
        .create_upload(&upload_record(&b, "up", "k", &pending))
        .await
        .unwrap();
    let hour = Duration::from_secs(3600);
    let week = hour * 24 * 7;
    let done = CompletionRecord {
        format: crate::meta::COMPLETION_FORMAT.into(),
        upload_id: "done".into(),
        bucket: b.clone(),
        key: "obj".into(),
        completed_ms: 1,
        generation: live.clone(),
        etag: "e-1".into(),
        checksum: None,
        parts: vec![(1, "e".into())],
        sealing: Sealing::None,
    };
    store.put_completion(&done).await.unwrap();

    // Within the grace period nothing goes.
    assert_eq!(
        store.sweep_bucket(&b, &policy(hour, week)).await.unwrap(),
        SweepReport::default(),
        "conformance: nothing is swept within the grace period"
    );
    assert_eq!(read_all(store, &b, &orphan, "p1", 0..3).await, b"cip");

    // An overwrite retires the replaced generation instead of deleting it: a reader that read
    // the old record still finds its blobs.
    let newer = Store::new_generation();
    write_blob(store, &b, &newer).await;
    store
        .commit_object(&b, "obj", &object_meta(&newer, 10), Versioning::Off)
        .await
        .unwrap();
    assert_eq!(
        read_all(store, &b, &live, "p1", 0..3).await,
        b"cip",
        "conformance: an overwrite keeps the replaced generation until the sweep"
    );
    assert_eq!(
        store.sweep_bucket(&b, &policy(hour, week)).await.unwrap(),
        SweepReport::default()
    );
    assert_eq!(read_all(store, &b, &live, "p1", 0..3).await, b"cip");

    tokio::time::sleep(Duration::from_millis(20)).await;
    let report = store
        .sweep_bucket(&b, &policy(Duration::ZERO, week))
        .await
        .unwrap();
    assert_eq!(
        (report.generations, report.bytes, report.uploads),
        (2, 20, 0),
        "conformance: sweep removes exactly the orphan and the retired generation"
    );
    assert!(
        store.get_completion(&b, "done").await.unwrap().is_some(),
        "conformance: a completion record is kept within its window"
    );
    let expire = SweepPolicy {
        keep_completions: Duration::ZERO,
        ..policy(hour, week)
    };
    assert_eq!(
        store.sweep_bucket(&b, &expire).await.unwrap().uploads,
        0,
        "conformance: expiring completion records aborts no upload"
    );
    assert_eq!(
        store.get_completion(&b, "done").await.unwrap(),
        None,
        "conformance: the sweep reclaims an expired completion record"
    );
    for g in [&orphan, &live] {
        assert!(matches!(
            store.read_blob(&b, g, "p1", 0..1).await,
            Err(StoreError::NotFound)
        ));
    }
    assert_eq!(
        read_all(store, &b, &newer, "p1", 0..3).await,
        b"cip",
        "referenced by meta"
    );
    assert_eq!(
        read_all(store, &b, &pending, "p1", 0..3).await,
        b"cip",
        "referenced by upload"
    );

    // An upload idle for longer than the limit is aborted, its blobs with it.
    let report = store
        .sweep_bucket(&b, &policy(Duration::ZERO, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(
        (report.uploads, report.generations, report.bytes),
        (1, 1, 10),
        "conformance: an idle upload is aborted"
    );
    assert!(store.list_uploads(&b).await.unwrap().is_empty());
    assert!(matches!(
        store.read_blob(&b, &pending, "p1", 0..1).await,
        Err(StoreError::NotFound)
    ));

    // A delete retires too.
    store
        .delete_object_if(&b, "obj", Versioning::Off, &Expect::Any)
        .await
        .unwrap();
    assert_eq!(read_all(store, &b, &newer, "p1", 0..3).await, b"cip");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let report = store
        .sweep_bucket(&b, &policy(Duration::ZERO, week))
        .await
        .unwrap();
    assert_eq!(report.generations, 1);
    assert!(matches!(
        store.read_blob(&b, &newer, "p1", 0..1).await,
        Err(StoreError::NotFound)
    ));
    drop_bucket(store, &b).await;
}
