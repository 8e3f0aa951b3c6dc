"""Multi-Region KMS keys over the aws CLI (v1), against one sealgate KMS serving two Regions
(`region` and `kms_regions`): `create-key --multi-region`, `replicate-key --replica-region`,
a ciphertext made with `--region us-east-1` decrypted with `--region eu-west-1` and back,
`update-primary-region`, and the DescribeKey fields AWS documents for each Region's key.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import AwsCli, Server, launch

HOME = "us-east-1"
OTHER = "eu-west-1"


@pytest.fixture(scope="module")
def kms_server(tmp_path_factory) -> Iterator[Server]:
    with launch(
        tmp_path_factory.mktemp("kms-mrk-gateway"), config_toml=f'kms_regions = ["{OTHER}"]\n'
    ) as srv:
        yield dataclasses.replace(srv, endpoint_https=srv.endpoint_kms, endpoint_http=srv.endpoint_kms)


@pytest.fixture(scope="module")
def kms(kms_server, tmp_path_factory) -> AwsCli:
    return AwsCli(kms_server, tmp_path_factory.mktemp("aws-kms-mrk-home"))


def describe(kms: AwsCli, key: str, region: str) -> dict:
    return kms.json("kms", "describe-key", "--key-id", key, "--region", region)["KeyMetadata"]


def test_replicate_decrypt_elsewhere_and_move_the_primary(kms: AwsCli, tmp_path: Path):
    md = kms.json("kms", "create-key", "--multi-region", "--description", "mrk",
                  "--region", HOME)["KeyMetadata"]
    key = md["KeyId"]
    assert key.startswith("mrk-") and len(key) == 36
    assert md["MultiRegion"] is True
    assert md["Arn"] == f"arn:aws:kms:{HOME}:000000000000:key/{key}"
    cfg = md["MultiRegionConfiguration"]
    assert cfg["MultiRegionKeyType"] == "PRIMARY"
    assert cfg["PrimaryKey"] == {"Arn": md["Arn"], "Region": HOME}
    assert cfg["ReplicaKeys"] == []

    err = kms.fails("kms", "describe-key", "--key-id", key, "--region", OTHER)
    assert "NotFoundException" in err

    (tmp_path / "plain").write_bytes(b"made in us-east-1")
    blob = kms.run("kms", "encrypt", "--key-id", key, "--plaintext", f"fileb://{tmp_path / 'plain'}",
                   "--encryption-context", "app=mrk", "--region", HOME,
                   "--query", "CiphertextBlob", "--output", "text").stdout.strip()
    (tmp_path / "blob").write_bytes(base64.b64decode(blob))

    out = kms.json("kms", "replicate-key", "--key-id", key, "--replica-region", OTHER,
                   "--description", "replica", "--tags", "TagKey=site,TagValue=eu",
                   "--region", HOME)
    replica = out["ReplicaKeyMetadata"]
    assert replica["KeyId"] == key
    assert replica["Arn"] == f"arn:aws:kms:{OTHER}:000000000000:key/{key}"
    assert replica["Description"] == "replica"
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert replica["MultiRegionConfiguration"]["PrimaryKey"]["Region"] == HOME
    assert out["ReplicaTags"] == [{"TagKey": "site", "TagValue": "eu"}]
    err = kms.fails("kms", "replicate-key", "--key-id", key, "--replica-region", OTHER, "--region", HOME)
    assert "AlreadyExistsException" in err

    # The other Region decrypts what the home Region encrypted, and the other way round.
    plain = kms.run("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'blob'}",
                    "--encryption-context", "app=mrk", "--region", OTHER,
                    "--query", "Plaintext", "--output", "text").stdout.strip()
    assert base64.b64decode(plain) == b"made in us-east-1"
    (tmp_path / "plain2").write_bytes(b"made in eu-west-1")
    blob2 = kms.run("kms", "encrypt", "--key-id", key, "--plaintext", f"fileb://{tmp_path / 'plain2'}",
                    "--region", OTHER, "--query", "CiphertextBlob", "--output", "text").stdout.strip()
    (tmp_path / "blob2").write_bytes(base64.b64decode(blob2))
    back = kms.json("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'blob2'}",
                    "--region", HOME)
    assert base64.b64decode(back["Plaintext"]) == b"made in eu-west-1"
    assert back["KeyId"] == md["Arn"]

    primary = describe(kms, key, HOME)
    assert primary["MultiRegionConfiguration"]["ReplicaKeys"] == [
        {"Arn": replica["Arn"], "Region": OTHER}
    ]
    err = kms.fails("kms", "schedule-key-deletion", "--key-id", key, "--pending-window-in-days", "7",
                    "--region", HOME)
    assert "UnsupportedOperationException" in err

    kms.run("kms", "update-primary-region", "--key-id", key, "--primary-region", OTHER,
            "--region", HOME)
    moved = describe(kms, key, OTHER)
    assert moved["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    assert moved["MultiRegionConfiguration"]["PrimaryKey"] == {"Arn": replica["Arn"], "Region": OTHER}
    assert moved["MultiRegionConfiguration"]["ReplicaKeys"] == [{"Arn": md["Arn"], "Region": HOME}]
    assert moved["Description"] == "replica"
    old = describe(kms, key, HOME)
    assert old["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert old["Description"] == "mrk"
    tags = kms.json("kms", "list-resource-tags", "--key-id", key, "--region", OTHER)["Tags"]
    assert tags == [{"TagKey": "site", "TagValue": "eu"}]


def test_single_region_keys_stay_in_their_region(kms: AwsCli):
    md = kms.json("kms", "create-key", "--region", HOME)["KeyMetadata"]
    assert md["MultiRegion"] is False
    assert "MultiRegionConfiguration" not in md
    err = kms.fails("kms", "replicate-key", "--key-id", md["KeyId"], "--replica-region", OTHER,
                    "--region", HOME)
    assert "UnsupportedOperationException" in err
    err = kms.fails("kms", "describe-key", "--key-id", md["KeyId"], "--region", OTHER)
    assert "NotFoundException" in err
    listed = kms.json("kms", "list-keys", "--region", OTHER)["Keys"]
    assert md["KeyId"] not in [k["KeyId"] for k in listed]
    err = kms.fails("kms", "list-keys", "--region", "ap-south-1")
    assert "InvalidSignatureException" in err
