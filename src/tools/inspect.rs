//! `sealgate inspect`: what the store keeps about one object — mode, which key (KMS key ARN
//! and the key material id of the backing key, SSE-S3 master version, or the SSE-C key MD5),
//! encryption context, bucket key, envelope parameters, part layout, sizes, ETag, checksum.
//!
//! Every version of the key is listed (`versions` below the report; docs/STORAGE.md
//! "Versions"), and `--version-id` reports on one of them instead of the current one.
//!
//! It never prints key material: wrapped keys (the KMS ciphertext blob, the sealed object key)
//! are described by algorithm and length only, plus a fingerprint of the sealed object key
//! that tells two of them apart (`inspect/versions.rs`). Salts and nonce prefixes are not secret and
//! are not shown either, except the part nonce prefixes, which tell parts apart.
//!
//! Targets: `s3://bucket/key` opens the store exactly as `serve` would (same --config and
//! --data-dir), read-only; a path names a meta record (`…/meta/<bucket>/<encoded key>`) or a
//! data blob (`…/data/<bucket>/<generation>/<blob>`) inside a local store. Blobs carry no
//! header (docs/FORMAT.md §3): everything about a blob comes from the meta record (or the
//! multipart upload in progress) that names its generation, so that record is looked up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use crate::config::{Backend, Config, ServeArgs};
use crate::envelope;
use crate::meta::{ObjectMeta, PartLayout, Sealing};
use crate::store::{Store, StoreError, keyenc, layout};

mod versions;
use versions::VersionInfo;
pub(crate) use versions::fingerprint;

#[derive(clap::Args, Debug)]
pub(crate) struct InspectArgs {
    /// `s3://bucket/key`, or a meta record or data blob file in a local data dir.
    target: String,
    /// TOML configuration file (same as `serve`; locates the store).
    #[arg(long, env = "SEALGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (same as `serve`).
    #[arg(long, env = "SEALGATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Report on this version of the key (`null` included) instead of the current one.
    #[arg(long)]
    version_id: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum InspectError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Start(#[from] crate::gateway::StartError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("no object {0}")]
    NoSuchObject(String),
    #[error("{what}\n{versions}")]
    DeleteMarker { what: String, versions: String },
}

pub(crate) fn main(args: InspectArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sealgate inspect: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(inspect(&args)) {
        Ok(report) => {
            let text = match args.format {
                Format::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
                Format::Text => report.to_text(),
            };
            // A closed pipe (`| head`) is not an error worth a panic.
            use std::io::Write as _;
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sealgate inspect: {e}");
            ExitCode::from(match e {
                InspectError::Usage(_) | InspectError::Config(_) => 2,
                _ => 1,
            })
        }
    }
}

async fn inspect(args: &InspectArgs) -> Result<Report, InspectError> {
    if let Some(rest) = args.target.strip_prefix("s3://") {
        let (bucket, key) = rest
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .ok_or_else(|| InspectError::Usage("expected s3://bucket/key".into()))?;
        let (store, root) = open_configured_store(args)?;
        return report_on_key(&store, root.as_deref(), bucket, key, args).await;
    }
    let path = std::path::absolute(&args.target)
        .map_err(|e| InspectError::Usage(format!("{}: {e}", args.target)))?;
    if !path.is_file() {
        return Err(InspectError::Usage(format!(
            "{} is neither s3://bucket/key nor a file",
            args.target
        )));
    }
    match locate(&path)? {
        Located::Meta { root, bucket, key } => {
            let store = Store::local(&root)?;
            report_on_key(&store, Some(&root), &bucket, &key, args).await
        }
        Located::Blob { .. } if args.version_id.is_some() => Err(InspectError::Usage(
            "--version-id needs s3://bucket/key or a meta record".into(),
        )),
        Located::Blob {
            root,
            bucket,
            generation,
            blob,
        } => {
            let store = Store::local(&root)?;
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let focus = BlobFocus {
                path: path.display().to_string(),
                blob: blob.clone(),
                size,
            };
            if let Some((key, meta)) = find_object(&store, &bucket, &generation).await? {
                let record = record_location(Some(&root), &bucket, &key)?;
                return Ok(
                    Report::build(&store, &bucket, &key, Some(record), &meta, Some(focus)).await,
                );
            }
            if let Some(report) = find_upload(&store, &bucket, &generation, focus.clone()).await? {
                return Ok(report);
            }
            Ok(Report::orphan(&bucket, &generation, focus))
        }
    }
}

/// The report on one version of `key` (`--version-id`, else the current one), listing every
/// version of the key.
async fn report_on_key(
    store: &Store,
    root: Option<&Path>,
    bucket: &str,
    key: &str,
    args: &InspectArgs,
) -> Result<Report, InspectError> {
    let (meta, rel, versions) =
        versions::select(store, bucket, key, args.version_id.as_deref()).await?;
    let record = located(root, rel);
    let mut report = Report::build(store, bucket, key, Some(record), &meta, None).await;
    report.versions = versions;
    Ok(report)
}

/// Where a record lives: a file path in a local store, else its path in the backend.
fn located(root: Option<&Path>, rel: String) -> String {
    match root {
        Some(r) => r.join(rel).display().to_string(),
        None => rel,
    }
}

fn record_location(root: Option<&Path>, bucket: &str, key: &str) -> Result<String, StoreError> {
    Ok(located(root, layout::meta(bucket, key)?.to_string()))
}

/// The store `serve` would use (and its directory when local), opened without creating
/// anything: a missing local data dir is an error here, not a fresh store.
fn open_configured_store(args: &InspectArgs) -> Result<(Store, Option<PathBuf>), InspectError> {
    let cfg = Config::load(&ServeArgs {
        config: args.config.clone(),
        data_dir: args.data_dir.clone(),
        ..Default::default()
    })?;
    let root = matches!(cfg.backend, Backend::Local).then(|| cfg.data_dir.join("objects"));
    if let Some(r) = &root
        && !r.is_dir()
    {
        return Err(InspectError::Usage(format!(
            "no object store in data dir {} (use --data-dir or --config)",
            cfg.data_dir.display()
        )));
    }
    Ok((crate::gateway::open_store(&cfg)?, root))
}

enum Located {
    Meta {
        root: PathBuf,
        bucket: String,
        key: String,
    },
    Blob {
        root: PathBuf,
        bucket: String,
        generation: String,
        blob: String,
    },
}

/// Finds the store root and what the file is from its path: the last `meta` or `data`
/// component followed by a valid bucket name starts the store layout.
fn locate(path: &Path) -> Result<Located, InspectError> {
    let comps: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let not_ours = || {
        InspectError::Usage(format!(
            "{} is not a meta record (<store>/meta/<bucket>/<encoded key>) or a data blob (<store>/data/<bucket>/<generation>/<blob>)",
            path.display()
        ))
    };
    for i in (0..comps.len().saturating_sub(2)).rev() {
        let bucket = &comps[i + 1];
        if layout::check_bucket(bucket).is_err() {
            continue;
        }
        let root: PathBuf = comps[..i].iter().collect();
        match comps[i].as_str() {
            layout::META => {
                let encoded = comps[i + 2..].join("/");
                let key = keyenc::decode_key(&encoded).map_err(|_| not_ours())?;
                return Ok(Located::Meta {
                    root,
                    bucket: bucket.clone(),
                    key,
                });
            }
            layout::DATA if comps.len() == i + 4 => {
                return Ok(Located::Blob {
                    root,
                    bucket: bucket.clone(),
                    generation: comps[i + 2].clone(),
                    blob: comps[i + 3].clone(),
                });
            }
            _ => {}
        }
    }
    Err(not_ours())
}

/// The object whose current generation is `generation` (a scan of the bucket's records).
async fn find_object(
    store: &Store,
    bucket: &str,
    generation: &str,
) -> Result<Option<(String, ObjectMeta)>, StoreError> {
    let mut after = String::new();
    loop {
        let (page, more) = store.list_objects(bucket, "", &after, 1000).await?;
        if let Some(found) = page.iter().find(|(_, m)| m.generation == generation) {
            return Ok(Some(found.clone()));
        }
        match page.last() {
            Some((k, _)) if more => after = k.clone(),
            _ => return Ok(None),
        }
    }
}

/// A blob of a multipart upload still in progress.
async fn find_upload(
    store: &Store,
    bucket: &str,
    generation: &str,
    focus: BlobFocus,
) -> Result<Option<Report>, StoreError> {
    for up in store.list_uploads(bucket).await? {
        if up.generation != generation {
            continue;
        }
        let parts = store.list_parts(bucket, &up.upload_id).await?;
        // The parts' envelope version follows the upload's: version 2 when it has a record key.
        let version = if up.record_key.is_some() {
            crate::meta::META_FORMAT
        } else {
            crate::meta::META_FORMAT_V1
        };
        let meta = ObjectMeta {
            format: version.into(),
            size: parts.iter().map(|p| p.size).sum(),
            etag: String::new(),
            last_modified_ms: up.initiated_ms,
            content_headers: up.content_headers.clone(),
            user_meta: up.user_meta.clone(),
            checksum: None,
            segment_size: envelope::DEFAULT_SEGMENT_SIZE,
            generation: up.generation.clone(),
            parts,
            sealing: up.sealing.clone(),
            tags: up.tags.clone(),
            acl: up.acl.clone(),
            mac: None,
            record_key: None,
            version_id: None,
            lock: up.lock,
        };
        let mut report = Report::build(store, bucket, &up.key, None, &meta, Some(focus)).await;
        report.status = format!("multipart upload in progress ({})", up.upload_id);
        report.record_format = Some(up.format.clone());
        report.record_authentication = if up.record_key.is_some() {
            "at completion (version 2: the upload holds its sealed record-MAC key)".into()
        } else {
            "no (upload created before version 2; completes as version 1)".into()
        };
        report.etag = None;
        return Ok(Some(report));
    }
    Ok(None)
}

/// The blob file a path-form inspect was given.
#[derive(Serialize, Clone, Debug)]
pub(crate) struct BlobFocus {
    pub(crate) path: String,
    pub(crate) blob: String,
    pub(crate) size: u64,
}

fn record_authentication(meta: &ObjectMeta) -> String {
    if matches!(meta.sealing, Sealing::None) {
        "no (plaintext comparison object: no key, no MAC)".into()
    } else if meta.is_authenticated() && meta.mac.is_some() {
        "yes (version 2): HMAC-SHA256 over parts, sizes, headers, checksums, sealing and name; every reader checks it".into()
    } else if meta.is_authenticated() {
        "MISSING: a version 2 record without its MAC; readers refuse it".into()
    } else {
        "no (version 1 legacy record): part list, headers and checksums are not authenticated"
            .into()
    }
}

#[derive(Serialize, Debug)]
pub(crate) struct Report {
    pub(crate) object: String,
    pub(crate) status: String,
    pub(crate) meta_record: Option<String>,
    pub(crate) record_format: Option<String>,
    /// The version id (`null` for the null version; docs/STORAGE.md "Versions").
    pub(crate) version_id: Option<String>,
    /// Whether the record is authenticated as a whole (docs/FORMAT.md §6); inspect holds no
    /// key, so it reports what the record carries, not whether the MAC verifies.
    pub(crate) record_authentication: String,
    pub(crate) mode: String,
    pub(crate) key: KeyInfo,
    pub(crate) object_key: String,
    /// Tells this version's wrapped object key from another's (inspect/versions.rs).
    pub(crate) wrapped_key_fingerprint: Option<String>,
    pub(crate) envelope: EnvelopeInfo,
    pub(crate) plaintext_size: Option<u64>,
    pub(crate) stored_size: Option<u64>,
    pub(crate) etag: Option<String>,
    pub(crate) checksum: Option<ChecksumInfo>,
    pub(crate) last_modified: Option<String>,
    pub(crate) content_headers: BTreeMap<String, String>,
    pub(crate) user_metadata: BTreeMap<String, String>,
    /// Object tags (in the clear in the record, covered by its MAC; docs/STORAGE.md).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) generation: String,
    pub(crate) parts: Vec<PartInfo>,
    pub(crate) blob: Option<BlobFocus>,
    /// Every version of the key, newest first (reports on a key, not on a blob).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) versions: Vec<VersionInfo>,
}

/// Which key opens the object, as far as the record says — identifiers only.
#[derive(Serialize, Debug, Default)]
pub(crate) struct KeyInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kms_key_arn: Option<String>,
    /// The KMS key id and the key material id (backing key version) in the blob's header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kms_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kms_key_material_id: Option<String>,
    /// Description of the wrapped data key (never its bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) wrapped_data_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) encryption_context: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bucket_key: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sse_s3_master_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sse_c_key_md5: Option<String>,
}

#[derive(Serialize, Debug)]
pub(crate) struct EnvelopeInfo {
    pub(crate) format: String,
    pub(crate) segment_size: u32,
}

#[derive(Serialize, Debug)]
pub(crate) struct ChecksumInfo {
    pub(crate) algorithm: String,
    pub(crate) kind: String,
    pub(crate) value: String,
}

#[derive(Serialize, Debug)]
pub(crate) struct PartInfo {
    pub(crate) part_number: u32,
    pub(crate) plaintext_size: u64,
    pub(crate) segments: u64,
    /// Ciphertext length the format gives for this part.
    pub(crate) stored_size: u64,
    /// Size of the blob in the store (of the sealed bytes in the record for an inline part),
    /// when it could be read.
    pub(crate) blob_size: Option<u64>,
    /// The blob's name, or `inline` for a part kept in the meta record.
    pub(crate) blob: String,
    /// Whether the part's sealed bytes are in the meta record (no blob file).
    pub(crate) inline: bool,
    pub(crate) etag: String,
    pub(crate) nonce_prefix: String,
    pub(crate) checksum: Option<String>,
}

impl Report {
    async fn build(
        store: &Store,
        bucket: &str,
        key: &str,
        record: Option<String>,
        meta: &ObjectMeta,
        blob: Option<BlobFocus>,
    ) -> Report {
        let mut parts = Vec::with_capacity(meta.parts.len());
        for p in &meta.parts {
            parts.push(part_info(store, bucket, &meta.generation, meta.segment_size, p).await);
        }
        let stored = parts.iter().map(|p| p.stored_size).sum();
        let (key_info, sealed) = describe_sealing(&meta.sealing);
        Report {
            object: format!("s3://{bucket}/{key}"),
            status: "stored".into(),
            meta_record: record,
            record_format: Some(meta.format.clone()),
            version_id: Some(meta.version_id.clone().unwrap_or_else(|| "null".into())),
            record_authentication: record_authentication(meta),
            mode: versions::mode_name(&meta.sealing).into(),
            key: key_info,
            object_key: sealed,
            wrapped_key_fingerprint: versions::fingerprint(&meta.sealing),
            envelope: EnvelopeInfo {
                format: if matches!(meta.sealing, Sealing::None) {
                    "plaintext (no envelope)".into()
                } else if meta.is_authenticated() {
                    "sealgate envelope v2: AES-256-GCM STREAM segments, per-part key HKDF-SHA256(object key, part salt, part number)".into()
                } else {
                    "sealgate envelope v1: AES-256-GCM STREAM segments, per-part key HKDF-SHA256(object key, part salt)".into()
                },
                segment_size: meta.segment_size,
            },
            plaintext_size: Some(meta.size),
            stored_size: Some(stored),
            etag: Some(format!("\"{}\"", meta.etag)),
            checksum: meta.checksum.as_ref().map(|c| ChecksumInfo {
                algorithm: c.algorithm.clone(),
                kind: c.kind.clone(),
                value: c.value.clone(),
            }),
            last_modified: versions::rfc3339_ms(meta.last_modified_ms),
            content_headers: meta.content_headers.clone(),
            user_metadata: meta.user_meta.clone(),
            tags: meta.tags.clone(),
            generation: meta.generation.clone(),
            parts,
            blob,
            versions: Vec::new(),
        }
    }

    fn orphan(bucket: &str, generation: &str, blob: BlobFocus) -> Report {
        Report {
            object: format!("s3://{bucket}/?"),
            status: "unreferenced: no object or upload names this generation (the orphan sweep reclaims it)".into(),
            meta_record: None,
            record_format: None,
            version_id: None,
            record_authentication: "unknown".into(),
            mode: "unknown".into(),
            key: KeyInfo::default(),
            object_key: "unknown: blobs carry no header; the meta record holds every parameter".into(),
            wrapped_key_fingerprint: None,
            envelope: EnvelopeInfo {
                format: "unknown".into(),
                segment_size: 0,
            },
            plaintext_size: None,
            stored_size: Some(blob.size),
            etag: None,
            checksum: None,
            last_modified: None,
            content_headers: BTreeMap::new(),
            user_metadata: BTreeMap::new(),
            tags: BTreeMap::new(),
            generation: generation.to_owned(),
            parts: Vec::new(),
            blob: Some(blob),
            versions: Vec::new(),
        }
    }

    pub(crate) fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut o = String::new();
        let mut row = |name: &str, value: &str| {
            let _ = writeln!(o, "  {name:<20} {value}");
        };
        row("object", &self.object);
        row("status", &self.status);
        if let Some(r) = &self.meta_record {
            let fmt = self.record_format.as_deref().unwrap_or("?");
            row("meta record", &format!("{r}  ({fmt})"));
        }
        if let Some(v) = &self.version_id {
            row("version id", v);
        }
        row("record authenticated", &self.record_authentication);
        row("mode", &self.mode);
        let k = &self.key;
        if let Some(v) = &k.kms_key_arn {
            row("KMS key ARN", v);
        }
        if let Some(v) = &k.kms_key_material_id {
            row("key material id", &format!("{v}  (backing key version)"));
        }
        if let Some(v) = &k.wrapped_data_key {
            row("wrapped data key", v);
        }
        if let Some(ctx) = &k.encryption_context {
            row(
                "encryption context",
                &serde_json::to_string(ctx).unwrap_or_default(),
            );
        }
        if let Some(b) = k.bucket_key {
            row("bucket key", if b { "enabled" } else { "disabled" });
        }
        if let Some(v) = k.sse_s3_master_version {
            row("SSE-S3 master", &format!("version {v}"));
        }
        if let Some(v) = &k.sse_c_key_md5 {
            row("SSE-C key MD5", v);
        }
        row("object key", &self.object_key);
        if let Some(f) = &self.wrapped_key_fingerprint {
            row("wrapped key", f);
        }
        row("envelope", &self.envelope.format);
        if self.envelope.segment_size > 0 {
            row(
                "segment size",
                &format!("{} bytes", self.envelope.segment_size),
            );
        }
        if let Some(p) = self.plaintext_size {
            row("plaintext size", &format!("{p} bytes"));
        }
        if let Some(s) = self.stored_size {
            let extra = match self.plaintext_size {
                Some(p) if p > 0 => format!(
                    "  (+{} bytes, {:.3}%)",
                    s.saturating_sub(p),
                    (s.saturating_sub(p)) as f64 * 100.0 / p as f64
                ),
                Some(p) => format!("  (+{} bytes)", s.saturating_sub(p)),
                None => String::new(),
            };
            row("stored size", &format!("{s} bytes{extra}"));
        }
        if let Some(e) = &self.etag {
            row("ETag", e);
        }
        if let Some(c) = &self.checksum {
            row(
                "checksum",
                &format!("{} {} {}", c.algorithm, c.kind, c.value),
            );
        }
        if let Some(t) = &self.last_modified {
            row("last modified", t);
        }
        for (h, v) in &self.content_headers {
            row(h, v);
        }
        for (m, v) in &self.user_metadata {
            row(&format!("x-amz-meta-{m}"), v);
        }
        for (t, v) in &self.tags {
            row(&format!("tag {t}"), v);
        }
        row("generation", &self.generation);
        if let Some(b) = &self.blob {
            row(
                "blob file",
                &format!("{} ({} bytes, blob {})", b.path, b.size, b.blob),
            );
        }
        if !self.parts.is_empty() {
            let _ = writeln!(o, "  parts ({}):", self.parts.len());
            let _ = writeln!(
                o,
                "    {:>5} {:>12} {:>9} {:>12} {:>12}  {:<14}  {:<34}  blob",
                "part", "plaintext", "segments", "stored", "blob size", "nonce prefix", "ETag"
            );
            for p in &self.parts {
                let _ = writeln!(
                    o,
                    "    {:>5} {:>12} {:>9} {:>12} {:>12}  {:<14}  {:<34}  {}",
                    p.part_number,
                    p.plaintext_size,
                    p.segments,
                    p.stored_size,
                    p.blob_size
                        .map_or_else(|| "missing".to_owned(), |s| s.to_string()),
                    p.nonce_prefix,
                    p.etag,
                    if p.inline {
                        "inline (in the meta record)"
                    } else {
                        &p.blob
                    }
                );
            }
        }
        if !self.versions.is_empty() {
            o.push_str(&versions::table(&self.versions));
        }
        o
    }
}

async fn part_info(
    store: &Store,
    bucket: &str,
    generation: &str,
    segment_size: u32,
    p: &PartLayout,
) -> PartInfo {
    let blob_size = match (&p.inline, layout::blob(bucket, generation, &p.blob)) {
        (Some(sealed), _) => Some(sealed.len() as u64),
        (None, Ok(path)) => {
            use object_store::ObjectStoreExt as _;
            store.backend().head(&path).await.ok().map(|m| m.size)
        }
        (None, Err(_)) => None,
    };
    let (segments, stored_size) = if segment_size == 0 {
        (0, p.size)
    } else {
        (
            envelope::segment_count(p.size, segment_size),
            envelope::ciphertext_len(p.size, segment_size),
        )
    };
    PartInfo {
        part_number: p.part_number,
        plaintext_size: p.size,
        segments,
        stored_size,
        blob_size,
        blob: if p.is_inline() {
            "inline".into()
        } else {
            p.blob.clone()
        },
        inline: p.is_inline(),
        etag: format!("\"{}\"", p.etag),
        nonce_prefix: hex::encode(&p.nonce_prefix),
        checksum: p.checksum.clone(),
    }
}

/// Key identifiers and a description of the sealed object key, from the record.
fn describe_sealing(s: &Sealing) -> (KeyInfo, String) {
    let sealed = |mode: &str, sk: &crate::meta::SealedKey| {
        format!(
            "{} bytes, AES-256-GCM under KEK = HKDF-SHA256({mode} key material, {}-byte salt, binding {mode}/bucket/key) (not shown)",
            sk.ciphertext.len(),
            sk.salt.len()
        )
    };
    match s {
        Sealing::None => (
            KeyInfo::default(),
            "none: stored as plaintext (comparison bucket)".into(),
        ),
        Sealing::SseS3 {
            key_version,
            sealed: sk,
        } => (
            KeyInfo {
                sse_s3_master_version: Some(*key_version),
                ..Default::default()
            },
            sealed("SSE-S3", sk),
        ),
        Sealing::SseC {
            key_md5,
            sealed: sk,
        } => (
            KeyInfo {
                sse_c_key_md5: Some(key_md5.clone()),
                ..Default::default()
            },
            sealed("SSE-C", sk),
        ),
        Sealing::SseKms {
            key_arn,
            kms_blob,
            context,
            bucket_key,
            sealed: sk,
        } => {
            let header = crate::kms::blob::parse_header(kms_blob).ok();
            let wrapped = match header {
                Some(_) => format!(
                    "{} bytes, sealgate KMS ciphertext blob v1 (AES-256-GCM, context as AAD; not shown)",
                    kms_blob.len()
                ),
                None => format!(
                    "{} bytes, KMS ciphertext blob in a format of another KMS (not shown)",
                    kms_blob.len()
                ),
            };
            (
                KeyInfo {
                    kms_key_arn: Some(key_arn.clone()),
                    kms_key_id: header.map(|h| h.key_id.to_string()),
                    kms_key_material_id: header.map(|h| h.material_hex()),
                    wrapped_data_key: Some(wrapped),
                    encryption_context: Some(context.clone()),
                    bucket_key: Some(*bucket_key),
                    ..Default::default()
                },
                sealed("SSE-KMS", sk),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_meta_records_and_blobs() {
        let enc = keyenc::encode_key("photos/a.jpg");
        let p = PathBuf::from(format!("/srv/sg/objects/meta/my-bucket/{enc}"));
        match locate(&p).unwrap() {
            Located::Meta { root, bucket, key } => {
                assert_eq!(root, PathBuf::from("/srv/sg/objects"));
                assert_eq!(
                    (bucket.as_str(), key.as_str()),
                    ("my-bucket", "photos/a.jpg")
                );
            }
            Located::Blob { .. } => panic!("not a blob"),
        }
        let p = PathBuf::from("/srv/data/objects/data/my-bucket/gen-1/p00001");
        match locate(&p).unwrap() {
            Located::Blob {
                root,
                bucket,
                generation,
                blob,
            } => {
                assert_eq!(root, PathBuf::from("/srv/data/objects"));
                assert_eq!(
                    (bucket.as_str(), generation.as_str(), blob.as_str()),
                    ("my-bucket", "gen-1", "p00001")
                );
            }
            Located::Meta { .. } => panic!("not a meta record"),
        }
        assert!(locate(Path::new("/etc/passwd")).is_err());
        assert!(locate(Path::new("/x/meta/my-bucket/zz")).is_err());
    }
}
