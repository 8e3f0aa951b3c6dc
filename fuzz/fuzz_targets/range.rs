//! The `Range` header against an object size: bytes 0..8 are the size (little-endian), the
//! rest is the header value. An accepted range must lie inside the object, and the envelope's
//! segment plan and the split over parts must cover exactly its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealgate::fuzzing::{ciphertext_len, plan_range, range, split_range_over_parts};

/// S3's largest object; sizes come from meta records the gateway wrote, so larger sizes are
/// only checked by `range` itself.
const MAX_OBJECT: u64 = 5 << 40;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let size = u64::from_le_bytes(data[..8].try_into().unwrap());
    let Ok(value) = std::str::from_utf8(&data[8..]) else {
        return;
    };
    let Ok(Some((start, end))) = range(Some(value), size) else {
        return;
    };
    assert!(
        start <= end && end < size,
        "{value:?} on {size}: {start}-{end}"
    );
    if size > MAX_OBJECT {
        return;
    }
    let take = end - start + 1;
    for segment_size in [1, 16, 65_536, 16 << 20] {
        let (first, last, ct_start, ct_end, skip, plan_take) =
            plan_range(size, segment_size, start, end).expect("a satisfiable range plans");
        assert!(first <= last && ct_start < ct_end);
        assert!(ct_end <= ciphertext_len(size, segment_size));
        assert!((skip as u64) < u64::from(segment_size));
        assert_eq!(plan_take, take);
    }
    let third = size / 3;
    let sizes = [third, 0, third, size - 2 * third];
    let pieces = split_range_over_parts(&sizes, start, end);
    let mut covered = 0;
    for (index, from, to) in pieces {
        assert!(from <= to && to < sizes[index]);
        covered += to - from + 1;
    }
    assert_eq!(covered, take);
});
