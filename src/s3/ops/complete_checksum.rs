//! The whole-object checksum a client may send on CompleteMultipartUpload
//! (`x-amz-checksum-<alg>`, S3 User Guide "Checking object integrity").
//!
//! On Complete that header describes the assembled object, not the request body: a
//! FULL_OBJECT value is the CRC of the whole plaintext, a COMPOSITE one is
//! `base64(ALG(part checksums))-N`. It is taken out of the headers before the XML body is read,
//! so the payload reader does not check it against the body, and compared with the checksum the
//! gateway derives from the parts before anything is written.

use http::HeaderMap;

use crate::checksum::{self, ChecksumAlgorithm};
use crate::meta::Checksum;
use crate::s3::error::S3Error;

/// The object checksum the client claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claimed {
    alg: ChecksumAlgorithm,
    value: String,
}

/// Removes the `x-amz-checksum-<alg>` header(s) from a Complete request and returns the claim.
pub(crate) fn take(headers: &mut HeaderMap) -> Result<Option<Claimed>, S3Error> {
    let mut found = Vec::new();
    for alg in ChecksumAlgorithm::ALL {
        if let Some(v) = headers.remove(alg.header_name()) {
            found.push(Claimed {
                alg,
                value: v.to_str().unwrap_or_default().trim().to_owned(),
            });
        }
    }
    if found.len() > 1 {
        return Err(S3Error::InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
                .into(),
        ));
    }
    Ok(found.pop())
}

/// Checks the claim against the checksum computed from the parts (`None` when the parts carry
/// none). A malformed value or another algorithm is InvalidRequest; a wrong value is BadDigest.
pub(crate) fn verify(claimed: &Claimed, object: Option<&Checksum>) -> Result<(), S3Error> {
    let alg = claimed.alg;
    let (b64, count) = split_count(&claimed.value);
    let invalid = || {
        S3Error::InvalidRequest(format!(
            "Value for {} header is invalid.",
            alg.header_name()
        ))
    };
    let raw = checksum::parse_b64(alg, b64).map_err(|_| invalid())?;
    let expected_alg = object
        .and_then(|c| ChecksumAlgorithm::from_name(&c.algorithm))
        .unwrap_or(ChecksumAlgorithm::Crc64Nvme);
    let Some(object) = object.filter(|_| expected_alg == alg) else {
        return Err(S3Error::InvalidRequest(format!(
            "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
            expected_alg.name().to_ascii_lowercase(),
            alg.name().to_ascii_lowercase()
        )));
    };
    let composite = object.kind == "COMPOSITE";
    if count.is_some() && !composite {
        // A part count only makes sense for a COMPOSITE checksum.
        return Err(invalid());
    }
    let (want_b64, want_count) = split_count(&object.value);
    let matches = checksum::parse_b64(alg, want_b64).is_ok_and(|want| want == raw)
        && count.is_none_or(|n| Some(n) == want_count);
    if !matches {
        return Err(S3Error::BadDigest {
            msg: format!(
                "The {} you specified did not match the calculated checksum.",
                alg.name()
            ),
        });
    }
    Ok(())
}

/// Splits `base64-N` into the base64 and N; a value without a numeric suffix has no count.
fn split_count(value: &str) -> (&str, Option<u32>) {
    match value.rsplit_once('-') {
        Some((b64, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (b64, n.parse().ok())
        }
        _ => (value, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(alg: &str, value: &str, kind: &str) -> Checksum {
        Checksum {
            algorithm: alg.into(),
            value: value.into(),
            kind: kind.into(),
        }
    }

    fn claim(alg: ChecksumAlgorithm, value: &str) -> Claimed {
        Claimed {
            alg,
            value: value.into(),
        }
    }

    fn code(r: Result<(), S3Error>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(S3Error::BadDigest { .. }) => "BadDigest",
            Err(S3Error::InvalidRequest(_)) => "InvalidRequest",
            Err(_) => "other",
        }
    }

    #[test]
    fn take_removes_the_header() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-checksum-crc32", "qSEQSA==".parse().unwrap());
        h.insert("x-amz-checksum-type", "FULL_OBJECT".parse().unwrap());
        assert_eq!(
            take(&mut h).unwrap(),
            Some(claim(ChecksumAlgorithm::Crc32, "qSEQSA=="))
        );
        assert!(h.get("x-amz-checksum-crc32").is_none());
        assert!(h.get("x-amz-checksum-type").is_some());
        h.insert("x-amz-checksum-crc32", "qSEQSA==".parse().unwrap());
        h.insert("x-amz-checksum-sha1", "qSEQSA==".parse().unwrap());
        assert!(take(&mut h).is_err());
    }

    #[test]
    fn full_object() {
        let o = object("CRC32", "qSEQSA==", "FULL_OBJECT");
        let c32 = ChecksumAlgorithm::Crc32;
        assert_eq!(code(verify(&claim(c32, "qSEQSA=="), Some(&o))), "ok");
        assert_eq!(code(verify(&claim(c32, "TBHN8A=="), Some(&o))), "BadDigest");
        assert_eq!(
            code(verify(&claim(c32, "qSEQSA==-3"), Some(&o))),
            "InvalidRequest"
        );
        assert_eq!(
            code(verify(&claim(c32, "nope"), Some(&o))),
            "InvalidRequest"
        );
        let crc32c = ChecksumAlgorithm::Crc32c;
        assert_eq!(
            code(verify(&claim(crc32c, "qSEQSA=="), Some(&o))),
            "InvalidRequest"
        );
        assert_eq!(
            code(verify(&claim(c32, "qSEQSA=="), None)),
            "InvalidRequest"
        );
    }

    #[test]
    fn composite() {
        let o = object("CRC32", "5FRUiw==-3", "COMPOSITE");
        let c32 = ChecksumAlgorithm::Crc32;
        assert_eq!(code(verify(&claim(c32, "5FRUiw==-3"), Some(&o))), "ok");
        assert_eq!(code(verify(&claim(c32, "5FRUiw=="), Some(&o))), "ok");
        assert_eq!(
            code(verify(&claim(c32, "5FRUiw==-2"), Some(&o))),
            "BadDigest"
        );
        assert_eq!(
            code(verify(&claim(c32, "qSEQSA==-3"), Some(&o))),
            "BadDigest"
        );
    }
}
