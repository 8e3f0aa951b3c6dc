//! The stored data format: a part's plaintext as a sequence of AES-256-GCM segments.
//!
//! The full specification, with test vectors, is `docs/FORMAT.md`; this is a summary of the
//! decisions and why.
//!
//! - **Keys.** Every object has a random 256-bit [`ObjectKey`]. Every part (a single PUT is one
//!   part) gets a fresh 16-byte salt and its own [`PartKey`] =
//!   HKDF-SHA256(ikm = object key, salt, info = `sealgate/v1/part-key`). Uploading a part number
//!   again therefore never reuses a (key, nonce) pair, even though the object key is shared.
//! - **Segments (STREAM).** The plaintext is cut into fixed-size segments (the last one may be
//!   shorter; a 0-byte part is one empty final segment). Segment `i` is sealed with the nonce
//!   `prefix(7) ‖ u32_be(i) ‖ last_flag(1)`, where the 7-byte prefix is random per part and
//!   `last_flag` is `0x01` only on the final segment. Each sealed segment is its ciphertext
//!   followed by the 16-byte tag, so segment `i` starts at `i × (segment_size + 16)`: a range
//!   read maps to segments by arithmetic and never decrypts from byte 0.
//! - **No AAD.** Everything a segment must be bound to is already in its key or nonce: the key
//!   is unique to one part of one object (so segments cannot move between parts or objects),
//!   the counter pins its position (so reordering fails), and the last-flag pins the end (so
//!   truncation at a segment boundary and extension both fail). The plaintext length comes from
//!   the meta record; the [`Opener`] derives from it which index is last and how long each
//!   segment must be, so a wrong length also fails. Extra AAD would add no binding.
//! - **Bounded memory.** [`Sealer`] holds at most one segment (the last-flag of a segment is
//!   only known once more data arrives or the input ends); [`RangeDecoder`] holds at most one
//!   sealed segment.
//!
//! The counter is 32 bits, so one part holds at most 2^32 segments (256 TiB at the default
//! segment size); [`Sealer::push`] refuses to go past that rather than wrap the counter.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Default plaintext bytes per segment.
pub(crate) const DEFAULT_SEGMENT_SIZE: u32 = 64 * 1024;
/// Largest accepted segment size; it bounds the memory a sealer or decoder holds.
pub(crate) const MAX_SEGMENT_SIZE: u32 = 16 * 1024 * 1024;
/// Bytes of the GCM tag appended to every segment.
pub(crate) const TAG_LEN: u64 = 16;
/// Bytes of an object key or part key.
pub(crate) const KEY_LEN: usize = 32;
/// Bytes of a part's key salt.
pub(crate) const PART_SALT_LEN: usize = 16;
/// Bytes of a part's STREAM nonce prefix.
pub(crate) const NONCE_PREFIX_LEN: usize = 7;
/// Most segments a part can have: the counter in the nonce is a `u32`.
pub(crate) const MAX_SEGMENTS: u64 = 1 << 32;

const PART_KEY_INFO: &[u8] = b"sealgate/v1/part-key";
const PART_KEY_INFO_V2: &[u8] = b"sealgate/v2/part-key";

/// Errors of the envelope. Authentication failures say only which segment failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EnvelopeError {
    #[error("segment size {0} is outside 1..={MAX_SEGMENT_SIZE}")]
    InvalidSegmentSize(u32),
    #[error("a part may have at most 2^32 segments")]
    TooLong,
    #[error("key salt must be {PART_SALT_LEN} bytes and nonce prefix {NONCE_PREFIX_LEN} bytes")]
    InvalidPartParameters,
    #[error("range {start}-{end_inclusive} is not satisfiable for {plain_len} bytes")]
    InvalidRange {
        plain_len: u64,
        start: u64,
        end_inclusive: u64,
    },
    #[error("segment {index} does not exist in this part")]
    NoSuchSegment { index: u64 },
    #[error("segment {index} has {actual} ciphertext bytes, expected {expected}")]
    SegmentLength {
        index: u64,
        expected: u64,
        actual: u64,
    },
    #[error("segment {index} failed authentication")]
    Authentication { index: u64 },
    #[error("ciphertext ended before the last segment of the range")]
    Truncated,
    #[error("ciphertext continues past the last segment of the range")]
    TrailingData,
}

/// A random 256-bit key that encrypts one object's data (through per-part [`PartKey`]s).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct ObjectKey([u8; KEY_LEN]);

impl ObjectKey {
    pub(crate) fn generate() -> Self {
        let mut key = ObjectKey([0; KEY_LEN]);
        rand::rng().fill_bytes(&mut key.0);
        key
    }

    #[cfg(test)]
    pub(crate) fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        ObjectKey(*bytes)
    }

    /// `None` unless `bytes` is exactly [`KEY_LEN`] long.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        let mut key = ObjectKey([0; KEY_LEN]);
        key.0.copy_from_slice(bytes);
        Some(key)
    }

    pub(crate) fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ObjectKey(<redacted>)")
    }
}

/// The key that seals one part's segments; see [`derive_part_key`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct PartKey([u8; KEY_LEN]);

impl PartKey {
    #[cfg(test)]
    pub(crate) fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn cipher(&self) -> SegmentCipher {
        SegmentCipher::new(self)
    }
}

impl fmt::Debug for PartKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PartKey(<redacted>)")
    }
}

/// Whether a part's key binds its part number (docs/FORMAT.md §2): version 2 objects do, so a
/// part moved to another position of the part list no longer decrypts; version 1 objects (and
/// copies of them, which share their blobs) do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartBinding {
    V1,
    /// The part's number.
    Number(u32),
}

/// Version 1: `HKDF-SHA256(ikm = object key, salt = key_salt, info = "sealgate/v1/part-key")`.
/// Version 2: `info = "sealgate/v2/part-key" ‖ u32be(part number)`.
pub(crate) fn derive_part_key(
    object_key: &ObjectKey,
    salt: &[u8],
    binding: PartBinding,
) -> PartKey {
    let mut key = PartKey([0; KEY_LEN]);
    let hk = Hkdf::<Sha256>::new(Some(salt), object_key.as_bytes());
    match binding {
        PartBinding::V1 => hk.expand(PART_KEY_INFO, &mut key.0),
        PartBinding::Number(n) => {
            hk.expand_multi_info(&[PART_KEY_INFO_V2, &n.to_be_bytes()], &mut key.0)
        }
    }
    .expect("32 bytes is a valid HKDF-SHA256 output length");
    key
}

/// The fresh random values a new part upload needs; both are persisted in the part's layout
/// (`key_salt`, `nonce_prefix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartParams {
    pub(crate) key_salt: [u8; PART_SALT_LEN],
    pub(crate) nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl PartParams {
    pub(crate) fn generate() -> Self {
        let mut params = PartParams {
            key_salt: [0; PART_SALT_LEN],
            nonce_prefix: [0; NONCE_PREFIX_LEN],
        };
        rand::rng().fill_bytes(&mut params.key_salt);
        rand::rng().fill_bytes(&mut params.nonce_prefix);
        params
    }

    /// From the byte fields of a persisted part layout.
    pub(crate) fn from_slices(key_salt: &[u8], nonce_prefix: &[u8]) -> Result<Self, EnvelopeError> {
        Ok(PartParams {
            key_salt: key_salt
                .try_into()
                .map_err(|_| EnvelopeError::InvalidPartParameters)?,
            nonce_prefix: nonce_prefix
                .try_into()
                .map_err(|_| EnvelopeError::InvalidPartParameters)?,
        })
    }
}

/// `Ok` if `segment_size` is in `1..=MAX_SEGMENT_SIZE`.
pub(crate) fn check_segment_size(segment_size: u32) -> Result<(), EnvelopeError> {
    if segment_size == 0 || segment_size > MAX_SEGMENT_SIZE {
        return Err(EnvelopeError::InvalidSegmentSize(segment_size));
    }
    Ok(())
}

/// Number of segments of a part: `max(1, ceil(plain_len / segment_size))`.
///
/// # Panics
/// If `segment_size` is 0 (constructors of [`Sealer`] and [`Opener`] reject that).
pub(crate) fn segment_count(plain_len: u64, segment_size: u32) -> u64 {
    assert!(segment_size > 0, "segment size must be nonzero");
    plain_len.div_ceil(u64::from(segment_size)).max(1)
}

/// Stored size of a part: `plain_len + 16 × segment_count`.
///
/// # Panics
/// If `segment_size` is 0.
pub(crate) fn ciphertext_len(plain_len: u64, segment_size: u32) -> u64 {
    plain_len + TAG_LEN * segment_count(plain_len, segment_size)
}

/// Plaintext length of segment `index` of a part (`index` must be below the segment count).
fn segment_plain_len(plain_len: u64, segment_size: u32, index: u64) -> u64 {
    let seg = u64::from(segment_size);
    (plain_len - index * seg).min(seg)
}

fn segment_offset(segment_size: u32, index: u64) -> u64 {
    index * (u64::from(segment_size) + TAG_LEN)
}

fn nonce(prefix: &[u8; NONCE_PREFIX_LEN], index: u64, last: bool) -> [u8; 12] {
    let counter = u32::try_from(index).expect("segment index checked against MAX_SEGMENTS");
    let mut n = [0u8; 12];
    n[..NONCE_PREFIX_LEN].copy_from_slice(prefix);
    n[NONCE_PREFIX_LEN..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// The AES-256-GCM of one part's segments, in place with a detached tag; the one place that
/// names the implementation. `ring`'s (which rustls already links) runs about 3x as fast as
/// RustCrypto's `aes-gcm` on the same CPU (benches/cipher.rs, docs/PERFORMANCE.md), and the
/// data path is bound by it. Both are standard AES-256-GCM: the format does not depend on the
/// choice. Unlike `aes-gcm`, ring does not wipe its key schedule when dropped; the part key it
/// was made from is wiped ([`PartKey`]), as rustls leaves its traffic keys to ring likewise.
#[derive(Clone)]
struct SegmentCipher(std::sync::Arc<ring::aead::LessSafeKey>);

impl SegmentCipher {
    fn new(key: &PartKey) -> SegmentCipher {
        let key = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &key.0)
            .expect("a part key is 32 bytes");
        SegmentCipher(std::sync::Arc::new(ring::aead::LessSafeKey::new(key)))
    }

    /// Encrypts `in_out` and returns the tag.
    fn seal(&self, nonce: [u8; 12], in_out: &mut [u8]) -> ring::aead::Tag {
        self.0
            .seal_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::empty(),
                in_out,
            )
            .expect("segment is far below the AES-GCM length limit")
    }

    /// Authenticates `in_out` against `tag` and decrypts it; on `Err` nothing in `in_out` may
    /// be used.
    fn open(&self, nonce: [u8; 12], in_out: &mut [u8], tag: &[u8]) -> Result<(), ()> {
        let tag = ring::aead::Tag::try_from(tag).map_err(|_| ())?;
        self.0
            .open_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::empty(),
                tag,
                in_out,
                0..,
            )
            .map(|_| ())
            .map_err(|_| ())
    }
}

/// Streaming encryptor for one part.
pub(crate) struct Sealer {
    cipher: SegmentCipher,
    prefix: [u8; NONCE_PREFIX_LEN],
    segment_size: usize,
    next_index: u64,
    /// Plaintext not yet sealed; at most one segment, sealed in place and reused. Allocated
    /// once for a whole segment, so it never reallocates (which would leave a plaintext copy
    /// behind).
    buf: Vec<u8>,
}

impl Sealer {
    pub(crate) fn new(
        key: &PartKey,
        nonce_prefix: [u8; NONCE_PREFIX_LEN],
        segment_size: u32,
    ) -> Result<Self, EnvelopeError> {
        check_segment_size(segment_size)?;
        let segment_size = segment_size as usize;
        Ok(Sealer {
            cipher: key.cipher(),
            prefix: nonce_prefix,
            segment_size,
            next_index: 0,
            buf: Vec::with_capacity(segment_size + TAG_LEN as usize),
        })
    }

    /// A sealer for a new part of the object keyed by `object_key`, with fresh random
    /// parameters that the caller must persist in the part's layout.
    pub(crate) fn for_new_part(
        object_key: &ObjectKey,
        binding: PartBinding,
        segment_size: u32,
    ) -> Result<(Self, PartParams), EnvelopeError> {
        let params = PartParams::generate();
        let key = derive_part_key(object_key, &params.key_salt, binding);
        Ok((
            Sealer::new(&key, params.nonce_prefix, segment_size)?,
            params,
        ))
    }

    /// Feeds plaintext and appends the segments it completed (ciphertext ‖ tag each) to
    /// `out`, the caller's write buffer: segments are sealed in the sealer's one buffer, which
    /// is reused, so a part of any size costs no allocation per segment.
    ///
    /// A full segment is only sealed once at least one more byte arrives, because whether it
    /// is the last one decides its nonce. After [`EnvelopeError::TooLong`] the part must be
    /// abandoned.
    pub(crate) fn push_into(
        &mut self,
        mut data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), EnvelopeError> {
        while !data.is_empty() {
            if self.buf.len() == self.segment_size {
                // The final segment still needs an index after this one.
                if self.next_index + 1 >= MAX_SEGMENTS {
                    return Err(EnvelopeError::TooLong);
                }
                self.seal_buffered(false, out);
            }
            let n = (self.segment_size - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        Ok(())
    }

    /// Seals what is buffered as the final segment (possibly empty) and appends it to `out`.
    pub(crate) fn finish_into(mut self, out: &mut Vec<u8>) {
        self.seal_buffered(true, out);
    }

    fn seal_buffered(&mut self, last: bool, out: &mut Vec<u8>) {
        let tag = self
            .cipher
            .seal(nonce(&self.prefix, self.next_index, last), &mut self.buf);
        out.extend_from_slice(&self.buf);
        out.extend_from_slice(tag.as_ref());
        // Within its capacity: the buffer never reallocates, so no plaintext copy is left.
        self.buf.clear();
        self.next_index += 1;
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("segment_size", &self.segment_size)
            .field("next_index", &self.next_index)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
/// Seals a whole part in memory (small inputs and tests).
pub(crate) fn seal_all(
    key: &PartKey,
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
    segment_size: u32,
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    let mut sealer = Sealer::new(key, nonce_prefix, segment_size)?;
    let mut out = Vec::with_capacity(ciphertext_len(plaintext.len() as u64, segment_size) as usize);
    sealer.push_into(plaintext, &mut out)?;
    sealer.finish_into(&mut out);
    Ok(out)
}

/// Decryptor for the segments of one part whose plaintext length is known (from meta).
#[derive(Clone)]
pub(crate) struct Opener {
    cipher: SegmentCipher,
    prefix: [u8; NONCE_PREFIX_LEN],
    segment_size: u32,
    plaintext_len: u64,
    segments: u64,
}

impl Opener {
    pub(crate) fn new(
        key: &PartKey,
        nonce_prefix: [u8; NONCE_PREFIX_LEN],
        segment_size: u32,
        plaintext_len: u64,
    ) -> Result<Self, EnvelopeError> {
        check_segment_size(segment_size)?;
        let segments = segment_count(plaintext_len, segment_size);
        if segments > MAX_SEGMENTS {
            return Err(EnvelopeError::TooLong);
        }
        Ok(Opener {
            cipher: key.cipher(),
            prefix: nonce_prefix,
            segment_size,
            plaintext_len,
            segments,
        })
    }

    /// An opener from the persisted fields of a part: its `key_salt` and `nonce_prefix` as
    /// stored, the object's segment size and the part's plaintext size.
    pub(crate) fn for_part(
        object_key: &ObjectKey,
        binding: PartBinding,
        key_salt: &[u8],
        nonce_prefix: &[u8],
        segment_size: u32,
        plaintext_len: u64,
    ) -> Result<Self, EnvelopeError> {
        let params = PartParams::from_slices(key_salt, nonce_prefix)?;
        let key = derive_part_key(object_key, &params.key_salt, binding);
        Opener::new(&key, params.nonce_prefix, segment_size, plaintext_len)
    }

    #[cfg(test)]
    pub(crate) fn segment_count(&self) -> u64 {
        self.segments
    }

    /// Exact stored length of segment `index` (plaintext + tag).
    pub(crate) fn segment_ciphertext_len(&self, index: u64) -> Result<u64, EnvelopeError> {
        if index >= self.segments {
            return Err(EnvelopeError::NoSuchSegment { index });
        }
        Ok(segment_plain_len(self.plaintext_len, self.segment_size, index) + TAG_LEN)
    }

    /// Authenticates and decrypts segment `index` (ciphertext ‖ tag, exactly as stored) in
    /// place: the plaintext is `segment`'s own memory, without its tag.
    pub(crate) fn open_segment(
        &self,
        index: u64,
        mut segment: BytesMut,
    ) -> Result<Bytes, EnvelopeError> {
        let expected = self.segment_ciphertext_len(index)?;
        if segment.len() as u64 != expected {
            return Err(EnvelopeError::SegmentLength {
                index,
                expected,
                actual: segment.len() as u64,
            });
        }
        let last = index + 1 == self.segments;
        let plain_len = segment.len() - TAG_LEN as usize;
        let (data, tag) = segment.split_at_mut(plain_len);
        self.cipher
            .open(nonce(&self.prefix, index, last), data, tag)
            .map_err(|()| EnvelopeError::Authentication { index })?;
        segment.truncate(plain_len);
        Ok(segment.freeze())
    }
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener")
            .field("segment_size", &self.segment_size)
            .field("plaintext_len", &self.plaintext_len)
            .field("segments", &self.segments)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
/// Decrypts a whole part in memory (small inputs and tests).
pub(crate) fn open_all(opener: &Opener, ciphertext: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let mut decoder = RangeDecoder::new(
        opener.clone(),
        plan_whole(opener.plaintext_len, opener.segment_size),
    );
    let mut out = Vec::with_capacity(opener.plaintext_len as usize);
    for chunk in decoder.push(ciphertext)? {
        out.extend_from_slice(&chunk);
    }
    decoder.finish()?;
    Ok(out)
}

/// Which stored bytes a plaintext range needs and how to cut the decrypted segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RangePlan {
    pub(crate) first_segment: u64,
    pub(crate) last_segment: u64,
    /// Offset in the part's blob of `first_segment`.
    pub(crate) ciphertext_start: u64,
    /// End (exclusive) in the part's blob of `last_segment`.
    pub(crate) ciphertext_end_exclusive: u64,
    /// Bytes to drop from the front of the first decrypted segment.
    pub(crate) skip_front: usize,
    /// Plaintext bytes the range yields.
    pub(crate) take: u64,
}

/// Maps the plaintext range `start..=end_inclusive` of a part to segments and blob offsets.
///
/// # Panics
/// If `segment_size` is 0.
pub(crate) fn plan_range(
    plain_len: u64,
    segment_size: u32,
    start: u64,
    end_inclusive: u64,
) -> Result<RangePlan, EnvelopeError> {
    assert!(segment_size > 0, "segment size must be nonzero");
    if start > end_inclusive || end_inclusive >= plain_len {
        return Err(EnvelopeError::InvalidRange {
            plain_len,
            start,
            end_inclusive,
        });
    }
    let seg = u64::from(segment_size);
    let first_segment = start / seg;
    let last_segment = end_inclusive / seg;
    Ok(RangePlan {
        first_segment,
        last_segment,
        ciphertext_start: segment_offset(segment_size, first_segment),
        ciphertext_end_exclusive: segment_offset(segment_size, last_segment)
            + segment_plain_len(plain_len, segment_size, last_segment)
            + TAG_LEN,
        skip_front: (start - first_segment * seg) as usize,
        take: end_inclusive - start + 1,
    })
}

#[cfg(test)]
/// The plan that reads (and authenticates) a whole part, including a 0-byte one.
///
/// # Panics
/// If `segment_size` is 0.
pub(crate) fn plan_whole(plain_len: u64, segment_size: u32) -> RangePlan {
    if plain_len == 0 {
        assert!(segment_size > 0, "segment size must be nonzero");
        return RangePlan {
            first_segment: 0,
            last_segment: 0,
            ciphertext_start: 0,
            ciphertext_end_exclusive: TAG_LEN,
            skip_front: 0,
            take: 0,
        };
    }
    plan_range(plain_len, segment_size, 0, plain_len - 1).expect("whole range is valid")
}

/// Turns the stored bytes `plan.ciphertext_start..plan.ciphertext_end_exclusive`, arriving in
/// chunks of any size, into the plaintext of the planned range.
///
/// Segments are opened in place. A chunk handed over as [`Bytes`] that nothing else shares
/// (what a file read produces) is decrypted in its own memory and its plaintext pieces are
/// slices of it: no copy. Only a segment split across chunks is gathered into a buffer.
#[derive(Debug)]
pub(crate) struct RangeDecoder {
    opener: Opener,
    next_segment: u64,
    last_segment: u64,
    /// Partial sealed segment; never more than one segment plus tag.
    buf: BytesMut,
    skip_front: usize,
    remaining: u64,
    /// The first error; the decoder repeats it instead of decoding past a bad segment.
    failed: Option<EnvelopeError>,
}

impl RangeDecoder {
    pub(crate) fn new(opener: Opener, plan: RangePlan) -> Self {
        RangeDecoder {
            opener,
            next_segment: plan.first_segment,
            last_segment: plan.last_segment,
            buf: BytesMut::new(),
            skip_front: plan.skip_front,
            remaining: plan.take,
            failed: None,
        }
    }

    /// Feeds stored bytes (copied); see [`RangeDecoder::push_bytes`].
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn push(&mut self, ciphertext: &[u8]) -> Result<Vec<Bytes>, EnvelopeError> {
        self.push_owned(BytesMut::from(ciphertext))
    }

    /// Feeds stored bytes; returns the plaintext of every segment they completed, trimmed to
    /// the range. Once an error is returned, every later call returns it again. A `chunk`
    /// shared with other owners is copied once, as it must not be decrypted under them.
    pub(crate) fn push_bytes(&mut self, chunk: Bytes) -> Result<Vec<Bytes>, EnvelopeError> {
        let owned = chunk
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        self.push_owned(owned)
    }

    fn push_owned(&mut self, ciphertext: BytesMut) -> Result<Vec<Bytes>, EnvelopeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.decode(ciphertext)
            .inspect_err(|e| self.failed = Some(e.clone()))
    }

    fn decode(&mut self, mut ciphertext: BytesMut) -> Result<Vec<Bytes>, EnvelopeError> {
        let mut out = Vec::new();
        while !ciphertext.is_empty() {
            if self.next_segment > self.last_segment {
                return Err(EnvelopeError::TrailingData);
            }
            let want = self.opener.segment_ciphertext_len(self.next_segment)? as usize;
            let segment = if self.buf.is_empty() && ciphertext.len() >= want {
                ciphertext.split_to(want)
            } else {
                let n = (want - self.buf.len()).min(ciphertext.len());
                self.buf.extend_from_slice(&ciphertext[..n]);
                ciphertext.advance(n);
                if self.buf.len() < want {
                    break;
                }
                self.buf.split()
            };
            let plain = self.opener.open_segment(self.next_segment, segment)?;
            self.next_segment += 1;
            let start = self.skip_front.min(plain.len());
            self.skip_front = 0;
            let len = (plain.len() - start).min(self.remaining as usize);
            self.remaining -= len as u64;
            if len > 0 {
                out.push(plain.slice(start..start + len));
            }
        }
        Ok(out)
    }

    /// Confirms that every segment of the range arrived.
    pub(crate) fn finish(self) -> Result<(), EnvelopeError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.next_segment <= self.last_segment {
            return Err(EnvelopeError::Truncated);
        }
        Ok(())
    }
}

/// Maps a plaintext range of a multipart object onto its parts: `(part index, start within
/// part, end within part inclusive)` for every part the range touches, in order. Empty parts
/// are never listed. The range is clipped to the object; an empty result means nothing of
/// `start..=end_inclusive` lies inside it.
pub(crate) fn split_range_over_parts(
    part_sizes: &[u64],
    start: u64,
    end_inclusive: u64,
) -> Vec<(usize, u64, u64)> {
    let mut pieces = Vec::new();
    let mut part_start = 0u64;
    for (index, &size) in part_sizes.iter().enumerate() {
        if start > end_inclusive || part_start > end_inclusive {
            break;
        }
        let part_end_exclusive = part_start + size;
        if size > 0 && start < part_end_exclusive {
            let from = start.max(part_start) - part_start;
            let to = end_inclusive.min(part_end_exclusive - 1) - part_start;
            pieces.push((index, from, to));
        }
        part_start = part_end_exclusive;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEG: u32 = 16;

    fn key() -> PartKey {
        derive_part_key(&ObjectKey::from_bytes(&[7; 32]), &[9; 16], PartBinding::V1)
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + 7) as u8).collect()
    }

    fn opener(len: u64) -> Opener {
        Opener::new(&key(), [1; 7], SEG, len).unwrap()
    }

    /// Cuts a sealed part into its segments by the size arithmetic.
    fn segments(ct: &[u8], len: u64) -> Vec<Vec<u8>> {
        let o = opener(len);
        let mut at = 0;
        (0..o.segment_count())
            .map(|i| {
                let n = o.segment_ciphertext_len(i).unwrap() as usize;
                at += n;
                ct[at - n..at].to_vec()
            })
            .collect()
    }

    #[test]
    fn round_trips_edge_and_random_sizes() {
        let s = SEG as usize;
        let mut sizes = vec![0, 1, s - 1, s, s + 1, 2 * s, 3 * s, 3 * s + 5];
        let mut rng = rand::rng();
        sizes.extend((0..40).map(|_| (rng.next_u32() % 500) as usize));
        for len in sizes {
            let pt = data(len);
            let ct = seal_all(&key(), [1; 7], SEG, &pt).unwrap();
            assert_eq!(
                ct.len() as u64,
                ciphertext_len(len as u64, SEG),
                "len {len}"
            );
            assert_eq!(open_all(&opener(len as u64), &ct).unwrap(), pt, "len {len}");
        }
    }

    #[test]
    fn segment_arithmetic() {
        assert_eq!(segment_count(0, SEG), 1);
        assert_eq!(segment_count(1, SEG), 1);
        assert_eq!(segment_count(16, SEG), 1);
        assert_eq!(segment_count(17, SEG), 2);
        assert_eq!(ciphertext_len(0, SEG), 16);
        assert_eq!(ciphertext_len(48, SEG), 48 + 48);
        assert_eq!(ciphertext_len(49, SEG), 49 + 64);
        assert_eq!(
            ciphertext_len(5 * 1024 * 1024 * 1024, DEFAULT_SEGMENT_SIZE),
            5 * 1024 * 1024 * 1024 + 16 * 81920
        );
    }

    #[test]
    fn empty_part_is_one_tag() {
        let ct = seal_all(&key(), [1; 7], SEG, b"").unwrap();
        assert_eq!(ct.len(), 16);
        assert!(open_all(&opener(0), &ct).unwrap().is_empty());
        assert!(open_all(&opener(0), b"").is_err());
    }

    #[test]
    fn streaming_push_matches_seal_all_for_any_chunking() {
        let pt = data(200);
        let whole = seal_all(&key(), [1; 7], SEG, &pt).unwrap();
        for chunk in [1, 3, 15, 16, 17, 64, 200] {
            let mut sealer = Sealer::new(&key(), [1; 7], SEG).unwrap();
            let mut out = Vec::new();
            let capacity = sealer.buf.capacity();
            for piece in pt.chunks(chunk) {
                let before = out.len();
                sealer.push_into(piece, &mut out).unwrap();
                assert_eq!((out.len() - before) % (SEG as usize + 16), 0);
                assert!(sealer.buf.len() <= SEG as usize);
                assert_eq!(
                    sealer.buf.capacity(),
                    capacity,
                    "the segment buffer is reused"
                );
            }
            sealer.finish_into(&mut out);
            assert_eq!(out, whole, "chunk {chunk}");
        }
    }

    #[test]
    fn tampered_byte_fails() {
        let pt = data(40);
        let ct = seal_all(&key(), [1; 7], SEG, &pt).unwrap();
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 0x01;
            assert!(open_all(&opener(40), &bad).is_err(), "byte {i}");
        }
    }

    #[test]
    fn swapped_segments_fail() {
        let pt = data(48);
        let ct = seal_all(&key(), [1; 7], SEG, &pt).unwrap();
        let s = segments(&ct, 48);
        let swapped = [s[1].clone(), s[0].clone(), s[2].clone()].concat();
        assert_eq!(
            open_all(&opener(48), &swapped),
            Err(EnvelopeError::Authentication { index: 0 })
        );
    }

    #[test]
    fn truncation_fails() {
        let pt = data(48);
        let ct = seal_all(&key(), [1; 7], SEG, &pt).unwrap();
        let dropped = &ct[..ct.len() - 32];
        // The meta record still says 48 bytes: the stream ends early.
        assert_eq!(
            open_all(&opener(48), dropped),
            Err(EnvelopeError::Truncated)
        );
        // The length was also forged to match: segment 1 is not flagged last.
        assert_eq!(
            open_all(&opener(32), dropped),
            Err(EnvelopeError::Authentication { index: 1 })
        );
    }

    #[test]
    fn extension_fails() {
        let pt = data(40);
        let ct = seal_all(&key(), [1; 7], SEG, &pt).unwrap();
        let s = segments(&ct, 40);
        let extended = [ct.clone(), s[1].clone()].concat();
        assert_eq!(
            open_all(&opener(40), &extended),
            Err(EnvelopeError::TrailingData)
        );
        // Appending a copy of a middle segment after a full-length forged size: the old final
        // segment (index 2, 8 bytes) is no longer last and has the wrong length.
        assert!(open_all(&opener(56), &extended).is_err());
        // Full segments throughout: the old final segment is now in the middle.
        let pt = data(48);
        let ct = seal_all(&key(), [1; 7], SEG, &pt).unwrap();
        let s = segments(&ct, 48);
        let extended = [ct.clone(), s[1].clone()].concat();
        assert_eq!(
            open_all(&opener(64), &extended),
            Err(EnvelopeError::Authentication { index: 2 })
        );
    }

    #[test]
    fn wrong_key_prefix_or_salt_fails() {
        let pt = data(20);
        let ct = seal_all(&key(), [1; 7], SEG, &pt).unwrap();
        let other = derive_part_key(&ObjectKey::from_bytes(&[8; 32]), &[9; 16], PartBinding::V1);
        let other_salt =
            derive_part_key(&ObjectKey::from_bytes(&[7; 32]), &[10; 16], PartBinding::V1);
        for k in [other, other_salt] {
            let o = Opener::new(&k, [1; 7], SEG, 20).unwrap();
            assert_eq!(
                open_all(&o, &ct),
                Err(EnvelopeError::Authentication { index: 0 })
            );
        }
        let o = Opener::new(&key(), [2; 7], SEG, 20).unwrap();
        assert!(open_all(&o, &ct).is_err());
    }

    #[test]
    fn every_range_matches_whole_decryption() {
        for len in [1u64, 15, 16, 17, 47, 48, 49, 100] {
            let pt = data(len as usize);
            let ct = seal_all(&key(), [1; 7], SEG, &pt).unwrap();
            for start in 0..len {
                for end in start..len {
                    let plan = plan_range(len, SEG, start, end).unwrap();
                    assert_eq!(plan.take, end - start + 1);
                    let stored =
                        &ct[plan.ciphertext_start as usize..plan.ciphertext_end_exclusive as usize];
                    let mut dec = RangeDecoder::new(opener(len), plan);
                    let got: Vec<u8> = dec.push(stored).unwrap().concat();
                    dec.finish().unwrap();
                    assert_eq!(
                        got,
                        &pt[start as usize..=end as usize],
                        "{len} {start}-{end}"
                    );
                }
            }
        }
    }

    #[test]
    fn range_decoder_byte_at_a_time() {
        let len = 83u64;
        let pt = data(len as usize);
        let ct = seal_all(&key(), [1; 7], SEG, &pt).unwrap();
        for (start, end) in [(0, 82), (5, 5), (15, 16), (17, 70), (80, 82)] {
            let plan = plan_range(len, SEG, start, end).unwrap();
            let mut dec = RangeDecoder::new(opener(len), plan);
            let mut got = Vec::new();
            for b in &ct[plan.ciphertext_start as usize..plan.ciphertext_end_exclusive as usize] {
                for chunk in dec.push(std::slice::from_ref(b)).unwrap() {
                    assert!(!chunk.is_empty());
                    got.extend_from_slice(&chunk);
                }
            }
            dec.finish().unwrap();
            assert_eq!(got, &pt[start as usize..=end as usize]);
        }
    }

    #[test]
    fn range_decoder_detects_short_and_long_input() {
        let len = 50u64;
        let ct = seal_all(&key(), [1; 7], SEG, &data(50)).unwrap();
        let plan = plan_range(len, SEG, 10, 40).unwrap();
        let stored = &ct[plan.ciphertext_start as usize..plan.ciphertext_end_exclusive as usize];

        let mut dec = RangeDecoder::new(opener(len), plan);
        dec.push(&stored[..stored.len() - 1]).unwrap();
        assert_eq!(dec.finish(), Err(EnvelopeError::Truncated));

        let mut dec = RangeDecoder::new(opener(len), plan);
        let longer =
            &ct[plan.ciphertext_start as usize..plan.ciphertext_end_exclusive as usize + 1];
        assert_eq!(dec.push(longer), Err(EnvelopeError::TrailingData));
        assert_eq!(dec.finish(), Err(EnvelopeError::TrailingData));

        // A bad segment poisons the decoder: later input is not decoded past it.
        let mut bad = stored.to_vec();
        bad[0] ^= 1;
        let mut dec = RangeDecoder::new(opener(len), plan);
        let err = Err(EnvelopeError::Authentication { index: 0 });
        assert_eq!(dec.push(&bad[..32]), err);
        assert_eq!(dec.push(&bad[32..]), err);
        assert_eq!(
            dec.finish(),
            Err(EnvelopeError::Authentication { index: 0 })
        );
    }

    #[test]
    fn invalid_ranges_and_parameters() {
        assert!(plan_range(10, SEG, 10, 10).is_err());
        assert!(plan_range(10, SEG, 5, 4).is_err());
        assert!(plan_range(0, SEG, 0, 0).is_err());
        assert!(Sealer::new(&key(), [0; 7], 0).is_err());
        assert!(Sealer::new(&key(), [0; 7], MAX_SEGMENT_SIZE + 1).is_err());
        assert_eq!(
            Opener::new(&key(), [0; 7], 1, MAX_SEGMENTS + 1).unwrap_err(),
            EnvelopeError::TooLong
        );
        assert!(Opener::new(&key(), [0; 7], 1, MAX_SEGMENTS).is_ok());
        assert!(
            opener(10)
                .open_segment(1, BytesMut::from(&[0u8; 16][..]))
                .is_err()
        );
        let ok = ObjectKey::from_bytes(&[7; 32]);
        assert!(Opener::for_part(&ok, PartBinding::V1, &[9; 15], &[1; 7], SEG, 1).is_err());
        assert!(Opener::for_part(&ok, PartBinding::V1, &[9; 16], &[1; 8], SEG, 1).is_err());
    }

    #[test]
    fn for_part_matches_explicit_keys() {
        let ok = ObjectKey::generate();
        let bound = PartBinding::Number(2);
        let (mut sealer, params) = Sealer::for_new_part(&ok, bound, SEG).unwrap();
        let mut ct = Vec::new();
        sealer.push_into(&data(33), &mut ct).unwrap();
        sealer.finish_into(&mut ct);
        let open = |binding| {
            let o = Opener::for_part(
                &ok,
                binding,
                &params.key_salt,
                &params.nonce_prefix,
                SEG,
                33,
            )
            .unwrap();
            open_all(&o, &ct)
        };
        assert_eq!(open(bound).unwrap(), data(33));
        // The part number is in the key: the same blob at another position does not open.
        assert!(open(PartBinding::Number(1)).is_err());
        assert!(open(PartBinding::V1).is_err());
        assert_ne!(PartParams::generate(), params);
    }

    #[test]
    fn split_over_parts() {
        let parts = [10, 0, 5, 20];
        assert_eq!(
            split_range_over_parts(&parts, 0, 34),
            vec![(0, 0, 9), (2, 0, 4), (3, 0, 19)]
        );
        assert_eq!(
            split_range_over_parts(&parts, 9, 10),
            vec![(0, 9, 9), (2, 0, 0)]
        );
        assert_eq!(
            split_range_over_parts(&parts, 12, 16),
            vec![(2, 2, 4), (3, 0, 1)]
        );
        assert_eq!(split_range_over_parts(&parts, 20, 100), vec![(3, 5, 19)]);
        assert!(split_range_over_parts(&parts, 35, 40).is_empty());
        assert!(split_range_over_parts(&parts, 5, 4).is_empty());
        // Every byte lands in exactly one piece, in order.
        let total: u64 = parts.iter().sum();
        for start in 0..total {
            for end in start..total {
                let pieces = split_range_over_parts(&parts, start, end);
                let covered: u64 = pieces.iter().map(|(_, a, b)| b - a + 1).sum();
                assert_eq!(covered, end - start + 1);
            }
        }
    }

    #[test]
    fn keys_do_not_debug_their_bytes() {
        let ok = ObjectKey::from_bytes(&[0xab; 32]);
        assert_eq!(format!("{ok:?}"), "ObjectKey(<redacted>)");
        assert_eq!(
            format!("{:?}", derive_part_key(&ok, &[0; 16], PartBinding::V1)),
            "PartKey(<redacted>)"
        );
        assert!(ObjectKey::from_slice(&[0; 31]).is_none());
        assert_eq!(
            ObjectKey::from_slice(&[0xab; 32]).unwrap().as_bytes(),
            &[0xab; 32]
        );
    }

    /// The vector of docs/FORMAT.md §7; keep the two identical.
    #[test]
    fn format_doc_vector() {
        let ok = ObjectKey::from_bytes(&std::array::from_fn(|i| i as u8));
        let salt: [u8; 16] = std::array::from_fn(|i| 0xa0 + i as u8);
        let prefix: [u8; 7] = std::array::from_fn(|i| 0xb0 + i as u8);
        let pk = derive_part_key(&ok, &salt, PartBinding::V1);
        assert_eq!(
            hex::encode(pk.as_bytes()),
            "dbe59217136a19d8dbc90ec8f0677b9c6d6d691bedbfe6f6f902996a2e3f79d4"
        );
        let pt = b"The quick brown fox jumps over the lazy dog";
        let ct = seal_all(&pk, prefix, 16, pt).unwrap();
        assert_eq!(
            hex::encode(&ct),
            "0ad855abea5a8e1d6b51193a31dd2f9bbe56aff005108523f04ab7e5519f522e\
             5daa5d6e96ab485b75fc690b66c8d721a0a42f2b84138935edd0fc496364eeee\
             a59f813c86873a099bfe16f6f66142e06f522a675f0fa3724fb507"
        );
        let o = Opener::new(&pk, prefix, 16, pt.len() as u64).unwrap();
        assert_eq!(open_all(&o, &ct).unwrap(), pt);
        // Version 2: the same part as part number 3 (docs/FORMAT.md §7, version 2 vectors).
        let pk3 = derive_part_key(&ok, &salt, PartBinding::Number(3));
        assert_eq!(
            hex::encode(pk3.as_bytes()),
            "295033521bb1b935087b3061495558674788a01cf3ed79c56c9026202712406d"
        );
        assert_eq!(
            hex::encode(seal_all(&pk3, prefix, 16, pt).unwrap()),
            "d56022c1bd9c8b1c6d11bee2d1263df24694a0c9de3efb0ef2927175e2d4c052\
             d604c0a3902134b23ab4eaa4922ccb146e0b0c7446421d70b4a8bbfe66b51dad\
             3d0f978ce93aa23a3ae3e29e6b8842fbeab94c0344767dd0c1f280"
        );
        assert_eq!(
            hex::encode(seal_all(&pk, prefix, 16, b"").unwrap()),
            "548ec81f1b160bb3a3e528ddfb7db9d6"
        );
    }
}
