//! Block Public Access, Object Ownership and the new-bucket defaults (docs/ACCESS.md) against
//! the real binary, driven by the AWS SDK (and plain HTTPS for anonymous callers).
mod common;

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ObjectCannedAcl, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration,
};
use common::{Server, failure};

const ACCOUNT_B: &str = "222222222222";
const ROOT_B: (&str, &str) = (
    "ROOTBACCESSKEY000001",
    "root-b-secret-key-00000000000000000000001",
);

fn users_toml() -> String {
    format!(
        "[[users]]\nname = \"root\"\naccount_id = \"{ACCOUNT_B}\"\naccess_key = \"{}\"\nsecret_key = \"{}\"\n",
        ROOT_B.0, ROOT_B.1
    )
}

fn public_read(bucket: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    )
}

fn block(policy: bool, restrict: bool) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(policy)
        .restrict_public_buckets(restrict)
        .build()
}

fn http(server: &Server) -> reqwest::Client {
    let pem = std::fs::read(&server.ca_path).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

/// A new bucket (default `aws`): all four flags, BucketOwnerEnforced; BlockPublicPolicy
/// refuses a public policy; RestrictPublicBuckets keeps a public policy from anonymous and
/// other-account callers while the owner still reads.
#[tokio::test]
async fn block_public_access_is_on_and_enforced() {
    let server = Server::start_with(common::Options {
        config_toml: Some(users_toml()),
        ..Default::default()
    });
    let s3 = server.s3().await;
    let root_b = server.s3_as(Some(ROOT_B)).await;
    s3.create_bucket().bucket("pab").send().await.unwrap();
    s3.put_object()
        .bucket("pab")
        .key("k")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();

    let got = s3
        .get_public_access_block()
        .bucket("pab")
        .send()
        .await
        .unwrap();
    let c = got.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let own = s3
        .get_bucket_ownership_controls()
        .bucket("pab")
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.ownership_controls().unwrap().rules()[0].object_ownership(),
        &ObjectOwnership::BucketOwnerEnforced
    );

    // BlockPublicPolicy: refused with AWS's message, nothing stored.
    let r = s3
        .put_bucket_policy()
        .bucket("pab")
        .policy(public_read("pab"))
        .send()
        .await;
    let msg = r
        .as_ref()
        .err()
        .and_then(|e| e.message())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        failure("public policy", r),
        (403, "AccessDenied".to_owned())
    );
    assert!(
        msg.contains("s3:PutBucketPolicy") && msg.contains("BlockPublicPolicy"),
        "{msg}"
    );
    assert_eq!(
        failure(
            "nothing stored",
            s3.get_bucket_policy().bucket("pab").send().await
        ),
        (404, "NoSuchBucketPolicy".to_owned())
    );
    // A policy that is not public is accepted under the block.
    let own_account = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pab/*"}]}"#;
    s3.put_bucket_policy()
        .bucket("pab")
        .policy(own_account)
        .send()
        .await
        .unwrap();

    // Lift BlockPublicPolicy only: the public policy goes in, but RestrictPublicBuckets keeps
    // it from everyone outside the owner's account.
    s3.put_public_access_block()
        .bucket("pab")
        .public_access_block_configuration(block(false, true))
        .send()
        .await
        .unwrap();
    s3.put_bucket_policy()
        .bucket("pab")
        .policy(public_read("pab"))
        .send()
        .await
        .unwrap();
    let anon = http(&server);
    let url = format!("{}/pab/k", server.s3_https);
    let r = anon.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<Code>AccessDenied</Code>")
    );
    assert_eq!(
        failure(
            "other account, restricted",
            root_b.get_object().bucket("pab").key("k").send().await
        ),
        (403, "AccessDenied".to_owned())
    );
    let mine = s3.get_object().bucket("pab").key("k").send().await.unwrap();
    assert_eq!(
        mine.body.collect().await.unwrap().into_bytes().as_ref(),
        b"hello"
    );

    // Without RestrictPublicBuckets the same policy lets everyone read.
    s3.put_public_access_block()
        .bucket("pab")
        .public_access_block_configuration(block(false, false))
        .send()
        .await
        .unwrap();
    let r = anon.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello");
    let theirs = root_b
        .get_object()
        .bucket("pab")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        theirs.body.collect().await.unwrap().into_bytes().as_ref(),
        b"hello"
    );

    // Turning BlockPublicPolicy back on keeps the stored policy (as on AWS); Restrict again
    // closes it.
    s3.put_public_access_block()
        .bucket("pab")
        .public_access_block_configuration(block(true, true))
        .send()
        .await
        .unwrap();
    assert!(s3.get_bucket_policy().bucket("pab").send().await.is_ok());
    assert_eq!(anon.get(&url).send().await.unwrap().status(), 403);

    // Only the owner's account manages the block.
    assert_eq!(
        failure(
            "other account deletes the block",
            root_b
                .delete_public_access_block()
                .bucket("pab")
                .send()
                .await
        ),
        (403, "AccessDenied".to_owned())
    );
    s3.delete_public_access_block()
        .bucket("pab")
        .send()
        .await
        .unwrap();
    assert_eq!(
        failure(
            "no block",
            s3.get_public_access_block().bucket("pab").send().await
        ),
        (404, "NoSuchPublicAccessBlockConfiguration".to_owned())
    );
}

/// BucketOwnerEnforced refuses ACLs on every write that can carry one; other ownerships take
/// them; the ownership controls can be changed and removed.
#[tokio::test]
async fn acls_are_disabled_under_bucket_owner_enforced() {
    let server = Server::start();
    let s3 = server.s3().await;
    s3.create_bucket().bucket("own").send().await.unwrap();
    let acl_err = || (400, "AccessControlListNotSupported".to_owned());

    let r = s3
        .put_object()
        .bucket("own")
        .key("k")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    let msg = r
        .as_ref()
        .err()
        .and_then(|e| e.message())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(failure("put public-read", r), acl_err());
    assert_eq!(msg, "The bucket does not allow ACLs");
    assert_eq!(
        failure(
            "put with grant",
            s3.put_object()
                .bucket("own")
                .key("k")
                .grant_read("id=abc")
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
        ),
        acl_err()
    );
    assert_eq!(
        failure(
            "get of the refused key",
            s3.get_object().bucket("own").key("k").send().await
        ),
        (404, "NoSuchKey".to_owned())
    );
    s3.put_object()
        .bucket("own")
        .key("k")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        failure(
            "copy private",
            s3.copy_object()
                .bucket("own")
                .key("c")
                .copy_source("own/k")
                .acl(ObjectCannedAcl::Private)
                .send()
                .await
        ),
        acl_err()
    );
    assert_eq!(
        failure(
            "multipart public-read",
            s3.create_multipart_upload()
                .bucket("own")
                .key("m")
                .acl(ObjectCannedAcl::PublicRead)
                .send()
                .await
        ),
        acl_err()
    );
    assert_eq!(
        failure(
            "create bucket with ACL",
            s3.create_bucket()
                .bucket("own2")
                .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
                .send()
                .await
        ),
        (400, "InvalidBucketAclWithObjectOwnership".to_owned())
    );
    assert_eq!(
        failure(
            "refused bucket not created",
            s3.head_bucket().bucket("own2").send().await
        )
        .0,
        404
    );
    // `private` alone is accepted, as on AWS (rclone sends it on every mkdir): the bucket is
    // then BucketOwnerPreferred.
    s3.create_bucket()
        .bucket("own4")
        .acl(aws_sdk_s3::types::BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    let own = s3
        .get_bucket_ownership_controls()
        .bucket("own4")
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.ownership_controls().unwrap().rules()[0].object_ownership(),
        &ObjectOwnership::BucketOwnerPreferred
    );
    // Asked for at creation, another ownership sticks.
    s3.create_bucket()
        .bucket("own3")
        .object_ownership(ObjectOwnership::BucketOwnerPreferred)
        .send()
        .await
        .unwrap();
    let own = s3
        .get_bucket_ownership_controls()
        .bucket("own3")
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.ownership_controls().unwrap().rules()[0].object_ownership(),
        &ObjectOwnership::BucketOwnerPreferred
    );

    // ObjectWriter takes ACLs; Block Public Access (on for new buckets) still refuses a public
    // one.
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::ObjectWriter)
        .build()
        .unwrap();
    s3.put_bucket_ownership_controls()
        .bucket("own")
        .ownership_controls(OwnershipControls::builder().rules(rule).build().unwrap())
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("own")
        .key("w")
        .acl(ObjectCannedAcl::Private)
        .body(ByteStream::from_static(b"w"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        failure(
            "public-read with ACLs enabled",
            s3.put_object()
                .bucket("own")
                .key("w")
                .acl(ObjectCannedAcl::PublicRead)
                .body(ByteStream::from_static(b"w"))
                .send()
                .await
        ),
        (403, "AccessDenied".to_owned())
    );
    s3.delete_bucket_ownership_controls()
        .bucket("own")
        .send()
        .await
        .unwrap();
    assert_eq!(
        failure(
            "no controls",
            s3.get_bucket_ownership_controls()
                .bucket("own")
                .send()
                .await
        ),
        (404, "OwnershipControlsNotFoundError".to_owned())
    );
}

/// `--bucket-defaults legacy` (here through its environment twin): new buckets have no Block
/// Public Access and ObjectWriter, so a public policy and an ACL header are accepted at once.
#[tokio::test]
async fn legacy_bucket_defaults() {
    let server = Server::start_with(common::Options {
        env: vec![("SEALGATE_BUCKET_DEFAULTS".into(), "legacy".into())],
        ..Default::default()
    });
    let s3 = server.s3().await;
    s3.create_bucket().bucket("old").send().await.unwrap();
    assert_eq!(
        failure(
            "no block",
            s3.get_public_access_block().bucket("old").send().await
        ),
        (404, "NoSuchPublicAccessBlockConfiguration".to_owned())
    );
    let own = s3
        .get_bucket_ownership_controls()
        .bucket("old")
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.ownership_controls().unwrap().rules()[0].object_ownership(),
        &ObjectOwnership::ObjectWriter
    );
    s3.put_bucket_policy()
        .bucket("old")
        .policy(public_read("old"))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("old")
        .key("k")
        .acl(ObjectCannedAcl::Private)
        .body(ByteStream::from_static(b"open"))
        .send()
        .await
        .unwrap();
    let r = http(&server)
        .get(format!("{}/old/k", server.s3_https))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"open");
}

/// GetBucketAcl/GetObjectAcl answer the owner's FULL_CONTROL grant (as AWS does with ACLs
/// disabled), with the owner ListBuckets shows; with ACLs disabled a Put*Acl is accepted only
/// when it says just that.
#[tokio::test]
async fn acls_read_as_owner_full_control() {
    let server = Server::start();
    let s3 = server.s3().await;
    s3.create_bucket().bucket("acl").send().await.unwrap();
    s3.put_object()
        .bucket("acl")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let buckets = s3.list_buckets().send().await.unwrap();
    let owner_id = buckets.owner().unwrap().id().unwrap().to_owned();
    assert_eq!(owner_id.len(), 64);

    let b = s3.get_bucket_acl().bucket("acl").send().await.unwrap();
    let o = s3
        .get_object_acl()
        .bucket("acl")
        .key("k")
        .send()
        .await
        .unwrap();
    for (owner, grants) in [(b.owner(), b.grants()), (o.owner(), o.grants())] {
        assert_eq!(owner.unwrap().id(), Some(owner_id.as_str()));
        assert_eq!(grants.len(), 1);
        let g = &grants[0];
        assert_eq!(
            g.permission(),
            Some(&aws_sdk_s3::types::Permission::FullControl)
        );
        let grantee = g.grantee().unwrap();
        assert_eq!(grantee.r#type(), &aws_sdk_s3::types::Type::CanonicalUser);
        assert_eq!(grantee.id(), Some(owner_id.as_str()));
    }
    assert_eq!(
        failure(
            "acl of a missing key",
            s3.get_object_acl().bucket("acl").key("nope").send().await
        ),
        (404, "NoSuchKey".to_owned())
    );
    s3.put_bucket_acl()
        .bucket("acl")
        .acl(aws_sdk_s3::types::BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(
        failure(
            "put bucket acl public-read",
            s3.put_bucket_acl()
                .bucket("acl")
                .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
                .send()
                .await
        ),
        (400, "AccessControlListNotSupported".to_owned())
    );
    assert_eq!(
        failure(
            "put object acl with a grant",
            s3.put_object_acl()
                .bucket("acl")
                .key("k")
                .grant_read(format!("id={owner_id}"))
                .send()
                .await
        ),
        (400, "AccessControlListNotSupported".to_owned())
    );
}

/// Under `legacy` defaults (ObjectWriter, no block) the canned ACLs, grant headers and an
/// AccessControlPolicy body are stored and answered by GetObjectAcl/GetBucketAcl as AWS
/// expands them; bad grants are refused with AWS's codes and change nothing.
#[tokio::test]
async fn canned_acls_and_grants_are_stored() {
    use aws_sdk_s3::types::{
        AccessControlPolicy, BucketCannedAcl, Grant, Grantee, Owner, Permission, Type,
    };
    const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
    const AUTH_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
    const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";
    let server = Server::start_with(common::Options {
        env: vec![("SEALGATE_BUCKET_DEFAULTS".into(), "legacy".into())],
        ..Default::default()
    });
    let s3 = server.s3().await;
    s3.create_bucket()
        .bucket("canned")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let owner = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .owner()
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    // Grants as (grantee id or group URI, permission).
    type Grants = Vec<(String, Permission)>;
    let flat = |grants: &[Grant]| -> Grants {
        grants
            .iter()
            .map(|g| {
                let ge = g.grantee().unwrap();
                let who = match ge.r#type() {
                    Type::Group => ge.uri().unwrap().to_owned(),
                    _ => ge.id().unwrap().to_owned(),
                };
                (who, g.permission().unwrap().clone())
            })
            .collect()
    };
    let fc = (owner.clone(), Permission::FullControl);
    let bucket_acl = s3.get_bucket_acl().bucket("canned").send().await.unwrap();
    assert_eq!(
        flat(bucket_acl.grants()),
        vec![fc.clone(), (ALL_USERS.into(), Permission::Read)]
    );

    let rows: Vec<(ObjectCannedAcl, Grants)> = vec![
        (ObjectCannedAcl::Private, vec![fc.clone()]),
        (
            ObjectCannedAcl::PublicRead,
            vec![fc.clone(), (ALL_USERS.into(), Permission::Read)],
        ),
        (
            ObjectCannedAcl::PublicReadWrite,
            vec![
                fc.clone(),
                (ALL_USERS.into(), Permission::Read),
                (ALL_USERS.into(), Permission::Write),
            ],
        ),
        (
            ObjectCannedAcl::AuthenticatedRead,
            vec![fc.clone(), (AUTH_USERS.into(), Permission::Read)],
        ),
        // The writer owns the bucket: the bucket-owner ACLs add nothing.
        (ObjectCannedAcl::BucketOwnerRead, vec![fc.clone()]),
        (ObjectCannedAcl::BucketOwnerFullControl, vec![fc.clone()]),
        (ObjectCannedAcl::AwsExecRead, vec![fc.clone()]),
    ];
    for (canned, want) in rows {
        let key = format!("o-{}", canned.as_str());
        s3.put_object()
            .bucket("canned")
            .key(&key)
            .acl(canned.clone())
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
        let got = s3
            .get_object_acl()
            .bucket("canned")
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(got.owner().unwrap().id(), Some(owner.as_str()), "{key}");
        assert_eq!(flat(got.grants()), want, "{key}");
    }
    s3.put_bucket_acl()
        .bucket("canned")
        .acl(BucketCannedAcl::from("log-delivery-write"))
        .send()
        .await
        .unwrap();
    let bucket_acl = s3.get_bucket_acl().bucket("canned").send().await.unwrap();
    assert_eq!(
        flat(bucket_acl.grants()),
        vec![
            fc.clone(),
            (LOG_DELIVERY.into(), Permission::Write),
            (LOG_DELIVERY.into(), Permission::ReadAcp)
        ]
    );

    // Grant headers: exactly the grants given (the owner only if listed).
    s3.put_object_acl()
        .bucket("canned")
        .key("o-private")
        .grant_read(format!("uri=\"{ALL_USERS}\""))
        .grant_write_acp(format!("id=\"{owner}\""))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object_acl()
        .bucket("canned")
        .key("o-private")
        .send()
        .await
        .unwrap();
    assert_eq!(
        flat(got.grants()),
        vec![
            (ALL_USERS.into(), Permission::Read),
            (owner.clone(), Permission::WriteAcp)
        ]
    );
    // An AccessControlPolicy body; CopyObject does not carry the source's ACL.
    let policy = AccessControlPolicy::builder()
        .owner(Owner::builder().id(&owner).build())
        .grants(
            Grant::builder()
                .grantee(
                    Grantee::builder()
                        .r#type(Type::Group)
                        .uri(AUTH_USERS)
                        .build()
                        .unwrap(),
                )
                .permission(Permission::ReadAcp)
                .build(),
        )
        .build();
    s3.put_object_acl()
        .bucket("canned")
        .key("o-private")
        .access_control_policy(policy)
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object_acl()
        .bucket("canned")
        .key("o-private")
        .send()
        .await
        .unwrap();
    assert_eq!(
        flat(got.grants()),
        vec![(AUTH_USERS.into(), Permission::ReadAcp)]
    );
    s3.copy_object()
        .bucket("canned")
        .key("copy")
        .copy_source("canned/o-public-read")
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object_acl()
        .bucket("canned")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(flat(got.grants()), vec![fc.clone()]);

    // Refusals, each leaving the ACL as it was.
    let refusals = [
        (
            "email grantee",
            failure(
                "email",
                s3.put_object_acl()
                    .bucket("canned")
                    .key("copy")
                    .grant_read("emailAddress=\"someone@example.com\"")
                    .send()
                    .await,
            ),
            (400, "UnresolvableGrantByEmailAddress"),
        ),
        (
            "canned and grant",
            failure(
                "both",
                s3.put_object()
                    .bucket("canned")
                    .key("copy")
                    .acl(ObjectCannedAcl::PublicRead)
                    .grant_read(format!("id={owner}"))
                    .body(ByteStream::from_static(b"y"))
                    .send()
                    .await,
            ),
            (400, "InvalidRequest"),
        ),
        (
            "unknown group",
            failure(
                "group",
                s3.put_object_acl()
                    .bucket("canned")
                    .key("copy")
                    .grant_read("uri=\"http://example.com/everyone\"")
                    .send()
                    .await,
            ),
            (400, "InvalidArgument"),
        ),
        (
            "no ACL at all",
            failure(
                "none",
                s3.put_object_acl()
                    .bucket("canned")
                    .key("copy")
                    .send()
                    .await,
            ),
            (400, "MissingSecurityHeader"),
        ),
    ];
    for (name, got, (status, code)) in refusals {
        assert_eq!(got, (status, code.to_owned()), "{name}");
    }
    let got = s3
        .get_object_acl()
        .bucket("canned")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(flat(got.grants()), vec![fc]);
}
