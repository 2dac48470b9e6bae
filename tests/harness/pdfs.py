"""Hand-made PDFs for the harness: bombs and broken page trees that no PDF library would write."""
from __future__ import annotations

import zlib


def assemble(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF file of `objects` (object n is objects[n-1]) with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def deflated(size: int, byte: bytes = b" ") -> bytes:
    """`size` bytes of `byte`, deflated, without holding them in memory."""
    packer = zlib.compressobj(9)
    chunk = byte * (1 << 20)
    parts = [packer.compress(chunk) for _ in range(size >> 20)]
    return b"".join(parts) + packer.flush()


def page_pdf(content: bytes, *, media_box: bytes = b"[0 0 595 842]", extra: list[bytes] = ()) -> bytes:
    return assemble([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox " + media_box + b" /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        content,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        *extra,
    ])


def content_bomb(inflated: int) -> bytes:
    """A page whose content stream is `inflated` bytes of spaces (a few hundred KB on the wire)."""
    return page_pdf(stream(b"/Filter /FlateDecode", deflated(inflated)))


def image_bomb(inflated: int) -> bytes:
    """A page drawing a 1x1 image whose stream nevertheless inflates to `inflated` bytes."""
    image = stream(b"/Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray "
                   b"/BitsPerComponent 8 /Filter /FlateDecode", deflated(inflated, b"\x00"))
    content = stream(b"", b"q 100 0 0 100 0 0 cm /Im1 Do Q")
    pdf = page_pdf(content, extra=[image])
    return pdf.replace(b"/Resources << /Font << /F1 5 0 R >> >>", b"/Resources << /XObject << /Im1 6 0 R >> >>")


def many_words(words: int) -> bytes:
    """One page with `words` separate words in its text layer (each placed on its own, 8 to a row)."""
    lines = [b"BT /F1 6 Tf"]
    for i in range(words):
        lines.append(b"1 0 0 1 %d %.2f Tm (w%d) Tj" % (10 + (i % 8) * 70, 830 - (i // 8) * 0.6, i))
    lines.append(b"ET")
    return page_pdf(stream(b"/Filter /FlateDecode", zlib.compress(b"\n".join(lines))))


def page_tree_loop() -> bytes:
    """The Pages node lists itself among its kids."""
    return assemble([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        stream(b"", b"BT ET"),
    ])


def broken_media_box(box: bytes) -> bytes:
    return page_pdf(stream(b"", b"BT /F1 12 Tf 72 700 Td (Glucose 5.5 mmol/L) Tj ET"), media_box=box)
