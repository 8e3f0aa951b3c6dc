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

/// A gateway over a backend that stops answering: PUT and GET fail fast with 503, the object
/// stored before the outage is intact afterwards, and a PUT cut off by the outage leaves no
/// half object visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_outage_is_503_and_loses_nothing() {
    use aws_sdk_s3::primitives::ByteStream;
    use std::time::Instant;

    let Some(mut moto) = moto::Moto::start() else {
        return;
    };
    let bucket = moto.bucket("outage").await;
    let gw = common::Server::start_with(common::Options {
        config_toml: Some(format!(
            "{}backend_timeout = 2\n",
            moto.gateway_toml(&bucket, None)
        )),
        ..Default::default()
    });
    let s3 = gw.s3().await;
    s3.create_bucket().bucket("bkt1").send().await.unwrap();
    let v1 = common::random(300_000);
    s3.put_object()
        .bucket("bkt1")
        .key("k")
        .body(ByteStream::from(v1.clone()))
        .send()
        .await
        .unwrap();
    let v2 = common::random(12 * 1024 * 1024);
    // One attempt per request, so the timings below are the gateway's, not the SDK's retries.
    let s3_once = aws_sdk_s3::Client::from_conf(
        s3.config()
            .to_builder()
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(1))
            .build(),
    );

    moto.pause();
    let started = Instant::now();
    let (status, code) = common::failure(
        "PUT while the backend is down",
        s3_once
            .put_object()
            .bucket("bkt1")
            .key("k")
            .body(ByteStream::from(v2.clone()))
            .send()
            .await,
    );
    assert_eq!(status, 503, "PUT: {code}");
    assert!(
        code == "ServiceUnavailable" || code == "SlowDown",
        "PUT: {code}"
    );
    let (status, code) = common::failure(
        "GET while the backend is down",
        s3_once.get_object().bucket("bkt1").key("k").send().await,
    );
    assert_eq!((status, code.as_str()), (503, "ServiceUnavailable"));
    let (status, _) = common::failure(
        "LIST while the backend is down",
        s3_once.list_objects_v2().bucket("bkt1").send().await,
    );
    assert_eq!(status, 503);
    let waited = started.elapsed();
    eprintln!("three requests against a stopped backend answered 503 in {waited:?}");
    assert!(
        waited < Duration::from_secs(30),
        "three failed requests took {waited:?}: timeouts must be bounded"
    );
    moto.resume();
    backend_answers_again(&s3).await;

    let got = s3
        .get_object()
        .bucket("bkt1")
        .key("k")
        .send()
        .await
        .unwrap();
    let body = got.body.collect().await.unwrap().into_bytes();
    assert!(
        body[..] == v1[..],
        "the object stored before the outage is intact"
    );

    // An outage in the middle of a multipart blob write: the client sees an error or a
    // success, and a reader afterwards sees exactly v1 or exactly v2.
    let put = {
        let s3 = s3.clone();
        let v2 = v2.clone();
        tokio::spawn(async move {
            s3.put_object()
                .bucket("bkt1")
                .key("k")
                .body(ByteStream::from(v2))
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    moto.pause();
    let result = put.await.unwrap();
    moto.resume();
    backend_answers_again(&s3).await;
    let got = s3
        .get_object()
        .bucket("bkt1")
        .key("k")
        .send()
        .await
        .unwrap();
    let body = got.body.collect().await.unwrap().into_bytes();
    match &result {
        Ok(_) => assert!(body[..] == v2[..], "acknowledged PUT reads back"),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            assert_eq!(status, Some(503), "{e:?}");
            assert!(body[..] == v1[..], "failed PUT leaves the old object");
        }
    }
    let listed = s3.list_objects_v2().bucket("bkt1").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1));
    assert_eq!(listed.contents()[0].size(), Some(body.len() as i64));
    // The backend answers again: writes work.
    s3.put_object()
        .bucket("bkt1")
        .key("after")
        .body(ByteStream::from_static(b"back"))
        .send()
        .await
        .unwrap();
}

/// Waits (at most 60 tries, 0.5 s apart) until a request through the gateway reaches the resumed
/// backend. Right after SIGCONT moto is still working through the connections that piled up in
/// its backlog while it was stopped, and on a loaded machine the first requests can fail with
/// 503 for a few seconds; what the test asserts is what readers get once the backend is back.
async fn backend_answers_again(s3: &aws_sdk_s3::Client) {
    for _ in 0..60 {
        if s3.head_bucket().bucket("bkt1").send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the backend did not answer through the gateway within 60 tries after it resumed");
}

/// Two stores (two gateways) overwriting one key concurrently through conditional swaps. The
/// exactly-once hand-back is asserted on `InMemory` (unit test in `store`), whose conditional
/// put is atomic; moto checks `If-Match` and writes without a lock, so two racing writers can
/// both pass the check there (observed under load). What must hold on any backend: the current
/// record is never reported as replaced (its blobs are never deleted) and every reported one
/// was really written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_overwrites_across_stores_never_hand_back_the_current_record() {
    use futures::StreamExt;
    use std::collections::BTreeSet;

    let Some(moto) = moto::Moto::start() else {
        return;
    };
    let bucket = moto.bucket("race").await;
    let a = Store::remote(&spec(&moto, &bucket, None)).unwrap();
    let b = Store::remote(&spec(&moto, &bucket, None)).unwrap();
    a.create_bucket(&conformance::bucket_record("race-b"))
        .await
        .unwrap();
    let writes: Vec<(usize, String)> = (0..24).map(|i| (i, format!("gen-{i:02}"))).collect();
    let results: Vec<Option<String>> = futures::stream::iter(writes.clone())
        .map(|(i, generation)| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            async move {
                store
                    .put_meta("race-b", "hot", &conformance::object_meta(&generation, 1))
                    .await
                    .unwrap()
                    .map(|m| m.generation)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let replaced: BTreeSet<String> = results.iter().flatten().cloned().collect();
    let written: BTreeSet<String> = writes.into_iter().map(|(_, g)| g).collect();
    let current = a
        .get_meta("race-b", "hot")
        .await
        .unwrap()
        .unwrap()
        .generation;
    assert!(written.contains(&current));
    assert!(
        !replaced.contains(&current),
        "the current record was reported replaced: its blobs would be deleted"
    );
    assert!(replaced.is_subset(&written), "{replaced:?}");
    assert!(!replaced.is_empty(), "overwrites report what they replaced");
}
