//! PostObject: a browser form upload (`POST /bucket`, `multipart/form-data`).
//!
//! The credentials travel in the form, so this operation authenticates itself once the fields
//! before `file` are read: signature (`s3::post::auth`), then the policy document
//! (`s3::post::policy`), then authorization, and only then is anything written. The file then
//! streams through the same sealing pipeline as PutObject, with the form's content fields,
//! `x-amz-meta-*`, SSE and checksum fields in the roles PutObject gives the same headers.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use hyper::body::Incoming;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use time::OffsetDateTime;

use super::common::{self, check_key, quoted, set};
use super::put::MAX_PUT;
use crate::gateway::Gateway;
use crate::meta::Checksum;
use crate::s3::acl;
use crate::s3::authz::{self, AuthKind, Check, Session};
use crate::s3::encryption;
use crate::s3::error::S3Error;
use crate::s3::names;
use crate::s3::post::auth::{self, Scheme, Signer};
use crate::s3::post::file::{self, FileSource};
use crate::s3::post::form::{self, Fields, FormReader};
use crate::s3::post::policy::Policy;
use crate::s3::tags::{self, TagTarget};
use crate::s3::xml::text::push_elem;
use crate::s3::{SseFact, anonymous_user, discard_body, worth_discarding};
use crate::server::{self, Body, ConnInfo};
use crate::sse::{Actor, EtagRule, ObjectBody};
use crate::store::Store;

/// Characters escaped in a key placed in a URL path (`/` stays a separator).
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
/// Characters escaped in a query-string value.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Form fields that become the object's stored headers or choose its encryption, as the
/// headers of the same names do on PutObject.
fn is_object_field(name: &str) -> bool {
    name == "acl"
        || common::CONTENT_HEADERS.contains(&name)
        || name.starts_with("x-amz-meta-")
        || name.starts_with("x-amz-server-side-encryption")
        || name.starts_with("x-amz-object-lock-")
}

pub(crate) async fn handle_post_object(
    gw: &Arc<Gateway>,
    parts: &http::request::Parts,
    body: Incoming,
    conn: ConnInfo,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let boundary = match form::boundary(content_type) {
        Ok(b) => b,
        Err(e) => {
            if worth_discarding(&parts.headers) {
                discard_body(body).await;
            }
            return Err(e);
        }
    };
    let mut reader = FormReader::new(boundary, body);
    let result = post_object(gw, parts, &mut reader, conn, bucket).await;
    if result.is_err()
        && worth_discarding(&parts.headers)
        && let Some(rest) = reader.take_body()
    {
        // Browsers send the whole form before reading the answer: let them see the error.
        discard_body(rest).await;
    }
    result
}

async fn post_object(
    gw: &Arc<Gateway>,
    parts: &http::request::Parts,
    reader: &mut FormReader,
    conn: ConnInfo,
    bucket: &str,
) -> Result<Response<Body>, S3Error> {
    if !names::valid_bucket_name(bucket) {
        return Err(S3Error::NoSuchBucket {
            bucket: bucket.to_owned(),
        });
    }
    let (fields, mut file) = reader.fields_and_file().await?;
    let sent_key = fields.get("key").ok_or_else(|| {
        S3Error::invalid_argument_named(
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
            "key",
            "",
        )
    })?;

    let signer = auth::authenticate(&fields, &gw.ids, &gw.cfg.region)?;
    let (user, length_range, auth) = match signer {
        Signer::Anonymous => (None, (0, u64::MAX), AuthKind::Anonymous),
        Signer::User {
            user,
            scheme,
            policy,
        } => {
            if scheme == Scheme::V2 {
                gw.metrics.s3_sigv2.with(["post"]).inc();
            }
            let policy = Policy::parse(&policy)?;
            policy.check_expiry(OffsetDateTime::now_utc())?;
            policy.check_fields(&fields, bucket)?;
            let v4 = scheme == Scheme::V4;
            (Some(*user), policy.length_range(), AuthKind::Post { v4 })
        }
    };
    let key = sent_key.replace("${filename}", &file.file_name);
    check_key(&key)?;

    // The form fields stand in for PutObject's headers, condition keys included (an SSE field
    // is what `s3:x-amz-server-side-encryption` sees).
    let headers = object_headers(&fields)?;
    let tls = gw.cfg.trusted_proxies.request_is_tls(&conn, &parts.headers);
    let session = Session::new(
        user.clone(),
        auth,
        &headers,
        tls,
        conn.tls_version,
        conn.peer.ip(),
    );
    authz::check(gw, &session, &Check::object("s3:PutObject", bucket, &key)).await?;
    let user = user.unwrap_or_else(anonymous_user);

    // The form's `tagging` field is the XML document PutObjectTagging takes (not the header's
    // query string form).
    let tags = match fields.get("tagging") {
        Some(doc) => tags::validate(
            crate::s3::xml::parse_tagging(doc.as_bytes())?,
            TagTarget::Object,
        )?,
        None => Default::default(),
    };
    let brec = gw
        .store
        .get_bucket(bucket)
        .await?
        .ok_or_else(|| S3Error::NoSuchBucket {
            bucket: bucket.to_owned(),
        })?;
    let acl = acl::for_new_object(&brec, &gw.cfg.account_id, &user.account, &headers)?;
    let lock = crate::s3::object_lock::lock_for_write(&headers, &brec, common::now_ms())?;
    let mode = encryption::choose_write_mode(
        &headers,
        &brec,
        tls,
        gw.cfg.plaintext_buckets.iter().any(|b| b == bucket),
    )?;
    let (content_headers, user_meta) = common::stored_headers(&headers)?;
    let checksum_req = file::checksum_request(&fields)?;
    let caller = crate::kms::Caller {
        arn: user.arn.clone(),
        account: user.account.clone(),
        identity_policy: user.policy.clone(),
        network: Some(session.network()),
    };
    let crypto = gw
        .crypto
        .seal_new(&mode, bucket, &key, &Actor { caller: &caller })
        .await?;

    let (min_len, max_len) = length_range;
    let mut source = FileSource::new(
        reader,
        &mut file,
        max_len.min(MAX_PUT),
        crypto.etag_rule() == EtagRule::PlaintextMd5,
        checksum_req,
    );
    let store = gw.store.clone();
    let generation = Store::new_generation();
    // The file is smaller than the whole form, so a short request is a small object.
    let bound = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let mut part = crypto
        .write_single_part(
            &store,
            bucket,
            &generation,
            bound,
            gw.cfg.inline_max_bytes,
            &mut source,
        )
        .await?;
    let digest = source.finish()?;
    if digest.len < min_len {
        return Err(S3Error::EntityTooSmall);
    }
    reader.finish(file).await?;

    let etag = crypto.etag_rule().etag(digest.md5);
    let (alg, raw) = &digest.checksum;
    let checksum = Checksum {
        algorithm: alg.name().to_owned(),
        value: crate::checksum::b64(raw),
        kind: "FULL_OBJECT".into(),
    };
    part.etag = etag.clone();
    let (versioning, version_id) = super::versioning::new_version(&brec);
    let meta = gw
        .crypto
        .new_object_meta(
            &crypto,
            bucket,
            &key,
            ObjectBody {
                size: digest.len,
                etag: etag.clone(),
                last_modified_ms: common::now_ms(),
                content_headers,
                user_meta,
                checksum: Some(checksum.clone()),
                generation,
                parts: vec![part],
                tags,
                version_id,
                acl,
                lock,
            },
        )
        .await?;
    store.commit_object(bucket, &key, &meta, versioning).await?;
    gw.crypto
        .note_object_lock(&meta, bucket, &key, &Actor { caller: &caller })
        .await;

    let location = object_url(parts, tls, &key);
    let mut resp = success_response(&fields, bucket, &key, &etag, &location);
    let h = resp.headers_mut();
    set(h, "etag", &quoted(&etag));
    if !h.contains_key(http::header::LOCATION) {
        set(h, "location", &location);
    }
    set(h, alg.header_name(), &checksum.value);
    super::versioning::version_header(h, versioning, meta.version_id.as_deref());
    encryption::describe(&meta.sealing, h);
    encryption::describe_context(&meta.sealing, h);
    SseFact::attach(&mut resp, &meta.sealing);
    Ok(resp)
}

/// The form fields that play the part of PutObject headers, as a header map.
fn object_headers(fields: &Fields) -> Result<HeaderMap, S3Error> {
    let mut h = HeaderMap::new();
    for (name, value) in fields.iter().filter(|(n, _)| is_object_field(n)) {
        // The `acl` field is PutObject's `x-amz-acl` (and its `s3:x-amz-acl` condition key).
        let header = if name == "acl" { "x-amz-acl" } else { name };
        let n = HeaderName::from_bytes(header.as_bytes())
            .map_err(|_| S3Error::invalid_argument_named("Invalid form field name", name, value))?;
        let v = HeaderValue::from_str(value).map_err(|_| {
            S3Error::invalid_argument_named(
                format!("The value of form field {name} is not a valid header value"),
                name,
                value,
            )
        })?;
        h.insert(n, v);
    }
    Ok(h)
}

/// The URL of the stored object as the client addressed the bucket (path or virtual host).
fn object_url(parts: &http::request::Parts, tls: bool, key: &str) -> String {
    let scheme = if tls { "https" } else { "http" };
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    let path = parts.uri.path().trim_end_matches('/');
    format!("{scheme}://{host}{path}/{}", utf8_percent_encode(key, PATH))
}

/// `success_action_redirect` (or the older `redirect`), if it is an http(s) URL.
fn resp_location(fields: &Fields) -> Option<String> {
    let url = fields
        .get("success_action_redirect")
        .or_else(|| fields.get("redirect"))?;
    let uri: http::Uri = url.parse().ok()?;
    matches!(uri.scheme_str(), Some("http" | "https")).then(|| url.to_owned())
}

/// The answer AWS gives: a 303 to the redirect URL with `bucket`, `key` and `etag` added, or
/// the `success_action_status` (200 empty, 201 with a `PostResponse` document, otherwise 204).
fn success_response(
    fields: &Fields,
    bucket: &str,
    key: &str,
    etag: &str,
    location: &str,
) -> Response<Body> {
    if let Some(url) = resp_location(fields) {
        let sep = if url.contains('?') { '&' } else { '?' };
        let target = format!(
            "{url}{sep}bucket={}&key={}&etag={}",
            utf8_percent_encode(bucket, QUERY),
            utf8_percent_encode(key, QUERY),
            utf8_percent_encode(&quoted(etag), QUERY)
        );
        let mut resp = common::empty(StatusCode::SEE_OTHER);
        set(resp.headers_mut(), "location", &target);
        return resp;
    }
    match fields.get("success_action_status") {
        Some("200") => common::empty(StatusCode::OK),
        Some("201") => {
            let mut x = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
            x.push_str("<PostResponse>");
            push_elem(&mut x, "Location", location);
            push_elem(&mut x, "Bucket", bucket);
            push_elem(&mut x, "Key", key);
            push_elem(&mut x, "ETag", &quoted(etag));
            x.push_str("</PostResponse>");
            common::xml(StatusCode::CREATED, x)
        }
        _ => Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(server::empty())
            .expect("static parts are valid"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        let mut f = Fields::default();
        for (k, v) in pairs {
            f.push((*k).into(), (*v).into()).unwrap();
        }
        f
    }

    #[test]
    fn success_statuses() {
        let st = |v: &[(&str, &str)]| {
            success_response(&fields(v), "b", "k", "e", "http://h/b/k")
                .status()
                .as_u16()
        };
        assert_eq!(st(&[]), 204);
        assert_eq!(st(&[("success_action_status", "200")]), 200);
        assert_eq!(st(&[("success_action_status", "201")]), 201);
        assert_eq!(st(&[("success_action_status", "404")]), 204);
        // A redirect that is not an http(s) URL is ignored.
        assert_eq!(
            st(&[("success_action_redirect", "javascript:alert(1)")]),
            204
        );
        let r = success_response(
            &fields(&[("success_action_redirect", "https://app.example/done?x=1")]),
            "b",
            "dir/a b.txt",
            "abc",
            "",
        );
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()["location"],
            "https://app.example/done?x=1&bucket=b&key=dir%2Fa%20b.txt&etag=%22abc%22"
        );
    }

    #[test]
    fn object_fields_become_headers() {
        let h = object_headers(&fields(&[
            ("key", "k"),
            ("content-type", "image/png"),
            ("x-amz-meta-color", "blue"),
            ("x-amz-server-side-encryption", "AES256"),
            ("acl", "private"),
        ]))
        .unwrap();
        assert_eq!(h.len(), 4);
        assert_eq!(h["content-type"], "image/png");
        assert_eq!(h["x-amz-acl"], "private");
        assert!(object_headers(&fields(&[("x-amz-meta-a b", "x")])).is_err());
        assert!(object_headers(&fields(&[("x-amz-meta-a", "x\ny")])).is_err());
    }
}
