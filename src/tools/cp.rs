//! `sealgate cp`: copy a file to or from the gateway, optionally with client-side encryption
//! (`--cse-kms <key>` or `--cse-c <keyfile>`, format in [`crate::tools::cse`]). With CSE the gateway
//! receives and returns only ciphertext; the data key comes from the KMS (`GenerateDataKey` /
//! `Decrypt`, signed with the caller's own credential) or is wrapped under the user's key file.
//!
//! Downloads decrypt and verify the whole object in memory before anything is written, then
//! write a temporary file beside the target and rename it: a wrong key or a changed object
//! leaves no output file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use zeroize::Zeroizing;

use crate::kms::remote::RemoteKms;
use crate::kms::{Caller, Kms, KmsClientError, Source};
use crate::tools::client::s3::{S3Client, S3ClientError, S3Response};
use crate::tools::client::settings::{EndpointArgs, SettingsError};
use crate::tools::cse::{self, CseError, Envelope, Wrap};

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
}

/// The key material of a client-side encryption method.
pub(crate) enum CseKey<'a> {
    /// `kms+context` with a KMS key (id, ARN or alias).
    Kms { kms: &'a RemoteKms, key_id: &'a str },
    /// `AES/GCM` under the user's 256-bit key.
    Customer(&'a [u8; 32]),
}

/// The caller and source the [`Kms`] trait asks for; a remote KMS authenticates the request
/// signature instead, so these are placeholders.
fn remote_caller() -> (Caller, Source) {
    (
        Caller {
            arn: String::new(),
            account: String::new(),
            identity_policy: None,
        },
        Source::KmsApi,
    )
}

/// Encrypts `plaintext`: the object body and the envelope to store as metadata.
pub(crate) async fn encrypt(
    key: &CseKey<'_>,
    plaintext: &[u8],
) -> Result<(Vec<u8>, Envelope), CpError> {
    cse::check_size(plaintext.len() as u64)?;
    let iv = cse::new_iv();
    let (cek, wrap, wrapped_key, matdesc) = match key {
        CseKey::Kms { kms, key_id } => {
            let context = cse::kms_context();
            let (caller, source) = remote_caller();
            let dk = kms
                .generate_data_key(key_id, &context, &caller, &source)
                .await?;
            (dk.plaintext, Wrap::Kms, dk.ciphertext_blob, context)
        }
        CseKey::Customer(kek) => {
            let cek = cse::new_cek();
            let wrapped = cse::wrap_aes_gcm(kek, &cek);
            (cek, Wrap::AesGcm, wrapped, BTreeMap::new())
        }
    };
    let body = cse::encrypt_content(&cek, &iv, plaintext);
    let envelope = Envelope {
        wrap,
        wrapped_key,
        iv,
        matdesc,
        plaintext_len: plaintext.len() as u64,
    };
    Ok((body, envelope))
}

/// Decrypts an object body given its user metadata; the key must match the envelope's kind.
pub(crate) async fn decrypt(
    key: &CseKey<'_>,
    user_meta: &BTreeMap<String, String>,
    body: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CpError> {
    let envelope = Envelope::from_metadata(user_meta)?;
    if body.len() as u64 > cse::MAX_PLAINTEXT + 16 {
        return Err(CseError::TooLarge(body.len() as u64).into());
    }
    let cek = match (key, &envelope.wrap) {
        (CseKey::Kms { kms, key_id }, Wrap::Kms) => {
            let context = envelope.kms_context()?;
            let (caller, source) = remote_caller();
            let plain = kms
                .decrypt(
                    &envelope.wrapped_key,
                    context,
                    Some(key_id),
                    &caller,
                    &source,
                )
                .await?;
            cse::cek_from(&plain.plaintext)
                .ok_or_else(|| CseError::BadMetadata("the KMS data key is not 256 bits".into()))?
        }
        (CseKey::Customer(kek), Wrap::AesGcm) => cse::unwrap_aes_gcm(kek, &envelope.wrapped_key)?,
        (_, wrap) => {
            return Err(CpError::Usage(format!(
                "the object's key is wrapped with {}; use {}",
                wrap.name(),
                match wrap {
                    Wrap::Kms => "--cse-kms <key>",
                    Wrap::AesGcm => "--cse-c <keyfile>",
                }
            )));
        }
    };
    let plain = cse::decrypt_content(&cek, &envelope.iv, body)?;
    if user_meta.contains_key(cse::META_PLAIN_LEN) && plain.len() as u64 != envelope.plaintext_len {
        return Err(CseError::BadMetadata(
            "x-amz-unencrypted-content-length does not match the content".into(),
        )
        .into());
    }
    Ok(plain)
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

/// Uploads `plaintext` (encrypted first when `key` is given); returns the PUT answer.
pub(crate) async fn upload(
    s3: &S3Client,
    key: Option<&CseKey<'_>>,
    plaintext: &[u8],
    bucket: &str,
    object: &str,
) -> Result<S3Response, CpError> {
    let (body, headers) = match key {
        Some(k) => {
            let (body, env) = encrypt(k, plaintext).await?;
            (body, metadata_headers(&env))
        }
        None => (plaintext.to_vec(), Vec::new()),
    };
    let r = s3
        .put_object(bucket, object, &headers, Bytes::from(body))
        .await?;
    if !r.is_success() {
        return Err(s3_failure("PUT", bucket, object, &r));
    }
    Ok(r)
}

/// Downloads an object and, when `key` is given, decrypts and verifies it.
pub(crate) async fn download(
    s3: &S3Client,
    key: Option<&CseKey<'_>>,
    bucket: &str,
    object: &str,
) -> Result<Zeroizing<Vec<u8>>, CpError> {
    let r = s3.get_object(bucket, object, &[]).await?;
    if !r.is_success() {
        return Err(s3_failure("GET", bucket, object, &r));
    }
    let meta = r.user_metadata();
    match key {
        Some(k) => decrypt(k, &meta, &r.body).await,
        None if meta.contains_key(cse::META_KEY) => Err(CpError::Usage(format!(
            "s3://{bucket}/{object} is client-side encrypted ({}); pass --cse-kms <key> or --cse-c <keyfile>",
            meta.get(cse::META_WRAP_ALG).map_or("?", String::as_str)
        ))),
        None => Ok(Zeroizing::new(r.body.to_vec())),
    }
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
        Some(path) => Some(cse::read_key_file(path)?),
        None => None,
    };
    let key = match (&kms, &args.cse_kms, &customer) {
        (Some(kms), Some(key_id), _) => Some(CseKey::Kms { kms, key_id }),
        (_, _, Some(k)) => Some(CseKey::Customer(k)),
        _ => None,
    };
    let mode = match &key {
        Some(CseKey::Kms { .. }) => " (CSE-KMS, kms+context)",
        Some(CseKey::Customer(_)) => " (CSE-C, AES/GCM)",
        None => "",
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
            let len = std::fs::metadata(&args.src)
                .map_err(|e| CpError::Io(args.src.clone(), e))?
                .len();
            if key.is_some() {
                cse::check_size(len)?;
            }
            let data = Zeroizing::new(
                std::fs::read(&args.src).map_err(|e| CpError::Io(args.src.clone(), e))?,
            );
            let r = upload(&s3, key.as_ref(), &data, &bucket, &object).await?;
            Ok(format!(
                "upload: {} to s3://{bucket}/{object}{mode}, ETag {}",
                args.src,
                r.header("etag").unwrap_or("-")
            ))
        }
        (Some((bucket, object)), None) if !object.is_empty() => {
            let mut target = PathBuf::from(&args.dst);
            if target.is_dir() {
                target.push(object.rsplit('/').next().unwrap_or(&object));
            }
            let data = download(&s3, key.as_ref(), &bucket, &object).await?;
            write_atomically(&target, &data)?;
            Ok(format!(
                "download: s3://{bucket}/{object} to {}{mode}",
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
    async fn customer_key_round_trip_and_wrong_key() {
        let k = [1u8; 32];
        let key = CseKey::Customer(&k);
        let (body, env) = encrypt(&key, b"secret data").await.unwrap();
        let meta: BTreeMap<String, String> = env.to_metadata().into_iter().collect();
        let plain = decrypt(&key, &meta, &body).await.unwrap();
        assert_eq!(plain.as_slice(), b"secret data");
        let other = [2u8; 32];
        let wrong = CseKey::Customer(&other);
        assert!(matches!(
            decrypt(&wrong, &meta, &body).await,
            Err(CpError::Cse(CseError::WrongKey))
        ));
    }
}
