"""Imported key material for HMAC and asymmetric KMS keys over the aws CLI (v1): Origin EXTERNAL
keys get their material through get-parameters-for-import / import-key-material, wrapped by
Python `cryptography` (RSAES_OAEP_SHA_256, and RSA_AES_KEY_WRAP_SHA_256 for RSA private keys).
A MAC the KMS makes equals Python's `hmac` over the imported secret; a signature the KMS makes
verifies with `cryptography` under the public half of the private key we imported.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from conftest import AwsCli, Server, launch


@pytest.fixture(scope="module")
def kms_server(tmp_path_factory) -> Iterator[Server]:
    with launch(tmp_path_factory.mktemp("kms-import-gateway")) as srv:
        yield dataclasses.replace(srv, endpoint_https=srv.endpoint_kms, endpoint_http=srv.endpoint_kms)


@pytest.fixture(scope="module")
def kms(kms_server, tmp_path_factory) -> AwsCli:
    return AwsCli(kms_server, tmp_path_factory.mktemp("aws-kms-import-home"))


def external_key(kms: AwsCli, spec: str, usage: str) -> str:
    md = kms.json("kms", "create-key", "--origin", "EXTERNAL", "--key-spec", spec,
                  "--key-usage", usage)["KeyMetadata"]
    assert md["Origin"] == "EXTERNAL"
    assert md["KeyState"] == "PendingImport"
    assert md["KeySpec"] == spec
    return md["KeyId"]


def wrap_and_import(kms: AwsCli, tmp_path: Path, key: str, material: bytes, algorithm: str,
                    check: bool = True):
    params = kms.json("kms", "get-parameters-for-import", "--key-id", key,
                      "--wrapping-algorithm", algorithm, "--wrapping-key-spec", "RSA_4096")
    public = serialization.load_der_public_key(base64.b64decode(params["PublicKey"]))
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    if algorithm == "RSA_AES_KEY_WRAP_SHA_256":
        aes_key = os.urandom(32)
        wrapped = public.encrypt(aes_key, oaep) + aes_key_wrap_with_padding(aes_key, material)
    else:
        wrapped = public.encrypt(material, oaep)
    (tmp_path / "wrapped").write_bytes(wrapped)
    (tmp_path / "token").write_bytes(base64.b64decode(params["ImportToken"]))
    args = ("kms", "import-key-material", "--key-id", key,
            "--encrypted-key-material", f"fileb://{tmp_path / 'wrapped'}",
            "--import-token", f"fileb://{tmp_path / 'token'}",
            "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    return kms.json(*args) if check else kms.fails(*args)


def pkcs8(private) -> bytes:
    return private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


@pytest.mark.parametrize(
    "spec,alg,digest,size",
    [("HMAC_256", "HMAC_SHA_256", hashlib.sha256, 32), ("HMAC_256", "HMAC_SHA_256", hashlib.sha256, 64),
     ("HMAC_384", "HMAC_SHA_384", hashlib.sha384, 48), ("HMAC_512", "HMAC_SHA_512", hashlib.sha512, 100)],
)
def test_imported_hmac_secret_matches_python_hmac(kms: AwsCli, tmp_path: Path, spec, alg, digest, size):
    key = external_key(kms, spec, "GENERATE_VERIFY_MAC")
    secret = os.urandom(size)
    wrap_and_import(kms, tmp_path, key, secret, "RSAES_OAEP_SHA_256")
    assert kms.json("kms", "describe-key", "--key-id", key)["KeyMetadata"]["KeyState"] == "Enabled"
    message = b"authenticate me with an imported secret"
    (tmp_path / "msg").write_bytes(message)
    out = kms.json("kms", "generate-mac", "--key-id", key, "--mac-algorithm", alg,
                   "--message", f"fileb://{tmp_path / 'msg'}")
    assert base64.b64decode(out["Mac"]) == hmac.new(secret, message, digest).digest()


def test_hmac_material_of_the_wrong_length_is_refused(kms: AwsCli, tmp_path: Path):
    key = external_key(kms, "HMAC_256", "GENERATE_VERIFY_MAC")
    err = wrap_and_import(kms, tmp_path, key, os.urandom(16), "RSAES_OAEP_SHA_256", check=False)
    assert "IncorrectKeyMaterialException" in err
    assert kms.json("kms", "describe-key", "--key-id", key)["KeyMetadata"]["KeyState"] == "PendingImport"


@pytest.mark.parametrize(
    "spec,curve,alg,hash_",
    [("ECC_NIST_P256", ec.SECP256R1(), "ECDSA_SHA_256", hashes.SHA256()),
     ("ECC_NIST_P384", ec.SECP384R1(), "ECDSA_SHA_384", hashes.SHA384()),
     ("ECC_SECG_P256K1", ec.SECP256K1(), "ECDSA_SHA_256", hashes.SHA256())],
)
def test_imported_ec_key_signs_for_its_public_key(kms: AwsCli, tmp_path: Path, spec, curve, alg, hash_):
    key = external_key(kms, spec, "SIGN_VERIFY")
    private = ec.generate_private_key(curve)
    wrap_and_import(kms, tmp_path, key, pkcs8(private), "RSAES_OAEP_SHA_256")
    public_der = base64.b64decode(kms.json("kms", "get-public-key", "--key-id", key)["PublicKey"])
    assert public_der == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    message = b"signed by the key I imported"
    (tmp_path / "msg").write_bytes(message)
    sig = base64.b64decode(kms.json("kms", "sign", "--key-id", key, "--signing-algorithm", alg,
                                    "--message", f"fileb://{tmp_path / 'msg'}")["Signature"])
    private.public_key().verify(sig, message, ec.ECDSA(hash_))


def test_imported_rsa_key_signs_and_decrypts(kms: AwsCli, tmp_path: Path):
    key = external_key(kms, "RSA_2048", "SIGN_VERIFY")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # An RSA private key does not fit in RSA-OAEP: AWS takes it under RSA_AES_KEY_WRAP only.
    out = wrap_and_import(kms, tmp_path, key, pkcs8(private), "RSA_AES_KEY_WRAP_SHA_256")
    assert out["KeyId"].endswith(key)
    message = b"signed by the RSA key I imported"
    (tmp_path / "msg").write_bytes(message)
    sig = base64.b64decode(kms.json("kms", "sign", "--key-id", key, "--signing-algorithm",
                                    "RSASSA_PSS_SHA_256", "--message",
                                    f"fileb://{tmp_path / 'msg'}")["Signature"])
    private.public_key().verify(
        sig, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())

    enc = external_key(kms, "RSA_3072", "ENCRYPT_DECRYPT")
    enc_private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    wrap_and_import(kms, tmp_path, enc, pkcs8(enc_private), "RSA_AES_KEY_WRAP_SHA_256")
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    (tmp_path / "ct").write_bytes(enc_private.public_key().encrypt(b"for the imported key", oaep))
    plain = kms.json("kms", "decrypt", "--key-id", enc, "--encryption-algorithm", "RSAES_OAEP_SHA_256",
                     "--ciphertext-blob", f"fileb://{tmp_path / 'ct'}")["Plaintext"]
    assert base64.b64decode(plain) == b"for the imported key"


def test_material_of_another_spec_is_refused(kms: AwsCli, tmp_path: Path):
    key = external_key(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    p384 = ec.generate_private_key(ec.SECP384R1())
    err = wrap_and_import(kms, tmp_path, key, pkcs8(p384), "RSAES_OAEP_SHA_256", check=False)
    assert "IncorrectKeyMaterialException" in err
    rsa_key = external_key(kms, "RSA_3072", "SIGN_VERIFY")
    small = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    err = wrap_and_import(kms, tmp_path, rsa_key, pkcs8(small), "RSA_AES_KEY_WRAP_SHA_256", check=False)
    assert "IncorrectKeyMaterialException" in err
    err = wrap_and_import(kms, tmp_path, key, b"not a key", "RSAES_OAEP_SHA_256", check=False)
    assert "IncorrectKeyMaterialException" in err
    md = kms.json("kms", "describe-key", "--key-id", key)["KeyMetadata"]
    assert md["KeyState"] == "PendingImport"
    err = kms.fails("kms", "get-public-key", "--key-id", key)
    assert "KMSInvalidStateException" in err
