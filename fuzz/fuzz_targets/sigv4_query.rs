//! The presigned-query form of SigV4: line 1 of the input is the request target (path and
//! query); further lines `name: value` add or replace headers (`name:` alone removes one; the
//! default is only `host`). AWS's documented presigned GET example verifies; both listeners'
//! rules run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealgate::fuzzing::sigv4;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let target = lines.next().unwrap_or_default();
    let mut headers: Vec<(&[u8], &[u8])> = vec![(b"host", b"examplebucket.s3.amazonaws.com")];
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        if !value.is_empty() {
            headers.push((name, value));
        }
    }
    for kms in [false, true] {
        let _ = sigv4(b"GET", target, &headers, kms);
    }
});
