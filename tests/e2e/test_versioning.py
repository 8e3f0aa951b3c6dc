"""Bucket versioning as applications drive it over HTTPS: the aws CLI (put-bucket-versioning,
put-object / get-object / head-object / delete-object with --version-id, copy-object with
`--copy-source b/k?versionId=`, list-object-versions with paging) and boto3 (all three SSE
modes mixed across the versions of one key, delete markers, undelete, delete_objects with
version ids). On disk every version is its own record with its own wrapped key, and no
plaintext is anywhere."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from helpers import sse_c_key


def _records(server, bucket: str) -> list[dict]:
    """Every version record of `bucket`: current ones under meta/, the others under versions/."""
    out = []
    for p in Path(server.data_dir).rglob("*"):
        s = str(p)
        if p.is_file() and (f"/meta/{bucket}/" in s or f"/versions/{bucket}/" in s):
            out.append(json.loads(p.read_bytes()))
    return out


def _all_data_files(server) -> list[Path]:
    return [p for p in Path(server.data_dir).rglob("*") if p.is_file()]


def test_three_modes_rekey_markers_and_paging(server, aws, s3, bucket, tmp_path):
    aws.run(
        "s3api", "put-bucket-versioning", "--bucket", bucket,
        "--versioning-configuration", "Status=Enabled",
    )
    assert aws.json("s3api", "get-bucket-versioning", "--bucket", bucket) == {
        "Status": "Enabled"
    }
    raw, key_b64, md5_b64 = sse_c_key()
    ssec = dict(SSECustomerAlgorithm="AES256", SSECustomerKey=key_b64, SSECustomerKeyMD5=md5_b64)
    bodies = {
        "s3": secrets.token_bytes(100_000),
        "kms": secrets.token_bytes(5000),
        "c": secrets.token_bytes(70_000),
    }
    ids = {}
    ids["s3"] = s3.put_object(
        Bucket=bucket, Key="doc", Body=bodies["s3"], ServerSideEncryption="AES256"
    )["VersionId"]
    ids["kms"] = s3.put_object(
        Bucket=bucket, Key="doc", Body=bodies["kms"], ServerSideEncryption="aws:kms"
    )["VersionId"]
    ids["c"] = s3.put_object(Bucket=bucket, Key="doc", Body=bodies["c"], **ssec)["VersionId"]
    assert len(set(ids.values())) == 3

    def read(version: str, mode: str) -> bytes:
        extra = ssec if mode == "c" else {}
        got = s3.get_object(Bucket=bucket, Key="doc", VersionId=version, **extra)
        assert got["VersionId"] == version
        return got["Body"].read()

    for mode, v in ids.items():
        assert read(v, mode) == bodies[mode], mode

    # The CLI reads a version by id too (SSE-C with the key on the command line).
    out = tmp_path / "c.bin"
    key_file = tmp_path / "key.bin"
    key_file.write_bytes(raw)
    aws.run(
        "s3api", "get-object", "--bucket", bucket, "--key", "doc",
        "--version-id", ids["c"], "--sse-customer-algorithm", "AES256",
        "--sse-customer-key", f"fileb://{key_file}", str(out),
    )
    assert out.read_bytes() == bodies["c"]

    # On disk: three records, three different wrapped keys, no plaintext.
    recs = _records(server, bucket)
    assert sorted(r["version_id"] for r in recs) == sorted(ids.values())
    wrapped = {r["sealing"]["sealed"]["ciphertext"] for r in recs}
    assert len(wrapped) == 3
    assert {r["sealing"]["mode"] for r in recs} == {"SseS3", "SseKms", "SseC"}
    for f in _all_data_files(server):
        data = f.read_bytes()
        for body in bodies.values():
            assert body[:64] not in data, f

    # Re-key the SSE-S3 version by copying it onto the key with SSE-KMS (the CLI).
    copied = aws.json(
        "s3api", "copy-object", "--bucket", bucket, "--key", "doc",
        "--copy-source", f"{bucket}/doc?versionId={ids['s3']}",
        "--server-side-encryption", "aws:kms",
    )
    assert copied["CopySourceVersionId"] == ids["s3"]
    rekeyed = copied["VersionId"]
    head = aws.json(
        "s3api", "head-object", "--bucket", bucket, "--key", "doc", "--version-id", rekeyed
    )
    assert head["ServerSideEncryption"] == "aws:kms" and head["VersionId"] == rekeyed
    assert read(rekeyed, "kms") == bodies["s3"]
    for mode, v in ids.items():
        assert read(v, mode) == bodies[mode], f"{mode} after the re-key"
    head = s3.head_object(Bucket=bucket, Key="doc", VersionId=ids["s3"])
    assert head["ServerSideEncryption"] == "AES256", "the source version keeps its mode"

    # Delete marker, then undelete.
    gone = aws.json("s3api", "delete-object", "--bucket", bucket, "--key", "doc")
    assert gone["DeleteMarker"] is True
    marker = gone["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="doc")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="doc", VersionId=marker)
    assert e.value.response["Error"]["Code"] == "MethodNotAllowed"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
    aws.run(
        "s3api", "delete-object", "--bucket", bucket, "--key", "doc", "--version-id", marker
    )
    got = s3.get_object(Bucket=bucket, Key="doc")
    assert got["VersionId"] == rekeyed and got["Body"].read() == bodies["s3"]

    # Paging with max-keys=1 (the CLI pages itself with --page-size) visits every version once.
    seen = []
    kwargs = {}
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=1, **kwargs)
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        assert len(entries) <= 1
        seen += [e["VersionId"] for e in entries]
        if not page["IsTruncated"]:
            break
        kwargs = dict(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page["NextVersionIdMarker"])
    assert seen == [rekeyed, ids["c"], ids["kms"], ids["s3"]]
    listed = aws.json(
        "s3api", "list-object-versions", "--bucket", bucket, "--page-size", "1"
    )
    assert [v["VersionId"] for v in listed["Versions"]] == seen
    assert [v["IsLatest"] for v in listed["Versions"]] == [True, False, False, False]

    # delete_objects with version ids removes versions for good.
    res = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "doc", "VersionId": v} for v in seen]},
    )
    assert sorted(d["VersionId"] for d in res["Deleted"]) == sorted(seen)
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)
    s3.delete_bucket(Bucket=bucket)


def test_suspended_null_version(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"before versioning")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"null again")["VersionId"] == "null"
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True), (v1, False)]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"null again"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", VersionId="not-a-version")
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
