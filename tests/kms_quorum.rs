//! The two-person rule (docs/KMS.md "Two-person rule"): with `[kms_quorum]` governing
//! ScheduleKeyDeletion, alice's call is held as an approval request until another principal
//! allowed `sealgate:ApproveRequest` (carol, or the root) approves it with `sealgate kms
//! approve`; nobody approves their own request, the approval binds the exact parameters, and
//! it expires.
mod common;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::KeyState;
use common::{ALICE, BOB, Options, Server, advance_clock, kms_cli, kms_users_toml};

const CAROL: (&str, &str) = (
    "CAROLACCESSKEY000001",
    "carol-secret-key-000000000000000000000001",
);

fn config() -> String {
    format!(
        r#"{}
[[users]]
name = "carol"
access_key = "{}"
secret_key = "{}"
policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sealgate:ApproveRequest","Resource":"*"}}]}}'''

[kms_quorum]
operations = ["ScheduleKeyDeletion", "DisableKey"]
approvals = 1
expires_after = "1h"
"#,
        kms_users_toml(),
        CAROL.0,
        CAROL.1
    )
}

/// The approval request id in an ApprovalRequiredException message.
fn request_id(message: &str) -> String {
    let rest = message
        .split_once("approval request ")
        .unwrap_or_else(|| panic!("no request id in {message:?}"))
        .1;
    rest.split_whitespace().next().unwrap().to_owned()
}

async fn schedule(kms: &aws_sdk_kms::Client, key: &str, days: i32) -> Result<(), (String, String)> {
    kms.schedule_key_deletion()
        .key_id(key)
        .pending_window_in_days(days)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            (
                e.code().unwrap_or_default().to_owned(),
                e.message().unwrap_or_default().to_owned(),
            )
        })
}

async fn state(kms: &aws_sdk_kms::Client, key: &str) -> KeyState {
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

async fn new_key(kms: &aws_sdk_kms::Client) -> String {
    let out = kms.create_key().send().await.unwrap();
    out.key_metadata().unwrap().key_id().to_owned()
}

#[tokio::test]
async fn schedule_key_deletion_needs_a_second_principal() {
    let server = Server::start_with(Options {
        kms_only: true,
        test_clock: true,
        config_toml: Some(config()),
        ..Options::default()
    });
    let alice = server.kms_as(Some(ALICE)).await;
    let key = new_key(&alice).await;

    // The first call is held: a clear error naming the request; nothing happens.
    let (code, message) = schedule(&alice, &key, 7).await.unwrap_err();
    assert_eq!(code, "ApprovalRequiredException");
    assert!(message.contains("0 of 1 approvals"), "{message}");
    let id = request_id(&message);
    assert_eq!(state(&alice, &key).await, KeyState::Enabled);
    // Asking again waits on the same request.
    let (_, again) = schedule(&alice, &key, 7).await.unwrap_err();
    assert_eq!(request_id(&again), id);

    // Approving takes `sealgate:ApproveRequest`, which neither alice (`kms:*`) nor bob has.
    for who in [ALICE, BOB] {
        let (ok, _, err) = kms_cli(&server, Some(who), &["approve", &id], "");
        assert!(!ok && err.contains("AccessDeniedException"), "{err}");
    }
    assert_eq!(state(&alice, &key).await, KeyState::Enabled);
    // Even a principal allowed to approve (the root) cannot approve its own request.
    let root = server.kms().await;
    let own = new_key(&root).await;
    let (_, m) = schedule(&root, &own, 7).await.unwrap_err();
    let (ok, _, err) = kms_cli(&server, None, &["approve", &request_id(&m)], "");
    assert!(
        !ok && err.contains("AccessDeniedException") && err.contains("cannot approve it"),
        "{err}"
    );
    assert_eq!(state(&root, &own).await, KeyState::Enabled);

    // carol approves; the act happens when alice repeats the call.
    let (ok, out, err) = kms_cli(&server, Some(CAROL), &["approve", &id], "");
    assert!(ok, "{err}");
    let answer: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["Status"], "APPROVED");
    assert_eq!(answer["Operation"], "ScheduleKeyDeletion");
    assert!(
        answer["Requester"]
            .as_str()
            .unwrap()
            .ends_with("user/alice")
    );
    assert!(
        answer["Approvers"][0]
            .as_str()
            .unwrap()
            .ends_with("user/carol")
    );
    let (ok, _, err) = kms_cli(&server, Some(CAROL), &["approve", &id], "");
    assert!(
        !ok && err.contains("approved"),
        "one approval per principal: {err}"
    );
    assert_eq!(state(&alice, &key).await, KeyState::Enabled);
    schedule(&alice, &key, 7).await.unwrap();
    assert_eq!(state(&alice, &key).await, KeyState::PendingDeletion);
    // Used up: it cannot be approved (or used) again.
    let (ok, _, err) = kms_cli(&server, None, &["approve", &id], "");
    assert!(!ok && err.contains("carried out already"), "{err}");

    // The approval binds the parameters: a 30-day window is another request.
    let other = new_key(&alice).await;
    let (_, m) = schedule(&alice, &other, 7).await.unwrap_err();
    let seven = request_id(&m);
    let (ok, _, err) = kms_cli(&server, None, &["approve", &seven], "");
    assert!(ok, "root may approve: {err}");
    let (code, m) = schedule(&alice, &other, 30).await.unwrap_err();
    assert_eq!(code, "ApprovalRequiredException");
    assert_ne!(request_id(&m), seven);
    assert_eq!(state(&alice, &other).await, KeyState::Enabled);

    // Requests expire: after the hour neither approval nor the repeat uses it.
    let late = new_key(&alice).await;
    let (_, m) = schedule(&alice, &late, 7).await.unwrap_err();
    let stale = request_id(&m);
    advance_clock(&server.kms().await, 2 * 3600).await;
    let (ok, _, err) = kms_cli(&server, Some(CAROL), &["approve", &stale], "");
    assert!(!ok && err.contains("expired"), "{err}");
    let (code, m) = schedule(&alice, &late, 7).await.unwrap_err();
    assert_eq!(code, "ApprovalRequiredException");
    assert_ne!(request_id(&m), stale, "an expired request starts over");
    assert_eq!(state(&alice, &late).await, KeyState::Enabled);

    // Ungoverned operations are untouched.
    alice
        .enable_key_rotation()
        .key_id(&late)
        .send()
        .await
        .unwrap();

    // Every step is in the hash-chained audit log with the request id.
    let audit = std::fs::read_to_string(server.data_dir.join("kms").join("kms-audit.log")).unwrap();
    let steps: Vec<(String, String)> = audit
        .lines()
        .filter(|l| l.contains(&format!("\"approval_request\":\"{id}\"")))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["event"].as_str().unwrap().to_owned(),
                v["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("ScheduleKeyDeletion", "failure"),
        ("ScheduleKeyDeletion", "failure"),
        ("Sealgate.ApproveRequest", "failure"),
        ("Sealgate.ApproveRequest", "failure"),
        ("Sealgate.ApproveRequest", "success"),
        ("Sealgate.ApproveRequest", "failure"),
        ("ScheduleKeyDeletion", "success"),
        ("Sealgate.ApproveRequest", "failure"),
    ]
    .iter()
    .map(|(e, o)| (e.to_string(), o.to_string()))
    .collect();
    assert_eq!(steps, want, "{audit}");
}
