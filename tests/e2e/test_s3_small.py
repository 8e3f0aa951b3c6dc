"""Smaller S3 behaviours seen failing, as boto3 and raw HTTP clients meet them."""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import pytest


def _urlopen(server, req):
    ctx = ssl.create_default_context(cafile=server.ca_path)
    return urllib.request.urlopen(req, context=ctx, timeout=30)


def _error_code(http_error: urllib.error.HTTPError) -> str:
    return ET.fromstring(http_error.read()).findtext("Code")


def test_expired_presigned_put_is_access_denied(make_client, server, bucket):
    # AWS answers an expired presigned URL 403 AccessDenied "Request has expired" whatever the
    # method; a PUT must not fail differently because it carries a body.
    s3 = make_client(signature_version="s3v4")
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "late"}, ExpiresIn=1
    )
    time.sleep(2)
    req = urllib.request.Request(url, data=b"too late", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as e:
        _urlopen(server, req)
    assert e.value.code == 403
    assert _error_code(e.value) == "AccessDenied"
    with pytest.raises(Exception):
        s3.head_object(Bucket=bucket, Key="late")
