//! `<AccessControlPolicy>`: the body of PutBucketAcl/PutObjectAcl and the answer of
//! GetBucketAcl/GetObjectAcl.
//!
//! A grantee's kind is read from the element it carries (`ID`, `URI` or `EmailAddress`), which
//! is what its `xsi:type` attribute must say anyway; an unknown `Permission`, a grant without a
//! grantee or permission, or a document without `Owner/ID` is 400 MalformedACLError.

use serde::Deserialize;

use super::S3_NS;
use super::read::{body_with_root, from_xml};
use super::text::{escape_text, push_elem};
use crate::meta::{Acl, Grant, Grantee, Permission};
use crate::s3::acl::{checked_grants, grantee};
use crate::s3::error::S3Error;

#[derive(Deserialize)]
struct PolicyXml {
    #[serde(rename = "Owner")]
    owner: Option<OwnerXml>,
    #[serde(rename = "AccessControlList")]
    list: Option<ListXml>,
}

#[derive(Deserialize)]
struct OwnerXml {
    #[serde(rename = "ID")]
    id: Option<String>,
}

#[derive(Deserialize)]
struct ListXml {
    #[serde(rename = "Grant", default)]
    grants: Vec<GrantXml>,
}

#[derive(Deserialize)]
struct GrantXml {
    #[serde(rename = "Grantee")]
    grantee: Option<GranteeXml>,
    #[serde(rename = "Permission")]
    permission: Option<String>,
}

#[derive(Deserialize)]
struct GranteeXml {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "URI")]
    uri: Option<String>,
    #[serde(rename = "EmailAddress")]
    email: Option<String>,
}

/// The owner's canonical id and the grants of an AccessControlPolicy document.
pub(crate) fn parse_access_control_policy(body: &[u8]) -> Result<(String, Vec<Grant>), S3Error> {
    let malformed = |_| S3Error::MalformedACLError;
    let text = body_with_root(body, "AccessControlPolicy").map_err(malformed)?;
    let p: PolicyXml = from_xml(text).map_err(malformed)?;
    let owner = p
        .owner
        .and_then(|o| o.id)
        .map(|id| id.trim().to_ascii_lowercase())
        .ok_or(S3Error::MalformedACLError)?;
    let mut grants = Vec::new();
    for g in p.list.map(|l| l.grants).unwrap_or_default() {
        let permission = g
            .permission
            .as_deref()
            .map(str::trim)
            .and_then(Permission::from_name)
            .ok_or(S3Error::MalformedACLError)?;
        let grantee = match g.grantee.ok_or(S3Error::MalformedACLError)? {
            GranteeXml { id: Some(id), .. } => grantee("id", &id)?,
            GranteeXml { uri: Some(uri), .. } => grantee("uri", &uri)?,
            GranteeXml { email: Some(e), .. } => grantee("emailAddress", &e)?,
            _ => return Err(S3Error::MalformedACLError),
        };
        grants.push(Grant {
            grantee,
            permission,
        });
    }
    Ok((owner, checked_grants(grants)?))
}

/// The AccessControlPolicy of `acl`; `owner_id` is its owner's canonical id and
/// `display_name` the owner's display name (also given for the owner's own grants).
pub(crate) fn access_control_policy_xml(acl: &Acl, owner_id: &str, display_name: &str) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AccessControlPolicy xmlns=\"{S3_NS}\"><Owner>"
    );
    push_elem(&mut out, "ID", owner_id);
    push_elem(&mut out, "DisplayName", display_name);
    out.push_str("</Owner><AccessControlList>");
    for g in &acl.grants {
        out.push_str("<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ");
        match &g.grantee {
            Grantee::CanonicalUser(id) => {
                out.push_str("xsi:type=\"CanonicalUser\">");
                push_elem(&mut out, "ID", id);
                if id == owner_id {
                    push_elem(&mut out, "DisplayName", display_name);
                }
            }
            Grantee::Group(uri) => {
                out.push_str("xsi:type=\"Group\">");
                push_elem(&mut out, "URI", uri);
            }
        }
        out.push_str("</Grantee><Permission>");
        out.push_str(&escape_text(g.permission.name()));
        out.push_str("</Permission></Grant>");
    }
    out.push_str("</AccessControlList></AccessControlPolicy>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::ALL_USERS;

    #[test]
    fn round_trip() {
        let id = "a".repeat(64);
        let acl = Acl {
            owner: "111122223333".into(),
            grants: vec![
                Grant {
                    grantee: Grantee::CanonicalUser(id.clone()),
                    permission: Permission::FullControl,
                },
                Grant {
                    grantee: Grantee::Group(ALL_USERS.into()),
                    permission: Permission::Read,
                },
            ],
        };
        let doc = access_control_policy_xml(&acl, &id, "account-111122223333");
        assert!(doc.contains(
            "xsi:type=\"Group\"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>"
        ));
        let (owner, grants) = parse_access_control_policy(doc.as_bytes()).unwrap();
        assert_eq!(owner, id);
        assert_eq!(grants, acl.grants);
    }

    #[test]
    fn malformed() {
        let id = "b".repeat(64);
        let grant = |inner: &str| {
            format!(
                "<AccessControlPolicy><Owner><ID>{id}</ID></Owner><AccessControlList><Grant>{inner}</Grant></AccessControlList></AccessControlPolicy>"
            )
        };
        let rows = [
            ("<Other/>".to_owned(), "MalformedACLError"),
            ("<AccessControlPolicy/>".to_owned(), "MalformedACLError"),
            (
                "<AccessControlPolicy><Owner><ID>".to_owned(),
                "MalformedACLError",
            ),
            (grant("<Permission>READ</Permission>"), "MalformedACLError"),
            (
                grant(&format!(
                    "<Grantee><ID>{id}</ID></Grantee><Permission>ALL</Permission>"
                )),
                "MalformedACLError",
            ),
            (
                grant(
                    "<Grantee><EmailAddress>a@b.c</EmailAddress></Grantee><Permission>READ</Permission>",
                ),
                "UnresolvableGrantByEmailAddress",
            ),
            (
                grant("<Grantee><URI>http://x/y</URI></Grantee><Permission>READ</Permission>"),
                "InvalidArgument",
            ),
        ];
        for (doc, code) in rows {
            assert_eq!(
                parse_access_control_policy(doc.as_bytes())
                    .unwrap_err()
                    .code(),
                code,
                "{doc}"
            );
        }
    }
}
