"""s3cmd (the Debian package) against sealgate, signing with SigV4 and with SigV2.

s3cmd gets a config file of its own: path-style (`host_bucket` equal to `host_base`), HTTPS with
the gateway's CA in `ca_certs_file`, and `signature_v2` False or True. Each flow is run with both
signature versions, since sealgate accepts SigV2 for S3.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pytest
from botocore.config import Config

from helpers import metric_value, write_random_file

MiB = 1024 * 1024
S3CMD = shutil.which("s3cmd") or "/usr/bin/s3cmd"


def md5_file(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class S3cmd:
    def __init__(self, server, home: Path, *, sigv2: bool):
        home.mkdir(parents=True, exist_ok=True)
        host = urlparse(server.endpoint_https).netloc
        self.config = home / "s3cfg"
        self.config.write_text(
            "[default]\n"
            f"access_key = {server.access_key}\n"
            f"secret_key = {server.secret_key}\n"
            f"host_base = {host}\n"
            f"host_bucket = {host}\n"
            f"bucket_location = {server.region}\n"
            "use_https = True\n"
            f"ca_certs_file = {server.ca_path}\n"
            "check_ssl_certificate = True\n"
            "check_ssl_hostname = True\n"
            f"signature_v2 = {sigv2}\n"
            "progress_meter = False\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["HOME"] = str(home)
        self.env = env
        self.sigv2 = sigv2

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [S3CMD, "-c", str(self.config), *map(str, args)]
        proc = subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
            timeout=300,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"s3cmd {' '.join(map(str, args))} exited {proc.returncode}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        # s3cmd reports MD5 mismatches and retries as WARNING/ERROR lines yet may still exit 0.
        if check:
            assert "ERROR" not in proc.stderr, proc.stderr
            assert "MD5 signatures do not match" not in proc.stderr, proc.stderr
        return proc


@pytest.fixture(scope="module", params=[False, True], ids=["sigv4", "sigv2"])
def s3cmd(request, server, tmp_path_factory) -> S3cmd:
    if not os.access(S3CMD, os.X_OK):
        pytest.fail("s3cmd is not installed; ./scripts/test installs the Debian package")
    return S3cmd(server, tmp_path_factory.mktemp("s3cmd-home"), sigv2=request.param)


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


def sigv2_header_requests(server) -> int:
    return metric_value(server, "sealgate_s3_sigv2_requests_total", 'form="header"')


def test_signature_version_is_the_configured_one(s3cmd, server):
    # Proves the SigV2 runs really sign with SigV2 (and the SigV4 ones do not).
    before = sigv2_header_requests(server)
    s3cmd.run("ls")
    after = sigv2_header_requests(server)
    assert after - before == (1 if s3cmd.sigv2 else 0)


def new_bucket() -> str:
    return f"s3cmd-{uuid.uuid4().hex[:12]}"


def test_mb_put_ls_get_info_del_rb(s3cmd, s3, tmp_path):
    b = new_bucket()
    out = s3cmd.run("mb", f"s3://{b}").stdout
    assert f"Bucket 's3://{b}/' created" in out
    assert f"s3://{b}" in s3cmd.run("ls").stdout

    small = tmp_path / "small.txt"
    small.write_bytes(b"hello, s3cmd\n")
    big = tmp_path / "big.bin"
    write_random_file(big, 12 * MiB + 7)
    s3cmd.run("put", small, f"s3://{b}/small.txt")
    s3cmd.run("put", "--multipart-chunk-size-mb=5", big, f"s3://{b}/dir/big.bin")

    # The big file went up as a 3-part multipart upload.
    head = s3.head_object(Bucket=b, Key="dir/big.bin")
    assert head["ETag"].endswith('-3"'), head["ETag"]
    assert head["ContentLength"] == big.stat().st_size

    listing = s3cmd.run("ls", "--recursive", f"s3://{b}").stdout.splitlines()
    sizes = {line.split()[-1]: int(line.split()[2]) for line in listing}
    assert sizes == {
        f"s3://{b}/small.txt": small.stat().st_size,
        f"s3://{b}/dir/big.bin": big.stat().st_size,
    }
    assert f"DIR  s3://{b}/dir/" in s3cmd.run("ls", f"s3://{b}").stdout.replace("   ", " ")

    for name, src in (("small.txt", small), ("dir/big.bin", big)):
        dst = tmp_path / ("got-" + src.name)
        s3cmd.run("get", f"s3://{b}/{name}", dst)
        assert md5_file(dst) == md5_file(src)

    info = s3cmd.run("info", f"s3://{b}/small.txt").stdout
    assert f"File size: {small.stat().st_size}" in info
    assert f"MD5 sum:   {md5_file(small)}" in info
    # s3cmd shows the encryption the gateway reports (sealgate encrypts every object).
    sse = s3.head_object(Bucket=b, Key="small.txt").get("ServerSideEncryption", "none")
    assert f"SSE:       {sse}" in info

    # A non-empty bucket refuses rb; del then rb works.
    proc = s3cmd.run("rb", f"s3://{b}", check=False)
    assert proc.returncode != 0
    assert "BucketNotEmpty" in proc.stderr
    s3cmd.run("del", f"s3://{b}/small.txt", f"s3://{b}/dir/big.bin")
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0
    assert f"Bucket 's3://{b}/' removed" in s3cmd.run("rb", f"s3://{b}").stdout
    assert b not in [x["Name"] for x in s3.list_buckets()["Buckets"]]


def test_get_missing_object_fails(s3cmd, s3, tmp_path):
    b = new_bucket()
    s3.create_bucket(Bucket=b)
    proc = s3cmd.run("get", f"s3://{b}/nope", tmp_path / "nope", check=False)
    assert proc.returncode == 64  # s3cmd's EX_USAGE after the gateway's 404 on HEAD
    assert "does not exist" in proc.stderr
    assert not (tmp_path / "nope").exists()


def test_server_side_encryption(s3cmd, s3, kms, tmp_path):
    b = new_bucket()
    s3.create_bucket(Bucket=b)
    src = tmp_path / "f.bin"
    src.write_bytes(os.urandom(100_003))
    big = tmp_path / "big.bin"
    write_random_file(big, 11 * MiB)

    s3cmd.run("put", "--server-side-encryption", src, f"s3://{b}/s3.bin")
    head = s3.head_object(Bucket=b, Key="s3.bin")
    assert head["ServerSideEncryption"] == "AES256"
    assert "SSE:       AES256" in s3cmd.run("info", f"s3://{b}/s3.bin").stdout

    key_id = kms.create_key(Description="s3cmd sse-kms")["KeyMetadata"]["KeyId"]
    key_arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    for name, path, extra in (
        ("kms.bin", src, []),
        ("kms-big.bin", big, ["--multipart-chunk-size-mb=5"]),
    ):
        s3cmd.run("put", *extra, "--server-side-encryption-kms-id", key_id, path,
                  f"s3://{b}/{name}")
        head = s3.head_object(Bucket=b, Key=name)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == key_arn
        info = s3cmd.run("info", f"s3://{b}/{name}").stdout
        assert "SSE:       aws:kms" in info
        assert f"MD5 sum:   {md5_file(path)}" in info
        dst = tmp_path / f"got-{name}"
        s3cmd.run("get", f"s3://{b}/{name}", dst)
        assert md5_file(dst) == md5_file(path)

    dst = tmp_path / "got-s3.bin"
    s3cmd.run("get", f"s3://{b}/s3.bin", dst)
    assert md5_file(dst) == md5_file(src)


def test_sync_uploads_changes_and_deletes(s3cmd, s3, tmp_path):
    b = new_bucket()
    s3.create_bucket(Bucket=b)
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"a\n")
    (root / "sub" / "b.bin").write_bytes(os.urandom(50_000))
    (root / "sub" / "c.txt").write_bytes(b"c\n")

    s3cmd.run("sync", f"{root}/", f"s3://{b}/t/")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]}
    assert keys == {"t/a.txt", "t/sub/b.bin", "t/sub/c.txt"}

    # Nothing changed: a second sync uploads nothing.
    out = s3cmd.run("sync", f"{root}/", f"s3://{b}/t/").stdout
    assert "upload:" not in out

    (root / "a.txt").write_bytes(b"changed\n")
    (root / "sub" / "c.txt").unlink()
    out = s3cmd.run("sync", "--delete-removed", f"{root}/", f"s3://{b}/t/").stdout
    assert "upload:" in out and "delete:" in out
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]}
    assert keys == {"t/a.txt", "t/sub/b.bin"}
    assert s3.get_object(Bucket=b, Key="t/a.txt")["Body"].read() == b"changed\n"

    # And back down.
    down = tmp_path / "down"
    s3cmd.run("sync", f"s3://{b}/t/", f"{down}/")
    assert (down / "a.txt").read_bytes() == b"changed\n"
    assert md5_file(down / "sub" / "b.bin") == md5_file(root / "sub" / "b.bin")
    assert not (down / "sub" / "c.txt").exists()
