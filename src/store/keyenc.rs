//! Object key ⇄ storage path encoding.
//!
//! An S3 key is any UTF-8 string up to 1024 bytes. A filesystem cannot hold that directly: `a`
//! and `a/b` would need a file and a directory of the same name, `.`/`..`/empty segments are
//! not names, segments are limited to 255 bytes, and `object_store`'s `Path` rejects control
//! characters. So the key is never split at its own `/`; instead:
//!
//! 1. the key's UTF-8 bytes are written as lower-case hex (`0-9a-f` only: safe on every
//!    filesystem, case-insensitive ones included, and never escaped by `object_store`);
//! 2. the hex string is cut into chunks of [`CHUNK_HEX`] characters; every chunk but the last is a
//!    directory segment, the last chunk (possibly empty) followed by [`TERMINATOR`] is the file
//!    name. A directory segment therefore never ends in the terminator and a file name always
//!    does, so a file and a directory can never collide, whatever the keys.
//!
//! Properties (tested below): injective; every segment is 1..=[`CHUNK_HEX`]+1 ≤ 200 bytes and is
//! never `.`, `..` or empty; and the encoded strings sort exactly like the keys' UTF-8 bytes
//! (S3 order). Order holds because hex preserves byte order, the `/` separators sit at the same
//! offsets in every encoding, and the terminator `-` (0x2D) sorts below both `/` (0x2F) and every
//! hex digit, so a key sorts before its extensions. That lets a sorted backend (S3) list in
//! key order with `list_with_offset`.

use std::fmt::Write as _;

/// Hex characters per directory segment (99 key bytes). The file segment is at most one longer.
pub(crate) const CHUNK_HEX: usize = 198;

/// Ends every encoded key. Must sort below `/` and `0`, and must not be `#` (reserved by
/// `object_store`'s local staging files) or `.`.
pub(crate) const TERMINATOR: char = '-';

/// The encoding of `key` as `/`-separated path segments (no leading or trailing `/`).
pub(crate) fn encode_key(key: &str) -> String {
    let mut out = chunked_hex(key.as_bytes());
    out.push(TERMINATOR);
    out
}

/// The hex of `bytes` with a `/` after every full chunk except at the very end. Every encoded
/// key having `bytes` as a prefix starts with this string, and every encoded key below
/// `bytes` sorts below it.
pub(crate) fn chunked_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2 + bytes.len() * 2 / CHUNK_HEX + 1);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && (i * 2) % CHUNK_HEX == 0 {
            out.push('/');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Why a stored path is not an encoded key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyDecodeError {
    #[error("missing terminator")]
    NoTerminator,
    #[error("segment {0} has the wrong length")]
    SegmentLength(usize),
    #[error("not hex")]
    NotHex,
    #[error("not UTF-8")]
    NotUtf8,
}

/// Inverts [`encode_key`]. Strict: only the exact encoding of some key decodes, so two paths
/// can never decode to the same key.
pub(crate) fn decode_key(encoded: &str) -> Result<String, KeyDecodeError> {
    let body = encoded
        .strip_suffix(TERMINATOR)
        .ok_or(KeyDecodeError::NoTerminator)?;
    let segments: Vec<&str> = body.split('/').collect();
    let last = segments.len() - 1;
    let mut hex_str = String::with_capacity(body.len());
    for (i, seg) in segments.iter().enumerate() {
        let ok = if i < last {
            seg.len() == CHUNK_HEX
        } else {
            // The last chunk is full only when it is the whole remainder; it is empty only for
            // the empty key.
            seg.len() <= CHUNK_HEX && (seg.len() % 2 == 0) && (!seg.is_empty() || last == 0)
        };
        if !ok {
            return Err(KeyDecodeError::SegmentLength(i));
        }
        hex_str.push_str(seg);
    }
    // Upper-case hex would decode too but is not our encoding: refuse it to stay injective.
    if hex_str.bytes().any(|c| c.is_ascii_uppercase()) {
        return Err(KeyDecodeError::NotHex);
    }
    let bytes = hex::decode(&hex_str).map_err(|_| KeyDecodeError::NotHex)?;
    String::from_utf8(bytes).map_err(|_| KeyDecodeError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn tricky_keys() -> Vec<String> {
        let mut keys: Vec<String> = [
            "",
            "a",
            "a/b",
            "a/b/",
            "a//b",
            "a/",
            "/",
            "//",
            "/a",
            ".",
            "..",
            "./a",
            "../a",
            "a/./b",
            "a/../b",
            "a-",
            "a-/",
            "a#1",
            "a%2F",
            "a\u{0}b",
            "a\nb",
            "a\\b",
            "日本語/キー",
            "emoji 😀/x",
            "~",
            "a b",
            "*?<>|\"",
            "-",
            "--",
            "0",
            "a0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        keys.push("é".repeat(512)); // 1024 bytes of two-byte UTF-8
        keys.push("😀".repeat(256)); // 1024 bytes of four-byte UTF-8
        keys.push("x".repeat(99));
        keys.push("x".repeat(100));
        keys.push("x".repeat(198));
        keys.push("x".repeat(1024));
        keys.push(format!("{}/", "y".repeat(98)));
        keys
    }

    #[test]
    fn round_trips_and_segments_are_safe() {
        for key in tricky_keys() {
            let enc = encode_key(&key);
            assert_eq!(decode_key(&enc).unwrap(), key, "round trip of {key:?}");
            for seg in enc.split('/') {
                assert!(!seg.is_empty() && seg.len() <= 200, "segment {seg:?}");
                assert!(seg != "." && seg != "..");
                assert!(seg.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-'));
            }
            // Only the last segment carries the terminator: no file/directory clash.
            let (dirs, file) = enc.rsplit_once('/').unwrap_or(("", &enc));
            assert!(file.ends_with(TERMINATOR));
            assert!(!dirs.contains(TERMINATOR));
            // The path is valid for object_store without escaping.
            let p = object_store::path::Path::parse(&enc).unwrap();
            assert_eq!(p.as_ref(), enc);
        }
    }

    #[test]
    fn rejects_non_encodings() {
        for bad in [
            "", "6", "61", "6-", "6G-", "61/62-", "4A-", "ff-", "/-", "61//-",
        ] {
            assert!(decode_key(bad).is_err(), "{bad:?} decoded");
        }
        // A full last chunk is fine, an empty trailing chunk is not (that is not how we encode).
        let full = "x".repeat(99);
        let enc = encode_key(&full);
        assert!(!enc.contains('/'));
        assert!(decode_key(&format!("{}/-", chunked_hex(full.as_bytes()))).is_err());
    }

    #[test]
    fn encoding_preserves_s3_order() {
        let mut keys = tricky_keys();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let alphabet = ['a', 'b', '/', '-', '.', '0', 'é', '😀', '\u{7f}', ' '];
        for _ in 0..3000 {
            let len = if rng.random_bool(0.2) {
                rng.random_range(90..220)
            } else {
                rng.random_range(0..8)
            };
            let k: String = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            keys.push(k);
        }
        keys.sort();
        keys.dedup();
        let encoded: Vec<String> = keys.iter().map(|k| encode_key(k)).collect();
        let mut sorted = encoded.clone();
        sorted.sort();
        assert_eq!(encoded, sorted);
        // And the prefix property used for listing.
        for k in keys.iter().take(200) {
            let cut = k.len() / 2;
            if k.is_char_boundary(cut) {
                assert!(encode_key(k).starts_with(&chunked_hex(&k.as_bytes()[..cut])));
            }
        }
    }
}
