//! Service-level tests: every operation through `api::dispatch`, the key-state table, rotation,
//! deletion and import expiry on a `TestClock`, persistence, and a byte search of the database
//! and audit log for secrets.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::*;

const ACCT: &str = "000000000000";
const DAY: Duration = Duration::from_secs(86_400);

struct Env {
    dir: tempfile::TempDir,
    clock: Arc<TestClock>,
    svc: KmsService,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::starting_now());
    let svc = open(&dir, &clock);
    Env { dir, clock, svc }
}

fn open(dir: &tempfile::TempDir, clock: &Arc<TestClock>) -> KmsService {
    let cfg = KmsConfig {
        clock: clock.clone(),
        ..KmsConfig::default()
    };
    KmsService::open(dir.path(), cfg).unwrap()
}

fn root() -> Caller {
    Caller {
        arn: format!("arn:aws:iam::{ACCT}:root"),
        account: ACCT.into(),
        identity_policy: None,
        network: None,
    }
}

/// A user with no identity policy: the default key policy gives it nothing.
fn alice() -> Caller {
    Caller {
        arn: format!("arn:aws:iam::{ACCT}:user/alice"),
        account: ACCT.into(),
        identity_policy: None,
        network: None,
    }
}

fn call_as(svc: &KmsService, who: &Caller, op: &str, body: Value) -> Result<Value, KmsError> {
    api::dispatch(
        svc,
        &format!("TrentService.{op}"),
        body.to_string().as_bytes(),
        who,
    )
}

fn call(svc: &KmsService, op: &str, body: Value) -> Result<Value, KmsError> {
    call_as(svc, &root(), op, body)
}

fn ok(svc: &KmsService, op: &str, body: Value) -> Value {
    call(svc, op, body).unwrap_or_else(|e| panic!("{op}: {e}"))
}

fn err(svc: &KmsService, op: &str, body: Value) -> KmsError {
    match call(svc, op, body) {
        Ok(v) => panic!("{op} unexpectedly succeeded: {v}"),
        Err(e) => e,
    }
}

fn create(svc: &KmsService) -> (String, String) {
    let m = ok(svc, "CreateKey", json!({}))["KeyMetadata"].clone();
    (
        m["KeyId"].as_str().unwrap().into(),
        m["Arn"].as_str().unwrap().into(),
    )
}

fn encrypt(svc: &KmsService, key: &str, pt: &[u8], ctx: Value) -> String {
    ok(
        svc,
        "Encrypt",
        json!({"KeyId": key, "Plaintext": B64.encode(pt), "EncryptionContext": ctx}),
    )["CiphertextBlob"]
        .as_str()
        .unwrap()
        .into()
}

fn decrypt(svc: &KmsService, blob: &str, ctx: Value) -> Result<Vec<u8>, KmsError> {
    call(
        svc,
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
    )
    .map(|v| B64.decode(v["Plaintext"].as_str().unwrap()).unwrap())
}

fn describe(svc: &KmsService, key: &str) -> Value {
    ok(svc, "DescribeKey", json!({"KeyId": key}))["KeyMetadata"].clone()
}

fn audit_lines(svc: &KmsService) -> Vec<Value> {
    std::fs::read_to_string(svc.audit_log_path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn create_describe_list_and_identifier_errors() {
    let e = env();
    let m = ok(&e.svc, "CreateKey", json!({"Description": "d"}))["KeyMetadata"].clone();
    let id = m["KeyId"].as_str().unwrap();
    let arn = m["Arn"].as_str().unwrap();
    assert_eq!(arn, format!("arn:aws:kms:us-east-1:{ACCT}:key/{id}"));
    assert_eq!(m["AWSAccountId"], ACCT);
    assert_eq!(m["KeyState"], "Enabled");
    assert_eq!(m["Enabled"], true);
    assert_eq!(m["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(m["KeyManager"], "CUSTOMER");
    assert_eq!(m["Origin"], "AWS_KMS");
    assert_eq!(m["EncryptionAlgorithms"], json!(["SYMMETRIC_DEFAULT"]));
    assert_eq!(m["CurrentKeyMaterialId"].as_str().unwrap().len(), 64);
    assert!(m["CreationDate"].is_f64());
    assert_eq!(describe(&e.svc, arn), m);
    assert_eq!(describe(&e.svc, id), m);

    create(&e.svc);
    let p1 = ok(&e.svc, "ListKeys", json!({"Limit": 1}));
    assert_eq!(p1["Truncated"], true);
    let p2 = ok(
        &e.svc,
        "ListKeys",
        json!({"Limit": 1, "Marker": p1["NextMarker"]}),
    );
    assert_eq!(p2["Truncated"], false);
    let mut seen = vec![
        p1["Keys"][0]["KeyId"].clone(),
        p2["Keys"][0]["KeyId"].clone(),
    ];
    seen.retain(|k| k == id);
    assert_eq!(
        seen.len(),
        1,
        "each key appears exactly once across the pages"
    );

    let unsupported = err(
        &e.svc,
        "CreateKey",
        json!({"KeySpec": "ML_DSA_65", "KeyUsage": "SIGN_VERIFY"}),
    );
    assert_eq!(unsupported.type_name(), "UnsupportedOperationException");
    let incompatible = err(
        &e.svc,
        "CreateKey",
        json!({"KeySpec": "ECC_SECG_P256K1", "KeyUsage": "KEY_AGREEMENT"}),
    );
    assert_eq!(incompatible.type_name(), "ValidationException");
    assert_eq!(
        err(&e.svc, "CreateKey", json!({"KeySpec": "AES_999"})).type_name(),
        "ValidationException"
    );
    let bad = err(&e.svc, "DescribeKey", json!({"KeyId": "fake-key-id"}));
    assert_eq!(
        (bad.type_name(), bad.message()),
        ("NotFoundException", "Invalid keyId 'fake-key-id'")
    );
    let missing = uuid::Uuid::new_v4().to_string();
    let nf = err(&e.svc, "DescribeKey", json!({"KeyId": missing}));
    assert_eq!(
        nf.message(),
        format!("Key 'arn:aws:kms:us-east-1:{ACCT}:key/{missing}' does not exist")
    );
    assert_eq!(
        err(&e.svc, "DescribeKey", json!({})).message(),
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"
    );
    ok(
        &e.svc,
        "UpdateKeyDescription",
        json!({"KeyId": id, "Description": "new"}),
    );
    assert_eq!(describe(&e.svc, id)["Description"], "new");
}

#[test]
fn protocol_errors() {
    let e = env();
    let unknown = err(&e.svc, "Frobnicate", json!({}));
    assert_eq!(unknown.type_name(), "UnknownOperationException");
    let (single_region, _) = create(&e.svc);
    let replicate = err(
        &e.svc,
        "ReplicateKey",
        json!({"KeyId": single_region, "ReplicaRegion": "eu-west-1"}),
    );
    assert_eq!(replicate.type_name(), "UnsupportedOperationException");
    assert_eq!(replicate.status(), 400);
    let bad = api::dispatch(&e.svc, "TrentService.CreateKey", b"{not json", &root()).unwrap_err();
    assert_eq!(bad.type_name(), "SerializationException");
    // Empty body means no parameters.
    assert!(api::dispatch(&e.svc, "TrentService.ListKeys", b"", &root()).is_ok());
    let gr = err(&e.svc, "GenerateRandom", json!({}));
    assert_eq!(gr.message(), "NumberOfBytes is required.");
    assert_eq!(
        err(&e.svc, "GenerateRandom", json!({"NumberOfBytes": 0})).message(),
        "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    let r = ok(&e.svc, "GenerateRandom", json!({"NumberOfBytes": 1024}));
    assert_eq!(
        B64.decode(r["Plaintext"].as_str().unwrap()).unwrap().len(),
        1024
    );
}

#[test]
fn crypto_round_trips_context_and_tamper() {
    let e = env();
    let (id, arn) = create(&e.svc);
    let (other, other_arn) = create(&e.svc);
    let ctx = json!({"aws:s3:arn": "arn:aws:s3:::b/k", "n": "1"});
    let r = ok(
        &e.svc,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": B64.encode(b"hello"), "EncryptionContext": ctx}),
    );
    assert_eq!(r["KeyId"], arn);
    assert_eq!(r["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    let blob = r["CiphertextBlob"].as_str().unwrap().to_string();
    let d = ok(
        &e.svc,
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": ctx, "KeyId": arn}),
    );
    assert_eq!(
        B64.decode(d["Plaintext"].as_str().unwrap()).unwrap(),
        b"hello"
    );
    assert_eq!(d["KeyId"], arn);
    assert_eq!(
        d["KeyMaterialId"],
        describe(&e.svc, &id)["CurrentKeyMaterialId"]
    );

    for wrong in [
        json!({}),
        json!({"aws:s3:arn": "arn:aws:s3:::b/k"}),
        json!({"aws:s3:arn": "arn:aws:s3:::b/K", "n": "1"}),
    ] {
        let x = decrypt(&e.svc, &blob, wrong).unwrap_err();
        assert_eq!(
            (x.type_name(), x.message()),
            ("InvalidCiphertextException", "")
        );
    }
    let mut raw = B64.decode(&blob).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    assert_eq!(
        decrypt(&e.svc, &B64.encode(&raw), ctx.clone())
            .unwrap_err()
            .type_name(),
        "InvalidCiphertextException"
    );
    assert_eq!(
        decrypt(&e.svc, &B64.encode(b"garbage"), json!({}))
            .unwrap_err()
            .type_name(),
        "InvalidCiphertextException"
    );
    let inc = err(
        &e.svc,
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": ctx, "KeyId": other}),
    );
    assert_eq!(inc.type_name(), "IncorrectKeyException");

    let re = ok(
        &e.svc,
        "ReEncrypt",
        json!({
        "CiphertextBlob": blob, "SourceEncryptionContext": ctx,
        "DestinationKeyId": other, "DestinationEncryptionContext": {"x": "y"}}),
    );
    assert_eq!(re["SourceKeyId"], arn);
    assert_eq!(re["KeyId"], other_arn);
    assert_eq!(
        decrypt(
            &e.svc,
            re["CiphertextBlob"].as_str().unwrap(),
            json!({"x": "y"})
        )
        .unwrap(),
        b"hello"
    );

    let g = ok(
        &e.svc,
        "GenerateDataKey",
        json!({"KeyId": id, "KeySpec": "AES_256", "EncryptionContext": ctx}),
    );
    let pt = B64.decode(g["Plaintext"].as_str().unwrap()).unwrap();
    assert_eq!(pt.len(), 32);
    assert_eq!(
        decrypt(&e.svc, g["CiphertextBlob"].as_str().unwrap(), ctx.clone()).unwrap(),
        pt
    );
    let g16 = ok(
        &e.svc,
        "GenerateDataKey",
        json!({"KeyId": id, "NumberOfBytes": 16}),
    );
    assert_eq!(
        B64.decode(g16["Plaintext"].as_str().unwrap())
            .unwrap()
            .len(),
        16
    );
    let w = ok(
        &e.svc,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": id, "KeySpec": "AES_128"}),
    );
    assert!(w.get("Plaintext").is_none());
    assert_eq!(
        decrypt(&e.svc, w["CiphertextBlob"].as_str().unwrap(), json!({}))
            .unwrap()
            .len(),
        16
    );
    for bad in [
        json!({"KeyId": id}),
        json!({"KeyId": id, "KeySpec": "AES_256", "NumberOfBytes": 32}),
    ] {
        assert_eq!(
            err(&e.svc, "GenerateDataKey", bad).type_name(),
            "ValidationException"
        );
    }
    let big = err(
        &e.svc,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": B64.encode(vec![0u8; 4097])}),
    );
    assert!(
        big.message().contains("less than or equal to 4096"),
        "{big}"
    );
    let dry = err(
        &e.svc,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "AA==", "DryRun": true}),
    );
    assert_eq!(dry.type_name(), "DryRunOperationException");
}

#[test]
fn key_state_table_for_crypto_operations() {
    let e = env();
    let (id, arn) = create(&e.svc);
    let blob = encrypt(&e.svc, &id, b"x", json!({}));
    let ops = |svc: &KmsService| -> Vec<KmsError> {
        vec![
            call(svc, "Encrypt", json!({"KeyId": id, "Plaintext": "AA=="})).unwrap_err(),
            call(svc, "Decrypt", json!({"CiphertextBlob": blob})).unwrap_err(),
            call(
                svc,
                "GenerateDataKey",
                json!({"KeyId": id, "KeySpec": "AES_256"}),
            )
            .unwrap_err(),
        ]
    };

    ok(&e.svc, "DisableKey", json!({"KeyId": id}));
    assert_eq!(describe(&e.svc, &id)["Enabled"], false);
    for x in ops(&e.svc) {
        assert_eq!(
            (x.type_name(), x.message().to_string()),
            ("DisabledException", format!("{arn} is disabled."))
        );
    }
    ok(&e.svc, "EnableKey", json!({"KeyId": id}));
    assert_eq!(decrypt(&e.svc, &blob, json!({})).unwrap(), b"x");

    ok(&e.svc, "ScheduleKeyDeletion", json!({"KeyId": id}));
    for x in ops(&e.svc) {
        assert_eq!(
            (x.type_name(), x.message().to_string()),
            (
                "KMSInvalidStateException",
                format!("{arn} is pending deletion.")
            )
        );
    }
    assert_eq!(
        err(&e.svc, "EnableKey", json!({"KeyId": id})).type_name(),
        "KMSInvalidStateException"
    );
    assert_eq!(
        err(&e.svc, "ScheduleKeyDeletion", json!({"KeyId": id})).type_name(),
        "KMSInvalidStateException"
    );
    // Reads still work.
    assert_eq!(describe(&e.svc, &id)["KeyState"], "PendingDeletion");

    // Uses of unusable keys are flagged in the audit log.
    let flagged: Vec<String> = audit_lines(&e.svc)
        .iter()
        .filter_map(|l| l["unusable_key_state"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        flagged,
        [
            "Disabled",
            "Disabled",
            "Disabled",
            "PendingDeletion",
            "PendingDeletion",
            "PendingDeletion"
        ]
    );

    // PendingImport: an EXTERNAL key before import.
    let m = ok(&e.svc, "CreateKey", json!({"Origin": "EXTERNAL"}))["KeyMetadata"].clone();
    assert_eq!(m["KeyState"], "PendingImport");
    assert!(m.get("CurrentKeyMaterialId").is_none());
    let ext = m["KeyId"].as_str().unwrap();
    for op in ["Encrypt", "GenerateDataKey"] {
        let x = err(
            &e.svc,
            op,
            json!({"KeyId": ext, "Plaintext": "AA==", "KeySpec": "AES_256"}),
        );
        assert_eq!(
            x.message(),
            format!("{} is pending import.", m["Arn"].as_str().unwrap())
        );
    }
    assert_eq!(
        err(&e.svc, "EnableKey", json!({"KeyId": ext})).type_name(),
        "KMSInvalidStateException"
    );
}

#[test]
fn deletion_window_cancel_and_expiry() {
    let e = env();
    let (id, arn) = create(&e.svc);
    ok(
        &e.svc,
        "CreateAlias",
        json!({"AliasName": "alias/doomed", "TargetKeyId": id}),
    );
    let blob = encrypt(&e.svc, &id, b"x", json!({}));
    assert_eq!(
        err(
            &e.svc,
            "ScheduleKeyDeletion",
            json!({"KeyId": id, "PendingWindowInDays": 6})
        )
        .type_name(),
        "ValidationException"
    );
    let s = ok(&e.svc, "ScheduleKeyDeletion", json!({"KeyId": id}));
    assert_eq!(s["PendingWindowInDays"], 30);
    assert_eq!(s["KeyState"], "PendingDeletion");
    assert_eq!(s["KeyId"], arn);
    assert!(describe(&e.svc, &id)["DeletionDate"].is_f64());
    let c = ok(&e.svc, "CancelKeyDeletion", json!({"KeyId": id}));
    assert_eq!(c["KeyId"], arn);
    let m = describe(&e.svc, &id);
    assert_eq!(m["KeyState"], "Disabled");
    assert!(m.get("DeletionDate").is_none());
    let x = err(&e.svc, "CancelKeyDeletion", json!({"KeyId": id}));
    assert_eq!(x.message(), format!("{arn} is not pending deletion."));

    ok(
        &e.svc,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    e.clock.advance(6 * DAY);
    assert_eq!(e.svc.run_due_work().unwrap(), 0);
    assert_eq!(describe(&e.svc, &id)["KeyState"], "PendingDeletion");
    e.clock.advance(DAY + Duration::from_secs(1));
    assert_eq!(e.svc.run_due_work().unwrap(), 1);
    assert_eq!(
        err(&e.svc, "DescribeKey", json!({"KeyId": id})).type_name(),
        "NotFoundException"
    );
    assert_eq!(
        decrypt(&e.svc, &blob, json!({})).unwrap_err().type_name(),
        "NotFoundException"
    );
    assert_eq!(
        err(&e.svc, "DescribeKey", json!({"KeyId": "alias/doomed"})).type_name(),
        "NotFoundException"
    );
    assert!(
        audit_lines(&e.svc)
            .iter()
            .any(|l| l["event"] == "DeleteKey" && l["key_arn"] == arn.as_str())
    );
}

#[test]
fn aliases_and_aws_managed_key() {
    let e = env();
    let (id, arn) = create(&e.svc);
    let (id2, _) = create(&e.svc);
    ok(
        &e.svc,
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": id}),
    );
    assert_eq!(
        err(
            &e.svc,
            "CreateAlias",
            json!({"AliasName": "alias/app", "TargetKeyId": id})
        )
        .type_name(),
        "AlreadyExistsException"
    );
    assert!(
        err(
            &e.svc,
            "CreateAlias",
            json!({"AliasName": "app", "TargetKeyId": id})
        )
        .message()
        .starts_with("Alias must start with the prefix \"alias/\".")
    );
    assert_eq!(
        err(
            &e.svc,
            "CreateAlias",
            json!({"AliasName": "alias/aws/mine", "TargetKeyId": id})
        )
        .type_name(),
        "NotAuthorizedException"
    );
    assert_eq!(
        err(
            &e.svc,
            "CreateAlias",
            json!({"AliasName": "alias/x", "TargetKeyId": "alias/app"})
        )
        .type_name(),
        "NotFoundException"
    );
    let alias_arn = format!("arn:aws:kms:us-east-1:{ACCT}:alias/app");
    let blob = encrypt(&e.svc, &alias_arn, b"v", json!({}));
    assert_eq!(decrypt(&e.svc, &blob, json!({})).unwrap(), b"v");
    assert_eq!(describe(&e.svc, "alias/app")["Arn"], arn);

    let list = ok(&e.svc, "ListAliases", json!({}));
    let names: Vec<&str> = list["Aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AliasName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alias/app", "alias/aws/s3"]);
    assert!(list["Aliases"][1].get("TargetKeyId").is_none());
    ok(
        &e.svc,
        "UpdateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": id2}),
    );
    let by_key = ok(&e.svc, "ListAliases", json!({"KeyId": id2}));
    assert_eq!(by_key["Aliases"][0]["TargetKeyId"], id2);
    assert_eq!(
        ok(&e.svc, "ListAliases", json!({"KeyId": id}))["Aliases"],
        json!([])
    );
    ok(&e.svc, "DeleteAlias", json!({"AliasName": "alias/app"}));
    assert_eq!(
        err(&e.svc, "DeleteAlias", json!({"AliasName": "alias/app"})).type_name(),
        "NotFoundException"
    );

    // alias/aws/s3: created by DescribeKey / first use, AWS-managed, usable only via S3.
    let m = describe(&e.svc, "alias/aws/s3");
    assert_eq!(m["KeyManager"], "AWS");
    let denied = err(
        &e.svc,
        "Encrypt",
        json!({"KeyId": "alias/aws/s3", "Plaintext": "AA=="}),
    );
    assert_eq!(denied.type_name(), "AccessDeniedException");
    // As AWS: its fixed key policy allows no management, whatever the caller's own policy.
    let refused = err(&e.svc, "DisableKey", json!({"KeyId": m["KeyId"]}));
    assert_eq!(refused.type_name(), "AccessDeniedException");
    assert!(
        refused
            .message()
            .ends_with("because no resource-based policy allows the kms:DisableKey action"),
        "{}",
        refused.message()
    );
    assert_eq!(
        err(
            &e.svc,
            "CreateAlias",
            json!({"AliasName": "alias/sealgate/mine", "TargetKeyId": id})
        )
        .type_name(),
        "NotAuthorizedException"
    );
    let st = ok(&e.svc, "GetKeyRotationStatus", json!({"KeyId": m["KeyId"]}));
    assert_eq!(st["KeyRotationEnabled"], true);
}

#[test]
fn automatic_and_on_demand_rotation_keep_old_ciphertexts() {
    let e = env();
    let (id, arn) = create(&e.svc);
    let before = describe(&e.svc, &id)["CurrentKeyMaterialId"].clone();
    let old = encrypt(&e.svc, &id, b"old", json!({"c": "1"}));
    assert_eq!(
        err(
            &e.svc,
            "EnableKeyRotation",
            json!({"KeyId": id, "RotationPeriodInDays": 89})
        )
        .type_name(),
        "ValidationException"
    );
    ok(
        &e.svc,
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 90}),
    );
    let st = ok(&e.svc, "GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(
        (
            st["KeyRotationEnabled"].clone(),
            st["RotationPeriodInDays"].clone(),
            st["KeyId"].clone()
        ),
        (json!(true), json!(90), json!(arn))
    );
    e.clock.advance(89 * DAY);
    assert_eq!(e.svc.run_due_work().unwrap(), 0);
    e.clock.advance(DAY + Duration::from_secs(1));
    assert_eq!(e.svc.run_due_work().unwrap(), 1);
    let after = describe(&e.svc, &id)["CurrentKeyMaterialId"].clone();
    assert_ne!(before, after);
    assert_eq!(decrypt(&e.svc, &old, json!({"c": "1"})).unwrap(), b"old");
    let newer = ok(&e.svc, "Encrypt", json!({"KeyId": id, "Plaintext": "AA=="}));
    let d = ok(
        &e.svc,
        "Decrypt",
        json!({"CiphertextBlob": newer["CiphertextBlob"]}),
    );
    assert_eq!(d["KeyMaterialId"], after);

    // Disabled keys do not rotate; re-enabling an overdue key rotates it at once.
    ok(&e.svc, "DisableKey", json!({"KeyId": id}));
    e.clock.advance(91 * DAY);
    assert_eq!(e.svc.run_due_work().unwrap(), 0);
    assert_eq!(describe(&e.svc, &id)["CurrentKeyMaterialId"], after);
    ok(&e.svc, "EnableKey", json!({"KeyId": id}));
    let third = describe(&e.svc, &id)["CurrentKeyMaterialId"].clone();
    assert_ne!(third, after);

    // On demand, up to 25.
    for _ in 0..25 {
        ok(&e.svc, "RotateKeyOnDemand", json!({"KeyId": id}));
    }
    let limit = err(&e.svc, "RotateKeyOnDemand", json!({"KeyId": id}));
    assert_eq!(limit.type_name(), "LimitExceededException");
    assert_eq!(decrypt(&e.svc, &old, json!({"c": "1"})).unwrap(), b"old");
    let rotations = ok(
        &e.svc,
        "ListKeyRotations",
        json!({"KeyId": id, "Limit": 1000}),
    );
    let r = rotations["Rotations"].as_array().unwrap();
    assert_eq!(r.len(), 27);
    assert_eq!(r[0]["RotationType"], "AUTOMATIC");
    assert_eq!(r[26]["RotationType"], "ON_DEMAND");
    assert_eq!(r[26]["KeyMaterialState"], "CURRENT");
    let all = ok(
        &e.svc,
        "ListKeyRotations",
        json!({"KeyId": id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL", "Limit": 1000}),
    );
    assert_eq!(all["Rotations"].as_array().unwrap().len(), 28);

    ok(&e.svc, "DisableKeyRotation", json!({"KeyId": id}));
    assert_eq!(
        ok(&e.svc, "GetKeyRotationStatus", json!({"KeyId": id}))["KeyRotationEnabled"],
        false
    );
    ok(&e.svc, "DisableKey", json!({"KeyId": id}));
    assert_eq!(
        err(&e.svc, "RotateKeyOnDemand", json!({"KeyId": id})).type_name(),
        "DisabledException"
    );
}

fn wrap_for_import(params: &Value, material: &[u8]) -> String {
    use rsa::pkcs8::DecodePublicKey;
    let der = B64.decode(params["PublicKey"].as_str().unwrap()).unwrap();
    let public = rsa::PublicKey::from_public_key_der(&der).unwrap();
    B64.encode(public.oaep_encrypt::<sha2::Sha256>(material).unwrap())
}

#[test]
fn imported_key_material_round_trip_delete_reimport_and_expiry() {
    let e = env();
    let (aws_key, _) = create(&e.svc);
    let x = err(
        &e.svc,
        "GetParametersForImport",
        json!({"KeyId": aws_key, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    );
    assert_eq!(x.type_name(), "UnsupportedOperationException");
    assert!(
        x.message()
            .ends_with("origin is AWS_KMS which is not valid for this operation.")
    );

    let m = ok(&e.svc, "CreateKey", json!({"Origin": "EXTERNAL"}))["KeyMetadata"].clone();
    let id = m["KeyId"].as_str().unwrap().to_string();
    let params = ok(
        &e.svc,
        "GetParametersForImport",
        json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    );
    assert_eq!(params["KeyId"], m["Arn"]);
    let material: [u8; 32] = gcm::random_array();
    let wrapped = wrap_for_import(&params, &material);
    let missing_valid_to = err(
        &e.svc,
        "ImportKeyMaterial",
        json!({"KeyId": id, "ImportToken": params["ImportToken"], "EncryptedKeyMaterial": wrapped}),
    );
    assert_eq!(
        missing_valid_to.message(),
        "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
    );
    let imp = ok(
        &e.svc,
        "ImportKeyMaterial",
        json!({"KeyId": id, "ImportToken": params["ImportToken"], "EncryptedKeyMaterial": wrapped, "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
    );
    let mid = imp["KeyMaterialId"].clone();
    let d = describe(&e.svc, &id);
    assert_eq!(
        (d["KeyState"].clone(), d["CurrentKeyMaterialId"].clone()),
        (json!("Enabled"), mid.clone())
    );
    assert_eq!(d["ExpirationModel"], "KEY_MATERIAL_DOES_NOT_EXPIRE");
    let blob = encrypt(&e.svc, &id, b"imported", json!({}));
    assert_eq!(decrypt(&e.svc, &blob, json!({})).unwrap(), b"imported");
    assert_eq!(
        err(&e.svc, "EnableKeyRotation", json!({"KeyId": id})).type_name(),
        "UnsupportedOperationException"
    );

    let del = ok(&e.svc, "DeleteImportedKeyMaterial", json!({"KeyId": id}));
    assert_eq!(del["KeyMaterialId"], mid);
    assert_eq!(describe(&e.svc, &id)["KeyState"], "PendingImport");
    let pi = decrypt(&e.svc, &blob, json!({})).unwrap_err();
    assert_eq!(pi.type_name(), "KMSInvalidStateException");
    assert!(pi.message().ends_with("is pending import."));

    // Different material is refused; the same material restores the same id and old blobs.
    let other: [u8; 32] = gcm::random_array();
    let wrong = err(
        &e.svc,
        "ImportKeyMaterial",
        json!({"KeyId": id, "ImportToken": params["ImportToken"], "EncryptedKeyMaterial": wrap_for_import(&params, &other), "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
    );
    assert_eq!(wrong.type_name(), "IncorrectKeyMaterialException");
    let bad_token = err(
        &e.svc,
        "ImportKeyMaterial",
        json!({"KeyId": id, "ImportToken": B64.encode([1u8; 49]), "EncryptedKeyMaterial": wrapped, "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
    );
    assert_eq!(bad_token.type_name(), "InvalidImportTokenException");
    let valid_to = clock::epoch_secs(e.clock.now()) + 86_400.0;
    let again = ok(
        &e.svc,
        "ImportKeyMaterial",
        json!({"KeyId": id, "ImportToken": params["ImportToken"], "EncryptedKeyMaterial": wrapped, "ValidTo": valid_to}),
    );
    assert_eq!(again["KeyMaterialId"], mid);
    assert_eq!(decrypt(&e.svc, &blob, json!({})).unwrap(), b"imported");
    // Timestamps travel as f64 seconds; storage may round the last bit.
    let stored = describe(&e.svc, &id)["ValidTo"].as_f64().unwrap();
    assert!(
        (stored - valid_to).abs() < 1e-3,
        "ValidTo {stored} != {valid_to}"
    );

    // ValidTo passes: the material is deleted and the key is PendingImport again.
    e.clock.advance(DAY + Duration::from_secs(1));
    assert_eq!(e.svc.run_due_work().unwrap(), 1);
    assert_eq!(describe(&e.svc, &id)["KeyState"], "PendingImport");
    assert_eq!(
        decrypt(&e.svc, &blob, json!({})).unwrap_err().type_name(),
        "KMSInvalidStateException"
    );

    // The import token itself expired after 24 h.
    let expired = err(
        &e.svc,
        "ImportKeyMaterial",
        json!({"KeyId": id, "ImportToken": params["ImportToken"], "EncryptedKeyMaterial": wrapped, "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
    );
    assert_eq!(expired.type_name(), "ExpiredImportTokenException");
}

#[test]
fn grants_let_a_user_in_and_out() {
    let e = env();
    let (id, arn) = create(&e.svc);
    let alice = alice();
    let enc = |ctx: Value| {
        call_as(
            &e.svc,
            &alice,
            "Encrypt",
            json!({"KeyId": arn, "Plaintext": "AA==", "EncryptionContext": ctx}),
        )
    };
    let denied = enc(json!({})).unwrap_err();
    assert_eq!(denied.type_name(), "AccessDeniedException");

    let g = ok(
        &e.svc,
        "CreateGrant",
        json!({
        "KeyId": id, "GranteePrincipal": alice.arn, "RetiringPrincipal": alice.arn,
        "Operations": ["Encrypt", "Decrypt"], "Name": "n1",
        "Constraints": {"EncryptionContextSubset": {"app": "x"}}}),
    );
    let grant_id = g["GrantId"].as_str().unwrap().to_string();
    assert_eq!(grant_id.len(), 64);
    assert!(enc(json!({"app": "x", "more": "y"})).is_ok());
    assert_eq!(
        enc(json!({"app": "z"})).unwrap_err().type_name(),
        "AccessDeniedException"
    );
    // Same name and parameters: same grant, new token.
    let g2 = ok(
        &e.svc,
        "CreateGrant",
        json!({
        "KeyId": id, "GranteePrincipal": alice.arn, "RetiringPrincipal": alice.arn,
        "Operations": ["Decrypt", "Encrypt"], "Name": "n1",
        "Constraints": {"EncryptionContextSubset": {"app": "x"}}}),
    );
    assert_eq!(g2["GrantId"], grant_id.as_str());
    assert_ne!(g2["GrantToken"], g["GrantToken"]);
    assert_eq!(
        err(
            &e.svc,
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": alice.arn, "Operations": ["Sign"]})
        )
        .type_name(),
        "ValidationException"
    );

    let list = ok(&e.svc, "ListGrants", json!({"KeyId": id}));
    let lg = &list["Grants"][0];
    assert_eq!(
        (
            lg["KeyId"].as_str().unwrap(),
            lg["GrantId"].as_str().unwrap()
        ),
        (arn.as_str(), grant_id.as_str())
    );
    assert_eq!(lg["IssuingAccount"], format!("arn:aws:iam::{ACCT}:root"));
    assert_eq!(lg["Constraints"]["EncryptionContextSubset"]["app"], "x");
    let retirable = call_as(
        &e.svc,
        &root(),
        "ListRetirableGrants",
        json!({"RetiringPrincipal": alice.arn}),
    )
    .unwrap();
    assert_eq!(retirable["Grants"].as_array().unwrap().len(), 1);

    call_as(
        &e.svc,
        &alice,
        "RetireGrant",
        json!({"GrantToken": g["GrantToken"]}),
    )
    .unwrap();
    assert_eq!(
        enc(json!({"app": "x"})).unwrap_err().type_name(),
        "AccessDeniedException"
    );
    assert_eq!(
        ok(&e.svc, "ListGrants", json!({"KeyId": id}))["Grants"],
        json!([])
    );

    let g3 = ok(
        &e.svc,
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": alice.arn, "Operations": ["Encrypt"]}),
    );
    assert!(enc(json!({})).is_ok());
    ok(
        &e.svc,
        "RevokeGrant",
        json!({"KeyId": id, "GrantId": g3["GrantId"]}),
    );
    assert!(enc(json!({})).is_err());
    assert_eq!(
        err(
            &e.svc,
            "RevokeGrant",
            json!({"KeyId": id, "GrantId": g3["GrantId"]})
        )
        .type_name(),
        "NotFoundException"
    );
}

#[test]
fn denied_call_changes_nothing_and_is_audited() {
    let e = env();
    let (id, arn) = create(&e.svc);
    let x = call_as(
        &e.svc,
        &alice(),
        "ScheduleKeyDeletion",
        json!({"KeyId": id}),
    )
    .unwrap_err();
    assert_eq!(x.type_name(), "AccessDeniedException");
    assert_eq!(describe(&e.svc, &id)["KeyState"], "Enabled");
    let lines = audit_lines(&e.svc);
    let rec = lines
        .iter()
        .find(|l| l["event"] == "ScheduleKeyDeletion")
        .unwrap();
    assert_eq!(rec["outcome"], "failure");
    assert_eq!(rec["error_code"], "AccessDeniedException");
    assert_eq!(rec["principal"], alice().arn);
    assert_eq!(rec["key_arn"], arn);
    assert_eq!(rec["source"]["kind"], "kms-api");
}

#[test]
fn policies_and_tags() {
    let e = env();
    let (id, _) = create(&e.svc);
    let p = ok(&e.svc, "GetKeyPolicy", json!({"KeyId": id}));
    assert_eq!(p["Policy"], policy::default_key_policy(ACCT));
    assert_eq!(p["PolicyName"], "default");
    assert_eq!(
        ok(&e.svc, "ListKeyPolicies", json!({"KeyId": id}))["PolicyNames"],
        json!(["default"])
    );
    assert_eq!(
        err(
            &e.svc,
            "PutKeyPolicy",
            json!({"KeyId": id, "Policy": "{nope"})
        )
        .type_name(),
        "MalformedPolicyDocumentException"
    );
    // A policy that would lock the caller out is refused unless bypassed.
    let lockout = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/bob"},"Action":"kms:*","Resource":"*"}]}"#;
    assert_eq!(
        call_as(
            &e.svc,
            &alice(),
            "PutKeyPolicy",
            json!({"KeyId": id, "Policy": lockout})
        )
        .unwrap_err()
        .type_name(),
        "AccessDeniedException"
    );
    let newp = policy::default_key_policy(ACCT).replace("key-default-1", "custom");
    ok(&e.svc, "PutKeyPolicy", json!({"KeyId": id, "Policy": newp}));
    assert_eq!(
        ok(&e.svc, "GetKeyPolicy", json!({"KeyId": id}))["Policy"],
        newp
    );

    ok(
        &e.svc,
        "TagResource",
        json!({"KeyId": id, "Tags": [{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": "2"}]}),
    );
    ok(
        &e.svc,
        "TagResource",
        json!({"KeyId": id, "Tags": [{"TagKey": "a", "TagValue": "3"}]}),
    );
    ok(
        &e.svc,
        "UntagResource",
        json!({"KeyId": id, "TagKeys": ["b", "missing"]}),
    );
    assert_eq!(
        ok(&e.svc, "ListResourceTags", json!({"KeyId": id}))["Tags"],
        json!([{"TagKey": "a", "TagValue": "3"}])
    );
    let reserved = err(
        &e.svc,
        "TagResource",
        json!({"KeyId": id, "Tags": [{"TagKey": "aws:x", "TagValue": ""}]}),
    );
    assert_eq!(
        (reserved.type_name(), reserved.message()),
        ("TagException", "Tags beginning with aws: are reserved")
    );
    let tagged = ok(
        &e.svc,
        "CreateKey",
        json!({"Tags": [{"TagKey": "t", "TagValue": "v"}]}),
    );
    assert_eq!(
        ok(
            &e.svc,
            "ListResourceTags",
            json!({"KeyId": tagged["KeyMetadata"]["KeyId"]})
        )["Tags"][0]["TagKey"],
        "t"
    );
}

#[test]
fn persistence_across_reopen() {
    let e = env();
    let (id, arn) = create(&e.svc);
    ok(
        &e.svc,
        "CreateAlias",
        json!({"AliasName": "alias/keep", "TargetKeyId": id}),
    );
    ok(&e.svc, "RotateKeyOnDemand", json!({"KeyId": id}));
    let blob = encrypt(&e.svc, "alias/keep", b"persist", json!({"k": "v"}));
    let Env { dir, clock, svc } = e;
    drop(svc);
    let svc = open(&dir, &clock);
    assert_eq!(decrypt(&svc, &blob, json!({"k": "v"})).unwrap(), b"persist");
    assert_eq!(describe(&svc, "alias/keep")["Arn"], arn);
    assert_eq!(
        ok(&svc, "ListKeyRotations", json!({"KeyId": id}))["Rotations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_plaintext_or_key_material_in_database_or_audit_log() {
    let e = env();
    let (id, _) = create(&e.svc);
    let marker = b"TOP-SECRET-PLAINTEXT-MARKER-7f3a";
    let blob = encrypt(&e.svc, &id, marker, json!({"ctx": "visible"}));
    assert_eq!(
        decrypt(&e.svc, &blob, json!({"ctx": "visible"})).unwrap(),
        marker
    );
    let g = ok(
        &e.svc,
        "GenerateDataKey",
        json!({"KeyId": id, "KeySpec": "AES_256"}),
    );
    let data_key = B64.decode(g["Plaintext"].as_str().unwrap()).unwrap();

    let ext =
        ok(&e.svc, "CreateKey", json!({"Origin": "EXTERNAL"}))["KeyMetadata"]["KeyId"].clone();
    let params = ok(
        &e.svc,
        "GetParametersForImport",
        json!({"KeyId": ext, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    );
    let material: [u8; 32] = gcm::random_array();
    ok(
        &e.svc,
        "ImportKeyMaterial",
        json!({"KeyId": ext, "ImportToken": params["ImportToken"], "EncryptedKeyMaterial": wrap_for_import(&params, &material), "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
    );
    encrypt(&e.svc, ext.as_str().unwrap(), marker, json!({}));

    let root_key = std::fs::read(e.dir.path().join(rootkey::DEFAULT_FILE_NAME)).unwrap();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(e.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != rootkey::DEFAULT_FILE_NAME {
            files.push(std::fs::read(&path).unwrap());
        }
    }
    assert!(files.len() >= 2, "sqlite + audit log");
    let secrets: Vec<Vec<u8>> = vec![
        marker.to_vec(),
        B64.encode(marker).into_bytes(),
        data_key.clone(),
        B64.encode(&data_key).into_bytes(),
        hex::encode(&data_key).into_bytes(),
        material.to_vec(),
        B64.encode(material).into_bytes(),
        hex::encode(material).into_bytes(),
        root_key.clone(),
    ];
    for f in &files {
        for s in &secrets {
            assert!(!contains(f, s), "a secret leaked into a data file");
        }
    }
    // The context is recorded (as CloudTrail does).
    assert!(
        audit_lines(&e.svc)
            .iter()
            .any(|l| l["encryption_context"]["ctx"] == "visible")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_client_for_the_gateway() {
    let e = env();
    let kms: Arc<dyn Kms> = Arc::new(e.svc.clone());
    let caller = root();
    let source = Source::S3Gateway {
        bucket: "b".into(),
        key: Some("k".into()),
        via: None,
    };
    let arn = kms
        .resolve_key_arn("alias/aws/s3", &caller, &source)
        .await
        .unwrap();
    let ctx: BTreeMap<String, String> =
        [("aws:s3:arn".to_string(), "arn:aws:s3:::b/k".to_string())].into();
    let dk = kms
        .generate_data_key("alias/aws/s3", &ctx, &caller, &source)
        .await
        .unwrap();
    assert_eq!(dk.key_arn, arn);
    assert!(!format!("{dk:?}").contains(&hex::encode(*dk.plaintext)));
    let back = kms
        .decrypt(&dk.ciphertext_blob, &ctx, Some(&arn), &caller, &source)
        .await
        .unwrap();
    assert_eq!(&back.plaintext[..], &dk.plaintext[..]);
    assert_eq!(back.key_arn, arn);

    let (other, _) = create(&e.svc);
    let wrong = kms
        .decrypt(&dk.ciphertext_blob, &ctx, Some(&other), &caller, &source)
        .await
        .unwrap_err();
    assert_eq!(
        (wrong.type_name(), s3_code(&wrong), s3_status(&wrong)),
        (
            "IncorrectKeyException",
            "KMS.IncorrectKeyException".to_string(),
            400
        )
    );
    let bad_ctx = kms
        .decrypt(
            &dk.ciphertext_blob,
            &BTreeMap::new(),
            None,
            &caller,
            &source,
        )
        .await
        .unwrap_err();
    assert_eq!(s3_code(&bad_ctx), "KMS.InvalidCiphertextException");
    let denied = kms
        .generate_data_key(&other, &ctx, &alice(), &source)
        .await
        .unwrap_err();
    assert_eq!(
        (s3_code(&denied).as_str(), s3_status(&denied)),
        ("AccessDenied", 403)
    );
    ok(&e.svc, "DisableKey", json!({"KeyId": other}));
    let disabled = kms
        .generate_data_key(&other, &ctx, &caller, &source)
        .await
        .unwrap_err();
    assert_eq!(s3_code(&disabled), "KMS.DisabledException");
    let d = kms.describe(&other, &caller, &source).await.unwrap();
    assert_eq!((d.key_state.as_str(), d.enabled), ("Disabled", false));
    assert_eq!(s3_status(&KmsClientError::Unavailable("down".into())), 503);

    let lines = audit_lines(&e.svc);
    let gw = lines
        .iter()
        .filter(|l| l["source"]["kind"] == "s3-gateway")
        .count();
    assert!(gw >= 7, "every in-process use is audited");
    assert!(lines.iter().any(|l| l["source"]["bucket"] == "b"
        && l["event"] == "GenerateDataKey"
        && l["unusable_key_state"] == "Disabled"));
}

/// The S3 error code and status the gateway answers for a KMS failure: the production mapping
/// (`From<KmsClientError> for S3Error`), so these tests check what clients see.
fn s3_code(e: &KmsClientError) -> String {
    crate::s3::error::S3Error::from(e.clone()).code().to_owned()
}

fn s3_status(e: &KmsClientError) -> u16 {
    crate::s3::error::S3Error::from(e.clone()).status().as_u16()
}

#[test]
fn service_key_of_an_earlier_build_is_converted_and_only_the_service_uses_it() {
    let Env { dir, clock, svc } = env();
    // What an earlier build did: CreateKey + the alias, then someone disabled the key.
    let (id, arn) = create(&svc);
    let blob = encrypt(&svc, &id, b"ring", json!({"p": "1"}));
    svc.inner
        .store
        .with_tx(|tx| {
            Ok(db::put_alias(
                tx,
                &db::AliasRow {
                    name: SSE_S3_SERVICE_ALIAS.into(),
                    key_id: id.clone(),
                    created: 1.0,
                    updated: 1.0,
                },
            )?)
        })
        .unwrap();
    ok(&svc, "DisableKey", json!({"KeyId": id}));
    drop(svc);

    let gateway = Caller {
        arn: format!("arn:aws:iam::{ACCT}:user/gateway"),
        account: ACCT.into(),
        identity_policy: None,
        network: None,
    };
    let cfg = KmsConfig {
        clock: clock.clone(),
        service_principals: vec![gateway.arn.clone()],
        ..KmsConfig::default()
    };
    let svc = KmsService::open(dir.path(), cfg).unwrap();
    let m = describe(&svc, SSE_S3_SERVICE_ALIAS);
    assert_eq!(
        (
            m["Arn"].as_str(),
            m["KeyManager"].as_str(),
            m["KeyState"].as_str()
        ),
        (Some(arn.as_str()), Some("AWS"), Some("Enabled"))
    );
    let converted: Vec<Value> = audit_lines(&svc)
        .into_iter()
        .filter(|l| l["event"] == service_keys::CONVERT_EVENT)
        .collect();
    assert_eq!(converted.len(), 1);
    assert_eq!(converted[0]["key_arn"], arn.as_str());
    assert_eq!(converted[0]["unusable_key_state"], "Disabled");

    let body = json!({"CiphertextBlob": blob, "EncryptionContext": {"p": "1"}});
    assert_eq!(
        call(&svc, "Decrypt", body.clone()).unwrap_err().type_name(),
        "AccessDeniedException",
        "root may not use the service key"
    );
    let opened = call_as(&svc, &gateway, "Decrypt", body).unwrap();
    assert_eq!(
        B64.decode(opened["Plaintext"].as_str().unwrap()).unwrap(),
        b"ring"
    );
    assert_eq!(
        call_as(&svc, &gateway, "DisableKey", json!({"KeyId": id}))
            .unwrap_err()
            .type_name(),
        "AccessDeniedException",
        "not even the service manages it over the API"
    );
    // A service principal gets nothing more on customer-managed keys.
    let (other, _) = create(&svc);
    assert_eq!(
        call_as(
            &svc,
            &gateway,
            "Encrypt",
            json!({"KeyId": other, "Plaintext": "AA=="})
        )
        .unwrap_err()
        .type_name(),
        "AccessDeniedException"
    );
    // Reopening converts nothing more.
    drop(svc);
    let svc = open(&dir, &clock);
    let count = audit_lines(&svc)
        .iter()
        .filter(|l| l["event"] == service_keys::CONVERT_EVENT)
        .count();
    assert_eq!(count, 1);
}
