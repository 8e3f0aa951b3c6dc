//! CORS evaluation against a bucket's rules (S3 User Guide: "How does Amazon S3 evaluate the
//! CORS configuration on a bucket?"): the first rule whose origin, method and (for a
//! preflight) requested headers all match is the one answered; there is no merging.
//!
//! What AWS answers (its recorded responses, docs/DESIGN.md "CORS"): `Access-Control-Allow-Origin`
//! is `*` when the matching origin pattern is exactly `*` (and then no
//! `Access-Control-Allow-Credentials`), otherwise the request's origin with
//! `Access-Control-Allow-Credentials: true`; the methods are the rule's, requested headers come
//! back lowercase. `Vary` names the three request headers the answer depends on, and comes only
//! with a grant. An actual request is matched like a preflight: an
//! `Access-Control-Request-Method` or `-Headers` it carries is evaluated instead of its own
//! method, as S3 does.

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

/// The requested headers, as listed (comma-separated, blanks dropped), lowercase.
fn requested_headers(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

fn first_match<'r>(
    rules: &'r [CorsRule],
    origin: &str,
    method: &str,
    wanted: &[String],
) -> Option<&'r CorsRule> {
    rules.iter().find(|r| {
        origin_allowed(r, origin)
            && method_allowed(r, method)
            && wanted.iter().all(|h| header_allowed(r, h))
    })
}

/// What a preflight asked for.
pub(crate) struct Preflight<'a> {
    pub(crate) origin: &'a str,
    /// `Access-Control-Request-Method`, if sent.
    pub(crate) method: Option<&'a str>,
    pub(crate) headers: Option<&'a str>,
}

impl<'a> Preflight<'a> {
    /// Reads the preflight's headers; no `Origin` is AWS's BadRequest.
    pub(crate) fn from_headers(h: &'a HeaderMap) -> Result<Preflight<'a>, S3Error> {
        let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
        let origin = get("origin").ok_or_else(|| {
            S3Error::BadRequest("Insufficient information. Origin request header needed.".into())
        })?;
        Ok(Preflight {
            origin,
            method: get("access-control-request-method"),
            headers: get("access-control-request-headers"),
        })
    }

    /// 403 AccessForbidden with AWS's `<Method>`: the requested one, or `OPTIONS`.
    pub(crate) fn forbidden(&self, msg: &str, resource_type: &'static str) -> S3Error {
        S3Error::CorsForbidden {
            msg: msg.to_owned(),
            method: self.method.unwrap_or("OPTIONS").to_owned(),
            resource_type,
        }
    }

    /// The preflight answer's headers from the first rule that allows it. As recorded on AWS, a
    /// bucket without rules is refused before the method is looked at, with `ResourceType`
    /// `BUCKET` even on an object URL; then a missing or unknown method is 400 BadRequest.
    pub(crate) fn answer(
        &self,
        rules: Option<&[CorsRule]>,
        resource_type: &'static str,
    ) -> Result<HeaderMap, S3Error> {
        let rules = rules.ok_or_else(|| {
            self.forbidden(
                "CORSResponse: CORS is not enabled for this bucket.",
                "BUCKET",
            )
        })?;
        let method = self.method.unwrap_or("null");
        if !["GET", "PUT", "POST", "DELETE", "HEAD"].contains(&method) {
            return Err(S3Error::BadRequest(format!(
                "Invalid Access-Control-Request-Method: {method}"
            )));
        }
        let wanted = requested_headers(self.headers);
        let rule = first_match(rules, self.origin, method, &wanted)
            .ok_or_else(|| self.forbidden(NOT_ALLOWED, resource_type))?;
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
/// allowing its origin and method (and any `Access-Control-Request-*` it carries), none when
/// no rule does or the request has no `Origin`.
pub(crate) fn actual_headers(rules: &[CorsRule], request: &HeaderMap, method: &str) -> HeaderMap {
    let mut out = HeaderMap::new();
    let Ok(p) = Preflight::from_headers(request) else {
        return out;
    };
    let wanted = requested_headers(p.headers);
    if let Some(rule) = first_match(rules, p.origin, p.method.unwrap_or(method), &wanted) {
        allow_headers(&mut out, rule, p.origin);
        put(&mut out, "vary", VARY);
    }
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
        assert_eq!(got["access-control-allow-headers"], "content-type");
        let mut h = HeaderMap::new();
        h.insert("origin", HeaderValue::from_static("https://b.test"));
        let got = actual_headers(&rules, &h, "GET");
        assert_eq!(got["access-control-allow-origin"], "*");
        assert_eq!(got["vary"], VARY);
        assert!(got.get("access-control-allow-credentials").is_none());
        assert!(actual_headers(&rules, &h, "PUT").is_empty());
        // The request-method header decides, as on S3.
        h.insert(
            "access-control-request-method",
            HeaderValue::from_static("PUT"),
        );
        assert!(actual_headers(&rules, &h, "GET").is_empty());
    }
}
