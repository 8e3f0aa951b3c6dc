//! The HTTPS identity of the gateway: a certificate from the operator, or one we generate.
//!
//! A generated identity is a small private CA plus a leaf signed by it, both persisted in the
//! data dir. Clients trust `ca.pem` (`AWS_CA_BUNDLE`); the leaf alone would not do, because
//! rustls-based clients (the AWS Rust SDK) refuse a CA certificate used as an end entity.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("TLS file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("generating the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("{0}")]
    Invalid(String),
}

/// Where the persisted identity lives.
pub(crate) struct TlsPaths {
    pub(crate) ca: PathBuf,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

impl TlsPaths {
    pub(crate) fn in_dir(dir: &Path) -> TlsPaths {
        TlsPaths {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

/// Loads the identity from `paths`, generating it first when absent.
pub(crate) fn load_or_generate(paths: &TlsPaths) -> Result<Arc<ServerConfig>, TlsError> {
    if !paths.cert.exists() || !paths.key.exists() {
        generate(paths)?;
    }
    server_config(&paths.cert, &paths.key)
}

fn generate(paths: &TlsPaths) -> Result<(), TlsError> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "sealgate local CA");
    ca_params.distinguished_name = dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;

    let leaf_key = KeyPair::generate()?;
    let mut leaf_params = CertificateParams::new(vec![
        "localhost".to_string(),
        "*.localhost".to_string(),
        "s3.localhost".to_string(),
        "*.s3.localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "sealgate");
    leaf_params.distinguished_name = dn;
    let leaf = leaf_params.signed_by(&leaf_key, &ca)?;

    write(&paths.ca, ca.pem().as_bytes())?;
    write(
        &paths.cert,
        format!("{}{}", leaf.pem(), ca.pem()).as_bytes(),
    )?;
    write(&paths.key, leaf_key.serialize_pem().as_bytes())?;
    Ok(())
}

/// Writes one generated file; all of them 0600 (the CA certificate is public, but it lives in
/// the data dir, where everything is owner-only).
fn write(path: &Path, data: &[u8]) -> Result<(), TlsError> {
    let io = |source| TlsError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        crate::fsutil::create_private_dir_all(dir).map_err(io)?;
    }
    crate::fsutil::write_private(path, data).map_err(io)
}

fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Io {
            path: path.to_owned(),
            source,
        })
    };
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &read(cert)?[..])
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Io {
            path: cert.to_owned(),
            source,
        })?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &read(key)?[..])
        .map_err(|source| TlsError::Io {
            path: key.to_owned(),
            source,
        })?
        .ok_or_else(|| TlsError::Invalid(format!("no private key in {}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_identity_persists_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let paths = TlsPaths::in_dir(dir.path());
        load_or_generate(&paths).unwrap();
        let first = std::fs::read(&paths.cert).unwrap();
        load_or_generate(&paths).unwrap();
        assert_eq!(
            first,
            std::fs::read(&paths.cert).unwrap(),
            "reused, not regenerated"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&paths.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let ca = std::fs::read_to_string(&paths.ca).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
