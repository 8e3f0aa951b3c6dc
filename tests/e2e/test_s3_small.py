"""Smaller S3 behaviours, as boto3 and a plain HTTP client meet them: empty listings, 304
validators, Content-Encoding, partNumber reads, expired presigned PUTs and CreateBucket of an
owned bucket. Each asserts what AWS answers (docs/DESIGN.md, "Small S3 behaviours")."""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import launch

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
MiB = 1024 * 1024


def _urlopen(server, req):
    ctx = ssl.create_default_context(cafile=server.ca_path)
    return urllib.request.urlopen(req, context=ctx, timeout=30)


def _fetch(server, url: str, method: str = "GET", data: bytes | None = None):
    """(status, headers, body) of a request, errors included."""
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with _urlopen(server, req) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def _presigner(make_client):
    # No client-side validation, so out-of-range or non-numeric values reach the gateway.
    return make_client(signature_version="s3v4", parameter_validation=False)


def error_of(excinfo) -> tuple[str, int]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


# ---------------------------------------------------------------------------------------------
# listings


@pytest.mark.parametrize("op", ["list_objects", "list_objects_v2"])
def test_max_keys_zero_is_an_empty_complete_page(make_client, server, s3, bucket, op):
    for k in ("a", "b/c", "d"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    out = getattr(s3, op)(Bucket=bucket, MaxKeys=0)
    assert out["IsTruncated"] is False
    assert out["MaxKeys"] == 0
    assert "Contents" not in out and "CommonPrefixes" not in out
    assert "NextContinuationToken" not in out and "NextMarker" not in out
    if op == "list_objects_v2":
        assert out["KeyCount"] == 0

    url = _presigner(make_client).generate_presigned_url(
        op, Params={"Bucket": bucket, "MaxKeys": 0, "Delimiter": "/"}, ExpiresIn=300
    )
    status, _, body = _fetch(server, url)
    assert status == 200
    doc = ET.fromstring(body)
    assert doc.findtext(f"{NS}IsTruncated") == "false"
    assert doc.findtext(f"{NS}MaxKeys") == "0"
    assert doc.find(f"{NS}Contents") is None and doc.find(f"{NS}CommonPrefixes") is None


@pytest.mark.parametrize("op", ["list_objects", "list_objects_v2"])
def test_empty_delimiter_is_not_echoed(make_client, server, s3, bucket, op):
    for k in ("a", "b/c"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    url = _presigner(make_client).generate_presigned_url(
        op, Params={"Bucket": bucket, "Delimiter": ""}, ExpiresIn=300
    )
    assert "delimiter=&" in url or url.endswith("delimiter="), url
    status, _, body = _fetch(server, url)
    assert status == 200, body
    doc = ET.fromstring(body)
    assert doc.find(f"{NS}Delimiter") is None, body
    # An empty delimiter groups nothing: every key is listed, no common prefixes.
    assert [c.findtext(f"{NS}Key") for c in doc.findall(f"{NS}Contents")] == ["a", "b/c"]
    assert doc.find(f"{NS}CommonPrefixes") is None

    out = getattr(s3, op)(Bucket=bucket, Delimiter="")
    assert "Delimiter" not in out


# ---------------------------------------------------------------------------------------------
# 304 Not Modified


def test_not_modified_carries_validators_and_caching_headers(s3, bucket):
    s3.put_object(
        Bucket=bucket,
        Key="cached",
        Body=b"cache me",
        CacheControl="max-age=60",
        Expires="Wed, 21 Oct 2099 07:28:00 GMT",
    )
    head = s3.head_object(Bucket=bucket, Key="cached")["ResponseMetadata"]["HTTPHeaders"]
    for op, cond in [
        ("get_object", {"IfNoneMatch": head["etag"]}),
        ("head_object", {"IfNoneMatch": head["etag"]}),
        ("get_object", {"IfModifiedSince": head["last-modified"]}),
        ("head_object", {"IfModifiedSince": head["last-modified"]}),
    ]:
        with pytest.raises(ClientError) as e:
            getattr(s3, op)(Bucket=bucket, Key="cached", **cond)
        meta = e.value.response["ResponseMetadata"]
        assert meta["HTTPStatusCode"] == 304, (op, cond)
        got = meta["HTTPHeaders"]
        assert got["etag"] == head["etag"], (op, cond)
        assert got["last-modified"] == head["last-modified"], (op, cond)
        assert got["cache-control"] == "max-age=60", (op, cond)
        assert got["expires"] == "Wed, 21 Oct 2099 07:28:00 GMT", (op, cond)
        assert "content-type" not in got, (op, cond)


# ---------------------------------------------------------------------------------------------
# Content-Encoding


def _put_with_encoding(s3, bucket, key, body, encoding):
    """A signed PutObject whose Content-Encoding header is exactly `encoding` (with or without
    aws-chunked framing: boto3 frames the body whenever the header says so)."""

    def rewrite(request, **_):
        request.headers.replace_header("Content-Encoding", encoding)

    s3.meta.events.register_first("before-sign.s3.PutObject", rewrite)
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentEncoding=encoding)
    finally:
        s3.meta.events.unregister("before-sign.s3.PutObject", rewrite)


def test_content_encoding_kept_as_sent(make_client, s3, bucket):
    body = b"encoded " * 1000
    # boto3 over HTTPS sends an aws-chunked body and appends the coding: "deflate, gzip,aws-chunked".
    s3.put_object(Bucket=bucket, Key="appended", Body=body, ContentEncoding="deflate, gzip")
    assert s3.head_object(Bucket=bucket, Key="appended")["ContentEncoding"] == "deflate, gzip"

    _put_with_encoding(s3, bucket, "first", body, "aws-chunked, deflate, gzip")
    got = s3.get_object(Bucket=bucket, Key="first")
    assert got["ContentEncoding"] == "deflate, gzip"
    assert got["Body"].read() == body

    # Without a checksum boto3 sends a plain body: the header is stored untouched.
    plain = make_client(request_checksum_calculation="when_required")
    plain.put_object(Bucket=bucket, Key="plain", Body=body, ContentEncoding="deflate, gzip")
    assert plain.head_object(Bucket=bucket, Key="plain")["ContentEncoding"] == "deflate, gzip"
    plain.put_object(Bucket=bucket, Key="tight", Body=body, ContentEncoding="deflate,gzip")
    assert plain.head_object(Bucket=bucket, Key="tight")["ContentEncoding"] == "deflate,gzip"


# ---------------------------------------------------------------------------------------------
# partNumber reads


def _multipart(s3, bucket, key, parts: list[bytes]) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = []
    for n, p in enumerate(parts, start=1):
        e = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=n, Body=p)["ETag"]
        done.append({"PartNumber": n, "ETag": e})
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=up, MultipartUpload={"Parts": done}
    )


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "10001", "99999999999"])
def test_part_number_out_of_range_is_invalid_argument(make_client, server, s3, bucket, value):
    s3.put_object(Bucket=bucket, Key="single", Body=b"single part body")
    pre = _presigner(make_client)
    for op, method in [("get_object", "GET"), ("head_object", "HEAD")]:
        url = pre.generate_presigned_url(
            op, Params={"Bucket": bucket, "Key": "single", "PartNumber": value}, ExpiresIn=300
        )
        assert f"partNumber={value}" in url
        status, _, body = _fetch(server, url, method=method)
        assert status == 400, (method, value, body)
        if method == "GET":
            doc = ET.fromstring(body)
            assert doc.findtext("Code") == "InvalidArgument"
            assert doc.findtext("ArgumentName") == "partNumber"
            assert doc.findtext("ArgumentValue") == value


def test_part_number_beyond_the_parts_is_416(make_client, server, s3, bucket):
    _multipart(s3, bucket, "two", [b"a" * (5 * MiB), b"tail"])
    s3.put_object(Bucket=bucket, Key="single", Body=b"single part body")
    pre = _presigner(make_client)
    for key, n, actual in [("two", 3, 2), ("two", 10000, 2), ("single", 2, 1)]:
        url = pre.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key, "PartNumber": n}, ExpiresIn=300
        )
        status, _, body = _fetch(server, url)
        assert status == 416, (key, n, body)
        doc = ET.fromstring(body)
        assert doc.findtext("Code") == "InvalidPartNumber"
        assert doc.findtext("PartNumberRequested") == str(n)
        assert doc.findtext("ActualPartCount") == str(actual)
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=bucket, Key=key, PartNumber=n)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


def test_parts_count_only_for_a_part_of_a_multipart_object(s3, bucket):
    body = b"single part body"
    s3.put_object(Bucket=bucket, Key="single", Body=body)
    _multipart(s3, bucket, "one-part", [b"only part"])
    first, tail = b"a" * (5 * MiB), b"tail"
    _multipart(s3, bucket, "two", [first, tail])

    # A single PUT: partNumber=1 is the whole object, and no PartsCount.
    for op in ("get_object", "head_object"):
        out = getattr(s3, op)(Bucket=bucket, Key="single", PartNumber=1)
        assert "PartsCount" not in out, op
        assert out["ContentLength"] == len(body)
    assert s3.get_object(Bucket=bucket, Key="single", PartNumber=1)["Body"].read() == body

    # A multipart object, even of one part, reports its parts when a part is asked for.
    out = s3.head_object(Bucket=bucket, Key="one-part", PartNumber=1)
    assert out["PartsCount"] == 1
    out = s3.get_object(Bucket=bucket, Key="two", PartNumber=2)
    assert out["PartsCount"] == 2
    assert out["Body"].read() == tail
    # ... and not on a whole-object read.
    assert "PartsCount" not in s3.head_object(Bucket=bucket, Key="two")
    assert "PartsCount" not in s3.get_object(Bucket=bucket, Key="two", Range="bytes=0-9")


# ---------------------------------------------------------------------------------------------
# presigned PUT past its expiry


def test_expired_presigned_put_is_access_denied(make_client, server, s3, bucket):
    # AWS answers an expired presigned URL 403 AccessDenied "Request has expired" whatever the
    # method; a PUT must not fail differently because it carries a body.
    url = make_client(signature_version="s3v4").generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "late"}, ExpiresIn=1
    )
    time.sleep(2)
    for data in (b"too late", b"x" * 200_000, b""):
        status, _, body = _fetch(server, url, method="PUT", data=data)
        assert status == 403, body
        doc = ET.fromstring(body)
        assert doc.findtext("Code") == "AccessDenied"
        assert doc.findtext("Message") == "Request has expired"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="late")
    assert error_of(e) == ("404", 404)


# ---------------------------------------------------------------------------------------------
# CreateBucket of an owned bucket


def test_create_owned_bucket_in_us_east_1_succeeds(s3, server):
    assert server.region == "us-east-1"
    name = f"own-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="kept", Body=b"still here")
    again = s3.create_bucket(Bucket=name)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    # The bucket is left as it was.
    assert s3.get_object(Bucket=name, Key="kept")["Body"].read() == b"still here"


def test_create_owned_bucket_elsewhere_is_409(tmp_path):
    with launch(tmp_path, extra_env={"SEALGATE_REGION": "eu-west-1"}) as srv:
        assert srv.region == "eu-west-1"
        s3 = boto3.session.Session().client(
            "s3",
            endpoint_url=srv.endpoint_https,
            region_name="eu-west-1",
            aws_access_key_id=srv.access_key,
            aws_secret_access_key=srv.secret_key,
            verify=srv.ca_path,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )
        location = {"LocationConstraint": "eu-west-1"}
        s3.create_bucket(Bucket="mine", CreateBucketConfiguration=location)
        with pytest.raises(ClientError) as e:
            s3.create_bucket(Bucket="mine", CreateBucketConfiguration=location)
        assert error_of(e) == ("BucketAlreadyOwnedByYou", 409)
