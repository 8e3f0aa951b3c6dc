//! S3 authorization against the real binary (docs/ACCESS.md): two accounts and a narrow IAM
//! user, driven by the AWS SDK, plus anonymous requests over plain HTTPS.
//!
//! Account A (000000000000) is the gateway's own: its root is the harness root; `alice` is an
//! IAM user of A limited to the prefix `alice/` of bucket `a-data`. Account B (222222222222)
//! has a root user and `bob`, an IAM user allowed every S3 action by his identity policy.
mod common;

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use common::{Server, failure};

const ACCOUNT_A: &str = "000000000000";
const ACCOUNT_B: &str = "222222222222";
const ALICE: (&str, &str) = (
    "ALICEACCESSKEY000001",
    "alice-secret-key-000000000000000000000001",
);
const ROOT_B: (&str, &str) = (
    "ROOTBACCESSKEY000001",
    "root-b-secret-key-00000000000000000000001",
);
const BOB: (&str, &str) = (
    "BOBACCESSKEY00000001",
    "bob-secret-key-0000000000000000000000001",
);

fn users_toml() -> String {
    let alice_policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::a-data/alice/*"},
        {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::a-data","Condition":{"StringLike":{"s3:prefix":"alice/*"}}}]}"#;
    let bob_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    format!(
        r#"
[[users]]
name = "alice"
access_key = "{}"
secret_key = "{}"
policy = '''{alice_policy}'''

[[users]]
name = "root"
account_id = "{ACCOUNT_B}"
access_key = "{}"
secret_key = "{}"

[[users]]
name = "bob"
account_id = "{ACCOUNT_B}"
access_key = "{}"
secret_key = "{}"
policy = '''{bob_policy}'''
"#,
        ALICE.0, ALICE.1, ROOT_B.0, ROOT_B.1, BOB.0, BOB.1
    )
}

fn start() -> Server {
    Server::start_with(common::Options {
        config_toml: Some(users_toml()),
        ..Default::default()
    })
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {bucket}/{key}: {e:?}"));
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {bucket}/{key}: {e:?}"));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

fn denied() -> (u16, String) {
    (403, "AccessDenied".to_owned())
}

fn http(server: &Server) -> reqwest::Client {
    let pem = std::fs::read(&server.ca_path).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

/// The value of a counter series in the metrics text, 0 when absent.
async fn metric(server: &Server, series: &str) -> u64 {
    let text = reqwest::get(server.metrics_url.as_ref().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn accounts_users_and_bucket_policies() {
    let server = start();
    let root_a = server.s3().await;
    let alice = server.s3_as(Some(ALICE)).await;
    let root_b = server.s3_as(Some(ROOT_B)).await;
    let bob = server.s3_as(Some(BOB)).await;

    // ---- owners ----
    root_a
        .create_bucket()
        .bucket("a-data")
        .send()
        .await
        .unwrap();
    root_b
        .create_bucket()
        .bucket("b-data")
        .send()
        .await
        .unwrap();
    let listed = |out: aws_sdk_s3::operation::list_buckets::ListBucketsOutput| {
        let owner = out.owner().unwrap().id().unwrap().to_owned();
        let names: Vec<String> = out
            .buckets()
            .iter()
            .map(|b| b.name().unwrap().to_owned())
            .collect();
        (owner, names)
    };
    let (owner_a, names_a) = listed(root_a.list_buckets().send().await.unwrap());
    let (owner_b, names_b) = listed(root_b.list_buckets().send().await.unwrap());
    assert_eq!(names_a, ["a-data"]);
    assert_eq!(names_b, ["b-data"]);
    assert_eq!(owner_a.len(), 64);
    assert!(owner_a.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(owner_a, owner_b);
    let (bob_owner, bob_names) = listed(bob.list_buckets().send().await.unwrap());
    assert_eq!(
        (bob_owner, bob_names),
        (owner_b.clone(), vec!["b-data".to_owned()])
    );
    assert_eq!(
        failure(
            "B creates A's name",
            root_b.create_bucket().bucket("a-data").send().await
        ),
        (409, "BucketAlreadyExists".to_owned())
    );
    // us-east-1: re-creating one's own bucket is still a no-op success.
    root_a
        .create_bucket()
        .bucket("a-data")
        .send()
        .await
        .unwrap();

    put(&root_a, "a-data", "alice/1", b"alice one").await;
    put(&root_a, "a-data", "shared/x", b"shared x").await;
    put(&root_a, "a-data", "public/p", b"public p").await;
    put(&root_b, "b-data", "b1", b"bee one").await;

    // ---- a user limited to one prefix ----
    put(&alice, "a-data", "alice/2", b"alice two").await;
    assert_eq!(get(&alice, "a-data", "alice/1").await, b"alice one");
    assert_eq!(
        failure(
            "alice put outside",
            alice
                .put_object()
                .bucket("a-data")
                .key("shared/y")
                .body(ByteStream::from_static(b"no"))
                .send()
                .await
        ),
        denied()
    );
    assert_eq!(
        failure(
            "alice get outside",
            alice
                .get_object()
                .bucket("a-data")
                .key("shared/x")
                .send()
                .await
        ),
        denied()
    );
    let mine = alice
        .list_objects_v2()
        .bucket("a-data")
        .prefix("alice/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = mine.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(keys, ["alice/1", "alice/2"]);
    assert_eq!(
        failure(
            "alice lists all",
            alice.list_objects_v2().bucket("a-data").send().await
        ),
        denied()
    );
    assert_eq!(
        failure("alice ListBuckets", alice.list_buckets().send().await),
        denied()
    );
    assert_eq!(
        failure(
            "alice other account",
            alice.get_object().bucket("b-data").key("b1").send().await
        ),
        denied()
    );
    // 404 only for callers who may list the bucket (alice's ListBucket needs a prefix).
    assert_eq!(
        failure(
            "alice missing key",
            alice
                .get_object()
                .bucket("a-data")
                .key("alice/none")
                .send()
                .await
        ),
        denied()
    );
    assert_eq!(
        failure(
            "root missing key",
            root_a
                .get_object()
                .bucket("a-data")
                .key("alice/none")
                .send()
                .await
        ),
        (404, "NoSuchKey".to_owned())
    );
    // A missing bucket is 404 whoever asks.
    assert_eq!(
        failure(
            "alice missing bucket",
            alice
                .get_object()
                .bucket("no-such-bucket")
                .key("k")
                .send()
                .await
        ),
        (404, "NoSuchBucket".to_owned())
    );

    // ---- DeleteObjects: refusals per key ----
    let ids = ["alice/2", "shared/x"].map(|k| ObjectIdentifier::builder().key(k).build().unwrap());
    let out = alice
        .delete_objects()
        .bucket("a-data")
        .delete(
            Delete::builder()
                .set_objects(Some(ids.to_vec()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let deleted: Vec<&str> = out.deleted().iter().map(|d| d.key().unwrap()).collect();
    let errors: Vec<(&str, &str)> = out
        .errors()
        .iter()
        .map(|e| (e.key().unwrap(), e.code().unwrap()))
        .collect();
    assert_eq!(deleted, ["alice/2"]);
    assert_eq!(errors, [("shared/x", "AccessDenied")]);
    assert_eq!(get(&root_a, "a-data", "shared/x").await, b"shared x");

    // ---- CopyObject needs GetObject on the source and PutObject on the destination ----
    let copy = |c: &aws_sdk_s3::Client, src: &str, bucket: &str, key: &str| {
        c.copy_object()
            .copy_source(src)
            .bucket(bucket)
            .key(key)
            .send()
    };
    assert_eq!(
        failure(
            "copy from unreadable",
            copy(&alice, "a-data/shared/x", "a-data", "alice/c").await
        ),
        denied()
    );
    assert_eq!(
        failure(
            "copy to unwritable",
            copy(&alice, "a-data/alice/1", "a-data", "shared/c").await
        ),
        denied()
    );
    copy(&alice, "a-data/alice/1", "a-data", "alice/c")
        .await
        .unwrap();
    assert_eq!(get(&alice, "a-data", "alice/c").await, b"alice one");

    // ---- cross account: nothing without a bucket policy ----
    for (who, c) in [("root B", &root_b), ("bob", &bob)] {
        assert_eq!(
            failure(
                who,
                c.get_object().bucket("a-data").key("shared/x").send().await
            ),
            denied(),
            "{who}"
        );
    }
    assert_eq!(
        failure(
            "bob copies from A",
            copy(&bob, "a-data/shared/x", "b-data", "copied").await
        ),
        denied()
    );

    // ---- bucket policy API ----
    assert_eq!(
        failure(
            "no policy",
            root_a.get_bucket_policy().bucket("a-data").send().await
        ),
        (404, "NoSuchBucketPolicy".to_owned())
    );
    assert_eq!(
        failure(
            "no policy status",
            root_a
                .get_bucket_policy_status()
                .bucket("a-data")
                .send()
                .await
        ),
        (404, "NoSuchBucketPolicy".to_owned())
    );
    let bad = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b-data/*"}]}"#;
    let r = root_a
        .put_bucket_policy()
        .bucket("a-data")
        .policy(bad)
        .send()
        .await;
    let err = r
        .as_ref()
        .err()
        .map(|e| format!("{e:?}"))
        .unwrap_or_default();
    assert_eq!(
        failure("foreign resource", r),
        (400, "MalformedPolicy".to_owned())
    );
    assert!(err.contains("Policy has invalid resource"), "{err}");
    let no_principal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::a-data/*"}]}"#;
    assert_eq!(
        failure(
            "no principal",
            root_a
                .put_bucket_policy()
                .bucket("a-data")
                .policy(no_principal)
                .send()
                .await
        ),
        (400, "MalformedPolicy".to_owned())
    );
    // Only the owner's account manages the policy.
    assert_eq!(
        failure(
            "bob puts A's policy",
            bob.put_bucket_policy()
                .bucket("a-data")
                .policy(bad)
                .send()
                .await
        ),
        denied()
    );
    assert_eq!(
        failure(
            "alice puts policy",
            alice
                .put_bucket_policy()
                .bucket("a-data")
                .policy(bad)
                .send()
                .await
        ),
        denied()
    );

    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"B reads shared","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT_B}:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::a-data/shared/*"}},
        {{"Sid":"B reads the policy","Effect":"Allow","Principal":{{"AWS":"{ACCOUNT_B}"}},"Action":"s3:GetBucketPolicy","Resource":"arn:aws:s3:::a-data"}},
        {{"Sid":"public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::a-data/public/*"}},
        {{"Sid":"drop box","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::a-data/drop/*"}}]}}"#
    );
    // New buckets block public policies (AWS's default since 2023): refused as on AWS, with
    // nothing stored, until the owner lifts the block.
    let r = root_a
        .put_bucket_policy()
        .bucket("a-data")
        .policy(&policy)
        .send()
        .await;
    let msg = r
        .as_ref()
        .err()
        .and_then(|e| e.message())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(failure("public policy blocked", r), denied());
    assert!(msg.contains("BlockPublicPolicy"), "{msg}");
    root_a
        .delete_public_access_block()
        .bucket("a-data")
        .send()
        .await
        .unwrap();
    root_a
        .put_bucket_policy()
        .bucket("a-data")
        .policy(&policy)
        .send()
        .await
        .unwrap();
    let stored = root_a
        .get_bucket_policy()
        .bucket("a-data")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.policy(), Some(policy.as_str()));
    let status = root_a
        .get_bucket_policy_status()
        .bucket("a-data")
        .send()
        .await
        .unwrap();
    assert_eq!(status.policy_status().unwrap().is_public(), Some(true));

    // Even allowed, another account may not manage the policy: 405, as on AWS.
    let r = root_b.get_bucket_policy().bucket("a-data").send().await;
    assert_eq!(failure("B reads A's policy", r).0, 405);

    // ---- cross account with the policy: both sides must allow ----
    assert_eq!(get(&root_b, "a-data", "shared/x").await, b"shared x");
    assert_eq!(get(&bob, "a-data", "shared/x").await, b"shared x");
    assert_eq!(
        failure(
            "B outside grant",
            root_b
                .get_object()
                .bucket("a-data")
                .key("alice/1")
                .send()
                .await
        ),
        denied()
    );
    assert_eq!(
        failure(
            "B writes",
            root_b
                .put_object()
                .bucket("a-data")
                .key("shared/b")
                .body(ByteStream::from_static(b"b"))
                .send()
                .await
        ),
        denied()
    );
    copy(&bob, "a-data/shared/x", "b-data", "copied")
        .await
        .unwrap();
    assert_eq!(get(&bob, "b-data", "copied").await, b"shared x");
    // Account A's user gets nothing from a policy naming account B.
    assert_eq!(
        failure(
            "alice still",
            alice
                .get_object()
                .bucket("a-data")
                .key("shared/x")
                .send()
                .await
        ),
        denied()
    );

    // ---- anonymous, through the public statement only ----
    let anon = http(&server);
    let url = |k: &str| format!("{}/a-data/{k}", server.s3_https);
    let r = anon.get(url("public/p")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"public p");
    for (method, key) in [
        ("GET", "shared/x"),
        ("PUT", "public/new"),
        ("DELETE", "public/p"),
    ] {
        let r = anon
            .request(method.parse().unwrap(), url(key))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "anonymous {method} {key}");
        let body = r.text().await.unwrap();
        assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    }
    // An unsigned upload where the policy lets everyone write: stored encrypted like any other.
    let r = anon
        .put(url("drop/anon.txt"))
        .body("from nobody")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "anonymous PUT into drop/");
    assert_eq!(
        get(&root_a, "a-data", "drop/anon.txt").await,
        b"from nobody"
    );
    let meta = root_a
        .head_object()
        .bucket("a-data")
        .key("drop/anon.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        meta.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
    let r = anon.get(url("drop/anon.txt")).send().await.unwrap();
    assert_eq!(r.status(), 403, "write-only drop box");
    let r = anon
        .get(format!("{}/", server.s3_https))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "anonymous ListBuckets");
    // A missing public key: anonymous may not list, so 403, not 404.
    let r = anon.get(url("public/missing")).send().await.unwrap();
    assert_eq!(r.status(), 403);

    // ---- a policy that locks everyone out, the owner's root included, still leaves the
    // root able to remove it ----
    let lockout = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::a-data","arn:aws:s3:::a-data/*"]}]}"#;
    root_a
        .put_bucket_policy()
        .bucket("a-data")
        .policy(lockout)
        .send()
        .await
        .unwrap();
    assert_eq!(
        failure(
            "root locked out",
            root_a
                .get_object()
                .bucket("a-data")
                .key("shared/x")
                .send()
                .await
        ),
        denied()
    );
    let status = root_a
        .get_bucket_policy_status()
        .bucket("a-data")
        .send()
        .await;
    assert_eq!(failure("status denied too", status), denied());
    root_a
        .delete_bucket_policy()
        .bucket("a-data")
        .send()
        .await
        .unwrap();
    assert_eq!(get(&root_a, "a-data", "shared/x").await, b"shared x");
    let r = anon.get(url("public/p")).send().await.unwrap();
    assert_eq!(r.status(), 403, "public statement gone");

    // ---- denials are counted per action and logged without secrets ----
    assert!(
        metric(
            &server,
            "sealgate_s3_access_denied_total{action=\"s3:PutObject\"}"
        )
        .await
            >= 2
    );
    assert!(
        metric(
            &server,
            "sealgate_s3_access_denied_total{action=\"s3:DeleteObject\"}"
        )
        .await
            >= 2
    );
    let log = server.log();
    assert!(
        log.contains("access denied") && log.contains("arn:aws:iam::000000000000:user/alice"),
        "denials are logged with the principal"
    );
    assert!(!log.contains(ALICE.1) && !log.contains(BOB.1));
    let _ = ACCOUNT_A;
}

/// Config users keep working for the KMS and get no S3 rights without a policy saying so.
#[tokio::test]
async fn users_without_s3_policy_are_denied() {
    let server = Server::start_with(common::Options {
        config_toml: Some(
            r#"[[users]]
name = "carol"
access_key = "CAROLACCESSKEY000001"
secret_key = "carol-secret"
policy = '''{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}'''
"#
            .to_owned(),
        ),
        ..Default::default()
    });
    let root = server.s3().await;
    root.create_bucket()
        .bucket("carol-data")
        .send()
        .await
        .unwrap();
    put(&root, "carol-data", "k", b"v").await;
    let carol = server
        .s3_as(Some(("CAROLACCESSKEY000001", "carol-secret")))
        .await;
    assert_eq!(
        failure(
            "carol list",
            carol.list_objects_v2().bucket("carol-data").send().await
        ),
        denied()
    );
    assert_eq!(
        failure(
            "carol get",
            carol
                .get_object()
                .bucket("carol-data")
                .key("k")
                .send()
                .await
        ),
        denied()
    );
    assert_eq!(
        failure(
            "carol create",
            carol.create_bucket().bucket("carols").send().await
        ),
        denied()
    );
    assert_eq!(
        failure(
            "carol head bucket",
            carol.head_bucket().bucket("carol-data").send().await
        )
        .0,
        403
    );
}

/// ACL grants take part in the decision where ACLs are enabled (ObjectWriter here): an
/// AllUsers grant lets anonymous callers read, unless Block Public Access ignores it; a grant
/// to another account lets its root (and its users, through their identity policies) in; a
/// bucket WRITE grant lets another account write, and it owns what it writes.
#[tokio::test]
async fn acl_grants_decide() {
    use aws_sdk_s3::types::{BucketCannedAcl, ObjectCannedAcl, ObjectOwnership};
    let server = start();
    let root_a = server.s3().await;
    let alice = server.s3_as(Some(ALICE)).await;
    let root_b = server.s3_as(Some(ROOT_B)).await;
    let bob = server.s3_as(Some(BOB)).await;
    let owner_id = |out: aws_sdk_s3::operation::list_buckets::ListBucketsOutput| {
        out.owner().unwrap().id().unwrap().to_owned()
    };
    let id_a = owner_id(root_a.list_buckets().send().await.unwrap());
    let id_b = owner_id(root_b.list_buckets().send().await.unwrap());

    root_a
        .create_bucket()
        .bucket("acl-data")
        .object_ownership(ObjectOwnership::ObjectWriter)
        .send()
        .await
        .unwrap();
    put(&root_a, "acl-data", "k", b"acl body").await;
    let srv = &server;
    let anon_get = move || async move {
        http(srv)
            .get(format!("{}/acl-data/k", srv.s3_https))
            .send()
            .await
            .unwrap()
    };
    assert_eq!(anon_get().await.status(), 403, "private object");

    // Public-read while Block Public Access is on (every new bucket): refused, nothing stored.
    let set_acl = |acl: ObjectCannedAcl| {
        root_a
            .put_object_acl()
            .bucket("acl-data")
            .key("k")
            .acl(acl)
            .send()
    };
    assert_eq!(
        failure(
            "public ACL blocked",
            set_acl(ObjectCannedAcl::PublicRead).await
        ),
        denied()
    );
    assert_eq!(anon_get().await.status(), 403);
    root_a
        .delete_public_access_block()
        .bucket("acl-data")
        .send()
        .await
        .unwrap();
    set_acl(ObjectCannedAcl::PublicRead).await.unwrap();
    let r = anon_get().await;
    assert_eq!(r.status(), 200, "public-read object, block lifted");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"acl body");
    // AllUsers covers every caller: alice (no grant of her own on it) and B's root.
    assert_eq!(get(&alice, "acl-data", "k").await, b"acl body");
    assert_eq!(get(&root_b, "acl-data", "k").await, b"acl body");
    // READ is not WRITE, and the object's ACL is not the bucket's.
    assert_eq!(
        failure(
            "B puts into A's bucket",
            root_b
                .put_object()
                .bucket("acl-data")
                .key("from-b")
                .body(ByteStream::from_static(b"b"))
                .send()
                .await
        ),
        denied()
    );
    assert_eq!(
        failure(
            "B lists A's bucket",
            root_b.list_objects_v2().bucket("acl-data").send().await
        ),
        denied()
    );

    // IgnorePublicAcls: the grant stays stored but counts for nothing.
    root_a
        .put_public_access_block()
        .bucket("acl-data")
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .ignore_public_acls(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(anon_get().await.status(), 403, "IgnorePublicAcls");
    let acl = root_a
        .get_object_acl()
        .bucket("acl-data")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.grants().len(), 2, "the public grant is still stored");
    root_a
        .delete_public_access_block()
        .bucket("acl-data")
        .send()
        .await
        .unwrap();

    // A grant to account B: its root reads; bob reads through his identity policy too.
    root_a
        .put_object_acl()
        .bucket("acl-data")
        .key("k")
        .grant_full_control(format!("id={id_a}"))
        .grant_read(format!("id=\"{id_b}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(anon_get().await.status(), 403, "grant to B only");
    assert_eq!(get(&root_b, "acl-data", "k").await, b"acl body");
    assert_eq!(get(&bob, "acl-data", "k").await, b"acl body");
    assert_eq!(
        failure(
            "alice: B's grant is not hers",
            alice.get_object().bucket("acl-data").key("k").send().await
        ),
        denied()
    );
    assert_eq!(
        failure(
            "READ does not give READ_ACP",
            root_b
                .get_object_acl()
                .bucket("acl-data")
                .key("k")
                .send()
                .await
        ),
        denied()
    );

    // Bucket WRITE and READ for B: B writes and lists; what B writes is B's (ObjectWriter).
    root_a
        .put_bucket_acl()
        .bucket("acl-data")
        .grant_full_control(format!("id={id_a}"))
        .grant_write(format!("id={id_b}"))
        .grant_read(format!("id={id_b}"))
        .send()
        .await
        .unwrap();
    put(&root_b, "acl-data", "from-b", b"written by b").await;
    let listed = root_b
        .list_objects_v2()
        .bucket("acl-data")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(2));
    let acl = root_b
        .get_object_acl()
        .bucket("acl-data")
        .key("from-b")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.owner().unwrap().id(), Some(id_b.as_str()));
    assert_eq!(acl.grants().len(), 1);
    assert_eq!(acl.grants()[0].grantee().unwrap().id(), Some(id_b.as_str()));
    // The bucket ACL as stored.
    let b_acl = root_a
        .get_bucket_acl()
        .bucket("acl-data")
        .send()
        .await
        .unwrap();
    assert_eq!(b_acl.owner().unwrap().id(), Some(id_a.as_str()));
    assert_eq!(b_acl.grants().len(), 3);
    // Back to private: B is out again.
    root_a
        .put_bucket_acl()
        .bucket("acl-data")
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(
        failure(
            "B lists after private",
            root_b.list_objects_v2().bucket("acl-data").send().await
        ),
        denied()
    );
    // An explicit Deny in the bucket policy beats any ACL grant.
    set_acl(ObjectCannedAcl::PublicRead).await.unwrap();
    assert_eq!(anon_get().await.status(), 200);
    root_a
        .put_bucket_policy()
        .bucket("acl-data")
        .policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::acl-data/k","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(anon_get().await.status(), 403, "Deny beats the ACL");
}

/// Each version has its own ACL: Put/GetObjectAcl with `versionId` read and change that
/// version's record only, and a grant on one version lets its grantee read that version alone.
#[tokio::test]
async fn acl_per_version() {
    use aws_sdk_s3::types::{BucketVersioningStatus, ObjectCannedAcl, ObjectOwnership};
    let server = start();
    let root_a = server.s3().await;
    let root_b = server.s3_as(Some(ROOT_B)).await;
    let id_b = root_b.list_buckets().send().await.unwrap();
    let id_b = id_b.owner().unwrap().id().unwrap().to_owned();
    let b = "acl-ver";
    root_a
        .create_bucket()
        .bucket(b)
        .object_ownership(ObjectOwnership::ObjectWriter)
        .send()
        .await
        .unwrap();
    root_a
        .delete_public_access_block()
        .bucket(b)
        .send()
        .await
        .unwrap();
    common::set_versioning(&root_a, b, BucketVersioningStatus::Enabled).await;
    let mut ids = Vec::new();
    for body in [&b"first"[..], b"second"] {
        let out = root_a
            .put_object()
            .bucket(b)
            .key("k")
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .unwrap();
        ids.push(out.version_id().unwrap().to_owned());
    }
    let (v1, v2) = (ids[0].as_str(), ids[1].as_str());

    // B may read the first version only.
    root_a
        .put_object_acl()
        .bucket(b)
        .key("k")
        .version_id(v1)
        .grant_read(format!("id={id_b}"))
        .send()
        .await
        .unwrap();
    let grants = |v: Option<&str>| {
        let c = root_a.clone();
        let v = v.map(str::to_owned);
        async move {
            let out = c
                .get_object_acl()
                .bucket(b)
                .key("k")
                .set_version_id(v)
                .send()
                .await
                .unwrap();
            out.grants()
                .iter()
                .map(|g| {
                    let id = g.grantee().unwrap().id().unwrap_or_default().to_owned();
                    (id, g.permission().unwrap().as_str().to_owned())
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(grants(Some(v1)).await, vec![(id_b.clone(), "READ".into())]);
    assert_eq!(
        grants(None).await.len(),
        1,
        "the current version keeps its ACL"
    );
    assert_eq!(grants(None).await, grants(Some(v2)).await);
    assert_ne!(grants(None).await[0].0, id_b);
    let read_as_b = |v: Option<&str>| {
        root_b
            .get_object()
            .bucket(b)
            .key("k")
            .set_version_id(v.map(str::to_owned))
            .send()
    };
    let got = read_as_b(Some(v1)).await.unwrap();
    assert_eq!(got.version_id(), Some(v1));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"first"
    );
    assert_eq!(failure("B, current", read_as_b(None).await), denied());
    assert_eq!(failure("B, second", read_as_b(Some(v2)).await), denied());
    // The ACL change kept the version: same data, still not current, both listed.
    let listed = root_a
        .list_object_versions()
        .bucket(b)
        .send()
        .await
        .unwrap();
    let listed: Vec<_> = listed
        .versions()
        .iter()
        .map(|v| (v.version_id().unwrap().to_owned(), v.is_latest().unwrap()))
        .collect();
    assert_eq!(listed, vec![(v2.to_owned(), true), (v1.to_owned(), false)]);

    // public-read on the current version: everyone reads it, not the older one.
    root_a
        .put_object_acl()
        .bucket(b)
        .key("k")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let anon = |q: String| {
        let srv = &server;
        async move {
            let r = http(srv)
                .get(format!("{}/{b}/k{q}", srv.s3_https))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
        }
    };
    assert_eq!(anon(String::new()).await, (200, b"second".to_vec()));
    assert_eq!(
        anon(format!("?versionId={v2}")).await,
        (200, b"second".to_vec())
    );
    assert_eq!(anon(format!("?versionId={v1}")).await.0, 403);
    assert_eq!(grants(Some(v1)).await, vec![(id_b.clone(), "READ".into())]);
}
