"""POST Object (browser form uploads) with the clients that make them: boto3's
`generate_presigned_post` (SigV4, and SigV2 with `signature_version="s3"`) sent by `requests`,
and headless Chromium submitting a real HTML form from a page on another origin, under SSE-S3
and SSE-KMS, whose redirect target then fetch()es the object back across origins (skipped
without /usr/bin/chromium). Every object is also read back with boto3: bytes and encryption,
and the browser's text is in no file of the data dir."""

from __future__ import annotations

import html
import http.server
import json
import os
import secrets
import subprocess
import threading
import urllib.parse

import boto3
import pytest
import requests


def _kms_key(server) -> str:
    kms = boto3.client(
        "kms",
        endpoint_url=server.endpoint_kms,
        region_name=server.region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        verify=server.ca_path,
    )
    return kms.create_key(Description="post-object e2e")["KeyMetadata"]["Arn"]


def _post(server, presigned: dict, filename: str, data: bytes) -> requests.Response:
    return requests.post(
        presigned["url"],
        data=presigned["fields"],
        files={"file": (filename, data)},
        verify=server.ca_path,
        allow_redirects=False,
        timeout=60,
    )


def test_presigned_post_sigv4_with_requests(server, make_client, bucket):
    # boto3 presigns POSTs with SigV2 unless the client is configured for SigV4.
    s3 = make_client(signature_version="s3v4")
    data = secrets.token_bytes(200_000)
    presigned = s3.generate_presigned_post(
        Bucket=bucket,
        Key="uploads/${filename}",
        Fields={"Content-Type": "application/x-demo", "x-amz-server-side-encryption": "AES256"},
        Conditions=[
            ["starts-with", "$Content-Type", "application/"],
            {"x-amz-server-side-encryption": "AES256"},
            ["content-length-range", 1, 1_000_000],
        ],
        ExpiresIn=300,
    )
    assert "x-amz-signature" in presigned["fields"]
    resp = _post(server, presigned, "demo.bin", data)
    assert resp.status_code == 204, resp.text
    assert resp.headers["x-amz-server-side-encryption"] == "AES256"

    got = s3.get_object(Bucket=bucket, Key="uploads/demo.bin")
    assert got["Body"].read() == data
    assert got["ContentType"] == "application/x-demo"
    assert got["ServerSideEncryption"] == "AES256"
    assert got["ETag"] == resp.headers["ETag"]

    # Over the policy's size range: refused, nothing stored.
    resp = _post(server, presigned, "big.bin", b"x" * 1_000_001)
    assert resp.status_code == 400
    assert "<Code>EntityTooLarge</Code>" in resp.text
    assert "uploads/big.bin" not in [
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    ]


def test_presigned_post_sigv2_and_sse_kms(server, make_client, bucket):
    key_arn = _kms_key(server)
    v2 = make_client(signature_version="s3")  # boto3's default for presigned POSTs
    presigned = v2.generate_presigned_post(
        Bucket=bucket,
        Key="kms.txt",
        Fields={
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": key_arn,
            "success_action_status": "201",
        },
        Conditions=[
            {"x-amz-server-side-encryption": "aws:kms"},
            {"x-amz-server-side-encryption-aws-kms-key-id": key_arn},
            {"success_action_status": "201"},
        ],
        ExpiresIn=300,
    )
    assert "AWSAccessKeyId" in presigned["fields"]
    assert "signature" in presigned["fields"]
    resp = _post(server, presigned, "kms.txt", b"sealed by a form")
    assert resp.status_code == 201, resp.text
    assert f"<Bucket>{bucket}</Bucket><Key>kms.txt</Key>" in resp.text
    assert resp.headers["x-amz-server-side-encryption-aws-kms-key-id"] == key_arn

    got = make_client().get_object(Bucket=bucket, Key="kms.txt")
    assert got["Body"].read() == b"sealed by a form"
    assert got["ServerSideEncryption"] == "aws:kms"
    assert got["SSEKMSKeyId"] == key_arn


def test_policy_is_enforced(server, s3, bucket):
    # boto3's default: a SigV2 form (AWSAccessKeyId, signature).
    presigned = s3.generate_presigned_post(Bucket=bucket, Key="only-this", ExpiresIn=300)
    fields = dict(presigned["fields"], key="something-else")
    resp = requests.post(
        presigned["url"], data=fields, files={"file": ("f", b"x")},
        verify=server.ca_path, timeout=60,
    )
    assert resp.status_code == 403
    assert "<Code>AccessDenied</Code>" in resp.text
    assert 'Policy Condition failed: [&quot;eq&quot;, &quot;$key&quot;, &quot;only-this&quot;]' in resp.text

    fields = dict(presigned["fields"], **{"x-amz-meta-sneaky": "1"})
    resp = requests.post(
        presigned["url"], data=fields, files={"file": ("f", b"x")},
        verify=server.ca_path, timeout=60,
    )
    assert resp.status_code == 403
    assert "Extra input fields: x-amz-meta-sneaky" in resp.text

    fields = dict(presigned["fields"])
    fields["signature"] = "A" * 27 + "=" if fields["signature"] != "A" * 27 + "=" else "B" * 27 + "="
    resp = requests.post(
        presigned["url"], data=fields, files={"file": ("f", b"x")},
        verify=server.ca_path, timeout=60,
    )
    assert resp.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in resp.text
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


CHROMIUM = "/usr/bin/chromium"

FORM_PAGE = """<!doctype html><html><body>
<form id="f" action="%(action)s" method="post" enctype="multipart/form-data">%(inputs)s
<input type="file" name="file" id="file"></form>
<script>
const dt = new DataTransfer();
dt.items.add(new File([%(content)s], "browser.txt", {type: "text/plain"}));
document.getElementById("file").files = dt.files;
document.getElementById("f").submit();
</script></body></html>"""


DONE_PAGE = """<!doctype html><html><body>UPLOADED<script>
fetch(%s).then(r => r.text()).then(t => { document.body.textContent = 'UPLOADED READ ' + t; })
  .catch(e => { document.body.textContent = 'UPLOADED BLOCKED ' + e.name; });
</script></body></html>"""


def _browser_form_upload(presigned_for, read_url: str) -> tuple[str, str]:
    """Serves a page with an HTML form (hidden fields from `presigned_for(redirect_url)`, a
    file input filled with a File) on its own origin and lets headless Chromium submit it.
    The redirect target page then fetch()es `read_url` (a presigned GET of the object) across
    origins. Returns the query S3 redirected with and the final page's text."""
    seen: dict[str, str] = {}
    state: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/done"):
                seen["query"] = urllib.parse.urlsplit(self.path).query
                body = (DONE_PAGE % json.dumps(read_url)).encode()
            else:
                body = state["page"]
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    presigned, content = presigned_for(f"{origin}/done")
    inputs = "".join(
        f'\n<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in presigned["fields"].items()
    )
    state["page"] = (
        FORM_PAGE
        % {"action": html.escape(presigned["url"]), "inputs": inputs, "content": json.dumps(content)}
    ).encode()
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
                f"{origin}/",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "UPLOADED" in out.stdout, out.stdout + out.stderr
        return seen["query"], out.stdout
    finally:
        httpd.shutdown()


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no headless Chromium")
@pytest.mark.parametrize("mode", ["AES256", "aws:kms"])
def test_a_browser_submits_an_html_form(server, make_client, bucket, mode):
    # Browsers do not trust the gateway's generated CA: the page posts to the HTTP listener.
    plain = make_client(scheme="http")
    key_arn = _kms_key(server) if mode == "aws:kms" else None
    content = f"typed in a browser, stored under {mode}"

    def presigned_for(redirect: str):
        fields = {"x-amz-server-side-encryption": mode, "success_action_redirect": redirect}
        conditions = [
            {"x-amz-server-side-encryption": mode},
            {"success_action_redirect": redirect},
        ]
        if key_arn:
            fields["x-amz-server-side-encryption-aws-kms-key-id"] = key_arn
            conditions.append({"x-amz-server-side-encryption-aws-kms-key-id": key_arn})
        p = plain.generate_presigned_post(
            Bucket=bucket, Key="browser/${filename}", Fields=fields, Conditions=conditions,
            ExpiresIn=300,
        )
        return p, content

    # The redirect target reads the object back across origins: a CORS rule for GET.
    plain.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [{"AllowedOrigins": ["http://127.0.0.1:*"], "AllowedMethods": ["GET"]}]
        },
    )
    read_url = plain.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "browser/browser.txt"}, ExpiresIn=300
    )
    query, page = _browser_form_upload(presigned_for, read_url)
    assert f"UPLOADED READ {content}" in page, page
    query = urllib.parse.parse_qs(query)
    assert query["bucket"] == [bucket]
    assert query["key"] == ["browser/browser.txt"]

    got = make_client().get_object(Bucket=bucket, Key="browser/browser.txt")
    assert got["Body"].read() == content.encode()
    assert got["ServerSideEncryption"] == mode
    assert query["etag"] == [got["ETag"]]
    if key_arn:
        assert got["SSEKMSKeyId"] == key_arn
    # Encrypted at rest: the text the browser sent is in no file of the data dir.
    stored = [p for p in server.data_dir.rglob("*") if p.is_file()]
    assert stored
    assert not [p for p in stored if content.encode() in p.read_bytes()]
