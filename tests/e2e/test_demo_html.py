"""`sealgate demo --format html` rendered by a real browser.

The demo runs end to end (it starts its own gateway), writes one HTML page, and headless
Chromium (Debian package `chromium`, installed by scripts/test) screenshots it and dumps its DOM.
The screenshot is decoded here with the standard library (zlib + PNG filters) to prove the page
rendered something that is not blank; the DOM dump proves the table has a column and a full
row set for each of the five methods, and the page loads nothing from outside.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

METHODS = ["SSE-S3", "SSE-KMS", "SSE-C", "CSE-KMS", "CSE-C"]
WIDTH, HEIGHT = 1400, 1800


def _sealgate_bin() -> str:
    default = Path(__file__).resolve().parents[2] / "target" / "debug" / "sealgate"
    return os.environ.get("SEALGATE_BIN", str(default))


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("headless Chromium is not installed (scripts/test installs the Debian package `chromium`)")


def _chromium_args(profile: Path) -> list[str]:
    return [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ]


def _decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of raw pixel bytes) of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = bpp = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        ftype = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


class _TableParser(HTMLParser):
    """Collects the method header cells and, per body row, the number of data cells."""

    def __init__(self) -> None:
        super().__init__()
        self.in_table = False
        self.in_head = False
        self.header: list[str] = []
        self.row_cells: list[int] = []
        self.row_labels: list[str] = []
        self._cell: str | None = None
        self._text = ""
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href"):
            if attrs.get(name):
                self.external.append(f"{tag} {name}={attrs[name]}")
        if tag in ("script", "link", "iframe", "img"):
            self.external.append(tag)
        if tag == "table" and attrs.get("id") == "methods":
            self.in_table = True
        elif self.in_table and tag == "thead":
            self.in_head = True
        elif self.in_table and tag == "tr" and not self.in_head:
            self.row_cells.append(0)
            self.row_labels.append("")
        elif self.in_table and tag in ("th", "td"):
            self._cell = tag
            self._text = ""
            if self.in_head and attrs.get("data-method"):
                self.header.append(attrs["data-method"])
            elif not self.in_head and tag == "td":
                self.row_cells[-1] += 1

    def handle_endtag(self, tag):
        if tag == "table" and self.in_table:
            self.in_table = False
        elif tag == "thead":
            self.in_head = False
        elif tag == "th" and self._cell == "th" and not self.in_head and self.row_labels:
            self.row_labels[-1] = self._text.strip()
            self._cell = None

    def handle_data(self, data):
        if self._cell:
            self._text += data


def test_demo_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    demo = subprocess.run(
        [_sealgate_bin(), "demo", "--format", "html", "--keep-dir", str(tmp_path / "gateway")],
        capture_output=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    assert demo.returncode == 0, demo.stderr.decode(errors="replace")
    page.write_bytes(demo.stdout)
    html = demo.stdout.decode()
    assert html.startswith("<!DOCTYPE html>")
    assert "<svg" in html and "<style>" in html
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html), "CSS loads an external resource"

    shot = tmp_path / "page.png"
    result = subprocess.run(
        _chromium_args(tmp_path / "profile-shot")
        + [f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", page.as_uri()],
        capture_output=True,
        timeout=180,
    )
    assert shot.exists(), result.stderr.decode(errors="replace")[-2000:]
    keep = os.environ.get("SEALGATE_DEMO_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
    width, height, rows = _decode_png(shot.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    # Not blank: many distinct colours (text, the green/red cells, the diagrams) and a good
    # share of non-white pixels in the upper half where the table is.
    bpp = len(rows[0]) // width
    colours: set[bytes] = set()
    non_white = total = 0
    for row in rows[: height // 2 : 4]:
        for x in range(0, width * bpp, bpp * 2):
            px = row[x : x + 3]
            colours.add(px)
            total += 1
            non_white += px != b"\xff\xff\xff"
    assert len(colours) > 50, f"only {len(colours)} distinct colours: blank page?"
    assert non_white / total > 0.05, f"{non_white}/{total} non-white pixels"

    dom = subprocess.run(
        _chromium_args(tmp_path / "profile-dom") + ["--dump-dom", page.as_uri()],
        capture_output=True,
        timeout=180,
    )
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    parser = _TableParser()
    parser.feed(dom.stdout.decode())
    assert parser.header == METHODS
    assert parser.external == [], parser.external
    # Every facet and event row has one cell per method.
    assert len(parser.row_cells) >= 14, parser.row_labels
    assert all(n == len(METHODS) for n in parser.row_cells), list(zip(parser.row_labels, parser.row_cells))
    for label in ("Data key generated by", "Wrapped key stored in", "KMS calls on PUT", "Stored bytes"):
        assert label in parser.row_labels, parser.row_labels
    assert sum(label.startswith("Event:") for label in parser.row_labels) == 5
    # One envelope diagram per method, inline.
    for name in METHODS:
        assert f'id="envelope-{name.lower()}"' in dom.stdout.decode()
