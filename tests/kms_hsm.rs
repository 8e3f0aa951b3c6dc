//! The PKCS#11 backing of HSM key stores against a real SoftHSM2 token created by the test
//! (`softhsm2-util --init-token` in a temp dir via SOFTHSM2_CONF).
//!
//! The module path comes from SEALGATE_PKCS11_MODULE (exported by ./scripts/test, which
//! installs SoftHSM2); the usual Debian path is tried otherwise. Without SoftHSM2 the test fails
//! in CI (CI=true) and is skipped with a message elsewhere.
//!
//! Not covered yet: the KMS API for custom key stores (CreateCustomKeyStore & co. still answer
//! UnsupportedOperationException), see docs/KMS.md.

use std::path::PathBuf;
use std::process::Command;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use sealgate::kms::hsm::{Hsm, HsmError};

const LABEL: &str = "sealgate-test";
const PIN: &str = "1234-user-pin";
const SO_PIN: &str = "5678-so-pin";

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

/// A fresh token in `dir`; sets SOFTHSM2_CONF for this process (the only test in this binary,
/// so no other thread reads the environment meanwhile).
fn init_token(dir: &std::path::Path) {
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
    let out = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args(["--init-token", "--free", "--label", LABEL, "--pin", PIN])
        .args(["--so-pin", SO_PIN])
        .output()
        .expect("run softhsm2-util");
    assert!(
        out.status.success(),
        "softhsm2-util: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // SAFETY: single-threaded at this point (one test per binary), before any PKCS#11 load.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
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
    let dir = tempfile::tempdir().unwrap();
    init_token(dir.path());

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
