"""Object and bucket tagging, GetObjectAttributes, GetBucketVersioning and conditional writes
as applications drive them: the aws CLI (`s3api put-object --tagging`, put/get/delete-object-
tagging, copy-object with a tagging directive, head-object's TagCount, get-object-attributes,
get-bucket-versioning) and boto3 (including If-None-Match on put_object). The tags must be on
disk where docs/STORAGE.md says: in the object's meta record, in the clear, next to its MAC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from helpers import sse_c_key


def _meta_record(server, bucket: str, key: str) -> dict:
    """The meta record of bucket/key (`objects/meta/<bucket>/<hex key>-`, docs/STORAGE.md)."""
    suffix = key.encode().hex() + "-"
    found = [
        p
        for p in Path(server.data_dir).rglob("*")
        if p.is_file() and f"/meta/{bucket}/" in str(p) and p.name.endswith(suffix)
    ]
    assert len(found) == 1, found
    return json.loads(found[0].read_bytes())


def _tags(resp) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resp["TagSet"]}


def test_object_tagging_with_the_aws_cli(server, aws, bucket, tmp_path):
    body = tmp_path / "body.bin"
    body.write_bytes(b"tagged by the cli" * 100)
    aws.run(
        "s3api", "put-object", "--bucket", bucket, "--key", "doc.txt",
        "--body", str(body), "--tagging", "project=blue&owner=data%20team",
    )
    head = aws.json("s3api", "head-object", "--bucket", bucket, "--key", "doc.txt")
    assert head["TagCount"] == 2
    got = aws.json("s3api", "get-object-tagging", "--bucket", bucket, "--key", "doc.txt")
    assert _tags(got) == {"project": "blue", "owner": "data team"}

    # On disk: in the record, in the clear, authenticated with the rest of it.
    rec = _meta_record(server, bucket, "doc.txt")
    assert rec["tags"] == {"owner": "data team", "project": "blue"}
    assert rec["format"] == "sealgate-meta/2" and rec["mac"]
    generation = rec["generation"]

    aws.run(
        "s3api", "put-object-tagging", "--bucket", bucket, "--key", "doc.txt",
        "--tagging", '{"TagSet":[{"Key":"stage","Value":"prod"}]}',
    )
    got = aws.json("s3api", "get-object-tagging", "--bucket", bucket, "--key", "doc.txt")
    assert _tags(got) == {"stage": "prod"}
    rec = _meta_record(server, bucket, "doc.txt")
    assert rec["tags"] == {"stage": "prod"}
    assert rec["generation"] == generation, "a tag change must not rewrite the data"

    # copy-object: COPY keeps the source's tags, REPLACE takes the request's.
    aws.run(
        "s3api", "copy-object", "--bucket", bucket, "--key", "copy.txt",
        "--copy-source", f"{bucket}/doc.txt",
    )
    got = aws.json("s3api", "get-object-tagging", "--bucket", bucket, "--key", "copy.txt")
    assert _tags(got) == {"stage": "prod"}
    aws.run(
        "s3api", "copy-object", "--bucket", bucket, "--key", "replaced.txt",
        "--copy-source", f"{bucket}/doc.txt", "--tagging-directive", "REPLACE",
        "--tagging", "new=1",
    )
    got = aws.json("s3api", "get-object-tagging", "--bucket", bucket, "--key", "replaced.txt")
    assert _tags(got) == {"new": "1"}

    aws.run("s3api", "delete-object-tagging", "--bucket", bucket, "--key", "doc.txt")
    got = aws.json("s3api", "get-object-tagging", "--bucket", bucket, "--key", "doc.txt")
    assert got["TagSet"] == []
    head = aws.json("s3api", "head-object", "--bucket", bucket, "--key", "doc.txt")
    assert "TagCount" not in head
    out = tmp_path / "out.bin"
    aws.run("s3api", "get-object", "--bucket", bucket, "--key", "doc.txt", str(out))
    assert out.read_bytes() == body.read_bytes()

    err = aws.fails(
        "s3api", "put-object-tagging", "--bucket", bucket, "--key", "doc.txt",
        "--tagging", '{"TagSet":[{"Key":"aws:owner","Value":"x"}]}',
    )
    assert "InvalidTag" in err


def test_bucket_tagging_and_versioning_with_the_aws_cli(aws, bucket):
    assert aws.json("s3api", "get-bucket-versioning", "--bucket", bucket) == {}
    assert "NoSuchTagSet" in aws.fails("s3api", "get-bucket-tagging", "--bucket", bucket)
    aws.run(
        "s3api", "put-bucket-tagging", "--bucket", bucket,
        "--tagging", '{"TagSet":[{"Key":"cost-center","Value":"42"}]}',
    )
    got = aws.json("s3api", "get-bucket-tagging", "--bucket", bucket)
    assert _tags(got) == {"cost-center": "42"}
    aws.run("s3api", "delete-bucket-tagging", "--bucket", bucket)
    assert "NoSuchTagSet" in aws.fails("s3api", "get-bucket-tagging", "--bucket", bucket)
    # MFA delete cannot be turned on without an MFA device (test_versioning.py has the rest).
    err = aws.fails(
        "s3api", "put-bucket-versioning", "--bucket", bucket,
        "--versioning-configuration", "Status=Enabled,MFADelete=Enabled",
    )
    assert "AccessDenied" in err
    assert aws.json("s3api", "get-bucket-versioning", "--bucket", bucket) == {}


def test_get_object_attributes_with_the_aws_cli(aws, s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="a.bin", Body=b"attributes!")
    got = aws.json(
        "s3api", "get-object-attributes", "--bucket", bucket, "--key", "a.bin",
        "--object-attributes", "ETag", "ObjectSize", "StorageClass", "Checksum",
    )
    assert got["ETag"] == put["ETag"].strip('"')
    assert got["ObjectSize"] == 11
    assert got["StorageClass"] == "STANDARD"
    sent = {k: v for k, v in put.items() if k.startswith("Checksum") and k != "ChecksumType"}
    assert sent, put
    assert {k: v for k, v in got["Checksum"].items() if k != "ChecksumType"} == sent
    assert got["Checksum"]["ChecksumType"] == "FULL_OBJECT"
    assert "ObjectParts" not in got


def test_boto3_tagging_attributes_and_conditional_writes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"one", Tagging="a=1")
    assert s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-tagging-count"
    ] == "1"
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 1

    # SSE-C: tagging needs no key; attributes need it as GET does.
    key, key_b64, md5_b64 = sse_c_key()
    s3.put_object(
        Bucket=bucket, Key="c", Body=b"secret", SSECustomerAlgorithm="AES256", SSECustomerKey=key
    )
    s3.put_object_tagging(Bucket=bucket, Key="c", Tagging={"TagSet": [{"Key": "x", "Value": "y"}]})
    assert _tags(s3.get_object_tagging(Bucket=bucket, Key="c")) == {"x": "y"}
    with pytest.raises(ClientError) as exc:
        s3.get_object_attributes(Bucket=bucket, Key="c", ObjectAttributes=["ObjectSize"])
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    got = s3.get_object_attributes(
        Bucket=bucket, Key="c", ObjectAttributes=["ObjectSize"],
        SSECustomerAlgorithm="AES256", SSECustomerKey=key_b64, SSECustomerKeyMD5=md5_b64,
    )
    assert got["ObjectSize"] == 6

    # Create-only writes.
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert exc.value.response["Error"]["Code"] == "PreconditionFailed"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"
