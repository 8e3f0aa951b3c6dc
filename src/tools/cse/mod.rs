//! Client-side encryption (CSE) in the object layouts of AWS's S3 Encryption Client, so objects
//! written by `sealgate cp --cse-kms/--cse-c` are read by that client and the other way round,
//! and the gateway only ever sees ciphertext. Spec: docs/CSE.md.
//!
//! - [`v3`]: the key-committing V3 format (written by default);
//! - [`v2`]: the V2 format (read when the policy allows; written under
//!   `forbid-encrypt-allow-decrypt`);
//! - [`format`]: telling the formats apart, instruction files, the commitment policy;
//! - [`keys`]: data-key wrapping (`kms+context`, `AES/GCM`) and key files;
//! - [`error`]: what can go wrong, and the size bound.
//!
//! Whole-object GCM has one tag at the end, so a reader cannot release any plaintext before the
//! whole object is verified: objects are processed in memory and capped at [`MAX_PLAINTEXT`]
//! (1 GiB). Larger files need a ranged/multipart scheme this module does not implement.

pub(crate) mod error;
pub(crate) mod format;
pub(crate) mod keys;
pub(crate) mod v2;
pub(crate) mod v3;

pub(crate) use error::{CseError, MAX_PLAINTEXT, check_size};
pub(crate) use format::{CommitmentPolicy, Detected, Envelope};
pub(crate) use keys::Wrap;
