//! Conditional writes (S3 User Guide, "How to prevent object overwrites with conditional
//! writes"): `If-None-Match: *` and `If-Match: <etag>` on PutObject and
//! CompleteMultipartUpload, `If-Match` on DeleteObject.
//!
//! Two checks, one rule. When the request arrives the condition is checked against the current
//! record: 412 PreconditionFailed if it does not hold (and nothing is uploaded in vain). What
//! was checked becomes the store's [`Expect`] for the commit, which checks it again in the
//! same step as the record swap: if a concurrent write changed the key in between, the commit
//! fails with 409 ConditionalRequestConflict and nothing is written, so of two racing
//! `If-None-Match: *` uploads exactly one wins.

use super::get::load_meta;
use crate::s3::Req;
use crate::s3::error::S3Error;
use crate::s3::xml::unquote_etag;
use crate::store::Expect;

/// The precondition of a write to `bucket/key` as the store expectation its commit must meet;
/// [`Expect::Any`] without conditional headers.
pub(crate) async fn write_expectation(
    req: &Req,
    bucket: &str,
    key: &str,
) -> Result<Expect, S3Error> {
    let if_match = req.header("if-match").map(str::trim);
    let if_none_match = req.header("if-none-match").map(str::trim);
    if if_match.is_none() && if_none_match.is_none() {
        return Ok(Expect::Any);
    }
    if if_none_match.is_some_and(|v| v != "*") {
        return Err(S3Error::NotImplemented(
            "If-None-Match on a write only supports '*' (upload only if the key does not exist)"
                .into(),
        ));
    }
    let current = req.gw.store.get_meta(bucket, key).await?;
    if if_none_match.is_some() {
        if current.is_some() {
            return Err(S3Error::PreconditionFailed {
                condition: "If-None-Match".into(),
            });
        }
        if if_match.is_none() {
            return Ok(Expect::Absent);
        }
    }
    let wanted = if_match.unwrap_or_default();
    match current {
        // AWS: If-Match on a key with no current object is 404, not 412.
        None => Err(S3Error::NoSuchKey {
            key: key.to_owned(),
        }),
        Some(m) if etag_matches(wanted, &m.etag) => Ok(Expect::Generation(m.generation)),
        Some(_) => Err(S3Error::PreconditionFailed {
            condition: "If-Match".into(),
        }),
    }
}

/// DeleteObject's `If-Match`: the expectation for the delete, checked against the current
/// record first (404 NoSuchKey when there is none, 412 on another ETag).
pub(crate) async fn delete_expectation(
    req: &Req,
    bucket: &str,
    key: &str,
) -> Result<Expect, S3Error> {
    let Some(wanted) = req.header("if-match").map(str::trim) else {
        return Ok(Expect::Any);
    };
    let meta = load_meta(req, bucket, key).await?;
    if etag_matches(wanted, &meta.etag) {
        Ok(Expect::Generation(meta.generation))
    } else {
        Err(S3Error::PreconditionFailed {
            condition: "If-Match".into(),
        })
    }
}

/// An `If-Match` value (one ETag, quoted or not, or `*`) against a stored unquoted ETag.
pub(crate) fn etag_matches(wanted: &str, etag: &str) -> bool {
    wanted.split(',').any(|t| {
        let t = t.trim();
        t == "*" || unquote_etag(t) == etag
    })
}

#[cfg(test)]
mod tests {
    use super::etag_matches;

    #[test]
    fn etags_compare_unquoted() {
        assert!(etag_matches("\"abc\"", "abc"));
        assert!(etag_matches("abc", "abc"));
        assert!(etag_matches("*", "abc"));
        assert!(etag_matches("\"x\", \"abc\"", "abc"));
        assert!(!etag_matches("\"abd\"", "abc"));
        assert!(!etag_matches("", "abc"));
    }
}
