//! Where the CLI's clients find the gateway: flags first, then the environment variables the
//! AWS CLI and SDKs use (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_KMS`, `AWS_CA_BUNDLE`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`). Secrets come from the
//! environment only, never from flags (flags show up in `ps`).

use std::path::PathBuf;

use super::s3::{S3Client, S3ClientError};
use crate::kms::remote::RemoteKms;

#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct EndpointArgs {
    /// S3 endpoint of the gateway, e.g. https://localhost:9443.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub(crate) endpoint_url: Option<String>,
    /// KMS endpoint, e.g. https://localhost:9444 (for --cse-kms).
    #[arg(long, env = "AWS_ENDPOINT_URL_KMS")]
    pub(crate) kms_endpoint: Option<String>,
    /// CA certificate(s) to trust for HTTPS (the gateway prints its path on start).
    #[arg(long, env = "AWS_CA_BUNDLE")]
    pub(crate) ca_bundle: Option<PathBuf>,
    /// Region used in signatures.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub(crate) region: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SettingsError {
    #[error("no {0}: give {1}")]
    Missing(&'static str, &'static str),
    #[error("{0}")]
    S3(#[from] S3ClientError),
    #[error("KMS client: {0}")]
    Kms(#[from] crate::kms::remote::RemoteKmsError),
}

/// Largest S3 answer body the CLI accepts: the CSE size cap plus its tag, with room to spare.
pub(crate) const MAX_BODY: usize = (crate::tools::cse::MAX_PLAINTEXT as usize) + 64 * 1024;

/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
pub(crate) fn credentials_from_env() -> Result<(String, String), SettingsError> {
    let get = |name: &'static str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or(SettingsError::Missing(
                "credentials",
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            ))
    };
    Ok((get("AWS_ACCESS_KEY_ID")?, get("AWS_SECRET_ACCESS_KEY")?))
}

impl EndpointArgs {
    pub(crate) fn s3(&self) -> Result<S3Client, SettingsError> {
        let endpoint = self.endpoint_url.as_deref().ok_or(SettingsError::Missing(
            "S3 endpoint",
            "--endpoint-url or AWS_ENDPOINT_URL",
        ))?;
        let (ak, sk) = credentials_from_env()?;
        Ok(S3Client::new(
            endpoint,
            self.ca_bundle.as_deref(),
            &ak,
            &sk,
            &self.region,
            MAX_BODY,
        )?)
    }

    pub(crate) fn kms(&self) -> Result<RemoteKms, SettingsError> {
        let endpoint = self.kms_endpoint.as_deref().ok_or(SettingsError::Missing(
            "KMS endpoint",
            "--kms-endpoint or AWS_ENDPOINT_URL_KMS",
        ))?;
        let ca = self.ca_bundle.as_deref().ok_or(SettingsError::Missing(
            "CA bundle",
            "--ca-bundle or AWS_CA_BUNDLE",
        ))?;
        let (ak, sk) = credentials_from_env()?;
        Ok(RemoteKms::new(endpoint, ca, &ak, &sk, &self.region)?)
    }
}
