"""What sealgate leaves on disk: object bodies and customer keys must not appear in plaintext in
any file under the data directory (nor in the server log).

Each body is built from a random marker, so any plaintext copy (whole, hex-encoded, or any
16-byte window of it) would be found by a byte search of every file.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from helpers import sse_c_key

MiB = 1024 * 1024


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def _find(paths: list[Path], needles: dict[str, bytes]) -> list[str]:
    """Names of (needle, file) pairs where the needle occurs in the file."""
    longest = max(len(n) for n in needles.values())
    hits = []
    for path in paths:
        with open(path, "rb") as f:
            carry = b""
            while True:
                block = f.read(4 * MiB)
                if not block:
                    break
                window = carry + block
                for name, needle in needles.items():
                    if needle in window and f"{name} in {path}" not in hits:
                        hits.append(f"{name} in {path}")
                carry = window[-(longest - 1):]
    return hits


def _needles(token: bytes, marker: bytes) -> dict[str, bytes]:
    window = token[5:21]
    return {
        "marker": marker,
        "token": token,
        "16-byte window": window,
        "hex of window": window.hex().encode(),
        "HEX of window": window.hex().upper().encode(),
        "base64 of marker": base64.b64encode(marker[:48]),
    }


def test_object_bodies_are_not_stored_in_plaintext(s3, bucket, server):
    token = secrets.token_hex(16).encode()  # 32 printable bytes
    marker = token * 64
    small = b"prefix " + marker + b" suffix"
    s3.put_object(Bucket=bucket, Key="plain/small", Body=small)
    s3.put_object(Bucket=bucket, Key="plain/marker", Body=marker, ServerSideEncryption="AES256")

    # A multipart object whose parts are full of the marker.
    part1 = marker * (5 * MiB // len(marker) + 1)
    part2 = marker * 3
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="plain/multipart")["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key="plain/multipart", UploadId=upload_id, PartNumber=n,
                       Body=data)["ETag"]
        for n, data in ((1, part1), (2, part2))
    ]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="plain/multipart", UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": t}
                                   for n, t in enumerate(etags, start=1)]},
    )
    # An upload left open: its parts are on disk too.
    open_id = s3.create_multipart_upload(Bucket=bucket, Key="plain/open")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="plain/open", UploadId=open_id, PartNumber=1, Body=part2)

    # Readable through the API ...
    assert s3.get_object(Bucket=bucket, Key="plain/small")["Body"].read() == small
    assert s3.get_object(Bucket=bucket, Key="plain/multipart")["Body"].read() == part1 + part2

    # ... and the data really is under the data dir (so the search below is not vacuous).
    files = _files(server.data_dir)
    stored = sum(p.stat().st_size for p in files)
    assert stored >= len(part1) + len(part2) + len(small) + len(marker)

    hits = _find(files + [server.log_path], _needles(token, marker))
    assert not hits, "plaintext found at rest:\n" + "\n".join(hits)


def test_sse_c_keys_are_never_stored(s3, bucket, server):
    raw, b64, _ = sse_c_key()
    token = secrets.token_hex(16).encode()
    marker = token * 64
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": raw}
    s3.put_object(Bucket=bucket, Key="ssec/obj", Body=marker, **ssec)

    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="ssec/mpu", **ssec)["UploadId"]
    part = marker * (5 * MiB // len(marker) + 1)
    etag = s3.upload_part(Bucket=bucket, Key="ssec/mpu", UploadId=upload_id, PartNumber=1,
                          Body=part, **ssec)["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="ssec/mpu", UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}, **ssec,
    )
    s3.copy_object(Bucket=bucket, Key="ssec/copy", CopySource={"Bucket": bucket, "Key": "ssec/obj"},
                   CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=raw, **ssec)
    assert s3.get_object(Bucket=bucket, Key="ssec/copy", **ssec)["Body"].read() == marker

    needles = {
        "raw SSE-C key": raw,
        "base64 SSE-C key": b64.encode(),
        "hex SSE-C key": raw.hex().encode(),
        "first 16 bytes of SSE-C key": raw[:16],
    }
    needles.update(_needles(token, marker))
    files = _files(server.data_dir)
    hits = _find(files + [server.log_path], needles)
    assert not hits, "secret material found at rest:\n" + "\n".join(hits)


def test_secret_files_are_owner_only(server):
    # Master keys and the TLS private key must not be readable by other local users.
    secrets_on_disk = [p for p in (server.data_dir / "keys").rglob("*") if p.is_file()]
    secrets_on_disk.append(server.data_dir / "tls" / "key.pem")
    assert secrets_on_disk, "no key files found under the data dir"
    for path in secrets_on_disk:
        assert path.exists(), path
        mode = path.stat().st_mode & 0o777
        assert mode & 0o077 == 0, f"{path} is readable by others ({oct(mode)})"
