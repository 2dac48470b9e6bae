"""The document reader: uploaded bytes (PDF, PNG, JPEG, TIFF, WebP, HEIC) -> `ingestion.document.Document`.

    from ingestion.reader import read_document, DocumentError
    document = read_document(data)                      # default engine from settings.INGESTION
    document = read_document(data, engine="tesseract")  # or "onnxruntime", "paddle_static"

Coordinates: every box is in pixels of its page, origin top-left, and Page.width/height are in the
same unit.
- Image uploads: pixels of the straightened page (after EXIF orientation, dewarping, the quarter
  turn `Page.rotation` and the deskew `Page.skew`; very large photos are first scaled to at most
  3508 px on the long side, very small images up 2x).
- PDF pages: PDF points scaled by PDF_DPI/72 (default 200 dpi), both for text-layer pages (exact
  words from pdfplumber, confidence 1.0, source "text-layer") and for pages without a text layer,
  which are rendered at that dpi (pypdfium2) and OCRed (source "ocr"; deskew/rotation as for images).

Errors: `DocumentError` with `.status` 400 (empty), 413 (file too large, too many pages, too many
pixels on a page), 415 (unsupported type, detected from content, never from a file name) or 422
(corrupt, encrypted), and a `.reason` a person can act on.

Processes: OCR engines load once per process on first use (`engines.get_engine`); run OCR in a
worker process and load after forking. Nothing is downloaded at run time: models come from
`python -m ingestion.reader.install_models` (see docs/ocr.md).
"""
from .config import Limits
from .errors import DocumentError
from .models import ModelMissing
from .pipeline import read_document

__all__ = ["DocumentError", "Limits", "ModelMissing", "read_document"]
