"""HMAC and ECC signing keys over the aws CLI (v1) `aws kms ...`, against sealgate's KMS listener.

Signatures are checked by an independent implementation (Python `cryptography`, OpenSSL) with the
public key from GetPublicKey. An HMAC key never leaves the KMS, so its MACs are checked for what a
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
from cryptography.hazmat.primitives.asymmetric import ec, utils

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
