"""The aws CLI (v1) `aws kms ...` against sealgate's KMS listener: what a user types and checks.

The session `server` has no test clock, so this module launches its own `sealgate serve` with
`SEALGATE_TEST_CLOCK=1` and points the CLI at its KMS URL.
Deletion windows are ended with the test-only `Sealgate.AdvanceClock` target, signed here with
botocore's SigV4 signer as the root user.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import AwsCli, Server, launch
from helpers import advance_clock

DAY = 86_400
BOB = ("CLIBOBACCESSKEY00001", "cli-bob-secret-key-000000000000000000001")


@pytest.fixture(scope="module")
def kms_server(tmp_path_factory) -> Iterator[Server]:
    """A `sealgate serve` with a test clock and a user `bob`, as a Server whose HTTPS endpoint
    is its KMS listener (what `AwsCli` targets)."""
    config = f'[[users]]\nname = "bob"\naccess_key = "{BOB[0]}"\nsecret_key = "{BOB[1]}"\n'
    with launch(
        tmp_path_factory.mktemp("kms-gateway"),
        extra_env={"SEALGATE_TEST_CLOCK": "1"},
        config_toml=config,
    ) as srv:
        yield dataclasses.replace(srv, endpoint_https=srv.endpoint_kms, endpoint_http=srv.endpoint_kms)


@pytest.fixture(scope="module")
def kms(kms_server, tmp_path_factory) -> AwsCli:
    return AwsCli(kms_server, tmp_path_factory.mktemp("aws-kms-home"))


@pytest.fixture(scope="module")
def bob_kms(kms_server, tmp_path_factory) -> AwsCli:
    cli = AwsCli(kms_server, tmp_path_factory.mktemp("aws-kms-bob"))
    cli.env.update(AWS_ACCESS_KEY_ID=BOB[0], AWS_SECRET_ACCESS_KEY=BOB[1])
    return cli


def create_key(kms: AwsCli, *args: str) -> dict:
    md = kms.json("kms", "create-key", *args)["KeyMetadata"]
    assert md["KeyState"] == "Enabled" or "--origin" in args
    return md


def b64_to_file(text: str, path: Path) -> Path:
    path.write_bytes(base64.b64decode(text.strip()))
    return path


def test_encrypt_decrypt_round_trip_with_alias_and_context(kms, tmp_path):
    md = create_key(kms, "--description", "cli key")
    key_id, arn = md["KeyId"], md["Arn"]
    kms.run("kms", "create-alias", "--alias-name", "alias/cli-app", "--target-key-id", key_id)

    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"\x00\x01 binary secret \xff" + os.urandom(100))
    blob_b64 = kms.run(
        "kms", "encrypt",
        "--key-id", "alias/cli-app",
        "--plaintext", f"fileb://{plain}",
        "--encryption-context", "purpose=cli",
        "--query", "CiphertextBlob",
        "--output", "text",
    ).stdout
    blob = b64_to_file(blob_b64, tmp_path / "blob.bin")
    assert plain.read_bytes() not in blob.read_bytes()

    out = kms.json(
        "kms", "decrypt",
        "--ciphertext-blob", f"fileb://{blob}",
        "--encryption-context", "purpose=cli",
    )
    assert out["KeyId"] == arn
    assert base64.b64decode(out["Plaintext"]) == plain.read_bytes()
    assert out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"

    err = kms.fails(
        "kms", "decrypt",
        "--ciphertext-blob", f"fileb://{blob}",
        "--encryption-context", "purpose=other",
    )
    assert "InvalidCiphertextException" in err


def test_generate_data_key(kms, tmp_path):
    key_id = create_key(kms)["KeyId"]
    dk = kms.json("kms", "generate-data-key", "--key-id", key_id, "--key-spec", "AES_256")
    plaintext = base64.b64decode(dk["Plaintext"])
    assert len(plaintext) == 32
    assert dk["KeyId"].endswith(key_id)
    blob = b64_to_file(dk["CiphertextBlob"], tmp_path / "dk.bin")
    back = kms.json("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}")
    assert base64.b64decode(back["Plaintext"]) == plaintext

    wp = kms.json(
        "kms", "generate-data-key-without-plaintext",
        "--key-id", key_id, "--number-of-bytes", "16",
    )
    assert "Plaintext" not in wp
    blob = b64_to_file(wp["CiphertextBlob"], tmp_path / "wp.bin")
    back = kms.json("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}")
    assert len(base64.b64decode(back["Plaintext"])) == 16


def test_describe_key_and_list_aliases(kms):
    md = create_key(kms, "--description", "described")
    key_id = md["KeyId"]
    kms.run("kms", "create-alias", "--alias-name", "alias/cli-described", "--target-key-id", key_id)
    got = kms.json("kms", "describe-key", "--key-id", "alias/cli-described")["KeyMetadata"]
    assert got["KeyId"] == key_id
    assert got["Arn"] == md["Arn"]
    assert got["Description"] == "described"
    assert got["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert got["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert got["KeyManager"] == "CUSTOMER"
    assert got["Origin"] == "AWS_KMS"
    assert got["Enabled"] is True

    aliases = kms.json("kms", "list-aliases")["Aliases"]
    mine = [a for a in aliases if a["AliasName"] == "alias/cli-described"]
    assert len(mine) == 1 and mine[0]["TargetKeyId"] == key_id
    assert mine[0]["AliasArn"].endswith(":alias/cli-described")
    only = kms.json("kms", "list-aliases", "--key-id", key_id)["Aliases"]
    assert [a["AliasName"] for a in only] == ["alias/cli-described"]
    listed = kms.json("kms", "list-keys")["Keys"]
    assert any(k["KeyId"] == key_id for k in listed)


def test_disabled_key_refuses_encrypt(kms, tmp_path):
    key_id = create_key(kms)["KeyId"]
    plain = tmp_path / "p"
    plain.write_bytes(b"hello")
    kms.run("kms", "disable-key", "--key-id", key_id)
    state = kms.json("kms", "describe-key", "--key-id", key_id)["KeyMetadata"]
    assert state["KeyState"] == "Disabled" and state["Enabled"] is False
    err = kms.fails("kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{plain}")
    assert "DisabledException" in err
    assert "is disabled." in err
    kms.run("kms", "enable-key", "--key-id", key_id)


def test_schedule_deletion_then_window_ends(kms, kms_server, tmp_path):
    key_id = create_key(kms)["KeyId"]
    plain = tmp_path / "p"
    plain.write_bytes(b"soon unrecoverable")
    blob_b64 = kms.run(
        "kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{plain}",
        "--query", "CiphertextBlob", "--output", "text",
    ).stdout
    blob = b64_to_file(blob_b64, tmp_path / "blob")

    out = kms.json(
        "kms", "schedule-key-deletion", "--key-id", key_id, "--pending-window-in-days", "7"
    )
    assert out["KeyState"] == "PendingDeletion"
    assert out["PendingWindowInDays"] == 7
    assert out["KeyId"].endswith(key_id)
    md = kms.json("kms", "describe-key", "--key-id", key_id)["KeyMetadata"]
    assert md["KeyState"] == "PendingDeletion"
    assert "DeletionDate" in md
    err = kms.fails("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}")
    assert "KMSInvalidStateException" in err and "is pending deletion." in err

    advance_clock(kms_server, 8 * DAY)

    err = kms.fails("kms", "describe-key", "--key-id", key_id)
    assert "NotFoundException" in err
    err = kms.fails("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}")
    assert "NotFoundException" in err or "InvalidCiphertextException" in err, err


def test_cancel_deletion_leaves_key_disabled(kms):
    key_id = create_key(kms)["KeyId"]
    kms.run("kms", "schedule-key-deletion", "--key-id", key_id, "--pending-window-in-days", "30")
    out = kms.json("kms", "cancel-key-deletion", "--key-id", key_id)
    assert out["KeyId"].endswith(key_id)
    md = kms.json("kms", "describe-key", "--key-id", key_id)["KeyMetadata"]
    assert md["KeyState"] == "Disabled"
    assert "DeletionDate" not in md


def test_rotation(kms, tmp_path):
    key_id = create_key(kms)["KeyId"]
    plain = tmp_path / "p"
    plain.write_bytes(b"before rotation")
    blob_b64 = kms.run(
        "kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{plain}",
        "--query", "CiphertextBlob", "--output", "text",
    ).stdout
    blob = b64_to_file(blob_b64, tmp_path / "blob")

    kms.run("kms", "enable-key-rotation", "--key-id", key_id, "--rotation-period-in-days", "120")
    status = kms.json("kms", "get-key-rotation-status", "--key-id", key_id)
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 120
    assert "NextRotationDate" in status

    out = kms.json("kms", "rotate-key-on-demand", "--key-id", key_id)
    assert out["KeyId"].endswith(key_id)
    rotations = kms.json("kms", "list-key-rotations", "--key-id", key_id)["Rotations"]
    assert len(rotations) == 1
    assert rotations[0]["RotationType"] == "ON_DEMAND"
    assert "RotationDate" in rotations[0]

    back = kms.json("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}")
    assert base64.b64decode(back["Plaintext"]) == b"before rotation"


def test_key_policy(kms, bob_kms, tmp_path):
    md = create_key(kms)
    key_id, arn, account = md["KeyId"], md["Arn"], md["AWSAccountId"]
    default = json.loads(
        kms.json("kms", "get-key-policy", "--key-id", key_id, "--policy-name", "default")["Policy"]
    )
    assert default["Statement"][0]["Principal"]["AWS"] == f"arn:aws:iam::{account}:root"
    assert default["Statement"][0]["Action"] == "kms:*"
    assert kms.json("kms", "list-key-policies", "--key-id", key_id)["PolicyNames"] == ["default"]

    plain = tmp_path / "p"
    plain.write_bytes(b"bob writes")
    err = bob_kms.fails("kms", "encrypt", "--key-id", arn, "--plaintext", f"fileb://{plain}")
    assert "AccessDeniedException" in err

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "bob encrypts",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:user/bob"},
                "Action": "kms:Encrypt",
                "Resource": "*",
            },
        ],
    }
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(policy))
    kms.run(
        "kms", "put-key-policy", "--key-id", key_id, "--policy-name", "default",
        "--policy", f"file://{policy_file}",
    )
    got = json.loads(kms.json("kms", "get-key-policy", "--key-id", key_id)["Policy"])
    assert got == policy
    bob_kms.run("kms", "encrypt", "--key-id", arn, "--plaintext", f"fileb://{plain}")

    policy_file.write_text("{not json")
    err = kms.fails(
        "kms", "put-key-policy", "--key-id", key_id, "--policy-name", "default",
        "--policy", f"file://{policy_file}",
    )
    assert "MalformedPolicyDocumentException" in err


def test_grants(kms, bob_kms, tmp_path):
    md = create_key(kms)
    key_id, arn, account = md["KeyId"], md["Arn"], md["AWSAccountId"]
    bob_arn = f"arn:aws:iam::{account}:user/bob"
    plain = tmp_path / "p"
    plain.write_bytes(b"granted")
    blob_b64 = kms.run(
        "kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{plain}",
        "--query", "CiphertextBlob", "--output", "text",
    ).stdout
    blob = b64_to_file(blob_b64, tmp_path / "blob")
    assert "AccessDeniedException" in bob_kms.fails(
        "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}"
    )

    grant = kms.json(
        "kms", "create-grant", "--key-id", key_id,
        "--grantee-principal", bob_arn,
        "--operations", "Decrypt", "DescribeKey",
    )
    grant_id = grant["GrantId"]
    assert grant["GrantToken"]
    grants = kms.json("kms", "list-grants", "--key-id", key_id)["Grants"]
    assert len(grants) == 1
    assert grants[0]["GrantId"] == grant_id
    assert grants[0]["GranteePrincipal"] == bob_arn
    assert sorted(grants[0]["Operations"]) == ["Decrypt", "DescribeKey"]
    assert grants[0]["KeyId"] == arn

    back = bob_kms.json("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}")
    assert base64.b64decode(back["Plaintext"]) == b"granted"
    assert "AccessDeniedException" in bob_kms.fails(
        "kms", "encrypt", "--key-id", arn, "--plaintext", f"fileb://{plain}"
    )

    kms.run("kms", "revoke-grant", "--key-id", key_id, "--grant-id", grant_id)
    assert kms.json("kms", "list-grants", "--key-id", key_id)["Grants"] == []
    assert "AccessDeniedException" in bob_kms.fails(
        "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}"
    )


def test_tags(kms):
    key_id = create_key(kms, "--tags", "TagKey=team,TagValue=storage")["KeyId"]
    kms.run(
        "kms", "tag-resource", "--key-id", key_id,
        "--tags", "TagKey=env,TagValue=test", "TagKey=team,TagValue=platform",
    )
    tags = kms.json("kms", "list-resource-tags", "--key-id", key_id)["Tags"]
    assert {t["TagKey"]: t["TagValue"] for t in tags} == {"env": "test", "team": "platform"}
    kms.run("kms", "untag-resource", "--key-id", key_id, "--tag-keys", "env")
    tags = kms.json("kms", "list-resource-tags", "--key-id", key_id)["Tags"]
    assert tags == [{"TagKey": "team", "TagValue": "platform"}]
    err = kms.fails(
        "kms", "tag-resource", "--key-id", key_id, "--tags", "TagKey=aws:reserved,TagValue=x"
    )
    assert "TagException" in err


def test_generate_random(kms):
    a = base64.b64decode(
        kms.json("kms", "generate-random", "--number-of-bytes", "32")["Plaintext"]
    )
    b = base64.b64decode(
        kms.json("kms", "generate-random", "--number-of-bytes", "32")["Plaintext"]
    )
    assert len(a) == 32 and len(b) == 32 and a != b
    err = kms.fails("kms", "generate-random", "--number-of-bytes", "1025")
    assert "ValidationException" in err
