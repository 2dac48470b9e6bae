"""The reader's knobs: Django's `settings.INGESTION` when Django is configured, defaults otherwise.

INGESTION = {
    "MAX_FILE_BYTES": 20 * 1024 * 1024,  # larger uploads -> 413
    "MAX_PAGES": 20,                     # more pages -> 413
    "MAX_PIXELS": 50_000_000,            # per page, checked before decoding (decompression bombs) -> 413
    "PDF_DPI": 200,                      # render scanned PDF pages, and scale text-layer boxes, at this dpi
    "OCR_ENGINE": "onnxruntime",         # "onnxruntime" | "paddle_static" | "tesseract"
    "OCR_THREADS": 2,                    # intra-op threads of the engine
    "OCR_REC_MODEL": "latin",            # onnxruntime engine: "latin" (pruned classifier) | "full" (18,710 classes)
    "MAX_INFLATED_BYTES", "MAX_CONTENT_STREAM_BYTES", "MAX_WORDS_PER_PAGE", "READ_SECONDS",
    "READER_MEMORY_BYTES": bounds against decompression and size bombs (ingestion/reader/bounds.py)
}
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

DEFAULTS = {
    "MAX_FILE_BYTES": 20 * 1024 * 1024,
    "MAX_PAGES": 20,
    "MAX_PIXELS": 50_000_000,
    "PDF_DPI": 200,
    "OCR_ENGINE": "onnxruntime",
    "OCR_THREADS": 2,
    "OCR_REC_MODEL": "latin",
    # Bombs (issue 19): what a small upload may make the reader inflate, parse and hold.
    "MAX_INFLATED_BYTES": 256 * 1024 * 1024,  # all of a PDF's compressed streams, inflated -> 413
    "MAX_CONTENT_STREAM_BYTES": 4 * 1024 * 1024,  # one page content stream or form, inflated -> 413
    "MAX_WORDS_PER_PAGE": 5000,  # a text layer with more -> 413
    "READ_SECONDS": 240,  # one document in a reader process -> 422
    "READER_MEMORY_BYTES": 4 * 1024 * 1024 * 1024,  # address space of a reader process (0 = unbounded)
}


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = DEFAULTS["MAX_FILE_BYTES"]
    max_pages: int = DEFAULTS["MAX_PAGES"]
    max_pixels: int = DEFAULTS["MAX_PIXELS"]
    max_inflated_bytes: int = DEFAULTS["MAX_INFLATED_BYTES"]
    max_content_stream_bytes: int = DEFAULTS["MAX_CONTENT_STREAM_BYTES"]
    max_words_per_page: int = DEFAULTS["MAX_WORDS_PER_PAGE"]
    read_seconds: int = DEFAULTS["READ_SECONDS"]
    reader_memory_bytes: int = DEFAULTS["READER_MEMORY_BYTES"]


def reader_settings() -> dict:
    """DEFAULTS overlaid with settings.INGESTION (if Django is configured) and the OCR_ENGINE, OCR_THREADS and
    OCR_REC_MODEL environment variables."""
    values = dict(DEFAULTS)
    try:
        from django.conf import settings

        if settings.configured:
            values.update(getattr(settings, "INGESTION", {}) or {})
    except ImportError:  # the reader also runs without Django
        pass
    for key in ("OCR_ENGINE", "OCR_THREADS", "OCR_REC_MODEL"):
        if os.environ.get(key):
            values[key] = os.environ[key]
    values["OCR_THREADS"] = int(values["OCR_THREADS"])
    return values


def default_limits() -> Limits:
    values = reader_settings()
    return replace(Limits(), **{f.name: int(values[f.name.upper()]) for f in fields(Limits)})
