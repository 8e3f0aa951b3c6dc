//! README's "S3 operations" tables checked against the router, so the table a user reads
//! before pointing a client at the gateway stays true: every operation [`Endpoint::name`]
//! knows is listed as implemented, every one `unsupported.rs` answers 501 is listed as
//! answering 501, and neither table lists an operation of the other.
//!
//! The README writes families compactly (`Get/Put/DeleteBucketCors`,
//! `Get/Put/Delete/ListBucketMetricsConfiguration(s)`); [`expand`] spells them out. Words in
//! the cells that name no operation (prose, header names) are ignored.
//!
//! [`Endpoint::name`]: super::Endpoint::name

use std::collections::BTreeSet;

const ROUTER: &str = include_str!("../router.rs");
const UNSUPPORTED: &str = include_str!("unsupported.rs");
const README: &str = include_str!("../../../README.md");

const IMPLEMENTED_HEADER: &str = "| family | implemented |";
const UNSUPPORTED_HEADER: &str = "| family | answers 501 NotImplemented |";

/// Verbs a compact family shares its noun between.
const VERBS: [&str; 5] = ["Get", "Put", "Delete", "List", "Create"];

/// The operation names of `Endpoint::name`'s match arms (`Variant { .. } => "Name",`).
fn implemented() -> BTreeSet<String> {
    let body = ROUTER
        .split("pub(crate) fn name(&self)")
        .nth(1)
        .expect("Endpoint::name in router.rs");
    let end = body
        .find("Unsupported { operation, .. } => operation")
        .expect("the Unsupported arm ends Endpoint::name");
    body[..end]
        .lines()
        .filter_map(|l| l.split("=> \"").nth(1))
        .map(|rest| {
            rest.trim_end()
                .trim_end_matches(',')
                .trim_end_matches('"')
                .to_owned()
        })
        .collect()
}

/// The operation names in unsupported.rs: its capitalised string literals (subresources are
/// lower case).
fn unsupported() -> BTreeSet<String> {
    UNSUPPORTED
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with(|c: char| c.is_ascii_uppercase()))
        .map(str::to_owned)
        .collect()
}

/// `Get/Put/DeleteBucketCors` → GetBucketCors, PutBucketCors, DeleteBucketCors; a trailing
/// `(s)` is the plural of the List form.
fn expand(token: &str) -> Vec<String> {
    let t = token.trim_start_matches('(');
    let (t, plural) = match t.strip_suffix("(s)") {
        Some(t) => (t, true),
        None => (t.trim_end_matches(')'), false),
    };
    let mut verbs: Vec<&str> = t.split('/').collect();
    let last = verbs.pop().unwrap_or_default();
    let Some(verb) = VERBS.iter().find(|v| last.starts_with(**v)) else {
        return vec![last.to_owned()];
    };
    let noun = &last[verb.len()..];
    verbs.push(verb);
    verbs
        .iter()
        .map(|v| {
            let s = if plural && *v == "List" { "s" } else { "" };
            format!("{v}{noun}{s}")
        })
        .collect()
}

/// Every word of the table under `header` in README's "S3 operations" section, expanded.
fn readme_table(header: &str) -> BTreeSet<String> {
    let section = README
        .split("\n## S3 operations\n")
        .nth(1)
        .expect("README has an \"S3 operations\" section");
    let section = section.split("\n## ").next().unwrap_or_default();
    let table = section
        .split(header)
        .nth(1)
        .unwrap_or_else(|| panic!("README's S3 operations section has no `{header}` table"));
    table
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .filter(|l| !l.starts_with("|---"))
        .flat_map(|l| {
            l.split(|c: char| !(c.is_ascii_alphanumeric() || "/()".contains(c)))
                .flat_map(expand)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn expands_compact_families() {
    assert_eq!(
        expand("Get/Put/DeleteBucketCors"),
        ["GetBucketCors", "PutBucketCors", "DeleteBucketCors"]
    );
    assert_eq!(
        expand("Get/Put/Delete/ListBucketMetricsConfiguration(s)"),
        [
            "GetBucketMetricsConfiguration",
            "PutBucketMetricsConfiguration",
            "DeleteBucketMetricsConfiguration",
            "ListBucketMetricsConfigurations"
        ]
    );
    assert_eq!(expand("(DSSE"), ["DSSE"]);
    assert_eq!(expand("ListParts"), ["ListParts"]);
}

#[test]
fn readme_operations_table_matches_the_router() {
    let (implemented, unsupported) = (implemented(), unsupported());
    assert!(
        implemented.len() > 40 && implemented.contains("GetObject"),
        "Endpoint::name no longer reads as expected: {implemented:?}"
    );
    assert!(
        unsupported.len() > 20 && unsupported.contains("GetObjectTorrent"),
        "unsupported.rs no longer reads as expected: {unsupported:?}"
    );
    let listed_ok = readme_table(IMPLEMENTED_HEADER);
    let listed_501 = readme_table(UNSUPPORTED_HEADER);
    let missing: Vec<&String> = implemented.difference(&listed_ok).collect();
    assert!(
        missing.is_empty(),
        "README's implemented table lacks {missing:?}"
    );
    let missing: Vec<&String> = unsupported.difference(&listed_501).collect();
    assert!(missing.is_empty(), "README's 501 table lacks {missing:?}");
    let wrong: Vec<&String> = listed_501.intersection(&implemented).collect();
    assert!(
        wrong.is_empty(),
        "README lists {wrong:?} as 501, but the router implements them"
    );
    let wrong: Vec<&String> = listed_ok.intersection(&unsupported).collect();
    assert!(
        wrong.is_empty(),
        "README lists {wrong:?} as implemented, but the router answers them 501"
    );
}
