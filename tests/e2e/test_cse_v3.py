"""Interop of `sealgate cp --cse-*` with AWS's own S3 Encryption Client for Python (4.x), both
pointed at a real `sealgate serve`: its S3 API for the objects, its KMS API for the data keys.

The Python client writes the key-committing V3 format by default and, with its default
commitment policy, reads nothing else; `sealgate cp` must read what it writes and write what it
reads, keep reading V2 when told to, and refuse what it must not read (a changed commitment,
unknown or legacy formats, and a plain download of a client-side encrypted object).

The Python client has only a KMS keyring, so the raw-AES (CSE-C) cases plug a keyring written
here from the reference AES/GCM keyring (nonce ‖ AES-GCM(key, aad="AES/GCM/NoPadding")(data key))
into the client's real V3 pipeline.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess

import boto3
import pytest
from botocore.config import Config
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
from s3_encryption.exceptions import S3EncryptionClientError
from s3_encryption.materials.encrypted_data_key import EncryptedDataKey
from s3_encryption.materials.keyring import S3Keyring
from s3_encryption.materials.kms_keyring import KmsKeyring
from s3_encryption.materials.materials import AlgorithmSuite, CommitmentPolicy

from conftest import _server_bin

SIZES = [0, 1, 1024 * 1024 + 7]
V3_KEYS = {"x-amz-c", "x-amz-3", "x-amz-w", "x-amz-d", "x-amz-i"}
V2_KEYS = {"x-amz-key-v2", "x-amz-iv", "x-amz-cek-alg", "x-amz-wrap-alg", "x-amz-matdesc"}


@pytest.fixture(scope="module")
def kms(server, make_client):
    return boto3.session.Session().client(
        "kms",
        endpoint_url=server.endpoint_kms,
        region_name=server.region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        verify=server.ca_path,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


@pytest.fixture(scope="module")
def kms_key(kms) -> str:
    return kms.create_key(Description="cse v3 interop")["KeyMetadata"]["KeyId"]


def s3ec(make_client, keyring, **config):
    """The Python S3 Encryption Client over its own boto3 client (it hooks that client's
    events, so it must not wrap the session-wide one)."""
    return S3EncryptionClient(
        wrapped_s3_client=make_client(),
        config=S3EncryptionClientConfig(keyring=keyring, **config),
    )


@pytest.fixture(scope="module")
def py_kms(make_client, kms, kms_key):
    """Default configuration: V3 writes, REQUIRE_ENCRYPT_REQUIRE_DECRYPT."""
    return s3ec(make_client, KmsKeyring(kms_client=kms, kms_key_id=kms_key))


class AesGcmKeyring(S3Keyring):
    """The reference AES/GCM keyring (the Python client ships only a KMS one)."""

    def __init__(self, key: bytes):
        self.key = key

    def on_encrypt(self, materials):
        materials = super().on_encrypt(materials)
        data_key = secrets.token_bytes(32)
        nonce = secrets.token_bytes(12)
        wrapped = nonce + AESGCM(self.key).encrypt(nonce, data_key, b"AES/GCM/NoPadding")
        materials.plaintext_data_key = data_key
        materials.encrypted_data_key = EncryptedDataKey(b"S3Keyring", "AES/GCM", wrapped)
        return materials

    def on_decrypt(self, materials, encrypted_data_keys=None):
        materials = super().on_decrypt(materials, encrypted_data_keys)
        edk = (encrypted_data_keys or materials.encrypted_data_keys)[0]
        assert edk.key_provider_info == "AES/GCM", edk.key_provider_info
        blob = edk.encrypted_data_key
        materials.plaintext_data_key = AESGCM(self.key).decrypt(
            blob[:12], blob[12:], b"AES/GCM/NoPadding"
        )
        return materials


def cp_env(server, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        # The service-specific variables, as the SDKs read them; the global one points at a
        # closed port so that using it instead would fail.
        AWS_ENDPOINT_URL="https://127.0.0.1:9",
        AWS_ENDPOINT_URL_S3=server.endpoint_https,
        AWS_ENDPOINT_URL_KMS=server.endpoint_kms,
        AWS_CA_BUNDLE=server.ca_path,
        AWS_ACCESS_KEY_ID=server.access_key,
        AWS_SECRET_ACCESS_KEY=server.secret_key,
        AWS_REGION=server.region,
    )
    env.update(extra)
    return env


def sealgate_cp(server, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [_server_bin(), "cp", *map(str, args)],
        env=cp_env(server),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    if ok:
        assert proc.returncode == 0, f"sealgate cp {args} failed:\n{proc.stdout}\n{proc.stderr}"
    else:
        assert proc.returncode != 0, f"sealgate cp {args} should have failed:\n{proc.stdout}"
    return proc


def raw_metadata(s3, bucket: str, key: str) -> dict[str, str]:
    return s3.head_object(Bucket=bucket, Key=key)["Metadata"]


def replace_metadata(s3, bucket: str, key: str, meta: dict[str, str], dst: str) -> None:
    """A copy of the object under `dst` with `meta` as its whole user metadata."""
    s3.copy_object(
        Bucket=bucket,
        Key=dst,
        CopySource={"Bucket": bucket, "Key": key},
        Metadata=meta,
        MetadataDirective="REPLACE",
    )


def flip_b64(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[-1] ^= 1
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("size", SIZES)
def test_python_client_writes_v3_and_sealgate_cp_reads_it(
    server, s3, bucket, py_kms, kms_key, tmp_path, size
):
    data = os.urandom(size)
    py_kms.put_object(Bucket=bucket, Key="py.bin", Body=data)
    meta = raw_metadata(s3, bucket, "py.bin")
    assert V3_KEYS <= meta.keys() and not V2_KEYS & meta.keys(), meta
    assert (meta["x-amz-c"], meta["x-amz-w"]) == ("115", "12")
    assert json.loads(meta["x-amz-t"]) == {"aws:x-amz-cek-alg": "115"}
    stored = s3.get_object(Bucket=bucket, Key="py.bin")["Body"].read()
    assert len(stored) == size + 16
    # A one-byte ciphertext equals its plaintext once in 256 runs; only a
    # body of at least a block says "not stored in the clear" reliably.
    assert size < 16 or stored[:size] != data

    out = tmp_path / "out.bin"
    proc = sealgate_cp(server, "--cse-kms", kms_key, f"s3://{bucket}/py.bin", out)
    assert "CSE-KMS" in proc.stdout, proc.stdout
    assert out.read_bytes() == data


@pytest.mark.parametrize("size", SIZES)
def test_sealgate_cp_writes_v3_and_the_python_client_reads_it_with_its_default_policy(
    server, s3, bucket, py_kms, kms_key, tmp_path, size
):
    data = os.urandom(size)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    proc = sealgate_cp(server, "--cse-kms", kms_key, src, f"s3://{bucket}/sg.bin")
    assert "format V3" in proc.stdout, proc.stdout
    meta = raw_metadata(s3, bucket, "sg.bin")
    assert V3_KEYS <= meta.keys() and not V2_KEYS & meta.keys(), meta
    assert (meta["x-amz-c"], meta["x-amz-w"]) == ("115", "12")
    assert len(base64.b64decode(meta["x-amz-i"])) == 28
    assert len(base64.b64decode(meta["x-amz-d"])) == 28
    got = py_kms.get_object(Bucket=bucket, Key="sg.bin")["Body"].read()
    assert got == data


def test_raw_aes_key_both_ways(server, s3, bucket, make_client, tmp_path):
    user_key = secrets.token_bytes(32)
    keyfile = tmp_path / "user.key"
    keyfile.write_text(user_key.hex() + "\n")
    py_aes = s3ec(make_client, AesGcmKeyring(user_key))
    data = os.urandom(70_001)
    src = tmp_path / "in.bin"
    src.write_bytes(data)

    # sealgate → Python: the client's V3 pipeline (commitment, derived key) opens it.
    sealgate_cp(server, "--cse-c", keyfile, src, f"s3://{bucket}/sg-c.bin")
    meta = raw_metadata(s3, bucket, "sg-c.bin")
    assert meta["x-amz-w"] == "02" and "x-amz-t" not in meta, meta
    assert py_aes.get_object(Bucket=bucket, Key="sg-c.bin")["Body"].read() == data

    # Python → sealgate. Python 4.0.0 labels every data key "12" (kms+context: its only
    # keyring); the copy relabels it "02" as the reference AES keyring would.
    py_aes.put_object(Bucket=bucket, Key="py-c.bin", Body=data)
    meta = raw_metadata(s3, bucket, "py-c.bin")
    assert meta["x-amz-w"] == "12", meta
    replace_metadata(s3, bucket, "py-c.bin", {**meta, "x-amz-w": "02"}, "py-c2.bin")
    out = tmp_path / "out.bin"
    sealgate_cp(server, "--cse-c", keyfile, f"s3://{bucket}/py-c2.bin", out)
    assert out.read_bytes() == data

    # A wrong key file: nothing written.
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(secrets.token_bytes(32))
    bad_out = tmp_path / "bad.bin"
    proc = sealgate_cp(server, "--cse-c", wrong, f"s3://{bucket}/sg-c.bin", bad_out, ok=False)
    assert "does not open with this key" in proc.stderr, proc.stderr
    assert not bad_out.exists()


def test_v2_objects_are_read_when_the_policy_allows_and_written_when_asked(
    server, s3, bucket, make_client, kms, kms_key, py_kms, tmp_path
):
    data = os.urandom(4097)
    keyring = KmsKeyring(kms_client=kms, kms_key_id=kms_key)
    py_v2 = s3ec(
        make_client,
        keyring,
        encryption_algorithm=AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF,
        commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT,
    )
    py_v2.put_object(Bucket=bucket, Key="v2.bin", Body=data)
    assert V2_KEYS <= raw_metadata(s3, bucket, "v2.bin").keys()

    out = tmp_path / "out.bin"
    proc = sealgate_cp(server, "--cse-kms", kms_key, f"s3://{bucket}/v2.bin", out, ok=False)
    assert "no key commitment" in proc.stderr and "require-encrypt-allow-decrypt" in proc.stderr
    assert not out.exists()
    sealgate_cp(
        server,
        "--cse-kms", kms_key,
        "--cse-commitment-policy", "require-encrypt-allow-decrypt",
        f"s3://{bucket}/v2.bin", out,
    )
    assert out.read_bytes() == data

    # forbid-encrypt-allow-decrypt writes V2: the Python client's default policy refuses it,
    # its allow-decrypt policy reads it.
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    proc = sealgate_cp(
        server,
        "--cse-kms", kms_key,
        "--cse-commitment-policy", "forbid-encrypt-allow-decrypt",
        src, f"s3://{bucket}/sg-v2.bin",
    )
    assert "format V2" in proc.stdout
    meta = raw_metadata(s3, bucket, "sg-v2.bin")
    assert V2_KEYS <= meta.keys() and not V3_KEYS & meta.keys(), meta
    with pytest.raises(S3EncryptionClientError, match="non-key-committing"):
        py_kms.get_object(Bucket=bucket, Key="sg-v2.bin")
    py_migrating = s3ec(
        make_client, keyring, commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT
    )
    assert py_migrating.get_object(Bucket=bucket, Key="sg-v2.bin")["Body"].read() == data


def test_changed_commitment_message_id_or_suite_is_refused_and_writes_nothing(
    server, s3, bucket, py_kms, kms_key, tmp_path
):
    data = os.urandom(1000)
    py_kms.put_object(Bucket=bucket, Key="orig.bin", Body=data)
    meta = raw_metadata(s3, bucket, "orig.bin")
    cases = {
        "d": ({**meta, "x-amz-d": flip_b64(meta["x-amz-d"])}, "key commitment check failed"),
        "i": ({**meta, "x-amz-i": flip_b64(meta["x-amz-i"])}, "key commitment check failed"),
        "c": ({**meta, "x-amz-c": "116"}, 'unsupported content algorithm "116"'),
        "w": ({**meta, "x-amz-w": "22"}, "RSA-OAEP-SHA1"),
    }
    for name, (changed, message) in cases.items():
        replace_metadata(s3, bucket, "orig.bin", changed, f"{name}.bin")
        out = tmp_path / f"{name}.out"
        proc = sealgate_cp(server, "--cse-kms", kms_key, f"s3://{bucket}/{name}.bin", out, ok=False)
        assert message in proc.stderr, (name, proc.stderr)
        assert not out.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # The Python client refuses the changed commitment too (the same spec, two readers).
    with pytest.raises(S3EncryptionClientError, match="[Cc]ommitment"):
        py_kms.get_object(Bucket=bucket, Key="d.bin")


def test_plain_cp_refuses_client_side_encrypted_objects(server, s3, bucket, py_kms, tmp_path):
    py_kms.put_object(Bucket=bucket, Key="enc.bin", Body=b"secret")
    out = tmp_path / "out.bin"
    proc = sealgate_cp(server, f"s3://{bucket}/enc.bin", out, ok=False)
    assert "client-side encrypted (S3 Encryption Client format V3" in proc.stderr, proc.stderr
    assert "--cse-kms" in proc.stderr
    assert not out.exists()


def test_v1_and_unknown_formats_are_refused_by_name(server, s3, bucket, kms_key, tmp_path):
    v1 = {"x-amz-key": "AAAA", "x-amz-iv": "AAAAAAAAAAAAAAAAAAAAAA==", "x-amz-matdesc": "{}"}
    s3.put_object(Bucket=bucket, Key="v1.bin", Body=b"x" * 32, Metadata=v1)
    out = tmp_path / "out.bin"
    proc = sealgate_cp(server, "--cse-kms", kms_key, f"s3://{bucket}/v1.bin", out, ok=False)
    assert "format V1 (x-amz-key)" in proc.stderr, proc.stderr
    proc = sealgate_cp(server, f"s3://{bucket}/v1.bin", out, ok=False)
    assert "format V1" in proc.stderr, proc.stderr
    cbc = {
        "x-amz-key-v2": "AAAA",
        "x-amz-iv": "AAAAAAAAAAAAAAAAAAAAAA==",
        "x-amz-cek-alg": "AES/CBC/PKCS5Padding",
        "x-amz-wrap-alg": "kms+context",
        "x-amz-matdesc": "{}",
    }
    s3.put_object(Bucket=bucket, Key="cbc.bin", Body=b"x" * 32, Metadata=cbc)
    proc = sealgate_cp(
        server,
        "--cse-kms", kms_key,
        "--cse-commitment-policy", "require-encrypt-allow-decrypt",
        f"s3://{bucket}/cbc.bin", out,
        ok=False,
    )
    assert "AES/CBC/PKCS5Padding" in proc.stderr, proc.stderr
    assert not out.exists()


def test_v3_with_an_instruction_file_is_read_by_both_clients(
    server, s3, bucket, py_kms, kms_key, tmp_path
):
    data = os.urandom(5000)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    sealgate_cp(server, "--cse-kms", kms_key, src, f"s3://{bucket}/full.bin")
    meta = raw_metadata(s3, bucket, "full.bin")
    # The instruction-file layout: x-amz-c/d/i stay on the object, the rest goes to
    # `<key>.instruction` (a JSON object).
    object_only = {k: meta[k] for k in ("x-amz-c", "x-amz-d", "x-amz-i")}
    replace_metadata(s3, bucket, "full.bin", object_only, "split.bin")
    instruction = {k: meta[k] for k in ("x-amz-3", "x-amz-w", "x-amz-t")}
    s3.put_object(
        Bucket=bucket,
        Key="split.bin.instruction",
        Body=json.dumps(instruction).encode(),
        Metadata={"x-amz-crypto-instr-file": ""},
    )
    assert py_kms.get_object(Bucket=bucket, Key="split.bin")["Body"].read() == data
    out = tmp_path / "out.bin"
    sealgate_cp(server, "--cse-kms", kms_key, f"s3://{bucket}/split.bin", out)
    assert out.read_bytes() == data
    # An instruction file that tries to supply the commitment is refused.
    s3.put_object(
        Bucket=bucket,
        Key="split.bin.instruction",
        Body=json.dumps({**instruction, "x-amz-d": meta["x-amz-d"]}).encode(),
    )
    bad = tmp_path / "bad.bin"
    proc = sealgate_cp(server, "--cse-kms", kms_key, f"s3://{bucket}/split.bin", bad, ok=False)
    assert "x-amz-d must be in the object metadata" in proc.stderr, proc.stderr
    assert not bad.exists()
