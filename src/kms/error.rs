//! The KMS error model. One kind per AWS exception `__type` (plus `Sealed`, a 503
//! KMSInternalException); every client error is HTTP 400 (real KMS answers 400 even where the
//! Smithy model says 404/409), server faults 500.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    AccessDenied,
    AlreadyExists,
    /// Sealgate extension: the operation needs approvals under the two-person rule.
    ApprovalRequired,
    CloudHsmClusterInUse,
    CloudHsmClusterNotFound,
    CustomKeyStoreHasCmks,
    CustomKeyStoreInvalidState,
    CustomKeyStoreNameInUse,
    CustomKeyStoreNotFound,
    Disabled,
    DryRunOperation,
    ExpiredImportToken,
    IncorrectKey,
    IncorrectKeyMaterial,
    InvalidAliasName,
    InvalidArn,
    InvalidCiphertext,
    InvalidGrantId,
    InvalidGrantToken,
    InvalidImportToken,
    InvalidKeyUsage,
    InvalidMarker,
    KmsInternal,
    KmsInvalidMac,
    KmsInvalidSignature,
    KmsInvalidState,
    LimitExceeded,
    MalformedPolicyDocument,
    NotAuthorized,
    NotFound,
    /// The KMS started sealed and has not been given enough unseal shares yet
    /// (KMSInternalException, but 503: the request may succeed once it is unsealed).
    Sealed,
    Serialization,
    Tag,
    UnknownOperation,
    UnsupportedOperation,
    Validation,
}

impl ErrorKind {
    pub fn type_name(self) -> &'static str {
        use ErrorKind::*;
        match self {
            AccessDenied => "AccessDeniedException",
            AlreadyExists => "AlreadyExistsException",
            ApprovalRequired => "ApprovalRequiredException",
            CloudHsmClusterInUse => "CloudHsmClusterInUseException",
            CloudHsmClusterNotFound => "CloudHsmClusterNotFoundException",
            CustomKeyStoreHasCmks => "CustomKeyStoreHasCMKsException",
            CustomKeyStoreInvalidState => "CustomKeyStoreInvalidStateException",
            CustomKeyStoreNameInUse => "CustomKeyStoreNameInUseException",
            CustomKeyStoreNotFound => "CustomKeyStoreNotFoundException",
            Disabled => "DisabledException",
            DryRunOperation => "DryRunOperationException",
            ExpiredImportToken => "ExpiredImportTokenException",
            IncorrectKey => "IncorrectKeyException",
            IncorrectKeyMaterial => "IncorrectKeyMaterialException",
            InvalidAliasName => "InvalidAliasNameException",
            InvalidArn => "InvalidArnException",
            InvalidCiphertext => "InvalidCiphertextException",
            InvalidGrantId => "InvalidGrantIdException",
            InvalidGrantToken => "InvalidGrantTokenException",
            InvalidImportToken => "InvalidImportTokenException",
            InvalidKeyUsage => "InvalidKeyUsageException",
            InvalidMarker => "InvalidMarkerException",
            KmsInternal => "KMSInternalException",
            KmsInvalidMac => "KMSInvalidMacException",
            KmsInvalidSignature => "KMSInvalidSignatureException",
            KmsInvalidState => "KMSInvalidStateException",
            LimitExceeded => "LimitExceededException",
            MalformedPolicyDocument => "MalformedPolicyDocumentException",
            NotAuthorized => "NotAuthorizedException",
            NotFound => "NotFoundException",
            Sealed => "KMSInternalException",
            Serialization => "SerializationException",
            Tag => "TagException",
            UnknownOperation => "UnknownOperationException",
            UnsupportedOperation => "UnsupportedOperationException",
            Validation => "ValidationException",
        }
    }
}

/// An error a KMS operation answers with. The message is safe to send to the client: it never
/// contains plaintext or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct KmsError {
    kind: ErrorKind,
    message: String,
}

impl fmt::Display for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.type_name(), self.message)
    }
}

impl KmsError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The `__type` member of the error body (and `x-amzn-ErrorType`).
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn status(&self) -> u16 {
        match self.kind {
            ErrorKind::KmsInternal => 500,
            ErrorKind::Sealed => 503,
            _ => 400,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "__type": self.type_name(), "message": self.message })
    }

    pub fn internal(what: impl fmt::Display) -> Self {
        Self::new(ErrorKind::KmsInternal, format!("internal error: {what}"))
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    /// The "1 validation error detected" form AWS uses for constraint violations.
    pub fn constraint(value: &str, member: &str, constraint: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value {value} at '{member}' failed to satisfy constraint: {constraint}"
        ))
    }

    pub fn missing(member: &str) -> Self {
        Self::constraint("null", member, "Member must not be null")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::KmsInvalidState, message)
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::UnsupportedOperation, message)
    }

    pub fn invalid_ciphertext() -> Self {
        // AWS sends an empty message so the reason (tamper vs. context mismatch) is not revealed.
        Self::new(ErrorKind::InvalidCiphertext, "")
    }
}

impl From<super::db::DbError> for KmsError {
    fn from(e: super::db::DbError) -> Self {
        Self::internal(format!("key store: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_body_and_status() {
        let e = KmsError::not_found("Key 'x' does not exist");
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.to_json(),
            serde_json::json!({"__type":"NotFoundException","message":"Key 'x' does not exist"})
        );
        assert_eq!(KmsError::internal("boom").status(), 500);
        assert_eq!(
            KmsError::invalid_ciphertext().type_name(),
            "InvalidCiphertextException"
        );
    }
}
