//! Who may call: access-key pairs with a principal in an account (ARCHITECTURE.md §7).
//!
//! The root credential comes from `SEALGATE_ROOT_ACCESS_KEY`/`SEALGATE_ROOT_SECRET_KEY`, or is
//! generated once and persisted (0600) in the data dir; further users come from the config file.

use std::collections::HashMap;
use std::path::Path;

use rand::Rng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::Config;

/// A principal able to sign requests.
#[derive(Clone)]
pub(crate) struct User {
    pub(crate) name: String,
    pub(crate) access_key: String,
    pub(crate) secret_key: Zeroizing<String>,
    /// `arn:aws:iam::<account>:root` or `arn:aws:iam::<account>:user/<name>`.
    pub(crate) arn: String,
    pub(crate) account: String,
    /// IAM identity policy (JSON), if any.
    pub(crate) policy: Option<String>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("access_key", &self.access_key)
            .field("arn", &self.arn)
            .finish_non_exhaustive()
    }
}

/// All known users, by access key.
#[derive(Clone, Debug, Default)]
pub(crate) struct Identities {
    by_access_key: HashMap<String, User>,
    /// The access key of the gateway account's root (other accounts' roots may be configured).
    root_key: String,
}

/// A root credential generated on this start; printed once by the caller.
pub(crate) struct GeneratedRoot {
    pub(crate) access_key: String,
    pub(crate) secret_key: Zeroizing<String>,
}

#[derive(Serialize, Deserialize)]
struct RootFile {
    access_key: String,
    secret_key: String,
}

impl Identities {
    pub(crate) fn lookup(&self, access_key: &str) -> Option<&User> {
        self.by_access_key.get(access_key)
    }

    /// Builds the user table; generates and persists the root credential on first start.
    pub(crate) fn load(cfg: &Config) -> std::io::Result<(Identities, Option<GeneratedRoot>)> {
        let env_root = (
            std::env::var("SEALGATE_ROOT_ACCESS_KEY").ok(),
            std::env::var("SEALGATE_ROOT_SECRET_KEY").ok(),
        );
        let mut generated = None;
        let (ak, sk) = match env_root {
            (Some(a), Some(s)) if !a.is_empty() && !s.is_empty() => (a, Zeroizing::new(s)),
            _ => {
                let path = cfg.data_dir.join("root-credentials.json");
                match read_root(&path)? {
                    Some(r) => (r.access_key, Zeroizing::new(r.secret_key)),
                    None => {
                        let root = RootFile {
                            access_key: random_token(20, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
                            secret_key: random_token(
                                40,
                                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/",
                            ),
                        };
                        crate::fsutil::create_private_dir_all(&cfg.data_dir)?;
                        let json = Zeroizing::new(serde_json::to_vec_pretty(&root)?);
                        crate::fsutil::write_private(&path, &json)?;
                        generated = Some(GeneratedRoot {
                            access_key: root.access_key.clone(),
                            secret_key: Zeroizing::new(root.secret_key.clone()),
                        });
                        (root.access_key, Zeroizing::new(root.secret_key))
                    }
                }
            }
        };
        let mut ids = Identities {
            root_key: ak.clone(),
            ..Identities::default()
        };
        ids.insert(User {
            name: "root".into(),
            access_key: ak,
            secret_key: sk,
            arn: format!("arn:aws:iam::{}:root", cfg.account_id),
            account: cfg.account_id.clone(),
            policy: None,
        });
        for u in &cfg.users {
            let account = u
                .account_id
                .clone()
                .unwrap_or_else(|| cfg.account_id.clone());
            // `root` of another account is that account's root user (config.rs refuses a
            // second root for the gateway's own account).
            let arn = if u.name == "root" {
                format!("arn:aws:iam::{account}:root")
            } else {
                format!("arn:aws:iam::{account}:user/{}", u.name)
            };
            ids.insert(User {
                name: u.name.clone(),
                access_key: u.access_key.clone(),
                secret_key: Zeroizing::new(u.secret_key.clone()),
                arn,
                account,
                policy: u.policy.clone(),
            });
        }
        Ok((ids, generated))
    }

    /// The root principal of the gateway's own account.
    pub(crate) fn root(&self) -> Option<&User> {
        self.by_access_key
            .values()
            .find(|u| u.arn.ends_with(":root") && u.access_key == self.root_key)
    }

    pub(crate) fn insert(&mut self, user: User) {
        self.by_access_key.insert(user.access_key.clone(), user);
    }
}

fn read_root(path: &Path) -> std::io::Result<Option<RootFile>> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(std::io::Error::other)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn random_token(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}
