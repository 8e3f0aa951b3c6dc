//! Which S3 Encryption Client format an object is in, and which ones the commitment policy
//! lets `sealgate cp` write and read.
//!
//! Detection follows the reference clients, on the user metadata (names without
//! `x-amz-meta-`):
//! - `x-amz-key` → V1 (legacy, refused: its usual content cipher is unauthenticated AES-CBC);
//! - `x-amz-key-v2` → V2; `x-amz-3` → V3;
//! - more than one of those three → refused (a format-confusion attempt);
//! - `x-amz-c`, `x-amz-d`, `x-amz-i` without `x-amz-3` → V3 with the rest of its metadata in the
//!   instruction file `<key>.instruction`;
//! - V2 keys beside V3 content keys → refused.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::error::CseError;
use super::keys::Wrap;
use super::{v2, v3};

const V1_KEY: &str = "x-amz-key";
/// Every mapkey an instruction file may hold (the reference clients' list).
const S3EC_KEYS: [&str; 15] = [
    "x-amz-key",
    "x-amz-key-v2",
    "x-amz-wrap-alg",
    "x-amz-matdesc",
    "x-amz-iv",
    "x-amz-cek-alg",
    "x-amz-tag-len",
    "x-amz-crypto-instr-file",
    "x-amz-c",
    "x-amz-3",
    "x-amz-m",
    "x-amz-t",
    "x-amz-w",
    "x-amz-d",
    "x-amz-i",
];
/// The default suffix of an instruction file's key.
pub(crate) const INSTRUCTION_SUFFIX: &str = ".instruction";

/// The commitment policy: which format is written, which are read. Names and meaning are the
/// reference clients' (`CommitmentPolicy`).
// The variant names are the reference clients' policy names (users look them up there).
#[allow(clippy::enum_variant_names)]
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum CommitmentPolicy {
    /// Write V3; read V3 only (the reference clients' default).
    #[default]
    RequireEncryptRequireDecrypt,
    /// Write V3; read V2 and V3 (for migrating from V2).
    RequireEncryptAllowDecrypt,
    /// Write V2; read V2 and V3 (for readers that do not know V3 yet).
    ForbidEncryptAllowDecrypt,
}

impl CommitmentPolicy {
    pub(crate) fn name(self) -> &'static str {
        match self {
            CommitmentPolicy::RequireEncryptRequireDecrypt => "require-encrypt-require-decrypt",
            CommitmentPolicy::RequireEncryptAllowDecrypt => "require-encrypt-allow-decrypt",
            CommitmentPolicy::ForbidEncryptAllowDecrypt => "forbid-encrypt-allow-decrypt",
        }
    }

    /// Whether uploads use the key-committing V3 format.
    pub(crate) fn writes_v3(self) -> bool {
        self != CommitmentPolicy::ForbidEncryptAllowDecrypt
    }

    /// Refuses an envelope the policy does not allow reading.
    pub(crate) fn check_read(self, envelope: &Envelope) -> Result<(), CseError> {
        let committing = matches!(envelope, Envelope::V3(_));
        if !committing && self == CommitmentPolicy::RequireEncryptRequireDecrypt {
            return Err(CseError::PolicyRefuses {
                format: envelope.format(),
                policy: self.name(),
            });
        }
        Ok(())
    }
}

/// What the object metadata alone says.
#[derive(Debug)]
pub(crate) enum Detected {
    /// No S3 Encryption Client metadata at all (a plain object, or V1/V2 metadata kept wholly
    /// in an instruction file).
    Plain,
    /// The V3 content keys are here; the wrapped key is in the instruction file.
    V3InstructionFile,
    /// Everything needed is in the object metadata.
    Complete(Envelope),
}

/// An object's envelope in either readable format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Envelope {
    V2(v2::Envelope),
    V3(v3::Envelope),
}

impl Envelope {
    pub(crate) fn format(&self) -> &'static str {
        match self {
            Envelope::V2(_) => "V2",
            Envelope::V3(_) => "V3",
        }
    }

    pub(crate) fn wrap(&self) -> Wrap {
        match self {
            Envelope::V2(e) => e.wrap,
            Envelope::V3(e) => e.wrap,
        }
    }

    pub(crate) fn wrapped_key(&self) -> &[u8] {
        match self {
            Envelope::V2(e) => &e.wrapped_key,
            Envelope::V3(e) => &e.wrapped_key,
        }
    }

    /// The KMS encryption context to decrypt the data key with, checked to name the format's
    /// content algorithm.
    pub(crate) fn kms_context(&self) -> Result<&BTreeMap<String, String>, CseError> {
        match self {
            Envelope::V2(e) => e.kms_context(),
            Envelope::V3(e) => e.kms_context(),
        }
    }

    /// Verifies (commitment first for V3) and decrypts the body.
    pub(crate) fn open(
        &self,
        data_key: &[u8; 32],
        body: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CseError> {
        match self {
            Envelope::V2(e) => e.open(data_key, body),
            Envelope::V3(e) => e.open(data_key, body),
        }
    }

    /// The user-metadata pairs (names without `x-amz-meta-`).
    pub(crate) fn to_metadata(&self) -> Vec<(String, String)> {
        match self {
            Envelope::V2(e) => e.to_metadata(),
            Envelope::V3(e) => e.to_metadata(),
        }
    }
}

/// Classifies user metadata; refuses V1, mixed formats and malformed envelopes.
pub(crate) fn detect(meta: &BTreeMap<String, String>) -> Result<Detected, CseError> {
    let has = |k: &str| meta.contains_key(k);
    let exclusive = [V1_KEY, v2::META_KEY, v3::META_KEY]
        .iter()
        .filter(|k| has(k))
        .count();
    if exclusive > 1 {
        return Err(CseError::BadMetadata(
            "keys of several format versions (x-amz-key, x-amz-key-v2, x-amz-3) are present".into(),
        ));
    }
    let v3_content = v3::OBJECT_ONLY.iter().any(|k| has(k));
    if has(V1_KEY) {
        return Err(CseError::Legacy(
            "the S3 Encryption Client format V1 (x-amz-key)".into(),
        ));
    }
    if has(v2::META_KEY) {
        if v3_content {
            return Err(CseError::BadMetadata(
                "V2 keys beside V3 content keys (x-amz-c, x-amz-d, x-amz-i)".into(),
            ));
        }
        return Ok(Detected::Complete(Envelope::V2(
            v2::Envelope::from_metadata(meta)?,
        )));
    }
    if has(v3::META_KEY) {
        return Ok(Detected::Complete(Envelope::V3(
            v3::Envelope::from_metadata(meta)?,
        )));
    }
    if v3_content {
        return Ok(Detected::V3InstructionFile);
    }
    Ok(Detected::Plain)
}

/// Merges an instruction file (the JSON body of `<key>.instruction`) under the object's own
/// metadata and classifies the result. For V3 the file must not carry the object-only keys; for
/// V1/V2 the object must not carry content metadata (the reference clients' rules against
/// splicing one object's metadata onto another).
pub(crate) fn with_instruction_file(
    object_meta: &BTreeMap<String, String>,
    instruction: &[u8],
) -> Result<Envelope, CseError> {
    let bad = |what: String| CseError::BadMetadata(format!("instruction file: {what}"));
    let parsed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(instruction).map_err(|_| bad("not a JSON object".into()))?;
    let mut merged = BTreeMap::new();
    for (name, value) in parsed {
        if !S3EC_KEYS.contains(&name.as_str()) {
            return Err(bad(format!("unexpected key {name:?}")));
        }
        if v3::OBJECT_ONLY.contains(&name.as_str()) {
            return Err(bad(format!("{name} must be in the object metadata")));
        }
        let value = match value {
            serde_json::Value::String(s) => s,
            // Contexts may be stored as JSON objects rather than strings.
            v @ serde_json::Value::Object(_) => v.to_string(),
            _ => return Err(bad(format!("{name} is not a string"))),
        };
        merged.insert(name, value);
    }
    let v3_content = v3::OBJECT_ONLY.iter().any(|k| object_meta.contains_key(*k));
    if !v3_content
        && ["x-amz-cek-alg", "x-amz-iv", "x-amz-wrap-alg"]
            .iter()
            .any(|k| object_meta.contains_key(*k))
    {
        return Err(bad(
            "V1/V2 content metadata is in both the object and its instruction file".into(),
        ));
    }
    for (k, v) in object_meta {
        merged.insert(k.clone(), v.clone());
    }
    match detect(&merged)? {
        Detected::Complete(envelope) => Ok(envelope),
        _ => Err(bad("holds no wrapped data key".into())),
    }
}

/// A short description for messages, for any S3 Encryption Client metadata (`None`: none).
pub(crate) fn describe(meta: &BTreeMap<String, String>) -> Option<String> {
    if meta.contains_key(V1_KEY) {
        return Some("S3 Encryption Client format V1".into());
    }
    if let Some(wrap) = meta
        .get(v2::META_WRAP_ALG)
        .filter(|_| meta.contains_key(v2::META_KEY))
    {
        return Some(format!(
            "S3 Encryption Client format V2, key wrapped with {wrap}"
        ));
    }
    if meta.contains_key(v2::META_KEY) {
        return Some("S3 Encryption Client format V2".into());
    }
    if meta.contains_key(v3::META_KEY) || v3::OBJECT_ONLY.iter().any(|k| meta.contains_key(*k)) {
        let wrap = match meta.get(v3::META_WRAP_ALG).map(String::as_str) {
            Some("12") => ", key wrapped with kms+context",
            Some("02") => ", key wrapped with AES/GCM",
            _ if !meta.contains_key(v3::META_KEY) => ", key in the instruction file",
            _ => "",
        };
        return Some(format!("S3 Encryption Client format V3{wrap}"));
    }
    None
}

/// Where the wrapped key is and how it is wrapped, for reports: `(metadata name, base64 value,
/// wrapping algorithm name)`.
pub(crate) fn wrapped_key_field(
    meta: &BTreeMap<String, String>,
) -> Option<(&'static str, &str, String)> {
    if let Some(v) = meta.get(v3::META_KEY) {
        let wrap = match meta.get(v3::META_WRAP_ALG).map(String::as_str) {
            Some("12") => Wrap::Kms.name().to_string(),
            Some("02") => Wrap::AesGcm.name().to_string(),
            other => other.unwrap_or("?").to_string(),
        };
        return Some((v3::META_KEY, v, wrap));
    }
    let v = meta.get(v2::META_KEY)?;
    let wrap = meta
        .get(v2::META_WRAP_ALG)
        .cloned()
        .unwrap_or_else(|| "?".into());
    Some((v2::META_KEY, v, wrap))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn v3_meta() -> BTreeMap<String, String> {
        let (_, env) =
            v3::Envelope::seal(Wrap::Kms, vec![1, 2], v3::kms_context(), &[4; 32], b"abc");
        env.to_metadata().into_iter().collect()
    }

    fn v2_meta() -> BTreeMap<String, String> {
        let (_, env) =
            v2::Envelope::seal(Wrap::AesGcm, vec![1, 2], BTreeMap::new(), &[4; 32], b"abc");
        env.to_metadata().into_iter().collect()
    }

    #[test]
    fn formats_are_told_apart_and_legacy_or_mixed_ones_refused() {
        assert!(matches!(
            detect(&meta(&[("color", "blue")])),
            Ok(Detected::Plain)
        ));
        assert!(matches!(
            detect(&v3_meta()),
            Ok(Detected::Complete(Envelope::V3(_)))
        ));
        assert!(matches!(
            detect(&v2_meta()),
            Ok(Detected::Complete(Envelope::V2(_)))
        ));
        let v1 = meta(&[
            ("x-amz-key", "AAAA"),
            ("x-amz-iv", "AAAA"),
            ("x-amz-matdesc", "{}"),
        ]);
        let err = detect(&v1).unwrap_err().to_string();
        assert!(err.contains("format V1 (x-amz-key)"), "{err}");
        let mut mixed = v3_meta();
        mixed.insert("x-amz-key-v2".into(), "AAAA".into());
        assert!(
            detect(&mixed)
                .unwrap_err()
                .to_string()
                .contains("several format versions")
        );
        let mut spliced = v2_meta();
        spliced.insert("x-amz-d".into(), "AAAA".into());
        assert!(matches!(detect(&spliced), Err(CseError::BadMetadata(_))));
        let mut no_key = v3_meta();
        no_key.remove("x-amz-3");
        assert!(matches!(detect(&no_key), Ok(Detected::V3InstructionFile)));
    }

    #[test]
    fn the_policy_decides_what_is_written_and_read() {
        let Ok(Detected::Complete(v2)) = detect(&v2_meta()) else {
            panic!()
        };
        let Ok(Detected::Complete(v3)) = detect(&v3_meta()) else {
            panic!()
        };
        let strict = CommitmentPolicy::default();
        assert_eq!(strict, CommitmentPolicy::RequireEncryptRequireDecrypt);
        assert!(strict.writes_v3());
        let err = strict.check_read(&v2).unwrap_err().to_string();
        assert!(err.contains("require-encrypt-allow-decrypt"), "{err}");
        assert!(strict.check_read(&v3).is_ok());
        for p in [
            CommitmentPolicy::RequireEncryptAllowDecrypt,
            CommitmentPolicy::ForbidEncryptAllowDecrypt,
        ] {
            assert!(p.check_read(&v2).is_ok() && p.check_read(&v3).is_ok());
        }
        assert!(!CommitmentPolicy::ForbidEncryptAllowDecrypt.writes_v3());
    }

    #[test]
    fn instruction_files_complete_a_v3_object_and_cannot_override_it() {
        let full = v3_meta();
        let object: BTreeMap<String, String> = full
            .iter()
            .filter(|(k, _)| v3::OBJECT_ONLY.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let file = serde_json::json!({
            "x-amz-3": full["x-amz-3"],
            "x-amz-w": "12",
            "x-amz-t": {"aws:x-amz-cek-alg": "115"},
        });
        let env = with_instruction_file(&object, file.to_string().as_bytes()).unwrap();
        let Detected::Complete(expected) = detect(&full).unwrap() else {
            panic!()
        };
        assert_eq!(env, expected);
        // The file may not carry the object-only keys, nor foreign ones.
        let mut evil = file.clone();
        evil["x-amz-d"] = serde_json::json!("AAAA");
        let err = with_instruction_file(&object, evil.to_string().as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("x-amz-d must be in the object"),
            "{err}"
        );
        let mut foreign = file.clone();
        foreign["color"] = serde_json::json!("blue");
        assert!(with_instruction_file(&object, foreign.to_string().as_bytes()).is_err());
        // V2 keys spliced in through the file are refused (format confusion).
        let v2 = serde_json::json!({"x-amz-key-v2": "AAAA", "x-amz-iv": "AAAA"});
        assert!(with_instruction_file(&object, v2.to_string().as_bytes()).is_err());
        assert!(with_instruction_file(&object, b"not json").is_err());
    }

    #[test]
    fn descriptions_name_the_format() {
        assert_eq!(describe(&meta(&[("a", "b")])), None);
        assert_eq!(
            describe(&v3_meta()).unwrap(),
            "S3 Encryption Client format V3, key wrapped with kms+context"
        );
        assert_eq!(
            describe(&v2_meta()).unwrap(),
            "S3 Encryption Client format V2, key wrapped with AES/GCM"
        );
        let (name, _, wrap) = wrapped_key_field(&v3_meta()).unwrap();
        assert_eq!((name, wrap.as_str()), ("x-amz-3", "kms+context"));
    }
}
