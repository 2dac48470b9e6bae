"""Page images of a job's original, in the pixel space of its document tree (for drawing boxes on them).

Text-layer PDF pages are rendered at the reader's PDF_DPI (the scale of their word boxes); OCRed pages
go through the same straightening the reader applied, so every `Region` box lands on its words.
Rendered PNGs are cached under var/jobs/<job id>/ (`make clean` removes them).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from django.conf import settings
from PIL import Image

from ingestion.digitize import original
from ingestion.models import DigitizeJob


def cache_dir(job: DigitizeJob) -> Path:
    return Path(settings.BASE_DIR) / "var" / "jobs" / str(job.id)


def page_count(job: DigitizeJob) -> int:
    return len((job.document or {}).get("pages", []))


def page_png(job: DigitizeJob, number: int) -> bytes:
    """PNG of page `number` (1-based); KeyError when the job has no such page (or has not been read yet)."""
    if not 1 <= number <= page_count(job):
        raise KeyError(number)
    path = cache_dir(job) / f"page-{number}.png"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        for index, image in enumerate(_render(job), start=1):
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="PNG", optimize=True)
            (cache_dir(job) / f"page-{index}.png").write_bytes(buffer.getvalue())
    return path.read_bytes()


def _render(job: DigitizeJob) -> list[np.ndarray]:
    # The reader package (OpenCV, pdfplumber, pypdfium2) loads when a page is first drawn, not at start-up.
    from ingestion.reader.config import default_limits, reader_settings
    from ingestion.reader.images import image_pages
    from ingestion.reader.pdf import pdf_pages
    from ingestion.reader.straighten import straighten

    data = original(job)
    kind = job.media_type  # sniffed once, on upload
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
