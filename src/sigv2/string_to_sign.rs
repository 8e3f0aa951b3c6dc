//! The SigV2 string to sign:
//!
//! ```text
//! VERB \n Content-MD5 \n Content-Type \n Date-or-Expires \n
//! CanonicalizedAmzHeaders        (one "name:value\n" per x-amz-* header, sorted)
//! CanonicalizedResource          ([/bucket] raw-path [?sub-resources])
//! ```

use std::collections::BTreeMap;

use http::{HeaderMap, Method};

use super::Form;

/// Query parameters that belong to the resource and are signed; every other parameter
/// (`prefix`, `max-keys`, ...) is not. AWS's documentation lists the original set; this is the
/// list AWS's own SDK (botocore `HmacV1Auth`) signs, which is what clients send.
const SUB_RESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// Builds the string to sign. `raw_path` is the path exactly as sent (not decoded);
/// `query` is decoded; `date_line` is the Date value (empty with `x-amz-date`) or, for the
/// query form, `Expires`.
pub(super) fn build(
    method: &Method,
    raw_path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    form: Form,
    date_line: &str,
    host_bucket: Option<&str>,
) -> String {
    // The query form may carry signed headers as parameters (the SDKs presign that way).
    let query_value = |name: &str| match form {
        Form::Query => query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str()),
        Form::Header => None,
    };
    let standard = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
            .or_else(|| query_value(name).map(|v| v.trim().to_owned()))
            .unwrap_or_default()
    };
    let mut out = String::new();
    out.push_str(method.as_str());
    out.push('\n');
    out.push_str(&standard("content-md5"));
    out.push('\n');
    out.push_str(&standard("content-type"));
    out.push('\n');
    out.push_str(date_line);
    out.push('\n');
    for (name, values) in amz_headers(headers, query, form) {
        out.push_str(&name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push_str(&resource(raw_path, query, host_bucket));
    out
}

/// `x-amz-*` headers by lower-case name, values trimmed in arrival order; for the query form,
/// `x-amz-*` parameters not also sent as headers.
fn amz_headers(
    headers: &HeaderMap,
    query: &[(String, String)],
    form: Form,
) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if name.as_str().starts_with("x-amz-") {
            out.entry(name.as_str().to_owned())
                .or_default()
                .push(String::from_utf8_lossy(value.as_bytes()).trim().to_owned());
        }
    }
    if form == Form::Query {
        for (name, value) in query {
            let name = name.to_ascii_lowercase();
            if name.starts_with("x-amz-") && !headers.contains_key(name.as_str()) {
                out.entry(name).or_default().push(value.trim().to_owned());
            }
        }
    }
    out
}

/// `[/bucket]` + the raw path (a bare bucket ends in `/`) + `?` + signed sub-resources sorted by name (`name` alone when
/// the value is empty, else `name=value` with the value unencoded).
fn resource(raw_path: &str, query: &[(String, String)], host_bucket: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(bucket) = host_bucket {
        out.push('/');
        out.push_str(bucket);
    }
    out.push_str(raw_path);
    // A bucket is signed as `/bucket/` however its path was sent (`/bucket` in path style).
    if out.len() > 1 && !out[1..].contains('/') {
        out.push('/');
    }
    let mut subs: Vec<&(String, String)> = query
        .iter()
        .filter(|(k, _)| SUB_RESOURCES.contains(&k.as_str()))
        .collect();
    subs.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (name, value)) in subs.into_iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(name);
        if !value.is_empty() {
            out.push('=');
            out.push_str(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn aws_documentation_shapes() {
        // GET object, virtual host: the bucket joins the resource.
        let h = headers(&[("date", "Tue, 27 Mar 2007 19:36:42 +0000")]);
        let s = build(
            &Method::GET,
            "/photos/puppy.jpg",
            &[],
            &h,
            Form::Header,
            "Tue, 27 Mar 2007 19:36:42 +0000",
            Some("awsexamplebucket1"),
        );
        assert_eq!(
            s,
            "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
        );
        // List with parameters that are not sub-resources, and ?acl, path style.
        let s = build(
            &Method::GET,
            "/awsexamplebucket1/",
            &q(&[("prefix", "photos"), ("max-keys", "50"), ("acl", "")]),
            &h,
            Form::Header,
            "d",
            None,
        );
        assert_eq!(s, "GET\n\n\nd\n/awsexamplebucket1/?acl");
        // A bucket is `/bucket/` in every addressing style; the service root stays `/`.
        for (path, host, want) in [
            ("/b", None, "/b/"),
            ("/", Some("b"), "/b/"),
            ("/", None, "/"),
            ("/b/k/", None, "/b/k/"),
        ] {
            let s = build(&Method::GET, path, &[], &h, Form::Header, "d", host);
            assert_eq!(s, format!("GET\n\n\nd\n{want}"), "{path} {host:?}");
        }
        // x-amz-* headers sorted, repeated values joined, Content-MD5/Type on their lines.
        let h = headers(&[
            ("content-md5", "4gJE4saaMU4BqNR0kLY+lw=="),
            ("content-type", "application/x-download"),
            ("x-amz-meta-reviewedby", "joe@example.com"),
            ("x-amz-meta-reviewedby", "jane@example.com"),
            ("x-amz-acl", " public-read "),
            ("x-amz-date", "Tue, 27 Mar 2007 21:06:08 +0000"),
        ]);
        let s = build(
            &Method::PUT,
            "/static.example.com/db-backup.dat.gz",
            &[],
            &h,
            Form::Header,
            "",
            None,
        );
        assert_eq!(
            s,
            "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\n\n\
             x-amz-acl:public-read\n\
             x-amz-date:Tue, 27 Mar 2007 21:06:08 +0000\n\
             x-amz-meta-reviewedby:joe@example.com,jane@example.com\n\
             /static.example.com/db-backup.dat.gz"
        );
    }

    #[test]
    fn sub_resources_are_sorted_and_unencoded() {
        let s = build(
            &Method::GET,
            "/b/k%20ey",
            &q(&[
                ("versionId", "v1"),
                ("response-content-type", "text/plain; charset=utf-8"),
                ("uploads", ""),
                ("list-type", "2"),
            ]),
            &HeaderMap::new(),
            Form::Header,
            "",
            None,
        );
        assert!(
            s.ends_with(
                "/b/k%20ey?response-content-type=text/plain; charset=utf-8&uploads&versionId=v1"
            ),
            "{s}"
        );
    }

    #[test]
    fn query_form_signs_amz_parameters_and_headers_win() {
        let query = q(&[
            ("AWSAccessKeyId", "AK"),
            ("Expires", "100"),
            ("Signature", "x"),
            ("x-amz-acl", "private"),
            ("content-type", "text/plain"),
        ]);
        let s = build(
            &Method::PUT,
            "/b/k",
            &query,
            &HeaderMap::new(),
            Form::Query,
            "100",
            None,
        );
        assert_eq!(s, "PUT\n\ntext/plain\n100\nx-amz-acl:private\n/b/k");
        let h = headers(&[("x-amz-acl", "public-read")]);
        let s = build(&Method::PUT, "/b/k", &query, &h, Form::Query, "100", None);
        assert!(s.contains("\nx-amz-acl:public-read\n"), "{s}");
        // The header form ignores such parameters.
        let s = build(
            &Method::PUT,
            "/b/k",
            &query,
            &HeaderMap::new(),
            Form::Header,
            "d",
            None,
        );
        assert_eq!(s, "PUT\n\n\nd\n/b/k");
    }
}
