"""PDF pages: the text layer where there is a real one (pdfplumber, exact), a rendering otherwise.

A page is read from its text layer when it has at least a few real words and no image covering
half the page (a scan with a typed header is OCRed whole: the rendering includes that text too).
Coordinates: PDF points scaled by dpi/72, origin top-left, so text-layer and OCRed pages share one
unit (pixels at `dpi`) and boxes can be drawn over a rendering at that dpi.
"""
from __future__ import annotations

import ctypes
import io
import logging
import math
import re
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pdfplumber
import pypdfium2
import pypdfium2.raw as pdfium_c

from ingestion.document import Word

from . import errors
from .config import Limits

MIN_TEXT_WORDS = 3
CHARS_PER_WORD = 6
MAX_IMAGE_SHARE = 0.5

logging.getLogger("pdfminer").setLevel(logging.ERROR)  # malformed-but-readable PDFs are common


@dataclass
class PdfPage:
    number: int
    width: float  # pixels at dpi
    height: float
    words: list[Word] | None  # the text layer, or None when the page must be OCRed
    image: np.ndarray | None  # RGB rendering at dpi, only for pages to OCR
    total: int = 0  # pages in the document (known once it is open, after the stream bounds)


_STREAM_START = re.compile(rb"stream\r?\n")
_CHUNK = 64 * 1024


def check_streams(data: bytes, limits: Limits) -> None:
    """Inflate every Flate stream of the file once, bounded, before pdfium or pdfminer do it unbounded:
    a 1 MB upload may not become a 1 GB content stream (413). Each `stream` keyword is tried as the
    start of a zlib stream that zlib itself ends, so a crafted Length or `endstream` cannot hide one."""
    view = memoryview(data)
    total = 0
    for match in _STREAM_START.finditer(data):
        header = data[max(0, match.start() - 2048):match.start()]
        content = _is_content(header[header.rfind(b" obj") + 1:])
        cap = min(limits.max_content_stream_bytes, limits.max_inflated_bytes - total) if content else \
            limits.max_inflated_bytes - total
        size = _inflated_size(view, match.end(), cap)
        if size > cap:
            if not content or cap < limits.max_content_stream_bytes:
                raise errors.too_much_content("streams", total + size, limits.max_inflated_bytes)
            raise errors.too_much_content("content stream", size, limits.max_content_stream_bytes)
        total += size


_SUBTYPE_FORM = re.compile(rb"/Subtype\s*/Form\b")
_OTHER_STREAM = re.compile(rb"/(Type|Subtype|Length1|Length2|N)\b")


def _is_content(dictionary: bytes) -> bool:
    """A page content stream (a dictionary of /Length and /Filter only) or a form XObject: what pdfminer
    interprets operator by operator. Images, fonts, ICC profiles and object streams are other streams."""
    return bool(_SUBTYPE_FORM.search(dictionary)) or not _OTHER_STREAM.search(dictionary)


def _inflated_size(view: memoryview, start: int, cap: int) -> int:
    """Bytes the zlib stream at `start` inflates to, counted up to cap + 1; 0 when it is not zlib."""
    inflater = zlib.decompressobj()
    produced, position = 0, start
    try:
        while position < len(view) and not inflater.eof and produced <= cap:
            produced += len(inflater.decompress(view[position:position + _CHUNK], _CHUNK))
            position += _CHUNK
            # At the stream's end zlib may keep the bytes after it as unconsumed_tail: stop there, or loop forever.
            while inflater.unconsumed_tail and not inflater.eof and produced <= cap:
                produced += len(inflater.decompress(inflater.unconsumed_tail, _CHUNK))
    except zlib.error:
        pass  # not (or no longer) zlib: what it inflated so far still counts
    return produced


def open_pdf(data: bytes, limits: Limits) -> pypdfium2.PdfDocument:
    check_streams(data, limits)
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise errors.encrypted()
        raise errors.corrupt("PDF", str(exc))
    if len(document) == 0:
        raise errors.corrupt("PDF", "it has no pages")
    if len(document) > limits.max_pages:
        raise errors.too_many_pages(len(document), limits.max_pages)
    return document


# pdfium is not thread-safe (pypdfium2 says so): in a process that reads or draws pages in several threads
# (the web process drawing review page images, `read_direct` under a threaded server) one thread at a time
# calls into it, or the process crashes. Reader-pool processes are single-threaded and never wait on it.
PDFIUM = threading.RLock()


def pdf_pages(data: bytes, limits: Limits, dpi: int) -> Iterator[PdfPage]:
    with PDFIUM:
        yield from _pdf_pages(data, limits, dpi)


def _pdf_pages(data: bytes, limits: Limits, dpi: int) -> Iterator[PdfPage]:
    rendering = open_pdf(data, limits)
    scale = dpi / 72
    try:
        plumber = pdfplumber.open(io.BytesIO(data))
    except Exception:  # pdfminer cannot parse what pdfium can: OCR every page
        plumber = None
    try:
        for index in range(len(rendering)):
            number = index + 1
            pdfium_page = rendering[index]
            width, height = pdfium_page.get_size()  # points, rotation applied
            if not _media_box_usable(pdfium_page):
                raise errors.corrupt("PDF", f"page {number} states a MediaBox with no area (NaN, infinite or zero)")
            if not (math.isfinite(width) and math.isfinite(height) and 0 < width < 15000 and 0 < height < 15000):
                raise errors.corrupt("PDF", f"page {number} has no usable size (MediaBox {width} x {height})")
            pixels = int(width * scale) * int(height * scale)
            if pixels > limits.max_pixels:
                raise errors.too_many_pixels(number, pixels, limits.max_pixels)
            words = text_layer(_plumber_page(plumber, index), scale, limits) if plumber is not None else None
            if words is not None and len(words) > limits.max_words_per_page:
                raise errors.too_many_words(number, len(words), limits.max_words_per_page)
            if words is not None:
                yield PdfPage(number, width * scale, height * scale, words, None, len(rendering))
                continue
            try:
                image = pdfium_page.render(scale=scale).to_numpy()[:, :, :3][:, :, ::-1]  # BGR(x) -> RGB
            except pypdfium2.PdfiumError as exc:
                raise errors.corrupt("PDF", f"page {number} cannot be rendered: {exc}")
            yield PdfPage(number, image.shape[1], image.shape[0], None, np.ascontiguousarray(image), len(rendering))
    finally:
        if plumber is not None:
            try:
                plumber.close()  # walks every page again: a malformed one raises here too
            except Exception:  # noqa: BLE001 - closing what pdfminer could not parse
                pass
        rendering.close()


RULE_CHARACTERS = frozenset("|¦│┃-–—_=+*.:#~┼├┤┬┴─━")


def _media_box_usable(page: pypdfium2.PdfPage) -> bool:
    """False for a MediaBox the page states but that holds no area (NaN, 1e999, a zero side): pdfium then
    falls back to US Letter and would read a page whose size nobody wrote. An inherited box is not
    stated on the page itself, and counts as usable (get_size is checked besides)."""
    box = [ctypes.c_float() for _ in range(4)]
    if not pdfium_c.FPDFPage_GetMediaBox(page, *box):
        return True
    left, bottom, right, top = (b.value for b in box)
    return all(math.isfinite(v) for v in (left, bottom, right, top)) and right != left and top != bottom


def _plumber_page(plumber, index: int):
    """pdfplumber's page, or None when pdfminer cannot make sense of it (pdfium may still render it)."""
    try:
        return plumber.pages[index]
    except Exception:  # noqa: BLE001 - a malformed page tree or box: OCR the rendering instead
        return None


def text_layer(page: pdfplumber.page.Page, scale: float, limits: Limits | None = None) -> list[Word] | None:
    """The page's words in pixels at scale, or None if the page has no real text layer."""
    if page is None:
        return None
    try:
        if page.rotation % 360:  # pdfplumber reports unrotated coordinates; the rendering is exact
            return None
        area = float(page.width * page.height) or 1.0
        if any(abs((i["x1"] - i["x0"]) * (i["bottom"] - i["top"])) / area > MAX_IMAGE_SHARE for i in page.images):
            return None
        # Counted in characters before pdfminer groups them: glyphs set on top of one another group into a
        # few long "words", and the grouping itself is the cost. Six characters make a word with its space.
        if limits is not None and len(page.chars) > limits.max_words_per_page * CHARS_PER_WORD:
            raise errors.too_many_words(page.page_number, len(page.chars) // CHARS_PER_WORD, limits.max_words_per_page)
        raw = page.extract_words(keep_blank_chars=False, use_text_flow=False, extra_attrs=[])
    except errors.DocumentError:
        raise
    except Exception:
        return None
    words = [
        Word(w["text"], (round(w["x0"] * scale, 1), round(w["top"] * scale, 1),
                         round(w["x1"] * scale, 1), round(w["bottom"] * scale, 1)), 1.0)
        for w in raw
        if "(cid:" not in w["text"]  # glyphs without a Unicode mapping: the text layer is unusable
    ]
    # Rules drawn with characters (`|`, `----`, `+===+`) are neither words nor garbage: a table printed by a
    # line printer has as many of them as words, and its text layer is as good as any.
    rules = sum(1 for w in raw if RULE_CHARACTERS.issuperset(w["text"]))
    real = sum(1 for w in words if any(c.isalnum() for c in w.text))
    return words if real >= MIN_TEXT_WORDS and real >= 0.8 * (len(raw) - rules) else None
