"""Page images of a job's original, in the pixel space of its document tree (for drawing boxes on them).

Text-layer PDF pages are rendered at the reader's PDF_DPI (the scale of their word boxes); OCRed pages
go through the same straightening the reader applied, so every `Region` box lands on its words.
Rendered PNGs are cached under var/jobs/<job id>/ (`make clean` removes them).
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from django.conf import settings
from PIL import Image

from ingestion.digitize import original
from ingestion.models import DigitizeJob


def cache_dir(job: DigitizeJob) -> Path:
    return Path(settings.INGESTION.get("JOBS_DIR") or Path(settings.BASE_DIR) / "var" / "jobs") / str(job.id)


def page_count(job: DigitizeJob) -> int:
    return len((job.document or {}).get("pages", []))


def page_png(job: DigitizeJob, number: int) -> bytes:
    """PNG of page `number` (1-based); KeyError when the job has no such page (or has not been read yet)."""
    if not 1 <= number <= page_count(job):
        raise KeyError(number)
    path = cache_dir(job) / f"page-{number}.png"
    if path.is_file():
        return path.read_bytes()
    wanted = b""
    for index, image in enumerate(_render(job), start=1):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG", optimize=True)
        _keep(cache_dir(job) / f"page-{index}.png", buffer.getvalue())
        if index == number:
            wanted = buffer.getvalue()
    return wanted


def _keep(path: Path, data: bytes) -> None:
    """Cache a page image whole or not at all: a full disk costs the cache, never the page (or a
    truncated PNG that later requests would serve)."""
    partial = path.with_suffix(".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)


def _render(job: DigitizeJob) -> list[np.ndarray]:
    from ingestion.reader.config import default_limits, reader_settings
    from ingestion.reader.images import image_pages
    from ingestion.reader.pdf import pdf_pages
    from ingestion.reader.sniff import media_type
    from ingestion.reader.straighten import straighten

    data = original(job)
    kind = media_type(data)
    limits, dpi = default_limits(), reader_settings()["PDF_DPI"]
    pages = job.document["pages"]
    if kind != "application/pdf":
        return [straighten(image).image for image in image_pages(data, kind, limits)]
    import pypdfium2

    pdf = pypdfium2.PdfDocument(data)
    try:
        out = []
        for page, read in zip(pdf_pages(data, limits, dpi), pages):
            if read["source"] == "ocr" and page.image is not None:
                out.append(straighten(page.image).image)
            else:
                out.append(np.asarray(pdf[page.number - 1].render(scale=dpi / 72).to_pil().convert("RGB")))
        return out
    finally:
        pdf.close()
