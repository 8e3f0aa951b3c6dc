//! Remote backends: building the `object_store` client for an S3-compatible service, Google
//! Cloud Storage or Azure Blob Storage from the gateway's configuration.
//!
//! Everything a backend stores is already ciphertext or an envelope record, so the backend is
//! only trusted for availability. Two choices here matter for the gateway's behaviour:
//!
//! - Timeouts. A backend that stops answering must turn into a quick 503, not a request that
//!   hangs for minutes (object_store's defaults retry for up to 3 minutes). We bound the wait
//!   for each response and each body read (`read_timeout`) instead of the whole request, so a
//!   multi-GiB GET still streams while a stalled backend is detected within the timeout; and
//!   retries stop after a few attempts within the same bound.
//! - Listing. Remote backends list in lexical key order and honour `list_with_offset`, so the
//!   store lists natively ([`super::ListingMode::Native`]) and keeps no local index: several
//!   gateways can share one bucket.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use super::StoreError;

/// Which remote service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteKind {
    /// Any S3-compatible service (AWS S3, MinIO, Ceph RGW, Garage, ...).
    S3,
    /// Google Cloud Storage; credentials from `GOOGLE_*` environment variables.
    Gcs,
    /// Azure Blob Storage; account and credentials from `AZURE_*` environment variables.
    Azure,
}

/// How long one backend response (or one read of a response body) may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A remote backend: one bucket (container), optionally a key prefix inside it.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteBackend {
    pub kind: RemoteKind,
    /// Bucket (S3, GCS) or container (Azure) name.
    pub bucket: String,
    /// Endpoint URL (S3-compatible services); `None` is the service's default (AWS, or an
    /// `AWS_ENDPOINT` / `GOOGLE_*` / `AZURE_*` variable that object_store reads).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Every path the store writes lives under this prefix (e.g. `sealgate/`), so one bucket
    /// can hold other data too.
    pub prefix: Option<String>,
    /// Access key pair for S3; `None` falls back to `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
    /// (and the rest of the AWS credential chain object_store supports).
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    /// Bound on one backend response or body read (see the module docs).
    pub timeout: Duration,
}

impl std::fmt::Debug for RemoteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret key.
        f.debug_struct("RemoteBackend")
            .field("kind", &self.kind)
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .field("access_key", &self.access_key)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RemoteBackend {
    /// An S3 backend with defaults for everything but the bucket.
    pub fn s3(bucket: impl Into<String>) -> Self {
        Self {
            kind: RemoteKind::S3,
            bucket: bucket.into(),
            endpoint: None,
            region: None,
            prefix: None,
            access_key: None,
            secret_key: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Builds the object_store client (no request is made yet).
    pub fn open(&self) -> Result<Arc<dyn ObjectStore>, StoreError> {
        let os: Arc<dyn ObjectStore> = match self.kind {
            RemoteKind::S3 => Arc::new(self.s3_builder().build().map_err(config_err)?),
            RemoteKind::Gcs => Arc::new(
                GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(&self.bucket)
                    .with_client_options(self.client_options())
                    .with_retry(self.retry())
                    .build()
                    .map_err(config_err)?,
            ),
            RemoteKind::Azure => Arc::new(
                MicrosoftAzureBuilder::from_env()
                    .with_container_name(&self.bucket)
                    .with_client_options(self.client_options())
                    .with_retry(self.retry())
                    .build()
                    .map_err(config_err)?,
            ),
        };
        match self.prefix.as_deref().map(|p| p.trim_matches('/')) {
            Some(p) if !p.is_empty() => {
                let prefix = object_store::path::Path::parse(p)
                    .map_err(|e| StoreError::InvalidName(format!("backend prefix {p:?}: {e}")))?;
                Ok(Arc::new(PrefixStore::new(os, prefix)))
            }
            _ => Ok(os),
        }
    }

    fn s3_builder(&self) -> AmazonS3Builder {
        // from_env: the standard AWS_* variables (credentials, session token, endpoint, ...)
        // apply unless the configuration names a value.
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&self.bucket)
            .with_client_options(self.client_options())
            .with_retry(self.retry());
        if let Some(region) = &self.region {
            b = b.with_region(region);
        }
        if let Some(endpoint) = &self.endpoint {
            // S3-compatible services are addressed path-style (`endpoint/bucket/key`), which
            // needs no wildcard DNS; plain http is allowed only when the URL says so.
            b = b
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let (Some(ak), Some(sk)) = (&self.access_key, &self.secret_key) {
            b = b.with_access_key_id(ak).with_secret_access_key(sk);
        }
        b
    }

    fn client_options(&self) -> ClientOptions {
        ClientOptions::new()
            .with_timeout_disabled()
            .with_read_timeout(self.timeout)
            .with_connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .with_allow_http(
                self.endpoint
                    .as_deref()
                    .is_some_and(|e| e.starts_with("http://")),
            )
    }

    fn retry(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: 3,
            retry_timeout: self.timeout,
        }
    }
}

fn config_err(e: object_store::Error) -> StoreError {
    StoreError::Backend(format!("backend configuration: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let mut b = RemoteBackend::s3("bkt");
        b.access_key = Some("AKID".into());
        b.secret_key = Some("very-secret".into());
        let shown = format!("{b:?}");
        assert!(
            shown.contains("AKID") && !shown.contains("very-secret"),
            "{shown}"
        );
    }

    #[test]
    fn s3_backend_builds_without_network() {
        let mut b = RemoteBackend::s3("bkt");
        b.endpoint = Some("http://127.0.0.1:1".into());
        b.region = Some("us-east-1".into());
        b.access_key = Some("a".into());
        b.secret_key = Some("s".into());
        b.prefix = Some("/gw/one/".into());
        let os = b.open().unwrap();
        assert!(os.to_string().contains("gw/one"), "{os}");
        b.prefix = Some("bad//prefix".into());
        assert!(matches!(b.open(), Err(StoreError::InvalidName(_))));
    }
}
