//! The root key: 32 bytes that seal every backing key (and import wrapping key) before it is
//! written to SQLite, so a copy of the database alone reveals no key material.
//!
//! By default the file `kms-root.key` in the data dir is created on first start (mode 0600,
//! 32 random bytes). An operator who wants to supply their own (e.g. from a secrets manager)
//! writes 32 raw bytes, or 64 hex characters, to a file readable only by the service user and
//! points `KmsConfig::root_key_path` at it. A file readable by group or others is refused.
//! Losing the root key makes every key in the store unusable; back it up separately from the
//! database.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::gcm::{self, KEY_LEN, NONCE_LEN};

pub(crate) const DEFAULT_FILE_NAME: &str = "kms-root.key";

#[derive(Debug, thiserror::Error)]
pub enum RootKeyError {
    #[error("root key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("root key file {0} must hold 32 raw bytes or 64 hex characters")]
    BadLength(PathBuf),
    #[error("root key file {0} is readable by group or others; chmod 600 it")]
    TooOpen(PathBuf),
    #[error("sealed root key file {0}: {1}")]
    Sealed(PathBuf, String),
}

/// Root key; the bytes zeroize on drop and never appear in `Debug`.
pub(crate) struct RootKey {
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(..)")
    }
}

impl RootKey {
    #[cfg(test)]
    pub(crate) fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self {
            key: Zeroizing::new(bytes),
        }
    }

    /// A fresh random key (sealed start-up creates the root key this way; it never touches
    /// the disk unencrypted).
    pub(crate) fn generate() -> Self {
        Self {
            key: gcm::random_key(),
        }
    }

    /// The root key encrypted under `wrapping` (AES-256-GCM): nonce ‖ ciphertext ‖ tag.
    pub(crate) fn wrap(&self, wrapping: &[u8; KEY_LEN], aad: &[u8]) -> Vec<u8> {
        Self {
            key: Zeroizing::new(*wrapping),
        }
        .seal(aad, self.key.as_ref())
    }

    /// Opens what [`RootKey::wrap`] made; `None` when `wrapping` or `aad` is not the one used
    /// (the GCM tag proves the key is the right one).
    pub(crate) fn unwrap(wrapping: &[u8; KEY_LEN], aad: &[u8], wrapped: &[u8]) -> Option<Self> {
        let opened = Self {
            key: Zeroizing::new(*wrapping),
        }
        .open(aad, wrapped)?;
        if opened.len() != KEY_LEN {
            return None;
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&opened);
        Some(Self { key })
    }

    /// Loads an existing key (tools such as `sealgate audit verify` must never create one).
    pub(crate) fn load(path: &Path) -> Result<Self, RootKeyError> {
        let meta = fs::metadata(path).map_err(|source| RootKeyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        check_permissions(path, &meta)?;
        let raw = Zeroizing::new(fs::read(path).map_err(|source| RootKeyError::Io {
            path: path.to_path_buf(),
            source,
        })?);
        Self::parse(&raw).ok_or_else(|| RootKeyError::BadLength(path.to_path_buf()))
    }

    /// Loads the key at `path`, creating it (0600, random) if the file does not exist.
    pub(crate) fn load_or_create(path: &Path) -> Result<Self, RootKeyError> {
        let io = |source| RootKeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        match fs::metadata(path) {
            Ok(meta) => {
                check_permissions(path, &meta)?;
                let raw = Zeroizing::new(fs::read(path).map_err(io)?);
                Self::parse(&raw).ok_or_else(|| RootKeyError::BadLength(path.to_path_buf()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = gcm::random_key();
                let mut opts = fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let mut file = opts.open(path).map_err(io)?;
                file.write_all(key.as_ref()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(Self { key })
            }
            Err(e) => Err(io(e)),
        }
    }

    fn parse(raw: &[u8]) -> Option<Self> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if raw.len() == KEY_LEN {
            key.copy_from_slice(raw);
            return Some(Self { key });
        }
        let text = std::str::from_utf8(raw).ok()?.trim();
        hex::decode_to_slice(text, key.as_mut()).ok()?;
        Some(Self { key })
    }

    /// Seals `secret`; output is nonce ‖ ciphertext ‖ tag. `aad` names what is sealed (e.g.
    /// key id + material id) so a sealed value cannot be swapped onto another row.
    pub(crate) fn seal(&self, aad: &[u8], secret: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = gcm::random_array();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&gcm::seal(&self.key, &nonce, aad, secret));
        out
    }

    /// A 32-byte key for another purpose (e.g. signing audit digests), derived with
    /// HKDF-SHA256 so the root key itself is never used outside sealing.
    pub(crate) fn derive(&self, info: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        hkdf::Hkdf::<sha2::Sha256>::new(None, self.key.as_ref())
            .expand(info, out.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        out
    }

    /// `None` when the value was not sealed by this root key under this `aad`.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN + gcm::TAG_LEN {
            return None;
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        gcm::open(&self.key, &nonce, aad, ct)
    }
}

#[cfg(unix)]
fn check_permissions(path: &Path, meta: &fs::Metadata) -> Result<(), RootKeyError> {
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(RootKeyError::TooOpen(path.to_path_buf()));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _meta: &fs::Metadata) -> Result<(), RootKeyError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_FILE_NAME);
        let a = RootKey::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let sealed = a.seal(b"k1", b"secret material");
        let b = RootKey::load_or_create(&path).unwrap();
        assert_eq!(&b.open(b"k1", &sealed).unwrap()[..], b"secret material");
        assert!(b.open(b"k2", &sealed).is_none(), "aad binds the row");
        assert_eq!(format!("{b:?}"), "RootKey(..)");
    }

    #[test]
    fn operator_supplied_hex_and_open_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.key");
        fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                RootKey::load_or_create(&path),
                Err(RootKeyError::TooOpen(_))
            ));
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        let k = RootKey::load_or_create(&path).unwrap();
        let same = RootKey::from_bytes([0xab; 32]);
        assert!(same.open(b"x", &k.seal(b"x", b"v")).is_some());
        fs::write(&path, b"short").unwrap();
        assert!(matches!(
            RootKey::load_or_create(&path),
            Err(RootKeyError::BadLength(_))
        ));
    }
}
