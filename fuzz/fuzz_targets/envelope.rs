//! The segment envelope and object-key unsealing, with fixed keys.
//!
//! Byte 0: bit 0 = round-trip mode, bit 1 = 64 KiB segments; bytes 1..3: segment size
//! (1..=256 otherwise); bytes 3..5: plaintext length (open mode); bytes 5..9: range start and
//! end; byte 9: how the stored bytes are cut into pieces; the rest is data.
//! - Open mode: the data is stored ciphertext of a part of the given length; opening it (whole
//!   and as a range) must fail cleanly, and so must unsealing it as a sealed object key.
//! - Round-trip mode: the data is plaintext (its first 32 segments, at most 2 KiB); sealed and
//!   opened again (whole, as a range, in pieces) it must come back, and any flipped, dropped or
//!   added byte must be refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealgate::fuzzing::{ciphertext_len, envelope_open, envelope_seal, plan_range, split, unseal};

fuzz_target!(|data: &[u8]| {
    if data.len() < 10 {
        return;
    }
    let (head, body) = data.split_at(10);
    let round_trip = head[0] & 1 == 1;
    let segment_size = if head[0] & 2 == 2 {
        65_536
    } else {
        u32::from(u16::from_le_bytes([head[1], head[2]]) % 256) + 1
    };
    let plain_len = u64::from(u16::from_le_bytes([head[3], head[4]]));
    let (a, b) = (
        u64::from(u16::from_le_bytes([head[5], head[6]])),
        u64::from(u16::from_le_bytes([head[7], head[8]])),
    );
    let seed = head[9];

    if !round_trip {
        let whole = envelope_open(segment_size, plain_len, None, split(body, seed));
        let part = envelope_open(segment_size, plain_len, Some((a.min(b), a.max(b))), [body]);
        assert!(whole.is_err() && part.is_err(), "forged ciphertext opened");
        let (salt, rest) = body.split_at(body.len().min(32));
        let (nonce, ct) = rest.split_at(rest.len().min(12));
        assert!(!unseal(salt, nonce, ct), "forged sealed key opened");
        return;
    }

    // At most 32 segments and 2 KiB: every round trip opens the part seven times, and longer
    // plaintexts only repeat what 32 segments already exercise.
    let plaintext = &body[..body.len().min(32 * segment_size as usize).min(2048)];
    let len = plaintext.len() as u64;
    let ct = envelope_seal(segment_size, plaintext).expect("valid segment size");
    assert_eq!(ct.len() as u64, ciphertext_len(len, segment_size));
    let opened = envelope_open(segment_size, len, None, split(&ct, seed)).expect("round trip");
    assert_eq!(opened, plaintext);
    if len > 0 {
        let (start, end) = ((a % len).min(b % len), (a % len).max(b % len));
        // GetObject reads only the plan's ciphertext window of the blob.
        let (_, _, from, to, _, _) = plan_range(len, segment_size, start, end).expect("plan");
        let window = &ct[from as usize..to as usize];
        let got = envelope_open(segment_size, len, Some((start, end)), split(window, seed))
            .expect("range round trip");
        assert_eq!(got, &plaintext[start as usize..=end as usize]);
    }
    let mut flipped = ct.clone();
    let at = (usize::from(seed) * 7919 + a as usize) % flipped.len();
    flipped[at] ^= 1 << (b % 8);
    assert!(
        envelope_open(segment_size, len, None, [&flipped[..]]).is_err(),
        "flipped byte"
    );
    assert!(
        envelope_open(segment_size, len, None, [&ct[..ct.len() - 1]]).is_err(),
        "truncated"
    );
    let mut longer = ct.clone();
    longer.push(0);
    assert!(
        envelope_open(segment_size, len, None, [&longer[..]]).is_err(),
        "extended"
    );
    if len > 0 {
        assert!(
            envelope_open(segment_size, len - 1, None, [&ct[..]]).is_err(),
            "wrong length"
        );
    }
});
