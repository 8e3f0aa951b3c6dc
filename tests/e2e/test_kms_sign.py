"""HMAC and asymmetric keys over the aws CLI (v1) `aws kms ...`, against sealgate's KMS listener.

Signatures are checked by an independent implementation (Python `cryptography`, OpenSSL) with the
public key from GetPublicKey; RSA-OAEP ciphertext made by `cryptography` decrypts through the KMS;
DeriveSharedSecret equals the ECDH secret `cryptography` computes; a data key pair's public key is
its private key's. An HMAC key never leaves the KMS, so its MACs are checked for what a
caller can observe: length per algorithm, determinism, and VerifyMac accepting the right MAC and
refusing a flipped byte.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from conftest import AwsCli, Server, launch


@pytest.fixture(scope="module")
def kms_server(tmp_path_factory) -> Iterator[Server]:
    with launch(tmp_path_factory.mktemp("kms-sign-gateway")) as srv:
        yield dataclasses.replace(srv, endpoint_https=srv.endpoint_kms, endpoint_http=srv.endpoint_kms)


@pytest.fixture(scope="module")
def kms(kms_server, tmp_path_factory) -> AwsCli:
    return AwsCli(kms_server, tmp_path_factory.mktemp("aws-kms-sign-home"))


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return f"fileb://{path}"


@pytest.mark.parametrize(
    "spec,alg,length",
    [("HMAC_224", "HMAC_SHA_224", 28), ("HMAC_256", "HMAC_SHA_256", 32),
     ("HMAC_384", "HMAC_SHA_384", 48), ("HMAC_512", "HMAC_SHA_512", 64)],
)
def test_hmac_generate_and_verify(kms: AwsCli, tmp_path: Path, spec: str, alg: str, length: int):
    md = kms.json("kms", "create-key", "--key-spec", spec, "--key-usage", "GENERATE_VERIFY_MAC")["KeyMetadata"]
    assert md["KeySpec"] == spec
    assert md["KeyUsage"] == "GENERATE_VERIFY_MAC"
    assert md["MacAlgorithms"] == [alg]
    key = md["KeyId"]
    msg = write(tmp_path / "msg", b"authenticate me")

    out = kms.json("kms", "generate-mac", "--key-id", key, "--mac-algorithm", alg, "--message", msg)
    mac = base64.b64decode(out["Mac"])
    assert len(mac) == length
    assert out["MacAlgorithm"] == alg
    assert out["KeyId"] == md["Arn"]
    again = kms.json("kms", "generate-mac", "--key-id", key, "--mac-algorithm", alg, "--message", msg)
    assert base64.b64decode(again["Mac"]) == mac, "HMAC is deterministic"

    good = write(tmp_path / "mac", mac)
    ok = kms.json("kms", "verify-mac", "--key-id", key, "--mac-algorithm", alg,
                  "--message", msg, "--mac", good)
    assert ok["MacValid"] is True
    flipped = bytearray(mac)
    flipped[0] ^= 0x80
    bad = write(tmp_path / "bad", bytes(flipped))
    err = kms.fails("kms", "verify-mac", "--key-id", key, "--mac-algorithm", alg,
                    "--message", msg, "--mac", bad)
    assert "KMSInvalidMacException" in err

    other = "HMAC_SHA_512" if alg != "HMAC_SHA_512" else "HMAC_SHA_256"
    err = kms.fails("kms", "generate-mac", "--key-id", key, "--mac-algorithm", other, "--message", msg)
    assert "InvalidKeyUsageException" in err
    err = kms.fails("kms", "encrypt", "--key-id", key, "--plaintext", msg)
    assert "InvalidKeyUsageException" in err


def test_hmac_spec_usage_validation(kms: AwsCli):
    err = kms.fails("kms", "create-key", "--key-spec", "HMAC_256", "--key-usage", "ENCRYPT_DECRYPT")
    assert "ValidationException" in err
    err = kms.fails("kms", "create-key", "--key-spec", "SYMMETRIC_DEFAULT", "--key-usage", "GENERATE_VERIFY_MAC")
    assert "ValidationException" in err


def test_ecc_p256_signature_verifies_independently(kms: AwsCli, tmp_path: Path):
    md = kms.json("kms", "create-key", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY")["KeyMetadata"]
    assert md["SigningAlgorithms"] == ["ECDSA_SHA_256"]
    key = md["KeyId"]

    pk = kms.json("kms", "get-public-key", "--key-id", key)
    assert pk["KeySpec"] == "ECC_NIST_P256"
    assert pk["KeyUsage"] == "SIGN_VERIFY"
    assert pk["SigningAlgorithms"] == ["ECDSA_SHA_256"]
    der = base64.b64decode(pk["PublicKey"])
    public = serialization.load_der_public_key(der)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"
    # The SPKI round-trips byte for byte through an independent encoder.
    assert public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo) == der

    message = b"signed by sealgate, verified by OpenSSL"
    msg = write(tmp_path / "msg", message)
    out = kms.json("kms", "sign", "--key-id", key, "--message", msg,
                   "--signing-algorithm", "ECDSA_SHA_256")
    assert out["SigningAlgorithm"] == "ECDSA_SHA_256"
    sig = base64.b64decode(out["Signature"])
    public.verify(sig, message, ec.ECDSA(hashes.SHA256()))  # raises if invalid
    with pytest.raises(InvalidSignature):
        public.verify(sig, message + b"!", ec.ECDSA(hashes.SHA256()))

    # DIGEST: the caller sends SHA-256(message); the signature verifies over the message.
    digest = hashlib.sha256(message).digest()
    dmsg = write(tmp_path / "digest", digest)
    out = kms.json("kms", "sign", "--key-id", key, "--message", dmsg, "--message-type", "DIGEST",
                   "--signing-algorithm", "ECDSA_SHA_256")
    dsig = base64.b64decode(out["Signature"])
    public.verify(dsig, message, ec.ECDSA(hashes.SHA256()))
    public.verify(dsig, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))

    # The other way round: the KMS accepts its own signatures and refuses one made by another key.
    ok = kms.json("kms", "verify", "--key-id", key, "--message", msg, "--signature",
                  write(tmp_path / "sig", sig), "--signing-algorithm", "ECDSA_SHA_256")
    assert ok["SignatureValid"] is True
    stranger = ec.generate_private_key(ec.SECP256R1()).sign(message, ec.ECDSA(hashes.SHA256()))
    err = kms.fails("kms", "verify", "--key-id", key, "--message", msg, "--signature",
                    write(tmp_path / "stranger", stranger), "--signing-algorithm", "ECDSA_SHA_256")
    assert "KMSInvalidSignatureException" in err
    err = kms.fails("kms", "sign", "--key-id", key, "--message", write(tmp_path / "short", digest[:20]),
                    "--message-type", "DIGEST", "--signing-algorithm", "ECDSA_SHA_256")
    assert "ValidationException" in err


# ---- RSA and the other ECC curves -------------------------------------------------------------

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


@pytest.fixture(scope="module")
def keys(kms: AwsCli):
    """One KMS key per (spec, usage), created on first use (RSA generation takes a moment)."""
    made: dict[tuple[str, str], str] = {}

    def get(spec: str, usage: str) -> str:
        if (spec, usage) not in made:
            md = kms.json("kms", "create-key", "--key-spec", spec, "--key-usage", usage)["KeyMetadata"]
            assert (md["KeySpec"], md["KeyUsage"]) == (spec, usage)
            made[(spec, usage)] = md["KeyId"]
        return made[(spec, usage)]

    return get


def public_key(kms: AwsCli, key: str):
    out = kms.json("kms", "get-public-key", "--key-id", key)
    return out, serialization.load_der_public_key(base64.b64decode(out["PublicKey"]))


def verify_independently(public, alg: str, signature: bytes, message: bytes) -> None:
    """Raises InvalidSignature unless `signature` is `alg` over `message` (Python `cryptography`)."""
    h = HASHES[alg.rsplit("_", 1)[1]]()
    if alg.startswith("ECDSA_"):
        public.verify(signature, message, ec.ECDSA(h))
    elif alg.startswith("RSASSA_PSS_"):
        # AWS: MGF1 with the same hash, salt as long as the digest.
        public.verify(signature, message, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    else:
        public.verify(signature, message, padding.PKCS1v15(), h)


@pytest.mark.parametrize(
    "spec,alg,curve",
    [("RSA_2048", a, None) for a in ("RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
                                     "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384",
                                     "RSASSA_PKCS1_V1_5_SHA_512")]
    + [("RSA_3072", "RSASSA_PSS_SHA_384", None), ("RSA_4096", "RSASSA_PKCS1_V1_5_SHA_512", None),
       ("ECC_NIST_P384", "ECDSA_SHA_384", "secp384r1"), ("ECC_NIST_P521", "ECDSA_SHA_512", "secp521r1"),
       ("ECC_SECG_P256K1", "ECDSA_SHA_256", "secp256k1")],
)
def test_signature_verifies_independently(kms: AwsCli, keys, tmp_path: Path, spec: str, alg: str,
                                          curve: str | None):
    key = keys(spec, "SIGN_VERIFY")
    pk, public = public_key(kms, key)
    assert alg in pk["SigningAlgorithms"]
    assert pk["KeyUsage"] == "SIGN_VERIFY"
    if curve:
        assert public.curve.name == curve
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        assert public.key_size == int(spec.split("_")[1])

    message = f"signed with {alg} by sealgate".encode()
    msg = write(tmp_path / "msg", message)
    out = kms.json("kms", "sign", "--key-id", key, "--message", msg, "--signing-algorithm", alg)
    assert out["SigningAlgorithm"] == alg
    sig = base64.b64decode(out["Signature"])
    verify_independently(public, alg, sig, message)
    with pytest.raises(InvalidSignature):
        verify_independently(public, alg, sig, message + b"!")

    # DIGEST: the caller hashes with the algorithm's hash.
    h = HASHES[alg.rsplit("_", 1)[1]]()
    d = hashes.Hash(h)
    d.update(message)
    digest = d.finalize()
    out = kms.json("kms", "sign", "--key-id", key, "--message", write(tmp_path / "d", digest),
                   "--message-type", "DIGEST", "--signing-algorithm", alg)
    verify_independently(public, alg, base64.b64decode(out["Signature"]), message)

    ok = kms.json("kms", "verify", "--key-id", key, "--message", msg, "--signature",
                  write(tmp_path / "sig", sig), "--signing-algorithm", alg)
    assert ok["SignatureValid"] is True
    flipped = bytearray(sig)
    flipped[len(sig) // 2] ^= 0x01
    err = kms.fails("kms", "verify", "--key-id", key, "--message", msg, "--signature",
                    write(tmp_path / "bad", bytes(flipped)), "--signing-algorithm", alg)
    assert "KMSInvalidSignatureException" in err


@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_3072", "RSA_4096"])
@pytest.mark.parametrize("alg", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
def test_rsa_oaep_ciphertext_from_cryptography_decrypts(kms: AwsCli, keys, tmp_path: Path,
                                                       spec: str, alg: str):
    key = keys(spec, "ENCRYPT_DECRYPT")
    pk, public = public_key(kms, key)
    assert pk["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    assert "SigningAlgorithms" not in pk
    h = hashes.SHA1() if alg.endswith("_1") else hashes.SHA256()
    # AWS's limit: key bytes - 2 * digest bytes - 2.
    limit = public.key_size // 8 - 2 * h.digest_size - 2
    secret = bytes(range(256)) * 2
    plaintext = secret[:limit]

    # Encrypted by an independent implementation with the public key; only the KMS can decrypt.
    ct = public.encrypt(plaintext, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))
    out = kms.json("kms", "decrypt", "--key-id", key, "--encryption-algorithm", alg,
                   "--ciphertext-blob", write(tmp_path / "ct", ct))
    assert base64.b64decode(out["Plaintext"]) == plaintext
    assert out["EncryptionAlgorithm"] == alg

    # KMS Encrypt round trip; a modified ciphertext does not decrypt.
    out = kms.json("kms", "encrypt", "--key-id", key, "--encryption-algorithm", alg,
                   "--plaintext", write(tmp_path / "pt", plaintext))
    blob = base64.b64decode(out["CiphertextBlob"])
    assert len(blob) == public.key_size // 8
    back = kms.json("kms", "decrypt", "--key-id", key, "--encryption-algorithm", alg,
                    "--ciphertext-blob", write(tmp_path / "blob", blob))
    assert base64.b64decode(back["Plaintext"]) == plaintext
    bad = bytearray(blob)
    bad[5] ^= 0x10
    err = kms.fails("kms", "decrypt", "--key-id", key, "--encryption-algorithm", alg,
                    "--ciphertext-blob", write(tmp_path / "bad", bytes(bad)))
    assert "InvalidCiphertextException" in err
    err = kms.fails("kms", "encrypt", "--key-id", key, "--encryption-algorithm", alg,
                    "--plaintext", write(tmp_path / "long", secret[:limit + 1]))
    assert "ValidationException" in err


@pytest.mark.parametrize("spec,curve", [("ECC_NIST_P256", ec.SECP256R1()), ("ECC_NIST_P384", ec.SECP384R1()),
                                        ("ECC_NIST_P521", ec.SECP521R1())])
def test_derive_shared_secret_equals_independent_ecdh(kms: AwsCli, keys, tmp_path: Path, spec: str, curve):
    key = keys(spec, "KEY_AGREEMENT")
    pk, kms_public = public_key(kms, key)
    assert pk["KeyAgreementAlgorithms"] == ["ECDH"]
    mine = ec.generate_private_key(curve)
    spki = mine.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    out = kms.json("kms", "derive-shared-secret", "--key-id", key, "--key-agreement-algorithm", "ECDH",
                   "--public-key", write(tmp_path / "spki", spki))
    assert base64.b64decode(out["SharedSecret"]) == mine.exchange(ec.ECDH(), kms_public)
    assert out["KeyAgreementAlgorithm"] == "ECDH"
    err = kms.fails("kms", "sign", "--key-id", key, "--message", write(tmp_path / "m", b"x"),
                    "--signing-algorithm", "ECDSA_SHA_256")
    assert "InvalidKeyUsageException" in err


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
                                  "ECC_SECG_P256K1"])
def test_data_key_pair_public_key_matches_private_key(kms: AwsCli, keys, tmp_path: Path, spec: str):
    sym = keys("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    out = kms.json("kms", "generate-data-key-pair", "--key-id", sym, "--key-pair-spec", spec,
                   "--encryption-context", "app=e2e")
    assert out["KeyPairSpec"] == spec
    pkcs8 = base64.b64decode(out["PrivateKeyPlaintext"])
    private = serialization.load_der_private_key(pkcs8, password=None)
    spki = private.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    assert spki == base64.b64decode(out["PublicKey"])
    # The encrypted private key is an ordinary ciphertext of the symmetric key.
    dec = kms.json("kms", "decrypt", "--encryption-context", "app=e2e", "--ciphertext-blob",
                   write(tmp_path / "blob", base64.b64decode(out["PrivateKeyCiphertextBlob"])))
    assert base64.b64decode(dec["Plaintext"]) == pkcs8

    out = kms.json("kms", "generate-data-key-pair-without-plaintext", "--key-id", sym,
                   "--key-pair-spec", spec)
    assert "PrivateKeyPlaintext" not in out
    dec = kms.json("kms", "decrypt", "--ciphertext-blob",
                   write(tmp_path / "blob2", base64.b64decode(out["PrivateKeyCiphertextBlob"])))
    private = serialization.load_der_private_key(base64.b64decode(dec["Plaintext"]), password=None)
    assert private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == base64.b64decode(out["PublicKey"])


def test_asymmetric_spec_usage_errors(kms: AwsCli, keys, tmp_path: Path):
    err = kms.fails("kms", "create-key", "--key-spec", "ECC_SECG_P256K1", "--key-usage", "KEY_AGREEMENT")
    assert "ValidationException" in err
    err = kms.fails("kms", "create-key", "--key-spec", "ECC_NIST_P384")  # default ENCRYPT_DECRYPT
    assert "ValidationException" in err
    rsa_key = keys("RSA_2048", "ENCRYPT_DECRYPT")
    err = kms.fails("kms", "encrypt", "--key-id", rsa_key, "--plaintext", write(tmp_path / "p", b"x"))
    assert "InvalidKeyUsageException" in err
    err = kms.fails("kms", "generate-data-key", "--key-id", rsa_key, "--key-spec", "AES_256")
    assert "InvalidKeyUsageException" in err
    err = kms.fails("kms", "enable-key-rotation", "--key-id", rsa_key)
    assert "UnsupportedOperationException" in err
