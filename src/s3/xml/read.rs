//! Request bodies, read with quick-xml's serde deserializer; anything malformed is
//! [`S3Error::MalformedXML`].

use std::collections::BTreeMap;

use quick_xml::events::Event;
use serde::Deserialize;

use super::super::error::S3Error;
use super::{
    BlockedEncryptionType, MAX_DELETE_OBJECTS, SseAlgorithm, SseConfiguration, unquote_etag,
};

/// The body as text with its root element checked; anything else is MalformedXML.
///
/// The whole body is read once here, and a document type declaration anywhere is refused: S3
/// request bodies have none, and quick-xml's deserializer panics on one that splits an
/// element's text in two (found by the `xml_bodies` fuzz target, docs/FUZZING.md).
pub(super) fn body_with_root<'a>(body: &'a [u8], expected_root: &str) -> Result<&'a str, S3Error> {
    let text = std::str::from_utf8(body).map_err(|_| S3Error::MalformedXML)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = quick_xml::Reader::from_str(text);
    let mut root_matches = None;
    loop {
        match reader.read_event().map_err(|_| S3Error::MalformedXML)? {
            Event::DocType(_) => return Err(S3Error::MalformedXML),
            Event::Start(e) | Event::Empty(e) if root_matches.is_none() => {
                root_matches = Some(e.local_name().as_ref() == expected_root.as_bytes());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    match root_matches {
        Some(true) => Ok(text),
        _ => Err(S3Error::MalformedXML),
    }
}

pub(super) fn from_xml<'de, T: Deserialize<'de>>(text: &'de str) -> Result<T, S3Error> {
    quick_xml::de::from_str(text).map_err(|_| S3Error::MalformedXML)
}

pub(super) fn parse_xml_bool(s: &str) -> Result<bool, S3Error> {
    match s.trim() {
        t if t.eq_ignore_ascii_case("true") => Ok(true),
        t if t.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(S3Error::MalformedXML),
    }
}

/// One `<Part>` of a CompleteMultipartUpload request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompletedPart {
    pub(crate) part_number: u32,
    /// Without surrounding quotes (clients send either form).
    pub(crate) etag: String,
    /// `Checksum<ALG>` elements by algorithm name (`CRC32`, …), base64 as sent.
    pub(crate) checksums: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct CompleteXml {
    #[serde(rename = "Part", default)]
    parts: Vec<CompletePartXml>,
}

#[derive(Deserialize)]
struct CompletePartXml {
    #[serde(rename = "PartNumber")]
    part_number: String,
    #[serde(rename = "ETag")]
    etag: String,
    #[serde(rename = "ChecksumCRC32")]
    crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C")]
    crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME")]
    crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1")]
    sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256")]
    sha256: Option<String>,
}

/// Parses a `<CompleteMultipartUpload>` body into its parts, in request order. Order,
/// duplicates and part existence are the handler's checks (InvalidPartOrder / InvalidPart).
/// No parts at all is MalformedXML, as S3 answers.
pub(crate) fn parse_complete_multipart_upload(body: &[u8]) -> Result<Vec<CompletedPart>, S3Error> {
    let text = body_with_root(body, "CompleteMultipartUpload")?;
    let parsed: CompleteXml = from_xml(text)?;
    if parsed.parts.is_empty() {
        return Err(S3Error::MalformedXML);
    }
    parsed
        .parts
        .into_iter()
        .map(|p| {
            let part_number = p
                .part_number
                .trim()
                .parse::<u32>()
                .map_err(|_| S3Error::MalformedXML)?;
            let mut checksums = BTreeMap::new();
            for (alg, v) in [
                ("CRC32", p.crc32),
                ("CRC32C", p.crc32c),
                ("CRC64NVME", p.crc64nvme),
                ("SHA1", p.sha1),
                ("SHA256", p.sha256),
            ] {
                if let Some(v) = v {
                    checksums.insert(alg.to_owned(), v.trim().to_owned());
                }
            }
            Ok(CompletedPart {
                part_number,
                etag: unquote_etag(&p.etag).to_owned(),
                checksums,
            })
        })
        .collect()
}

/// One `<Object>` of a DeleteObjects request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectIdentifier {
    /// Exactly as sent (whitespace and character references preserved).
    pub(crate) key: String,
    pub(crate) version_id: Option<String>,
    /// `<ETag>`: delete only if the object still has this ETag (conditional delete).
    pub(crate) etag: Option<String>,
}

/// A parsed DeleteObjects request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeleteRequest {
    pub(crate) quiet: bool,
    pub(crate) objects: Vec<ObjectIdentifier>,
}

#[derive(Deserialize)]
struct DeleteXml {
    #[serde(rename = "Quiet")]
    quiet: Option<String>,
    #[serde(rename = "Object", default)]
    objects: Vec<DeleteObjectXml>,
}

#[derive(Deserialize)]
struct DeleteObjectXml {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "VersionId")]
    version_id: Option<String>,
    #[serde(rename = "ETag")]
    etag: Option<String>,
}

/// Parses a `<Delete>` body. Zero objects or more than [`MAX_DELETE_OBJECTS`] is MalformedXML,
/// as S3 answers.
pub(crate) fn parse_delete_objects(body: &[u8]) -> Result<DeleteRequest, S3Error> {
    let text = body_with_root(body, "Delete")?;
    let parsed: DeleteXml = from_xml(text)?;
    if parsed.objects.is_empty() || parsed.objects.len() > MAX_DELETE_OBJECTS {
        return Err(S3Error::MalformedXML);
    }
    let quiet = match parsed.quiet {
        Some(q) => parse_xml_bool(&q)?,
        None => false,
    };
    Ok(DeleteRequest {
        quiet,
        objects: parsed
            .objects
            .into_iter()
            .map(|o| ObjectIdentifier {
                key: o.key,
                version_id: o.version_id.filter(|v| !v.is_empty()),
                etag: o.etag.filter(|e| !e.trim().is_empty()),
            })
            .collect(),
    })
}

#[derive(Deserialize)]
struct CreateBucketXml {
    #[serde(rename = "LocationConstraint")]
    location_constraint: Option<String>,
}

/// Parses a CreateBucket body and returns its `LocationConstraint`. An empty body (the usual
/// us-east-1 request) and an empty constraint give `None`.
pub(crate) fn parse_create_bucket_configuration(body: &[u8]) -> Result<Option<String>, S3Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let text = body_with_root(body, "CreateBucketConfiguration")?;
    let parsed: CreateBucketXml = from_xml(text)?;
    Ok(parsed
        .location_constraint
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty()))
}

#[derive(Deserialize)]
struct SseConfigXml {
    #[serde(rename = "Rule", default)]
    rules: Vec<SseRuleXml>,
}

#[derive(Deserialize)]
struct SseRuleXml {
    #[serde(rename = "ApplyServerSideEncryptionByDefault")]
    default: Option<SseDefaultXml>,
    #[serde(rename = "BucketKeyEnabled")]
    bucket_key_enabled: Option<String>,
    #[serde(rename = "BlockedEncryptionTypes")]
    blocked: Option<BlockedXml>,
}

#[derive(Deserialize)]
struct SseDefaultXml {
    #[serde(rename = "SSEAlgorithm")]
    algorithm: String,
    #[serde(rename = "KMSMasterKeyID")]
    kms_master_key_id: Option<String>,
}

#[derive(Deserialize)]
struct BlockedXml {
    #[serde(rename = "EncryptionType", default)]
    types: Vec<String>,
}

/// Parses and validates a PutBucketEncryption body (S3 API Reference: PutBucketEncryption): exactly one `<Rule>`
/// (else MalformedXML); an unknown `SSEAlgorithm` or `EncryptionType` is MalformedXML (schema
/// enum); `KMSMasterKeyID` with `AES256` is InvalidArgument naming
/// `ApplyServerSideEncryptionByDefault`. The KMS key itself is not checked here (AWS checks it
/// at write time). A rule without `ApplyServerSideEncryptionByDefault` is refused as
/// MalformedXML (AWS's answer is undocumented).
pub(crate) fn parse_sse_configuration(body: &[u8]) -> Result<SseConfiguration, S3Error> {
    let text = body_with_root(body, "ServerSideEncryptionConfiguration")?;
    let parsed: SseConfigXml = from_xml(text)?;
    let [rule]: [SseRuleXml; 1] = parsed.rules.try_into().map_err(|_| S3Error::MalformedXML)?;
    let default = rule.default.ok_or(S3Error::MalformedXML)?;
    let algorithm = SseAlgorithm::parse(default.algorithm.trim()).ok_or(S3Error::MalformedXML)?;
    let kms_master_key_id = default
        .kms_master_key_id
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty());
    if algorithm == SseAlgorithm::Aes256 && kms_master_key_id.is_some() {
        return Err(S3Error::InvalidArgument {
            msg: "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms \
                  or aws:kms:dsse"
                .to_owned(),
            name: Some("ApplyServerSideEncryptionByDefault".to_owned()),
            value: None,
        });
    }
    let bucket_key_enabled = match rule.bucket_key_enabled {
        Some(b) => parse_xml_bool(&b)?,
        None => false,
    };
    let mut blocked = Vec::new();
    for t in rule.blocked.map(|b| b.types).unwrap_or_default() {
        blocked.push(BlockedEncryptionType::parse(t.trim()).ok_or(S3Error::MalformedXML)?);
    }
    blocked.sort();
    blocked.dedup();
    Ok(SseConfiguration {
        algorithm,
        kms_master_key_id,
        bucket_key_enabled,
        blocked_encryption_types: blocked,
    })
}
#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::s3::xml::S3_NS;

    #[test]
    fn complete_as_botocore_sends_it() {
        let body = format!(
            "<CompleteMultipartUpload xmlns=\"{S3_NS}\"><Part><ETag>\"e1\"</ETag>\
             <ChecksumCRC64NVME>qUVrWYOrIAM=</ChecksumCRC64NVME><PartNumber>1</PartNumber>\
             </Part><Part><ETag>e2</ETag><PartNumber>2</PartNumber></Part>\
             </CompleteMultipartUpload>"
        );
        let parts = parse_complete_multipart_upload(body.as_bytes()).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].part_number, 1);
        assert_eq!(parts[0].etag, "e1");
        assert_eq!(
            parts[0].checksums.get("CRC64NVME").map(String::as_str),
            Some("qUVrWYOrIAM=")
        );
        assert_eq!(parts[1].etag, "e2");
        assert!(parts[1].checksums.is_empty());
        // Entity-quoted ETags and no namespace, with a declaration.
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload>\n  \
                    <Part>\n    <PartNumber> 3 </PartNumber>\n    \
                    <ETag>&quot;e3&quot;</ETag>\n  </Part>\n</CompleteMultipartUpload>";
        let parts = parse_complete_multipart_upload(body.as_bytes()).unwrap();
        assert_eq!((parts[0].part_number, parts[0].etag.as_str()), (3, "e3"));
    }

    #[test]
    fn complete_malformed() {
        for body in [
            "",
            "not xml",
            "<CompleteMultipartUpload></CompleteMultipartUpload>",
            "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part>\
             </CompleteMultipartUpload>",
            "<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>e</ETag></Part>\
             </CompleteMultipartUpload>",
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>\
             </CompleteMultipartUpload>",
            "<Other><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></Other>",
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>",
        ] {
            assert_eq!(
                parse_complete_multipart_upload(body.as_bytes()),
                Err(S3Error::MalformedXML),
                "{body}"
            );
        }
        assert_eq!(
            parse_complete_multipart_upload(b"\xff\xfe"),
            Err(S3Error::MalformedXML)
        );
    }

    #[test]
    fn delete_as_botocore_sends_it() {
        let body = format!(
            "<Delete xmlns=\"{S3_NS}\"><Object><Key>a//b/</Key></Object>\
             <Object><Key>  spaced  </Key><VersionId>null</VersionId></Object>\
             <Quiet>true</Quiet></Delete>"
        );
        let req = parse_delete_objects(body.as_bytes()).unwrap();
        assert!(req.quiet);
        assert_eq!(
            req.objects,
            vec![
                ObjectIdentifier {
                    key: "a//b/".into(),
                    version_id: None,
                    etag: None,
                },
                ObjectIdentifier {
                    key: "  spaced  ".into(),
                    version_id: Some("null".into()),
                    etag: None,
                },
            ]
        );
        let req = parse_delete_objects(b"<Delete><Object><Key>k</Key></Object></Delete>").unwrap();
        assert!(!req.quiet);
    }

    #[test]
    fn delete_limits_and_malformed() {
        let many = |n: usize| {
            let mut s = String::from("<Delete>");
            for i in 0..n {
                let _ = write!(s, "<Object><Key>k{i}</Key></Object>");
            }
            s.push_str("</Delete>");
            s
        };
        assert_eq!(
            parse_delete_objects(many(1000).as_bytes())
                .unwrap()
                .objects
                .len(),
            1000
        );
        assert_eq!(
            parse_delete_objects(many(1001).as_bytes()),
            Err(S3Error::MalformedXML)
        );
        assert_eq!(
            parse_delete_objects(many(0).as_bytes()),
            Err(S3Error::MalformedXML)
        );
        for body in [
            "<Delete><Object><VersionId>v</VersionId></Object></Delete>",
            "<Delete><Quiet>maybe</Quiet><Object><Key>k</Key></Object></Delete>",
            "<Remove><Object><Key>k</Key></Object></Remove>",
            // DTD entities are never expanded (no XXE, no entity bombs).
            "<!DOCTYPE Delete [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\
             <Delete><Object><Key>&x;</Key></Object></Delete>",
        ] {
            assert_eq!(
                parse_delete_objects(body.as_bytes()),
                Err(S3Error::MalformedXML),
                "{body}"
            );
        }
    }

    #[test]
    fn doctype_inside_an_element_is_malformed_not_a_panic() {
        // Minimised from fuzz/artifacts/xml_bodies/crash-3703d804…: quick-xml 0.38's
        // deserializer hit `unreachable!()` on text, DOCTYPE, text.
        let body = "<CompleteMultipartUpload><Part><ETag>a<!DOCTYPE x>b</ETag>\
                    <PartNumber>1</PartNumber></Part></CompleteMultipartUpload>";
        assert_eq!(
            parse_complete_multipart_upload(body.as_bytes()),
            Err(S3Error::MalformedXML)
        );
        let body = "<Delete><Object><Key>a<!DOCTYPE x>b</Key></Object></Delete>";
        assert_eq!(
            parse_delete_objects(body.as_bytes()),
            Err(S3Error::MalformedXML)
        );
    }

    #[test]
    fn create_bucket_configuration() {
        assert_eq!(parse_create_bucket_configuration(b""), Ok(None));
        assert_eq!(parse_create_bucket_configuration(b" \n"), Ok(None));
        let body = format!(
            "<CreateBucketConfiguration xmlns=\"{S3_NS}\"><LocationConstraint>eu-west-1\
             </LocationConstraint></CreateBucketConfiguration>"
        );
        assert_eq!(
            parse_create_bucket_configuration(body.as_bytes()),
            Ok(Some("eu-west-1".into()))
        );
        assert_eq!(
            parse_create_bucket_configuration(
                b"<CreateBucketConfiguration></CreateBucketConfiguration>"
            ),
            Ok(None)
        );
        assert_eq!(
            parse_create_bucket_configuration(b"<Nope/>"),
            Err(S3Error::MalformedXML)
        );
    }

    fn sse_body(rules: &str) -> String {
        format!(
            "<ServerSideEncryptionConfiguration xmlns=\"{S3_NS}\">{rules}</ServerSideEncryptionConfiguration>"
        )
    }

    #[test]
    fn sse_configuration_parse() {
        let body = sse_body(
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm>\
             <KMSMasterKeyID>arn:aws:kms:us-east-1:000000000000:key/1</KMSMasterKeyID>\
             </ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>\
             <BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType>\
             <EncryptionType>NONE</EncryptionType><EncryptionType>SSE-C</EncryptionType>\
             </BlockedEncryptionTypes></Rule>",
        );
        let c = parse_sse_configuration(body.as_bytes()).unwrap();
        assert_eq!(c.algorithm, SseAlgorithm::AwsKms);
        assert_eq!(
            c.kms_master_key_id.as_deref(),
            Some("arn:aws:kms:us-east-1:000000000000:key/1")
        );
        assert!(c.bucket_key_enabled);
        assert_eq!(
            c.blocked_encryption_types,
            vec![BlockedEncryptionType::None, BlockedEncryptionType::SseC]
        );
        let aes = sse_body(
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
             </ApplyServerSideEncryptionByDefault></Rule>",
        );
        assert_eq!(
            parse_sse_configuration(aes.as_bytes()).unwrap(),
            SseConfiguration::sse_s3_default()
        );
    }

    #[test]
    fn sse_configuration_invalid() {
        let rule = "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
                    </ApplyServerSideEncryptionByDefault></Rule>";
        for rules in [
            String::new(),
            format!("{rule}{rule}"),
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm>\
             </ApplyServerSideEncryptionByDefault></Rule>"
                .to_owned(),
            "<Rule><BucketKeyEnabled>true</BucketKeyEnabled></Rule>".to_owned(),
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
             </ApplyServerSideEncryptionByDefault><BlockedEncryptionTypes><EncryptionType>\
             SSE-KMS</EncryptionType></BlockedEncryptionTypes></Rule>"
                .to_owned(),
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
             </ApplyServerSideEncryptionByDefault><BucketKeyEnabled>yes</BucketKeyEnabled>\
             </Rule>"
                .to_owned(),
        ] {
            assert_eq!(
                parse_sse_configuration(sse_body(&rules).as_bytes()),
                Err(S3Error::MalformedXML),
                "{rules}"
            );
        }
        let kms_with_aes = sse_body(
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
             <KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule>",
        );
        let err = parse_sse_configuration(kms_with_aes.as_bytes()).unwrap_err();
        assert_eq!(err.code(), "InvalidArgument");
        assert!(
            err.to_xml("/b", "r")
                .contains("<ArgumentName>ApplyServerSideEncryptionByDefault</ArgumentName>")
        );
    }
}
