//! PKCS#11 backing for HSM key stores (the building block of AWS_CLOUDHSM custom key stores).
//!
//! One [`Hsm`] is one logged-in connection to one token: the module is loaded and initialised
//! once, the token found by label, and a small pool of logged-in read/write sessions kept so
//! concurrent requests do not serialise on one session. A call that fails because its session
//! is gone or no longer logged in (token reset, HSM restart) is retried once on a fresh,
//! freshly logged-in session.
//!
//! Keys are AES-256 secret keys generated inside the token (CKA_TOKEN, CKA_SENSITIVE,
//! non-extractable), named by CKA_LABEL = CKA_ID = the KMS key id so that a restart finds them
//! again. Encryption is CKM_AES_GCM with a 96-bit random IV and a 128-bit tag, done by the
//! token: key material never enters this process.
//!
//! Every call here blocks (it is a C library call); callers run it off the async reactor (the
//! KMS listener already runs each request in `spawn_blocking`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

pub const IV_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// Sessions kept open; more concurrent callers wait for one.
const POOL_SIZE: usize = 4;

/// Why an HSM call failed, in the terms AWS uses for custom key stores
/// (ConnectionErrorCode where one applies).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HsmError {
    #[error("PKCS#11 module {0} cannot be loaded: {1}")]
    Module(PathBuf, String),
    #[error("no token labelled {0:?}")]
    TokenNotFound(String),
    #[error("the token rejected the PIN")]
    InvalidCredentials,
    #[error("the token's user PIN is locked")]
    UserLockedOut,
    #[error("key {0} is not in the HSM")]
    KeyNotFound(String),
    #[error("the ciphertext did not authenticate")]
    InvalidCiphertext,
    #[error("the HSM is unreachable: {0}")]
    Unreachable(String),
    #[error("HSM error: {0}")]
    Other(String),
}

impl HsmError {
    /// The AWS ConnectionErrorCode for a failed connect.
    pub fn connection_error_code(&self) -> &'static str {
        match self {
            HsmError::InvalidCredentials => "INVALID_CREDENTIALS",
            HsmError::UserLockedOut => "USER_LOCKED_OUT",
            HsmError::TokenNotFound(_) => "CLUSTER_NOT_FOUND",
            HsmError::Module(..) | HsmError::Unreachable(_) => "NETWORK_ERRORS",
            _ => "INTERNAL_ERROR",
        }
    }
}

fn map_err(e: CkError) -> HsmError {
    match e {
        CkError::Pkcs11(rv, _) => match rv {
            RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange => {
                HsmError::InvalidCredentials
            }
            RvError::PinLocked => HsmError::UserLockedOut,
            RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange => {
                HsmError::InvalidCiphertext
            }
            RvError::DeviceRemoved
            | RvError::DeviceError
            | RvError::TokenNotPresent
            | RvError::TokenNotRecognized => HsmError::Unreachable(rv.to_string()),
            other => HsmError::Other(format!("{other:?}")),
        },
        other => HsmError::Other(other.to_string()),
    }
}

/// Errors after which a fresh logged-in session may succeed.
fn session_lost(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::UserNotLoggedIn
                | RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::SessionCount,
            _
        )
    )
}

/// A logged-in connection to one token.
pub struct Hsm {
    ctx: Pkcs11,
    slot: Slot,
    pin: Zeroizing<String>,
    pool: Mutex<Vec<Session>>,
}

impl std::fmt::Debug for Hsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hsm").field("slot", &self.slot).finish()
    }
}

impl Hsm {
    /// Loads `module`, finds the token labelled `token_label` and logs in as the user with
    /// `pin` (checked now, so a wrong PIN fails the connect rather than the first use).
    pub fn connect(module: &Path, token_label: &str, pin: &str) -> Result<Hsm, HsmError> {
        let ctx =
            Pkcs11::new(module).map_err(|e| HsmError::Module(module.into(), e.to_string()))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) => {}
            Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(map_err(e)),
        }
        let slot = ctx
            .get_slots_with_initialized_token()
            .map_err(map_err)?
            .into_iter()
            .find(|s| {
                ctx.get_token_info(*s)
                    .map(|t| t.label().trim_end() == token_label)
                    .unwrap_or(false)
            })
            .ok_or_else(|| HsmError::TokenNotFound(token_label.to_string()))?;
        let hsm = Hsm {
            ctx,
            slot,
            pin: Zeroizing::new(pin.to_string()),
            pool: Mutex::new(Vec::new()),
        };
        let session = hsm.new_session()?;
        hsm.give_back(session);
        Ok(hsm)
    }

    fn new_session(&self) -> Result<Session, HsmError> {
        let s = self.ctx.open_rw_session(self.slot).map_err(map_err)?;
        let pin = AuthPin::from(self.pin.as_str().to_string());
        match s.login(UserType::User, Some(&pin)) {
            // Login state is per token: another pooled session may have logged in already.
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(s),
            Err(e) => Err(map_err(e)),
        }
    }

    fn take(&self) -> Result<Session, HsmError> {
        let pooled = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match pooled {
            Some(s) => Ok(s),
            None => self.new_session(),
        }
    }

    fn give_back(&self, s: Session) {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_SIZE {
            pool.push(s);
        }
    }

    /// Runs `f` on a pooled session; on a lost session or login, once more on a new one.
    fn with_session<T>(&self, f: impl Fn(&Session) -> Result<T, CkError>) -> Result<T, HsmError> {
        let s = self.take()?;
        match f(&s) {
            Ok(v) => {
                self.give_back(s);
                Ok(v)
            }
            Err(e) if session_lost(&e) => {
                drop(s);
                self.pool.lock().unwrap_or_else(|e| e.into_inner()).clear();
                let s = self.new_session()?;
                let out = f(&s).map_err(map_err);
                if out.is_ok() {
                    self.give_back(s);
                }
                out
            }
            Err(e) => {
                self.give_back(s);
                Err(map_err(e))
            }
        }
    }

    /// Checks the token still answers with a logged-in session (for health and reconnects).
    pub fn ping(&self) -> Result<(), HsmError> {
        self.with_session(|s| s.get_session_info().map(|_| ()))
    }

    fn find(&self, s: &Session, key_id: &str) -> Result<Option<ObjectHandle>, CkError> {
        let found = s.find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(key_id.as_bytes().to_vec()),
            Attribute::Id(key_id.as_bytes().to_vec()),
        ])?;
        Ok(found.into_iter().next())
    }

    fn handle(&self, s: &Session, key_id: &str) -> Result<ObjectHandle, CkError> {
        self.find(s, key_id)?.ok_or(CkError::Pkcs11(
            RvError::KeyHandleInvalid,
            cryptoki::context::Function::FindObjects,
        ))
    }

    /// Generates a non-extractable AES-256 key labelled `key_id` in the token.
    pub fn generate_key(&self, key_id: &str) -> Result<(), HsmError> {
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
            Attribute::Label(key_id.as_bytes().to_vec()),
            Attribute::Id(key_id.as_bytes().to_vec()),
        ];
        self.with_session(|s| s.generate_key(&Mechanism::AesKeyGen, &template).map(|_| ()))
    }

    /// True when the token holds the key labelled `key_id`.
    pub fn has_key(&self, key_id: &str) -> Result<bool, HsmError> {
        self.with_session(|s| self.find(s, key_id).map(|h| h.is_some()))
    }

    /// Destroys the key (used when a key is deleted, and to undo a failed CreateKey).
    pub fn destroy_key(&self, key_id: &str) -> Result<(), HsmError> {
        self.with_session(|s| match self.find(s, key_id)? {
            Some(h) => s.destroy_object(h),
            None => Ok(()),
        })
    }

    /// AES-GCM in the token: returns IV ‖ ciphertext ‖ tag.
    pub fn encrypt(&self, key_id: &str, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, HsmError> {
        let iv: [u8; IV_LEN] = super::gcm::random_array();
        let ct = self
            .with_session(|s| {
                let key = self.handle(s, key_id)?;
                let mut iv = iv;
                let params = GcmParams::new(&mut iv, aad, (TAG_LEN as u64 * 8).into())?;
                s.encrypt(&Mechanism::AesGcm(params), key, plaintext)
            })
            .map_err(|e| self.key_error(e, key_id))?;
        let mut out = iv.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens what [`Hsm::encrypt`] made.
    pub fn decrypt(
        &self,
        key_id: &str,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, HsmError> {
        if sealed.len() < IV_LEN + TAG_LEN {
            return Err(HsmError::InvalidCiphertext);
        }
        let (iv, ct) = sealed.split_at(IV_LEN);
        let iv: [u8; IV_LEN] = iv.try_into().map_err(|_| HsmError::InvalidCiphertext)?;
        self.with_session(|s| {
            let key = self.handle(s, key_id)?;
            let mut iv = iv;
            let params = GcmParams::new(&mut iv, aad, (TAG_LEN as u64 * 8).into())?;
            s.decrypt(&Mechanism::AesGcm(params), key, ct)
        })
        .map(Zeroizing::new)
        .map_err(|e| match e {
            // SoftHSM answers a failed tag check with CKR_FUNCTION_FAILED / data invalid.
            HsmError::Other(_) => HsmError::InvalidCiphertext,
            other => self.key_error(other, key_id),
        })
    }

    fn key_error(&self, e: HsmError, key_id: &str) -> HsmError {
        match e {
            HsmError::Other(m) if m.contains("KeyHandleInvalid") => {
                HsmError::KeyNotFound(key_id.to_string())
            }
            other => other,
        }
    }

    /// The (CKA_SENSITIVE, CKA_EXTRACTABLE) attributes of a key, for checks and tests.
    pub fn key_flags(&self, key_id: &str) -> Result<(bool, bool), HsmError> {
        self.with_session(|s| {
            let key = self.handle(s, key_id)?;
            let attrs =
                s.get_attributes(key, &[AttributeType::Sensitive, AttributeType::Extractable])?;
            let (mut sensitive, mut extractable) = (false, true);
            for a in attrs {
                match a {
                    Attribute::Sensitive(v) => sensitive = v,
                    Attribute::Extractable(v) => extractable = v,
                    _ => {}
                }
            }
            Ok((sensitive, extractable))
        })
        .map_err(|e| self.key_error(e, key_id))
    }
}
