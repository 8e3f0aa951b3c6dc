//! The `file` part as the plaintext source of the PUT pipeline, with the digests a PUT payload
//! gets: its length (bounded by S3's single-upload limit and the policy's
//! `content-length-range`), its MD5 when the ETag needs it, and a flexible checksum — the one
//! the form names in `x-amz-checksum-<algorithm>` (verified) or S3's CRC64NVME default.

use bytes::Bytes;
use md5::{Digest, Md5};

use super::form::{Fields, FilePart, FormReader};
use crate::checksum::{self, ChecksumAlgorithm, Hasher};
use crate::s3::error::S3Error;

const UNSUPPORTED: &str = "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]";

/// The checksum a form asks for: the algorithm and, when given, the value to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChecksumRequest {
    pub(crate) algorithm: ChecksumAlgorithm,
    pub(crate) expected: Option<Vec<u8>>,
}

/// Reads the checksum fields (`x-amz-checksum-algorithm`, `x-amz-checksum-<alg>`).
pub(crate) fn checksum_request(fields: &Fields) -> Result<ChecksumRequest, S3Error> {
    let mut given = Vec::new();
    for (name, value) in fields.iter() {
        let Some(rest) = name.strip_prefix("x-amz-checksum-") else {
            continue;
        };
        if rest == "algorithm" {
            continue;
        }
        let alg = ChecksumAlgorithm::from_name(rest)
            .ok_or_else(|| S3Error::InvalidRequest(UNSUPPORTED.into()))?;
        given.push((alg, value));
    }
    if given.len() > 1 {
        return Err(S3Error::InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
                .into(),
        ));
    }
    let named = match fields.get("x-amz-checksum-algorithm") {
        Some(v) => Some(
            ChecksumAlgorithm::from_name(v)
                .ok_or_else(|| S3Error::InvalidRequest(UNSUPPORTED.into()))?,
        ),
        None => None,
    };
    match (given.pop(), named) {
        (Some((alg, value)), named) => {
            if named.is_some_and(|n| n != alg) {
                return Err(S3Error::InvalidRequest(format!(
                    "Value for x-amz-checksum-algorithm is invalid: {} does not match the checksum sent ({}).",
                    named.map(|n| n.name()).unwrap_or_default(),
                    alg.name()
                )));
            }
            let raw = checksum::parse_b64(alg, value).map_err(|_| {
                S3Error::InvalidRequest(format!(
                    "Value for {} header is invalid.",
                    alg.header_name()
                ))
            })?;
            Ok(ChecksumRequest {
                algorithm: alg,
                expected: Some(raw),
            })
        }
        (None, named) => Ok(ChecksumRequest {
            algorithm: named.unwrap_or(ChecksumAlgorithm::Crc64Nvme),
            expected: None,
        }),
    }
}

/// What the file turned out to be.
#[derive(Debug)]
pub(crate) struct FileDigest {
    pub(crate) len: u64,
    pub(crate) md5: Option<[u8; 16]>,
    pub(crate) checksum: (ChecksumAlgorithm, Vec<u8>),
}

/// The file part, feeding the sealing pipeline.
pub(crate) struct FileSource<'a> {
    reader: &'a mut FormReader,
    file: &'a mut FilePart,
    len: u64,
    max: u64,
    md5: Option<Md5>,
    hasher: Hasher,
    expected: Option<Vec<u8>>,
}

impl<'a> FileSource<'a> {
    pub(crate) fn new(
        reader: &'a mut FormReader,
        file: &'a mut FilePart,
        max: u64,
        want_md5: bool,
        checksum: ChecksumRequest,
    ) -> FileSource<'a> {
        FileSource {
            reader,
            file,
            len: 0,
            max,
            md5: want_md5.then(Md5::new),
            hasher: Hasher::new(checksum.algorithm),
            expected: checksum.expected,
        }
    }

    /// The digests, once the pipeline has read the file to its end; a checksum the form
    /// gave that does not match is BadDigest.
    pub(crate) fn finish(self) -> Result<FileDigest, S3Error> {
        let alg = self.hasher.algorithm();
        let got = self.hasher.finalize();
        if let Some(expected) = self.expected
            && expected != got
        {
            return Err(S3Error::BadDigest {
                msg: format!(
                    "The {} you specified did not match the calculated checksum.",
                    alg.name()
                ),
            });
        }
        Ok(FileDigest {
            len: self.len,
            md5: self.md5.map(|m| m.finalize().into()),
            checksum: (alg, got),
        })
    }
}

impl crate::sse::PlainSource for FileSource<'_> {
    type Error = S3Error;

    async fn next_piece(&mut self) -> Result<Option<Bytes>, S3Error> {
        loop {
            let Some(piece) = self.reader.file_chunk(self.file).await? else {
                return Ok(None);
            };
            if piece.is_empty() {
                continue;
            }
            self.len += piece.len() as u64;
            if self.len > self.max {
                return Err(S3Error::EntityTooLarge);
            }
            if let Some(m) = self.md5.as_mut() {
                m.update(&piece);
            }
            self.hasher.update(&piece);
            return Ok(Some(piece));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        let mut f = Fields::default();
        for (k, v) in pairs {
            f.push((*k).into(), (*v).into()).unwrap();
        }
        f
    }

    #[test]
    fn checksum_fields() {
        let r = checksum_request(&fields(&[])).unwrap();
        assert_eq!(r.algorithm, ChecksumAlgorithm::Crc64Nvme);
        assert_eq!(r.expected, None);
        let crc = checksum::b64(&checksum::digest(ChecksumAlgorithm::Crc32, b"hello"));
        let r = checksum_request(&fields(&[
            ("x-amz-checksum-algorithm", "CRC32"),
            ("x-amz-checksum-crc32", &crc),
        ]))
        .unwrap();
        assert_eq!(r.algorithm, ChecksumAlgorithm::Crc32);
        assert_eq!(
            r.expected,
            Some(checksum::digest(ChecksumAlgorithm::Crc32, b"hello"))
        );
        let r = checksum_request(&fields(&[("x-amz-checksum-algorithm", "SHA256")])).unwrap();
        assert_eq!((r.algorithm, r.expected), (ChecksumAlgorithm::Sha256, None));
        for bad in [
            vec![("x-amz-checksum-md4", "x")],
            vec![("x-amz-checksum-algorithm", "MD4")],
            vec![("x-amz-checksum-crc32", "not base64!")],
            vec![
                ("x-amz-checksum-crc32", crc.as_str()),
                ("x-amz-checksum-sha1", "x"),
            ],
            vec![
                ("x-amz-checksum-algorithm", "SHA1"),
                ("x-amz-checksum-crc32", crc.as_str()),
            ],
        ] {
            let e = checksum_request(&fields(&bad)).unwrap_err();
            assert_eq!(e.code(), "InvalidRequest", "{bad:?}");
        }
    }
}
