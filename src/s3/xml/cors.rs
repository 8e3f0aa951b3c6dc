//! `<CORSConfiguration>`: the PutBucketCors body (parsed and validated as AWS does) and the
//! GetBucketCors answer (S3 API Reference: PutBucketCors, CORSRule).

use std::fmt::Write as _;

use serde::Deserialize;

use super::S3_NS;
use super::read::{body_with_root, from_xml};
use super::text::push_elem;
use crate::meta::CorsRule;
use crate::s3::error::S3Error;

/// The most rules one configuration may hold.
pub(crate) const MAX_CORS_RULES: usize = 100;

/// The methods a rule may allow.
const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

#[derive(Deserialize)]
struct CorsXml {
    #[serde(rename = "CORSRule", default)]
    rules: Vec<RuleXml>,
}

#[derive(Deserialize)]
struct RuleXml {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "AllowedHeader", default)]
    allowed_headers: Vec<String>,
    #[serde(rename = "AllowedMethod", default)]
    allowed_methods: Vec<String>,
    #[serde(rename = "AllowedOrigin", default)]
    allowed_origins: Vec<String>,
    #[serde(rename = "ExposeHeader", default)]
    expose_headers: Vec<String>,
    #[serde(rename = "MaxAgeSeconds")]
    max_age_seconds: Option<String>,
}

/// Parses and validates a PutBucketCors body: 1..=100 rules, each with at least one
/// AllowedMethod and AllowedOrigin (else MalformedXML, as the schema requires them); a method
/// other than GET/PUT/POST/DELETE/HEAD and an origin or allowed header with more than one `*`
/// are InvalidRequest with AWS's messages.
pub(crate) fn parse_cors_configuration(body: &[u8]) -> Result<Vec<CorsRule>, S3Error> {
    let text = body_with_root(body, "CORSConfiguration")?;
    let parsed: CorsXml = from_xml(text)?;
    if parsed.rules.is_empty() || parsed.rules.len() > MAX_CORS_RULES {
        return Err(S3Error::MalformedXML);
    }
    parsed.rules.into_iter().map(rule).collect()
}

fn rule(r: RuleXml) -> Result<CorsRule, S3Error> {
    let trimmed =
        |v: Vec<String>| -> Vec<String> { v.iter().map(|s| s.trim().to_owned()).collect() };
    let allowed_methods = trimmed(r.allowed_methods);
    let allowed_origins = trimmed(r.allowed_origins);
    let allowed_headers = trimmed(r.allowed_headers);
    if allowed_methods.is_empty() || allowed_origins.is_empty() {
        return Err(S3Error::MalformedXML);
    }
    if let Some(m) = allowed_methods
        .iter()
        .find(|m| !METHODS.contains(&m.as_str()))
    {
        return Err(S3Error::InvalidRequest(format!(
            "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
        )));
    }
    for (what, values) in [
        ("AllowedOrigin", &allowed_origins),
        ("AllowedHeader", &allowed_headers),
    ] {
        if let Some(v) = values.iter().find(|v| v.matches('*').count() > 1) {
            return Err(S3Error::InvalidRequest(format!(
                "{what} \"{v}\" can not have more than one wildcard."
            )));
        }
    }
    let max_age_seconds = match r.max_age_seconds {
        Some(s) => Some(s.trim().parse::<i64>().map_err(|_| S3Error::MalformedXML)?),
        None => None,
    };
    Ok(CorsRule {
        id: r.id.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
        allowed_methods,
        allowed_origins,
        allowed_headers,
        expose_headers: trimmed(r.expose_headers),
        max_age_seconds,
    })
}

/// The GetBucketCors document, rules in the order they were put.
pub(crate) fn cors_configuration_xml(rules: &[CorsRule]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CORSConfiguration xmlns=\"{S3_NS}\">"
    );
    for r in rules {
        out.push_str("<CORSRule>");
        if let Some(id) = &r.id {
            push_elem(&mut out, "ID", id);
        }
        for (name, values) in [
            ("AllowedHeader", &r.allowed_headers),
            ("AllowedMethod", &r.allowed_methods),
            ("AllowedOrigin", &r.allowed_origins),
            ("ExposeHeader", &r.expose_headers),
        ] {
            for v in values {
                push_elem(&mut out, name, v);
            }
        }
        if let Some(age) = r.max_age_seconds {
            let _ = write!(out, "<MaxAgeSeconds>{age}</MaxAgeSeconds>");
        }
        out.push_str("</CORSRule>");
    }
    out.push_str("</CORSConfiguration>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(rules: &str) -> Result<Vec<CorsRule>, S3Error> {
        parse_cors_configuration(
            format!("<CORSConfiguration xmlns=\"{S3_NS}\">{rules}</CORSConfiguration>").as_bytes(),
        )
    }

    #[test]
    fn round_trips_a_rule() {
        let rules = parse(
            "<CORSRule><ID>r1</ID><AllowedHeader>x-amz-*</AllowedHeader>\
             <AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>\
             <AllowedOrigin>https://*.example.com</AllowedOrigin>\
             <ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule>",
        )
        .unwrap();
        assert_eq!(rules[0].allowed_methods, ["GET", "PUT"]);
        assert_eq!(rules[0].max_age_seconds, Some(600));
        let again = parse_cors_configuration(cors_configuration_xml(&rules).as_bytes()).unwrap();
        assert_eq!(again, rules);
    }

    #[test]
    fn refuses_what_aws_refuses() {
        let ok = "<AllowedOrigin>*</AllowedOrigin>";
        assert_eq!(parse(""), Err(S3Error::MalformedXML));
        assert_eq!(
            parse(&format!("<CORSRule>{ok}</CORSRule>")),
            Err(S3Error::MalformedXML)
        );
        assert!(matches!(
            parse(&format!("<CORSRule><AllowedMethod>PATCH</AllowedMethod>{ok}</CORSRule>")),
            Err(S3Error::InvalidRequest(m)) if m.ends_with("Unsupported method is PATCH")
        ));
        assert!(matches!(
            parse("<CORSRule><AllowedMethod>GET</AllowedMethod>\
                   <AllowedOrigin>http://*.*.com</AllowedOrigin></CORSRule>"),
            Err(S3Error::InvalidRequest(m)) if m.contains("more than one wildcard")
        ));
        let rule = format!("<CORSRule><AllowedMethod>GET</AllowedMethod>{ok}</CORSRule>");
        assert_eq!(parse(&rule.repeat(MAX_CORS_RULES)).unwrap().len(), 100);
        assert_eq!(
            parse(&rule.repeat(MAX_CORS_RULES + 1)),
            Err(S3Error::MalformedXML)
        );
        assert_eq!(
            parse(
                "<CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>\
                   <MaxAgeSeconds>soon</MaxAgeSeconds></CORSRule>"
            ),
            Err(S3Error::MalformedXML)
        );
    }
}
