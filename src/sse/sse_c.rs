//! SSE-C: the customer's key arrives with every request and is never stored.
//!
//! What proves that a later request presents the same key is the sealed object key itself:
//! unsealing uses a KEK derived from the presented key, and AES-GCM authentication fails for
//! any other key. The key's MD5 (public: it identifies, it does not protect) is kept so
//! responses can echo it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use md5::{Digest, Md5};
use zeroize::Zeroizing;

use crate::s3::error::S3Error;

/// Which header family carries the key: the object's own, or a copy source's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyHeaders {
    Target,
    CopySource,
}

impl KeyHeaders {
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            KeyHeaders::Target => (
                "x-amz-server-side-encryption-customer-algorithm",
                "x-amz-server-side-encryption-customer-key",
                "x-amz-server-side-encryption-customer-key-md5",
            ),
            KeyHeaders::CopySource => (
                "x-amz-copy-source-server-side-encryption-customer-algorithm",
                "x-amz-copy-source-server-side-encryption-customer-key",
                "x-amz-copy-source-server-side-encryption-customer-key-md5",
            ),
        }
    }
}

/// A customer-provided key, validated. Never logged: `Debug` shows only the MD5.
pub struct CustomerKey {
    key: Zeroizing<[u8; 32]>,
    md5_b64: String,
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomerKey(md5={})", self.md5_b64)
    }
}

impl CustomerKey {
    pub fn material(&self) -> &[u8; 32] {
        &self.key
    }

    pub fn md5_b64(&self) -> &str {
        &self.md5_b64
    }
}

const NEED_TLS: &str = "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.";

/// True when any header of the family is present.
pub fn present(headers: &HeaderMap, which: KeyHeaders) -> bool {
    let (a, k, m) = which.names();
    headers.contains_key(a) || headers.contains_key(k) || headers.contains_key(m)
}

/// Parses and validates the key headers, in the order AWS checks them (aws-semantics §1.6).
/// `Ok(None)` when none of the headers is present.
pub fn from_headers(
    headers: &HeaderMap,
    which: KeyHeaders,
    tls: bool,
) -> Result<Option<CustomerKey>, S3Error> {
    if !present(headers, which) {
        return Ok(None);
    }
    if !tls {
        return Err(S3Error::InvalidRequest(NEED_TLS.into()));
    }
    let (a, k, m) = which.names();
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(algorithm) = get(a) else {
        return Err(S3Error::InvalidArgument {
            msg: "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.".into(),
            name: Some("x-amz-server-side-encryption".into()),
            value: None,
        });
    };
    if algorithm != "AES256" {
        return Err(S3Error::InvalidEncryptionAlgorithmError {
            value: algorithm.to_owned(),
        });
    }
    let Some(key_b64) = get(k) else {
        return Err(S3Error::InvalidArgument {
            msg: "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.".into(),
            name: Some("x-amz-server-side-encryption".into()),
            value: None,
        });
    };
    let invalid_key = || S3Error::InvalidArgument {
        msg: "The secret key was invalid for the specified algorithm.".into(),
        name: Some("x-amz-server-side-encryption".into()),
        value: None,
    };
    let raw = Zeroizing::new(STANDARD.decode(key_b64).map_err(|_| invalid_key())?);
    let key: [u8; 32] = raw.as_slice().try_into().map_err(|_| invalid_key())?;
    let key = Zeroizing::new(key);
    let md5_b64 = STANDARD.encode(Md5::digest(*key));
    match get(m) {
        Some(given) if given == md5_b64 => {}
        _ => {
            return Err(S3Error::InvalidArgument {
                msg: "The calculated MD5 hash of the key did not match the hash that was provided."
                    .into(),
                name: Some("x-amz-server-side-encryption".into()),
                value: None,
            });
        }
    }
    Ok(Some(CustomerKey { key, md5_b64 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    const KEY: &str = "MTIzNDU2Nzg5MGFiY2RlZjEyMzQ1Njc4OTBhYmNkZWY=";
    const MD5: &str = "JMwgiexXqwuPqIPjYFmIZQ==";

    #[test]
    fn aws_vector_is_accepted() {
        let h = headers(&[
            ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            ("x-amz-server-side-encryption-customer-key", KEY),
            ("x-amz-server-side-encryption-customer-key-MD5", MD5),
        ]);
        let k = from_headers(&h, KeyHeaders::Target, true).unwrap().unwrap();
        assert_eq!(k.md5_b64(), MD5);
        assert_eq!(k.material(), b"1234567890abcdef1234567890abcdef");
        assert!(!format!("{k:?}").contains(KEY));
    }

    /// Request headers, whether the connection is TLS, and the expected S3 error code.
    type Case<'a> = (&'a [(&'a str, &'a str)], bool, &'a str);

    #[test]
    fn errors_follow_aws_order() {
        let cases: &[Case] = &[
            (
                &[("x-amz-server-side-encryption-customer-key", KEY)],
                true,
                "InvalidArgument",
            ),
            (
                &[("x-amz-server-side-encryption-customer-algorithm", "AES256")],
                true,
                "InvalidArgument",
            ),
            (
                &[
                    ("x-amz-server-side-encryption-customer-algorithm", "AES128"),
                    ("x-amz-server-side-encryption-customer-key", KEY),
                ],
                true,
                "InvalidEncryptionAlgorithmError",
            ),
            (
                &[
                    ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                    ("x-amz-server-side-encryption-customer-key", "c2hvcnQ="),
                    ("x-amz-server-side-encryption-customer-key-md5", MD5),
                ],
                true,
                "InvalidArgument",
            ),
            (
                &[
                    ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                    ("x-amz-server-side-encryption-customer-key", KEY),
                    (
                        "x-amz-server-side-encryption-customer-key-md5",
                        "AAAAAAAAAAAAAAAAAAAAAA==",
                    ),
                ],
                true,
                "InvalidArgument",
            ),
            (
                &[
                    ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                    ("x-amz-server-side-encryption-customer-key", KEY),
                    ("x-amz-server-side-encryption-customer-key-md5", MD5),
                ],
                false,
                "InvalidRequest",
            ),
        ];
        for (pairs, tls, code) in cases {
            let err = from_headers(&headers(pairs), KeyHeaders::Target, *tls).unwrap_err();
            assert_eq!(err.code(), *code, "{pairs:?}");
        }
        assert!(
            from_headers(&HeaderMap::new(), KeyHeaders::Target, false)
                .unwrap()
                .is_none()
        );
    }
}
