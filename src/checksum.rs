//! S3 flexible checksums: CRC32, CRC32C, CRC64NVME, SHA1, SHA256 (S3 User Guide, "Checking object integrity").
//!
//! Values travel as base64 of the big-endian digest. A multipart object carries either a
//! COMPOSITE checksum (the algorithm over the concatenated raw part checksums, suffixed `-N`)
//! or a FULL_OBJECT one (the checksum of the whole plaintext). FULL_OBJECT exists only for the
//! CRCs, because a CRC of a concatenation follows from the parts' CRCs and lengths alone:
//! [`combine_full_object`] does that, so CompleteMultipartUpload never rereads the data.
//!
//! The combination is the GF(2) operator-matrix method (as in zlib's `crc32_combine`), written
//! once for any reflected CRC of up to 64 bits whose initial value equals its final XOR (true
//! of all three): appending `n` zero bytes to a message is a linear map on the CRC register, so
//! `crc(A ‖ B) = M^(8·len B) · crc(A) ⊕ crc(B)`, where `M` is the one-zero-bit operator and
//! its power is built by repeated squaring.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest as _;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ChecksumError {
    /// Not base64, or not the algorithm's digest length.
    #[error("Value for {} header is invalid.", .0.header_name())]
    InvalidValue(ChecksumAlgorithm),
    #[error("The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.", .0.name().to_ascii_lowercase())]
    NotCombinable(ChecksumAlgorithm),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

/// How a multipart object's checksum is formed (`x-amz-checksum-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ChecksumType {
    FullObject,
    Composite,
}

impl ChecksumType {
    #[cfg(test)]
    /// Case-insensitive `FULL_OBJECT` / `COMPOSITE`.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("FULL_OBJECT") {
            Some(ChecksumType::FullObject)
        } else if name.eq_ignore_ascii_case("COMPOSITE") {
            Some(ChecksumType::Composite)
        } else {
            None
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ChecksumType::FullObject => "FULL_OBJECT",
            ChecksumType::Composite => "COMPOSITE",
        }
    }
}

impl fmt::Display for ChecksumType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ChecksumAlgorithm {
    pub(crate) const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// Case-insensitive `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.name().eq_ignore_ascii_case(name))
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    pub(crate) fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Bytes of the raw digest.
    pub(crate) fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64Nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }

    /// Multipart checksum type when CreateMultipartUpload names none.
    pub(crate) fn default_type(self) -> ChecksumType {
        match self {
            ChecksumAlgorithm::Crc64Nvme => ChecksumType::FullObject,
            _ => ChecksumType::Composite,
        }
    }

    /// Only CRCs can be combined into a FULL_OBJECT multipart checksum.
    pub(crate) fn supports_full_object(self) -> bool {
        self.crc_spec().is_some()
    }

    fn crc_spec(self) -> Option<CrcSpec> {
        match self {
            ChecksumAlgorithm::Crc32 => Some(CrcSpec {
                width: 32,
                reflected_poly: 0xEDB8_8320,
            }),
            ChecksumAlgorithm::Crc32c => Some(CrcSpec {
                width: 32,
                reflected_poly: 0x82F6_3B78,
            }),
            ChecksumAlgorithm::Crc64Nvme => Some(CrcSpec {
                width: 64,
                reflected_poly: 0x9A6C_9329_AC4B_C9B5,
            }),
            ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
        }
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Incremental checksum of one algorithm.
pub(crate) struct Hasher(State);

enum State {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    pub(crate) fn new(alg: ChecksumAlgorithm) -> Self {
        Hasher(match alg {
            ChecksumAlgorithm::Crc32 => State::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => State::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => State::Crc64Nvme(crc64fast_nvme::Digest::new()),
            ChecksumAlgorithm::Sha1 => State::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
        })
    }

    pub(crate) fn algorithm(&self) -> ChecksumAlgorithm {
        match self.0 {
            State::Crc32(_) => ChecksumAlgorithm::Crc32,
            State::Crc32c(_) => ChecksumAlgorithm::Crc32c,
            State::Crc64Nvme(_) => ChecksumAlgorithm::Crc64Nvme,
            State::Sha1(_) => ChecksumAlgorithm::Sha1,
            State::Sha256(_) => ChecksumAlgorithm::Sha256,
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            State::Crc32(h) => h.update(data),
            State::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, data),
            State::Crc64Nvme(h) => h.write(data),
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
        }
    }

    /// The raw big-endian digest ([`ChecksumAlgorithm::digest_len`] bytes).
    pub(crate) fn finalize(self) -> Vec<u8> {
        match self.0 {
            State::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            State::Crc32c(crc) => crc.to_be_bytes().to_vec(),
            State::Crc64Nvme(h) => h.sum64().to_be_bytes().to_vec(),
            State::Sha1(h) => h.finalize().to_vec(),
            State::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Hasher").field(&self.algorithm()).finish()
    }
}

/// Raw digest of `data` in one call.
pub(crate) fn digest(alg: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
    let mut h = Hasher::new(alg);
    h.update(data);
    h.finalize()
}

/// Standard base64 (with padding), as in `x-amz-checksum-*` headers.
pub(crate) fn b64(raw: &[u8]) -> String {
    STANDARD.encode(raw)
}

/// Decodes a header or XML checksum value; anything but canonical base64 of exactly the
/// algorithm's digest length is [`ChecksumError::InvalidValue`].
pub(crate) fn parse_b64(alg: ChecksumAlgorithm, value: &str) -> Result<Vec<u8>, ChecksumError> {
    match STANDARD.decode(value.trim()) {
        Ok(raw) if raw.len() == alg.digest_len() => Ok(raw),
        _ => Err(ChecksumError::InvalidValue(alg)),
    }
}

/// COMPOSITE multipart checksum: `base64(ALG(raw_1 ‖ … ‖ raw_N)) + "-" + N`.
pub(crate) fn composite(alg: ChecksumAlgorithm, part_raw_checksums: &[Vec<u8>]) -> String {
    let mut h = Hasher::new(alg);
    for raw in part_raw_checksums {
        h.update(raw);
    }
    format!("{}-{}", b64(&h.finalize()), part_raw_checksums.len())
}

/// FULL_OBJECT multipart checksum from each part's raw CRC and plaintext length: equal to the
/// CRC of the concatenated parts. Only for CRC algorithms.
pub(crate) fn combine_full_object(
    alg: ChecksumAlgorithm,
    parts: &[(Vec<u8>, u64)],
) -> Result<Vec<u8>, ChecksumError> {
    let spec = alg.crc_spec().ok_or(ChecksumError::NotCombinable(alg))?;
    // The CRC of the empty message is 0 when the initial value equals the final XOR.
    let mut crc = 0u64;
    for (raw, len) in parts {
        if raw.len() != alg.digest_len() {
            return Err(ChecksumError::InvalidValue(alg));
        }
        let part_crc = raw.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        crc = spec.combine(crc, part_crc, *len);
    }
    Ok(crc.to_be_bytes()[8 - alg.digest_len()..].to_vec())
}

/// A reflected CRC whose initial value equals its final XOR.
#[derive(Debug, Clone, Copy)]
struct CrcSpec {
    width: usize,
    reflected_poly: u64,
}

impl CrcSpec {
    /// `crc(A ‖ B)` from `crc(A)`, `crc(B)` and `len(B)`.
    fn combine(self, crc_a: u64, crc_b: u64, mut len_b: u64) -> u64 {
        if len_b == 0 {
            return crc_a;
        }
        // Column n of an operator is the image of register bit n. Feeding one zero bit shifts
        // the register right and folds the polynomial back in when bit 0 falls out.
        let mut odd: Vec<u64> = (0..self.width)
            .map(|n| {
                if n == 0 {
                    self.reflected_poly
                } else {
                    1 << (n - 1)
                }
            })
            .collect();
        let mut even = gf2_square(&odd); // 2 zero bits
        odd = gf2_square(&even); // 4 zero bits

        // Walk the bits of len_b, squaring to 1, 2, 4, … zero bytes and applying the operator
        // for every set bit.
        let mut crc = crc_a;
        loop {
            even = gf2_square(&odd);
            if len_b & 1 == 1 {
                crc = gf2_times(&even, crc);
            }
            len_b >>= 1;
            if len_b == 0 {
                break;
            }
            odd = gf2_square(&even);
            if len_b & 1 == 1 {
                crc = gf2_times(&odd, crc);
            }
            len_b >>= 1;
            if len_b == 0 {
                break;
            }
        }
        crc ^ crc_b
    }
}

/// Operator (columns) applied to a vector over GF(2).
fn gf2_times(operator: &[u64], mut vector: u64) -> u64 {
    let mut sum = 0;
    for column in operator {
        if vector == 0 {
            break;
        }
        if vector & 1 == 1 {
            sum ^= column;
        }
        vector >>= 1;
    }
    sum
}

fn gf2_square(operator: &[u64]) -> Vec<u64> {
    operator
        .iter()
        .map(|&col| gf2_times(operator, col))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    fn crcs() -> [ChecksumAlgorithm; 3] {
        [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ]
    }

    #[test]
    fn published_check_values() {
        let check = b"123456789";
        let hex = |alg| hex::encode(digest(alg, check));
        assert_eq!(hex(ChecksumAlgorithm::Crc32), "cbf43926");
        assert_eq!(hex(ChecksumAlgorithm::Crc32c), "e3069283");
        assert_eq!(hex(ChecksumAlgorithm::Crc64Nvme), "ae8b14860a799888");
        assert_eq!(
            hex(ChecksumAlgorithm::Sha1),
            "f7c3bc1d808e04732adf679965ccc34ca7ae3441"
        );
        assert_eq!(
            hex(ChecksumAlgorithm::Sha256),
            "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"
        );
        // Recorded from AWS S3.
        assert_eq!(
            b64(&digest(ChecksumAlgorithm::Crc64Nvme, b"test data..")),
            "qUVrWYOrIAM="
        );
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        for alg in ChecksumAlgorithm::ALL {
            let mut h = Hasher::new(alg);
            for chunk in data.chunks(37) {
                h.update(chunk);
            }
            let raw = h.finalize();
            assert_eq!(raw.len(), alg.digest_len());
            assert_eq!(raw, digest(alg, &data), "{alg}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            ChecksumAlgorithm::from_name("crc32c"),
            Some(ChecksumAlgorithm::Crc32c)
        );
        assert_eq!(
            ChecksumAlgorithm::from_name("CRC64NVME"),
            Some(ChecksumAlgorithm::Crc64Nvme)
        );
        assert_eq!(
            ChecksumAlgorithm::from_name("Sha256"),
            Some(ChecksumAlgorithm::Sha256)
        );
        assert_eq!(ChecksumAlgorithm::from_name("md5"), None);
        assert_eq!(
            ChecksumAlgorithm::Crc32.header_name(),
            "x-amz-checksum-crc32"
        );
        assert_eq!(
            ChecksumAlgorithm::Crc64Nvme.default_type(),
            ChecksumType::FullObject
        );
        assert_eq!(
            ChecksumAlgorithm::Sha1.default_type(),
            ChecksumType::Composite
        );
        assert!(ChecksumAlgorithm::Crc32c.supports_full_object());
        assert!(!ChecksumAlgorithm::Sha256.supports_full_object());
        assert_eq!(
            ChecksumType::from_name("full_object"),
            Some(ChecksumType::FullObject)
        );
        assert_eq!(ChecksumType::Composite.as_str(), "COMPOSITE");
    }

    #[test]
    fn parse_rejects_bad_values() {
        let alg = ChecksumAlgorithm::Crc32;
        assert_eq!(
            parse_b64(alg, "NRU+Sw==").unwrap(),
            vec![0x35, 0x15, 0x3e, 0x4b]
        );
        for bad in ["", "NRU+Sw", "NRU+Sw=", "!!!!!!==", "qUVrWYOrIAM="] {
            assert_eq!(
                parse_b64(alg, bad),
                Err(ChecksumError::InvalidValue(alg)),
                "{bad}"
            );
        }
        assert_eq!(
            ChecksumError::InvalidValue(ChecksumAlgorithm::Crc32c).to_string(),
            "Value for x-amz-checksum-crc32c header is invalid."
        );
        assert!(parse_b64(ChecksumAlgorithm::Crc64Nvme, "qUVrWYOrIAM=").is_ok());
    }

    #[test]
    fn composite_vector() {
        let parts: Vec<Vec<u8>> = ["NRU+Sw==", "NRU+Sw==", "TBHN8A=="]
            .iter()
            .map(|v| parse_b64(ChecksumAlgorithm::Crc32, v).unwrap())
            .collect();
        assert_eq!(composite(ChecksumAlgorithm::Crc32, &parts), "5FRUiw==-3");
    }

    #[test]
    fn full_object_vector() {
        // Three parts of 5 MiB+1, 5 MiB+1 and 10 bytes of 'a', as AWS S3 computed them.
        let big = vec![b'a'; 5 * 1024 * 1024 + 1];
        let small = vec![b'a'; 10];
        let crc32 = ChecksumAlgorithm::Crc32;
        assert_eq!(b64(&digest(crc32, &big)), "NRU+Sw==");
        assert_eq!(b64(&digest(crc32, &small)), "TBHN8A==");
        let parts = [
            (digest(crc32, &big), big.len() as u64),
            (digest(crc32, &big), big.len() as u64),
            (digest(crc32, &small), small.len() as u64),
        ];
        assert_eq!(
            b64(&combine_full_object(crc32, &parts).unwrap()),
            "qSEQSA=="
        );
        let whole = [big.as_slice(), &big, &small].concat();
        for alg in crcs() {
            let parts: Vec<_> = [&big, &big, &small]
                .iter()
                .map(|p| (digest(alg, p), p.len() as u64))
                .collect();
            assert_eq!(
                combine_full_object(alg, &parts).unwrap(),
                digest(alg, &whole),
                "{alg}"
            );
        }
    }

    #[test]
    fn full_object_random_splits() {
        let mut rng = rand::rng();
        let mut data = vec![0u8; 5000];
        rng.fill_bytes(&mut data);
        for _ in 0..50 {
            let mut cuts: Vec<usize> = (0..rng.next_u32() % 6)
                .map(|_| rng.next_u32() as usize % (data.len() + 1))
                .collect();
            cuts.extend([0, data.len()]);
            cuts.sort_unstable();
            for alg in crcs() {
                let parts: Vec<_> = cuts
                    .windows(2)
                    .map(|w| (digest(alg, &data[w[0]..w[1]]), (w[1] - w[0]) as u64))
                    .collect();
                assert_eq!(
                    combine_full_object(alg, &parts).unwrap(),
                    digest(alg, &data)
                );
            }
        }
        for alg in crcs() {
            assert_eq!(combine_full_object(alg, &[]).unwrap(), digest(alg, b""));
        }
    }

    #[test]
    fn full_object_of_multi_mib_random_parts_is_the_direct_crc() {
        // Part sizes as real uploads have them: several MiB, odd lengths, a short last part.
        let mut rng = rand::rng();
        let sizes = [5 * 1024 * 1024 + 3, 8 * 1024 * 1024, 1, 65_537];
        let parts: Vec<Vec<u8>> = sizes
            .iter()
            .map(|&n| {
                let mut v = vec![0u8; n];
                rng.fill_bytes(&mut v);
                v
            })
            .collect();
        let whole = parts.concat();
        for alg in crcs() {
            let raws: Vec<_> = parts
                .iter()
                .map(|p| (digest(alg, p), p.len() as u64))
                .collect();
            assert_eq!(
                combine_full_object(alg, &raws).unwrap(),
                digest(alg, &whole),
                "{alg}"
            );
        }
    }

    #[test]
    fn generic_combine_agrees_with_crate_combines() {
        let mut rng = rand::rng();
        for _ in 0..20 {
            let (a, b) = (rng.next_u32(), rng.next_u32());
            let len = u64::from(rng.next_u32() % 100_000);
            let spec32 = ChecksumAlgorithm::Crc32.crc_spec().unwrap();
            let spec32c = ChecksumAlgorithm::Crc32c.crc_spec().unwrap();
            assert_eq!(
                spec32c.combine(a.into(), b.into(), len),
                u64::from(crc32c::crc32c_combine(a, b, len as usize))
            );
            let mut ha = crc32fast::Hasher::new_with_initial_len(a, 0);
            ha.combine(&crc32fast::Hasher::new_with_initial_len(b, len));
            assert_eq!(
                spec32.combine(a.into(), b.into(), len),
                u64::from(ha.finalize())
            );
        }
    }

    #[test]
    fn sha_cannot_combine() {
        let err = combine_full_object(ChecksumAlgorithm::Sha256, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm."
        );
        assert!(combine_full_object(ChecksumAlgorithm::Crc32, &[(vec![0; 8], 1)]).is_err());
    }
}
