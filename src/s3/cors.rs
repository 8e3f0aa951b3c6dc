//! CORS evaluation against a bucket's rules (S3 User Guide: "How does Amazon S3 evaluate the
//! CORS configuration on a bucket?"): the first rule whose origin, method and (for a
//! preflight) requested headers all match is the one answered; there is no merging.
//!
//! What AWS echoes: `Access-Control-Allow-Origin` is `*` when the matching origin pattern is
//! exactly `*` (and then no `Access-Control-Allow-Credentials`), otherwise the request's
//! origin with `Access-Control-Allow-Credentials: true`. `Vary` names the three request
//! headers the answer depends on whenever the bucket has rules and the request an `Origin`,
//! so caches never serve one origin's answer to another.

use http::{HeaderMap, HeaderValue};

use super::error::S3Error;
use crate::meta::CorsRule;

const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

const NOT_ALLOWED: &str = "CORSResponse: This CORS request is not allowed. This is usually \
because the evalution of Origin, request method / Access-Control-Request-Method or \
Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

/// `pattern` (at most one `*`, which matches any run of characters) against `value`.
fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (p, v) = if ignore_case {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_owned(), value.to_owned())
    };
    match p.split_once('*') {
        None => p == v,
        Some((pre, post)) => {
            v.len() >= pre.len() + post.len() && v.starts_with(pre) && v.ends_with(post)
        }
    }
}

fn origin_allowed(rule: &CorsRule, origin: &str) -> bool {
    rule.allowed_origins
        .iter()
        .any(|o| wildcard_match(o, origin, false))
}

fn method_allowed(rule: &CorsRule, method: &str) -> bool {
    rule.allowed_methods.iter().any(|m| m == method)
}

fn header_allowed(rule: &CorsRule, header: &str) -> bool {
    rule.allowed_headers
        .iter()
        .any(|h| wildcard_match(h, header, true))
}

/// The requested headers of a preflight, as listed (comma-separated, blanks dropped).
fn requested_headers(value: Option<&str>) -> Vec<&str> {
    value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect()
}

/// What a preflight asked for.
pub(crate) struct Preflight<'a> {
    pub(crate) origin: &'a str,
    pub(crate) method: &'a str,
    pub(crate) headers: Option<&'a str>,
}

impl<'a> Preflight<'a> {
    /// Reads `Origin` and `Access-Control-Request-Method`, refusing a preflight without them
    /// with AWS's BadRequest messages.
    pub(crate) fn from_headers(h: &'a HeaderMap) -> Result<Preflight<'a>, S3Error> {
        let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
        let origin = get("origin").ok_or_else(|| {
            S3Error::BadRequest("Insufficient information. Origin request header needed.".into())
        })?;
        let method = get("access-control-request-method").unwrap_or("null");
        if !["GET", "PUT", "POST", "DELETE", "HEAD"].contains(&method) {
            return Err(S3Error::BadRequest(format!(
                "Invalid Access-Control-Request-Method: {method}"
            )));
        }
        Ok(Preflight {
            origin,
            method,
            headers: get("access-control-request-headers"),
        })
    }

    /// The preflight answer's headers from the first rule that allows it; AccessForbidden
    /// otherwise (`rules` is `None` for a bucket without CORS).
    pub(crate) fn answer(
        &self,
        rules: Option<&[CorsRule]>,
        resource_type: &'static str,
    ) -> Result<HeaderMap, S3Error> {
        let forbidden = |msg: &str| S3Error::CorsForbidden {
            msg: msg.to_owned(),
            method: self.method.to_owned(),
            resource_type,
        };
        let rules =
            rules.ok_or_else(|| forbidden("CORSResponse: CORS is not enabled for this bucket."))?;
        let wanted = requested_headers(self.headers);
        let rule = rules
            .iter()
            .find(|r| {
                origin_allowed(r, self.origin)
                    && method_allowed(r, self.method)
                    && wanted.iter().all(|h| header_allowed(r, h))
            })
            .ok_or_else(|| forbidden(NOT_ALLOWED))?;
        let mut out = HeaderMap::new();
        allow_headers(&mut out, rule, self.origin);
        if !wanted.is_empty() {
            put(&mut out, "access-control-allow-headers", &wanted.join(", "));
        }
        put(&mut out, "vary", VARY);
        Ok(out)
    }
}

/// The CORS headers of an actual (non-preflight) request's response: those of the first rule
/// allowing `origin` and `method`, nothing but `Vary` when none does.
pub(crate) fn actual_headers(rules: &[CorsRule], origin: &str, method: &str) -> HeaderMap {
    let mut out = HeaderMap::new();
    if let Some(rule) = rules
        .iter()
        .find(|r| origin_allowed(r, origin) && method_allowed(r, method))
    {
        allow_headers(&mut out, rule, origin);
    }
    put(&mut out, "vary", VARY);
    out
}

/// The headers a matching rule grants, shared by preflight and actual answers.
fn allow_headers(out: &mut HeaderMap, rule: &CorsRule, origin: &str) {
    let any_origin = rule.allowed_origins.iter().any(|o| o == "*");
    put(
        out,
        "access-control-allow-origin",
        if any_origin { "*" } else { origin },
    );
    put(
        out,
        "access-control-allow-methods",
        &rule.allowed_methods.join(", "),
    );
    if !rule.expose_headers.is_empty() {
        put(
            out,
            "access-control-expose-headers",
            &rule.expose_headers.join(", "),
        );
    }
    if let Some(age) = rule.max_age_seconds {
        put(out, "access-control-max-age", &age.to_string());
    }
    if !any_origin {
        put(out, "access-control-allow-credentials", "true");
    }
}

fn put(out: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        out.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        CorsRule {
            allowed_origins: v(origins),
            allowed_methods: v(methods),
            allowed_headers: v(headers),
            ..CorsRule::default()
        }
    }

    #[test]
    fn wildcards_match_one_run() {
        assert!(wildcard_match(
            "https://*.example.com",
            "https://a.b.example.com",
            false
        ));
        assert!(!wildcard_match(
            "https://*.example.com",
            "https://example.com",
            false
        ));
        assert!(!wildcard_match(
            "https://*.example.com",
            "http://a.example.com",
            false
        ));
        assert!(wildcard_match("X-Amz-*", "x-amz-date", true));
        assert!(wildcard_match("*", "", false));
    }

    #[test]
    fn first_matching_rule_answers() {
        let rules = [
            rule(&["https://a.test"], &["PUT"], &["content-type"]),
            rule(&["*"], &["GET"], &[]),
        ];
        let mut h = HeaderMap::new();
        h.insert("origin", HeaderValue::from_static("https://a.test"));
        h.insert(
            "access-control-request-method",
            HeaderValue::from_static("PUT"),
        );
        h.insert(
            "access-control-request-headers",
            HeaderValue::from_static("Content-Type"),
        );
        let got = Preflight::from_headers(&h)
            .unwrap()
            .answer(Some(&rules), "OBJECT")
            .unwrap();
        assert_eq!(got["access-control-allow-origin"], "https://a.test");
        assert_eq!(got["access-control-allow-credentials"], "true");
        assert_eq!(got["access-control-allow-headers"], "Content-Type");
        let got = actual_headers(&rules, "https://b.test", "GET");
        assert_eq!(got["access-control-allow-origin"], "*");
        assert!(got.get("access-control-allow-credentials").is_none());
        let got = actual_headers(&rules, "https://b.test", "PUT");
        assert!(got.get("access-control-allow-origin").is_none());
        assert_eq!(got["vary"], VARY);
    }
}
