//! SSE-C: the customer's key arrives with every request and is never stored.
//!
//! What proves that a later request presents the same key is the sealed object key itself:
//! unsealing uses a KEK derived from the presented key, and AES-GCM authentication fails for
//! any other key. The key's MD5 (public: it identifies, it does not protect) is kept so
//! responses can echo it. Parsing the request headers that carry the key is the S3 front end's
//! job (`s3::encryption`); this type is what it hands down.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use zeroize::Zeroizing;

/// A customer-provided key, validated. Never logged: `Debug` shows only the MD5.
pub(crate) struct CustomerKey {
    key: Zeroizing<[u8; 32]>,
    md5_b64: String,
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomerKey(md5={})", self.md5_b64)
    }
}

impl CustomerKey {
    pub(crate) fn new(key: Zeroizing<[u8; 32]>) -> CustomerKey {
        let md5_b64 = STANDARD.encode(Md5::digest(*key));
        CustomerKey { key, md5_b64 }
    }

    pub(crate) fn material(&self) -> &[u8; 32] {
        &self.key
    }

    /// Base64 of the key's MD5, as S3 echoes it in `…-customer-key-MD5`.
    pub(crate) fn md5_b64(&self) -> &str {
        &self.md5_b64
    }
}
