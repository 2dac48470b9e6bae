"""The reader, top to bottom: check -> sniff -> pages -> (text layer | straighten -> OCR) -> Document."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

from ingestion.document import Document, Page

from . import errors
from .config import Limits, default_limits, reader_settings
from .engines import get_engine
from .engines.base import OcrEngine
from .images import image_pages
from .lines import group_lines
from .pdf import pdf_pages
from .quarter_turn import upright_reading
from .sniff import media_type as sniff_media_type


def read_document(
    data: bytes,
    *,
    engine: str | None = None,
    limits: Limits | None = None,
    media_type: str | None = None,
    on_page: Callable[[int, int], None] | None = None,
) -> Document:
    """`media_type`: what the bytes are, when the caller has sniffed them already (a `$digitize` job);
    `on_page(done, total)` is told before the first page and after each page is read."""
    limits = limits or default_limits()
    if not data:
        raise errors.empty()
    if len(data) > limits.max_file_bytes:
        raise errors.too_large(len(data), limits.max_file_bytes)
    media_type = media_type or sniff_media_type(data)
    document = Document(media_type=media_type)
    ocr = _LazyEngine(engine)  # text-layer PDFs never load an OCR model
    report = _Progress(on_page)
    if media_type == "application/pdf":
        for pdf_page in pdf_pages(data, limits, reader_settings()["PDF_DPI"]):
            report.total(pdf_page.total)  # known once the file passed the reader's bounds and is open
            started = time.perf_counter()
            if pdf_page.words is not None:
                page = Page(
                    pdf_page.number, pdf_page.width, pdf_page.height, "text-layer", lines=group_lines(pdf_page.words)
                )
            else:
                page = read_image_page(pdf_page.number, pdf_page.image, ocr.get())
            page.seconds = round(time.perf_counter() - started, 3)
            document.pages.append(page)
            report.done(len(document.pages))
    else:
        report.total(image_page_count(data))
        for number, image in enumerate(image_pages(data, media_type, limits), start=1):
            started = time.perf_counter()
            page = read_image_page(number, image, ocr.get())
            page.seconds = round(time.perf_counter() - started, 3)
            document.pages.append(page)
            report.done(len(document.pages))
    sources = {"pdfplumber"} if any(p.source == "text-layer" for p in document.pages) else set()
    if ocr.engine is not None:
        sources.add(ocr.engine.name)
    document.engine = "+".join(sorted(sources))
    return document


def image_page_count(data: bytes) -> int:
    """Frames of an image file, from its header (0 when it cannot tell: reading then says why)."""
    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a pixel bomb is refused by image_pages, with its reason
            return getattr(Image.open(io.BytesIO(data)), "n_frames", 1)
    except Exception:  # noqa: BLE001
        return 0


class _Progress:
    """Tells `on_page(done, total)`: (0, total) once the page count is known, then after every page."""

    def __init__(self, on_page: Callable[[int, int], None] | None):
        self.on_page = on_page
        self.pages: int | None = None

    def total(self, pages: int) -> None:
        if self.pages is None:
            self.pages = pages
            if self.on_page is not None:
                self.on_page(0, pages)

    def done(self, count: int) -> None:
        if self.on_page is not None:
            self.on_page(count, max(self.pages or 0, count))


def read_image_page(number: int, image: np.ndarray, engine: OcrEngine) -> Page:
    """OCR one page image; boxes and size refer to the straightened image."""
    upright, lines = upright_reading(image, engine)  # a quarter turn only on the recogniser's evidence
    height, width = upright.image.shape[:2]
    return Page(number, float(width), float(height), "ocr", rotation=upright.rotation, skew=upright.skew, lines=lines)


class _LazyEngine:
    def __init__(self, name: str | None):
        self.name = name
        self.engine: OcrEngine | None = None

    def get(self) -> OcrEngine:
        if self.engine is None:
            self.engine = get_engine(self.name)
        return self.engine
