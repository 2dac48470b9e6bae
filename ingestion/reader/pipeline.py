"""The reader, top to bottom: check -> sniff -> pages -> (text layer | straighten -> OCR) -> Document."""
from __future__ import annotations

import time

import numpy as np

from ingestion.document import Document, Page

from . import errors
from .config import Limits, default_limits, reader_settings
from .engines import get_engine
from .engines.base import OcrEngine
from .images import image_pages
from .lines import group_lines
from .pdf import pdf_pages
from .sniff import media_type as sniff_media_type
from .straighten import straighten


def read_document(
    data: bytes, *, engine: str | None = None, limits: Limits | None = None, media_type: str | None = None
) -> Document:
    """`media_type`: what the bytes are, when the caller has sniffed them already (a `$digitize` job)."""
    limits = limits or default_limits()
    if not data:
        raise errors.empty()
    if len(data) > limits.max_file_bytes:
        raise errors.too_large(len(data), limits.max_file_bytes)
    media_type = media_type or sniff_media_type(data)
    document = Document(media_type=media_type)
    ocr = _LazyEngine(engine)  # text-layer PDFs never load an OCR model
    if media_type == "application/pdf":
        for pdf_page in pdf_pages(data, limits, reader_settings()["PDF_DPI"]):
            started = time.perf_counter()
            if pdf_page.words is not None:
                page = Page(
                    pdf_page.number, pdf_page.width, pdf_page.height, "text-layer", lines=group_lines(pdf_page.words)
                )
            else:
                page = read_image_page(pdf_page.number, pdf_page.image, ocr.get())
            page.seconds = round(time.perf_counter() - started, 3)
            document.pages.append(page)
    else:
        for number, image in enumerate(image_pages(data, media_type, limits), start=1):
            started = time.perf_counter()
            page = read_image_page(number, image, ocr.get())
            page.seconds = round(time.perf_counter() - started, 3)
            document.pages.append(page)
    sources = {"pdfplumber"} if any(p.source == "text-layer" for p in document.pages) else set()
    if ocr.engine is not None:
        sources.add(ocr.engine.name)
    document.engine = "+".join(sorted(sources))
    return document


def read_image_page(number: int, image: np.ndarray, engine: OcrEngine) -> Page:
    """OCR one page image; boxes and size refer to the straightened image."""
    upright = straighten(image)
    height, width = upright.image.shape[:2]
    lines = engine.read(upright.image)
    return Page(number, float(width), float(height), "ocr", rotation=upright.rotation, skew=upright.skew, lines=lines)


class _LazyEngine:
    def __init__(self, name: str | None):
        self.name = name
        self.engine: OcrEngine | None = None

    def get(self) -> OcrEngine:
        if self.engine is None:
            self.engine = get_engine(self.name)
        return self.engine
