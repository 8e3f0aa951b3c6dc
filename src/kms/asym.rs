//! Asymmetric key material and the primitives AWS KMS offers on it, all from RustCrypto:
//! RSA (`rsa`: RSASSA-PSS and PKCS#1 v1.5 signatures, RSAES-OAEP), ECDSA and ECDH on the NIST
//! curves (`p256`, `p384`, `p521`) and ECDSA on secp256k1 (`k256`).
//!
//! The service stores a private key as "material" sealed under the root key like a symmetric
//! backing key: an ECC key as its field-sized scalar (what the first ECC_NIST_P256 keys stored),
//! an RSA key as PKCS#8 DER. Only public keys (DER SubjectPublicKeyInfo), signatures, ciphertexts
//! and ECDH secrets leave this module — and PKCS#8 private keys for GenerateDataKeyPair, which
//! the caller encrypts at once. Every private key zeroizes on drop (RustCrypto's types do).
//!
//! Digest pairing follows AWS: the algorithm name names the hash (RSASSA_PSS_SHA_384 hashes with
//! SHA-384, PSS salt = digest length, MGF1 with the same hash; RSAES_OAEP_SHA_1 uses SHA-1 for
//! both label hash and MGF1); ECDSA signatures are DER-encoded ECDSA-Sig-Value with RFC 6979 k.

use std::convert::Infallible;

use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use super::error::KmsError;
use super::key_spec::KeySpec;

/// rand 0.9's thread RNG seen through the rand_core 0.10 traits `rsa` 0.10 expects.
pub(crate) struct CryptoRng(pub(crate) rand::rngs::ThreadRng);

impl rsa::rand_core::TryRng for CryptoRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(rand::RngCore::next_u32(&mut self.0))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(rand::RngCore::next_u64(&mut self.0))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        rand::RngCore::fill_bytes(&mut self.0, dst);
        Ok(())
    }
}

// ThreadRng is a CSPRNG (ChaCha12 seeded and periodically reseeded from the OS).
impl rsa::rand_core::TryCryptoRng for CryptoRng {}

/// Why an operation on a private key failed, for the caller to map to AWS's error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AsymError {
    /// A DIGEST message whose length is not the algorithm's digest length.
    DigestLength,
    /// A public key that is not DER SPKI on this key's curve.
    PublicKey,
    /// OAEP ciphertext that does not decrypt.
    Ciphertext,
    /// A library failure that valid input cannot cause.
    Internal(&'static str),
}

impl From<AsymError> for KmsError {
    fn from(e: AsymError) -> Self {
        match e {
            AsymError::DigestLength => KmsError::validation("Digest is invalid length."),
            AsymError::PublicKey => KmsError::validation(
                "PublicKey must be a DER-encoded X.509 SubjectPublicKeyInfo on the key's curve.",
            ),
            AsymError::Ciphertext => KmsError::invalid_ciphertext(),
            AsymError::Internal(what) => KmsError::internal(what),
        }
    }
}

pub(crate) enum PrivateKey {
    Rsa(Box<rsa::PrivateKey>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
    K256(k256::SecretKey),
}

#[derive(Clone, Copy)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// The hash an AWS algorithm name ends with (`..._SHA_256`, `..._SHA_1`).
    fn of(algorithm: &str) -> Self {
        match algorithm.rsplit('_').next() {
            Some("1") => Self::Sha1,
            Some("384") => Self::Sha384,
            Some("512") => Self::Sha512,
            _ => Self::Sha256,
        }
    }

    fn len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(message).to_vec(),
            Self::Sha256 => Sha256::digest(message).to_vec(),
            Self::Sha384 => Sha384::digest(message).to_vec(),
            Self::Sha512 => Sha512::digest(message).to_vec(),
        }
    }
}

/// Digest length a DIGEST message must have for `algorithm`.
pub(crate) fn digest_len(algorithm: &str) -> usize {
    Hash::of(algorithm).len()
}

/// Largest OAEP plaintext for a key of `bits` (RFC 8017 7.1.1: k − 2·hLen − 2), the limits in
/// AWS's table: RSA_2048 214/190, RSA_3072 342/318, RSA_4096 470/446 bytes (SHA-1/SHA-256).
pub(crate) fn max_oaep_plaintext(bits: usize, algorithm: &str) -> usize {
    bits / 8 - 2 * Hash::of(algorithm).len() - 2
}

/// Applies a macro body to the curve crate of an ECC key: `ecc!(key, c, sk => expr)` binds the
/// crate as `c` and the secret key as `sk`. The curves share every API but not one type.
macro_rules! ecc {
    ($key:expr, $c:ident, $sk:ident => $body:expr, rsa $r:ident => $rsa:expr) => {
        match $key {
            PrivateKey::Rsa($r) => $rsa,
            PrivateKey::P256($sk) => {
                #[allow(unused_imports)]
                use p256 as $c;
                $body
            }
            PrivateKey::P384($sk) => {
                #[allow(unused_imports)]
                use p384 as $c;
                $body
            }
            PrivateKey::P521($sk) => {
                #[allow(unused_imports)]
                use p521 as $c;
                $body
            }
            PrivateKey::K256($sk) => {
                #[allow(unused_imports)]
                use k256 as $c;
                $body
            }
        }
    };
}

/// ECDH of an ECC secret key with a DER SPKI public key of the same curve crate.
macro_rules! ecdh {
    ($c:ident, $sk:expr, $peer:expr) => {{
        use $c::pkcs8::DecodePublicKey as _;
        let peer = $c::PublicKey::from_public_key_der($peer).map_err(|_| AsymError::PublicKey)?;
        let shared = $c::ecdh::diffie_hellman($sk.to_nonzero_scalar(), peer.as_affine());
        Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
    }};
}

impl PrivateKey {
    /// A fresh private key of an asymmetric spec (RSA with public exponent 65537).
    pub(crate) fn generate(spec: KeySpec) -> Result<Self, AsymError> {
        if let Some(bits) = spec.rsa_bits() {
            let k = rsa::PrivateKey::new(&mut CryptoRng(rand::rng()), bits)
                .map_err(|_| AsymError::Internal("RSA key generation failed"))?;
            return Ok(Self::Rsa(Box::new(k)));
        }
        // A uniformly random field-sized string is a valid scalar unless zero or >= n; draw
        // again then. P-521's field has 521 bits: the top 7 bits of its 66 bytes are cleared.
        loop {
            let mut candidate = Zeroizing::new(vec![0u8; spec.material_len()]);
            rand::RngCore::fill_bytes(&mut rand::rng(), candidate.as_mut_slice());
            if spec == KeySpec::EccNistP521 {
                candidate[0] &= 0x01;
            }
            if let Some(k) = Self::from_material(spec, &candidate) {
                return Ok(k);
            }
        }
    }

    /// The key stored as `material` for `spec`; `None` when it is not a valid key of the spec.
    pub(crate) fn from_material(spec: KeySpec, material: &[u8]) -> Option<Self> {
        Some(match spec {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                let k = rsa::PrivateKey::from_pkcs8_der(material).ok()?;
                if Some(k.size() * 8) != spec.rsa_bits() {
                    return None;
                }
                Self::Rsa(Box::new(k))
            }
            _ if material.len() != spec.material_len() => return None,
            KeySpec::EccNistP256 => Self::P256(p256::SecretKey::from_slice(material).ok()?),
            KeySpec::EccNistP384 => Self::P384(p384::SecretKey::from_slice(material).ok()?),
            KeySpec::EccNistP521 => Self::P521(p521::SecretKey::from_slice(material).ok()?),
            KeySpec::EccSecgP256k1 => Self::K256(k256::SecretKey::from_slice(material).ok()?),
            _ => return None,
        })
    }

    /// An imported private key: DER PKCS#8 PrivateKeyInfo of `spec` (the RSA modulus size or
    /// the curve of the spec); `None` for anything else.
    pub(crate) fn from_pkcs8(spec: KeySpec, der: &[u8]) -> Option<Self> {
        use p256::pkcs8::DecodePrivateKey as _;
        match spec {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                Self::from_material(spec, der)
            }
            KeySpec::EccNistP256 => p256::SecretKey::from_pkcs8_der(der).ok().map(Self::P256),
            KeySpec::EccNistP384 => p384::SecretKey::from_pkcs8_der(der).ok().map(Self::P384),
            KeySpec::EccNistP521 => p521::SecretKey::from_pkcs8_der(der).ok().map(Self::P521),
            KeySpec::EccSecgP256k1 => k256::SecretKey::from_pkcs8_der(der).ok().map(Self::K256),
            _ => None,
        }
    }

    /// What the service stores (sealed): the ECC scalar, or the RSA key as PKCS#8 DER.
    pub(crate) fn to_material(&self) -> Result<Zeroizing<Vec<u8>>, AsymError> {
        Ok(ecc!(self, _c, sk => Zeroizing::new(sk.to_bytes().to_vec()),
            rsa k => rsa_pkcs8(k)?))
    }

    /// The private key as DER PKCS#8 PrivateKeyInfo (GenerateDataKeyPair's plaintext).
    pub(crate) fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, AsymError> {
        ecc!(self, c, sk => {
            use c::pkcs8::EncodePrivateKey as _;
            let doc = sk
                .to_pkcs8_der()
                .map_err(|_| AsymError::Internal("PKCS#8 encoding failed"))?;
            Ok(Zeroizing::new(doc.as_bytes().to_vec()))
        }, rsa k => rsa_pkcs8(k))
    }

    /// The public key as DER SubjectPublicKeyInfo (what GetPublicKey returns).
    pub(crate) fn public_key_der(&self) -> Result<Vec<u8>, AsymError> {
        let der = ecc!(self, c, sk => {
            use c::pkcs8::EncodePublicKey as _;
            sk.public_key().to_public_key_der().map(|d| d.as_bytes().to_vec())
        }, rsa k => k.to_public_key().to_public_key_der().map(|d| d.as_bytes().to_vec()));
        der.map_err(|_| AsymError::Internal("public key encoding failed"))
    }

    /// Signs `message` (or, when `is_digest`, the digest the caller computed) with `algorithm`,
    /// which the caller has checked is one of the key spec's signing algorithms.
    pub(crate) fn sign(
        &self,
        algorithm: &str,
        message: &[u8],
        is_digest: bool,
    ) -> Result<Vec<u8>, AsymError> {
        let hash = Hash::of(algorithm);
        let digest = prehash(hash, message, is_digest)?;
        ecc!(self, c, sk => {
            use c::ecdsa::signature::hazmat::PrehashSigner as _;
            let signer = c::ecdsa::SigningKey::from(sk);
            let sig: c::ecdsa::DerSignature = signer
                .sign_prehash(&digest)
                .map_err(|_| AsymError::Internal("ECDSA signing failed"))?;
            Ok(sig.as_bytes().to_vec())
        }, rsa k => {
            let pss = algorithm.starts_with("RSASSA_PSS_");
            match hash {
                Hash::Sha384 => rsa_sign::<Sha384>(k, pss, &digest),
                Hash::Sha512 => rsa_sign::<Sha512>(k, pss, &digest),
                _ => rsa_sign::<Sha256>(k, pss, &digest),
            }
            .map_err(|_| AsymError::Internal("RSA signing failed"))
        })
    }

    /// Whether `signature` is valid for `message` (or digest) under `algorithm`; a signature
    /// that does not even parse is as invalid as one that does not verify.
    pub(crate) fn verify(
        &self,
        algorithm: &str,
        message: &[u8],
        is_digest: bool,
        signature: &[u8],
    ) -> Result<bool, AsymError> {
        let hash = Hash::of(algorithm);
        let digest = prehash(hash, message, is_digest)?;
        Ok(ecc!(self, c, sk => {
            use c::ecdsa::signature::hazmat::PrehashVerifier as _;
            let vk = c::ecdsa::VerifyingKey::from(&sk.public_key());
            c::ecdsa::DerSignature::from_bytes(signature)
                .is_ok_and(|sig| vk.verify_prehash(&digest, &sig).is_ok())
        }, rsa k => {
            let pk = k.to_public_key();
            let pss = algorithm.starts_with("RSASSA_PSS_");
            match hash {
                Hash::Sha384 => rsa_verify::<Sha384>(&pk, pss, &digest, signature),
                Hash::Sha512 => rsa_verify::<Sha512>(&pk, pss, &digest, signature),
                _ => rsa_verify::<Sha256>(&pk, pss, &digest, signature),
            }
        }))
    }

    /// RSAES-OAEP encryption with the public half (`None` for an ECC key).
    pub(crate) fn oaep_encrypt(&self, algorithm: &str, plaintext: &[u8]) -> Option<Vec<u8>> {
        let Self::Rsa(k) = self else { return None };
        let pk = k.to_public_key();
        match Hash::of(algorithm) {
            Hash::Sha1 => pk.oaep_encrypt::<sha1::Sha1>(plaintext),
            _ => pk.oaep_encrypt::<Sha256>(plaintext),
        }
        .ok()
    }

    pub(crate) fn oaep_decrypt(
        &self,
        algorithm: &str,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AsymError> {
        let Self::Rsa(k) = self else {
            return Err(AsymError::Ciphertext);
        };
        match Hash::of(algorithm) {
            Hash::Sha1 => k.oaep_decrypt::<sha1::Sha1>(ciphertext),
            _ => k.oaep_decrypt::<Sha256>(ciphertext),
        }
        .map(Zeroizing::new)
        .map_err(|_| AsymError::Ciphertext)
    }

    /// ECDH with a peer's DER SPKI public key on the same curve: the raw shared secret (the
    /// x-coordinate of the shared point, field-sized), as DeriveSharedSecret returns it.
    pub(crate) fn ecdh(&self, peer_spki: &[u8]) -> Result<Zeroizing<Vec<u8>>, AsymError> {
        match self {
            Self::P256(sk) => ecdh!(p256, sk, peer_spki),
            Self::P384(sk) => ecdh!(p384, sk, peer_spki),
            Self::P521(sk) => ecdh!(p521, sk, peer_spki),
            Self::Rsa(_) | Self::K256(_) => Err(AsymError::PublicKey),
        }
    }
}

fn rsa_pkcs8(k: &rsa::PrivateKey) -> Result<Zeroizing<Vec<u8>>, AsymError> {
    let doc = k
        .to_pkcs8_der()
        .map_err(|_| AsymError::Internal("PKCS#8 encoding failed"))?;
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

fn prehash(hash: Hash, message: &[u8], is_digest: bool) -> Result<Vec<u8>, AsymError> {
    if !is_digest {
        return Ok(hash.digest(message));
    }
    if message.len() != hash.len() {
        return Err(AsymError::DigestLength);
    }
    Ok(message.to_vec())
}

fn rsa_sign<D>(k: &rsa::PrivateKey, pss: bool, digest: &[u8]) -> rsa::Result<Vec<u8>>
where
    D: Digest + sha2::digest::FixedOutputReset + sha2::digest::const_oid::AssociatedOid,
{
    if pss {
        k.pss_sign_prehash::<D>(digest)
    } else {
        k.pkcs1v15_sign_prehash::<D>(digest)
    }
}

fn rsa_verify<D>(pk: &rsa::PublicKey, pss: bool, digest: &[u8], signature: &[u8]) -> bool
where
    D: Digest + sha2::digest::FixedOutputReset + sha2::digest::const_oid::AssociatedOid,
{
    if pss {
        pk.pss_verify_prehash::<D>(digest, signature).is_ok()
    } else {
        pk.pkcs1v15_verify_prehash::<D>(digest, signature).is_ok()
    }
}
