//! `<Tagging>` (Put/GetObjectTagging, Put/GetBucketTagging) and `<GetObjectAttributesResponse>` (GetObjectAttributes).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::read::{body_with_root, from_xml};
use super::text::push_elem;
use super::{CHECKSUM_ALGORITHMS, S3_NS, unquote_etag};
use crate::s3::error::S3Error;

#[derive(Deserialize)]
struct TaggingXml {
    #[serde(rename = "TagSet")]
    tag_set: Option<TagSetXml>,
}

#[derive(Deserialize)]
struct TagSetXml {
    #[serde(rename = "Tag", default)]
    tags: Vec<TagXml>,
}

#[derive(Deserialize)]
struct TagXml {
    #[serde(rename = "Key")]
    key: Option<String>,
    #[serde(rename = "Value")]
    value: Option<String>,
}

/// The `(key, value)` pairs of a `<Tagging>` body, in document order and not yet validated
/// (`s3::tags::validate` does that). A missing `<TagSet>` or a `<Tag>` without `<Key>` is
/// MalformedXML, as the schema requires them; a missing or empty `<Value>` is the empty value
/// (XML readers do not tell `<Value></Value>` from its absence). An empty `<TagSet/>` is an
/// empty set.
pub(crate) fn parse_tagging(body: &[u8]) -> Result<Vec<(String, String)>, S3Error> {
    let text = body_with_root(body, "Tagging")?;
    let parsed: TaggingXml = from_xml(text)?;
    let set = parsed.tag_set.ok_or(S3Error::MalformedXML)?;
    set.tags
        .into_iter()
        .map(|t| match t.key {
            Some(k) => Ok((k, t.value.unwrap_or_default())),
            None => Err(S3Error::MalformedXML),
        })
        .collect()
}

fn head(root: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{S3_NS}\">")
}

/// A `<Tagging>` document holding `tags` (sorted by key).
pub(crate) fn tagging_xml(tags: &BTreeMap<String, String>) -> String {
    let mut out = head("Tagging");
    out.push_str("<TagSet>");
    for (k, v) in tags {
        out.push_str("<Tag>");
        push_elem(&mut out, "Key", k);
        push_elem(&mut out, "Value", v);
        out.push_str("</Tag>");
    }
    out.push_str("</TagSet></Tagging>");
    out
}

/// One `<Part>` of `<ObjectParts>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttributePart {
    pub(crate) part_number: u32,
    pub(crate) size: u64,
    /// `(algorithm, base64)` when the part was uploaded with a checksum.
    pub(crate) checksum: Option<(String, String)>,
}

/// `<ObjectParts>`: one page of a multipart object's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttributeParts {
    pub(crate) total: usize,
    pub(crate) part_number_marker: u32,
    pub(crate) next_part_number_marker: Option<u32>,
    pub(crate) max_parts: u32,
    pub(crate) is_truncated: bool,
    pub(crate) parts: Vec<AttributePart>,
}

/// GetObjectAttributes response: each field only when it was asked for (and exists).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ObjectAttributes {
    /// Unquoted, as AWS returns it here.
    pub(crate) etag: Option<String>,
    /// `(algorithm, base64, type)`.
    pub(crate) checksum: Option<(String, String, String)>,
    pub(crate) parts: Option<AttributeParts>,
    pub(crate) storage_class: Option<String>,
    pub(crate) size: Option<u64>,
}

fn push_checksum(out: &mut String, algorithm: &str, value: &str) {
    // Only the known names: the element name is built from the algorithm.
    if CHECKSUM_ALGORITHMS.contains(&algorithm) {
        push_elem(out, &format!("Checksum{algorithm}"), value);
    }
}

impl ObjectAttributes {
    pub(crate) fn to_xml(&self) -> String {
        let root = "GetObjectAttributesResponse";
        let mut out = head(root);
        if let Some(e) = &self.etag {
            push_elem(&mut out, "ETag", unquote_etag(e));
        }
        if let Some((alg, value, kind)) = &self.checksum {
            out.push_str("<Checksum>");
            push_checksum(&mut out, alg, value);
            push_elem(&mut out, "ChecksumType", kind);
            out.push_str("</Checksum>");
        }
        if let Some(p) = &self.parts {
            out.push_str("<ObjectParts>");
            push_elem(&mut out, "PartsCount", &p.total.to_string());
            push_elem(
                &mut out,
                "PartNumberMarker",
                &p.part_number_marker.to_string(),
            );
            if let Some(n) = p.next_part_number_marker {
                push_elem(&mut out, "NextPartNumberMarker", &n.to_string());
            }
            push_elem(&mut out, "MaxParts", &p.max_parts.to_string());
            push_elem(
                &mut out,
                "IsTruncated",
                if p.is_truncated { "true" } else { "false" },
            );
            for part in &p.parts {
                out.push_str("<Part>");
                push_elem(&mut out, "PartNumber", &part.part_number.to_string());
                push_elem(&mut out, "Size", &part.size.to_string());
                if let Some((alg, value)) = &part.checksum {
                    push_checksum(&mut out, alg, value);
                }
                out.push_str("</Part>");
            }
            out.push_str("</ObjectParts>");
        }
        if let Some(c) = &self.storage_class {
            push_elem(&mut out, "StorageClass", c);
        }
        if let Some(n) = self.size {
            push_elem(&mut out, "ObjectSize", &n.to_string());
        }
        out.push_str(&format!("</{root}>"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagging_round_trips() {
        let body = b"<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>\
            <Tag><Key>a&amp;b</Key><Value> v </Value></Tag><Tag><Key>e</Key><Value></Value></Tag>\
            </TagSet></Tagging>";
        let pairs = parse_tagging(body).unwrap();
        assert_eq!(
            pairs,
            vec![("a&b".into(), " v ".into()), ("e".into(), String::new())]
        );
        let xml = tagging_xml(&pairs.into_iter().collect());
        assert!(
            xml.contains("<Tag><Key>a&amp;b</Key><Value> v </Value></Tag>"),
            "{xml}"
        );
        assert!(
            xml.contains("<Tag><Key>e</Key><Value></Value></Tag>"),
            "{xml}"
        );
        assert_eq!(
            parse_tagging(b"<Tagging><TagSet/></Tagging>").unwrap(),
            vec![]
        );
    }

    #[test]
    fn malformed_tagging() {
        for body in [
            &b"<Tagging></Tagging>"[..],
            b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
            b"<Other><TagSet/></Other>",
            b"<Tagging><TagSet>",
            b"",
        ] {
            assert_eq!(
                parse_tagging(body),
                Err(S3Error::MalformedXML),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn attributes_write_only_what_was_asked() {
        let a = ObjectAttributes {
            etag: Some("\"abc-2\"".into()),
            size: Some(7),
            ..Default::default()
        };
        let xml = a.to_xml();
        assert!(xml.contains("<ETag>abc-2</ETag>"), "{xml}");
        assert!(xml.contains("<ObjectSize>7</ObjectSize>"), "{xml}");
        assert!(!xml.contains("StorageClass") && !xml.contains("ObjectParts"));
    }
}
