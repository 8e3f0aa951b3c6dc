"""Whole-upload checksums of multipart uploads as boto3 users meet them: `upload_file` of a file
above the 8 MiB multipart threshold (boto3 >= 1.36 creates the upload with CRC32 and lists part
checksums on Complete), and an explicit FULL_OBJECT CRC32 sent on CompleteMultipartUpload."""

from __future__ import annotations

import base64
import os
import zlib

import pytest
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def crc32_raw(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "big")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_upload_file_multipart_round_trips_with_composite_crc32(s3, bucket, tmp_path):
    src = tmp_path / "big.bin"
    data = os.urandom(9 * MiB + 123)
    src.write_bytes(data)
    s3.upload_file(str(src), bucket, "big")

    head = s3.head_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-2"'), "9 MiB goes up in two 8 MiB-threshold parts"
    parts = [data[: 8 * MiB], data[8 * MiB :]]
    composite = b64(crc32_raw(b"".join(crc32_raw(p) for p in parts))) + "-2"
    assert head["ChecksumCRC32"] == composite
    assert head["ChecksumType"] == "COMPOSITE"

    dst = tmp_path / "down.bin"
    s3.download_file(bucket, "big", str(dst))
    assert dst.read_bytes() == data


def _upload_parts(s3, bucket, key, parts):
    up = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )
    done = []
    for n, body in enumerate(parts, start=1):
        r = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=up["UploadId"],
            PartNumber=n,
            Body=body,
            ChecksumAlgorithm="CRC32",
        )
        done.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    return up["UploadId"], done


def test_full_object_crc32_on_complete(s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(777)]
    whole = b"".join(parts)
    upload_id, done = _upload_parts(s3, bucket, "full", parts)

    with pytest.raises(ClientError) as bad:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="full",
            UploadId=upload_id,
            MultipartUpload={"Parts": done},
            ChecksumCRC32=b64(crc32_raw(parts[0])),
            ChecksumType="FULL_OBJECT",
        )
    assert bad.value.response["Error"]["Code"] == "BadDigest"
    assert bad.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=bucket, Key="full")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    out = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="full",
        UploadId=upload_id,
        MultipartUpload={"Parts": done},
        ChecksumCRC32=b64(crc32_raw(whole)),
        ChecksumType="FULL_OBJECT",
    )
    assert out["ChecksumCRC32"] == b64(crc32_raw(whole))
    assert out["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == b64(crc32_raw(whole))
    assert got["ChecksumType"] == "FULL_OBJECT"
    # boto3 validates the body against the full-object CRC while reading it.
    assert got["Body"].read() == whole
