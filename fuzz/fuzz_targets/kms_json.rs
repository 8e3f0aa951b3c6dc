//! KMS JSON 1.1 requests: line 1 of the input is the operation (`X-Amz-Target`, with or
//! without `TrentService.`), the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(op) = std::str::from_utf8(&data[..end]) else {
        return;
    };
    let body = &data[(end + 1).min(data.len())..];
    let _ = sealgate::fuzzing::kms_request(op.trim(), body);
});
