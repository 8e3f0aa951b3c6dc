//! The persisted record decoders (object meta, bucket, upload, part). An input starting with
//! `Range:` carries a Range header on its first line; the rest is the record. A decoded meta
//! record is then planned for reading as GetObject would (whole object and the range).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (range, record) = match data.strip_prefix(b"Range:") {
        Some(rest) => {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            (
                std::str::from_utf8(&rest[..end]).ok(),
                &rest[(end + 1).min(rest.len())..],
            )
        }
        None => (None, data),
    };
    let _ = sealgate::fuzzing::meta_records(record, range.map(str::trim));
});
