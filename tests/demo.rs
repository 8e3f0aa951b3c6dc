//! `sealgate demo` end to end: the real binary starts its own gateway (kept with `--keep-dir`),
//! and its JSON report is checked against what that gateway's data dir holds — the KMS audit
//! log, the meta records and the ciphertext files — and against the error codes each event
//! must produce.
mod common;

use std::path::Path;

use serde_json::Value;

fn run_demo(dir: &Path, format: &str) -> String {
    let out = std::process::Command::new(common::bin())
        .args(["demo", "--format", format, "--keep-dir"])
        .arg(dir)
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run sealgate demo");
    assert!(
        out.status.success(),
        "demo failed: {}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    );
    String::from_utf8(out.stdout).unwrap()
}

fn method<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["method"] == name)
        .unwrap_or_else(|| panic!("no {name} in the report"))
}

/// Steps of `event` for `method`: `(action, status, code, ok)`.
fn steps(report: &Value, name: &str, event: &str) -> Vec<Value> {
    method(report, name)["events"][event]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn audit_records(data_dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(data_dir.join("kms").join("kms-audit.log")).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn demo_json_matches_the_store_and_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let report: Value = serde_json::from_str(&run_demo(dir.path(), "json")).unwrap();
    let data_dir = dir.path().join("data");
    assert_eq!(report["gateway"]["embedded"], true);
    assert_eq!(report["gateway"]["test_clock"], true);
    let plain_size = report["plaintext_size"].as_u64().unwrap();
    assert!(plain_size > 0);
    let names: Vec<&str> = report["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["SSE-S3", "SSE-KMS", "SSE-C", "CSE-KMS", "CSE-C"]);
    let audit = audit_records(&data_dir);
    let in_audit = |request_id: &Value| {
        audit
            .iter()
            .find(|r| &r["request_id"] == request_id)
            .unwrap_or_else(|| panic!("request {request_id} not in the audit log"))
            .clone()
    };

    for m in report["methods"].as_array().unwrap() {
        let name = m["method"].as_str().unwrap();
        assert_eq!(m["put"]["ok"], true, "{name}: {}", m["put"]);
        assert_eq!(m["full_read"]["ok"], true, "{name}: {}", m["full_read"]);
        // Stored sizes are the files on disk, and no file holds the plaintext.
        let stored = &m["stored"];
        let mut total = 0;
        for f in stored["files"].as_array().unwrap() {
            let path = data_dir.join(f["path"].as_str().unwrap());
            let size = std::fs::metadata(&path).unwrap().len();
            assert_eq!(f["size"].as_u64(), Some(size), "{name}: {}", path.display());
            total += size;
            let head = &std::fs::read(&path).unwrap()[..16];
            assert_eq!(stored["first_bytes_hex"], hex::encode(head), "{name}");
        }
        assert_eq!(stored["stored_size"].as_u64(), Some(total), "{name}");
        assert_eq!(
            m["stored_overhead"].as_i64(),
            Some(total as i64 - plain_size as i64)
        );
        assert_eq!(stored["contains_plaintext"], false, "{name}");
        assert!(
            data_dir
                .join(stored["meta_record"].as_str().unwrap())
                .is_file(),
            "{name}"
        );
        // Every KMS call listed is a record of the audit log, with the same event.
        for call in m["kms_calls_put"]
            .as_array()
            .unwrap()
            .iter()
            .chain(m["kms_calls_get"].as_array().unwrap())
        {
            let rec = in_audit(&call["request_id"]);
            assert_eq!(rec["event"], call["event"], "{name}");
            assert_eq!(rec["outcome"], call["outcome"], "{name}");
        }
        let client_side = name.starts_with("CSE");
        let expected_size = plain_size + if client_side { 16 } else { 0 };
        assert_eq!(m["object_size"].as_u64(), Some(expected_size), "{name}");
    }
    // The demo's plaintext is nowhere in the data dir.
    assert_eq!(
        common::find_bytes(&data_dir, b"sealgate demo plaintext, line 00001"),
        None
    );

    // SSE-KMS: the gateway called GenerateDataKey for this very object; the meta record holds
    // the KMS blob of the main key.
    let sse_kms = method(&report, "SSE-KMS");
    let gdk = &sse_kms["kms_calls_put"][0];
    assert_eq!(gdk["event"], "GenerateDataKey");
    let rec = in_audit(&gdk["request_id"]);
    assert_eq!(rec["source"]["kind"], "s3-gateway");
    assert_eq!(rec["source"]["bucket"], sse_kms["bucket"]);
    assert_eq!(rec["source"]["key"], sse_kms["key"]);
    assert_eq!(rec["key_arn"], report["main_kms_key_arn"]);
    assert_eq!(sse_kms["kms_calls_get"][0]["event"], "Decrypt");
    let record: Value = serde_json::from_slice(
        &std::fs::read(data_dir.join(sse_kms["stored"]["meta_record"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    assert_eq!(record["sealing"]["mode"], "SseKms");
    assert_eq!(record["sealing"]["key_arn"], report["main_kms_key_arn"]);
    // SSE-S3 and SSE-C: no KMS call at all.
    for name in ["SSE-S3", "SSE-C", "CSE-C"] {
        let m = method(&report, name);
        assert_eq!(m["kms_calls_put"].as_array().unwrap().len(), 0, "{name}");
        assert_eq!(m["kms_calls_get"].as_array().unwrap().len(), 0, "{name}");
    }
    // CSE-KMS: the client called the KMS API itself; the wrapped key is object metadata.
    let cse_kms = method(&report, "CSE-KMS");
    let rec = in_audit(&cse_kms["kms_calls_put"][0]["request_id"]);
    assert_eq!(rec["event"], "GenerateDataKey");
    assert_eq!(rec["source"]["kind"], "kms-api");
    // The S3 Encryption Client's key-committing V3 format: suite 115 in the context.
    assert_eq!(rec["encryption_context"]["aws:x-amz-cek-alg"], "115");
    assert_eq!(cse_kms["object_metadata"]["x-amz-w"], "12");
    assert_eq!(cse_kms["object_metadata"]["x-amz-c"], "115");
    assert_eq!(method(&report, "CSE-C")["object_metadata"]["x-amz-w"], "02");

    // Events, as codes.
    let code = |s: &Value| s["outcome"]["code"].as_str().map(str::to_owned);
    let disabled = steps(&report, "SSE-KMS", "kms_key_disabled");
    assert_eq!(disabled[0]["outcome"]["status"], 400);
    assert_eq!(code(&disabled[0]).as_deref(), Some("KMS.DisabledException"));
    assert_eq!(disabled[1]["outcome"]["ok"], true);
    let disabled = steps(&report, "CSE-KMS", "kms_key_disabled");
    assert_eq!(code(&disabled[0]).as_deref(), Some("DisabledException"));
    assert_eq!(disabled[1]["outcome"]["ok"], true);
    for name in ["SSE-S3", "SSE-C", "CSE-C"] {
        for s in steps(&report, name, "kms_key_disabled") {
            assert_eq!(s["outcome"]["ok"], true, "{name} {s}");
        }
    }
    // The disabled key's failures are in the audit log, flagged.
    let disabled_key = report["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "kms_key_disabled")
        .unwrap()["kms_key_arn"]
        .clone();
    assert!(audit.iter().any(|r| r["key_arn"] == disabled_key
        && r["outcome"] == "failure"
        && r["unusable_key_state"] == "Disabled"));

    let deleted = steps(&report, "SSE-KMS", "kms_key_deleted");
    assert_eq!(
        code(&deleted[0]).as_deref(),
        Some("KMS.KMSInvalidStateException")
    );
    assert_eq!(code(&deleted[1]).as_deref(), Some("KMS.NotFoundException"));
    let deleted = steps(&report, "CSE-KMS", "kms_key_deleted");
    assert_eq!(
        code(&deleted[0]).as_deref(),
        Some("KMSInvalidStateException")
    );
    assert_eq!(code(&deleted[1]).as_deref(), Some("NotFoundException"));
    for s in steps(&report, "SSE-C", "kms_key_deleted") {
        assert_eq!(s["outcome"]["ok"], true, "{s}");
    }

    for name in ["SSE-KMS", "CSE-KMS"] {
        let rotated = steps(&report, name, "kms_key_rotated");
        assert_eq!(rotated.len(), 1);
        assert_eq!(rotated[0]["outcome"]["ok"], true, "{name}");
    }

    let lost = steps(&report, "SSE-C", "customer_key_lost");
    assert_eq!(lost[0]["outcome"]["status"], 403);
    assert_eq!(code(&lost[0]).as_deref(), Some("AccessDenied"));
    let lost = steps(&report, "CSE-C", "customer_key_lost");
    assert_eq!(code(&lost[0]).as_deref(), Some("client:WrongKey"));
    assert_eq!(
        method(&report, "SSE-S3")["events"]["customer_key_lost"]["applicable"],
        false
    );

    let http = |name: &str| steps(&report, name, "plain_http")[0]["outcome"].clone();
    assert_eq!(http("SSE-C")["status"], 400);
    assert_eq!(http("SSE-C")["code"], "InvalidRequest");
    assert_eq!(http("SSE-S3")["plaintext_on_wire"], true);
    assert_eq!(http("SSE-KMS")["plaintext_on_wire"], true);
    assert_eq!(http("CSE-KMS")["plaintext_on_wire"], false);
    assert_eq!(http("CSE-C")["plaintext_on_wire"], false);

    // The asymmetric story: the signature verifies here too, with the public key alone.
    let signing = &report["signing"];
    assert_eq!(signing["key_spec"], "ECC_NIST_P256");
    assert_eq!(signing["signing_algorithm"], "ECDSA_SHA_256");
    assert_eq!(signing["verified_offline"], true);
    assert_eq!(signing["tampered_message_verified_offline"], false);
    assert_eq!(signing["answers_with_private_key"], 0);
    let hex_field = |name: &str| hex::decode(signing[name].as_str().unwrap()).unwrap();
    {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        use p256::pkcs8::DecodePublicKey;
        use sha2::Digest;
        let public =
            p256::ecdsa::VerifyingKey::from_public_key_der(&hex_field("public_key_der_hex"))
                .unwrap();
        let signature = hex_field("signature_hex");
        let sig = p256::ecdsa::DerSignature::from_bytes(&signature).unwrap();
        let message = signing["message"].as_str().unwrap().as_bytes();
        public
            .verify_prehash(&sha2::Sha256::digest(message), &sig)
            .expect("the demo's signature verifies");
        assert!(
            public
                .verify_prehash(&sha2::Sha256::digest(b"another message"), &sig)
                .is_err()
        );
    }
    let mut fields: Vec<&str> = signing["public_key_answer_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert!(fields.contains(&"PublicKey"), "{fields:?}");
    assert!(
        fields.iter().all(|f| !f.starts_with("PrivateKey")),
        "{fields:?}"
    );
    // Every call on the signing key, as the audit log on disk has them.
    let signing_arn = signing["key_arn"].as_str().unwrap();
    let logged: Vec<String> = audit
        .iter()
        .filter(|r| r["key_arn"] == signing_arn)
        .map(|r| {
            format!(
                "{}:{}",
                r["event"].as_str().unwrap(),
                r["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        logged,
        ["CreateKey:success", "Sign:success", "GetPublicKey:success"]
    );
    let reported: Vec<&str> = signing["kms_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["event"].as_str().unwrap())
        .collect();
    assert_eq!(reported, ["CreateKey", "Sign", "GetPublicKey"]);
    check_versioned_overwrite(&report, &data_dir);
}

/// The versioned overwrite: two versions of one key, both read back by id, with wrapped-key
/// fingerprints that differ and are those of the records in the data dir.
fn check_versioned_overwrite(report: &Value, data_dir: &Path) {
    let v = &report["versioned_overwrite"];
    let versions = v["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{v}");
    let on_disk = common::wrapped_key_fingerprints(data_dir, v["bucket"].as_str().unwrap());
    for s in versions {
        assert_eq!(s["put"]["ok"], true, "{s}");
        assert_eq!(s["read"]["ok"], true, "{s}");
        let id = s["version_id"].as_str().expect("a version id");
        assert_eq!(id.len(), 32, "{id}");
        assert_eq!(
            s["wrapped_key_fingerprint"].as_str(),
            on_disk.get(id).map(String::as_str),
            "version {id}"
        );
    }
    assert_ne!(versions[0]["version_id"], versions[1]["version_id"]);
    assert_ne!(
        versions[0]["wrapped_key_fingerprint"],
        versions[1]["wrapped_key_fingerprint"]
    );
    assert_eq!(v["own_data_keys"], true, "{v}");
}

#[test]
fn demo_text_is_a_table_of_the_five_methods() {
    let dir = tempfile::tempdir().unwrap();
    let text = run_demo(dir.path(), "text");
    let header = text
        .lines()
        .find(|l| l.contains("SSE-S3"))
        .expect("header row");
    let mut at = 0;
    for name in ["SSE-S3", "SSE-KMS", "SSE-C", "CSE-KMS", "CSE-C"] {
        let pos = header[at..]
            .find(name)
            .unwrap_or_else(|| panic!("{name}: {header}"));
        at += pos + name.len();
    }
    for row in [
        "Data key generated by",
        "Wrapped key stored in",
        "KMS calls on PUT",
        "Stored bytes",
        "Reader must present",
        "Event: KMS key",
        "Event: Read over plain",
    ] {
        assert!(text.contains(row), "{row} missing:\n{text}");
    }
    assert!(text.contains("KMS.DisabledException"), "{text}");
    assert!(
        text.contains("Versioned overwrite")
            && text.contains("each version keeps its own data key"),
        "{text}"
    );
    assert!(
        text.contains("Asymmetric key: signed in the KMS, verified offline"),
        "{text}"
    );
    assert!(
        text.contains("verified offline with the public key from GetPublicKey: valid"),
        "{text}"
    );
    assert!(
        text.contains("answers carrying private key material: 0"),
        "{text}"
    );
}
