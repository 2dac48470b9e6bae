"""PDF pages: the text layer where there is a real one (pdfplumber, exact), a rendering otherwise.

A page is read from its text layer when it has at least a few real words and no image covering
half the page (a scan with a typed header is OCRed whole: the rendering includes that text too).
Coordinates: PDF points scaled by dpi/72, origin top-left, so text-layer and OCRed pages share one
unit (pixels at `dpi`) and boxes can be drawn over a rendering at that dpi.
"""
from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pdfplumber
import pypdfium2

from ingestion.document import Word

from . import errors
from .config import Limits

MIN_TEXT_WORDS = 3
MAX_IMAGE_SHARE = 0.5

logging.getLogger("pdfminer").setLevel(logging.ERROR)  # malformed-but-readable PDFs are common


@dataclass
class PdfPage:
    number: int
    width: float  # pixels at dpi
    height: float
    words: list[Word] | None  # the text layer, or None when the page must be OCRed
    image: np.ndarray | None  # RGB rendering at dpi, only for pages to OCR


def open_pdf(data: bytes, limits: Limits) -> pypdfium2.PdfDocument:
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


def pdf_pages(data: bytes, limits: Limits, dpi: int) -> Iterator[PdfPage]:
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
            pixels = int(width * scale) * int(height * scale)
            if pixels > limits.max_pixels:
                raise errors.too_many_pixels(number, pixels, limits.max_pixels)
            words = text_layer(plumber.pages[index], scale) if plumber is not None else None
            if words is not None:
                yield PdfPage(number, width * scale, height * scale, words, None)
                continue
            try:
                image = pdfium_page.render(scale=scale).to_numpy()[:, :, :3][:, :, ::-1]  # BGR(x) -> RGB
            except pypdfium2.PdfiumError as exc:
                raise errors.corrupt("PDF", f"page {number} cannot be rendered: {exc}")
            yield PdfPage(number, image.shape[1], image.shape[0], None, np.ascontiguousarray(image))
    finally:
        if plumber is not None:
            plumber.close()
        rendering.close()


def text_layer(page: pdfplumber.page.Page, scale: float) -> list[Word] | None:
    """The page's words in pixels at scale, or None if the page has no real text layer."""
    try:
        if page.rotation % 360:  # pdfplumber reports unrotated coordinates; the rendering is exact
            return None
        area = float(page.width * page.height) or 1.0
        if any(abs((i["x1"] - i["x0"]) * (i["bottom"] - i["top"])) / area > MAX_IMAGE_SHARE for i in page.images):
            return None
        raw = page.extract_words(keep_blank_chars=False, use_text_flow=False, extra_attrs=[])
    except Exception:
        return None
    words = [
        Word(w["text"], (round(w["x0"] * scale, 1), round(w["top"] * scale, 1),
                         round(w["x1"] * scale, 1), round(w["bottom"] * scale, 1)), 1.0)
        for w in raw
        if "(cid:" not in w["text"]  # glyphs without a Unicode mapping: the text layer is unusable
    ]
    real = sum(1 for w in words if any(c.isalnum() for c in w.text))
    return words if real >= MIN_TEXT_WORDS and real >= 0.8 * len(raw) else None
