//! `sealgate cp`: copy a file to or from the gateway, optionally with client-side encryption
//! (`--cse-kms <key>` or `--cse-c <keyfile>`, format in [`crate::tools::cse`]). With CSE the gateway
//! receives and returns only ciphertext; the data key comes from the KMS (`GenerateDataKey` /
//! `Decrypt`, signed with the caller's own credential) or is wrapped under the user's key file.
//!
//! Any size, as the aws CLI: uploads over 8 MiB go up as a multipart upload in 8 MiB parts
//! (more when 10,000 parts would not do), four in flight, checksummed end to end and resumed by
//! a re-run after an interruption ([`upload`]); downloads are ranged GETs, four in flight,
//! written at their offsets into a temporary file, verified whole, renamed onto the target,
//! and resumed by a re-run ([`download`]). A progress bar shows on a terminal ([`progress`]).
//!
//! Client-side encryption is one AES-GCM stream over the whole object (the S3 Encryption
//! Client formats), with one tag at the end: the object is encrypted, or downloaded and
//! verified, in memory before anything is written, so a wrong key or a changed object leaves
//! no output file, and CSE objects are capped at [`cse::MAX_PLAINTEXT`] (docs/CSE.md says why).
//! Ciphertext over 8 MiB is uploaded in parts.

mod download;
mod progress;
mod upload;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use zeroize::Zeroizing;

use crate::kms::remote::RemoteKms;
use crate::kms::{Caller, Kms, KmsClientError, Source};
use crate::tools::client::s3::{S3Client, S3ClientError, S3Response};
use crate::tools::client::settings::{EndpointArgs, SettingsError};
use crate::tools::cse::{self, CommitmentPolicy, CseError, Detected, Envelope, Wrap};

#[derive(clap::Args, Debug, Clone)]
pub(crate) struct CpArgs {
    /// Source: a local file or s3://bucket/key.
    pub(crate) src: String,
    /// Destination: s3://bucket/key or a local file (or directory).
    pub(crate) dst: String,
    /// Client-side encryption with a KMS data key from this key (id, ARN, alias/name).
    #[arg(long, value_name = "KEY", conflicts_with = "cse_c")]
    pub(crate) cse_kms: Option<String>,
    /// Client-side encryption with the 256-bit key in this file (32 raw bytes, hex or base64).
    #[arg(long, value_name = "KEYFILE")]
    pub(crate) cse_c: Option<PathBuf>,
    /// Which S3 Encryption Client format is written and which are read (the AWS clients'
    /// commitment policy; V3 is the key-committing format).
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = CommitmentPolicy::default())]
    pub(crate) cse_commitment_policy: CommitmentPolicy,
    #[command(flatten)]
    pub(crate) endpoint: EndpointArgs,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CpError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Settings(#[from] SettingsError),
    #[error("{0}")]
    Cse(#[from] CseError),
    #[error("KMS: {0}")]
    Kms(#[from] KmsClientError),
    #[error("{0}")]
    Transport(#[from] S3ClientError),
    #[error("{op} s3://{bucket}/{key}: {status} {code}: {message}")]
    S3 {
        op: &'static str,
        bucket: String,
        key: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error(
        "{0} changed during the download (412 on If-Match); run the command again to start over"
    )]
    Changed(String),
    #[error("the download does not match the object: {0}")]
    Verify(String),
    /// A transfer failure left a multipart upload in progress that a re-run resumes.
    #[error(
        "{source}; the multipart upload {upload_id} is kept: run the same command again to resume it"
    )]
    UploadKept {
        upload_id: String,
        source: S3ClientError,
    },
}

/// The key material of a client-side encryption method.
pub(crate) enum CseKey<'a> {
    /// `kms+context` with a KMS key (id, ARN or alias).
    Kms { kms: &'a RemoteKms, key_id: &'a str },
    /// `AES/GCM` under the user's 256-bit key.
    Customer(&'a [u8; 32]),
}

/// A client-side encryption method: the key and the commitment policy (which format is
/// written, which are read).
pub(crate) struct Cse<'a> {
    pub(crate) key: CseKey<'a>,
    pub(crate) policy: CommitmentPolicy,
}

/// The caller and source the [`Kms`] trait asks for; a remote KMS authenticates the request
/// signature instead, so these are placeholders.
fn remote_caller() -> (Caller, Source) {
    (
        Caller {
            arn: String::new(),
            account: String::new(),
            identity_policy: None,
            network: None,
        },
        Source::KmsApi,
    )
}

/// Encrypts `plaintext` in the format the policy writes: the object body and its envelope.
pub(crate) async fn encrypt(
    method: &Cse<'_>,
    plaintext: &[u8],
) -> Result<(Vec<u8>, Envelope), CpError> {
    cse::check_size(plaintext.len() as u64)?;
    let v3 = method.policy.writes_v3();
    let (data_key, wrap, wrapped_key, context) = match &method.key {
        CseKey::Kms { kms, key_id } => {
            // The context names the content algorithm, binding the data key to the format.
            let context = if v3 {
                cse::v3::kms_context()
            } else {
                cse::v2::kms_context()
            };
            let (caller, source) = remote_caller();
            let dk = kms
                .generate_data_key(key_id, &context, &caller, &source)
                .await?;
            (dk.plaintext, Wrap::Kms, dk.ciphertext_blob, context)
        }
        CseKey::Customer(kek) => {
            let dk = cse::keys::new_data_key();
            let wrapped = cse::keys::wrap_aes_gcm(kek, &dk);
            (dk, Wrap::AesGcm, wrapped, BTreeMap::new())
        }
    };
    Ok(if v3 {
        let (body, env) = cse::v3::Envelope::seal(wrap, wrapped_key, context, &data_key, plaintext);
        (body, Envelope::V3(env))
    } else {
        let (body, env) = cse::v2::Envelope::seal(wrap, wrapped_key, context, &data_key, plaintext);
        (body, Envelope::V2(env))
    })
}

/// Decrypts an object body given its envelope; the key must match the envelope's wrapping and
/// the policy must allow the envelope's format.
pub(crate) async fn decrypt(
    method: &Cse<'_>,
    envelope: &Envelope,
    body: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CpError> {
    let wrap = envelope.wrap();
    let key_fits = matches!(
        (&method.key, wrap),
        (CseKey::Kms { .. }, Wrap::Kms) | (CseKey::Customer(_), Wrap::AesGcm)
    );
    if !key_fits {
        return Err(CpError::Usage(format!(
            "the object's key is wrapped with {}; use {}",
            wrap.name(),
            wrap.option()
        )));
    }
    method.policy.check_read(envelope)?;
    if body.len() as u64 > cse::MAX_PLAINTEXT + 16 {
        return Err(CseError::TooLarge(body.len() as u64).into());
    }
    let data_key = match &method.key {
        CseKey::Kms { kms, key_id } => {
            let context = envelope.kms_context()?;
            let (caller, source) = remote_caller();
            let plain = kms
                .decrypt(
                    envelope.wrapped_key(),
                    context,
                    Some(key_id),
                    &caller,
                    &source,
                )
                .await?;
            cse::keys::key_from(&plain.plaintext)
                .ok_or_else(|| CseError::BadMetadata("the KMS data key is not 256 bits".into()))?
        }
        CseKey::Customer(kek) => cse::keys::unwrap_aes_gcm(kek, envelope.wrapped_key())?,
    };
    Ok(envelope.open(&data_key, body)?)
}

/// The metadata request headers of an envelope.
pub(crate) fn metadata_headers(envelope: &Envelope) -> Vec<(String, String)> {
    envelope
        .to_metadata()
        .into_iter()
        .map(|(k, v)| (format!("x-amz-meta-{k}"), v))
        .collect()
}

fn s3_failure(op: &'static str, bucket: &str, key: &str, r: &S3Response) -> CpError {
    CpError::S3 {
        op,
        bucket: bucket.to_string(),
        key: key.to_string(),
        status: r.status,
        code: r.error_code().unwrap_or_default(),
        message: r.error_message().unwrap_or_default(),
    }
}

/// `s3://bucket/key` → `(bucket, key)`.
pub(crate) fn parse_s3_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/')?;
    (!bucket.is_empty()).then(|| (bucket.to_string(), key.to_string()))
}

/// Uploads `plaintext` (encrypted first when `cse` is given) with one PUT; returns its answer.
pub(crate) async fn upload(
    s3: &S3Client,
    method: Option<&Cse<'_>>,
    plaintext: &[u8],
    bucket: &str,
    object: &str,
) -> Result<S3Response, CpError> {
    let (body, headers) = match method {
        Some(c) => {
            let (body, env) = encrypt(c, plaintext).await?;
            (body, metadata_headers(&env))
        }
        None => (plaintext.to_vec(), Vec::new()),
    };
    put(s3, bucket, object, &headers, Bytes::from(body)).await
}

async fn put(
    s3: &S3Client,
    bucket: &str,
    object: &str,
    headers: &[(String, String)],
    body: Bytes,
) -> Result<S3Response, CpError> {
    let r = s3.put_object(bucket, object, headers, body).await?;
    if !r.is_success() {
        return Err(s3_failure("PUT", bucket, object, &r));
    }
    Ok(r)
}

/// `in 3 parts` (and how many an interrupted run had sent) and the ETag of a multipart upload.
fn multipart_outcome(up: &upload::Uploaded) -> (String, String) {
    let resumed = match up.resumed {
        0 => String::new(),
        n => format!(" ({n} resumed from an interrupted upload)"),
    };
    let etag = up
        .response
        .xml_text("ETag")
        .map_or_else(|| "-".into(), |e| e.replace("&quot;", "\""));
    (format!(" in {} parts{resumed}", up.parts), etag)
}

/// Uploads the file `src` to `bucket/object`: client-side encrypted in memory when `method`
/// is given, in parts when over [`MULTIPART_THRESHOLD`]. Returns the parts text and the ETag.
async fn upload_file(
    s3: &S3Client,
    method: Option<&Cse<'_>>,
    src: &str,
    bucket: &str,
    object: &str,
) -> Result<(String, String), CpError> {
    let source = upload::Source::open(src)?;
    let (body, headers) = match method {
        Some(c) => {
            cse::check_size(source.len())?;
            let data =
                Zeroizing::new(std::fs::read(src).map_err(|e| CpError::Io(src.to_string(), e))?);
            let (body, env) = encrypt(c, &data).await?;
            (Bytes::from(body), metadata_headers(&env))
        }
        None if source.len() > MULTIPART_THRESHOLD => {
            let up = upload::upload_multipart(s3, &source, bucket, object, &[], true).await?;
            return Ok(multipart_outcome(&up));
        }
        None => {
            let data = std::fs::read(src).map_err(|e| CpError::Io(src.to_string(), e))?;
            (Bytes::from(data), Vec::new())
        }
    };
    if body.len() as u64 > MULTIPART_THRESHOLD {
        // CSE ciphertext: never resumed, each run encrypts under a new data key.
        let memory = upload::Source::Memory(body);
        let up = upload::upload_multipart(s3, &memory, bucket, object, &headers, false).await?;
        return Ok(multipart_outcome(&up));
    }
    let r = put(s3, bucket, object, &headers, body).await?;
    Ok((String::new(), r.header("etag").unwrap_or("-").to_string()))
}

/// Files larger than this go up as a multipart upload (the aws CLI's default threshold).
pub(crate) const MULTIPART_THRESHOLD: u64 = 8 * 1024 * 1024;
/// The size of a download range and the smallest upload part.
const PART_SIZE: u64 = 8 * 1024 * 1024;
/// Ranges or parts in flight at once.
const CONCURRENCY: usize = 4;

/// The envelope of a client-side encrypted object: from its metadata, completed from its
/// instruction file (`<key>.instruction`) when the metadata says so or holds no S3 Encryption
/// Client keys at all (V1/V2 objects may keep everything there).
async fn envelope_of(
    s3: &S3Client,
    meta: &BTreeMap<String, String>,
    bucket: &str,
    object: &str,
) -> Result<Envelope, CpError> {
    let needs_file = match cse::format::detect(meta)? {
        Detected::Complete(envelope) => return Ok(envelope),
        Detected::V3InstructionFile => true,
        Detected::Plain => false,
    };
    let file_key = format!("{object}{}", cse::format::INSTRUCTION_SUFFIX);
    let r = s3.get_object(bucket, &file_key, &[]).await?;
    if r.status == 404 && !needs_file {
        return Err(CseError::NotEncrypted.into());
    }
    if !r.is_success() {
        return Err(s3_failure("GET (instruction file)", bucket, &file_key, &r));
    }
    Ok(cse::format::with_instruction_file(meta, &r.body)?)
}

/// Downloads an object and, when `cse` is given, decrypts and verifies it. Without `cse`, an
/// object carrying S3 Encryption Client metadata is refused rather than returned as ciphertext.
pub(crate) async fn download(
    s3: &S3Client,
    method: Option<&Cse<'_>>,
    bucket: &str,
    object: &str,
) -> Result<Zeroizing<Vec<u8>>, CpError> {
    let r = s3.get_object(bucket, object, &[]).await?;
    if !r.is_success() {
        return Err(s3_failure("GET", bucket, object, &r));
    }
    let meta = r.user_metadata();
    match method {
        Some(c) => {
            let envelope = envelope_of(s3, &meta, bucket, object).await?;
            decrypt(c, &envelope, &r.body).await
        }
        None => {
            refuse_ciphertext(&meta, bucket, object)?;
            Ok(Zeroizing::new(r.body.to_vec()))
        }
    }
}

/// Without a CSE key, an object carrying S3 Encryption Client metadata is refused rather than
/// written out as ciphertext.
fn refuse_ciphertext(
    meta: &BTreeMap<String, String>,
    bucket: &str,
    object: &str,
) -> Result<(), CpError> {
    match cse::format::describe(meta) {
        Some(what) => Err(CpError::Usage(format!(
            "s3://{bucket}/{object} is client-side encrypted ({what}); pass --cse-kms <key> or --cse-c <keyfile>"
        ))),
        None => Ok(()),
    }
}

/// The error of a failed HEAD, with the code a HEAD answer has no body to carry: the same
/// request as a one-byte GET says it (404 NoSuchKey, 403 AccessDenied).
async fn head_failure(s3: &S3Client, bucket: &str, object: &str, head: &S3Response) -> CpError {
    let probe = [("range".to_string(), "bytes=0-0".to_string())];
    match s3.get_object(bucket, object, &probe).await {
        Ok(r) if !r.is_success() => s3_failure("GET", bucket, object, &r),
        _ => s3_failure("HEAD", bucket, object, head),
    }
}

/// Downloads `bucket/object` to `target`: in ranges, resumably, when it is not client-side
/// encrypted; whole, in memory, to decrypt it when `method` is given. Returns the detail of
/// the result line.
async fn download_file(
    s3: &S3Client,
    method: Option<&Cse<'_>>,
    bucket: &str,
    object: &str,
    target: &Path,
) -> Result<String, CpError> {
    let checksum_mode = [("x-amz-checksum-mode".to_string(), "ENABLED".to_string())];
    let head = s3.head_object(bucket, object, &checksum_mode).await?;
    if !head.is_success() {
        return Err(head_failure(s3, bucket, object, &head).await);
    }
    if method.is_some() {
        let data = download(s3, method, bucket, object).await?;
        write_atomically(target, &data)?;
        return Ok(String::new());
    }
    refuse_ciphertext(&head.user_metadata(), bucket, object)?;
    let remote = download::Remote::from_head(&head)?;
    let d = download::download_to_file(s3, bucket, object, &remote, target).await?;
    let mut detail = format!(" in {} ranges", d.ranges);
    if d.resumed > 0 {
        detail.push_str(&format!(
            " ({} resumed from an interrupted download)",
            d.resumed
        ));
    }
    if d.restarted {
        detail.push_str(" (restarted: the object changed since the interrupted download)");
    }
    detail.push_str(&format!(", {} verified", d.verified));
    Ok(detail)
}

/// Writes `data` to `path` through a temporary file in the same directory and a rename.
fn write_atomically(path: &Path, data: &[u8]) -> Result<(), CpError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{}.sealgate-{}",
        name.unwrap_or_default(),
        uuid::Uuid::new_v4().simple()
    ));
    let io = |e| CpError::Io(path.display().to_string(), e);
    let result = std::fs::write(&tmp, data).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Runs the command; returns what to print on success.
pub(crate) async fn run(args: &CpArgs) -> Result<String, CpError> {
    let s3 = args.endpoint.s3()?;
    let kms = match &args.cse_kms {
        Some(_) => Some(args.endpoint.kms()?),
        None => None,
    };
    let customer = match &args.cse_c {
        Some(path) => Some(cse::keys::read_key_file(path)?),
        None => None,
    };
    let key = match (&kms, &args.cse_kms, &customer) {
        (Some(kms), Some(key_id), _) => Some(CseKey::Kms { kms, key_id }),
        (_, _, Some(k)) => Some(CseKey::Customer(k)),
        _ => None,
    };
    let method = key.map(|key| Cse {
        key,
        policy: args.cse_commitment_policy,
    });
    let mode = match &method {
        Some(Cse {
            key: CseKey::Kms { .. },
            ..
        }) => " (CSE-KMS, kms+context)",
        Some(Cse {
            key: CseKey::Customer(_),
            ..
        }) => " (CSE-C, AES/GCM)",
        None => "",
    };
    // Uploads name the format the policy writes.
    let written = match (&method, args.cse_commitment_policy.writes_v3()) {
        (None, _) => "",
        (Some(_), true) => " in format V3",
        (Some(_), false) => " in format V2",
    };
    match (parse_s3_url(&args.src), parse_s3_url(&args.dst)) {
        (None, Some((bucket, object))) => {
            let object = if object.is_empty() || object.ends_with('/') {
                let name = Path::new(&args.src)
                    .file_name()
                    .ok_or_else(|| CpError::Usage(format!("{}: not a file name", args.src)))?;
                format!("{object}{}", name.to_string_lossy())
            } else {
                object
            };
            let (parts, etag) =
                upload_file(&s3, method.as_ref(), &args.src, &bucket, &object).await?;
            Ok(format!(
                "upload: {} to s3://{bucket}/{object}{mode}{written}{parts}, ETag {etag}",
                args.src
            ))
        }
        (Some((bucket, object)), None) if !object.is_empty() => {
            let mut target = PathBuf::from(&args.dst);
            if target.is_dir() {
                target.push(object.rsplit('/').next().unwrap_or(&object));
            }
            let detail = download_file(&s3, method.as_ref(), &bucket, &object, &target).await?;
            Ok(format!(
                "download: s3://{bucket}/{object} to {}{mode}{detail}",
                target.display()
            ))
        }
        _ => Err(CpError::Usage(
            "exactly one of SRC and DST must be s3://bucket/key, the other a local path".into(),
        )),
    }
}

/// `sealgate cp`: prints one line on success; errors go to stderr with exit status 1.
pub(crate) fn main(args: CpArgs) -> std::process::ExitCode {
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sealgate cp: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(&args)) {
        Ok(line) => {
            println!("{line}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sealgate cp: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls() {
        assert_eq!(parse_s3_url("s3://b/k/x"), Some(("b".into(), "k/x".into())));
        assert_eq!(parse_s3_url("s3://b/"), Some(("b".into(), "".into())));
        assert_eq!(parse_s3_url("s3://b"), None);
        assert_eq!(parse_s3_url("/tmp/x"), None);
    }

    #[tokio::test]
    async fn customer_key_round_trips_in_both_formats_under_the_policies() {
        static K: [u8; 32] = [1u8; 32];
        static OTHER: [u8; 32] = [2u8; 32];
        let with = |key: &'static [u8; 32], policy| Cse {
            key: CseKey::Customer(key),
            policy,
        };
        let strict = with(&K, CommitmentPolicy::RequireEncryptRequireDecrypt);
        let (body, env) = encrypt(&strict, b"secret data").await.unwrap();
        assert_eq!(env.format(), "V3");
        assert_eq!(body.len(), 11 + 16);
        assert_eq!(
            decrypt(&strict, &env, &body).await.unwrap().as_slice(),
            b"secret data"
        );
        assert!(matches!(
            decrypt(&with(&OTHER, strict.policy), &env, &body).await,
            Err(CpError::Cse(CseError::WrongKey))
        ));

        let v2_writer = with(&K, CommitmentPolicy::ForbidEncryptAllowDecrypt);
        let (body, env) = encrypt(&v2_writer, b"old format").await.unwrap();
        assert_eq!(env.format(), "V2");
        // The default policy refuses the non-committing format; allow-decrypt reads it.
        let err = decrypt(&strict, &env, &body).await.unwrap_err().to_string();
        assert!(err.contains("no key commitment"), "{err}");
        let migrating = with(&K, CommitmentPolicy::RequireEncryptAllowDecrypt);
        assert_eq!(
            decrypt(&migrating, &env, &body).await.unwrap().as_slice(),
            b"old format"
        );
    }
}
