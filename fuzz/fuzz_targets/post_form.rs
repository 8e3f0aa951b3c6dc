//! POST Object forms: line 1 of the input is the policy document (JSON, encoded as a form
//! sends it), each further line a `name=value` form field.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let policy = lines.next().unwrap_or_default();
    let fields: Vec<(&str, &str)> = lines
        .map(|l| l.split_once('=').unwrap_or((l, "")))
        .collect();
    let _ = sealgate::fuzzing::post_form(policy.as_bytes(), &fields);
});
