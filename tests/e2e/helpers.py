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


def metric_value(server, name: str, labels: str) -> int:
    """One counter from the gateway's metrics listener (the `Metrics:` banner line), e.g.
    `metric_value(server, "sealgate_s3_requests_total", 'operation="X",status="200"')`; 0 when
    the series does not exist yet."""
    import re
    import urllib.request

    banner = server.log_path.read_text(errors="replace")
    url = re.search(r"^Metrics:\s+(\S+)", banner, re.M).group(1)
    with urllib.request.urlopen(url) as r:
        text = r.read().decode()
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\d+)", text, re.M)
    return int(m.group(1)) if m else 0
