//! Key specs this KMS can create, and what each allows: its KeyUsage, its algorithms, the
//! length of its secret material. AWS ties usage to spec (AWS KMS API reference, CreateKey:
//! HMAC specs only with GENERATE_VERIFY_MAC, SYMMETRIC_DEFAULT only with ENCRYPT_DECRYPT), so
//! the spec alone is stored and the usage derived from it.

use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    SymmetricDefault,
    Hmac224,
    Hmac256,
    Hmac384,
    Hmac512,
    EccNistP256,
}

impl KeySpec {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SymmetricDefault => "SYMMETRIC_DEFAULT",
            Self::Hmac224 => "HMAC_224",
            Self::Hmac256 => "HMAC_256",
            Self::Hmac384 => "HMAC_384",
            Self::Hmac512 => "HMAC_512",
            Self::EccNistP256 => "ECC_NIST_P256",
        }
    }

    /// A spec this KMS implements; `None` for known-but-unsupported and unknown names.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "SYMMETRIC_DEFAULT" => Self::SymmetricDefault,
            "HMAC_224" => Self::Hmac224,
            "HMAC_256" => Self::Hmac256,
            "HMAC_384" => Self::Hmac384,
            "HMAC_512" => Self::Hmac512,
            "ECC_NIST_P256" => Self::EccNistP256,
            _ => return None,
        })
    }

    pub fn is_hmac(self) -> bool {
        self.mac_algorithm().is_some()
    }

    pub fn key_usage(self) -> &'static str {
        if self.is_hmac() {
            "GENERATE_VERIFY_MAC"
        } else if self.signing_algorithm().is_some() {
            "SIGN_VERIFY"
        } else {
            "ENCRYPT_DECRYPT"
        }
    }

    /// The signing algorithm of a SIGN_VERIFY spec.
    pub fn signing_algorithm(self) -> Option<&'static str> {
        match self {
            Self::EccNistP256 => Some("ECDSA_SHA_256"),
            _ => None,
        }
    }

    /// The one MAC algorithm of an HMAC spec.
    pub fn mac_algorithm(self) -> Option<&'static str> {
        match self {
            Self::SymmetricDefault | Self::EccNistP256 => None,
            Self::Hmac224 => Some("HMAC_SHA_224"),
            Self::Hmac256 => Some("HMAC_SHA_256"),
            Self::Hmac384 => Some("HMAC_SHA_384"),
            Self::Hmac512 => Some("HMAC_SHA_512"),
        }
    }

    /// Bytes of secret material: AWS generates HMAC keys as long as the digest
    /// (28/32/48/64); symmetric backing keys are AES-256; a P-256 private key is its scalar.
    pub fn material_len(self) -> usize {
        match self {
            Self::SymmetricDefault => 32,
            Self::Hmac224 => 28,
            Self::Hmac256 => 32,
            Self::Hmac384 => 48,
            Self::Hmac512 => 64,
            Self::EccNistP256 => 32,
        }
    }

    /// Spec-dependent KeyMetadata members (AWS omits the algorithm lists that do not apply).
    pub(crate) fn add_metadata(self, m: &mut Value) {
        m["KeySpec"] = json!(self.as_str());
        m["CustomerMasterKeySpec"] = json!(self.as_str());
        m["KeyUsage"] = json!(self.key_usage());
        match (self.mac_algorithm(), self.signing_algorithm()) {
            (Some(alg), _) => m["MacAlgorithms"] = json!([alg]),
            (_, Some(alg)) => m["SigningAlgorithms"] = json!([alg]),
            _ => m["EncryptionAlgorithms"] = json!(["SYMMETRIC_DEFAULT"]),
        }
    }
}
