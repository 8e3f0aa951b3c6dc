//! The demo's versioned overwrite: in a bucket with versioning, the file is uploaded with
//! SSE-KMS, then overwritten with other bytes under the same KMS key. Both versions read back
//! by version id, byte for byte, because each keeps its own data key: the two wrapped object
//! keys the store holds (fingerprinted as `sealgate inspect` does) differ.
//!
//! Like the rest of the demo, every outcome is what the gateway answered or what the data dir
//! holds; the fingerprints need the data dir (local backend), else they are not observed.

use std::fmt::Write as _;
use std::path::Path;

use bytes::Bytes;
use http::Method as HttpMethod;
use serde::Serialize;

use crate::meta::Version;
use crate::store::Store;
use crate::tools::client::s3::{S3Client, S3Response};

const VERSIONING_ON: &str = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>";

/// What one request came to.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Answer {
    pub(crate) ok: bool,
    /// `200 stored`, `200, the bytes of this version`, `404 NoSuchVersion`, …
    pub(crate) detail: String,
}

impl Answer {
    /// A write: ok when 2xx.
    fn stored(r: &S3Response) -> Answer {
        Answer {
            ok: r.is_success(),
            detail: if r.is_success() {
                format!("{} stored", r.status)
            } else {
                r.outcome()
            },
        }
    }

    /// A read: ok when 2xx with exactly `want`.
    fn read(r: &S3Response, want: &[u8]) -> Answer {
        let same = r.body.as_ref() == want;
        Answer {
            ok: r.is_success() && same,
            detail: match (r.is_success(), same) {
                (true, true) => format!("{}, the bytes of this version", r.status),
                (true, false) => format!("{}, other bytes", r.status),
                _ => r.outcome(),
            },
        }
    }

    fn failed(why: &str) -> Answer {
        Answer {
            ok: false,
            detail: why.to_owned(),
        }
    }
}

/// One version of the overwritten object.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct VersionShown {
    pub(crate) version_id: Option<String>,
    pub(crate) put: Answer,
    /// GET with `versionId`: the bytes this version was written with.
    pub(crate) read: Answer,
    /// The fingerprint of the version's wrapped object key, from its record in the store.
    pub(crate) wrapped_key_fingerprint: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct VersionedOverwrite {
    pub(crate) bucket: String,
    pub(crate) key: String,
    /// The first upload, then the overwrite.
    pub(crate) versions: Vec<VersionShown>,
    /// Both fingerprints observed and different: each version has its own data key.
    pub(crate) own_data_keys: Option<bool>,
}

/// What the step needs from the demo: its S3 client, the gateway's data dir (local backend),
/// the demo bucket's name (the step's bucket is named after it) and the file.
pub(crate) struct Context<'a> {
    pub(crate) s3: &'a S3Client,
    pub(crate) data_dir: Option<&'a Path>,
    pub(crate) bucket: &'a str,
    pub(crate) plaintext: &'a [u8],
}

impl Context<'_> {
    /// Uploads twice to one key of a versioned bucket and reads both versions back.
    pub(crate) async fn versioned_overwrite(&self, kms_key: &str) -> VersionedOverwrite {
        let bucket = format!("{}-versions", self.bucket);
        let key = "demo/versioned.txt".to_owned();
        let mut shown = VersionedOverwrite {
            bucket: bucket.clone(),
            key: key.clone(),
            versions: Vec::new(),
            own_data_keys: None,
        };
        if let Err(why) = self.enable_versioning(&bucket).await {
            shown.versions.push(VersionShown {
                version_id: None,
                put: Answer::failed(&why),
                read: Answer::failed("not attempted"),
                wrapped_key_fingerprint: None,
            });
            return shown;
        }
        let sse = [
            ("x-amz-server-side-encryption".to_owned(), "aws:kms".into()),
            (
                "x-amz-server-side-encryption-aws-kms-key-id".to_owned(),
                kms_key.to_owned(),
            ),
        ];
        let mut overwrite = b"the overwrite: ".to_vec();
        overwrite.extend_from_slice(self.plaintext);
        let contents = [self.plaintext.to_vec(), overwrite];
        let mut ids = Vec::new();
        for data in &contents {
            let put = self
                .s3
                .put_object(&bucket, &key, &sse, Bytes::from(data.clone()))
                .await;
            let (put, id) = match put {
                Ok(r) => (
                    Answer::stored(&r),
                    r.header("x-amz-version-id").map(str::to_owned),
                ),
                Err(e) => (Answer::failed(&e.to_string()), None),
            };
            ids.push(id.clone());
            shown.versions.push(VersionShown {
                version_id: id,
                put,
                read: Answer::failed("not read yet"),
                wrapped_key_fingerprint: None,
            });
        }
        // Read back after both uploads: the first version is no longer the current one.
        for (v, data) in shown.versions.iter_mut().zip(&contents) {
            let Some(id) = v.version_id.clone() else {
                continue;
            };
            v.read = match self
                .s3
                .send_query(
                    HttpMethod::GET,
                    &bucket,
                    Some(&key),
                    &[("versionId", &id)],
                    &[],
                    Bytes::new(),
                )
                .await
            {
                Ok(r) => Answer::read(&r, data),
                Err(e) => Answer::failed(&e.to_string()),
            };
            v.wrapped_key_fingerprint = match self.data_dir {
                Some(dir) => fingerprint_of(dir, &bucket, &key, &id).await,
                None => None,
            };
        }
        let prints: Vec<&String> = shown
            .versions
            .iter()
            .filter_map(|v| v.wrapped_key_fingerprint.as_ref())
            .collect();
        if let [a, b] = prints.as_slice() {
            shown.own_data_keys = Some(a != b);
        }
        shown
    }

    async fn enable_versioning(&self, bucket: &str) -> Result<(), String> {
        let created = self
            .s3
            .create_bucket(bucket)
            .await
            .map_err(|e| e.to_string())?;
        if !created.is_success() {
            return Err(format!("CreateBucket {bucket}: {}", created.outcome()));
        }
        let r = self
            .s3
            .send_query(
                HttpMethod::PUT,
                bucket,
                None,
                &[("versioning", "")],
                &[],
                Bytes::from_static(VERSIONING_ON.as_bytes()),
            )
            .await
            .map_err(|e| e.to_string())?;
        if r.is_success() {
            Ok(())
        } else {
            Err(format!("PutBucketVersioning: {}", r.outcome()))
        }
    }
}

/// The fingerprint of version `id`'s wrapped object key, read from the local store.
async fn fingerprint_of(data_dir: &Path, bucket: &str, key: &str, id: &str) -> Option<String> {
    let store = Store::local(&data_dir.join("objects")).ok()?;
    match store.get_version(bucket, key, id).await.ok()?? {
        Version::Object(m) => crate::tools::inspect::fingerprint(&m.sealing),
        Version::Marker(_) => None,
    }
}

/// The step as text lines (text and HTML reports).
pub(crate) fn lines(v: &VersionedOverwrite) -> Vec<String> {
    let mut out = vec![format!(
        "Versioned overwrite: s3://{}/{} uploaded twice with SSE-KMS under the main key",
        v.bucket, v.key
    )];
    for (n, s) in v.versions.iter().enumerate() {
        let mut line = format!(
            "  version {} ({}): PUT {}; GET by id {}",
            n + 1,
            s.version_id.as_deref().unwrap_or("no id"),
            s.put.detail,
            s.read.detail
        );
        if let Some(f) = &s.wrapped_key_fingerprint {
            let _ = write!(line, "; wrapped key {f}");
        }
        out.push(line);
    }
    out.push(match v.own_data_keys {
        Some(true) => "  each version keeps its own data key: the wrapped keys differ".into(),
        Some(false) => "  [X] both versions have the same wrapped key".into(),
        None => "  wrapped keys not observed (needs the data dir)".into(),
    });
    out
}
