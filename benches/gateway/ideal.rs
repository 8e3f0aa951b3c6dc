//! The ideal gateway: only the CPU work no encrypting gateway can avoid, in this process, with
//! the crates the server uses (ring's AES-256-GCM, md-5) and its segment size — AES-256-GCM seal (plus MD5 for the SSE-S3
//! ETag) on PUT, AES-256-GCM open on GET, in place, no storage, no network, no copies.

use md5::Digest as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};

use super::measure::{Cost, cost};

/// The server's segment size (docs/FORMAT.md).
const SEGMENT: usize = 64 * 1024;
const TAG: usize = 16;

pub struct Ideal {
    cipher: LessSafeKey,
    /// The plaintext sealed as the server stores it (ciphertext ‖ tag per segment).
    sealed: Vec<u8>,
    /// A buffer of the same size for the open pass to decrypt into.
    scratch: Vec<u8>,
}

fn nonce(i: usize, last: bool) -> Nonce {
    let mut n = [9u8; 12];
    n[7..11].copy_from_slice(&(i as u32).to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

impl Ideal {
    pub fn new(plaintext: &[u8]) -> Ideal {
        let cipher = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[3u8; 32]).unwrap());
        let segments = plaintext.len().div_ceil(SEGMENT);
        let mut sealed = Vec::with_capacity(plaintext.len() + segments * TAG);
        for (i, chunk) in plaintext.chunks(SEGMENT).enumerate() {
            let at = sealed.len();
            sealed.extend_from_slice(chunk);
            let tag = cipher
                .seal_in_place_separate_tag(
                    nonce(i, i + 1 == segments),
                    Aad::empty(),
                    &mut sealed[at..],
                )
                .unwrap();
            sealed.extend_from_slice(tag.as_ref());
        }
        let scratch = sealed.clone();
        Ideal {
            cipher,
            sealed,
            scratch,
        }
    }

    /// GET: authenticate and decrypt every segment in place. The ciphertext is first restored
    /// into the buffer, which stands for the one read every gateway does.
    pub fn open(&mut self) -> Cost {
        self.scratch.copy_from_slice(&self.sealed);
        let (cipher, scratch) = (&self.cipher, &mut self.scratch);
        cost(|| {
            let segments = scratch.len().div_ceil(SEGMENT + TAG);
            for (i, seg) in scratch.chunks_mut(SEGMENT + TAG).enumerate() {
                let (data, tag) = seg.split_at_mut(seg.len() - TAG);
                cipher
                    .open_in_place_separate_tag(
                        nonce(i, i + 1 == segments),
                        Aad::empty(),
                        Tag::try_from(&*tag).unwrap(),
                        data,
                        0..,
                    )
                    .expect("authentic");
            }
        })
    }

    /// PUT: MD5 of the plaintext (when the ETag needs it) and seal every segment in place.
    pub fn seal(&mut self, plaintext: &[u8], md5: bool) -> Cost {
        let (cipher, scratch) = (&self.cipher, &mut self.scratch);
        cost(|| {
            let mut hash = md5.then(md5::Md5::new);
            let segments = plaintext.len().div_ceil(SEGMENT);
            for (i, (seg, plain)) in scratch
                .chunks_mut(SEGMENT + TAG)
                .zip(plaintext.chunks(SEGMENT))
                .enumerate()
            {
                if let Some(h) = hash.as_mut() {
                    h.update(plain);
                }
                // The copy into the segment buffer is the one every sealing gateway makes (the
                // request's bytes are not its to overwrite).
                let (data, tag) = seg.split_at_mut(plain.len());
                data.copy_from_slice(plain);
                let t = cipher
                    .seal_in_place_separate_tag(nonce(i, i + 1 == segments), Aad::empty(), data)
                    .unwrap();
                tag[..TAG].copy_from_slice(t.as_ref());
            }
            std::hint::black_box(hash.map(|h| h.finalize()));
        })
    }
}
