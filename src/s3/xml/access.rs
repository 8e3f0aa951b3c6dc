//! `<PublicAccessBlockConfiguration>` (Put/GetPublicAccessBlock) and `<OwnershipControls>`
//! (Put/GetBucketOwnershipControls).

use serde::Deserialize;

use super::S3_NS;
use super::read::{body_with_root, from_xml};
use crate::meta::PublicAccessBlock;
use crate::s3::error::S3Error;

/// The Object Ownership values S3 knows.
pub(crate) const OBJECT_OWNERSHIPS: &[&str] = &[
    "BucketOwnerEnforced",
    "BucketOwnerPreferred",
    "ObjectWriter",
];

#[derive(Deserialize)]
struct PublicAccessBlockXml {
    #[serde(rename = "BlockPublicAcls")]
    block_public_acls: Option<String>,
    #[serde(rename = "IgnorePublicAcls")]
    ignore_public_acls: Option<String>,
    #[serde(rename = "BlockPublicPolicy")]
    block_public_policy: Option<String>,
    #[serde(rename = "RestrictPublicBuckets")]
    restrict_public_buckets: Option<String>,
}

/// An absent flag is off, as on AWS; anything but `true`/`false` is MalformedXML.
fn flag(v: Option<String>) -> Result<bool, S3Error> {
    match v.as_deref().map(str::trim) {
        None => Ok(false),
        Some(t) if t.eq_ignore_ascii_case("true") => Ok(true),
        Some(t) if t.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(S3Error::MalformedXML),
    }
}

pub(crate) fn parse_public_access_block(body: &[u8]) -> Result<PublicAccessBlock, S3Error> {
    let text = body_with_root(body, "PublicAccessBlockConfiguration")?;
    let p: PublicAccessBlockXml = from_xml(text)?;
    Ok(PublicAccessBlock {
        block_public_acls: flag(p.block_public_acls)?,
        ignore_public_acls: flag(p.ignore_public_acls)?,
        block_public_policy: flag(p.block_public_policy)?,
        restrict_public_buckets: flag(p.restrict_public_buckets)?,
    })
}

pub(crate) fn public_access_block_xml(b: &PublicAccessBlock) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PublicAccessBlockConfiguration xmlns=\"{S3_NS}\"><BlockPublicAcls>{}</BlockPublicAcls><IgnorePublicAcls>{}</IgnorePublicAcls><BlockPublicPolicy>{}</BlockPublicPolicy><RestrictPublicBuckets>{}</RestrictPublicBuckets></PublicAccessBlockConfiguration>",
        b.block_public_acls, b.ignore_public_acls, b.block_public_policy, b.restrict_public_buckets
    )
}

#[derive(Deserialize)]
struct OwnershipControlsXml {
    #[serde(rename = "Rule", default)]
    rules: Vec<OwnershipRuleXml>,
}

#[derive(Deserialize)]
struct OwnershipRuleXml {
    #[serde(rename = "ObjectOwnership")]
    object_ownership: Option<String>,
}

/// The one `<Rule><ObjectOwnership>` of the document: exactly one rule with a known value,
/// else MalformedXML (the schema's enum).
pub(crate) fn parse_ownership_controls(body: &[u8]) -> Result<&'static str, S3Error> {
    let text = body_with_root(body, "OwnershipControls")?;
    let p: OwnershipControlsXml = from_xml(text)?;
    let [rule]: [OwnershipRuleXml; 1] = p.rules.try_into().map_err(|_| S3Error::MalformedXML)?;
    let v = rule.object_ownership.ok_or(S3Error::MalformedXML)?;
    OBJECT_OWNERSHIPS
        .iter()
        .find(|o| **o == v.trim())
        .copied()
        .ok_or(S3Error::MalformedXML)
}

pub(crate) fn ownership_controls_xml(ownership: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<OwnershipControls xmlns=\"{S3_NS}\"><Rule><ObjectOwnership>{ownership}</ObjectOwnership></Rule></OwnershipControls>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_access_block_round_trip() {
        let b = parse_public_access_block(
            b"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><RestrictPublicBuckets>TRUE</RestrictPublicBuckets></PublicAccessBlockConfiguration>",
        )
        .unwrap();
        assert_eq!(
            b,
            PublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: false,
                block_public_policy: false,
                restrict_public_buckets: true,
            }
        );
        let again = parse_public_access_block(public_access_block_xml(&b).as_bytes()).unwrap();
        assert_eq!(again, b);
        assert!(matches!(
            parse_public_access_block(
                b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>"
            ),
            Err(S3Error::MalformedXML)
        ));
        assert!(matches!(
            parse_public_access_block(b"<Other/>"),
            Err(S3Error::MalformedXML)
        ));
    }

    #[test]
    fn ownership_controls() {
        let doc = ownership_controls_xml("ObjectWriter");
        assert_eq!(
            parse_ownership_controls(doc.as_bytes()).unwrap(),
            "ObjectWriter"
        );
        for bad in [
            "<OwnershipControls/>",
            "<OwnershipControls><Rule><ObjectOwnership>Mine</ObjectOwnership></Rule></OwnershipControls>",
            "<OwnershipControls><Rule/></OwnershipControls>",
            "<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule></OwnershipControls>",
        ] {
            assert!(
                matches!(
                    parse_ownership_controls(bad.as_bytes()),
                    Err(S3Error::MalformedXML)
                ),
                "{bad}"
            );
        }
    }
}
