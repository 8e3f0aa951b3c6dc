"""SigV2 (the `AWS AKID:signature` header and `AWSAccessKeyId`/`Expires`/`Signature` presigned
URLs) from the real clients that still produce it: the aws CLI v1's `s3 presign` and boto3 with
`signature_version='s3'`."""

from __future__ import annotations

import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

from helpers import sse_c_key


def fetch(url: str, ca: str, method: str = "GET", data: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """The status and body of one plain HTTPS request (no AWS library involved)."""
    ctx = ssl.create_default_context(cafile=ca)
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def error_code(body: bytes) -> str:
    text = body.decode(errors="replace")
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else text


@pytest.fixture
def v2(make_client):
    return make_client(signature_version="s3")


@pytest.fixture
def v2_bucket(v2) -> str:
    name = f"sigv2-{uuid.uuid4().hex[:12]}"
    v2.create_bucket(Bucket=name)
    return name


def test_cli_presign_default_is_sigv2_and_serves_the_bytes(aws, s3, server, v2_bucket):
    body = os.urandom(70_000)
    s3.put_object(Bucket=v2_bucket, Key="dir/file name.bin", Body=body)

    url = aws.run("s3", "presign", f"s3://{v2_bucket}/dir/file name.bin").stdout.strip()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    # The aws CLI v1 presigns with SigV2 by default (no X-Amz-Algorithm).
    assert set(query) == {"AWSAccessKeyId", "Expires", "Signature"}, url
    assert query["AWSAccessKeyId"] == [server.access_key]
    assert fetch(url, server.ca_path) == (200, body)

    # Tampering with the path or the signature is refused.
    other = url.replace("file%20name.bin", "other.bin")
    assert other != url
    status, err = fetch(other, server.ca_path)
    assert (status, error_code(err)) == (403, "SignatureDoesNotMatch")
    sig = query["Signature"][0]
    # A different first character (a fixed "A" left 1 signature in 64 unchanged).
    first = "B" if sig[0] == "A" else "A"
    bad = url.replace(urllib.parse.quote(sig, safe=""), urllib.parse.quote(first + sig[1:], safe=""))
    assert bad != url
    status, err = fetch(bad, server.ca_path)
    assert (status, error_code(err)) == (403, "SignatureDoesNotMatch")


def test_cli_presign_with_s3v4_configured_is_sigv4(aws, s3, server, v2_bucket, tmp_path):
    # The CLI's documented switch away from its SigV2 default; both forms are served.
    config = tmp_path / "config"
    config.write_text("[default]\ns3 =\n    signature_version = s3v4\n")
    s3.put_object(Bucket=v2_bucket, Key="k", Body=b"v4 bytes")
    url = aws.run("s3", "presign", f"s3://{v2_bucket}/k",
                  env={"AWS_CONFIG_FILE": str(config)}).stdout.strip()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"], url
    assert "Signature" not in query
    assert fetch(url, server.ca_path) == (200, b"v4 bytes")


def test_cli_presign_expired_url_is_refused(aws, s3, server, v2_bucket):
    s3.put_object(Bucket=v2_bucket, Key="k", Body=b"soon gone")
    url = aws.run("s3", "presign", f"s3://{v2_bucket}/k", "--expires-in", "1").stdout.strip()
    expires = int(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["Expires"][0])
    while time.time() <= expires + 1:
        time.sleep(0.2)
    status, err = fetch(url, server.ca_path)
    assert status == 403
    assert error_code(err) == "AccessDenied"
    assert b"Request has expired" in err


def test_boto3_sigv2_put_get_list(v2, v2_bucket):
    body = os.urandom(300_000)
    put = v2.put_object(Bucket=v2_bucket, Key="a/b.bin", Body=body, ContentType="application/x-test",
                        Metadata={"owner": "sigv2"})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = v2.get_object(Bucket=v2_bucket, Key="a/b.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"owner": "sigv2"}
    # Sub-resources and response overrides are signed into the resource.
    got = v2.get_object(Bucket=v2_bucket, Key="a/b.bin", ResponseContentType="text/plain",
                        Range="bytes=0-9")
    assert got["Body"].read() == body[:10]
    assert got["ContentType"] == "text/plain"
    listed = v2.list_objects(Bucket=v2_bucket, Prefix="a/")
    assert [o["Key"] for o in listed["Contents"]] == ["a/b.bin"]
    assert "LocationConstraint" in v2.get_bucket_location(Bucket=v2_bucket)
    # ?uploads, ?uploadId&partNumber: the multipart sub-resources.
    up = v2.create_multipart_upload(Bucket=v2_bucket, Key="mp")
    uploads = v2.list_multipart_uploads(Bucket=v2_bucket)
    assert [u["UploadId"] for u in uploads["Uploads"]] == [up["UploadId"]]
    part = v2.upload_part(Bucket=v2_bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1,
                          Body=body)
    v2.complete_multipart_upload(
        Bucket=v2_bucket, Key="mp", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert v2.get_object(Bucket=v2_bucket, Key="mp")["Body"].read() == body
    # ?delete carries a Content-MD5, which SigV2 signs.
    gone = v2.delete_objects(Bucket=v2_bucket, Delete={"Objects": [{"Key": "mp"}]})
    assert [d["Key"] for d in gone["Deleted"]] == ["mp"]


def test_boto3_sigv2_sse_c(v2, v2_bucket):
    _, key_b64, md5_b64 = sse_c_key()
    body = os.urandom(5000)
    v2.put_object(Bucket=v2_bucket, Key="c", Body=body, SSECustomerAlgorithm="AES256",
                  SSECustomerKey=key_b64, SSECustomerKeyMD5=md5_b64)
    got = v2.get_object(Bucket=v2_bucket, Key="c", SSECustomerAlgorithm="AES256",
                        SSECustomerKey=key_b64, SSECustomerKeyMD5=md5_b64)
    assert got["Body"].read() == body
    assert got["SSECustomerKeyMD5"] == md5_b64


def test_boto3_sigv2_wrong_secret_and_unknown_key(make_client, v2_bucket, server):
    wrong = make_client(signature_version="s3", secret_key="not-the-secret")
    with pytest.raises(ClientError) as e:
        wrong.list_objects(Bucket=v2_bucket)
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    unknown = make_client(signature_version="s3", access_key="AKIDUNKNOWN000000000")
    with pytest.raises(ClientError) as e:
        unknown.list_objects(Bucket=v2_bucket)
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_boto3_sigv2_presigned_get_and_put(v2, server, v2_bucket):
    body = os.urandom(4096)
    # Content-Type is signed (botocore also copies it into the URL); the uploader sends it.
    put_url = v2.generate_presigned_url(
        "put_object", Params={"Bucket": v2_bucket, "Key": "p", "ContentType": "application/x-test"},
        ExpiresIn=300)
    assert "Signature=" in put_url and "X-Amz-Signature" not in put_url
    status, err = fetch(put_url, server.ca_path, method="PUT", data=body,
                        headers={"Content-Type": "text/html"})
    assert (status, error_code(err)) == (403, "SignatureDoesNotMatch")
    status, _ = fetch(put_url, server.ca_path, method="PUT", data=body,
                      headers={"Content-Type": "application/x-test"})
    assert status == 200
    assert v2.head_object(Bucket=v2_bucket, Key="p")["ContentType"] == "application/x-test"
    get_url = v2.generate_presigned_url("get_object", Params={"Bucket": v2_bucket, "Key": "p"},
                                        ExpiresIn=300)
    assert fetch(get_url, server.ca_path) == (200, body)
    # The URL is for GET: another method does not match the signature.
    status, err = fetch(get_url, server.ca_path, method="DELETE")
    assert (status, error_code(err)) == (403, "SignatureDoesNotMatch")
    assert v2.get_object(Bucket=v2_bucket, Key="p")["Body"].read() == body

    expired = v2.generate_presigned_url("get_object", Params={"Bucket": v2_bucket, "Key": "p"},
                                        ExpiresIn=-10)
    status, err = fetch(expired, server.ca_path)
    assert (status, error_code(err)) == (403, "AccessDenied")
    assert b"Request has expired" in err


def test_boto3_sigv2_presigned_put_applies_its_amz_parameters(v2, server, v2_bucket):
    # botocore's SigV2 presigner moves the x-amz-* headers of the call into the URL's query;
    # S3 signs them and stores the object as they say, though the uploader sends none of them.
    body = os.urandom(5000)
    url = v2.generate_presigned_url(
        "put_object",
        Params={"Bucket": v2_bucket, "Key": "sse", "ServerSideEncryption": "aws:kms",
                "Metadata": {"owner": "carol"}, "Tagging": "team=blue",
                "ContentType": "application/octet-stream"},
        ExpiresIn=300)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["x-amz-server-side-encryption"] == ["aws:kms"], url
    assert query["x-amz-meta-owner"] == ["carol"], url
    assert "X-Amz-Signature" not in query

    # A parameter changed after signing is refused and stores nothing.
    tampered = url.replace("x-amz-meta-owner=carol", "x-amz-meta-owner=mallory")
    assert tampered != url
    sent = {"Content-Type": "application/octet-stream"}
    status, err = fetch(tampered, server.ca_path, method="PUT", data=body, headers=sent)
    assert (status, error_code(err)) == (403, "SignatureDoesNotMatch")
    with pytest.raises(ClientError):
        v2.head_object(Bucket=v2_bucket, Key="sse")

    status, err = fetch(url, server.ca_path, method="PUT", data=body, headers=sent)
    assert status == 200, err
    head = v2.head_object(Bucket=v2_bucket, Key="sse")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["Metadata"] == {"owner": "carol"}
    tags = v2.get_object_tagging(Bucket=v2_bucket, Key="sse")["TagSet"]
    assert tags == [{"Key": "team", "Value": "blue"}]
    assert v2.get_object(Bucket=v2_bucket, Key="sse")["Body"].read() == body
