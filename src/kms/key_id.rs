//! KMS key ids as AWS writes them, and their 16-byte form in ciphertext blobs.
//!
//! A single-Region key's id is a UUID (`1234abcd-12ab-34cd-56ef-1234567890ab`); a multi-Region
//! key's is `mrk-` followed by 32 lower-case hex digits. Both are 16 bytes, which is what a
//! ciphertext blob (`blob.rs`) records. The two kinds stay apart in those bytes by the UUID
//! version nibble: single-Region ids are random UUIDs (version 4), multi-Region ids are
//! generated as version-8 (custom) UUIDs, so a blob's key id reads back as the id it was made
//! with, and a blob made in one Region names the same `mrk-` key in every Region.

use uuid::Uuid;

const MRK_PREFIX: &str = "mrk-";

/// The version nibble of multi-Region key ids (RFC 9562's custom-format version).
const MRK_VERSION: usize = 8;

/// A new single-Region key id.
pub(crate) fn new_single_region() -> String {
    Uuid::new_v4().hyphenated().to_string()
}

/// A new multi-Region key id (`mrk-` + 32 hex digits).
pub(crate) fn new_multi_region() -> String {
    let id = uuid::Builder::from_custom_bytes(rand::random()).into_uuid();
    format!("{MRK_PREFIX}{}", id.simple())
}

/// The 16 bytes of a well-formed key id in its canonical spelling; `None` for anything else.
pub(crate) fn to_bytes(id: &str) -> Option<Uuid> {
    let (parsed, canonical) = match id.strip_prefix(MRK_PREFIX) {
        Some(hex) => {
            let u = Uuid::try_parse(hex).ok()?;
            let ok = u.get_version_num() == MRK_VERSION;
            (u, ok && format!("{MRK_PREFIX}{}", u.simple()) == id)
        }
        None => {
            let u = Uuid::try_parse(id).ok()?;
            let ok = u.get_version_num() != MRK_VERSION;
            (u, ok && u.hyphenated().to_string() == id)
        }
    };
    canonical.then_some(parsed)
}

/// The key id a blob's 16 bytes name.
pub(crate) fn from_bytes(id: Uuid) -> String {
    if id.get_version_num() == MRK_VERSION {
        format!("{MRK_PREFIX}{}", id.simple())
    } else {
        id.hyphenated().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_bytes() {
        for id in [new_single_region(), new_multi_region()] {
            let bytes = to_bytes(&id).expect("a fresh id is well formed");
            assert_eq!(from_bytes(bytes), id);
        }
        let mrk = new_multi_region();
        assert!(mrk.starts_with(MRK_PREFIX));
        assert_eq!(mrk.len(), 4 + 32);
        assert!(
            mrk[4..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn only_canonical_spellings_are_key_ids() {
        let mrk = new_multi_region();
        let uuid = new_single_region();
        for bad in [
            mrk.to_uppercase(),
            format!("mrk-{}", &uuid),
            format!("mrk-{}", uuid.replace('-', "")),
            uuid.to_uppercase(),
            uuid.replace('-', ""),
            mrk[4..].to_string(),
            "mrk-".into(),
            String::new(),
        ] {
            assert!(to_bytes(&bad).is_none(), "{bad} is not a key id");
        }
    }
}
