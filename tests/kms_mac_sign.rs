//! HMAC and ECC signing keys as AWS SDK users see them: CreateKey with HMAC key specs, GenerateMac and
//! VerifyMac through aws-sdk-kms against the real `sealgate` listener, with AWS's validation,
//! key-usage errors, authorization (key policy, IAM, grants) and the audit log.
mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeySpec, GrantOperation, KeySpec, KeyUsageType, MacAlgorithmSpec, MessageType,
    SigningAlgorithmSpec,
};
use common::{ALICE, BOB, kms_code as code, kms_failure as failure, start_kms_users as start};

async fn hmac_key(kms: &Client, spec: KeySpec) -> String {
    let out = kms
        .create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap();
    out.key_metadata().unwrap().key_id().to_owned()
}

async fn mac(kms: &Client, key: &str, alg: MacAlgorithmSpec, msg: &[u8]) -> Vec<u8> {
    kms.generate_mac()
        .key_id(key)
        .mac_algorithm(alg)
        .message(Blob::new(msg))
        .send()
        .await
        .unwrap()
        .mac()
        .unwrap()
        .as_ref()
        .to_vec()
}

#[tokio::test]
async fn hmac_keys_generate_and_verify() {
    let server = start();
    let kms = server.kms().await;
    let msg = b"the message to authenticate";
    for (spec, alg, len) in [
        (KeySpec::Hmac224, MacAlgorithmSpec::HmacSha224, 28),
        (KeySpec::Hmac256, MacAlgorithmSpec::HmacSha256, 32),
        (KeySpec::Hmac384, MacAlgorithmSpec::HmacSha384, 48),
        (KeySpec::Hmac512, MacAlgorithmSpec::HmacSha512, 64),
    ] {
        let key = hmac_key(&kms, spec.clone()).await;
        let md = kms.describe_key().key_id(&key).send().await.unwrap();
        let md = md.key_metadata().unwrap();
        assert_eq!(md.key_spec(), Some(&spec));
        assert_eq!(md.key_usage(), Some(&KeyUsageType::GenerateVerifyMac));
        assert_eq!(md.mac_algorithms(), std::slice::from_ref(&alg));
        assert!(md.encryption_algorithms().is_empty(), "{md:?}");

        let out = kms
            .generate_mac()
            .key_id(&key)
            .mac_algorithm(alg.clone())
            .message(Blob::new(&msg[..]))
            .send()
            .await
            .unwrap();
        let tag = out.mac().unwrap().as_ref().to_vec();
        assert_eq!(tag.len(), len, "{spec:?}");
        assert_eq!(out.mac_algorithm(), Some(&alg));
        assert_eq!(out.key_id().unwrap(), md.arn().unwrap());
        // HMAC is deterministic; a different message gives a different MAC.
        assert_eq!(mac(&kms, &key, alg.clone(), msg).await, tag);
        assert_ne!(mac(&kms, &key, alg.clone(), b"another message").await, tag);

        let ok = kms
            .verify_mac()
            .key_id(&key)
            .mac_algorithm(alg.clone())
            .message(Blob::new(&msg[..]))
            .mac(Blob::new(tag.clone()))
            .send()
            .await
            .unwrap();
        assert!(ok.mac_valid());
        assert_eq!(ok.key_id().unwrap(), md.arn().unwrap());

        let mut flipped = tag.clone();
        flipped[len / 2] ^= 0x01;
        let (c, _) = failure(
            kms.verify_mac()
                .key_id(&key)
                .mac_algorithm(alg.clone())
                .message(Blob::new(&msg[..]))
                .mac(Blob::new(flipped))
                .send()
                .await,
        );
        assert_eq!(c, "KMSInvalidMacException");
        // A truncated MAC and the right MAC over another message are refused too.
        let (c, _) = failure(
            kms.verify_mac()
                .key_id(&key)
                .mac_algorithm(alg.clone())
                .message(Blob::new(&msg[..]))
                .mac(Blob::new(&tag[..len - 1]))
                .send()
                .await,
        );
        assert_eq!(c, "KMSInvalidMacException");
        let (c, _) = failure(
            kms.verify_mac()
                .key_id(&key)
                .mac_algorithm(alg)
                .message(Blob::new(&b"the message to authenticatE"[..]))
                .mac(Blob::new(tag))
                .send()
                .await,
        );
        assert_eq!(c, "KMSInvalidMacException");
    }

    // Two keys of the same spec have different secrets.
    let a = hmac_key(&kms, KeySpec::Hmac256).await;
    let b = hmac_key(&kms, KeySpec::Hmac256).await;
    assert_ne!(
        mac(&kms, &a, MacAlgorithmSpec::HmacSha256, msg).await,
        mac(&kms, &b, MacAlgorithmSpec::HmacSha256, msg).await
    );

    // The secret is stored sealed: no MAC-sized key is findable by its MAC output, and the
    // audit log records each call with its outcome.
    let audit = common::all_files(&server.data_dir)
        .into_iter()
        .find(|p| p.ends_with("kms-audit.log"))
        .unwrap();
    let audit = std::fs::read_to_string(audit).unwrap();
    assert!(audit.contains("\"GenerateMac\""), "{audit}");
    assert!(audit.contains("\"VerifyMac\""), "{audit}");
    assert!(audit.contains("KMSInvalidMacException"), "{audit}");
}

#[tokio::test]
async fn hmac_validation_and_key_usage() {
    let server = start();
    let kms = server.kms().await;

    // AWS pairs HMAC specs with GENERATE_VERIFY_MAC only, and that usage with HMAC specs only.
    let (c, m) = failure(
        kms.create_key()
            .key_spec(KeySpec::Hmac256)
            .key_usage(KeyUsageType::EncryptDecrypt)
            .send()
            .await,
    );
    assert_eq!(c, "ValidationException", "{m}");
    assert_eq!(
        code(kms.create_key().key_spec(KeySpec::Hmac384).send().await),
        "ValidationException",
        "an HMAC spec with the default usage ENCRYPT_DECRYPT"
    );
    assert_eq!(
        code(
            kms.create_key()
                .key_usage(KeyUsageType::GenerateVerifyMac)
                .send()
                .await
        ),
        "ValidationException"
    );
    // Specs this KMS does not implement keep answering as before.
    assert_eq!(
        code(
            kms.create_key()
                .key_spec(KeySpec::MlDsa65)
                .key_usage(KeyUsageType::SignVerify)
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );

    let key = hmac_key(&kms, KeySpec::Hmac256).await;
    let sym = kms.create_key().send().await.unwrap();
    let sym = sym.key_metadata().unwrap().key_id().to_owned();

    // Algorithm must match the spec; a symmetric key cannot MAC.
    let (c, m) = failure(
        kms.generate_mac()
            .key_id(&key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha512)
            .message(Blob::new(&b"x"[..]))
            .send()
            .await,
    );
    assert_eq!(c, "InvalidKeyUsageException", "{m}");
    let (c, m) = failure(
        kms.generate_mac()
            .key_id(&sym)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(&b"x"[..]))
            .send()
            .await,
    );
    assert_eq!(c, "InvalidKeyUsageException");
    assert!(m.contains("ENCRYPT_DECRYPT"), "{m}");

    // Message 1..4096 bytes.
    let (c, m) = failure(
        kms.generate_mac()
            .key_id(&key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(vec![7u8; 4097]))
            .send()
            .await,
    );
    assert_eq!(c, "ValidationException");
    assert!(m.contains("4096"), "{m}");
    assert_eq!(
        mac(&kms, &key, MacAlgorithmSpec::HmacSha256, &[7u8; 4096])
            .await
            .len(),
        32
    );

    // An HMAC key does not encrypt, and does not rotate.
    let (c, m) = failure(
        kms.encrypt()
            .key_id(&key)
            .plaintext(Blob::new(&b"secret"[..]))
            .send()
            .await,
    );
    assert_eq!(c, "InvalidKeyUsageException");
    assert!(
        m.contains("GENERATE_VERIFY_MAC") && m.contains("Encrypt"),
        "{m}"
    );
    assert_eq!(
        code(
            kms.generate_data_key()
                .key_id(&key)
                .key_spec(DataKeySpec::Aes256)
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    assert_eq!(
        code(kms.enable_key_rotation().key_id(&key).send().await),
        "UnsupportedOperationException"
    );
    assert_eq!(
        code(kms.rotate_key_on_demand().key_id(&key).send().await),
        "UnsupportedOperationException"
    );

    // A disabled HMAC key refuses, as for encryption keys.
    kms.disable_key().key_id(&key).send().await.unwrap();
    assert_eq!(
        code(
            kms.generate_mac()
                .key_id(&key)
                .mac_algorithm(MacAlgorithmSpec::HmacSha256)
                .message(Blob::new(&b"x"[..]))
                .send()
                .await
        ),
        "DisabledException"
    );
    kms.enable_key().key_id(&key).send().await.unwrap();

    // DryRun answers DryRunOperationException and no MAC.
    assert_eq!(
        code(
            kms.generate_mac()
                .key_id(&key)
                .mac_algorithm(MacAlgorithmSpec::HmacSha256)
                .message(Blob::new(&b"x"[..]))
                .dry_run(true)
                .send()
                .await
        ),
        "DryRunOperationException"
    );
}

#[tokio::test]
async fn hmac_use_is_authorized_like_encrypt() {
    let server = start();
    let alice = server.kms_as(Some(ALICE)).await;
    let bob = server.kms_as(Some(BOB)).await;
    let key = hmac_key(&alice, KeySpec::Hmac256).await;
    let msg = b"grant me";

    // bob has no identity policy and the default key policy delegates to IAM.
    let (c, m) = failure(
        bob.generate_mac()
            .key_id(&key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(&msg[..]))
            .send()
            .await,
    );
    assert_eq!(c, "AccessDeniedException");
    assert!(m.contains("kms:GenerateMac"), "{m}");

    // A grant for GenerateMac only lets bob generate, not verify.
    let md = alice.describe_key().key_id(&key).send().await.unwrap();
    let account = md
        .key_metadata()
        .unwrap()
        .aws_account_id()
        .unwrap()
        .to_owned();
    alice
        .create_grant()
        .key_id(&key)
        .grantee_principal(format!("arn:aws:iam::{account}:user/bob"))
        .operations(GrantOperation::GenerateMac)
        .send()
        .await
        .unwrap();
    let tag = mac(&bob, &key, MacAlgorithmSpec::HmacSha256, msg).await;
    assert_eq!(
        tag,
        mac(&alice, &key, MacAlgorithmSpec::HmacSha256, msg).await
    );
    let (c, m) = failure(
        bob.verify_mac()
            .key_id(&key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(&msg[..]))
            .mac(Blob::new(tag.clone()))
            .send()
            .await,
    );
    assert_eq!(c, "AccessDeniedException");
    assert!(m.contains("kms:VerifyMac"), "{m}");
    assert!(
        alice
            .verify_mac()
            .key_id(&key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(&msg[..]))
            .mac(Blob::new(tag))
            .send()
            .await
            .unwrap()
            .mac_valid()
    );
}

#[tokio::test]
async fn ecc_p256_sign_verify_get_public_key() {
    let server = start();
    let kms = server.kms().await;
    let created = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap();
    let md = created.key_metadata().unwrap();
    let key = md.key_id().to_owned();
    assert_eq!(md.key_spec(), Some(&KeySpec::EccNistP256));
    assert_eq!(md.key_usage(), Some(&KeyUsageType::SignVerify));
    assert_eq!(md.signing_algorithms(), [SigningAlgorithmSpec::EcdsaSha256]);

    let pk = kms.get_public_key().key_id(&key).send().await.unwrap();
    let der = pk.public_key().unwrap().as_ref().to_vec();
    // SubjectPublicKeyInfo of an uncompressed P-256 point: 26-byte prefix + 65-byte point.
    assert_eq!(der.len(), 91, "{der:02x?}");
    assert_eq!(der[0], 0x30);
    assert_eq!(pk.key_usage(), Some(&KeyUsageType::SignVerify));
    assert_eq!(pk.signing_algorithms(), [SigningAlgorithmSpec::EcdsaSha256]);

    let msg = b"a message to sign";
    let sig = kms
        .sign()
        .key_id(&key)
        .message(Blob::new(&msg[..]))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap();
    let sig = sig.signature().unwrap().as_ref().to_vec();
    assert_eq!(sig[0], 0x30, "DER SEQUENCE");
    let verify = |m: &'static [u8], s: Vec<u8>, t: MessageType| {
        kms.verify()
            .key_id(&key)
            .message(Blob::new(m))
            .message_type(t)
            .signature(Blob::new(s))
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
    };
    assert!(
        verify(msg, sig.clone(), MessageType::Raw)
            .await
            .unwrap()
            .signature_valid()
    );
    let mut bad = sig.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        code(verify(msg, bad, MessageType::Raw).await),
        "KMSInvalidSignatureException"
    );
    assert_eq!(
        code(verify(b"another message", sig.clone(), MessageType::Raw).await),
        "KMSInvalidSignatureException"
    );

    // DIGEST: the caller hashes; the same signature verifies over SHA-256(msg).
    let digest: &'static [u8] = Box::leak(
        <sha2::Sha256 as sha2::Digest>::digest(msg)
            .to_vec()
            .into_boxed_slice(),
    );
    assert!(
        verify(digest, sig.clone(), MessageType::Digest)
            .await
            .unwrap()
            .signature_valid()
    );
    let dsig = kms
        .sign()
        .key_id(&key)
        .message(Blob::new(digest))
        .message_type(MessageType::Digest)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap();
    let dsig = dsig.signature().unwrap().as_ref().to_vec();
    assert!(
        verify(msg, dsig, MessageType::Raw)
            .await
            .unwrap()
            .signature_valid()
    );
    let (c, m) = failure(
        kms.sign()
            .key_id(&key)
            .message(Blob::new(&digest[..31]))
            .message_type(MessageType::Digest)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await,
    );
    assert_eq!(c, "ValidationException", "{m}");

    // Wrong algorithm, wrong key usage, and no encryption with a signing key.
    assert_eq!(
        code(
            kms.sign()
                .key_id(&key)
                .message(Blob::new(&msg[..]))
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha384)
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    let sym = kms.create_key().send().await.unwrap();
    let sym = sym.key_metadata().unwrap().key_id().to_owned();
    assert_eq!(
        code(
            kms.sign()
                .key_id(&sym)
                .message(Blob::new(&msg[..]))
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    assert_eq!(
        code(kms.get_public_key().key_id(&sym).send().await),
        "UnsupportedOperationException"
    );
    assert_eq!(
        code(
            kms.encrypt()
                .key_id(&key)
                .plaintext(Blob::new(&b"x"[..]))
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    assert_eq!(
        code(kms.enable_key_rotation().key_id(&key).send().await),
        "UnsupportedOperationException"
    );
    // Specs outside AWS's commercial-Region catalogue here keep answering as before.
    assert_eq!(
        code(
            kms.create_key()
                .key_spec(KeySpec::Sm2)
                .key_usage(KeyUsageType::SignVerify)
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );

    // bob (no identity policy) may not sign.
    let bob = server.kms_as(Some(BOB)).await;
    let (c, m) = failure(
        bob.sign()
            .key_id(&key)
            .message(Blob::new(&msg[..]))
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await,
    );
    assert_eq!(c, "AccessDeniedException");
    assert!(m.contains("kms:Sign"), "{m}");
}
