//! The store's conformance suite (the same `store::conformance::run_all` the unit tests run on
//! the local filesystem and in memory) against a real S3 server process, with and without a
//! key prefix inside the backend bucket; and a gateway serving S3 over that backend.
mod common;
mod moto;

use std::time::Duration;

use sealgate::store::backend::RemoteBackend;
use sealgate::store::{ListingMode, Store, conformance};

fn spec(moto: &moto::Moto, bucket: &str, prefix: Option<&str>) -> RemoteBackend {
    let mut b = RemoteBackend::s3(bucket);
    b.endpoint = Some(moto.endpoint.clone());
    b.region = Some("us-east-1".into());
    b.access_key = Some(moto::ACCESS_KEY.into());
    b.secret_key = Some(moto::SECRET_KEY.into());
    b.prefix = prefix.map(str::to_owned);
    b.timeout = Duration::from_secs(10);
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_s3_backend() {
    let Some(moto) = moto::Moto::start() else {
        return;
    };
    let bucket = moto.bucket("conformance").await;
    let store = Store::remote(&spec(&moto, &bucket, None)).unwrap();
    assert_eq!(store.listing_mode(), ListingMode::Native);
    conformance::run_all(&store).await;

    // The same suite under a key prefix, next to unrelated data in the same bucket.
    moto.client()
        .put_object()
        .bucket(&bucket)
        .key("other-app/file")
        .body(b"not ours".to_vec().into())
        .send()
        .await
        .unwrap();
    let prefixed = Store::remote(&spec(&moto, &bucket, Some("tenant/sealgate"))).unwrap();
    conformance::run_all(&prefixed).await;
    let left: Vec<String> = moto
        .dump(&bucket)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        left,
        ["other-app/file"],
        "the suite cleans up after itself and stays under its prefix"
    );
}

/// Two stores over one backend (as two gateways would be) see each other's writes at once:
/// there is no local index to go stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_share_one_backend() {
    let Some(moto) = moto::Moto::start() else {
        return;
    };
    let bucket = moto.bucket("shared").await;
    let a = Store::remote(&spec(&moto, &bucket, None)).unwrap();
    let b = Store::remote(&spec(&moto, &bucket, None)).unwrap();
    a.create_bucket(&conformance::bucket_record("shared-b"))
        .await
        .unwrap();
    assert!(b.get_bucket("shared-b").await.unwrap().is_some());
    for k in ["x", "y", "z"] {
        a.put_meta("shared-b", k, &conformance::object_meta("g", 1))
            .await
            .unwrap();
    }
    let (page, _) = b.list_objects("shared-b", "", "", 10).await.unwrap();
    assert_eq!(page.len(), 3);
    let prev = b
        .put_meta("shared-b", "y", &conformance::object_meta("g2", 2))
        .await
        .unwrap();
    assert_eq!(prev.map(|m| m.generation).as_deref(), Some("g"));
    b.delete_meta("shared-b", "x").await.unwrap();
    let (page, _) = a.list_objects("shared-b", "", "", 10).await.unwrap();
    let keys: Vec<&str> = page.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["y", "z"]);
    assert_eq!(page[0].1.generation, "g2");
    // Bucket creation is a conditional put on the backend: the second gateway loses.
    assert_eq!(
        b.create_bucket(&conformance::bucket_record("shared-b"))
            .await,
        Err(sealgate::store::StoreError::AlreadyExists)
    );
}
