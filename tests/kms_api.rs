//! The KMS API as AWS SDK users see it: aws-sdk-kms against the real `sealgate` listener.
//!
//! Each test starts its own server (ephemeral ports, temp data dir). Time-based behaviour
//! (automatic rotation, deletion windows) is driven through the test-only
//! `Sealgate.AdvanceClock` target, which the server accepts only when started with
//! `SEALGATE_TEST_CLOCK=1`; the request is an ordinary SDK call whose target and body are
//! rewritten before signing, so it carries a valid root SigV4 signature.
mod common;

use std::collections::HashMap;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    AlgorithmSpec, DataKeySpec, ExpirationModelType, GrantOperation, KeyManagerType, KeySpec,
    KeyState, KeyUsageType, OriginType, RotationType, Tag, WrappingKeySpec,
};
use base64::Engine as _;
use common::{
    ALICE, BOB, Options, Server, advance_clock, import_key_material as import, imported_key,
    kms_code as code, kms_failure as failure, kms_users_toml as users_toml,
    start_kms_users as start,
};

const DAY: u64 = 86_400;

async fn new_key(kms: &Client) -> (String, String) {
    let md = kms.create_key().send().await.unwrap();
    let md = md.key_metadata().unwrap();
    (md.key_id().to_owned(), md.arn().unwrap().to_owned())
}

async fn state(kms: &Client, key: &str) -> KeyState {
    kms.describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_state()
        .unwrap()
        .clone()
}

async fn encrypt(kms: &Client, key: &str, plaintext: &[u8], ctx: &[(&str, &str)]) -> Blob {
    let mut req = kms.encrypt().key_id(key).plaintext(Blob::new(plaintext));
    for (k, v) in ctx {
        req = req.encryption_context(*k, *v);
    }
    req.send().await.unwrap().ciphertext_blob().unwrap().clone()
}

async fn decrypt(kms: &Client, blob: &Blob, ctx: &[(&str, &str)]) -> Vec<u8> {
    let mut req = kms.decrypt().ciphertext_blob(blob.clone());
    for (k, v) in ctx {
        req = req.encryption_context(*k, *v);
    }
    req.send()
        .await
        .unwrap()
        .plaintext()
        .unwrap()
        .as_ref()
        .to_vec()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().tag_key(k).tag_value(v).build().unwrap()
}

#[tokio::test]
async fn key_management_happy_paths() {
    let server = start();
    let kms = server.kms().await;

    let created = kms
        .create_key()
        .description("first key")
        .tags(tag("team", "storage"))
        .send()
        .await
        .unwrap();
    let md = created.key_metadata().unwrap();
    let (id, arn) = (md.key_id().to_owned(), md.arn().unwrap().to_owned());
    let account = md.aws_account_id().unwrap().to_owned();
    assert_eq!(arn, format!("arn:aws:kms:us-east-1:{account}:key/{id}"));
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "key id {id} is a UUID");
    assert_eq!(md.key_state(), Some(&KeyState::Enabled));
    assert!(md.enabled());
    assert_eq!(md.description(), Some("first key"));
    assert_eq!(md.key_usage(), Some(&KeyUsageType::EncryptDecrypt));
    assert_eq!(md.key_spec(), Some(&KeySpec::SymmetricDefault));
    assert_eq!(md.origin(), Some(&OriginType::AwsKms));
    assert_eq!(md.key_manager(), Some(&KeyManagerType::Customer));
    let material = md.current_key_material_id().unwrap();
    assert_eq!(material.len(), 64, "CurrentKeyMaterialId is 64 hex");

    // DescribeKey by id, ARN; ListKeys lists it.
    for name in [&id, &arn] {
        let d = kms.describe_key().key_id(name).send().await.unwrap();
        assert_eq!(d.key_metadata().unwrap().arn(), Some(arn.as_str()));
    }
    let listed = kms.list_keys().send().await.unwrap();
    assert!(
        listed
            .keys()
            .iter()
            .any(|k| k.key_id() == Some(id.as_str()) && k.key_arn() == Some(arn.as_str()))
    );

    // UpdateKeyDescription.
    kms.update_key_description()
        .key_id(&id)
        .description("renamed")
        .send()
        .await
        .unwrap();
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().description(), Some("renamed"));

    // Tags: from CreateKey, then tag / overwrite / untag.
    let tags = kms.list_resource_tags().key_id(&id).send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].tag_key(), "team");
    assert_eq!(tags.tags()[0].tag_value(), "storage");
    kms.tag_resource()
        .key_id(&id)
        .tags(tag("env", "test"))
        .tags(tag("team", "platform"))
        .send()
        .await
        .unwrap();
    let tags = kms.list_resource_tags().key_id(&id).send().await.unwrap();
    let got: HashMap<&str, &str> = tags
        .tags()
        .iter()
        .map(|t| (t.tag_key(), t.tag_value()))
        .collect();
    assert_eq!(got, HashMap::from([("env", "test"), ("team", "platform")]));
    kms.untag_resource()
        .key_id(&id)
        .tag_keys("env")
        .tag_keys("missing-is-ignored")
        .send()
        .await
        .unwrap();
    let tags = kms.list_resource_tags().key_id(&id).send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].tag_key(), "team");

    // Aliases: create, resolve, list, update to another key, delete.
    let (id2, arn2) = new_key(&kms).await;
    kms.create_alias()
        .alias_name("alias/app")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let d = kms.describe_key().key_id("alias/app").send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().key_id(), id);
    let alias_arn = format!("arn:aws:kms:us-east-1:{account}:alias/app");
    let d = kms.describe_key().key_id(&alias_arn).send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().key_id(), id);
    let aliases = kms.list_aliases().send().await.unwrap();
    let app = aliases
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some("alias/app"))
        .expect("alias/app listed");
    assert_eq!(app.target_key_id(), Some(id.as_str()));
    assert_eq!(app.alias_arn(), Some(alias_arn.as_str()));
    let for_key = kms.list_aliases().key_id(&id).send().await.unwrap();
    assert_eq!(for_key.aliases().len(), 1);
    assert_eq!(for_key.aliases()[0].alias_name(), Some("alias/app"));
    assert_eq!(
        code(
            kms.create_alias()
                .alias_name("alias/app")
                .target_key_id(&id2)
                .send()
                .await
        ),
        "AlreadyExistsException"
    );
    kms.update_alias()
        .alias_name("alias/app")
        .target_key_id(&id2)
        .send()
        .await
        .unwrap();
    let d = kms.describe_key().key_id("alias/app").send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().arn(), Some(arn2.as_str()));
    kms.delete_alias()
        .alias_name("alias/app")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(kms.describe_key().key_id("alias/app").send().await),
        "NotFoundException"
    );
    assert_eq!(
        code(
            kms.create_alias()
                .alias_name("alias/aws/mine")
                .target_key_id(&id)
                .send()
                .await
        ),
        "NotAuthorizedException"
    );

    // Enable / disable.
    kms.disable_key().key_id(&id).send().await.unwrap();
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(
        d.key_metadata().unwrap().key_state(),
        Some(&KeyState::Disabled)
    );
    assert!(!d.key_metadata().unwrap().enabled());
    kms.enable_key().key_id(&id).send().await.unwrap();
    assert_eq!(state(&kms, &id).await, KeyState::Enabled);

    // Schedule / cancel deletion: cancel leaves the key Disabled.
    let sched = kms
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(sched.key_id(), Some(arn.as_str()));
    assert_eq!(sched.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(sched.pending_window_in_days(), Some(7));
    let deletion = sched.deletion_date().unwrap().secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (deletion - (now + 7 * DAY as i64)).abs() < 120,
        "DeletionDate {deletion} is 7 days after {now}"
    );
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(
        d.key_metadata().unwrap().key_state(),
        Some(&KeyState::PendingDeletion)
    );
    assert!(d.key_metadata().unwrap().deletion_date().is_some());
    for days in [6, 31] {
        let r = kms
            .schedule_key_deletion()
            .key_id(&id2)
            .pending_window_in_days(days)
            .send()
            .await;
        assert_eq!(code(r), "ValidationException", "{days} days");
    }
    let cancel = kms.cancel_key_deletion().key_id(&id).send().await.unwrap();
    assert_eq!(cancel.key_id(), Some(arn.as_str()));
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(
        d.key_metadata().unwrap().key_state(),
        Some(&KeyState::Disabled)
    );
    assert!(d.key_metadata().unwrap().deletion_date().is_none());
    let (c, m) = failure(kms.cancel_key_deletion().key_id(&id).send().await);
    assert_eq!(c, "KMSInvalidStateException");
    assert!(m.contains("is not pending deletion"), "{m}");
    kms.enable_key().key_id(&id).send().await.unwrap();

    // Key policy: the default one, then a replacement.
    let names = kms.list_key_policies().key_id(&id).send().await.unwrap();
    assert_eq!(names.policy_names(), ["default"]);
    let pol = kms
        .get_key_policy()
        .key_id(&id)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(pol.policy().unwrap()).unwrap();
    assert_eq!(v["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        v["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{account}:root")
    );
    assert_eq!(v["Statement"][0]["Action"], "kms:*");
    let new_policy = serde_json::json!({
        "Version": "2012-10-17",
        "Id": "custom",
        "Statement": [{
            "Sid": "Root",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string();
    kms.put_key_policy()
        .key_id(&id)
        .policy_name("default")
        .policy(&new_policy)
        .send()
        .await
        .unwrap();
    let pol = kms.get_key_policy().key_id(&id).send().await.unwrap();
    let got: serde_json::Value = serde_json::from_str(pol.policy().unwrap()).unwrap();
    assert_eq!(got["Id"], "custom");
    assert_eq!(
        code(
            kms.put_key_policy()
                .key_id(&id)
                .policy("{not json")
                .send()
                .await
        ),
        "MalformedPolicyDocumentException"
    );

    // Unknown keys.
    let missing = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        code(kms.describe_key().key_id(&missing).send().await),
        "NotFoundException"
    );
}

#[tokio::test]
async fn cryptographic_operations() {
    let server = start();
    let kms = server.kms().await;
    let (id, arn) = new_key(&kms).await;
    let (id2, arn2) = new_key(&kms).await;
    kms.create_alias()
        .alias_name("alias/crypto")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();

    // Encrypt (via alias) / Decrypt with an encryption context; Decrypt needs no KeyId.
    let enc = kms
        .encrypt()
        .key_id("alias/crypto")
        .plaintext(Blob::new(b"secret message".to_vec()))
        .encryption_context("purpose", "test")
        .encryption_context("tenant", "a")
        .send()
        .await
        .unwrap();
    assert_eq!(enc.key_id(), Some(arn.as_str()));
    let blob = enc.ciphertext_blob().unwrap().clone();
    assert!(!contains(blob.as_ref(), b"secret message"));
    let dec = kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("tenant", "a")
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"secret message");
    assert_eq!(dec.key_id(), Some(arn.as_str()));
    // With KeyId as id, ARN and alias.
    for name in [id.as_str(), arn.as_str(), "alias/crypto"] {
        let dec = kms
            .decrypt()
            .key_id(name)
            .ciphertext_blob(blob.clone())
            .encryption_context("tenant", "a")
            .encryption_context("purpose", "test")
            .send()
            .await
            .unwrap();
        assert_eq!(dec.plaintext().unwrap().as_ref(), b"secret message");
    }
    // Another key named → IncorrectKeyException.
    let r = kms
        .decrypt()
        .key_id(&id2)
        .ciphertext_blob(blob.clone())
        .encryption_context("tenant", "a")
        .encryption_context("purpose", "test")
        .send()
        .await;
    assert_eq!(code(r), "IncorrectKeyException");

    // Context mismatches and tampering → InvalidCiphertextException.
    let wrong_ctxs: [&[(&str, &str)]; 4] = [
        &[],
        &[("purpose", "test")],
        &[("purpose", "test"), ("tenant", "b")],
        &[("purpose", "test"), ("tenant", "a"), ("extra", "x")],
    ];
    for wrong in wrong_ctxs {
        let mut req = kms.decrypt().ciphertext_blob(blob.clone());
        for (k, v) in wrong {
            req = req.encryption_context(*k, *v);
        }
        assert_eq!(
            code(req.send().await),
            "InvalidCiphertextException",
            "context {wrong:?}"
        );
    }
    let mut tampered = blob.as_ref().to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let r = kms
        .decrypt()
        .ciphertext_blob(Blob::new(tampered))
        .encryption_context("purpose", "test")
        .encryption_context("tenant", "a")
        .send()
        .await;
    assert_eq!(code(r), "InvalidCiphertextException");
    let r = kms
        .decrypt()
        .ciphertext_blob(Blob::new(b"not a ciphertext".to_vec()))
        .send()
        .await;
    assert_eq!(code(r), "InvalidCiphertextException");
    // Without context on both sides.
    let plain = encrypt(&kms, &id, b"no context", &[]).await;
    assert_eq!(decrypt(&kms, &plain, &[]).await, b"no context");

    // ReEncrypt to another key with a new context.
    let re = kms
        .re_encrypt()
        .ciphertext_blob(blob.clone())
        .source_encryption_context("purpose", "test")
        .source_encryption_context("tenant", "a")
        .destination_key_id(&id2)
        .destination_encryption_context("moved", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(re.source_key_id(), Some(arn.as_str()));
    assert_eq!(re.key_id(), Some(arn2.as_str()));
    let moved = re.ciphertext_blob().unwrap().clone();
    let dec = kms
        .decrypt()
        .ciphertext_blob(moved.clone())
        .encryption_context("moved", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"secret message");
    assert_eq!(dec.key_id(), Some(arn2.as_str()));

    // GenerateDataKey: AES_256 / AES_128 / NumberOfBytes; the blob decrypts to the plaintext.
    let dk = kms
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("obj", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(dk.key_id(), Some(arn.as_str()));
    let plaintext = dk.plaintext().unwrap().as_ref().to_vec();
    assert_eq!(plaintext.len(), 32);
    let back = decrypt(&kms, dk.ciphertext_blob().unwrap(), &[("obj", "1")]).await;
    assert_eq!(back, plaintext);
    let dk128 = kms
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes128)
        .send()
        .await
        .unwrap();
    assert_eq!(dk128.plaintext().unwrap().as_ref().len(), 16);
    let dk64 = kms
        .generate_data_key()
        .key_id(&id)
        .number_of_bytes(64)
        .send()
        .await
        .unwrap();
    assert_eq!(dk64.plaintext().unwrap().as_ref().len(), 64);
    assert_eq!(
        code(kms.generate_data_key().key_id(&id).send().await),
        "ValidationException",
        "neither KeySpec nor NumberOfBytes"
    );
    assert_eq!(
        code(
            kms.generate_data_key()
                .key_id(&id)
                .key_spec(DataKeySpec::Aes256)
                .number_of_bytes(32)
                .send()
                .await
        ),
        "ValidationException",
        "both KeySpec and NumberOfBytes"
    );

    // GenerateDataKeyWithoutPlaintext.
    let wp = kms
        .generate_data_key_without_plaintext()
        .key_id("alias/crypto")
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("obj", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(wp.key_id(), Some(arn.as_str()));
    let back = decrypt(&kms, wp.ciphertext_blob().unwrap(), &[("obj", "2")]).await;
    assert_eq!(back.len(), 32);

    // GenerateRandom.
    let a = kms
        .generate_random()
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    let b = kms
        .generate_random()
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    assert_eq!(a.plaintext().unwrap().as_ref().len(), 32);
    assert_ne!(a.plaintext(), b.plaintext());
    for n in [0, 1025] {
        assert_eq!(
            code(kms.generate_random().number_of_bytes(n).send().await),
            "ValidationException",
            "{n} bytes"
        );
    }
}

#[tokio::test]
async fn rotation_manual_and_automatic() {
    let server = start();
    let kms = server.kms().await;
    let (id, arn) = new_key(&kms).await;

    let st = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(!st.key_rotation_enabled());
    kms.enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(180)
        .send()
        .await
        .unwrap();
    let st = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(st.key_rotation_enabled());
    assert_eq!(st.rotation_period_in_days(), Some(180));
    assert!(st.next_rotation_date().is_some());
    kms.disable_key_rotation().key_id(&id).send().await.unwrap();
    let st = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(!st.key_rotation_enabled());
    for days in [89, 2561] {
        let r = kms
            .enable_key_rotation()
            .key_id(&id)
            .rotation_period_in_days(days)
            .send()
            .await;
        assert_eq!(code(r), "ValidationException", "{days} days");
    }

    // On demand: old ciphertext still decrypts under its own material.
    let before = kms.describe_key().key_id(&id).send().await.unwrap();
    let old_material = before
        .key_metadata()
        .unwrap()
        .current_key_material_id()
        .unwrap()
        .to_owned();
    let old = encrypt(&kms, &id, b"before rotation", &[("v", "1")]).await;
    let rot = kms.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    assert_eq!(rot.key_id(), Some(arn.as_str()));
    let after = kms.describe_key().key_id(&id).send().await.unwrap();
    let new_material = after
        .key_metadata()
        .unwrap()
        .current_key_material_id()
        .unwrap()
        .to_owned();
    assert_ne!(new_material, old_material);
    let rotations = kms.list_key_rotations().key_id(&id).send().await.unwrap();
    assert_eq!(rotations.rotations().len(), 1);
    let r0 = &rotations.rotations()[0];
    assert_eq!(r0.rotation_type(), Some(&RotationType::OnDemand));
    assert!(r0.rotation_date().is_some());
    assert_eq!(r0.key_id(), Some(arn.as_str()));
    let dec = kms
        .decrypt()
        .ciphertext_blob(old.clone())
        .encryption_context("v", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"before rotation");
    assert_eq!(dec.key_material_id(), Some(old_material.as_str()));
    let new = encrypt(&kms, &id, b"after rotation", &[]).await;
    let dec = kms.decrypt().ciphertext_blob(new).send().await.unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"after rotation");
    assert_eq!(dec.key_material_id(), Some(new_material.as_str()));

    // Automatic: one period after enabling, a background pass rotates the key.
    kms.enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    advance_clock(&kms, 91 * DAY).await;
    let rotations = kms.list_key_rotations().key_id(&id).send().await.unwrap();
    let types: Vec<_> = rotations
        .rotations()
        .iter()
        .map(|r| r.rotation_type().cloned())
        .collect();
    assert_eq!(rotations.rotations().len(), 2, "{types:?}");
    assert!(types.contains(&Some(RotationType::Automatic)), "{types:?}");
    let third = kms
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .current_key_material_id()
        .unwrap()
        .to_owned();
    assert_ne!(third, new_material);
    assert_eq!(decrypt(&kms, &old, &[("v", "1")]).await, b"before rotation");

    // RotateKeyOnDemand on a disabled key → DisabledException.
    kms.disable_key().key_id(&id).send().await.unwrap();
    assert_eq!(
        code(kms.rotate_key_on_demand().key_id(&id).send().await),
        "DisabledException"
    );
}

#[tokio::test]
async fn deletion_window_ends_with_clock() {
    let server = start();
    let kms = server.kms().await;
    let (id, _arn) = new_key(&kms).await;
    kms.create_alias()
        .alias_name("alias/doomed")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let blob = encrypt(&kms, &id, b"doomed data", &[]).await;
    kms.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    advance_clock(&kms, 6 * DAY).await;
    assert_eq!(state(&kms, &id).await, KeyState::PendingDeletion);
    advance_clock(&kms, 2 * DAY).await;
    assert_eq!(
        code(kms.describe_key().key_id(&id).send().await),
        "NotFoundException"
    );
    let aliases = kms.list_aliases().send().await.unwrap();
    assert!(
        aliases
            .aliases()
            .iter()
            .all(|a| a.alias_name() != Some("alias/doomed")),
        "aliases of a deleted key are deleted"
    );
    let c = code(kms.decrypt().ciphertext_blob(blob).send().await);
    assert!(
        c == "NotFoundException" || c == "InvalidCiphertextException",
        "decrypt under a deleted key: {c}"
    );
}

/// Each unusable key state × Encrypt / Decrypt / GenerateDataKey.
#[tokio::test]
async fn key_states_refuse_crypto() {
    let server = start();
    let kms = server.kms().await;

    async fn check(kms: &Client, id: &str, arn: &str, blob: &Blob, want: &str, msg: &str) {
        let calls = [
            (
                "Encrypt",
                failure(
                    kms.encrypt()
                        .key_id(id)
                        .plaintext(Blob::new(b"x".to_vec()))
                        .send()
                        .await,
                ),
            ),
            (
                "Decrypt",
                failure(kms.decrypt().ciphertext_blob(blob.clone()).send().await),
            ),
            (
                "GenerateDataKey",
                failure(
                    kms.generate_data_key()
                        .key_id(id)
                        .key_spec(DataKeySpec::Aes256)
                        .send()
                        .await,
                ),
            ),
            (
                "GenerateDataKeyWithoutPlaintext",
                failure(
                    kms.generate_data_key_without_plaintext()
                        .key_id(id)
                        .key_spec(DataKeySpec::Aes256)
                        .send()
                        .await,
                ),
            ),
            (
                "ReEncrypt",
                failure(
                    kms.re_encrypt()
                        .ciphertext_blob(blob.clone())
                        .destination_key_id(id)
                        .send()
                        .await,
                ),
            ),
        ];
        for (op, (c, m)) in calls {
            assert_eq!(c, want, "{op} in state {msg}: {m}");
            assert_eq!(m, format!("{arn} {msg}"), "{op} message");
        }
    }

    // Disabled → DisabledException.
    let (id, arn) = new_key(&kms).await;
    let blob = encrypt(&kms, &id, b"data", &[]).await;
    kms.disable_key().key_id(&id).send().await.unwrap();
    check(&kms, &id, &arn, &blob, "DisabledException", "is disabled.").await;
    kms.enable_key().key_id(&id).send().await.unwrap();
    assert_eq!(decrypt(&kms, &blob, &[]).await, b"data");

    // PendingDeletion → KMSInvalidStateException.
    kms.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    check(
        &kms,
        &id,
        &arn,
        &blob,
        "KMSInvalidStateException",
        "is pending deletion.",
    )
    .await;
    assert_eq!(
        code(kms.enable_key().key_id(&id).send().await),
        "KMSInvalidStateException"
    );
    kms.cancel_key_deletion().key_id(&id).send().await.unwrap();
    assert_eq!(state(&kms, &id).await, KeyState::Disabled);
    check(&kms, &id, &arn, &blob, "DisabledException", "is disabled.").await;

    // PendingImport → KMSInvalidStateException (an EXTERNAL key whose material was deleted).
    let (ext, ext_arn, _material) = imported_key(&kms).await;
    let ext_blob = encrypt(&kms, &ext, b"imported", &[]).await;
    kms.delete_imported_key_material()
        .key_id(&ext)
        .send()
        .await
        .unwrap();
    assert_eq!(state(&kms, &ext).await, KeyState::PendingImport);
    check(
        &kms,
        &ext,
        &ext_arn,
        &ext_blob,
        "KMSInvalidStateException",
        "is pending import.",
    )
    .await;
}

#[tokio::test]
async fn imported_key_material() {
    let server = start();
    let kms = server.kms().await;
    let created = kms
        .create_key()
        .origin(OriginType::External)
        .send()
        .await
        .unwrap();
    let id = created.key_metadata().unwrap().key_id().to_owned();
    let r = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await;
    assert_eq!(code(r), "KMSInvalidStateException");

    // An AWS_KMS key has no import parameters.
    let (native, _) = new_key(&kms).await;
    let r = kms
        .get_parameters_for_import()
        .key_id(&native)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await;
    assert_eq!(code(r), "UnsupportedOperationException");

    let material: [u8; 32] = rand::random();
    import(&kms, &id, &material).await;
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    let md = d.key_metadata().unwrap();
    assert_eq!(md.key_state(), Some(&KeyState::Enabled));
    assert_eq!(md.origin(), Some(&OriginType::External));
    assert_eq!(
        md.expiration_model(),
        Some(&ExpirationModelType::KeyMaterialDoesNotExpire)
    );
    let blob = encrypt(&kms, &id, b"under imported material", &[("a", "b")]).await;
    assert_eq!(
        decrypt(&kms, &blob, &[("a", "b")]).await,
        b"under imported material"
    );
    let dk = kms
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(
        decrypt(&kms, dk.ciphertext_blob().unwrap(), &[]).await,
        dk.plaintext().unwrap().as_ref()
    );
    // Imported material cannot be rotated automatically.
    assert_eq!(
        code(kms.enable_key_rotation().key_id(&id).send().await),
        "UnsupportedOperationException"
    );

    // Delete → PendingImport; reimporting other material is refused; the same material
    // restores the key and old ciphertexts decrypt again.
    kms.delete_imported_key_material()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(
        d.key_metadata().unwrap().key_state(),
        Some(&KeyState::PendingImport)
    );
    assert!(!d.key_metadata().unwrap().enabled());
    let (c, m) = failure(kms.decrypt().ciphertext_blob(blob.clone()).send().await);
    assert_eq!(c, "KMSInvalidStateException", "{m}");
    let other: [u8; 32] = rand::random();
    let params = kms
        .get_parameters_for_import()
        .key_id(&id)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap();
    {
        use rsa::pkcs8::DecodePublicKey;
        let public =
            rsa::PublicKey::from_public_key_der(params.public_key().unwrap().as_ref()).unwrap();
        let wrapped = public.oaep_encrypt::<rsa::sha2::Sha256>(&other).unwrap();
        let r = kms
            .import_key_material()
            .key_id(&id)
            .import_token(params.import_token().unwrap().clone())
            .encrypted_key_material(Blob::new(wrapped))
            .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
            .send()
            .await;
        assert_eq!(code(r), "IncorrectKeyMaterialException");
    }
    import(&kms, &id, &material).await;
    assert_eq!(state(&kms, &id).await, KeyState::Enabled);
    assert_eq!(
        decrypt(&kms, &blob, &[("a", "b")]).await,
        b"under imported material"
    );
}

#[tokio::test]
async fn users_policies_and_grants() {
    let server = start();
    let alice = server.kms_as(Some(ALICE)).await;
    let bob = server.kms_as(Some(BOB)).await;

    // bob has no identity policy: cannot create keys.
    assert_eq!(code(bob.create_key().send().await), "AccessDeniedException");
    let (id, arn) = new_key(&alice).await;
    let account = arn.split(':').nth(4).unwrap().to_owned();
    let bob_arn = format!("arn:aws:iam::{account}:user/bob");
    let alice_arn = format!("arn:aws:iam::{account}:user/alice");
    let blob = encrypt(&alice, &id, b"alice's secret", &[("app", "x")]).await;

    // bob cannot use or manage alice's key (default policy delegates to IAM; bob has none).
    let (c, m) = failure(
        bob.decrypt()
            .ciphertext_blob(blob.clone())
            .encryption_context("app", "x")
            .send()
            .await,
    );
    assert_eq!(c, "AccessDeniedException");
    assert!(m.contains(&bob_arn) && m.contains("kms:Decrypt"), "{m}");
    for r in [
        code(
            bob.encrypt()
                .key_id(&arn)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await,
        ),
        code(bob.describe_key().key_id(&arn).send().await),
        code(bob.disable_key().key_id(&arn).send().await),
    ] {
        assert_eq!(r, "AccessDeniedException");
    }
    // A denied call changed nothing.
    assert_eq!(state(&alice, &id).await, KeyState::Enabled);

    // A Decrypt grant lets bob decrypt, not encrypt.
    let grant = alice
        .create_grant()
        .key_id(&id)
        .grantee_principal(&bob_arn)
        .retiring_principal(&bob_arn)
        .operations(GrantOperation::Decrypt)
        .name("bob-decrypt")
        .send()
        .await
        .unwrap();
    let grant_id = grant.grant_id().unwrap().to_owned();
    let grant_token = grant.grant_token().unwrap().to_owned();
    let again = alice
        .create_grant()
        .key_id(&id)
        .grantee_principal(&bob_arn)
        .retiring_principal(&bob_arn)
        .operations(GrantOperation::Decrypt)
        .name("bob-decrypt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.grant_id(),
        Some(grant_id.as_str()),
        "Name is idempotent"
    );
    let grants = alice.list_grants().key_id(&id).send().await.unwrap();
    assert_eq!(grants.grants().len(), 1);
    let g = &grants.grants()[0];
    assert_eq!(g.grant_id(), Some(grant_id.as_str()));
    assert_eq!(g.grantee_principal(), Some(bob_arn.as_str()));
    assert_eq!(g.operations(), [GrantOperation::Decrypt]);
    assert_eq!(g.key_id(), Some(arn.as_str()));
    let retirable = alice
        .list_retirable_grants()
        .retiring_principal(&bob_arn)
        .send()
        .await
        .unwrap();
    assert!(
        retirable
            .grants()
            .iter()
            .any(|g| g.grant_id() == Some(grant_id.as_str()))
    );

    let dec = bob
        .decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("app", "x")
        .grant_tokens(&grant_token)
        .send()
        .await
        .unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"alice's secret");
    assert_eq!(
        code(
            bob.encrypt()
                .key_id(&arn)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await
        ),
        "AccessDeniedException"
    );

    // bob (the retiring principal) retires it; then decrypt is refused again.
    bob.retire_grant()
        .grant_token(&grant_token)
        .send()
        .await
        .unwrap();
    assert!(
        alice
            .list_grants()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .grants()
            .is_empty()
    );
    assert_eq!(
        code(
            bob.decrypt()
                .ciphertext_blob(blob.clone())
                .encryption_context("app", "x")
                .send()
                .await
        ),
        "AccessDeniedException"
    );

    // A grant with an encryption-context constraint, revoked by alice.
    let constrained = alice
        .create_grant()
        .key_id(&id)
        .grantee_principal(&bob_arn)
        .operations(GrantOperation::Decrypt)
        .constraints(
            aws_sdk_kms::types::GrantConstraints::builder()
                .encryption_context_equals("app", "x")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let other = encrypt(&alice, &id, b"other", &[("app", "y")]).await;
    assert_eq!(
        decrypt(&bob, &blob, &[("app", "x")]).await,
        b"alice's secret"
    );
    assert_eq!(
        code(
            bob.decrypt()
                .ciphertext_blob(other.clone())
                .encryption_context("app", "y")
                .send()
                .await
        ),
        "AccessDeniedException"
    );
    alice
        .revoke_grant()
        .key_id(&id)
        .grant_id(constrained.grant_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            bob.decrypt()
                .ciphertext_blob(blob.clone())
                .encryption_context("app", "x")
                .send()
                .await
        ),
        "AccessDeniedException"
    );

    // A key policy that names bob directly lets him encrypt without any identity policy.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "Bob uses the key",
                "Effect": "Allow",
                "Principal": {"AWS": bob_arn},
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Resource": "*"
            }
        ]
    })
    .to_string();
    alice
        .put_key_policy()
        .key_id(&id)
        .policy(&policy)
        .send()
        .await
        .unwrap();
    let bob_blob = encrypt(&bob, &arn, b"from bob", &[]).await;
    assert_eq!(decrypt(&alice, &bob_blob, &[]).await, b"from bob");
    assert_eq!(decrypt(&bob, &bob_blob, &[]).await, b"from bob");
    assert_eq!(
        code(bob.disable_key().key_id(&arn).send().await),
        "AccessDeniedException"
    );

    // Lockout safety: a policy that would stop alice from changing it again is refused.
    let lockout = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": bob_arn},
            "Action": "kms:Encrypt",
            "Resource": "*"
        }]
    })
    .to_string();
    let (c, m) = failure(
        alice
            .put_key_policy()
            .key_id(&id)
            .policy(&lockout)
            .send()
            .await,
    );
    assert_eq!(c, "MalformedPolicyDocumentException", "{m}");

    // An explicit Deny in the key policy beats alice's identity-policy Allow.
    let deny = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Effect": "Deny",
                "Principal": {"AWS": alice_arn},
                "Action": "kms:Decrypt",
                "Resource": "*"
            }
        ]
    })
    .to_string();
    alice
        .put_key_policy()
        .key_id(&id)
        .policy(&deny)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            alice
                .decrypt()
                .ciphertext_blob(bob_blob.clone())
                .send()
                .await
        ),
        "AccessDeniedException"
    );

    // Only root may move the test clock.
    let r = bob
        .generate_random()
        .number_of_bytes(1)
        .customize()
        .mutate_request(|req| {
            req.headers_mut()
                .insert("x-amz-target", "Sealgate.AdvanceClock");
            req.headers_mut().insert("content-length", "16");
            *req.body_mut() = "{\"Seconds\":1000}".into();
        })
        .send()
        .await;
    assert_eq!(code(r), "AccessDeniedException");
}

#[tokio::test]
async fn keys_survive_restart() {
    let mut first = start();
    let kms = first.kms().await;
    let (id, arn) = new_key(&kms).await;
    kms.create_alias()
        .alias_name("alias/durable")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    kms.tag_resource()
        .key_id(&id)
        .tags(tag("k", "v"))
        .send()
        .await
        .unwrap();
    let blob = encrypt(&kms, &id, b"persisted", &[("c", "1")]).await;
    let old_material = kms
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .current_key_material_id()
        .unwrap()
        .to_owned();
    kms.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    let (ext, _, _) = imported_key(&kms).await;
    let ext_blob = encrypt(&kms, &ext, b"imported persisted", &[]).await;
    let (disabled, _) = new_key(&kms).await;
    kms.disable_key().key_id(&disabled).send().await.unwrap();
    first.stop();

    let second = Server::start_with(Options {
        config_toml: Some(users_toml()),
        test_clock: true,
        data_dir: Some(first.data_dir.clone()),
        kms_only: false,
        ..Options::default()
    });
    let kms = second.kms().await;
    let dec = kms
        .decrypt()
        .ciphertext_blob(blob)
        .encryption_context("c", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"persisted");
    assert_eq!(dec.key_id(), Some(arn.as_str()));
    assert_eq!(dec.key_material_id(), Some(old_material.as_str()));
    assert_eq!(decrypt(&kms, &ext_blob, &[]).await, b"imported persisted");
    let d = kms
        .describe_key()
        .key_id("alias/durable")
        .send()
        .await
        .unwrap();
    assert_eq!(d.key_metadata().unwrap().key_id(), id);
    let tags = kms.list_resource_tags().key_id(&id).send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);
    let rotations = kms.list_key_rotations().key_id(&id).send().await.unwrap();
    assert_eq!(rotations.rotations().len(), 1);
    assert_eq!(state(&kms, &disabled).await, KeyState::Disabled);
    // alice's user works on the restarted server too.
    let alice = second.kms_as(Some(ALICE)).await;
    assert_eq!(
        decrypt(&alice, &encrypt(&alice, &id, b"again", &[]).await, &[]).await,
        b"again"
    );
}

#[tokio::test]
async fn kms_only_server() {
    let server = Server::start_with(Options {
        kms_only: true,
        ..Options::default()
    });
    assert!(
        !server.kms_https.is_empty(),
        "`sealgate kms` prints its URL"
    );
    let kms = server.kms().await;
    let (id, arn) = new_key(&kms).await;
    let enc = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"kms alone".to_vec()))
        .encryption_context("svc", "standalone")
        .send()
        .await
        .unwrap();
    assert_eq!(enc.key_id(), Some(arn.as_str()));
    let dec = kms
        .decrypt()
        .ciphertext_blob(enc.ciphertext_blob().unwrap().clone())
        .encryption_context("svc", "standalone")
        .send()
        .await
        .unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"kms alone");
    let dk = kms
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(
        decrypt(&kms, dk.ciphertext_blob().unwrap(), &[]).await,
        dk.plaintext().unwrap().as_ref()
    );
    // The test clock exists only when asked for.
    let r = kms
        .generate_random()
        .number_of_bytes(1)
        .customize()
        .mutate_request(|req| {
            req.headers_mut()
                .insert("x-amz-target", "Sealgate.AdvanceClock");
            req.headers_mut().insert("content-length", "13");
            *req.body_mut() = "{\"Seconds\":1}".into();
        })
        .send()
        .await;
    assert_eq!(code(r), "UnknownOperationException");
}

#[tokio::test]
async fn plaintexts_never_reach_disk_or_log() {
    let server = start();
    let kms = server.kms().await;
    let alice = server.kms_as(Some(ALICE)).await;
    let (id, _) = new_key(&kms).await;
    let known: &[u8] = b"sealgate-kms-known-plaintext-3f9a1c7e";
    let blob = encrypt(&kms, &id, known, &[("ctx", "visible")]).await;
    assert_eq!(decrypt(&kms, &blob, &[("ctx", "visible")]).await, known);
    let dk = kms
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    let data_key = dk.plaintext().unwrap().as_ref().to_vec();
    assert_eq!(
        decrypt(&kms, dk.ciphertext_blob().unwrap(), &[]).await,
        data_key
    );
    // Imported material and a re-encryption too.
    let (ext, _, material) = imported_key(&alice).await;
    let ext_blob = encrypt(&alice, &ext, known, &[]).await;
    let _ = kms
        .re_encrypt()
        .ciphertext_blob(ext_blob)
        .destination_key_id(&id)
        .send()
        .await
        .unwrap();
    let random = kms
        .generate_random()
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    let random = random.plaintext().unwrap().as_ref().to_vec();

    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("known plaintext", known.to_vec()),
        ("known plaintext (base64)", b64(known).into_bytes()),
        ("data key", data_key.clone()),
        ("data key (base64)", b64(&data_key).into_bytes()),
        ("data key (hex)", hex::encode(&data_key).into_bytes()),
        ("imported material", material.clone()),
        ("imported material (base64)", b64(&material).into_bytes()),
        (
            "imported material (hex)",
            hex::encode(&material).into_bytes(),
        ),
        ("GenerateRandom output (base64)", b64(&random).into_bytes()),
    ];
    let files = common::all_files(&server.data_dir);
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    // The key store is under the data dir, or in PostgreSQL, whose files must not hold
    // the secrets either.
    let mut dirs = vec![server.data_dir.clone()];
    match &server.kms_db {
        None => assert!(
            names.iter().any(|n| n.starts_with("kms.sqlite3")),
            "the key store is under the data dir: {names:?}"
        ),
        Some(_) => {
            assert!(
                !names.iter().any(|n| n.starts_with("kms.sqlite3")),
                "the key store is in PostgreSQL, not under the data dir: {names:?}"
            );
            dirs.push(common::pg::cluster().unwrap().dir.clone());
        }
    }
    assert!(names.iter().any(|n| n == "kms-audit.log"), "{names:?}");
    let audit = files.iter().find(|p| p.ends_with("kms-audit.log")).unwrap();
    let audit = std::fs::read_to_string(audit).unwrap();
    assert!(audit.contains("\"visible\""), "contexts are audited");
    let log = std::fs::read(&server.log_path).unwrap();
    for (what, needle) in &secrets {
        for dir in &dirs {
            if let Some(p) = common::find_bytes(dir, needle) {
                panic!("{what} found in {}", p.display());
            }
        }
        assert!(!contains(&log, needle), "{what} found in the server log");
    }
}
