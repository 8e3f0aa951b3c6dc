//! Accounts as S3 shows them: which account owns a bucket, and its canonical user id.

use sha2::{Digest, Sha256};

use crate::meta::BucketRecord;
use crate::policy::arn_account;

/// The account owning `rec`. The record keeps the creator's ARN; records whose owner names no
/// account (none are known, but the field is free text) belong to `default_account`, the root
/// user's account — so buckets created before accounts existed need no migration.
pub(crate) fn bucket_account<'a>(rec: &'a BucketRecord, default_account: &'a str) -> &'a str {
    arn_account(&rec.owner)
        .filter(|a| !a.is_empty())
        .unwrap_or(default_account)
}

/// The canonical user id of an account: 64 lower-case hex digits, as S3 shows owners. Derived
/// from the account id so it is stable across restarts and gateways sharing a backend.
pub(crate) fn canonical_id(account: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"sealgate canonical user id\0");
    h.update(account.as_bytes());
    hex::encode(h.finalize())
}

/// The `Owner` element of listings for `account`.
pub(crate) fn owner_xml(account: &str) -> crate::s3::xml::Owner {
    crate::s3::xml::Owner {
        id: canonical_id(account),
        display_name: Some(format!("account-{account}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ids_are_stable_64_hex_and_distinct() {
        let a = canonical_id("111122223333");
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(a, canonical_id("111122223333"));
        assert_ne!(a, canonical_id("444455556666"));
    }
}
