//! Sealed start-up: the root key kept only encrypted under an unseal key split M-of-N with
//! Shamir's secret sharing, so a copy of the data directory reveals no key material.
//!
//! `sealgate kms init-shares --shares N --threshold M` draws a 256-bit unseal key, encrypts the
//! root key under it (AES-256-GCM) into `kms-root.sealed`, splits the unseal key into N shares
//! (Shamir over GF(256), the `blahaj` crate; docs/KMS.md says why that crate) printed once, and
//! removes the plaintext `kms-root.key`. A KMS that finds `kms-root.sealed` starts sealed; each
//! share presented with `sealgate kms unseal` is kept (zeroized on drop) until M distinct ones
//! are in. Then the unseal key is interpolated and the root key opened: the GCM tag proves the
//! shares were right. A wrong set (a corrupt or forged share) fails the tag, and the progress
//! is reset so the holders start again.
//!
//! The sealed file (JSON, 0600):
//! `{"format":"sealgate-sealed-root","version":1,"set_id":"<16 hex>","threshold":M,
//! "shares":N,"sealed_root":"<hex nonce ‖ ciphertext ‖ tag>"}`; the GCM AAD is
//! `sealgate-sealed-root:v1:<set_id>:<M>:<N>`, so the parameters cannot be edited.
//!
//! A share is `sealgate-share-` and the hex of: set id (8) ‖ x (1) ‖ y (32) ‖ check (4), the
//! check being the first four bytes of SHA-256 over what precedes it. The set id tells a share
//! of another data directory from a mistyped one; the check catches typing errors before they
//! cost the holders their progress.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::error::{ErrorKind, KmsError};
use super::gcm::{self, KEY_LEN};
use super::rootkey::{RootKey, RootKeyError};
use super::{Caller, KmsService, util};

/// The IAM action that lets a principal present unseal shares (the account root always may).
pub(crate) const UNSEAL_ACTION: &str = "sealgate:Unseal";

pub(crate) const SEALED_FILE_NAME: &str = "kms-root.sealed";
const FORMAT: &str = "sealgate-sealed-root";
const VERSION: u32 = 1;
const SHARE_PREFIX: &str = "sealgate-share-";
const SET_ID_LEN: usize = 8;
const CHECK_LEN: usize = 4;
const SHARE_LEN: usize = SET_ID_LEN + 1 + KEY_LEN + CHECK_LEN;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedFile {
    format: String,
    version: u32,
    set_id: String,
    threshold: u8,
    shares: u8,
    sealed_root: String,
}

/// The root key as stored in sealed mode, with the share parameters.
#[derive(Debug)]
pub(crate) struct SealedRoot {
    set_id: [u8; SET_ID_LEN],
    threshold: u8,
    shares: u8,
    sealed: Vec<u8>,
}

impl SealedRoot {
    fn aad(set_id: &[u8; SET_ID_LEN], threshold: u8, shares: u8) -> Vec<u8> {
        format!(
            "{FORMAT}:v{VERSION}:{}:{threshold}:{shares}",
            hex::encode(set_id)
        )
        .into_bytes()
    }

    /// The sealed root at `path`; `Ok(None)` when there is none (the KMS is not in sealed mode).
    pub(crate) fn load(path: &Path) -> Result<Option<Self>, RootKeyError> {
        let bad = |why: String| RootKeyError::Sealed(path.to_path_buf(), why);
        let raw = match std::fs::read(path) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(bad(e.to_string())),
        };
        let file: SealedFile = serde_json::from_slice(&raw).map_err(|e| bad(e.to_string()))?;
        if file.format != FORMAT || file.version != VERSION {
            return Err(bad(format!(
                "unknown format {:?} version {}",
                file.format, file.version
            )));
        }
        let mut set_id = [0u8; SET_ID_LEN];
        hex::decode_to_slice(&file.set_id, &mut set_id).map_err(|e| bad(e.to_string()))?;
        let sealed = hex::decode(&file.sealed_root).map_err(|e| bad(e.to_string()))?;
        if !(1..=file.shares).contains(&file.threshold) {
            return Err(bad(
                "threshold must be between 1 and the number of shares".into()
            ));
        }
        Ok(Some(Self {
            set_id,
            threshold: file.threshold,
            shares: file.shares,
            sealed,
        }))
    }

    pub(crate) fn threshold(&self) -> u8 {
        self.threshold
    }
}

/// Where the shares of [`init`] go, and how many of them open the root key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShareParams {
    pub(crate) shares: u8,
    pub(crate) threshold: u8,
}

impl ShareParams {
    pub(crate) fn new(shares: u8, threshold: u8) -> Result<Self, String> {
        if shares == 0 || threshold == 0 || threshold > shares {
            return Err(format!(
                "--threshold ({threshold}) must be between 1 and --shares ({shares})"
            ));
        }
        Ok(Self { shares, threshold })
    }
}

/// Puts the KMS in `kms_dir` into sealed mode: the root key (the existing `kms-root.key`, or a
/// new one) is written encrypted to `kms-root.sealed` and the plaintext file removed. Returns
/// the shares, to be printed once and handed to their holders.
pub(crate) fn init(
    kms_dir: &Path,
    params: ShareParams,
) -> Result<Vec<Zeroizing<String>>, RootKeyError> {
    let sealed_path = kms_dir.join(SEALED_FILE_NAME);
    let plain_path = kms_dir.join(super::rootkey::DEFAULT_FILE_NAME);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RootKeyError::Io { path, source }
    };
    if sealed_path.exists() {
        return Err(RootKeyError::Sealed(
            sealed_path,
            "already exists: this KMS is in sealed mode already".into(),
        ));
    }
    crate::fsutil::create_private_dir_all(kms_dir).map_err(io(kms_dir))?;
    let root = if plain_path.exists() {
        RootKey::load(&plain_path)?
    } else {
        RootKey::generate()
    };
    let set_id: [u8; SET_ID_LEN] = gcm::random_array();
    let unseal_key = gcm::random_key();
    let aad = SealedRoot::aad(&set_id, params.threshold, params.shares);
    let file = SealedFile {
        format: FORMAT.into(),
        version: VERSION,
        set_id: hex::encode(set_id),
        threshold: params.threshold,
        shares: params.shares,
        sealed_root: hex::encode(root.wrap(&unseal_key, &aad)),
    };
    let json = serde_json::to_vec_pretty(&file).map_err(|e| io(&sealed_path)(e.into()))?;
    crate::fsutil::write_private(&sealed_path, &json).map_err(io(&sealed_path))?;
    let shares = blahaj::Sharks(params.threshold)
        .dealer(unseal_key.as_ref())
        .take(params.shares as usize)
        .map(|share| encode_share(&set_id, &share))
        .collect();
    if plain_path.exists() {
        destroy(&plain_path).map_err(io(&plain_path))?;
    }
    Ok(shares)
}

/// Overwrites the plaintext root key with zeros before unlinking it (a plain unlink leaves the
/// bytes in free blocks on most filesystems; copies and backups are the operator's to destroy).
fn destroy(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let len = std::fs::metadata(path)?.len() as usize;
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(&vec![0u8; len])?;
    f.sync_all()?;
    drop(f);
    std::fs::remove_file(path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn check(bytes: &[u8]) -> [u8; CHECK_LEN] {
    let digest = Sha256::new()
        .chain_update(SHARE_PREFIX)
        .chain_update(bytes)
        .finalize();
    let mut out = [0u8; CHECK_LEN];
    out.copy_from_slice(&digest[..CHECK_LEN]);
    out
}

fn encode_share(set_id: &[u8; SET_ID_LEN], share: &blahaj::Share) -> Zeroizing<String> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(SHARE_LEN));
    bytes.extend_from_slice(set_id);
    bytes.extend_from_slice(&Zeroizing::new(Vec::from(share)));
    let sum = check(&bytes);
    bytes.extend_from_slice(&sum);
    Zeroizing::new(format!("{SHARE_PREFIX}{}", hex::encode(&bytes[..])))
}

/// Why a presented share was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ShareError {
    #[error("this is not a sealgate unseal share (expected {SHARE_PREFIX}<90 hex digits>)")]
    Malformed,
    #[error("the share is mistyped: its check digits do not match")]
    BadCheck,
    #[error("the share belongs to another KMS (share set {0}, this KMS uses {1})")]
    OtherSet(String, String),
    #[error("this share was presented already ({0} of {1} shares presented)")]
    Duplicate(usize, u8),
    #[error(
        "the {0} shares presented do not open the root key (one of them is wrong); \
         progress reset: present {0} correct shares again"
    )]
    WrongSet(u8),
}

/// One parsed share: x ‖ y, zeroized on drop.
struct Share {
    bytes: Zeroizing<Vec<u8>>,
}

impl Share {
    fn x(&self) -> u8 {
        self.bytes[0]
    }
}

fn parse_share(text: &str, set_id: &[u8; SET_ID_LEN]) -> Result<Share, ShareError> {
    let hex_part = text
        .trim()
        .strip_prefix(SHARE_PREFIX)
        .ok_or(ShareError::Malformed)?;
    let mut raw = Zeroizing::new([0u8; SHARE_LEN]);
    hex::decode_to_slice(hex_part, raw.as_mut()).map_err(|_| ShareError::Malformed)?;
    let (body, sum) = raw.split_at(SHARE_LEN - CHECK_LEN);
    if check(body) != sum {
        return Err(ShareError::BadCheck);
    }
    if body[..SET_ID_LEN] != set_id[..] {
        return Err(ShareError::OtherSet(
            hex::encode(&body[..SET_ID_LEN]),
            hex::encode(set_id),
        ));
    }
    Ok(Share {
        bytes: Zeroizing::new(body[SET_ID_LEN..].to_vec()),
    })
}

/// What presenting one share led to.
pub(crate) enum Progress {
    /// Still sealed: `presented` of `threshold` shares are in.
    Sealed { presented: usize, threshold: u8 },
    /// The shares opened the root key.
    Opened(RootKey),
}

/// The shares presented so far to a sealed KMS.
pub(crate) struct Unsealer {
    root: SealedRoot,
    presented: Vec<Share>,
}

impl Unsealer {
    pub(crate) fn new(root: SealedRoot) -> Self {
        Self {
            root,
            presented: Vec::new(),
        }
    }

    /// `(presented, threshold)`.
    pub(crate) fn progress(&self) -> (usize, u8) {
        (self.presented.len(), self.root.threshold())
    }

    /// Takes one share. With the threshold reached, rebuilds the unseal key and opens the root
    /// key; a set that does not open it is refused and forgotten.
    pub(crate) fn present(&mut self, text: &str) -> Result<Progress, ShareError> {
        let share = parse_share(text, &self.root.set_id)?;
        if self.presented.iter().any(|s| s.x() == share.x()) {
            return Err(ShareError::Duplicate(
                self.presented.len(),
                self.root.threshold,
            ));
        }
        self.presented.push(share);
        if self.presented.len() < self.root.threshold as usize {
            return Ok(Progress::Sealed {
                presented: self.presented.len(),
                threshold: self.root.threshold,
            });
        }
        let shares: Vec<blahaj::Share> = std::mem::take(&mut self.presented)
            .iter()
            .filter_map(|s| blahaj::Share::try_from(&s.bytes[..]).ok())
            .collect();
        let secret = blahaj::Sharks(self.root.threshold)
            .recover(&shares)
            .map(Zeroizing::new)
            .map_err(|_| ShareError::WrongSet(self.root.threshold))?;
        let key: Option<Zeroizing<[u8; KEY_LEN]>> = (secret.len() == KEY_LEN).then(|| {
            let mut k = Zeroizing::new([0u8; KEY_LEN]);
            k.copy_from_slice(&secret);
            k
        });
        let aad = SealedRoot::aad(&self.root.set_id, self.root.threshold, self.root.shares);
        key.and_then(|k| RootKey::unwrap(&k, &aad, &self.root.sealed))
            .map(Progress::Opened)
            .ok_or(ShareError::WrongSet(self.root.threshold))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnsealRequest {
    #[serde(rename = "Share")]
    share: Option<String>,
}

impl KmsService {
    /// `Sealgate.Unseal`: one share towards opening the root key. Audited (never the share)
    /// like every call; the answer says how far the unseal is.
    pub(crate) fn unseal(
        &self,
        caller: &Caller,
        request_id: &str,
        body: &[u8],
    ) -> Result<Value, KmsError> {
        let source = self.api_source(caller);
        self.run_call("Unseal", caller, source, request_id, |svc, call| {
            svc.authorize_account_action(call, UNSEAL_ACTION)?;
            let req: UnsealRequest = util::parse(body)?;
            let share = Zeroizing::new(req.share.ok_or_else(|| KmsError::missing("share"))?);
            svc.present_share(&share)
        })
    }

    fn present_share(&self, share: &str) -> Result<Value, KmsError> {
        let answer = |sealed: bool, presented: usize, threshold: u8| json!({"Sealed": sealed, "SharesPresented": presented, "SharesRequired": threshold});
        let mut guard = self
            .inner
            .unsealer
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let Some(unsealer) = guard.as_mut() else {
            return Ok(answer(false, 0, 0));
        };
        let threshold = unsealer.progress().1;
        match unsealer.present(share) {
            Ok(Progress::Sealed {
                presented,
                threshold,
            }) => {
                tracing::info!(presented, threshold, "KMS unseal share accepted");
                Ok(answer(true, presented, threshold))
            }
            Ok(Progress::Opened(root)) => {
                self.install_root(root)
                    .map_err(|e| KmsError::internal(format!("unsealed, but {e}")))?;
                *guard = None;
                tracing::info!("KMS unsealed");
                Ok(answer(false, threshold as usize, threshold))
            }
            Err(e) => {
                tracing::warn!(error = %e, "KMS unseal share refused");
                let kind = match e {
                    ShareError::WrongSet(_) | ShareError::OtherSet(..) => {
                        ErrorKind::IncorrectKeyMaterial
                    }
                    _ => ErrorKind::Validation,
                };
                Err(KmsError::new(kind, e.to_string()))
            }
        }
    }
}

/// `<kms dir>/kms-root.sealed`.
pub(crate) fn sealed_path(kms_dir: &Path) -> PathBuf {
    kms_dir.join(SEALED_FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed_dir(n: u8, m: u8) -> (tempfile::TempDir, Vec<Zeroizing<String>>) {
        let dir = tempfile::tempdir().unwrap();
        let shares = init(dir.path(), ShareParams::new(n, m).unwrap()).unwrap();
        (dir, shares)
    }

    fn unsealer(dir: &Path) -> Unsealer {
        Unsealer::new(SealedRoot::load(&sealed_path(dir)).unwrap().unwrap())
    }

    #[test]
    fn any_threshold_of_shares_opens_the_converted_root_key() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join(super::super::rootkey::DEFAULT_FILE_NAME);
        let before = RootKey::load_or_create(&plain).unwrap();
        let sealed = before.seal(b"row", b"backing key");
        let shares = init(dir.path(), ShareParams::new(5, 3).unwrap()).unwrap();
        assert!(!plain.exists(), "the plaintext root key is gone");
        assert_eq!(shares.len(), 5);
        for pick in [[0, 1, 2], [4, 2, 0], [1, 3, 4]] {
            let mut u = unsealer(dir.path());
            for (i, &s) in pick.iter().enumerate() {
                match u.present(&shares[s]).unwrap() {
                    Progress::Sealed { presented, .. } => assert_eq!(presented, i + 1),
                    Progress::Opened(root) => {
                        assert_eq!(i, 2);
                        assert_eq!(&root.open(b"row", &sealed).unwrap()[..], b"backing key");
                    }
                }
            }
        }
        assert!(matches!(
            init(dir.path(), ShareParams::new(2, 1).unwrap()),
            Err(RootKeyError::Sealed(..))
        ));
    }

    #[test]
    fn bad_shares_are_refused_and_a_wrong_set_resets_progress() {
        let (dir, shares) = sealed_dir(3, 2);
        let (_other, foreign) = sealed_dir(3, 2);
        let mut u = unsealer(dir.path());
        assert_eq!(u.present("hello").err(), Some(ShareError::Malformed));
        assert!(matches!(
            u.present(&foreign[0]),
            Err(ShareError::OtherSet(..))
        ));
        // One flipped hex digit in y: the check digits catch it.
        let mut typo = shares[0].to_string();
        let i = SHARE_PREFIX.len() + 2 * SET_ID_LEN + 4;
        let flipped = if &typo[i..=i] == "0" { "1" } else { "0" };
        typo.replace_range(i..=i, flipped);
        assert_eq!(u.present(&typo).err(), Some(ShareError::BadCheck));
        assert!(matches!(u.present(&shares[0]), Ok(Progress::Sealed { .. })));
        assert_eq!(
            u.present(&shares[0]).err(),
            Some(ShareError::Duplicate(1, 2))
        );
        // A forged share with valid check digits: the GCM tag refuses the key it yields.
        let mut raw = hex::decode(shares[1].strip_prefix(SHARE_PREFIX).unwrap()).unwrap();
        raw[SET_ID_LEN + 1] ^= 1;
        let sum = check(&raw[..SHARE_LEN - CHECK_LEN]);
        raw[SHARE_LEN - CHECK_LEN..].copy_from_slice(&sum);
        let forged = format!("{SHARE_PREFIX}{}", hex::encode(&raw));
        assert_eq!(u.present(&forged).err(), Some(ShareError::WrongSet(2)));
        assert_eq!(u.progress(), (0, 2), "progress reset");
        assert!(matches!(u.present(&shares[2]), Ok(Progress::Sealed { .. })));
        assert!(matches!(u.present(&shares[1]), Ok(Progress::Opened(_))));
    }

    #[test]
    fn parameters_are_checked_and_bound_to_the_file() {
        assert!(ShareParams::new(2, 3).is_err());
        assert!(ShareParams::new(0, 0).is_err());
        let (dir, shares) = sealed_dir(3, 2);
        let path = sealed_path(dir.path());
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("\"threshold\": 2", "\"threshold\": 1")).unwrap();
        let mut u = unsealer(dir.path());
        assert_eq!(
            u.present(&shares[0]).err(),
            Some(ShareError::WrongSet(1)),
            "an edited threshold fails the tag"
        );
    }
}
