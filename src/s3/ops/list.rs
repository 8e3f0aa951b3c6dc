//! ListObjects (V1), ListObjectsV2 and ListObjectVersions.
//!
//! Both ask the store for one page of objects and common prefixes after the cursor; a page
//! costs what it returns, never a walk of the keys folded into a common prefix, and passes
//! over a bounded number of deleted keys (current version a delete marker): a page may end
//! short, even empty, with IsTruncated and a cursor past what it passed over, as AWS allows.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Response, StatusCode};

use super::common;
use crate::meta::{ObjectMeta, Version};
use crate::s3::Req;
use crate::s3::error::S3Error;
use crate::s3::xml::{self, ObjectEntry, Owner};
use crate::server::Body;
use crate::store::{ListEntry, VersionRow, Versioning};

/// One page of a listing.
struct Page {
    contents: Vec<(String, ObjectMeta)>,
    prefixes: Vec<String>,
    /// Set when truncated: the key or common prefix the next page starts after. Past the
    /// last entry when the page passed over deleted keys (their current version a delete
    /// marker) after it.
    next: Option<String>,
}

/// What a page lists: the bucket (whose versioning says whether delete markers may hide
/// keys), the prefix and the delimiter.
struct Scope<'a> {
    bucket: &'a str,
    rec: &'a crate::meta::BucketRecord,
    prefix: &'a str,
    delimiter: Option<&'a str>,
}

async fn walk(
    req: &Req,
    scope: &Scope<'_>,
    start_after: &str,
    max_keys: usize,
) -> Result<Page, S3Error> {
    let mut page = Page {
        contents: Vec::new(),
        prefixes: Vec::new(),
        next: None,
    };
    // MaxKeys=0 asks for nothing: AWS answers an empty page that is not truncated (KeyCount 0,
    // no continuation token), whatever the bucket holds.
    if max_keys == 0 {
        return Ok(page);
    }
    // The store skips everything beneath `start_after` when it is a common prefix returned on
    // the previous page, and reads meta records only for the objects it returns (and the
    // deleted keys it passes over, a bounded number per page).
    let listed = req
        .gw
        .store
        .list_page(
            scope.bucket,
            scope.prefix,
            scope.delimiter.unwrap_or(""),
            start_after,
            max_keys,
            Versioning::of(scope.rec) != Versioning::Off,
        )
        .await?;
    page.next = listed.next;
    for entry in listed.entries {
        match entry {
            ListEntry::Object { key, meta } => page.contents.push((key, *meta)),
            ListEntry::CommonPrefix(p) => page.prefixes.push(p),
        }
    }
    Ok(page)
}

fn entry(key: &str, meta: &ObjectMeta, owner: Option<Owner>, url: bool) -> ObjectEntry {
    ObjectEntry {
        key: encode(key, url),
        last_modified_ms: meta.last_modified_ms,
        etag: meta.etag.clone(),
        size: meta.size,
        owner,
        checksum_algorithm: meta.checksum.as_ref().map(|c| c.algorithm.clone()),
        checksum_type: meta.checksum.as_ref().map(|c| c.kind.clone()),
    }
}

fn encode(s: &str, url: bool) -> String {
    if url {
        xml::url_encode_key(s)
    } else {
        s.to_owned()
    }
}

/// Objects belong to the bucket owner's account (S3 Object Ownership: BucketOwnerEnforced).
fn owner(req: &Req, rec: &crate::meta::BucketRecord) -> Owner {
    crate::s3::authz::owner::owner_xml(crate::s3::authz::owner::bucket_account(
        rec,
        &req.gw.cfg.account_id,
    ))
}

/// The delimiter a listing groups by: an empty `delimiter=` groups nothing and, like AWS, is
/// not echoed in the response.
fn delimiter(p: &ListParams) -> Option<&str> {
    p.delimiter.as_deref().filter(|d| !d.is_empty())
}

pub(crate) struct ListParams {
    pub(crate) prefix: Option<String>,
    pub(crate) delimiter: Option<String>,
    pub(crate) max_keys: Option<u32>,
    pub(crate) encoding_type_url: bool,
    /// V1 `marker`, V2 `start-after`.
    pub(crate) start_after: Option<String>,
    pub(crate) continuation_token: Option<String>,
    pub(crate) fetch_owner: bool,
}

pub(crate) async fn handle_list_objects_v2(
    mut req: Req,
    bucket: &str,
    p: ListParams,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    let url = p.encoding_type_url;
    let prefix = p.prefix.clone().unwrap_or_default();
    let max_keys = p.max_keys.unwrap_or(1000).min(1000);
    let cursor = match &p.continuation_token {
        Some(t) => URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                S3Error::invalid_argument_named(
                    "The continuation token provided is incorrect",
                    "continuation-token",
                    t.as_str(),
                )
            })?,
        None => p.start_after.clone().unwrap_or_default(),
    };
    let scope = Scope {
        bucket,
        rec: &rec,
        prefix: &prefix,
        delimiter: delimiter(&p),
    };
    let page = walk(&req, &scope, &cursor, max_keys as usize).await?;
    let owner = p.fetch_owner.then(|| owner(&req, &rec));
    let result = xml::ListObjectsV2Result {
        name: bucket.to_owned(),
        prefix: encode(&prefix, url),
        continuation_token: p.continuation_token.clone(),
        next_continuation_token: page.next.as_ref().map(|l| URL_SAFE_NO_PAD.encode(l)),
        start_after: p.start_after.as_deref().map(|s| encode(s, url)),
        max_keys,
        delimiter: delimiter(&p).map(|d| encode(d, url)),
        is_truncated: page.next.is_some(),
        encoding_type_url: url,
        contents: page
            .contents
            .iter()
            .map(|(k, m)| entry(k, m, owner.clone(), url))
            .collect(),
        common_prefixes: page.prefixes.iter().map(|c| encode(c, url)).collect(),
    };
    Ok(common::xml(StatusCode::OK, result.to_xml()))
}

pub(crate) async fn handle_list_objects_v1(
    mut req: Req,
    bucket: &str,
    p: ListParams,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    let url = p.encoding_type_url;
    let prefix = p.prefix.clone().unwrap_or_default();
    let max_keys = p.max_keys.unwrap_or(1000).min(1000);
    let marker = p.start_after.clone().unwrap_or_default();
    let scope = Scope {
        bucket,
        rec: &rec,
        prefix: &prefix,
        delimiter: delimiter(&p),
    };
    let page = walk(&req, &scope, &marker, max_keys as usize).await?;
    let owner = Some(owner(&req, &rec));
    // AWS sends NextMarker only with a delimiter: without one a client resumes after the last
    // Key. A page that passed over deleted keys after its last Key sends it anyway (botocore
    // and the CLI prefer it), or the next page would pass over them again — forever, if the
    // page held no Key at all.
    let last_key = page.contents.last().map(|(k, _)| k.as_str());
    let next_marker = page
        .next
        .as_deref()
        .filter(|n| delimiter(&p).is_some() || Some(*n) != last_key);
    let result = xml::ListObjectsV1Result {
        name: bucket.to_owned(),
        prefix: encode(&prefix, url),
        marker: encode(&marker, url),
        next_marker: next_marker.map(|l| encode(l, url)),
        max_keys,
        delimiter: delimiter(&p).map(|d| encode(d, url)),
        is_truncated: page.next.is_some(),
        encoding_type_url: url,
        contents: page
            .contents
            .iter()
            .map(|(k, m)| entry(k, m, owner.clone(), url))
            .collect(),
        common_prefixes: page.prefixes.iter().map(|c| encode(c, url)).collect(),
    };
    Ok(common::xml(StatusCode::OK, result.to_xml()))
}

pub(crate) struct VersionParams {
    pub(crate) prefix: Option<String>,
    pub(crate) delimiter: Option<String>,
    pub(crate) key_marker: Option<String>,
    pub(crate) version_id_marker: Option<String>,
    pub(crate) max_keys: Option<u32>,
    pub(crate) encoding_type_url: bool,
}

/// ListObjectVersions: every version and delete marker, keys in order, each key's versions
/// newest first; `max-keys` counts versions, markers and common prefixes alike.
pub(crate) async fn handle_list_object_versions(
    mut req: Req,
    bucket: &str,
    p: VersionParams,
) -> Result<Response<Body>, S3Error> {
    req.no_body().await?;
    let rec = req.bucket(bucket).await?;
    let url = p.encoding_type_url;
    let prefix = p.prefix.clone().unwrap_or_default();
    let key_marker = p.key_marker.clone().unwrap_or_default();
    let version_id_marker = p.version_id_marker.clone().filter(|v| !v.is_empty());
    if let Some(v) = &version_id_marker {
        if key_marker.is_empty() {
            return Err(S3Error::invalid_argument_named(
                "A version-id marker cannot be specified without a key marker.",
                "version-id-marker",
                v.as_str(),
            ));
        }
        super::versioning::check_version_id(v)?;
    }
    let max_keys = p.max_keys.unwrap_or(1000).min(1000);
    let delim = p.delimiter.as_deref().filter(|d| !d.is_empty());
    let page = req
        .gw
        .store
        .list_versions(
            bucket,
            &prefix,
            delim.unwrap_or(""),
            &key_marker,
            version_id_marker.as_deref(),
            max_keys as usize,
        )
        .await?;
    let owner = owner(&req, &rec);
    let mut versions = Vec::new();
    let mut common_prefixes = Vec::new();
    for row in page.rows {
        match row {
            VersionRow::CommonPrefix(cp) => common_prefixes.push(encode(&cp, url)),
            VersionRow::Version {
                key,
                version,
                is_latest,
            } => versions.push(xml::VersionEntry {
                key: encode(&key, url),
                version_id: version.version_id().unwrap_or("null").to_owned(),
                is_latest,
                last_modified_ms: version.last_modified_ms(),
                object: match &version {
                    Version::Object(m) => Some((
                        m.etag.clone(),
                        m.size,
                        m.checksum.as_ref().map(|c| c.algorithm.clone()),
                        m.checksum.as_ref().map(|c| c.kind.clone()),
                    )),
                    Version::Marker(_) => None,
                },
            }),
        }
    }
    let (next_key_marker, next_version_id_marker) = match page.next.clone() {
        Some((k, v)) => (Some(encode(&k, url)), v),
        None => (None, None),
    };
    let result = xml::ListVersionsResult {
        name: bucket.to_owned(),
        prefix: encode(&prefix, url),
        key_marker: encode(&key_marker, url),
        version_id_marker: version_id_marker.unwrap_or_default(),
        is_truncated: page.next.is_some(),
        next_key_marker,
        next_version_id_marker,
        max_keys,
        delimiter: delim.map(|d| encode(d, url)),
        encoding_type_url: url,
        owner: Some(owner),
        versions,
        common_prefixes,
    };
    Ok(common::xml(StatusCode::OK, result.to_xml()))
}
