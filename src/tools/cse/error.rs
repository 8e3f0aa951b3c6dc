//! What can go wrong reading or writing a client-side encrypted object, and the size bound that
//! every format shares.

/// Largest plaintext `sealgate cp` encrypts or decrypts (whole-object GCM is done in memory).
pub(crate) const MAX_PLAINTEXT: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub(crate) enum CseError {
    #[error(
        "the object is not client-side encrypted (no S3 Encryption Client metadata: x-amz-3, x-amz-key-v2)"
    )]
    NotEncrypted,
    #[error("client-side encryption metadata: {0}")]
    BadMetadata(String),
    #[error("unsupported {0} {1:?}")]
    Unsupported(&'static str, String),
    /// A format sealgate recognises and deliberately does not read (V1, CBC, legacy wrapping).
    #[error(
        "the object is in {0}, which sealgate does not read (legacy, unauthenticated or unsupported)"
    )]
    Legacy(String),
    /// The commitment policy forbids reading a non-committing object.
    #[error(
        "the object is in the S3 Encryption Client format {format}, which has no key commitment; \
         the commitment policy {policy} refuses it (use --cse-commitment-policy \
         require-encrypt-allow-decrypt to read it)"
    )]
    PolicyRefuses {
        format: &'static str,
        policy: &'static str,
    },
    #[error(
        "the object's data key does not open with this key (wrong key, or the metadata was changed)"
    )]
    WrongKey,
    #[error(
        "key commitment check failed: the object's x-amz-d does not match its data key and \
         x-amz-i (the metadata was changed, or the object was not written with this data key)"
    )]
    CommitmentMismatch,
    #[error("the object content failed authentication (wrong key, or the object was changed)")]
    Tampered,
    #[error("{0} bytes is more than the client-side encryption limit of {MAX_PLAINTEXT} bytes")]
    TooLarge(u64),
    #[error("key file {0}: {1}")]
    KeyFile(String, String),
}

pub(crate) fn check_size(len: u64) -> Result<(), CseError> {
    if len > MAX_PLAINTEXT {
        return Err(CseError::TooLarge(len));
    }
    Ok(())
}
