//! ACL grants in the decision (S3 User Guide: "Mapping of ACL permissions and access policy
//! permissions"): which ACL an action is judged by, the permission it needs there, and whether
//! a grant covers the caller.
//!
//! | permission | on the bucket | on an object |
//! |---|---|---|
//! | READ | `s3:ListBucket`, `s3:ListBucketVersions`, `s3:ListBucketMultipartUploads` | `s3:GetObject`, `s3:GetObjectVersion` |
//! | WRITE | `s3:PutObject`, `s3:DeleteObject`, `s3:DeleteObjectVersion` (objects in it) | — |
//! | READ_ACP | `s3:GetBucketAcl` | `s3:GetObjectAcl`, `s3:GetObjectVersionAcl` |
//! | WRITE_ACP | `s3:PutBucketAcl` | `s3:PutObjectAcl`, `s3:PutObjectVersionAcl` |
//! | FULL_CONTROL | all of the above | all of the above |
//!
//! The owner of a resource has READ_ACP and WRITE_ACP on it whatever its ACL says.

use crate::meta::{ALL_USERS, AUTHENTICATED_USERS, Acl, Grantee, Permission};

use super::owner::canonical_id;

/// Which ACL decides an action, and the permission it must grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Bucket(Permission),
    Object(Permission),
}

/// The ACL and permission `action` is judged by, if ACLs have a say in it at all.
pub(crate) fn scope(action: &str) -> Option<Scope> {
    use Permission::*;
    Some(match action {
        "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads" => {
            Scope::Bucket(Read)
        }
        "s3:PutObject" | "s3:DeleteObject" | "s3:DeleteObjectVersion" => Scope::Bucket(Write),
        "s3:GetBucketAcl" => Scope::Bucket(ReadAcp),
        "s3:PutBucketAcl" => Scope::Bucket(WriteAcp),
        "s3:GetObject" | "s3:GetObjectVersion" => Scope::Object(Read),
        "s3:GetObjectAcl" | "s3:GetObjectVersionAcl" => Scope::Object(ReadAcp),
        "s3:PutObjectAcl" | "s3:PutObjectVersionAcl" => Scope::Object(WriteAcp),
        _ => return None,
    })
}

/// What an ACL grants the caller, in the terms of the evaluation (`decide`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AclVerdict {
    /// A group grant covers the caller (AllUsers; AuthenticatedUsers for a signed request):
    /// like a bucket policy naming everyone.
    pub(crate) direct: bool,
    /// A grant names the caller's account: like a bucket policy naming the account, it holds
    /// for the account's root and, through their identity policies, its users.
    pub(crate) account: bool,
}

/// What `acl` grants a caller of `account` (`None`: anonymous) for `need`. With
/// `ignore_public` (Block Public Access's IgnorePublicAcls) grants to AllUsers and
/// AuthenticatedUsers count for nothing.
pub(crate) fn evaluate(
    acl: &Acl,
    need: Permission,
    account: Option<&str>,
    ignore_public: bool,
) -> AclVerdict {
    let caller_id = account.map(canonical_id);
    let mut v = AclVerdict::default();
    if account == Some(acl.owner.as_str())
        && matches!(need, Permission::ReadAcp | Permission::WriteAcp)
    {
        v.account = true;
    }
    for g in &acl.grants {
        if g.permission != need && g.permission != Permission::FullControl {
            continue;
        }
        match &g.grantee {
            Grantee::CanonicalUser(id) => {
                if caller_id.as_deref() == Some(id.as_str()) {
                    v.account = true;
                }
            }
            Grantee::Group(_) if ignore_public => {}
            Grantee::Group(uri) => {
                if uri == ALL_USERS || (uri == AUTHENTICATED_USERS && account.is_some()) {
                    v.direct = true;
                }
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{Grant, LOG_DELIVERY};

    const A: &str = "111111111111";
    const B: &str = "222222222222";

    fn acl(grants: &[(Grantee, Permission)]) -> Acl {
        Acl {
            owner: A.into(),
            grants: grants
                .iter()
                .map(|(g, p)| Grant {
                    grantee: g.clone(),
                    permission: *p,
                })
                .collect(),
        }
    }

    #[test]
    fn grants_map_to_callers() {
        use Permission::*;
        let group = |u: &str| Grantee::Group(u.into());
        let b = Grantee::CanonicalUser(canonical_id(B));
        let public_read = acl(&[(group(ALL_USERS), Read)]);
        let direct = AclVerdict {
            direct: true,
            account: false,
        };
        let account = AclVerdict {
            direct: false,
            account: true,
        };
        let none = AclVerdict::default();
        assert_eq!(evaluate(&public_read, Read, None, false), direct);
        assert_eq!(evaluate(&public_read, Read, Some(B), false), direct);
        assert_eq!(evaluate(&public_read, Read, None, true), none);
        assert_eq!(evaluate(&public_read, Write, None, false), none);
        let auth_read = acl(&[(group(AUTHENTICATED_USERS), Read)]);
        assert_eq!(evaluate(&auth_read, Read, None, false), none);
        assert_eq!(evaluate(&auth_read, Read, Some(B), false), direct);
        let to_b = acl(&[(b.clone(), FullControl)]);
        assert_eq!(evaluate(&to_b, WriteAcp, Some(B), false), account);
        assert_eq!(evaluate(&to_b, Read, Some(A), false), none);
        assert_eq!(evaluate(&to_b, Read, None, false), none);
        // The owner may always read and write the ACL itself, nothing more.
        assert_eq!(evaluate(&to_b, ReadAcp, Some(A), false), account);
        let log = acl(&[(group(LOG_DELIVERY), Write)]);
        assert_eq!(evaluate(&log, Write, Some(B), false), none);
        assert_eq!(evaluate(&log, Write, None, false), none);
    }

    #[test]
    fn actions_map_to_permissions() {
        use Permission::*;
        assert_eq!(scope("s3:ListBucket"), Some(Scope::Bucket(Read)));
        assert_eq!(scope("s3:PutObject"), Some(Scope::Bucket(Write)));
        assert_eq!(scope("s3:GetObjectVersion"), Some(Scope::Object(Read)));
        assert_eq!(scope("s3:PutObjectAcl"), Some(Scope::Object(WriteAcp)));
        assert_eq!(scope("s3:GetBucketAcl"), Some(Scope::Bucket(ReadAcp)));
        assert_eq!(scope("s3:PutBucketPolicy"), None);
        assert_eq!(scope("s3:GetObjectTagging"), None);
    }
}
