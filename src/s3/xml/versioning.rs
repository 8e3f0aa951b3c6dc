//! `<VersioningConfiguration>` (Put/GetBucketVersioning) and `<ListVersionsResult>`
//! (ListObjectVersions).

use serde::Deserialize;

use super::read::{body_with_root, from_xml};
use super::text::push_elem;
use super::write::{Owner, format_timestamp_ms};
use super::{S3_NS, quoted_etag};
use crate::s3::error::S3Error;

#[derive(Deserialize)]
struct VersioningXml {
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "MfaDelete")]
    mfa_delete: Option<String>,
}

/// A PutBucketVersioning body: `Status` (`Enabled` or `Suspended`, if given) and `MfaDelete`
/// (`Enabled` or `Disabled`, if given). Any other value is MalformedXML, as the schema says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersioningConfiguration {
    pub(crate) status: Option<String>,
    pub(crate) mfa_delete: Option<String>,
}

pub(crate) fn parse_versioning(body: &[u8]) -> Result<VersioningConfiguration, S3Error> {
    let text = body_with_root(body, "VersioningConfiguration")?;
    let parsed: VersioningXml = from_xml(text)?;
    let one_of = |v: Option<String>, allowed: [&str; 2]| match v.map(|s| s.trim().to_owned()) {
        None => Ok(None),
        Some(s) if allowed.contains(&s.as_str()) => Ok(Some(s)),
        Some(_) => Err(S3Error::MalformedXML),
    };
    Ok(VersioningConfiguration {
        status: one_of(parsed.status, ["Enabled", "Suspended"])?,
        mfa_delete: one_of(parsed.mfa_delete, ["Enabled", "Disabled"])?,
    })
}

/// GetBucketVersioning: no `<Status>` for a bucket that never had versioning.
pub(crate) fn versioning_xml(status: Option<&str>) -> String {
    let head = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<VersioningConfiguration xmlns=\"{S3_NS}\""
    );
    match status {
        None => format!("{head}/>"),
        Some(s) => {
            let mut out = format!("{head}>");
            push_elem(&mut out, "Status", s);
            out.push_str("</VersioningConfiguration>");
            out
        }
    }
}

/// One `<Version>` or `<DeleteMarker>` of ListObjectVersions; `key` already url-encoded when
/// the listing asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionEntry {
    pub(crate) key: String,
    /// `null` for the null version.
    pub(crate) version_id: String,
    pub(crate) is_latest: bool,
    pub(crate) last_modified_ms: i64,
    /// `None` for a delete marker: (unquoted ETag, size, checksum algorithm, checksum type).
    pub(crate) object: Option<(String, u64, Option<String>, Option<String>)>,
}

/// ListObjectVersions response. All strings are written as given (url-encode before).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ListVersionsResult {
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) key_marker: String,
    pub(crate) version_id_marker: String,
    pub(crate) next_key_marker: Option<String>,
    pub(crate) next_version_id_marker: Option<String>,
    pub(crate) max_keys: u32,
    pub(crate) delimiter: Option<String>,
    pub(crate) is_truncated: bool,
    pub(crate) encoding_type_url: bool,
    pub(crate) owner: Option<Owner>,
    pub(crate) versions: Vec<VersionEntry>,
    pub(crate) common_prefixes: Vec<String>,
}

impl ListVersionsResult {
    pub(crate) fn to_xml(&self) -> String {
        let root = "ListVersionsResult";
        let mut out =
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{S3_NS}\">");
        let o = &mut out;
        push_elem(o, "Name", &self.name);
        push_elem(o, "Prefix", &self.prefix);
        push_elem(o, "KeyMarker", &self.key_marker);
        push_elem(o, "VersionIdMarker", &self.version_id_marker);
        if let Some(m) = &self.next_key_marker {
            push_elem(o, "NextKeyMarker", m);
        }
        if let Some(m) = &self.next_version_id_marker {
            push_elem(o, "NextVersionIdMarker", m);
        }
        push_elem(o, "MaxKeys", &self.max_keys.to_string());
        if let Some(d) = &self.delimiter {
            push_elem(o, "Delimiter", d);
        }
        push_elem(
            o,
            "IsTruncated",
            if self.is_truncated { "true" } else { "false" },
        );
        if self.encoding_type_url {
            push_elem(o, "EncodingType", "url");
        }
        for v in &self.versions {
            let tag = if v.object.is_some() {
                "Version"
            } else {
                "DeleteMarker"
            };
            o.push_str(&format!("<{tag}>"));
            push_elem(o, "Key", &v.key);
            push_elem(o, "VersionId", &v.version_id);
            push_elem(o, "IsLatest", if v.is_latest { "true" } else { "false" });
            push_elem(o, "LastModified", &format_timestamp_ms(v.last_modified_ms));
            if let Some((etag, size, alg, kind)) = &v.object {
                push_elem(o, "ETag", &quoted_etag(etag));
                if let Some(a) = alg {
                    push_elem(o, "ChecksumAlgorithm", a);
                }
                if let Some(k) = kind {
                    push_elem(o, "ChecksumType", k);
                }
                push_elem(o, "Size", &size.to_string());
                push_elem(o, "StorageClass", "STANDARD");
            }
            if let Some(owner) = &self.owner {
                o.push_str("<Owner>");
                push_elem(o, "ID", &owner.id);
                if let Some(n) = &owner.display_name {
                    push_elem(o, "DisplayName", n);
                }
                o.push_str("</Owner>");
            }
            o.push_str(&format!("</{tag}>"));
        }
        for p in &self.common_prefixes {
            o.push_str("<CommonPrefixes>");
            push_elem(o, "Prefix", p);
            o.push_str("</CommonPrefixes>");
        }
        out.push_str(&format!("</{root}>"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioning_bodies() {
        let p = |s: &str| parse_versioning(s.as_bytes());
        let ok = p("<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>").unwrap();
        assert_eq!(ok.status.as_deref(), Some("Enabled"));
        assert_eq!(ok.mfa_delete, None);
        let both = p("<VersioningConfiguration><MfaDelete>Disabled</MfaDelete><Status>Suspended</Status></VersioningConfiguration>").unwrap();
        assert_eq!(both.status.as_deref(), Some("Suspended"));
        assert_eq!(both.mfa_delete.as_deref(), Some("Disabled"));
        for bad in [
            "<VersioningConfiguration><Status>Disabled</Status></VersioningConfiguration>",
            "<VersioningConfiguration><MfaDelete>On</MfaDelete></VersioningConfiguration>",
            "<Other><Status>Enabled</Status></Other>",
            "not xml",
        ] {
            assert!(matches!(p(bad), Err(S3Error::MalformedXML)), "{bad}");
        }
        assert!(versioning_xml(None).ends_with("/>"));
        assert!(
            versioning_xml(Some("Enabled"))
                .contains("<Status>Enabled</Status></VersioningConfiguration>")
        );
    }
}
