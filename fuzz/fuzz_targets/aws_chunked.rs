//! The aws-chunked decoder. Byte 0: bit 0 = signed chunks (fixed key and seed signature),
//! bit 1 = a trailer is declared; byte 1 chooses how the body is cut into pieces; the rest is
//! the body. The body is decoded whole and in pieces: both must give the same result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealgate::fuzzing::{aws_chunked, split};

fuzz_target!(|data: &[u8]| {
    let [flags, seed, body @ ..] = data else {
        return;
    };
    let (signed, trailer) = (flags & 1 == 1, flags & 2 == 2);
    let whole = aws_chunked(signed, trailer, [body]);
    let pieces = aws_chunked(signed, trailer, split(body, (*seed).max(1)));
    assert_eq!(whole, pieces, "result depends on how the body was cut");
});
