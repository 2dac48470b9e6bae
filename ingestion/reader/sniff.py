"""What a document is, from its first bytes (never from a file name or a client's Content-Type)."""
from __future__ import annotations

from . import errors

HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


def media_type(data: bytes) -> str:
    head = data[:1024]
    if not head:
        raise errors.empty()
    if b"%PDF-" in head:  # the spec tolerates junk before the header
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return "image/heic"
    raise errors.unsupported(describe(head))


def describe(head: bytes) -> str:
    known = {b"GIF8": "GIF", b"BM": "BMP", b"PK\x03\x04": "ZIP/Office", b"{": "JSON", b"<": "XML/HTML"}
    for magic, name in known.items():
        if head.lstrip().startswith(magic):
            return name
    return "unrecognised content"
