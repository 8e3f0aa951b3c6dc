//! ACLs as S3 takes them (S3 User Guide: "Access control list (ACL) overview"; S3 API
//! Reference: PutBucketAcl, PutObjectAcl): canned ACLs, `x-amz-grant-*` headers, who owns a new
//! object under each Object Ownership, and what a write may carry under Block Public Access.
//!
//! An ACL is resolved once, when written, into the owner and the explicit grants it stands for
//! (`meta::Acl`); a record keeps one only when it says more than "the bucket owner has
//! FULL_CONTROL", which an absent ACL means. Grantees are accounts by canonical id and the
//! predefined groups; S3's grants by e-mail address are refused as AWS refuses them for an
//! address it does not know (no account here has one).

use http::HeaderMap;

use crate::meta::{
    ALL_USERS, AUTHENTICATED_USERS, Acl, BucketRecord, Grant, Grantee, LOG_DELIVERY, Permission,
};
use crate::s3::authz::owner::{bucket_account, canonical_id};
use crate::s3::error::S3Error;

/// Object Ownership that disables ACLs.
pub(crate) const BUCKET_OWNER_ENFORCED: &str = "BucketOwnerEnforced";
/// Object Ownership that gives the bucket owner objects written `bucket-owner-full-control`.
const BUCKET_OWNER_PREFERRED: &str = "BucketOwnerPreferred";

/// S3's limit on the grants of one ACL.
const MAX_GRANTS: usize = 100;

/// The grant headers and the permission each gives.
const GRANT_HEADERS: [(&str, Permission); 5] = [
    ("x-amz-grant-full-control", Permission::FullControl),
    ("x-amz-grant-read", Permission::Read),
    ("x-amz-grant-read-acp", Permission::ReadAcp),
    ("x-amz-grant-write", Permission::Write),
    ("x-amz-grant-write-acp", Permission::WriteAcp),
];

/// The canned ACLs (S3 User Guide: "Canned ACL").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Canned {
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
    AwsExecRead,
    BucketOwnerRead,
    BucketOwnerFullControl,
    LogDeliveryWrite,
}

impl Canned {
    const ALL: [(&'static str, Canned); 8] = [
        ("private", Canned::Private),
        ("public-read", Canned::PublicRead),
        ("public-read-write", Canned::PublicReadWrite),
        ("authenticated-read", Canned::AuthenticatedRead),
        ("aws-exec-read", Canned::AwsExecRead),
        ("bucket-owner-read", Canned::BucketOwnerRead),
        ("bucket-owner-full-control", Canned::BucketOwnerFullControl),
        ("log-delivery-write", Canned::LogDeliveryWrite),
    ];

    fn parse(name: &str) -> Option<Canned> {
        Canned::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
    }
}

/// An ACL as a request states it, before it is resolved against the resource's owners.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AclSpec {
    Canned(Canned),
    /// Explicit grants (headers or an AccessControlPolicy document): exactly these, the owner
    /// included only if listed, as on S3.
    Grants(Vec<Grant>),
}

/// The ACL of a request's `x-amz-acl` / `x-amz-grant-*` headers, if it has one. Both kinds
/// at once is 400 InvalidRequest, as on S3.
pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Option<AclSpec>, S3Error> {
    let canned = match headers.get("x-amz-acl") {
        None => None,
        Some(v) => {
            let text = v.to_str().unwrap_or("").trim();
            Some(Canned::parse(text).ok_or_else(|| {
                S3Error::invalid_argument_named("Invalid canned ACL", "x-amz-acl", text)
            })?)
        }
    };
    let mut grants = Vec::new();
    for (name, permission) in GRANT_HEADERS {
        for v in headers.get_all(name) {
            for grantee in parse_grantees(name, v.to_str().unwrap_or(""))? {
                grants.push(Grant {
                    grantee,
                    permission,
                });
            }
        }
    }
    match (canned, grants.is_empty()) {
        (None, true) => Ok(None),
        (Some(c), true) => Ok(Some(AclSpec::Canned(c))),
        (None, false) => Ok(Some(AclSpec::Grants(checked_grants(grants)?))),
        (Some(_), false) => Err(S3Error::InvalidRequest(
            "Specifying both Canned ACLs and Header Grants is not allowed".into(),
        )),
    }
}

/// `id="…", uri="…", emailAddress="…"`: the grantees of one grant header.
fn parse_grantees(header: &str, value: &str) -> Result<Vec<Grantee>, S3Error> {
    let bad = || S3Error::invalid_argument_named("Invalid grant header value", header, value);
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (kind, v) = item.split_once('=').ok_or_else(bad)?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        out.push(grantee(kind.trim(), v)?);
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// One grantee by the kind S3 names it with (`id`/`CanonicalUser`, `uri`/`Group`,
/// `emailAddress`/`AmazonCustomerByEmail`).
pub(crate) fn grantee(kind: &str, value: &str) -> Result<Grantee, S3Error> {
    match kind {
        k if k.eq_ignore_ascii_case("id") || k == "CanonicalUser" => {
            let v = value.trim();
            if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(Grantee::CanonicalUser(v.to_ascii_lowercase()))
            } else {
                Err(S3Error::invalid_argument_named(
                    "Invalid id",
                    "CanonicalUser/ID",
                    v,
                ))
            }
        }
        k if k.eq_ignore_ascii_case("uri") || k == "Group" => {
            let v = value.trim();
            if [ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY].contains(&v) {
                Ok(Grantee::Group(v.to_owned()))
            } else {
                Err(S3Error::invalid_argument_named(
                    "Invalid group uri",
                    "Group/URI",
                    v,
                ))
            }
        }
        k if k.eq_ignore_ascii_case("emailAddress") || k == "AmazonCustomerByEmail" => {
            Err(S3Error::UnresolvableGrantByEmailAddress)
        }
        other => Err(S3Error::invalid_argument_named(
            "Invalid grantee type",
            "Grantee",
            other,
        )),
    }
}

/// S3 refuses more than [`MAX_GRANTS`] grants in one ACL.
pub(crate) fn checked_grants(grants: Vec<Grant>) -> Result<Vec<Grant>, S3Error> {
    if grants.len() > MAX_GRANTS {
        return Err(S3Error::MalformedACLError);
    }
    Ok(grants)
}

fn account_grant(account: &str, permission: Permission) -> Grant {
    Grant {
        grantee: Grantee::CanonicalUser(canonical_id(account)),
        permission,
    }
}

fn group_grant(uri: &str, permission: Permission) -> Grant {
    Grant {
        grantee: Grantee::Group(uri.to_owned()),
        permission,
    }
}

/// The ACL an absent one stands for: `owner` alone, with FULL_CONTROL.
pub(crate) fn owner_only(owner: &str) -> Acl {
    Acl {
        owner: owner.to_owned(),
        grants: vec![account_grant(owner, Permission::FullControl)],
    }
}

/// The ACL `spec` gives a resource owned by `owner` in a bucket owned by `bucket_owner`.
/// `aws-exec-read` grants EC2's image service READ on AWS; no such service exists here, so it
/// is the owner's FULL_CONTROL alone.
pub(crate) fn resolve(spec: &AclSpec, owner: &str, bucket_owner: &str) -> Acl {
    use Permission::*;
    let grants = match spec {
        AclSpec::Grants(g) => {
            return Acl {
                owner: owner.to_owned(),
                grants: g.clone(),
            };
        }
        AclSpec::Canned(c) => {
            let mut g = vec![account_grant(owner, FullControl)];
            match c {
                Canned::Private | Canned::AwsExecRead => {}
                Canned::PublicRead => g.push(group_grant(ALL_USERS, Read)),
                Canned::PublicReadWrite => {
                    g.push(group_grant(ALL_USERS, Read));
                    g.push(group_grant(ALL_USERS, Write));
                }
                Canned::AuthenticatedRead => g.push(group_grant(AUTHENTICATED_USERS, Read)),
                Canned::BucketOwnerRead if bucket_owner != owner => {
                    g.push(account_grant(bucket_owner, Read));
                }
                Canned::BucketOwnerFullControl if bucket_owner != owner => {
                    g.push(account_grant(bucket_owner, FullControl));
                }
                Canned::BucketOwnerRead | Canned::BucketOwnerFullControl => {}
                Canned::LogDeliveryWrite => {
                    g.push(group_grant(LOG_DELIVERY, Write));
                    g.push(group_grant(LOG_DELIVERY, ReadAcp));
                }
            }
            g
        }
    };
    Acl {
        owner: owner.to_owned(),
        grants,
    }
}

/// What a record keeps for `acl`: nothing when it is the default of a resource of
/// `default_owner` (the bucket owner), so records stay as they were before ACLs.
pub(crate) fn stored(acl: Acl, default_owner: &str) -> Option<Acl> {
    (acl != owner_only(default_owner)).then_some(acl)
}

/// Whether `acl` grants anything to everyone or to every signed caller (S3 User Guide: "The
/// meaning of public"): what Block Public Access's ACL flags act on.
pub(crate) fn is_public(acl: &Acl) -> bool {
    acl.grants.iter().any(|g| is_public_grantee(&g.grantee))
}

pub(crate) fn is_public_grantee(g: &Grantee) -> bool {
    matches!(g, Grantee::Group(uri) if uri == ALL_USERS || uri == AUTHENTICATED_USERS)
}

/// Whether the bucket's ACLs count (Object Ownership other than BucketOwnerEnforced; records
/// without ownership controls predate them and had ACLs enabled).
pub(crate) fn acls_enabled(rec: &BucketRecord) -> bool {
    rec.object_ownership.as_deref() != Some(BUCKET_OWNER_ENFORCED)
}

/// BlockPublicAcls: a request setting a public ACL is refused (403 AccessDenied).
pub(crate) fn check_not_blocked(rec: &BucketRecord, acl: &Acl) -> Result<(), S3Error> {
    if rec.public_access_block.is_some_and(|b| b.block_public_acls) && is_public(acl) {
        return Err(S3Error::AccessDenied("Access Denied".into()));
    }
    Ok(())
}

/// The ACL a new object gets from its write's headers (PutObject, CopyObject,
/// CreateMultipartUpload, a POST upload's `acl` field), or `None` for the default.
///
/// BucketOwnerEnforced disables ACLs: any grant header, or a canned ACL other than
/// `bucket-owner-full-control`, is 400 AccessControlListNotSupported (S3 User Guide:
/// "Controlling ownership of objects and disabling ACLs"), and the bucket owner owns the
/// object. Otherwise the writer's account owns it — except under BucketOwnerPreferred with
/// `bucket-owner-full-control`, which hands it to the bucket owner — and a public ACL is
/// refused while BlockPublicAcls is on.
pub(crate) fn for_new_object(
    rec: &BucketRecord,
    default_account: &str,
    writer: &str,
    headers: &HeaderMap,
) -> Result<Option<Acl>, S3Error> {
    let bucket_owner = bucket_account(rec, default_account);
    if !acls_enabled(rec) {
        // Judged before the headers are parsed: any ACL but this one is refused as such.
        let grants = headers
            .keys()
            .any(|k| k.as_str().starts_with("x-amz-grant-"));
        let canned_ok = headers
            .get("x-amz-acl")
            .is_none_or(|v| v == "bucket-owner-full-control");
        return if grants || !canned_ok {
            Err(S3Error::AccessControlListNotSupported)
        } else {
            Ok(None)
        };
    }
    let spec = from_headers(headers)?.unwrap_or(AclSpec::Canned(Canned::Private));
    // An anonymous write (a bucket open to everyone) leaves the object to the bucket owner.
    let writer = if writer.is_empty() {
        bucket_owner
    } else {
        writer
    };
    let owner = match (&spec, rec.object_ownership.as_deref()) {
        (AclSpec::Canned(Canned::BucketOwnerFullControl), Some(BUCKET_OWNER_PREFERRED)) => {
            bucket_owner
        }
        _ => writer,
    };
    let acl = resolve(&spec, owner, bucket_owner);
    check_not_blocked(rec, &acl)?;
    Ok(stored(acl, bucket_owner))
}

/// The owner of an object: its ACL's, else the bucket owner's.
pub(crate) fn object_owner<'a>(acl: Option<&'a Acl>, bucket_owner: &'a str) -> &'a str {
    acl.map_or(bucket_owner, |a| a.owner.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::PublicAccessBlock;

    const A: &str = "111111111111";
    const B: &str = "222222222222";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn bucket(ownership: Option<&str>, block: Option<PublicAccessBlock>) -> BucketRecord {
        let mut rec = crate::store::conformance::bucket_record("b");
        rec.owner = format!("arn:aws:iam::{A}:root");
        rec.object_ownership = ownership.map(str::to_owned);
        rec.public_access_block = block;
        rec
    }

    #[test]
    fn grant_headers_parse() {
        let id = canonical_id(B);
        let h = headers(&[
            (
                "x-amz-grant-read",
                &format!("id=\"{id}\", uri=\"{ALL_USERS}\""),
            ),
            ("x-amz-grant-write-acp", &format!("id={id}")),
        ]);
        let Some(AclSpec::Grants(g)) = from_headers(&h).unwrap() else {
            panic!("grants expected")
        };
        assert_eq!(
            g,
            vec![
                Grant {
                    grantee: Grantee::CanonicalUser(id.clone()),
                    permission: Permission::Read
                },
                group_grant(ALL_USERS, Permission::Read),
                Grant {
                    grantee: Grantee::CanonicalUser(id),
                    permission: Permission::WriteAcp
                },
            ]
        );
        let rows: &[(&[(&'static str, &str)], &str)] = &[
            (
                &[("x-amz-grant-read", "emailAddress=\"a@b.c\"")],
                "UnresolvableGrantByEmailAddress",
            ),
            (&[("x-amz-grant-read", "id=\"nope\"")], "InvalidArgument"),
            (
                &[("x-amz-grant-read", "uri=\"http://example.com/g\"")],
                "InvalidArgument",
            ),
            (&[("x-amz-grant-read", "who=\"x\"")], "InvalidArgument"),
            (&[("x-amz-grant-read", "")], "InvalidArgument"),
            (&[("x-amz-acl", "world-writable")], "InvalidArgument"),
            (
                &[
                    ("x-amz-acl", "private"),
                    ("x-amz-grant-read", &format!("uri={ALL_USERS}")),
                ],
                "InvalidRequest",
            ),
        ];
        for (h, code) in rows {
            let e = from_headers(&headers(h)).unwrap_err();
            assert_eq!(e.code(), *code, "{h:?}");
        }
    }

    #[test]
    fn canned_acls_resolve() {
        let owner_fc = account_grant(A, Permission::FullControl);
        let r = |c| resolve(&AclSpec::Canned(c), A, B).grants;
        assert_eq!(r(Canned::Private), vec![owner_fc.clone()]);
        assert_eq!(
            r(Canned::PublicReadWrite),
            vec![
                owner_fc.clone(),
                group_grant(ALL_USERS, Permission::Read),
                group_grant(ALL_USERS, Permission::Write)
            ]
        );
        assert_eq!(
            r(Canned::BucketOwnerFullControl),
            vec![owner_fc.clone(), account_grant(B, Permission::FullControl)]
        );
        assert_eq!(
            r(Canned::LogDeliveryWrite),
            vec![
                owner_fc.clone(),
                group_grant(LOG_DELIVERY, Permission::Write),
                group_grant(LOG_DELIVERY, Permission::ReadAcp)
            ]
        );
        // Owned by the bucket owner, bucket-owner-* add nothing.
        assert_eq!(
            resolve(&AclSpec::Canned(Canned::BucketOwnerRead), A, A).grants,
            vec![owner_fc]
        );
        assert!(is_public(&resolve(
            &AclSpec::Canned(Canned::AuthenticatedRead),
            A,
            A
        )));
        assert!(!is_public(&resolve(
            &AclSpec::Canned(Canned::LogDeliveryWrite),
            A,
            A
        )));
    }

    #[test]
    fn new_object_owner_and_acl() {
        let h = |v: &str| headers(&[("x-amz-acl", v)]);
        // Enforced: only bucket-owner-full-control, never stored.
        let enforced = bucket(Some(BUCKET_OWNER_ENFORCED), None);
        assert_eq!(
            for_new_object(&enforced, A, B, &HeaderMap::new()).unwrap(),
            None
        );
        assert_eq!(
            for_new_object(&enforced, A, B, &h("bucket-owner-full-control")).unwrap(),
            None
        );
        assert_eq!(
            for_new_object(&enforced, A, B, &h("private"))
                .unwrap_err()
                .code(),
            "AccessControlListNotSupported"
        );
        // ObjectWriter: the writer owns it.
        let writer = bucket(Some("ObjectWriter"), None);
        assert_eq!(for_new_object(&writer, A, A, &h("private")).unwrap(), None);
        let acl = for_new_object(&writer, A, B, &HeaderMap::new())
            .unwrap()
            .unwrap();
        assert_eq!(acl, owner_only(B));
        let acl = for_new_object(&writer, A, B, &h("bucket-owner-full-control"))
            .unwrap()
            .unwrap();
        assert_eq!(acl.owner, B);
        // BucketOwnerPreferred hands bucket-owner-full-control objects to the bucket owner.
        let preferred = bucket(Some(BUCKET_OWNER_PREFERRED), None);
        assert_eq!(
            for_new_object(&preferred, A, B, &h("bucket-owner-full-control")).unwrap(),
            None
        );
        assert_eq!(
            for_new_object(&preferred, A, B, &h("private"))
                .unwrap()
                .unwrap()
                .owner,
            B
        );
        // BlockPublicAcls refuses public ACLs only.
        let blocked = bucket(Some("ObjectWriter"), Some(PublicAccessBlock::ALL));
        assert_eq!(
            for_new_object(&blocked, A, A, &h("public-read"))
                .unwrap_err()
                .code(),
            "AccessDenied"
        );
        assert!(for_new_object(&blocked, A, A, &h("private")).is_ok());
        let acl = for_new_object(&writer, A, A, &h("public-read"))
            .unwrap()
            .unwrap();
        assert!(is_public(&acl));
    }
}
