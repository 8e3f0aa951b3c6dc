//! The `Authorization` header form of SigV4: line 1 of the input is the header value; further
//! lines `name: value` add or replace headers (`name:` alone removes one), and a line starting
//! with `/` replaces the path. The defaults are AWS's documented GET Object example, so its
//! real header verifies (with `sealgate::fuzzing::SIGV4_SECRET`); both listeners' rules run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealgate::fuzzing::sigv4;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let auth = lines.next().unwrap_or_default();
    let mut path: &[u8] = b"/test.txt";
    let mut headers: Vec<(&[u8], &[u8])> = vec![
        (b"host", b"examplebucket.s3.amazonaws.com"),
        (b"range", b"bytes=0-9"),
        (
            b"x-amz-content-sha256",
            b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (b"x-amz-date", b"20130524T000000Z"),
        (b"authorization", auth),
    ];
    for line in lines {
        if line.starts_with(b"/") {
            path = line;
            continue;
        }
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
        let _ = sigv4(b"GET", path, &headers, kms);
    }
});
