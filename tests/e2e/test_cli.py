"""The aws CLI (v1, as installed from PyPI) against sealgate: what a user types and checks."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import uuid
from pathlib import Path

import pytest

from helpers import sha256_file, write_random_file

MiB = 1024 * 1024
# The aws CLI's default multipart_threshold and multipart_chunksize.
CLI_CHUNK = 8 * MiB


@pytest.fixture
def cli_bucket(s3) -> str:
    # Created with boto3 to save a CLI start-up per test; `aws s3 mb` has its own test.
    name = f"cli-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def multipart_etag(data_parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in data_parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(data_parts)}"'


def file_multipart_etag(path: Path, chunk: int) -> str:
    digests = []
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digests.append(hashlib.md5(block).digest())
    return f'"{hashlib.md5(b"".join(digests)).hexdigest()}-{len(digests)}"'


# ---------------------------------------------------------------------------------------------
# aws s3 (high level)


def test_mb_ls_rb(aws):
    name = f"cli-{uuid.uuid4().hex[:12]}"
    assert f"make_bucket: {name}" in aws.run("s3", "mb", f"s3://{name}").stdout
    listed = [line.split()[-1] for line in aws.run("s3", "ls").stdout.splitlines()]
    assert name in listed

    # Creating it again succeeds in us-east-1, as on AWS (its legacy rule for that region).
    assert f"make_bucket: {name}" in aws.run("s3", "mb", f"s3://{name}").stdout

    assert f"remove_bucket: {name}" in aws.run("s3", "rb", f"s3://{name}").stdout
    listed = [line.split()[-1] for line in aws.run("s3", "ls").stdout.splitlines()]
    assert name not in listed
    err = aws.fails("s3api", "head-bucket", "--bucket", name)
    assert "404" in err or "Not Found" in err


def test_rb_refuses_non_empty_bucket_and_force_empties_it(aws, cli_bucket, tmp_path):
    f = tmp_path / "x.txt"
    f.write_bytes(b"x")
    aws.run("s3", "cp", f, f"s3://{cli_bucket}/x.txt")
    err = aws.fails("s3", "rb", f"s3://{cli_bucket}")
    assert "BucketNotEmpty" in err
    out = aws.run("s3", "rb", "--force", f"s3://{cli_bucket}").stdout
    assert f"remove_bucket: {cli_bucket}" in out


def test_cp_small_files_round_trip(aws, cli_bucket, tmp_path):
    cases = {
        "empty.bin": b"",
        "one.txt": b"1",
        "hello.txt": b"hello, sealgate\n",
        "rand.bin": os.urandom(300_001),
    }
    for name, body in cases.items():
        src = tmp_path / name
        src.write_bytes(body)
        out = aws.run("s3", "cp", src, f"s3://{cli_bucket}/small/{name}").stdout
        assert "upload: " in out and f" to s3://{cli_bucket}/small/{name}" in out

    for name, body in cases.items():
        dst = tmp_path / f"down-{name}"
        aws.run("s3", "cp", f"s3://{cli_bucket}/small/{name}", dst)
        assert dst.read_bytes() == body, name

    # `aws s3 cp ... -` streams to stdout.
    out = aws.run("s3", "cp", f"s3://{cli_bucket}/small/hello.txt", "-").stdout
    assert out == "hello, sealgate\n"


def test_cp_100mib_multipart_up_and_down(aws, cli_bucket, tmp_path):
    src = tmp_path / "big.bin"
    write_random_file(src, 100 * MiB)
    aws.run("s3", "cp", src, f"s3://{cli_bucket}/big.bin")

    head = aws.json("s3api", "head-object", "--bucket", cli_bucket, "--key", "big.bin")
    assert head["ContentLength"] == 100 * MiB
    assert head["ServerSideEncryption"] == "AES256"
    # 13 parts of 8 MiB: the ETag is the MD5 of the part MD5s, suffixed with the part count.
    assert head["ETag"] == file_multipart_etag(src, CLI_CHUNK)

    dst = tmp_path / "big.down"
    aws.run("s3", "cp", f"s3://{cli_bucket}/big.bin", dst)
    assert dst.stat().st_size == 100 * MiB
    assert sha256_file(dst) == sha256_file(src)


def _make_tree(root: Path) -> dict[str, bytes]:
    """~30 files in nested directories, sizes from 0 to ~1 MiB."""
    sizes = [0, 1, 2, 15, 16, 17, 100, 511, 512, 1000, 4095, 4096, 4097, 10_000, 65_535,
             65_536, 65_537, 100_000, 250_000, 1 * MiB + 7]
    dirs = ["", "a", "a/b", "a/b/c", "d", "d/e f", "g/h/i/j"]
    files: dict[str, bytes] = {}
    i = 0
    for d in dirs:
        for _ in range(4 if d else 3):
            size = sizes[i % len(sizes)]
            rel = f"{d}/file{i:02d}.bin" if d else f"top{i:02d}.bin"
            files[rel] = os.urandom(size)
            i += 1
    files["a/empty"] = b""
    files["g/h/empty too"] = b""
    files["d/e f/notes.txt"] = b"text with spaces in the directory name\n"
    past = time.time() - 3600  # older than any LastModified the server will report
    for rel, body in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
        os.utime(p, (past, past))
    return files


def _read_tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()
    }


def test_sync_ls_rm(aws, cli_bucket, tmp_path):
    src = tmp_path / "src"
    files = _make_tree(src)
    assert len(files) >= 30
    dest = f"s3://{cli_bucket}/tree"

    out = aws.run("s3", "sync", src, dest).stdout
    uploads = [line for line in out.splitlines() if "upload:" in line]
    assert len(uploads) == len(files), out

    # Nothing changed locally: a second sync transfers nothing.
    out = aws.run("s3", "sync", src, dest).stdout
    assert "upload:" not in out, out

    down = tmp_path / "down"
    down.mkdir()
    out = aws.run("s3", "sync", dest, down).stdout
    assert len([line for line in out.splitlines() if "download:" in line]) == len(files)
    assert _read_tree(down) == files

    # ls --recursive: every key with its size.
    lines = aws.run("s3", "ls", "--recursive", f"{dest}/").stdout.splitlines()
    listed = {}
    for line in lines:
        m = re.match(r"^\S+ \S+\s+(\d+) (.+)$", line)
        assert m, line
        listed[m.group(2)] = int(m.group(1))
    assert listed == {f"tree/{rel}": len(body) for rel, body in files.items()}

    # ls --recursive with a prefix lists only that subtree.
    lines = aws.run("s3", "ls", "--recursive", f"{dest}/a/b/").stdout.splitlines()
    keys = sorted(line.split(None, 3)[3] for line in lines)
    assert keys == sorted(f"tree/{rel}" for rel in files if rel.startswith("a/b/"))

    # ls without --recursive shows the "directories" as PRE entries.
    out = aws.run("s3", "ls", f"{dest}/").stdout
    pres = sorted(line.split()[1] for line in out.splitlines() if line.split()[0] == "PRE")
    assert pres == ["a/", "d/", "g/"]
    top = [line for line in out.splitlines() if line.split()[0] != "PRE"]
    assert len(top) == len([rel for rel in files if "/" not in rel])

    out = aws.run("s3", "rm", "--recursive", f"{dest}/").stdout
    assert len([line for line in out.splitlines() if "delete:" in line]) == len(files)
    assert aws.run("s3", "ls", "--recursive", f"{dest}/", check=False).stdout.strip() == ""
    assert not aws.json("s3api", "list-objects-v2", "--bucket", cli_bucket).get("Contents")


# ---------------------------------------------------------------------------------------------
# aws s3api


def test_get_object_range_and_head(aws, cli_bucket, tmp_path):
    body = os.urandom(1000)
    src = tmp_path / "obj"
    src.write_bytes(body)
    put = aws.json("s3api", "put-object", "--bucket", cli_bucket, "--key", "obj",
                   "--body", src, "--content-type", "application/x-test",
                   "--metadata", "color=blue,size=large")
    assert put["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"'
    assert put["ServerSideEncryption"] == "AES256"

    out = tmp_path / "range"
    got = aws.json("s3api", "get-object", "--bucket", cli_bucket, "--key", "obj",
                   "--range", "bytes=10-99", out)
    assert out.read_bytes() == body[10:100]
    assert got["ContentRange"] == "bytes 10-99/1000"
    assert got["ContentLength"] == 90

    head = aws.json("s3api", "head-object", "--bucket", cli_bucket, "--key", "obj")
    assert head["ContentLength"] == 1000
    assert head["ETag"] == put["ETag"]
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "application/x-test"
    assert head["Metadata"] == {"color": "blue", "size": "large"}
    assert "LastModified" in head

    err = aws.fails("s3api", "head-object", "--bucket", cli_bucket, "--key", "missing")
    assert "404" in err


def test_copy_object_copy_and_replace_metadata(aws, cli_bucket, tmp_path):
    body = b"copy me " * 100
    src = tmp_path / "src"
    src.write_bytes(body)
    aws.run("s3api", "put-object", "--bucket", cli_bucket, "--key", "orig", "--body", src,
            "--content-type", "text/plain", "--metadata", "k1=v1")

    copied = aws.json("s3api", "copy-object", "--bucket", cli_bucket, "--key", "copy1",
                      "--copy-source", f"{cli_bucket}/orig")
    assert copied["CopyObjectResult"]["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"'
    head = aws.json("s3api", "head-object", "--bucket", cli_bucket, "--key", "copy1")
    assert head["Metadata"] == {"k1": "v1"}
    assert head["ContentType"] == "text/plain"
    assert head["ServerSideEncryption"] == "AES256"

    aws.json("s3api", "copy-object", "--bucket", cli_bucket, "--key", "copy2",
             "--copy-source", f"{cli_bucket}/orig", "--metadata-directive", "REPLACE",
             "--metadata", "k2=v2", "--content-type", "application/json")
    head = aws.json("s3api", "head-object", "--bucket", cli_bucket, "--key", "copy2")
    assert head["Metadata"] == {"k2": "v2"}
    assert head["ContentType"] == "application/json"

    for key in ("copy1", "copy2"):
        dst = tmp_path / key
        aws.run("s3api", "get-object", "--bucket", cli_bucket, "--key", key, dst)
        assert dst.read_bytes() == body

    # Copying an object onto itself without changing anything is illegal ...
    err = aws.fails("s3api", "copy-object", "--bucket", cli_bucket, "--key", "orig",
                    "--copy-source", f"{cli_bucket}/orig")
    assert "InvalidRequest" in err
    # ... but allowed with REPLACE (the way to edit metadata in place).
    aws.run("s3api", "copy-object", "--bucket", cli_bucket, "--key", "orig",
            "--copy-source", f"{cli_bucket}/orig", "--metadata-directive", "REPLACE",
            "--metadata", "k3=v3")
    head = aws.json("s3api", "head-object", "--bucket", cli_bucket, "--key", "orig")
    assert head["Metadata"] == {"k3": "v3"}


def test_list_objects_v2_pagination(aws, s3, cli_bucket):
    keys = [f"p/{i:02d}" for i in range(7)]
    for k in keys + ["other"]:
        s3.put_object(Bucket=cli_bucket, Key=k, Body=b"p")

    # The CLI follows continuation tokens itself: small pages, complete result.
    out = aws.json("s3api", "list-objects-v2", "--bucket", cli_bucket, "--prefix", "p/",
                   "--page-size", "2")
    assert [c["Key"] for c in out["Contents"]] == keys

    # --max-items truncates the merged result and hands back a CLI NextToken.
    out = aws.json("s3api", "list-objects-v2", "--bucket", cli_bucket, "--prefix", "p/",
                   "--page-size", "2", "--max-items", "3")
    assert [c["Key"] for c in out["Contents"]] == keys[:3]
    token = out["NextToken"]
    out = aws.json("s3api", "list-objects-v2", "--bucket", cli_bucket, "--prefix", "p/",
                   "--page-size", "2", "--max-items", "3", "--starting-token", token)
    assert [c["Key"] for c in out["Contents"]] == keys[3:6]
    out = aws.json("s3api", "list-objects-v2", "--bucket", cli_bucket, "--prefix", "p/",
                   "--page-size", "2", "--starting-token", out["NextToken"])
    assert [c["Key"] for c in out["Contents"]] == keys[6:]
    assert "NextToken" not in out

    # --max-keys turns off the CLI's paginator: one raw page with NextContinuationToken.
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        args = ["s3api", "list-objects-v2", "--bucket", cli_bucket, "--prefix", "p/",
                "--max-keys", "2"]
        if token:
            args += ["--continuation-token", token]
        page = aws.json(*args)
        pages += 1
        assert page["MaxKeys"] == 2
        assert page["KeyCount"] == len(page["Contents"]) <= 2
        seen += [c["Key"] for c in page["Contents"]]
        if not page["IsTruncated"]:
            assert "NextContinuationToken" not in page
            break
        token = page["NextContinuationToken"]
        assert pages < 10
    assert seen == keys
    assert pages == 4


def test_delete_objects(aws, s3, cli_bucket):
    for k in ("d1", "d2", "d3", "keep"):
        s3.put_object(Bucket=cli_bucket, Key=k, Body=b"d")
    spec = {"Objects": [{"Key": "d1"}, {"Key": "d2"}, {"Key": "d3"}, {"Key": "never-existed"}]}
    out = aws.json("s3api", "delete-objects", "--bucket", cli_bucket,
                   "--delete", json.dumps(spec))
    # Deleting a missing key is a success in S3.
    assert sorted(d["Key"] for d in out["Deleted"]) == ["d1", "d2", "d3", "never-existed"]
    assert not out.get("Errors")
    listing = aws.json("s3api", "list-objects-v2", "--bucket", cli_bucket)
    assert [c["Key"] for c in listing["Contents"]] == ["keep"]

    out = aws.json("s3api", "delete-objects", "--bucket", cli_bucket,
                   "--delete", json.dumps({"Objects": [{"Key": "keep"}], "Quiet": True}))
    assert not out.get("Deleted") and not out.get("Errors")
    assert not aws.json("s3api", "list-objects-v2", "--bucket", cli_bucket).get("Contents")


def test_multipart_step_by_step(aws, cli_bucket, tmp_path):
    part1 = os.urandom(5 * MiB + 1)
    part2 = os.urandom(1234)
    (tmp_path / "p1").write_bytes(part1)
    (tmp_path / "p2").write_bytes(part2)

    created = aws.json("s3api", "create-multipart-upload", "--bucket", cli_bucket,
                       "--key", "mpu/obj", "--content-type", "application/x-mpu",
                       "--metadata", "via=mpu")
    upload_id = created["UploadId"]
    assert created["Bucket"] == cli_bucket and created["Key"] == "mpu/obj"
    assert created.get("ServerSideEncryption") == "AES256"

    etags = []
    for n, name, data in ((1, "p1", part1), (2, "p2", part2)):
        r = aws.json("s3api", "upload-part", "--bucket", cli_bucket, "--key", "mpu/obj",
                     "--upload-id", upload_id, "--part-number", str(n),
                     "--body", tmp_path / name)
        assert r["ETag"] == '"' + hashlib.md5(data).hexdigest() + '"'
        etags.append(r["ETag"])

    parts = aws.json("s3api", "list-parts", "--bucket", cli_bucket, "--key", "mpu/obj",
                     "--upload-id", upload_id)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts["Parts"]] == [
        (1, len(part1), etags[0]),
        (2, len(part2), etags[1]),
    ]

    uploads = aws.json("s3api", "list-multipart-uploads", "--bucket", cli_bucket)
    assert [(u["Key"], u["UploadId"]) for u in uploads["Uploads"]] == [("mpu/obj", upload_id)]

    spec = tmp_path / "parts.json"
    spec.write_text(json.dumps({"Parts": [
        {"PartNumber": 1, "ETag": etags[0]},
        {"PartNumber": 2, "ETag": etags[1]},
    ]}))
    done = aws.json("s3api", "complete-multipart-upload", "--bucket", cli_bucket,
                    "--key", "mpu/obj", "--upload-id", upload_id,
                    "--multipart-upload", f"file://{spec}")
    assert done["ETag"] == multipart_etag([part1, part2])
    assert done["Key"] == "mpu/obj"

    dst = tmp_path / "out"
    got = aws.json("s3api", "get-object", "--bucket", cli_bucket, "--key", "mpu/obj", dst)
    assert dst.read_bytes() == part1 + part2
    assert got["ContentLength"] == len(part1) + len(part2)
    assert got["ContentType"] == "application/x-mpu"
    assert got["Metadata"] == {"via": "mpu"}
    assert got["ServerSideEncryption"] == "AES256"
    uploads = aws.json("s3api", "list-multipart-uploads", "--bucket", cli_bucket)
    assert not uploads.get("Uploads")

    # Another upload, aborted: it is gone afterwards.
    other = aws.json("s3api", "create-multipart-upload", "--bucket", cli_bucket,
                     "--key", "mpu/aborted")["UploadId"]
    aws.json("s3api", "upload-part", "--bucket", cli_bucket, "--key", "mpu/aborted",
             "--upload-id", other, "--part-number", "1", "--body", tmp_path / "p2")
    aws.run("s3api", "abort-multipart-upload", "--bucket", cli_bucket, "--key", "mpu/aborted",
            "--upload-id", other)
    err = aws.fails("s3api", "list-parts", "--bucket", cli_bucket, "--key", "mpu/aborted",
                    "--upload-id", other)
    assert "NoSuchUpload" in err
    err = aws.fails("s3api", "upload-part", "--bucket", cli_bucket, "--key", "mpu/aborted",
                    "--upload-id", other, "--part-number", "2", "--body", tmp_path / "p2")
    assert "NoSuchUpload" in err
    err = aws.fails("s3api", "head-object", "--bucket", cli_bucket, "--key", "mpu/aborted")
    assert "404" in err


# ---------------------------------------------------------------------------------------------
# encryption choices


def test_cp_with_explicit_sse_aes256(aws, cli_bucket, tmp_path):
    src = tmp_path / "f"
    body = os.urandom(4321)
    src.write_bytes(body)
    aws.run("s3", "cp", src, f"s3://{cli_bucket}/sse", "--sse", "AES256")
    head = aws.json("s3api", "head-object", "--bucket", cli_bucket, "--key", "sse")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"'
    put = aws.json("s3api", "put-object", "--bucket", cli_bucket, "--key", "sse2",
                   "--body", src, "--server-side-encryption", "AES256")
    assert put["ServerSideEncryption"] == "AES256"
    dst = tmp_path / "d"
    aws.run("s3", "cp", f"s3://{cli_bucket}/sse", dst)
    assert dst.read_bytes() == body


@pytest.mark.parametrize("size", [2000, 9 * MiB], ids=["single", "multipart"])
def test_sse_c_up_and_down_over_https(aws, cli_bucket, tmp_path, size):
    key = os.urandom(32)
    key_file = tmp_path / "key.bin"
    key_file.write_bytes(key)
    key_md5 = base64.b64encode(hashlib.md5(key).digest()).decode()
    src = tmp_path / "secret.bin"
    write_random_file(src, size)
    sse_c = ["--sse-c", "AES256", "--sse-c-key", f"fileb://{key_file}"]

    aws.run("s3", "cp", src, f"s3://{cli_bucket}/ssec", *sse_c)

    dst = tmp_path / "back.bin"
    aws.run("s3", "cp", f"s3://{cli_bucket}/ssec", dst, *sse_c)
    assert sha256_file(dst) == sha256_file(src)

    head = aws.json("s3api", "head-object", "--bucket", cli_bucket, "--key", "ssec",
                    "--sse-customer-algorithm", "AES256",
                    "--sse-customer-key", f"fileb://{key_file}")
    assert head["SSECustomerAlgorithm"] == "AES256"
    assert head["SSECustomerKeyMD5"] == key_md5
    assert head["ContentLength"] == size
    assert "ServerSideEncryption" not in head

    # Without the key the object cannot be read.
    err = aws.fails("s3", "cp", f"s3://{cli_bucket}/ssec", tmp_path / "nokey.bin")
    assert "400" in err or "Bad Request" in err
    # With another key neither.
    other = tmp_path / "other.bin"
    other.write_bytes(os.urandom(32))
    err = aws.fails("s3", "cp", f"s3://{cli_bucket}/ssec", tmp_path / "wrongkey.bin",
                    "--sse-c", "AES256", "--sse-c-key", f"fileb://{other}")
    assert "403" in err or "Forbidden" in err or "AccessDenied" in err


def test_sse_c_is_refused_over_plain_http(aws, cli_bucket, tmp_path):
    key_file = tmp_path / "key.bin"
    key_file.write_bytes(os.urandom(32))
    src = tmp_path / "f"
    src.write_bytes(b"must not be stored")
    proc = aws.run("s3", "cp", src, f"s3://{cli_bucket}/over-http", "--sse-c", "AES256",
                   "--sse-c-key", f"fileb://{key_file}", scheme="http", check=False)
    assert proc.returncode != 0, proc.stdout
    assert "InvalidRequest" in proc.stderr or "secure connection" in proc.stderr, proc.stderr
    err = aws.fails("s3api", "head-object", "--bucket", cli_bucket, "--key", "over-http")
    assert "404" in err

    # The plain-HTTP endpoint itself works for everything else.
    aws.run("s3", "cp", src, f"s3://{cli_bucket}/plain-http", scheme="http")
    out = aws.run("s3", "cp", f"s3://{cli_bucket}/plain-http", "-", scheme="http").stdout
    assert out == "must not be stored"
