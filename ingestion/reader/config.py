"""The reader's knobs: Django's `settings.INGESTION` when Django is configured, defaults otherwise.

INGESTION = {
    "MAX_FILE_BYTES": 20 * 1024 * 1024,  # larger uploads -> 413
    "MAX_PAGES": 20,                     # more pages -> 413
    "MAX_PIXELS": 50_000_000,            # per page, checked before decoding (decompression bombs) -> 413
    "PDF_DPI": 200,                      # render scanned PDF pages, and scale text-layer boxes, at this dpi
    "OCR_ENGINE": "onnxruntime",         # "onnxruntime" | "paddle_static" | "tesseract"
    "OCR_THREADS": 2,                    # intra-op threads of the engine
    "OCR_REC_MODEL": "latin",            # onnxruntime engine: "latin" (pruned classifier) | "full" (18,710 classes)
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
}


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = DEFAULTS["MAX_FILE_BYTES"]
    max_pages: int = DEFAULTS["MAX_PAGES"]
    max_pixels: int = DEFAULTS["MAX_PIXELS"]


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
