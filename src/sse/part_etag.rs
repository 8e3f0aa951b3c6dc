//! Opaque part ETags that are stable within one upload (a retried UploadPart gets the ETag the
//! first attempt answered) yet reveal nothing about the plaintext outside it:
//!
//! ```text
//! part ETag key = HKDF(ikm = OK, salt = empty, info = "sealgate/v2/part-etag", 32)
//! part ETag     = hex(HMAC-SHA256(part ETag key, MD5(part plaintext))[..16])
//! ```
//!
//! The object key (OK) is random per upload, so equal parts of different uploads get unrelated
//! ETags, and the key is separate from the record-MAC and data keys derived from the same OK.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::envelope::ObjectKey;

const PART_ETAG_INFO: &[u8] = b"sealgate/v2/part-etag";

/// The opaque ETag of a part whose plaintext MD5 is `md5`, under the upload's object key.
pub(super) fn opaque(ok: &ObjectKey, md5: &[u8; 16]) -> String {
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(&[]), ok.as_bytes())
        .expand(PART_ETAG_INFO, key.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_ref()).expect("HMAC takes any key length");
    mac.update(md5);
    hex::encode(&mac.finalize().into_bytes()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_same_etag_only_under_the_same_key() {
        let a = ObjectKey::from_bytes(&[1; 32]);
        let b = ObjectKey::from_bytes(&[2; 32]);
        let md5 = [7u8; 16];
        assert_eq!(opaque(&a, &md5), opaque(&a, &md5));
        assert_ne!(opaque(&a, &md5), opaque(&b, &md5));
        assert_ne!(opaque(&a, &md5), opaque(&a, &[8u8; 16]));
        assert_ne!(opaque(&a, &md5), hex::encode(md5));
        assert_eq!(opaque(&a, &md5).len(), 32);
    }
}
