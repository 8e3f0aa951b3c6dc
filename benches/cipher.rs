//! Cipher benchmark: the per-segment AES-256-GCM work of the data path with the two vetted
//! implementations in the build — RustCrypto's `aes-gcm` and `ring` (which rustls already links)
//! — plus MD5 (the SSE-S3 ETag): the build's md-5 0.11 (portable Rust) against md-5 0.10 with
//! its `asm` feature (x86-64 assembly) — and SHA-256 (a signed payload's hash, which the server
//! checks): the build's sha2 0.11 against `ring`'s. The cipher's format is the same either way:
//! standard AES-256-GCM over 64 KiB segments with a 12-byte nonce and the tag appended, so the
//! choice is made on numbers.
//!
//! `cargo bench --bench cipher`. Rounds are interleaved and the table shows medians, because
//! the machine is shared; compare the ratios.

use std::time::Instant;

use aes_gcm::aead::{AeadInOut, KeyInit};

const SEGMENT: usize = 64 * 1024;
const TOTAL: usize = 256 << 20;
const ROUNDS: usize = 7;

fn rate(f: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    f();
    TOTAL as f64 / t.elapsed().as_secs_f64() / 1e6
}

/// Hashes `buf` `times` over with a RustCrypto digest of the build (md-5 0.11, sha2 0.11).
fn digest_all<D: md5::Digest>(buf: &[u8], times: usize) {
    let mut h = D::new();
    for _ in 0..times {
        h.update(buf);
    }
    std::hint::black_box(h.finalize());
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn nonce(i: usize) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[7..11].copy_from_slice(&(i as u32).to_be_bytes());
    n
}

fn main() {
    let key = [7u8; 32];
    let rustcrypto = aes_gcm::Aes256Gcm::new(&key.into());
    let ring_key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &key).unwrap(),
    );
    let mut buf = vec![0x5au8; SEGMENT];
    let segments = TOTAL / SEGMENT;

    // Both implementations must produce the same ciphertext and tag (standard AES-256-GCM).
    let mut a = buf.clone();
    let tag_a = rustcrypto
        .encrypt_inout_detached(&nonce(1).into(), b"", a.as_mut_slice().into())
        .unwrap();
    let mut b = buf.clone();
    let tag_b = ring_key
        .seal_in_place_separate_tag(
            ring::aead::Nonce::assume_unique_for_key(nonce(1)),
            ring::aead::Aad::empty(),
            &mut b,
        )
        .unwrap();
    assert_eq!(
        (a.as_slice(), tag_a.as_slice()),
        (b.as_slice(), tag_b.as_ref())
    );

    let names = [
        "aes-gcm seal",
        "aes-gcm open",
        "ring seal",
        "ring open",
        "md-5 0.11",
        "md-5 0.10 asm",
        "sha2 0.11",
        "ring SHA-256",
    ];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..ROUNDS {
        rates[0].push(rate(&mut || {
            for i in 0..segments {
                let tag = rustcrypto
                    .encrypt_inout_detached(&nonce(i).into(), b"", buf.as_mut_slice().into())
                    .unwrap();
                std::hint::black_box(tag);
            }
        }));
        // Open what was sealed under segment 0's nonce: authentication succeeds every time.
        let mut sealed = vec![0x5au8; SEGMENT];
        let tag = rustcrypto
            .encrypt_inout_detached(&nonce(0).into(), b"", sealed.as_mut_slice().into())
            .unwrap();
        rates[1].push(rate(&mut || {
            for _ in 0..segments {
                buf.copy_from_slice(&sealed);
                rustcrypto
                    .decrypt_inout_detached(&nonce(0).into(), b"", buf.as_mut_slice().into(), &tag)
                    .unwrap();
            }
        }));
        rates[2].push(rate(&mut || {
            for i in 0..segments {
                let tag = ring_key
                    .seal_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key(nonce(i)),
                        ring::aead::Aad::empty(),
                        &mut buf,
                    )
                    .unwrap();
                let _ = std::hint::black_box(tag);
            }
        }));
        let ring_tag = ring::aead::Tag::try_from(tag.as_slice()).unwrap();
        rates[3].push(rate(&mut || {
            for _ in 0..segments {
                buf.copy_from_slice(&sealed);
                ring_key
                    .open_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key(nonce(0)),
                        ring::aead::Aad::empty(),
                        ring_tag,
                        &mut buf,
                        0..,
                    )
                    .unwrap();
            }
        }));
        rates[4].push(rate(&mut || digest_all::<md5::Md5>(&buf, segments)));
        // md-5 0.11 has no x86 assembly; 0.10's `asm` feature links RustCrypto's md5-asm.
        rates[5].push(rate(&mut || {
            use md5_asm::Digest as _;
            let mut h = md5_asm::Md5::new();
            for _ in 0..segments {
                h.update(&buf);
            }
            std::hint::black_box(h.finalize());
        }));
        rates[6].push(rate(&mut || digest_all::<sha2::Sha256>(&buf, segments)));
        rates[7].push(rate(&mut || {
            let mut h = ring::digest::Context::new(&ring::digest::SHA256);
            for _ in 0..segments {
                h.update(&buf);
            }
            std::hint::black_box(h.finish());
        }));
    }
    // The open rows include one 64 KiB memcpy per segment (restoring the ciphertext), as the
    // gateway's read path has one (the file read); it is the same for both.
    println!(
        "{ROUNDS} interleaved rounds of {} MiB in {} KiB segments, medians:",
        TOTAL >> 20,
        SEGMENT >> 10
    );
    let med: Vec<f64> = rates.into_iter().map(median).collect();
    for (name, m) in names.iter().zip(&med) {
        println!("  {name:<14} {m:>8.0} MB/s  ({:.2} s/GB)", 1000.0 / m);
    }
    println!(
        "ring / aes-gcm: seal {:.2}x, open {:.2}x; md-5 asm / md-5 0.11: {:.2}x; \
         ring / sha2 SHA-256: {:.2}x",
        med[2] / med[0],
        med[3] / med[1],
        med[5] / med[4],
        med[7] / med[6]
    );
}
