"""Every digest a client can assert about a large body (read ahead of the handler and hashed on
a thread of its own from 1 MiB up) is still checked before anything is stored: a body that
does not match its signed SHA-256, its Content-MD5 or its flexible checksum is refused with
S3's error and leaves no object; one that matches is stored with the right ETag and bytes."""

from __future__ import annotations

import base64
import hashlib
import os
import ssl
import time
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.exceptions import ClientError
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SIZE = 5 * 1024 * 1024 + 3  # past the 1 MiB threshold, not a multiple of any buffer


def signed_put(server, bucket, key, body, headers, signed_body=None):
    """PUTs `body` signed as if it were `signed_body` (its SHA-256 in the signature); returns
    (status, S3 error code or None)."""
    url = f"{server.endpoint_https}/{bucket}/{key}"
    signed = body if signed_body is None else signed_body
    req = AWSRequest(method="PUT", url=url, data=signed, headers=dict(headers))
    req.headers["x-amz-content-sha256"] = hashlib.sha256(signed).hexdigest()
    SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", server.region).add_auth(
        req
    )
    prepared = req.prepare()
    http_req = urllib.request.Request(
        prepared.url, data=body, headers=dict(prepared.headers), method="PUT"
    )
    ctx = ssl.create_default_context(cafile=server.ca_path)
    try:
        with urllib.request.urlopen(http_req, context=ctx, timeout=60) as resp:
            return resp.status, None
    except urllib.error.HTTPError as e:
        text = e.read().decode(errors="replace")
        code = text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else None
        return e.code, code


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


@pytest.fixture(scope="module")
def data():
    return os.urandom(SIZE)


@pytest.mark.parametrize("sse", ["AES256", "aws:kms"])
def test_a_matching_large_body_is_stored_with_its_md5_etag_and_checksum(
    server, s3, bucket, data, sse
):
    headers = {
        "Content-MD5": b64(hashlib.md5(data).digest()),
        "x-amz-checksum-sha256": b64(hashlib.sha256(data).digest()),
        "x-amz-server-side-encryption": sse,
    }
    assert signed_put(server, bucket, "ok", data, headers) == (200, None)
    got = s3.get_object(Bucket=bucket, Key="ok", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ChecksumSHA256"] == headers["x-amz-checksum-sha256"]
    if sse == "AES256":
        assert got["ETag"] == '"' + hashlib.md5(data).hexdigest() + '"'


@pytest.mark.parametrize(
    "name, headers, signed_other, code",
    [
        ("sha256", {}, True, "XAmzContentSHA256Mismatch"),
        ("md5", {"Content-MD5": b64(hashlib.md5(b"other").digest())}, False, "BadDigest"),
        (
            "checksum-sha256",
            {"x-amz-checksum-sha256": b64(hashlib.sha256(b"other").digest())},
            False,
            "BadDigest",
        ),
        ("checksum-crc32", {"x-amz-checksum-crc32": "AAAAAA=="}, False, "BadDigest"),
    ],
)
def test_a_large_body_that_does_not_match_is_refused_and_stores_nothing(
    server, s3, bucket, data, name, headers, signed_other, code
):
    # The same length, one byte changed at the very end: only the whole-body digest can tell.
    other = data[:-1] + bytes([data[-1] ^ 1])
    status, got = signed_put(
        server, bucket, name, data, headers, signed_body=other if signed_other else None
    )
    assert (status, got) == (400, code)
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [o["Key"] for o in listed] == []


def test_a_large_body_cut_short_stores_nothing_and_the_server_goes_on(server, s3, bucket, data):
    """The client sends half of a read-ahead body and hangs up: the upload is dropped (no
    object, no leftover), and the next PUT on a new connection works."""
    import socket
    import urllib.parse

    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "cut"}, ExpiresIn=300
    )
    parts = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context(cafile=server.ca_path)
    with socket.create_connection((parts.hostname, parts.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname=parts.hostname) as tls:
            head = (
                f"PUT {parts.path}?{parts.query} HTTP/1.1\r\n"
                f"Host: {parts.netloc}\r\nContent-Length: {len(data)}\r\n\r\n"
            )
            tls.sendall(head.encode() + data[: len(data) // 2])
    # The server notices the hang-up when it reads on and removes what it staged; give it
    # a moment, then look.
    def staged():
        return [
            p
            for p in server.data_dir.rglob("*")
            if p.is_file() and "#" in p.name and bucket in p.parts
        ]

    deadline = time.time() + 30
    while staged() and time.time() < deadline:
        time.sleep(0.2)
    assert staged() == []
    assert s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="cut")
    assert e.value.response["Error"]["Code"] in ("404", "NoSuchKey")
    s3.put_object(Bucket=bucket, Key="after", Body=data)
    assert s3.get_object(Bucket=bucket, Key="after")["Body"].read() == data
