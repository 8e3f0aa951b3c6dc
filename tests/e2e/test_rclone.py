"""rclone (the Debian package) against sealgate: the flows a user runs, checked by bytes.

rclone talks to the gateway as an `s3` remote with provider Other, path-style addressing and the
gateway's CA passed with `--ca-cert` (rclone refuses `AWS_CA_BUNDLE`, so the environment is
stripped of every `AWS_*` variable). Uploads use a 5 MiB cutoff and chunk size so a ~12 MiB file
goes through rclone's multipart path.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from helpers import metric_value, write_random_file

MiB = 1024 * 1024
RCLONE = shutil.which("rclone") or "/usr/bin/rclone"
# Forces multipart on the 12 MiB file: 3 parts of 5, 5 and 2 MiB.
MULTIPART = ["--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"]


def md5_file(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Rclone:
    """Runs `rclone ...` with a config file holding one remote, `sg:`, pointed at the gateway."""

    def __init__(self, server, home: Path):
        home.mkdir(parents=True, exist_ok=True)
        self.config = home / "rclone.conf"
        self.config.write_text(
            "[sg]\n"
            "type = s3\n"
            "provider = Other\n"
            f"access_key_id = {server.access_key}\n"
            f"secret_access_key = {server.secret_key}\n"
            f"endpoint = {server.endpoint_https}\n"
            f"region = {server.region}\n"
            "force_path_style = true\n"
        )
        self.ca = server.ca_path
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
        env["HOME"] = str(home)
        self.env = env

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [RCLONE, "--config", str(self.config), "--ca-cert", self.ca, *map(str, args)]
        proc = subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
            timeout=300,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"rclone {' '.join(map(str, args))} exited {proc.returncode}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc

    def clean(self, *args: str) -> subprocess.CompletedProcess:
        """Runs a command that must succeed without rclone logging any ERROR."""
        proc = self.run(*args)
        assert "ERROR" not in proc.stderr, f"rclone {' '.join(args)} logged:\n{proc.stderr}"
        return proc


@pytest.fixture(scope="module")
def rclone(server, tmp_path_factory) -> Rclone:
    if not os.access(RCLONE, os.X_OK):
        pytest.fail("rclone is not installed; ./scripts/test installs the Debian package")
    return Rclone(server, tmp_path_factory.mktemp("rclone-home"))


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


@pytest.fixture
def tree(tmp_path) -> tuple[Path, dict[str, str]]:
    """A directory tree with a small, an empty, a nested and a multipart-sized file; returns the
    root and {relative path: md5}."""
    root = tmp_path / "src"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "hello.txt").write_bytes(b"hello, sealgate\n")
    (root / "empty.bin").write_bytes(b"")
    (root / "sub" / "small.bin").write_bytes(os.urandom(70_001))
    (root / "sub" / "deeper" / "note.txt").write_bytes(b"deep\n" * 100)
    write_random_file(root / "big.bin", 12 * MiB + 12_345)
    sums = {
        p.relative_to(root).as_posix(): md5_file(p) for p in root.rglob("*") if p.is_file()
    }
    return root, sums


def new_bucket() -> str:
    return f"rc-{uuid.uuid4().hex[:12]}"


def test_mkdir_copy_ls_check_cat_sync_purge(rclone, server, s3, tree, tmp_path):
    root, sums = tree
    b = new_bucket()

    rclone.clean("mkdir", f"sg:{b}")
    assert b in [x["Name"] for x in s3.list_buckets()["Buckets"]]
    assert b in rclone.run("lsd", "sg:").stdout.split()

    rclone.clean("copy", *MULTIPART, root, f"sg:{b}/tree")

    # The big file went up in 3 parts: its ETag is the multipart form.
    head = s3.head_object(Bucket=b, Key="tree/big.bin")
    assert head["ETag"].endswith('-3"'), head["ETag"]
    assert head["ContentLength"] == 12 * MiB + 12_345

    # ls lists sizes and paths; lsl adds modification times (rclone's own metadata).
    listed = {}
    for line in rclone.run("ls", f"sg:{b}/tree").stdout.splitlines():
        size, name = line.split(maxsplit=1)
        listed[name] = int(size)
    assert listed == {name: (root / name).stat().st_size for name in sums}
    lsl = rclone.run("lsl", f"sg:{b}/tree").stdout.splitlines()
    assert len(lsl) == len(sums)
    for line in lsl:
        size, date, time_, name = line.split(maxsplit=3)
        src = root / name
        assert int(size) == src.stat().st_size
        # rclone stores the mtime in x-amz-meta-mtime and reads it back to the second.
        assert date.count("-") == 2 and time_.count(":") == 2

    # `rclone md5sum` and `check` compare against what the gateway reports (ETag / metadata).
    md5s = {}
    for line in rclone.run("md5sum", f"sg:{b}/tree").stdout.splitlines():
        digest, name = line.split(maxsplit=1)
        md5s[name] = digest
    small = {k: v for k, v in sums.items() if k != "big.bin"}
    assert {k: md5s[k] for k in small} == small
    proc = rclone.clean("check", root, f"sg:{b}/tree")
    assert "0 differences found" in proc.stderr
    assert f"{len(sums)} matching files" in proc.stderr

    # Download: byte-identical.
    assert rclone.run("cat", f"sg:{b}/tree/hello.txt").stdout == "hello, sealgate\n"
    out = tmp_path / "down"
    rclone.clean("copy", f"sg:{b}/tree", out)
    assert {p.relative_to(out).as_posix(): md5_file(p)
            for p in out.rglob("*") if p.is_file()} == sums

    # sync removes what the source no longer has and uploads what changed.
    (root / "sub" / "small.bin").unlink()
    (root / "hello.txt").write_bytes(b"changed\n")
    rclone.clean("sync", *MULTIPART, root, f"sg:{b}/tree")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=b, Prefix="tree/")["Contents"]}
    assert "tree/sub/small.bin" not in keys
    assert len(keys) == len(sums) - 1
    assert s3.get_object(Bucket=b, Key="tree/hello.txt")["Body"].read() == b"changed\n"
    rclone.clean("check", root, f"sg:{b}/tree")

    # purge deletes the objects and the bucket; rclone asks GetBucketVersioning first and must
    # not log an error about it (issue 15).
    versioning = 'operation="GetBucketVersioning",status="200"'
    before = metric_value(server, "sealgate_s3_requests_total", versioning)
    rclone.clean("purge", f"sg:{b}")
    assert metric_value(server, "sealgate_s3_requests_total", versioning) > before
    assert b not in [x["Name"] for x in s3.list_buckets()["Buckets"]]


def test_check_detects_a_changed_object(rclone, s3, tree):
    root, sums = tree
    b = new_bucket()
    rclone.clean("copy", root, f"sg:{b}")
    s3.put_object(Bucket=b, Key="hello.txt", Body=b"tampered")
    proc = rclone.run("check", root, f"sg:{b}", check=False)
    assert proc.returncode != 0
    assert "1 differences found" in proc.stderr
    rclone.clean("purge", f"sg:{b}")


def test_sse_kms_upload_and_read_back(rclone, s3, kms, tree, tmp_path):
    root, sums = tree
    key_id = kms.create_key(Description="rclone sse-kms")["KeyMetadata"]["KeyId"]
    key_arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    b = new_bucket()
    sse = ["--s3-server-side-encryption", "aws:kms", "--s3-sse-kms-key-id", key_arn]
    rclone.clean("copy", *MULTIPART, *sse, root, f"sg:{b}")

    for name in ("hello.txt", "big.bin"):
        head = s3.head_object(Bucket=b, Key=name)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == key_arn

    out = tmp_path / "down"
    rclone.clean("copy", *sse, f"sg:{b}", out)
    assert {p.relative_to(out).as_posix(): md5_file(p)
            for p in out.rglob("*") if p.is_file()} == sums
    rclone.clean("purge", f"sg:{b}")


def test_sse_c_upload_and_read_back(rclone, s3, tree, tmp_path):
    root, sums = tree
    raw = secrets.token_bytes(32)
    b64 = base64.b64encode(raw).decode()
    b = new_bucket()
    ssec = ["--s3-sse-customer-algorithm", "AES256", "--s3-sse-customer-key-base64", b64]
    rclone.clean("copy", *MULTIPART, *ssec, root, f"sg:{b}")

    key_md5 = base64.b64encode(hashlib.md5(raw).digest()).decode()
    for name in ("hello.txt", "big.bin"):
        head = s3.head_object(Bucket=b, Key=name, SSECustomerAlgorithm="AES256",
                              SSECustomerKey=raw)
        assert head["SSECustomerAlgorithm"] == "AES256"
        assert head["SSECustomerKeyMD5"] == key_md5
        assert "ServerSideEncryption" not in head
    # Without the key the object cannot be read.
    with pytest.raises(s3.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="hello.txt")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    out = tmp_path / "down"
    rclone.clean("copy", *ssec, f"sg:{b}", out)
    assert {p.relative_to(out).as_posix(): md5_file(p)
            for p in out.rglob("*") if p.is_file()} == sums
    assert rclone.run("cat", *ssec, f"sg:{b}/hello.txt").stdout == "hello, sealgate\n"
    rclone.clean("purge", f"sg:{b}")
