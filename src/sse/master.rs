//! The SSE-S3 master key ring: versioned 256-bit keys held by the gateway.
//!
//! Versions never change once written, so objects sealed under an old version stay readable
//! after a new one becomes current. The ring is a directory of 0600 files `v<N>.key`; the
//! highest version seals new objects. The KMS takes this job over in a later stage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::RngCore;
use zeroize::Zeroizing;

pub struct MasterKeys {
    dir: PathBuf,
    keys: BTreeMap<u32, Zeroizing<[u8; 32]>>,
}

impl MasterKeys {
    /// Opens the ring in `dir`, creating version 1 when the ring is empty.
    pub fn open(dir: &Path) -> std::io::Result<MasterKeys> {
        std::fs::create_dir_all(dir)?;
        let mut keys = BTreeMap::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(version) = name
                .to_str()
                .and_then(|n| n.strip_prefix('v'))
                .and_then(|n| n.strip_suffix(".key"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let bytes = Zeroizing::new(std::fs::read(entry.path())?);
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                std::io::Error::other(format!("{} is not 32 bytes", entry.path().display()))
            })?;
            keys.insert(version, Zeroizing::new(key));
        }
        let mut ring = MasterKeys {
            dir: dir.to_owned(),
            keys,
        };
        if ring.keys.is_empty() {
            ring.rotate()?;
        }
        Ok(ring)
    }

    /// Adds a new current version.
    pub fn rotate(&mut self) -> std::io::Result<u32> {
        let version = self.keys.keys().next_back().map_or(1, |v| v + 1);
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(key.as_mut());
        crate::fsutil::write_private(&self.dir.join(format!("v{version}.key")), &*key, true)?;
        self.keys.insert(version, key);
        Ok(version)
    }

    /// The version that seals new objects, with its key.
    pub fn current(&self) -> (u32, &[u8; 32]) {
        let (v, k) = self.keys.iter().next_back().expect("ring is never empty");
        (*v, k)
    }

    pub fn get(&self, version: u32) -> Option<&[u8; 32]> {
        self.keys.get(&version).map(|k| &**k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_persist_and_old_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = MasterKeys::open(dir.path()).unwrap();
        let (v1, k1) = ring.current();
        let k1 = *k1;
        assert_eq!(v1, 1);
        assert_eq!(ring.rotate().unwrap(), 2);
        let again = MasterKeys::open(dir.path()).unwrap();
        assert_eq!(again.current().0, 2);
        assert_eq!(again.get(1).unwrap(), &k1);
        assert_ne!(again.get(2).unwrap(), &k1);
    }
}
