//! The PKCS#11 backing of HSM key stores against a real SoftHSM2 token created by the test
//! (`softhsm2-util --init-token` in a temp dir via SOFTHSM2_CONF).
//!
//! The module path comes from SEALGATE_PKCS11_MODULE (exported by ./scripts/test, which
//! installs SoftHSM2); the usual Debian path is tried otherwise. Without SoftHSM2 the test fails
//! in CI (CI=true) and is skipped with a message elsewhere.
//!
//! `custom_key_store_end_to_end` drives the KMS API for custom key stores (the token label is
//! the CloudHsmClusterId, the user PIN the KeyStorePassword) against the real binary with
//! aws-sdk-kms and aws-sdk-s3, and checks the HSM objects through cryptoki directly.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use sealgate::kms::hsm::{Hsm, HsmError};

const LABEL: &str = "sealgate-test";
const PIN: &str = "1234-user-pin";
const SO_PIN: &str = "5678-so-pin";
/// The token of the KMS custom key store test.
const KMS_LABEL: &str = "sealgate-kms";

/// The tests load the module in this process and finalize it; one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn module() -> Option<PathBuf> {
    let candidates = [
        std::env::var("SEALGATE_PKCS11_MODULE").unwrap_or_default(),
        "/usr/lib/softhsm/libsofthsm2.so".into(),
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so".into(),
    ];
    candidates
        .into_iter()
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// The SoftHSM2 config of this test binary: a temp dir with two fresh tokens (LABEL and
/// KMS_LABEL). Sets SOFTHSM2_CONF for this process once, under SERIAL, before any module load.
fn token_conf() -> &'static Path {
    static CONF: OnceLock<PathBuf> = OnceLock::new();
    CONF.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        init_token(&dir)
    })
}

fn init_token(dir: &std::path::Path) -> PathBuf {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    for label in [LABEL, KMS_LABEL] {
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", label, "--pin", PIN])
            .args(["--so-pin", SO_PIN])
            .output()
            .expect("run softhsm2-util");
        assert!(
            out.status.success(),
            "softhsm2-util: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // SAFETY: called once under SERIAL, before any PKCS#11 load; no other test thread runs
    // code reading the environment meanwhile (they wait on SERIAL).
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    conf
}

#[test]
fn hsm_keys_are_generated_and_used_inside_the_token() {
    let Some(module) = module() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "SoftHSM2 is not installed (set SEALGATE_PKCS11_MODULE); ./scripts/test installs it"
        );
        eprintln!("SKIPPED: SoftHSM2 not installed; run ./scripts/test");
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    token_conf();

    // Wrong PIN: the connect fails with AWS's INVALID_CREDENTIALS.
    let err = Hsm::connect(&module, LABEL, "wrong-pin").unwrap_err();
    assert_eq!(err, HsmError::InvalidCredentials);
    assert_eq!(err.connection_error_code(), "INVALID_CREDENTIALS");
    let err = Hsm::connect(&module, "no-such-token", PIN).unwrap_err();
    assert!(matches!(err, HsmError::TokenNotFound(_)), "{err:?}");

    let key_id = uuid::Uuid::new_v4().to_string();
    let blob;
    {
        let hsm = Hsm::connect(&module, LABEL, PIN).unwrap();
        hsm.generate_key(&key_id).unwrap();
        assert!(hsm.has_key(&key_id).unwrap());
        assert_eq!(hsm.key_flags(&key_id).unwrap(), (true, false));

        let aad = b"header and context";
        blob = hsm.encrypt(&key_id, aad, b"data key bytes").unwrap();
        assert_eq!(blob.len(), 12 + 14 + 16);
        assert_ne!(&blob[12..26], b"data key bytes");
        assert_eq!(
            &hsm.decrypt(&key_id, aad, &blob).unwrap()[..],
            b"data key bytes"
        );
        // Authentication: another AAD or a flipped bit fails.
        assert_eq!(
            hsm.decrypt(&key_id, b"other context", &blob).unwrap_err(),
            HsmError::InvalidCiphertext
        );
        let mut bad = blob.clone();
        bad[20] ^= 1;
        assert_eq!(
            hsm.decrypt(&key_id, aad, &bad).unwrap_err(),
            HsmError::InvalidCiphertext
        );
        let missing = uuid::Uuid::new_v4().to_string();
        assert!(matches!(
            hsm.encrypt(&missing, aad, b"x").unwrap_err(),
            HsmError::KeyNotFound(_)
        ));
        // Concurrent callers share the session pool.
        std::thread::scope(|s| {
            for i in 0..8 {
                let hsm = &hsm;
                let key_id = &key_id;
                s.spawn(move || {
                    let pt = format!("thread {i}");
                    let b = hsm.encrypt(key_id, b"", pt.as_bytes()).unwrap();
                    assert_eq!(&hsm.decrypt(key_id, b"", &b).unwrap()[..], pt.as_bytes());
                });
            }
        });
    }

    // The key's attributes, read straight through PKCS#11 (not through sealgate's module).
    {
        let ctx = Pkcs11::new(&module).unwrap();
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        let slot = ctx
            .get_slots_with_initialized_token()
            .unwrap()
            .into_iter()
            .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == LABEL)
            .unwrap();
        let session = ctx.open_ro_session(slot).unwrap();
        session
            .login(UserType::User, Some(&AuthPin::from(PIN.to_string())))
            .unwrap();
        let found = session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Label(key_id.as_bytes().to_vec()),
            ])
            .unwrap();
        assert_eq!(found.len(), 1);
        let attrs = session
            .get_attributes(
                found[0],
                &[
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::Token,
                    AttributeType::ValueLen,
                    AttributeType::Id,
                    AttributeType::Value,
                ],
            )
            .unwrap();
        let mut seen = Vec::new();
        for a in &attrs {
            match a {
                Attribute::Sensitive(v) => seen.push(("sensitive", *v)),
                Attribute::Extractable(v) => seen.push(("extractable", *v)),
                Attribute::Token(v) => seen.push(("token", *v)),
                Attribute::ValueLen(n) => assert_eq!(u64::from(*n), 32),
                Attribute::Id(id) => assert_eq!(id, key_id.as_bytes()),
                Attribute::Value(_) => panic!("the key value must not be readable"),
                _ => {}
            }
        }
        seen.sort();
        assert_eq!(
            seen,
            vec![("extractable", false), ("sensitive", true), ("token", true)]
        );
        session.logout().unwrap();
        drop(session);
        ctx.finalize().unwrap();
    }

    // A new connection (as after a restart) finds the same key and opens the old blob.
    let hsm = Hsm::connect(&module, LABEL, PIN).unwrap();
    assert!(hsm.has_key(&key_id).unwrap());
    assert_eq!(
        &hsm.decrypt(&key_id, b"header and context", &blob).unwrap()[..],
        b"data key bytes"
    );
    hsm.destroy_key(&key_id).unwrap();
    assert!(!hsm.has_key(&key_id).unwrap());
}

/// (CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_TOKEN) of the secret key labelled `key_id` in token
/// `token`, read through PKCS#11 in this process (not through sealgate); also checks that
/// CKA_VALUE cannot be read.
fn token_key_attributes(module: &Path, token: &str, key_id: &str) -> Option<(bool, bool, bool)> {
    let ctx = Pkcs11::new(module).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == token)
        .unwrap();
    let session = ctx.open_ro_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::from(PIN.to_string())))
        .unwrap();
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(key_id.as_bytes().to_vec()),
        ])
        .unwrap();
    let out = found.first().map(|h| {
        let attrs = session
            .get_attributes(
                *h,
                &[
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::Token,
                    AttributeType::Value,
                ],
            )
            .unwrap();
        let (mut sensitive, mut extractable, mut token) = (false, true, false);
        for a in attrs {
            match a {
                Attribute::Sensitive(v) => sensitive = v,
                Attribute::Extractable(v) => extractable = v,
                Attribute::Token(v) => token = v,
                Attribute::Value(_) => panic!("the key value must not be readable"),
                _ => {}
            }
        }
        (sensitive, extractable, token)
    });
    assert!(found.len() <= 1, "one object per key id");
    session.logout().unwrap();
    drop(session);
    ctx.finalize().unwrap();
    out
}

fn err_code<T: std::fmt::Debug, E: aws_sdk_kms::error::ProvideErrorMetadata>(
    r: Result<T, E>,
) -> (String, String) {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => (
            e.code().unwrap_or("<no code>").to_owned(),
            e.message().unwrap_or_default().to_owned(),
        ),
    }
}

async fn store_entry(
    kms: &aws_sdk_kms::Client,
    id: &str,
) -> aws_sdk_kms::types::CustomKeyStoresListEntry {
    let out = kms
        .describe_custom_key_stores()
        .custom_key_store_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(out.custom_key_stores().len(), 1);
    out.custom_key_stores()[0].clone()
}

fn state(e: &aws_sdk_kms::types::CustomKeyStoresListEntry) -> (String, Option<String>) {
    (
        e.connection_state().unwrap().as_str().to_owned(),
        e.connection_error_code().map(|c| c.as_str().to_owned()),
    )
}

#[test]
fn custom_key_store_end_to_end() {
    let Some(module) = module() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "SoftHSM2 is not installed (set SEALGATE_PKCS11_MODULE); ./scripts/test installs it"
        );
        eprintln!("SKIPPED: SoftHSM2 not installed; run ./scripts/test");
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let conf = token_conf().to_path_buf();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(custom_key_store_flow(module, conf));
}

async fn custom_key_store_flow(module: PathBuf, conf: PathBuf) {
    use aws_sdk_kms::primitives::Blob;
    use aws_sdk_kms::types::OriginType;
    use common::{Options, Server};

    let data = tempfile::tempdir().unwrap();
    let opts = Options {
        data_dir: Some(data.path().join("data")),
        env: vec![
            ("SOFTHSM2_CONF".into(), conf.display().to_string()),
            ("SEALGATE_HSM_MODULE".into(), module.display().to_string()),
        ],
        test_clock: true,
        ..Options::default()
    };
    let mut server = Server::start_with(opts.clone());
    let kms = server.kms().await;

    // A store with the wrong PIN: Connect answers, the store is FAILED / INVALID_CREDENTIALS.
    let bad = kms
        .create_custom_key_store()
        .custom_key_store_name("wrong-pin")
        .cloud_hsm_cluster_id(KMS_LABEL)
        .trust_anchor_certificate("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
        .key_store_password("wrong-pin-000")
        .send()
        .await
        .unwrap()
        .custom_key_store_id()
        .unwrap()
        .to_owned();
    assert!(bad.starts_with("cks-") && bad.len() == 21, "{bad}");
    assert!(bad[4..].bytes().all(|b| b.is_ascii_hexdigit()), "{bad}");
    assert_eq!(
        state(&store_entry(&kms, &bad).await),
        ("DISCONNECTED".into(), None)
    );
    kms.connect_custom_key_store()
        .custom_key_store_id(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(
        state(&store_entry(&kms, &bad).await),
        ("FAILED".into(), Some("INVALID_CREDENTIALS".into()))
    );
    // The same token cannot back a second store; names are unique.
    let (code, _) = err_code(
        kms.create_custom_key_store()
            .custom_key_store_name("other")
            .cloud_hsm_cluster_id(KMS_LABEL)
            .key_store_password(PIN)
            .send()
            .await,
    );
    assert_eq!(code, "CloudHsmClusterInUseException");
    // An unknown token label: FAILED / CLUSTER_NOT_FOUND.
    let ghost = kms
        .create_custom_key_store()
        .custom_key_store_name("ghost")
        .cloud_hsm_cluster_id("no-such-token")
        .key_store_password(PIN)
        .send()
        .await
        .unwrap()
        .custom_key_store_id()
        .unwrap()
        .to_owned();
    let (code, _) = err_code(
        kms.create_custom_key_store()
            .custom_key_store_name("ghost")
            .cloud_hsm_cluster_id("another-token")
            .key_store_password(PIN)
            .send()
            .await,
    );
    assert_eq!(code, "CustomKeyStoreNameInUseException");
    kms.connect_custom_key_store()
        .custom_key_store_id(&ghost)
        .send()
        .await
        .unwrap();
    assert_eq!(
        state(&store_entry(&kms, &ghost).await),
        ("FAILED".into(), Some("CLUSTER_NOT_FOUND".into()))
    );
    // A FAILED store must be disconnected before it is deleted (or connected again).
    let (code, _) = err_code(
        kms.delete_custom_key_store()
            .custom_key_store_id(&ghost)
            .send()
            .await,
    );
    assert_eq!(code, "CustomKeyStoreInvalidStateException");
    // UpdateCustomKeyStore: the password only while DISCONNECTED; a rename is checked.
    let (code, _) = err_code(
        kms.update_custom_key_store()
            .custom_key_store_id(&bad)
            .key_store_password(PIN)
            .send()
            .await,
    );
    assert_eq!(
        code, "CustomKeyStoreInvalidStateException",
        "FAILED, not disconnected"
    );
    kms.disconnect_custom_key_store()
        .custom_key_store_id(&bad)
        .send()
        .await
        .unwrap();
    let (code, _) = err_code(
        kms.update_custom_key_store()
            .custom_key_store_id(&bad)
            .new_custom_key_store_name("ghost")
            .send()
            .await,
    );
    assert_eq!(code, "CustomKeyStoreNameInUseException");
    kms.update_custom_key_store()
        .custom_key_store_id(&bad)
        .new_custom_key_store_name("renamed")
        .send()
        .await
        .unwrap();
    assert_eq!(
        store_entry(&kms, &bad).await.custom_key_store_name(),
        Some("renamed")
    );
    for id in [&ghost, &bad] {
        kms.disconnect_custom_key_store()
            .custom_key_store_id(id)
            .send()
            .await
            .unwrap();
        kms.delete_custom_key_store()
            .custom_key_store_id(id)
            .send()
            .await
            .unwrap();
        let (code, _) = err_code(
            kms.describe_custom_key_stores()
                .custom_key_store_id(id)
                .send()
                .await,
        );
        assert_eq!(code, "CustomKeyStoreNotFoundException");
    }

    // The real store, with the right PIN.
    let store = kms
        .create_custom_key_store()
        .custom_key_store_name("hsm-store")
        .cloud_hsm_cluster_id(KMS_LABEL)
        .trust_anchor_certificate("trust anchor PEM")
        .key_store_password(PIN)
        .send()
        .await
        .unwrap()
        .custom_key_store_id()
        .unwrap()
        .to_owned();
    let (code, _) = err_code(
        kms.create_key()
            .custom_key_store_id(&store)
            .origin(OriginType::AwsCloudhsm)
            .send()
            .await,
    );
    assert_eq!(
        code, "CustomKeyStoreInvalidStateException",
        "not connected yet"
    );
    kms.connect_custom_key_store()
        .custom_key_store_id(&store)
        .send()
        .await
        .unwrap();
    let all = kms.describe_custom_key_stores().send().await.unwrap();
    assert_eq!(all.custom_key_stores().len(), 1);
    let e = &all.custom_key_stores()[0];
    assert_eq!(state(e), ("CONNECTED".into(), None));
    assert_eq!(e.custom_key_store_id(), Some(store.as_str()));
    assert_eq!(e.custom_key_store_name(), Some("hsm-store"));
    assert_eq!(e.cloud_hsm_cluster_id(), Some(KMS_LABEL));
    assert_eq!(e.trust_anchor_certificate(), Some("trust anchor PEM"));
    assert_eq!(e.custom_key_store_type().unwrap().as_str(), "AWS_CLOUDHSM");
    assert!(e.creation_date().is_some());
    let by_name = kms
        .describe_custom_key_stores()
        .custom_key_store_name("hsm-store")
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_name.custom_key_stores()[0].custom_key_store_id(),
        Some(store.as_str())
    );

    // A key in the store: generated in the token.
    let meta = kms
        .create_key()
        .custom_key_store_id(&store)
        .origin(OriginType::AwsCloudhsm)
        .description("in the HSM")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let key_id = meta.key_id().to_owned();
    assert_eq!(meta.origin().unwrap().as_str(), "AWS_CLOUDHSM");
    assert_eq!(meta.custom_key_store_id(), Some(store.as_str()));
    assert_eq!(meta.cloud_hsm_cluster_id(), Some(KMS_LABEL));
    let described = kms
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(described.origin().unwrap().as_str(), "AWS_CLOUDHSM");
    assert_eq!(described.custom_key_store_id(), Some(store.as_str()));
    assert_eq!(described.cloud_hsm_cluster_id(), Some(KMS_LABEL));
    assert_eq!(
        token_key_attributes(&module, KMS_LABEL, &key_id),
        Some((true, false, true)),
        "sensitive, not extractable, token object"
    );
    let normal = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id()
        .to_owned();
    assert_eq!(token_key_attributes(&module, KMS_LABEL, &normal), None);

    // Encrypt / Decrypt / GenerateDataKey(WithoutPlaintext) / ReEncrypt.
    let enc = kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"secret in the hsm".to_vec()))
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();
    let blob = enc.ciphertext_blob().unwrap().clone();
    let dec = kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"secret in the hsm");
    assert!(dec.key_id().unwrap().ends_with(&key_id));
    let (code, _) = err_code(
        kms.decrypt()
            .ciphertext_blob(blob.clone())
            .encryption_context("purpose", "other")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidCiphertextException");
    let mut tampered = blob.clone().into_inner();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let (code, _) = err_code(
        kms.decrypt()
            .ciphertext_blob(Blob::new(tampered))
            .encryption_context("purpose", "test")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidCiphertextException");
    let dk = kms
        .generate_data_key()
        .key_id(&key_id)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    let opened = kms
        .decrypt()
        .ciphertext_blob(dk.ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext(), dk.plaintext());
    assert_eq!(dk.plaintext().unwrap().as_ref().len(), 32);
    let wp = kms
        .generate_data_key_without_plaintext()
        .key_id(&key_id)
        .number_of_bytes(16)
        .send()
        .await
        .unwrap();
    let opened = kms
        .decrypt()
        .ciphertext_blob(wp.ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext().unwrap().as_ref().len(), 16);
    let to_normal = kms
        .re_encrypt()
        .ciphertext_blob(blob.clone())
        .source_encryption_context("purpose", "test")
        .destination_key_id(&normal)
        .send()
        .await
        .unwrap();
    let back = kms
        .re_encrypt()
        .ciphertext_blob(to_normal.ciphertext_blob().unwrap().clone())
        .destination_key_id(&key_id)
        .destination_encryption_context("k", "v")
        .send()
        .await
        .unwrap();
    let opened = kms
        .decrypt()
        .ciphertext_blob(back.ciphertext_blob().unwrap().clone())
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext().unwrap().as_ref(), b"secret in the hsm");

    // No rotation for keys in custom key stores (as in AWS).
    let (code, _) = err_code(kms.enable_key_rotation().key_id(&key_id).send().await);
    assert_eq!(code, "UnsupportedOperationException");
    let (code, _) = err_code(kms.rotate_key_on_demand().key_id(&key_id).send().await);
    assert_eq!(code, "UnsupportedOperationException");

    // SSE-KMS through the gateway under the HSM key.
    let s3 = server.s3().await;
    s3.create_bucket().bucket("hsm").send().await.unwrap();
    let body = common::random(100_000);
    s3.put_object()
        .bucket("hsm")
        .key("obj")
        .body(body.clone().into())
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_id)
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("hsm")
        .key("obj")
        .send()
        .await
        .unwrap();
    assert!(got.ssekms_key_id().unwrap().ends_with(&key_id));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        &body[..]
    );

    // Disconnected: the store's keys are unusable, other keys unaffected, no delete with keys.
    kms.disconnect_custom_key_store()
        .custom_key_store_id(&store)
        .send()
        .await
        .unwrap();
    assert_eq!(
        state(&store_entry(&kms, &store).await),
        ("DISCONNECTED".into(), None)
    );
    let (code, msg) = err_code(
        kms.encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
            .await,
    );
    assert_eq!(code, "KMSInvalidStateException");
    assert!(msg.contains(&store), "{msg}");
    let (code, _) = err_code(
        kms.decrypt()
            .ciphertext_blob(blob.clone())
            .encryption_context("purpose", "test")
            .send()
            .await,
    );
    assert_eq!(code, "KMSInvalidStateException");
    let ok = kms
        .encrypt()
        .key_id(&normal)
        .plaintext(Blob::new(b"still fine".to_vec()))
        .send()
        .await
        .unwrap();
    assert!(ok.ciphertext_blob().is_some());
    assert!(
        s3.get_object()
            .bucket("hsm")
            .key("obj")
            .send()
            .await
            .is_err(),
        "the object's key is unusable while the store is disconnected"
    );
    let (code, _) = err_code(
        kms.delete_custom_key_store()
            .custom_key_store_id(&store)
            .send()
            .await,
    );
    assert_eq!(code, "CustomKeyStoreHasCMKsException");

    // Reconnected: works again.
    kms.connect_custom_key_store()
        .custom_key_store_id(&store)
        .send()
        .await
        .unwrap();
    let dec = kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"secret in the hsm");

    // Restart: DISCONNECTED until Connect (the PIN comes from the KMS database), then the old
    // ciphertext and the object decrypt.
    server.stop();
    let server = Server::start_with(opts);
    let kms = server.kms().await;
    assert_eq!(
        state(&store_entry(&kms, &store).await),
        ("DISCONNECTED".into(), None)
    );
    let (code, _) = err_code(
        kms.decrypt()
            .ciphertext_blob(blob.clone())
            .encryption_context("purpose", "test")
            .send()
            .await,
    );
    assert_eq!(code, "KMSInvalidStateException");
    kms.connect_custom_key_store()
        .custom_key_store_id(&store)
        .send()
        .await
        .unwrap();
    assert_eq!(
        state(&store_entry(&kms, &store).await),
        ("CONNECTED".into(), None)
    );
    let dec = kms
        .decrypt()
        .ciphertext_blob(blob)
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"secret in the hsm");
    let s3 = server.s3().await;
    let got = s3
        .get_object()
        .bucket("hsm")
        .key("obj")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        &body[..]
    );

    // The PIN is not in the KMS database, the audit log or the server log in the clear.
    let log = server.log();
    assert!(!log.contains(PIN), "PIN in the server log");
    assert!(common::find_bytes(&data.path().join("data"), PIN.as_bytes()).is_none());

    // Deletion is scheduled as usual.
    let del = kms
        .schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(del.key_state().unwrap().as_str(), "PendingDeletion");
    // When the window ends the key is purged and its token object destroyed; the store,
    // now without keys, can be deleted once disconnected.
    assert!(token_key_attributes(&module, KMS_LABEL, &key_id).is_some());
    common::advance_clock(&kms, 8 * 86_400).await;
    let (code, _) = err_code(kms.describe_key().key_id(&key_id).send().await);
    assert_eq!(code, "NotFoundException");
    assert_eq!(token_key_attributes(&module, KMS_LABEL, &key_id), None);
    kms.disconnect_custom_key_store()
        .custom_key_store_id(&store)
        .send()
        .await
        .unwrap();
    kms.delete_custom_key_store()
        .custom_key_store_id(&store)
        .send()
        .await
        .unwrap();
    assert!(
        kms.describe_custom_key_stores()
            .send()
            .await
            .unwrap()
            .custom_key_stores()
            .is_empty()
    );
}
