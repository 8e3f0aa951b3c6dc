//! Key specs and key usages this KMS can create, and what each pair allows: its algorithms and
//! the length of its secret material. AWS ties usage to spec (AWS KMS API reference, CreateKey):
//! SYMMETRIC_DEFAULT only with ENCRYPT_DECRYPT, HMAC specs only with GENERATE_VERIFY_MAC, RSA
//! with ENCRYPT_DECRYPT or SIGN_VERIFY, the NIST curves with SIGN_VERIFY or KEY_AGREEMENT, and
//! secp256k1 only with SIGN_VERIFY. Both are stored; the algorithms derive from the pair.

use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    SymmetricDefault,
    Hmac224,
    Hmac256,
    Hmac384,
    Hmac512,
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EccNistP256,
    EccNistP384,
    EccNistP521,
    EccSecgP256k1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUsage {
    EncryptDecrypt,
    SignVerify,
    GenerateVerifyMac,
    KeyAgreement,
}

const RSA_SIGNING: &[&str] = &[
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
];
pub(crate) const RSA_ENCRYPTION: &[&str] = &["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"];

impl KeyUsage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EncryptDecrypt => "ENCRYPT_DECRYPT",
            Self::SignVerify => "SIGN_VERIFY",
            Self::GenerateVerifyMac => "GENERATE_VERIFY_MAC",
            Self::KeyAgreement => "KEY_AGREEMENT",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ENCRYPT_DECRYPT" => Self::EncryptDecrypt,
            "SIGN_VERIFY" => Self::SignVerify,
            "GENERATE_VERIFY_MAC" => Self::GenerateVerifyMac,
            "KEY_AGREEMENT" => Self::KeyAgreement,
            _ => return None,
        })
    }
}

impl KeySpec {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SymmetricDefault => "SYMMETRIC_DEFAULT",
            Self::Hmac224 => "HMAC_224",
            Self::Hmac256 => "HMAC_256",
            Self::Hmac384 => "HMAC_384",
            Self::Hmac512 => "HMAC_512",
            Self::Rsa2048 => "RSA_2048",
            Self::Rsa3072 => "RSA_3072",
            Self::Rsa4096 => "RSA_4096",
            Self::EccNistP256 => "ECC_NIST_P256",
            Self::EccNistP384 => "ECC_NIST_P384",
            Self::EccNistP521 => "ECC_NIST_P521",
            Self::EccSecgP256k1 => "ECC_SECG_P256K1",
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
            "RSA_2048" => Self::Rsa2048,
            "RSA_3072" => Self::Rsa3072,
            "RSA_4096" => Self::Rsa4096,
            "ECC_NIST_P256" => Self::EccNistP256,
            "ECC_NIST_P384" => Self::EccNistP384,
            "ECC_NIST_P521" => Self::EccNistP521,
            "ECC_SECG_P256K1" => Self::EccSecgP256k1,
            _ => return None,
        })
    }

    pub fn is_hmac(self) -> bool {
        self.mac_algorithm().is_some()
    }

    /// RSA and ECC specs: a private key that stays here and a public key anyone may have.
    pub fn is_asymmetric(self) -> bool {
        self.rsa_bits().is_some() || self.is_ecc()
    }

    pub fn is_ecc(self) -> bool {
        matches!(
            self,
            Self::EccNistP256 | Self::EccNistP384 | Self::EccNistP521 | Self::EccSecgP256k1
        )
    }

    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            Self::Rsa2048 => Some(2048),
            Self::Rsa3072 => Some(3072),
            Self::Rsa4096 => Some(4096),
            _ => None,
        }
    }

    /// The usages AWS allows for this spec, the first being what an older store (which kept
    /// only the spec) meant.
    pub fn usages(self) -> &'static [KeyUsage] {
        use KeyUsage::*;
        match self {
            Self::SymmetricDefault => &[EncryptDecrypt],
            Self::Hmac224 | Self::Hmac256 | Self::Hmac384 | Self::Hmac512 => &[GenerateVerifyMac],
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => &[EncryptDecrypt, SignVerify],
            Self::EccNistP256 | Self::EccNistP384 | Self::EccNistP521 => {
                &[SignVerify, KeyAgreement]
            }
            Self::EccSecgP256k1 => &[SignVerify],
        }
    }

    pub fn default_usage(self) -> KeyUsage {
        self.usages()[0]
    }

    /// The signing algorithms of this spec as a SIGN_VERIFY key (AWS pairs each curve with the
    /// digest of its size; secp256k1 with SHA-256).
    pub fn signing_algorithms(self) -> &'static [&'static str] {
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => RSA_SIGNING,
            Self::EccNistP256 | Self::EccSecgP256k1 => &["ECDSA_SHA_256"],
            Self::EccNistP384 => &["ECDSA_SHA_384"],
            Self::EccNistP521 => &["ECDSA_SHA_512"],
            _ => &[],
        }
    }

    /// The one MAC algorithm of an HMAC spec.
    pub fn mac_algorithm(self) -> Option<&'static str> {
        match self {
            Self::Hmac224 => Some("HMAC_SHA_224"),
            Self::Hmac256 => Some("HMAC_SHA_256"),
            Self::Hmac384 => Some("HMAC_SHA_384"),
            Self::Hmac512 => Some("HMAC_SHA_512"),
            _ => None,
        }
    }

    /// Bytes of secret material of the specs whose material is a fixed-length secret: AWS
    /// generates HMAC keys as long as the digest (28/32/48/64); symmetric backing keys are
    /// AES-256; an ECC private key is its scalar (field-sized). RSA keys are PKCS#8 DER.
    pub fn material_len(self) -> usize {
        match self {
            Self::SymmetricDefault => 32,
            Self::Hmac224 => 28,
            Self::Hmac256 => 32,
            Self::Hmac384 => 48,
            Self::Hmac512 => 64,
            Self::EccNistP256 | Self::EccSecgP256k1 => 32,
            Self::EccNistP384 => 48,
            Self::EccNistP521 => 66,
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => 0,
        }
    }
}

/// The algorithm lists of a key (KeyMetadata, GetPublicKey): AWS includes only the list its
/// usage has.
pub(crate) fn add_algorithms(spec: KeySpec, usage: KeyUsage, m: &mut Value) {
    match usage {
        KeyUsage::GenerateVerifyMac => m["MacAlgorithms"] = json!([spec.mac_algorithm()]),
        KeyUsage::SignVerify => m["SigningAlgorithms"] = json!(spec.signing_algorithms()),
        KeyUsage::KeyAgreement => m["KeyAgreementAlgorithms"] = json!(["ECDH"]),
        KeyUsage::EncryptDecrypt if spec.is_asymmetric() => {
            m["EncryptionAlgorithms"] = json!(RSA_ENCRYPTION)
        }
        KeyUsage::EncryptDecrypt => m["EncryptionAlgorithms"] = json!(["SYMMETRIC_DEFAULT"]),
    }
}

/// Spec-dependent KeyMetadata members.
pub(crate) fn add_metadata(spec: KeySpec, usage: KeyUsage, m: &mut Value) {
    m["KeySpec"] = json!(spec.as_str());
    m["CustomerMasterKeySpec"] = json!(spec.as_str());
    m["KeyUsage"] = json!(usage.as_str());
    add_algorithms(spec, usage, m);
}
