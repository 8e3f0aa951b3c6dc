"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def md5_etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


def sse_c_key() -> tuple[bytes, str, str]:
    """A random SSE-C key: (raw 32 bytes, base64 key, base64 MD5 of the key)."""
    raw = secrets.token_bytes(32)
    return raw, base64.b64encode(raw).decode(), base64.b64encode(hashlib.md5(raw).digest()).decode()


def write_random_file(path: Path, size: int, chunk: int = 1 << 22) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(chunk, left)
            f.write(os.urandom(n))
            left -= n


def metric_value(server, name: str, labels: str = "") -> int:
    """One counter from the gateway's metrics listener (the `Metrics:` banner line), e.g.
    `metric_value(server, "sealgate_s3_requests_total", 'operation="X",status="200"')` (no
    `labels` for a family without labels); 0 when the series does not exist yet."""
    import re
    import urllib.request

    banner = server.log_path.read_text(errors="replace")
    url = re.search(r"^Metrics:\s+(\S+)", banner, re.M).group(1)
    with urllib.request.urlopen(url) as r:
        text = r.read().decode()
    series = re.escape(name) + (rf"\{{{re.escape(labels)}\}}" if labels else "")
    m = re.search(rf"^{series} (\d+)", text, re.M)
    return int(m.group(1)) if m else 0


def advance_clock(server, seconds: int) -> dict:
    """POSTs the test-only `Sealgate.AdvanceClock` to the server's KMS listener, SigV4-signed as
    root (the server runs with `SEALGATE_TEST_CLOCK=1`)."""
    import json
    import ssl
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps({"Seconds": seconds})
    req = AWSRequest(
        method="POST",
        url=server.endpoint_kms + "/",
        data=body.encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Sealgate.AdvanceClock",
        },
    )
    SigV4Auth(Credentials(server.access_key, server.secret_key), "kms", server.region).add_auth(
        req
    )
    prepared = req.prepare()
    ctx = ssl.create_default_context(cafile=server.ca_path)
    http_req = urllib.request.Request(
        prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST"
    )
    with urllib.request.urlopen(http_req, context=ctx, timeout=30) as resp:
        assert resp.status == 200
        return json.loads(resp.read() or b"{}")
