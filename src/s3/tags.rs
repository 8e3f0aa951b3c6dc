//! Tag sets of objects and buckets: the `x-amz-tagging` header and S3's limits, checked the
//! same way for every source (PutObjectTagging and PutBucketTagging bodies, the header on
//! PutObject, CreateMultipartUpload and CopyObject).
//!
//! Limits and messages as S3 answers them (S3 User Guide, "Categorizing your storage using
//! tags"): at most 10 tags per object and 50 per bucket, keys of 1..=128 and values of at most
//! 256 Unicode characters, unique keys, no `aws:` key prefix (reserved for AWS's own tags).

use std::collections::BTreeMap;

use http::HeaderMap;

use super::error::S3Error;

/// Most tags on one object.
pub(crate) const MAX_OBJECT_TAGS: usize = 10;
/// Most tags on one bucket.
pub(crate) const MAX_BUCKET_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

/// What the tags are for: the limits and messages differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagTarget {
    Object,
    Bucket,
}

/// Checks `pairs` (in the order given) against S3's rules and returns them by key.
pub(crate) fn validate(
    pairs: Vec<(String, String)>,
    target: TagTarget,
) -> Result<BTreeMap<String, String>, S3Error> {
    match target {
        TagTarget::Object if pairs.len() > MAX_OBJECT_TAGS => {
            return Err(S3Error::BadRequest(
                "Object tags cannot be greater than 10".into(),
            ));
        }
        TagTarget::Bucket if pairs.len() > MAX_BUCKET_TAGS => {
            return Err(S3Error::BadRequest(
                "Bucket tag count cannot be greater than 50".into(),
            ));
        }
        _ => {}
    }
    let mut tags = BTreeMap::new();
    for (k, v) in pairs {
        if k.is_empty() {
            return Err(S3Error::InvalidTag(
                "The TagKey you have provided is invalid".into(),
            ));
        }
        if k.chars().count() > MAX_KEY_CHARS {
            return Err(S3Error::InvalidTag(
                "The TagKey you have provided is too long, max 128".into(),
            ));
        }
        if v.chars().count() > MAX_VALUE_CHARS {
            return Err(S3Error::InvalidTag(
                "The TagValue you have provided is too long, max 256".into(),
            ));
        }
        if k.starts_with("aws:") {
            return Err(S3Error::InvalidTag(match target {
                TagTarget::Object => "Your TagKey cannot be prefixed with aws:".into(),
                TagTarget::Bucket => "System tags cannot be added/updated by requester".into(),
            }));
        }
        if tags.insert(k, v).is_some() {
            return Err(S3Error::InvalidTag(
                "Cannot provide multiple Tags with the same key".into(),
            ));
        }
    }
    Ok(tags)
}

/// The tags of an `x-amz-tagging` header (`k1=v1&k2=v2`, URL query encoding: `%XX` escapes
/// and `+` for a space); none when the header is absent or empty.
pub(crate) fn from_header(headers: &HeaderMap) -> Result<BTreeMap<String, String>, S3Error> {
    let Some(raw) = headers.get("x-amz-tagging") else {
        return Ok(BTreeMap::new());
    };
    let bad = || {
        S3Error::invalid_argument_named(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
            "x-amz-tagging",
            String::from_utf8_lossy(raw.as_bytes()).into_owned(),
        )
    };
    let raw = raw.to_str().map_err(|_| bad())?;
    let mut pairs = Vec::new();
    for piece in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad())
        };
        pairs.push((decode(k)?, decode(v)?));
    }
    // A repeated name in the header is the header's own error, not InvalidTag.
    let mut seen = std::collections::BTreeSet::new();
    if !pairs.iter().all(|(k, _)| seen.insert(k.clone())) {
        return Err(bad());
    }
    validate(pairs, TagTarget::Object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-amz-tagging", v.parse().unwrap());
        h
    }

    #[test]
    fn header_is_url_query_encoded() {
        let t = from_header(&header("a=1&b%20c=x+y%2Bz&empty=&bare")).unwrap();
        assert_eq!(t.get("a").unwrap(), "1");
        assert_eq!(t.get("b c").unwrap(), "x y+z");
        assert_eq!(t.get("empty").unwrap(), "");
        assert_eq!(t.get("bare").unwrap(), "");
        assert!(from_header(&HeaderMap::new()).unwrap().is_empty());
        assert!(from_header(&header("")).unwrap().is_empty());
    }

    #[test]
    fn header_errors() {
        let code = |v: &str| from_header(&header(v)).unwrap_err().code().to_owned();
        assert_eq!(code("a=1&a=2"), "InvalidArgument");
        assert_eq!(code("a=%ff"), "InvalidArgument");
        assert_eq!(code("aws:x=1"), "InvalidTag");
        let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert_eq!(code(&eleven.join("&")), "BadRequest");
    }

    #[test]
    fn limits() {
        let p = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
        let msg = |r: Result<BTreeMap<String, String>, S3Error>| r.unwrap_err().to_string();
        assert!(validate(p(&"k".repeat(128), &"v".repeat(256)), TagTarget::Object).is_ok());
        // Characters, not bytes.
        assert!(validate(p(&"é".repeat(128), "v"), TagTarget::Object).is_ok());
        assert_eq!(
            msg(validate(p(&"k".repeat(129), "v"), TagTarget::Object)),
            "The TagKey you have provided is too long, max 128"
        );
        assert_eq!(
            msg(validate(p("k", &"v".repeat(257)), TagTarget::Object)),
            "The TagValue you have provided is too long, max 256"
        );
        assert_eq!(
            msg(validate(p("", "v"), TagTarget::Bucket)),
            "The TagKey you have provided is invalid"
        );
        assert_eq!(
            msg(validate(p("aws:cost", "v"), TagTarget::Bucket)),
            "System tags cannot be added/updated by requester"
        );
        let dup = vec![("k".into(), "1".into()), ("k".into(), "2".into())];
        assert_eq!(
            msg(validate(dup, TagTarget::Object)),
            "Cannot provide multiple Tags with the same key"
        );
        let many = |n: usize| -> Vec<(String, String)> {
            (0..n).map(|i| (format!("k{i}"), String::new())).collect()
        };
        assert!(validate(many(10), TagTarget::Object).is_ok());
        assert!(validate(many(11), TagTarget::Object).is_err());
        assert!(validate(many(50), TagTarget::Bucket).is_ok());
        assert_eq!(
            msg(validate(many(51), TagTarget::Bucket)),
            "Bucket tag count cannot be greater than 50"
        );
    }
}
