"""boto3 (latest, default checksum behaviour: aws-chunked bodies with CRC32 trailers over
HTTPS, response checksum validation on GET) against sealgate: the S3 API as programs use it."""

from __future__ import annotations

import base64
import hashlib
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
import zlib

import pytest
from botocore.exceptions import ClientError

from helpers import md5_etag, sse_c_key

MiB = 1024 * 1024


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def error_of(excinfo) -> tuple[str, int]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


# ---------------------------------------------------------------------------------------------
# objects


def test_put_get_with_default_checksums(s3, bucket):
    body = os.urandom(200_000)
    put = s3.put_object(Bucket=bucket, Key="obj", Body=body)
    assert put["ServerSideEncryption"] == "AES256"
    assert put["ETag"] == md5_etag(body)
    assert put["ChecksumCRC32"] == crc32_b64(body)

    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["Body"].read() == body
    assert got["ServerSideEncryption"] == "AES256"
    assert got["ETag"] == md5_etag(body)
    assert got["ContentLength"] == len(body)


def test_get_with_checksum_mode_enabled_is_validated(s3, bucket):
    body = b"checksummed " * 1000
    s3.put_object(Bucket=bucket, Key="c", Body=body, ChecksumAlgorithm="CRC32")
    got = s3.get_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == crc32_b64(body)
    # boto3 checks the body against the checksum header while reading it.
    assert got["Body"].read() == body

    head = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32_b64(body)


def test_ranged_get(s3, bucket):
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    cases = {
        "bytes=10-99": (10, 100),
        "bytes=0-0": (0, 1),
        "bytes=1000-": (1000, 1024),
        "bytes=-24": (1000, 1024),
        "bytes=1000-5000": (1000, 1024),
    }
    for rng, (start, end) in cases.items():
        got = s3.get_object(Bucket=bucket, Key="r", Range=rng)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206, rng
        assert got["ContentRange"] == f"bytes {start}-{end - 1}/1024", rng
        assert got["ContentLength"] == end - start, rng
        assert got["Body"].read() == body[start:end], rng


def test_head_object(s3, bucket):
    body = b"head"
    s3.put_object(Bucket=bucket, Key="h", Body=body, ContentType="text/x-head",
                  Metadata={"owner": "e2e"})
    head = s3.head_object(Bucket=bucket, Key="h")
    assert head["ContentLength"] == 4
    assert head["ETag"] == md5_etag(body)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "text/x-head"
    assert head["Metadata"] == {"owner": "e2e"}
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="nope")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_conditional_get(s3, bucket):
    body = b"conditional"
    etag = s3.put_object(Bucket=bucket, Key="k", Body=body)["ETag"]

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert error_of(e) == ("PreconditionFailed", 412)

    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)["Body"].read() == body
    other = '"fedcba9876543210fedcba9876543210"'
    assert s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=other)["Body"].read() == body

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", IfUnmodifiedSince=time.time() - 86400)
    assert error_of(e) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=time.time() + 86400)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304


ODD_KEYS = [
    "a",
    "a/b",
    "a/b/",
    "a//b",
    "..",
    "./x",
    "sp ace",
    "ünïcødé/✓",
    "%2F",
    "plus+sign",
    "q?mark&amp=1#hash",
    "tab\there",
    "a" * 1022 + "ü",  # exactly 1024 bytes of UTF-8
]


def test_odd_keys_round_trip(s3, bucket):
    assert len(ODD_KEYS[-1].encode()) == 1024
    for key in ODD_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for key in ODD_KEYS:
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == key.encode(), key
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(key.encode())
    listed = [
        c["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for c in page.get("Contents", [])
    ]
    # Listing order is by UTF-8 bytes.
    assert listed == sorted(ODD_KEYS, key=lambda k: k.encode())

    too_long = "b" * 1025
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key=too_long, Body=b"x")
    assert error_of(e) == ("KeyTooLongError", 400)

    s3.delete_object(Bucket=bucket, Key="..")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="..")
    assert error_of(e) == ("NoSuchKey", 404)
    assert s3.get_object(Bucket=bucket, Key="./x")["Body"].read() == b"./x"


def test_list_objects_v2_delimiter_prefix(s3, bucket):
    for key in ("dir/a", "dir/b/c", "dir/b/d", "dir/e/f", "dir/g", "other/x", "top"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"")

    out = s3.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/")
    assert [c["Key"] for c in out["Contents"]] == ["dir/a", "dir/g"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["dir/b/", "dir/e/"]
    assert out["KeyCount"] == 4
    assert out["Prefix"] == "dir/" and out["Delimiter"] == "/"

    out = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [c["Key"] for c in out["Contents"]] == ["top"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["dir/", "other/"]

    # Common prefixes count against MaxKeys and paginate like keys.
    out = s3.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/", MaxKeys=2)
    assert out["IsTruncated"] is True
    first = [c["Key"] for c in out.get("Contents", [])] + [
        p["Prefix"] for p in out.get("CommonPrefixes", [])
    ]
    out = s3.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/", MaxKeys=2,
                             ContinuationToken=out["NextContinuationToken"])
    second = [c["Key"] for c in out.get("Contents", [])] + [
        p["Prefix"] for p in out.get("CommonPrefixes", [])
    ]
    assert sorted(first + second) == ["dir/a", "dir/b/", "dir/e/", "dir/g"]
    assert out["IsTruncated"] is False

    out = s3.list_objects_v2(Bucket=bucket, StartAfter="dir/e/f")
    assert [c["Key"] for c in out["Contents"]] == ["dir/g", "other/x", "top"]


def test_list_objects_v2_encoding_type_url(s3, bucket):
    keys = ["sp ace/ü", "tab\tkey", "plain"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    # Asked explicitly, boto3 leaves the encoded names alone.
    out = s3.list_objects_v2(Bucket=bucket, EncodingType="url")
    assert out["EncodingType"] == "url"
    raw = [c["Key"] for c in out["Contents"]]
    for k in raw:
        assert " " not in k and "\t" not in k and k.isascii(), raw
    assert sorted(urllib.parse.unquote_plus(k) for k in raw) == sorted(keys)

    out = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter="/")
    assert [urllib.parse.unquote_plus(p["Prefix"]) for p in out["CommonPrefixes"]] == ["sp ace/"]

    # By default boto3 asks for url encoding itself and decodes: names arrive intact.
    out = s3.list_objects_v2(Bucket=bucket)
    assert sorted(c["Key"] for c in out["Contents"]) == sorted(keys)


def test_list_objects_v1_marker(s3, bucket):
    keys = [f"k{i}" for i in range(5)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    out = s3.list_objects(Bucket=bucket, Marker="k1")
    assert [c["Key"] for c in out["Contents"]] == ["k2", "k3", "k4"]
    assert out["Marker"] == "k1"

    out = s3.list_objects(Bucket=bucket, MaxKeys=2)
    assert [c["Key"] for c in out["Contents"]] == ["k0", "k1"]
    assert out["IsTruncated"] is True
    out = s3.list_objects(Bucket=bucket, MaxKeys=2, Marker="k1")
    assert [c["Key"] for c in out["Contents"]] == ["k2", "k3"]

    # The paginator (NextMarker or last key) walks everything.
    listed = [
        c["Key"]
        for page in s3.get_paginator("list_objects").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": 2}
        )
        for c in page.get("Contents", [])
    ]
    assert listed == keys
    assert out["Contents"][0]["Size"] == 1
    assert out["Contents"][0]["ETag"] == md5_etag(b"1")


# ---------------------------------------------------------------------------------------------
# error codes


def test_no_such_bucket_and_no_such_key(s3, bucket):
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=missing, Key="k")
    assert error_of(e) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=missing)
    assert error_of(e) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=missing, Key="k", Body=b"x")
    assert error_of(e) == ("NoSuchBucket", 404)

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="no/such/key")
    assert error_of(e) == ("NoSuchKey", 404)
    assert e.value.response["Error"].get("Key") in (None, "no/such/key")


def test_bucket_not_empty(s3, bucket):
    s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert error_of(e) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=bucket, Key="x")
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=bucket)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize(
    "name", ["ab", "Upper-Case", "under_score", "a" * 64, "dots..dots", "-dash", "192.168.5.4"]
)
def test_invalid_bucket_name(s3, name):
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert error_of(e) == ("InvalidBucketName", 400)


def test_invalid_range(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-20")
    assert error_of(e) == ("InvalidRange", 416)


def _upload_parts(s3, bucket, key, parts):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=data)["ETag"]
        for n, data in enumerate(parts, start=1)
    ]
    return upload_id, etags


def test_multipart_errors(s3, bucket):
    # EntityTooSmall: every part but the last must be at least 5 MiB.
    upload_id, etags = _upload_parts(s3, bucket, "small", [b"a" * 100, b"b" * 100])
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="small", UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": t}
                                       for n, t in enumerate(etags, start=1)]},
        )
    assert error_of(e) == ("EntityTooSmall", 400)

    big1, big2 = os.urandom(5 * MiB), os.urandom(5 * MiB)
    upload_id, etags = _upload_parts(s3, bucket, "mpu", [big1, big2, b"tail"])
    # InvalidPart: an ETag that is not the part's.
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mpu", UploadId=upload_id,
            MultipartUpload={"Parts": [
                {"PartNumber": 1, "ETag": etags[0]},
                {"PartNumber": 2, "ETag": '"00000000000000000000000000000000"'},
            ]},
        )
    assert error_of(e) == ("InvalidPart", 400)
    # InvalidPart: a part that was never uploaded.
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mpu", UploadId=upload_id,
            MultipartUpload={"Parts": [
                {"PartNumber": 1, "ETag": etags[0]},
                {"PartNumber": 4, "ETag": etags[2]},
            ]},
        )
    assert error_of(e) == ("InvalidPart", 400)
    # InvalidPartOrder: parts must be listed in ascending order (both are big enough, so
    # only the order is wrong).
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mpu", UploadId=upload_id,
            MultipartUpload={"Parts": [
                {"PartNumber": 2, "ETag": etags[1]},
                {"PartNumber": 1, "ETag": etags[0]},
            ]},
        )
    assert error_of(e) == ("InvalidPartOrder", 400)
    # The failed attempts left the upload usable; a subset of the parts may be completed.
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mpu", UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etags[0]},
                                   {"PartNumber": 3, "ETag": etags[2]}]},
    )
    assert done["ETag"].endswith('-2"')
    assert s3.get_object(Bucket=bucket, Key="mpu")["Body"].read() == big1 + b"tail"

    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="mpu", UploadId="no-such-upload", PartNumber=1,
                       Body=b"x")
    assert error_of(e) == ("NoSuchUpload", 404)


def test_bad_digest(s3, bucket):
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bd", Body=b"payload", ContentMD5=wrong)
    assert error_of(e) == ("BadDigest", 400)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="bd")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    right = base64.b64encode(hashlib.md5(b"payload").digest()).decode()
    s3.put_object(Bucket=bucket, Key="bd", Body=b"payload", ContentMD5=right)
    assert s3.get_object(Bucket=bucket, Key="bd")["Body"].read() == b"payload"


def test_wrong_credentials(make_client, server):
    bad_key = make_client(access_key="AKIDOESNOTEXIST00000")
    with pytest.raises(ClientError) as e:
        bad_key.list_buckets()
    assert error_of(e) == ("InvalidAccessKeyId", 403)

    bad_secret = make_client(secret_key=server.secret_key + "x")
    with pytest.raises(ClientError) as e:
        bad_secret.list_buckets()
    assert error_of(e) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as e:
        bad_secret.put_object(Bucket="whatever", Key="k", Body=b"x")
    assert error_of(e) == ("SignatureDoesNotMatch", 403)


# ---------------------------------------------------------------------------------------------
# presigned URLs


def _urlopen(server, req):
    ctx = ssl.create_default_context(cafile=server.ca_path)
    return urllib.request.urlopen(req, context=ctx, timeout=30)


def _error_code(http_error: urllib.error.HTTPError) -> str:
    body = http_error.read()
    return ET.fromstring(body).findtext("Code")


def test_presigned_get_and_put(make_client, server, bucket):
    # botocore still presigns with SigV2 unless told; this test is about SigV4 (SigV2 has
    # its own, test_sigv2.py).
    s3 = make_client(signature_version="s3v4")
    body = os.urandom(5000)
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "pre/signed ü"}, ExpiresIn=300
    )
    assert "X-Amz-Signature=" in put_url
    with _urlopen(server, urllib.request.Request(put_url, data=body, method="PUT")) as r:
        assert r.status == 200
        assert r.headers["ETag"] == md5_etag(body)
        assert r.headers["x-amz-server-side-encryption"] == "AES256"

    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "pre/signed ü"}, ExpiresIn=300
    )
    with _urlopen(server, get_url) as r:
        assert r.status == 200
        assert r.read() == body

    # The signature covers the key: the same query string on another key is refused.
    forged = get_url.replace("pre/signed", "pre/other", 1)
    with pytest.raises(urllib.error.HTTPError) as e:
        _urlopen(server, forged)
    assert e.value.code == 403
    assert _error_code(e.value) == "SignatureDoesNotMatch"


def test_expired_presigned_url(make_client, server, bucket):
    s3 = make_client(signature_version="s3v4")
    s3.put_object(Bucket=bucket, Key="soon", Body=b"gone soon")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "soon"}, ExpiresIn=1
    )
    time.sleep(2)
    with pytest.raises(urllib.error.HTTPError) as e:
        _urlopen(server, url)
    assert e.value.code == 403
    assert _error_code(e.value) == "AccessDenied"


# ---------------------------------------------------------------------------------------------
# SSE-C


def test_sse_c(s3, bucket):
    raw, _, key_md5 = sse_c_key()
    other, _, _ = sse_c_key()
    body = os.urandom(70_000)
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": raw}

    put = s3.put_object(Bucket=bucket, Key="c", Body=body, **ssec)
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"] == key_md5
    assert "ServerSideEncryption" not in put
    assert put["ETag"] != md5_etag(body)

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c")
    assert error_of(e) == ("InvalidRequest", 400)

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256",
                      SSECustomerKey=other)
    assert error_of(e) == ("AccessDenied", 403)

    got = s3.get_object(Bucket=bucket, Key="c", **ssec)
    assert got["Body"].read() == body
    assert got["SSECustomerKeyMD5"] == key_md5
    assert "ServerSideEncryption" not in got

    got = s3.get_object(Bucket=bucket, Key="c", Range="bytes=1000-1999", **ssec)
    assert got["Body"].read() == body[1000:2000]

    head = s3.head_object(Bucket=bucket, Key="c", **ssec)
    assert head["SSECustomerAlgorithm"] == "AES256"
    assert head["SSECustomerKeyMD5"] == key_md5
    assert head["ContentLength"] == len(body)

    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="c")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256",
                       SSECustomerKey=other)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    # Listing shows the plaintext size; deleting needs no key.
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(c["Key"], c["Size"]) for c in listed] == [("c", len(body))]
    s3.delete_object(Bucket=bucket, Key="c")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", **ssec)
    assert error_of(e) == ("NoSuchKey", 404)


def test_sse_c_refused_over_http(make_client, bucket):
    http = make_client(scheme="http")
    raw, _, _ = sse_c_key()
    with pytest.raises(ClientError) as e:
        http.put_object(Bucket=bucket, Key="c", Body=b"x", SSECustomerAlgorithm="AES256",
                        SSECustomerKey=raw)
    assert error_of(e) == ("InvalidRequest", 400)
    # Plain requests over HTTP are fine (checksums travel in headers there).
    http.put_object(Bucket=bucket, Key="plain", Body=b"over http")
    assert http.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"over http"


def test_sse_c_multipart(s3, bucket):
    raw, _, key_md5 = sse_c_key()
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": raw}
    part1, part2 = os.urandom(5 * MiB), os.urandom(1000)
    created = s3.create_multipart_upload(Bucket=bucket, Key="m", **ssec)
    assert created["SSECustomerKeyMD5"] == key_md5
    upload_id = created["UploadId"]
    etags = []
    for n, data in ((1, part1), (2, part2)):
        r = s3.upload_part(Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=n,
                           Body=data, **ssec)
        assert r["SSECustomerKeyMD5"] == key_md5
        etags.append(r["ETag"])
    s3.complete_multipart_upload(
        Bucket=bucket, Key="m", UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": t}
                                   for n, t in enumerate(etags, start=1)]},
    )
    assert s3.get_object(Bucket=bucket, Key="m", **ssec)["Body"].read() == part1 + part2
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="m")
    assert error_of(e) == ("InvalidRequest", 400)


# ---------------------------------------------------------------------------------------------
# bucket default encryption


def _default_algorithm(s3, bucket) -> str:
    cfg = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert len(cfg["Rules"]) == 1
    return cfg["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]


def test_bucket_encryption_get_put_delete(s3, bucket):
    # Every bucket encrypts with SSE-S3 even when nothing was configured.
    assert _default_algorithm(s3, bucket) == "AES256"

    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
            "BucketKeyEnabled": False,
        }]},
    )
    assert _default_algorithm(s3, bucket) == "AES256"
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ServerSideEncryption"] == "AES256"

    resp = s3.delete_bucket_encryption(Bucket=bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert _default_algorithm(s3, bucket) == "AES256"

    with pytest.raises(ClientError) as e:
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={"Rules": [{
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "AES256", "KMSMasterKeyID": "alias/nope"},
            }]},
        )
    assert error_of(e) == ("InvalidArgument", 400)
