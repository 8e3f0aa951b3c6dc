"""Bucket CORS as a browser app's developer meets it: boto3 and the aws CLI
put/get/delete-bucket-cors, the unauthenticated OPTIONS preflight and a presigned GET with an
Origin over plain urllib, and a page on another origin fetch()ing a presigned GET in headless
Chromium (skipped without /usr/bin/chromium)."""

from __future__ import annotations

import http.server
import json
import os
import ssl
import subprocess
import threading
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

APP = "https://app.example.test"


def _fetch(server, url: str, method: str, headers: dict[str, str]):
    """(status, headers, body) of a request, errors included."""
    req = urllib.request.Request(url, method=method, headers=headers)
    ctx = ssl.create_default_context(cafile=server.ca_path)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_cors_with_boto3_and_a_browser_like_client(server, s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    rules = [
        {
            "ID": "app",
            "AllowedOrigins": [APP],
            "AllowedMethods": ["GET", "PUT"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "x-amz-request-id"],
            "MaxAgeSeconds": 3000,
        }
    ]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == rules
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"cross-origin bytes")

    url = f"{server.endpoint_https}/{bucket}/doc.txt"
    status, h, _ = _fetch(
        server,
        url,
        "OPTIONS",
        {
            "Origin": APP,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,x-amz-meta-a",
        },
    )
    assert status == 200
    assert h["Access-Control-Allow-Origin"] == APP
    assert h["Access-Control-Allow-Methods"] == "GET, PUT"
    assert h["Access-Control-Allow-Headers"] == "content-type, x-amz-meta-a"
    assert h["Access-Control-Max-Age"] == "3000"

    status, h, body = _fetch(
        server,
        url,
        "OPTIONS",
        {"Origin": "https://evil.test", "Access-Control-Request-Method": "GET"},
    )
    assert status == 403
    assert b"<Code>AccessForbidden</Code>" in body
    assert h["Access-Control-Allow-Origin"] is None

    presigned = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "doc.txt"}, ExpiresIn=300
    )
    status, h, body = _fetch(server, presigned, "GET", {"Origin": APP})
    assert status == 200
    assert body == b"cross-origin bytes"
    assert h["Access-Control-Allow-Origin"] == APP
    assert h["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"

    s3.delete_bucket_cors(Bucket=bucket)
    status, _, body = _fetch(
        server, url, "OPTIONS", {"Origin": APP, "Access-Control-Request-Method": "GET"}
    )
    assert status == 403
    assert b"CORS is not enabled for this bucket" in body
    assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"cross-origin bytes"


def test_cors_with_the_aws_cli(aws, bucket):
    rules = (
        '{"CORSRules":[{"AllowedOrigins":["https://app.example.com"],'
        '"AllowedMethods":["GET","PUT"],"AllowedHeaders":["*"],"ExposeHeaders":["ETag"]}]}'
    )
    aws.run("s3api", "put-bucket-cors", "--bucket", bucket, "--cors-configuration", rules)
    got = aws.json("s3api", "get-bucket-cors", "--bucket", bucket)
    assert got["CORSRules"][0]["AllowedOrigins"] == ["https://app.example.com"]
    assert got["CORSRules"][0]["AllowedMethods"] == ["GET", "PUT"]
    aws.run("s3api", "delete-bucket-cors", "--bucket", bucket)
    assert "NoSuchCORSConfiguration" in aws.fails("s3api", "get-bucket-cors", "--bucket", bucket)


CHROMIUM = "/usr/bin/chromium"

PAGE = """<!doctype html><html><body>pending<script>
fetch(%s).then(r => r.text().then(t => {
  const etag = r.headers.get('ETag') !== null;
  document.body.textContent = 'FETCHED ' + r.status + ' ' + t + ' etag=' + etag;
})).catch(e => { document.body.textContent = 'BLOCKED ' + e.name; });
</script></body></html>"""


def _browser_fetch(url: str) -> str:
    """What a page on another origin (its own http.server port) reads when it fetch()es `url`
    in headless Chromium: the body text the page script wrote."""
    page = (PAGE % json.dumps(url)).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        out = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--virtual-time-budget=10000",
                "--dump-dom",
                f"http://127.0.0.1:{httpd.server_address[1]}/",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        return out.stdout
    finally:
        httpd.shutdown()


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no headless Chromium")
def test_a_browser_on_another_origin_reads_a_presigned_get(make_client, bucket):
    plain = make_client(scheme="http")
    plain.put_object(Bucket=bucket, Key="page.txt", Body=b"read across origins")
    url = plain.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "page.txt"}, ExpiresIn=300
    )

    # No rules: the browser refuses the page the answer.
    assert "BLOCKED TypeError" in _browser_fetch(url)

    plain.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": ["http://127.0.0.1:*"],
                    "AllowedMethods": ["GET"],
                    "ExposeHeaders": ["ETag"],
                }
            ]
        },
    )
    assert "FETCHED 200 read across origins etag=true" in _browser_fetch(url)
