//! Every request-body XML reader (CompleteMultipartUpload, Delete, the bucket encryption
//! configuration, CreateBucketConfiguration, CORS, Tagging) on the same input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sealgate::fuzzing::xml_bodies(data);
});
