//! Where the CLI's clients find the gateway: flags first, then the environment variables the
//! AWS CLI and SDKs use (`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_KMS` before the global
//! `AWS_ENDPOINT_URL`, all ignored when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`, as the SDKs
//! do; `AWS_CA_BUNDLE`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`). Secrets come
//! from the environment only, never from flags (flags show up in `ps`).

use std::path::PathBuf;

use super::s3::{S3Client, S3ClientError};
use crate::kms::remote::RemoteKms;

#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct EndpointArgs {
    /// S3 endpoint of the gateway, e.g. https://localhost:9443 [env: AWS_ENDPOINT_URL_S3,
    /// then AWS_ENDPOINT_URL].
    #[arg(long)]
    pub(crate) endpoint_url: Option<String>,
    /// KMS endpoint, e.g. https://localhost:9444 (for --cse-kms) [env: AWS_ENDPOINT_URL_KMS,
    /// then AWS_ENDPOINT_URL].
    #[arg(long)]
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

/// The SDKs' endpoint lookup for one service: its own variable, then the global one; none of
/// them when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`. Empty values count as unset.
fn endpoint_from_env(service_var: &str, get: impl Fn(&str) -> Option<String>) -> Option<String> {
    let get = |name: &str| get(name).filter(|v| !v.is_empty());
    if get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    get(service_var).or_else(|| get("AWS_ENDPOINT_URL"))
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl EndpointArgs {
    /// The S3 endpoint: `--endpoint-url`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`.
    pub(crate) fn s3_endpoint(&self) -> Option<String> {
        self.endpoint_url
            .clone()
            .or_else(|| endpoint_from_env("AWS_ENDPOINT_URL_S3", env_var))
    }

    /// The KMS endpoint: `--kms-endpoint`, `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`.
    pub(crate) fn kms_endpoint(&self) -> Option<String> {
        self.kms_endpoint
            .clone()
            .or_else(|| endpoint_from_env("AWS_ENDPOINT_URL_KMS", env_var))
    }

    pub(crate) fn s3(&self) -> Result<S3Client, SettingsError> {
        let endpoint = self.s3_endpoint().ok_or(SettingsError::Missing(
            "S3 endpoint",
            "--endpoint-url, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL",
        ))?;
        let endpoint = endpoint.as_str();
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
        let endpoint = self.kms_endpoint().ok_or(SettingsError::Missing(
            "KMS endpoint",
            "--kms-endpoint, AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL",
        ))?;
        let ca = self.ca_bundle.as_deref().ok_or(SettingsError::Missing(
            "CA bundle",
            "--ca-bundle or AWS_CA_BUNDLE",
        ))?;
        let (ak, sk) = credentials_from_env()?;
        Ok(RemoteKms::new(&endpoint, ca, &ak, &sk, &self.region)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_variables_come_before_the_global_one_like_the_sdks() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let both = env(&[
            ("AWS_ENDPOINT_URL", "https://global"),
            ("AWS_ENDPOINT_URL_S3", "https://s3"),
        ]);
        assert_eq!(
            endpoint_from_env("AWS_ENDPOINT_URL_S3", both).as_deref(),
            Some("https://s3")
        );
        assert_eq!(
            endpoint_from_env("AWS_ENDPOINT_URL_KMS", both).as_deref(),
            Some("https://global")
        );
        let empty_service = env(&[
            ("AWS_ENDPOINT_URL", "https://global"),
            ("AWS_ENDPOINT_URL_KMS", ""),
        ]);
        assert_eq!(
            endpoint_from_env("AWS_ENDPOINT_URL_KMS", empty_service).as_deref(),
            Some("https://global")
        );
        let ignored = env(&[
            ("AWS_ENDPOINT_URL_S3", "https://s3"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ]);
        assert_eq!(endpoint_from_env("AWS_ENDPOINT_URL_S3", ignored), None);
        assert_eq!(endpoint_from_env("AWS_ENDPOINT_URL_S3", env(&[])), None);
    }
}
