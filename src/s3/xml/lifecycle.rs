//! `<LifecycleConfiguration>`: the PutBucketLifecycleConfiguration body, parsed and validated as
//! AWS does, and the GetBucketLifecycleConfiguration answer (S3 API Reference: LifecycleRule,
//! LifecycleRuleFilter, LifecycleExpiration).
//!
//! What is refused, and how (codes and messages as S3 answers them):
//! - a document that breaks the schema — no `<Rule>`, a rule without `Status` or with another
//!   value than `Enabled`/`Disabled`, neither `<Filter>` nor `<Prefix>` or both, a `<Filter>`
//!   with more than one condition, `<Expiration>` with none or several of its forms, numbers
//!   that are not integers — is MalformedXML;
//! - more than 1000 rules, an ID over 255 characters or used twice, a day count that is not
//!   positive, a `Date` not at midnight UTC, `ExpiredObjectDeleteMarker` beside `Days`/`Date`
//!   or with a tag filter, `NewerNoncurrentVersions` outside 1..=100, object size bounds that
//!   leave nothing, are InvalidArgument;
//! - a rule with no action, `AbortIncompleteMultipartUpload` with a tag filter, are
//!   InvalidRequest;
//! - `Transition` / `NoncurrentVersionTransition`: the gateway has one storage class, STANDARD,
//!   so any transition names a class it does not have: 400 InvalidStorageClass, which is what
//!   S3 answers for a storage class it does not offer (docs/STORAGE.md "Lifecycle").

use std::collections::HashSet;

use base64::Engine as _;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::S3_NS;
use super::read::{body_with_root, from_xml};
use super::text::push_elem;
use super::write::format_timestamp_ms;
use crate::meta::{LifecycleExpiration, LifecycleFilter, LifecycleRule, NoncurrentExpiration};
use crate::s3::error::S3Error;
use crate::s3::tags::{TagTarget, validate};

/// The most rules one configuration may hold.
pub(crate) const MAX_LIFECYCLE_RULES: usize = 1000;
const MAX_ID_CHARS: usize = 255;
const MAX_NEWER_NONCURRENT: u32 = 100;

#[derive(Deserialize)]
struct ConfigXml {
    #[serde(rename = "Rule", default)]
    rules: Vec<RuleXml>,
}

#[derive(Deserialize)]
struct RuleXml {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Filter")]
    filter: Option<FilterXml>,
    #[serde(rename = "Expiration")]
    expiration: Option<ExpirationXml>,
    #[serde(rename = "NoncurrentVersionExpiration")]
    noncurrent: Option<NoncurrentXml>,
    #[serde(rename = "AbortIncompleteMultipartUpload")]
    abort: Option<AbortXml>,
    #[serde(rename = "Transition", default)]
    transitions: Vec<serde::de::IgnoredAny>,
    #[serde(rename = "NoncurrentVersionTransition", default)]
    noncurrent_transitions: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize, Default)]
struct FilterXml {
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Tag")]
    tag: Option<TagXml>,
    #[serde(rename = "ObjectSizeGreaterThan")]
    size_gt: Option<String>,
    #[serde(rename = "ObjectSizeLessThan")]
    size_lt: Option<String>,
    #[serde(rename = "And")]
    and: Option<AndXml>,
}

#[derive(Deserialize)]
struct AndXml {
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Tag", default)]
    tags: Vec<TagXml>,
    #[serde(rename = "ObjectSizeGreaterThan")]
    size_gt: Option<String>,
    #[serde(rename = "ObjectSizeLessThan")]
    size_lt: Option<String>,
}

#[derive(Deserialize)]
struct TagXml {
    #[serde(rename = "Key")]
    key: Option<String>,
    #[serde(rename = "Value")]
    value: Option<String>,
}

#[derive(Deserialize)]
struct ExpirationXml {
    #[serde(rename = "Days")]
    days: Option<String>,
    #[serde(rename = "Date")]
    date: Option<String>,
    #[serde(rename = "ExpiredObjectDeleteMarker")]
    delete_marker: Option<String>,
}

#[derive(Deserialize)]
struct NoncurrentXml {
    #[serde(rename = "NoncurrentDays")]
    days: Option<String>,
    #[serde(rename = "NewerNoncurrentVersions")]
    newer: Option<String>,
}

#[derive(Deserialize)]
struct AbortXml {
    #[serde(rename = "DaysAfterInitiation")]
    days: Option<String>,
}

/// Parses and validates a PutBucketLifecycleConfiguration body (see the module docs).
pub(crate) fn parse_lifecycle_configuration(body: &[u8]) -> Result<Vec<LifecycleRule>, S3Error> {
    let text = body_with_root(body, "LifecycleConfiguration")?;
    let parsed: ConfigXml = from_xml(text)?;
    if parsed.rules.is_empty() {
        return Err(S3Error::MalformedXML);
    }
    if parsed.rules.len() > MAX_LIFECYCLE_RULES {
        return Err(S3Error::invalid_argument(
            "Lifecycle configuration should not have more than 1,000 rules",
        ));
    }
    let rules = parsed
        .rules
        .into_iter()
        .map(rule)
        .collect::<Result<Vec<_>, _>>()?;
    let mut ids = HashSet::new();
    if rules.iter().any(|r| !ids.insert(r.id.as_str())) {
        return Err(S3Error::invalid_argument(
            "Rule ID must be unique. Found same ID for more than one rule",
        ));
    }
    Ok(rules)
}

fn rule(r: RuleXml) -> Result<LifecycleRule, S3Error> {
    let enabled = match r.status.as_deref().map(str::trim) {
        Some("Enabled") => true,
        Some("Disabled") => false,
        _ => return Err(S3Error::MalformedXML),
    };
    let id = match r.id {
        Some(id) if id.chars().count() > MAX_ID_CHARS => {
            return Err(S3Error::invalid_argument(
                "ID length should not exceed allowed limit of 255",
            ));
        }
        Some(id) if !id.is_empty() => id,
        // AWS makes up an ID for a rule without one; so do we, in the same shape.
        _ => base64::engine::general_purpose::STANDARD
            .encode(uuid::Uuid::new_v4().to_string())
            .trim_end_matches('=')
            .to_owned(),
    };
    let filter = match (r.prefix, r.filter) {
        (Some(p), None) => LifecycleFilter::LegacyPrefix(p),
        (None, Some(f)) => filter(f)?,
        _ => return Err(S3Error::MalformedXML),
    };
    if !r.transitions.is_empty() || !r.noncurrent_transitions.is_empty() {
        return Err(S3Error::InvalidStorageClass);
    }
    let has_tags = match &filter {
        LifecycleFilter::Tag(..) => true,
        LifecycleFilter::And { tags, .. } => !tags.is_empty(),
        _ => false,
    };
    let expiration = r.expiration.map(expiration).transpose()?;
    if has_tags
        && matches!(
            expiration,
            Some(LifecycleExpiration::ExpiredObjectDeleteMarker(_))
        )
    {
        return Err(S3Error::invalid_argument(
            "ExpiredObjectDeleteMarker cannot be specified with a tag-based filter",
        ));
    }
    let noncurrent_expiration = r.noncurrent.map(noncurrent).transpose()?;
    let abort_incomplete_upload_days = match r.abort {
        Some(a) => Some(positive_days(
            a.days.as_deref(),
            "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
        )?),
        None => None,
    };
    if has_tags && abort_incomplete_upload_days.is_some() {
        return Err(S3Error::InvalidRequest(
            "AbortIncompleteMultipartUpload cannot be specified with Tags.".into(),
        ));
    }
    if expiration.is_none()
        && noncurrent_expiration.is_none()
        && abort_incomplete_upload_days.is_none()
    {
        return Err(S3Error::InvalidRequest(
            "At least one action needs to be specified in a rule".into(),
        ));
    }
    Ok(LifecycleRule {
        id,
        enabled,
        filter,
        expiration,
        noncurrent_expiration,
        abort_incomplete_upload_days,
    })
}

fn filter(f: FilterXml) -> Result<LifecycleFilter, S3Error> {
    let given = [
        f.prefix.is_some(),
        f.tag.is_some(),
        f.size_gt.is_some(),
        f.size_lt.is_some(),
        f.and.is_some(),
    ];
    let out = match given.iter().filter(|g| **g).count() {
        0 => LifecycleFilter::Prefix(String::new()),
        1 => {
            if let Some(p) = f.prefix {
                LifecycleFilter::Prefix(p)
            } else if let Some(t) = f.tag {
                let (k, v) = tags(vec![t])?.remove(0);
                LifecycleFilter::Tag(k, v)
            } else if let Some(n) = f.size_gt {
                LifecycleFilter::SizeGreaterThan(size(&n)?)
            } else if let Some(n) = f.size_lt {
                LifecycleFilter::SizeLessThan(size(&n)?)
            } else {
                and(f.and.ok_or(S3Error::MalformedXML)?)?
            }
        }
        _ => return Err(S3Error::MalformedXML),
    };
    Ok(out)
}

fn and(a: AndXml) -> Result<LifecycleFilter, S3Error> {
    let size_greater_than = a.size_gt.as_deref().map(size).transpose()?;
    let size_less_than = a.size_lt.as_deref().map(size).transpose()?;
    if let (Some(gt), Some(lt)) = (size_greater_than, size_less_than)
        && gt >= lt
    {
        return Err(S3Error::invalid_argument(
            "ObjectSizeGreaterThan must be less than ObjectSizeLessThan in a filter",
        ));
    }
    Ok(LifecycleFilter::And {
        prefix: a.prefix,
        tags: tags(a.tags)?,
        size_greater_than,
        size_less_than,
    })
}

fn tags(t: Vec<TagXml>) -> Result<Vec<(String, String)>, S3Error> {
    let pairs = t
        .into_iter()
        .map(|t| match t.key {
            Some(k) => Ok((k, t.value.unwrap_or_default())),
            None => Err(S3Error::MalformedXML),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(validate(pairs, TagTarget::Object)?.into_iter().collect())
}

fn size(s: &str) -> Result<u64, S3Error> {
    s.trim().parse().map_err(|_| S3Error::MalformedXML)
}

/// A day count: an integer (else MalformedXML) that must be positive (else InvalidArgument
/// with `msg`).
fn positive_days(s: Option<&str>, msg: &str) -> Result<u32, S3Error> {
    let n: i64 = s
        .ok_or(S3Error::MalformedXML)?
        .trim()
        .parse()
        .map_err(|_| S3Error::MalformedXML)?;
    match u32::try_from(n) {
        Ok(d) if d > 0 => Ok(d),
        _ => Err(S3Error::invalid_argument(msg)),
    }
}

fn expiration(e: ExpirationXml) -> Result<LifecycleExpiration, S3Error> {
    match (e.days, e.date, e.delete_marker) {
        (Some(d), None, None) => Ok(LifecycleExpiration::Days(positive_days(
            Some(&d),
            "'Days' for Expiration action must be a positive integer",
        )?)),
        (None, Some(d), None) => Ok(LifecycleExpiration::Date(midnight(&d)?)),
        (None, None, Some(m)) => Ok(LifecycleExpiration::ExpiredObjectDeleteMarker(
            super::read::parse_xml_bool(&m)?,
        )),
        (None, None, None) => Err(S3Error::MalformedXML),
        (_, _, Some(_)) => Err(S3Error::invalid_argument(
            "ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy",
        )),
        _ => Err(S3Error::MalformedXML),
    }
}

/// An ISO 8601 date-time at midnight UTC, as seconds since the epoch.
fn midnight(s: &str) -> Result<i64, S3Error> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).map_err(|_| S3Error::MalformedXML)?;
    let secs = t.unix_timestamp();
    if secs.rem_euclid(86_400) != 0 || t.nanosecond() != 0 {
        return Err(S3Error::invalid_argument_named(
            "'Date' must be at midnight GMT",
            "Date",
            s.trim(),
        ));
    }
    Ok(secs)
}

fn noncurrent(n: NoncurrentXml) -> Result<NoncurrentExpiration, S3Error> {
    let noncurrent_days = positive_days(
        n.days.as_deref(),
        "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
    )?;
    let newer_noncurrent_versions = match n.newer {
        Some(v) => {
            let n: i64 = v.trim().parse().map_err(|_| S3Error::MalformedXML)?;
            match u32::try_from(n) {
                Ok(n) if (1..=MAX_NEWER_NONCURRENT).contains(&n) => Some(n),
                _ => {
                    return Err(S3Error::invalid_argument(
                        "NewerNoncurrentVersions must be between 1 and 100",
                    ));
                }
            }
        }
        None => None,
    };
    Ok(NoncurrentExpiration {
        noncurrent_days,
        newer_noncurrent_versions,
    })
}

/// The GetBucketLifecycleConfiguration answer for `rules`.
pub(crate) fn lifecycle_configuration_xml(rules: &[LifecycleRule]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LifecycleConfiguration xmlns=\"{S3_NS}\">"
    );
    for r in rules {
        out.push_str("<Rule>");
        push_elem(&mut out, "ID", &r.id);
        push_filter(&mut out, &r.filter);
        push_elem(
            &mut out,
            "Status",
            if r.enabled { "Enabled" } else { "Disabled" },
        );
        if let Some(e) = &r.expiration {
            out.push_str("<Expiration>");
            match e {
                LifecycleExpiration::Days(d) => push_elem(&mut out, "Days", &d.to_string()),
                LifecycleExpiration::Date(s) => {
                    push_elem(&mut out, "Date", &format_timestamp_ms(s * 1000))
                }
                LifecycleExpiration::ExpiredObjectDeleteMarker(b) => {
                    push_elem(&mut out, "ExpiredObjectDeleteMarker", &b.to_string())
                }
            }
            out.push_str("</Expiration>");
        }
        if let Some(n) = &r.noncurrent_expiration {
            out.push_str("<NoncurrentVersionExpiration>");
            push_elem(&mut out, "NoncurrentDays", &n.noncurrent_days.to_string());
            if let Some(v) = n.newer_noncurrent_versions {
                push_elem(&mut out, "NewerNoncurrentVersions", &v.to_string());
            }
            out.push_str("</NoncurrentVersionExpiration>");
        }
        if let Some(d) = r.abort_incomplete_upload_days {
            out.push_str("<AbortIncompleteMultipartUpload>");
            push_elem(&mut out, "DaysAfterInitiation", &d.to_string());
            out.push_str("</AbortIncompleteMultipartUpload>");
        }
        out.push_str("</Rule>");
    }
    out.push_str("</LifecycleConfiguration>");
    out
}

fn push_tag(out: &mut String, k: &str, v: &str) {
    out.push_str("<Tag>");
    push_elem(out, "Key", k);
    push_elem(out, "Value", v);
    out.push_str("</Tag>");
}

fn push_filter(out: &mut String, f: &LifecycleFilter) {
    if let LifecycleFilter::LegacyPrefix(p) = f {
        push_elem(out, "Prefix", p);
        return;
    }
    out.push_str("<Filter>");
    match f {
        LifecycleFilter::LegacyPrefix(_) => {}
        LifecycleFilter::Prefix(p) => push_elem(out, "Prefix", p),
        LifecycleFilter::Tag(k, v) => push_tag(out, k, v),
        LifecycleFilter::SizeGreaterThan(n) => {
            push_elem(out, "ObjectSizeGreaterThan", &n.to_string())
        }
        LifecycleFilter::SizeLessThan(n) => push_elem(out, "ObjectSizeLessThan", &n.to_string()),
        LifecycleFilter::And {
            prefix,
            tags,
            size_greater_than,
            size_less_than,
        } => {
            out.push_str("<And>");
            if let Some(p) = prefix {
                push_elem(out, "Prefix", p);
            }
            for (k, v) in tags {
                push_tag(out, k, v);
            }
            if let Some(n) = size_greater_than {
                push_elem(out, "ObjectSizeGreaterThan", &n.to_string());
            }
            if let Some(n) = size_less_than {
                push_elem(out, "ObjectSizeLessThan", &n.to_string());
            }
            out.push_str("</And>");
        }
    }
    out.push_str("</Filter>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(rules: &str) -> Result<Vec<LifecycleRule>, S3Error> {
        parse_lifecycle_configuration(
            format!("<LifecycleConfiguration>{rules}</LifecycleConfiguration>").as_bytes(),
        )
    }

    #[test]
    fn every_filter_form_round_trips() {
        let doc = "<Rule><ID>a</ID><Prefix>logs/</Prefix><Status>Enabled</Status>\
            <Expiration><Days>3</Days></Expiration></Rule>\
            <Rule><ID>b</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>\
            <Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration></Rule>\
            <Rule><ID>c</ID><Filter><And><Prefix>p/</Prefix><Tag><Key>x</Key><Value>1</Value></Tag>\
            <ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>20</ObjectSizeLessThan>\
            </And></Filter><Status>Enabled</Status>\
            <NoncurrentVersionExpiration><NoncurrentDays>5</NoncurrentDays>\
            <NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>\
            <Rule><ID>d</ID><Filter/><Status>Enabled</Status>\
            <Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>\
            <AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation>\
            </AbortIncompleteMultipartUpload></Rule>";
        let rules = parse(doc).unwrap();
        assert_eq!(rules.len(), 4);
        assert_eq!(
            rules[0].filter,
            LifecycleFilter::LegacyPrefix("logs/".into())
        );
        assert_eq!(
            rules[1].expiration,
            Some(LifecycleExpiration::Date(1_893_456_000))
        );
        assert_eq!(rules[3].filter, LifecycleFilter::Prefix(String::new()));
        let again =
            parse_lifecycle_configuration(lifecycle_configuration_xml(&rules).as_bytes()).unwrap();
        assert_eq!(again, rules);
    }

    #[test]
    fn aws_validation_errors() {
        let code = |doc: &str| parse(doc).unwrap_err().code().to_owned();
        let ok_action = "<Expiration><Days>1</Days></Expiration>";
        let r = |body: &str| format!("<Rule><Filter/><Status>Enabled</Status>{body}</Rule>");
        assert_eq!(code(""), "MalformedXML");
        assert_eq!(
            code(&r("<Expiration><Days>0</Days></Expiration>")),
            "InvalidArgument"
        );
        assert_eq!(
            code(&r("<Expiration><Days>x</Days></Expiration>")),
            "MalformedXML"
        );
        assert_eq!(
            code(&r(
                "<Expiration><Date>2030-01-01T01:00:00Z</Date></Expiration>"
            )),
            "InvalidArgument"
        );
        assert_eq!(
            code(&r(
                "<Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"
            )),
            "InvalidArgument"
        );
        assert_eq!(code(&r("")), "InvalidRequest");
        assert_eq!(
            code(&r(
                "<Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>"
            )),
            "InvalidStorageClass"
        );
        let dup = format!(
            "<Rule><ID>x</ID><Filter/><Status>Enabled</Status>{ok_action}</Rule>\
             <Rule><ID>x</ID><Filter/><Status>Enabled</Status>{ok_action}</Rule>"
        );
        assert_eq!(code(&dup), "InvalidArgument");
        assert_eq!(code(&r(ok_action).repeat(1001)), "InvalidArgument");
        let tagged_abort = "<Rule><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>\
            <Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1\
            </DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>";
        assert_eq!(code(tagged_abort), "InvalidRequest");
        let two_conditions = format!(
            "<Rule><Filter><Prefix>a</Prefix><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter>\
             <Status>Enabled</Status>{ok_action}</Rule>"
        );
        assert_eq!(code(&two_conditions), "MalformedXML");
        let tagged_marker = "<Rule><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>\
            <Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true\
            </ExpiredObjectDeleteMarker></Expiration></Rule>";
        assert_eq!(code(tagged_marker), "InvalidArgument");
        let empty_sizes = format!(
            "<Rule><Filter><And><ObjectSizeGreaterThan>9</ObjectSizeGreaterThan>\
             <ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter>\
             <Status>Enabled</Status>{ok_action}</Rule>"
        );
        assert_eq!(code(&empty_sizes), "InvalidArgument");
        let both_prefixes =
            format!("<Rule><Prefix>a</Prefix><Filter/><Status>Enabled</Status>{ok_action}</Rule>");
        assert_eq!(code(&both_prefixes), "MalformedXML");
        let no_status = format!("<Rule><Filter/>{ok_action}</Rule>");
        assert_eq!(code(&no_status), "MalformedXML");
    }
}
