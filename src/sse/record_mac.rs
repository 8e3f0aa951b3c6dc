//! The record MAC of version 2 meta records (docs/FORMAT.md §6): HMAC-SHA256 over everything in
//! the record that decides what a reader gets, keyed from the object key, so whoever can write
//! the backend but holds no object key cannot reorder, drop, repeat or resize parts, change a
//! header, a checksum or the sealing, or move a record under another name without the next
//! reader refusing it.
//!
//! ```text
//! record MAC key = HKDF(ikm = OK, salt = empty, info = "sealgate/v2/record-mac", 32)
//! mac            = HMAC-SHA256(record MAC key, encode(bucket, key, version, record))
//! ```
//!
//! The encoding is injective by construction: a fixed tag, then every field as
//! `u32be(len) ‖ bytes` in a fixed order, integers as 8-byte big-endian fields, counts before
//! lists, and a one-byte presence field before every optional value. Object tags, when there
//! are any, are appended last, then the ACL, then the Object Lock state, then the sealed bytes
//! of inline parts (records without tags, ACL, lock or inline parts encode as they did before).

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::envelope::ObjectKey;
use crate::meta::{Grantee, ObjectMeta, PartLayout, SealedKey, Sealing};

const RECORD_MAC_INFO: &[u8] = b"sealgate/v2/record-mac";
const RECORD_TAG: &[u8] = b"sealgate/v2/record";
/// The version id a record without one (the `null` version) is authenticated under.
pub(crate) const NULL_VERSION: &str = "null";

/// The version a record is authenticated under: its own id, so a record cannot be moved to
/// another version of its key.
fn version_of(meta: &ObjectMeta) -> &str {
    meta.version_id.as_deref().unwrap_or(NULL_VERSION)
}

/// The record MAC key of the object whose key is `ok`.
pub(crate) struct RecordMacKey(Zeroizing<[u8; 32]>);

impl RecordMacKey {
    pub(crate) fn derive(ok: &ObjectKey) -> RecordMacKey {
        let mut key = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(&[]), ok.as_bytes())
            .expand(RECORD_MAC_INFO, key.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        RecordMacKey(key)
    }

    /// Re-creates a key that was sealed for later use (a multipart upload's Complete).
    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> RecordMacKey {
        RecordMacKey(Zeroizing::new(*bytes))
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn hmac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_ref())
            .expect("HMAC takes any key length")
    }

    /// The MAC of `meta` (its own `mac` field excluded) as the record of `bucket/key`.
    pub(crate) fn sign(&self, bucket: &str, key: &str, meta: &ObjectMeta) -> Vec<u8> {
        let mut mac = self.hmac();
        mac.update(&encode(bucket, key, version_of(meta), meta));
        mac.finalize().into_bytes().to_vec()
    }

    /// Constant-time check of `tag` against the MAC of `meta` as the record of `bucket/key`.
    pub(crate) fn verify(&self, bucket: &str, key: &str, meta: &ObjectMeta, tag: &[u8]) -> bool {
        let mut mac = self.hmac();
        mac.update(&encode(bucket, key, version_of(meta), meta));
        mac.verify_slice(tag).is_ok()
    }
}

/// The bytes the MAC covers. Field order is docs/FORMAT.md §6's; never reorder.
pub(crate) fn encode(bucket: &str, key: &str, version: &str, meta: &ObjectMeta) -> Vec<u8> {
    let mut e = Encoder(Vec::with_capacity(512));
    e.0.extend_from_slice(RECORD_TAG);
    e.str(bucket);
    e.str(key);
    e.str(version);
    e.str(&meta.format);
    e.u64(meta.size);
    e.str(&meta.etag);
    e.u64(meta.last_modified_ms as u64);
    e.map(&meta.content_headers);
    e.map(&meta.user_meta);
    match &meta.checksum {
        None => e.absent(),
        Some(c) => {
            e.present();
            e.str(&c.algorithm);
            e.str(&c.value);
            e.str(&c.kind);
        }
    }
    e.u64(u64::from(meta.segment_size));
    e.str(&meta.generation);
    e.u64(meta.parts.len() as u64);
    for p in &meta.parts {
        e.u64(u64::from(p.part_number));
        e.u64(p.size);
        e.str(&p.blob);
        e.bytes(&p.key_salt);
        e.bytes(&p.nonce_prefix);
        e.str(&p.etag);
        match &p.checksum {
            None => e.absent(),
            Some(c) => {
                e.present();
                e.str(c);
            }
        }
    }
    match &meta.sealing {
        Sealing::None => e.str("none"),
        Sealing::SseS3 {
            key_version,
            sealed,
        } => {
            e.str("SSE-S3");
            e.u64(u64::from(*key_version));
            e.sealed(sealed);
        }
        Sealing::SseKms {
            key_arn,
            kms_blob,
            context,
            bucket_key,
            sealed,
        } => {
            e.str("SSE-KMS");
            e.str(key_arn);
            e.bytes(kms_blob);
            e.map(context);
            e.bytes(&[u8::from(*bucket_key)]);
            e.sealed(sealed);
        }
        Sealing::SseC { key_md5, sealed } => {
            e.str("SSE-C");
            e.str(key_md5);
            e.sealed(sealed);
        }
    }
    // Tags come last and only when there are any, so records written before tagging encode
    // (and verify) exactly as before. Every sealing arm has a fixed number of fields, so what
    // follows it is unambiguous: dropping or changing tags changes the encoding.
    if !meta.tags.is_empty() {
        e.str("tags");
        e.map(&meta.tags);
    }
    // The ACL follows on the same terms: only when there is one, after a tag of its own (a
    // sealing arm or the tags section never ends with the field "acl" in that position).
    if let Some(acl) = &meta.acl {
        e.str("acl");
        e.str(&acl.owner);
        e.u64(acl.grants.len() as u64);
        for g in &acl.grants {
            match &g.grantee {
                Grantee::CanonicalUser(id) => {
                    e.str("CanonicalUser");
                    e.str(id);
                }
                Grantee::Group(uri) => {
                    e.str("Group");
                    e.str(uri);
                }
            }
            e.str(g.permission.name());
        }
    }
    // The Object Lock state last, on the same terms, so a backend edit can neither shorten,
    // drop nor add a retention or legal hold without the record failing its check.
    if !meta.lock.is_empty() {
        e.str("lock");
        match &meta.lock.retention {
            None => e.absent(),
            Some(r) => {
                e.present();
                e.str(r.mode.name());
                e.u64(r.retain_until_ms as u64);
            }
        }
        match meta.lock.legal_hold {
            None => e.absent(),
            Some(on) => {
                e.present();
                e.bytes(&[u8::from(on)]);
            }
        }
    }
    // Sealed bytes kept inline last, on the same terms, so records of objects with blobs
    // encode as before. The segment AEAD already refuses any changed byte; covering them here
    // as well makes an inline object's record one authenticated unit.
    let inline: Vec<&PartLayout> = meta.parts.iter().filter(|p| p.is_inline()).collect();
    if !inline.is_empty() {
        e.str("inline");
        e.u64(inline.len() as u64);
        for p in inline {
            e.u64(u64::from(p.part_number));
            e.bytes(p.inline.as_deref().unwrap_or_default());
        }
    }
    e.0
}

struct Encoder(Vec<u8>);

impl Encoder {
    fn bytes(&mut self, b: &[u8]) {
        let len = u32::try_from(b.len()).expect("record fields are far below 4 GiB");
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(b);
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    fn u64(&mut self, n: u64) {
        self.bytes(&n.to_be_bytes());
    }

    fn absent(&mut self) {
        self.bytes(&[0]);
    }

    fn present(&mut self) {
        self.bytes(&[1]);
    }

    fn map(&mut self, m: &std::collections::BTreeMap<String, String>) {
        self.u64(m.len() as u64);
        for (k, v) in m {
            self.str(k);
            self.str(v);
        }
    }

    fn sealed(&mut self, s: &SealedKey) {
        self.bytes(&s.salt);
        self.bytes(&s.nonce);
        self.bytes(&s.ciphertext);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{Acl, Checksum, Grant, LockMode, ObjectLock, Permission, Retention};

    pub(crate) fn sample() -> ObjectMeta {
        ObjectMeta {
            format: crate::meta::META_FORMAT.into(),
            size: 43,
            etag: "9e107d9d372bb6826bd81d3542a419d6".into(),
            last_modified_ms: 1_795_873_899_000,
            content_headers: [("content-type".to_string(), "text/plain".to_string())].into(),
            user_meta: [("color".to_string(), "blue".to_string())].into(),
            checksum: Some(Checksum {
                algorithm: "CRC64NVME".into(),
                value: "AAAAAAAAAAA=".into(),
                kind: "FULL_OBJECT".into(),
            }),
            segment_size: 16,
            generation: "g1".into(),
            parts: vec![PartLayout {
                part_number: 1,
                size: 43,
                blob: "1".into(),
                key_salt: (0xa0..0xb0).collect(),
                nonce_prefix: (0xb0..0xb7).collect(),
                etag: "9e107d9d372bb6826bd81d3542a419d6".into(),
                checksum: None,
                inline: None,
            }],
            sealing: Sealing::SseC {
                key_md5: "JMwgiexXqwuPqIPjYFmIZQ==".into(),
                sealed: SealedKey {
                    salt: vec![0xc0; 32],
                    nonce: vec![0xe0; 12],
                    ciphertext: vec![0x0d; 48],
                },
            },
            tags: Default::default(),
            acl: None,
            mac: None,
            record_key: None,
            version_id: None,
            lock: Default::default(),
        }
    }

    fn ok() -> ObjectKey {
        ObjectKey::from_bytes(&std::array::from_fn(|i| i as u8))
    }

    /// The vector of docs/FORMAT.md §7 (record MAC); keep the two identical.
    #[test]
    fn format_doc_vector() {
        let k = RecordMacKey::derive(&ok());
        assert_eq!(
            hex::encode(k.as_bytes()),
            "1ef1dd84a4c5b84d6c85b26b48d23142756bf8b54c3903f8acb259bdfe380e71"
        );
        let meta = sample();
        let tag = k.sign("bucket", "photos/cat.jpg", &meta);
        assert_eq!(
            hex::encode(&tag),
            "01be4e1e606fc1ef241287085a03b5423150de3e32c3c87e74dce5edce739074"
        );
        assert!(k.verify("bucket", "photos/cat.jpg", &meta, &tag));
        // A version of a versioned bucket: its id is what `encode` covers instead of "null".
        let mut versioned = sample();
        versioned.version_id = Some("fffe6a1b2c3d4e5fAbCdEfGhIjKlMnOp".into());
        let tag = k.sign("bucket", "photos/cat.jpg", &versioned);
        assert_eq!(
            hex::encode(&tag),
            "9e3572cdd0f07dc1d93cf5ae51759453a1cfc94e9aad3ca214eceba71fa8481e"
        );
        assert!(!k.verify("bucket", "photos/cat.jpg", &meta, &tag));
        // The same object kept inline: its sealed bytes (here §7's 91-byte envelope vector)
        // are in the record and covered.
        let inline = inline_sample();
        let tag = k.sign("bucket", "photos/cat.jpg", &inline);
        assert_eq!(
            hex::encode(&tag),
            "116aaa300e422bd1de75d802584012f6c093f42b32a778ce6f55ea3227ea88d1"
        );
    }

    /// [`sample`] with its part inline: §7's envelope vector blob.
    fn inline_sample() -> ObjectMeta {
        let mut m = sample();
        m.parts[0].blob = String::new();
        m.parts[0].inline = Some(
            hex::decode(concat!(
                "0ad855abea5a8e1d6b51193a31dd2f9bbe56aff005108523f04ab7e5519f522e",
                "5daa5d6e96ab485b75fc690b66c8d721a0a42f2b84138935edd0fc496364eeee",
                "a59f813c86873a099bfe16f6f66142e06f522a675f0fa3724fb507",
            ))
            .unwrap(),
        );
        m
    }

    /// Every byte of an inline part is covered: flipped, cut, extended, dropped (back to a blob
    /// layout) or moved to another part number, and the record fails.
    #[test]
    fn inline_bytes_are_covered() {
        let k = RecordMacKey::derive(&ok());
        let meta = inline_sample();
        let tag = k.sign("b", "k", &meta);
        assert!(k.verify("b", "k", &meta, &tag));
        let edits: Vec<fn(&mut ObjectMeta)> = vec![
            |m| m.parts[0].inline.as_mut().unwrap()[90] ^= 1,
            |m| {
                m.parts[0].inline.as_mut().unwrap().pop();
            },
            |m| m.parts[0].inline.as_mut().unwrap().push(0),
            |m| m.parts[0].inline = None,
            |m| m.parts[0].inline = Some(Vec::new()),
            |m| m.parts[0].part_number = 2,
        ];
        for (i, edit) in edits.into_iter().enumerate() {
            let mut m = inline_sample();
            edit(&mut m);
            assert!(
                !k.verify("b", "k", &m, &tag),
                "inline edit {i} went unnoticed"
            );
        }
    }

    #[test]
    fn every_field_is_covered() {
        let k = RecordMacKey::derive(&ok());
        let meta = sample();
        let tag = k.sign("b", "k", &meta);
        assert!(k.verify("b", "k", &meta, &tag));
        assert!(!k.verify("b", "k2", &meta, &tag), "moved to another key");
        assert!(!k.verify("b2", "k", &meta, &tag), "moved to another bucket");
        let edits: Vec<fn(&mut ObjectMeta)> = vec![
            |m| m.size += 1,
            |m| m.etag.push('0'),
            |m| m.last_modified_ms += 1,
            |m| {
                m.content_headers
                    .insert("content-type".into(), "text/html".into());
            },
            |m| {
                m.user_meta.insert("x".into(), String::new());
            },
            |m| m.checksum = None,
            |m| m.segment_size *= 2,
            |m| m.generation.push('x'),
            |m| {
                let p = m.parts[0].clone();
                m.parts.push(p);
            },
            |m| m.parts.clear(),
            |m| m.parts[0].part_number = 2,
            |m| m.parts[0].blob.push('x'),
            |m| m.parts[0].key_salt[0] ^= 1,
            |m| m.parts[0].checksum = Some(String::new()),
            |m| {
                if let Sealing::SseC { key_md5, .. } = &mut m.sealing {
                    key_md5.push('x');
                }
            },
            |m| m.format = crate::meta::META_FORMAT_V1.into(),
            |m| {
                m.tags.insert("k".into(), "v".into());
            },
            |m| m.version_id = Some("0123".into()),
        ];
        for (i, edit) in edits.into_iter().enumerate() {
            let mut m = sample();
            edit(&mut m);
            assert!(!k.verify("b", "k", &m, &tag), "edit {i} went unnoticed");
        }
        // Tags, once there, are covered: changed or dropped, the record fails.
        let mut tagged = sample();
        tagged.tags.insert("project".into(), "blue".into());
        let tag2 = k.sign("b", "k", &tagged);
        assert_ne!(tag2, tag);
        assert!(k.verify("b", "k", &tagged, &tag2));
        let mut dropped = tagged.clone();
        dropped.tags.clear();
        assert!(!k.verify("b", "k", &dropped, &tag2));
        let mut changed = tagged.clone();
        changed.tags.insert("project".into(), "red".into());
        assert!(!k.verify("b", "k", &changed, &tag2));
        // An ACL, once there, is covered: a grant added, changed or dropped, or the owner
        // changed, and the record fails.
        let mut acl = tagged.clone();
        acl.acl = Some(Acl {
            owner: "111122223333".into(),
            grants: vec![Grant {
                grantee: Grantee::Group(crate::meta::ALL_USERS.into()),
                permission: Permission::Read,
            }],
        });
        let tag3 = k.sign("b", "k", &acl);
        assert!(k.verify("b", "k", &acl, &tag3));
        let acl_edits: Vec<fn(&mut Acl)> = vec![
            |a| a.owner.push('4'),
            |a| a.grants.clear(),
            |a| a.grants[0].permission = Permission::FullControl,
            |a| a.grants[0].grantee = Grantee::CanonicalUser(crate::meta::ALL_USERS.into()),
        ];
        for (i, edit) in acl_edits.into_iter().enumerate() {
            let mut m = acl.clone();
            edit(m.acl.as_mut().unwrap());
            assert!(
                !k.verify("b", "k", &m, &tag3),
                "ACL edit {i} went unnoticed"
            );
        }
        let mut no_acl = acl.clone();
        no_acl.acl = None;
        assert!(!k.verify("b", "k", &no_acl, &tag3));
        // The Object Lock state, once there, is covered: shortened, weakened, dropped or a
        // legal hold lifted, and the record fails.
        let mut locked = sample();
        locked.lock = ObjectLock {
            retention: Some(Retention {
                mode: LockMode::Compliance,
                retain_until_ms: 1_900_000_000_000,
            }),
            legal_hold: Some(true),
        };
        let tag4 = k.sign("b", "k", &locked);
        assert!(k.verify("b", "k", &locked, &tag4));
        assert!(!k.verify("b", "k", &sample(), &tag4));
        // The vector of docs/FORMAT.md §7 for a locked version.
        let mut vector = sample();
        vector.lock = locked.lock;
        let tag5 = k.sign("bucket", "photos/cat.jpg", &vector);
        assert_eq!(
            hex::encode(&tag5),
            "58bfbec55fad5c2b92118820606d98a2f7bc4bb07f2e11358f95df2ef892e948"
        );
        let lock_edits: Vec<fn(&mut ObjectLock)> = vec![
            |l| l.retention.as_mut().unwrap().retain_until_ms -= 1,
            |l| l.retention.as_mut().unwrap().mode = LockMode::Governance,
            |l| l.retention = None,
            |l| l.legal_hold = Some(false),
            |l| l.legal_hold = None,
        ];
        for (i, edit) in lock_edits.into_iter().enumerate() {
            let mut m = locked.clone();
            edit(&mut m.lock);
            assert!(
                !k.verify("b", "k", &m, &tag4),
                "lock edit {i} went unnoticed"
            );
        }
        // A lock added to a record signed without one fails too.
        let mut added = sample();
        added.lock.legal_hold = Some(false);
        assert!(!k.verify("b", "k", &added, &tag));
        // The MAC field itself is not covered (it is the tag).
        let mut m = sample();
        m.mac = Some("anything".into());
        assert!(k.verify("b", "k", &m, &tag));
    }
}
