//! Multi-Region KMS keys as AWS SDK users see them, against the real `sealgate` listener serving
//! two Regions (`region` plus `kms_regions`): CreateKey `MultiRegion`, ReplicateKey,
//! UpdatePrimaryRegion, ciphertexts, MACs and signatures made in one Region and checked in the
//! other, each Region's key with its own state, tags and deletion, and AWS's errors. The
//! `aws kms` CLI drives the same story in tests/e2e/test_kms_multi_region.py.
mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    KeySpec, KeyState, KeyUsageType, MacAlgorithmSpec, MultiRegionKeyType, OriginType,
    SigningAlgorithmSpec, Tag,
};
use common::{Options, REGION, Server, advance_clock, kms_users_toml};

const OTHER: &str = "eu-west-1";

fn start() -> Server {
    Server::start_with(Options {
        config_toml: Some(format!("kms_regions = [\"{OTHER}\"]\n{}", kms_users_toml())),
        test_clock: true,
        ..Options::default()
    })
}

/// A KMS client whose requests are signed for `region`.
async fn kms_in(server: &Server, region: &str) -> Client {
    let cfg = server.sdk_config(None).await;
    let conf = aws_sdk_kms::config::Builder::from(&cfg)
        .region(aws_sdk_kms::config::Region::new(region.to_owned()))
        .endpoint_url(&server.kms_https)
        .build();
    Client::from_conf(conf)
}

fn code<T: std::fmt::Debug, E: ProvideErrorMetadata>(r: Result<T, E>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code().unwrap_or("<no code>").to_owned(),
    }
}

async fn create_mrk(kms: &Client, spec: KeySpec, usage: KeyUsageType) -> String {
    let out = kms
        .create_key()
        .multi_region(true)
        .key_spec(spec)
        .key_usage(usage)
        .send()
        .await
        .unwrap();
    out.key_metadata().unwrap().key_id().to_owned()
}

async fn replicate(kms: &Client, id: &str) -> aws_sdk_kms::types::KeyMetadata {
    kms.replicate_key()
        .key_id(id)
        .replica_region(OTHER)
        .send()
        .await
        .unwrap()
        .replica_key_metadata()
        .unwrap()
        .clone()
}

async fn metadata(kms: &Client, id: &str) -> aws_sdk_kms::types::KeyMetadata {
    kms.describe_key()
        .key_id(id)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .clone()
}

async fn encrypt(kms: &Client, id: &str, plaintext: &[u8]) -> Blob {
    kms.encrypt()
        .key_id(id)
        .plaintext(Blob::new(plaintext))
        .encryption_context("purpose", "mrk-test")
        .send()
        .await
        .unwrap()
        .ciphertext_blob()
        .unwrap()
        .clone()
}

async fn decrypt(kms: &Client, blob: &Blob) -> Vec<u8> {
    kms.decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("purpose", "mrk-test")
        .send()
        .await
        .unwrap()
        .plaintext()
        .unwrap()
        .as_ref()
        .to_vec()
}

#[tokio::test]
async fn replicas_share_material_and_keep_their_own_state() {
    let server = start();
    let us = kms_in(&server, REGION).await;
    let eu = kms_in(&server, OTHER).await;

    let created = us
        .create_key()
        .multi_region(true)
        .description("primary")
        .tags(
            Tag::builder()
                .tag_key("home")
                .tag_value("us")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let md = created.key_metadata().unwrap();
    let id = md.key_id().to_owned();
    assert!(id.starts_with("mrk-") && id.len() == 36, "{id}");
    assert!(id[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(md.multi_region(), Some(true));
    let cfg = md.multi_region_configuration().unwrap();
    assert_eq!(
        cfg.multi_region_key_type(),
        Some(&MultiRegionKeyType::Primary)
    );
    assert_eq!(cfg.primary_key().unwrap().region(), Some(REGION));
    assert_eq!(cfg.primary_key().unwrap().arn(), md.arn());
    assert!(cfg.replica_keys().is_empty());
    let primary_arn = md.arn().unwrap().to_owned();

    // Before replication the other Region has no such key.
    assert_eq!(
        code(eu.describe_key().key_id(&id).send().await),
        "NotFoundException"
    );
    let blob = encrypt(&us, &id, b"made in us-east-1").await;

    let out = us
        .replicate_key()
        .key_id(&primary_arn)
        .replica_region(OTHER)
        .description("replica")
        .tags(
            Tag::builder()
                .tag_key("home")
                .tag_value("eu")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let replica = out.replica_key_metadata().unwrap();
    let replica_arn = format!("arn:aws:kms:{OTHER}:000000000000:key/{id}");
    assert_eq!(replica.key_id(), id);
    assert_eq!(replica.arn(), Some(replica_arn.as_str()));
    assert_eq!(replica.description(), Some("replica"));
    assert_eq!(replica.key_state(), Some(&KeyState::Enabled));
    let rcfg = replica.multi_region_configuration().unwrap();
    assert_eq!(
        rcfg.multi_region_key_type(),
        Some(&MultiRegionKeyType::Replica)
    );
    assert_eq!(
        rcfg.primary_key().unwrap().arn(),
        Some(primary_arn.as_str())
    );
    assert_eq!(rcfg.replica_keys().len(), 1);
    assert_eq!(rcfg.replica_keys()[0].region(), Some(OTHER));
    assert!(out.replica_policy().unwrap().contains("kms:*"));
    assert_eq!(out.replica_tags().len(), 1);

    // Shared material: each Region decrypts what the other encrypted.
    assert_eq!(decrypt(&eu, &blob).await, b"made in us-east-1");
    let back = encrypt(&eu, &id, b"made in eu-west-1").await;
    assert_eq!(decrypt(&us, &back).await, b"made in eu-west-1");
    let primary = metadata(&us, &id).await;
    let listed = primary.multi_region_configuration().unwrap().replica_keys();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].arn(), Some(replica_arn.as_str()));

    // Replicating again, into the primary's Region, or into a Region not served.
    for region in [OTHER, REGION] {
        assert_eq!(
            code(
                us.replicate_key()
                    .key_id(&id)
                    .replica_region(region)
                    .send()
                    .await
            ),
            "AlreadyExistsException"
        );
    }
    assert_eq!(
        code(
            us.replicate_key()
                .key_id(&id)
                .replica_region("ap-south-1")
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );
    // A replica is not replicated; a single-Region key has no replicas.
    assert_eq!(
        code(
            eu.replicate_key()
                .key_id(&id)
                .replica_region(REGION)
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );
    let single = us.create_key().send().await.unwrap();
    let single_id = single.key_metadata().unwrap().key_id().to_owned();
    assert_eq!(single.key_metadata().unwrap().multi_region(), Some(false));
    assert_eq!(
        code(
            us.replicate_key()
                .key_id(&single_id)
                .replica_region(OTHER)
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );

    // Each Region lists its own keys, tags and state.
    let ids = |r: aws_sdk_kms::operation::list_keys::ListKeysOutput| -> Vec<String> {
        r.keys()
            .iter()
            .map(|k| k.key_arn().unwrap().to_owned())
            .collect()
    };
    let eu_keys = ids(eu.list_keys().send().await.unwrap());
    assert_eq!(eu_keys, vec![replica_arn.clone()]);
    let us_keys = ids(us.list_keys().send().await.unwrap());
    // The home Region also has the gateway's SSE-S3 service key.
    assert!(us_keys.contains(&primary_arn), "{us_keys:?}");
    assert!(us_keys.contains(&single.key_metadata().unwrap().arn().unwrap().to_owned()));
    assert!(!us_keys.contains(&replica_arn), "{us_keys:?}");
    for (kms, value) in [(&us, "us"), (&eu, "eu")] {
        let tags = kms.list_resource_tags().key_id(&id).send().await.unwrap();
        assert_eq!(tags.tags().len(), 1);
        assert_eq!(tags.tags()[0].tag_value(), value);
    }
    eu.disable_key().key_id(&id).send().await.unwrap();
    assert_eq!(
        code(
            eu.encrypt()
                .key_id(&id)
                .plaintext(Blob::new(b"x"))
                .send()
                .await
        ),
        "DisabledException"
    );
    encrypt(&us, &id, b"the primary is still enabled").await;
    eu.enable_key().key_id(&id).send().await.unwrap();

    // Rotation is the primary's and applies to every Region.
    assert_eq!(
        code(eu.enable_key_rotation().key_id(&id).send().await),
        "UnsupportedOperationException"
    );
    assert_eq!(
        code(eu.rotate_key_on_demand().key_id(&id).send().await),
        "UnsupportedOperationException"
    );
    us.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    let rotated = encrypt(&us, &id, b"after rotation").await;
    assert_eq!(decrypt(&eu, &rotated).await, b"after rotation");
    assert_eq!(decrypt(&eu, &blob).await, b"made in us-east-1");
    assert_eq!(
        metadata(&eu, &id).await.current_key_material_id(),
        metadata(&us, &id).await.current_key_material_id()
    );

    // A primary key with replicas is not deleted.
    assert_eq!(
        code(
            us.schedule_key_deletion()
                .key_id(&id)
                .pending_window_in_days(7)
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );

    // The replica becomes the primary; each Region's key keeps its own fields.
    assert_eq!(
        code(
            us.update_primary_region()
                .key_id(&id)
                .primary_region("ap-south-1")
                .send()
                .await
        ),
        "NotFoundException"
    );
    us.update_primary_region()
        .key_id(&id)
        .primary_region(OTHER)
        .send()
        .await
        .unwrap();
    let now_primary = metadata(&eu, &id).await;
    let cfg = now_primary.multi_region_configuration().unwrap();
    assert_eq!(
        cfg.multi_region_key_type(),
        Some(&MultiRegionKeyType::Primary)
    );
    assert_eq!(cfg.primary_key().unwrap().region(), Some(OTHER));
    assert_eq!(cfg.replica_keys()[0].arn(), Some(primary_arn.as_str()));
    assert_eq!(now_primary.description(), Some("replica"));
    let now_replica = metadata(&us, &id).await;
    assert_eq!(
        now_replica
            .multi_region_configuration()
            .unwrap()
            .multi_region_key_type(),
        Some(&MultiRegionKeyType::Replica)
    );
    assert_eq!(now_replica.description(), Some("primary"));
    assert_eq!(
        code(
            us.update_primary_region()
                .key_id(&id)
                .primary_region(REGION)
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );
    assert_eq!(decrypt(&us, &back).await, b"made in eu-west-1");

    // The replica's deletion window passes; the primary then stands alone and can go too.
    let scheduled = us
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(scheduled.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(
        metadata(&eu, &id).await.key_state(),
        Some(&KeyState::Enabled)
    );
    advance_clock(&us, 8 * 86_400).await;
    assert_eq!(
        code(us.describe_key().key_id(&id).send().await),
        "NotFoundException"
    );
    let alone = metadata(&eu, &id).await;
    assert!(
        alone
            .multi_region_configuration()
            .unwrap()
            .replica_keys()
            .is_empty()
    );
    assert_eq!(decrypt(&eu, &blob).await, b"made in us-east-1");
    eu.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn hmac_and_signing_replicas_verify_across_regions() {
    let server = start();
    let us = kms_in(&server, REGION).await;
    let eu = kms_in(&server, OTHER).await;

    let mac_key = create_mrk(&us, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    let replica = replicate(&us, &mac_key).await;
    assert_eq!(replica.key_spec(), Some(&KeySpec::Hmac256));
    let mac = us
        .generate_mac()
        .key_id(&mac_key)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new(b"message"))
        .send()
        .await
        .unwrap();
    let verified = eu
        .verify_mac()
        .key_id(&mac_key)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new(b"message"))
        .mac(mac.mac().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert!(verified.mac_valid());

    let sign_key = create_mrk(&us, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    replicate(&us, &sign_key).await;
    let public = |kms: Client| {
        let id = sign_key.clone();
        async move {
            kms.get_public_key()
                .key_id(id)
                .send()
                .await
                .unwrap()
                .public_key()
                .unwrap()
                .as_ref()
                .to_vec()
        }
    };
    assert_eq!(public(us.clone()).await, public(eu.clone()).await);
    let sig = eu
        .sign()
        .key_id(&sign_key)
        .message(Blob::new(b"signed in eu-west-1"))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap();
    let ok = us
        .verify()
        .key_id(&sign_key)
        .message(Blob::new(b"signed in eu-west-1"))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .signature(sig.signature().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert!(ok.signature_valid());
}

#[tokio::test]
async fn regions_and_origins_outside_the_rules_are_refused() {
    let server = start();
    let us = kms_in(&server, REGION).await;
    // A Region this KMS does not serve fails the signature check, as AWS KMS in a wrong
    // Region would.
    let elsewhere = kms_in(&server, "ap-south-1").await;
    assert_eq!(
        code(elsewhere.list_keys().send().await),
        "InvalidSignatureException"
    );
    assert_eq!(
        code(
            us.create_key()
                .multi_region(true)
                .origin(OriginType::External)
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );
    // A single-Region key of one Region is not found from the other.
    let single = us.create_key().send().await.unwrap();
    let id = single.key_metadata().unwrap().key_id().to_owned();
    let eu = kms_in(&server, OTHER).await;
    assert_eq!(
        code(eu.describe_key().key_id(&id).send().await),
        "NotFoundException"
    );
    let arn = single.key_metadata().unwrap().arn().unwrap().to_owned();
    assert_eq!(
        code(eu.describe_key().key_id(&arn).send().await),
        "NotFoundException"
    );
    // Aliases: each Region sees those of its own keys.
    us.create_alias()
        .alias_name("alias/home-only")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let names = |r: aws_sdk_kms::operation::list_aliases::ListAliasesOutput| -> Vec<String> {
        r.aliases()
            .iter()
            .map(|a| a.alias_name().unwrap().to_owned())
            .collect()
    };
    assert!(names(us.list_aliases().send().await.unwrap()).contains(&"alias/home-only".into()));
    assert!(!names(eu.list_aliases().send().await.unwrap()).contains(&"alias/home-only".into()));
    assert_eq!(
        code(eu.describe_key().key_id("alias/home-only").send().await),
        "NotFoundException"
    );
    // Keys made in the other Region belong to it.
    let there = eu.create_key().send().await.unwrap();
    assert!(
        there
            .key_metadata()
            .unwrap()
            .arn()
            .unwrap()
            .starts_with(&format!("arn:aws:kms:{OTHER}:"))
    );
}
