//! Asymmetric KMS keys as AWS SDK users see them, against the real `sealgate` listener: RSA and
//! ECC signing (every algorithm, RAW and DIGEST), RSA-OAEP encryption, ECDH key agreement
//! (DeriveSharedSecret) and data key pairs, with AWS's spec/usage/algorithm validation,
//! authorization through key policy, IAM and grants, and the audit log. The signatures and
//! ciphertexts are checked by an independent implementation in tests/e2e/test_kms_sign.py.
mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeyPairSpec, EncryptionAlgorithmSpec, GrantOperation, KeyAgreementAlgorithmSpec, KeySpec,
    KeyUsageType, MessageType, SigningAlgorithmSpec,
};
use common::{ALICE, BOB, kms_code as code, kms_failure as failure, start_kms_users as start};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use sha2::Digest;

async fn create(kms: &Client, spec: KeySpec, usage: KeyUsageType) -> String {
    let out = kms
        .create_key()
        .key_spec(spec)
        .key_usage(usage)
        .send()
        .await
        .unwrap();
    out.key_metadata().unwrap().key_id().to_owned()
}

async fn sign(
    kms: &Client,
    key: &str,
    alg: &SigningAlgorithmSpec,
    msg: &[u8],
    t: MessageType,
) -> Vec<u8> {
    kms.sign()
        .key_id(key)
        .message(Blob::new(msg))
        .message_type(t)
        .signing_algorithm(alg.clone())
        .send()
        .await
        .unwrap()
        .signature()
        .unwrap()
        .as_ref()
        .to_vec()
}

async fn verify(
    kms: &Client,
    key: &str,
    alg: &SigningAlgorithmSpec,
    msg: &[u8],
    t: MessageType,
    sig: &[u8],
) -> Result<bool, String> {
    kms.verify()
        .key_id(key)
        .message(Blob::new(msg))
        .message_type(t)
        .signature(Blob::new(sig))
        .signing_algorithm(alg.clone())
        .send()
        .await
        .map(|o| o.signature_valid())
        .map_err(|e| failure::<(), _>(Err(e)).0)
}

fn digest(alg: &SigningAlgorithmSpec, msg: &[u8]) -> Vec<u8> {
    match alg.as_str() {
        a if a.ends_with("384") => sha2::Sha384::digest(msg).to_vec(),
        a if a.ends_with("512") => sha2::Sha512::digest(msg).to_vec(),
        _ => sha2::Sha256::digest(msg).to_vec(),
    }
}

#[tokio::test]
async fn rsa_and_ecc_keys_sign_and_verify_with_every_algorithm() {
    use SigningAlgorithmSpec::*;
    let server = start();
    let kms = server.kms().await;
    let rsa = vec![
        RsassaPssSha256,
        RsassaPssSha384,
        RsassaPssSha512,
        RsassaPkcs1V15Sha256,
        RsassaPkcs1V15Sha384,
        RsassaPkcs1V15Sha512,
    ];
    let msg = b"a message signed by the KMS";
    for (spec, algs) in [
        (KeySpec::Rsa2048, rsa),
        (KeySpec::EccNistP256, vec![EcdsaSha256]),
        (KeySpec::EccNistP384, vec![EcdsaSha384]),
        (KeySpec::EccNistP521, vec![EcdsaSha512]),
        (KeySpec::EccSecgP256K1, vec![EcdsaSha256]),
    ] {
        let key = create(&kms, spec.clone(), KeyUsageType::SignVerify).await;
        let md = kms.describe_key().key_id(&key).send().await.unwrap();
        let md = md.key_metadata().unwrap();
        assert_eq!(md.key_spec(), Some(&spec));
        assert_eq!(md.signing_algorithms(), algs.as_slice(), "{spec:?}");
        assert!(md.encryption_algorithms().is_empty(), "{md:?}");
        let pk = kms.get_public_key().key_id(&key).send().await.unwrap();
        assert_eq!(pk.key_spec(), Some(&spec));
        assert_eq!(pk.signing_algorithms(), algs.as_slice());
        assert!(pk.encryption_algorithms().is_empty());
        assert_eq!(pk.public_key().unwrap().as_ref()[0], 0x30, "DER SPKI");

        for alg in &algs {
            let sig = sign(&kms, &key, alg, msg, MessageType::Raw).await;
            assert_eq!(
                verify(&kms, &key, alg, msg, MessageType::Raw, &sig).await,
                Ok(true),
                "{spec:?} {alg:?}"
            );
            let d = digest(alg, msg);
            assert_eq!(
                verify(&kms, &key, alg, &d, MessageType::Digest, &sig).await,
                Ok(true),
                "a RAW signature verifies over the digest too ({alg:?})"
            );
            let dsig = sign(&kms, &key, alg, &d, MessageType::Digest).await;
            assert_eq!(
                verify(&kms, &key, alg, msg, MessageType::Raw, &dsig).await,
                Ok(true)
            );
            let mut bad = sig.clone();
            let mid = bad.len() / 2;
            bad[mid] ^= 0x01;
            assert_eq!(
                verify(&kms, &key, alg, msg, MessageType::Raw, &bad).await,
                Err("KMSInvalidSignatureException".into())
            );
            // A digest of the wrong length for the algorithm.
            let (c, m) = failure(
                kms.sign()
                    .key_id(&key)
                    .message(Blob::new(&d[..d.len() - 1]))
                    .message_type(MessageType::Digest)
                    .signing_algorithm(alg.clone())
                    .send()
                    .await,
            );
            assert_eq!(c, "ValidationException", "{m}");
        }
        // An algorithm of another spec.
        let foreign = if spec == KeySpec::Rsa2048 {
            EcdsaSha256
        } else {
            RsassaPssSha256
        };
        assert_eq!(
            code(
                kms.sign()
                    .key_id(&key)
                    .message(Blob::new(&msg[..]))
                    .signing_algorithm(foreign)
                    .send()
                    .await
            ),
            "InvalidKeyUsageException"
        );
        assert_eq!(
            code(kms.enable_key_rotation().key_id(&key).send().await),
            "UnsupportedOperationException"
        );
    }
    // RAW messages are limited to 4096 bytes.
    let key = create(&kms, KeySpec::EccNistP384, KeyUsageType::SignVerify).await;
    assert_eq!(
        code(
            kms.sign()
                .key_id(&key)
                .message(Blob::new(vec![0u8; 4097]))
                .signing_algorithm(EcdsaSha384)
                .send()
                .await
        ),
        "ValidationException"
    );
    let audit = common::all_files(&server.data_dir)
        .into_iter()
        .find(|p| p.ends_with("kms-audit.log"))
        .unwrap();
    let audit = std::fs::read_to_string(audit).unwrap();
    assert!(audit.contains("\"Sign\""), "{audit}");
    assert!(audit.contains("KMSInvalidSignatureException"), "{audit}");
}

#[tokio::test]
async fn spec_and_usage_pairs_are_validated_as_aws() {
    let server = start();
    let kms = server.kms().await;
    for (spec, usage, expected) in [
        (
            KeySpec::EccNistP256,
            KeyUsageType::EncryptDecrypt,
            "ValidationException",
        ),
        (
            KeySpec::EccSecgP256K1,
            KeyUsageType::KeyAgreement,
            "ValidationException",
        ),
        (
            KeySpec::Rsa2048,
            KeyUsageType::KeyAgreement,
            "ValidationException",
        ),
        (
            KeySpec::Rsa3072,
            KeyUsageType::GenerateVerifyMac,
            "ValidationException",
        ),
        (
            KeySpec::Sm2,
            KeyUsageType::SignVerify,
            "UnsupportedOperationException",
        ),
    ] {
        assert_eq!(
            code(
                kms.create_key()
                    .key_spec(spec.clone())
                    .key_usage(usage.clone())
                    .send()
                    .await
            ),
            expected,
            "{spec:?} {usage:?}"
        );
    }
    // KeyUsage defaults to ENCRYPT_DECRYPT, which an ECC spec does not have.
    assert_eq!(
        code(kms.create_key().key_spec(KeySpec::EccNistP384).send().await),
        "ValidationException"
    );
    // An RSA key's usage is whichever was asked for.
    let rsa = kms
        .create_key()
        .key_spec(KeySpec::Rsa2048)
        .send()
        .await
        .unwrap();
    let md = rsa.key_metadata().unwrap();
    assert_eq!(md.key_usage(), Some(&KeyUsageType::EncryptDecrypt));
    assert_eq!(
        md.encryption_algorithms(),
        [
            EncryptionAlgorithmSpec::RsaesOaepSha1,
            EncryptionAlgorithmSpec::RsaesOaepSha256
        ]
    );
    assert!(md.signing_algorithms().is_empty());
    assert_eq!(
        code(
            kms.sign()
                .key_id(md.key_id())
                .message(Blob::new(&b"x"[..]))
                .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
}

#[tokio::test]
async fn rsa_oaep_encrypt_decrypt() {
    use EncryptionAlgorithmSpec::*;
    let server = start();
    let kms = server.kms().await;
    let key = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let encrypt = |alg: EncryptionAlgorithmSpec, pt: Vec<u8>| {
        kms.encrypt()
            .key_id(&key)
            .encryption_algorithm(alg)
            .plaintext(Blob::new(pt))
            .send()
    };
    for (alg, max) in [(RsaesOaepSha1, 214), (RsaesOaepSha256, 190)] {
        let pt = common::random(max);
        let out = encrypt(alg.clone(), pt.clone()).await.unwrap();
        assert_eq!(out.encryption_algorithm(), Some(&alg));
        let ct = out.ciphertext_blob().unwrap().as_ref().to_vec();
        assert_eq!(ct.len(), 256, "the bare OAEP output of a 2048-bit key");
        let again = encrypt(alg.clone(), pt.clone()).await.unwrap();
        assert_ne!(
            again.ciphertext_blob().unwrap().as_ref(),
            ct,
            "OAEP is randomized"
        );
        let dec = kms
            .decrypt()
            .key_id(&key)
            .encryption_algorithm(alg.clone())
            .ciphertext_blob(Blob::new(ct.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(dec.plaintext().unwrap().as_ref(), pt);
        assert_eq!(dec.encryption_algorithm(), Some(&alg));
        assert!(
            dec.key_material_id().is_none(),
            "only symmetric keys name material"
        );
        // One byte over AWS's limit for the key size and algorithm.
        assert_eq!(
            code(encrypt(alg.clone(), common::random(max + 1)).await),
            "ValidationException"
        );
        // A modified ciphertext, the other OAEP hash, or no KeyId: nothing decrypts.
        let mut bad = ct.clone();
        bad[10] ^= 0x40;
        let other = if alg == RsaesOaepSha1 {
            RsaesOaepSha256
        } else {
            RsaesOaepSha1
        };
        for (blob, a) in [(bad, alg.clone()), (ct.clone(), other)] {
            assert_eq!(
                code(
                    kms.decrypt()
                        .key_id(&key)
                        .encryption_algorithm(a)
                        .ciphertext_blob(Blob::new(blob))
                        .send()
                        .await
                ),
                "InvalidCiphertextException"
            );
        }
        assert_eq!(
            code(
                kms.decrypt()
                    .encryption_algorithm(alg.clone())
                    .ciphertext_blob(Blob::new(ct))
                    .send()
                    .await
            ),
            "InvalidCiphertextException"
        );
    }
    // The default algorithm (SYMMETRIC_DEFAULT) does not fit an RSA key; no context either.
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
        code(
            kms.encrypt()
                .key_id(&key)
                .encryption_algorithm(RsaesOaepSha256)
                .encryption_context("k", "v")
                .plaintext(Blob::new(&b"x"[..]))
                .send()
                .await
        ),
        "ValidationException"
    );
    // Data keys come only from symmetric keys.
    assert_eq!(
        code(
            kms.generate_data_key()
                .key_id(&key)
                .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    // A symmetric key refuses the RSA algorithms.
    let sym = kms.create_key().send().await.unwrap();
    let sym = sym.key_metadata().unwrap().key_id().to_owned();
    assert_eq!(
        code(
            kms.encrypt()
                .key_id(&sym)
                .encryption_algorithm(RsaesOaepSha256)
                .plaintext(Blob::new(&b"x"[..]))
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    // ReEncrypt from the RSA key to the symmetric key and back.
    let ct = encrypt(RsaesOaepSha256, b"moved".to_vec()).await.unwrap();
    let re = kms
        .re_encrypt()
        .source_key_id(&key)
        .source_encryption_algorithm(RsaesOaepSha256)
        .ciphertext_blob(ct.ciphertext_blob().unwrap().clone())
        .destination_key_id(&sym)
        .send()
        .await
        .unwrap();
    assert_eq!(re.source_encryption_algorithm(), Some(&RsaesOaepSha256));
    let back = kms
        .re_encrypt()
        .ciphertext_blob(re.ciphertext_blob().unwrap().clone())
        .destination_key_id(&key)
        .destination_encryption_algorithm(RsaesOaepSha1)
        .send()
        .await
        .unwrap();
    let dec = kms
        .decrypt()
        .key_id(&key)
        .encryption_algorithm(RsaesOaepSha1)
        .ciphertext_blob(back.ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"moved");
}

#[tokio::test]
async fn derive_shared_secret_is_ecdh() {
    let server = start();
    let kms = server.kms().await;
    let key = create(&kms, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    let md = kms.describe_key().key_id(&key).send().await.unwrap();
    let md = md.key_metadata().unwrap();
    assert_eq!(md.key_usage(), Some(&KeyUsageType::KeyAgreement));
    assert_eq!(
        md.key_agreement_algorithms(),
        [KeyAgreementAlgorithmSpec::Ecdh]
    );
    let pk = kms.get_public_key().key_id(&key).send().await.unwrap();
    assert_eq!(
        pk.key_agreement_algorithms(),
        [KeyAgreementAlgorithmSpec::Ecdh]
    );
    let kms_public =
        p256::PublicKey::from_public_key_der(pk.public_key().unwrap().as_ref()).unwrap();

    let mine = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
    let mine_spki = mine.public_key().to_public_key_der().unwrap();
    let out = kms
        .derive_shared_secret()
        .key_id(&key)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(mine_spki.as_bytes()))
        .send()
        .await
        .unwrap();
    let expected = p256::ecdh::diffie_hellman(mine.to_nonzero_scalar(), kms_public.as_affine());
    assert_eq!(
        out.shared_secret().unwrap().as_ref(),
        expected.raw_secret_bytes().as_slice()
    );
    assert_eq!(out.key_origin().map(|o| o.as_str()), Some("AWS_KMS"));

    // A public key on another curve, garbage, a signing key, a symmetric key.
    let p384 = p384::SecretKey::from_slice(&[9u8; 48]).unwrap();
    let p384_spki = p384.public_key().to_public_key_der().unwrap();
    for bad in [p384_spki.as_bytes().to_vec(), b"not DER".to_vec()] {
        assert_eq!(
            code(
                kms.derive_shared_secret()
                    .key_id(&key)
                    .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
                    .public_key(Blob::new(bad))
                    .send()
                    .await
            ),
            "ValidationException"
        );
    }
    let signing = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    assert_eq!(
        code(
            kms.derive_shared_secret()
                .key_id(&signing)
                .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
                .public_key(Blob::new(mine_spki.as_bytes()))
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    assert_eq!(
        code(
            kms.sign()
                .key_id(&key)
                .message(Blob::new(&b"x"[..]))
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
}

#[tokio::test]
async fn data_key_pairs_decrypt_to_their_private_keys() {
    let server = start();
    let kms = server.kms().await;
    let sym = kms.create_key().send().await.unwrap();
    let sym = sym.key_metadata().unwrap().key_id().to_owned();
    for spec in [
        DataKeyPairSpec::EccNistP256,
        DataKeyPairSpec::EccNistP384,
        DataKeyPairSpec::EccNistP521,
        DataKeyPairSpec::EccSecgP256K1,
        DataKeyPairSpec::Rsa2048,
    ] {
        let out = kms
            .generate_data_key_pair()
            .key_id(&sym)
            .key_pair_spec(spec.clone())
            .encryption_context("purpose", "pairs")
            .send()
            .await
            .unwrap();
        assert_eq!(out.key_pair_spec(), Some(&spec));
        let pkcs8 = out.private_key_plaintext().unwrap().as_ref().to_vec();
        let public = out.public_key().unwrap().as_ref().to_vec();
        // The ciphertext is an ordinary blob: Decrypt (with the context) gives the PKCS#8 back.
        let dec = kms
            .decrypt()
            .ciphertext_blob(out.private_key_ciphertext_blob().unwrap().clone())
            .encryption_context("purpose", "pairs")
            .send()
            .await
            .unwrap();
        assert_eq!(dec.plaintext().unwrap().as_ref(), pkcs8);
        assert_eq!(
            code(
                kms.decrypt()
                    .ciphertext_blob(out.private_key_ciphertext_blob().unwrap().clone())
                    .send()
                    .await
            ),
            "InvalidCiphertextException"
        );
        // The public key is the private key's.
        let derived = match spec {
            DataKeyPairSpec::EccNistP256 => p256::SecretKey::from_pkcs8_der(&pkcs8)
                .unwrap()
                .public_key()
                .to_public_key_der()
                .unwrap(),
            DataKeyPairSpec::EccNistP384 => p384::SecretKey::from_pkcs8_der(&pkcs8)
                .unwrap()
                .public_key()
                .to_public_key_der()
                .unwrap(),
            DataKeyPairSpec::EccNistP521 => p521::SecretKey::from_pkcs8_der(&pkcs8)
                .unwrap()
                .public_key()
                .to_public_key_der()
                .unwrap(),
            DataKeyPairSpec::EccSecgP256K1 => k256::SecretKey::from_pkcs8_der(&pkcs8)
                .unwrap()
                .public_key()
                .to_public_key_der()
                .unwrap(),
            _ => rsa::PrivateKey::from_pkcs8_der(&pkcs8)
                .unwrap()
                .to_public_key()
                .to_public_key_der()
                .unwrap(),
        };
        assert_eq!(derived.as_bytes(), public, "{spec:?}");
    }
    let without = kms
        .generate_data_key_pair_without_plaintext()
        .key_id(&sym)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .send()
        .await
        .unwrap();
    assert!(without.private_key_ciphertext_blob().is_some());
    let dec = kms
        .decrypt()
        .ciphertext_blob(without.private_key_ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap();
    let sk = p256::SecretKey::from_pkcs8_der(dec.plaintext().unwrap().as_ref()).unwrap();
    assert_eq!(
        sk.public_key().to_public_key_der().unwrap().as_bytes(),
        without.public_key().unwrap().as_ref()
    );
    // Only symmetric keys encrypt pairs; SM2 is not offered.
    let rsa = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    assert_eq!(
        code(
            kms.generate_data_key_pair()
                .key_id(&rsa)
                .key_pair_spec(DataKeyPairSpec::EccNistP256)
                .send()
                .await
        ),
        "InvalidKeyUsageException"
    );
    assert_eq!(
        code(
            kms.generate_data_key_pair()
                .key_id(&sym)
                .key_pair_spec(DataKeyPairSpec::Sm2)
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );
}

#[tokio::test]
async fn asymmetric_use_is_authorized_by_policy_iam_and_grants() {
    let server = start();
    let alice = server.kms_as(Some(ALICE)).await;
    let bob = server.kms_as(Some(BOB)).await;
    let agree = create(&alice, KeySpec::EccNistP384, KeyUsageType::KeyAgreement).await;
    let sym = alice.create_key().send().await.unwrap();
    let sym = sym.key_metadata().unwrap().key_id().to_owned();
    let peer = p384::SecretKey::from_slice(&[5u8; 48]).unwrap();
    let peer = peer.public_key().to_public_key_der().unwrap();
    let derive = |c: &Client| {
        c.derive_shared_secret()
            .key_id(&agree)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(peer.as_bytes()))
            .send()
    };
    let pair = |c: &Client| {
        c.generate_data_key_pair()
            .key_id(&sym)
            .key_pair_spec(DataKeyPairSpec::EccNistP256)
            .send()
    };
    // bob has no identity policy; the default key policy delegates to IAM.
    let (c, m) = failure(derive(&bob).await);
    assert_eq!(c, "AccessDeniedException");
    assert!(m.contains("kms:DeriveSharedSecret"), "{m}");
    let (c, m) = failure(pair(&bob).await);
    assert_eq!(c, "AccessDeniedException");
    assert!(m.contains("kms:GenerateDataKeyPair"), "{m}");
    let (c, m) = failure(bob.get_public_key().key_id(&agree).send().await);
    assert_eq!(c, "AccessDeniedException");
    assert!(m.contains("kms:GetPublicKey"), "{m}");

    let account = alice
        .describe_key()
        .key_id(&agree)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .aws_account_id()
        .unwrap()
        .to_owned();
    let bob_arn = format!("arn:aws:iam::{account}:user/bob");
    // A grant may list only what the key type supports.
    assert_eq!(
        code(
            alice
                .create_grant()
                .key_id(&agree)
                .grantee_principal(&bob_arn)
                .operations(GrantOperation::Sign)
                .send()
                .await
        ),
        "ValidationException"
    );
    alice
        .create_grant()
        .key_id(&agree)
        .grantee_principal(&bob_arn)
        .operations(GrantOperation::DeriveSharedSecret)
        .operations(GrantOperation::GetPublicKey)
        .send()
        .await
        .unwrap();
    alice
        .create_grant()
        .key_id(&sym)
        .grantee_principal(&bob_arn)
        .operations(GrantOperation::GenerateDataKeyPair)
        .send()
        .await
        .unwrap();
    let by_bob = derive(&bob).await.unwrap();
    let by_alice = derive(&alice).await.unwrap();
    assert_eq!(by_bob.shared_secret(), by_alice.shared_secret());
    assert_eq!(by_bob.shared_secret().unwrap().as_ref().len(), 48);
    bob.get_public_key().key_id(&agree).send().await.unwrap();
    pair(&bob).await.unwrap();
    // The grant names GenerateDataKeyPair only.
    assert_eq!(
        code(
            bob.generate_data_key_pair_without_plaintext()
                .key_id(&sym)
                .key_pair_spec(DataKeyPairSpec::EccNistP256)
                .send()
                .await
        ),
        "AccessDeniedException"
    );
    let audit = common::all_files(&server.data_dir)
        .into_iter()
        .find(|p| p.ends_with("kms-audit.log"))
        .unwrap();
    let audit = std::fs::read_to_string(audit).unwrap();
    for event in [
        "\"DeriveSharedSecret\"",
        "\"GenerateDataKeyPair\"",
        "\"GetPublicKey\"",
    ] {
        assert!(audit.contains(event), "{event} in {audit}");
    }
}
