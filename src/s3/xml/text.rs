//! XML text primitives: the one escaping rule and the one element writer for every response
//! body, error documents included. A leaf: it depends on nothing else in `s3`, so both
//! `s3::error` and `s3::xml::write` build on it without depending on each other.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Escapes text for XML element content so that every UTF-8 key reads back unchanged:
/// the five predefined entities, `\r`, `\n` and `\t` as character references, and the other
/// C0 controls as `&#xN;` (what S3 does; such keys are only portable with `encoding-type=url`).
pub(crate) fn escape_text(s: &str) -> Cow<'_, str> {
    let needs = |c: char| matches!(c, '&' | '<' | '>' | '"' | '\'') || (c as u32) < 0x20;
    if !s.chars().any(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Appends `<name>text</name>` with `text` escaped by [`escape_text`]. `name` is trusted: the
/// callers pass constant element names.
pub(crate) fn push_elem(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>{}</{name}>", escape_text(text));
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::xml::parse_delete_objects;

    #[test]
    fn escaping_round_trips_through_a_parser() {
        let key = " a&b<c>\"d'\r\n\te\u{1}✓ ";
        let escaped = escape_text(key);
        assert_eq!(
            escaped,
            " a&amp;b&lt;c&gt;&quot;d&apos;&#13;&#10;&#9;e&#x1;✓ "
        );
        // What a client's XML parser reads back is the original key.
        let doc = format!("<Delete><Object><Key>{escaped}</Key></Object></Delete>");
        let parsed = parse_delete_objects(doc.as_bytes()).unwrap();
        assert_eq!(parsed.objects[0].key, key);
        assert!(matches!(escape_text("plain/key"), Cow::Borrowed(_)));
    }
}
