//! `<ObjectLockConfiguration>` (Put/GetObjectLockConfiguration), `<Retention>`
//! (Put/GetObjectRetention) and `<LegalHold>` (Put/GetObjectLegalHold).

use serde::Deserialize;

use super::S3_NS;
use super::read::{body_with_root, from_xml};
use super::text::push_elem;
use super::write::format_timestamp_ms;
use crate::meta::{DefaultRetention, LockMode, ObjectLockConfig, RetentionPeriod};
use crate::s3::error::S3Error;
use crate::s3::object_lock::{MAX_DAYS, MAX_YEARS, parse_legal_hold};

#[derive(Deserialize)]
struct ConfigXml {
    #[serde(rename = "ObjectLockEnabled")]
    enabled: Option<String>,
    #[serde(rename = "Rule")]
    rule: Option<RuleXml>,
}

#[derive(Deserialize)]
struct RuleXml {
    #[serde(rename = "DefaultRetention")]
    default_retention: Option<DefaultRetentionXml>,
}

#[derive(Deserialize)]
struct DefaultRetentionXml {
    #[serde(rename = "Mode")]
    mode: Option<String>,
    #[serde(rename = "Days")]
    days: Option<String>,
    #[serde(rename = "Years")]
    years: Option<String>,
}

/// A PutObjectLockConfiguration body. `ObjectLockEnabled` must be `Enabled`; a `Rule` needs a
/// `DefaultRetention` with a `Mode` and exactly one of `Days`/`Years` (MalformedXML otherwise,
/// as AWS); a period that is not a positive integer within 100 years is InvalidArgument.
pub(crate) fn parse_object_lock_configuration(body: &[u8]) -> Result<ObjectLockConfig, S3Error> {
    let text = body_with_root(body, "ObjectLockConfiguration")?;
    let parsed: ConfigXml = from_xml(text)?;
    if parsed.enabled.as_deref().map(str::trim) != Some("Enabled") {
        return Err(S3Error::MalformedXML);
    }
    let Some(rule) = parsed.rule else {
        return Ok(ObjectLockConfig::default());
    };
    let d = rule.default_retention.ok_or(S3Error::MalformedXML)?;
    let mode = d
        .mode
        .as_deref()
        .and_then(|m| LockMode::from_name(m.trim()))
        .ok_or(S3Error::MalformedXML)?;
    let positive = |v: &str, max: u32| match v.trim().parse::<i64>() {
        Ok(n) if n >= 1 && n <= i64::from(max) => Ok(n as u32),
        Ok(n) if n >= 1 => Err(S3Error::invalid_argument(
            "Default retention period is too large.",
        )),
        Ok(_) => Err(S3Error::invalid_argument(
            "Default retention period must be a positive integer value.",
        )),
        Err(_) => Err(S3Error::MalformedXML),
    };
    let period = match (d.days.as_deref(), d.years.as_deref()) {
        (Some(days), None) => RetentionPeriod::Days(positive(days, MAX_DAYS)?),
        (None, Some(years)) => RetentionPeriod::Years(positive(years, MAX_YEARS)?),
        _ => return Err(S3Error::MalformedXML),
    };
    Ok(ObjectLockConfig {
        default_retention: Some(DefaultRetention { mode, period }),
    })
}

pub(crate) fn object_lock_configuration_xml(c: &ObjectLockConfig) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ObjectLockConfiguration xmlns=\"{S3_NS}\">"
    );
    push_elem(&mut out, "ObjectLockEnabled", "Enabled");
    if let Some(d) = &c.default_retention {
        out.push_str("<Rule><DefaultRetention>");
        push_elem(&mut out, "Mode", d.mode.name());
        match d.period {
            RetentionPeriod::Days(n) => push_elem(&mut out, "Days", &n.to_string()),
            RetentionPeriod::Years(n) => push_elem(&mut out, "Years", &n.to_string()),
        }
        out.push_str("</DefaultRetention></Rule>");
    }
    out.push_str("</ObjectLockConfiguration>");
    out
}

#[derive(Deserialize)]
struct RetentionXml {
    #[serde(rename = "Mode")]
    mode: Option<String>,
    #[serde(rename = "RetainUntilDate")]
    retain_until_date: Option<String>,
}

/// A PutObjectRetention body as `(mode, retain-until date as sent)`; both absent removes the
/// retention. Mode and date are validated by the handler (AWS answers InvalidArgument for them).
pub(crate) type RetentionRequest = Option<(String, String)>;

pub(crate) fn parse_retention(body: &[u8]) -> Result<RetentionRequest, S3Error> {
    let text = body_with_root(body, "Retention")?;
    let parsed: RetentionXml = from_xml(text)?;
    match (parsed.mode, parsed.retain_until_date) {
        (None, None) => Ok(None),
        (Some(m), Some(d)) => Ok(Some((m, d))),
        _ => Err(S3Error::MalformedXML),
    }
}

pub(crate) fn retention_xml(mode: LockMode, retain_until_ms: i64) -> String {
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Retention xmlns=\"{S3_NS}\">");
    push_elem(&mut out, "Mode", mode.name());
    push_elem(
        &mut out,
        "RetainUntilDate",
        &format_timestamp_ms(retain_until_ms),
    );
    out.push_str("</Retention>");
    out
}

#[derive(Deserialize)]
struct LegalHoldXml {
    #[serde(rename = "Status")]
    status: Option<String>,
}

/// A PutObjectLegalHold body: `true` for `ON`. A missing status is MalformedXML; another value
/// InvalidArgument.
pub(crate) fn parse_legal_hold_body(body: &[u8]) -> Result<bool, S3Error> {
    let text = body_with_root(body, "LegalHold")?;
    let parsed: LegalHoldXml = from_xml(text)?;
    parse_legal_hold(&parsed.status.ok_or(S3Error::MalformedXML)?)
}

pub(crate) fn legal_hold_xml(on: bool) -> String {
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LegalHold xmlns=\"{S3_NS}\">");
    push_elem(&mut out, "Status", if on { "ON" } else { "OFF" });
    out.push_str("</LegalHold>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_bodies() {
        let p = |s: &str| parse_object_lock_configuration(s.as_bytes());
        assert_eq!(
            p("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>").unwrap(),
            ObjectLockConfig::default()
        );
        let c = p("<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>2</Years></DefaultRetention></Rule></ObjectLockConfiguration>").unwrap();
        assert_eq!(
            c.default_retention,
            Some(DefaultRetention {
                mode: LockMode::Compliance,
                period: RetentionPeriod::Years(2)
            })
        );
        let xml = object_lock_configuration_xml(&c);
        assert!(xml.contains("<Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>2</Years></DefaultRetention></Rule>"), "{xml}");
        assert_eq!(p(&xml).unwrap(), c);
        for bad in [
            "<ObjectLockConfiguration><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
            "<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>",
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>",
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode></DefaultRetention></Rule></ObjectLockConfiguration>",
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>STRICT</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
            "<Other/>",
        ] {
            assert!(matches!(p(bad), Err(S3Error::MalformedXML)), "{bad}");
        }
        for bad in ["0", "-3", "36501"] {
            let body = format!(
                "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>{bad}</Days></DefaultRetention></Rule></ObjectLockConfiguration>"
            );
            assert_eq!(p(&body).unwrap_err().code(), "InvalidArgument", "{bad}");
        }
    }

    #[test]
    fn retention_and_legal_hold_bodies() {
        let r = parse_retention(b"<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>").unwrap();
        assert_eq!(
            r,
            Some(("GOVERNANCE".into(), "2030-01-01T00:00:00Z".into()))
        );
        assert_eq!(parse_retention(b"<Retention/>").unwrap(), None);
        assert!(parse_retention(b"<Retention><Mode>GOVERNANCE</Mode></Retention>").is_err());
        let x = retention_xml(LockMode::Governance, 1_893_456_000_000);
        assert!(
            x.contains(
                "<Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00.000Z</RetainUntilDate>"
            ),
            "{x}"
        );
        assert!(crate::s3::object_lock::parse_date("2030-01-01T00:00:00.000Z").is_some());
        assert!(parse_legal_hold_body(b"<LegalHold><Status>ON</Status></LegalHold>").unwrap());
        assert!(!parse_legal_hold_body(b"<LegalHold><Status>OFF</Status></LegalHold>").unwrap());
        assert_eq!(
            parse_legal_hold_body(b"<LegalHold><Status>MAYBE</Status></LegalHold>")
                .unwrap_err()
                .code(),
            "InvalidArgument"
        );
        assert!(legal_hold_xml(true).contains("<Status>ON</Status>"));
    }
}
