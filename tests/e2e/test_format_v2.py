"""An independent reader of sealgate's version 2 format, written from docs/FORMAT.md alone.

It takes what a real `sealgate serve` left on disk for an SSE-C multipart object — the meta record
and the ciphertext blobs — plus the customer key the client holds, and with nothing but HKDF,
AES-GCM and HMAC from `cryptography`: unseals the object key (§1.3), derives each part's
number-bound key (§2), decrypts the blobs (§3) and recomputes the record MAC (§6). It also
recomputes the §7 test vectors. If the document and the code disagree, this fails.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from helpers import sse_c_key

MiB = 1024 * 1024


def hkdf(ikm: bytes, salt: bytes | None, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def field(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def s(x: str) -> bytes:
    return field(x.encode())


def u64(n: int) -> bytes:
    return field(struct.pack(">Q", n))


def kek_binding(mode: str, bucket: str, key: str) -> bytes:
    return b"sealgate/v1/kek" + s(mode) + s(bucket) + s(key)


def part_key(ok: bytes, salt: bytes, part_number: int) -> bytes:
    return hkdf(ok, salt, b"sealgate/v2/part-key" + struct.pack(">I", part_number))


def open_part(pk: bytes, prefix: bytes, seg: int, size: int, blob: bytes) -> bytes:
    n = max(1, -(-size // seg))
    out, off = b"", 0
    for i in range(n):
        plain_len = min(seg, size - i * seg) if size else 0
        stored = blob[off:off + plain_len + 16]
        off += plain_len + 16
        nonce = prefix + struct.pack(">I", i) + (b"\x01" if i == n - 1 else b"\x00")
        out += AESGCM(pk).decrypt(nonce, stored, b"")
    assert off == len(blob), "trailing bytes after the last segment"
    return out


def record_encoding(bucket: str, key: str, meta: dict) -> bytes:
    b64 = base64.b64decode

    def mapping(m: dict) -> bytes:
        items = sorted(m.items(), key=lambda kv: kv[0].encode())
        return u64(len(items)) + b"".join(s(k) + s(v) for k, v in items)

    def sealed(x: dict) -> bytes:
        return field(b64(x["salt"])) + field(b64(x["nonce"])) + field(b64(x["ciphertext"]))

    e = b"sealgate/v2/record" + s(bucket) + s(key) + s("null")
    e += s(meta["format"]) + u64(meta["size"]) + s(meta["etag"]) + u64(meta["last_modified_ms"])
    e += mapping(meta["content_headers"]) + mapping(meta["user_meta"])
    c = meta["checksum"]
    e += field(b"\x00") if c is None else field(b"\x01") + s(c["algorithm"]) + s(c["value"]) + s(c["kind"])
    e += u64(meta["segment_size"]) + s(meta["generation"]) + u64(len(meta["parts"]))
    for p in meta["parts"]:
        e += u64(p["part_number"]) + u64(p["size"]) + s(p["blob"])
        e += field(b64(p["key_salt"])) + field(b64(p["nonce_prefix"])) + s(p["etag"])
        e += field(b"\x00") if p["checksum"] is None else field(b"\x01") + s(p["checksum"])
    sl = meta["sealing"]
    if sl["mode"] == "SseC":
        e += s("SSE-C") + s(sl["key_md5"]) + sealed(sl["sealed"])
    elif sl["mode"] == "SseS3":
        e += s("SSE-S3") + u64(sl["key_version"]) + sealed(sl["sealed"])
    elif sl["mode"] == "SseKms":
        e += s("SSE-KMS") + s(sl["key_arn"]) + field(b64(sl["kms_blob"]))
        e += mapping(sl["context"]) + field(bytes([1 if sl["bucket_key"] else 0]))
        e += sealed(sl["sealed"])
    else:
        e += s("none")
    # Tags, ACL and lock sections are absent in the records these tests write. Inline parts
    # come last (§6.1, "Inline parts").
    inline = [p for p in meta["parts"] if "inline" in p]
    if inline:
        e += s("inline") + u64(len(inline))
        for p in inline:
            e += u64(p["part_number"]) + field(b64(p["inline"]))
    return e


def record_mac(ok: bytes, bucket: str, key: str, meta: dict) -> bytes:
    mac_key = hkdf(ok, None, b"sealgate/v2/record-mac")
    return hmac.new(mac_key, record_encoding(bucket, key, meta), hashlib.sha256).digest()


def meta_path(server, bucket: str, key: str):
    # docs/STORAGE.md (the local store keeps its tree under <data-dir>/objects): lower-case hex of the key in 198-character chunks, the last ending in "-".
    h = key.encode().hex()
    chunks = [h[i:i + 198] for i in range(0, len(h), 198)]
    return server.data_dir.joinpath("objects", "meta", bucket, *chunks[:-1], chunks[-1] + "-")


def stored_part(server, bucket: str, meta: dict, p: dict) -> bytes:
    # A small object's sealed part is in its record (docs/STORAGE.md "Inline objects").
    if "inline" in p:
        return base64.b64decode(p["inline"])
    return (server.data_dir / "objects" / "data" / bucket / meta["generation"] / p["blob"]).read_bytes()


def test_independent_reader_opens_and_authenticates_an_inline_object(s3, bucket, server):
    raw, _, _ = sse_c_key()
    key = "format/v2/inline"
    body = b"small and inline " * 300  # 5100 bytes, under the 16 KiB default limit
    s3.put_object(Bucket=bucket, Key=key, Body=body, SSECustomerAlgorithm="AES256",
                  SSECustomerKey=raw)
    meta = json.loads(meta_path(server, bucket, key).read_text())
    (p,) = meta["parts"]
    assert p["blob"] == "" and "inline" in p
    assert not (server.data_dir / "objects" / "data" / bucket / meta["generation"]).exists()
    binding = kek_binding("SSE-C", bucket, key)
    sealed = {k: base64.b64decode(v) for k, v in meta["sealing"]["sealed"].items()}
    ok = AESGCM(hkdf(raw, sealed["salt"], binding)).decrypt(
        sealed["nonce"], sealed["ciphertext"], binding)
    pk = part_key(ok, base64.b64decode(p["key_salt"]), 1)
    sealed_part = stored_part(server, bucket, meta, p)
    assert len(sealed_part) == len(body) + 16
    assert open_part(pk, base64.b64decode(p["nonce_prefix"]), meta["segment_size"], p["size"],
                     sealed_part) == body
    assert base64.b64decode(meta["mac"]) == record_mac(ok, bucket, key, meta)
    flipped = bytearray(sealed_part)
    flipped[7] ^= 1
    edited = dict(meta, parts=[dict(p, inline=base64.b64encode(bytes(flipped)).decode())])
    assert record_mac(ok, bucket, key, edited) != record_mac(ok, bucket, key, meta)


def test_independent_reader_opens_and_authenticates_a_v2_object(s3, bucket, server):
    raw, _, _ = sse_c_key()
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": raw}
    key = "format/v2/multipart"
    parts = [b"A" * (5 * MiB + 17), b"second part" * 1000]
    upload_id = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ContentType="text/plain", Metadata={"color": "blue"}, **ssec
    )["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=body,
                       **ssec)["ETag"]
        for n, body in enumerate(parts, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": t} for n, t in enumerate(etags, 1)]},
    )

    meta = json.loads(meta_path(server, bucket, key).read_text())
    assert meta["format"] == "sealgate-meta/2"
    sl = meta["sealing"]
    assert sl["mode"] == "SseC"

    # §1.3: the KEK material of SSE-C is the customer's key.
    binding = kek_binding("SSE-C", bucket, key)
    sealed = {k: base64.b64decode(v) for k, v in sl["sealed"].items()}
    kek = hkdf(raw, sealed["salt"], binding)
    ok = AESGCM(kek).decrypt(sealed["nonce"], sealed["ciphertext"], binding)

    # §2, §3: each part under its number-bound key.
    plain = b""
    for p in meta["parts"]:
        assert "inline" not in p, "multipart parts are never inline"
        blob = stored_part(server, bucket, meta, p)
        pk = part_key(ok, base64.b64decode(p["key_salt"]), p["part_number"])
        plain += open_part(pk, base64.b64decode(p["nonce_prefix"]), meta["segment_size"],
                           p["size"], blob)
    assert plain == b"".join(parts)

    # §6: the record MAC, and that it covers the part order and the name.
    assert base64.b64decode(meta["mac"]) == record_mac(ok, bucket, key, meta)
    swapped = dict(meta, parts=list(reversed(meta["parts"])))
    assert record_mac(ok, bucket, key, swapped) != record_mac(ok, bucket, key, meta)
    assert record_mac(ok, bucket, key + "x", meta) != record_mac(ok, bucket, key, meta)


def test_format_doc_vectors_version_2():
    ok = bytes(range(32))
    salt = bytes(range(0xA0, 0xB0))
    prefix = bytes(range(0xB0, 0xB7))
    pk3 = part_key(ok, salt, 3)
    assert pk3.hex() == "295033521bb1b935087b3061495558674788a01cf3ed79c56c9026202712406d"
    pt = b"The quick brown fox jumps over the lazy dog"
    blob = b""
    for i in range(3):
        nonce = prefix + struct.pack(">I", i) + (b"\x01" if i == 2 else b"\x00")
        blob += AESGCM(pk3).encrypt(nonce, pt[16 * i:16 * i + 16], b"")
    assert blob.hex() == (
        "d56022c1bd9c8b1c6d11bee2d1263df24694a0c9de3efb0ef2927175e2d4c052"
        "d604c0a3902134b23ab4eaa4922ccb146e0b0c7446421d70b4a8bbfe66b51dad"
        "3d0f978ce93aa23a3ae3e29e6b8842fbeab94c0344767dd0c1f280"
    )

    # The record of docs/FORMAT.md §7 (the same as src/sse/record_mac.rs's sample()).
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    meta = {
        "format": "sealgate-meta/2", "size": 43, "etag": "9e107d9d372bb6826bd81d3542a419d6",
        "last_modified_ms": 1_795_873_899_000,
        "content_headers": {"content-type": "text/plain"}, "user_meta": {"color": "blue"},
        "checksum": {"algorithm": "CRC64NVME", "value": "AAAAAAAAAAA=", "kind": "FULL_OBJECT"},
        "segment_size": 16, "generation": "g1",
        "parts": [{"part_number": 1, "size": 43, "blob": "1", "key_salt": b64(salt),
                   "nonce_prefix": b64(prefix), "etag": "9e107d9d372bb6826bd81d3542a419d6",
                   "checksum": None}],
        "sealing": {"mode": "SseC", "key_md5": "JMwgiexXqwuPqIPjYFmIZQ==",
                    "sealed": {"salt": b64(b"\xc0" * 32), "nonce": b64(b"\xe0" * 12),
                               "ciphertext": b64(b"\x0d" * 48)}},
    }
    assert hkdf(ok, None, b"sealgate/v2/record-mac").hex() == (
        "1ef1dd84a4c5b84d6c85b26b48d23142756bf8b54c3903f8acb259bdfe380e71"
    )
    assert record_mac(ok, "bucket", "photos/cat.jpg", meta).hex() == (
        "01be4e1e606fc1ef241287085a03b5423150de3e32c3c87e74dce5edce739074"
    )
    # The same record with its part inline: the first (version 1) envelope vector's 91 bytes.
    envelope_blob = bytes.fromhex(
        "0ad855abea5a8e1d6b51193a31dd2f9bbe56aff005108523f04ab7e5519f522e"
        "5daa5d6e96ab485b75fc690b66c8d721a0a42f2b84138935edd0fc496364eeee"
        "a59f813c86873a099bfe16f6f66142e06f522a675f0fa3724fb507"
    )
    inline = dict(meta, parts=[dict(meta["parts"][0], blob="", inline=b64(envelope_blob))])
    assert record_mac(ok, "bucket", "photos/cat.jpg", inline).hex() == (
        "116aaa300e422bd1de75d802584012f6c093f42b32a778ce6f55ea3227ea88d1"
    )
