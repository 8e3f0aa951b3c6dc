//! The gateway's state: everything a request handler may reach, opened from a validated
//! `Config`. The serving loop that puts it on listeners is `serve`; keeping the two apart lets
//! handlers depend on the state without depending on what serves them.

use std::sync::Arc;

use crate::config::{Backend, Config};
use crate::identity::Identities;
use crate::server::tls;
use crate::sse::Crypto;
use crate::sse::master::MasterRing;
use crate::store::Store;

/// Everything a request handler may reach.
pub(crate) struct Gateway {
    pub(crate) cfg: Config,
    pub(crate) ids: Identities,
    pub(crate) store: Arc<Store>,
    pub(crate) crypto: Crypto,
    /// Prometheus metrics, served by the admin listener.
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error("data dir {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    #[error("storage: {0}")]
    Store(String),
    #[error("cannot listen on {0}: {1}")]
    Listen(std::net::SocketAddr, std::io::Error),
    #[error("{0}")]
    Unsupported(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("KMS: {0}")]
    Kms(#[from] crate::kms::KmsOpenError),
    #[error("SSE-S3 master key ring: {0}")]
    Master(#[from] crate::sse::master::MasterError),
}

impl Gateway {
    pub(crate) fn open(
        cfg: Config,
        kms: Arc<dyn crate::kms::Kms>,
    ) -> Result<(Gateway, Option<crate::identity::GeneratedRoot>), StartError> {
        let dd = |e| StartError::DataDir(cfg.data_dir.display().to_string(), e);
        crate::fsutil::create_private_dir_all(&cfg.data_dir).map_err(dd)?;
        let (ids, generated) = Identities::load(&cfg).map_err(dd)?;
        let store = open_store(&cfg)?;
        // Every KMS call the gateway makes is metered, whichever KMS it is.
        let metrics = Arc::new(crate::metrics::Metrics::new());
        metrics.watch_kms_nodes(kms.clone());
        let kms: Arc<dyn crate::kms::Kms> =
            Arc::new(crate::metrics::kms::MeteredKms::new(kms, metrics.clone()));
        // The SSE-S3 ring lives wrapped in the store; `run` loads it (and migrates a pre-KMS
        // local ring from keys/sse-s3) before serving.
        let master = MasterRing::new(
            store.clone(),
            kms.clone(),
            gateway_caller(&cfg),
            Some(cfg.data_dir.join("keys").join("sse-s3")),
        );
        Ok((
            Gateway {
                cfg,
                ids,
                store: Arc::new(store),
                crypto: Crypto::new(master, kms),
                metrics,
            },
            generated,
        ))
    }
}

/// The gateway's own identity at the KMS (for its service keys): the account root.
fn gateway_caller(cfg: &Config) -> crate::kms::Caller {
    crate::kms::Caller {
        arn: format!("arn:aws:iam::{}:root", cfg.account_id),
        account: cfg.account_id.clone(),
        identity_policy: None,
        network: None,
    }
}

/// Opens the object store the configuration names (also used read-only by `sealgate inspect`).
pub(crate) fn open_store(cfg: &Config) -> Result<Store, StartError> {
    match &cfg.backend {
        Backend::Local => Store::local_with(
            &cfg.data_dir.join("objects"),
            crate::store::LocalOptions { fsync: cfg.fsync },
        )
        .map_err(|e| StartError::Store(e.to_string())),
        // Shared with other gateways: native listing, nothing kept locally.
        Backend::Remote(spec) => Store::remote(spec).map_err(|e| StartError::Store(e.to_string())),
    }
}
