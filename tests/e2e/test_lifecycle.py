"""Lifecycle rules as applications drive them over HTTPS: the aws CLI puts and reads a
NoncurrentVersionExpiration rule on a versioned bucket, boto3 writes three versions of a key and
reads `x-amz-expiration`, the test clock moves days forward, and the noncurrent versions are
gone — from listings and, once the sweep has run, from the data dir — while the current one
reads back byte for byte.

This module launches its own `sealgate serve` with `SEALGATE_TEST_CLOCK=1` (the lifecycle
worker runs after every `Sealgate.AdvanceClock`) and a sweep every second with a 2 s grace, so
the retired blobs disappear within seconds instead of the default 15 minutes.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import AwsCli, ClientFactory, Server, launch
from helpers import advance_clock, metric_value

DAY = 86_400
SWEEP = 'sweep_interval = "1s"\nsweep_grace = "2s"\n'


@pytest.fixture(scope="module")
def lc_server(tmp_path_factory) -> Iterator[Server]:
    with launch(
        tmp_path_factory.mktemp("lifecycle-gateway"),
        extra_env={"SEALGATE_TEST_CLOCK": "1"},
        config_toml=SWEEP,
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def lc_aws(lc_server, tmp_path_factory) -> AwsCli:
    return AwsCli(lc_server, tmp_path_factory.mktemp("aws-lifecycle-home"))


@pytest.fixture(scope="module")
def lc_s3(lc_server, make_client):
    # `make_client` isolates botocore from the host's AWS configuration.
    return ClientFactory(lc_server)()


def _generations(server: Server, bucket: str, key: str) -> dict[str, str]:
    """Version id → data generation, from the version records on disk (current and kept)."""
    out = {}
    for p in Path(server.data_dir).rglob("*"):
        s = str(p)
        if p.is_file() and (f"/meta/{bucket}/" in s or f"/versions/{bucket}/" in s):
            rec = json.loads(p.read_bytes())
            if "generation" in rec:
                out[rec.get("version_id", "null")] = rec["generation"]
    return out


def _blob_files(server: Server, bucket: str, generation: str) -> list[Path]:
    return [
        p
        for p in Path(server.data_dir).rglob("*")
        if p.is_file() and f"/data/{bucket}/{generation}/" in str(p)
    ]


def _wait_for(what: str, cond, server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{server.log_tail()}"
        time.sleep(0.1)


def test_noncurrent_versions_expire_under_the_test_clock(lc_server, lc_aws, lc_s3, tmp_path):
    bucket = f"e2e-lc-{secrets.token_hex(4)}"
    lc_aws.run("s3api", "create-bucket", "--bucket", bucket)
    lc_aws.run(
        "s3api", "put-bucket-versioning", "--bucket", bucket,
        "--versioning-configuration", "Status=Enabled",
    )
    err = lc_aws.fails("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket)
    assert "NoSuchLifecycleConfiguration" in err, err

    config = {
        "Rules": [
            {
                "ID": "old-versions",
                "Status": "Enabled",
                "Filter": {"Prefix": "docs/"},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
            },
            {
                "ID": "expire-docs",
                "Status": "Enabled",
                "Filter": {"Prefix": "docs/"},
                "Expiration": {"Days": 30},
            },
        ]
    }
    cfg_file = tmp_path / "lifecycle.json"
    cfg_file.write_text(json.dumps(config))
    lc_aws.run(
        "s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
        "--lifecycle-configuration", f"file://{cfg_file}",
    )
    got = lc_aws.json("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket)
    assert [r["ID"] for r in got["Rules"]] == ["old-versions", "expire-docs"]
    assert got["Rules"][0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert got["Rules"][0]["Filter"] == {"Prefix": "docs/"}

    bodies = [secrets.token_bytes(n) for n in (40_000, 70_000, 100_000)]
    ids = []
    for body in bodies:
        out = lc_s3.put_object(Bucket=bucket, Key="docs/report", Body=body)
        ids.append(out["VersionId"])
        # The 30-day rule names itself and a midnight-UTC date.
        assert 'rule-id="expire-docs"' in out["Expiration"]
        assert "00:00:00 GMT" in out["Expiration"]
    head = lc_s3.head_object(Bucket=bucket, Key="docs/report")
    assert head["Expiration"] == out["Expiration"]

    gens = _generations(lc_server, bucket, "docs/report")
    assert set(gens) == set(ids), gens
    for v in ids:
        assert _blob_files(lc_server, bucket, gens[v]), f"blobs of {v} on disk before"

    runs = metric_value(lc_server, "sealgate_lifecycle_runs_total")
    removed = metric_value(lc_server, "sealgate_lifecycle_noncurrent_versions_removed_total")
    advance_clock(lc_server, 3 * DAY)
    _wait_for(
        "a lifecycle pass",
        lambda: metric_value(lc_server, "sealgate_lifecycle_runs_total") > runs,
        lc_server,
    )
    assert (
        metric_value(lc_server, "sealgate_lifecycle_noncurrent_versions_removed_total")
        == removed + 2
    )

    listed = lc_aws.json("s3api", "list-object-versions", "--bucket", bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [(ids[2], True)]
    assert "DeleteMarkers" not in listed
    for old in ids[:2]:
        err = lc_aws.fails(
            "s3api", "head-object", "--bucket", bucket, "--key", "docs/report",
            "--version-id", old,
        )
        assert "404" in err or "Not Found" in err, err

    out = tmp_path / "current.bin"
    lc_aws.run("s3api", "get-object", "--bucket", bucket, "--key", "docs/report", str(out))
    assert out.read_bytes() == bodies[2]

    # The sweep deletes the retired generations after its grace; the current one stays.
    _wait_for(
        "the sweep to delete the noncurrent blobs",
        lambda: not any(_blob_files(lc_server, bucket, gens[v]) for v in ids[:2]),
        lc_server,
    )
    assert _blob_files(lc_server, bucket, gens[ids[2]])
    assert lc_s3.get_object(Bucket=bucket, Key="docs/report")["Body"].read() == bodies[2]

    lc_aws.run("s3api", "delete-bucket-lifecycle", "--bucket", bucket)
    err = lc_aws.fails("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket)
    assert "NoSuchLifecycleConfiguration" in err, err
    assert "Expiration" not in lc_s3.head_object(Bucket=bucket, Key="docs/report")
